//! The embedded backend: SQLite in WAL mode (`site.db` in the site folder), the migrations tracked
//! in `user_version`, and every state change in one `BEGIN IMMEDIATE` transaction (so two processes
//! on one site serialise their writes instead of failing half-way).

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use super::migrations::{MIGRATIONS, SCHEMA_VERSION};
use super::{Row, SqlError, SqlResult, Value};
use crate::site::error::{Error, Result};

/// File name of the database inside the site directory.
pub const DB_FILE: &str = "site.db";

/// An open SQLite site database.
#[derive(Debug)]
pub struct Sqlite {
    conn: Connection,
    path: PathBuf,
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::from(rusqlite::types::Null),
            Value::Int(i) => ToSqlOutput::from(*i),
            Value::Text(s) => ToSqlOutput::from(s.as_str()),
        })
    }
}

/// Runs a query on `conn` (a connection or a transaction).
pub(crate) fn rows(conn: &Connection, sql: &str, args: &[Value]) -> SqlResult<Vec<Row>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let n = stmt.column_count();
    let mut rows = stmt.query(rusqlite::params_from_iter(args.iter()))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let mut row = Vec::with_capacity(n);
        for i in 0..n {
            row.push(match r.get_ref(i)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(v) => Value::Int(v),
                ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                other => {
                    return Err(SqlError::Column { index: i, reason: format!("unexpected {:?}", other.data_type()) })
                }
            });
        }
        out.push(Row(row));
    }
    Ok(out)
}

/// Runs a statement that returns no rows on `conn`.
pub(crate) fn exec(conn: &Connection, sql: &str, args: &[Value]) -> SqlResult<u64> {
    let mut stmt = conn.prepare_cached(sql)?;
    Ok(stmt.execute(rusqlite::params_from_iter(args.iter()))? as u64)
}

impl Sqlite {
    /// Opens (creating with `create`) the database of the site at `dir` and brings its schema up to
    /// date.
    pub fn open(dir: &Path, create: bool) -> Result<Sqlite> {
        let path = dir.join(DB_FILE);
        if !create && !path.is_file() {
            return Err(Error::NotASite { path: dir.to_path_buf() });
        }
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let err = |source: rusqlite::Error| Error::Db { database: path.display().to_string(), source: source.into() };
        let conn = Connection::open_with_flags(&path, flags).map_err(err)?;
        // Another runner or the CLI may hold the write lock for a moment: wait instead of failing.
        conn.busy_timeout(Duration::from_secs(30)).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
        // FULL: a committed state change survives power loss, like the image files, which are fsynced
        // before the database points at them.
        conn.pragma_update(None, "synchronous", "FULL").map_err(err)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(err)?;
        let mut db = Sqlite { conn, path };
        db.quick_check()?;
        db.migrate()?;
        Ok(db)
    }

    /// `PRAGMA quick_check` (the O(N) subset of `integrity_check`): a damaged database is refused at
    /// open, naming the file, instead of being read silently. A file that is not a database at all
    /// fails here too ("file is not a database").
    fn quick_check(&self) -> Result<()> {
        let corrupt = |detail: String| Error::Corrupt { path: self.path.clone(), detail };
        let mut stmt = self.conn.prepare("PRAGMA quick_check(5)").map_err(|e| corrupt(e.to_string()))?;
        let rows: Vec<String> = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .and_then(|rows| rows.collect())
            .map_err(|e| corrupt(e.to_string()))?;
        if rows.len() == 1 && rows[0] == "ok" {
            return Ok(());
        }
        Err(corrupt(rows.join("; ")))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> Error + '_ {
        move |source| Error::Db { database: self.path.display().to_string(), source: source.into() }
    }

    /// Starts a `BEGIN IMMEDIATE` transaction: the write lock is taken at once, so the checks a
    /// transaction makes still hold when it writes.
    pub(crate) fn begin(&mut self) -> SqlResult<Transaction<'_>> {
        Ok(self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?)
    }

    /// The schema version stored in the file.
    pub fn schema_version(&self) -> Result<i64> {
        self.conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(self.err())
    }

    fn migrate(&mut self) -> Result<()> {
        loop {
            // Read the version inside the write transaction: two processes opening a new site at once
            // must not both run migration 1.
            let path = self.path.clone();
            let err =
                |source: rusqlite::Error| Error::Db { database: path.display().to_string(), source: source.into() };
            let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
            let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(err)?;
            if version > SCHEMA_VERSION {
                return Err(Error::SchemaTooNew {
                    database: path.display().to_string(),
                    found: version,
                    supported: SCHEMA_VERSION,
                });
            }
            if version == SCHEMA_VERSION {
                return Ok(());
            }
            tx.execute_batch(MIGRATIONS[version as usize]).map_err(err)?;
            tx.pragma_update(None, "user_version", version + 1).map_err(err)?;
            tx.commit().map_err(err)?;
            tracing::info!(db = %self.path.display(), from = version, to = version + 1, "site database migrated");
        }
    }
}
