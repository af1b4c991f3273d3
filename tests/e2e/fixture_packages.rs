//! `wimpatch package info` on every synthetic package of `fixtures::packages` (win10 profile):
//! packages read with their payloads verified, files that are not packages are reported with the
//! reason, broken ones fail with exit status 1 and an error naming the file.

use std::process::Output;

use fixtures::packages::{self, Expect, WrittenPackage};
use fixtures::profile::Profile;

use crate::util::*;

fn catalogue() -> (tempfile::TempDir, Vec<WrittenPackage>) {
    let dir = tempfile::tempdir().unwrap();
    let all = packages::write_all(dir.path(), &Profile::win10_amd64()).unwrap();
    (dir, all)
}

fn info(w: &WrittenPackage) -> Output {
    run(&["package", "info", "--json", w.path.to_str().expect("utf-8 path")])
}

fn json(w: &WrittenPackage, out: &Output) -> serde_json::Value {
    let name = &w.package.file_name;
    assert!(out.status.success(), "{name}: exit {}\n{}", out.status, stderr(out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{name}: not JSON ({e})"))
}

#[test]
fn readable_fixture_packages_are_reported_and_verified() {
    let (_dir, all) = catalogue();
    let mut checked = 0;
    for w in all.iter().filter(|w| w.package.expect.is_readable()) {
        let name = &w.package.file_name;
        let v = json(w, &info(w));
        assert_eq!(v["identity_string"].as_str(), w.package.identity.as_deref(), "{name}");
        assert_eq!(v["kb"].as_str(), w.package.kb.as_deref(), "{name}");
        assert!(v["reason"].is_null(), "{name}: {}", v["reason"]);
        let inner = v["inner"].as_array().unwrap();
        let verified = v["verified_files"].as_u64().unwrap()
            + inner.iter().map(|i| i["verified_files"].as_u64().unwrap()).sum::<u64>();
        assert!(verified > 0, "{name}: no payload verified");
        let expected_kind = match (name.ends_with(".msu"), inner.len()) {
            (false, _) => "cbs_cab",
            (true, 1) => "msu",
            (true, _) => "combined_msu",
        };
        assert_eq!(v["kind"], expected_kind, "{name}");
        checked += 1;
    }
    assert!(checked >= 12, "only {checked} readable packages");
}

#[test]
fn unsupported_fixture_files_exit_0_with_the_reason() {
    let (_dir, all) = catalogue();
    let mut checked = 0;
    for w in &all {
        let Expect::Unsupported { reason_contains } = w.package.expect else { continue };
        let name = &w.package.file_name;
        let v = json(w, &info(w));
        assert_eq!(v["kind"], "unsupported", "{name}");
        let reason = v["reason"].as_str().unwrap_or_default();
        assert!(reason.contains(reason_contains), "{name}: reason {reason:?} lacks {reason_contains:?}");
        checked += 1;
    }
    assert_eq!(checked, 4);
}

#[test]
fn broken_fixture_packages_exit_1_naming_the_file() {
    let (_dir, all) = catalogue();
    let mut checked = 0;
    for w in &all {
        let Expect::Broken { error_contains } = w.package.expect else { continue };
        let name = &w.package.file_name;
        let out = info(w);
        assert_eq!(out.status.code(), Some(1), "{name}: exit {}", out.status);
        let err = stderr(&out);
        assert!(err.contains(name.as_str()), "{name}: stderr does not name the file: {err}");
        assert!(err.contains(error_contains), "{name}: stderr lacks {error_contains:?}: {err}");
        // stdout (--json) holds only the failure, naming the package.
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["error", "ok"], "{name}: printed a report for a broken package: {v}");
        assert!(v["error"]["message"].as_str().unwrap().contains(name.as_str()), "{v}");
        checked += 1;
    }
    assert_eq!(checked, 9);
}
