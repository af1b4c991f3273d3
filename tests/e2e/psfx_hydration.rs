//! PSFX hydration (issue 13): monthly cumulative updates of the Windows 10-like fixture whose
//! changed files are shipped as differentials against the image's RTM files — `f\` forward deltas
//! with `r\` reverse deltas (Windows 10 shape) or forward only (Windows 11 `ForwardOnly`), and `n\`
//! null differentials for files without an RTM version. The deltas are made by the encoder from
//! the RTM files the fixture image really holds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fixtures::packages::updates::{self, Lcu};
use fixtures::packages::{cab_bytes, Compression};
use fixtures::profile::Profile;
use servicing::apply::inventory::parse_key_form;
use servicing::cbs::delta::{apply_pa30, create, CreateOptions, DeltaLimits};

use crate::util::*;

/// The shape of a synthetic PSFX update.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Shape {
    /// Windows 10: `f\` and `r\` for files with an RTM version.
    ForwardAndReverse,
    /// Windows 11: `f\` only.
    ForwardOnly,
    /// Windows 11 24H2: `f\` only, made by UpdateCompression (PA31).
    ForwardOnlyPa31,
}

/// A PSFX update: its cab, and what each payload must become (`<key-form>/<file>` → bytes).
pub(crate) struct Psfx {
    pub(crate) cab: Vec<u8>,
    /// The package, and its differentials (`<key-form>\f|r|n\<file>`, bytes) as the cab holds them.
    pub(crate) def: fixtures::packages::PackageDef,
    pub(crate) entries: Vec<(String, Vec<u8>)>,
    pub(crate) expected: BTreeMap<String, Vec<u8>>,
    /// The RTM bytes of each payload that has an RTM version.
    pub(crate) rtm: BTreeMap<String, Vec<u8>>,
    /// Payloads shipped as null differentials.
    pub(crate) null: usize,
}

/// A genuine Windows Server 2025 delta pair (`real-delta/pe-decode/<case>`) for the file `file` of
/// the profile's component `component` (`arch`): the image's RTM file is `base`, the update brings
/// `target` as `f\` = Microsoft's own `delta`.
pub(crate) struct GenuinePair {
    pub(crate) component: &'static str,
    pub(crate) arch: &'static str,
    pub(crate) file: &'static str,
    pub(crate) base: Vec<u8>,
    pub(crate) target: Vec<u8>,
    pub(crate) delta: Vec<u8>,
}

/// One file of image 1 (`None` when absent).
pub(crate) fn extract(wim: &Path, path: &str, work: &Work) -> Option<Vec<u8>> {
    let dest = work.path("x");
    let _ = std::fs::remove_dir_all(&dest);
    std::fs::create_dir_all(&dest).unwrap();
    let out = std::process::Command::new("wimlib-imagex")
        .args(["extract", wim.to_str().unwrap(), "1", path, &format!("--dest-dir={}", dest.display()), "--no-acls"])
        .output()
        .unwrap();
    out.status.success().then(|| std::fs::read(dest.join(path.rsplit('/').next().unwrap())).unwrap())
}

/// The image's installed component versions, by family: family text → key form.
pub(crate) fn installed(wim: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut versions: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for p in imagex_dir(wim, 1) {
        let Some(name) = p.strip_prefix("/Windows/WinSxS/Manifests/") else { continue };
        let Some(kf) = name.strip_suffix(".manifest").and_then(parse_key_form) else { continue };
        versions.entry(format!("{:?}", kf.family)).or_default().push((kf.version, kf.text));
    }
    // The newest version of each family.
    for (family, mut list) in versions {
        list.sort();
        out.insert(family, list.pop().unwrap().1);
    }
    out
}

/// The monthly LCU `kb` (revision `ubr`) of the win10 fixture profile, its payloads turned into
/// PSFX differentials against the RTM files of `rtm_image`.
fn psfx_update(kb: u32, ubr: u16, shape: Shape, rtm_image: &Path, work: &Work) -> Psfx {
    psfx_update_for(&Profile::win10_amd64(), kb, ubr, shape, rtm_image, &[], work)
}

