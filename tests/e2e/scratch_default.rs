//! The default scratch folder is per user (`$TMPDIR/wimpatch-<uid>`, or `$XDG_CACHE_HOME/wimpatch`),
//! created 0700; one another user owns is refused naming `--scratch-dir`; `--help` names the real
//! path (issue 16 item 10).

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::Path;

use crate::util::*;

/// This test process's uid (the owner of a file it just made).
fn my_uid(work: &Work) -> u32 {
    let probe = work.path("uid-probe");
    std::fs::write(&probe, b"").unwrap();
    std::fs::metadata(&probe).unwrap().uid()
}

/// `get-packages` on a WIM that does not exist: it prepares the scratch folder first, then fails.
fn get_packages_with_tmpdir(tmp: &Path) -> std::process::Output {
    wimpatch()
        .env("TMPDIR", tmp)
        .env_remove("XDG_CACHE_HOME")
        .env_remove("WIMPATCH_SCRATCH_DIR")
        .args(["get-packages", "--image", "/nonexistent/x.wim", "--index", "1"])
        .output()
        .unwrap()
}

#[test]
fn default_scratch_is_per_user_and_private() {
    let work = Work::new();
    let tmp = work.path("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let out = get_packages_with_tmpdir(&tmp);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let scratch = tmp.join(format!("wimpatch-{}", my_uid(&work)));
    let meta = std::fs::metadata(&scratch).unwrap_or_else(|e| panic!("{}: {e}; {}", scratch.display(), stderr(&out)));
    assert_eq!(meta.permissions().mode() & 0o777, 0o700);
    assert!(!tmp.join("OfflineImageServicing").exists(), "nothing shared in TMPDIR itself");

    // --help names that very path.
    let help = wimpatch().env("TMPDIR", &tmp).env_remove("XDG_CACHE_HOME").args(["add-package", "--help"]).output();
    let help = String::from_utf8(help.unwrap().stdout).unwrap();
    assert!(help.contains(scratch.to_str().unwrap()), "{help}");

    // XDG_CACHE_HOME, when set, is the user's own cache.
    let cache = work.path("cache");
    std::fs::create_dir(&cache).unwrap();
    let out = wimpatch()
        .env("XDG_CACHE_HOME", &cache)
        .args(["get-packages", "--image", "/nonexistent/x.wim", "--index", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(cache.join("wimpatch").is_dir(), "{}", stderr(&out));
}

#[test]
fn default_scratch_owned_by_another_user_is_refused_naming_scratch_dir() {
    let work = Work::new();
    let tmp = work.path("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let scratch = tmp.join(format!("wimpatch-{}", my_uid(&work)));
    std::fs::create_dir(&scratch).unwrap();
    let other = if my_uid(&work) == 65534 { 65533 } else { 65534 };
    if let Err(e) = std::os::unix::fs::chown(&scratch, Some(other), None) {
        // Only root can give a folder away; CI runs as root.
        println!("skipped: cannot chown as this user: {e}");
        return;
    }
    let out = get_packages_with_tmpdir(&tmp);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("--scratch-dir") && err.contains(scratch.to_str().unwrap()), "{err}");
    assert!(err.contains("owned by user"), "{err}");
}
