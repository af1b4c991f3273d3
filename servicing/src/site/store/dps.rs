//! The distribution points' SQL: DPs and what each holds of each image (`dp_content`, whose row is
//! also the lock of a distribution to a remote DP).

use std::path::{Path, PathBuf};

use super::{args, DpMethod, DpStatus, Row, Sql, SqlError, SqlResult};
use crate::site::dp::{dp_file, state_words, Dp, DpImageStatus};
use crate::site::location::Location;
use crate::site::time::format_utc;

const DP_SELECT: &str = "SELECT id, name, path, added, url, bwlimit FROM dps";

fn dp_row(r: &Row) -> SqlResult<Dp> {
    let path: String = r.get(2)?;
    let url: Option<String> = r.get(4)?;
    let location = match &url {
        Some(u) => Location::parse_url(u).map_err(|reason| SqlError::Column { index: 4, reason })?,
        None => Location::Dir(PathBuf::from(&path)),
    };
    Ok(Dp {
        id: r.get(0)?,
        name: r.get(1)?,
        url: location.url(),
        transport: location.transport(),
        path: location.path(),
        bwlimit: r.get(5)?,
        added: format_utc(r.get(3)?),
        location,
    })
}

/// Records a DP; its ID.
pub fn insert(tx: &dyn Sql, name: &str, path: &str, url: &str, bwlimit: Option<u32>, t: i64) -> SqlResult<i64> {
    tx.one(
        "INSERT INTO dps (name, path, added, url, bwlimit) VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
        args![name, path, t, url, bwlimit],
        |r| r.get(0),
    )
}

/// The DP named `name`.
pub fn find(db: &dyn Sql, name: &str) -> SqlResult<Option<Dp>> {
    db.opt(&format!("{DP_SELECT} WHERE name = ?1"), args![name], dp_row)
}

/// Every DP, by ID.
pub fn all(db: &dyn Sql) -> SqlResult<Vec<Dp>> {
    db.all(&format!("{DP_SELECT} ORDER BY id"), args![], dp_row)
}

const STATUS_SELECT: &str = "SELECT d.name, d.path, c.image_id, c.status, c.content_version, c.target_version, \
    c.method, c.bytes_sent, c.message, c.updated, d.url, c.bytes_received, c.image_bytes, c.verification, \
    i.content_version FROM dp_content c JOIN dps d ON d.id = c.dp_id JOIN images i ON i.id = c.image_id";

fn status_row(r: &Row) -> SqlResult<DpImageStatus> {
    let image_id: i64 = r.get(2)?;
    let url: Option<String> = r.get(10)?;
    let path = match url.as_deref().map(Location::parse_url) {
        Some(Ok(loc)) => loc.image_file(image_id),
        _ => dp_file(Path::new(&r.get::<String>(1)?), image_id).display().to_string(),
    };
    let (status, content_version, target_version, site_content_version): (DpStatus, Option<i64>, Option<i64>, i64) =
        (r.get(3)?, r.get(4)?, r.get(5)?, r.get(14)?);
    let message: Option<String> = r.get(8)?;
    Ok(DpImageStatus {
        dp: r.get(0)?,
        path,
        image_id,
        status,
        content_version,
        target_version,
        site_content_version,
        up_to_date: status == DpStatus::Success && content_version == Some(site_content_version),
        state: state_words(status, content_version, site_content_version, target_version, message.as_deref()),
        method: r.get(6)?,
        bytes_sent: r.get(7)?,
        bytes_received: r.get(11)?,
        image_bytes: r.get(12)?,
        verification: r.get(13)?,
        message,
        updated: format_utc(r.get(9)?),
    })
}

/// Every DP's status for one image.
pub fn image_status(db: &dyn Sql, image: i64) -> SqlResult<Vec<DpImageStatus>> {
    db.all(&format!("{STATUS_SELECT} WHERE c.image_id = ?1 ORDER BY d.id"), args![image], status_row)
}

/// One DP's status for every image.
pub fn dp_status(db: &dyn Sql, dp: i64) -> SqlResult<Vec<DpImageStatus>> {
    db.all(&format!("{STATUS_SELECT} WHERE c.dp_id = ?1 ORDER BY c.image_id"), args![dp], status_row)
}

/// The status of a distribution of `image` to `dp` and who runs it.
pub fn distribution(tx: &dyn Sql, dp: i64, image: i64) -> SqlResult<Option<(DpStatus, Option<String>)>> {
    tx.opt("SELECT status, holder FROM dp_content WHERE dp_id = ?1 AND image_id = ?2", args![dp, image], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
}

/// A distribution of `version` of `image` to `dp` started, run by `holder`.
pub fn start(tx: &dyn Sql, dp: i64, image: i64, version: i64, holder: &str, t: i64) -> SqlResult<()> {
    tx.exec(
        "INSERT INTO dp_content (dp_id, image_id, status, updated) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (dp_id, image_id) DO UPDATE SET status = ?3, updated = ?4",
        args![dp, image, DpStatus::InProgress, t],
    )?;
    tx.exec(
        "UPDATE dp_content SET target_version = ?3, holder = ?4 WHERE dp_id = ?1 AND image_id = ?2",
        args![dp, image, version, holder],
    )?;
    Ok(())
}

/// How a distribution ended.
#[derive(Debug, Clone)]
pub struct Finished {
    /// Success or Failed.
    pub status: DpStatus,
    /// What the DP holds now (version, SHA-256, size), when it changed.
    pub holds: Option<(i64, String, u64)>,
    /// How it was sent.
    pub method: Option<DpMethod>,
    /// Bytes sent.
    pub bytes_sent: Option<u64>,
    /// Bytes received.
    pub bytes_received: Option<u64>,
    /// Size of the image version.
    pub image_bytes: Option<u64>,
    /// How the copy was verified.
    pub verification: Option<String>,
    /// Why it failed.
    pub message: Option<String>,
}

/// Records how a distribution of `image` to `dp` ended.
pub fn finish(tx: &dyn Sql, dp: i64, image: i64, u: &Finished, t: i64) -> SqlResult<()> {
    tx.exec(
        "UPDATE dp_content SET status = ?3, updated = ?4, holder = NULL, method = ?5, bytes_sent = ?6, \
         bytes_received = ?7, image_bytes = ?8, verification = ?9, message = ?10 WHERE dp_id = ?1 AND image_id = ?2",
        args![
            dp,
            image,
            u.status,
            t,
            u.method,
            u.bytes_sent,
            u.bytes_received,
            u.image_bytes,
            u.verification,
            u.message
        ],
    )?;
    if let Some((v, sha, size)) = &u.holds {
        tx.exec(
            "UPDATE dp_content SET content_version = ?3, sha256 = ?4, size = ?5 WHERE dp_id = ?1 AND image_id = ?2",
            args![dp, image, v, sha, size],
        )?;
    }
    Ok(())
}

/// Every distribution In Progress, as (DP, image, holder).
pub fn in_progress(db: &dyn Sql) -> SqlResult<Vec<(i64, i64, Option<String>)>> {
    db.all("SELECT dp_id, image_id, holder FROM dp_content WHERE status = ?1", args![DpStatus::InProgress], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })
}

/// Forgets a DP and what it held.
pub fn delete(tx: &dyn Sql, id: i64) -> SqlResult<()> {
    tx.exec("DELETE FROM dp_content WHERE dp_id = ?1", args![id])?;
    tx.exec("DELETE FROM dps WHERE id = ?1", args![id])?;
    Ok(())
}