/// The monthly LCU `kb` (revision `ubr`) of `profile`, its payloads turned into PSFX differentials
/// against the RTM files of `rtm_image`; the files of `genuine` become their `target` with
/// Microsoft's own forward delta.
pub(crate) fn psfx_update_for(
    profile: &Profile,
    kb: u32,
    ubr: u16,
    shape: Shape,
    rtm_image: &Path,
    genuine: &[GenuinePair],
    work: &Work,
) -> Psfx {
    let mut def = updates::cumulative_update(profile, &Lcu::monthly(kb, ubr)).unwrap();
    let mut genuine_deltas = BTreeMap::new();
    for c in raised_mut(&mut def) {
        for g in genuine.iter().filter(|g| c.identity.name == g.component) {
            if c.identity.processor_architecture.as_deref() != Some(g.arch) {
                continue;
            }
            let f = c.files.iter_mut().find(|f| f.name == g.file).expect("the genuine pair's file is raised");
            f.bytes = g.target.clone();
            genuine_deltas
                .insert(format!("{}/{}", servicing::cbs::key_form(&c.identity).to_lowercase(), g.file), &g.delta);
        }
    }
    let rtm_versions = installed(rtm_image);
    let limits = DeltaLimits::default();
    let options = match shape {
        Shape::ForwardOnlyPa31 => {
            CreateOptions { format: servicing::cbs::delta::DeltaFormat::Pa31, ..Default::default() }
        }
        _ => CreateOptions::default(),
    };
    let (mut expected, mut rtm, mut null) = (BTreeMap::new(), BTreeMap::new(), 0);
    let (mut members, mut entries) = (Vec::new(), Vec::new());
    for (name, bytes) in def.members() {
        let Some((kf, file)) = name.split_once('\\') else {
            members.push((name, bytes));
            continue;
        };
        let key = format!("{}/{file}", kf.to_lowercase());
        let family = parse_key_form(kf).map(|k| format!("{:?}", k.family)).unwrap();
        let base = rtm_versions
            .get(&family)
            .and_then(|old| extract(rtm_image, &format!("/Windows/WinSxS/{old}/{file}"), work));
        match base {
            Some(base) => {
                let forward = match genuine_deltas.get(&key) {
                    Some(delta) => delta.to_vec(),
                    None => create(&base, &bytes, &options, &limits).unwrap(),
                };
                entries.push((format!("{kf}\\f\\{file}"), forward));
                if shape == Shape::ForwardAndReverse {
                    let reverse = create(&bytes, &base, &options, &limits).unwrap();
                    entries.push((format!("{kf}\\r\\{file}"), reverse));
                }
                rtm.insert(key.clone(), base);
            }
            None => {
                entries.push((format!("{kf}\\n\\{file}"), create(&[], &bytes, &options, &limits).unwrap()));
                null += 1;
            }
        }
        expected.insert(key, bytes);
    }
    assert!(!rtm.is_empty(), "the fixture LCU changes files the image has");
    assert_eq!(genuine_deltas.len(), genuine.len(), "every genuine pair is in the update");
    members.extend(entries.iter().cloned());
    let cab = cab_bytes("psfx.cab", &members, Compression::MsZip).unwrap();
    Psfx { cab, def, entries, expected, rtm, null }
}

/// Writes `p` as `<name>.cab` in a folder of its own.
pub(crate) fn write(work: &Work, name: &str, p: &Psfx) -> PathBuf {
    let path = work.path(&format!("{name}.cab"));
    std::fs::write(&path, &p.cab).unwrap();
    path
}

pub(crate) fn add(wim: &Path, package: &Path, work: &Work) -> std::process::Output {
    let logs = work.path("logs");
    run_owned(&image_args(
        "add-package",
        wim,
        "1",
        &["--package-path", package.to_str().unwrap(), "--log-dir", logs.to_str().unwrap(), "--json"],
    ))
}

