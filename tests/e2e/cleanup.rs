//! `cleanup-image` (StartComponentCleanup, ResetBase, AnalyzeComponentStore) and `service` on the
//! Windows 10-like fixture image after three monthly cumulative updates.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use fixtures::packages::{write_all, WrittenPackage};
use fixtures::profile::Profile;

use crate::util::*;

const MONTHS: [&str; 3] =
    ["Windows10.0-KB5000001-x64.cab", "Windows10.0-KB5000002-x64.cab", "Windows10.0-KB5000003-x64.cab"];

fn months(work: &Work) -> Vec<WrittenPackage> {
    let all = write_all(&work.path("packages"), &Profile::win10_amd64()).expect("catalogue");
    MONTHS.iter().map(|m| all.iter().find(|p| p.package.file_name == *m).expect("month").clone()).collect()
}

/// A one-edition Windows 10-like WIM with the three months applied one call each.
fn serviced(work: &Work) -> (PathBuf, Vec<WrittenPackage>) {
    let wim = fixture_wim(work, "win10", "win10.wim");
    run_ok(&["reduce", "--image", wim.to_str().unwrap(), "--keep", "1"]);
    let pkgs = months(work);
    for p in &pkgs {
        add_ok(&wim, &p.path);
    }
    (wim, pkgs)
}

fn add_ok(wim: &Path, pkg: &Path) {
    let out =
        run_owned(&image_args("add-package", wim, "1", &["--package-path", pkg.to_str().unwrap(), "--no-progress"]));
    assert!(out.status.success(), "{}", stderr(&out));
}

fn manifests(wim: &Path) -> BTreeSet<String> {
    imagex_dir(wim, 1)
        .into_iter()
        .filter_map(|l| l.strip_prefix("/Windows/WinSxS/Manifests/").map(|m| m.to_ascii_lowercase()))
        .filter(|m| m.ends_with(".manifest"))
        .collect()
}

/// `(arch, name, pkt, culture)` → versions, parsed from key forms (the name may contain `_`).
fn families(names: &BTreeSet<String>) -> BTreeMap<String, Vec<(Vec<u32>, String)>> {
    let mut out: BTreeMap<String, Vec<(Vec<u32>, String)>> = BTreeMap::new();
    for n in names {
        let stem = n.trim_end_matches(".manifest");
        let parts: Vec<&str> = stem.rsplitn(5, '_').collect();
        let version: Vec<u32> = parts[2].split('.').map(|v| v.parse().unwrap()).collect();
        let family = format!("{}|{}|{}", parts[4], parts[3], parts[1]);
        out.entry(family).or_default().push((version, stem.to_owned()));
    }
    out
}

fn packages(wim: &Path) -> serde_json::Value {
    run_json(&image_args("get-packages", wim, "1", &["--all", "--json"]))
}

fn analyze(wim: &Path) -> serde_json::Value {
    run_json(&image_args("cleanup-image", wim, "1", &["--analyze-component-store", "--json"]))
}

