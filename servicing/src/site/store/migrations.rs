//! The site's schema: one list of versioned migrations for every backend, written in portable SQL.
//! SQLite runs them as written; PostgreSQL gets the minimum dialect mapping ([`for_postgres`]):
//! 64-bit integers and identity columns.

/// The migrations, in order: migration `n` (1-based) brings `user_version` from `n - 1` to `n`.
/// Never edit one that has shipped; append a new one.
pub const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    r#"
    CREATE TABLE site (key TEXT PRIMARY KEY, value TEXT NOT NULL);

    -- Content library: update binaries stored once by SHA-256.
    CREATE TABLE content (
        sha256 TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        added INTEGER NOT NULL
    );

    -- The catalog: one row per update binary found under a sync source.
    CREATE TABLE updates (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        source TEXT NOT NULL,
        rel_path TEXT NOT NULL,
        file_name TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        sha256 TEXT NOT NULL REFERENCES content(sha256),
        kind TEXT NOT NULL,
        supported INTEGER NOT NULL,
        problem TEXT,
        kb TEXT,
        title TEXT NOT NULL,
        description TEXT,
        release_type TEXT,
        classification TEXT,
        arch TEXT,
        product TEXT,
        build TEXT,
        identity TEXT,
        superseded_by INTEGER REFERENCES updates(id),
        added INTEGER NOT NULL,
        changed INTEGER NOT NULL,
        expired INTEGER,
        UNIQUE (source, rel_path)
    );
    CREATE INDEX updates_kb ON updates(kb);

    -- OS images and their versions (content version N is images/<id>/v<N>/install.wim).
    CREATE TABLE images (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        source_path TEXT NOT NULL,
        source_index TEXT,
        single_index INTEGER NOT NULL,
        os_version TEXT,
        arch TEXT,
        content_version INTEGER NOT NULL,
        path TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        imported INTEGER NOT NULL,
        updated INTEGER NOT NULL
    );
    CREATE TABLE image_versions (
        image_id INTEGER NOT NULL REFERENCES images(id),
        version INTEGER NOT NULL,
        path TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        created INTEGER NOT NULL,
        job_id INTEGER,
        PRIMARY KEY (image_id, version)
    );
    CREATE TABLE image_editions (
        image_id INTEGER NOT NULL REFERENCES images(id),
        idx INTEGER NOT NULL,
        name TEXT,
        edition_id TEXT,
        arch TEXT,
        build INTEGER,
        os_version TEXT,
        PRIMARY KEY (image_id, idx)
    );
    -- Installed updates as read from the image's own CBS state (at import and after each run).
    CREATE TABLE installed_updates (
        image_id INTEGER NOT NULL REFERENCES images(id),
        idx INTEGER NOT NULL,
        identity TEXT NOT NULL,
        kb TEXT,
        state TEXT NOT NULL,
        release_type TEXT,
        install_time TEXT,
        job_id INTEGER,
        PRIMARY KEY (image_id, idx, identity)
    );

    -- Servicing schedules and their runs (jobs).
    CREATE TABLE schedules (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        image_id INTEGER NOT NULL REFERENCES images(id),
        kind TEXT NOT NULL,
        spec TEXT NOT NULL,
        selection TEXT NOT NULL,
        continue_on_error INTEGER NOT NULL,
        update_dps INTEGER NOT NULL,
        remove_superseded INTEGER NOT NULL,
        active INTEGER NOT NULL,
        created INTEGER NOT NULL
    );
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        schedule_id INTEGER NOT NULL REFERENCES schedules(id),
        image_id INTEGER NOT NULL REFERENCES images(id),
        status TEXT NOT NULL,
        run_at INTEGER NOT NULL,
        started INTEGER,
        finished INTEGER,
        message TEXT,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        runner TEXT,
        version_before INTEGER,
        version_after INTEGER,
        created INTEGER NOT NULL
    );
    CREATE INDEX jobs_image ON jobs(image_id, status);
    CREATE TABLE job_updates (
        job_id INTEGER NOT NULL REFERENCES jobs(id),
        update_id INTEGER NOT NULL REFERENCES updates(id),
        kb TEXT,
        title TEXT NOT NULL,
        file_name TEXT NOT NULL,
        result TEXT NOT NULL,
        reason TEXT,
        PRIMARY KEY (job_id, update_id)
    );
    -- Who is servicing an image right now; expired rows are free.
    CREATE TABLE leases (
        image_id INTEGER PRIMARY KEY REFERENCES images(id),
        job_id INTEGER NOT NULL,
        holder TEXT NOT NULL,
        expires INTEGER NOT NULL
    );

    -- Distribution points and what each holds.
    CREATE TABLE dps (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        path TEXT NOT NULL,
        added INTEGER NOT NULL
    );
    CREATE TABLE dp_content (
        dp_id INTEGER NOT NULL REFERENCES dps(id),
        image_id INTEGER NOT NULL REFERENCES images(id),
        status TEXT NOT NULL,
        content_version INTEGER,
        sha256 TEXT,
        size INTEGER,
        target_version INTEGER,
        method TEXT,
        bytes_sent INTEGER,
        message TEXT,
        updated INTEGER NOT NULL,
        PRIMARY KEY (dp_id, image_id)
    );
    "#,
    // 2: remote distribution points (issue 15): a DP's URL and bandwidth limit; per transfer the
    // image's size, the bytes rsync sent and received, how the copy was verified, and who is
    // distributing (the lock of a remote DP).
    r#"
    ALTER TABLE dps ADD COLUMN url TEXT;
    ALTER TABLE dps ADD COLUMN bwlimit INTEGER;
    ALTER TABLE dp_content ADD COLUMN image_bytes INTEGER;
    ALTER TABLE dp_content ADD COLUMN bytes_received INTEGER;
    ALTER TABLE dp_content ADD COLUMN verification TEXT;
    ALTER TABLE dp_content ADD COLUMN holder TEXT;
    "#,
    // 3: issue 19: whether a schedule's `all-applicable` includes binaries that are not CBS packages
    // (they are left out unless asked); every content version an image has had, with its size and
    // installed-update count, kept after its file is pruned (the status page's chart). Existing
    // sites start the history at their current versions.
    r#"
    ALTER TABLE schedules ADD COLUMN include_not_supported INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE content_versions (
        image_id INTEGER NOT NULL REFERENCES images(id),
        version INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        updates INTEGER NOT NULL,
        created INTEGER NOT NULL,
        job_id INTEGER,
        PRIMARY KEY (image_id, version)
    );
    INSERT INTO content_versions (image_id, version, sha256, size, updates, created, job_id)
        SELECT v.image_id, v.version, v.sha256, v.size,
               (SELECT COUNT(DISTINCT u.kb) FROM installed_updates u WHERE u.image_id = v.image_id AND u.kb LIKE 'KB%'),
               v.created, v.job_id
        FROM image_versions v JOIN images i ON i.id = v.image_id AND i.content_version = v.version;
    "#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Migration `sql` in PostgreSQL's dialect: integers are 64-bit (`BIGINT`, what SQLite's `INTEGER`
/// holds) and `INTEGER PRIMARY KEY AUTOINCREMENT` is an identity column. Everything else in the
/// migrations is portable SQL.
pub fn for_postgres(sql: &str) -> String {
    sql.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
        .replace("INTEGER", "BIGINT")
}
