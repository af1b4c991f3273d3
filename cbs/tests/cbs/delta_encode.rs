//! The PA30 encoder and reverse deltas: `create` then `apply` gives the target on every real pair
//! (and on synthetic ones), `reverse` then `apply` on the target gives the source back, the
//! output is the standard stream (its header read back as written), and the real CRC32-prefixed
//! form is accepted wherever a delta is read.

use std::path::Path;

use cbs::delta::{
    add_crc_prefix, apply_pa30, create, parse_header, reverse, CreateOptions, DeltaError, DeltaFormat, DeltaLimits,
    CALG_SHA_256, FILE_TYPE_RAW,
};
use sha2::{Digest, Sha256};

/// (name, source, target, genuine delta).
type Pair = (String, Vec<u8>, Vec<u8>, Vec<u8>);

/// Every pair of `real-delta`: the pe-decode cases and the msdelta-created pairs.
fn real_pairs(dir: &Path) -> Vec<Pair> {
    let read = |p: &str| std::fs::read(dir.join(p)).unwrap();
    let mut out = Vec::new();
    for case in ["amd64_kbdwol", "wow64_kbdmaori"] {
        out.push((
            case.to_owned(),
            read(&format!("pe-decode/{case}/base.bin")),
            read(&format!("pe-decode/{case}/target.bin")),
            read(&format!("pe-decode/{case}/delta.pa30")),
        ));
    }
    let m = "msdelta-created";
    out.push((
        "advapi32".into(),
        read(&format!("{m}/sources/advapi32_old.dll")),
        read(&format!("{m}/sources/advapi32_new.dll")),
        read(&format!("{m}/genuine/advapi32_pe_genuine.pa30")),
    ));
    out.push((
        "cmd_patched".into(),
        read(&format!("{m}/sources/cmd.exe")),
        read(&format!("{m}/sources/cmd_patched.exe")),
        read(&format!("{m}/genuine/cmd_pe_genuine.pa30")),
    ));
    out.push((
        "cmd_to_where".into(),
        read(&format!("{m}/sources/cmd.exe")),
        read(&format!("{m}/sources/where.exe")),
        read(&format!("{m}/cmd__to__where__raw.pa30")),
    ));
    out
}

/// Incompressible bytes (the container tests' generator).
fn noise(seed: u64, len: usize) -> Vec<u8> {
    crate::container::noise(len, seed)
}

fn round_trip(source: &[u8], target: &[u8]) -> Vec<u8> {
    let delta = create(source, target, &CreateOptions::default(), &DeltaLimits::default()).unwrap();
    let back = apply_pa30(source, &delta, &DeltaLimits::default()).unwrap();
    assert!(back == target, "round trip differs ({} vs {} bytes)", back.len(), target.len());
    delta
}

#[test]
fn create_then_apply_gives_the_target_on_every_real_pair() {
    let dir = real_delta_or_skip!("create_then_apply_gives_the_target_on_every_real_pair");
    for (name, source, target, genuine) in real_pairs(&dir) {
        let delta = round_trip(&source, &target);
        let header = parse_header(&delta).unwrap();
        assert_eq!((header.file_type, header.hash_alg_id), (FILE_TYPE_RAW, CALG_SHA_256), "{name}");
        assert_eq!(header.target_hash, Sha256::digest(&target).to_vec(), "{name}");
        assert_eq!(header.target_size, target.len() as u64, "{name}");
        eprintln!(
            "{name}: source {} target {} -> our delta {} bytes, genuine {} bytes ({:.2}x)",
            source.len(),
            target.len(),
            delta.len(),
            genuine.len(),
            delta.len() as f64 / genuine.len() as f64
        );
        if name == "advapi32" {
            assert!(delta.len() <= 2 * genuine.len(), "advapi32: {} > 2 x {}", delta.len(), genuine.len());
        }
        // Plain compression (null source) of the same target also round-trips.
        round_trip(&[], &target);
    }
}

#[test]
fn reverse_then_apply_on_the_target_gives_the_source_on_every_real_pair() {
    let dir = real_delta_or_skip!("reverse_then_apply_on_the_target_gives_the_source_on_every_real_pair");
    for (name, source, target, genuine) in real_pairs(&dir) {
        // The i386 transforms are another piece of work: until they land, the forward delta of
        // such a pair is ours.
        let forward = match apply_pa30(&source, &genuine, &DeltaLimits::default()) {
            Err(DeltaError::Unsupported { format }) => {
                eprintln!("{name}: genuine forward delta not decodable yet ({format}); using ours");
                create(&source, &target, &CreateOptions::default(), &DeltaLimits::default()).unwrap()
            }
            _ => genuine,
        };
        let r = reverse(&source, &forward, &CreateOptions::default(), &DeltaLimits::default()).unwrap();
        assert!(r.target == target, "{name}: forward result");
        let back = apply_pa30(&r.target, &r.delta, &DeltaLimits::default()).unwrap();
        assert!(back == source, "{name}: reverse result");
        assert!(!parse_header(&r.delta).unwrap().is_reverse(), "{name}: written in the forward (r\\) form");
    }
}

