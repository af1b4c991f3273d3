//! Integration tests of the cbs crate (one test binary for the crate).

// Tests build their inputs and planted links with the raw std::fs calls that clippy.toml bans in the
// product code (which must go through safe-fs).
#![allow(clippy::disallowed_methods)]

use std::path::PathBuf;

/// `shared/testdata/real-cbs`, or `None` when absent (a failure under `WIMPATCH_REQUIRE_TESTDATA`).
pub fn real_cbs() -> Option<PathBuf> {
    testdata::get("real-cbs")
}

/// `shared/testdata/real-delta` (genuine msdelta deltas, DCM manifests), or `None` when absent (a
/// failure under `WIMPATCH_REQUIRE_TESTDATA`).
pub fn real_delta() -> Option<PathBuf> {
    testdata::get("real-delta")
}

/// The real deltas' folder, or return from the test after printing "skipped: <test>".
macro_rules! real_delta_or_skip {
    ($name:literal) => {
        match testdata::find("real-delta", $name) {
            Some(dir) => dir,
            None => return,
        }
    };
}

/// The real packages' folder, or return from the test after printing "skipped: <test>".
macro_rules! real_or_skip {
    ($name:literal) => {
        match testdata::find("real-cbs", $name) {
            Some(dir) => dir,
            None => return,
        }
    };
}

mod bounds;
mod cix;
mod container;
mod dcm;
mod delta;
mod delta_encode;
mod delta_pa31;
mod delta_real;
mod identity;
mod keyform;
mod manifest;
mod mum;
mod package_extract;
mod package_id;
mod package_read;
mod psf;
mod real_names;
mod registry;
mod rules;
mod xml;

/// A neutral amd64 Microsoft identity, the shape most test cases need.
pub fn amd64_identity(name: &str, version: &str) -> cbs::AssemblyIdentity {
    cbs::AssemblyIdentity::new(name)
        .with_version(version.parse().unwrap())
        .with_arch("amd64")
        .with_language("neutral")
        .with_public_key_token("31bf3856ad364e35")
}
