//! `wimpatch package info` on the real Microsoft packages (found through WIMPATCH_TESTDATA, default
//! ../shared/testdata) and on broken copies of them.

use std::path::PathBuf;

use servicing::cbs::container::{Cabinet, Limits, PackageSource};

use crate::util::*;

fn info_json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&run_ok(&["package", "info", "--json", path.to_str().unwrap()])).expect("JSON")
}

#[test]
fn kb2938772_cab_identity_kb_release_parents_and_verified_payloads() {
    let cab = real_or_skip!(
        "Windows8.1-KB2938772-x64.cab",
        "kb2938772_cab_identity_kb_release_parents_and_verified_payloads"
    );
    let v = info_json(&cab);
    assert_eq!(v["kind"], "cbs-cab");
    assert_eq!(v["identity"]["name"], "Package_for_KB2938772");
    assert_eq!(v["identity"]["version"], "6.3.1.0");
    assert_eq!(v["identity"]["arch"], "amd64");
    assert_eq!(v["identity"]["language"], "neutral");
    assert_eq!(v["identity"]["public_key_token"], "31bf3856ad364e35");
    assert_eq!(v["kb"], "KB2938772");
    assert_eq!(v["release_type"], "Update");
    assert_eq!(v["restart"], "possible");
    let alts = v["parents"][0]["alternatives"].as_array().unwrap();
    assert_eq!(alts.len(), 7);
    assert_eq!(
        alts[0],
        "Microsoft-Windows-Client-Features-Package-AutoMerged-net~31bf3856ad364e35~amd64~~6.3.9600.16384"
    );
    assert_eq!(v["parents"][0]["build_compare"], "EQ");
    assert_eq!(v["parents"][0]["service_compare"], "EQ");
    assert_eq!(v["packages"].as_array().unwrap().len(), 7);
    let files: Vec<&serde_json::Value> =
        v["components"].as_array().unwrap().iter().flat_map(|c| c["files"].as_array().unwrap()).collect();
    assert_eq!(files.len(), 3);
    assert!(files.iter().all(|f| f["verified"] == true), "{files:?}");
    assert_eq!(v["verified_files"], 3);
    assert!(files.iter().any(|f| f["name"] == "netcfgx.dll"));
}

#[test]
fn hyper_v_integration_services_cab_verifies_all_47_payloads() {
    let cab = real_or_skip!(
        "Windows6.x-HyperVIntegrationServices-x64.cab",
        "hyper_v_integration_services_cab_verifies_all_47_payloads"
    );
    let v = info_json(&cab);
    assert_eq!(v["kind"], "cbs-cab");
    assert_eq!(v["identity"]["name"], "Microsoft-Hyper-V-Integration-Services-Package");
    assert_eq!(v["identity"]["version"], "6.3.9600.19456");
    assert_eq!(v["kb"], "KB4072650");
    assert_eq!(v["release_type"], "Update");
    assert_eq!(v["restart"], "required");
    assert_eq!(v["components"].as_array().unwrap().len(), 15);
    assert_eq!(v["verified_files"], 47);
}

#[test]
fn windows7_msus_are_msus_whose_payloads_are_pa30_deltas() {
    for (name, kb, parents, pa30) in
        [("Windows6.1-KB2584475-x64.msu", "KB2584475", 8, 12), ("Windows6.1-KB2465285-x64.msu", "KB2465285", 4, 12)]
    {
        let msu = real_or_skip!(name, "windows7_msus_are_msus_whose_payloads_are_pa30_deltas");
        let v = info_json(&msu);
        assert_eq!(v["kind"], "msu", "{name}");
        assert_eq!(v["kb"], kb);
        assert_eq!(v["identity"]["name"], format!("Package_for_{kb}"));
        assert_eq!(v["identity"]["version"], "6.1.1.0");
        assert_eq!(v["release_type"], "Hotfix");
        assert_eq!(v["parents"][0]["alternatives"].as_array().unwrap().len(), parents, "{name}");
        assert_eq!(v["delta"]["by_format"]["PA30"], pa30, "{name}");
        let inner = &v["inner"][0];
        assert_eq!(inner["kind"], "cbs-cab");
        let files: Vec<&serde_json::Value> =
            inner["components"].as_array().unwrap().iter().flat_map(|c| c["files"].as_array().unwrap()).collect();
        assert!(!files.is_empty());
        assert!(files.iter().all(|f| f["status"] == "delta" && f["verified"].is_null()), "{name}: {files:?}");
    }
}

/// Unpacks a real cab into a package folder through the container reader.
fn unpack(cab: &std::path::Path, dest: &std::path::Path) {
    let mut c = Cabinet::open(cab, Limits::default()).unwrap();
    for e in c.list().unwrap() {
        let bytes = c.read(&e.path, 1 << 30).unwrap();
        let out = dest.join(&e.path);
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        std::fs::write(out, bytes).unwrap();
    }
}

