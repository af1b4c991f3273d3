//! Distribution points: where each image's current content version is published as
//! `image-<ID>/install.wim`. A DP is a directory (`--path`, `file:///dir`: a plain copy, SHA-256
//! verified), an rsync daemon module (`rsync://`) or a directory over ssh (`ssh://`); remote DPs get
//! the file with the system `rsync` ([`super::rsync`]), whose delta transfer sends only what
//! changed. Every transport writes under a temporary name and switches by one rename once the copy
//! is verified, so a DP never serves a partial or mixed image and keeps the previous version until
//! the switch. A DP that fails (unreachable, refused, mismatch) is marked Failed with the reason; the
//! others go on, and the site's content version is never touched by a distribution.

use std::path::{Path, PathBuf};

use super::content::{copy_hashed_with, sync_dir, temp_in};
use super::error::{Error, Result};
use super::images;
use super::location::{Location, Transport};
use super::progress::{NoProgress, SiteEvent, SiteProgress};
use super::store::dps::Finished;
use super::store::{self, now};
use super::time::format_utc;
use super::Site;
use crate::progress::Control;
use crate::wim::{LockWait, WimLock};

/// File name of an image on a DP.
pub const DP_FILE: &str = "install.wim";

pub use super::store::{DpMethod, DpStatus};

/// A distribution point.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Dp {
    /// ID.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Where it is, as a URL (`file:///dir`, `rsync://…`, `ssh://…`).
    pub url: String,
    /// `file`, `rsync` or `ssh`.
    pub transport: Transport,
    /// Its directory (for a remote DP: the module and folder, or the path on the host).
    #[serde(rename = "dir")]
    pub path: PathBuf,
    /// rsync's `--bwlimit` in KiB/s (remote DPs).
    pub bwlimit: Option<u32>,
    /// Added (UTC).
    pub added: String,
    /// The parsed location.
    #[serde(skip)]
    pub location: Location,
}

/// Where one DP stands for one image.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DpImageStatus {
    /// DP name.
    pub dp: String,
    /// The image.
    pub image_id: i64,
    /// Success, In Progress or Failed.
    pub status: DpStatus,
    /// The content version the DP holds (none: nothing yet).
    pub content_version: Option<i64>,
    /// The version being (or last) sent.
    pub target_version: Option<i64>,
    /// How the last distribution sent it.
    pub method: Option<DpMethod>,
    /// Bytes sent to the DP by the last distribution (rsync's statistics for remote DPs).
    pub bytes_sent: Option<u64>,
    /// Bytes the DP sent back (rsync's block checksums).
    pub bytes_received: Option<u64>,
    /// Size of the image version sent.
    pub image_bytes: Option<u64>,
    /// How the copy was verified before the switch.
    pub verification: Option<String>,
    /// Why it failed, or a note.
    pub message: Option<String>,
    /// The file on the DP (a path, or a URL for a remote DP).
    #[serde(rename = "wim")]
    pub path: String,
    /// When the status last changed (UTC).
    pub updated: String,
    /// The image's current content version in the site.
    pub site_content_version: i64,
    /// Whether the DP holds the site's current content version.
    pub up_to_date: bool,
    /// Where the DP stands, in plain words: `current (v2)`, `out of date: site has v4, DP has v1`,
    /// `failed: …`, `distributing v4`.
    pub state: String,
}