/// The WinSxS folder of `key` (`<key-form>/<file>`) and its file.
pub(crate) fn split(key: &str) -> (&str, &str) {
    key.split_once('/').unwrap()
}

/// Every payload of `p` is in WinSxS hydrated; with a forward differential, `f\` and `r\` are kept
/// beside it and `r\` leads back to the RTM bytes.
pub(crate) fn assert_hydrated(wim: &Path, p: &Psfx, work: &Work) {
    let limits = DeltaLimits::default();
    for (key, want) in &p.expected {
        let (kf, file) = split(key);
        let got = extract(wim, &format!("/Windows/WinSxS/{kf}/{file}"), work).expect("hydrated file");
        assert!(got == *want, "{key}: hydrated bytes differ");
        if let Some(rtm) = p.rtm.get(key) {
            assert!(extract(wim, &format!("/Windows/WinSxS/{kf}/f/{file}"), work).is_some(), "{key}: f\\ kept");
            let reverse = extract(wim, &format!("/Windows/WinSxS/{kf}/r/{file}"), work).expect("r\\ kept");
            assert!(apply_pa30(&got, &reverse, &limits).unwrap() == *rtm, "{key}: r\\ leads back to RTM");
        } else {
            assert!(extract(wim, &format!("/Windows/WinSxS/{kf}/n/{file}"), work).is_some(), "{key}: n\\ kept");
        }
    }
}

