//! A reader that stops early (`| head`, `| grep -m1`) is not a failure of the command, with `--json`
//! as without: it exited 1 with "error: Broken pipe" in JSON mode (seen running `make demo`).

use std::process::Stdio;

use crate::util::*;

/// Runs wimpatch with its stdout a pipe whose reading end is closed before anything is written.
fn exit_with_stdout_closed(args: &[&str]) -> (Option<i32>, String) {
    let mut child = wimpatch().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    (out.status.code(), stderr(&out))
}

#[test]
fn json_output_into_a_closed_pipe_is_not_an_error() {
    let work = Work::new();
    let wim = three_image_wim(&work, "three.wim", 1, 256, "lzx");
    let w = wim.to_str().unwrap();
    for args in [vec!["info", w], vec!["--json", "info", w]] {
        let (code, err) = exit_with_stdout_closed(&args);
        assert_eq!(code, Some(0), "{args:?}: {err}");
        assert!(!err.contains("Broken pipe"), "{args:?}: {err}");
    }
}
