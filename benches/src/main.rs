//! `wimpatch-bench`: times wimpatch verbs against wimlib-imagex doing the same job on the same input,
//! in the same run, and reports the ratio (median of several runs). First slice of the benchmark
//! harness; package-application scenarios join it when those verbs exist.
//!
//! Usage: `wimpatch-bench [--quick] [--runs N] [--size tiny|small|large] [--package-mb N] [--packages-only]
//! [--no-capture-baseline] [--registry-values N] [--only TEXT]` (`--only`: run just the scenarios whose
//! name contains TEXT; `--only redistribution` runs just the redistribution of a month's update to an
//! rsync DP; `--only delta` runs just the delta pairs, without generating the image fixtures;
//! `--only hydration` runs just the PSFX hydration of a ForwardOnly LCU, `--size large` only). Writes
//! a Markdown table to stdout and `target/bench/results.json`.

#![forbid(unsafe_code)]

mod apply;
mod delta;
mod hydration;
mod redistribute;
mod registry;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use fixtures::profile::{Profile, Size};
use servicing::wim::Compression;

#[derive(serde::Serialize)]
struct Row {
    name: String,
    baseline: String,
    median_s: f64,
    min_s: f64,
    max_s: f64,
    baseline_median_s: f64,
    ratio: f64,
    peak_rss_mib: Option<f64>,
    baseline_peak_rss_mib: Option<f64>,
    /// For throughput scenarios: MB/s of wimpatch and of the baseline over the same bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    throughput_mb_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    baseline_throughput_mb_s: Option<f64>,
}

#[derive(serde::Serialize)]
struct Growth {
    what: String,
    files: u64,
    files_x2: u64,
    median_s: f64,
    median_x2_s: f64,
    change: f64,
}

#[derive(serde::Serialize)]
struct Results {
    size: String,
    input_bytes: u64,
    runs: usize,
    scenarios: Vec<Row>,
    growth: Vec<Growth>,
    #[serde(skip_serializing_if = "Option::is_none")]
    redistribution: Option<redistribute::Redistribution>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    deltas: Vec<delta::DeltaRow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hydration: Option<HydrationFigures>,
}

/// What the PSFX hydration scenario's LCU holds (its times are in its row).
#[derive(serde::Serialize)]
struct HydrationFigures {
    files: usize,
    components: usize,
    hydrated_bytes: u64,
    forward_delta_bytes: u64,
    /// Seconds the inputs took to generate (once; cached).
    generation_s: f64,
}

/// The start of the PSFX hydration scenario's name (what `--only` is matched against before its
/// inputs, which take minutes to generate, are made).
const HYDRATION_SCENARIO: &str = "psfx hydration: add-package ForwardOnly LCU";

/// The name `--only` is matched against to select the delta pairs.
const DELTA_SECTION: &str = "deltas: delta create/apply";

pub(crate) fn bin_dir() -> PathBuf {
    std::env::current_exe().ok().and_then(|p| p.parent().map(Path::to_path_buf)).unwrap_or_else(|| PathBuf::from("."))
}

/// Runs `cmd` once, after `prepare`; returns seconds and, when `/usr/bin/time` exists, the peak RSS in
/// MiB. Panics with the command's stderr on failure.
fn time_once(prepare: &dyn Fn(), cmd: &mut dyn FnMut() -> Command, rss_file: &Path) -> (f64, Option<f64>) {
    prepare();
    // The preparation (a 1.2 GB image copy for the large scenarios) is written back before the
    // clock starts, so neither side pays for the harness's own writes.
    let _ = Command::new("sync").status();
    let inner = cmd();
    let gnu_time = Path::new("/usr/bin/time");
    let mut c = if gnu_time.exists() {
        let mut w = Command::new(gnu_time);
        w.arg("-f").arg("%M").arg("-o").arg(rss_file).arg(inner.get_program()).args(inner.get_args());
        for (k, v) in inner.get_envs() {
            if let Some(v) = v {
                w.env(k, v);
            }
        }
        w
    } else {
        inner
    };
    let t = Instant::now();
    let out = c.output().expect("spawn benchmark command");
    let s = t.elapsed().as_secs_f64();
    assert!(out.status.success(), "{:?} failed: {}", c, String::from_utf8_lossy(&out.stderr));
    let rss = std::fs::read_to_string(rss_file)
        .ok()
        .and_then(|t| t.lines().last().and_then(|l| l.trim().parse::<f64>().ok()))
        .map(|kib| kib / 1024.0);
    let _ = std::fs::remove_file(rss_file);
    (s, rss)
}

