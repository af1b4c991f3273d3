//! The images' SQL: images, their content versions, editions and installed updates. Paths are
//! stored relative to the site folder; the rows returned here carry them as stored.

use std::collections::HashMap;
use std::path::PathBuf;

use super::{args, Row, Sql, SqlResult};
use crate::site::images::{Edition, ImageRow, InstalledUpdate, Version, WimFacts};
use crate::site::status_page::VersionPoint;
use crate::site::time::format_utc;

const SELECT: &str =
    "SELECT id, name, os_version, arch, content_version, size, path, sha256, source_path, imported FROM images";

/// An image row; `path` is relative to the site, the scheduled-updates columns and `indexes` are
/// left for the caller.
fn row(r: &Row) -> SqlResult<ImageRow> {
    Ok(ImageRow {
        id: r.get(0)?,
        name: r.get(1)?,
        version: r.get(2)?,
        arch: r.get(3)?,
        scheduled_updates_date: None,
        scheduled_updates_status: None,
        content_version: r.get(4)?,
        size: r.get(5)?,
        path: PathBuf::from(r.get::<String>(6)?),
        sha256: r.get(7)?,
        indexes: 0,
        source_path: r.get(8)?,
        imported: format_utc(r.get(9)?),
    })
}

/// Every image, by ID.
pub fn list(db: &dyn Sql) -> SqlResult<Vec<ImageRow>> {
    db.all(&format!("{SELECT} ORDER BY id"), args![], row)
}

/// One image.
pub fn get(db: &dyn Sql, id: i64) -> SqlResult<Option<ImageRow>> {
    db.opt(&format!("{SELECT} WHERE id = ?1"), args![id], row)
}

/// How many indexes an image has.
pub fn edition_count(db: &dyn Sql, id: i64) -> SqlResult<u32> {
    db.one("SELECT COUNT(*) FROM image_editions WHERE image_id = ?1", args![id], |r| r.get(0))
}

/// An image's indexes.
pub fn editions(db: &dyn Sql, id: i64) -> SqlResult<Vec<Edition>> {
    db.all(
        "SELECT idx, name, edition_id, arch, build, os_version FROM image_editions WHERE image_id = ?1 ORDER BY idx",
        args![id],
        |r| {
            Ok(Edition {
                index: r.get(0)?,
                name: r.get(1)?,
                edition_id: r.get(2)?,
                arch: r.get(3)?,
                build: r.get(4)?,
                os_version: r.get(5)?,
            })
        },
    )
}

/// An image's stored content versions; `path` as stored (relative to the site).
pub fn versions(db: &dyn Sql, id: i64) -> SqlResult<Vec<Version>> {
    db.all(
        "SELECT version, path, sha256, size, created, job_id FROM image_versions WHERE image_id = ?1 ORDER BY version",
        args![id],
        |r| {
            Ok(Version {
                version: r.get(0)?,
                path: PathBuf::from(r.get::<String>(1)?),
                sha256: r.get(2)?,
                size: r.get(3)?,
                created: format_utc(r.get(4)?),
                job: r.get(5)?,
            })
        },
    )
}

/// The image's packages that name a KB article (base and feature packages are not updates).
pub fn installed_updates(db: &dyn Sql, id: i64) -> SqlResult<Vec<InstalledUpdate>> {
    db.all(
        "SELECT idx, kb, identity, state, release_type, install_time, job_id FROM installed_updates \
         WHERE image_id = ?1 AND kb LIKE 'KB%' ORDER BY idx, install_time, identity",
        args![id],
        |r| {
            Ok(InstalledUpdate {
                index: r.get(0)?,
                kb: r.get(1)?,
                identity: r.get(2)?,
                state: r.get(3)?,
                release_type: r.get(4)?,
                install_time: r.get(5)?,
                job: r.get(6)?,
            })
        },
    )
}

/// The identity of every package installed in the image (every index).
pub fn installed_identities(db: &dyn Sql, id: i64) -> SqlResult<Vec<String>> {
    db.all("SELECT identity FROM installed_updates WHERE image_id = ?1", args![id], |r| r.get(0))
}

