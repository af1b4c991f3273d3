//! Lifecycle: removing catalog entries, images and distribution points (each refused while a
//! pending or running job needs it), and rolling an image back to the previous content version
//! kept on disk. A rollback is a new content version holding the previous version's exact bytes,
//! so version numbers never go back and a DP that holds "v2" never holds two different files.

use std::path::{Path, PathBuf};

use super::catalog::{self, Update};
use super::error::{Error, Result};
use super::images::{self, ImageDetail};
use super::location::Location;
use super::runner::{holder_id, LEASE_SECONDS};
use super::store::{self, now, Db, DpStatus};
use super::{dp, Site};
use crate::progress::Control;

/// The pending (Scheduled) and running (In Process) jobs of an image, as `job N (status)`.
fn open_jobs_of_image(db: &Db, image: i64) -> Result<Vec<String>> {
    let jobs = store::jobs::open_of_image(db, image).map_err(db.err())?;
    Ok(jobs.into_iter().map(|(job, status)| format!("job {job} ({status})")).collect())
}

/// The pending and running jobs that selected a catalog entry, as `job N of image M (status)`.
fn open_jobs_of_update(db: &Db, update: i64) -> Result<Vec<(String, i64)>> {
    let jobs = store::jobs::open_of_update(db, update).map_err(db.err())?;
    Ok(jobs.into_iter().map(|(job, image, status)| (format!("job {job} of image {image} ({status})"), image)).collect())
}

/// One removed catalog entry.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RemovedUpdate {
    /// Catalog ID.
    pub id: i64,
    /// KB.
    pub kb: Option<String>,
    /// File name.
    pub file_name: String,
    /// Whether its blob left the content library (false: another live entry has the same bytes).
    pub blob_deleted: bool,
    /// The file is still in its sync folder: the next sync of that folder adds it again.
    pub still_in_source: bool,
}

/// What `site catalog remove` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CatalogRemoveReport {
    /// The entries removed.
    pub removed: Vec<RemovedUpdate>,
}

/// Removes catalog entries (by catalog ID or KB) from the catalog and their blobs from the content
/// library, unless a pending or running job selected one of them. Past runs keep their records.
pub fn remove_updates(site: &mut Site, tokens: &[String]) -> Result<CatalogRemoveReport> {
    let live = catalog::list(&site.db)?;
    let mut chosen: Vec<Update> = Vec::new();
    for token in tokens {
        let t = token.trim();
        let hits: Vec<&Update> = match t.parse::<i64>() {
            Ok(id) => live.iter().filter(|u| u.id == id).collect(),
            Err(_) => {
                let kb =
                    if t.to_ascii_uppercase().starts_with("KB") { t.to_ascii_uppercase() } else { format!("KB{t}") };
                live.iter().filter(|u| u.kb.as_deref() == Some(kb.as_str())).collect()
            }
        };
        if hits.is_empty() {
            return Err(Error::NoSuchUpdate { token: t.into() });
        }
        for u in hits {
            if !chosen.iter().any(|c| c.id == u.id) {
                chosen.push(u.clone());
            }
        }
    }
    for u in &chosen {
        let jobs = open_jobs_of_update(&site.db, u.id)?;
        if let Some((_, image)) = jobs.first() {
            return Err(Error::InUse {
                what: format!("update {} ({}, catalog ID {})", u.kb.as_deref().unwrap_or("-"), u.file_name, u.id),
                by: jobs.iter().map(|j| j.0.clone()).collect::<Vec<_>>().join(", "),
                hint: format!("cancel it first (`wimpatch site cancel --image-id {image}`) or wait for it to end"),
            });
        }
    }
    let t = now();
    let ids: Vec<i64> = chosen.iter().map(|u| u.id).collect();
    site.db.tx(|tx| {
        for id in &ids {
            store::catalog::expire(tx, *id, t)?;
        }
        Ok(())
    })?;
    let library = site.content();
    let mut removed = Vec::new();
    for u in chosen {
        let shared = store::catalog::live_entries_with_blob(&site.db, &u.sha256).map_err(site.db.err())? > 0;
        let blob = library.blob_path(&u.sha256);
        let blob_deleted = !shared && std::fs::remove_file(&blob).is_ok();
        let still_in_source = Path::new(&u.source).join(&u.rel_path).is_file();
        tracing::info!(update = u.id, kb = ?u.kb, blob_deleted, "catalog entry removed");
        removed.push(RemovedUpdate { id: u.id, kb: u.kb, file_name: u.file_name, blob_deleted, still_in_source });
    }
    Ok(CatalogRemoveReport { removed })
}

