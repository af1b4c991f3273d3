//! The wimpatch engine.
//!
//! Two safe layers own every `unsafe` call in the project: [`wim`] over wimlib (`wim-sys`) and [`hive`]
//! over libhivex (`hivex-sys`). Everything above them (image verbs, the mount helper, and later package
//! application, cleanup and the site) is safe code. The engine never draws progress: callers pass a
//! [`progress::Control`] holding a reporter and a cancel flag.

// Only the two FFI layers below may use `unsafe`; the compiler holds every other module to that.
#![deny(unsafe_code)]

/// The package formats, re-exported so callers of the engine need one dependency.
pub use cbs;

pub mod apply;
#[allow(unsafe_code)]
pub mod hive;
pub mod io_error;
pub mod log;
pub mod mount;
pub mod ops;
pub mod progress;
pub mod site;
#[allow(unsafe_code)]
pub mod wim;

/// Initialises the engine once per process: wimlib's global state, and the codecs the package
/// readers of [`cbs`] borrow from it (LZMS: PA31 Compression-API containers, `DCS` manifests).
/// Callers that decode packages before opening any WIM call this first (the CLI does at start);
/// every WIM handle constructor calls it too. Idempotent.
pub fn init() {
    wim::init();
}
