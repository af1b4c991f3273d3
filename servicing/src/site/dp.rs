//! Distribution points: directories (local or mounted) that receive each image's current content
//! version as `<dp>/image-<ID>/install.wim`. A new version is written beside the old one under a
//! temporary name, its SHA-256 checked, and renamed over it, so a DP never serves a partial or mixed
//! image and keeps the previous version until the switch. When the DP holds an older version, only a
//! delta is sent ([`super::delta`]) and the new file is rebuilt and verified on the DP side.

use std::path::{Path, PathBuf};

use rusqlite::{params, OptionalExtension};

use super::content::{copy_hashed, sync_dir, temp_in};
use super::db::now;
use super::delta::{self, Signature};
use super::error::{Error, Result};
use super::images;
use super::time::format_utc;
use super::Site;
use crate::progress::Control;
use crate::wim::{LockWait, WimLock};

/// File name of an image on a DP.
pub const DP_FILE: &str = "install.wim";

/// A distribution point.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Dp {
    /// ID.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Its directory.
    #[serde(rename = "dir")]
    pub path: PathBuf,
    /// Added (UTC).
    pub added: String,
}

/// Where one DP stands for one image.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DpImageStatus {
    /// DP name.
    pub dp: String,
    /// The image.
    pub image_id: i64,
    /// `Success`, `In Progress`, `Failed`.
    #[serde(serialize_with = "cbs::json_word::snake_case")]
    pub status: String,
    /// The content version the DP holds (none: nothing yet).
    pub content_version: Option<i64>,
    /// The version being (or last) sent.
    pub target_version: Option<i64>,
    /// `full`, `delta` or `unchanged`.
    pub method: Option<String>,
    /// Bytes sent by the last distribution.
    pub bytes_sent: Option<u64>,
    /// Why it failed, or a note.
    pub message: Option<String>,
    /// The file on the DP.
    #[serde(rename = "wim")]
    pub path: PathBuf,
    /// When the status last changed (UTC).
    pub updated: String,
}

/// One DP with what it holds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DpRow {
    /// The DP.
    #[serde(flatten)]
    pub dp: Dp,
    /// Per image.
    pub images: Vec<DpImageStatus>,
}

/// The result for one DP of one distribution.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DpOutcome {
    /// DP name.
    pub dp: String,
    /// The file on the DP.
    #[serde(rename = "wim")]
    pub path: PathBuf,
    /// `Success` or `Failed`.
    #[serde(serialize_with = "cbs::json_word::snake_case")]
    pub status: String,
    /// `full`, `delta` or `unchanged`.
    pub method: Option<String>,
    /// Bytes sent to the DP (the delta, or the whole file).
    pub bytes_sent: u64,
    /// Bytes the DP sent back (its signature, for a delta).
    pub signature_bytes: u64,
    /// Size of the image.
    pub full_size: u64,
    /// `bytes_sent / full_size` in percent.
    pub percent_sent: f64,
    /// Why it failed.
    pub message: Option<String>,
}

/// What `site distribute` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DistributeReport {
    /// The image.
    pub image_id: i64,
    /// The content version distributed.
    pub content_version: i64,
    /// Its SHA-256.
    pub sha256: String,
    /// Its size.
    pub size: u64,
    /// Per DP.
    pub dps: Vec<DpOutcome>,
}

impl DistributeReport {
    /// Whether every DP holds the version now.
    pub fn all_succeeded(&self) -> bool {
        self.dps.iter().all(|d| d.status == "Success")
    }
}

fn dp_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Dp> {
    Ok(Dp { id: r.get(0)?, name: r.get(1)?, path: PathBuf::from(r.get::<_, String>(2)?), added: format_utc(r.get(3)?) })
}

/// Adds a distribution point (its directory is created if missing).
pub fn add(site: &mut Site, name: &str, path: &Path) -> Result<Dp> {
    safe_fs::create_dir_all(path).map_err(Error::io(path, "cannot create the distribution point directory"))?;
    let path = std::fs::canonicalize(path).map_err(Error::io(path, "cannot open the distribution point directory"))?;
    if let Some(existing) = find(site, name)? {
        return Err(Error::DpExists { name: name.into(), path: existing.path });
    }
    let t = now();
    let text = path.to_string_lossy().into_owned();
    let id = site.db.tx(|tx| {
        tx.execute("INSERT INTO dps (name, path, added) VALUES (?1, ?2, ?3)", params![name, text, t])?;
        Ok(tx.last_insert_rowid())
    })?;
    tracing::info!(dp = name, path = %path.display(), "distribution point added");
    Ok(Dp { id, name: name.into(), path, added: format_utc(t) })
}

