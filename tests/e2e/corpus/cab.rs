//! Malformed and hostile cabinets and MSUs handed to `add-package` (and `package info`): the broken
//! entries of `fixtures::packages`, plus duplicate members, declared sizes far beyond the data (the
//! shape of a decompression bomb), a real high-ratio member, a deeply nested member name, a member
//! count the table does not hold, cabs nested past the limit, MSUs whose inner cab is broken, and
//! package folders that loop.

use std::path::Path;

use fixtures::packages::{self, broken, cab_bytes, msu, Compression, Lcu, PackageDef};
use fixtures::profile::Profile;

use super::{name, s, Case, Expect, Run, Sandbox};

/// Offsets in the cabinet header (`CFHEADER`, no reserve: the `cab` crate writes none).
const COFF_FILES: usize = 16;
const C_FILES: usize = 28;

fn lcu(kb: u32) -> PackageDef {
    packages::updates::cumulative_update(&Profile::win10_amd64(), &Lcu::monthly(kb, (kb % 1000) as u16))
        .expect("LCU definition")
}

fn cab_of(file: &str, members: &[(String, Vec<u8>)]) -> Vec<u8> {
    cab_bytes(file, members, Compression::MsZip).expect("cab")
}

/// Writes `bytes` as `file` and runs `add-package` of it into a copy of the `win10` image.
fn add(sb: &Sandbox<'_>, file: &str, bytes: &[u8]) -> Run {
    let pkg = sb.write(file, bytes);
    add_path(sb, &pkg)
}

/// `add-package` of `pkg` (a file or folder); stderr must name it.
fn add_path(sb: &Sandbox<'_>, pkg: &Path) -> Run {
    let wim = sb.copy(&sb.shared.win10, "win10.wim");
    let mut inputs = vec![wim.clone()];
    if pkg.is_file() {
        inputs.push(pkg.to_path_buf());
    }
    Run { args: sb.add_package(&wim, pkg), inputs, ..Run::default() }.mentioning(&name(pkg))
}

/// The `CFFILE` entry of member `member`: its offset in the cab.
fn cffile(cab: &[u8], member: &str) -> usize {
    let count = u16::from_le_bytes([cab[C_FILES], cab[C_FILES + 1]]);
    let mut at = u32::from_le_bytes(cab[COFF_FILES..COFF_FILES + 4].try_into().expect("4 bytes")) as usize;
    for _ in 0..count {
        let name_at = at + 16;
        let end = name_at + cab[name_at..].iter().position(|&b| b == 0).expect("NUL-terminated name");
        if &cab[name_at..end] == member.as_bytes() {
            return at;
        }
        at = end + 1;
    }
    panic!("no member {member}");
}

/// The cab with member `member`'s declared size (`cbFile`) set to `size`.
fn declared_size(mut cab: Vec<u8>, member: &str, size: u32) -> Vec<u8> {
    let at = cffile(&cab, member);
    cab[at..at + 4].copy_from_slice(&size.to_le_bytes());
    cab
}

/// The name of the first payload member (a path with a `\`).
fn payload_name(members: &[(String, Vec<u8>)]) -> String {
    members.iter().find(|(n, b)| n.contains('\\') && !b.is_empty()).expect("a payload").0.clone()
}

/// A catalogue entry by file name.
fn catalogue_entry(file: &str) -> Vec<u8> {
    packages::catalogue(&Profile::win10_amd64())
        .expect("catalogue")
        .into_iter()
        .find(|p| p.file_name == file)
        .unwrap_or_else(|| panic!("no catalogue entry {file}"))
        .bytes
}

/// One case per broken entry of the fixture catalogue.
macro_rules! broken_entry {
    ($case:literal, $file:literal) => {
        Case { name: $case, setup: |sb| add(sb, $file, &catalogue_entry($file)), expect: Expect::Failure }
    };
}

