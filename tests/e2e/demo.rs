//! `make demo` (scripts/demo.sh) runs end to end against the debug binaries on tiny data and its
//! output names what the issue asks a newcomer to see: KB2938772 applied (when the real package is
//! there), ConfigMgr's "not supported" line for the .exe, a Successful scheduled run, a verified DP
//! copy, sizes and the time per phase.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::install::repo_root;
use crate::util::*;

/// The debug `wimpatch-fixtures` beside the `wimpatch` cargo built for this test, built first when
/// a targeted `cargo test -p wimpatch` did not build it.
fn fixtures_bin() -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_wimpatch")).parent().unwrap().to_path_buf();
    let bin = dir.join("wimpatch-fixtures");
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = Command::new(cargo)
            .current_dir(repo_root())
            .args(["build", "-p", "fixtures", "--bin", "wimpatch-fixtures"])
            .output()
            .expect("cargo build");
        assert!(out.status.success(), "building wimpatch-fixtures: {}", stderr(&out));
    }
    bin
}

#[test]
fn make_demo_shows_the_whole_job() {
    let work = Work::new();
    let bins = work.path("bin");
    std::fs::create_dir_all(&bins).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_wimpatch"), bins.join("wimpatch")).unwrap();
    std::os::unix::fs::symlink(fixtures_bin(), bins.join("wimpatch-fixtures")).unwrap();
    let out = Command::new("bash")
        .arg(repo_root().join("scripts/demo.sh"))
        .env("WIMPATCH_BIN_DIR", &bins)
        .env("DEMO_DIR", work.path("demo"))
        .env("DEMO_SIZE", "tiny")
        .env_remove("WIMPATCH_SITE")
        .env_remove("RUST_LOG")
        .output()
        .expect("demo.sh");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "demo failed: {}\n{text}\n{}", out.status, stderr(&out));
    let real =
        testdata::find("real-cbs/Windows8.1-KB2938772-x64.cab", "make_demo_shows_the_whole_job (KB2938772 part)");
    if real.is_some() {
        assert!(text.contains("real package: Windows8.1-KB2938772-x64.cab"), "{text}");
        assert!(text.lines().any(|l| l.starts_with("installed") && l.contains("KB2938772")), "{text}");
    } else {
        assert!(text.contains("skipped: Windows8.1-KB2938772-x64.cab"), "{text}");
    }
    assert!(text.contains("<![LOG[Not applying this update binary, it is not supported]LOG]!>"), "{text}");
    assert!(text.contains("KB5000003"), "{text}");
    assert!(text.contains("Scheduled Updates Status: Successful"), "{text}");
    assert!(text.contains("DP copy verified: dp1/"), "{text}");
    assert!(text.contains("Component Store Cleanup Recommended"), "{text}");
    assert!(text.contains("Time per phase:") && text.contains("serviced.wim (Pro, superseded gone)"), "{text}");
}
