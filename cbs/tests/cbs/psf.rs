//! PSF express payloads: `.psf` files built here with their `express.psf.cix.xml` (RAW ranges,
//! copies, and PA30 ranges taken from the real Windows 7 MSUs), and the ways a `.psf` goes wrong:
//! truncated, a range past its end, bytes that fail the index's hash, PA19/PA31 entries, a basis
//! that is an installed file.

use std::io::Cursor;

use cbs::cix::ContainerIndex;
use cbs::container::{Limits, Msu};
use cbs::delta::{DeltaLimits, ExpandedFile};
use cbs::psf::{for_each_psf_file, for_each_psf_file_where, Psf, PsfError};
use sha2::{Digest, Sha256};

/// One `<File>` of a synthetic index: its stored bytes go into the `.psf` at the next offset.
struct Entry {
    name: &'static str,
    /// `RAW`, `PA30`, `PA19`, `PA31`, or `copy:<id>` for a copy of another file.
    kind: String,
    stored: Vec<u8>,
    /// The expanded bytes, hashed into the index.
    expanded: Vec<u8>,
    basis: Option<u32>,
}

impl Entry {
    fn raw(name: &'static str, bytes: &[u8]) -> Entry {
        Entry { name, kind: "RAW".into(), stored: bytes.to_vec(), expanded: bytes.to_vec(), basis: None }
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The `.psf` (stored bytes back to back) and its index; file ids count from 1.
fn build(entries: &[Entry]) -> (Vec<u8>, ContainerIndex) {
    let mut psf = Vec::new();
    let mut files = String::new();
    for (i, e) in entries.iter().enumerate() {
        let id = i + 1;
        let hash = sha256_hex(&e.expanded);
        let delta = match e.kind.strip_prefix("copy:") {
            Some(basis) => format!(r#"<Delta><Basis file="{basis}"/></Delta>"#),
            None => {
                let basis = e.basis.map(|b| format!(r#"<Basis file="{b}"/>"#)).unwrap_or_default();
                let source = format!(
                    r#"<Source type="{}" offset="{}" length="{}"><Hash alg="SHA256" value="{}"/></Source>"#,
                    e.kind,
                    psf.len(),
                    e.stored.len(),
                    sha256_hex(&e.stored)
                );
                psf.extend_from_slice(&e.stored);
                format!("<Delta>{source}{basis}</Delta>")
            }
        };
        files.push_str(&format!(
            r#"<File id="{id}" name="{}" length="{}" time="132223104000000000" attr="128"><Hash alg="SHA256" value="{hash}"/>{delta}</File>"#,
            e.name,
            e.expanded.len()
        ));
        files.push('\n');
    }
    let xml = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<Container name="Windows10.0-KB5000009-x64.psf" type="PSF" length="{}" version="2" xmlns="urn:ContainerIndex"><Description/><Files>
{files}</Files></Container>"#,
        psf.len()
    );
    (psf, ContainerIndex::parse(xml.as_bytes(), "express.psf.cix.xml").unwrap())
}

fn expand_all(psf: Vec<u8>, index: &ContainerIndex) -> Result<Vec<ExpandedFile>, PsfError> {
    let mut psf = Psf::new(Cursor::new(psf), "test.psf").unwrap();
    let mut out = Vec::new();
    for_each_psf_file(&mut psf, index, &DeltaLimits::default(), |f| {
        out.push(f);
        Ok::<(), PsfError>(())
    })?;
    Ok(out)
}

fn raw_entries() -> Vec<Entry> {
    vec![
        Entry::raw("update.mum", b"<assembly/>"),
        Entry::raw("amd64_a_31bf3856ad364e35_10.0.19041.900_none_0123456789abcdef\\a.dll", &[7u8; 3000]),
        Entry::raw("amd64_b_31bf3856ad364e35_10.0.19041.900_none_0123456789abcdef\\b.sys", b"MZ plain bytes"),
    ]
}

#[test]
fn raw_entries_and_copies_expand_with_names_times_and_attributes() {
    let mut entries = raw_entries();
    entries.push(Entry {
        name: "amd64_c_31bf3856ad364e35_10.0.19041.900_none_0123456789abcdef\\copy.dll",
        kind: "copy:2".into(),
        stored: Vec::new(),
        expanded: vec![7u8; 3000],
        basis: None,
    });
    let (psf, index) = build(&entries);
    let files = expand_all(psf, &index).unwrap();
    let got: Vec<(&str, &[u8])> = files.iter().map(|f| (f.name.as_str(), f.bytes.as_slice())).collect();
    assert_eq!(got.len(), 4);
    for e in &entries {
        assert!(got.contains(&(e.name, e.expanded.as_slice())), "{} missing or wrong", e.name);
    }
    assert!(files.iter().all(|f| f.time == Some(132_223_104_000_000_000) && f.attr == Some(128)));
}

#[test]
fn only_wanted_files_are_handed_out_but_their_bases_are_built() {
    let mut entries = raw_entries();
    entries.push(Entry {
        name: "copy.dll",
        kind: "copy:2".into(),
        stored: Vec::new(),
        expanded: vec![7u8; 3000],
        basis: None,
    });
    let (psf, index) = build(&entries);
    let mut psf = Psf::new(Cursor::new(psf), "test.psf").unwrap();
    let mut names = Vec::new();
    let n = for_each_psf_file_where(
        &mut psf,
        &index,
        &DeltaLimits::default(),
        |f| f.name == "copy.dll",
        |f| {
            names.push(f.name);
            Ok::<(), PsfError>(())
        },
    )
    .unwrap();
    assert_eq!((n, names), (1, vec!["copy.dll".to_owned()]));
}

#[test]
fn truncated_psf_names_the_file_past_the_end() {
    let (mut psf, index) = build(&raw_entries());
    psf.truncate(psf.len() - 5);
    let err = expand_all(psf, &index).unwrap_err();
    assert!(matches!(&err, PsfError::OutOfRange { file, .. } if file.ends_with("b.sys")), "{err}");
    assert!(err.to_string().contains("truncated"), "{err}");
}

#[test]
fn offset_past_the_end_is_refused_before_reading() {
    let (psf, _) = build(&raw_entries());
    let xml = format!(
        r#"<Container name="x.psf" type="PSF"><Files><File id="1" name="far.bin" length="4"><Delta><Source type="RAW" offset="{}" length="4"/></Delta></File></Files></Container>"#,
        u64::MAX - 2
    );
    let index = ContainerIndex::parse(xml.as_bytes(), "express.psf.cix.xml");
    // The index itself refuses an overflowing range; one merely past the end reaches the reader.
    assert!(index.is_err());
    let xml = r#"<Container name="x.psf" type="PSF"><Files><File id="1" name="far.bin" length="4"><Delta><Source type="RAW" offset="1000000" length="4"/></Delta></File></Files></Container>"#;
    let index = ContainerIndex::parse(xml.as_bytes(), "express.psf.cix.xml").unwrap();
    let err = expand_all(psf, &index).unwrap_err();
    assert!(matches!(&err, PsfError::OutOfRange { file, offset: 1_000_000, .. } if file == "far.bin"), "{err}");
}

#[test]
fn a_flipped_byte_fails_the_hash_and_nothing_of_that_file_is_handed_out() {
    let (mut psf, index) = build(&raw_entries());
    let at = psf.len() - 3;
    psf[at] ^= 0x20;
    let mut handed = Vec::new();
    let mut reader = Psf::new(Cursor::new(psf), "test.psf").unwrap();
    let err = for_each_psf_file(&mut reader, &index, &DeltaLimits::default(), |f| {
        handed.push(f.name);
        Ok::<(), PsfError>(())
    })
    .unwrap_err();
    assert!(matches!(&err, PsfError::HashMismatch { what, .. } if what.contains("b.sys")), "{err}");
    assert!(!handed.iter().any(|n| n.ends_with("b.sys")));
}

#[test]
fn the_expanded_hash_is_checked_even_when_the_stored_hash_matches() {
    // The stored bytes are what the index says, but the file's own hash is of other bytes.
    let entries = vec![Entry {
        name: "liar.dll",
        kind: "RAW".into(),
        stored: b"these bytes".to_vec(),
        expanded: b"other bytes".to_vec(),
        basis: None,
    }];
    let (psf, index) = build(&entries);
    let err = expand_all(psf, &index).unwrap_err();
    assert!(matches!(&err, PsfError::HashMismatch { what, .. } if what == "file liar.dll"), "{err}");
}

#[test]
fn pa19_is_reported_unsupported_with_the_format() {
    let mut entries = raw_entries();
    entries.push(Entry {
        name: "new.dll",
        kind: "PA19".into(),
        stored: b"PA19 not really a delta".to_vec(),
        expanded: b"whatever".to_vec(),
        basis: None,
    });
    let (psf, index) = build(&entries);
    let err = expand_all(psf, &index).unwrap_err();
    assert!(matches!(&err, PsfError::Unsupported { file, .. } if file == "new.dll"), "{err}");
    let text = err.to_string();
    assert!(text.contains("PA19") && text.contains("not supported") && text.contains("new.dll"), "{text}");
}

/// Regression: entries stored as PA31 (24H2's baseless form), whether the index calls them PA31 or
/// PA30 (dpx.dll treats PA31 as a blob magic), were refused as unsupported; they expand.
#[test]
fn pa31_entries_were_refused_as_unsupported() {
    use cbs::delta::{create, CreateOptions, DeltaFormat, DeltaLimits};
    let target = b"a file of the 24H2 cumulative update, stored as baseless PA31".repeat(20);
    let options = CreateOptions { format: DeltaFormat::Pa31, ..CreateOptions::default() };
    let delta = create(&[], &target, &options, &DeltaLimits::default()).unwrap();
    assert_eq!(&delta[..4], b"PA31");
    for kind in ["PA31", "PA30"] {
        let mut entries = raw_entries();
        entries.push(Entry {
            name: "new.dll",
            kind: kind.into(),
            stored: delta.clone(),
            expanded: target.clone(),
            basis: None,
        });
        let (psf, index) = build(&entries);
        let files = expand_all(psf, &index).unwrap();
        assert!(files.iter().any(|f| f.name == "new.dll" && f.bytes == target), "{kind}");
    }
}

#[test]
fn a_basis_outside_the_index_is_an_installed_file_and_unsupported() {
    let entries = vec![Entry {
        name: "f\\ntoskrnl.exe",
        kind: "PA30".into(),
        stored: b"PA30 forward delta".to_vec(),
        expanded: b"whatever".to_vec(),
        basis: Some(99),
    }];
    let (psf, index) = build(&entries);
    let err = expand_all(psf, &index).unwrap_err();
    assert!(matches!(&err, PsfError::InstalledBasis { basis: 99, .. }), "{err}");
    assert!(err.to_string().contains("not supported"), "{err}");
}

#[test]
fn a_corrupt_pa30_range_is_a_delta_error_naming_the_file() {
    let entries = vec![Entry {
        name: "broken.dll",
        kind: "PA30".into(),
        stored: b"PA30\0\0\0\0\0\0\0\0 garbage after the header".to_vec(),
        expanded: b"whatever".to_vec(),
        basis: None,
    }];
    let (psf, index) = build(&entries);
    let err = expand_all(psf, &index).unwrap_err();
    assert!(matches!(&err, PsfError::Delta { file, .. } if file == "broken.dll"), "{err}");
}

#[test]
fn limits_bound_what_a_range_may_claim() {
    let (psf, index) = build(&raw_entries());
    let mut reader = Psf::new(Cursor::new(psf), "test.psf").unwrap();
    let limits = DeltaLimits { max_target_bytes: 100, ..DeltaLimits::default() };
    let err = for_each_psf_file(&mut reader, &index, &limits, |_| Ok::<(), PsfError>(())).unwrap_err();
    assert!(matches!(&err, PsfError::TooLarge { file, size: 3000, .. } if file.ends_with("a.dll")), "{err}");
}

/// Cab member "0" of a real Windows 7 MSU's inner cab: a PA30 delta against nothing.
fn real_pa30(dir: &std::path::Path, msu: &str) -> Vec<u8> {
    let mut msu = Msu::open(dir.join(msu), Limits::default()).unwrap();
    let inner = msu.inner_cab_names()[0].clone();
    let mut cab = msu.open_inner(&inner, None).unwrap();
    cab.read_member("0", 1 << 20).unwrap()
}

#[test]
fn pa30_ranges_from_real_packages_expand_beside_raw_ones() {
    let Some(dir) = crate::real_cbs() else {
        eprintln!("skipped: pa30_ranges_from_real_packages_expand_beside_raw_ones (WIMPATCH_TESTDATA not found)");
        return;
    };
    let limits = DeltaLimits::default();
    let mut entries = raw_entries();
    for (name, msu) in [
        ("amd64_x_31bf3856ad364e35_6.1.7601.1_none_0123456789abcdef\\first.sys", "Windows6.1-KB2584475-x64.msu"),
        ("amd64_y_31bf3856ad364e35_6.1.7601.1_none_0123456789abcdef\\second.sys", "Windows6.1-KB2465285-x64.msu"),
    ] {
        let delta = real_pa30(&dir, msu);
        let expanded = cbs::delta::apply_pa30(&[], &delta, &limits).unwrap();
        entries.push(Entry { name, kind: "PA30".into(), stored: delta, expanded, basis: None });
    }
    let (psf, index) = build(&entries);
    let files = expand_all(psf.clone(), &index).unwrap();
    assert_eq!(files.len(), entries.len());
    for e in &entries {
        let f = files.iter().find(|f| f.name == e.name).unwrap();
        assert_eq!(f.bytes, e.expanded, "{}", e.name);
    }

    // A flipped bit inside a PA30 range: the stored hash (or the decoder, or the file hash)
    // refuses it, naming the file.
    let pa30 = index.file_named(entries[3].name).unwrap();
    let source = pa30.delta.as_ref().unwrap().source.as_ref().unwrap();
    let mut bad = psf;
    bad[(source.offset.unwrap() + source.length.unwrap() / 2) as usize] ^= 1;
    let err = expand_all(bad, &index).unwrap_err();
    assert!(err.to_string().contains("first.sys"), "{err}");
}