/// The plain words for a DP's standing (see [`DpImageStatus::state`]).
pub(crate) fn state_words(
    status: DpStatus,
    held: Option<i64>,
    site: i64,
    target: Option<i64>,
    message: Option<&str>,
) -> String {
    let holds = match held {
        Some(v) => format!("DP has v{v}"),
        None => "DP has nothing yet".into(),
    };
    match status {
        DpStatus::InProgress => format!("distributing v{} ({holds})", target.unwrap_or(site)),
        DpStatus::Failed => {
            format!("failed, out of date: site has v{site}, {holds}: {}", message.unwrap_or("see the message"))
        }
        DpStatus::Success if held == Some(site) => format!("current (v{site})"),
        DpStatus::Success => format!("out of date: site has v{site}, {holds}"),
    }
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
    /// The file on the DP (a path, or a URL for a remote DP).
    #[serde(rename = "wim")]
    pub path: String,
    /// Success or Failed.
    pub status: DpStatus,
    /// How it was sent.
    pub method: Option<DpMethod>,
    /// Bytes sent to the DP: the whole file for a copy, rsync's "Total bytes sent" for a remote DP.
    pub bytes_sent: u64,
    /// Bytes the DP sent back (rsync's block checksums and protocol).
    pub bytes_received: u64,
    /// Size of the image.
    pub image_bytes: u64,
    /// `bytes_sent / image_bytes` in percent.
    pub percent_sent: f64,
    /// How the copy was verified before the switch.
    pub verification: Option<String>,
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
        self.dps.iter().all(|d| d.status == DpStatus::Success)
    }
}

/// Where a new DP is: a directory (`--path`) or a URL (`--url`).
#[derive(Debug, Clone)]
pub enum DpTarget {
    /// `--path DIR`.
    Path(PathBuf),
    /// `--url URL`.
    Url(String),
}

/// Adds a distribution point. A directory is created if missing; a remote DP is contacted only
/// when something is distributed.
pub fn add(site: &mut Site, name: &str, target: &DpTarget, bwlimit: Option<u32>) -> Result<Dp> {
    let location = match target {
        DpTarget::Path(p) => Location::Dir(p.clone()),
        DpTarget::Url(u) => Location::parse_url(u).map_err(|reason| Error::BadDp { reason })?,
    };
    let location = match location {
        Location::Dir(path) => {
            if bwlimit.is_some() {
                return Err(Error::BadDp {
                    reason: format!(
                        "{}: --bwlimit applies to rsync:// and ssh:// DPs (a directory DP is a local copy)",
                        path.display()
                    ),
                });
            }
            safe_fs::create_dir_all(&path)
                .map_err(Error::io(&path, "cannot create the distribution point directory"))?;
            let path = std::fs::canonicalize(&path)
                .map_err(Error::io(&path, "cannot open the distribution point directory"))?;
            Location::Dir(path)
        }
        remote => remote,
    };
    if let Some(existing) = find(site, name)? {
        return Err(Error::DpExists { name: name.into(), path: existing.path });
    }
    let t = now();
    let path_text = location.path().to_string_lossy().into_owned();
    let url = location.url();
    let id = site.db.tx(|tx| store::dps::insert(tx, name, &path_text, &url, bwlimit, t))?;
    tracing::info!(dp = name, url = %url, "distribution point added");
    Ok(Dp {
        id,
        name: name.into(),
        url,
        transport: location.transport(),
        path: location.path(),
        bwlimit,
        added: format_utc(t),
        location,
    })
}

/// The DP named `name`.
pub fn find(site: &Site, name: &str) -> Result<Option<Dp>> {
    store::dps::find(&site.db, name).map_err(site.db.err())
}

/// Every DP.
pub fn all(site: &Site) -> Result<Vec<Dp>> {
    store::dps::all(&site.db).map_err(site.db.err())
}

/// Where directory DP `dp` keeps image `image`.
pub fn dp_file(dp: &Path, image: i64) -> PathBuf {
    dp.join(format!("image-{image}")).join(DP_FILE)
}

/// Every DP's status for one image.
pub fn image_status(site: &Site, image: i64) -> Result<Vec<DpImageStatus>> {
    store::dps::image_status(&site.db, image).map_err(site.db.err())
}

/// Every DP with its per-image status.
pub fn list(site: &Site) -> Result<Vec<DpRow>> {
    let dps = all(site)?;
    let mut out = Vec::new();
    for dp in dps {
        let images = store::dps::dp_status(&site.db, dp.id).map_err(site.db.err())?;
        out.push(DpRow { dp, images });
    }
    Ok(out)
}

