//! Reading whole packages (`cbs::package`): payloads hashed in one pass over a cabinet give exactly
//! the report and errors of reading them one by one, at a fraction of the decoding; a WIM-format
//! MSU read through an injected WIM reader is reported like the classic MSU; delta payloads (the
//! Windows 7 MSUs' PA30 members, a `.psf` beside a cab) are expanded and verified, and one that
//! cannot be expanded is reported with the reason.

use std::collections::HashMap;
use std::io::{Cursor, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cbs::container::{self, Cabinet, LimitKind, Limits, Msu, PackageSource, SourceEntry, WimContent};
use cbs::package::{inspect_path, inspect_path_with, inspect_source, Error, FileStatus, PackageReport};
use sha2::{Digest, Sha256};

pub const KB2938772: &str = "Windows8.1-KB2938772-x64.cab";
pub const HYPERV: &str = "Windows6.x-HyperVIntegrationServices-x64.cab";
pub const MSUS: [&str; 2] = ["Windows6.1-KB2584475-x64.msu", "Windows6.1-KB2465285-x64.msu"];

/// A source that reads payloads the old way: every file opened on its own (the trait's default
/// `read_each`), which for a cabinet decodes its folder from the start each time.
struct OneByOne<S>(S);

impl<S: PackageSource> PackageSource for OneByOne<S> {
    fn package(&self) -> &str {
        self.0.package()
    }

    fn list(&self) -> container::Result<Vec<SourceEntry>> {
        self.0.list()
    }

    fn open(&mut self, name: &str) -> container::Result<Box<dyn Read + '_>> {
        self.0.open(name)
    }
}

/// Counts the bytes read from the file under a cabinet.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl<R: Seek> Seek for Counting<R> {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}

fn both_ways<R: Read + Seek>(
    mut one_pass: Cabinet<R>,
    one_by_one: Cabinet<R>,
    name: &str,
) -> (Result<PackageReport, Error>, Result<PackageReport, Error>) {
    let a = inspect_source(&mut one_pass, name.to_owned(), "cbs-cab");
    let b = inspect_source(&mut OneByOne(one_by_one), name.to_owned(), "cbs-cab");
    (a, b)
}

#[test]
fn one_pass_gives_the_report_of_reading_payloads_one_by_one() {
    let dir = real_or_skip!("one_pass_gives_the_report_of_reading_payloads_one_by_one");
    for (file, verified) in [(KB2938772, 3), (HYPERV, 47)] {
        let path = dir.join(file);
        let open = || Cabinet::open(&path, Limits::default()).unwrap();
        let (a, b) = both_ways(open(), open(), file);
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a, b, "{file}");
        assert_eq!(a.verified_files, verified, "{file}");
    }
    // The Windows 7 MSUs: inner cabs whose payloads are PA30 deltas (expanded, then hashed).
    for file in MSUS {
        let mut msu = Msu::open(dir.join(file), Limits::default()).unwrap();
        let inner = msu.inner_cab_names()[0].clone();
        let (a, b) = both_ways(msu.open_inner(&inner, None).unwrap(), msu.open_inner(&inner, None).unwrap(), file);
        assert_eq!(a.unwrap(), b.unwrap(), "{file}");
    }
}

#[test]
fn one_pass_decodes_a_solid_folder_once() {
    let dir = real_or_skip!("one_pass_decodes_a_solid_folder_once");
    // One LZX folder holding 64 members, 47 of them payloads.
    let path = dir.join(HYPERV);
    let len = std::fs::metadata(&path).unwrap().len();
    let counted = || {
        let read = Arc::new(AtomicU64::new(0));
        let file = Counting { inner: std::fs::File::open(&path).unwrap(), read: Arc::clone(&read) };
        let cab = Cabinet::new(file, HYPERV, Limits::default()).unwrap();
        let directory = read.load(Ordering::Relaxed);
        (cab, read, directory)
    };
    let (mut cab, read, directory) = counted();
    inspect_source(&mut cab, HYPERV.into(), "cbs-cab").unwrap();
    let one_pass = read.load(Ordering::Relaxed) - directory;
    let (cab, read, directory) = counted();
    inspect_source(&mut OneByOne(cab), HYPERV.into(), "cbs-cab").unwrap();
    let one_by_one = read.load(Ordering::Relaxed) - directory;
    // The manifests are still read one by one (they sit early in the folder); the payloads cost
    // one decode of the folder, where reading them one by one costs about one decode each.
    assert!(one_pass < 2 * len, "one pass read {one_pass} bytes of a {len}-byte cab");
    assert!(one_by_one > 8 * one_pass, "one by one {one_by_one}, one pass {one_pass}");
}

