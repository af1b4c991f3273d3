//! mount / unmount through the helper process. Needs FUSE; where /dev/fuse is missing or mounting is
//! not permitted, the tests say so and are skipped by name.

use std::path::Path;

use crate::util::*;

fn fuse_usable() -> bool {
    Path::new("/dev/fuse").exists()
}

#[test]
fn mount_read_write_edit_and_commit_then_discard() {
    if !fuse_usable() {
        eprintln!("skipped: mount_read_write_edit_and_commit_then_discard (no /dev/fuse)");
        return;
    }
    let work = Work::new();
    let wim = three_image_wim(&work, "three.wim", 2, 1024, "lzx");
    let mnt = work.path("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let scratch = work.path("scratch");
    let out = run(&[
        "--scratch-dir",
        scratch.to_str().unwrap(),
        "mount",
        "--image",
        wim.to_str().unwrap(),
        "--index",
        "2",
        "--mount-dir",
        mnt.to_str().unwrap(),
    ]);
    if !out.status.success() && stderr(&out).contains("WIMLIB_ERR_FUSE") {
        // /dev/fuse is there, so the machine claims FUSE: under WIMPATCH_REQUIRE_TESTDATA that claim
        // must hold, or the test would pass without mounting anything.
        testdata::missing(
            &format!("a permitted FUSE mount ({})", stderr(&out).trim()),
            "mount_read_write_edit_and_commit_then_discard",
        );
        return;
    }
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(mnt.join("Windows/edition-Professional.txt").exists());
    // The staging area lives under the scratch directory, one folder per WIM.
    let staging = scratch.join("mount-staging");
    assert_eq!(std::fs::read_dir(&staging).unwrap().count(), 1, "one staging folder for this WIM");
    // While mounted read-write, the daemon holds the writer lock: other writers are refused.
    let locked = run(&["optimize", "--image", wim.to_str().unwrap()]);
    assert_eq!(locked.status.code(), Some(1));
    // The holder is named as the mount, with the command that ends it (not the helper's dead pid).
    let err = stderr(&locked);
    assert!(err.contains("locked") && err.contains("read-write mount on"), "{err}");
    assert!(err.contains(&format!("wimpatch unmount --mount-dir {}", mnt.display())), "{err}");
    std::fs::write(mnt.join("Windows/added-by-test.txt"), b"hello").unwrap();
    run_ok(&["unmount", "--mount-dir", mnt.to_str().unwrap(), "--commit"]);
    assert!(imagex_dir(&wim, 2).iter().any(|l| l.ends_with("added-by-test.txt")));
    assert!(imagex_verifies(&wim));

    // Debris of a killed mount daemon in this WIM's staging folder is removed by the next RW mount.
    let per_wim = std::fs::read_dir(&staging).unwrap().next().unwrap().unwrap().path();
    std::fs::create_dir_all(per_wim.join("three.wim.stagingDEADBEEF00")).unwrap();
    std::fs::write(per_wim.join("three.wim.stagingDEADBEEF00/orphan"), b"x").unwrap();

    // Discard: the change does not reach the WIM.
    let before = sha256(&wim);
    run_ok(&[
        "--scratch-dir",
        scratch.to_str().unwrap(),
        "mount",
        "--image",
        wim.to_str().unwrap(),
        "--index",
        "1",
        "--mount-dir",
        mnt.to_str().unwrap(),
    ]);
    std::fs::write(mnt.join("discard-me.txt"), b"x").unwrap();
    assert!(!per_wim.join("three.wim.stagingDEADBEEF00").exists(), "stale staging files not swept");
    run_ok(&["unmount", "--mount-dir", mnt.to_str().unwrap(), "--discard"]);
    assert_eq!(sha256(&wim), before);
    assert!(!imagex_dir(&wim, 1).iter().any(|l| l.ends_with("discard-me.txt")));
}

#[test]
fn mount_into_a_non_empty_directory_is_refused() {
    let work = Work::new();
    let wim = three_image_wim(&work, "three.wim", 1, 100, "none");
    let mnt = work.path("mnt");
    std::fs::create_dir(&mnt).unwrap();
    std::fs::write(mnt.join("x"), b"x").unwrap();
    let out = run(&["mount", "--image", wim.to_str().unwrap(), "--index", "1", "--mount-dir", mnt.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("not empty") || err.contains("FUSE is not available"), "{err}");
}

/// Regression (issue 16 item 5): a read-only mount took no lock, so `delete-image` rebuilt a mounted
/// WIM under it. Any mount now holds the writer lock until unmount.
#[test]
fn a_read_only_mount_protects_the_wim_from_writers() {
    if !fuse_usable() {
        eprintln!("skipped: a_read_only_mount_protects_the_wim_from_writers (no /dev/fuse)");
        return;
    }
    let work = Work::new();
    let wim = three_image_wim(&work, "three.wim", 1, 256, "lzx");
    let mnt = work.path("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let scratch = work.path("scratch");
    let m = mnt.to_str().unwrap();
    let out = run(&[
        "--scratch-dir",
        scratch.to_str().unwrap(),
        "mount",
        "--image",
        wim.to_str().unwrap(),
        "--index",
        "1",
        "--mount-dir",
        m,
        "--read-only",
    ]);
    if !out.status.success() && stderr(&out).contains("WIMLIB_ERR_FUSE") {
        testdata::missing("a permitted FUSE mount", "a_read_only_mount_protects_the_wim_from_writers");
        return;
    }
    assert!(out.status.success(), "{}", stderr(&out));
    let before = sha256(&wim);
    let refused = run(&["delete-image", "--image", wim.to_str().unwrap(), "--index", "3"]);
    let err = stderr(&refused);
    run_ok(&["unmount", "--mount-dir", m, "--discard"]);
    assert_eq!(refused.status.code(), Some(1), "{err}");
    assert!(err.contains("read-only mount on"), "{err}");
    assert_eq!(sha256(&wim), before);
    run_ok(&["delete-image", "--image", wim.to_str().unwrap(), "--index", "3"]);
}
