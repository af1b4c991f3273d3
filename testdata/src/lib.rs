//! Where the tests find the shared real Microsoft test data (`WIMPATCH_TESTDATA`, default
//! `../shared/testdata` beside the workspace), and what happens when it is missing: a developer
//! machine may not have it, so the test says "skipped: <test>" and returns; CI sets
//! `WIMPATCH_REQUIRE_TESTDATA=1`, under which a missing folder or file fails the test by name, so a
//! test that needs real data can never pass without having read it.

#![forbid(unsafe_code)]

use std::path::PathBuf;

/// The variable that names the test data folder.
pub const DIR_VAR: &str = "WIMPATCH_TESTDATA";
/// The variable that turns "skipped" into a failure.
pub const REQUIRE_VAR: &str = "WIMPATCH_REQUIRE_TESTDATA";

/// The test data folder (it may not exist).
pub fn root() -> PathBuf {
    std::env::var_os(DIR_VAR)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/testdata")))
}

/// Whether missing test data must fail the test (`WIMPATCH_REQUIRE_TESTDATA` set to anything but
/// empty or `0`).
pub fn required() -> bool {
    std::env::var_os(REQUIRE_VAR).is_some_and(|v| !v.is_empty() && v != "0")
}

/// `relative` under the test data folder if it exists. When it does not: panics naming the path
/// and `test` if the data is required, else prints "skipped: <test> (… not found)" and gives `None`.
pub fn find(relative: &str, test: &str) -> Option<PathBuf> {
    let path = root().join(relative);
    if path.exists() {
        return Some(path);
    }
    missing(&path.display().to_string(), test);
    None
}

/// Like [`find`] for callers that report the skip themselves (or count what they found): silent
/// when the data is absent and not required, a panic naming the path when it is required.
pub fn get(relative: &str) -> Option<PathBuf> {
    let path = root().join(relative);
    if path.exists() {
        return Some(path);
    }
    if required() {
        panic!("{} is missing and {REQUIRE_VAR} is set", path.display());
    }
    None
}

/// Reports a needed piece of the environment that is absent (test data, or a capability such as
/// FUSE that the machine claims to have): a failure naming it under `WIMPATCH_REQUIRE_TESTDATA`, a
/// "skipped" line otherwise.
pub fn missing(what: &str, test: &str) {
    if required() {
        panic!("{test}: {what} is missing and {REQUIRE_VAR} is set: the test would otherwise pass without it");
    }
    eprintln!("skipped: {test} ({what} not found; set {DIR_VAR})");
}
