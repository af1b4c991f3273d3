//! Redistribution of a month's update to a distribution point over rsync, on loopback: the DP (a
//! module of an rsync daemon this benchmark starts) holds month 1; the site holds month 2 (month 1
//! serviced with the cumulative update and `--remove-superseded`, so the WIM is rewritten) and
//! sends it with `wimpatch site distribute`. The baseline is `rsync --whole-file` of the same file
//! onto the same month-1 copy. Both byte counts are rsync's own statistics; times are medians of
//! the same number of alternating runs.

use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::apply::run;

/// What the redistribution measured.
#[derive(Debug, serde::Serialize)]
pub struct Redistribution {
    /// Size of the month-2 image.
    pub image_bytes: u64,
    /// Bytes `wimpatch site distribute` sent (rsync delta against month 1 on the DP).
    pub bytes_sent: u64,
    /// Bytes `rsync --whole-file` sent for the same file.
    pub baseline_bytes_sent: u64,
    /// `bytes_sent / baseline_bytes_sent`.
    pub bytes_ratio: f64,
    /// Median seconds of the distribution.
    pub median_s: f64,
    /// Median seconds of the whole-file copy.
    pub baseline_median_s: f64,
    /// `median_s / baseline_median_s`.
    pub time_ratio: f64,
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_daemon(dir: &Path, module: &Path) -> (Daemon, u16) {
    let meta = std::fs::metadata(module).expect("module folder");
    let conf = dir.join("rsyncd.conf");
    std::fs::write(
        &conf,
        format!(
            "pid file = {d}/rsyncd.pid\nuse chroot = false\n[dp]\n  path = {m}\n  read only = false\n  uid = {u}\n  gid = {g}\n",
            d = dir.display(),
            m = module.display(),
            u = meta.uid(),
            g = meta.gid()
        ),
    )
    .expect("write rsyncd.conf");
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
    let child = Command::new("rsync")
        .args(["--daemon", "--no-detach", "--address=127.0.0.1"])
        .arg(format!("--config={}", conf.display()))
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run rsync --daemon (install rsync)");
    let daemon = Daemon(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "rsync --daemon is not listening");
        std::thread::sleep(Duration::from_millis(50));
    }
    (daemon, port)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Builds month 2 from `month1` and `package`, then measures `runs` alternating transfers.
pub fn measure(work: &Path, wimpatch: &Path, month1: &Path, package: &Path, runs: usize) -> Redistribution {
    let dir = work.join("redistribute");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the redistribution folder");
    let month2 = dir.join("month2.wim");
    std::fs::copy(month1, &month2).expect("copy month 1");
    let wp = |args: &[&str]| {
        let mut c = Command::new(wimpatch);
        c.args(args).env("WIMPATCH_NO_PROGRESS", "1");
        c
    };
    let s = |p: &Path| p.to_str().expect("utf-8 path").to_owned();
    run(&mut wp(&[
        "service",
        "--image",
        &s(&month2),
        "--package-path",
        &s(package),
        "--remove-superseded",
        "--log-dir",
        &s(&dir.join("logs")),
        "--scratch-dir",
        &s(&dir),
    ]));
    let site = dir.join("site");
    let site_args = |more: &[&str]| -> Vec<String> {
        let mut v = vec!["site".to_owned(), "--site".into(), s(&site)];
        v.extend(more.iter().map(|m| (*m).to_owned()));
        v
    };
    let wps = |more: &[&str]| {
        let a = site_args(more);
        wp(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    run(&mut wps(&["init"]));
    run(&mut wps(&["image", "import", &s(&month2)]));
    let module = dir.join("module");
    std::fs::create_dir_all(&module).expect("module folder");
    let (_daemon, port) = start_daemon(&dir, &module);
    run(&mut wps(&["dp", "add", "dp", "--url", &format!("rsync://127.0.0.1:{port}/dp/site")]));
    let dp_file: PathBuf = module.join("site/image-1/install.wim");
    let seed = || {
        let _ = std::fs::remove_file(&dp_file);
        std::fs::create_dir_all(dp_file.parent().expect("parent")).expect("image folder");
        std::fs::copy(month1, &dp_file).expect("seed the DP with month 1");
    };
    let image_bytes = std::fs::metadata(&month2).expect("month 2").len();
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let (mut bytes_sent, mut baseline_bytes_sent) = (0, 0);
    for _ in 0..runs {
        seed();
        let t = Instant::now();
        let out = wps(&["distribute", "--image", "1", "--json"]).output().expect("run wimpatch");
        ours.push(t.elapsed().as_secs_f64());
        assert!(out.status.success(), "distribute failed: {}", String::from_utf8_lossy(&out.stderr));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("distribute --json");
        bytes_sent = report["dps"][0]["bytes_sent"].as_u64().expect("bytes_sent");

        seed();
        let t = Instant::now();
        let out = Command::new("rsync")
            .args(["--stats", "--whole-file"])
            .arg(&month2)
            .arg(format!("rsync://127.0.0.1:{port}/dp/site/image-1/install.wim"))
            .output()
            .expect("run rsync");
        theirs.push(t.elapsed().as_secs_f64());
        assert!(out.status.success(), "rsync --whole-file failed: {}", String::from_utf8_lossy(&out.stderr));
        baseline_bytes_sent =
            servicing::site::rsync::stats(&String::from_utf8_lossy(&out.stdout), "baseline").expect("rsync --stats").0;
    }
    let (m, bm) = (median(ours), median(theirs));
    Redistribution {
        image_bytes,
        bytes_sent,
        baseline_bytes_sent,
        bytes_ratio: bytes_sent as f64 / baseline_bytes_sent as f64,
        median_s: m,
        baseline_median_s: bm,
        time_ratio: m / bm,
    }
}
