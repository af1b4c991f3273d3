//! `wimpatch-faults`: SIGKILL every writing operation of wimpatch at random moments and check that
//! the WIM always holds exactly its old or its new content and that the next writer recovers (see
//! `benches/src/faults/mod.rs` for what is checked).
//!
//! Usage: `wimpatch-faults [--runs N] [--seed S] [--only NAME] [--shared-mib N] [--own-mib N]
//! [--lcu-mib N] [--strict]`. Prints a Markdown table; exits 1 if any run ended corrupted or mixed, or
//! if a next writer failed to recover (with `--strict`, also on an occurrence of a known bug), listing
//! each such run.

#![forbid(unsafe_code)]

#[path = "../faults/mod.rs"]
mod faults;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let get = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let num = |flag: &str, default: u64| get(flag).and_then(|v| v.parse().ok()).unwrap_or(default);
    // Next to this binary, as `wimpatch-bench` finds it: `make faults` builds both with --release.
    let bin_dir = std::env::current_exe().ok().and_then(|p| p.parent().map(Path::to_path_buf));
    let config = faults::Config {
        wimpatch: bin_dir.unwrap_or_else(|| PathBuf::from(".")).join("wimpatch"),
        runs: num("--runs", 20) as usize,
        seed: num("--seed", 0x5EED_F417),
        scale: faults::inputs::Scale {
            shared_mib: num("--shared-mib", 24) as usize,
            own_mib: num("--own-mib", 8) as usize,
            lcu_mib: num("--lcu-mib", 24),
        },
        only: get("--only"),
        work_root: PathBuf::from("target/faults"),
    };
    println!(
        "wimpatch-faults: {} runs per operation, seed {:#x}, inputs {} MiB shared + {} MiB per image, LCU {} MiB",
        config.runs, config.seed, config.scale.shared_mib, config.scale.own_mib, config.scale.lcu_mib
    );
    let report = match faults::run(&config) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("wimpatch-faults: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("{}", report.table());
    for k in &report.known {
        eprintln!("known bug: {k}");
    }
    for f in &report.failures {
        eprintln!("FAILED: {f}");
    }
    if report.ok(args.iter().any(|a| a == "--strict")) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
