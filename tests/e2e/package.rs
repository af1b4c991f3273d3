//! `wimpatch package info` on the real Microsoft packages (found through WIMPATCH_TESTDATA, default
//! ../shared/testdata) and on broken copies of them: plain payloads verified, the Windows 7 MSUs'
//! PA30 payloads expanded and verified (or reported unsupported, with the reason), and the
//! synthetic PSF express update's payloads read from its `.psf`.

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
    assert_eq!(v["kind"], "cbs_cab");
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
    assert_eq!(v["kind"], "cbs_cab");
    assert_eq!(v["identity"]["name"], "Microsoft-Hyper-V-Integration-Services-Package");
    assert_eq!(v["identity"]["version"], "6.3.9600.19456");
    assert_eq!(v["kb"], "KB4072650");
    assert_eq!(v["release_type"], "Update");
    assert_eq!(v["restart"], "required");
    assert_eq!(v["components"].as_array().unwrap().len(), 15);
    assert_eq!(v["verified_files"], 47);
}

/// The delta payloads of each Windows 7 MSU: (MSU, KB, parent alternatives, PA30 members, payload
/// files, how many expanded when this test was written: a floor, so the test holds as more do).
pub const WINDOWS7_MSUS: [(&str, &str, usize, usize, usize, usize); 2] = [
    ("Windows6.1-KB2584475-x64.msu", "KB2584475", 8, 12, 12, 12),
    ("Windows6.1-KB2465285-x64.msu", "KB2465285", 4, 12, 16, 16),
];

/// Every payload file of a `package info --json` object: (key form, file).
pub fn payload_files(v: &serde_json::Value) -> Vec<(String, &serde_json::Value)> {
    let components = v["components"].as_array().unwrap();
    components
        .iter()
        .flat_map(|c| c["files"].as_array().unwrap().iter().map(|f| (c["keyform"].as_str().unwrap().to_owned(), f)))
        .collect()
}

/// Each payload is either verified (the expanded bytes' SHA-256 equal to the manifest's digest,
/// where it gives one) or unsupported with a reason; returns (verified, unsupported).
pub fn verified_or_unsupported(v: &serde_json::Value) -> (usize, usize) {
    let (mut verified, mut unsupported) = (0, 0);
    for (keyform, f) in payload_files(v) {
        match f["status"].as_str().unwrap() {
            "verified" => {
                assert_eq!(f["verified"], true, "{keyform}: {f}");
                if !f["sha256"].is_null() {
                    assert_eq!(f["expanded_sha256"], f["sha256"], "{keyform}: {f}");
                    assert_eq!(f["verified_by"], "manifest SHA-256", "{keyform}: {f}");
                }
                verified += 1;
            }
            "unsupported" => {
                assert!(!f["reason"].as_str().unwrap().is_empty(), "{keyform}: {f}");
                assert!(f["verified"].is_null(), "{keyform}: {f}");
                unsupported += 1;
            }
            other => panic!("{keyform}: {other}: {f}"),
        }
    }
    (verified, unsupported)
}

