//! Integration tests of the servicing engine (one test binary for the crate).

mod hive;
mod mount;
mod site;
mod wim;
