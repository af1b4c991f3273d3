//! `wimpatch package extract` on the real Microsoft packages (WIMPATCH_TESTDATA) and the synthetic
//! PSF express update: the payload tree written and verified (delta payloads expanded), and every
//! refusal or failure (a payload that cannot be expanded, a missing `.psf`) leaving nothing at DEST.

use std::path::Path;

use servicing::cbs::container::{Cabinet, Limits};

use crate::package::{payload_files, psf_package, verified_or_unsupported, write_psf_package, WINDOWS7_MSUS};
use crate::util::*;

fn json(args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&run_ok(args)).expect("JSON")
}

/// Every file under `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

/// Checks `dest` against what `package info` says of `package`: every payload at
/// `<key form>/<file>` with the manifest's SHA-256. Returns how many payloads.
fn check_payloads(package: &Path, dest: &Path) -> usize {
    let info = json(&["package", "info", "--json", package.to_str().unwrap()]);
    let mut n = 0;
    for c in info["components"].as_array().unwrap() {
        let keyform = c["keyform"].as_str().unwrap();
        for f in c["files"].as_array().unwrap() {
            let at = dest.join(keyform).join(f["name"].as_str().unwrap().replace('\\', "/"));
            assert!(at.is_file(), "{} missing", at.display());
            assert_eq!(sha256(&at), f["sha256"].as_str().unwrap(), "{}", at.display());
            n += 1;
        }
    }
    n
}

#[test]
fn real_cabs_extract_to_their_verified_payload_trees() {
    for (name, payloads) in [("Windows8.1-KB2938772-x64.cab", 3), ("Windows6.x-HyperVIntegrationServices-x64.cab", 47)]
    {
        let cab = real_or_skip!(name, "real_cabs_extract_to_their_verified_payload_trees");
        let work = Work::new();
        let dest = work.path("out");
        let v = json(&["package", "extract", "--json", cab.to_str().unwrap(), "--dest", dest.to_str().unwrap()]);
        assert_eq!(v["kind"], "cbs_cab", "{name}");
        assert_eq!(v["packages"][0]["payloads"], payloads, "{name}");
        assert_eq!(check_payloads(&cab, &dest), payloads, "{name}");
        // The manifests, .mum and .cat files sit at the root, one level above the payloads.
        let files = tree(&dest);
        assert_eq!(files.len() as u64, v["files"].as_u64().unwrap(), "{name}");
        assert!(files.iter().any(|f| f == "update.mum") && files.iter().any(|f| f == "update.cat"), "{files:?}");
        let manifests = files.iter().filter(|f| f.ends_with(".manifest")).collect::<Vec<_>>();
        assert!(!manifests.is_empty() && manifests.iter().all(|f| !f.contains('/')), "{manifests:?}");
        assert_eq!(names_in(work.dir.path()), ["out"], "{name}: no staging folder left");
    }
}