/// The DP named `name`.
pub fn find(site: &Site, name: &str) -> Result<Option<Dp>> {
    let db = &site.db;
    db.conn()
        .query_row("SELECT id, name, path, added FROM dps WHERE name = ?1", [name], dp_row)
        .optional()
        .map_err(db.err())
}

/// Every DP.
pub fn all(site: &Site) -> Result<Vec<Dp>> {
    let db = &site.db;
    let mut stmt = db.conn().prepare("SELECT id, name, path, added FROM dps ORDER BY id").map_err(db.err())?;
    let rows = stmt.query_map([], dp_row).map_err(db.err())?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db.err())
}

/// Where `dp` keeps image `image`.
pub fn dp_file(dp: &Path, image: i64) -> PathBuf {
    dp.join(format!("image-{image}")).join(DP_FILE)
}

const STATUS_SELECT: &str = "SELECT d.name, d.path, c.image_id, c.status, c.content_version, c.target_version, \
    c.method, c.bytes_sent, c.message, c.updated FROM dp_content c JOIN dps d ON d.id = c.dp_id";

fn status_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DpImageStatus> {
    let image_id: i64 = r.get(2)?;
    Ok(DpImageStatus {
        dp: r.get(0)?,
        path: dp_file(Path::new(&r.get::<_, String>(1)?), image_id),
        image_id,
        status: r.get(3)?,
        content_version: r.get(4)?,
        target_version: r.get(5)?,
        method: r.get(6)?,
        bytes_sent: r.get::<_, Option<i64>>(7)?.map(|b| b as u64),
        message: r.get(8)?,
        updated: format_utc(r.get(9)?),
    })
}

/// Every DP's status for one image.
pub fn image_status(site: &Site, image: i64) -> Result<Vec<DpImageStatus>> {
    let db = &site.db;
    let mut stmt =
        db.conn().prepare(&format!("{STATUS_SELECT} WHERE c.image_id = ?1 ORDER BY d.id")).map_err(db.err())?;
    let rows = stmt.query_map([image], status_row).map_err(db.err())?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db.err())
}

/// Every DP with its per-image status.
pub fn list(site: &Site) -> Result<Vec<DpRow>> {
    let dps = all(site)?;
    let db = &site.db;
    let mut out = Vec::new();
    for dp in dps {
        let mut stmt =
            db.conn().prepare(&format!("{STATUS_SELECT} WHERE c.dp_id = ?1 ORDER BY c.image_id")).map_err(db.err())?;
        let rows = stmt.query_map([dp.id], status_row).map_err(db.err())?;
        let images = rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db.err())?;
        out.push(DpRow { dp, images });
    }
    Ok(out)
}

fn set_status(site: &mut Site, dp: i64, image: i64, f: impl FnOnce(&mut StatusUpdate)) -> Result<()> {
    let mut u = StatusUpdate::default();
    f(&mut u);
    let t = now();
    site.db.tx(|tx| {
        tx.execute(
            "INSERT INTO dp_content (dp_id, image_id, status, updated) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (dp_id, image_id) DO UPDATE SET status = ?3, updated = ?4",
            params![dp, image, u.status, t],
        )?;
        if let Some(v) = u.target_version {
            tx.execute(
                "UPDATE dp_content SET target_version = ?3 WHERE dp_id = ?1 AND image_id = ?2",
                params![dp, image, v],
            )?;
        }
        if let Some((v, sha, size)) = &u.holds {
            tx.execute(
                "UPDATE dp_content SET content_version = ?3, sha256 = ?4, size = ?5 WHERE dp_id = ?1 AND image_id = ?2",
                params![dp, image, v, sha, *size as i64],
            )?;
        }
        tx.execute(
            "UPDATE dp_content SET method = ?3, bytes_sent = ?4, message = ?5 WHERE dp_id = ?1 AND image_id = ?2",
            params![dp, image, u.method, u.bytes_sent.map(|b| b as i64), u.message],
        )?;
        Ok(())
    })
}