/// The members of a real cab, in storage order.
pub fn members_of(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut cab = Cabinet::open(path, Limits::default()).unwrap();
    let mut out = Vec::new();
    cab.for_each_member(|m, r| -> Result<(), container::Error> {
        let mut bytes = Vec::new();
        r.read_to_end(&mut bytes).unwrap();
        out.push((m.name.clone(), bytes));
        Ok(())
    })
    .unwrap();
    out
}

/// An MSZIP cabinet of `files`, stored in the order given (the `cab` crate's writer).
pub fn mszip_cab(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut builder = cab::CabinetBuilder::new();
    let folder = builder.add_folder(cab::CompressionType::MsZip);
    for (name, _) in files {
        folder.add_file(name.as_str());
    }
    let mut writer = builder.build(Cursor::new(Vec::new())).unwrap();
    let mut contents = files.iter().map(|(_, d)| d);
    while let Some(mut file) = writer.next_file().unwrap() {
        file.write_all(contents.next().unwrap()).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// KB2938772's members with one byte of the amd64 netcfgx.dll flipped.
pub fn tampered_kb2938772(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut members = members_of(&dir.join(KB2938772));
    let victim = members.iter_mut().find(|(n, _)| n.starts_with("amd64_") && n.ends_with("\\netcfgx.dll")).unwrap();
    victim.1[100] ^= 0xff;
    members
}

#[test]
fn one_pass_reports_the_error_reading_one_by_one_reports() {
    let dir = real_or_skip!("one_pass_reports_the_error_reading_one_by_one_reports");
    let tampered = tampered_kb2938772(&dir);
    // Payloads stored before the manifests, so storage order and manifest order disagree.
    let (mut payloads, mut rest): (Vec<_>, Vec<_>) = tampered.into_iter().partition(|(n, _)| n.contains('\\'));
    payloads.reverse();
    let mut files = payloads.clone();
    files.append(&mut rest);
    let open = |files: &[(String, Vec<u8>)]| Cabinet::new(Cursor::new(mszip_cab(files)), "t.cab", Limits::default());

    let (a, b) = both_ways(open(&files).unwrap(), open(&files).unwrap(), "t.cab");
    let (a, b) = (a.unwrap_err(), b.unwrap_err());
    assert_eq!(a.to_string(), b.to_string());
    match a {
        Error::DigestMismatch { member, expected, actual, .. } => {
            assert!(member.starts_with("amd64_") && member.ends_with("/netcfgx.dll"), "{member}");
            assert_ne!(expected, actual);
        }
        other => panic!("{other}"),
    }

    // A manifest under a name that is not its key form: an error of the manifest loop, reported
    // after the mismatch when it comes later in manifest order, before it when it comes first.
    let manifest = files.iter().find(|(n, _)| n.ends_with(".manifest")).unwrap().1.clone();
    for (name, first) in [("zz_misnamed.manifest", false), ("aa_misnamed.manifest", true)] {
        let mut with = files.clone();
        with.push((name.to_owned(), manifest.clone()));
        if first {
            let at = with.iter().position(|(n, _)| n.ends_with(".manifest")).unwrap();
            let extra = with.pop().unwrap();
            with.insert(at, extra);
        }
        let (a, b) = both_ways(open(&with).unwrap(), open(&with).unwrap(), "t.cab");
        let (a, b) = (a.unwrap_err(), b.unwrap_err());
        assert_eq!(a.to_string(), b.to_string(), "{name}");
        assert_eq!(matches!(a, Error::KeyFormMismatch { .. }), first, "{name}: {a}");
    }

    // A payload read error (limits) is the same error both ways.
    let limits = Limits { max_member_bytes: 200_000, ..Limits::default() };
    let open = || Cabinet::new(Cursor::new(mszip_cab(&files)), "t.cab", limits).unwrap();
    let (a, b) = both_ways(open(), open(), "t.cab");
    let (a, b) = (a.unwrap_err(), b.unwrap_err());
    assert_eq!(a.to_string(), b.to_string());
    assert!(matches!(a, Error::Container(container::Error::TooLarge { limit: LimitKind::MemberBytes, .. })), "{a}");
}

/// The engine's WIM reader, faked with a map (paths as stored, `\` or `/`).
pub struct FakeWim(pub HashMap<String, Vec<u8>>);

impl WimContent for FakeWim {
    fn list(&self) -> container::Result<Vec<String>> {
        let mut names: Vec<String> = self.0.keys().cloned().collect();
        names.sort();
        Ok(names)
    }

    fn read(&self, path: &str, limit: u64) -> container::Result<Vec<u8>> {
        let bytes = self
            .0
            .iter()
            .find(|(k, _)| k.replace('\\', "/").eq_ignore_ascii_case(path))
            .map(|(_, v)| v.clone())
            .ok_or_else(|| container::Error::MemberNotFound { package: "fake".into(), member: path.into() })?;
        assert!(bytes.len() as u64 <= limit, "{path}: over the limit");
        Ok(bytes)
    }
}

/// A file that detects as a WIM-format MSU (only its magic is looked at before the opener).
pub fn wim_msu_stub(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let mut bytes = b"MSWIM\0\0\0".to_vec();
    bytes.resize(4096, 0);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// The classic MSU members around the real cabs `inner`: WSUSSCAN.cab and pkgProperties.
pub fn msu_members(dir: &Path, inner: &[&str], kb: &str) -> HashMap<String, Vec<u8>> {
    let mut files: HashMap<String, Vec<u8>> =
        inner.iter().map(|n| ((*n).to_owned(), std::fs::read(dir.join(n)).unwrap())).collect();
    files.insert("WSUSSCAN.cab".into(), b"not read".to_vec());
    files.insert(format!("Windows8.1-KB{kb}-x64-pkgProperties.txt"), format!("KB Article Number=\"{kb}\"\r\n").into());
    files
}

#[test]
fn wim_format_msu_is_read_through_the_injected_reader() {
    let dir = real_or_skip!("wim_format_msu_is_read_through_the_injected_reader");
    let tmp = tempfile::tempdir().unwrap();
    let msu = wim_msu_stub(tmp.path(), "Windows8.1-KB2938772-x64.msu");

    // Without a reader it is recognised and not read, as before.
    let reports = inspect_path(&msu, Limits::default()).unwrap();
    assert_eq!(reports[0].kind, "wim-msu");
    assert!(reports[0].reason.as_deref().unwrap().contains("WIM-format MSU"));
    assert!(reports[0].identity.is_none());

    let files = msu_members(&dir, &[KB2938772], "2938772");
    let opened = std::cell::Cell::new(0);
    let opener = |path: &Path| -> container::Result<Box<dyn WimContent>> {
        assert_eq!(path, msu);
        opened.set(opened.get() + 1);
        Ok(Box::new(FakeWim(files.clone())))
    };
    let reports = inspect_path_with(&msu, Limits::default(), Some(&opener)).unwrap();
    assert_eq!(opened.get(), 1);
    let r = &reports[0];
    assert_eq!((r.kind, r.kb.as_deref(), r.reason.as_deref()), ("wim-msu", Some("KB2938772"), None));
    assert_eq!(r.identity.as_ref().unwrap().name, "Package_for_KB2938772");
    assert_eq!(r.inner.len(), 1);
    // The inner package reads exactly like the cab on its own.
    let mut alone = inspect_path(&dir.join(KB2938772), Limits::default()).unwrap().remove(0);
    alone.path = format!("{}!{KB2938772}", msu.display());
    assert_eq!(r.inner[0], alone);
    assert_eq!(r.inner[0].verified_files, 3);
    assert_eq!(r.components, alone.components);
}

/// The delta payloads of each Windows 7 MSU: (MSU, payload files, how many expand and verify:
/// all of them, the two x86 MSUs' i386 deltas included).
pub const MSU_DELTAS: [(&str, usize, usize); 4] = [
    ("Windows6.1-KB2584475-x64.msu", 12, 12),
    ("Windows6.1-KB2465285-x64.msu", 16, 16),
    ("Windows6.1-KB2584475-x86.msu", 12, 12),
    ("Windows6.1-KB2465285-x86.msu", 16, 16),
];

/// Every payload of `report` (and of its inner packages) either verified against the manifest's
/// digest (the expanded bytes' SHA-256 equal to it) or unsupported with a reason; returns
/// (verified, unsupported).
pub fn check_expanded(report: &PackageReport) -> (usize, usize) {
    let (mut verified, mut unsupported) = (0, 0);
    for f in report.components.iter().flat_map(|c| &c.files) {
        match f.status {
            FileStatus::Verified => {
                assert_eq!(f.verified, Some(true), "{}", f.name);
                assert_eq!(f.expanded_sha256, f.sha256, "{}: expanded bytes vs manifest", f.name);
                assert_eq!(f.verified_by.as_deref(), Some("manifest SHA-256"), "{}", f.name);
                verified += 1;
            }
            FileStatus::Unsupported => {
                assert!(!f.reason.as_deref().unwrap_or_default().is_empty(), "{}", f.name);
                assert_eq!(f.verified, None, "{}", f.name);
                unsupported += 1;
            }
            other => panic!("{}: {other:?}", f.name),
        }
    }
    (verified, unsupported)
}

#[test]
fn package_info_expands_and_verifies_windows7_delta_payloads() {
    let dir = real_or_skip!("package_info_expands_and_verifies_windows7_delta_payloads");
    for (file, total, expanded) in MSU_DELTAS {
        let report = inspect_path(&dir.join(file), Limits::default()).unwrap().remove(0);
        let inner = &report.inner[0];
        let (verified, unsupported) = check_expanded(inner);
        assert_eq!((verified, unsupported), (expanded, total - expanded), "{file}");
        assert_eq!(inner.verified_files, verified, "{file}");
        let delta = inner.delta.as_ref().unwrap();
        assert_eq!((delta.verified, delta.unsupported, delta.not_expanded), (verified, unsupported, 0), "{file}");
        assert!(delta.expansion.starts_with(&format!("{verified} expanded and verified")), "{}", delta.expansion);
        assert_eq!(delta.expansion.contains("unsupported"), unsupported > 0, "{}", delta.expansion);
        // The MSU stands for its package.
        assert_eq!(report.delta.as_ref(), Some(delta));
        assert_eq!(report.components, inner.components);
    }
}

/// Every package in `shared/testdata/real-cbs`: (file, inner packages, payload files, of which
/// stored as deltas). Issue 12's acceptance: every payload of every one of them expands and
/// verifies.
const REAL_PACKAGES: [(&str, usize, usize, usize); 6] = [
    ("Windows6.1-KB2465285-x64.msu", 1, 16, 16),
    ("Windows6.1-KB2465285-x86.msu", 1, 16, 16),
    ("Windows6.1-KB2584475-x64.msu", 1, 12, 12),
    ("Windows6.1-KB2584475-x86.msu", 1, 12, 12),
    ("Windows6.x-HyperVIntegrationServices-x64.cab", 0, 47, 0),
    ("Windows8.1-KB2938772-x64.cab", 0, 3, 0),
];

#[test]
fn every_payload_of_every_real_package_verifies() {
    let dir = real_or_skip!("every_payload_of_every_real_package_verifies");
    // The table covers the whole folder: a package added to the test data has to join it.
    let mut present: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".msu") || n.ends_with(".cab"))
        .collect();
    present.sort();
    assert_eq!(present, REAL_PACKAGES.map(|p| p.0.to_owned()));
    for (file, inner, payloads, deltas) in REAL_PACKAGES {
        let report = inspect_path(&dir.join(file), Limits::default()).unwrap().remove(0);
        assert_eq!(report.inner.len(), inner, "{file}");
        let packages = if inner == 0 { vec![&report] } else { report.inner.iter().collect() };
        let (mut verified, mut from_deltas) = (0, 0);
        for p in packages {
            let (mut here, mut here_from_deltas) = (0, 0);
            for f in p.components.iter().flat_map(|c| &c.files) {
                assert_eq!((f.status, f.verified), (FileStatus::Verified, Some(true)), "{file}: {}", f.name);
                // A payload expanded from a delta: its expanded bytes are what the manifest says.
                if f.expanded_sha256.is_some() {
                    assert_eq!(f.expanded_sha256, f.sha256, "{file}: {}", f.name);
                    here_from_deltas += 1;
                }
                here += 1;
            }
            assert_eq!((p.verified_files, p.failed_files), (here, 0), "{file}");
            assert_eq!(p.delta.as_ref().map_or(0, |d| d.verified), here_from_deltas, "{file}");
            verified += here;
            from_deltas += here_from_deltas;
        }
        assert_eq!((verified, from_deltas), (payloads, deltas), "{file}");
        assert!(!report.any_failed(), "{file}");
    }
}

/// The members of an MSU's first inner cab, in storage order.
pub fn inner_members(msu: &Path) -> Vec<(String, Vec<u8>)> {
    let mut msu = Msu::open(msu, Limits::default()).unwrap();
    let inner = msu.inner_cab_names()[0].clone();
    let mut cab = msu.open_inner(&inner, None).unwrap();
    let mut out = Vec::new();
    cab.for_each_member(|m, r| -> Result<(), container::Error> {
        let mut bytes = Vec::new();
        r.read_to_end(&mut bytes).unwrap();
        out.push((m.name.clone(), bytes));
        Ok(())
    })
    .unwrap();
    out
}

/// KB2465285's inner cab with the first PA30 entry of its delta index relabelled PA31 (a format
/// the decoder does not implement); returns the members and that file's name in the index.
pub fn with_a_pa31_entry(dir: &Path) -> (Vec<(String, Vec<u8>)>, String) {
    let mut members = inner_members(&dir.join(MSUS[1]));
    let cix = members.iter_mut().find(|(n, _)| n == "_manifest_.cix.xml").unwrap();
    let text = String::from_utf8(cix.1.clone()).unwrap();
    let at = text.find("type=\"PA30\"").expect("a PA30 entry");
    let file_at = text[..at].rfind("<File ").unwrap();
    let name = text[file_at..].split("name=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    cix.1 = format!("{}type=\"PA31\"{}", &text[..at], &text[at + "type=\"PA30\"".len()..]).into_bytes();
    (members, name)
}

#[test]
fn package_info_reports_an_unsupported_delta_and_goes_on() {
    let dir = real_or_skip!("package_info_reports_an_unsupported_delta_and_goes_on");
    let (members, victim) = with_a_pa31_entry(&dir);
    let mut cab = Cabinet::new(Cursor::new(mszip_cab(&members)), "pa31.cab", Limits::default()).unwrap();
    let report = inspect_source(&mut cab, "pa31.cab".into(), "cbs-cab").unwrap();
    let (verified, unsupported) = check_expanded(&report);
    assert_eq!(verified + unsupported, 16);
    assert!(unsupported >= 1);
    let files: Vec<(String, &cbs::package::FileReport)> = report
        .components
        .iter()
        .flat_map(|c| c.files.iter().map(move |f| (format!("{}\\{}", c.keyform, f.name), f)))
        .collect();
    let (_, f) = files.iter().find(|(n, _)| n.eq_ignore_ascii_case(&victim)).expect("the relabelled file");
    assert_eq!(f.status, FileStatus::Unsupported);
    assert!(f.reason.as_deref().unwrap().contains("PA31"), "{:?}", f.reason);
    // Anything else unsupported is made from it.
    for (name, f) in &files {
        if f.status == FileStatus::Unsupported && !name.eq_ignore_ascii_case(&victim) {
            let reason = f.reason.as_deref().unwrap();
            assert!(reason.starts_with(&format!("made from {victim}")) && reason.contains("PA31"), "{name}: {reason}");
        }
    }
    let delta = report.delta.as_ref().unwrap();
    assert_eq!((delta.verified, delta.unsupported), (verified, unsupported));
    assert!(delta.expansion.contains(&format!("{unsupported} unsupported: ")), "{}", delta.expansion);
    assert!(delta.expansion.contains("PA31"), "{}", delta.expansion);
}

/// KB2938772 made a PSF express package: its payload members moved into `<stem>.psf` (RAW
/// ranges), indexed by `express.psf.cix.xml` in the cab. Returns (cab, psf, payload count).
pub fn kb2938772_as_psf(dir: &Path) -> (Vec<u8>, Vec<u8>, usize) {
    let members = members_of(&dir.join(KB2938772));
    let (payloads, mut rest): (Vec<_>, Vec<_>) = members.into_iter().partition(|(n, _)| n.contains('\\'));
    let hex = |b: &[u8]| -> String { Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect() };
    let mut psf = Vec::new();
    let mut files = String::new();
    for (i, (name, bytes)) in payloads.iter().enumerate() {
        files.push_str(&format!(
            r#"<File id="{}" name="{name}" length="{}" time="130400000000000000"><Hash alg="SHA256" value="{}"/><Delta><Source type="RAW" offset="{}" length="{}"/></Delta></File>"#,
            i + 1,
            bytes.len(),
            hex(bytes),
            psf.len(),
            bytes.len()
        ));
        psf.extend_from_slice(bytes);
    }
    let cix = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><Container name="x.psf" type="PSF" length="{}" version="2" xmlns="urn:ContainerIndex"><Description/><Files>{files}</Files></Container>"#,
        psf.len()
    );
    rest.push(("express.psf.cix.xml".into(), cix.into_bytes()));
    (mszip_cab(&rest), psf, payloads.len())
}

