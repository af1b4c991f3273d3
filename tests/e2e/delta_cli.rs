//! `wimpatch delta info|apply|create|reverse` and `manifest decode` on real Microsoft deltas and
//! DCM manifests: results byte-exact, `--json` everywhere, and on bad input exit 1 with the file
//! named and nothing written (an output path holding a symlink is replaced, never written through).

use std::path::{Path, PathBuf};

use crate::util::{real_delta, run, run_json, run_ok, stderr, Work};

macro_rules! delta_or_skip {
    ($test:expr) => {
        match real_delta($test) {
            Some(p) => p,
            None => return,
        }
    };
}

fn s(p: &Path) -> String {
    p.to_str().expect("utf-8 path").to_owned()
}

fn json(args: &[&str]) -> serde_json::Value {
    let mut owned: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    owned.push("--json".into());
    run_json(&owned)
}

#[test]
fn delta_info_names_flags_hash_codec_and_crc_prefix() {
    let d = delta_or_skip!("delta_info_names_flags_hash_codec_and_crc_prefix");
    let delta = d.join("pe-decode/amd64_kbdwol/delta.pa30");
    let v = json(&["delta", "info", &s(&delta)]);
    assert_eq!(v["magic"], "PA30");
    assert_eq!(v["file_type_names"], serde_json::json!(["AMD64"]));
    assert!(v["flag_names"].as_array().unwrap().iter().any(|f| f == "AMD64_PDATA"), "{v}");
    assert_eq!(v["hash_algorithm"], "SHA256");
    assert_eq!(v["target_hash"], "0a42bd4c01908b13fa02449d3394e332ca82f95f39a77cb683bbf852614d3232");
    assert_eq!(v["codec"], "PseudoLZX");
    assert!(v["crc_prefix"].is_null());
    // The same delta with the CRC32 prefix of MSUs and WinSxS.
    let work = Work::new();
    let bytes = std::fs::read(&delta).unwrap();
    let mut prefixed = servicing::cbs::delta::crc32(&bytes).to_le_bytes().to_vec();
    prefixed.extend_from_slice(&bytes);
    let p = work.path("prefixed.pa30");
    std::fs::write(&p, &prefixed).unwrap();
    let v = json(&["delta", "info", &s(&p)]);
    assert_eq!(v["crc_prefix"].as_str().unwrap().len(), 8);
    let text = run_ok(&["delta", "info", &s(&p)]);
    assert!(text.contains("AMD64_DISASM") && text.contains("SHA256"), "{text}");
}

#[test]
fn delta_create_then_apply_gives_the_target() {
    let d = delta_or_skip!("delta_create_then_apply_gives_the_target");
    let work = Work::new();
    let source = d.join("msdelta-created/sources/advapi32_old.dll");
    let target = d.join("msdelta-created/sources/advapi32_new.dll");
    for (format, hash) in [("pa30", "sha256"), ("pa31", "sha256"), ("pa30", "none")] {
        let delta = work.path(&format!("advapi32.{format}.{hash}"));
        let out = work.path(&format!("advapi32.{format}.{hash}.dll"));
        let v = json(&[
            "delta",
            "create",
            "--source",
            &s(&source),
            "--target",
            &s(&target),
            "--out",
            &s(&delta),
            "--format",
            format,
            "--hash",
            hash,
        ]);
        assert_eq!(v["action"], "created");
        let info = json(&["delta", "info", &s(&delta)]);
        assert_eq!(info["magic"], format.to_uppercase());
        assert_eq!(info["hash_algorithm"].is_null(), hash == "none");
        run_ok(&["delta", "apply", &s(&delta), "--source", &s(&source), "--out", &s(&out)]);
        assert!(std::fs::read(&out).unwrap() == std::fs::read(&target).unwrap(), "{format} {hash}");
    }
    // Our delta is within 2x of the genuine one (PE transforms included there).
    let genuine = std::fs::metadata(d.join("msdelta-created/genuine/advapi32_pe_genuine.pa30")).unwrap().len();
    let ours = std::fs::metadata(work.path("advapi32.pa30.sha256")).unwrap().len();
    assert!(ours <= 2 * genuine, "{ours} > 2 x {genuine}");
    // No --source: the null source (plain compression).
    let packed = work.path("where.pa30");
    let empty = work.path("empty");
    std::fs::write(&empty, b"").unwrap();
    let where_ = d.join("msdelta-created/sources/where.exe");
    run_ok(&["delta", "create", "--source", &s(&empty), "--target", &s(&where_), "--out", &s(&packed)]);
    let unpacked = work.path("where.exe");
    run_ok(&["delta", "apply", &s(&packed), "--out", &s(&unpacked)]);
    assert!(std::fs::read(&unpacked).unwrap() == std::fs::read(&where_).unwrap());
}

