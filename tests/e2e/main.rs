//! End-to-end tests of the `wimpatch` CLI against real WIMs written by wimlib (`wimlib-imagex`) and by
//! the fixture generator. One test binary; each module covers one verb or one guarantee.

// Tests build their inputs and planted links with the raw std::fs calls that clippy.toml bans in the
// product code (which must go through safe-fs).
#![allow(clippy::disallowed_methods)]

/// The real Microsoft package `$name` from the shared test data, or return from the test after
/// printing "skipped: <test>" (a developer machine may lack the data; CI sets
/// `WIMPATCH_REQUIRE_TESTDATA=1`, under which a missing file fails the test instead).
macro_rules! real_or_skip {
    ($name:expr, $test:expr) => {
        match crate::util::real_package($name, $test) {
            Some(p) => p,
            None => return,
        }
    };
}

/// Runs each named site test (a function taking a [`site::Backend`]) once per site database backend:
/// `site::sqlite::<name>` on the embedded SQLite file and `site::postgres::<name>` on a fresh
/// database of the shared throwaway PostgreSQL cluster.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $name() {
                super::$name(crate::site::Backend::Sqlite)
            })*
        }
        mod postgres {
            $(#[test]
            fn $name() {
                super::$name(crate::site::Backend::Postgres)
            })*
        }
    };
}

mod add_package;
mod add_package_delta;
mod add_package_series;
mod bad_input;
mod bounds;
mod cleanup;
mod cli_contract;
mod closed_stdout;
mod concurrency;
mod corpus;
mod delta_cli;
mod demo;
mod dism;
mod export;
mod faults;
mod fixture_packages;
mod help;
mod hostile_writes;
mod info;
mod install;
mod interrupt;
mod json_output;
mod lzms;
mod mount;
mod package;
mod package_extract;
mod package_names;
mod psf;
mod psfx_hydration;
mod readme;
mod reduce;
mod registry_values;
mod scratch_default;
mod servers;
mod site;
mod site_lifecycle;
mod site_listings;
mod site_progress;
mod site_remote;
mod site_status_page;
mod snapshots;
mod table_width;
mod util;
mod win11_lcu;