#[test]
fn windows7_msus_expand_and_verify_their_pa30_payloads() {
    for (name, kb, parents, pa30, total, today) in WINDOWS7_MSUS {
        let msu = real_or_skip!(name, "windows7_msus_expand_and_verify_their_pa30_payloads");
        let v = info_json(&msu);
        assert_eq!(v["kind"], "msu", "{name}");
        assert_eq!(v["kb"], kb);
        assert_eq!(v["identity"]["name"], format!("Package_for_{kb}"));
        assert_eq!(v["identity"]["version"], "6.1.1.0");
        assert_eq!(v["release_type"], "Hotfix");
        assert_eq!(v["parents"][0]["alternatives"].as_array().unwrap().len(), parents, "{name}");
        assert_eq!(v["delta"]["by_format"]["PA30"], pa30, "{name}");
        let inner = &v["inner"][0];
        assert_eq!(inner["kind"], "cbs_cab");
        let (verified, unsupported) = verified_or_unsupported(inner);
        assert_eq!(verified + unsupported, total, "{name}");
        assert!(verified >= today, "{name}: {verified} verified, {today} when this test was written");
        assert_eq!(inner["verified_files"], verified, "{name}");
        assert_eq!(inner["delta"]["verified"], verified, "{name}");
        assert_eq!(inner["delta"]["unsupported"], unsupported, "{name}");
        let summary = inner["delta"]["expansion"].as_str().unwrap();
        assert!(summary.starts_with(&format!("{verified} expanded and verified")), "{summary}");

        // The text output says the same.
        let text = run_ok(&["package", "info", msu.to_str().unwrap()]);
        assert!(text.contains(summary), "{text}");
        assert_eq!(text.matches("Unsupported  :").count(), 2 * unsupported, "{text}");
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
    assert_eq!(v["kind"], "package_folder");
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
pub(crate) fn wim_msu(work: &Work, cab: &std::path::Path) -> PathBuf {
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
    assert_eq!(v["kind"], "wim_msu");
    assert!(v["reason"].is_null(), "{v}");
    assert_eq!(v["kb"], "KB2938772");
    assert_eq!(v["identity"]["name"], "Package_for_KB2938772");
    assert_eq!(v["identity"]["version"], "6.3.1.0");
    assert_eq!(v["release_type"], "Update");
    assert_eq!(v["parents"][0]["alternatives"].as_array().unwrap().len(), 7);
    // The inner package is the cab, read as if on its own: same identity, components, verified files.
    let inner = &v["inner"][0];
    assert_eq!(inner["kind"], "cbs_cab");
    assert_eq!(inner["input"], format!("{}!Windows8.1-KB2938772-x64.cab", msu.display()));
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

/// The synthetic PSF express cumulative update (all payloads RAW ranges of the `.psf`), and a
/// copy whose last payload is a `PA31` entry.
pub fn psf_package(options: fixtures::packages::PsfOptions) -> fixtures::packages::PsfPackage {
    use fixtures::packages::psf_cumulative_update;
    use fixtures::packages::updates::Lcu;
    use fixtures::profile::Profile;
    psf_cumulative_update(&Profile::win10_amd64(), &Lcu::monthly(5_000_006, 600), &[], options).expect("PSF package")
}

/// Writes `<stem>.cab` (and `<stem>.psf` when `with_psf`) into `dir`; returns the cab.
pub fn write_psf_package(dir: &std::path::Path, p: &fixtures::packages::PsfPackage, with_psf: bool) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let cab = dir.join(format!("{}.cab", p.stem));
    std::fs::write(&cab, &p.cab).unwrap();
    if with_psf {
        std::fs::write(dir.join(format!("{}.psf", p.stem)), &p.psf).unwrap();
    }
    cab
}

#[test]
fn psf_package_payloads_are_verified_from_the_psf_beside_the_cab() {
    let p = psf_package(Default::default());
    let work = Work::new();
    let cab = write_psf_package(&work.path("updates"), &p, true);
    let v = info_json(&cab);
    let (verified, unsupported) = verified_or_unsupported(&v);
    assert_eq!((verified, unsupported), (p.payloads.len(), 0));
    assert!(verified > 0);
    assert_eq!(v["verified_files"], verified);
    assert_eq!(v["psf"]["index"], "express.psf.cix.xml");
    assert_eq!(v["psf"]["psf_found"], true);
    assert!(v["psf"]["psf"].as_str().unwrap().ends_with(&format!("{}.psf", p.stem)), "{}", v["psf"]);
    assert_eq!(v["psf"]["expansion"], format!("{verified} expanded and verified"));
    // Each file is the fixture's payload.
    for (keyform, f) in payload_files(&v) {
        let name = format!("{keyform}\\{}", f["name"].as_str().unwrap());
        let want = p.payloads.iter().find(|x| x.name.eq_ignore_ascii_case(&name)).expect("a payload of the fixture");
        assert_eq!(f["expanded_sha256"].as_str().unwrap(), sha256_hex(&want.expanded), "{name}");
    }

    // The folder holding cab and .psf is one package.
    let v = info_json(&work.path("updates"));
    assert_eq!(v["verified_files"], verified, "{v}");

    // In a combined MSU, the .psf member of the same stem.
    let ssu = fixtures::packages::updates::servicing_stack_update(
        &fixtures::profile::Profile::win10_amd64(),
        5_000_106,
        170,
        fixtures::packages::PayloadSize::Tiny,
    )
    .unwrap();
    let ssu_name = "SSU-19041.170-x64.cab".to_owned();
    let ssu_cab = ssu.cab(&ssu_name, fixtures::packages::Compression::MsZip).unwrap();
    let msu = work.path(&format!("{}.msu", p.stem));
    std::fs::write(&msu, p.combined_msu((ssu_name, ssu_cab)).unwrap()).unwrap();
    let v = info_json(&msu);
    let lcu = v["inner"].as_array().unwrap().last().unwrap();
    assert_eq!(verified_or_unsupported(lcu), (verified, 0));
    assert_eq!(lcu["psf"]["psf_found"], true);
    assert!(lcu["psf"]["psf"].as_str().unwrap().ends_with(&format!("!{}.psf", p.stem)), "{}", lcu["psf"]);
}

#[test]
fn psf_package_without_its_psf_is_reported_not_failed() {
    let p = psf_package(Default::default());
    let work = Work::new();
    let cab = write_psf_package(&work.path("updates"), &p, false);
    let v = info_json(&cab);
    let files = payload_files(&v);
    assert_eq!(files.len(), p.payloads.len());
    assert!(files.iter().all(|(_, f)| f["status"] == "delta" && f["verified"].is_null()), "{files:?}");
    assert_eq!(v["psf"]["psf_found"], false);
    let note = v["psf"]["expansion"].as_str().unwrap();
    assert!(note.contains(&format!("{}.psf was not found", p.stem)), "{note}");
    let text = run_ok(&["package", "info", cab.to_str().unwrap()]);
    assert!(text.contains(note), "{text}");
}

/// Regression: `package info` reported a `.psf` entry stored as baseless PA31 (the 24H2 form)
/// "unsupported: PA31"; it is verified like the others now.
#[test]
fn psf_package_info_reported_baseless_pa31_entries_unsupported() {
    let p = psf_package(fixtures::packages::PsfOptions { pa31_entry: true, ..Default::default() });
    let work = Work::new();
    let cab = write_psf_package(&work.path("updates"), &p, true);
    let v = info_json(&cab);
    assert_eq!(verified_or_unsupported(&v), (p.payloads.len(), 0));
    let last = &p.payloads.last().unwrap().name;
    let (_, f) = payload_files(&v)
        .into_iter()
        .find(|(k, f)| format!("{k}\\{}", f["name"].as_str().unwrap()).eq_ignore_ascii_case(last))
        .unwrap();
    assert_eq!(f["status"], "verified", "{f}");
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Regression (issue 12): one bad delta made `package info` fail without a report. Now the report
/// is printed with the bad file `failed` (and its reason), every other payload verified, and the
/// exit status is 1.
#[test]
fn a_corrupt_delta_is_reported_failed_with_the_others_verified_and_exit_1() {
    let msu = real_or_skip!(
        "Windows6.1-KB2465285-x64.msu",
        "a_corrupt_delta_is_reported_failed_with_the_others_verified_and_exit_1"
    );
    let work = Work::new();
    let dir = work.path("pkg");
    // The MSU's inner cab unpacked into a package folder, one PA30 member no other file is made
    // from damaged in the middle.
    let mut m = servicing::cbs::container::Msu::open(&msu, Limits::default()).unwrap();
    let inner = m.inner_cab_names()[0].clone();
    let mut cab = m.open_inner(&inner, None).unwrap();
    for e in cab.list().unwrap() {
        let out = dir.join(&e.path);
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        std::fs::write(out, cab.read(&e.path, 1 << 30).unwrap()).unwrap();
    }
    let index =
        servicing::cbs::cix::ContainerIndex::parse(&std::fs::read(dir.join("_manifest_.cix.xml")).unwrap(), "cix")
            .unwrap();
    let (file, member) = index.leaf_delta().expect("a PA30 file no other is made from");
    let (victim, member) = (file.name.clone(), member.to_owned());
    let path = dir.join(&member);
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle..middle + 16].iter_mut().for_each(|b| *b ^= 0x5a);
    std::fs::write(&path, bytes).unwrap();

    let out = run(&["package", "info", "--json", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the report is printed");
    let files = payload_files(&v);
    let statuses: Vec<(&String, &str)> = files.iter().map(|(k, f)| (k, f["status"].as_str().unwrap())).collect();
    let failed: Vec<_> = files.iter().filter(|(_, f)| f["status"] == "failed").collect();
    assert_eq!(failed.len(), 1, "{statuses:?}");
    let (keyform, f) = failed[0];
    assert!(victim.to_ascii_lowercase().starts_with(&keyform.to_ascii_lowercase()), "{victim} vs {keyform}");
    assert!(!f["reason"].as_str().unwrap().is_empty(), "{f}");
    assert_eq!(files.iter().filter(|(_, f)| f["status"] == "verified").count(), 15, "{statuses:?}");
    assert_eq!(v["failed_files"], 1);
    assert!(stderr(&out).contains("failed to expand"), "{}", stderr(&out));

    // The text report names the file and the reason.
    let out = run(&["package", "info", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("Failed       :").count(), 1, "{text}");
}

/// `package info` on the real test data folder exited 1: its README.md was "unreadable: not a
/// cabinet file". A file that does not claim to be a package (by name) and has no known package
/// type is reported not supported, as DISM does; a `.cab` of no known type is still broken.
#[test]
fn a_readme_beside_the_packages_is_not_supported_not_broken() {
    let cab = real_or_skip!("Windows8.1-KB2938772-x64.cab", "a_readme_beside_the_packages_is_not_supported_not_broken");
    let work = Work::new();
    let dir = work.path("updates");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(&cab, dir.join("Windows8.1-KB2938772-x64.cab")).unwrap();
    std::fs::write(dir.join("README.md"), "# updates of December\n").unwrap();
    let v = info_json(&dir);
    let list = v.as_array().cloned().unwrap_or_else(|| v["packages"].as_array().cloned().unwrap_or_default());
    let readme = list.iter().find(|p| p["input"].as_str().is_some_and(|s| s.ends_with("README.md"))).expect("README");
    assert_eq!(readme["kind"], "unsupported", "{readme}");
    assert!(readme["reason"].as_str().unwrap().contains(".md file"), "{readme}");
    // A file named like a package that is not one stays a failure.
    std::fs::write(dir.join("Windows8.1-KB9999999-x64.cab"), "# not a cabinet\n").unwrap();
    let out = run(&["package", "info", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("KB9999999-x64.cab"), "{}", stderr(&out));
}
