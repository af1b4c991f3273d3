//! Tests of the site's parts on their own: schedules, the content library,
//! the database migrations, and catalog sync over the real synthetic packages.

use std::path::Path;

use fixtures::packages::write_all;
use fixtures::postgres_cluster;
use fixtures::profile::Profile;
use servicing::site::catalog;
use servicing::site::config::SiteConfig;
use servicing::site::content::{sha256_file, ContentLibrary};
use servicing::site::schedule::{Recurrence, When};
use servicing::site::store::{Db, SCHEMA_VERSION};
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
    let (_, report) = Site::init(dir.path(), None).unwrap();
    assert!(report.created);
    assert_eq!(report.schema_version, SCHEMA_VERSION);
    let (site, again) = Site::init(dir.path(), None).unwrap();
    assert!(!again.created);
    let mode: String = site.db.sqlite().unwrap().pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    site.db.sqlite().unwrap().pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
    drop(site);
    assert!(matches!(Db::open(dir.path(), false), Err(Error::SchemaTooNew { .. })));
}

/// Which database a test's site uses: the embedded SQLite file, or a fresh database of the shared
/// throwaway PostgreSQL cluster.
#[derive(Debug, Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// `Site::init`'s database for this backend.
    fn database(self) -> Option<String> {
        match self {
            Backend::Sqlite => None,
            Backend::Postgres => Some(postgres_cluster::shared().database()),
        }
    }
}

#[test]
fn catalog_sync_is_incremental_and_records_metadata_and_supersedence_sqlite() {
    catalog_sync_is_incremental_and_records_metadata_and_supersedence(Backend::Sqlite);
}

#[test]
fn catalog_sync_is_incremental_and_records_metadata_and_supersedence_postgres() {
    catalog_sync_is_incremental_and_records_metadata_and_supersedence(Backend::Postgres);
}

fn catalog_sync_is_incremental_and_records_metadata_and_supersedence(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let all = dir.path().join("all");
    write_all(&all, &Profile::win10_amd64()).unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    for f in ["Windows10.0-KB5000001-x64.cab", "ie11-setup.exe", "broken-truncated-data.cab"] {
        std::fs::copy(all.join(f), src.join(f)).unwrap();
    }
    std::fs::copy(all.join("Windows10.0-KB5000002-x64.cab"), src.join("sub/Windows10.0-KB5000002-x64.cab")).unwrap();
    let (mut site, _) = Site::init(&dir.path().join("site"), backend.database().as_deref()).unwrap();

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
    let (site, _) = Site::init(dir.path(), None).unwrap();
    let conn = site.db.sqlite().unwrap();
    let page_size: u64 = conn.pragma_query_value(None, "page_size", |r| r.get(0)).unwrap();
    let root: u64 =
        conn.query_row("SELECT rootpage FROM sqlite_master WHERE name = 'updates'", [], |r| r.get(0)).unwrap();
    let db_path = dir.path().join(servicing::site::store::sqlite::DB_FILE);
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

#[test]
fn a_postgresql_site_is_migrated_once_and_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let url = postgres_cluster::shared().database();
    let (site, report) = Site::init(dir.path(), Some(&url)).unwrap();
    assert!(report.created);
    assert_eq!(report.schema_version, SCHEMA_VERSION);
    assert_eq!(site.db.kind(), "postgresql");
    drop(site);
    // Again, and opened: the same site, nothing migrated twice.
    let (_, again) = Site::init(dir.path(), Some(&url)).unwrap();
    assert!(!again.created);
    assert_eq!(Site::open(dir.path()).unwrap().db.schema_version().unwrap(), SCHEMA_VERSION);
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    client.execute("UPDATE wimpatch_schema SET version = version + 1", &[]).unwrap();
    assert!(matches!(Site::open(dir.path()), Err(Error::SchemaTooNew { .. })));
}

