//! Genuine deltas of `shared/testdata/real-delta` with their bases and targets: i386 (file type 2,
//! relative jumps and calls, the marker map) and AMD64 executables from Windows Server 2025, and
//! deltas made by `CreateDeltaB` (PE and RAW). Each must decode byte for byte to its target with
//! the delta's own hash checked when it carries one.

use std::path::Path;

use cbs::delta::{
    apply_pa30, apply_pa30_consuming, parse_header, DeltaLimits, CALG_SHA_256, FILE_TYPE_AMD64, FILE_TYPE_I386,
    FILE_TYPE_RAW,
};

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Applies `delta` to `base`, expecting `target`, both on a copy of the base and in place of it;
/// returns the header for further checks.
fn decodes_to(base: &Path, delta: &Path, target: &Path) -> cbs::delta::Pa30Header {
    let delta_bytes = read(delta);
    let header = parse_header(&delta_bytes).unwrap();
    let out = apply_pa30(&read(base), &delta_bytes, &DeltaLimits::default())
        .unwrap_or_else(|e| panic!("{}: {e}", delta.display()));
    // The transforms rewriting the caller's buffer must read only what rewriting a copy would.
    let in_place = apply_pa30_consuming(read(base), &delta_bytes, &DeltaLimits::default())
        .unwrap_or_else(|e| panic!("{} (in place): {e}", delta.display()));
    assert!(in_place == out, "{}: decoding in place of the source gives other bytes", delta.display());
    let want = read(target);
    assert_eq!(out.len(), want.len(), "{}", delta.display());
    let first_difference = out.iter().zip(&want).position(|(a, b)| a != b);
    assert_eq!(first_difference, None, "{}: first differing byte", delta.display());
    header
}

#[test]
fn wow64_i386_delta_decodes_byte_exact_with_its_sha256() {
    let dir = real_delta_or_skip!("wow64_i386_delta_decodes_byte_exact_with_its_sha256");
    let case = dir.join("pe-decode/wow64_kbdmaori");
    let h = decodes_to(&case.join("base.bin"), &case.join("delta.pa30"), &case.join("target.bin"));
    assert_eq!((h.file_type_set, h.file_type, h.flags), (0xf, FILE_TYPE_I386, 0xe1fe));
    assert_eq!((h.hash_alg_id, h.target_hash.len()), (CALG_SHA_256, 32), "the hash was checked by apply_pa30");
}

#[test]
fn amd64_delta_decodes_byte_exact_with_its_sha256() {
    let dir = real_delta_or_skip!("amd64_delta_decodes_byte_exact_with_its_sha256");
    let case = dir.join("pe-decode/amd64_kbdwol");
    let h = decodes_to(&case.join("base.bin"), &case.join("delta.pa30"), &case.join("target.bin"));
    assert_eq!((h.file_type, h.flags), (FILE_TYPE_AMD64, 0xe63e));
    assert_eq!((h.hash_alg_id, h.target_hash.len()), (CALG_SHA_256, 32));
}

#[test]
fn create_delta_b_deltas_decode_byte_exact() {
    let dir = real_delta_or_skip!("create_delta_b_deltas_decode_byte_exact");
    let made = dir.join("msdelta-created");
    let src = made.join("sources");
    let cases = [
        ("genuine/advapi32_pe_genuine.pa30", "advapi32_old.dll", "advapi32_new.dll", FILE_TYPE_AMD64),
        ("genuine/cmd_pe_genuine.pa30", "cmd.exe", "cmd_patched.exe", FILE_TYPE_AMD64),
        ("cmd__to__where__raw.pa30", "cmd.exe", "where.exe", FILE_TYPE_RAW),
    ];
    for (delta, base, target, file_type) in cases {
        let h = decodes_to(&src.join(base), &made.join(delta), &src.join(target));
        assert_eq!(h.file_type, file_type, "{delta}");
    }
}

/// The genuine advapi32 delta carries no target hash and has the CLI flags set (the stock AMD64
/// set). advapi32 is native, so it decodes (above); the same delta against a source whose header
/// names a CLR (.NET) directory would need the classic CLI transforms, which are not implemented,
/// and nothing could catch wrong bytes: it is refused by name before decoding.
#[test]
fn a_hashless_delta_over_a_managed_source_is_refused_by_name() {
    let dir = real_delta_or_skip!("a_hashless_delta_over_a_managed_source_is_refused_by_name");
    let made = dir.join("msdelta-created");
    let delta = read(&made.join("genuine/advapi32_pe_genuine.pa30"));
    let h = parse_header(&delta).unwrap();
    assert_eq!((h.hash_alg_id, h.flags & 0xc000), (0, 0xc000));
    let mut source = read(&made.join("sources/advapi32_old.dll"));
    let pe = u32::from_le_bytes(source[0x3c..0x40].try_into().unwrap()) as usize;
    // PE32+: data directories from optional header + 112; entry 14 is the CLR header.
    assert_eq!(u16::from_le_bytes(source[pe + 24..pe + 26].try_into().unwrap()), 0x20b);
    let clr = pe + 24 + 112 + 14 * 8;
    assert_eq!(&source[clr..clr + 8], &[0; 8], "advapi32 is native");
    source[clr..clr + 8].copy_from_slice(&[0x00, 0x20, 0, 0, 0x48, 0, 0, 0]);
    let err = apply_pa30(&source, &delta, &DeltaLimits::default()).unwrap_err();
    assert!(matches!(&err, cbs::delta::DeltaError::Unsupported { format } if format.contains("CLI_DISASM")), "{err}");
    // Asked of the source before anything rewrites it, in place too.
    let err = apply_pa30_consuming(source, &delta, &DeltaLimits::default()).unwrap_err();
    assert!(matches!(&err, cbs::delta::DeltaError::Unsupported { format } if format.contains("CLI_DISASM")), "{err}");
}