fn max_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

fn stats(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

struct Scenario<'a> {
    name: String,
    baseline: String,
    /// Bytes processed, for a MB/s column.
    bytes: Option<u64>,
    prepare: Box<dyn Fn() + 'a>,
    ours: Box<dyn FnMut() -> Command + 'a>,
    theirs: Box<dyn FnMut() -> Command + 'a>,
}

/// The command line, as `--help` prints it.
const USAGE: &str = "usage: wimpatch-bench [--quick] [--runs N] [--size tiny|small|large] [--package-mb N] \
[--packages-only] [--no-capture-baseline] [--registry-values N] [--only TEXT]";

/// Checks the command line: `--help` prints the usage; an unknown flag or a flag without its value is
/// refused (exit 2) instead of being ignored, which ran every scenario for a mistyped `--help`.
fn check_args(args: &[String]) {
    const SWITCHES: [&str; 3] = ["--quick", "--packages-only", "--no-capture-baseline"];
    const VALUED: [&str; 5] = ["--runs", "--size", "--package-mb", "--registry-values", "--only"];
    let mut rest = args.iter();
    while let Some(a) = rest.next() {
        if a == "--help" || a == "-h" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        if SWITCHES.contains(&a.as_str()) {
            continue;
        }
        if VALUED.contains(&a.as_str()) && rest.next().is_some() {
            continue;
        }
        eprintln!("wimpatch-bench: {a}: unknown flag or missing value\n{USAGE}");
        std::process::exit(2);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    check_args(&args);
    let quick = args.iter().any(|a| a == "--quick");
    let get = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let runs: usize = get("--runs").and_then(|v| v.parse().ok()).unwrap_or(if quick { 3 } else { 5 });
    let size = get("--size").and_then(|s| Size::by_name(&s)).unwrap_or(if quick { Size::Tiny } else { Size::Small });

    let root = PathBuf::from("target/bench");
    let cache = root.join("cache");
    std::fs::create_dir_all(&cache).expect("create target/bench/cache");
    let wimpatch = bin_dir().join("wimpatch");
    let work = root.join("work");
    std::fs::create_dir_all(&work).expect("create work dir");
    let only = get("--only");
    let deltas_wanted = only.as_deref().is_none_or(|o| DELTA_SECTION.contains(o));
    if deltas_wanted && only.is_some() {
        // `--only delta`: the delta pairs alone, without generating the image fixtures.
        let deltas = delta::measure(&work, &cache, &wimpatch, runs);
        delta::print(&deltas);
        let json = root.join("results.json");
        let doc = serde_json::json!({ "runs": runs, "deltas": deltas });
        std::fs::write(&json, serde_json::to_string_pretty(&doc).expect("serialize")).expect("write results.json");
        eprintln!("wrote {}", json.display());
        return;
    }
    let src = cache.join(format!("win81-{}.wim", size.name()));
    let packages_only = args.iter().any(|a| a == "--packages-only");
    if !src.exists() && !packages_only {
        eprintln!("generating {} (cached for later runs)…", src.display());
        let profile = Profile::win81_amd64();
        fixtures::image::build_wim(&profile, size, &[], Compression::Lzx, &src, &cache)
            .expect("generate fixture image");
    }
    let input_bytes = std::fs::metadata(&src).map(|m| m.len()).unwrap_or(0);
    let out_a = work.join("ours.wim");
    let out_b = work.join("theirs.wim");
    let copy = work.join("copy.wim");
    let s = |p: &Path| p.to_str().expect("utf-8 path").to_string();
    let clean = || {
        let _ = std::fs::remove_file(&out_a);
        let _ = std::fs::remove_file(&out_b);
    };
    let wp = |args: Vec<String>| {
        let mut c = Command::new(&wimpatch);
        c.args(args).env("WIMPATCH_NO_PROGRESS", "1");
        c
    };
    let ix = |args: Vec<String>| {
        let mut c = Command::new("wimlib-imagex");
        c.args(args);
        c
    };

    // Package scenarios (a Windows 10-like one-edition image and a ~20 MB cumulative update).
    let package_mb: u64 = get("--package-mb").and_then(|v| v.parse().ok()).unwrap_or(if quick { 4 } else { 20 });
    let inputs = apply::prepare(&cache, size, package_mb << 20);
    let target = work.join("apply.wim");
    let logs = work.join("logs");
    let restore = |from: &Path| {
        let _ = std::fs::remove_file(&target);
        std::fs::copy(from, &target).expect("copy image");
    };
    let add_ours = || {
        wp(vec![
            "add-package".into(),
            "--image".into(),
            s(&target),
            "--index".into(),
            "1".into(),
            "--package-path".into(),
            s(&inputs.package),
            "--log-dir".into(),
            s(&logs),
            "--scratch-dir".into(),
            s(&work),
        ])
    };
    let add_theirs = || {
        let mut c = Command::new("sh");
        c.arg("-c").arg(format!(
            "wimlib-imagex update '{}' 1 < '{}' >/dev/null",
            target.display(),
            inputs.update_commands.display()
        ));
        c
    };
    let exported = work.join("floor-export.wim");
    let payload_files: Vec<PathBuf> = apply::walk(&inputs.package_dir)
        .into_iter()
        .filter(|p| p.strip_prefix(&inputs.package_dir).map(|r| r.components().count() > 1).unwrap_or(false))
        .collect();
    // The registry scenario's inputs (declared before the scenarios that borrow them).
    let registry_values: usize =
        get("--registry-values").and_then(|v| v.parse().ok()).unwrap_or(if quick { 2_000 } else { 20_000 });
    let reg = registry::prepare(&cache, &inputs.image, size, registry_values);
    let reg_dir = work.join("registry-image");
    let reg_software = reg_dir.join("Windows/System32/config/SOFTWARE");
    // PSFX hydration: only the large image has enough filler files for the issue's 2,000 files and
    // 200 MB.
    let hydration_wanted = only.as_deref().is_none_or(|o| HYDRATION_SCENARIO.contains(o));
    let hyd = (hydration_wanted && size == Size::Large)
        .then(|| hydration::prepare(&cache, &inputs.image, size, &cache.join(format!("hives-{}", size.name()))));
    if hydration_wanted && hyd.is_none() {
        eprintln!("psfx hydration: runs with --size large only (the smaller images have too few files)");
    }
    let mut scenarios = vec![
        Scenario {
            name: "export-image (lzx, same compression)".into(),
            baseline: "wimlib-imagex export".into(),
            bytes: None,
            prepare: Box::new(clean),
            ours: Box::new(|| {
                wp(vec![
                    "export-image".into(),
                    "--source".into(),
                    s(&src),
                    "--index".into(),
                    "2".into(),
                    "--dest".into(),
                    s(&out_a),
                ])
            }),
            theirs: Box::new(|| ix(vec!["export".into(), s(&src), "2".into(), s(&out_b)])),
        },
        Scenario {
            name: "export-image --compress xpress".into(),
            baseline: "wimlib-imagex export --compress=xpress".into(),
            bytes: None,
            prepare: Box::new(clean),
            ours: Box::new(|| {
                wp(vec![
                    "export-image".into(),
                    "--source".into(),
                    s(&src),
                    "--index".into(),
                    "2".into(),
                    "--dest".into(),
                    s(&out_a),
                    "--compress".into(),
                    "xpress".into(),
                ])
            }),
            theirs: Box::new(|| ix(vec!["export".into(), s(&src), "2".into(), s(&out_b), "--compress=xpress".into()])),
        },
        Scenario {
            name: "reduce --keep 2 --dest".into(),
            baseline: "wimlib-imagex export (one image)".into(),
            bytes: None,
            prepare: Box::new(clean),
            ours: Box::new(|| {
                wp(vec![
                    "reduce".into(),
                    "--image".into(),
                    s(&src),
                    "--keep".into(),
                    "2".into(),
                    "--dest".into(),
                    s(&out_a),
                ])
            }),
            theirs: Box::new(|| ix(vec!["export".into(), s(&src), "2".into(), s(&out_b)])),
        },
        Scenario {
            name: "optimize".into(),
            baseline: "wimlib-imagex optimize".into(),
            bytes: None,
            prepare: Box::new(|| {
                std::fs::copy(&src, &copy).expect("copy input");
            }),
            ours: Box::new(|| wp(vec!["optimize".into(), "--image".into(), s(&copy)])),
            theirs: Box::new(|| ix(vec!["optimize".into(), s(&copy)])),
        },
    ];

    if packages_only {
        scenarios.clear();
    }
    scenarios.push(Scenario {
        name: format!("add-package {package_mb} MB LCU (no mount)"),
        baseline: "wimlib-imagex update (same files: package + 2 hives)".into(),
        bytes: None,
        prepare: Box::new(|| restore(&inputs.image)),
        ours: Box::new(add_ours),
        theirs: Box::new(add_theirs),
    });
    scenarios.push(Scenario {
        name: format!("add-package {package_mb} MB LCU, image with 2x files"),
        baseline: "wimlib-imagex update (same files: package + 2 hives)".into(),
        bytes: None,
        prepare: Box::new(|| restore(&inputs.image_x2)),
        ours: Box::new(add_ours),
        theirs: Box::new(add_theirs),
    });
    scenarios.push(Scenario {
        name: format!("service --remove-superseded ({package_mb} MB LCU)"),
        baseline: "floors: wimlib-imagex update (same files) + wimlib-imagex export".into(),
        bytes: None,
        prepare: Box::new(|| {
            restore(&inputs.image);
            let _ = std::fs::remove_file(&exported);
        }),
        ours: Box::new(|| {
            wp(vec![
                "service".into(),
                "--image".into(),
                s(&target),
                "--package-path".into(),
                s(&inputs.package),
                "--remove-superseded".into(),
                "--log-dir".into(),
                s(&logs),
                "--scratch-dir".into(),
                s(&work),
            ])
        }),
        theirs: Box::new(|| {
            let mut c = Command::new("sh");
            c.arg("-c").arg(format!(
                "wimlib-imagex update '{t}' 1 < '{c}' >/dev/null && wimlib-imagex export '{t}' 1 '{e}' >/dev/null",
                t = target.display(),
                c = inputs.update_commands.display(),
                e = exported.display()
            ));
            c
        }),
    });
    scenarios.push(Scenario {
        name: format!("package read+verify ({package_mb} MB payload)"),
        baseline: "sha256sum of the same payload files".into(),
        bytes: Some(inputs.payload_bytes),
        prepare: Box::new(|| {}),
        ours: Box::new(|| wp(vec!["package".into(), "info".into(), s(&inputs.package)])),
        theirs: Box::new(|| {
            let mut c = Command::new("sha256sum");
            c.args(&payload_files);
            c
        }),
    });

    // Component registry data: a package of many values on the image's hives, against
    // `hivexregedit --merge` of the same values into the same SOFTWARE hive (the floor; ours is the
    // whole add-package on a directory image holding those hives, so it includes reading and staging
    // the package too).
    scenarios.push(Scenario {
        name: format!("registry values via add-package --dir ({} values)", reg.values),
        baseline: "hivexregedit --merge of the same values (.reg) into the same SOFTWARE".into(),
        bytes: None,
        prepare: Box::new(|| {
            let _ = std::fs::remove_dir_all(&reg_dir);
            let ok = Command::new("cp").arg("-a").arg(&reg.template).arg(&reg_dir).status().expect("cp").success();
            assert!(ok, "copy the registry template");
        }),
        ours: Box::new(|| {
            wp(vec![
                "add-package".into(),
                "--dir".into(),
                s(&reg_dir),
                "--package-path".into(),
                s(&reg.package),
                "--log-dir".into(),
                s(&logs),
                "--scratch-dir".into(),
                s(&work),
            ])
        }),
        theirs: Box::new(|| {
            let mut c = Command::new("hivexregedit");
            c.arg("--merge").arg("--prefix").arg(r"HKEY_LOCAL_MACHINE\SOFTWARE").arg(&reg_software).arg(&reg.reg_file);
            c
        }),
    });
    if let Some(h) = &hyd {
        // Ours hydrates every file from its forward differential, checks it, makes its r\ and stages
        // f\ and r\ beside it; the floor adds only the hydrated files (projections hard-linked)
        // and the two hives.
        scenarios.push(Scenario {
            name: format!(
                "{HYDRATION_SCENARIO}, {} delta-encoded files ({:.0} MB hydrated)",
                h.files,
                h.hydrated_bytes as f64 / 1e6
            ),
            baseline: "wimlib-imagex update (the hydrated files + projections + 2 hives)".into(),
            bytes: Some(h.hydrated_bytes),
            prepare: Box::new(|| restore(&inputs.image)),
            ours: Box::new(|| {
                wp(vec![
                    "add-package".into(),
                    "--image".into(),
                    s(&target),
                    "--index".into(),
                    "1".into(),
                    "--package-path".into(),
                    s(&h.package),
                    "--log-dir".into(),
                    s(&logs),
                    "--scratch-dir".into(),
                    s(&work),
                ])
            }),
            theirs: Box::new(|| {
                let mut c = Command::new("sh");
                c.arg("-c").arg(format!(
                    "wimlib-imagex update '{}' 1 < '{}' >/dev/null",
                    target.display(),
                    h.update_commands.display()
                ));
                c
            }),
        });
    }
    // Redistribution of the month's update to a DP over rsync (its own figures: bytes and time).
    let redistribution = only
        .as_deref()
        .is_none_or(|o| "redistribution over rsync".contains(o))
        .then(|| redistribute::measure(&work, &wimpatch, &inputs.image, &inputs.package, runs));
    if let Some(only) = &only {
        scenarios.retain(|sc| sc.name.contains(only));
    }

    let mut rows = Vec::new();
    for sc in &mut scenarios {
        let mut ours = Vec::new();
        let mut theirs = Vec::new();
        let mut rss: Option<f64> = None;
        let mut baseline_rss: Option<f64> = None;
        let rss_file = work.join("rss.txt");
        for _ in 0..runs {
            // Alternate so page-cache warmth and machine noise hit both sides alike.
            let (t, r) = time_once(&*sc.prepare, &mut *sc.ours, &rss_file);
            ours.push(t);
            rss = max_opt(rss, r);
            let (t, r) = time_once(&*sc.prepare, &mut *sc.theirs, &rss_file);
            theirs.push(t);
            baseline_rss = max_opt(baseline_rss, r);
        }
        let (m, lo, hi) = stats(ours);
        let (bm, _, _) = stats(theirs);
        let mbps = |t: f64| sc.bytes.map(|b| b as f64 / 1e6 / t);
        rows.push(Row {
            throughput_mb_s: mbps(m),
            baseline_throughput_mb_s: mbps(bm),
            name: sc.name.clone(),
            baseline: sc.baseline.clone(),
            median_s: m,
            min_s: lo,
            max_s: hi,
            baseline_median_s: bm,
            ratio: m / bm,
            peak_rss_mib: rss,
            baseline_peak_rss_mib: baseline_rss,
        });
    }

    drop(scenarios);
    // Growth: the same add-package on an image with twice the files.
    let growth = {
        let one = rows.iter().find(|r| r.name.starts_with("add-package") && !r.name.contains("2x")).map(|r| r.median_s);
        let two = rows.iter().find(|r| r.name.contains("2x")).map(|r| r.median_s);
        match (one, two) {
            (Some(a), Some(b)) => vec![Growth {
                what: "add-package".into(),
                files: inputs.image_files,
                files_x2: inputs.image_files * 2,
                median_s: a,
                median_x2_s: b,
                change: b / a - 1.0,
            }],
            _ => Vec::new(),
        }
    };
    // The naive baseline, once (it is slow): extract the image, add the files, capture it again.
    if !args.iter().any(|a| a == "--no-capture-baseline") {
        restore(&inputs.image);
        let tree = work.join("naive-tree");
        let out = work.join("naive.wim");
        let script = format!(
            "rm -rf '{t}' '{o}' && wimlib-imagex apply '{w}' 1 '{t}' >/dev/null && cp -r '{p}'/. '{t}/Windows/WinSxS/' && wimlib-imagex capture '{t}' '{o}' naive --compress=lzx >/dev/null",
            t = tree.display(),
            o = out.display(),
            w = target.display(),
            p = inputs.package_dir.display()
        );
        let rss_file = work.join("rss.txt");
        let (t, r) = time_once(
            &|| {},
            &mut || {
                let mut c = Command::new("sh");
                c.arg("-c").arg(&script);
                c
            },
            &rss_file,
        );
        let _ = std::fs::remove_dir_all(&tree);
        let _ = std::fs::remove_file(&out);
        if let Some(ours) = rows.iter().find(|r| r.name.starts_with("add-package") && !r.name.contains("2x")) {
            let row = Row {
                name: ours.name.clone(),
                baseline: "extract image + add files + wimlib-imagex capture (1 run)".into(),
                median_s: ours.median_s,
                min_s: ours.min_s,
                max_s: ours.max_s,
                baseline_median_s: t,
                ratio: ours.median_s / t,
                peak_rss_mib: ours.peak_rss_mib,
                baseline_peak_rss_mib: r,
                throughput_mb_s: None,
                baseline_throughput_mb_s: None,
            };
            rows.push(row);
        }
    }

    println!("Input: {} ({} bytes, 3 editions), {} runs each, medians.", src.display(), input_bytes, runs);
    println!(
        "Package scenarios: {} ({} files), a {} MB cumulative update ({} bytes of payload).\n",
        inputs.image.display(),
        inputs.image_files,
        package_mb,
        inputs.payload_bytes
    );
    println!(
        "| scenario | wimpatch median (min–max) s | baseline | baseline median s | ratio | peak RSS MiB (baseline) |"
    );
    println!("|---|---|---|---|---|---|");
    let mib = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.1}"));
    for r in &rows {
        println!(
            "| {} | {:.3} ({:.3}–{:.3}) | {} | {:.3} | {:.2} | {} ({}) |",
            r.name,
            r.median_s,
            r.min_s,
            r.max_s,
            r.baseline,
            r.baseline_median_s,
            r.ratio,
            mib(r.peak_rss_mib),
            mib(r.baseline_peak_rss_mib)
        );
    }
    for r in &rows {
        if let (Some(a), Some(b)) = (r.throughput_mb_s, r.baseline_throughput_mb_s) {
            println!("\nThroughput, {}: wimpatch {a:.1} MB/s, {} {b:.1} MB/s.", r.name, r.baseline);
        }
    }
    for g in &growth {
        println!(
            "\nGrowth: {} took {:.3} s on {} files and {:.3} s on {} files: {:+.1}%.",
            g.what,
            g.median_s,
            g.files,
            g.median_x2_s,
            g.files_x2,
            g.change * 100.0
        );
    }
    if let Some(r) = &redistribution {
        println!(
            "\nRedistribution over rsync (loopback daemon; the DP holds month 1, the site sends month 2, a \
             --remove-superseded rewrite of {} bytes): wimpatch site distribute sent {} bytes ({:.1}% of \
             rsync --whole-file's {} bytes) in {:.3} s against {:.3} s: time ratio {:.2}.",
            r.image_bytes,
            r.bytes_sent,
            r.bytes_ratio * 100.0,
            r.baseline_bytes_sent,
            r.median_s,
            r.baseline_median_s,
            r.time_ratio
        );
    }
    let hydration = hyd.as_ref().map(|h| HydrationFigures {
        files: h.files,
        components: h.components,
        hydrated_bytes: h.hydrated_bytes,
        forward_delta_bytes: h.delta_bytes,
        generation_s: h.generation_s,
    });
    if let Some(h) = &hydration {
        println!(
            "\nPSFX hydration LCU (ForwardOnly): {} files of {} components, {} bytes hydrated from {} bytes of \
             forward differentials; generated once in {:.1} s (cached).",
            h.files, h.components, h.hydrated_bytes, h.forward_delta_bytes, h.generation_s
        );
    }
    let deltas = if deltas_wanted { delta::measure(&work, &cache, &wimpatch, runs) } else { Vec::new() };
    delta::print(&deltas);
    let results = Results {
        size: size.name().into(),
        input_bytes,
        runs,
        scenarios: rows,
        growth,
        redistribution,
        deltas,
        hydration,
    };
    let json = root.join("results.json");
    std::fs::write(&json, serde_json::to_string_pretty(&results).expect("serialize")).expect("write results.json");
    eprintln!("wrote {}", json.display());
}
