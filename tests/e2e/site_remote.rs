//! Remote distribution points (issue 15) against real servers on loopback: an rsync daemon and an
//! sshd. Month 1 sends the whole image, month 2 (a `--remove-superseded` rewrite) only what rsync's
//! delta needs; each DP's WIM is the site's, byte for byte; a transfer killed midway leaves the DP
//! serving the previous version; an unreachable DP fails alone.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::servers::{free_port, RsyncDaemon, Sshd};
use crate::site::{Backend, Fixture, KB3};
use crate::util::*;

/// Runs `wimpatch site --site … ARGS --json` with `env`, asserting success.
fn json_env(f: &Fixture, env: &[(&str, &str)], args: &[&str]) -> serde_json::Value {
    let mut a = f.args(args);
    a.push("--json");
    let out = wimpatch().args(&a).envs(env.iter().copied()).output().unwrap();
    assert!(out.status.success(), "{a:?}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{a:?}: {e}"))
}

/// The per-image entry of DP `name` in `site dp list --json`.
fn dp_entry(list: &serde_json::Value, name: &str) -> serde_json::Value {
    let dp = list.as_array().unwrap().iter().find(|d| d["name"] == name).unwrap_or_else(|| panic!("{name}: {list}"));
    dp["images"][0].clone()
}

fn outcome<'a>(dist: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    dist["dps"].as_array().unwrap().iter().find(|d| d["dp"] == name).unwrap_or_else(|| panic!("{name}: {dist}"))
}

