//! Integration tests of the cbs crate (one test binary for the crate).
