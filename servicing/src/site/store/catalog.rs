//! The catalog's SQL: catalog entries (`updates`), the content library's index (`content`), and
//! supersedence among entries.

use super::{args, Row, Sql, SqlResult};
use crate::site::catalog::{FileProblem, Meta, Update};

const SELECT: &str = "SELECT id, kb, title, description, release_type, classification, arch, product, \
    build, identity, kind, supported, problem, file_name, rel_path, source, size, sha256, superseded_by, added \
    FROM updates";

fn from_row(r: &Row) -> SqlResult<Update> {
    Ok(Update {
        id: r.get(0)?,
        kb: r.get(1)?,
        title: r.get(2)?,
        description: r.get(3)?,
        release_type: r.get(4)?,
        classification: r.get(5)?,
        arch: r.get(6)?,
        product: r.get(7)?,
        build: r.get(8)?,
        identity: r.get(9)?,
        kind: r.get(10)?,
        supported: r.get(11)?,
        problem: r.get(12)?,
        file_name: r.get(13)?,
        rel_path: r.get(14)?,
        source: r.get(15)?,
        size: r.get(16)?,
        sha256: r.get(17)?,
        superseded_by: r.get(18)?,
        added: r.get(19)?,
    })
}

/// Every live (not expired) catalog entry, by ID.
pub fn list(db: &dyn Sql) -> SqlResult<Vec<Update>> {
    db.all(&format!("{SELECT} WHERE expired IS NULL ORDER BY id"), args![], from_row)
}

/// One entry by ID (expired ones included: jobs refer to them).
pub fn get(db: &dyn Sql, id: i64) -> SqlResult<Option<Update>> {
    db.opt(&format!("{SELECT} WHERE id = ?1"), args![id], from_row)
}

/// What the catalog knows of one file of a sync source.
#[derive(Debug)]
pub struct SourceEntry {
    /// Catalog ID.
    pub id: i64,
    /// Size when last read.
    pub size: i64,
    /// Modification time when last read (ns).
    pub mtime_ns: i64,
    /// Content hash.
    pub sha256: String,
    /// The file was gone at the last sync.
    pub expired: bool,
}

/// Every entry of sync source `source`, expired ones included, as (path below the source, entry).
pub fn source_entries(db: &dyn Sql, source: &str) -> SqlResult<Vec<(String, SourceEntry)>> {
    db.all("SELECT rel_path, id, size, mtime_ns, sha256, expired FROM updates WHERE source = ?1", args![source], |r| {
        Ok((
            r.get(0)?,
            SourceEntry {
                id: r.get(1)?,
                size: r.get(2)?,
                mtime_ns: r.get(3)?,
                sha256: r.get(4)?,
                expired: r.get::<Option<i64>>(5)?.is_some(),
            },
        ))
    })
}

/// Records a content-library blob (once).
pub fn add_content(tx: &dyn Sql, sha256: &str, size: u64, t: i64) -> SqlResult<()> {
    tx.exec(
        "INSERT INTO content (sha256, size, added) VALUES (?1, ?2, ?3) ON CONFLICT (sha256) DO NOTHING",
        args![sha256, size, t],
    )?;
    Ok(())
}

/// A file of a sync source seen for the first time.
pub(crate) struct NewEntry<'a> {
    /// The sync source folder.
    pub source: &'a str,
    /// Path below it.
    pub rel_path: &'a str,
    /// File name.
    pub file_name: &'a str,
    /// Size.
    pub size: u64,
    /// Modification time (ns).
    pub mtime_ns: i64,
    /// Content hash.
    pub sha256: &'a str,
    /// What was read from it.
    pub meta: &'a Meta,
}

