//! LZMS through wimlib's codec (issue 12 items 4 and 8): baseless PA31 deltas whose patch buffer is
//! an LZMS Compression-API container (multi-block, with stored blocks) decode to their target in the
//! engine and through `wimpatch delta apply`; hostile containers fail with clear errors; `DCS\x01`
//! manifests decode through `wimpatch manifest decode` and `package info`. Every input is compressed
//! by wimlib's real LZMS compressor.

use fixtures::packages::lzms::{baseless_pa31_lzms, dcs_manifest, lzms_container};
use servicing::cbs::codecs::compress_api::{self, check_byte, HEADER_BYTES};
use servicing::cbs::delta::{apply_pa30, assemble, codec_of, parse_header, Codec, DeltaError, DeltaLimits};
use servicing::cbs::manifest::ComponentManifest;
use servicing::cbs::{dcm::decode_manifest, dcm::DcmError, key_form};
use sha2::{Digest, Sha256};

use crate::util::*;

/// A target with compressible text and incompressible noise, so that its 4 KiB blocks are both
/// LZMS-compressed and stored.
fn target() -> Vec<u8> {
    let mut t = Vec::new();
    for i in 0..400 {
        t.extend_from_slice(
            format!("<file name=\"payload{i}.dll\" destinationPath=\"$(runtime.system32)\\\"/>\r\n").as_bytes(),
        );
    }
    t.extend_from_slice(&noise(12, 8192));
    t.extend_from_slice(b"tail of the target, shorter than a block");
    t
}

#[test]
fn lzms_pa31_body_decodes_to_its_target_in_the_engine_and_the_cli() {
    servicing::init();
    let target = target();
    let delta = baseless_pa31_lzms(&target, 4096).unwrap();
    assert_eq!(codec_of(&delta).unwrap(), Codec::LzmsContainer);
    let header = parse_header(&delta).unwrap();
    assert_eq!(header.target_hash, Sha256::digest(&target).to_vec(), "the header carries the target's SHA-256");

    // The container spans several blocks, some LZMS-compressed, some stored.
    let patch = &delta[delta.len() - lzms_container(&target, 4096).unwrap().len()..];
    let container = compress_api::parse(patch, 1 << 20).unwrap();
    assert_eq!(container.total, target.len() as u64);
    assert!(container.blocks.len() > 4, "{} blocks", container.blocks.len());
    assert!(container.blocks.iter().any(|b| b.is_stored()), "a stored block");
    assert!(container.blocks.iter().any(|b| !b.is_stored()), "a compressed block");

    let out = apply_pa30(&[], &delta, &DeltaLimits::default()).unwrap();
    assert!(out == target);
    assert_eq!(Sha256::digest(&out).to_vec(), header.target_hash);

    // The CLI registers the decoder itself.
    let work = Work::new();
    let (file, out_file) = (work.path("entry.pa31"), work.path("entry.out"));
    std::fs::write(&file, &delta).unwrap();
    run_ok(&["delta", "apply", file.to_str().unwrap(), "--out", out_file.to_str().unwrap()]);
    assert!(std::fs::read(&out_file).unwrap() == target);
    let info = run_ok(&["delta", "info", file.to_str().unwrap()]);
    assert!(info.contains("LZMS"), "{info}");
}

/// The delta of `target` with its container replaced by `container`.
fn with_container(delta: &[u8], container: &[u8]) -> Vec<u8> {
    assemble(&parse_header(delta).unwrap(), &[], container)
}

/// `container` with its header rewritten by `edit` and the check byte made right again.
fn edited_header(container: &[u8], edit: impl FnOnce(&mut [u8; HEADER_BYTES])) -> Vec<u8> {
    let mut c = container.to_vec();
    let header: &mut [u8; HEADER_BYTES] = (&mut c[..HEADER_BYTES]).try_into().unwrap();
    edit(header);
    header[6] = check_byte(header);
    c
}

