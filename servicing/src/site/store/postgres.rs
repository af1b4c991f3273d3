//! The shared backend: PostgreSQL, for a site whose runners run on several hosts. The same
//! migrations as SQLite (with [`super::migrations::for_postgres`]), tracked in `wimpatch_schema`;
//! the same statements, their `?N` placeholders written as `$N`.
//!
//! Writers are serialised as SQLite's `BEGIN IMMEDIATE` serialises them: every write transaction
//! first takes one transaction-scoped advisory lock of the site, exclusively. The one exception is
//! the runners' claim, which takes that lock shared (claims run side by side, never beside another
//! writer) and picks its run with `FOR UPDATE SKIP LOCKED`, so runners never wait on each other's
//! candidates.

use std::cell::RefCell;
use std::error::Error as StdError;

use bytes::BytesMut;
use postgres::types::{IsNull, ToSql, Type};
use postgres::{Client, GenericClient, NoTls, Transaction};

use super::migrations::{for_postgres, MIGRATIONS, SCHEMA_VERSION};
use super::{Row, SqlError, SqlResult, Value};
use crate::site::error::{Error, Result};

/// The advisory lock key of site writes (any fixed number; "wimp" in ASCII).
const WRITE_LOCK: i64 = 0x7769_6d70;

/// An open PostgreSQL site database.
pub struct Postgres {
    client: RefCell<Client>,
    location: String,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres").field("location", &self.location).finish()
    }
}

/// How a write transaction holds the site's write lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LockMode {
    /// Alone (every state change but a claim).
    Exclusive,
    /// Beside other claims only.
    Shared,
}

impl ToSql for Value {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> std::result::Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                _ => i.to_string().as_str().to_sql(ty, out),
            },
            Value::Text(s) => s.as_str().to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        // Each value converts itself to the type the server inferred (above), or fails there.
        true
    }

    postgres::types::to_sql_checked!();
}

/// `?N` placeholders as PostgreSQL's `$N` (the statements hold no `?` elsewhere).
fn placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

fn params(args: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    args.iter().map(|a| a as &(dyn ToSql + Sync)).collect()
}

fn value(row: &postgres::Row, i: usize) -> SqlResult<Value> {
    let ty = row.columns()[i].type_();
    let column = |e: postgres::Error| SqlError::Column { index: i, reason: e.to_string() };
    let v = match *ty {
        Type::INT8 => row.try_get::<_, Option<i64>>(i).map_err(column)?.map(Value::Int),
        Type::INT4 => row.try_get::<_, Option<i32>>(i).map_err(column)?.map(|v| Value::Int(v.into())),
        Type::INT2 => row.try_get::<_, Option<i16>>(i).map_err(column)?.map(|v| Value::Int(v.into())),
        Type::BOOL => row.try_get::<_, Option<bool>>(i).map_err(column)?.map(|v| Value::Int(v.into())),
        Type::TEXT | Type::VARCHAR | Type::NAME | Type::BPCHAR => {
            row.try_get::<_, Option<String>>(i).map_err(column)?.map(Value::Text)
        }
        ref other => return Err(SqlError::Column { index: i, reason: format!("unexpected type {other}") }),
    };
    Ok(v.unwrap_or(Value::Null))
}

/// Runs a query on `client` (the connection or a transaction).
pub(crate) fn rows(client: &mut impl GenericClient, sql: &str, args: &[Value]) -> SqlResult<Vec<Row>> {
    let found = client.query(&placeholders(sql), &params(args))?;
    found.iter().map(|r| (0..r.len()).map(|i| value(r, i)).collect::<SqlResult<Vec<_>>>().map(Row)).collect()
}

/// Runs a statement that returns no rows on `client`.
pub(crate) fn exec(client: &mut impl GenericClient, sql: &str, args: &[Value]) -> SqlResult<u64> {
    Ok(client.execute(&placeholders(sql), &params(args))?)
}