#[test]
fn delta_apply_of_genuine_deltas_is_byte_exact() {
    let d = delta_or_skip!("delta_apply_of_genuine_deltas_is_byte_exact");
    let work = Work::new();
    for (delta, source, target) in [
        ("pe-decode/amd64_kbdwol/delta.pa30", "pe-decode/amd64_kbdwol/base.bin", "pe-decode/amd64_kbdwol/target.bin"),
        (
            "msdelta-created/cmd__to__where__raw.pa30",
            "msdelta-created/sources/cmd.exe",
            "msdelta-created/sources/where.exe",
        ),
    ] {
        let out = work.path("out.bin");
        let _ = std::fs::remove_file(&out);
        run_ok(&["delta", "apply", &s(&d.join(delta)), "--source", &s(&d.join(source)), "--out", &s(&out)]);
        assert!(std::fs::read(&out).unwrap() == std::fs::read(d.join(target)).unwrap(), "{delta}");
    }
}

#[test]
fn delta_reverse_then_apply_on_the_target_gives_the_source() {
    let d = delta_or_skip!("delta_reverse_then_apply_on_the_target_gives_the_source");
    let work = Work::new();
    let source = d.join("msdelta-created/sources/advapi32_old.dll");
    let reverse = work.path("advapi32.r.pa30");
    let new = work.path("advapi32_new.dll");
    let v = json(&[
        "delta",
        "reverse",
        &s(&d.join("msdelta-created/genuine/advapi32_pe_genuine.pa30")),
        "--source",
        &s(&source),
        "--out",
        &s(&reverse),
        "--target",
        &s(&new),
    ]);
    assert_eq!(v["action"], "reversed");
    assert!(std::fs::read(&new).unwrap() == std::fs::read(d.join("msdelta-created/sources/advapi32_new.dll")).unwrap());
    let old = work.path("advapi32_old.dll");
    run_ok(&["delta", "apply", &s(&reverse), "--source", &s(&new), "--out", &s(&old)]);
    assert!(std::fs::read(&old).unwrap() == std::fs::read(&source).unwrap());
}

