//! The site table's SQL: key/value facts about the site itself (when it was created, its ID).

use super::{args, Sql, SqlResult};

/// Records `key` = `value` unless `key` is set already.
pub fn set_once(tx: &dyn Sql, key: &str, value: &str) -> SqlResult<()> {
    tx.exec("INSERT INTO site (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING", args![key, value])?;
    Ok(())
}

/// The value of `key`, if set.
pub fn get(db: &dyn Sql, key: &str) -> SqlResult<Option<String>> {
    db.opt("SELECT value FROM site WHERE key = ?1", args![key], |r| r.get(0))
}