pub fn cases() -> Vec<Case> {
    let fail = |name, setup| Case { name, setup, expect: Expect::Failure };
    vec![
        broken_entry!("cab/fixture-payload-digest", "broken-payload-digest.cab"),
        broken_entry!("cab/fixture-name-traversal", "broken-name-traversal.cab"),
        broken_entry!("cab/fixture-name-absolute", "broken-name-absolute.cab"),
        broken_entry!("cab/fixture-truncated-header", "broken-truncated-header.cab"),
        broken_entry!("cab/fixture-truncated-directory", "broken-truncated-directory.cab"),
        broken_entry!("cab/fixture-truncated-data", "broken-truncated-data.cab"),
        broken_entry!("cab/fixture-update-mum-unclosed", "broken-update-mum-unclosed.cab"),
        broken_entry!("cab/fixture-update-mum-doctype", "broken-update-mum-doctype.cab"),
        broken_entry!("cab/fixture-mszip-bitflip", "broken-mszip-bitflip.cab"),
        fail("cab/empty-file", |sb| add(sb, "Windows10.0-KB5000060-x64.cab", &[])),
        fail("cab/wrong-magic", |sb| {
            let mut b = lcu(5_000_061).cab("x.cab", Compression::MsZip).expect("cab");
            b[3] = b'G';
            add(sb, "Windows10.0-KB5000061-x64.cab", &b)
        }),
        fail("cab/duplicate-update-mum", |sb| {
            // The second `update.mum` is a different package: which one is meant is ambiguous.
            let mut members = lcu(5_000_062).members();
            let other = lcu(5_000_063).members().into_iter().find(|(n, _)| n == "update.mum").expect("mum");
            members.push(other);
            add(sb, "Windows10.0-KB5000062-x64.cab", &cab_of("dup.cab", &members))
        }),
        fail("cab/duplicate-payload-differs", |sb| {
            // The same payload name twice; the second copy does not match the manifest digest.
            let mut members = lcu(5_000_064).members();
            let name = payload_name(&members);
            let mut evil = members.iter().find(|(n, _)| *n == name).expect("payload").1.clone();
            evil[0] ^= 0xFF;
            members.push((name, evil));
            add(sb, "Windows10.0-KB5000064-x64.cab", &cab_of("dup.cab", &members))
        }),
        fail("cab/declared-size-huge-payload", |sb| {
            let members = lcu(5_000_065).members();
            let payload = payload_name(&members);
            let b = declared_size(cab_of("big.cab", &members), &payload, 0xFFFF_FFF0);
            add(sb, "Windows10.0-KB5000065-x64.cab", &b)
        }),
        fail("cab/declared-size-huge-update-mum", |sb| {
            let b = declared_size(cab_of("big.cab", &lcu(5_000_066).members()), "update.mum", 0xFFFF_FFF0);
            add(sb, "Windows10.0-KB5000066-x64.cab", &b)
        }),
        fail("cab/high-ratio-payload", |sb| {
            // 64 MiB of zeros in place of a payload: MSZIP packs it about 1000:1, and its digest is
            // wrong, so the reader must stream it, not hold it, and then refuse it.
            let mut members = lcu(5_000_067).members();
            let payload = payload_name(&members);
            broken::replace_member(&mut members, &payload, vec![0u8; 64 << 20]);
            add(sb, "Windows10.0-KB5000067-x64.cab", &cab_of("bomb.cab", &members))
        }),
        fail("cab/member-count-beyond-table", |sb| {
            let mut b = lcu(5_000_068).cab("x.cab", Compression::MsZip).expect("cab");
            b[C_FILES..C_FILES + 2].copy_from_slice(&u16::MAX.to_le_bytes());
            add(sb, "Windows10.0-KB5000068-x64.cab", &b)
        }),
        fail("cab/member-name-over-255-bytes", |sb| {
            // 600 folders deep: past the cabinet format's 255-byte names, and PATH_MAX once staged.
            let mut members = lcu(5_000_073).members();
            members.push((format!("{}evil.dll", "a\\".repeat(600)), b"MZ".to_vec()));
            add(sb, "Windows10.0-KB5000073-x64.cab", &cab_of("long.cab", &members))
        }),
        fail("cab/deeply-nested-member-name", |sb| {
            // 120 folders deep, within the format's limit: staging must not trip over it. The
            // package is refused anyway (its payload is wrong), after the member table was read.
            let mut members = lcu(5_000_069).members();
            let deep = format!("{}evil.dll", "a\\".repeat(120));
            members.push((deep, b"MZ".to_vec()));
            let payload = payload_name(&members);
            broken::replace_member(&mut members, &payload, b"not the payload".to_vec());
            add(sb, "Windows10.0-KB5000069-x64.cab", &cab_of("deep.cab", &members))
        }),
        fail("cab/cabs-nested-5-deep", |sb| {
            let mut inner = lcu(5_000_070).cab("Windows10.0-KB5000070-x64.cab", Compression::MsZip).expect("cab");
            for depth in 0..5 {
                inner =
                    cab_of(&format!("wrap{depth}.cab"), &[(format!("Windows10.0-KB5000070-x64-{depth}.cab"), inner)]);
            }
            add(sb, "Windows10.0-KB5000070-x64.msu", &inner)
        }),
        fail("cab/msu-inner-cab-truncated", |sb| {
            let def = lcu(5_000_071);
            let inner = def.cab("Windows10.0-KB5000071-x64.cab", Compression::MsZip).expect("cab");
            let cut = broken::truncated(&inner, broken::Truncation::Data);
            let b = msu::classic_msu(
                "Windows10.0-KB5000071-x64",
                5_000_071,
                cut,
                &def.identity,
                &def.release_type,
                def.timestamp,
            )
            .expect("msu");
            add(sb, "Windows10.0-KB5000071-x64.msu", &b)
        }),
        fail("cab/msu-inner-cab-tampered", |sb| {
            let def = lcu(5_000_072);
            let mut members = def.members();
            broken::tamper_payload(&mut members);
            let inner = cab_of("Windows10.0-KB5000072-x64.cab", &members);
            let b = msu::classic_msu(
                "Windows10.0-KB5000072-x64",
                5_000_072,
                inner,
                &def.identity,
                &def.release_type,
                def.timestamp,
            )
            .expect("msu");
            add(sb, "Windows10.0-KB5000072-x64.msu", &b)
        }),
        fail("cab/package-info-truncated", |sb| {
            let b = catalogue_entry("broken-truncated-data.cab");
            let p = sb.write("info-truncated.cab", &b);
            Run::new(&["package", "info", &s(&p)], &[&p], "info-truncated.cab")
        }),
        fail("cab/folder-with-symlink-loop", |sb| {
            let dir = sb.path("updates");
            std::fs::create_dir_all(&dir).expect("mkdir");
            std::os::unix::fs::symlink(".", dir.join("loop")).expect("symlink");
            std::os::unix::fs::symlink(&dir, dir.join("back")).expect("symlink");
            // One broken package in the folder: the walk must reach it once, not loop.
            let cab = sb.write("updates/broken-payload-digest.cab", &catalogue_entry("broken-payload-digest.cab"));
            add_path(sb, &dir).mentioning(&name(&cab))
        }),
        fail("cab/package-path-missing", |sb| add_path(sb, &sb.path("no-such-update.cab"))),
        // Issue 17: a FIFO given as the package: refused at once (it blocked forever, holding the
        // WIM lock).
        fail("cab/fifo-as-package", |sb| {
            let fifo = sb.path("Windows10.0-KB5000095-x64.cab");
            let made = std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
            assert!(made.success());
            add_path(sb, &fifo).mentioning("FIFO")
        }),
    ]
}
