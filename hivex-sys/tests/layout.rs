//! Checks the committed bindings against the `hivex.h` installed on this machine (see `sys_support::layout`).

#[test]
fn committed_bindings_match_the_installed_hivex_header() {
    let bindings = include_str!("../src/bindings.rs");
    let report = sys_support::layout::check(bindings, &["hivex.h"]).expect("layout probe");
    assert!(report.checked > 10, "only {} facts checked", report.checked);
    assert!(report.mismatches.is_empty(), "bindings differ from hivex.h: {:#?}", report.mismatches);
    eprintln!("hivex.h layout: {} facts match", report.checked);
}