pub(crate) fn installed_ok(out: &std::process::Output) {
    assert!(out.status.success(), "add-package: {}", stderr(out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["packages"][0]["outcome"], "installed", "{r}");
}

#[test]
fn psfx_forward_and_reverse_then_forward_only_hydrate_against_rtm() {
    let work = Work::new();
    let rtm = fixture_wim(&work, "win10", "rtm.wim");
    let month1 = psfx_update(5_000_101, 1001, Shape::ForwardAndReverse, &rtm, &work);
    let month2 = psfx_update(5_000_102, 1002, Shape::ForwardOnly, &rtm, &work);
    assert!(month1.null > 0 || month1.rtm.len() == month1.expected.len());

    // `package info` reports the differentials, not a missing payload.
    let cab1 = write(&work, "month1", &month1);
    let info = run(&["package", "info", cab1.to_str().unwrap(), "--json"]);
    assert!(info.status.success(), "package info: {}", stderr(&info));
    let r: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    let statuses: Vec<(String, String)> = r["components"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["files"].as_array().unwrap().iter())
        .map(|f| (f["status"].as_str().unwrap().to_owned(), f["delta_format"].as_str().unwrap_or("").to_owned()))
        .collect();
    assert!(statuses.contains(&("differential".into(), "forward+reverse".into())), "{statuses:?}");

    // `package extract` writes the differentials as the package holds them.
    let dest = work.path("extracted");
    let out = run(&["package", "extract", cab1.to_str().unwrap(), "--dest", dest.to_str().unwrap()]);
    assert!(out.status.success(), "package extract: {}", stderr(&out));
    let written: Vec<String> =
        tree_snapshot(&dest).keys().map(|p| p.strip_prefix(&dest).unwrap().to_string_lossy().to_lowercase()).collect();
    for key in month1.rtm.keys() {
        let (kf, file) = split(key);
        let want = format!("{kf}/f/{file}").to_lowercase();
        assert!(written.iter().any(|w| w.ends_with(&want)), "{want} extracted: {written:?}");
    }

    // RTM → month 1 → month 2.
    let wim = work.path("serviced.wim");
    std::fs::copy(&rtm, &wim).unwrap();
    installed_ok(&add(&wim, &write(&work, "month1", &month1), &work));
    assert_hydrated(&wim, &month1, &work);
    installed_ok(&add(&wim, &write(&work, "month2", &month2), &work));
    // The ForwardOnly package shipped no r\: made by the servicer, it leads back to RTM.
    assert_hydrated(&wim, &month2, &work);
    assert!(imagex_verifies(&wim));

    // RTM → month 2 directly: the same payload bytes.
    let direct = work.path("direct.wim");
    std::fs::copy(&rtm, &direct).unwrap();
    installed_ok(&add(&direct, &write(&work, "month2", &month2), &work));
    for key in month2.expected.keys() {
        let (kf, file) = split(key);
        let path = format!("/Windows/WinSxS/{kf}/{file}");
        assert_eq!(extract(&wim, &path, &work), extract(&direct, &path, &work), "{key}");
    }
}

#[test]
fn reset_base_keeps_the_reverse_differentials_the_next_update_needs() {
    let work = Work::new();
    let rtm = fixture_wim(&work, "win10", "rtm.wim");
    let month1 = psfx_update(5_000_111, 1011, Shape::ForwardOnly, &rtm, &work);
    let month2 = psfx_update(5_000_112, 1012, Shape::ForwardOnly, &rtm, &work);
    let wim = work.path("serviced.wim");
    std::fs::copy(&rtm, &wim).unwrap();
    installed_ok(&add(&wim, &write(&work, "month1", &month1), &work));
    reset_base_keeps_reverse_differentials(&wim, &month1);
    // The superseded RTM versions are gone.
    let rtm_versions = installed(&rtm);
    let now = installed(&wim);
    for (family, old) in &rtm_versions {
        if month1
            .expected
            .keys()
            .any(|k| parse_key_form(split(k).0).is_some_and(|n| format!("{:?}", n.family) == *family))
        {
            assert_ne!(now.get(family), Some(old), "{old} superseded and removed");
        }
    }
    installed_ok(&add(&wim, &write(&work, "month2", &month2), &work));
    assert_hydrated(&wim, &month2, &work);
    assert!(imagex_verifies(&wim));
}

#[test]
fn psfx_with_a_corrupt_forward_differential_or_a_wrong_base_leaves_the_image_unchanged() {
    let work = Work::new();
    let rtm = fixture_wim(&work, "win10", "rtm.wim");

    // A base that differs from RTM: one file of the update is RTM with one byte patched (so its
    // forward differential copies from RTM), and the image's RTM copy of it was changed.
    let limits = DeltaLimits::default();
    let mut def = updates::cumulative_update(&Profile::win10_amd64(), &Lcu::monthly(5_000_121, 1021)).unwrap();
    let listing = imagex_dir(&rtm, 1);
    let rtm_versions = installed(&rtm);
    let mut chosen = None;
    'pick: for c in raised_mut(&mut def) {
        let kf = servicing::cbs::key_form(&c.identity);
        let Some(old) = rtm_versions.get(&format!("{:?}", parse_key_form(&kf).unwrap().family)) else { continue };
        for f in c.files.iter_mut() {
            let rtm_path = format!("/Windows/WinSxS/{old}/{}", f.name);
            if listing.iter().any(|p| p.eq_ignore_ascii_case(&rtm_path)) {
                let base = extract(&rtm, &rtm_path, &work).unwrap();
                let mut patched = base.clone();
                let mid = patched.len() / 2;
                patched[mid] ^= 0xff;
                f.bytes = patched;
                chosen = Some((kf, f.name.clone(), rtm_path, base));
                break 'pick;
            }
        }
    }
    let (kf, file, rtm_path, base) = chosen.expect("a raised component with an RTM file");
    let mut changed = base.clone();
    for b in changed.iter_mut().step_by(50) {
        *b ^= 0x21;
    }
    let planted = work.path("changed.bin");
    std::fs::write(&planted, &changed).unwrap();
    imagex(&["update", rtm.to_str().unwrap(), "1", &format!("--command=add {} {rtm_path}", planted.display())]);
    let before = sha256(&rtm);
    let members: Vec<(String, Vec<u8>)> = def
        .members()
        .into_iter()
        .map(|(name, bytes)| match name.split_once('\\') {
            Some((k, f)) if k.eq_ignore_ascii_case(&kf) && f.eq_ignore_ascii_case(&file) => {
                (format!("{k}\\f\\{f}"), create(&base, &bytes, &CreateOptions::default(), &limits).unwrap())
            }
            Some((k, f)) => (format!("{k}\\n\\{f}"), create(&[], &bytes, &CreateOptions::default(), &limits).unwrap()),
            None => (name, bytes),
        })
        .collect();
    let path = work.path("wrong-base.cab");
    std::fs::write(&path, cab_bytes("wrong-base.cab", &members, Compression::MsZip).unwrap()).unwrap();
    let out = add(&rtm, &path, &work);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(&format!("component {kf}")) && err.contains(&format!("file {file}")), "{err}");
    assert!(err.contains("not the version the differential was made against"), "{err}");
    assert_eq!(sha256(&rtm), before, "image byte-identical");

    // A corrupt forward differential.
    let good = psfx_update(5_000_122, 1022, Shape::ForwardAndReverse, &rtm, &work);
    let def = updates::cumulative_update(&Profile::win10_amd64(), &Lcu::monthly(5_000_122, 1022)).unwrap();
    let mut members = Vec::new();
    let mut corrupted = None;
    for (name, bytes) in def.members() {
        let Some((kf, file)) = name.split_once('\\') else {
            members.push((name, bytes));
            continue;
        };
        let key = format!("{}/{file}", kf.to_lowercase());
        match good.rtm.get(&key) {
            Some(base) => {
                let mut forward = create(base, &bytes, &CreateOptions::default(), &limits).unwrap();
                if corrupted.is_none() {
                    let at = forward.len() - 3;
                    forward[at] ^= 0x40;
                    corrupted = Some(file.to_owned());
                }
                members.push((format!("{kf}\\f\\{file}"), forward));
            }
            None => members
                .push((format!("{kf}\\n\\{file}"), create(&[], &bytes, &CreateOptions::default(), &limits).unwrap())),
        }
    }
    let corrupt = Psfx { cab: cab_bytes("corrupt.cab", &members, Compression::MsZip).unwrap(), ..good };
    let out = add(&rtm, &write(&work, "corrupt", &corrupt), &work);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let file = corrupted.unwrap();
    assert!(stderr(&out).contains(&file), "names {file}: {}", stderr(&out));
    assert_eq!(sha256(&rtm), before, "image byte-identical");
}

