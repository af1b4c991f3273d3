//! `add-package` with PSF express cumulative updates on the Windows 10-like fixture image: the
//! synthetic PSFX LCU (cab + `express.psf.cix.xml`, payload in the `.psf` as RAW and PA30 ranges;
//! the PA30 ranges are stored samples from the real Windows 7 MSUs) as a folder holding cab and
//! `.psf`, and as a combined SSU+LCU MSU; a baseless PA31 entry (24H2) expands; a corrupt `.psf`
//! fails and leaves the image byte-identical.

use std::path::{Path, PathBuf};

use fixtures::packages::psf::Storage;
use fixtures::packages::updates::{self, Lcu};
use fixtures::packages::{psf_cumulative_update, Compression, Pa30Sample, PayloadSize, PsfOptions, PsfPackage};
use fixtures::profile::Profile;
use servicing::cbs::container::{Limits, Msu};
use servicing::cbs::delta::{apply_pa30, codec_of, Codec, DeltaLimits};

use crate::util::*;

const SAMPLE_MSUS: [&str; 2] = ["Windows6.1-KB2584475-x64.msu", "Windows6.1-KB2465285-x64.msu"];

/// Cab member `0` of the real MSU's inner cab (a PA30 delta against nothing) and its expansion.
fn sample(msu: &Path) -> Pa30Sample {
    let mut msu = Msu::open(msu, Limits::default()).expect("real MSU");
    let inner = msu.inner_cab_names()[0].clone();
    let delta = msu.open_inner(&inner, None).expect("inner cab").read_member("0", 1 << 20).expect("member 0");
    let expanded = apply_pa30(&[], &delta, &DeltaLimits::default()).expect("PA30 sample expands");
    Pa30Sample { delta, expanded }
}

/// The PA30 samples, or return after printing "skipped: <test>".
macro_rules! samples_or_skip {
    ($test:expr) => {{
        let mut out = Vec::new();
        for name in SAMPLE_MSUS {
            out.push(sample(&real_or_skip!(name, $test)));
        }
        out
    }};
}

fn package(kb: u32, ubr: u16, samples: &[Pa30Sample], options: PsfOptions) -> PsfPackage {
    psf_cumulative_update(&Profile::win10_amd64(), &Lcu::monthly(kb, ubr), samples, options).expect("PSF package")
}

/// Writes `<stem>.cab` and `<stem>.psf` into a folder of their own; returns the folder.
fn write_folder(work: &Work, p: &PsfPackage, psf: &[u8]) -> PathBuf {
    let dir = work.path("updates");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{}.cab", p.stem)), &p.cab).unwrap();
    std::fs::write(dir.join(format!("{}.psf", p.stem)), psf).unwrap();
    dir
}

fn add(wim: &Path, package: &Path, work: &Work) -> std::process::Output {
    let logs = work.path("logs");
    run_owned(&image_args(
        "add-package",
        wim,
        "1",
        &["--package-path", package.to_str().unwrap(), "--log-dir", logs.to_str().unwrap(), "--json"],
    ))
}

/// One file of image 1, extracted.
fn extract(wim: &Path, path: &str, work: &Work) -> Vec<u8> {
    let dest = work.path("x");
    let _ = std::fs::remove_dir_all(&dest);
    std::fs::create_dir_all(&dest).unwrap();
    imagex(&["extract", wim.to_str().unwrap(), "1", path, &format!("--dest-dir={}", dest.display()), "--no-acls"]);
    std::fs::read(dest.join(path.rsplit('/').next().unwrap())).expect("extracted file")
}

/// Every payload is in WinSxS with its expanded bytes, and so is its projection.
fn assert_payloads_installed(wim: &Path, p: &PsfPackage, work: &Work) {
    for payload in &p.payloads {
        let (key, file) = payload.name.split_once('\\').unwrap();
        let sxs = extract(wim, &format!("/Windows/WinSxS/{key}/{file}"), work);
        assert!(sxs == payload.expanded, "WinSxS copy of {} differs", payload.name);
        if payload.destination.is_some() {
            let folder = if key.starts_with("wow64_") { "SysWOW64" } else { "System32" };
            let projected = extract(wim, &format!("/Windows/{folder}/{file}"), work);
            assert!(projected == payload.expanded, "{folder} copy of {} differs", payload.name);
        }
    }
}

