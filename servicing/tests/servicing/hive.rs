//! Tests of the safe hivex layer.
//!
//! These cover what needs no fixture generator: refusing files that are not hives, or are damaged, with
//! errors that name the file. A minimal hive is built inline (base block and one bin holding the root
//! key) so that each rejection is checked against a control that opens. Writing and round trips are
//! tested in the fixtures crate, which can make writable hives.

use std::path::{Path, PathBuf};

use servicing::hive::{self, Hive, Mode, MAX_HIVE_BYTES};

const ROOT: &str = "ROOT";

fn put(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

fn reseal(b: &mut [u8]) {
    let sum = b[..0x1FC].chunks_exact(4).fold(0u32, |s, d| s ^ u32::from_le_bytes([d[0], d[1], d[2], d[3]]));
    put(b, 0x1FC, sum);
}

/// A base block and one 4096-byte bin: the root key node at bin offset 0x20, then one free cell.
fn minimal_hive() -> Vec<u8> {
    let mut b = vec![0u8; 8192];
    b[0..4].copy_from_slice(b"regf");
    put(&mut b, 0x04, 1);
    put(&mut b, 0x08, 1);
    put(&mut b, 0x14, 1);
    put(&mut b, 0x18, 5);
    put(&mut b, 0x20, 1);
    put(&mut b, 0x24, 0x20);
    put(&mut b, 0x28, 4096);
    put(&mut b, 0x2C, 1);
    reseal(&mut b);

    let bin = &mut b[4096..];
    bin[0..4].copy_from_slice(b"hbin");
    put(bin, 0x08, 4096);
    let nk_size = (4 + 0x4C + ROOT.len()).next_multiple_of(8);
    let nk = &mut bin[0x20..];
    nk[0..4].copy_from_slice(&(-(nk_size as i32)).to_le_bytes());
    let body = &mut nk[4..];
    body[0..2].copy_from_slice(b"nk");
    body[2..4].copy_from_slice(&0x2Cu16.to_le_bytes()); // HIVE_ENTRY | NO_DELETE | COMP_NAME
    for off in [0x1C, 0x20, 0x28, 0x2C, 0x30] {
        put(body, off, 0xFFFF_FFFF); // no subkey lists, values, security or class
    }
    body[0x48..0x4A].copy_from_slice(&(ROOT.len() as u16).to_le_bytes());
    body[0x4C..0x4C + ROOT.len()].copy_from_slice(ROOT.as_bytes());
    let free = 0x20 + nk_size;
    put(bin, free, (4096 - free) as u32);
    b
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write test file");
    path
}

/// Opens `path`, expecting a failure whose message names the file and contains `needle`.
fn refused(path: &Path, needle: &str) -> hive::Error {
    let err = Hive::open(path, Mode::ReadOnly).expect_err("the file must be refused");
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "message does not name the file: {msg}");
    assert!(msg.contains(needle), "message lacks {needle:?}: {msg}");
    err
}

#[test]
fn the_inline_minimal_hive_opens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), "MINIMAL", &minimal_hive());
    let hive = Hive::open(&path, Mode::ReadOnly).expect("control hive opens");
    assert_eq!(hive.path(), path);
    assert_eq!(hive.node_name(hive.root()).expect("name"), ROOT);
    assert!(hive.children(hive.root()).expect("children").is_empty());
    assert_eq!(hive.value(hive.root(), "").expect("read"), None);
    assert_eq!(hive.lookup("").expect("lookup"), Some(hive.root()));
    assert_eq!(hive.lookup(r"Not\There").expect("lookup"), None);
}

#[test]
fn missing_file_and_directory_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("NOPE");
    assert!(matches!(refused(&missing, "cannot open"), hive::Error::Open { .. }));
    assert!(matches!(refused(dir.path(), "not a regular file"), hive::Error::Open { .. }));
}

#[test]
fn a_file_that_is_not_a_hive_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text: Vec<u8> = b"Windows Registry Editor Version 5.00\r\n".iter().copied().cycle().take(16384).collect();
    let path = write(dir.path(), "export.reg", &text);
    assert!(matches!(refused(&path, "not a registry hive"), hive::Error::InvalidData { .. }));
    let path = write(dir.path(), "tiny", b"regf");
    refused(&path, "4 bytes");
}

#[test]
fn an_oversized_file_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("HUGE");
    // Sparse: costs no disk space, and the layer must not read it anyway.
    std::fs::File::create(&path).and_then(|f| f.set_len(MAX_HIVE_BYTES + 1)).expect("create sparse file");
    match refused(&path, "limit") {
        hive::Error::TooLarge { size, limit, .. } => assert_eq!((size, limit), (MAX_HIVE_BYTES + 1, MAX_HIVE_BYTES)),
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

#[test]
fn a_truncated_hive_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = minimal_hive();
    let path = write(dir.path(), "CUT", &good[..6000]);
    refused(&path, "6000 bytes");
    // A whole bin missing: the base block declares two, the file holds one.
    let mut two_bins = good.clone();
    put(&mut two_bins, 0x28, 8192);
    reseal(&mut two_bins);
    let path = write(dir.path(), "CUTBIN", &two_bins);
    refused(&path, "truncated");
}

#[test]
fn a_damaged_base_block_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut flipped = minimal_hive();
    flipped[0x2C] ^= 0x01; // clustering factor: caught by the checksum alone
    let path = write(dir.path(), "FLIPPED", &flipped);
    refused(&path, "checksum");

    let mut version = minimal_hive();
    put(&mut version, 0x14, 2);
    reseal(&mut version);
    let path = write(dir.path(), "VERSION", &version);
    refused(&path, "version 2.5");

    let mut root = minimal_hive();
    put(&mut root, 0x24, 0x5000);
    reseal(&mut root);
    let path = write(dir.path(), "ROOTOFF", &root);
    refused(&path, "root key offset");
}