#[test]
fn delta_bad_input_exits_1_and_writes_nothing() {
    let d = delta_or_skip!("delta_bad_input_exits_1_and_writes_nothing");
    let work = Work::new();
    let delta = d.join("pe-decode/amd64_kbdwol/delta.pa30");
    // The wrong source: the target hash does not match, nothing is written.
    let out = work.path("out.dll");
    let wrong = d.join("msdelta-created/sources/where.exe");
    let r = run(&["delta", "apply", &s(&delta), "--source", &s(&wrong), "--out", &s(&out)]);
    assert_eq!(r.status.code(), Some(1), "{}", stderr(&r));
    assert!(stderr(&r).contains("delta.pa30"), "{}", stderr(&r));
    assert!(!out.exists());
    // Not a delta at all.
    let junk = work.path("junk.pa30");
    std::fs::write(&junk, b"this is not a delta").unwrap();
    for args in [
        vec!["delta", "info", junk.to_str().unwrap()],
        vec!["delta", "apply", junk.to_str().unwrap(), "--out", out.to_str().unwrap()],
    ] {
        let r = run(&args);
        assert_eq!(r.status.code(), Some(1));
        assert!(stderr(&r).contains("junk.pa30"), "{}", stderr(&r));
    }
    assert!(!out.exists());
    let leftovers: Vec<_> = std::fs::read_dir(work.dir.path()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");
}

#[test]
fn delta_output_symlink_is_replaced_not_followed() {
    let d = delta_or_skip!("delta_output_symlink_is_replaced_not_followed");
    let work = Work::new();
    let victim = work.path("victim");
    std::fs::write(&victim, b"keep me").unwrap();
    let link = work.path("out.exe");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let cmd = d.join("msdelta-created/sources/cmd.exe");
    // A failing run leaves the link and its target alone.
    let r = run(&[
        "delta",
        "apply",
        &s(&d.join("pe-decode/amd64_kbdwol/delta.pa30")),
        "--source",
        &s(&cmd),
        "--out",
        &s(&link),
    ]);
    assert_eq!(r.status.code(), Some(1));
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    // A successful one replaces the link with the file; the link's target is untouched.
    run_ok(&[
        "delta",
        "apply",
        &s(&d.join("msdelta-created/cmd__to__where__raw.pa30")),
        "--source",
        &s(&cmd),
        "--out",
        &s(&link),
    ]);
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep me");
    assert!(!std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert!(std::fs::read(&link).unwrap() == std::fs::read(d.join("msdelta-created/sources/where.exe")).unwrap());
}

fn dcm_manifests(d: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(d.join("dcm"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "manifest"))
        .collect();
    v.sort();
    v
}

fn check_decoded(report: &serde_json::Value, count: usize) {
    let list = report["manifests"].as_array().unwrap();
    assert_eq!(list.len(), count);
    for m in list {
        assert_eq!(m["kind"], "DCM");
        assert_eq!(m["name_matches_key_form"], true, "{m}");
        let out = m["out"].as_str().unwrap();
        let xml = std::fs::read_to_string(out).unwrap();
        assert!(xml.contains(m["key_form"].as_str().unwrap().split('_').nth(2).unwrap()), "{out}");
    }
}

#[test]
fn manifest_decode_with_a_base_file_and_a_wcp_dll() {
    let d = delta_or_skip!("manifest_decode_with_a_base_file_and_a_wcp_dll");
    let work = Work::new();
    let base = d.join("dcm/base_manifest.bin");
    let manifests = dcm_manifests(&d);
    // One manifest, no --out-dir: the XML on stdout.
    let xml = run_ok(&["manifest", "decode", &s(&manifests[0]), "--base", &s(&base)]);
    assert!(xml.contains("<assemblyIdentity") && xml.to_lowercase().contains("microsoft-windows-core"), "{xml}");
    // All four into a folder, base from a file.
    let out = work.path("by-base");
    let mut args = vec!["manifest".to_owned(), "decode".into(), "--base".into(), s(&base), "--out-dir".into(), s(&out)];
    args.extend(manifests.iter().map(|p| s(p)));
    args.push("--json".into());
    check_decoded(&run_json(&args), 4);
    // The same through a wcp.dll-shaped PE holding the base as resource 0x266/1.
    let dll = work.path("wcp.dll");
    std::fs::write(&dll, fixtures::wcp_dll::wcp_dll(&std::fs::read(&base).unwrap())).unwrap();
    let out = work.path("by-dll");
    let mut args =
        vec!["manifest".to_owned(), "decode".into(), "--wcp-dll".into(), s(&dll), "--out-dir".into(), s(&out)];
    args.extend(manifests.iter().map(|p| s(p)));
    args.push("--json".into());
    check_decoded(&run_json(&args), 4);
}

#[test]
fn manifest_decode_with_the_base_from_an_image() {
    let d = delta_or_skip!("manifest_decode_with_the_base_from_an_image");
    let work = Work::new();
    let base = std::fs::read(d.join("dcm/base_manifest.bin")).unwrap();
    // An image whose servicing stack holds the wcp.dll; an older stack with a useless one too.
    let root = work.path("root");
    let sxs = root.join("Windows/WinSxS");
    let new = sxs.join("amd64_microsoft-windows-servicingstack_31bf3856ad364e35_10.0.26100.1150_none_0123456789abcdef");
    let old = sxs.join("amd64_microsoft-windows-servicingstack_31bf3856ad364e35_10.0.26100.1_none_fedcba9876543210");
    std::fs::create_dir_all(&new).unwrap();
    std::fs::create_dir_all(&old).unwrap();
    std::fs::write(new.join("wcp.dll"), fixtures::wcp_dll::wcp_dll(&base)).unwrap();
    std::fs::write(old.join("wcp.dll"), fixtures::wcp_dll::wcp_dll(b"not the base")).unwrap();
    let wim = work.path("image.wim");
    crate::util::imagex(&["capture", &s(&root), &s(&wim), "Windows"]);
    let out = work.path("by-image");
    let mut args = vec![
        "manifest".to_owned(),
        "decode".into(),
        "--image".into(),
        s(&wim),
        "--index".into(),
        "1".into(),
        "--out-dir".into(),
        s(&out),
        "--scratch-dir".into(),
        s(&work.path("scratch")),
    ];
    args.extend(dcm_manifests(&d).iter().map(|p| s(p)));
    args.push("--json".into());
    let report = run_json(&args);
    assert!(report["base"].as_str().unwrap().contains("10.0.26100.1150"), "{report}");
    check_decoded(&report, 4);
}

#[test]
fn manifest_decode_bad_input_exits_1_and_writes_nothing() {
    let d = delta_or_skip!("manifest_decode_bad_input_exits_1_and_writes_nothing");
    let work = Work::new();
    let manifests = dcm_manifests(&d);
    // A wrong base: nothing decodes to the manifest; nothing is written.
    let wrong = work.path("wrong.bin");
    std::fs::write(&wrong, vec![b'x'; 9066]).unwrap();
    let out = work.path("out");
    let mut args =
        vec!["manifest".to_owned(), "decode".into(), "--base".into(), s(&wrong), "--out-dir".into(), s(&out)];
    args.extend(manifests.iter().map(|p| s(p)));
    let r = crate::util::run_owned(&args);
    assert_eq!(r.status.code(), Some(1), "{}", stderr(&r));
    assert!(stderr(&r).contains(".manifest"), "{}", stderr(&r));
    assert!(!out.exists());
    // A wcp.dll that is not a PE, and a PE without the resource.
    let not_pe = work.path("wcp.dll");
    std::fs::write(&not_pe, b"MZ but nothing else").unwrap();
    let r = run(&["manifest", "decode", &s(&manifests[0]), "--wcp-dll", &s(&not_pe)]);
    assert_eq!(r.status.code(), Some(1));
    assert!(stderr(&r).contains("wcp.dll"), "{}", stderr(&r));
    let other = work.path("other.dll");
    std::fs::write(&other, fixtures::wcp_dll::pe_with_resource(0x10, 1, b"version")).unwrap();
    let r = run(&["manifest", "decode", &s(&manifests[0]), "--wcp-dll", &s(&other)]);
    assert_eq!(r.status.code(), Some(1));
    assert!(stderr(&r).contains("0x266"), "{}", stderr(&r));
    // No base source at all is a usage error.
    let r = run(&["manifest", "decode", &s(&manifests[0])]);
    assert_eq!(r.status.code(), Some(2));
}

#[test]
fn manifest_decode_takes_a_dcd_manifests_source_from_base() {
    // A DCD manifest is a PA30 against a source file it does not name (after a 12-byte header):
    // `--base` names it. Made here by the encoder; no genuine DCD manifest is in the test data.
    let work = Work::new();
    let xml = |version: &str| {
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<assembly xmlns=\"urn:schemas-microsoft-com:asm.v3\" \
             manifestVersion=\"1.0\"><assemblyIdentity name=\"Microsoft-Windows-Example\" version=\"{version}\" \
             processorArchitecture=\"amd64\" language=\"neutral\" buildType=\"release\" \
             publicKeyToken=\"31bf3856ad364e35\" versionScope=\"nonSxS\" /></assembly>"
        )
    };
    let (source, target) = (xml("10.0.26100.1"), xml("10.0.26100.2894"));
    let opts = servicing::cbs::delta::CreateOptions { sha256: false, ..Default::default() };
    let delta =
        servicing::cbs::delta::create(source.as_bytes(), target.as_bytes(), &opts, &Default::default()).unwrap();
    let mut dcd = b"DCD\x01\x01\0\0\0\0\0\0\0".to_vec();
    dcd.extend(delta);
    let (manifest, src) = (work.path("example.manifest"), work.path("source.manifest"));
    std::fs::write(&manifest, &dcd).unwrap();
    std::fs::write(&src, &source).unwrap();
    assert_eq!(run_ok(&["manifest", "decode", &s(&manifest), "--base", &s(&src)]), target);
    let report = json(&["manifest", "decode", &s(&manifest), "--base", &s(&src)]);
    assert_eq!(report["manifests"][0]["kind"], "DCD");
    // From a wcp.dll there is no source for it: exit 1, saying what to do.
    let dll = work.path("wcp.dll");
    std::fs::write(&dll, fixtures::wcp_dll::pe_with_resource(0x266, 1, source.as_bytes())).unwrap();
    let r = run(&["manifest", "decode", &s(&manifest), "--wcp-dll", &s(&dll)]);
    assert_eq!(r.status.code(), Some(1));
    assert!(stderr(&r).contains("DCD") && stderr(&r).contains("--base"), "{}", stderr(&r));
}
