//! End-to-end tests of the `wimpatch` CLI against real WIMs written by wimlib (`wimlib-imagex`) and by
//! the fixture generator. One test binary; each module covers one verb or one guarantee.

mod add_package;
mod add_package_series;
mod bad_input;
mod cleanup;
mod concurrency;
mod export;
mod fixture_packages;
mod info;
mod interrupt;
mod mount;
mod package;
mod package_extract;
mod reduce;
mod util;
