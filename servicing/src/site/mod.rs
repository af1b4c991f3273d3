//! The site: ConfigMgr's offline servicing as a site job. A site is a directory holding its record
//! (`site.json`: the site's ID and which database it uses), its database (`site.db`, SQLite, or a
//! PostgreSQL database shared by runners on several hosts), a content library of update binaries (`content/`), the OS images it services
//! (`images/<key>/v<N>/install.wim`, one folder per content version), logs (`logs/`, with
//! `OfflineServicingMgr.log` and `dism.log`) and a scratch area (`scratch/`).
//!
//! The pieces: [`catalog`] (update metadata, incremental sync), [`content`] (single-instance store
//! verified on read), [`images`] (import, installed updates, applicable updates), [`jobs`]
//! (schedules, runs, cancel), [`schedule`] (when), [`runner`] (tick and run: leases, the image lock,
//! the engine's `service` pipeline), [`store`] (all of the site's SQL, both backends), [`dp`] (distribution points, atomic switch), [`location`]
//! (where a DP is: directory, rsync daemon, ssh) and [`rsync`] (remote DPs through the system rsync).

pub mod catalog;
pub mod config;
pub mod content;
pub mod dp;
mod error;
pub mod execute;
pub mod images;
pub mod jobs;
pub mod lifecycle;
pub mod location;
pub mod progress;
pub mod rsync;
pub mod runner;
pub mod schedule;
pub mod status_page;
pub mod store;
pub mod time;

pub use error::{Error, Result};

use std::path::{Path, PathBuf};

use config::SiteConfig;
use store::Db;

/// The `site` table key of the site's ID.
const SITE_ID: &str = "site_id";

/// What messages show of a `database` word: `sqlite`, or the URL with its password masked.
fn describe(database: &str) -> String {
    store::postgres::redact(database)
}

/// Opens the database a site record names and checks that it is this site's.
fn open_db(dir: &Path, config: &SiteConfig, create: bool) -> Result<Db> {
    let db = if config.is_postgres() { Db::connect(&config.database)? } else { Db::open(dir, create)? };
    let found = store::settings::get(&db, SITE_ID).map_err(db.err())?;
    if found.as_deref() != Some(config.site_id.as_str()) {
        return Err(Error::ForeignDatabase {
            dir: dir.to_path_buf(),
            database: db.location().to_owned(),
            expected: config.site_id.clone(),
            found,
        });
    }
    Ok(db)
}

/// An open site.
#[derive(Debug)]
pub struct Site {
    /// The site directory.
    pub dir: PathBuf,
    /// Its database.
    pub db: Db,
}

/// What `site init` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InitReport {
    /// The site directory.
    pub site: PathBuf,
    /// False when the site existed already (init is idempotent).
    pub created: bool,
    /// The database schema version.
    pub schema_version: i64,
    /// `sqlite`, or the PostgreSQL URL (password masked).
    pub database: String,
}

const DIRS: [&str; 4] = ["content", "images", "logs", "scratch"];

impl Site {
    /// Creates the site (directories, record and database) or brings an existing one up to date.
    /// `database` is a PostgreSQL URL for a shared database (`--database`), or `None` for SQLite;
    /// it is chosen once, at the first init.
    pub fn init(dir: &Path, database: Option<&str>) -> Result<(Site, InitReport)> {
        safe_fs::create_dir_all(dir).map_err(Error::io(dir, "cannot create the site directory"))?;
        for d in DIRS {
            let p = dir.join(d);
            safe_fs::create_dir_all(&p).map_err(Error::io(&p, "cannot create the site directory"))?;
        }
        let recorded = SiteConfig::read(dir)?;
        let asked = database.map(str::to_owned);
        if let (Some(r), Some(a)) = (&recorded, &asked) {
            if &r.database != a {
                return Err(Error::DatabaseChanged {
                    dir: dir.to_path_buf(),
                    recorded: describe(&r.database),
                    asked: describe(a),
                });
            }
        }
        let created;
        let (db, config) = match recorded {
            Some(config) => {
                created = false;
                (open_db(dir, &config, false)?, config)
            }
            None => {
                let database = asked.unwrap_or_else(|| config::SQLITE.to_owned());
                let legacy = database == config::SQLITE && dir.join(store::sqlite::DB_FILE).exists();
                created = !legacy;
                let mut config = SiteConfig { site_id: config::new_site_id()?, database };
                let mut db = if config.is_postgres() {
                    if !config::is_postgres_url(&config.database) {
                        return Err(Error::BadDatabase { database: describe(&config.database) });
                    }
                    Db::connect(&config.database)?
                } else {
                    Db::open(dir, true)?
                };
                match store::settings::get(&db, SITE_ID).map_err(db.err())? {
                    // A site made before site records: it keeps its ID.
                    Some(id) if legacy => config.site_id = id,
                    Some(id) => {
                        return Err(Error::ForeignDatabase {
                            dir: dir.to_path_buf(),
                            database: db.location().to_owned(),
                            expected: config.site_id,
                            found: Some(id),
                        })
                    }
                    None => {}
                }
                let id = config.site_id.clone();
                db.tx(|tx| store::settings::set_once(tx, SITE_ID, &id))?;
                config.write(dir)?;
                (db, config)
            }
        };
        let mut db = db;
        let t = store::now();
        db.tx(|tx| store::settings::set_once(tx, "created", &t.to_string()))?;
        let schema_version = db.schema_version()?;
        if created {
            tracing::info!(site = %dir.display(), site_id = %config.site_id, database = db.kind(), schema_version, "site created");
        }
        let site = Site { dir: dir.to_path_buf(), db };
        let report =
            InitReport { site: dir.to_path_buf(), created, schema_version, database: describe(&config.database) };
        Ok((site, report))
    }

    /// Opens an existing site: the database its record names, checked to be this site's.
    pub fn open(dir: &Path) -> Result<Site> {
        let db = match SiteConfig::read(dir)? {
            Some(config) => open_db(dir, &config, false)?,
            // A site made before site records: SQLite, no ID to check yet (`site init` adds one).
            None => Db::open(dir, false)?,
        };
        Ok(Site { dir: dir.to_path_buf(), db })
    }

    /// The content library.
    pub fn content(&self) -> content::ContentLibrary {
        content::ContentLibrary::new(&self.dir)
    }

    /// Where `OfflineServicingMgr.log` and `dism.log` are written.
    pub fn log_dir(&self) -> PathBuf {
        self.dir.join("logs")
    }

    /// The scratch area (the engine's `OfflineImageServicing` folder and the runs' work copies).
    pub fn scratch_dir(&self) -> PathBuf {
        self.dir.join("scratch")
    }

    /// An absolute path for one stored relative to the site.
    pub fn resolve(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }
}