/// Marks a distribution as started, unless another live process is distributing the same image to
/// the same DP (its holder is recorded in the row): the row is the lock for remote DPs.
fn start(site: &mut Site, dp: i64, image: i64, version: i64, holder: &str) -> Result<Result<(), String>> {
    let t = now();
    site.db.tx(|tx| {
        if let Some((DpStatus::InProgress, Some(h))) = store::dps::distribution(tx, dp, image)? {
            if h != holder && !super::runner::holder_dead(&h) {
                return Ok(Err(format!("another distribution of this image to this DP is in progress ({h})")));
            }
        }
        store::dps::start(tx, dp, image, version, holder, t)?;
        Ok(Ok(()))
    })
}

/// Records how a distribution ended.
fn finish(site: &mut Site, dp: i64, image: i64, u: &Finished) -> Result<()> {
    let t = now();
    site.db.tx(|tx| store::dps::finish(tx, dp, image, u, t))
}

impl Finished {
    fn failed(message: String, image_bytes: u64) -> Finished {
        Finished {
            status: DpStatus::Failed,
            holds: None,
            method: None,
            bytes_sent: None,
            bytes_received: None,
            image_bytes: Some(image_bytes),
            verification: None,
            message: Some(message),
        }
    }
}

/// Sends the image's current content version to every DP. One DP failing does not stop the others.
pub fn distribute(site: &mut Site, image: i64, control: Control<'_>) -> Result<DistributeReport> {
    distribute_with(site, image, control, &NoProgress)
}

/// [`distribute`], reporting each DP's transfer to `progress`.
pub fn distribute_with(
    site: &mut Site,
    image: i64,
    control: Control<'_>,
    progress: &dyn SiteProgress,
) -> Result<DistributeReport> {
    let img = images::get(site, image)?;
    let mut report = DistributeReport {
        image_id: image,
        content_version: img.content_version,
        sha256: img.sha256.clone(),
        size: img.size,
        dps: Vec::new(),
    };
    for dp in all(site)? {
        progress.site_event(&SiteEvent::DpStarted { dp: &dp.name, image, total: img.size });
        let outcome = distribute_one(site, &dp, &img, control, progress);
        progress.site_event(&SiteEvent::DpEnded { dp: &dp.name, status: outcome.status });
        report.dps.push(outcome);
    }
    Ok(report)
}

fn distribute_one(
    site: &mut Site,
    dp: &Dp,
    img: &images::ImageRow,
    control: Control<'_>,
    progress: &dyn SiteProgress,
) -> DpOutcome {
    let mut outcome = DpOutcome {
        dp: dp.name.clone(),
        path: dp.location.image_file(img.id),
        status: DpStatus::Failed,
        method: None,
        bytes_sent: 0,
        bytes_received: 0,
        image_bytes: img.size,
        percent_sent: 0.0,
        verification: None,
        message: None,
    };
    let holder = super::runner::holder_id();
    let result = match start(site, dp.id, img.id, img.content_version, &holder) {
        Ok(Ok(())) => send(dp, img, control, progress),
        Ok(Err(busy)) => {
            outcome.message = Some(busy);
            return outcome;
        }
        Err(e) => Err(e),
    };
    let record = match result {
        Ok(sent) => {
            outcome.status = DpStatus::Success;
            outcome.method = Some(sent.method);
            outcome.bytes_sent = sent.bytes_sent;
            outcome.bytes_received = sent.bytes_received;
            outcome.verification = Some(sent.verification.into());
            outcome.percent_sent = if img.size == 0 { 0.0 } else { sent.bytes_sent as f64 * 100.0 / img.size as f64 };
            tracing::info!(dp = %dp.name, image = img.id, version = img.content_version, method = %sent.method,
                bytes_sent = sent.bytes_sent, image_bytes = img.size, "distribution point updated");
            Finished {
                status: DpStatus::Success,
                holds: Some((img.content_version, img.sha256.clone(), img.size)),
                method: Some(sent.method),
                bytes_sent: Some(sent.bytes_sent),
                bytes_received: Some(sent.bytes_received),
                image_bytes: Some(img.size),
                verification: Some(sent.verification.into()),
                message: None,
            }
        }
        Err(e) => {
            tracing::warn!(dp = %dp.name, image = img.id, error = %e, "distribution failed; the DP keeps its previous version");
            outcome.message = Some(e.to_string());
            Finished::failed(e.to_string(), img.size)
        }
    };
    if let Err(e) = finish(site, dp.id, img.id, &record) {
        outcome.status = DpStatus::Failed;
        outcome.message = Some(e.to_string());
    }
    outcome
}