/// Adds a catalog entry.
pub(crate) fn insert(tx: &dyn Sql, e: &NewEntry<'_>, t: i64) -> SqlResult<()> {
    let m = e.meta;
    tx.exec(
        "INSERT INTO updates (source, rel_path, file_name, size, mtime_ns, sha256, kind, supported, \
         problem, kb, title, description, release_type, classification, arch, product, build, \
         identity, added, changed) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?19)",
        args![
            e.source,
            e.rel_path,
            e.file_name,
            e.size,
            e.mtime_ns,
            e.sha256,
            m.kind,
            m.supported,
            m.problem,
            m.kb,
            m.title,
            m.description,
            m.release_type,
            m.classification,
            m.arch,
            m.product,
            m.build,
            m.identity,
            t
        ],
    )?;
    Ok(())
}

/// Records an entry's file as seen now (and live again).
pub fn set_file(tx: &dyn Sql, id: i64, size: u64, mtime_ns: i64, sha256: &str) -> SqlResult<()> {
    tx.exec(
        "UPDATE updates SET size = ?2, mtime_ns = ?3, sha256 = ?4, expired = NULL WHERE id = ?1",
        args![id, size, mtime_ns, sha256],
    )?;
    Ok(())
}

/// Replaces an entry's metadata (its file changed).
pub(crate) fn set_meta(tx: &dyn Sql, id: i64, m: &Meta, t: i64) -> SqlResult<()> {
    tx.exec(
        "UPDATE updates SET kind = ?2, supported = ?3, problem = ?4, kb = ?5, title = ?6, \
         description = ?7, release_type = ?8, classification = ?9, arch = ?10, product = ?11, \
         build = ?12, identity = ?13, changed = ?14 WHERE id = ?1",
        args![
            id,
            m.kind,
            m.supported,
            m.problem,
            m.kb,
            m.title,
            m.description,
            m.release_type,
            m.classification,
            m.arch,
            m.product,
            m.build,
            m.identity,
            t
        ],
    )?;
    Ok(())
}

/// An expired entry came back: it counts as added now.
pub fn set_added(tx: &dyn Sql, id: i64, t: i64) -> SqlResult<()> {
    tx.exec("UPDATE updates SET added = ?2 WHERE id = ?1", args![id, t])?;
    Ok(())
}

/// An entry whose file is gone.
pub fn expire(tx: &dyn Sql, id: i64, t: i64) -> SqlResult<()> {
    tx.exec("UPDATE updates SET expired = ?2 WHERE id = ?1", args![id, t])?;
    Ok(())
}

/// (ID, package identity) of every live entry that has one.
pub fn live_identities(tx: &dyn Sql) -> SqlResult<Vec<(i64, String)>> {
    tx.all("SELECT id, identity FROM updates WHERE expired IS NULL AND identity IS NOT NULL", args![], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
}

/// Forgets every entry's supersedence (before it is computed again).
pub fn clear_supersedence(tx: &dyn Sql) -> SqlResult<()> {
    tx.exec("UPDATE updates SET superseded_by = NULL", args![])?;
    Ok(())
}

/// Entry `id` is superseded by entry `by`.
pub fn set_superseded_by(tx: &dyn Sql, id: i64, by: i64) -> SqlResult<()> {
    tx.exec("UPDATE updates SET superseded_by = ?2 WHERE id = ?1", args![id, by])?;
    Ok(())
}

/// The live entries of sync source `source` that could not be read, by path.
pub fn unreadable_of_source(db: &dyn Sql, source: &str) -> SqlResult<Vec<FileProblem>> {
    db.all(
        "SELECT rel_path, problem FROM updates WHERE source = ?1 AND expired IS NULL AND kind = 'unreadable' \
         ORDER BY rel_path",
        args![source],
        |r| {
            Ok(FileProblem {
                file: r.get(0)?,
                reason: r.get::<Option<String>>(1)?.unwrap_or_else(|| "unreadable".into()),
            })
        },
    )
}

/// How many live catalog entries have the bytes `sha256`.
pub fn live_entries_with_blob(db: &dyn Sql, sha256: &str) -> SqlResult<i64> {
    db.one("SELECT COUNT(*) FROM updates WHERE sha256 = ?1 AND expired IS NULL", args![sha256], |r| r.get(0))
}