#[test]
fn package_info_verifies_psf_payloads_and_notes_a_missing_psf() {
    let dir = real_or_skip!("package_info_verifies_psf_payloads_and_notes_a_missing_psf");
    let (cab, psf, payloads) = kb2938772_as_psf(&dir);
    assert_eq!(payloads, 3);
    let tmp = tempfile::tempdir().unwrap();
    let cab_path = tmp.path().join("Windows8.1-KB2938772-x64.cab");
    std::fs::write(&cab_path, &cab).unwrap();

    // No .psf beside it: reported, not failed.
    let report = inspect_path(&cab_path, Limits::default()).unwrap().remove(0);
    let files: Vec<_> = report.components.iter().flat_map(|c| &c.files).collect();
    assert_eq!(files.len(), 3);
    assert!(files.iter().all(|f| f.status == FileStatus::Delta && f.verified.is_none()), "{files:?}");
    assert_eq!(report.verified_files, 0);
    let note = report.psf.as_ref().unwrap();
    assert_eq!(note.psf_found, Some(false));
    assert_eq!(note.not_expanded, 3);
    let expected = tmp.path().join("Windows8.1-KB2938772-x64.psf").display().to_string();
    assert!(note.expansion.contains(&expected) && note.expansion.contains("not found"), "{}", note.expansion);

    // Beside it (any case): every payload expanded and verified.
    std::fs::write(tmp.path().join("windows8.1-kb2938772-x64.PSF"), &psf).unwrap();
    let report = inspect_path(&cab_path, Limits::default()).unwrap().remove(0);
    assert_eq!(check_expanded(&report), (3, 0));
    assert_eq!(report.verified_files, 3);
    let index = report.psf.as_ref().unwrap();
    assert_eq!((index.psf_found, index.verified, index.by_format.get("RAW")), (Some(true), 3, Some(&3)));
    assert_eq!(index.expansion, "3 expanded and verified");
    // The payloads are the cab's own: the same report as the original cab's, components and all.
    let original = inspect_path(&dir.join(KB2938772), Limits::default()).unwrap().remove(0);
    let digests = |r: &PackageReport| -> Vec<Option<String>> {
        r.components.iter().flat_map(|c| &c.files).map(|f| f.sha256.clone()).collect()
    };
    assert_eq!(digests(&report), digests(&original));

    // A folder holding both is one package: the .psf is its payload, not a package of its own.
    let reports = inspect_path(tmp.path(), Limits::default()).unwrap();
    assert_eq!(reports.len(), 1, "{:?}", reports.iter().map(|r| &r.path).collect::<Vec<_>>());
    assert_eq!(reports[0].verified_files, 3);

    // A .psf whose bytes are not the indexed ones fails, naming it.
    let mut bad = psf.clone();
    bad[10] ^= 0xff;
    std::fs::write(tmp.path().join("windows8.1-kb2938772-x64.PSF"), &bad).unwrap();
    let err = inspect_path(&cab_path, Limits::default()).unwrap_err();
    assert!(matches!(err, Error::Psf(_)), "{err}");
    assert!(err.to_string().contains("kb2938772-x64.PSF"), "{err}");
}

