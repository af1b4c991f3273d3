//! Issue 19: repair and lifecycle of the site: `catalog sync --verify` re-imports a corrupt blob
//! that a plain sync skips; `catalog remove`, `image remove` and `dp remove` are refused while a
//! job needs what they remove; `image rollback` restores the previous content version's bytes.

use std::path::PathBuf;

use crate::site::{Backend, Fixture};
use crate::util::*;

fn blob_of(f: &Fixture, kb: &str) -> (PathBuf, String) {
    let catalog = f.json(&["catalog", "list"]);
    let entry = catalog.as_array().unwrap().iter().find(|u| u["kb"] == kb).unwrap();
    let sha = entry["sha256"].as_str().unwrap().to_owned();
    (f.site.join("content").join(&sha[..2]).join(&sha), sha)
}

fn flip_a_byte(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut bytes = std::fs::read(path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(path, bytes).unwrap();
}

fn a_corrupt_blob_was_never_repaired_by_catalog_sync_and_verify_re_imports_it(backend: Backend) {
    let f = Fixture::new(backend);
    let (blob, sha) = blob_of(&f, "KB5000002");
    flip_a_byte(&blob);
    let from = f.updates.to_str().unwrap();
    // A plain sync skips the unchanged file: the blob stays corrupt (what the old message advised).
    let plain = f.json(&["catalog", "sync", "--from", from]);
    assert_eq!(plain["unchanged"], 3, "{plain}");
    assert_ne!(sha256(&blob), sha);

    let verified = f.json(&["catalog", "sync", "--from", from, "--verify"]);
    assert_eq!(verified["verified"], 3, "{verified}");
    assert_eq!(verified["repaired"], serde_json::json!(["Windows10.0-KB5000002-x64.cab"]), "{verified}");
    assert_eq!(sha256(&blob), sha);
    let again = f.ok(&["catalog", "sync", "--from", from, "--verify"]);
    assert!(again.contains("Verified 3 blob(s): 0 repaired"), "{again}");

    f.schedule_now(&["KB5000002"], &[]);
    f.json(&["tick"]);
    let show = f.show();
    assert_eq!(show["scheduled_updates_status"], "successful", "{show}");
    assert_eq!(show["content_version"], 2);
}

fn catalog_image_and_dp_remove_are_refused_while_a_job_needs_them(backend: Backend) {
    let f = Fixture::new(backend);
    let (_, dp_b_file) = f.add_dps();
    f.ok(&["distribute", "--image-id", "1"]);
    assert!(dp_b_file.is_file());
    f.ok(&["schedule", "--image-id", "1", "--updates", "KB5000002", "--at", "2099-01-01T00:00:00Z"]);

    for args in [&["catalog", "remove", "KB5000002"][..], &["image", "remove", "1"][..]] {
        let out = run(&f.args(args));
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?} was not refused: {err}");
        assert!(err.contains("still needed") && err.contains("job 1") && err.contains("site cancel"), "{err}");
    }
    assert_eq!(f.json(&["image", "list"]).as_array().unwrap().len(), 1);
    let (blob, _) = blob_of(&f, "KB5000002");
    assert!(blob.is_file());

    f.ok(&["cancel", "--image-id", "1"]);
    let removed = f.json(&["catalog", "remove", "KB5000002"]);
    assert_eq!(removed["removed"][0]["blob_deleted"], true, "{removed}");
    assert_eq!(removed["removed"][0]["still_in_source"], true, "{removed}");
    assert!(!blob.exists());
    assert!(!f.json(&["catalog", "list"]).as_array().unwrap().iter().any(|u| u["kb"] == "KB5000002"));

    let dp = f.ok(&["dp", "remove", "dp-a"]);
    assert!(dp.contains("Removed distribution point dp-a"), "{dp}");
    let dps = f.json(&["dp", "list"]);
    assert_eq!(dps.as_array().unwrap().len(), 1, "{dps}");
    assert_eq!(dps[0]["name"], "dp-b");

    let image_dir = f.image_path().parent().unwrap().parent().unwrap().to_path_buf();
    let gone = f.json(&["image", "remove", "1"]);
    assert_eq!(gone["removed_from_dps"], serde_json::json!(["dp-b"]), "{gone}");
    assert!(!image_dir.exists());
    assert!(!dp_b_file.exists());
    assert!(f.json(&["image", "list"]).as_array().unwrap().is_empty());
    assert!(!run(&f.args(&["image", "show", "1"])).status.success());
}

fn rollback_restores_the_previous_content_versions_exact_bytes_and_the_dps_follow(backend: Backend) {
    let f = Fixture::new(backend);
    let out = run(&f.args(&["image", "rollback", "1"]));
    assert!(!out.status.success() && stderr(&out).contains("no previous content version"), "{}", stderr(&out));

    let (dp_a, dp_b) = f.add_dps();
    f.ok(&["distribute", "--image-id", "1"]);
    let v1 = sha256(&f.image_path());
    let v1_show = f.show();
    f.schedule_now(&["KB5000002"], &["--update-dps"]);
    f.json(&["tick"]);
    let v2 = f.show();
    assert_eq!(v2["content_version"], 2);
    assert_ne!(v2["sha256"].as_str().unwrap(), v1);
    assert_eq!(sha256(&dp_a), v2["sha256"].as_str().unwrap());

    let r = f.json(&["image", "rollback", "1", "--update-dps"]);
    assert_eq!(r["restored_from"], 1, "{r}");
    assert_eq!(r["replaced"], 2, "{r}");
    let show = f.show();
    assert_eq!(show["content_version"], 3, "{show}");
    assert_eq!(show["sha256"].as_str().unwrap(), v1);
    assert_eq!(sha256(&f.image_path()), v1, "the site's current file is not version 1's bytes");
    for dp in [&dp_a, &dp_b] {
        assert_eq!(sha256(dp), v1, "{} did not follow the rollback", dp.display());
    }
    assert_eq!(show["installed_updates"], v1_show["installed_updates"], "{show}");
    assert_eq!(show["version"], v1_show["version"]);
    let dps = f.ok(&["dp", "list"]);
    assert!(dps.lines().filter(|l| l.starts_with("dp-")).all(|l| l.contains("current (v3)")), "{dps}");
    // Version 2 is kept as the previous one: rolling back again restores it.
    f.json(&["image", "rollback", "1"]);
    assert_eq!(sha256(&f.image_path()), v2["sha256"].as_str().unwrap());
}

on_both_backends!(
    a_corrupt_blob_was_never_repaired_by_catalog_sync_and_verify_re_imports_it,
    catalog_image_and_dp_remove_are_refused_while_a_job_needs_them,
    rollback_restores_the_previous_content_versions_exact_bytes_and_the_dps_follow,
);