/// Sets `SideBySide\Configuration\<name>` = `value` (DWORD) in image 1's SOFTWARE hive.
fn set_sxs_configuration(wim: &Path, name: &str, value: u32, work: &Work) {
    let dir = work.path("hive");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    imagex(&[
        "extract",
        wim.to_str().unwrap(),
        "1",
        "/Windows/System32/config/SOFTWARE",
        &format!("--dest-dir={}", dir.display()),
        "--no-acls",
    ]);
    let hive = dir.join("SOFTWARE");
    {
        use servicing::hive::{Hive, Mode, Value};
        let mut h = Hive::open(&hive, Mode::Write).unwrap();
        let key = h.ensure_path(r"Microsoft\Windows\CurrentVersion\SideBySide\Configuration").unwrap();
        h.set_value(key, name, &Value::Dword(value)).unwrap();
        h.commit().unwrap();
    }
    imagex(&[
        "update",
        wim.to_str().unwrap(),
        "1",
        &format!("--command=add {} /Windows/System32/config/SOFTWARE", hive.display()),
    ]);
}

/// `cleanup-image /StartComponentCleanup /ResetBase` on image 1 succeeds and keeps the `r\` of every
/// payload of `p` that has an RTM version; returns the image's listing afterwards.
pub(crate) fn reset_base_keeps_reverse_differentials(wim: &Path, p: &Psfx) -> Vec<String> {
    let out = cleanup(wim, true);
    assert!(out.status.success(), "cleanup: {}", stderr(&out));
    let listing = imagex_dir(wim, 1);
    for key in p.rtm.keys() {
        let (kf, file) = split(key);
        let r = format!("/Windows/WinSxS/{kf}/r/{file}");
        assert!(listing.iter().any(|l| l.eq_ignore_ascii_case(&r)), "{r} kept by ResetBase");
    }
    listing
}

