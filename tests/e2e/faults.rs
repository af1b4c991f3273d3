//! The short form of `make faults`: every writing operation SIGKILLed at 3 random moments (seeded),
//! on small inputs. The harness itself lives in `benches/src/faults/` and is shared with the
//! `wimpatch-faults` binary, so both check the same things: the WIM verifies and holds exactly its
//! old or its new content, read-only inputs are untouched, and the next writer recovers. Set
//! `WIMPATCH_FAULT_RUNS` for more runs per operation.

#[path = "../../benches/src/faults/mod.rs"]
mod harness;

#[test]
fn sigkill_at_random_points_of_every_writing_operation_leaves_old_or_new_state() {
    let runs = std::env::var("WIMPATCH_FAULT_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let work = tempfile::tempdir().expect("tempdir");
    let config = harness::Config {
        wimpatch: env!("CARGO_BIN_EXE_wimpatch").into(),
        runs,
        seed: 0x5EED_0003,
        // Small enough for `make test`; the add-package commit needs a few MiB to be hit at all.
        scale: harness::inputs::Scale { shared_mib: 6, own_mib: 2, lcu_mib: 8 },
        only: None,
        work_root: work.path().to_owned(),
    };
    let report = harness::run(&config).expect("fault harness");
    eprintln!("{}", report.table());
    assert_eq!(report.rows.len(), harness::ops::OPERATIONS.len());
    // Not one kill in every run of every operation would mean the delays missed the writes entirely.
    assert!(report.rows.iter().map(|r| r.killed).sum::<usize>() > 0, "no run was killed mid-run");
    assert!(report.ok(true), "fault injection failures:\n{}", report.failures.join("\n"));
}

/// The harness's own check can fail: a changed file, a dropped image and a cut file are each told
/// apart from the original.
#[test]
fn the_state_check_tells_a_changed_image_from_the_original() {
    use crate::util::{three_image_wim, Work};
    let work = Work::new();
    let wim = three_image_wim(&work, "three.wim", 2, 4096, "lzx");
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_wimpatch"));
    let probe = harness::state::Probe::default();
    let original = harness::state::snapshot(&wim, probe, bin).expect("snapshot");
    assert!(original.is_some());

    let changed = work.path("changed.wim");
    std::fs::copy(&wim, &changed).unwrap();
    let file = work.path("new.txt");
    std::fs::write(&file, b"one more file").unwrap();
    crate::util::imagex(&[
        "update",
        changed.to_str().unwrap(),
        "2",
        &format!("--command=add {} /new.txt", file.display()),
    ]);
    assert_ne!(harness::state::snapshot(&changed, probe, bin).unwrap(), original, "an added file");

    let fewer = work.path("fewer.wim");
    std::fs::copy(&wim, &fewer).unwrap();
    crate::util::imagex(&["delete", fewer.to_str().unwrap(), "3"]);
    assert_ne!(harness::state::snapshot(&fewer, probe, bin).unwrap(), original, "a dropped image");

    let cut = work.path("cut.wim");
    let bytes = std::fs::read(&wim).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() - 100]).unwrap();
    assert!(harness::state::verifies(&cut).is_err(), "a cut file verifies");
    assert_eq!(harness::state::snapshot(&work.path("absent.wim"), probe, bin).unwrap(), None);
}
