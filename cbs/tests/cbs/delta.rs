//! PA30 deltas and container-index expansion: the real Windows 7 MSUs (every payload expanded and
//! checked against the index's SHA-1 and the manifests' SHA-256), and hostile deltas (truncated,
//! bit-flipped, lying about sizes), which must fail fast with an error, never panic.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use cbs::cix::ContainerIndex;
use cbs::container::{Cabinet, Limits, Msu};
use cbs::delta::{apply_pa30, expand_index, parse_header, DeltaError, DeltaLimits, ExpandError, ExpandedFile};
use cbs::manifest::ComponentManifest;
use sha2::{Digest, Sha256};

const MSUS: [&str; 2] = ["Windows6.1-KB2584475-x64.msu", "Windows6.1-KB2465285-x64.msu"];
/// The x86 builds of the same two updates: i386 PE deltas (file type 2) and the E8 post-process.
const X86_MSUS: [&str; 2] = ["Windows6.1-KB2584475-x86.msu", "Windows6.1-KB2465285-x86.msu"];

/// The inner CBS cab of a real MSU and its parsed `_manifest_.cix.xml`.
fn open_real(dir: &std::path::Path, msu: &str) -> (Cabinet<impl std::io::Read + std::io::Seek>, ContainerIndex) {
    let mut msu = Msu::open(dir.join(msu), Limits::default()).unwrap();
    let inner = msu.inner_cab_names()[0].clone();
    let mut cab = msu.open_inner(&inner, None).unwrap();
    let cix = cab.read_member("_manifest_.cix.xml", 1 << 20).unwrap();
    let index = ContainerIndex::parse(&cix, "_manifest_.cix.xml").unwrap();
    (cab, index)
}

