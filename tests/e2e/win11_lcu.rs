//! Windows 11 (26100) cumulative updates on the `win11` fixture profile: every installed manifest
//! DCM-compressed against the base its servicing stack's `wcp.dll` carries, the genuine Windows
//! Server 2025 `base.bin` files as the RTM versions of `kbdwol.dll` (amd64) and `kbdmaori.dll`
//! (WoW64), and LCUs in the three real shapes — (a) a Windows 10-style cab with `f\` + `r\`, (b) a
//! ForwardOnly cab + `.psf`, (c) a 24H2 WIM-format MSU: SSU cab, LCU `.wim` + `.psf` of baseless PA31
//! entries, and members that are not for the OS image. Microsoft's own forward deltas ship the
//! genuine files; the encoder makes the others.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use fixtures::packages::{msu, updates};
use fixtures::packages::{psf_package_stored, Compression, PayloadSize, Storage};
use fixtures::profile::{Profile, Size, KBDMAORI, KBDWOL};
use servicing::cbs::delta::{apply_pa30, DeltaLimits};

use crate::psfx_hydration::{
    add, assert_hydrated, extract, installed, installed_ok, psfx_update_for, reset_base_keeps_reverse_differentials,
    site_scheduled_run, split, write, GenuinePair, Psfx, Shape,
};
use crate::util::*;

/// The genuine pairs, or `None` (test skipped) without the test data.
fn genuine_pairs(test: &str) -> Option<Vec<GenuinePair>> {
    let root = real_delta(test)?;
    let read = |case: &str, name: &str| std::fs::read(root.join("pe-decode").join(case).join(name)).unwrap();
    Some(
        [("amd64_kbdwol", KBDWOL, "amd64", "kbdwol.dll"), ("wow64_kbdmaori", KBDMAORI, "wow64", "kbdmaori.dll")]
            .into_iter()
            .map(|(case, component, arch, file)| GenuinePair {
                component,
                arch,
                file,
                base: read(case, "base.bin"),
                target: read(case, "target.bin"),
                delta: read(case, "delta.pa30"),
            })
            .collect(),
    )
}

/// The win11 profile with the genuine `base.bin` files as its RTM versions.
fn profile(pairs: &[GenuinePair]) -> Profile {
    pairs.iter().fold(Profile::win11_amd64(), |p, g| {
        p.with_file(g.component, g.arch, g.file, Arc::from(g.base.clone())).expect("win11 has the file")
    })
}

/// A one-image (Professional) WIM of `profile`.
fn rtm_wim(work: &Work, profile: &Profile) -> PathBuf {
    let out = work.path("rtm.wim");
    fixtures::image::build_wim(
        profile,
        Size::Tiny,
        &["Professional"],
        servicing::wim::Compression::Lzx,
        &out,
        &work.path("rtm.gen"),
    )
    .expect("win11 fixture WIM");
    out
}

/// The genuine files are projected as `target.bin`, and the `r\` kept beside each leads to `base.bin`.
fn assert_genuine_targets(wim: &Path, pairs: &[GenuinePair], work: &Work) {
    for g in pairs {
        let folder = if g.arch == "wow64" { "SysWOW64" } else { "System32" };
        let projected = extract(wim, &format!("/Windows/{folder}/{}", g.file), work).expect("projected");
        assert!(projected == g.target, "{folder}\\{} is the genuine target.bin", g.file);
        let kf = installed(wim)
            .into_values()
            .find(|kf| kf.starts_with(&format!("{}_{}_", g.arch, g.component.to_lowercase())))
            .expect("the component is installed");
        let reverse = extract(wim, &format!("/Windows/WinSxS/{kf}/r/{}", g.file), work).expect("r\\ kept");
        assert!(apply_pa30(&projected, &reverse, &DeltaLimits::default()).unwrap() == g.base, "{kf}: r\\ → base.bin");
    }
}

/// Registry values per component of every listed package, read from the image's manifests by
/// `get-packages --components` (`None`: the manifest was unreadable).
fn manifest_values(wim: &Path) -> Vec<(String, Option<u64>)> {
    let list: serde_json::Value = serde_json::from_str(&run_ok(&[
        "get-packages",
        "--image",
        wim.to_str().unwrap(),
        "--index",
        "1",
        "--components",
        "--json",
    ]))
    .unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["components"].as_array().unwrap().iter())
        .map(|c| (c["key_form"].as_str().unwrap().to_owned(), c["registry_values"].as_u64()))
        .collect()
}

