//! Tests of the site's parts on their own: schedules, the content library,
//! the database migrations, and catalog sync over the real synthetic packages.

use std::path::Path;

use fixtures::packages::write_all;
use fixtures::profile::Profile;
use servicing::site::catalog;
use servicing::site::content::{sha256_file, ContentLibrary};
use servicing::site::db::{Db, SCHEMA_VERSION};
use servicing::site::schedule::{Recurrence, When};
use servicing::site::time::{format_utc, parse_rfc3339};
use servicing::site::{Error, Site};

fn t(s: &str) -> i64 {
    parse_rfc3339(s).unwrap()
}

fn next(spec: &str, after: &str) -> String {
    format_utc(Recurrence::parse(spec).unwrap().next_after(t(after)).unwrap())
}

#[test]
fn monthly_schedules_find_the_nth_weekday() {
    // November 2026 starts on a Sunday: its second Tuesday is the 10th.
    assert_eq!(next("monthly:second-tuesday@02:00", "2026-11-01T00:00:00Z"), "2026-11-10T02:00:00Z");
    // At or after the run itself, the next month's.
    assert_eq!(next("monthly:second-tuesday@02:00", "2026-11-10T02:00:00Z"), "2026-12-08T02:00:00Z");
    assert_eq!(next("monthly:last-friday@23:30", "2026-02-01T00:00:00Z"), "2026-02-27T23:30:00Z");
    assert_eq!(next("monthly:first-monday@00:00", "2026-12-31T12:00:00Z"), "2027-01-04T00:00:00Z");
    for bad in [
        "monthly:second-tuesday",
        "monthly:fifth-tuesday@02:00",
        "monthly:second-tusday@02:00",
        "monthly:second-tuesday@25:00",
    ] {
        assert!(Recurrence::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn cron_expressions_follow_cron_rules() {
    assert_eq!(next("0 2 * * 2", "2026-11-01T00:00:00Z"), "2026-11-03T02:00:00Z");
    assert_eq!(next("*/15 * * * *", "2026-11-01T00:07:00Z"), "2026-11-01T00:15:00Z");
    assert_eq!(next("30 4 1,15 * *", "2026-11-02T00:00:00Z"), "2026-11-15T04:30:00Z");
    assert_eq!(next("0 0 1 jan *", "2026-11-02T00:00:00Z"), "2027-01-01T00:00:00Z");
    // Day of month and day of week both restricted: either matches (here Friday the 6th first).
    assert_eq!(next("0 0 13 * fri", "2026-11-01T00:00:00Z"), "2026-11-06T00:00:00Z");
    for bad in ["0 2 * *", "61 * * * *", "0 2 * * 8", "5-1 * * * *"] {
        assert!(Recurrence::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn rfc3339_times_and_stored_schedules_round_trip() {
    assert_eq!(t("2026-11-10T03:00:00+01:00"), t("2026-11-10T02:00:00Z"));
    assert_eq!(t("2026-11-10T02:00:00.250Z"), t("2026-11-10T02:00:00Z"));
    for bad in ["2026-11-10T02:00:00", "2026-02-30T00:00:00Z", "yesterday"] {
        assert!(parse_rfc3339(bad).is_err(), "{bad}");
    }
    for when in
        [When::Now, When::At(t("2030-01-01T00:00:00Z")), When::parse_every("monthly:second-tuesday@02:00").unwrap()]
    {
        let (kind, text) = when.to_stored();
        assert_eq!(When::from_stored(kind, &text).unwrap(), when);
    }
}

fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn the_content_library_stores_once_and_verifies_every_read() {
    let dir = tempfile::tempdir().unwrap();
    let lib = ContentLibrary::new(dir.path());
    let a = dir.path().join("a.cab");
    let b = dir.path().join("b.cab");
    std::fs::write(&a, noise(1, 50_000)).unwrap();
    std::fs::write(&b, noise(1, 50_000)).unwrap();
    let first = lib.put(&a).unwrap();
    let second = lib.put(&b).unwrap();
    assert!(first.new);
    assert!(!second.new);
    assert_eq!(first.sha256, second.sha256);
    let blobs: Vec<_> = walk(&dir.path().join("content"));
    assert_eq!(blobs.len(), 1, "{blobs:?}");

    let out = dir.path().join("out/x.cab");
    assert_eq!(lib.copy_verified(&first.sha256, &out).unwrap(), 50_000);
    assert_eq!(std::fs::read(&out).unwrap(), noise(1, 50_000));

    // One flipped bit in the blob: reads fail, naming the blob, and leave no copy behind.
    let blob = lib.blob_path(&first.sha256);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&blob, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&blob, bytes).unwrap();
    let dest = dir.path().join("out/y.cab");
    match lib.copy_verified(&first.sha256, &dest) {
        Err(Error::CorruptBlob { path, expected, .. }) => {
            assert_eq!(path, blob);
            assert_eq!(expected, first.sha256);
        }
        other => panic!("expected a corrupt blob error, got {other:?}"),
    }
    assert!(!dest.exists());
    assert!(matches!(lib.verify(&first.sha256), Err(Error::CorruptBlob { .. })));
    // Storing the same bytes again repairs it.
    assert!(lib.put(&a).unwrap().new);
    lib.verify(&first.sha256).unwrap();
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[test]
fn the_database_is_migrated_once_in_wal_mode_and_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(Site::open(dir.path()), Err(Error::NotASite { .. })));
    let (_, report) = Site::init(dir.path()).unwrap();
    assert!(report.created);
    assert_eq!(report.schema_version, SCHEMA_VERSION);
    let (site, again) = Site::init(dir.path()).unwrap();
    assert!(!again.created);
    let mode: String = site.db.conn().pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    site.db.conn().pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
    drop(site);
    assert!(matches!(Db::open(dir.path(), false), Err(Error::SchemaTooNew { .. })));
}

#[test]
fn catalog_sync_is_incremental_and_records_metadata_and_supersedence() {
    let dir = tempfile::tempdir().unwrap();
    let all = dir.path().join("all");
    write_all(&all, &Profile::win10_amd64()).unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    for f in ["Windows10.0-KB5000001-x64.cab", "ie11-setup.exe", "broken-truncated-data.cab"] {
        std::fs::copy(all.join(f), src.join(f)).unwrap();
    }
    std::fs::copy(all.join("Windows10.0-KB5000002-x64.cab"), src.join("sub/Windows10.0-KB5000002-x64.cab")).unwrap();
    let (mut site, _) = Site::init(&dir.path().join("site")).unwrap();

    let r = catalog::sync(&mut site, &src, false).unwrap();
    assert_eq!(r.added.len(), 4, "{r:?}");
    assert_eq!(r.new_blobs, 4);
    let list = catalog::list(&site.db).unwrap();
    let by_file = |name: &str| list.iter().find(|u| u.file_name == name).unwrap().clone();
    let kb1 = by_file("Windows10.0-KB5000001-x64.cab");
    let kb2 = by_file("Windows10.0-KB5000002-x64.cab");
    assert_eq!(kb1.kb.as_deref(), Some("KB5000001"));
    assert_eq!(kb1.release_type.as_deref(), Some("Security Update"));
    assert_eq!(kb1.classification.as_deref(), Some("Security Updates"));
    assert_eq!(kb1.arch.as_deref(), Some("x64"));
    assert_eq!(kb1.build.as_deref(), Some("19041"));
    assert_eq!(kb1.product.as_deref(), Some("Windows 10.0"));
    assert!(kb1.supported);
    assert_eq!(kb1.superseded_by, Some(kb2.id));
    assert_eq!(kb2.superseded_by, None);
    assert_eq!(kb2.rel_path, "sub/Windows10.0-KB5000002-x64.cab");
    assert_eq!(kb1.sha256, sha256_file(&src.join("Windows10.0-KB5000001-x64.cab")).unwrap().0);
    let exe = by_file("ie11-setup.exe");
    assert!(!exe.supported);
    assert!(exe.problem.as_deref().unwrap().contains("Windows executable"));
    let broken = by_file("broken-truncated-data.cab");
    assert_eq!(broken.kind, "unreadable");

    // Nothing changed: nothing is read again.
    let r = catalog::sync(&mut site, &src, false).unwrap();
    assert_eq!((r.added.len(), r.changed.len(), r.removed.len(), r.unchanged), (0, 0, 0, 4));

    // One file replaced by other bytes, one removed, one added.
    std::fs::copy(all.join("Windows10.0-KB5000003-x64.cab"), src.join("Windows10.0-KB5000001-x64.cab")).unwrap();
    std::fs::remove_file(src.join("ie11-setup.exe")).unwrap();
    std::fs::copy(all.join("office-patch.msp"), src.join("office-patch.msp")).unwrap();
    let r = catalog::sync(&mut site, &src, false).unwrap();
    assert_eq!(r.changed, ["Windows10.0-KB5000001-x64.cab"]);
    assert_eq!(r.removed, ["ie11-setup.exe"]);
    assert_eq!(r.added, ["office-patch.msp"]);
    let list = catalog::list(&site.db).unwrap();
    assert!(list.iter().all(|u| u.file_name != "ie11-setup.exe"));
    let changed = list.iter().find(|u| u.id == kb1.id).unwrap();
    assert_eq!(changed.kb.as_deref(), Some("KB5000003"));
    // The entry now holding KB5000003 supersedes KB5000002.
    assert_eq!(list.iter().find(|u| u.id == kb2.id).unwrap().superseded_by, Some(kb1.id));
}

/// Regression (issue 17 item 12): a site database with a damaged b-tree page was opened and used
/// silently; it is now refused at open, naming the file.
#[test]
fn corrupted_site_database_is_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let (site, _) = Site::init(dir.path()).unwrap();
    let conn = site.db.conn();
    let page_size: u64 = conn.pragma_query_value(None, "page_size", |r| r.get(0)).unwrap();
    let root: u64 =
        conn.query_row("SELECT rootpage FROM sqlite_master WHERE name = 'updates'", [], |r| r.get(0)).unwrap();
    let db_path = site.db.path().to_path_buf();
    drop(site);
    assert!(root > 1);
    // The table's root page gets a page type SQLite does not know: the header check still passes,
    // the b-tree does not.
    let mut bytes = std::fs::read(&db_path).unwrap();
    let at = ((root - 1) * page_size) as usize;
    bytes[at..at + 12].fill(0xee);
    std::fs::write(&db_path, &bytes).unwrap();
    let err = Site::open(dir.path()).map(|_| ()).unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains(&db_path.display().to_string()), "{err}");
}