/// What `site image remove` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImageRemoveReport {
    /// The image.
    pub image_id: i64,
    /// Its name.
    pub name: String,
    /// The site folder removed (every content version).
    pub removed_dir: PathBuf,
    /// Copies removed from directory DPs.
    pub removed_from_dps: Vec<String>,
    /// Remote DPs that keep their copy (remove `image-<ID>` there by hand).
    pub left_on_dps: Vec<String>,
}

/// Removes an image, its content versions, schedules and run history, and its copies on directory
/// DPs; refused while it has a pending or running job.
pub fn remove_image(site: &mut Site, id: i64) -> Result<ImageRemoveReport> {
    let image = images::get(site, id)?;
    let holder = take_lease(site, id)?;
    let open = open_jobs_of_image(&site.db, id)?;
    if !open.is_empty() {
        release_lease(site, id, &holder)?;
        return Err(Error::InUse {
            what: format!("image {id}"),
            by: open.join(", "),
            hint: format!("cancel it first (`wimpatch site cancel --image-id {id}`) or wait for it to end"),
        });
    }
    let dps = dp::all(site)?;
    site.db.tx(|tx| store::images::delete(tx, id))?;
    let key_dir = image.path.parent().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_default();
    if key_dir.starts_with(site.dir.join("images")) {
        let _ = std::fs::remove_dir_all(&key_dir);
    }
    let mut report = ImageRemoveReport {
        image_id: id,
        name: image.name,
        removed_dir: key_dir,
        removed_from_dps: Vec::new(),
        left_on_dps: Vec::new(),
    };
    for d in dps {
        match &d.location {
            Location::Dir(root) => {
                let dir = root.join(format!("image-{id}"));
                // Never follow a link planted on the share.
                if dir.symlink_metadata().is_ok_and(|m| m.is_dir()) && std::fs::remove_dir_all(&dir).is_ok() {
                    report.removed_from_dps.push(d.name);
                }
            }
            _ => report.left_on_dps.push(d.name),
        }
    }
    tracing::info!(image = id, "image removed");
    Ok(report)
}

/// Holds an image as a run does (a lease row, job 0), so no runner claims a run of it meanwhile;
/// refused when a live lease or an In Process run holds it.
fn take_lease(site: &mut Site, image: i64) -> Result<String> {
    let holder = holder_id();
    let t = now();
    let taken = site.db.tx(|tx| store::runs::hold_image(tx, image, &holder, t, t + LEASE_SECONDS))?;
    taken.map_err(|job| Error::InProcess { image, job })?;
    Ok(holder)
}

fn release_lease(site: &mut Site, image: i64, holder: &str) -> Result<()> {
    site.db.tx(|tx| store::runs::release_hold(tx, image, holder))
}

/// What `site dp remove` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DpRemoveReport {
    /// The DP's name.
    pub name: String,
    /// Its URL.
    pub url: String,
    /// The images it held (their files stay on the DP: it is the admin's share).
    pub held_images: Vec<i64>,
}

/// Forgets a distribution point; refused while a distribution to it is in progress. The files on
/// the DP are left as they are.
pub fn remove_dp(site: &mut Site, name: &str) -> Result<DpRemoveReport> {
    let d = dp::find(site, name)?.ok_or_else(|| Error::NoSuchDp { name: name.into() })?;
    let status = dp::list(site)?.into_iter().find(|r| r.dp.id == d.id).map(|r| r.images).unwrap_or_default();
    let busy: Vec<String> = status
        .iter()
        .filter(|s| s.status == DpStatus::InProgress)
        .map(|s| format!("a distribution of image {} (v{})", s.image_id, s.target_version.unwrap_or(0)))
        .collect();
    if !busy.is_empty() {
        return Err(Error::InUse {
            what: format!("distribution point {name}"),
            by: busy.join(", "),
            hint: "wait for it to end (or for `site tick` to close an interrupted one)".into(),
        });
    }
    let id = d.id;
    site.db.tx(|tx| store::dps::delete(tx, id))?;
    tracing::info!(dp = name, "distribution point removed");
    Ok(DpRemoveReport { name: d.name, url: d.url, held_images: status.iter().map(|s| s.image_id).collect() })
}

