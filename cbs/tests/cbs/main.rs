//! Integration tests of the cbs crate (one test binary for the crate).

mod identity;
mod keyform;
mod package_id;
mod real_names;
