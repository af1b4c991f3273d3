//! `wimpatch reduce`, `optimize` and `delete-image`: shrinking for real, checked with wimlib-imagex.

use crate::util::*;

#[test]
fn reduce_keep_2_leaves_exactly_that_image_and_shrinks_the_file() {
    let work = Work::new();
    let wim = three_image_wim(&work, "three.wim", 8, 64 * 1024, "lzx");
    let files_before = imagex_dir(&wim, 2);
    let size_before = std::fs::metadata(&wim).unwrap().len();
    let out = run_ok(&["reduce", "--image", wim.to_str().unwrap(), "--keep", "2", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["index"], 2);
    assert_eq!(v["dropped"], 2);
    let info: serde_json::Value = serde_json::from_str(&run_ok(&["info", wim.to_str().unwrap(), "--json"])).unwrap();
    assert_eq!(info["header"]["image_count"], 1);
    assert_eq!(info["images"][0]["name"], THREE[1].0);
    assert_eq!(imagex_dir(&wim, 1), files_before);
    assert!(imagex_verifies(&wim));
    let size_after = std::fs::metadata(&wim).unwrap().len();
    assert!(size_after < size_before, "{size_after} >= {size_before}");
    assert!(debris(work.dir.path(), "three.wim").is_empty());
}

#[test]
fn reduce_by_name_to_a_separate_destination_leaves_the_source_untouched() {
    let work = Work::new();
    let wim = three_image_wim(&work, "three.wim", 4, 8192, "xpress");
    let before = sha256(&wim);
    let dest = work.path("one.wim");
    run_ok(&[
        "reduce",
        "--image",
        wim.to_str().unwrap(),
        "--keep",
        "windows 10 enterprise arm64",
        "--dest",
        dest.to_str().unwrap(),
    ]);
    assert_eq!(sha256(&wim), before);
    let info: serde_json::Value = serde_json::from_str(&run_ok(&["info", dest.to_str().unwrap(), "--json"])).unwrap();
    assert_eq!(info["images"][0]["name"], THREE[2].0);
    assert_eq!(info["header"]["compression"], "xpress");
    assert!(imagex_verifies(&dest));
}

#[test]
fn optimize_reclaims_the_holes_left_by_an_append() {
    let work = Work::new();
    let wim = three_image_wim(&work, "three.wim", 2, 4096, "lzx");
    // Replace a big file through wimlib-imagex update: the old data stays as a hole in the file.
    let big = work.path("big.bin");
    std::fs::write(&big, noise(99, 512 * 1024)).unwrap();
    let cmd = format!("add {} /big.bin\n", big.display());
    let mut child = std::process::Command::new("wimlib-imagex")
        .args(["update", wim.to_str().unwrap(), "1"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(cmd.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());
    let mut child = std::process::Command::new("wimlib-imagex")
        .args(["update", wim.to_str().unwrap(), "1"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"delete /big.bin\n").unwrap();
    assert!(child.wait().unwrap().success());
    let grown = std::fs::metadata(&wim).unwrap().len();
    let files = imagex_dir(&wim, 1);
    let v: serde_json::Value =
        serde_json::from_str(&run_ok(&["optimize", "--image", wim.to_str().unwrap(), "--json"])).unwrap();
    assert_eq!(v["size_before"], grown);
    let after = std::fs::metadata(&wim).unwrap().len();
    assert!(after + 400 * 1024 < grown, "optimize did not reclaim the hole: {grown} -> {after}");
    assert_eq!(imagex_dir(&wim, 1), files);
    assert!(imagex_verifies(&wim));
}

#[test]
fn delete_image_removes_it_and_shrinks_the_file() {
    let work = Work::new();
    let wim = three_image_wim(&work, "three.wim", 4, 16 * 1024, "lzx");
    let before = std::fs::metadata(&wim).unwrap().len();
    run_ok(&["delete-image", "--image", wim.to_str().unwrap(), "--index", "3"]);
    let info: serde_json::Value = serde_json::from_str(&run_ok(&["info", wim.to_str().unwrap(), "--json"])).unwrap();
    assert_eq!(info["header"]["image_count"], 2);
    assert_eq!(info["images"][1]["name"], THREE[1].0);
    assert!(std::fs::metadata(&wim).unwrap().len() < before);
    assert!(imagex_verifies(&wim));
}

#[test]
fn delete_image_refuses_to_delete_the_only_image() {
    let work = Work::new();
    let src = work.path("src");
    make_tree(&src, 3, 1, 100);
    let wim = work.path("one.wim");
    imagex(&["capture", src.to_str().unwrap(), wim.to_str().unwrap(), "Only"]);
    let before = sha256(&wim);
    let out = run(&["delete-image", "--image", wim.to_str().unwrap(), "--index", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("only image"), "{}", stderr(&out));
    assert_eq!(sha256(&wim), before);
}
