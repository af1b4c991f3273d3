//! Shared by `wim-sys` and `hivex-sys` so the two follow one pattern: [`link`] finds the system library
//! from a build script, [`layout`] checks the committed bindings against the installed header from a test.

#![forbid(unsafe_code)]

pub mod layout;
pub mod link;
