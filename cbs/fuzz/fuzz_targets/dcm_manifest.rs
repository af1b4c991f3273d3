//! Fuzzes compressed-manifest decoding: the variant magic, the PA30 delta against a base, and the
//! manifest parser behind it. Input: the bytes after a magic chosen by the first byte (`DCM`,
//! `DCN`, `DCD`, `DCS`, `DCH`, `DCX`, or none), decoded against a small synthetic base.

#![no_main]

use cbs::dcm::{decode_dcd, decode_manifest};
use cbs::manifest::ComponentManifest;
use libfuzzer_sys::fuzz_target;

const BASE: &[u8] = b"<?xml version=\"1.0\" encoding=\"utf-8\" standalone=\"yes\"?>\n<assembly xmlns=\"urn:schemas-microsoft-com:asm.v3\" manifestVersion=\"1.0\"><assemblyIdentity name=\"\" version=\"\" processorArchitecture=\"amd64\" language=\"neutral\" buildType=\"release\" publicKeyToken=\"31bf3856ad364e35\" versionScope=\"nonSxS\" /></assembly>";

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let magic: &[u8] = match selector % 7 {
        0 => b"DCM\x01",
        1 => b"DCN\x01",
        2 => b"DCD\x01",
        3 => b"DCS\x01",
        4 => b"DCH\x01",
        5 => b"DCX\x01",
        _ => b"",
    };
    let mut bytes = magic.to_vec();
    bytes.extend_from_slice(rest);
    let base = if selector & 0x80 != 0 { None } else { Some(BASE) };
    match decode_manifest(&bytes, base, "fuzz.manifest") {
        Ok(text) => {
            let _ = ComponentManifest::parse(&text, "fuzz.manifest");
        }
        Err(e) => assert!(e.to_string().contains("fuzz.manifest")),
    }
    let _ = ComponentManifest::parse_with_base(&bytes, "fuzz.manifest", base);
    if let Err(e) = decode_dcd(&bytes, BASE, "fuzz.manifest") {
        assert!(e.to_string().contains("fuzz.manifest"));
    }
});
