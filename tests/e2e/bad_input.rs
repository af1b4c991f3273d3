//! Bad inputs: a clear error naming the file, exit status 1, and the input left byte-identical.

use crate::util::*;

fn assert_fails_cleanly(args: &[&str], must_mention: &[&str], untouched: &[&std::path::Path]) {
    let hashes: Vec<String> = untouched.iter().map(|p| sha256(p)).collect();
    let out = run(args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    for m in must_mention {
        assert!(err.contains(m), "{args:?}: stderr does not mention {m:?}: {err}");
    }
    for (p, h) in untouched.iter().zip(hashes) {
        assert_eq!(sha256(p), h, "{} changed", p.display());
    }
}

#[test]
fn not_a_wim_is_rejected_naming_the_file() {
    let work = Work::new();
    let bogus = work.path("notes.wim");
    std::fs::write(&bogus, b"this is not a WIM file at all, just text\n".repeat(100)).unwrap();
    let s = bogus.to_str().unwrap();
    assert_fails_cleanly(&["info", s], &["notes.wim", "WIMLIB_ERR_NOT_A_WIM_FILE"], &[&bogus]);
    assert_fails_cleanly(&["reduce", "--image", s, "--keep", "1"], &["notes.wim"], &[&bogus]);
    assert_fails_cleanly(&["verify", s], &["notes.wim"], &[&bogus]);
    // Shorter than a WIM header.
    let tiny = work.path("tiny.wim");
    std::fs::write(&tiny, b"MSWIM").unwrap();
    assert_fails_cleanly(&["info", tiny.to_str().unwrap()], &["tiny.wim", "end of the file"], &[&tiny]);
}

#[test]
fn truncated_wim_is_rejected_and_left_as_it_was() {
    let work = Work::new();
    let wim = three_image_wim(&work, "three.wim", 4, 32 * 1024, "lzx");
    let bytes = std::fs::read(&wim).unwrap();
    for cut in [100usize, bytes.len() / 2, bytes.len() - 200] {
        let t = work.path(&format!("cut{cut}.wim"));
        std::fs::write(&t, &bytes[..cut]).unwrap();
        let s = t.to_str().unwrap();
        let name = format!("cut{cut}.wim");
        assert_fails_cleanly(&["verify", s], &[&name], &[&t]);
        assert_fails_cleanly(&["reduce", "--image", s, "--keep", "1"], &[&name], &[&t]);
        assert_fails_cleanly(&["optimize", "--image", s], &[&name], &[&t]);
        assert!(debris(work.dir.path(), &name).is_empty(), "temp files left for {name}");
    }
}

#[test]
fn index_zero_out_of_range_and_unknown_name_are_rejected() {
    let work = Work::new();
    let wim = three_image_wim(&work, "three.wim", 2, 1024, "lzx");
    let s = wim.to_str().unwrap();
    let dest = work.path("out.wim");
    assert_fails_cleanly(
        &["reduce", "--image", s, "--keep", "0"],
        &["three.wim", "no image index 0", "3 images"],
        &[&wim],
    );
    assert_fails_cleanly(&["reduce", "--image", s, "--keep", "4"], &["no image index 4"], &[&wim]);
    assert_fails_cleanly(
        &["delete-image", "--image", s, "--index", "Windows 12 Ultimate"],
        &["no image named \"Windows 12 Ultimate\""],
        &[&wim],
    );
    assert_fails_cleanly(
        &["export-image", "--source", s, "--index", "9", "--dest", dest.to_str().unwrap()],
        &["no image index 9"],
        &[&wim],
    );
    assert!(!dest.exists(), "a failed export must not create the destination");
}

#[test]
fn unwritable_destination_is_rejected_without_touching_the_source() {
    let work = Work::new();
    let wim = three_image_wim(&work, "three.wim", 2, 1024, "lzx");
    let missing_dir = work.path("no/such/dir/out.wim");
    assert_fails_cleanly(
        &["export-image", "--source", wim.to_str().unwrap(), "--index", "1", "--dest", missing_dir.to_str().unwrap()],
        &["out.wim"],
        &[&wim],
    );
    assert_fails_cleanly(
        &["reduce", "--image", wim.to_str().unwrap(), "--keep", "1", "--dest", missing_dir.to_str().unwrap()],
        &["out.wim"],
        &[&wim],
    );
    // A destination that is a directory.
    let as_dir = work.path("adir.wim");
    std::fs::create_dir(&as_dir).unwrap();
    assert_fails_cleanly(
        &["export-image", "--source", wim.to_str().unwrap(), "--index", "1", "--dest", as_dir.to_str().unwrap()],
        &["adir.wim"],
        &[&wim],
    );
}

#[test]
fn usage_errors_exit_with_status_2() {
    let out = run(&["reduce", "--image"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["unmount", "--mount-dir", "/tmp/x"]);
    assert_eq!(out.status.code(), Some(2), "--commit or --discard is required");
    let out = run(&["export-image", "--source", "a.wim", "--index", "1", "--dest", "b.wim", "--compress", "zip"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn missing_file_is_named() {
    let out = run(&["info", "/nonexistent/install.wim"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("/nonexistent/install.wim"));
}