/// Writes the editions and installed updates of image `id` (replacing what was recorded). A
/// package that was there before keeps the run it was credited to; a new one is credited to `job`.
pub(crate) fn record_facts(tx: &dyn Sql, id: i64, facts: &WimFacts, job: Option<i64>) -> SqlResult<()> {
    let before: HashMap<(u32, String), Option<i64>> = tx
        .all("SELECT idx, identity, job_id FROM installed_updates WHERE image_id = ?1", args![id], |r| {
            Ok(((r.get(0)?, r.get(1)?), r.get(2)?))
        })?
        .into_iter()
        .collect();
    tx.exec("DELETE FROM image_editions WHERE image_id = ?1", args![id])?;
    tx.exec("DELETE FROM installed_updates WHERE image_id = ?1", args![id])?;
    // The Version column is the serviced image's, not the imported one's (a cumulative update
    // moves the build revision).
    if let Some(first) = facts.editions.first() {
        tx.exec("UPDATE images SET os_version = ?2, arch = ?3 WHERE id = ?1", args![id, first.os_version, first.arch])?;
    }
    for e in &facts.editions {
        tx.exec(
            "INSERT INTO image_editions (image_id, idx, name, edition_id, arch, build, os_version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            args![id, e.index, e.name, e.edition_id, e.arch, e.build, e.os_version],
        )?;
    }
    for (idx, p) in &facts.installed {
        let credited = match before.get(&(*idx, p.identity.clone())) {
            Some(old) => *old,
            None => job,
        };
        tx.exec(
            "INSERT INTO installed_updates (image_id, idx, identity, kb, state, release_type, install_time, job_id) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             ON CONFLICT (image_id, idx, identity) DO UPDATE SET kb = ?4, state = ?5, release_type = ?6, \
             install_time = ?7, job_id = ?8",
            args![id, idx, p.identity, p.kb, p.state, p.release_type, p.install_time, credited],
        )?;
    }
    Ok(())
}

/// Adds a content version to the image's history (after [`record_facts`], whose installed updates
/// it counts).
pub(crate) fn record_content_version(
    tx: &dyn Sql,
    id: i64,
    version: i64,
    facts: &WimFacts,
    created: i64,
    job: Option<i64>,
) -> SqlResult<()> {
    let updates: i64 = tx.one(
        "SELECT COUNT(DISTINCT kb) FROM installed_updates WHERE image_id = ?1 AND kb LIKE 'KB%'",
        args![id],
        |r| r.get(0),
    )?;
    tx.exec(
        "INSERT INTO content_versions (image_id, version, sha256, size, updates, created, job_id) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
         ON CONFLICT (image_id, version) DO UPDATE SET sha256 = ?3, size = ?4, updates = ?5, created = ?6, job_id = ?7",
        args![id, version, facts.sha256, facts.size, updates, created, job],
    )?;
    Ok(())
}

/// A newly imported image (content version 1).
pub struct NewImage<'a> {
    /// Name.
    pub name: &'a str,
    /// The WIM it was imported from.
    pub source_path: &'a str,
    /// The index asked for, as given.
    pub source_index: Option<&'a str>,
    /// Only that index was kept.
    pub single_index: bool,
    /// OS version of the first index.
    pub os_version: Option<&'a str>,
    /// Architecture of the first index.
    pub arch: Option<&'a str>,
    /// The WIM, relative to the site.
    pub path: &'a str,
    /// Its SHA-256.
    pub sha256: &'a str,
    /// Its size.
    pub size: u64,
}

/// Records an imported image and its version 1; its ID.
pub fn insert(tx: &dyn Sql, i: &NewImage<'_>, t: i64) -> SqlResult<i64> {
    let id: i64 = tx.one(
        "INSERT INTO images (name, source_path, source_index, single_index, os_version, arch, content_version, \
         path, sha256, size, imported, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?8, ?9, ?10, ?10) RETURNING id",
        args![i.name, i.source_path, i.source_index, i.single_index, i.os_version, i.arch, i.path, i.sha256, i.size, t],
        |r| r.get(0),
    )?;
    tx.exec(
        "INSERT INTO image_versions (image_id, version, path, sha256, size, created) VALUES (?1, 1, ?2, ?3, ?4, ?5)",
        args![id, i.path, i.sha256, i.size, t],
    )?;
    Ok(id)
}

