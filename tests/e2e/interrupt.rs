//! SIGKILL in the middle of a write: the WIM still opens and verifies with its old content, and the
//! next writer removes the temp files the killed one left.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::util::*;

/// A WIM with enough incompressible data (uncompressed, 3 images sharing it) that writing takes a
/// while, so the kill lands mid-write.
fn big_wim(work: &Work, name: &str) -> std::path::PathBuf {
    let wim = work.path(name);
    for (i, edition) in ["Core", "Professional", "Enterprise"].iter().enumerate() {
        let src = work.path(&format!("{name}-src{i}"));
        let dir = src.join("Windows/System32");
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..24 {
            std::fs::write(dir.join(format!("blob{f}.dll")), noise(f as u64 + 1, 1 << 20)).unwrap();
        }
        std::fs::write(dir.join(format!("{edition}.txt")), noise(100 + i as u64, 1 << 20)).unwrap();
        let verb = if i == 0 { "capture" } else { "append" };
        imagex(&[verb, src.to_str().unwrap(), wim.to_str().unwrap(), edition, "--compress=none"]);
        std::fs::remove_dir_all(&src).unwrap();
    }
    wim
}

/// Spawns wimpatch and kills it with SIGKILL as soon as `started()` says the write has begun. Returns
/// whether the kill landed before the process finished on its own.
fn kill_mid_write(args: &[&str], started: impl Fn() -> bool) -> bool {
    let mut child: Child = wimpatch().args(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if started() {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            return true;
        }
        assert!(Instant::now() < deadline, "the write never started");
        std::thread::sleep(Duration::from_micros(200));
    }
}

fn has_debris(dir: &Path, wim_name: &str) -> bool {
    !debris(dir, wim_name).is_empty()
}

#[test]
fn sigkill_during_reduce_leaves_the_original_intact_and_the_next_run_cleans_up() {
    let work = Work::new();
    let wim = big_wim(&work, "big.wim");
    let before = sha256(&wim);
    let mut killed_mid_write = 0;
    for _ in 0..3 {
        if kill_mid_write(&["reduce", "--image", wim.to_str().unwrap(), "--keep", "2"], || {
            has_debris(work.dir.path(), "big.wim")
        }) {
            killed_mid_write += 1;
            assert_eq!(sha256(&wim), before, "the original changed");
            assert!(imagex_verifies(&wim));
        }
    }
    assert!(killed_mid_write > 0, "no kill landed mid-write");
    assert!(has_debris(work.dir.path(), "big.wim"), "the killed writer should have left its temp file");
    run_ok(&["reduce", "--image", wim.to_str().unwrap(), "--keep", "2"]);
    assert!(
        !has_debris(work.dir.path(), "big.wim"),
        "stale temp files were not cleaned: {:?}",
        debris(work.dir.path(), "big.wim")
    );
    assert!(imagex_verifies(&wim));
}

#[test]
fn sigkill_during_optimize_leaves_the_original_intact_and_the_next_run_cleans_up() {
    let work = Work::new();
    let wim = big_wim(&work, "big.wim");
    let before = sha256(&wim);
    let mut killed = 0;
    for _ in 0..3 {
        if kill_mid_write(&["optimize", "--image", wim.to_str().unwrap(), "--recompress"], || {
            has_debris(work.dir.path(), "big.wim")
        }) {
            killed += 1;
            assert_eq!(sha256(&wim), before);
            assert!(imagex_verifies(&wim));
        }
    }
    assert!(killed > 0, "no kill landed mid-write");
    run_ok(&["optimize", "--image", wim.to_str().unwrap()]);
    assert!(!has_debris(work.dir.path(), "big.wim"), "{:?}", debris(work.dir.path(), "big.wim"));
    assert!(imagex_verifies(&wim));
}

#[test]
fn sigkill_during_export_keeps_source_and_destination_consistent() {
    let work = Work::new();
    let wim = big_wim(&work, "big.wim");
    let before = sha256(&wim);
    // To a new destination: nothing appears at the destination path until the rename.
    let dest = work.path("new.wim");
    let killed = kill_mid_write(
        &["export-image", "--source", wim.to_str().unwrap(), "--index", "1", "--dest", dest.to_str().unwrap()],
        || has_debris(work.dir.path(), "new.wim"),
    );
    assert_eq!(sha256(&wim), before);
    if killed {
        assert!(!dest.exists() || imagex_verifies(&dest));
    }
    // Append to an existing destination: killed mid-append, it keeps its old images and verifies.
    let dest2 = work.path("dest2.wim");
    run_ok(&[
        "export-image",
        "--source",
        wim.to_str().unwrap(),
        "--index",
        "1",
        "--dest",
        dest2.to_str().unwrap(),
        "--compress",
        "lzx",
    ]);
    let size0 = std::fs::metadata(&dest2).unwrap().len();
    let killed = kill_mid_write(
        &["export-image", "--source", wim.to_str().unwrap(), "--index", "3", "--dest", dest2.to_str().unwrap()],
        || std::fs::metadata(&dest2).map(|m| m.len() > size0 + 4096).unwrap_or(false),
    );
    assert!(imagex_verifies(&dest2));
    let info: serde_json::Value = serde_json::from_str(&run_ok(&["info", dest2.to_str().unwrap(), "--json"])).unwrap();
    let count = info["header"]["image_count"].as_u64().unwrap();
    if killed {
        assert!(count == 1 || count == 2, "neither the old nor the new state: {count} images");
    }
    // The next writer still works and the result verifies.
    run_ok(&["export-image", "--source", wim.to_str().unwrap(), "--index", "2", "--dest", dest.to_str().unwrap()]);
    assert!(!has_debris(work.dir.path(), "new.wim"));
    assert!(imagex_verifies(&dest));
    assert_eq!(sha256(&wim), before);
}
