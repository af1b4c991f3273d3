//! Two writers on one WIM: the second waits or fails with a clear "locked" error; no commit is lost.

use std::time::Duration;

use servicing::wim::{LockWait, WimLock};

use crate::util::*;

#[test]
fn second_writer_fails_with_a_clear_locked_error_and_changes_nothing() {
    let work = Work::new();
    let wim = three_image_wim(&work, "three.wim", 2, 1024, "lzx");
    let before = sha256(&wim);
    let held = WimLock::acquire(&wim, LockWait::NoWait).expect("take the lock");
    for args in [
        vec!["reduce", "--image", wim.to_str().unwrap(), "--keep", "1"],
        vec!["optimize", "--image", wim.to_str().unwrap()],
        vec!["delete-image", "--image", wim.to_str().unwrap(), "--index", "2"],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains("is locked by another writer"), "{args:?}: {err}");
        assert!(err.contains("three.wim"), "{err}");
        assert!(err.contains(&format!("pid {}", std::process::id())), "holder not named: {err}");
    }
    assert_eq!(sha256(&wim), before);
    drop(held);
    assert!(!work.path("three.wim.lock").exists(), "the lock file is removed on release");
}

#[test]
fn second_writer_with_wait_lock_proceeds_once_the_first_is_done() {
    let work = Work::new();
    let wim = three_image_wim(&work, "three.wim", 2, 1024, "lzx");
    let held = WimLock::acquire(&wim, LockWait::NoWait).expect("take the lock");
    let child = wimpatch()
        .args(["--wait-lock", "30", "reduce", "--image", wim.to_str().unwrap(), "--keep", "1"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(600));
    drop(held);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let info: serde_json::Value = serde_json::from_str(&run_ok(&["info", wim.to_str().unwrap(), "--json"])).unwrap();
    assert_eq!(info["header"]["image_count"], 1);
}

#[test]
fn concurrent_appends_to_one_destination_lose_no_commit() {
    // wimlib alone silently loses one of two concurrent appends; the writer lock serialises them.
    let work = Work::new();
    let wim = three_image_wim(&work, "three.wim", 4, 64 * 1024, "lzx");
    let dest = work.path("dest.wim");
    run_ok(&["export-image", "--source", wim.to_str().unwrap(), "--index", "1", "--dest", dest.to_str().unwrap()]);
    let children: Vec<_> = ["2", "3"]
        .iter()
        .map(|i| {
            wimpatch()
                .args([
                    "--wait-lock",
                    "60",
                    "export-image",
                    "--source",
                    wim.to_str().unwrap(),
                    "--index",
                    i,
                    "--dest",
                    dest.to_str().unwrap(),
                ])
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let info: serde_json::Value = serde_json::from_str(&run_ok(&["info", dest.to_str().unwrap(), "--json"])).unwrap();
    assert_eq!(info["header"]["image_count"], 3, "a commit was lost: {info}");
    let mut names: Vec<String> =
        info["images"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap().to_string()).collect();
    names.sort();
    let mut want: Vec<String> = THREE.iter().map(|t| t.0.to_string()).collect();
    want.sort();
    assert_eq!(names, want);
    assert!(imagex_verifies(&dest));
}
