//! Malformed WIMs: truncated at several offsets, wrong magic, header fields out of range, bits
//! flipped in the header, the blob table, the XML and the data, and image references that do not
//! exist. Each is a real WIM (wimlib-imagex or the fixture generator) with one defect.

use std::path::{Path, PathBuf};

use super::{name, s, Case, Expect, Run, Sandbox};

/// Offsets in the 208-byte WIM header (wimlib's `struct wim_header_disk`).
const HDR_SIZE: usize = 8;
const CHUNK_SIZE: usize = 20;
const PART_NUMBER: usize = 40;
const IMAGE_COUNT: usize = 44;
const BLOB_TABLE: usize = 48;
const XML: usize = 72;

/// A resource header: 7 bytes of stored size, 1 of flags, then the offset and the original size.
fn reshdr(bytes: &[u8], at: usize) -> (usize, usize) {
    let mut size = [0u8; 8];
    size[..7].copy_from_slice(&bytes[at..at + 7]);
    let offset = u64::from_le_bytes(bytes[at + 8..at + 16].try_into().expect("8 bytes"));
    (offset as usize, u64::from_le_bytes(size) as usize)
}

fn three(sb: &Sandbox<'_>) -> Vec<u8> {
    std::fs::read(&sb.shared.three).expect("template WIM")
}

/// Writes `bytes` as `file` and returns `verb`'s run on it.
fn on(sb: &Sandbox<'_>, file: &str, bytes: &[u8], verb: &[&str]) -> Run {
    let p = sb.write(file, bytes);
    run_on(&p, verb)
}

/// `verb` with `{}` replaced by the WIM's path.
fn run_on(wim: &Path, verb: &[&str]) -> Run {
    let w = s(wim);
    let args: Vec<&str> = verb.iter().map(|a| if *a == "{}" { w.as_str() } else { a }).collect();
    Run::new(&args, &[wim], &name(wim))
}

fn patched(mut bytes: Vec<u8>, at: usize, value: &[u8]) -> Vec<u8> {
    bytes[at..at + value.len()].copy_from_slice(value);
    bytes
}

fn flipped(mut bytes: Vec<u8>, at: usize) -> Vec<u8> {
    bytes[at] ^= 0x55;
    bytes
}

fn export_to(sb: &Sandbox<'_>) -> (PathBuf, String) {
    let out = sb.path("out");
    std::fs::create_dir_all(&out).expect("out dir");
    let dest = out.join("dest.wim");
    (out, s(&dest))
}

/// Where the blob of `path` (image 1) lies in `wim`: offset and stored size.
fn blob_of(wim: &Path, path: &str) -> (usize, usize) {
    let detail = crate::util::imagex(&["dir", &s(wim), "1", &format!("--path={path}"), "--detailed"]);
    let field = |key: &str| -> usize {
        let line = detail.lines().find(|l| l.starts_with(key)).unwrap_or_else(|| panic!("no {key} in {detail}"));
        line.split('=').nth(1).and_then(|v| v.split_whitespace().next()).and_then(|v| v.parse().ok()).expect("number")
    };
    (field("Offset in WIM"), field("Compressed size"))
}

/// `add-package` of the good cab into `wim`, which stderr must name.
fn add_package(sb: &Sandbox<'_>, wim: &Path, cab: &Path) -> Run {
    Run { args: sb.add_package(wim, cab), inputs: vec![wim.to_path_buf(), cab.to_path_buf()], ..Run::default() }
        .mentioning(&name(wim))
}

