//! The site: ConfigMgr's offline servicing as a site job. A site is a directory holding a SQLite
//! database (`site.db`), a content library of update binaries (`content/`), the OS images it services
//! (`images/<key>/v<N>/install.wim`, one folder per content version), logs (`logs/`, with
//! `OfflineServicingMgr.log` and `dism.log`) and a scratch area (`scratch/`).
//!
//! The pieces: [`catalog`] (update metadata, incremental sync), [`content`] (single-instance store
//! verified on read), [`images`] (import, installed updates, applicable updates), [`jobs`]
//! (schedules, runs, cancel), [`schedule`] (when), [`runner`] (tick and run: leases, the image lock,
//! the engine's `service` pipeline), [`dp`] (distribution points, atomic switch), [`location`]
//! (where a DP is: directory, rsync daemon, ssh) and [`rsync`] (remote DPs through the system rsync).

pub mod catalog;
pub mod content;
pub mod db;
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

use db::Db;

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
}

const DIRS: [&str; 4] = ["content", "images", "logs", "scratch"];

impl Site {
    /// Creates the site (directories and database) or brings an existing one up to date.
    pub fn init(dir: &Path) -> Result<(Site, InitReport)> {
        safe_fs::create_dir_all(dir).map_err(Error::io(dir, "cannot create the site directory"))?;
        let created = !dir.join(db::DB_FILE).exists();
        for d in DIRS {
            let p = dir.join(d);
            safe_fs::create_dir_all(&p).map_err(Error::io(&p, "cannot create the site directory"))?;
        }
        let mut db = Db::open(dir, true)?;
        let t = db::now();
        db.tx(|tx| {
            tx.execute("INSERT OR IGNORE INTO site (key, value) VALUES ('created', ?1)", [t.to_string()])?;
            Ok(())
        })?;
        let schema_version = db.schema_version()?;
        if created {
            tracing::info!(site = %dir.display(), schema_version, "site created");
        }
        let site = Site { dir: dir.to_path_buf(), db };
        let report = InitReport { site: dir.to_path_buf(), created, schema_version };
        Ok((site, report))
    }

    /// Opens an existing site.
    pub fn open(dir: &Path) -> Result<Site> {
        let db = Db::open(dir, false)?;
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
