//! End-to-end tests of the `wimpatch` CLI against real WIMs written by wimlib (`wimlib-imagex`) and by
//! the fixture generator. One test binary; each module covers one verb or one guarantee.

/// The real Microsoft package `$name` from the shared test data, or return from the test after
/// printing "skipped: <test>" (CI always has the data; a developer machine may not).
macro_rules! real_or_skip {
    ($name:expr, $test:expr) => {
        match crate::util::real_package($name) {
            Some(p) => p,
            None => {
                eprintln!("skipped: {} (WIMPATCH_TESTDATA not found)", $test);
                return;
            }
        }
    };
}

mod add_package;
mod add_package_delta;
mod add_package_series;
mod bad_input;
mod cleanup;
mod concurrency;
mod corpus;
mod export;
mod faults;
mod fixture_packages;
mod info;
mod interrupt;
mod mount;
mod package;
mod package_extract;
mod psf;
mod reduce;
mod registry_values;
mod site;
mod util;