#[test]
fn damage_only_libhivex_sees_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A sound base block over a bin without its "hbin" signature.
    let mut bytes = minimal_hive();
    bytes[4096..4100].copy_from_slice(b"XXXX");
    let path = write(dir.path(), "NOBIN", &bytes);
    assert!(matches!(refused(&path, "libhivex rejected"), hive::Error::InvalidData { .. }));

    // The root offset points at the free cell.
    let mut bytes = minimal_hive();
    let free = 0x20 + (4 + 0x4C + ROOT.len()).next_multiple_of(8);
    put(&mut bytes, 0x24, free as u32);
    reseal(&mut bytes);
    let path = write(dir.path(), "FREEROOT", &bytes);
    refused(&path, "libhivex rejected");
}

#[test]
fn a_read_only_hive_refuses_writes_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), "RO", &minimal_hive());
    let mut hive = Hive::open(&path, Mode::ReadOnly).expect("open");
    let root = hive.root();
    let err = hive.ensure_path("Key").expect_err("read-only");
    assert!(matches!(err, hive::Error::ReadOnly { .. }), "{err:?}");
    assert!(err.to_string().contains(&path.display().to_string()), "{err}");
    assert!(matches!(hive.delete_child(root), Err(hive::Error::ReadOnly { .. })));
    assert!(matches!(hive.commit_to(&dir.path().join("COPY")), Err(hive::Error::ReadOnly { .. })));
    assert!(!dir.path().join("COPY").exists());
}

#[test]
fn a_writable_hive_without_a_security_cell_fails_cleanly() {
    // libhivex needs the parent's security cell to add a key; the minimal hive has none.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), "NOSK", &minimal_hive());
    let mut hive = Hive::open(&path, Mode::Write).expect("open");
    let err = hive.add_child(hive.root(), "Key").expect_err("no sk cell");
    assert!(matches!(err, hive::Error::Call { op: "add subkey", .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()) && msg.contains(r"key \:"), "{msg}");
}

#[test]
fn hive_handles_can_move_between_threads() {
    fn assert_send<T: Send>() {}
    assert_send::<Hive>();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), "SEND", &minimal_hive());
    let hive = Hive::open(&path, Mode::ReadOnly).expect("open");
    let name = std::thread::spawn(move || hive.node_name(hive.root()).expect("name")).join().expect("thread");
    assert_eq!(name, ROOT);
}

/// Regression (issue 17 item 11): errors about an image's hive named the scratch copy (deleted by
/// the time the message is read); a hive that is a link (a reparse point in the image) was
/// followed. Opened as the image's hive, the error names the image and the hive in it, and a link
/// is refused without being followed.
#[test]
fn hive_errors_name_the_image_not_the_scratch_copy() {
    let dir = tempfile::tempdir().unwrap();
    let shown = Path::new(r"Windows\System32\config\SOFTWARE in /images/install.wim image 1");
    let copy = dir.path().join("SOFTWARE");
    std::fs::write(&copy, vec![0x5a; 8192]).unwrap();
    let err = Hive::open_as(&copy, Mode::ReadOnly, shown).expect_err("not a hive").to_string();
    assert!(err.contains(&shown.display().to_string()), "{err}");
    assert!(!err.contains(&dir.path().display().to_string()), "{err}");

    let link = dir.path().join("SYSTEM");
    std::os::unix::fs::symlink(&copy, &link).unwrap();
    let err = Hive::open_as(&link, Mode::ReadOnly, shown).expect_err("a link").to_string();
    assert!(err.contains(&shown.display().to_string()) && err.contains("symbolic link"), "{err}");
}

#[test]
fn merge_values_replaces_and_adds_keeps_the_rest_byte_for_byte_and_skips_a_no_op() {
    use servicing::hive::{kind, Value};
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), "MERGE", &minimal_hive());
    let mut hive = Hive::open(&path, Mode::Write).expect("open");
    let root = hive.root();
    // A REG_SZ with junk after its terminator, as Windows often leaves: it must survive untouched.
    let junk = Value::Other { kind: kind::REG_SZ, data: vec![0x41, 0, 0, 0, 0x5A, 0] };
    hive.set_values(root, &[("Kept".into(), junk), ("Start".into(), Value::Dword(1))]).expect("set");
    let merged = hive
        .merge_values(root, &[("START".into(), Value::Dword(2)), ("New".into(), Value::Sz("x".into()))])
        .expect("merge");
    assert!(merged);
    assert_eq!(hive.value_names(root).expect("names"), ["Kept", "Start", "New"], "replaced in place, spelling kept");
    assert_eq!(hive.raw_value(root, "Kept").expect("raw"), Some((kind::REG_SZ, vec![0x41, 0, 0, 0, 0x5A, 0])));
    assert_eq!(hive.value(root, "start").expect("read"), Some(Value::Dword(2)));
    let again = hive
        .merge_values(root, &[("Start".into(), Value::Dword(2)), ("new".into(), Value::Sz("x".into()))])
        .expect("merge");
    assert!(!again, "the same data again changes nothing");
    // The later of two values of one name wins.
    assert!(hive.merge_values(root, &[("n".into(), Value::Dword(1)), ("N".into(), Value::Dword(3))]).expect("merge"));
    assert_eq!(hive.value(root, "n").expect("read"), Some(Value::Dword(3)));
}