#[test]
fn psf_lcu_beside_its_cab_applies_with_raw_and_pa30_payloads() {
    let samples = samples_or_skip!("psf_lcu_beside_its_cab_applies_with_raw_and_pa30_payloads");
    let work = Work::new();
    let wim = fixture_wim(&work, "win10", "win10.wim");
    let p = package(5_000_040, 940, &samples, PsfOptions::default());
    assert!(p.payloads.iter().any(|x| matches!(x.storage, Storage::Pa30(_))));
    assert!(p.payloads.iter().any(|x| x.storage == Storage::Raw));
    // The folder holds the cab and its .psf: one package, not two inputs.
    let dir = write_folder(&work, &p, &p.psf);

    let out = add(&wim, &dir, &work);
    assert!(out.status.success(), "add-package: {}", stderr(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["committed"], true);
    assert_eq!(r["packages"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r["packages"][0]["outcome"], "installed", "{r}");
    assert_eq!(r["packages"][0]["identity"], p.def.identity.to_string());
    assert_payloads_installed(&wim, &p, &work);
    assert!(imagex_verifies(&wim));
}

#[test]
fn combined_msu_with_ssu_lcu_and_psf_applies() {
    let samples = samples_or_skip!("combined_msu_with_ssu_lcu_and_psf_applies");
    let work = Work::new();
    let wim = fixture_wim(&work, "win10", "win10.wim");
    let p = package(5_000_041, 941, &samples, PsfOptions::default());
    let msu = work.path(&format!("{}.msu", p.stem));
    write_combined_msu(&p, 5_000_141, &msu);
    installs_ssu_and_lcu(&wim, &msu, &p, &work);
}

/// The combined MSU of the PSFX LCU `p` with a servicing stack update (KB `ssu_kb`), written to `msu`.
fn write_combined_msu(p: &PsfPackage, ssu_kb: u32, msu: &Path) {
    let ssu = updates::servicing_stack_update(&Profile::win10_amd64(), ssu_kb, 170, PayloadSize::Tiny).unwrap();
    let ssu_name = "SSU-19041.170-x64.cab".to_owned();
    let ssu_cab = ssu.cab(&ssu_name, Compression::MsZip).unwrap();
    std::fs::write(msu, p.combined_msu((ssu_name, ssu_cab)).unwrap()).unwrap();
}

/// `add-package` of an MSU holding an SSU and the PSFX LCU `p`: both installed, every payload
/// equal to its expansion, the WIM verifies.
fn installs_ssu_and_lcu(wim: &Path, msu: &Path, p: &PsfPackage, work: &Work) {
    let out = add(wim, msu, work);
    assert!(out.status.success(), "add-package: {}", stderr(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let outcomes: Vec<&str> =
        r["packages"].as_array().unwrap().iter().map(|x| x["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["installed", "installed"], "{r}");
    assert_payloads_installed(wim, p, work);
    assert!(imagex_verifies(wim));
}

/// `add-package` refused WIM-format MSUs (Windows 11 24H2+ LCUs are shipped that way): the same
/// SSU + PSFX LCU + `.psf` as the combined MSU above, in an MSWIM container, installs the same.
#[test]
fn wim_format_msu_with_ssu_lcu_and_psf_applies() {
    let samples = samples_or_skip!("wim_format_msu_with_ssu_lcu_and_psf_applies");
    let work = Work::new();
    let wim = fixture_wim(&work, "win10", "win10.wim");
    let p = package(5_000_044, 944, &samples, PsfOptions::default());
    let cab_msu = work.path("combined.msu");
    write_combined_msu(&p, 5_000_144, &cab_msu);
    // The same members, in the WIM form Microsoft uses: one image named "content".
    let content = work.path("content");
    std::fs::create_dir_all(&content).unwrap();
    let x = std::process::Command::new("cabextract")
        .args(["-q", "-d", content.to_str().unwrap(), cab_msu.to_str().unwrap()])
        .status()
        .expect("cabextract");
    assert!(x.success());
    // Members that are not for the OS image, as 24H2 MSUs carry them: skipped and named in the log.
    std::fs::write(content.join("WSUSSCAN.cab"), b"MSCF not read").unwrap();
    std::fs::write(content.join("DesktopDeployment.cab"), b"MSCF not read").unwrap();
    let msu = work.path(&format!("{}.msu", p.stem));
    imagex(&["capture", content.to_str().unwrap(), msu.to_str().unwrap(), "content", "--compress=none"]);
    assert_eq!(&std::fs::read(&msu).unwrap()[..5], b"MSWIM");

    installs_ssu_and_lcu(&wim, &msu, &p, &work);
    let log = std::fs::read_to_string(work.path("logs").join("OfflineServicingMgr.log")).unwrap();
    for member in ["WSUSSCAN.cab", "DesktopDeployment.cab"] {
        assert!(
            log.lines().any(|l| l.contains(&format!("!{member}: ")) && l.contains("not for the OS image")),
            "{member} not named in the log: {log}"
        );
    }
}

#[test]
fn a_flipped_byte_in_the_psf_fails_naming_the_file_and_leaves_the_image() {
    let samples = samples_or_skip!("a_flipped_byte_in_the_psf_fails_naming_the_file_and_leaves_the_image");
    let work = Work::new();
    let wim = fixture_wim(&work, "win10", "win10.wim");
    let p = package(5_000_042, 942, &samples, PsfOptions::default());
    let before = sha256(&wim);
    // One byte in the middle of each kind of range: a PA30 delta and a RAW file.
    for kind in [Storage::Pa30(0), Storage::Raw] {
        let victim = p.payloads.iter().find(|x| x.storage == kind).unwrap();
        let mut psf = p.psf.clone();
        psf[(victim.offset + victim.length / 2) as usize] ^= 0x01;
        let dir = write_folder(&work, &p, &psf);
        let out = add(&wim, &dir.join(format!("{}.cab", p.stem)), &work);
        assert_eq!(out.status.code(), Some(1), "{kind:?}: {}", stderr(&out));
        let (_, file) = victim.name.split_once('\\').unwrap();
        assert!(stderr(&out).contains(file), "{kind:?}: the error names {file}: {}", stderr(&out));
        assert_eq!(sha256(&wim), before, "{kind:?}: the image changed");
    }
}

/// Regression: `.psf` entries stored as baseless PA31 (every Windows 11 24H2 LCU) were refused as
/// "PA31 not supported" although the delta engine decodes PA31.
#[test]
fn pa31_psf_entries_were_refused_as_unsupported() {
    let work = Work::new();
    let wim = fixture_wim(&work, "win10", "win10.wim");
    // No PA30 sample needed: every entry is RAW but the last, a baseless PA31 delta.
    let p = package(5_000_043, 943, &[], PsfOptions { pa31_entry: true, ..Default::default() });
    assert!(p.cix.contains("type=\"PA31\""));
    let dir = write_folder(&work, &p, &p.psf);
    let out = add(&wim, &dir, &work);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_payloads_installed(&wim, &p, &work);
    assert!(imagex_verifies(&wim));
}

/// Regression: `.psf` entries stored as baseless PA31 with an LZMS Compression-API container body
/// (the other 24H2 codec) were refused as unsupported; they expand through wimlib's LZMS now.
#[test]
fn pa31_lzms_psf_entries_were_refused_as_unsupported() {
    let work = Work::new();
    let wim = fixture_wim(&work, "win10", "win10.wim");
    let p = package(5_000_045, 945, &[], PsfOptions { pa31_lzms_entry: true, ..Default::default() });
    let entry = p.payloads.iter().find(|x| x.storage == Storage::Pa31Lzms).expect("an LZMS entry");
    let stored = &p.psf[entry.offset as usize..(entry.offset + entry.length) as usize];
    assert_eq!(codec_of(stored).unwrap(), Codec::LzmsContainer);
    let dir = write_folder(&work, &p, &p.psf);
    let out = add(&wim, &dir, &work);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_payloads_installed(&wim, &p, &work);
    assert!(imagex_verifies(&wim));
}

#[test]
fn a_psfx_cab_without_its_psf_fails_saying_so() {
    let work = Work::new();
    let wim = fixture_wim(&work, "win10", "win10.wim");
    let p = package(5_000_044, 944, &[], PsfOptions::default());
    let cab = work.path(&format!("{}.cab", p.stem));
    std::fs::write(&cab, &p.cab).unwrap();
    let before = sha256(&wim);
    let out = add(&wim, &cab, &work);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("{}.psf was not found", p.stem)), "{}", stderr(&out));
    assert_eq!(sha256(&wim), before);
}

#[test]
fn an_expanded_psfx_folder_with_its_psf_beside_it_applies() {
    let samples = samples_or_skip!("an_expanded_psfx_folder_with_its_psf_beside_it_applies");
    let work = Work::new();
    let wim = fixture_wim(&work, "win10", "win10.wim");
    let p = package(5_000_045, 945, &samples, PsfOptions::default());
    // `expand -f:*` of the cab into `<stem>\`, the `.psf` beside that folder; the parent folder is
    // the input (two entries: one package).
    let updates = work.path("updates");
    let folder = updates.join(&p.stem);
    std::fs::create_dir_all(&folder).unwrap();
    let mut cab =
        servicing::cbs::container::Cabinet::new(std::io::Cursor::new(p.cab.clone()), "cab", Limits::default()).unwrap();
    let names: Vec<String> = cab.members().iter().map(|m| m.name.clone()).collect();
    for name in names {
        std::fs::write(folder.join(&name), cab.read_member(&name, 16 << 20).unwrap()).unwrap();
    }
    std::fs::write(updates.join(format!("{}.psf", p.stem)), &p.psf).unwrap();

    let out = add(&wim, &updates, &work);
    assert!(out.status.success(), "add-package: {}", stderr(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["packages"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r["packages"][0]["outcome"], "installed", "{r}");
    assert_payloads_installed(&wim, &p, &work);
}