/// What `site image rollback` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RollbackReport {
    /// The image after the rollback.
    pub image: ImageDetail,
    /// The content version whose bytes it holds again.
    pub restored_from: i64,
    /// The content version it replaced (kept on disk as the previous version).
    pub replaced: i64,
    /// The DP update, with `--update-dps`.
    pub distribution: Option<dp::DistributeReport>,
}

/// Makes the previous content version kept on disk current again: its file, verified against its
/// recorded SHA-256, becomes a new content version (current + 1) and the installed updates are read
/// from it; with `update_dps` every DP gets it. Refused while a run holds the image.
pub fn rollback(site: &mut Site, id: i64, update_dps: bool, control: Control<'_>) -> Result<RollbackReport> {
    let image = images::get(site, id)?;
    let holder = take_lease(site, id)?;
    let result = rollback_locked(site, &image, control);
    release_lease(site, id, &holder)?;
    let (restored_from, replaced) = result?;
    let distribution = if update_dps { Some(dp::distribute(site, id, control)?) } else { None };
    super::execute::log_line(
        site,
        &format!(
            "Image {id} rolled back: content version {} holds the bytes of content version {restored_from} again \
             (replacing version {replaced})",
            replaced + 1
        ),
        false,
    );
    Ok(RollbackReport { image: images::show(site, id)?, restored_from, replaced, distribution })
}

fn rollback_locked(site: &mut Site, image: &images::ImageRow, control: Control<'_>) -> Result<(i64, i64)> {
    let current = image.content_version;
    let versions = store::images::versions(&site.db, image.id).map_err(site.db.err())?;
    let previous = versions.into_iter().filter(|v| v.version < current).max_by_key(|v| v.version);
    let Some(images::Version { version: from, path: rel, sha256: sha, .. }) = previous else {
        return Err(Error::NoPreviousVersion { image: image.id, current });
    };
    let source = site.resolve(&rel.to_string_lossy());
    let (actual, size) = super::content::sha256_file(&source)?;
    if actual != sha {
        return Err(Error::Mismatch { path: source, what: "rollback source check", expected: sha, actual });
    }
    let version = current + 1;
    let key_dir = image.path.parent().and_then(Path::parent).expect("images/<key>/v<N>/install.wim");
    let key = key_dir.file_name().map(|k| k.to_string_lossy().into_owned()).unwrap_or_default();
    let new_rel = format!("images/{key}/v{version}/install.wim");
    let dest = site.resolve(&new_rel);
    let dir = dest.parent().expect("has a parent").to_path_buf();
    let _ = std::fs::remove_dir_all(&dir);
    safe_fs::create_dir_all(&dir).map_err(Error::io(&dir, "cannot create the version folder"))?;
    // A version file is never written in place (runs work on a copy), so a hard link is a safe
    // copy; a copy where linking is not possible.
    if safe_fs::hard_link(&source, &dest).is_err() {
        super::content::copy_hashed(&source, &dest)?;
    }
    super::content::sync_dir(&dir);
    let facts = images::read_facts(site, &dest, Some((sha, size)), control)?;
    let t = now();
    let image_id = image.id;
    site.db.tx(|tx| {
        let v =
            store::images::NewVersion { version, path: &new_rel, sha256: &facts.sha256, size: facts.size, job: None };
        store::images::switch_version(tx, image_id, &v, t)?;
        store::images::record_facts(tx, image_id, &facts, None)?;
        store::images::record_content_version(tx, image_id, version, &facts, t, None)
    })?;
    super::execute::prune_versions(site, image_id, version)?;
    tracing::info!(image = image_id, from, version, "image rolled back");
    Ok((from, current))
}