/// A content version a run made.
pub struct NewVersion<'a> {
    /// The version number.
    pub version: i64,
    /// Its WIM, relative to the site.
    pub path: &'a str,
    /// Its SHA-256.
    pub sha256: &'a str,
    /// Its size.
    pub size: u64,
    /// The run that made it (none for a rollback).
    pub job: Option<i64>,
}

/// Makes `v` the image's current content version.
pub fn switch_version(tx: &dyn Sql, image: i64, v: &NewVersion<'_>, t: i64) -> SqlResult<()> {
    tx.exec(
        "UPDATE images SET content_version = ?2, path = ?3, sha256 = ?4, size = ?5, updated = ?6 WHERE id = ?1",
        args![image, v.version, v.path, v.sha256, v.size, t],
    )?;
    tx.exec(
        "INSERT INTO image_versions (image_id, version, path, sha256, size, created, job_id) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
         ON CONFLICT (image_id, version) DO UPDATE SET path = ?3, sha256 = ?4, size = ?5, created = ?6, job_id = ?7",
        args![image, v.version, v.path, v.sha256, v.size, t, v.job],
    )?;
    Ok(())
}

/// The stored path of every content version of the image.
pub fn version_paths(db: &dyn Sql, image: i64) -> SqlResult<Vec<String>> {
    db.all("SELECT path FROM image_versions WHERE image_id = ?1", args![image], |r| r.get(0))
}

/// The stored path of every content version of the image older than `below`.
pub fn version_paths_below(db: &dyn Sql, image: i64, below: i64) -> SqlResult<Vec<String>> {
    db.all("SELECT path FROM image_versions WHERE image_id = ?1 AND version < ?2", args![image, below], |r| r.get(0))
}

/// Forgets every content version of the image older than `below`.
pub fn delete_versions_below(tx: &dyn Sql, image: i64, below: i64) -> SqlResult<()> {
    tx.exec("DELETE FROM image_versions WHERE image_id = ?1 AND version < ?2", args![image, below])?;
    Ok(())
}

/// The size of the image's current version, if the image exists.
pub fn size(db: &dyn Sql, image: i64) -> SqlResult<Option<u64>> {
    db.opt("SELECT size FROM images WHERE id = ?1", args![image], |r| r.get(0))
}

/// The image's current content version.
pub fn content_version(db: &dyn Sql, image: i64) -> SqlResult<i64> {
    db.one("SELECT content_version FROM images WHERE id = ?1", args![image], |r| r.get(0))
}

/// Deletes every row about an image (its runs, schedules, versions, DP states and lease included).
pub fn delete(tx: &dyn Sql, id: i64) -> SqlResult<()> {
    tx.exec("DELETE FROM job_updates WHERE job_id IN (SELECT id FROM jobs WHERE image_id = ?1)", args![id])?;
    for sql in [
        "DELETE FROM jobs WHERE image_id = ?1",
        "DELETE FROM schedules WHERE image_id = ?1",
        "DELETE FROM installed_updates WHERE image_id = ?1",
        "DELETE FROM image_editions WHERE image_id = ?1",
        "DELETE FROM image_versions WHERE image_id = ?1",
        "DELETE FROM content_versions WHERE image_id = ?1",
        "DELETE FROM dp_content WHERE image_id = ?1",
        "DELETE FROM leases WHERE image_id = ?1",
        "DELETE FROM images WHERE id = ?1",
    ] {
        tx.exec(sql, args![id])?;
    }
    Ok(())
}

/// Every content version an image has had, oldest first (recorded even after its file is pruned).
pub fn content_history(db: &dyn Sql, image: i64) -> SqlResult<Vec<VersionPoint>> {
    db.all(
        "SELECT version, size, updates, created FROM content_versions WHERE image_id = ?1 ORDER BY version",
        args![image],
        |r| {
            Ok(VersionPoint { version: r.get(0)?, size: r.get(1)?, updates: r.get(2)?, created: format_utc(r.get(3)?) })
        },
    )
}