/// Every PA30 member of a real MSU with its size in the index order: (member, bytes).
fn real_deltas(dir: &std::path::Path, msu: &str) -> Vec<(String, Vec<u8>)> {
    let (mut cab, index) = open_real(dir, msu);
    let mut out = Vec::new();
    for f in &index.files {
        if let Some(source) = f.delta.as_ref().and_then(|d| d.source.as_ref()) {
            if source.source_type.is_delta() {
                let name = source.name.clone().unwrap();
                out.push((name.clone(), cab.read_member(&name, 1 << 20).unwrap()));
            }
        }
    }
    out
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

#[test]
fn real_headers() {
    let dir = real_or_skip!("real_headers");
    let deltas = real_deltas(&dir, MSUS[0]);
    assert_eq!(deltas.len(), 12);
    let first = parse_header(&deltas[0].1).unwrap();
    assert_eq!(deltas[0].0, "0");
    assert_eq!(first.target_file_time, 129_610_494_321_355_684);
    assert_eq!((first.file_type_set, first.file_type, first.flags), (0xf, cbs::delta::FILE_TYPE_RAW, 0x20000));
    assert_eq!(first.target_size, 14_336);
    assert_eq!(first.hash_alg_id, cbs::delta::CALG_MD5);
    assert_eq!(first.hash_algorithm_name(), Some("MD5"));
    assert_eq!(first.target_hash.len(), 16);
    // Member 1 is a delta of an x64 driver against its basis: PE transforms, same flags on all.
    let pe = parse_header(&deltas[1].1).unwrap();
    assert_eq!((pe.file_type, pe.flags, pe.target_size), (cbs::delta::FILE_TYPE_AMD64, 0x2e63e, 14_848));
    for (name, bytes) in &deltas {
        let h = parse_header(bytes).unwrap_or_else(|e| panic!("member {name}: {e}"));
        assert!(h.target_size > 0 && h.target_size < 1 << 20, "member {name}");
    }
}

#[test]
fn real_empty_source_deltas_decode() {
    let dir = real_or_skip!("real_empty_source_deltas_decode");
    for (msu, size) in [(MSUS[0], 14_336), (MSUS[1], 82_432)] {
        let deltas = real_deltas(&dir, msu);
        let out = apply_pa30(&[], &deltas[0].1, &DeltaLimits::default()).unwrap();
        // The header's MD5 was checked by apply_pa30; the payload is a PE image.
        assert_eq!(out.len(), size);
        assert_eq!(&out[..2], b"MZ");
    }
}

/// What expanding one real MSU gave.
#[derive(Debug, Default, PartialEq, Eq)]
struct Tally {
    /// Files in the index.
    files: usize,
    /// Files expanded with their index SHA-1 checked.
    sha1_verified: usize,
    /// Of those, payload files (in a key-form folder) whose manifest SHA-256 also matched.
    sha256_verified: usize,
    /// Files rebuilt from a PA30 member.
    from_pa30: usize,
    /// Files that are copies of another file.
    copies: usize,
}

fn expand_real(dir: &std::path::Path, msu: &str) -> (Tally, Vec<ExpandedFile>) {
    let (mut cab, index) = open_real(dir, msu);
    let files = expand_index(&mut cab, &index, &DeltaLimits::default()).unwrap_or_else(|e| panic!("{msu}: {e}"));
    let mut tally = Tally { files: index.files.len(), sha1_verified: files.len(), ..Tally::default() };
    for f in &index.files {
        match f.delta.as_ref().map(|d| (d.source.as_ref().map(|s| s.source_type.is_delta()), d.copy_of())) {
            Some((Some(true), _)) => tally.from_pa30 += 1,
            Some((None, Some(_))) => tally.copies += 1,
            _ => {}
        }
    }
    // The component manifests' SHA-256 of every payload they name.
    let by_name: HashMap<String, &ExpandedFile> = files.iter().map(|f| (f.name.to_ascii_lowercase(), f)).collect();
    for f in files.iter().filter(|f| f.name.ends_with(".manifest") && !f.name.contains('\\')) {
        let manifest = ComponentManifest::parse(&f.bytes, &f.name).unwrap();
        let keyform = f.name.trim_end_matches(".manifest").to_ascii_lowercase();
        for payload in &manifest.files {
            let Some(want) = payload.sha256 else { continue };
            let name = format!("{keyform}\\{}", payload.name.to_ascii_lowercase());
            let got = by_name.get(&name).unwrap_or_else(|| panic!("{msu}: {name} is not in the index"));
            assert_eq!(sha256(&got.bytes), want, "{msu}: SHA-256 of {name}");
            tally.sha256_verified += 1;
        }
    }
    (tally, files)
}

/// Expands each file of a real MSU on its own (with its basis chain), so one file that cannot be
/// expanded does not hide the others: (file ids expanded and verified, errors of the others).
fn expand_each(dir: &std::path::Path, msu: &str) -> (Vec<u32>, Vec<(u32, ExpandError)>) {
    let (mut cab, index) = open_real(dir, msu);
    let (mut ok, mut failed) = (Vec::new(), Vec::new());
    for f in &index.files {
        let chain = index.basis_chain(f.id).unwrap();
        let mut sub = index.clone();
        sub.files.retain(|g| chain.contains(&g.id));
        match expand_index(&mut cab, &sub, &DeltaLimits::default()) {
            Ok(files) => {
                assert_eq!(files.len(), chain.len());
                ok.push(f.id);
            }
            Err(e) => failed.push((f.id, e)),
        }
    }
    (ok, failed)
}

/// Every file of the four MSUs, each expanded on its own with its basis chain: raw files, deltas
/// against nothing, the AMD64 and the i386 PE deltas (executable transforms, exact copy map, the
/// E8 post-process). All 34 files of each verify; a file that could not be expanded fails the test
/// with its error, so a regression shows here file by file.
///
/// Regression (issue 12): every x86 MSU failed with "decoded output does not match the MD5 target
/// hash"; after the i386 transforms, KB2584475-x86's `sffp_mmc.sys` still did (see
/// `i386_call_into_an_import_name_is_left_alone`).
#[test]
fn real_msus_expand_every_file_on_its_own() {
    let dir = real_or_skip!("real_msus_expand_every_file_on_its_own");
    // (MSU, files verified, of which from PA30 deltas with a source).
    let cases = [(MSUS[0], 34, 12), (MSUS[1], 34, 12), (X86_MSUS[0], 34, 12), (X86_MSUS[1], 34, 12)];
    for (msu, verified, pa30_verified) in cases {
        let (_, index) = open_real(&dir, msu);
        let (ok, failed) = expand_each(&dir, msu);
        let pa30_ok = ok
            .iter()
            .filter(|id| {
                let f = index.file(**id).unwrap();
                f.delta.as_ref().and_then(|d| d.source.as_ref()).is_some_and(|s| s.source_type.is_delta())
            })
            .count();
        let failed: Vec<String> = failed.iter().map(|(id, e)| format!("file {id}: {e}")).collect();
        assert_eq!(failed, Vec::<String>::new(), "{msu}");
        assert_eq!((ok.len(), pa30_ok, index.files.len()), (verified, pa30_verified, 34), "{msu}");
    }
}

/// Regression (issue 12): KB2584475-x86's `sffp_mmc.sys` 6.1.7601.21824 (an i386 delta against
/// `sffp_sd.sys`, flags 0x2e1fe) decoded to bytes that failed its MD5. An `E8` in its INIT code
/// has a displacement landing inside the import name `ExFreePoolWithTag`; the creator had
/// claimed the import's hint and name, so its call scan left that `E8` alone, and ours rewrote
/// it. The 6.1.7600 `sffp_mmc.sys`, a delta against this one, depends on it too.
#[test]
fn i386_call_into_an_import_name_is_left_alone() {
    let dir = real_or_skip!("i386_call_into_an_import_name_is_left_alone");
    let (mut cab, index) = open_real(&dir, X86_MSUS[0]);
    let ids: Vec<u32> = index.files.iter().filter(|f| f.name.ends_with("\\sffp_mmc.sys")).map(|f| f.id).collect();
    assert_eq!(ids.len(), 2);
    for id in ids {
        let chain = index.basis_chain(id).unwrap();
        let mut sub = index.clone();
        sub.files.retain(|g| chain.contains(&g.id));
        let files = expand_index(&mut cab, &sub, &DeltaLimits::default())
            .unwrap_or_else(|e| panic!("sffp_mmc.sys (file {id}): {e}"));
        let mmc = files.iter().find(|f| f.id == id).unwrap();
        assert_eq!(mmc.bytes.len(), 12_288);
        let delta = index.file(id).unwrap().delta.as_ref().unwrap();
        assert!(delta.source.as_ref().unwrap().source_type.is_delta());
    }
}

#[test]
fn real_msus_expand_every_file() {
    let dir = real_or_skip!("real_msus_expand_every_file");
    let (tally, files) = expand_real(&dir, MSUS[0]);
    assert_eq!(tally, Tally { files: 34, sha1_verified: 34, sha256_verified: 12, from_pa30: 12, copies: 0 });
    // Names are as the index writes them, with the index's times.
    let sys = files.iter().find(|f| f.id == 36).unwrap();
    assert_eq!(sys.name, "amd64_sffdisk.inf_31bf3856ad364e35_6.1.7601.21824_none_02e05f1d19af3413\\sffdisk.sys");
    assert_eq!(sys.time, Some(129_610_512_289_389_180));
    assert_eq!(sys.bytes.len(), 14_848);

    let (tally, _) = expand_real(&dir, MSUS[1]);
    assert_eq!(tally, Tally { files: 34, sha1_verified: 34, sha256_verified: 16, from_pa30: 12, copies: 4 });

    // The whole x86 updates, i386 PE deltas and E8 post-process included.
    let (tally, _) = expand_real(&dir, X86_MSUS[0]);
    assert_eq!(tally, Tally { files: 34, sha1_verified: 34, sha256_verified: 12, from_pa30: 12, copies: 0 });
    let (tally, _) = expand_real(&dir, X86_MSUS[1]);
    assert_eq!(tally, Tally { files: 34, sha1_verified: 34, sha256_verified: 16, from_pa30: 12, copies: 4 });
}

#[test]
fn a_wrong_index_hash_names_the_file() {
    let dir = real_or_skip!("a_wrong_index_hash_names_the_file");
    let (mut cab, mut index) = open_real(&dir, MSUS[0]);
    // Keep only the empty-source delta and break its expected hash.
    index.files.retain(|f| f.id == 35);
    if let Some(cbs::cix::CixHash::Sha1(h)) = &mut index.files[0].hash {
        h[0] ^= 1;
    }
    let err = expand_index(&mut cab, &index, &DeltaLimits::default()).unwrap_err();
    assert!(matches!(err, ExpandError::HashMismatch { .. }), "{err}");
    assert!(err.to_string().contains("sffdisk.sys"), "{err}");
}

#[test]
fn other_delta_formats_are_named() {
    let mut pa19 = b"PA19".to_vec();
    pa19.extend([0; 20]);
    let err = apply_pa30(&[], &pa19, &DeltaLimits::default()).unwrap_err();
    assert!(matches!(&err, DeltaError::Unsupported { format } if format.starts_with("PA19")), "{err}");
    pa19[3] = b'1';
    pa19[2] = b'3';
    // PA31 is read now (delta_pa31.rs); twenty zero bytes are not a valid PA31 header buffer.
    let err = parse_header(&pa19).unwrap_err();
    assert!(!matches!(&err, DeltaError::BadMagic { .. } | DeltaError::Unsupported { .. }), "{err}");
    assert!(matches!(parse_header(b"MZ\x90\x00rest"), Err(DeltaError::BadMagic { .. })));
    assert!(matches!(parse_header(b""), Err(DeltaError::Truncated { .. })));
    assert!(matches!(parse_header(b"PA3"), Err(DeltaError::Truncated { .. })));
}

/// The header stream of a delta declaring `size` target bytes (RAW, no hash), then `rest`.
fn header_with_size(size: u64) -> Vec<u8> {
    header_with(1, size)
}

/// [`header_with_size`] with another file type.
fn header_with(file_type: u64, size: u64) -> Vec<u8> {
    // Bits: 3 padding-count bits, then numbers: width prefix (k zeros, a one), 4(k+1) value bits.
    fn number(bits: &mut Vec<bool>, v: u64) {
        let nibbles = (64 - v.leading_zeros()).div_ceil(4).max(1);
        bits.extend(std::iter::repeat_n(false, nibbles as usize - 1));
        bits.push(true);
        bits.extend((0..4 * nibbles).map(|i| (v >> i) & 1 == 1));
    }
    let mut bits: Vec<bool> = vec![false; 3];
    for v in [1, file_type, 0x20000, size, 0] {
        number(&mut bits, v);
    }
    // Three empty buffers (hash, preprocessing, patch): a size, then alignment to a byte.
    for _ in 0..3 {
        number(&mut bits, 0);
        bits.resize(bits.len().div_ceil(8) * 8, false);
    }
    let mut out = b"PA30\0\0\0\0\0\0\0\0".to_vec();
    out.extend(bits.chunks(8).map(|c| c.iter().enumerate().map(|(i, &b)| u8::from(b) << i).sum::<u8>()));
    out
}

/// CLI4 (.NET 4) file types, which include the only ARM and ARM64 ones, are refused by name
/// before anything is decoded: never wrong bytes.
#[test]
fn cli4_file_types_are_unsupported_by_name() {
    for (file_type, name) in [(0x10, "CLI4_I386"), (0x20, "CLI4_AMD64"), (0x40, "CLI4_ARM"), (0x80, "CLI4_ARM64")] {
        let err = apply_pa30(&[], &header_with(file_type, 100), &DeltaLimits::default()).unwrap_err();
        assert!(matches!(&err, DeltaError::Unsupported { format } if format.contains(name)), "{err}");
    }
}

#[test]
fn huge_declared_target_sizes_fail_before_allocating() {
    let start = Instant::now();
    let delta = header_with_size(1 << 40);
    assert_eq!(parse_header(&delta).unwrap().target_size, 1 << 40);
    let err = apply_pa30(&[], &delta, &DeltaLimits::default()).unwrap_err();
    assert!(matches!(err, DeltaError::TooLarge { what: "target size", size, .. } if size == 1 << 40), "{err}");
    let delta = header_with_size(u64::MAX);
    assert!(matches!(apply_pa30(&[], &delta, &DeltaLimits::default()), Err(DeltaError::TooLarge { .. })));
    // Within the limit but with no patch data to make it from.
    let delta = header_with_size(1000);
    assert!(matches!(apply_pa30(&[], &delta, &DeltaLimits::default()), Err(DeltaError::Truncated { .. })));
    let small = DeltaLimits { max_target_bytes: 100, ..DeltaLimits::default() };
    assert!(matches!(apply_pa30(&[], &delta, &small), Err(DeltaError::TooLarge { .. })));
    assert!(start.elapsed() < Duration::from_secs(1));
}

/// Runs `apply_pa30` on every real delta (against its expanded basis) after `mutate`, expecting an
/// error or, when the change did not matter, the right output; returns how many errors.
fn hostile(mut mutate: impl FnMut(&[u8], &mut dyn FnMut(&[u8]))) -> usize {
    let Some(dir) = crate::real_cbs() else { return 0 };
    let mut errors = 0;
    let limits = DeltaLimits { max_work: 1 << 26, ..DeltaLimits::default() };
    for msu in MSUS {
        let (mut cab, index) = open_real(&dir, msu);
        // The bases, when they expand.
        let expanded: HashMap<u32, Vec<u8>> = match expand_index(&mut cab, &index, &DeltaLimits::default()) {
            Ok(files) => files.into_iter().map(|f| (f.id, f.bytes)).collect(),
            Err(_) => HashMap::new(),
        };
        for f in &index.files {
            let Some(d) = &f.delta else { continue };
            let Some(s) = d.source.as_ref().filter(|s| s.source_type.is_delta()) else { continue };
            let delta = cab.read_member(s.name.as_deref().unwrap(), 1 << 20).unwrap();
            let source = match d.basis.first() {
                Some(b) => match expanded.get(b) {
                    Some(bytes) => bytes.clone(),
                    None => continue,
                },
                None => Vec::new(),
            };
            let want = apply_pa30(&source, &delta, &limits).ok();
            mutate(&delta, &mut |bad: &[u8]| match apply_pa30(&source, bad, &limits) {
                Ok(out) => assert_eq!(Some(&out), want.as_ref(), "{msu}: a changed delta gave other output"),
                Err(_) => errors += 1,
            });
        }
    }
    errors
}

#[test]
fn truncated_deltas_fail() {
    let start = Instant::now();
    let errors = hostile(|delta, run| {
        let step = (delta.len() / 200).max(1);
        for len in (0..delta.len()).step_by(step) {
            run(&delta[..len]);
        }
    });
    eprintln!("truncated deltas: {errors} errors in {:?}", start.elapsed());
    assert!(crate::real_cbs().is_none() || errors > 250);
    assert!(start.elapsed() < Duration::from_secs(60));
}

#[test]
fn bit_flipped_deltas_fail_or_decode_right() {
    let start = Instant::now();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let errors = hostile(|delta, run| {
        let mut bad = delta.to_vec();
        for _ in 0..150 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let bit = (seed % (delta.len() as u64 * 8)) as usize;
            bad[bit / 8] ^= 1 << (bit % 8);
            run(&bad);
            bad[bit / 8] ^= 1 << (bit % 8);
        }
    });
    eprintln!("bit-flipped deltas: {errors} errors in {:?}", start.elapsed());
    assert!(crate::real_cbs().is_none() || errors > 250);
    assert!(start.elapsed() < Duration::from_secs(60));
}