#[test]
fn a_tampered_payload_fails_with_both_digests_named() {
    let cab = real_or_skip!("Windows8.1-KB2938772-x64.cab", "a_tampered_payload_fails_with_both_digests_named");
    let work = Work::new();
    let dir = work.path("pkg");
    unpack(&cab, &dir);
    let v = info_json(&dir);
    assert_eq!(v["kind"], "package-folder");
    assert_eq!(v["verified_files"], 3);
    let victim = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir() && p.join("netcfgx.dll").exists())
        .expect("payload folder")
        .join("netcfgx.dll");
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(&victim, &bytes).unwrap();
    let out = run(&["package", "info", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("netcfgx.dll") && err.contains("SHA-256 mismatch"), "{err}");
    assert!(err.contains("the manifest says") && err.contains("the file has"), "{err}");
}

#[test]
fn a_truncated_cab_fails_naming_the_file() {
    let cab = real_or_skip!("Windows8.1-KB2938772-x64.cab", "a_truncated_cab_fails_naming_the_file");
    let work = Work::new();
    let bytes = std::fs::read(&cab).unwrap();
    for cut in [40usize, 2000, bytes.len() / 2] {
        let t = work.path(&format!("cut{cut}.cab"));
        std::fs::write(&t, &bytes[..cut]).unwrap();
        let out = run(&["package", "info", t.to_str().unwrap()]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "cut {cut}: {err}");
        assert!(err.contains(&format!("cut{cut}.cab")), "cut {cut}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn unsupported_inputs_are_classified_with_a_reason() {
    let work = Work::new();
    let exe = work.path("setup.exe");
    let mut mz = b"MZ".to_vec();
    mz.extend(noise(1, 4000));
    std::fs::write(&exe, mz).unwrap();
    let v = info_json(&exe);
    assert_eq!(v["kind"], "unsupported");
    assert!(
        v["reason"].as_str().unwrap().to_lowercase().contains("exe")
            || v["reason"].as_str().unwrap().contains("executable"),
        "{v}"
    );
    let msi = work.path("product.msi");
    let mut ole = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    ole.extend(noise(2, 4000));
    std::fs::write(&msi, ole).unwrap();
    let v = info_json(&msi);
    assert_eq!(v["kind"], "unsupported");
}

/// A WIM-format MSU as Microsoft builds them (one uncompressed image named "content" holding the
/// MSU's files), around the real KB2938772 cab.
fn wim_msu(work: &Work, cab: &std::path::Path) -> PathBuf {
    let content = work.path("content");
    std::fs::create_dir_all(&content).unwrap();
    std::fs::copy(cab, content.join("Windows8.1-KB2938772-x64.cab")).unwrap();
    // Not read by the package reader; present because every MSU carries one.
    std::fs::write(content.join("WSUSSCAN.cab"), noise(3, 2000)).unwrap();
    std::fs::write(
        content.join("Windows8.1-KB2938772-x64-pkgProperties.txt"),
        "KB Article Number=\"2938772\"\r\nPackage Type=\"Update\"\r\nProcessor Architecture=\"amd64\"\r\n",
    )
    .unwrap();
    let msu = work.path("Windows8.1-KB2938772-x64.msu");
    imagex(&["capture", content.to_str().unwrap(), msu.to_str().unwrap(), "content", "--compress=none"]);
    msu
}

#[test]
fn wim_format_msu_reads_like_the_classic_msu() {
    let cab = real_or_skip!("Windows8.1-KB2938772-x64.cab", "wim_format_msu_reads_like_the_classic_msu");
    let work = Work::new();
    let msu = wim_msu(&work, &cab);
    assert_eq!(&std::fs::read(&msu).unwrap()[..8], b"MSWIM\0\0\0");
    let v = info_json(&msu);
    assert_eq!(v["kind"], "wim-msu");
    assert!(v["reason"].is_null(), "{v}");
    assert_eq!(v["kb"], "KB2938772");
    assert_eq!(v["identity"]["name"], "Package_for_KB2938772");
    assert_eq!(v["identity"]["version"], "6.3.1.0");
    assert_eq!(v["release_type"], "Update");
    assert_eq!(v["parents"][0]["alternatives"].as_array().unwrap().len(), 7);
    // The inner package is the cab, read as if on its own: same identity, components, verified files.
    let inner = &v["inner"][0];
    assert_eq!(inner["kind"], "cbs-cab");
    assert_eq!(inner["path"], format!("{}!Windows8.1-KB2938772-x64.cab", msu.display()));
    assert_eq!(inner["verified_files"], 3);
    let alone = info_json(&cab);
    for field in
        ["identity", "identity_string", "kb", "parents", "packages", "components", "catalogs", "verified_files"]
    {
        assert_eq!(inner[field], alone[field], "{field}");
    }
    assert_eq!(v["components"], alone["components"]);
    // The scratch copies of the WIM's files are gone afterwards.
    let scratch = work.path("scratch");
    run_ok(&["package", "info", "--scratch-dir", scratch.to_str().unwrap(), msu.to_str().unwrap()]);
    assert_eq!(std::fs::read_dir(&scratch).unwrap().count(), 0);

    // And it extracts (one inner package: flat).
    let dest = work.path("out");
    run_ok(&["package", "extract", msu.to_str().unwrap(), "--dest", dest.to_str().unwrap()]);
    assert!(dest.join("update.mum").is_file());
    let netcfgx = std::fs::read_dir(&dest)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir() && p.join("netcfgx.dll").is_file())
        .expect("payload folder");
    assert!(netcfgx.file_name().unwrap().to_str().unwrap().contains("_31bf3856ad364e35_"));
}