#[test]
fn hostile_lzms_containers_fail_cleanly() {
    servicing::init();
    let target = target();
    let delta = baseless_pa31_lzms(&target, 4096).unwrap();
    let container = lzms_container(&target, 4096).unwrap();
    let limits = DeltaLimits { max_target_bytes: 1 << 20, ..DeltaLimits::default() };
    let apply = |c: &[u8]| apply_pa30(&[], &with_container(&delta, c), &limits).unwrap_err();

    let mut bad_crc = container.clone();
    bad_crc[6] ^= 0x5a;
    let err = apply(&bad_crc);
    assert!(matches!(&err, DeltaError::Malformed { what } if what.contains("check byte")), "{err}");

    let err = apply(&container[..container.len() - 10]);
    assert!(matches!(&err, DeltaError::Malformed { what } if what.contains("truncated")), "{err}");

    let mut trailing = container.clone();
    trailing.extend_from_slice(b"junk");
    let err = apply(&trailing);
    assert!(matches!(&err, DeltaError::Malformed { what } if what.contains("after the last block")), "{err}");

    // A declared size over the limit is refused before anything is allocated, whatever the
    // delta's header says.
    let huge = edited_header(&container, |h| h[8..16].copy_from_slice(&(1u64 << 40).to_le_bytes()));
    let err = apply(&huge);
    assert!(matches!(err, DeltaError::TooLarge { size, max, .. } if size == 1 << 40 && max == 1 << 20), "{err}");
    // A block count the buffer cannot hold (1-byte blocks of a 1 MiB output) is refused unread.
    let tiny_blocks = edited_header(&container, |h| {
        h[8..16].copy_from_slice(&(1u64 << 20).to_le_bytes());
        h[16..24].copy_from_slice(&1u64.to_le_bytes());
    });
    let err = apply(&tiny_blocks);
    assert!(matches!(&err, DeltaError::Malformed { what } if what.contains("blocks declared")), "{err}");
    // A container that is not the header's target size.
    let short = edited_header(&container, |h| h[8..16].copy_from_slice(&(target.len() as u64 - 1).to_le_bytes()));
    let err = apply(&short);
    assert!(matches!(&err, DeltaError::Malformed { what } if what.contains("declares a target")), "{err}");

    // Another algorithm of the Compression API is named.
    let xpress = edited_header(&container, |h| h[7] = 3);
    let err = apply(&xpress);
    assert!(matches!(&err, DeltaError::Unsupported { format } if format.contains("XPRESS")), "{err}");

    // A flipped byte inside a compressed block: the decoder or the SHA-256 catches it.
    let first_compressed =
        compress_api::parse(&container, 1 << 20).unwrap().blocks.iter().position(|b| !b.is_stored()).unwrap();
    assert_eq!(first_compressed, 0);
    let mut corrupt = container.clone();
    corrupt[HEADER_BYTES + 4 + 40] ^= 0x10;
    let err = apply(&corrupt);
    assert!(
        matches!(&err, DeltaError::Malformed { what } if what.contains("LZMS block 0"))
            || matches!(err, DeltaError::HashMismatch { .. }),
        "{err}"
    );

    // Against a non-empty source the facts give no combination: refused by name.
    let err = apply_pa30(b"a source", &delta, &limits).unwrap_err();
    assert!(
        matches!(&err, DeltaError::Unsupported { format } if format.contains("LZMS") && format.contains("source")),
        "{err}"
    );
}

const XML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\r\n\
<assembly xmlns=\"urn:schemas-microsoft-com:asm.v3\" manifestVersion=\"1.0\" copyright=\"Copyright (c) Microsoft Corporation. All Rights Reserved.\">\r\n\
  <assemblyIdentity name=\"Microsoft-Windows-Lzms-Example\" version=\"10.0.26100.1\" processorArchitecture=\"amd64\" language=\"neutral\" buildType=\"release\" publicKeyToken=\"31bf3856ad364e35\" versionScope=\"nonSxS\" />\r\n";

/// A manifest of a few KiB (several 1 KiB DCS blocks).
fn manifest_xml() -> String {
    let mut xml = XML.to_owned();
    for i in 0..60 {
        xml.push_str(&format!(
            "  <file name=\"lzms{i}.dll\" destinationPath=\"$(runtime.system32)\\\" sourceName=\"lzms{i}.dll\" importPath=\"$(build.nttree)\\\" />\r\n"
        ));
    }
    xml.push_str("</assembly>");
    xml
}

