//! Integration tests of the cbs crate (one test binary for the crate).

use std::path::PathBuf;

/// `shared/testdata/real-cbs` (`WIMPATCH_TESTDATA`, default `../shared/testdata` from the workspace
/// root), or `None` when absent.
pub fn real_cbs() -> Option<PathBuf> {
    testdata("real-cbs")
}

/// `shared/testdata/real-delta` (genuine deltas with their bases and targets), or `None`.
pub fn real_delta() -> Option<PathBuf> {
    testdata("real-delta")
}

/// A folder of the shared test data, or `None` when absent.
fn testdata(name: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("WIMPATCH_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/testdata")));
    let dir = dir.join(name);
    dir.is_dir().then_some(dir)
}

/// The real packages' folder (or the folder `$dir` gives), or return from the test after printing
/// "skipped: <test>".
macro_rules! real_or_skip {
    ($name:literal) => {
        real_or_skip!(crate::real_cbs(), $name)
    };
    ($dir:expr, $name:literal) => {
        match $dir {
            Some(dir) => dir,
            None => {
                eprintln!(concat!("skipped: ", $name, " (WIMPATCH_TESTDATA not found)"));
                return;
            }
        }
    };
}

mod cix;
mod container;
mod delta;
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