pub fn cases() -> Vec<Case> {
    let fail = |name, setup| Case { name, setup, expect: Expect::Failure };
    let usage = |name, setup| Case { name, setup, expect: Expect::Usage };
    vec![
        fail("wim/empty-file", |sb| on(sb, "empty.wim", &[], &["info", "{}"])),
        fail("wim/wrong-magic", |sb| {
            on(sb, "magic.wim", &patched(three(sb), 0, b"MSWIN\0\0\0"), &["info", "{}"]).mentioning("NOT_A_WIM")
        }),
        fail("wim/truncated-in-header", |sb| on(sb, "cut-header.wim", &three(sb)[..100], &["verify", "{}"])),
        fail("wim/truncated-in-blob-table", |sb| {
            let b = three(sb);
            let (offset, size) = reshdr(&b, BLOB_TABLE);
            on(sb, "cut-blobs.wim", &b[..offset + size / 2], &["verify", "{}"])
        }),
        fail("wim/truncated-in-xml", |sb| {
            let b = three(sb);
            let (offset, size) = reshdr(&b, XML);
            on(sb, "cut-xml.wim", &b[..offset + size / 2], &["info", "{}"])
        }),
        fail("wim/truncated-in-data", |sb| {
            let b = three(sb);
            let half = b.len() / 2;
            on(sb, "cut-data.wim", &b[..half], &["reduce", "--image", "{}", "--keep", "1"])
        }),
        fail("wim/truncated-last-byte", |sb| {
            let b = three(sb);
            on(sb, "cut-end.wim", &b[..b.len() - 1], &["optimize", "--image", "{}"])
        }),
        fail("wim/header-size-wrong", |sb| {
            on(sb, "hdrsize.wim", &patched(three(sb), HDR_SIZE, &0xFFFFu32.to_le_bytes()), &["info", "{}"])
        }),
        fail("wim/header-image-count-huge", |sb| {
            on(sb, "count.wim", &patched(three(sb), IMAGE_COUNT, &u32::MAX.to_le_bytes()), &["info", "{}"])
        }),
        fail("wim/header-chunk-size-invalid", |sb| {
            on(sb, "chunk.wim", &patched(three(sb), CHUNK_SIZE, &3u32.to_le_bytes()), &["verify", "{}"])
        }),
        fail("wim/header-part-2-of-1", |sb| {
            on(sb, "part.wim", &patched(three(sb), PART_NUMBER, &[2, 0, 1, 0]), &["verify", "{}"])
        }),
        fail("wim/blob-table-past-eof", |sb| {
            let b = three(sb);
            let far = (b.len() as u64 + (1 << 40)).to_le_bytes();
            on(sb, "blobs-far.wim", &patched(b, BLOB_TABLE + 8, &far), &["verify", "{}"])
        }),
        fail("wim/xml-past-eof", |sb| {
            let b = three(sb);
            let far = (b.len() as u64 + 4096).to_le_bytes();
            on(sb, "xml-far.wim", &patched(b, XML + 8, &far), &["info", "{}"])
        }),
        fail("wim/bitflip-blob-table", |sb| {
            let b = three(sb);
            let (offset, _) = reshdr(&b, BLOB_TABLE);
            // Entry 1's SHA-1 (entries are 50 bytes: resource header, part, refcount, hash). A flip
            // in the refcount or part number is tolerated by wimlib; one in the hash is not.
            on(sb, "flip-blobs.wim", &flipped(b, offset + 50 + 40), &["verify", "{}"])
        }),
        fail("wim/bitflip-xml", |sb| {
            let b = three(sb);
            let (offset, _) = reshdr(&b, XML);
            // Inside `<WIM>`, the first element after the byte-order mark: the XML no longer parses.
            on(sb, "flip-xml.wim", &flipped(b, offset + 4), &["info", "{}"])
        }),
        fail("wim/bitflip-data", |sb| {
            let b = three(sb);
            // Inside the first compressed blob, right after the header.
            on(sb, "flip-data.wim", &flipped(b, 208 + 64), &["verify", "{}"])
        }),
        fail("wim/bitflip-data-add-package", |sb| {
            // Inside the compressed SOFTWARE hive, which add-package must read.
            let (offset, size) = blob_of(&sb.shared.win10, "/Windows/System32/config/SOFTWARE");
            let b = std::fs::read(&sb.shared.win10).expect("fixture");
            let wim = sb.write("flip-win10.wim", &flipped(b, offset + size / 2));
            let cab = sb.copy(&sb.shared.good_cab, "KB5000001.cab");
            add_package(sb, &wim, &cab)
        }),
        fail("wim/truncated-add-package", |sb| {
            let b = std::fs::read(&sb.shared.win10).expect("fixture");
            let wim = sb.write("cut-win10.wim", &b[..b.len() * 2 / 3]);
            let cab = sb.copy(&sb.shared.good_cab, "KB5000001.cab");
            add_package(sb, &wim, &cab)
        }),
        fail("wim/directory-as-wim", |sb| {
            let d = sb.path("folder.wim");
            std::fs::create_dir_all(&d).expect("mkdir");
            Run::new(&["info", &s(&d)], &[], "folder.wim")
        }),
        fail("wim/index-missing", |sb| {
            let wim = sb.copy(&sb.shared.three, "three.wim");
            let (out, dest) = export_to(sb);
            run_on(&wim, &["export-image", "--source", "{}", "--index", "4", "--dest", &dest])
                .mentioning("no image index 4")
                .allowing(&out)
        }),
        fail("wim/index-zero", |sb| {
            let wim = sb.copy(&sb.shared.three, "three.wim");
            run_on(&wim, &["delete-image", "--image", "{}", "--index", "0"]).mentioning("no image index 0")
        }),
        fail("wim/index-name-unknown", |sb| {
            let wim = sb.copy(&sb.shared.win10, "win10.wim");
            run_on(&wim, &["get-packages", "--image", "{}", "--index", "Windows 95"]).mentioning("Windows 95")
        }),
        usage("wim/index-huge", |sb| {
            let wim = sb.copy(&sb.shared.three, "three.wim");
            Run::new(
                &["reduce", "--image", &s(&wim), "--keep", "18446744073709551616"],
                &[&wim],
                "18446744073709551616",
            )
        }),
    ]
}