#[test]
fn dcs_manifest_decodes_through_manifest_decode() {
    servicing::init();
    let xml = manifest_xml();
    let dcs = dcs_manifest(xml.as_bytes(), 1024).unwrap();
    assert_eq!(&dcs[..4], b"DCS\x01");
    assert!(dcs.len() < xml.len() / 2, "LZMS compressed it: {} of {}", dcs.len(), xml.len());
    let decoded = decode_manifest(&dcs, None, "m.manifest").unwrap();
    assert!(*decoded == *xml.as_bytes());
    let key = key_form(&ComponentManifest::parse(&dcs, "m.manifest").unwrap().identity);

    let work = Work::new();
    let file = work.path(&format!("{key}.manifest"));
    std::fs::write(&file, &dcs).unwrap();
    // `manifest decode` needs a base only for DCM; any file does for the others.
    let base = work.path("unused-base");
    std::fs::write(&base, b"base").unwrap();
    let text = run_ok(&["manifest", "decode", file.to_str().unwrap(), "--base", base.to_str().unwrap()]);
    assert_eq!(text, xml);
    let v: serde_json::Value = serde_json::from_str(&run_ok(&[
        "manifest",
        "decode",
        "--json",
        file.to_str().unwrap(),
        "--base",
        base.to_str().unwrap(),
    ]))
    .unwrap();
    let m = &v["manifests"][0];
    assert_eq!(m["kind"], "DCS", "{v}");
    assert_eq!(m["key_form"], key.as_str());
    assert_eq!(m["name_matches_key_form"], true);

    // Hostile DCS files fail naming the file, never panic.
    let cases: [(&str, Vec<u8>, &str); 4] = [
        ("truncated", dcs[..dcs.len() - 7].to_vec(), "truncated"),
        ("trailing", [dcs.as_slice(), b"xx"].concat(), "after the last DCS block"),
        (
            "too large",
            {
                let mut d = dcs.clone();
                d[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
                d
            },
            "more than the limit",
        ),
        (
            "short",
            {
                let mut d = dcs.clone();
                d[8..12].copy_from_slice(&(xml.len() as u32 + 1).to_le_bytes());
                d
            },
            "the header declares",
        ),
    ];
    for (case, bytes, words) in cases {
        let err = decode_manifest(&bytes, None, "bad.manifest").unwrap_err();
        assert!(matches!(&err, DcmError::Lzms { file, .. } if file == "bad.manifest"), "{case}: {err}");
        assert!(err.to_string().contains(words), "{case}: {err}");
        std::fs::write(&file, &bytes).unwrap();
        let out = run(&["manifest", "decode", file.to_str().unwrap(), "--base", base.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{case}: {}", stderr(&out));
        assert!(stderr(&out).contains(&key), "{case}: names the file: {}", stderr(&out));
    }
}

fn info_json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&run_ok(&["package", "info", "--json", path.to_str().unwrap()])).expect("JSON")
}

/// Component key forms and verified file count of a `package info` report.
fn components(v: &serde_json::Value) -> (Vec<String>, u64) {
    let keys = v["components"].as_array().unwrap().iter().map(|c| c["keyform"].as_str().unwrap().to_owned()).collect();
    (keys, v["verified_files"].as_u64().unwrap())
}

#[test]
fn package_info_reads_dcs_manifests_like_plain_ones() {
    use fixtures::packages::{cab_bytes, updates::servicing_stack_update, Compression, PayloadSize};
    let def =
        servicing_stack_update(&fixtures::profile::Profile::win10_amd64(), 5_000_120, 120, PayloadSize::Tiny).unwrap();
    let members = def.members();
    let work = Work::new();
    let plain = work.path("plain.cab");
    std::fs::write(&plain, cab_bytes("plain.cab", &members, Compression::MsZip).unwrap()).unwrap();
    let mut dcs_count = 0;
    let compressed: Vec<(String, Vec<u8>)> = members
        .into_iter()
        .map(|(name, bytes)| {
            if name.to_ascii_lowercase().ends_with(".manifest") {
                dcs_count += 1;
                (name, dcs_manifest(&bytes, 2048).unwrap())
            } else {
                (name, bytes)
            }
        })
        .collect();
    assert!(dcs_count > 0);
    let dcs = work.path("dcs.cab");
    std::fs::write(&dcs, cab_bytes("dcs.cab", &compressed, Compression::MsZip).unwrap()).unwrap();

    let (want, got) = (components(&info_json(&plain)), components(&info_json(&dcs)));
    assert_eq!(got, want);
    assert_eq!(got.0.len(), dcs_count);
    assert!(got.1 > 0, "payloads verified against the decoded manifests' digests");
}