/// The inner cab of a Windows 7 MSU with the patch data of one PA30 member damaged (bytes in the
/// middle turned over), a delta no other file is made from: (members, that file's name).
pub fn with_a_corrupt_pa30_member(dir: &Path, msu: &str) -> (Vec<(String, Vec<u8>)>, String) {
    let mut members = inner_members(&dir.join(msu));
    let cix = &members.iter().find(|(n, _)| n == "_manifest_.cix.xml").unwrap().1;
    let index = cbs::cix::ContainerIndex::parse(cix, "_manifest_.cix.xml").unwrap();
    let (file, member) = index.leaf_delta().expect("a PA30 file no other is made from");
    let (name, member) = (file.name.clone(), member.to_owned());
    let stored = &mut members.iter_mut().find(|(n, _)| *n == member).expect("the PA30 member").1;
    let middle = stored.len() / 2;
    for b in &mut stored[middle..middle + 16] {
        *b ^= 0x5a;
    }
    (members, name)
}

/// Regression (issue 12): one bad delta aborted `package info` for the whole package and for
/// every package after it. Now the bad file is reported failed with the reason, the files made
/// from it too, every other payload is still verified, and a good package beside it is reported
/// as before.
#[test]
fn one_failed_delta_no_longer_hides_the_other_files_and_packages() {
    let dir = real_or_skip!("one_failed_delta_no_longer_hides_the_other_files_and_packages");
    let (members, victim) = with_a_corrupt_pa30_member(&dir, MSUS[1]);
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("a-corrupt.cab"), mszip_cab(&members)).unwrap();
    std::fs::copy(dir.join(KB2938772), tmp.path().join(KB2938772)).unwrap();

    let reports = inspect_path(tmp.path(), Limits::default()).unwrap();
    assert_eq!(reports.len(), 2, "both packages reported");
    let (bad, good): (Vec<_>, Vec<_>) = reports.iter().partition(|r| r.path.ends_with("a-corrupt.cab"));
    let (bad, good) = (bad[0], good[0]);

    let files: Vec<(String, &cbs::package::FileReport)> = bad
        .components
        .iter()
        .flat_map(|c| c.files.iter().map(move |f| (format!("{}\\{}", c.keyform, f.name), f)))
        .collect();
    let (_, f) = files.iter().find(|(n, _)| n.eq_ignore_ascii_case(&victim)).expect("the damaged file");
    assert_eq!(f.status, FileStatus::Failed);
    assert_eq!(f.verified, None);
    assert!(!f.reason.as_deref().unwrap().is_empty());
    let (mut verified, mut failed) = (0, 0);
    for (name, f) in &files {
        match f.status {
            FileStatus::Verified => verified += 1,
            FileStatus::Failed => {
                failed += 1;
                let reason = f.reason.as_deref().unwrap();
                assert!(
                    name.eq_ignore_ascii_case(&victim) || reason.starts_with(&format!("made from {victim}")),
                    "{name}: {reason}"
                );
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    assert_eq!((verified, failed), (15, 1), "the other payloads are still verified");
    assert!(bad.any_failed() && bad.failed_files == failed);
    let delta = bad.delta.as_ref().unwrap();
    assert_eq!((delta.verified, delta.unsupported, delta.failed), (verified, 0, failed));
    assert!(delta.expansion.contains(&format!("{failed} failed: ")), "{}", delta.expansion);

    assert!(!good.any_failed());
    assert_eq!(good.verified_files, 3);
}
