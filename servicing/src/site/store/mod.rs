//! The site store: the one module that holds the site's SQL. The rest of the site calls its typed
//! functions ([`catalog`], [`images`], [`jobs`], [`runs`], [`dps`]) and reads the states it records
//! as Rust enums ([`JobStatus`], [`UpdateResult`], [`DpStatus`], [`DpMethod`]).
//!
//! Statements are written once, in portable SQL with `?N` placeholders, and run on the site's
//! backend: SQLite (embedded, the default, [`sqlite`]) or PostgreSQL (a database several runners on
//! several hosts share, [`postgres`]). Every state change runs in one transaction ([`Db::tx`]) that
//! serialises writers, so two processes on one site never fail half-way; runners claim due runs
//! with [`runs::claim_next`] (on PostgreSQL `FOR UPDATE SKIP LOCKED`, beside each other).

pub mod catalog;
pub mod dps;
pub mod images;
pub mod jobs;
pub mod migrations;
pub mod postgres;
pub mod runs;
pub mod settings;
pub mod sqlite;
mod states;
pub mod value;

use std::path::Path;

pub use migrations::SCHEMA_VERSION;
pub use states::{DpMethod, DpStatus, JobStatus, UpdateResult};
pub(crate) use value::args;
pub use value::{FromValue, Row, ToValue, Value};

use super::error::{Error, Result};

/// A statement failed (the backend's own error), or a column held what its reader did not expect.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// SQLite's error.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL's error (the server's message included).
    #[error(transparent)]
    Postgres(#[from] ::postgres::Error),
    /// A statement that must return one row returned none.
    #[error("the statement returned no row")]
    NoRow,
    /// A column could not be read as the type asked.
    #[error("column {index}: {reason}")]
    Column {
        /// 0-based column.
        index: usize,
        /// What was wrong.
        reason: String,
    },
}

/// Result of a statement.
pub type SqlResult<T> = std::result::Result<T, SqlError>;

/// Something statements run on: the database (each statement on its own) or a transaction.
pub trait Sql {
    /// Runs a query; every row, each column converted to a [`Value`].
    fn rows(&self, sql: &str, args: &[Value]) -> SqlResult<Vec<Row>>;
    /// Runs a statement that returns no rows; the number of rows it changed.
    fn exec(&self, sql: &str, args: &[Value]) -> SqlResult<u64>;
}

impl dyn Sql + '_ {
    /// The one row a query returns, mapped by `f` (no row is an error).
    pub fn one<T>(&self, sql: &str, args: &[Value], f: impl FnOnce(&Row) -> SqlResult<T>) -> SqlResult<T> {
        self.opt(sql, args, f)?.ok_or(SqlError::NoRow)
    }

    /// The first row a query returns, if any, mapped by `f`.
    pub fn opt<T>(&self, sql: &str, args: &[Value], f: impl FnOnce(&Row) -> SqlResult<T>) -> SqlResult<Option<T>> {
        self.rows(sql, args)?.first().map(f).transpose()
    }

    /// Every row a query returns, mapped by `f`.
    pub fn all<T>(&self, sql: &str, args: &[Value], f: impl FnMut(&Row) -> SqlResult<T>) -> SqlResult<Vec<T>> {
        self.rows(sql, args)?.iter().map(f).collect()
    }
}

/// Which database a site uses.
#[derive(Debug)]
enum Backend {
    Sqlite(sqlite::Sqlite),
    Postgres(postgres::Postgres),
}

/// An open site database.
#[derive(Debug)]
pub struct Db {
    backend: Backend,
    /// The file, or the server and database: what error messages name.
    location: String,
}

/// A transaction of [`Db::tx`].
pub enum Tx<'a> {
    /// A SQLite `BEGIN IMMEDIATE` transaction.
    Sqlite(rusqlite::Transaction<'a>),
    /// A PostgreSQL transaction holding the site's write lock.
    Postgres(std::cell::RefCell<::postgres::Transaction<'a>>),
}

impl Sql for Tx<'_> {
    fn rows(&self, sql: &str, args: &[Value]) -> SqlResult<Vec<Row>> {
        match self {
            Tx::Sqlite(tx) => sqlite::rows(tx, sql, args),
            Tx::Postgres(tx) => postgres::rows(&mut *tx.borrow_mut(), sql, args),
        }
    }

    fn exec(&self, sql: &str, args: &[Value]) -> SqlResult<u64> {
        match self {
            Tx::Sqlite(tx) => sqlite::exec(tx, sql, args),
            Tx::Postgres(tx) => postgres::exec(&mut *tx.borrow_mut(), sql, args),
        }
    }
}

