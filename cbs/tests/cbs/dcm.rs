//! Compressed (DCM) WinSxS manifests: the four real Windows Server 2025 manifests decode against the
//! real base to XML whose identity gives back the key form in the file name; without a base, with
//! a wrong base, or in a variant not decoded, the error names the file.

use std::path::Path;

use cbs::dcm::{decode_dcd, decode_manifest, DcmError, DcmKind};
use cbs::delta::{create, CreateOptions, DeltaLimits};
use cbs::key_form;
use cbs::manifest::ComponentManifest;

fn real_manifests(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir.join("dcm"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".manifest"))
        .map(|n| {
            let bytes = std::fs::read(dir.join("dcm").join(&n)).unwrap();
            (n, bytes)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn real_dcm_manifests_decode_to_their_key_form() {
    let dir = real_delta_or_skip!("real_dcm_manifests_decode_to_their_key_form");
    let base = std::fs::read(dir.join("dcm/base_manifest.bin")).unwrap();
    let manifests = real_manifests(&dir);
    assert_eq!(manifests.len(), 4);
    for (name, bytes) in &manifests {
        assert_eq!(DcmKind::detect(bytes), Some(DcmKind::Dcm), "{name}");
        let xml = decode_manifest(bytes, Some(&base), name).unwrap();
        assert!(xml.starts_with(b"<?xml") || xml.starts_with(b"\xef\xbb\xbf<?xml") || xml.starts_with(b"<assembly"));
        let m = ComponentManifest::parse_with_base(bytes, name, Some(&base)).unwrap();
        let stem = name.strip_suffix(".manifest").unwrap();
        assert_eq!(key_form(&m.identity), stem, "{name}");
    }
}

#[test]
fn dcm_manifest_without_base_names_the_file() {
    let dir = real_delta_or_skip!("dcm_manifest_without_base_names_the_file");
    let (name, bytes) = real_manifests(&dir).remove(0);
    let err = ComponentManifest::parse(&bytes, &name).unwrap_err().to_string();
    assert!(err.contains(&name) && err.contains("base"), "{err}");
    assert!(matches!(decode_manifest(&bytes, None, &name), Err(DcmError::NeedsBase { file }) if file == name));
}

#[test]
fn dcm_manifest_with_a_wrong_base_is_an_error() {
    let dir = real_delta_or_skip!("dcm_manifest_with_a_wrong_base_is_an_error");
    let base = std::fs::read(dir.join("dcm/base_manifest.bin")).unwrap();
    let mut wrong = base.clone();
    for b in wrong.iter_mut().step_by(7) {
        *b = b'#';
    }
    for (name, bytes) in real_manifests(&dir) {
        // Either the copies fall outside what the base holds, or the text is not the manifest.
        let parsed = ComponentManifest::parse_with_base(&bytes, &name, Some(&wrong));
        match parsed {
            Err(e) => assert!(e.to_string().contains(&name), "{e}"),
            Ok(m) => assert_ne!(key_form(&m.identity), name.strip_suffix(".manifest").unwrap()),
        }
        assert!(ComponentManifest::parse_with_base(&bytes, &name, Some(&base[..base.len() / 2])).is_err());
    }
}

#[test]
fn dcn_and_synthetic_dcm_manifests_decode() {
    let xml = br#"<?xml version="1.0" encoding="utf-8"?>
<assembly xmlns="urn:schemas-microsoft-com:asm.v3" manifestVersion="1.0"><assemblyIdentity name="Example-Component" version="10.0.26100.1" processorArchitecture="amd64" language="neutral" buildType="release" publicKeyToken="31bf3856ad364e35" versionScope="nonSxS" /></assembly>"#;
    let limits = DeltaLimits::default();
    let mut dcn = b"DCN\x01".to_vec();
    dcn.extend(create(&[], xml, &CreateOptions { sha256: false, ..CreateOptions::default() }, &limits).unwrap());
    assert_eq!(&*decode_manifest(&dcn, None, "x.manifest").unwrap(), &xml[..]);
    let base = b"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<assembly xmlns=\"urn:schemas-microsoft-com:asm.v3\" manifestVersion=\"1.0\">";
    let mut dcm = b"DCM\x01".to_vec();
    dcm.extend(create(base, xml, &CreateOptions { sha256: false, ..CreateOptions::default() }, &limits).unwrap());
    let m = ComponentManifest::parse_with_base(&dcm, "y.manifest", Some(base)).unwrap();
    assert_eq!(m.identity.name, "Example-Component");
    // Plain XML passes through untouched.
    assert!(matches!(decode_manifest(xml, None, "z").unwrap(), std::borrow::Cow::Borrowed(_)));
}

#[test]
fn dcd_manifests_decode_against_the_source_the_caller_names() {
    // `DCD\x01`, two DWORDs whose meaning is not public, then a PA30 against a source file.
    let source = br#"<?xml version="1.0" encoding="utf-8"?>
<assembly xmlns="urn:schemas-microsoft-com:asm.v3" manifestVersion="1.0"><assemblyIdentity name="Example-Component" version="10.0.26100.1" processorArchitecture="amd64" language="neutral" buildType="release" publicKeyToken="31bf3856ad364e35" versionScope="nonSxS" /></assembly>"#;
    let target = String::from_utf8_lossy(source).replace("26100.1\"", "26100.2894\"").into_bytes();
    let limits = DeltaLimits::default();
    let mut dcd = b"DCD\x01".to_vec();
    dcd.extend_from_slice(&[7, 0, 0, 0, 0x2a, 0, 0, 0]);
    dcd.extend(create(source, &target, &CreateOptions { sha256: false, ..CreateOptions::default() }, &limits).unwrap());
    assert_eq!(decode_dcd(&dcd, source, "d.manifest").unwrap(), target);
    // Read without a named source it stays unsupported, saying how to decode it.
    let err = decode_manifest(&dcd, Some(b"a DCM base"), "d.manifest").unwrap_err();
    assert!(err.to_string().contains("--base"), "{err}");
    // A header cut short, and a file that is not DCD, are refused naming the file.
    let err = decode_dcd(&dcd[..10], source, "short.manifest").unwrap_err();
    assert!(err.to_string().contains("short.manifest") && err.to_string().contains("12-byte header"), "{err}");
    assert!(decode_dcd(b"DCN\x01\0\0\0\0\0\0\0\0", source, "n.manifest").is_err());
    // A wrong source gives no manifest (errors or other bytes; the caller's parse catches the latter).
    if let Ok(other) = decode_dcd(&dcd, &source[..source.len() / 2], "d.manifest") {
        assert_ne!(other, target);
    }
}

#[test]
fn undecoded_variants_are_unsupported_by_name() {
    for (magic, what) in [(b"DCD\x01", "DCD"), (b"DCS\x01", "DCS"), (b"DCH\x01", "DCH"), (b"DCX\x01", "DCX")] {
        let mut bytes = magic.to_vec();
        bytes.extend_from_slice(&[0u8; 16]);
        let err = decode_manifest(&bytes, Some(b"base"), "m.manifest").unwrap_err();
        assert!(
            matches!(&err, DcmError::Unsupported { file, what: w } if file == "m.manifest" && w.contains(what)),
            "{err}"
        );
    }
    // A DCM whose delta is cut short fails with the file named, never panics.
    let err = decode_manifest(b"DCM\x01PA30", Some(b"base"), "cut.manifest").unwrap_err();
    assert!(err.to_string().contains("cut.manifest"), "{err}");
}