/// Every manifest `get-packages --components` lists is read (DCM ones with the stack's base).
fn assert_manifests_read(wim: &Path) {
    let values = manifest_values(wim);
    assert!(values.len() > 10, "{values:?}");
    assert!(values.iter().all(|(_, n)| n.is_some()), "unreadable manifests: {values:?}");
}

fn package_states(wim: &Path) -> Vec<(String, String)> {
    let list: serde_json::Value =
        serde_json::from_str(&run_ok(&["get-packages", "--image", wim.to_str().unwrap(), "--index", "1", "--json"]))
            .unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|p| (p["identity"].as_str().unwrap().to_owned(), p["state"].as_str().unwrap().to_owned()))
        .collect()
}

#[test]
fn win11_lcus_hydrate_the_genuine_targets_month_after_month_and_after_reset_base() {
    let Some(pairs) = genuine_pairs("win11_lcus_hydrate_the_genuine_targets_month_after_month_and_after_reset_base")
    else {
        return;
    };
    let work = Work::new();
    let profile = profile(&pairs);
    let rtm = rtm_wim(&work, &profile);
    // The RTM manifests are DCM-compressed and read with the servicing stack's base.
    assert_manifests_read(&rtm);

    // (a) Windows 10 shape: f\ + r\ in the cab.
    let month1 = psfx_update_for(&profile, 5_100_101, 101, Shape::ForwardAndReverse, &rtm, &pairs, &work);
    let wim = work.path("serviced.wim");
    std::fs::copy(&rtm, &wim).unwrap();
    installed_ok(&add(&wim, &write(&work, "month1", &month1), &work));
    assert_hydrated(&wim, &month1, &work);
    assert_genuine_targets(&wim, &pairs, &work);

    // ResetBase keeps the reverse differentials of the versions that stay; the superseded RTM
    // versions go.
    let listing = reset_base_keeps_reverse_differentials(&wim, &month1);
    let rtm_kbdwol = installed(&rtm).into_values().find(|k| k.contains("kbdwol")).unwrap();
    assert!(!listing.iter().any(|p| p.contains(&rtm_kbdwol)), "{rtm_kbdwol} superseded and removed");

    // (b) Windows 11 shape: ForwardOnly, the differentials in a .psf beside the cab.
    let month2 = psfx_update_for(&profile, 5_100_102, 102, Shape::ForwardOnly, &rtm, &pairs, &work);
    let folder = psf_folder(&work, "month2", &month2, Storage::Raw);
    installed_ok(&add(&wim, &folder, &work));
    assert_hydrated(&wim, &month2, &work);
    assert_genuine_targets(&wim, &pairs, &work);
    assert!(imagex_verifies(&wim));

    // RTM → month 2 directly: the same payloads and projections.
    let direct = work.path("direct.wim");
    std::fs::copy(&rtm, &direct).unwrap();
    installed_ok(&add(&direct, &folder, &work));
    for key in month2.expected.keys() {
        let (kf, file) = split(key);
        let path = format!("/Windows/WinSxS/{kf}/{file}");
        assert_eq!(extract(&wim, &path, &work), extract(&direct, &path, &work), "{key}");
    }
    // Every projected file (System32 and SysWOW64, the hives aside) is the same in both.
    let projections = |wim: &Path, name: &str| {
        let dest = work.path(name);
        for folder in ["System32", "SysWOW64"] {
            imagex(&[
                "extract",
                wim.to_str().unwrap(),
                "1",
                &format!("/Windows/{folder}"),
                &format!("--dest-dir={}", dest.display()),
                "--no-acls",
                "--preserve-dir-structure",
            ]);
        }
        let tree = tree_snapshot(&dest);
        tree.into_iter()
            .map(|(p, what)| (p.strip_prefix(&dest).unwrap().to_path_buf(), what))
            .filter(|(p, _)| !p.starts_with("Windows/System32/config"))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let (through, straight) = (projections(&wim, "p-through"), projections(&direct, "p-direct"));
    assert!(through.len() > 20, "{through:?}");
    assert_eq!(through, straight, "projections of RTM → 1 → 2 and RTM → 2");
    for g in &pairs {
        let folder = if g.arch == "wow64" { "SysWOW64" } else { "System32" };
        assert!(through.contains_key(&PathBuf::from(format!("Windows/{folder}/{}", g.file))));
    }
}

/// `<stem>.cab` and `<stem>.psf` of `p` (its differentials stored as `storage`) in a folder of
/// their own; returns the folder.
fn psf_folder(work: &Work, name: &str, p: &Psfx, storage: Storage) -> PathBuf {
    let stem = format!("Windows11.0-KB{}-x64", p.def.identifier.trim_start_matches("KB"));
    let package = psf_package_stored(p.def.clone(), stem.clone(), p.entries.clone(), storage).unwrap();
    let dir = work.path(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{stem}.cab")), &package.cab).unwrap();
    std::fs::write(dir.join(format!("{stem}.psf")), &package.psf).unwrap();
    dir
}

/// The members that are not for the OS image in a 24H2 MSU.
const NOT_FOR_THE_IMAGE: [&str; 4] = [
    "DesktopDeployment.cab",
    "onepackage.AggregatedMetadata.cab",
    "WSUSSCAN.cab",
    "Windows11.0-KB5100111-x64.mumx.esd",
];

/// (c) The 24H2 shape: an MSWIM MSU holding the SSU cab, the LCU as a `.wim` with its `.psf` of
/// baseless PA31 entries (each a PA31 forward differential, or a null one), and the members that are
/// not for the OS image.
fn wim_format_msu(work: &Work, profile: &Profile, month: &Psfx) -> PathBuf {
    let stem = "Windows11.0-KB5100111-x64";
    let package = psf_package_stored(month.def.clone(), stem.to_owned(), month.entries.clone(), Storage::Pa31).unwrap();
    assert!(package.psf.windows(4).any(|w| w == b"PA31"));
    // The LCU .wim: the cab's members as files, one image.
    let lcu = work.path("lcu");
    std::fs::create_dir_all(&lcu).unwrap();
    let mut cab = servicing::cbs::container::Cabinet::new(
        std::io::Cursor::new(package.cab.clone()),
        "cab",
        servicing::cbs::container::Limits::default(),
    )
    .unwrap();
    let names: Vec<String> = cab.members().iter().map(|m| m.name.clone()).collect();
    for name in names {
        let path = lcu.join(name.replace('\\', "/"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, cab.read_member(&name, 16 << 20).unwrap()).unwrap();
    }
    let content = work.path("content");
    std::fs::create_dir_all(&content).unwrap();
    imagex(&["capture", lcu.to_str().unwrap(), content.join(format!("{stem}.wim")).to_str().unwrap(), "lcu"]);
    std::fs::write(content.join(format!("{stem}.psf")), &package.psf).unwrap();
    let ssu = updates::servicing_stack_update(profile, 5_100_211, 2_000, PayloadSize::Tiny).unwrap();
    std::fs::write(
        content.join("SSU-26100.2000-x64.cab"),
        ssu.cab("SSU-26100.2000-x64.cab", Compression::MsZip).unwrap(),
    )
    .unwrap();
    let kb = 5_100_111;
    for (name, bytes) in NOT_FOR_THE_IMAGE.into_iter().zip([
        msu::desktop_deployment_cab().unwrap(),
        msu::aggregated_metadata_cab(kb).unwrap(),
        msu::wsusscan_cab(kb).unwrap(),
        b"package metadata, not read".to_vec(),
    ]) {
        std::fs::write(content.join(name), bytes).unwrap();
    }
    let msu = work.path(&format!("{stem}.msu"));
    imagex(&["capture", content.to_str().unwrap(), msu.to_str().unwrap(), "content", "--compress=none"]);
    assert_eq!(&std::fs::read(&msu).unwrap()[..5], b"MSWIM");
    msu
}

#[test]
fn win11_24h2_wim_format_msu_installs_ssu_then_lcu_from_baseless_pa31_differentials() {
    let Some(pairs) = genuine_pairs("win11_24h2_wim_format_msu_installs_ssu_then_lcu_from_baseless_pa31_differentials")
    else {
        return;
    };
    let work = Work::new();
    let profile = profile(&pairs);
    let rtm = rtm_wim(&work, &profile);
    let month = psfx_update_for(&profile, 5_100_111, 111, Shape::ForwardOnlyPa31, &rtm, &pairs, &work);
    let msu = wim_format_msu(&work, &profile, &month);

    let wim = work.path("serviced.wim");
    std::fs::copy(&rtm, &wim).unwrap();
    let out = add(&wim, &msu, &work);
    assert!(out.status.success(), "add-package: {}", stderr(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let done: Vec<(String, String)> = r["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["identity"].as_str().unwrap().to_owned(), p["outcome"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(done.len(), 2, "{r}");
    assert!(done[0].0.starts_with("Package_for_ServicingStack_2000~"), "SSU first: {done:?}");
    assert!(done[1].0.starts_with("Package_for_RollupFix~"), "then the LCU: {done:?}");
    assert!(done.iter().all(|(_, o)| o == "installed"), "{done:?}");
    assert_hydrated(&wim, &month, &work);
    assert_genuine_targets(&wim, &pairs, &work);
    assert!(imagex_verifies(&wim));

    // get-packages: both Installed; the manifests are still read with the (new) stack's base.
    let states = package_states(&wim);
    for (id, _) in &done {
        assert!(states.iter().any(|(i, s)| i == id && s == "installed"), "{id} Installed: {states:?}");
    }
    assert_manifests_read(&wim);
    // The members that are not for the OS image are named in the log, with the reason.
    let log = std::fs::read_to_string(work.path("logs").join("OfflineServicingMgr.log")).unwrap();
    for member in NOT_FOR_THE_IMAGE {
        assert!(
            log.lines().any(|l| l.contains(&format!("!{member}: ")) && l.contains("not for the OS image")),
            "{member} not named in the log: {log}"
        );
    }

    // The same MSU through `service --remove-superseded` and a site's scheduled run.
    let serviced = work.path("service.wim");
    std::fs::copy(&rtm, &serviced).unwrap();
    let out = run(&[
        "service",
        "--image",
        serviced.to_str().unwrap(),
        "--package-path",
        msu.to_str().unwrap(),
        "--remove-superseded",
        "--json",
        "--no-progress",
    ]);
    assert!(out.status.success(), "service: {}", stderr(&out));
    assert_hydrated(&serviced, &month, &work);
    assert!(imagex_verifies(&serviced));

    let site_wim = site_scheduled_run(&rtm, &msu, "KB5100111", &work);
    assert_hydrated(&site_wim, &month, &work);
    assert_genuine_targets(&site_wim, &pairs, &work);
}

/// A truncated `.psf` in the 24H2 form, or an image whose RTM file a forward differential needs is
/// missing: refused naming the file, the image byte-identical.
#[test]
fn win11_truncated_psf_or_missing_rtm_base_is_refused_and_the_image_unchanged() {
    let work = Work::new();
    let profile = Profile::win11_amd64();
    let rtm = rtm_wim(&work, &profile);
    let month = psfx_update_for(&profile, 5_100_121, 121, Shape::ForwardOnlyPa31, &rtm, &[], &work);
    let folder = psf_folder(&work, "month", &month, Storage::Pa31);
    let psf = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "psf"))
        .unwrap();
    let whole = std::fs::read(&psf).unwrap();
    std::fs::write(&psf, &whole[..whole.len() - whole.len() / 3]).unwrap();
    let before = sha256(&rtm);
    let out = add(&rtm, &folder, &work);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains(".psf"), "{}", stderr(&out));
    assert_eq!(sha256(&rtm), before, "image byte-identical");

    // The whole .psf, but the image lost the RTM kbdwol.dll the forward differential starts from.
    std::fs::write(&psf, &whole).unwrap();
    let old = installed(&rtm).into_values().find(|k| k.contains("kbdwol")).unwrap();
    imagex(&["update", rtm.to_str().unwrap(), "1", &format!("--command=delete /Windows/WinSxS/{old}/kbdwol.dll")]);
    let before = sha256(&rtm);
    let out = add(&rtm, &folder, &work);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("kbdwol.dll") && err.contains("the RTM base is missing"), "{err}");
    assert_eq!(sha256(&rtm), before, "image byte-identical");
}