#[derive(Default)]
struct StatusUpdate {
    status: &'static str,
    target_version: Option<i64>,
    holds: Option<(i64, String, u64)>,
    method: Option<String>,
    bytes_sent: Option<u64>,
    message: Option<String>,
}

/// Sends the image's current content version to every DP.
pub fn distribute(site: &mut Site, image: i64, control: Control<'_>) -> Result<DistributeReport> {
    let img = images::get(site, image)?;
    let mut report = DistributeReport {
        image_id: image,
        content_version: img.content_version,
        sha256: img.sha256.clone(),
        size: img.size,
        dps: Vec::new(),
    };
    for dp in all(site)? {
        let outcome = distribute_one(site, &dp, &img, control);
        report.dps.push(outcome);
    }
    Ok(report)
}

fn distribute_one(site: &mut Site, dp: &Dp, img: &images::ImageRow, control: Control<'_>) -> DpOutcome {
    let dest = dp_file(&dp.path, img.id);
    let mut outcome = DpOutcome {
        dp: dp.name.clone(),
        path: dest.clone(),
        status: "Failed".into(),
        method: None,
        bytes_sent: 0,
        signature_bytes: 0,
        full_size: img.size,
        percent_sent: 0.0,
        message: None,
    };
    let started = set_status(site, dp.id, img.id, |u| {
        u.status = "In Progress";
        u.target_version = Some(img.content_version);
    });
    let result = started.and_then(|()| send(&dest, img, control));
    match result {
        Ok(sent) => {
            outcome.status = "Success".into();
            outcome.method = Some(sent.method.into());
            outcome.bytes_sent = sent.bytes_sent;
            outcome.signature_bytes = sent.signature_bytes;
            outcome.percent_sent = if img.size == 0 { 0.0 } else { sent.bytes_sent as f64 * 100.0 / img.size as f64 };
            tracing::info!(dp = %dp.name, image = img.id, version = img.content_version, method = sent.method,
                bytes_sent = sent.bytes_sent, full = img.size, "distribution point updated");
            let r = set_status(site, dp.id, img.id, |u| {
                u.status = "Success";
                u.holds = Some((img.content_version, img.sha256.clone(), img.size));
                u.method = Some(sent.method.into());
                u.bytes_sent = Some(sent.bytes_sent);
            });
            if let Err(e) = r {
                outcome.status = "Failed".into();
                outcome.message = Some(e.to_string());
            }
        }
        Err(e) => {
            tracing::warn!(dp = %dp.name, image = img.id, error = %e, "distribution failed; the DP keeps its previous version");
            outcome.message = Some(e.to_string());
            let _ = set_status(site, dp.id, img.id, |u| {
                u.status = "Failed";
                u.message = Some(e.to_string());
            });
        }
    }
    outcome
}

struct Sent {
    method: &'static str,
    bytes_sent: u64,
    signature_bytes: u64,
}

