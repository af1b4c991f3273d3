//! `cbs::package::extract_path`: the verified payload tree written to a new folder (delta payloads
//! expanded: the Windows 7 MSUs' PA30 members, a `.psf` beside a cab), and every refusal leaving
//! nothing behind (no destination, no staging folder).

use std::collections::HashMap;
use std::path::Path;

use cbs::container::{self, Limits, WimContent};
use cbs::package::{extract_path, inspect_path, Error};
use sha2::{Digest, Sha256};

use crate::package_read::{
    check_expanded, kb2938772_as_psf, msu_members, mszip_cab, tampered_kb2938772, wim_msu_stub, with_a_pa31_entry,
    FakeWim, HYPERV, KB2938772, MSU_DELTAS,
};

fn sha256_hex(path: &Path) -> String {
    Sha256::digest(std::fs::read(path).unwrap()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Every payload `inspect_path` reports for `package` is at `<dest>/<folder>/<key form>/<file>`
/// with the manifest's SHA-256; returns how many.
fn check_tree(package: &Path, dest: &Path) -> usize {
    let report = inspect_path(package, Limits::default()).unwrap().remove(0);
    let mut n = 0;
    for c in &report.components {
        for f in &c.files {
            let at = dest.join(&c.keyform).join(f.name.replace('\\', "/"));
            assert_eq!(sha256_hex(&at), f.sha256.clone().unwrap(), "{}", at.display());
            n += 1;
        }
    }
    for name in ["update.mum", "update.cat"] {
        assert!(dest.join(name).is_file(), "{name}");
    }
    n
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

#[test]
fn real_cabs_extract_to_verified_trees() {
    let dir = real_or_skip!("real_cabs_extract_to_verified_trees");
    let tmp = tempfile::tempdir().unwrap();
    for (file, payloads, metadata) in [(KB2938772, 3, 21), (HYPERV, 47, 17)] {
        let dest = tmp.path().join(file).join("out");
        let report = extract_path(&dir.join(file), &dest, Limits::default(), None).unwrap();
        assert_eq!(report.kind, "cbs-cab");
        assert_eq!(report.packages.len(), 1);
        let p = &report.packages[0];
        assert_eq!((p.folder.as_str(), p.payloads, p.metadata), ("", payloads, metadata), "{file}");
        assert_eq!(report.files, payloads + metadata);
        assert_eq!(check_tree(&dir.join(file), &dest), payloads, "{file}");
        // Nothing but the destination beside it.
        assert_eq!(entries(dest.parent().unwrap()), ["out"], "{file}");
    }
}

#[test]
fn an_existing_destination_is_refused_unless_empty() {
    let dir = real_or_skip!("an_existing_destination_is_refused_unless_empty");
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("out");
    std::fs::create_dir(&dest).unwrap();
    std::fs::write(dest.join("keep.txt"), b"mine").unwrap();
    let err = extract_path(&dir.join(KB2938772), &dest, Limits::default(), None).unwrap_err();
    assert!(matches!(err, Error::Destination { .. }), "{err}");
    assert!(err.to_string().contains("not empty"), "{err}");
    assert_eq!(entries(&dest), ["keep.txt"]);
    assert_eq!(entries(tmp.path()), ["out"]);
    let file = tmp.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    assert!(matches!(
        extract_path(&dir.join(KB2938772), &file, Limits::default(), None),
        Err(Error::Destination { .. })
    ));

    // An empty folder is taken.
    std::fs::remove_file(dest.join("keep.txt")).unwrap();
    extract_path(&dir.join(KB2938772), &dest, Limits::default(), None).unwrap();
    assert!(dest.join("update.mum").is_file());
}

#[test]
fn a_tampered_payload_leaves_nothing() {
    let dir = real_or_skip!("a_tampered_payload_leaves_nothing");
    let tmp = tempfile::tempdir().unwrap();
    let cab = tmp.path().join("tampered.cab");
    std::fs::write(&cab, mszip_cab(&tampered_kb2938772(&dir))).unwrap();
    let dest = tmp.path().join("out");
    let err = extract_path(&cab, &dest, Limits::default(), None).unwrap_err();
    match &err {
        Error::DigestMismatch { package, member, .. } => {
            assert!(package.ends_with("tampered.cab") && member.ends_with("netcfgx.dll"), "{err}");
        }
        other => panic!("{other}"),
    }
    assert!(!dest.exists());
    assert_eq!(entries(tmp.path()), ["tampered.cab"], "no staging folder left");
}

#[test]
fn wim_msu_inner_packages_get_a_folder_each_when_several() {
    let dir = real_or_skip!("wim_msu_inner_packages_get_a_folder_each_when_several");
    let tmp = tempfile::tempdir().unwrap();
    let msu = wim_msu_stub(tmp.path(), "pair.msu");
    let files: HashMap<String, Vec<u8>> = msu_members(&dir, &[KB2938772, HYPERV], "2938772");
    let opener = |_: &Path| -> container::Result<Box<dyn WimContent>> { Ok(Box::new(FakeWim(files.clone()))) };
    let dest = tmp.path().join("out");
    let report = extract_path(&msu, &dest, Limits::default(), Some(&opener)).unwrap();
    assert_eq!(report.kind, "wim-msu");
    let mut folders: Vec<&str> = report.packages.iter().map(|p| p.folder.as_str()).collect();
    folders.sort_unstable();
    assert_eq!(folders, ["Windows6.x-HyperVIntegrationServices-x64", "Windows8.1-KB2938772-x64"]);
    assert_eq!(entries(&dest), folders);
    assert_eq!(check_tree(&dir.join(KB2938772), &dest.join("Windows8.1-KB2938772-x64")), 3);
    assert_eq!(check_tree(&dir.join(HYPERV), &dest.join("Windows6.x-HyperVIntegrationServices-x64")), 47);

    // One inner package: flat.
    let one: HashMap<String, Vec<u8>> = msu_members(&dir, &[KB2938772], "2938772");
    let opener = |_: &Path| -> container::Result<Box<dyn WimContent>> { Ok(Box::new(FakeWim(one.clone()))) };
    let flat = tmp.path().join("flat");
    let report = extract_path(&msu, &flat, Limits::default(), Some(&opener)).unwrap();
    assert_eq!(report.packages[0].folder, "");
    assert_eq!(check_tree(&dir.join(KB2938772), &flat), 3);

    // Without a WIM reader it cannot be extracted, and nothing is written.
    let none = tmp.path().join("none");
    let err = extract_path(&msu, &none, Limits::default(), None).unwrap_err();
    assert!(matches!(err, Error::NotExtractable { .. }), "{err}");
    assert!(!none.exists());
}

#[test]
fn a_folder_of_packages_is_not_extracted() {
    let dir = real_or_skip!("a_folder_of_packages_is_not_extracted");
    let tmp = tempfile::tempdir().unwrap();
    let err = extract_path(&dir, &tmp.path().join("out"), Limits::default(), None).unwrap_err();
    assert!(matches!(err, Error::NotExtractable { .. }), "{err}");
    assert!(entries(tmp.path()).is_empty());
}

#[test]
fn package_extract_expands_windows7_delta_payloads_or_fails_naming_one() {
    let dir = real_or_skip!("package_extract_expands_windows7_delta_payloads_or_fails_naming_one");
    let tmp = tempfile::tempdir().unwrap();
    for (file, total, _) in MSU_DELTAS {
        let report = inspect_path(&dir.join(file), Limits::default()).unwrap().remove(0);
        let (verified, unsupported) = check_expanded(&report.inner[0]);
        let dest = tmp.path().join("out");
        let result = extract_path(&dir.join(file), &dest, Limits::default(), None);
        if unsupported == 0 {
            let r = result.unwrap();
            assert_eq!(r.packages[0].payloads, total, "{file}");
            assert_eq!(check_tree(&dir.join(file), &dest), verified, "{file}");
            // File times come from the delta index (2011-2012), not from the extraction.
            let c = report.components.iter().find(|c| !c.files.is_empty()).unwrap();
            let at = dest.join(&c.keyform).join(&c.files[0].name);
            let age = std::fs::metadata(&at).unwrap().modified().unwrap().elapsed().unwrap();
            assert!(age.as_secs() > 5 * 365 * 86_400, "{}: {age:?}", at.display());
            std::fs::remove_dir_all(&dest).unwrap();
        } else {
            let err = result.unwrap_err();
            let Error::Unexpandable { file: named, reason, others, .. } = &err else { panic!("{file}: {err}") };
            // Every payload that cannot be expanded is named, not only the first.
            assert_eq!(1 + others.len(), unsupported, "{file}: {err}");
            let listed = report.components.iter().flat_map(|c| c.files.iter().map(move |f| (c, f))).any(|(c, f)| {
                format!("{}\\{}", c.keyform, f.name).eq_ignore_ascii_case(named) && f.reason.as_ref() == Some(reason)
            });
            assert!(listed, "{file}: {err} is not among the unsupported files of package info");
        }
        assert!(entries(tmp.path()).iter().all(|e| e != "out" && !e.contains("wimpatch-tmp")), "{file}");
    }
}

#[test]
fn package_extract_fails_naming_an_unsupported_delta_and_leaves_nothing() {
    let dir = real_or_skip!("package_extract_fails_naming_an_unsupported_delta_and_leaves_nothing");
    let (members, victim) = with_a_pa31_entry(&dir);
    let tmp = tempfile::tempdir().unwrap();
    let cab = tmp.path().join("pa31.cab");
    std::fs::write(&cab, mszip_cab(&members)).unwrap();
    let dest = tmp.path().join("out");
    let err = extract_path(&cab, &dest, Limits::default(), None).unwrap_err();
    match &err {
        Error::Unexpandable { package, file, reason, .. } => {
            assert!(package.ends_with("pa31.cab"), "{err}");
            assert!(file.eq_ignore_ascii_case(&victim) || reason.starts_with("made from"), "{err}");
            assert!(reason.contains("PA31"), "{err}");
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("nothing was extracted"), "{err}");
    assert_eq!(entries(tmp.path()), ["pa31.cab"], "no destination, no staging folder");
}

#[test]
fn package_extract_writes_psf_payloads_and_needs_the_psf() {
    let dir = real_or_skip!("package_extract_writes_psf_payloads_and_needs_the_psf");
    let (cab, psf, payloads) = kb2938772_as_psf(&dir);
    let tmp = tempfile::tempdir().unwrap();
    let cab_path = tmp.path().join("Windows8.1-KB2938772-x64.cab");
    std::fs::write(&cab_path, &cab).unwrap();
    let dest = tmp.path().join("out");

    let err = extract_path(&cab_path, &dest, Limits::default(), None).unwrap_err();
    assert!(matches!(err, Error::PsfMissing { .. }), "{err}");
    assert!(err.to_string().contains("Windows8.1-KB2938772-x64.psf"), "{err}");
    assert_eq!(entries(tmp.path()), ["Windows8.1-KB2938772-x64.cab"]);

    std::fs::write(tmp.path().join("Windows8.1-KB2938772-x64.psf"), &psf).unwrap();
    let r = extract_path(&cab_path, &dest, Limits::default(), None).unwrap();
    assert_eq!(r.packages[0].payloads, payloads);
    // The tree of the original cab, payload for payload.
    assert_eq!(check_tree(&dir.join(KB2938772), &dest), payloads);
    assert!(!dest.join("express.psf.cix.xml").exists());
}