pub(crate) fn cleanup(wim: &Path, reset_base: bool) -> std::process::Output {
    let mut args = vec!["cleanup-image", "--image", wim.to_str().unwrap(), "--index", "1", "--start-component-cleanup"];
    if reset_base {
        args.push("--reset-base");
    }
    args.push("--json");
    run(&args)
}

#[test]
fn reset_base_is_refused_when_the_image_disables_it() {
    let work = Work::new();
    let wim = fixture_wim(&work, "win10", "rtm.wim");
    set_sxs_configuration(&wim, "DisableResetbase", 1, &work);
    let before = sha256(&wim);
    let out = cleanup(&wim, true);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("DisableResetbase"), "{}", stderr(&out));
    assert_eq!(sha256(&wim), before);
    // Without /ResetBase the cleanup runs.
    let out = cleanup(&wim, false);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// `SupersededActions = 0` keeps the superseded component versions through a plain
/// StartComponentCleanup (the updates stay uninstallable); 1 (or no value) removes them, and
/// /ResetBase removes them whatever the value says.
#[test]
fn superseded_actions_zero_keeps_superseded_versions_until_reset_base() {
    let work = Work::new();
    let rtm = fixture_wim(&work, "win10", "rtm.wim");
    let month1 = psfx_update(5_000_181, 1081, Shape::ForwardOnly, &rtm, &work);
    let serviced = work.path("serviced.wim");
    std::fs::copy(&rtm, &serviced).unwrap();
    installed_ok(&add(&serviced, &write(&work, "month1", &month1), &work));
    let removed = |out: &std::process::Output| -> Vec<String> {
        assert!(out.status.success(), "cleanup: {}", stderr(out));
        let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        r["removed_components"].as_array().unwrap().iter().map(|k| k.as_str().unwrap().to_owned()).collect()
    };

    let keep = work.path("keep.wim");
    std::fs::copy(&serviced, &keep).unwrap();
    set_sxs_configuration(&keep, "SupersededActions", 0, &work);
    assert_eq!(removed(&cleanup(&keep, false)), Vec::<String>::new());
    let rtm_kernel = installed(&rtm).into_values().find(|k| k.contains("os-kernel")).unwrap();
    assert!(imagex_dir(&keep, 1).iter().any(|p| p.ends_with(&format!("/WinSxS/{rtm_kernel}"))), "kept");
    let gone = removed(&cleanup(&keep, true));
    assert!(gone.contains(&rtm_kernel), "ResetBase removes {rtm_kernel}: {gone:?}");

    let act = work.path("act.wim");
    std::fs::copy(&serviced, &act).unwrap();
    set_sxs_configuration(&act, "SupersededActions", 1, &work);
    assert!(removed(&cleanup(&act, false)).contains(&rtm_kernel));
    assert!(removed(&cleanup(&serviced, false)).contains(&rtm_kernel), "no value: removed");
}

#[test]
fn service_remove_superseded_hydrates_month_after_month() {
    let work = Work::new();
    let rtm = fixture_wim(&work, "win10", "rtm.wim");
    let month1 = psfx_update(5_000_131, 1031, Shape::ForwardOnly, &rtm, &work);
    let month2 = psfx_update(5_000_132, 1032, Shape::ForwardOnly, &rtm, &work);
    let wim = work.path("serviced.wim");
    std::fs::copy(&rtm, &wim).unwrap();
    for (name, p, extra) in [("month1", &month1, &["--reduce-to", "1"][..]), ("month2", &month2, &[][..])] {
        let cab = write(&work, name, p);
        let mut args = vec!["service", "--image", wim.to_str().unwrap(), "--package-path", cab.to_str().unwrap()];
        args.extend_from_slice(&["--remove-superseded", "--json", "--no-progress"]);
        args.extend_from_slice(extra);
        let out = run(&args);
        assert!(out.status.success(), "service {name}: {}", stderr(&out));
        assert_hydrated(&wim, p, &work);
    }
    assert!(imagex_verifies(&wim));
}

