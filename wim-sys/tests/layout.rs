//! Checks the committed bindings against the `wimlib.h` installed on this machine (see `sys_support::layout`).

#[test]
fn committed_bindings_match_the_installed_wimlib_header() {
    let bindings = include_str!("../src/bindings.rs");
    let report = sys_support::layout::check(bindings, &["wimlib.h"]).expect("layout probe");
    assert!(report.checked > 100, "only {} facts checked", report.checked);
    assert!(report.mismatches.is_empty(), "bindings differ from wimlib.h: {:#?}", report.mismatches);
    eprintln!("wimlib.h layout: {} facts match", report.checked);
}

#[test]
fn linked_library_is_wimlib_1_13_or_newer() {
    // SAFETY: wimlib_get_version takes no arguments and only returns a constant.
    let v = unsafe { wim_sys::wimlib_get_version() };
    let (major, minor) = (v >> 20, (v >> 10) & 0x3ff);
    assert!(major == 1 && minor >= 13, "wimlib {major}.{minor} is older than the 1.13 the bindings assume");
}
