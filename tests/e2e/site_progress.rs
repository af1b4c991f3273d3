//! Issue 19: `site tick` and `site distribute` showed no progress on a terminal. Under a
//! pseudo-terminal (util-linux `script`) they draw each run with its phase and each DP's transfer
//! and leave a line per finished run and DP; piped, stderr holds none of it.

use std::process::Command;

use crate::site::{Backend, Fixture};
use crate::util::*;

/// Runs wimpatch with `args` under a pseudo-terminal; returns what the terminal received.
fn on_a_terminal(f: &Fixture, args: &[&str]) -> String {
    let mut line = vec![env!("CARGO_BIN_EXE_wimpatch").to_owned()];
    line.extend(f.args(args).iter().map(|a| format!("'{a}'")));
    let out = Command::new("script")
        .args(["-qefc", &line.join(" "), "/dev/null"])
        .env("COLUMNS", "160")
        .env_remove("WIMPATCH_NO_PROGRESS")
        .output()
        .expect("script (util-linux) runs the command under a pseudo-terminal");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    text
}

fn site_tick_and_distribute_showed_no_progress_on_a_terminal(backend: Backend) {
    let f = Fixture::new(backend);
    f.add_dps();
    f.schedule_now(&["KB5000002"], &["--update-dps"]);
    let tick = on_a_terminal(&f, &["tick"]);
    assert!(tick.contains("Job 1 (image 1, Windows 10 Pro): Successful"), "{tick}");
    for dp in ["dp-a", "dp-b"] {
        assert!(tick.contains(&format!("{dp} image 1: Success")), "{tick}");
    }
    let dist = on_a_terminal(&f, &["distribute", "--image-id", "1"]);
    assert!(dist.contains("dp-a image 1: Success") && dist.contains("dp-b image 1: Success"), "{dist}");

    // Piped (not a terminal): no progress on stderr, the report alone on stdout.
    let out = run(&f.args(&["distribute", "--image-id", "1"]));
    assert!(out.status.success());
    let err = stderr(&out);
    assert!(!err.contains("image 1: Success") && !err.contains("Job "), "{err}");
}

on_both_backends!(site_tick_and_distribute_showed_no_progress_on_a_terminal,);