#[test]
fn site_scheduled_run_applies_a_psfx_update() {
    let work = Work::new();
    let rtm = fixture_wim(&work, "win10", "rtm.wim");
    let month1 = psfx_update(5_000_141, 1041, Shape::ForwardAndReverse, &rtm, &work);
    let cab = work.path("Windows10.0-KB5000141-x64.cab");
    std::fs::write(&cab, &month1.cab).unwrap();
    let wim = site_scheduled_run(&rtm, &cab, "KB5000141", &work);
    assert_hydrated(&wim, &month1, &work);
}

/// A site whose catalog holds `update` and whose image is `rtm` (index 1) runs a scheduled update
/// with `kb` now (`--remove-superseded`); returns the serviced image after a successful run.
pub(crate) fn site_scheduled_run(rtm: &Path, update: &Path, kb: &str, work: &Work) -> PathBuf {
    let updates = work.path("updates");
    std::fs::create_dir_all(&updates).unwrap();
    std::fs::copy(update, updates.join(update.file_name().unwrap())).unwrap();
    let site = work.path("site");
    let site_args = |rest: &[&str]| {
        let mut v = vec!["site", "--site", site.to_str().unwrap()];
        v.extend_from_slice(rest);
        run_ok(&v)
    };
    site_args(&["init"]);
    site_args(&["catalog", "sync", "--from", updates.to_str().unwrap()]);
    site_args(&["image", "import", rtm.to_str().unwrap(), "--single-index", "--index", "1"]);
    site_args(&["schedule", "--image-id", "1", "--updates", kb, "--now", "--remove-superseded"]);
    site_args(&["tick"]);
    let show: serde_json::Value = serde_json::from_str(&site_args(&["image", "show", "1", "--json"])).unwrap();
    assert_eq!(show["scheduled_updates_status"], "successful", "{show}");
    PathBuf::from(show["wim"].as_str().unwrap())
}

/// The components a package raises, its sub-packages' included, to be edited.
pub(crate) fn raised_mut(def: &mut fixtures::packages::PackageDef) -> Vec<&mut fixtures::packages::PackageComponent> {
    let mut out = Vec::new();
    for u in &mut def.updates {
        match &mut u.change {
            fixtures::packages::Change::Raise(components) => out.extend(components.iter_mut()),
            fixtures::packages::Change::Package(sub) => out.extend(raised_mut(sub)),
            _ => {}
        }
    }
    out
}

#[test]
fn forward_only_update_with_its_differentials_in_a_psf_hydrates() {
    let work = Work::new();
    let rtm = fixture_wim(&work, "win10", "rtm.wim");
    let month1 = psfx_update(5_000_161, 1061, Shape::ForwardOnly, &rtm, &work);
    let stem = "Windows10.0-KB5000161-x64".to_owned();
    let p = fixtures::packages::psf_package_with(month1.def.clone(), stem.clone(), month1.entries.clone()).unwrap();
    let dir = work.path("updates");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{stem}.cab")), &p.cab).unwrap();
    std::fs::write(dir.join(format!("{stem}.psf")), &p.psf).unwrap();
    let wim = work.path("serviced.wim");
    std::fs::copy(&rtm, &wim).unwrap();
    installed_ok(&add(&wim, &dir, &work));
    assert_hydrated(&wim, &month1, &work);

    // A truncated .psf: refused naming it, the image unchanged.
    let again = work.path("again.wim");
    std::fs::copy(&rtm, &again).unwrap();
    let before = sha256(&again);
    std::fs::write(dir.join(format!("{stem}.psf")), &p.psf[..p.psf.len() / 2]).unwrap();
    let out = add(&again, &dir, &work);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains(".psf"), "{}", stderr(&out));
    assert_eq!(sha256(&again), before);
}

