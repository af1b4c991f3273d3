//! `wimpatch export-image`: new destinations, appends, and a size comparison with wimlib-imagex.

use crate::util::*;

#[test]
fn export_to_new_file_verifies_has_same_files_and_is_no_larger_than_wimlib_imagex_export() {
    let work = Work::new();
    let wim = three_image_wim(&work, "three.wim", 8, 32 * 1024, "lzx");
    for compress in ["lzx", "xpress"] {
        let ours = work.path(&format!("ours-{compress}.wim"));
        let theirs = work.path(&format!("theirs-{compress}.wim"));
        run_ok(&[
            "export-image",
            "--source",
            wim.to_str().unwrap(),
            "--index",
            "2",
            "--dest",
            ours.to_str().unwrap(),
            "--compress",
            compress,
        ]);
        imagex(&["export", wim.to_str().unwrap(), "2", theirs.to_str().unwrap(), &format!("--compress={compress}")]);
        assert!(imagex_verifies(&ours));
        assert_eq!(imagex_dir(&ours, 1), imagex_dir(&wim, 2));
        let (a, b) = (std::fs::metadata(&ours).unwrap().len(), std::fs::metadata(&theirs).unwrap().len());
        assert!(a <= b, "{compress}: ours {a} > wimlib-imagex {b}");
    }
}

#[test]
fn export_appends_to_an_existing_destination_like_dism() {
    let work = Work::new();
    let wim = three_image_wim(&work, "three.wim", 3, 4096, "lzx");
    let dest = work.path("dest.wim");
    run_ok(&["export-image", "--source", wim.to_str().unwrap(), "--index", "1", "--dest", dest.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_str(&run_ok(&[
        "export-image",
        "--source",
        wim.to_str().unwrap(),
        "--index",
        "Windows 8.1 Pro x86",
        "--dest",
        dest.to_str().unwrap(),
        "--json",
    ]))
    .unwrap();
    assert_eq!(v["created"], false);
    assert_eq!(v["dest_index"], 2);
    let info: serde_json::Value = serde_json::from_str(&run_ok(&["info", dest.to_str().unwrap(), "--json"])).unwrap();
    assert_eq!(info["images"][0]["name"], THREE[0].0);
    assert_eq!(info["images"][1]["name"], THREE[1].0);
    assert!(imagex_verifies(&dest));
}

#[test]
fn export_with_a_different_compression_into_an_existing_destination_is_refused() {
    let work = Work::new();
    let wim = three_image_wim(&work, "three.wim", 2, 1024, "lzx");
    let dest = work.path("dest.wim");
    run_ok(&["export-image", "--source", wim.to_str().unwrap(), "--index", "1", "--dest", dest.to_str().unwrap()]);
    let before = sha256(&dest);
    let out = run(&[
        "export-image",
        "--source",
        wim.to_str().unwrap(),
        "--index",
        "2",
        "--dest",
        dest.to_str().unwrap(),
        "--compress",
        "xpress",
    ]);
    // A --compress that an append cannot honour is a usage error (issue 16 item 3): exit 2.
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("lzx compression"), "{}", stderr(&out));
    assert_eq!(sha256(&dest), before);
}
