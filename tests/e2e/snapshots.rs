//! Snapshots (insta) of what users read: the text and the JSON of every command on generated
//! fixtures, the `--json` failure document, and `--help` of every command. A change to any of them
//! shows up as a snapshot diff to review (`cargo insta review`); CI (`CI=true`) never writes new
//! snapshots, it fails. Volatile parts are redacted: the temporary folder, GUIDs, times, durations,
//! hashes and sizes of compressed files (they move with the wimlib version).

use std::path::Path;

use fixtures::packages::write_all;
use fixtures::profile::Profile;

use crate::util::*;

const KB1: &str = "Windows10.0-KB5000001-x64.cab";
const KB2: &str = "Windows10.0-KB5000002-x64.cab";
const EXE: &str = "ie11-setup.exe";

/// Runs `args` and snapshots `exit status` + stdout under `name`, redacted.
fn snap(work: &Work, name: &str, args: &[&str]) -> String {
    let out = wimpatch()
        .env("COLUMNS", "100")
        .env("TZ", "UTC")
        .env("TMPDIR", work.path("tmp"))
        .env_remove("XDG_CACHE_HOME")
        .env_remove("WIMPATCH_SITE")
        .env_remove("WIMPATCH_SCRATCH_DIR")
        .env_remove("NO_COLOR")
        .args(args)
        .output()
        .expect("run wimpatch");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let text = format!("exit status: {}\n{stdout}", out.status.code().unwrap_or(-1));
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.set_snapshot_path("snapshots");
    settings.set_omit_expression(true);
    settings.set_info(&args.join(" ").replace(work.dir.path().to_str().unwrap(), "[WORK]"));
    for (pattern, replacement) in filters(work) {
        settings.add_filter(&pattern, replacement);
    }
    settings.bind(|| insta::assert_snapshot!(name, text));
    stdout
}