/// A checkpoint cumulative update (24H2): later updates are differentials against the checkpoint's
/// files, not RTM. After the checkpoint they hydrate; without it they are refused, naming the file.
#[test]
fn updates_after_a_checkpoint_hydrate_against_its_files_and_need_it() {
    let work = Work::new();
    let rtm = fixture_wim(&work, "win10", "rtm.wim");
    let checkpoint = psfx_update(5_000_171, 1071, Shape::ForwardOnly, &rtm, &work);
    let wim = work.path("serviced.wim");
    std::fs::copy(&rtm, &wim).unwrap();
    installed_ok(&add(&wim, &write(&work, "checkpoint", &checkpoint), &work));
    // The next update's forward differentials are made against the checkpoint's files.
    let after = psfx_update(5_000_172, 1072, Shape::ForwardOnly, &wim, &work);
    let before = sha256(&rtm);
    let out = add(&rtm, &write(&work, "after", &after), &work);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("checkpoint"), "{}", stderr(&out));
    assert_eq!(sha256(&rtm), before, "image byte-identical");
    installed_ok(&add(&wim, &write(&work, "after", &after), &work));
    assert_hydrated(&wim, &after, &work);
    assert!(imagex_verifies(&wim));
}

/// Recording a component looked its key up by scanning every subkey of the COMPONENTS hive's
/// component list (quadratic in a large update); it now uses one index: each component and each
/// deployment of the update is recorded once, beside the image's own.
#[test]
fn recording_components_adds_each_to_the_components_hive_once() {
    use servicing::hive::{Hive, Mode};
    let work = Work::new();
    let rtm = fixture_wim(&work, "win10", "rtm.wim");
    let month1 = psfx_update(5_000_121, 1021, Shape::ForwardOnly, &rtm, &work);
    let wim = work.path("serviced.wim");
    std::fs::copy(&rtm, &wim).unwrap();
    let subkeys = |wim: &Path, name: &str| -> Vec<(String, bool)> {
        let dir = work.path(name);
        std::fs::create_dir_all(&dir).unwrap();
        imagex(&[
            "extract",
            wim.to_str().unwrap(),
            "1",
            "/Windows/System32/config/COMPONENTS",
            &format!("--dest-dir={}", dir.display()),
            "--no-acls",
        ]);
        let h = Hive::open(&dir.join("COMPONENTS"), Mode::ReadOnly).unwrap();
        let list = h.lookup(r"DerivedData\Components").unwrap().unwrap();
        h.children(list)
            .unwrap()
            .into_iter()
            .map(|c| (h.node_name(c).unwrap().to_lowercase(), h.value(c, "S256H").unwrap().is_some()))
            .collect()
    };
    let before = subkeys(&rtm, "before");
    installed_ok(&add(&wim, &write(&work, "month1", &month1), &work));
    let after = subkeys(&wim, "after");
    let components: Vec<String> =
        month1.def.components().iter().map(|c| c.identity.key_form().to_lowercase()).collect();
    for kf in &components {
        assert!(!before.iter().any(|(k, _)| k == kf), "{kf} is new to the image");
        let found: Vec<_> = after.iter().filter(|(k, _)| k == kf).collect();
        assert_eq!(found.len(), 1, "{kf} recorded once: {found:?}");
        assert!(found[0].1, "{kf} has its manifest's S256H");
    }
    // The update's components and their deployments (one per `<update>`), nothing else; the
    // image's own entries all kept.
    assert_eq!(after.len(), before.len() + 2 * components.len(), "{after:?}");
    assert!(before.iter().all(|b| after.contains(b)));
}