#[test]
fn start_component_cleanup_removes_exactly_the_superseded_versions_and_packages() {
    let work = Work::new();
    let (wim, pkgs) = serviced(&work);
    let before = manifests(&wim);
    let fams = families(&before);
    let mut expected_kept = BTreeSet::new();
    let mut expected_removed = BTreeSet::new();
    for versions in fams.values() {
        let mut v = versions.clone();
        v.sort();
        let (last, older) = v.split_last().unwrap();
        expected_kept.insert(format!("{}.manifest", last.1));
        expected_removed.extend(older.iter().map(|(_, k)| k.clone()));
    }
    assert!(
        expected_removed.len() >= 6,
        "three months should leave old kernel and NDIS versions: {expected_removed:?}"
    );
    let list = packages(&wim);
    let superseded: BTreeSet<String> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["state"] == "superseded")
        .map(|p| p["identity"].as_str().unwrap().to_owned())
        .collect();
    assert!(superseded.len() >= 3, "{superseded:?}");
    let a = analyze(&wim);
    assert_eq!(a["cleanup_recommended"], true);
    assert_eq!(a["reclaimable_packages"].as_u64().unwrap() as usize, superseded.len());

    // The text lists the removed component versions only with -v; the count always (issue 16 item 11).
    for verbose in [false, true] {
        let copy = work.path(&format!("copy-{verbose}.wim"));
        std::fs::copy(&wim, &copy).unwrap();
        let mut args = vec!["cleanup-image", "--image", copy.to_str().unwrap(), "--index", "1"];
        args.extend(["--start-component-cleanup", "--no-progress"]);
        if verbose {
            args.push("-v");
        }
        let text = run_ok(&args);
        let listed = text.lines().filter(|l| l.starts_with("removed component")).count();
        assert_eq!(listed, if verbose { expected_removed.len() } else { 0 }, "{text}");
        assert!(text.contains(&format!("{} component version(s)", expected_removed.len())), "{text}");
    }

    let out = run(&[
        "cleanup-image",
        "--image",
        wim.to_str().unwrap(),
        "--index",
        "1",
        "--start-component-cleanup",
        "--json",
        "--no-progress",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let removed: BTreeSet<String> =
        r["removed_components"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    assert_eq!(removed, expected_removed);
    let removed_pkgs: BTreeSet<String> =
        r["removed_packages"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    assert_eq!(removed_pkgs, superseded);

    // Folders and manifests: exactly the newest of each family remain.
    assert_eq!(manifests(&wim), expected_kept);
    let listing = imagex_dir(&wim, 1);
    for k in &expected_removed {
        assert!(!listing.iter().any(|l| l.to_ascii_lowercase() == format!("/windows/winsxs/{k}")), "{k} still there");
    }
    // Registry and package store: no Superseded package left; the latest month Installed.
    let list = packages(&wim);
    assert!(list.as_array().unwrap().iter().all(|p| p["state"] != "superseded"));
    let latest = pkgs[2].package.identity.clone().unwrap();
    assert!(list.as_array().unwrap().iter().any(|p| p["identity"] == latest.as_str() && p["state"] == "installed"));
    for s in &superseded {
        assert!(!listing.iter().any(|l| l.eq_ignore_ascii_case(&format!("/Windows/servicing/Packages/{s}.mum"))));
    }
    assert!(imagex_verifies(&wim));
    assert_eq!(analyze(&wim)["cleanup_recommended"], false);
}

#[test]
fn reset_base_makes_the_rest_permanent_and_records_the_date() {
    let work = Work::new();
    let (wim, _) = serviced(&work);
    let out = run(&[
        "cleanup-image",
        "--image",
        wim.to_str().unwrap(),
        "--index",
        "1",
        "--start-component-cleanup",
        "--reset-base",
        "--json",
        "--no-progress",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let list = packages(&wim);
    let states: BTreeSet<&str> = list.as_array().unwrap().iter().map(|p| p["state"].as_str().unwrap()).collect();
    assert_eq!(states, BTreeSet::from(["permanent"]), "{list}");
    assert!(list.as_array().unwrap().iter().all(|p| p["permanent"] == true));
    assert!(analyze(&wim)["last_cleanup"].as_str().is_some());
}

#[test]
fn analyze_component_store_matches_a_count_of_the_extracted_tree() {
    use std::os::unix::fs::MetadataExt;
    let work = Work::new();
    let (wim, _) = serviced(&work);
    let a = analyze(&wim);
    let dir = work.path("tree");
    std::fs::create_dir_all(&dir).unwrap();
    imagex(&["apply", wim.to_str().unwrap(), "1", dir.to_str().unwrap(), "--no-acls"]);
    let sxs = dir.join("Windows/WinSxS");
    let (mut explorer, mut actual) = (0u64, 0u64);
    let mut seen = BTreeSet::new();
    let mut stack = vec![sxs];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let m = std::fs::symlink_metadata(e.path()).unwrap();
            if m.is_dir() {
                stack.push(e.path());
            } else if m.is_file() {
                explorer += m.len();
                if seen.insert(m.ino()) {
                    actual += m.len();
                }
            }
        }
    }
    assert_eq!(a["explorer_size"].as_u64().unwrap(), explorer);
    assert_eq!(a["actual_size"].as_u64().unwrap(), actual);
    assert!(a["shared_with_windows"].as_u64().unwrap() > 0);
}

#[test]
fn pending_operations_are_refused_and_the_image_is_unchanged() {
    let work = Work::new();
    let (wim, _) = serviced(&work);
    let pending = work.path("pending.xml");
    std::fs::write(&pending, "<PendingTransaction/>").unwrap();
    imagex(&[
        "update",
        wim.to_str().unwrap(),
        "1",
        &format!("--command=add {} /Windows/WinSxS/pending.xml", pending.display()),
    ]);
    let before = sha256(&wim);
    let out = run(&[
        "cleanup-image",
        "--image",
        wim.to_str().unwrap(),
        "--index",
        "1",
        "--start-component-cleanup",
        "--no-progress",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("pending operations"), "{}", stderr(&out));
    assert_eq!(sha256(&wim), before);
}

fn service_args<'a>(wim: &'a Path, pkgs: &'a [WrittenPackage], extra: &[&'a str]) -> Vec<String> {
    let mut a: Vec<String> =
        vec!["service".into(), "--image".into(), wim.to_str().unwrap().into(), "--no-progress".into(), "--json".into()];
    for p in pkgs {
        a.push("--package-path".into());
        a.push(p.path.to_str().unwrap().into());
    }
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

#[test]
fn service_remove_superseded_is_smaller_verifies_and_keeps_the_newest_payloads() {
    let work = Work::new();
    let a = fixture_wim(&work, "win10", "a.wim");
    run_ok(&["reduce", "--image", a.to_str().unwrap(), "--keep", "1"]);
    let b = work.path("b.wim");
    std::fs::copy(&a, &b).unwrap();
    let pkgs = months(&work);
    for (wim, extra) in [(&a, vec!["--remove-superseded"]), (&b, vec![])] {
        // Month by month, as a schedule would run.
        for p in &pkgs {
            let out = run_owned(&service_args(wim, std::slice::from_ref(p), &extra));
            assert!(out.status.success(), "{}", stderr(&out));
        }
    }
    let size = |p: &Path| std::fs::metadata(p).unwrap().len();
    assert!(size(&a) < size(&b), "with cleanup {} must be smaller than without {}", size(&a), size(&b));
    let exported = work.path("exported.wim");
    imagex(&["export", a.to_str().unwrap(), "1", exported.to_str().unwrap()]);
    assert!(size(&a) <= size(&exported) + size(&exported) / 100, "{} vs export {}", size(&a), size(&exported));
    assert!(imagex_verifies(&a));
    // Every projected file is a link of the newest WinSxS copy.
    let listing = imagex_dir(&a, 1);
    let sys32: Vec<&String> =
        listing.iter().filter(|l| l.starts_with("/Windows/System32/") && l.ends_with(".exe")).collect();
    assert!(!sys32.is_empty());
    let newest = pkgs[2].package.components.iter().map(servicing::cbs::key_form).collect::<Vec<_>>();
    let mut checked = 0;
    for f in sys32 {
        let detail = imagex(&["dir", a.to_str().unwrap(), "1", &format!("--path={f}"), "--detailed"]);
        let hash = detail.lines().find(|l| l.trim_start().starts_with("Hash")).unwrap().to_owned();
        let name = f.rsplit('/').next().unwrap();
        let twin = newest
            .iter()
            .map(|k| format!("/Windows/WinSxS/{k}/{name}"))
            .find(|p| listing.iter().any(|l| l.eq_ignore_ascii_case(p)));
        if let Some(twin) = twin {
            let d2 = imagex(&["dir", a.to_str().unwrap(), "1", &format!("--path={twin}"), "--detailed"]);
            assert!(d2.contains(&hash), "{f} is not the newest payload");
            checked += 1;
        }
    }
    assert!(checked > 0, "no projected file of the newest month was found");
}

#[test]
fn remove_superseded_on_a_multi_index_wim_fails_and_changes_nothing() {
    let work = Work::new();
    let wim = fixture_wim(&work, "win10", "multi.wim");
    let pkgs = months(&work);
    let before = sha256(&wim);
    let out = run_owned(&service_args(&wim, &pkgs[..1], &["--index", "1", "--remove-superseded"]));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("single-index") && err.contains("wimpatch reduce"), "{err}");
    assert_eq!(sha256(&wim), before);
}

#[test]
fn service_reduce_to_optimizes_a_multi_index_wim_in_one_run() {
    let work = Work::new();
    let wim = fixture_wim(&work, "win10", "multi.wim");
    let pkgs = months(&work);
    let out = run_owned(&service_args(&wim, &pkgs[2..], &["--reduce-to", "Windows 10 Pro", "--remove-superseded"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let info: serde_json::Value = serde_json::from_str(&run_ok(&["info", wim.to_str().unwrap(), "--json"])).unwrap();
    assert_eq!(info["header"]["image_count"], 1);
    assert_eq!(info["images"][0]["name"], "Windows 10 Pro");
    assert!(imagex_verifies(&wim));
    let list = packages(&wim);
    let latest = pkgs[2].package.identity.clone().unwrap();
    assert!(list.as_array().unwrap().iter().any(|p| p["identity"] == latest.as_str()));
    assert!(debris(wim.parent().unwrap(), "multi.wim").is_empty());
}

#[test]
fn sigkill_during_service_export_leaves_the_original_intact() {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let work = Work::new();
    let wim = fixture_wim(&work, "win10", "one.wim");
    run_ok(&["reduce", "--image", wim.to_str().unwrap(), "--keep", "1"]);
    let big = fixtures::packages::large_lcu(&Profile::win10_amd64(), 24 << 20).unwrap();
    let cab = work.path(&big.file_name);
    std::fs::write(&cab, &big.bytes).unwrap();
    let before = sha256(&wim);
    let args = [
        "service",
        "--image",
        wim.to_str().unwrap(),
        "--package-path",
        cab.to_str().unwrap(),
        "--remove-superseded",
        "--no-progress",
    ];
    let mut killed = 0;
    for _ in 0..3 {
        let mut child = wimpatch().args(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            if !debris(wim.parent().unwrap(), "one.wim").is_empty() {
                child.kill().unwrap();
                child.wait().unwrap();
                killed += 1;
                break;
            }
            assert!(Instant::now() < deadline, "the export never started");
            std::thread::sleep(Duration::from_micros(200));
        }
        if sha256(&wim) != before {
            break; // it finished before a kill landed
        }
        assert!(imagex_verifies(&wim));
    }
    assert!(killed > 0, "no kill landed during the export");
    assert!(imagex_verifies(&wim));
    // The next run cleans up and finishes.
    let out = run(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(debris(wim.parent().unwrap(), "one.wim").is_empty());
    assert!(imagex_verifies(&wim));
}
