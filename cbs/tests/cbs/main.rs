//! Integration tests of the cbs crate (one test binary for the crate).

mod cix;
mod container;
mod identity;
mod keyform;
mod manifest;
mod mum;
mod package_id;
mod real_names;
mod rules;
mod xml;