#[test]
fn encoder_round_trips_synthetic_pairs() {
    let base = noise(1, 300_000);
    // Edits: a changed run, an insertion, a deletion, a moved block, a repeated run.
    let mut target = base.clone();
    target[1000..1100].copy_from_slice(&noise(2, 100));
    target.splice(50_000..50_000, noise(3, 5000));
    target.drain(120_000..125_000);
    let moved: Vec<u8> = target[200_000..210_000].to_vec();
    target.extend_from_slice(&moved);
    target.extend(std::iter::repeat_n(0xAAu8, 70_000));
    round_trip(&base, &target);
    // Sizes at the edges of the format's segments and lengths.
    for len in [0usize, 1, 2, 3, 8, 9, 263, 264, 65_536, 262_144, 262_145] {
        round_trip(&[], &noise(4, len));
        round_trip(&noise(5, 1000), &vec![7u8; len]);
    }
    // An identical file costs almost nothing.
    let same = round_trip(&base, &base);
    assert!(same.len() < 200, "identical source and target gave {} bytes", same.len());
}

#[test]
fn encoder_uses_several_segments_on_large_targets() {
    // More than one 256 KiB segment, and text-like data whose codes differ between segments.
    let mut target = Vec::new();
    for i in 0..40_000u32 {
        target.extend_from_slice(format!("line {i} of the first half\n").as_bytes());
    }
    target.extend_from_slice(&noise(9, 400_000));
    round_trip(&[], &target);
    round_trip(&target[..600_000], &target);
}

#[test]
fn encoder_without_hash_and_with_a_file_time() {
    let options =
        CreateOptions { sha256: false, target_file_time: 133_000_000_000_000_000, ..CreateOptions::default() };
    let delta = create(b"abcdef", b"abcdefabcdef", &options, &DeltaLimits::default()).unwrap();
    let h = parse_header(&delta).unwrap();
    assert_eq!((h.hash_alg_id, h.target_hash.len(), h.target_file_time), (0, 0, 133_000_000_000_000_000));
    assert_eq!(apply_pa30(b"abcdef", &delta, &DeltaLimits::default()).unwrap(), b"abcdefabcdef");
}

#[test]
fn encoder_refuses_inputs_over_the_limits() {
    let limits = DeltaLimits { max_target_bytes: 10, ..DeltaLimits::default() };
    let err = create(&[], &[0u8; 11], &CreateOptions::default(), &limits).unwrap_err();
    assert!(matches!(err, DeltaError::TooLarge { what: "target size", .. }), "{err}");
}

#[test]
fn crc32_prefixed_deltas_are_read_everywhere() {
    let dir = real_delta_or_skip!("crc32_prefixed_deltas_are_read_everywhere");
    let base = std::fs::read(dir.join("pe-decode/amd64_kbdwol/base.bin")).unwrap();
    let target = std::fs::read(dir.join("pe-decode/amd64_kbdwol/target.bin")).unwrap();
    let delta = std::fs::read(dir.join("pe-decode/amd64_kbdwol/delta.pa30")).unwrap();
    let prefixed = add_crc_prefix(&delta);
    let h = parse_header(&prefixed).unwrap();
    assert_eq!(h.crc_prefix, Some(u32::from_le_bytes(prefixed[..4].try_into().unwrap())));
    assert_eq!(parse_header(&delta).unwrap().crc_prefix, None);
    assert!(apply_pa30(&base, &prefixed, &DeltaLimits::default()).unwrap() == target);
    // A wrong CRC is not stripped: the file is then not a delta at all.
    let mut wrong = prefixed.clone();
    wrong[0] ^= 0x55;
    assert!(matches!(parse_header(&wrong), Err(DeltaError::BadMagic { .. })));
    assert!(apply_pa30(&base, &wrong, &DeltaLimits::default()).is_err());
}

#[test]
fn pa31_written_by_the_encoder_reads_back() {
    let options = CreateOptions { format: DeltaFormat::Pa31, ..CreateOptions::default() };
    let source = noise(11, 50_000);
    let mut target = source.clone();
    target[100..200].fill(0);
    let delta = create(&source, &target, &options, &DeltaLimits::default()).unwrap();
    assert_eq!(&delta[..4], b"PA31");
    let h = parse_header(&delta).unwrap();
    let extra = h.pa31.clone().unwrap();
    assert_eq!((extra.header_info_size, extra.is_pa31), (0x88, 1));
    assert_eq!(h.format, DeltaFormat::Pa31);
    assert!(apply_pa30(&source, &delta, &DeltaLimits::default()).unwrap() == target);
}

/// A large source of few distinct words has each 4-byte string in thousands of places, more than
/// a hash bucket keeps, so a short-key search cannot find where a shifted target piece came from:
/// the encoder's long-window index of the source does (the 50 MB synthetic pair of the benchmark
/// went from 446 KB to 164 KB with it; zstd --patch-from: 134 KB). Here 4 MB of word text with
/// 64 insertions of 100 random bytes: the delta holds those bytes and little else.
#[test]
fn shifted_copies_of_a_repetitive_source_are_found() {
    const WORDS: [&str; 8] =
        ["servicing ", "component ", "manifest ", "package ", "update ", "delta ", "image ", "amd64\n"];
    let pick = noise(7, 1 << 20);
    let mut source = Vec::new();
    for b in pick.iter().cycle().take(600_000) {
        source.extend_from_slice(WORDS[usize::from(*b) % WORDS.len()].as_bytes());
        if source.len() >= 4 << 20 {
            break;
        }
    }
    let inserted = noise(8, 64 * 100);
    let mut target = Vec::new();
    let step = source.len() / 64;
    for (i, piece) in source.chunks(step).enumerate() {
        target.extend_from_slice(piece);
        if let Some(bytes) = inserted.get(i * 100..(i + 1) * 100) {
            target.extend_from_slice(bytes);
        }
    }
    let delta = round_trip(&source, &target);
    assert!(delta.len() < 16_000, "{} bytes for 6,400 inserted ones", delta.len());
}