impl Sql for Db {
    fn rows(&self, sql: &str, args: &[Value]) -> SqlResult<Vec<Row>> {
        match &self.backend {
            Backend::Sqlite(db) => sqlite::rows(db.conn(), sql, args),
            Backend::Postgres(db) => postgres::rows(&mut *db.client(), sql, args),
        }
    }

    fn exec(&self, sql: &str, args: &[Value]) -> SqlResult<u64> {
        match &self.backend {
            Backend::Sqlite(db) => sqlite::exec(db.conn(), sql, args),
            Backend::Postgres(db) => postgres::exec(&mut *db.client(), sql, args),
        }
    }
}

impl Db {
    /// Opens (creating with `create`) the SQLite database of the site at `dir` and brings its schema
    /// up to date.
    pub fn open(dir: &Path, create: bool) -> Result<Db> {
        let db = sqlite::Sqlite::open(dir, create)?;
        let location = db.path().display().to_string();
        Ok(Db { backend: Backend::Sqlite(db), location })
    }

    /// Connects to the PostgreSQL database at `url` and brings its schema up to date.
    pub fn connect(url: &str) -> Result<Db> {
        let db = postgres::Postgres::connect(url)?;
        let location = db.location().to_owned();
        Ok(Db { backend: Backend::Postgres(db), location })
    }

    /// What error messages name: the database file, or the server and database.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Maps a statement's error to one naming the database.
    pub fn err(&self) -> impl Fn(SqlError) -> Error + '_ {
        move |source| Error::Db { database: self.location.clone(), source }
    }

    /// This database as something statements run on.
    pub fn sql(&self) -> &dyn Sql {
        self
    }

    /// The SQLite connection (tests and diagnostics), when the site uses SQLite.
    pub fn sqlite(&self) -> Option<&rusqlite::Connection> {
        match &self.backend {
            Backend::Sqlite(db) => Some(db.conn()),
            Backend::Postgres(_) => None,
        }
    }

    /// Runs `f` in one transaction, committed when `f` succeeds. Writers are serialised: SQLite's
    /// `BEGIN IMMEDIATE` takes the write lock at the start, PostgreSQL the site's advisory lock.
    pub fn tx<T>(&mut self, f: impl FnOnce(&Tx<'_>) -> SqlResult<T>) -> Result<T> {
        self.tx_with(postgres::LockMode::Exclusive, f)
    }

    /// [`Db::tx`] for a runner's claim: on PostgreSQL it holds the write lock shared, so claims run
    /// beside each other (they pick their rows with `FOR UPDATE SKIP LOCKED`) but never beside
    /// another writer. On SQLite it is [`Db::tx`].
    pub(crate) fn claim_tx<T>(&mut self, f: impl FnOnce(&Tx<'_>) -> SqlResult<T>) -> Result<T> {
        self.tx_with(postgres::LockMode::Shared, f)
    }

    fn tx_with<T>(&mut self, mode: postgres::LockMode, f: impl FnOnce(&Tx<'_>) -> SqlResult<T>) -> Result<T> {
        let location = self.location.clone();
        let err = |source| Error::Db { database: location.clone(), source };
        match &mut self.backend {
            Backend::Sqlite(db) => {
                let tx = Tx::Sqlite(db.begin().map_err(err)?);
                let value = f(&tx).map_err(err)?;
                if let Tx::Sqlite(tx) = tx {
                    tx.commit().map_err(|e| err(e.into()))?;
                }
                Ok(value)
            }
            Backend::Postgres(db) => {
                let tx = Tx::Postgres(std::cell::RefCell::new(db.begin(mode).map_err(err)?));
                let value = f(&tx).map_err(err)?;
                if let Tx::Postgres(tx) = tx {
                    tx.into_inner().commit().map_err(|e| err(e.into()))?;
                }
                Ok(value)
            }
        }
    }

    /// The schema version the database is at.
    pub fn schema_version(&self) -> Result<i64> {
        match &self.backend {
            Backend::Sqlite(db) => db.schema_version(),
            Backend::Postgres(db) => db.schema_version(),
        }
    }

    /// Whether the site uses PostgreSQL (runners on several hosts may share it).
    pub fn is_postgres(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    /// Which backend: `sqlite` or `postgresql`.
    pub fn kind(&self) -> &'static str {
        match &self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgresql",
        }
    }
}

/// Seconds since the Unix epoch, now.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}