fn rsync_and_ssh_dps_get_the_whole_image_then_only_the_delta_and_an_unreachable_dp_fails_alone(backend: Backend) {
    let f = Fixture::new(backend);
    let daemon = RsyncDaemon::start(&f.work.path(""));
    let ssh_work = f.work.path("sshd");
    std::fs::create_dir_all(&ssh_work).unwrap();
    let sshd = Sshd::start(&ssh_work, "rsync_and_ssh_dps_…");
    let ssh_env: Vec<(&str, &str)> = sshd.iter().map(|s| ("WIMPATCH_SSH", s.ssh_command.as_str())).collect();
    let env = ssh_env.as_slice();

    f.ok(&["dp", "add", "rs", "--url", &daemon.url("dps/rs")]);
    let ssh_dir = f.work.path("ssh-dp");
    if let Some(s) = &sshd {
        f.ok(&["dp", "add", "ss", "--url", &s.url(&ssh_dir)]);
    }
    let gone = format!("rsync://127.0.0.1:{}/dp", free_port());
    f.ok(&["dp", "add", "gone", "--url", &gone, "--bwlimit", "1000"]);
    let mut dps = vec![("rs", daemon.module_dir.join("dps/rs/image-1/install.wim"))];
    if sshd.is_some() {
        dps.push(("ss", ssh_dir.join("image-1/install.wim")));
    }

    // Month 1: the first distribution has nothing to build on, so the whole image travels.
    f.schedule_now(&["all-applicable"], &["--continue-on-error", "--update-dps", "--remove-superseded"]);
    let tick = json_env(&f, env, &["tick"]);
    let show = f.show();
    assert_eq!(show["scheduled_updates_status"], "successful", "{show}");
    assert_eq!(show["content_version"], 2);
    let size = show["size"].as_u64().unwrap();
    let dist = &tick["ran"][0]["distribution"];
    for (name, file) in &dps {
        let d = outcome(dist, name);
        assert_eq!(d["status"], "success", "{d}");
        assert_eq!(d["method"], "rsync", "{d}");
        assert_eq!(d["image_bytes"], size);
        assert!(d["bytes_sent"].as_u64().unwrap() >= size, "month 1 sent less than the image: {d}");
        assert_eq!(sha256(file), show["sha256"].as_str().unwrap(), "{name}");
        assert!(imagex_verifies(file), "{name}");
        println!("month 1 to {name}: {} of {size} bytes sent", d["bytes_sent"]);
    }
    if sshd.is_some() {
        assert_eq!(outcome(dist, "ss")["verification"], "rsync whole-file checksum + sha256");
    }
    // The unreachable DP: Failed with the reason; the others went on; the site's version is its own.
    let d = outcome(dist, "gone");
    assert_eq!(d["status"], "failed", "{d}");
    assert!(d["message"].as_str().unwrap().contains("rsync failed"), "{d}");
    assert!(d["message"].as_str().unwrap().contains(&gone), "{d}");

    // Month 2: KB5000003 with --remove-superseded rewrites the WIM; rsync sends only what changed.
    std::fs::copy(f.all.join(KB3), f.updates.join(KB3)).unwrap();
    f.ok(&["catalog", "sync", "--from", f.updates.to_str().unwrap()]);
    f.schedule_now(&["KB5000003"], &["--update-dps", "--remove-superseded"]);
    let tick = json_env(&f, env, &["tick"]);
    let show = f.show();
    assert_eq!(show["scheduled_updates_status"], "successful", "{show}");
    assert_eq!(show["content_version"], 3);
    let size = show["size"].as_u64().unwrap();
    let dist = &tick["ran"][0]["distribution"];
    let list = f.json(&["dp", "list"]);
    for (name, file) in &dps {
        let d = outcome(dist, name);
        assert_eq!(d["status"], "success", "{d}");
        let sent = d["bytes_sent"].as_u64().unwrap();
        println!("month 2 to {name}: {sent} of {size} bytes sent ({:.1}%)", d["percent_sent"].as_f64().unwrap());
        assert!(sent < size, "month 2 sent {sent} bytes for a {size}-byte image: {d}");
        assert_eq!(sha256(file), show["sha256"].as_str().unwrap(), "{name}");
        assert!(imagex_verifies(file), "{name}");
        // Recorded per DP and image, shown by `site dp list`.
        let row = dp_entry(&list, name);
        assert_eq!(row["bytes_sent"], sent, "{row}");
        assert_eq!(row["image_bytes"], size, "{row}");
        assert_eq!(row["content_version"], 3, "{row}");
    }
    assert_eq!(dp_entry(&list, "gone")["status"], "failed");
    assert_eq!(list.as_array().unwrap().iter().find(|d| d["name"] == "gone").unwrap()["bwlimit"], 1000);
    let text = f.ok(&["dp", "list"]);
    assert!(text.contains("Bytes Sent") && text.contains("Image Bytes"), "{text}");
}

