//! The wimpatch engine.
//!
//! Two safe layers own every `unsafe` call in the project: [`wim`] over wimlib (`wim-sys`) and [`hive`]
//! over libhivex (`hivex-sys`). Everything above them (image verbs, mount helper, and later package
//! application, cleanup and the site) is safe code. The engine never draws progress: callers pass a
//! [`progress::Reporter`] and a cancel flag.

pub mod hive;
pub mod wim;
