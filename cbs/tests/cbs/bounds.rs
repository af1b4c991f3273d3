//! Bounded time on hostile cabinets (issue 17, item 6): a solid folder is decoded once however
//! many of its members are read, and every byte decoded, the bytes skipped to reach a member
//! included, counts against `max_total_bytes`.

use std::io::{Cursor, Read, Write};

use cbs::container::{Cabinet, Error, LimitKind, Limits};
use cbs::package::inspect_source;

use crate::container::{forge_blocks, Entry};

/// A one-folder MSZIP cabinet of `members`, by the `cab` crate's writer.
fn mszip_cab<N: AsRef<str>, B: AsRef<[u8]>>(members: &[(N, B)]) -> Vec<u8> {
    let mut builder = cab::CabinetBuilder::new();
    let folder = builder.add_folder(cab::CompressionType::MsZip);
    for (name, _) in members {
        folder.add_file(name.as_ref());
    }
    let mut writer = builder.build(Cursor::new(Vec::new())).unwrap();
    let mut next = members.iter();
    while let Some(mut file) = writer.next_file().unwrap() {
        file.write_all(next.next().unwrap().1.as_ref()).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// A package manifest named `name`; the top one lists `subs` as sub-packages.
fn mum(name: &str, subs: &[String]) -> Vec<u8> {
    let identity = |n: &str| {
        format!(
            r#"<assemblyIdentity name="{n}" version="10.0.1.0" processorArchitecture="amd64" language="neutral" publicKeyToken="31bf3856ad364e35"/>"#
        )
    };
    let packages: String =
        subs.iter().map(|s| format!("<package integrate=\"hidden\">{}</package>", identity(s))).collect();
    let update = if subs.is_empty() { String::new() } else { format!(r#"<update name="all">{packages}</update>"#) };
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><assembly xmlns="urn:schemas-microsoft-com:asm.v3" manifestVersion="1.0">{}<package identifier="KB5000099" releaseType="Update">{update}</package></assembly>"#,
        identity(name)
    )
    .into_bytes()
}

/// update.mum and `count` small sub-package .mum members, all in one solid MSZIP folder.
fn many_mums(count: usize) -> Vec<(String, Vec<u8>)> {
    let names: Vec<String> = (0..count).map(|i| format!("Package_{i:05}_for_KB5000099")).collect();
    let mut members = vec![("update.mum".to_owned(), mum("Package_for_KB5000099", &names[..10]))];
    members.extend(names.iter().map(|n| (format!("{n}~31bf3856ad364e35~amd64~~10.0.1.0.mum"), mum(n, &[]))));
    members
}

/// Regression (issue 17: "quadratic decoding"): every .mum read decoded the solid folder from its
/// start, so a cab of 20,000 small .mum members ran for hours. It is now read in one pass: the
/// bytes decoded are at most the folder's size (asserted as work done, not time).
#[test]
fn twenty_thousand_mum_cab_is_decoded_once() {
    let members = many_mums(20_000);
    let bytes = mszip_cab(&members);
    let mut cab = Cabinet::new(Cursor::new(bytes), "many.cab", Limits::default()).unwrap();
    assert_eq!(cab.folders().len(), 1, "one solid folder");
    let folder = cab.folders()[0].uncompressed_size;
    let report = inspect_source(&mut cab, "many.cab".into(), "cbs-cab").unwrap();
    assert_eq!(report.packages.len(), 20_000);
    assert!(cab.bytes_decoded() <= folder, "decoded {} bytes of a {folder}-byte folder", cab.bytes_decoded());

    // Opening the members one by one charges the bytes skipped to reach each: with a budget of
    // twice the folder, the quadratic way is stopped by the budget, naming the package.
    let bytes = mszip_cab(&members);
    let limits = Limits { max_total_bytes: 2 * folder, ..Limits::default() };
    let mut cab = Cabinet::new(Cursor::new(bytes), "many.cab", limits).unwrap();
    let names: Vec<String> = cab.members().iter().map(|m| m.name.clone()).collect();
    let err = names.iter().try_for_each(|n| cab.read_member(n, 1 << 20).map(drop)).unwrap_err();
    assert!(matches!(err, Error::TooLarge { limit: LimitKind::TotalBytes, .. }), "{err}");
    assert!(err.to_string().starts_with("many.cab"), "{err}");
}

/// One MSZIP data block (CFDATA: checksum 0 = unchecked, sizes, "CK" + deflate) of `data`,
/// compressed on its own so that it decodes at any place in a folder.
fn mszip_block(data: &[u8]) -> Vec<u8> {
    let cab = mszip_cab(&[("b", data)]);
    // Header (36) + one folder entry (8) + one file entry (16 + "b\0"): the block follows.
    let at = u32::from_le_bytes(cab[36..40].try_into().unwrap()) as usize;
    let len = u16::from_le_bytes(cab[at + 4..at + 6].try_into().unwrap()) as usize;
    cab[at..at + 8 + len].to_vec()
}

/// Regression (issue 17: the same cab with 1.5 GiB of zeros before the .mum members, compressed
/// to a few MB): the bytes skipped to reach the members were not charged. Now the bytes a folder
/// must decode are judged against the budget before any is decoded: refused at once, naming the
/// file, nothing decoded.
#[test]
fn zeros_before_the_mums_are_refused_by_the_budget_before_decoding() {
    const ZERO_BLOCKS: usize = 49_152; // 1.5 GiB in blocks of 32 KiB
    let zero = mszip_block(&[0u8; 32_768]);
    let mums = many_mums(2_000);
    let mut entries = vec![("padding.bin".to_owned(), (ZERO_BLOCKS * 32_768) as u32, 0u32)];
    let mut mum_data = Vec::new();
    for (name, bytes) in &mums {
        entries.push((name.clone(), bytes.len() as u32, (ZERO_BLOCKS * 32_768 + mum_data.len()) as u32));
        mum_data.extend_from_slice(bytes);
    }
    let mut blocks = vec![zero; ZERO_BLOCKS];
    blocks.extend(mum_data.chunks(32_768).map(mszip_block));
    let entries: Vec<Entry<'_>> = entries
        .iter()
        .map(|(name, size, offset)| Entry { name: name.as_bytes(), size: *size, offset: *offset, folder: 0 })
        .collect();
    let bytes = forge_blocks(&[(1, blocks)], &entries);
    assert!(bytes.len() < 8 << 20, "a small file ({} bytes)", bytes.len());

    let limits = Limits { max_total_bytes: 1 << 30, max_ratio: 100_000, ..Limits::default() };
    let mut cab = Cabinet::new(Cursor::new(bytes.clone()), "zeros.cab", limits).unwrap();
    let err = inspect_source(&mut cab, "zeros.cab".into(), "cbs-cab").unwrap_err();
    let shown = err.to_string();
    assert!(shown.contains("zeros.cab"), "{shown}");
    assert!(
        matches!(err, cbs::package::Error::Container(Error::TooLarge { limit: LimitKind::TotalBytes, .. })),
        "{shown}"
    );
    assert_eq!(cab.bytes_decoded(), 0, "refused before decoding");

    // Opening one member after the zeros: the same, before decoding.
    let mut cab = Cabinet::new(Cursor::new(bytes), "zeros.cab", limits).unwrap();
    let err = cab.open_member("update.mum").unwrap_err();
    assert!(matches!(err, Error::TooLarge { limit: LimitKind::TotalBytes, .. }), "{err}");
    assert_eq!(cab.bytes_decoded(), 0);
}

/// Regression (issue 17): the bytes decoded to reach a member were not counted, so reading only
/// the last member of a folder cost the whole folder against a budget of one member.
#[test]
fn bytes_skipped_to_reach_a_member_count_against_the_budget() {
    let a = vec![1u8; 100_000];
    let b = vec![2u8; 100];
    let bytes = mszip_cab(&[("a", &a), ("b", &b)]);
    let limits = Limits { max_total_bytes: 50_000, ..Limits::default() };
    let mut cab = Cabinet::new(Cursor::new(bytes), "skip.cab", limits).unwrap();
    let err = cab.open_member("b").map(drop).unwrap_err();
    assert!(matches!(&err, Error::TooLarge { limit: LimitKind::TotalBytes, member: Some(m), .. } if m == "b"), "{err}");
    // With room for it, the skipped bytes are counted as they are decoded.
    let bytes = mszip_cab(&[("a", &a), ("b", &b)]);
    let mut cab = Cabinet::new(Cursor::new(bytes), "skip.cab", Limits::default()).unwrap();
    let mut out = Vec::new();
    cab.open_member("b").unwrap().read_to_end(&mut out).unwrap();
    assert_eq!(out, b);
    assert_eq!(cab.bytes_decoded(), 100_100);
}