/// Puts the image's file at `dest`: unchanged, by delta against what is there, or whole.
fn send(dest: &Path, img: &images::ImageRow, control: Control<'_>) -> Result<Sent> {
    let dir = dest.parent().expect("dp file has a parent").to_path_buf();
    // The DP is a share others may write to: its `image-<ID>` folder and file are never followed
    // through a planted link (the lock, the temps and the switch all happen inside that folder).
    let dp_root = dir.parent().expect("image folder has a parent");
    let image_dir = Path::new(dir.file_name().expect("image folder name"));
    safe_fs::create_dir_all(dp_root).map_err(Error::io(dp_root, "cannot create the distribution point directory"))?;
    safe_fs::create_dir_all_under(dp_root, image_dir)
        .map_err(Error::io(&dir, "cannot create the image folder on the DP"))?;
    refuse_link(dest)?;
    // One distribution per DP file at a time (two runners, or a runner and a manual distribute).
    let _lock = WimLock::acquire(dest, LockWait::For(std::time::Duration::from_secs(600)))?;
    sweep_temps(&dir);
    let source = &img.path;
    if dest.is_file() {
        let meta = std::fs::metadata(dest).map_err(Error::io(dest, "cannot read metadata"))?;
        if meta.len() == img.size && super::content::sha256_file(dest)?.0 == img.sha256 {
            return Ok(Sent { method: "unchanged", bytes_sent: 0, signature_bytes: 0 });
        }
        // The DP side: describe what it holds. The site side: find it in the new file.
        let sig = Signature::compute(dest, delta::block_size_for(meta.len()), control)?;
        let delta_file = temp_in(&dir, "install.wim.delta");
        let rebuilt = temp_in(&dir, "install.wim.new");
        let result = (|| -> Result<Option<Sent>> {
            let stats = delta::make_delta(source, &sig, &delta_file, control)?;
            // A delta as big as the file saves nothing; send the file.
            if stats.delta_bytes >= img.size {
                return Ok(None);
            }
            let sha = delta::apply_delta(dest, &delta_file, &rebuilt, control)?;
            check(&rebuilt, &img.sha256, &sha, "delta rebuild")?;
            switch(&rebuilt, dest)?;
            Ok(Some(Sent { method: "delta", bytes_sent: stats.delta_bytes, signature_bytes: sig.encoded_len() }))
        })();
        let _ = std::fs::remove_file(&delta_file);
        let _ = std::fs::remove_file(&rebuilt);
        if let Some(sent) = result? {
            return Ok(sent);
        }
    }
    if control.cancelled() {
        return Err(Error::Cancelled { what: format!("distribution to {}", dest.display()) });
    }
    let tmp = temp_in(&dir, "install.wim.new");
    let result = (|| -> Result<Sent> {
        let (sha, size) = copy_hashed(source, &tmp)?;
        check(&tmp, &img.sha256, &sha, "copy")?;
        switch(&tmp, dest)?;
        Ok(Sent { method: "full", bytes_sent: size, signature_bytes: 0 })
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn check(path: &Path, expected: &str, actual: &str, what: &'static str) -> Result<()> {
    if expected != actual {
        return Err(Error::Mismatch {
            path: path.to_path_buf(),
            what,
            expected: expected.into(),
            actual: actual.into(),
        });
    }
    Ok(())
}

/// Refuses a DP path that is a symbolic link (a missing one is fine: it is created).
fn refuse_link(path: &Path) -> Result<()> {
    match safe_fs::refuse_symlink(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, "refusing the distribution point path")(e)),
    }
}

/// The atomic switch: the verified new file replaces the old one in one rename.
fn switch(new: &Path, dest: &Path) -> Result<()> {
    safe_fs::rename(new, dest).map_err(Error::io(dest, "cannot switch to the new version"))?;
    if let Some(dir) = dest.parent() {
        sync_dir(dir);
    }
    Ok(())
}

/// Removes temporary files a killed distribution left (only called under the DP file's lock).
fn sweep_temps(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(".install.wim.") && name.contains(".wimpatch-tmp.") {
            tracing::info!(path = %e.path().display(), "removing a temporary file of an interrupted distribution");
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Marks DP rows left In Progress by a killed distribution as Failed (their files are untouched:
/// the switch is a rename). Called by the runner's recovery.
pub(crate) fn recover(site: &mut Site) -> Result<usize> {
    let stuck: Vec<(i64, i64, String)> = {
        let db = &site.db;
        let mut stmt = db
            .conn()
            .prepare("SELECT c.dp_id, c.image_id, d.path FROM dp_content c JOIN dps d ON d.id = c.dp_id WHERE c.status = 'In Progress'")
            .map_err(db.err())?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).map_err(db.err())?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db.err())?
    };
    let mut n = 0;
    for (dp, image, path) in stuck {
        let file = dp_file(Path::new(&path), image);
        // Holding the lock proves nobody is distributing there now. A planted link is not locked
        // through.
        if refuse_link(&file).is_err() || file.parent().is_some_and(|d| refuse_link(d).is_err()) {
            continue;
        }
        let Ok(_lock) = WimLock::acquire(&file, LockWait::NoWait) else { continue };
        if let Some(dir) = file.parent() {
            sweep_temps(dir);
        }
        set_status(site, dp, image, |u| {
            u.status = "Failed";
            u.message = Some("the distribution was interrupted; the DP kept its previous version".into());
        })?;
        n += 1;
    }
    Ok(n)
}