#[test]
fn an_existing_non_empty_dest_is_refused_and_left_alone() {
    let cab = real_or_skip!("Windows8.1-KB2938772-x64.cab", "an_existing_non_empty_dest_is_refused_and_left_alone");
    let work = Work::new();
    let dest = work.path("out");
    std::fs::create_dir(&dest).unwrap();
    std::fs::write(dest.join("mine.txt"), b"keep me").unwrap();
    let out = run(&["package", "extract", cab.to_str().unwrap(), "--dest", dest.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(dest.to_str().unwrap()) && err.contains("not empty"), "{err}");
    assert_eq!(names_in(&dest), ["mine.txt"]);
    assert_eq!(std::fs::read(dest.join("mine.txt")).unwrap(), b"keep me");
    assert_eq!(names_in(work.dir.path()), ["out"]);
}

#[test]
fn windows7_msus_extract_expanded_or_fail_naming_the_file() {
    for (name, _, _, _, total, _) in WINDOWS7_MSUS {
        let msu = real_or_skip!(name, "windows7_msus_extract_expanded_or_fail_naming_the_file");
        // What `package info` says decides what extract must do.
        let info = json(&["package", "info", "--json", msu.to_str().unwrap()]);
        let (_, unsupported) = verified_or_unsupported(&info["inner"][0]);
        let work = Work::new();
        let dest = work.path("out");
        let out = run(&["package", "extract", msu.to_str().unwrap(), "--dest", dest.to_str().unwrap(), "--json"]);
        let err = stderr(&out);
        if unsupported == 0 {
            assert!(out.status.success(), "{name}: {err}");
            let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(r["packages"][0]["payloads"], total, "{name}");
            assert_eq!(check_payloads(&msu, &dest), total, "{name}");
            assert_eq!(names_in(work.dir.path()), ["out"]);
        } else {
            assert_eq!(out.status.code(), Some(1), "{err}");
            let named = payload_files(&info["inner"][0]).into_iter().any(|(k, f)| {
                f["status"] == "unsupported" && err.contains(&format!("{k}\\{}", f["name"].as_str().unwrap()))
            });
            assert!(named && err.contains("cannot be expanded"), "{name}: {err}");
            assert!(names_in(work.dir.path()).is_empty(), "{name}: {:?}", names_in(work.dir.path()));
        }
    }
}

#[test]
fn psf_package_extracts_its_payloads_from_the_psf() {
    let p = psf_package(Default::default());
    let work = Work::new();
    let cab = write_psf_package(&work.path("updates"), &p, true);
    let dest = work.path("out");
    let r = json(&["package", "extract", cab.to_str().unwrap(), "--dest", dest.to_str().unwrap(), "--json"]);
    assert_eq!(r["packages"][0]["payloads"], p.payloads.len());
    // Every payload of the fixture, with its bytes, at `<key form>/<file>`.
    for payload in &p.payloads {
        let at = dest.join(payload.name.replace('\\', "/"));
        assert_eq!(std::fs::read(&at).unwrap(), payload.expanded, "{}", at.display());
    }
    assert_eq!(check_payloads(&cab, &dest), p.payloads.len());
    assert!(!dest.join("express.psf.cix.xml").exists());
}

#[test]
fn psf_package_extract_fails_without_its_psf_and_expands_a_pa31_entry() {
    let work = Work::new();
    let plain = psf_package(Default::default());
    let cab = write_psf_package(&work.path("no-psf"), &plain, false);
    let dest = work.path("out");
    let out = run(&["package", "extract", cab.to_str().unwrap(), "--dest", dest.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("{}.psf was not found", plain.stem)), "{err}");
    assert!(!dest.exists());

    // A baseless PA31 entry (24H2) expands to its file like the others.
    let pa31 = psf_package(fixtures::packages::PsfOptions { pa31_entry: true, ..Default::default() });
    let cab = write_psf_package(&work.path("pa31"), &pa31, true);
    let out = run(&["package", "extract", cab.to_str().unwrap(), "--dest", dest.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let last = pa31.payloads.last().unwrap();
    let (kf, file) = last.name.split_once('\\').unwrap();
    assert!(std::fs::read(dest.join(kf).join(file)).unwrap() == last.expanded, "{} expanded", last.name);
}

/// A stored (uncompressed) cabinet of `files`, one folder, no checksums: enough to carry a
/// tampered payload that decodes cleanly, so only its digest is wrong.
fn stored_cab(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let data: Vec<u8> = files.iter().flat_map(|(_, d)| d.iter().copied()).collect();
    let files_offset = 36 + 8;
    let table_len: usize = files.iter().map(|(n, _)| 17 + n.len()).sum();
    let data_offset = files_offset + table_len;
    let blocks: Vec<&[u8]> = data.chunks(32_768).collect();
    let total = data_offset + blocks.iter().map(|b| 8 + b.len()).sum::<usize>();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(b"MSCF");
    for v in [0u32, total as u32, 0, files_offset as u32, 0] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&[3, 1]);
    for v in [1u16, files.len() as u16, 0, 0, 0] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&(data_offset as u32).to_le_bytes());
    out.extend_from_slice(&(blocks.len() as u16).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    let mut offset = 0u32;
    for (name, bytes) in files {
        out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(&offset.to_le_bytes());
        out.extend_from_slice(&[0, 0, 0x21, 0x53, 0x00, 0x60, 0x20, 0x00]);
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        offset += bytes.len() as u32;
    }
    for block in blocks {
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(block.len() as u16).to_le_bytes());
        out.extend_from_slice(&(block.len() as u16).to_le_bytes());
        out.extend_from_slice(block);
    }
    assert_eq!(out.len(), total);
    out
}

#[test]
fn a_tampered_cab_fails_and_leaves_nothing_at_dest() {
    let cab = real_or_skip!("Windows8.1-KB2938772-x64.cab", "a_tampered_cab_fails_and_leaves_nothing_at_dest");
    let mut c = Cabinet::open(&cab, Limits::default()).unwrap();
    let mut members = Vec::new();
    for m in c.members().to_vec() {
        members.push((m.name.clone(), c.read_member(&m.name, 1 << 30).unwrap()));
    }
    let victim = members.iter_mut().find(|(n, _)| n.ends_with("\\netcfgx.dll")).unwrap();
    victim.1[100] ^= 0xff;
    let work = Work::new();
    let tampered = work.path("tampered.cab");
    std::fs::write(&tampered, stored_cab(&members)).unwrap();
    // Untampered, the same writer gives a cab that extracts: only the flipped byte fails it.
    let victim = members.iter_mut().find(|(n, _)| n.ends_with("\\netcfgx.dll")).unwrap();
    victim.1[100] ^= 0xff;
    let good = work.path("good.cab");
    std::fs::write(&good, stored_cab(&members)).unwrap();
    run_ok(&["package", "extract", good.to_str().unwrap(), "--dest", work.path("good").to_str().unwrap()]);

    let dest = work.path("out");
    let out = run(&["package", "extract", tampered.to_str().unwrap(), "--dest", dest.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("tampered.cab") && err.contains("netcfgx.dll") && err.contains("SHA-256 mismatch"), "{err}");
    assert!(!dest.exists(), "nothing at DEST");
    assert_eq!(names_in(work.dir.path()), ["good", "good.cab", "tampered.cab"], "no staging folder left");
}