/// Polls until a file whose name starts with `.` (rsync's temporary) appears under `dir`.
fn wait_for_temp(dir: &Path, child: &mut std::process::Child) -> PathBuf {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found = walk(dir).into_iter().find(|p| {
            p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(".install.wim"))
                && std::fs::metadata(p).is_ok_and(|m| m.len() > 0)
        });
        if let Some(p) = found {
            return p;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the distribution ended ({status}) before it could be killed");
        }
        assert!(Instant::now() < deadline, "no rsync temporary file appeared in {}", dir.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Kills a distribution midway (the whole process group: wimpatch, rsync, ssh) and checks the DP
/// still serves the previous version, then that the next pass marks it Failed.
fn kill_midway(f: &Fixture, env: &[(&str, &str)], dp_dir: &Path, previous: &str) {
    let mut child = wimpatch()
        .args(f.args(&["distribute", "--image", "1"]))
        .envs(env.iter().copied())
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let temp = wait_for_temp(dp_dir, &mut child);
    let pgid = format!("-{}", child.id());
    assert!(std::process::Command::new("kill").args(["-KILL", "--", &pgid]).status().unwrap().success());
    let _ = child.wait();
    let served = dp_dir.join("image-1/install.wim");
    assert_eq!(sha256(&served), previous, "the DP does not serve the previous version (temp {})", temp.display());
    assert!(imagex_verifies(&served));
    let tick = json_env(f, env, &["tick"]);
    assert_eq!(tick["recovered_distributions"], 1, "{tick}");
    let row = dp_entry(&f.json(&["dp", "list"]), "slow");
    assert_eq!(row["status"], "failed", "{row}");
    assert_ne!(row["content_version"], 2, "{row}");
}

/// A DP that holds version 1 (placed there as a previous distribution would have), a site at
/// version 2, and a DP throttled to 1 KiB/s so the transfer can be caught midway.
fn slow_dp_fixture(backend: Backend, dp_dir: &Path) -> (Fixture, String) {
    let f = Fixture::new(backend);
    let v1 = f.image_path();
    std::fs::create_dir_all(dp_dir.join("image-1")).unwrap();
    std::fs::copy(&v1, dp_dir.join("image-1/install.wim")).unwrap();
    let previous = sha256(&v1);
    f.schedule_now(&["KB5000002"], &["--remove-superseded"]);
    f.ok(&["tick"]);
    assert_eq!(f.show()["content_version"], 2);
    (f, previous)
}

fn killing_an_rsync_transfer_midway_leaves_the_dp_serving_the_previous_version(backend: Backend) {
    let work = Work::new();
    let daemon = RsyncDaemon::start(&work.path(""));
    let dp_dir = daemon.module_dir.join("slow");
    let (f, previous) = slow_dp_fixture(backend, &dp_dir);
    f.ok(&["dp", "add", "slow", "--url", &daemon.url("slow"), "--bwlimit", "1"]);
    kill_midway(&f, &[], &dp_dir, &previous);
}

fn killing_an_ssh_transfer_midway_leaves_the_dp_serving_the_previous_version(backend: Backend) {
    let work = Work::new();
    let Some(sshd) = Sshd::start(&work.path(""), "killing_an_ssh_transfer_midway_…") else { return };
    let dp_dir = work.path("ssh-dp");
    let (f, previous) = slow_dp_fixture(backend, &dp_dir);
    f.ok(&["dp", "add", "slow", "--url", &sshd.url(&dp_dir), "--bwlimit", "1"]);
    kill_midway(&f, &[("WIMPATCH_SSH", &sshd.ssh_command)], &dp_dir, &previous);
}

fn dp_add_needs_a_path_or_a_url_and_refuses_a_bad_url_or_a_bwlimit_on_a_directory(backend: Backend) {
    let work = Work::new();
    let site = work.path("site");
    let s = site.to_str().unwrap();
    let init = backend.init_args();
    let mut args = vec!["site", "--site", s, "init"];
    args.extend(init.iter().map(String::as_str));
    run_ok(&args);
    let out = run(&["site", "--site", s, "dp", "add", "x"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    for (args, why) in [
        (vec!["--url", "http://dp/x"], "unknown scheme"),
        (vec!["--url", "rsync://dp"], "no rsync module"),
        (vec!["--path", work.path("d").to_str().unwrap(), "--bwlimit", "10"], "--bwlimit applies to rsync"),
    ] {
        let mut a = vec!["site", "--site", s, "dp", "add", "x"];
        a.extend(args);
        let out = run(&a);
        assert_eq!(out.status.code(), Some(1), "{a:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(why), "{a:?}: {}", stderr(&out));
    }
    let list = run_ok(&["site", "--site", s, "dp", "list", "--json"]);
    assert_eq!(list.trim(), "[]", "a refused DP was recorded: {list}");
}

on_both_backends!(
    rsync_and_ssh_dps_get_the_whole_image_then_only_the_delta_and_an_unreachable_dp_fails_alone,
    killing_an_rsync_transfer_midway_leaves_the_dp_serving_the_previous_version,
    killing_an_ssh_transfer_midway_leaves_the_dp_serving_the_previous_version,
    dp_add_needs_a_path_or_a_url_and_refuses_a_bad_url_or_a_bwlimit_on_a_directory,
);
