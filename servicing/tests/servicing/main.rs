//! Integration tests of the servicing engine (one test binary for the crate).

// Tests build their inputs and planted links with the raw std::fs calls that clippy.toml bans in the
// product code (which must go through safe-fs).
#![allow(clippy::disallowed_methods)]

mod hive;
mod mount;
mod site;
mod wim;
