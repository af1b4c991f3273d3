//! What can go wrong in the site; every variant names the site file, image, update or DP concerned.

use crate::io_error::IoError;
use std::path::PathBuf;

/// An error of the site (database, content library, images, schedules, runner, distribution points).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The directory is not a site (no database); `wimpatch site init` makes one.
    #[error("{}: not a wimpatch site (no site.db); create it with `wimpatch site --site {} init`", path.display(), path.display())]
    NotASite {
        /// The directory given.
        path: PathBuf,
    },
    /// The database was written by a newer wimpatch.
    #[error("{database}: database schema version {found} is newer than this wimpatch supports ({supported}); use a newer wimpatch")]
    SchemaTooNew {
        /// The database file, or the server and database.
        database: String,
        /// Its schema version.
        found: i64,
        /// The newest this build knows.
        supported: i64,
    },
    /// The site folder's record (`site.json`) cannot be read.
    #[error("{}: not a valid site record ({reason}); it names the site's database and ID", path.display())]
    BadSiteRecord {
        /// The record.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The site folder's database belongs to another site (or to none): its site ID is not the
    /// folder's.
    #[error("{}: the site database {database} belongs to {}, but this site folder is site {expected}; refusing to use it (point the folder's site.json at its own database, or make a new site with `wimpatch site init --database <URL of an empty database>`)", dir.display(), found.as_deref().map_or_else(|| "no site (it has no site ID)".to_owned(), |f| format!("another site ({f})")))]
    ForeignDatabase {
        /// The site folder.
        dir: PathBuf,
        /// The database (password masked).
        database: String,
        /// The folder's site ID.
        expected: String,
        /// The database's site ID.
        found: Option<String>,
    },
    /// `--database` is neither `sqlite` nor a PostgreSQL URL.
    #[error("site database {database:?}: give a PostgreSQL URL (postgresql://user@host:port/database) or leave it out for SQLite")]
    BadDatabase {
        /// What was given (password masked).
        database: String,
    },
    /// `site init --database` names another database than the site already uses.
    #[error("{}: the site already uses the database {recorded}, not {asked}; a site's database is chosen once, at its first init", dir.display())]
    DatabaseChanged {
        /// The site folder.
        dir: PathBuf,
        /// What `site.json` records (password masked).
        recorded: String,
        /// What was asked (password masked).
        asked: String,
    },
    /// A database statement failed.
    #[error("site database {database}: {source}")]
    Db {
        /// The database file, or the server and database.
        database: String,
        /// The backend's error.
        #[source]
        source: super::store::SqlError,
    },
    /// The database fails SQLite's quick check (torn pages, broken indexes): it is not used, so a
    /// damaged catalog or job table is never read as if it were whole.
    #[error("site database {} is corrupted ({detail}); restore it from a backup or re-create the site", path.display())]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// The first problems `PRAGMA quick_check` reported.
        detail: String,
    },
    /// A filesystem operation failed.
    #[error(transparent)]
    Io(#[from] IoError),
    /// The WIM layer failed (open, lock, reduce); the message names the WIM.
    #[error(transparent)]
    Wim(#[from] crate::wim::Error),
    /// The servicing engine failed; the message names the image or package.
    #[error(transparent)]
    Apply(#[from] crate::apply::Error),
    /// A content-library blob does not hash to its name: it is reported and never applied.
    #[error("content library blob {} is corrupt: its SHA-256 is {actual}, expected {expected}; it was not applied (repair it with `wimpatch site catalog sync --from <the update's source folder> --verify`, which re-hashes every blob and stores corrupt ones again from the source)", path.display())]
    CorruptBlob {
        /// The blob file.
        path: PathBuf,
        /// The SHA-256 it should have (its name).
        expected: String,
        /// The SHA-256 it has.
        actual: String,
    },
    /// A content-library blob is missing.
    #[error("content library blob {} is missing (store it again with `wimpatch site catalog sync --from <the update's source folder> --verify`)", path.display())]
    MissingBlob {
        /// Where it should be.
        path: PathBuf,
    },
    /// No image with this ID.
    #[error("no image with ID {id} in the site (see `wimpatch site image list`)")]
    NoSuchImage {
        /// The ID given.
        id: i64,
    },
    /// An update selector that matches no catalog entry.
    #[error("no catalog update matches {token:?} (give a KB number, a catalog ID, or all-applicable; see `wimpatch site updates --image-id <ID>`)")]
    NoSuchUpdate {
        /// The selector given.
        token: String,
    },
    /// No distribution point with this name.
    #[error("no distribution point named {name:?} (see `wimpatch site dp list`)")]
    NoSuchDp {
        /// The name given.
        name: String,
    },
    /// A distribution point with this name exists already.
    #[error("a distribution point named {name:?} exists already (path {})", path.display())]
    DpExists {
        /// The name.
        name: String,
        /// Its path.
        path: PathBuf,
    },
    /// A schedule text that cannot be parsed.
    #[error("schedule {spec:?}: {reason}")]
    BadSchedule {
        /// The text given.
        spec: String,
        /// What is wrong.
        reason: String,
    },
    /// The image has a servicing run in process; the request must wait or cancel it first.
    #[error("image {image} has a servicing run in process (job {job}); cancel it with `wimpatch site cancel --image-id {image}` or wait for it to end")]
    InProcess {
        /// The image ID.
        image: i64,
        /// The job ID.
        job: i64,
    },
    /// Named updates the engine's dry run says cannot apply to the image.
    #[error("image {image}: refused to schedule updates that cannot apply to it: {}; pick them from `wimpatch site updates --image-id {image}`, or pass --force to schedule them anyway (logged)", updates.join("; "))]
    CannotApply {
        /// The image ID.
        image: i64,
        /// Each refused update with the dry run's reason.
        updates: Vec<String>,
    },
    /// Something a pending or running job (or another record) still needs.
    #[error("{what} is still needed: {by}; {hint}")]
    InUse {
        /// What removal was asked for (`image 1`, `update KB5000002 (catalog ID 2)` …).
        what: String,
        /// What needs it.
        by: String,
        /// How to free it.
        hint: String,
    },
    /// No previous content version on disk to roll back to.
    #[error(
        "image {image} has no previous content version kept on disk (current: {current}); nothing to roll back to"
    )]
    NoPreviousVersion {
        /// The image ID.
        image: i64,
        /// Its current content version.
        current: i64,
    },
    /// Nothing to cancel.
    #[error("image {image} has no scheduled or in-process servicing to cancel")]
    NothingToCancel {
        /// The image ID.
        image: i64,
    },
    /// `--remove-superseded` on a multi-index image (ConfigMgr's rule).
    #[error("image {image} holds {count} indexes; removing superseded updates needs a single-index image (ConfigMgr's rule): import it again with `--single-index`")]
    NeedsSingleIndex {
        /// The image ID.
        image: i64,
        /// Its image count.
        count: u32,
    },
    /// A file did not have the SHA-256 it had to have after a copy or rebuild.
    #[error("{}: SHA-256 is {actual} after {what}, expected {expected}; the file was discarded", path.display())]
    Mismatch {
        /// The file checked.
        path: PathBuf,
        /// What produced it (`copy`, `delta rebuild`).
        what: &'static str,
        /// Expected digest.
        expected: String,
        /// Actual digest.
        actual: String,
    },
    /// A distribution point location that cannot be used (bad URL, option that does not apply).
    #[error("distribution point: {reason}")]
    BadDp {
        /// What is wrong (names the URL or path).
        reason: String,
    },
    /// A transfer to a remote distribution point failed (unreachable, refused, interrupted).
    #[error("distribution point {dp}: {reason}")]
    Transfer {
        /// The DP's URL.
        dp: String,
        /// rsync's or ssh's exit status and last messages.
        reason: String,
    },
    /// The operation was cancelled; nothing was switched.
    #[error("{what}: cancelled; nothing was changed")]
    Cancelled {
        /// What was cancelled.
        what: String,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, action: &'static str) -> impl FnOnce(std::io::Error) -> Error {
        IoError::at(path, action)
    }
}

/// Result of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;