/// The URL with its password (if any) masked: what messages show.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let (auth, host) = match rest.rsplit_once('@') {
        Some((auth, host)) => (Some(auth), host),
        None => (None, rest),
    };
    match auth.and_then(|a| a.split_once(':')) {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

impl Postgres {
    /// Connects to the database at `url` (`postgresql://user@host:port/db`) and brings its schema up
    /// to date.
    pub fn connect(url: &str) -> Result<Postgres> {
        let location = redact(url);
        let client = Client::connect(url, NoTls)
            .map_err(|e| Error::Db { database: location.clone(), source: SqlError::Postgres(e) })?;
        let mut db = Postgres { client: RefCell::new(client), location };
        db.migrate()?;
        Ok(db)
    }

    /// The server and database (password masked).
    pub fn location(&self) -> &str {
        &self.location
    }

    fn err(&self) -> impl Fn(SqlError) -> Error + '_ {
        move |source| Error::Db { database: self.location.clone(), source }
    }

    /// The connection, for statements outside a transaction.
    pub(crate) fn client(&self) -> std::cell::RefMut<'_, Client> {
        self.client.borrow_mut()
    }

    /// Starts a transaction holding the site's write lock in `mode`.
    pub(crate) fn begin(&mut self, mode: LockMode) -> SqlResult<Transaction<'_>> {
        let mut tx = self.client.get_mut().transaction()?;
        let lock = match mode {
            LockMode::Exclusive => "SELECT pg_advisory_xact_lock($1)",
            LockMode::Shared => "SELECT pg_advisory_xact_lock_shared($1)",
        };
        tx.execute(lock, &[&WRITE_LOCK])?;
        Ok(tx)
    }

    /// The schema version the database is at.
    pub fn schema_version(&self) -> Result<i64> {
        let mut client = self.client();
        rows(&mut *client, "SELECT version FROM wimpatch_schema", &[])
            .and_then(|r| r.first().ok_or(SqlError::NoRow)?.get(0))
            .map_err(self.err())
    }

    /// Applies the migrations this database lacks, in one transaction under the write lock (two
    /// processes opening a new site at once run each migration once).
    fn migrate(&mut self) -> Result<()> {
        let location = self.location.clone();
        let err = |source: SqlError| Error::Db { database: location.clone(), source };
        let mut tx = self.begin(LockMode::Exclusive).map_err(err)?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS wimpatch_schema (version BIGINT NOT NULL)")
            .map_err(|e| err(e.into()))?;
        let found = rows(&mut tx, "SELECT version FROM wimpatch_schema", &[]).map_err(err)?;
        let mut version: i64 = match found.first() {
            Some(r) => r.get(0).map_err(err)?,
            None => {
                exec(&mut tx, "INSERT INTO wimpatch_schema (version) VALUES (0)", &[]).map_err(err)?;
                0
            }
        };
        if version > SCHEMA_VERSION {
            return Err(Error::SchemaTooNew { database: location.clone(), found: version, supported: SCHEMA_VERSION });
        }
        while version < SCHEMA_VERSION {
            tx.batch_execute(&for_postgres(MIGRATIONS[version as usize])).map_err(|e| err(e.into()))?;
            version += 1;
            exec(&mut tx, "UPDATE wimpatch_schema SET version = ?1", &[Value::Int(version)]).map_err(err)?;
            tracing::info!(db = %location, to = version, "site database migrated");
        }
        tx.commit().map_err(|e| err(e.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_dollar_numbers() {
        assert_eq!(
            placeholders("UPDATE t SET a = ?2 WHERE id = ?1 AND b = ?12"),
            "UPDATE t SET a = $2 WHERE id = $1 AND b = $12"
        );
    }

    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            redact("postgresql://site:s3cret@db.example:5432/wimpatch"),
            "postgresql://site:***@db.example:5432/wimpatch"
        );
        assert_eq!(redact("postgresql://site@db/wimpatch"), "postgresql://site@db/wimpatch");
        assert_eq!(
            redact("postgresql:///wimpatch?host=/run/postgresql"),
            "postgresql:///wimpatch?host=/run/postgresql"
        );
    }
}