fn filters(work: &Work) -> Vec<(String, &'static str)> {
    let dir = work.dir.path().to_str().unwrap();
    vec![
        (regex_escape(dir), "[WORK]"),
        (r"wimpatch-\d+".into(), "wimpatch-[UID]"),
        // A site's image folder carries the import time and pid.
        (r"img-\d+-\d+-\d+".into(), "img-[ID]"),
        // A runner is named pid@host#start.
        (r"\b\d+@[^\s\x22#]+#\d+".into(), "[PID]@[HOST]#[START]"),
        (r"\b[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\b".into(), "[GUID]"),
        (r"\b[0-9a-f]{32}\b".into(), "[GUID]"),
        (r"\b[0-9a-f]{64}\b".into(), "[SHA256]"),
        (r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?".into(), "[TIME]"),
        (r"\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}(:\d{2})?( [AP]M)?".into(), "[TIME]"),
        (r"\b\d+\.\d+ s\b".into(), "[SECS] s"),
        (r#""seconds": [\d.e-]+"#.into(), r#""seconds": "[SECS]""#),
        // Sizes of written WIMs and the percentages and counts derived from them.
        (r"[\d,]+ bytes( \([\d.]+ [KMGT]iB\))?".into(), "[SIZE]"),
        (
            r#""(size|size_before|size_after|dest_size_before|dest_size_after|total_bytes|bytes_sent|signature_bytes|full_size|percent_sent|delta_bytes|copied_bytes|literal_bytes|new_len)": [\d.e+-]+"#
                .into(),
            r#""$1": "[SIZE]""#,
        ),
        (r"\b\d{1,3}(,\d{3})+\b".into(), "[N]"),
        (r#""target_file_time": \d+"#.into(), r#""target_file_time": "[TIME]""#),
        (r"Target time    : \d+".into(), "Target time    : [TIME]"),
    ]
}

fn regex_escape(s: &str) -> String {
    s.chars().fold(String::new(), |mut out, c| {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
        out
    })
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn snapshots_of_the_image_verbs() {
    let work = Work::new();
    std::fs::create_dir(work.path("tmp")).unwrap();
    let wim = three_image_wim(&work, "three.wim", 2, 1024, "lzx");
    snap(&work, "info", &["info", s(&wim)]);
    snap(&work, "info.json", &["info", s(&wim), "--json"]);
    snap(&work, "verify", &["verify", s(&wim)]);
    snap(&work, "verify.json", &["verify", s(&wim), "--json"]);
    let dest = work.path("dest.wim");
    snap(&work, "export-image", &["export-image", "--source", s(&wim), "--index", "2", "--dest", s(&dest)]);
    snap(
        &work,
        "export-image.json",
        &["export-image", "--source", s(&wim), "--index", "3", "--dest", s(&dest), "--json"],
    );
    snap(&work, "delete-image", &["delete-image", "--image", s(&dest), "--index", "1"]);
    let copy = work.path("copy.wim");
    std::fs::copy(&wim, &copy).unwrap();
    snap(&work, "delete-image.json", &["delete-image", "--image", s(&copy), "--index", "1", "--json"]);
    snap(&work, "optimize", &["optimize", "--image", s(&dest)]);
    snap(&work, "optimize.json", &["optimize", "--image", s(&copy), "--json"]);
    let one = work.path("one.wim");
    snap(&work, "reduce", &["reduce", "--image", s(&wim), "--keep", "2", "--dest", s(&one)]);
    snap(&work, "reduce.json", &["reduce", "--image", s(&copy), "--keep", "1", "--json"]);
    // Failures: text on stderr, one JSON document on stdout.
    snap(&work, "error-no-such-image.json", &["delete-image", "--image", s(&wim), "--index", "7", "--json"]);
    snap(&work, "error-missing-wim.json", &["info", s(&work.path("missing.wim")), "--json"]);
    snap(&work, "error-usage.json", &["info", "--json"]);
    snap(
        &work,
        "error-destination-exists.json",
        &["reduce", "--image", s(&wim), "--keep", "1", "--dest", s(&one), "--json"],
    );
}

#[test]
fn snapshots_of_the_servicing_and_package_verbs() {
    let work = Work::new();
    std::fs::create_dir(work.path("tmp")).unwrap();
    let all = work.path("packages");
    write_all(&all, &Profile::win10_amd64()).expect("catalogue");
    let (kb1, kb2, exe) = (all.join(KB1), all.join(KB2), all.join(EXE));
    snap(&work, "package-info", &["package", "info", s(&kb1)]);
    snap(&work, "package-info.json", &["package", "info", s(&kb1), "--json"]);
    snap(&work, "package-info-unsupported", &["package", "info", s(&exe)]);
    snap(&work, "package-extract", &["package", "extract", s(&kb1), "--dest", s(&work.path("x1"))]);
    snap(&work, "package-extract.json", &["package", "extract", s(&kb2), "--dest", s(&work.path("x2")), "--json"]);

    let wim = fixture_wim(&work, "win10", "win10.wim");
    let logs = work.path("logs");
    let image = |verb: &str, rest: &[&str]| -> Vec<String> {
        let mut v = image_args(verb, &wim, "1", rest);
        v.extend(["--no-progress".to_owned()]);
        v
    };
    let snap_owned = |name: &str, args: Vec<String>| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        snap(&work, name, &refs)
    };
    snap_owned(
        "add-package-dry-run",
        image("add-package", &["--package-path", s(&kb1), "--dry-run", "--log-dir", s(&logs)]),
    );
    snap_owned("add-package", image("add-package", &["--package-path", s(&kb1), "--log-dir", s(&logs)]));
    snap_owned(
        "add-package.json",
        image(
            "add-package",
            &["--package-path", s(&kb2), s(&exe), "--continue-on-error", "--log-dir", s(&logs), "--json"],
        ),
    );
    snap_owned(
        "add-package-already-installed.json",
        image("add-package", &["--package-path", s(&kb2), "--log-dir", s(&logs), "--json"]),
    );
    snap_owned("get-packages", image("get-packages", &[]));
    snap_owned("get-packages.json", image("get-packages", &["--json"]));
    snap_owned("cleanup-image-analyze", image("cleanup-image", &["--analyze-component-store"]));
    snap_owned("cleanup-image-analyze.json", image("cleanup-image", &["--analyze-component-store", "--json"]));
    snap_owned("cleanup-image", image("cleanup-image", &["--start-component-cleanup", "--log-dir", s(&logs)]));
    snap_owned(
        "cleanup-image.json",
        image("cleanup-image", &["--start-component-cleanup", "--log-dir", s(&logs), "--json"]),
    );
    let single = work.path("single.wim");
    run_ok(&["reduce", "--image", s(&wim), "--keep", "1", "--dest", s(&single)]);
    let kb3 = all.join("Windows10.0-KB5000003-x64.cab");
    snap(
        &work,
        "service.json",
        &[
            "service",
            "--image",
            s(&single),
            "--package-path",
            s(&kb3),
            "--remove-superseded",
            "--log-dir",
            s(&logs),
            "--json",
            "--no-progress",
        ],
    );
}

#[test]
fn snapshots_of_the_delta_verbs() {
    let work = Work::new();
    std::fs::create_dir(work.path("tmp")).unwrap();
    let (old, new) = (work.path("old.bin"), work.path("new.bin"));
    let base = noise(7, 4096);
    let mut changed = base.clone();
    changed[100..200].copy_from_slice(&noise(8, 100));
    std::fs::write(&old, &base).unwrap();
    std::fs::write(&new, &changed).unwrap();
    let delta = work.path("forward.delta");
    snap(&work, "delta-create", &["delta", "create", "--source", s(&old), "--target", s(&new), "--out", s(&delta)]);
    snap(&work, "delta-info", &["delta", "info", s(&delta)]);
    snap(&work, "delta-info.json", &["delta", "info", s(&delta), "--json"]);
    snap(
        &work,
        "delta-apply.json",
        &["delta", "apply", s(&delta), "--source", s(&old), "--out", s(&work.path("out.bin")), "--json"],
    );
    snap(
        &work,
        "delta-reverse",
        &["delta", "reverse", s(&delta), "--source", s(&old), "--out", s(&work.path("r.delta"))],
    );
}

/// The site verbs' output is the same whatever the database: both backends match one set of
/// snapshots.
fn snapshots_of_the_site_verbs(backend: crate::site::Backend) {
    let work = Work::new();
    std::fs::create_dir(work.path("tmp")).unwrap();
    let (_all, updates) = crate::site::update_source(&work);
    let site = work.path("site");
    let site_args = |rest: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = vec!["site".into(), "--site".into(), s(&site).into()];
        v.extend(rest.iter().map(|r| r.to_string()));
        v
    };
    let snap_site = |name: &str, rest: &[&str]| {
        let args = site_args(rest);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        snap(&work, name, &refs)
    };
    let init = backend.init_args();
    let mut init_args = vec!["init"];
    init_args.extend(init.iter().map(String::as_str));
    snap_site("site-init", &init_args);
    snap_site("site-catalog-sync.json", &["catalog", "sync", "--from", s(&updates), "--json"]);
    snap_site("site-catalog-list", &["catalog", "list"]);
    let wim = fixture_wim(&work, "win10", "win10.wim");
    snap_site("site-image-import", &["image", "import", s(&wim), "--single-index", "--index", "2"]);
    snap_site("site-image-list", &["image", "list"]);
    snap_site("site-image-list.json", &["image", "list", "--json"]);
    snap_site("site-updates", &["updates", "--image-id", "1"]);
    snap_site("site-dp-add", &["dp", "add", "dp-a", "--path", s(&work.path("dp-a"))]);
    snap_site("site-dp-list", &["dp", "list"]);
    snap_site(
        "site-schedule",
        &[
            "schedule",
            "--image-id",
            "1",
            "--updates",
            "all-applicable",
            "--now",
            "--continue-on-error",
            "--include-not-supported",
        ],
    );
    snap_site("site-tick.json", &["tick", "--json"]);
    snap_site("site-image-show", &["image", "show", "1"]);
    snap_site("site-image-show.json", &["image", "show", "1", "--json"]);
    snap_site("site-distribute", &["distribute", "--image-id", "1"]);
    snap_site("site-cancel-nothing.json", &["cancel", "--image-id", "1", "--json"]);
}

on_both_backends!(snapshots_of_the_site_verbs);

/// Every command path the CLI offers, from `wimpatch help`-style listings of `--help`.
fn command_paths(prefix: &[String], out: &mut Vec<Vec<String>>) {
    out.push(prefix.to_vec());
    let mut args: Vec<String> = prefix.to_vec();
    args.push("--help".into());
    let help = run_owned(&args);
    let text = String::from_utf8_lossy(&help.stdout).into_owned();
    let Some(commands) = text.split("Commands:\n").nth(1) else { return };
    for line in commands.lines().take_while(|l| l.starts_with("  ")) {
        let name = line.split_whitespace().next().unwrap_or_default();
        if name.is_empty() || name == "help" || !line.starts_with("  ") || line.starts_with("   ") {
            continue;
        }
        let mut p = prefix.to_vec();
        p.push(name.to_owned());
        command_paths(&p, out);
    }
}

#[test]
fn snapshots_of_the_help_of_every_command() {
    let work = Work::new();
    let mut paths = Vec::new();
    command_paths(&[], &mut paths);
    assert!(paths.len() > 30, "{paths:?}");
    for path in paths {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let name = if path.is_empty() { "help".to_owned() } else { format!("help-{}", path.join("-")) };
        snap(&work, &name, &args);
    }
}

/// `package info --json` of every real Microsoft package in the test data: what the package model
/// reports for them is pinned, so a change to the model or the reader that alters a real package's
/// report (issue 14: "the real packages produce the same reports as before") is a reviewed change.
#[test]
fn snapshots_of_package_info_on_every_real_package() {
    let work = Work::new();
    for name in [
        "Windows6.1-KB2465285-x64.msu",
        "Windows6.1-KB2465285-x86.msu",
        "Windows6.1-KB2584475-x64.msu",
        "Windows6.1-KB2584475-x86.msu",
        "Windows6.x-HyperVIntegrationServices-x64.cab",
        "Windows8.1-KB2938772-x64.cab",
    ] {
        let real = real_or_skip!(name, "snapshots_of_package_info_on_every_real_package");
        // A copy under the work folder, so the report's paths redact to [WORK].
        let copy = work.path(name);
        std::fs::copy(&real, &copy).unwrap();
        snap(&work, &format!("package-info-real-{name}"), &["package", "info", "--json", s(&copy)]);
    }
}