/// A site folder records its database and its site ID, and the database records the ID too: a
/// folder pointed at another site's database (or an empty one) is refused, naming both IDs.
#[test]
fn a_site_folder_whose_database_belongs_to_another_site_is_refused() {
    let cluster = postgres_cluster::shared();
    let root = tempfile::tempdir().unwrap();
    let (a, b) = (root.path().join("a"), root.path().join("b"));
    let url_a = cluster.database();
    Site::init(&a, Some(&url_a)).unwrap();
    Site::init(&b, Some(&cluster.database())).unwrap();
    let config_a = SiteConfig::read(&a).unwrap().unwrap();
    let config_b = SiteConfig::read(&b).unwrap().unwrap();
    assert_ne!(config_a.site_id, config_b.site_id);

    // Folder b pointed at site a's database.
    SiteConfig { site_id: config_b.site_id.clone(), database: url_a.clone() }.write(&b).unwrap();
    match Site::open(&b) {
        Err(e @ Error::ForeignDatabase { .. }) => {
            let text = e.to_string();
            assert!(text.contains(&config_a.site_id) && text.contains(&config_b.site_id), "{text}");
        }
        other => panic!("expected a foreign database error, got {other:?}"),
    }
    // A new site folder initialised on a database that already belongs to a site.
    let c = root.path().join("c");
    assert!(matches!(Site::init(&c, Some(&url_a)), Err(Error::ForeignDatabase { .. })));
    // An empty database (a site's database re-created behind its back) has no site ID.
    SiteConfig { site_id: config_b.site_id.clone(), database: cluster.database() }.write(&b).unwrap();
    assert!(matches!(Site::open(&b), Err(Error::ForeignDatabase { found: None, .. })));
    // Asking init for another database than the recorded one is refused too.
    assert!(matches!(Site::init(&a, Some(&cluster.database())), Err(Error::DatabaseChanged { .. })));
    // Site a itself is fine.
    Site::open(&a).unwrap();

    // SQLite: another site's site.db copied into a folder.
    let (s1, s2) = (root.path().join("s1"), root.path().join("s2"));
    Site::init(&s1, None).unwrap();
    Site::init(&s2, None).unwrap();
    let db_file = servicing::site::store::sqlite::DB_FILE;
    std::fs::copy(s1.join(db_file), s2.join(db_file)).unwrap();
    assert!(matches!(Site::open(&s2), Err(Error::ForeignDatabase { .. })));
}

/// Rows of a schema-2 site (before migration 3): image 1 at content version 2 of two, with KB
/// packages installed in two indexes (one KB in both) and a package without a KB.
const SCHEMA_2_ROWS: &str = "
    INSERT INTO images (id, name, source_path, single_index, content_version, path, sha256, size, imported, updated)
        VALUES (1, 'Windows 10 Pro', '/src/win10.wim', 0, 2, 'images/k/v2/install.wim', 'bb', 2000, 100, 200);
    INSERT INTO image_versions (image_id, version, path, sha256, size, created, job_id)
        VALUES (1, 1, 'images/k/v1/install.wim', 'aa', 1000, 100, NULL);
    INSERT INTO image_versions (image_id, version, path, sha256, size, created, job_id)
        VALUES (1, 2, 'images/k/v2/install.wim', 'bb', 2000, 200, 7);
    INSERT INTO installed_updates (image_id, idx, identity, kb, state)
        VALUES (1, 1, 'Package_for_RollupFix~31bf3856ad364e35~amd64~~19041.1.1.1', 'KB5000001', 'Installed');
    INSERT INTO installed_updates (image_id, idx, identity, kb, state)
        VALUES (1, 2, 'Package_for_RollupFix~31bf3856ad364e35~amd64~~19041.1.1.1', 'KB5000001', 'Installed');
    INSERT INTO installed_updates (image_id, idx, identity, kb, state)
        VALUES (1, 1, 'Package_for_KB5000002~31bf3856ad364e35~amd64~~1.0.0.0', 'KB5000002', 'Installed');
    INSERT INTO installed_updates (image_id, idx, identity, kb, state)
        VALUES (1, 1, 'Microsoft-Windows-Foundation-Package~31bf3856ad364e35~amd64~~10.0.19041.1', NULL, 'Installed');
";

/// Migration 3 starts an existing site's content-version history at each image's current version,
/// counting its distinct installed KBs, on both backends.
fn assert_backfilled(db: &Db) {
    assert_eq!(db.schema_version().unwrap(), SCHEMA_VERSION);
    let history = servicing::site::store::images::content_history(db, 1).unwrap();
    assert_eq!(history.len(), 1, "{history:?}");
    let v = &history[0];
    assert_eq!((v.version, v.size, v.updates), (2, 2000, 2), "{v:?}");
    assert_eq!(v.created, format_utc(200));
}

#[test]
fn migration_3_backfills_the_content_version_history_of_an_existing_sqlite_site() {
    use servicing::site::store::migrations::MIGRATIONS;
    let dir = tempfile::tempdir().unwrap();
    let conn = rusqlite::Connection::open(dir.path().join(servicing::site::store::sqlite::DB_FILE)).unwrap();
    for m in &MIGRATIONS[..2] {
        conn.execute_batch(m).unwrap();
    }
    conn.pragma_update(None, "user_version", 2).unwrap();
    conn.execute_batch(SCHEMA_2_ROWS).unwrap();
    drop(conn);
    assert_backfilled(&Db::open(dir.path(), false).unwrap());
}

#[test]
fn migration_3_backfills_the_content_version_history_of_an_existing_postgresql_site() {
    use servicing::site::store::migrations::{for_postgres, MIGRATIONS};
    let url = postgres_cluster::shared().database();
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    client.batch_execute("CREATE TABLE wimpatch_schema (version BIGINT NOT NULL)").unwrap();
    for m in &MIGRATIONS[..2] {
        client.batch_execute(&for_postgres(m)).unwrap();
    }
    client.batch_execute("INSERT INTO wimpatch_schema (version) VALUES (2)").unwrap();
    client.batch_execute(SCHEMA_2_ROWS).unwrap();
    drop(client);
    assert_backfilled(&Db::connect(&url).unwrap());
}
