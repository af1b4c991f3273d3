//! `package info` on names outside ASCII and on folders with a broken file (issue: `package info`
//! panicked slicing inside a UTF-8 character, and a folder stopped at its first broken file).
//! One case per name class: combining characters, a right-to-left override, a fullwidth dot, CJK.

use std::io::Cursor;

use fixtures::packages::{self, cab_bytes, Compression, FixturePackage};
use fixtures::profile::Profile;
use servicing::cbs::container::{Cabinet, Limits};

use crate::util::*;

/// A readable single-cab fixture package.
fn good_cab() -> FixturePackage {
    packages::catalogue(&Profile::win10_amd64())
        .unwrap()
        .into_iter()
        .find(|p| p.expect.is_readable() && p.file_name.ends_with(".cab"))
        .expect("a readable cab in the catalogue")
}

/// `cab` again, with extra members of the given names (unreferenced by any manifest).
fn with_members(cab: &FixturePackage, extra: &[&str]) -> Vec<u8> {
    let mut reader = Cabinet::new(Cursor::new(cab.bytes.clone()), cab.file_name.clone(), Limits::default()).unwrap();
    let names: Vec<String> = reader.members().iter().map(|m| m.name.clone()).collect();
    let mut members: Vec<(String, Vec<u8>)> =
        names.into_iter().map(|n| (n.clone(), reader.read_member(&n, 64 << 20).unwrap())).collect();
    members.extend(extra.iter().map(|n| ((*n).to_owned(), b"not a catalog".to_vec())));
    cab_bytes(&cab.file_name, &members, Compression::MsZip).unwrap()
}

fn info_json(path: &std::path::Path) -> (std::process::Output, serde_json::Value) {
    let out = run(&["package", "info", "--json", path.to_str().unwrap()]);
    assert_ne!(out.status.code(), Some(101), "panicked: {}", stderr(&out));
    let v = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out, v)
}

#[test]
fn package_info_with_cjk_and_combining_member_names_does_not_panic() {
    let good = good_cab();
    let work = Work::new();
    // Two CJK characters are six bytes: "…".len() - ".cat".len() falls inside the first one.
    for (class, member) in [
        ("cjk", "\u{4e2d}\u{6587}"),
        ("combining", "cafe\u{301}\u{301}"),
        ("rtl-override", "x\u{202e}tac.exe"),
        ("fullwidth-dot", "payload\u{ff0e}cat"),
    ] {
        let path = work.path(&format!("{class}.cab"));
        std::fs::write(&path, with_members(&good, &[member])).unwrap();
        let (out, v) = info_json(&path);
        assert!(out.status.success(), "{class}: {}", stderr(&out));
        assert_eq!(v["identity_string"].as_str(), good.identity.as_deref(), "{class}");
        assert!(v["verified_files"].as_u64().unwrap() > 0, "{class}");
        // Only a real `.cat` suffix counts as a catalog.
        let catalogs: Vec<&str> = v["catalogs"].as_array().unwrap().iter().filter_map(|c| c.as_str()).collect();
        assert!(!catalogs.contains(&member), "{class}: {member:?} taken for a catalog");
    }
}

#[test]
fn package_info_folder_reports_every_package_despite_a_truncated_cab_and_non_ascii_names() {
    let good = good_cab();
    let work = Work::new();
    let dir = work.path("folder");
    std::fs::create_dir(&dir).unwrap();
    // One good copy under each name class, a truncated cab, and a file that is no package.
    let names = ["e\u{301}-good.cab", "\u{66f4}\u{65b0}-good.cab", "fullwidth\u{ff0e}cab", "\u{202e}bac.good.cab"];
    for n in names {
        std::fs::write(dir.join(n), &good.bytes).unwrap();
    }
    std::fs::write(dir.join("truncated.cab"), &good.bytes[..good.bytes.len() / 2]).unwrap();
    std::fs::write(dir.join("notes-\u{4e2d}.txt"), b"hello").unwrap();

    let (out, v) = info_json(&dir);
    assert_eq!(out.status.code(), Some(1), "a broken file fails the command: {}", stderr(&out));
    assert!(stderr(&out).contains("truncated.cab"), "{}", stderr(&out));
    // The folder's reports, and the failure, in one document.
    assert_eq!(v["ok"], false, "{v}");
    let reports = v["result"].as_array().expect("an array of reports");
    assert_eq!(reports.len(), names.len() + 2, "every file reported");
    for n in names {
        let r = reports.iter().find(|r| r["input"].as_str().unwrap().ends_with(n)).expect(n);
        assert_eq!(r["identity_string"].as_str(), good.identity.as_deref(), "{n}");
        assert!(r["verified_files"].as_u64().unwrap() > 0, "{n}: fully reported");
    }
    let broken = reports.iter().find(|r| r["input"].as_str().unwrap().ends_with("truncated.cab")).unwrap();
    assert_eq!(broken["kind"], "unreadable");
    assert!(broken["read_error"].as_str().unwrap().contains("truncated.cab"), "{broken}");
    // A text file is no package: reported not supported with its reason, as `package info FILE` does.
    let text = reports.iter().find(|r| r["input"].as_str().unwrap().ends_with(".txt")).unwrap();
    assert_eq!(text["kind"], "unsupported");
    assert!(text["reason"].as_str().unwrap().contains(".txt file of no known package type"), "{text}");
}