struct Sent {
    method: DpMethod,
    bytes_sent: u64,
    bytes_received: u64,
    verification: &'static str,
}

fn send(dp: &Dp, img: &images::ImageRow, control: Control<'_>, progress: &dyn SiteProgress) -> Result<Sent> {
    match &dp.location {
        Location::Dir(root) => copy_to_dir(&dp_file(root, img.id), img, &mut |done| {
            progress.site_event(&SiteEvent::DpBytes { dp: &dp.name, done, total: img.size });
        }),
        remote => {
            let t = super::rsync::send(&img.path, remote, img.id, &img.sha256, dp.bwlimit, control)?;
            progress.site_event(&SiteEvent::DpBytes { dp: &dp.name, done: img.size, total: img.size });
            Ok(Sent {
                method: DpMethod::Rsync,
                bytes_sent: t.bytes_sent,
                bytes_received: t.bytes_received,
                verification: t.verification,
            })
        }
    }
}

/// Puts the image's file at `dest` on a directory DP: unchanged when it is there already, else a
/// whole copy under a temporary name, SHA-256 checked, renamed over the old one. (A delta buys
/// nothing here: over a mounted share, reading the old file costs as much network as writing it.)
fn copy_to_dir(dest: &Path, img: &images::ImageRow, written: &mut dyn FnMut(u64)) -> Result<Sent> {
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
    const VERIFIED: &str = "sha256";
    if dest.is_file() {
        let meta = std::fs::metadata(dest).map_err(Error::io(dest, "cannot read metadata"))?;
        if meta.len() == img.size && super::content::sha256_file(dest)?.0 == img.sha256 {
            return Ok(Sent { method: DpMethod::Unchanged, bytes_sent: 0, bytes_received: 0, verification: VERIFIED });
        }
    }
    let tmp = temp_in(&dir, "install.wim.new");
    let result = (|| -> Result<Sent> {
        let (sha, size) = copy_hashed_with(&img.path, &tmp, written)?;
        check(&tmp, &img.sha256, &sha, "copy")?;
        switch(&tmp, dest)?;
        Ok(Sent { method: DpMethod::Copy, bytes_sent: size, bytes_received: 0, verification: VERIFIED })
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

/// Marks DP rows left In Progress by a killed distribution as Failed (the DP's file is untouched:
/// the switch is a rename). A directory DP's lock proves nobody distributes there now; for a remote
/// DP the row's holder must be gone. Called by the runner's recovery.
pub(crate) fn recover(site: &mut Site) -> Result<usize> {
    let stuck: Vec<Dp> = all(site)?;
    let rows = store::dps::in_progress(&site.db).map_err(site.db.err())?;
    let mut n = 0;
    for (dp_id, image, holder) in rows {
        let Some(dp) = stuck.iter().find(|d| d.id == dp_id) else { continue };
        let _lock = match &dp.location {
            Location::Dir(root) => {
                let file = dp_file(root, image);
                // A planted link is not locked through.
                if refuse_link(&file).is_err() || file.parent().is_some_and(|d| refuse_link(d).is_err()) {
                    continue;
                }
                let Ok(lock) = WimLock::acquire(&file, LockWait::NoWait) else { continue };
                if let Some(dir) = file.parent() {
                    sweep_temps(dir);
                }
                Some(lock)
            }
            _ => {
                if holder.as_deref().is_some_and(|h| !super::runner::holder_dead(h)) {
                    continue;
                }
                None
            }
        };
        let message = "the distribution was interrupted; the DP kept its previous version".to_owned();
        let image_bytes = store::images::size(&site.db, image).map_err(site.db.err())?;
        finish(site, dp_id, image, &Finished::failed(message, image_bytes.unwrap_or(0)))?;
        n += 1;
    }
    Ok(n)
}
