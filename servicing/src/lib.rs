//! The wimpatch engine.
//!
//! Two safe layers own every `unsafe` call in the project: [`wim`] over wimlib (`wim-sys`) and [`hive`]
//! over libhivex (`hivex-sys`). Everything above them (image verbs, the mount helper, and later package
//! application, cleanup and the site) is safe code. The engine never draws progress: callers pass a
//! [`progress::Control`] holding a reporter and a cancel flag.

/// The package formats, re-exported so callers of the engine need one dependency.
pub use cbs;

pub mod hive;
pub mod mount;
pub mod ops;
pub mod progress;
pub mod wim;
