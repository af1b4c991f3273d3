//! OS images in the site: import (whole WIM, or one index with `--single-index`), their editions,
//! architecture and build, the updates installed in them (read from the image's own CBS state), and
//! the catalog updates applicable to them and not yet applied.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::catalog::{self, Update};
use super::content::{copy_hashed, sha256_file, sync_dir};
use super::error::{Error, Result};
use super::jobs::{self, ScheduleView};
use super::schedule::Status;
use super::store::{self, now, Db};
use super::{dp, Site};
use crate::apply::{self, AddOptions, GetOptions, Outcome, Target};
use crate::progress::Control;
use crate::wim::{ImageRef, LockWait};

/// What to import.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    /// The WIM to copy in.
    pub wim: PathBuf,
    /// The index to keep (with `single_index`; default 1).
    pub index: Option<ImageRef>,
    /// Keep only that index (ConfigMgr 1902+: smaller image, faster servicing).
    pub single_index: bool,
}

/// One image, with ConfigMgr's columns.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImageRow {
    /// Image ID.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Version (the OS version of the first index: major.minor.build.spbuild).
    pub version: Option<String>,
    /// Architecture (`x64` …).
    pub arch: Option<String>,
    /// Scheduled Updates Date: when the latest servicing run is or was due (UTC).
    pub scheduled_updates_date: Option<String>,
    /// Scheduled Updates Status of the latest run.
    pub scheduled_updates_status: Option<Status>,
    /// Content version (1 at import, +1 per committed servicing run).
    pub content_version: i64,
    /// Size of the WIM in bytes.
    pub size: u64,
    /// The WIM of the current content version.
    #[serde(rename = "wim")]
    pub path: PathBuf,
    /// Its SHA-256.
    pub sha256: String,
    /// Number of indexes.
    pub indexes: u32,
    /// Imported from.
    #[serde(rename = "imported_from")]
    pub source_path: String,
    /// Imported (UTC).
    pub imported: String,
}

/// One index of an image.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Edition {
    /// 1-based index.
    pub index: u32,
    /// Image name.
    pub name: Option<String>,
    /// EditionID.
    pub edition_id: Option<String>,
    /// Architecture (`x64` …).
    pub arch: Option<String>,
    /// Build.
    pub build: Option<u32>,
    /// OS version.
    pub os_version: Option<String>,
}

/// One installed update (Installed Updates tab).
#[derive(Debug, Clone, serde::Serialize)]
pub struct InstalledUpdate {
    /// Index it is installed in.
    pub index: u32,
    /// KB article.
    pub kb: Option<String>,
    /// Package identity.
    pub identity: String,
    /// CBS state (`Installed`, `Superseded` …).
    #[serde(serialize_with = "cbs::json_word::snake_case")]
    pub state: String,
    /// Release type.
    pub release_type: Option<String>,
    /// Install time (UTC).
    pub install_time: Option<String>,
    /// The servicing run that installed it (none: present at import).
    pub job: Option<i64>,
}

/// A stored content version.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Version {
    /// The version number.
    pub version: i64,
    /// Its WIM.
    #[serde(rename = "wim")]
    pub path: PathBuf,
    /// SHA-256.
    pub sha256: String,
    /// Size.
    pub size: u64,
    /// When it was made (UTC).
    pub created: String,
    /// The run that made it (none: the import).
    pub job: Option<i64>,
}

/// Everything `site image show` prints.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImageDetail {
    /// The row.
    #[serde(flatten)]
    pub image: ImageRow,
    /// Indexes.
    pub editions: Vec<Edition>,
    /// Installed Updates.
    pub installed_updates: Vec<InstalledUpdate>,
    /// The current servicing schedule and its latest run (Servicing tab).
    pub schedule: Option<ScheduleView>,
    /// Content versions kept on disk.
    pub versions: Vec<Version>,
    /// Where each distribution point stands.
    pub distribution: Vec<dp::DpImageStatus>,
}

fn fill(site: &Site, mut img: ImageRow) -> Result<ImageRow> {
    let db = &site.db;
    img.path = site.resolve(&img.path.to_string_lossy());
    img.indexes = store::images::edition_count(db, img.id).map_err(db.err())?;
    if let Some(job) = jobs::latest_job(db, img.id)? {
        img.scheduled_updates_date = Some(job.run_at.clone());
        img.scheduled_updates_status = Some(job.status);
    }
    Ok(img)
}

/// Every image.
pub fn list(site: &Site) -> Result<Vec<ImageRow>> {
    let rows = store::images::list(&site.db).map_err(site.db.err())?;
    rows.into_iter().map(|r| fill(site, r)).collect()
}

/// One image's row.
pub fn get(site: &Site, id: i64) -> Result<ImageRow> {
    let found = store::images::get(&site.db, id).map_err(site.db.err())?;
    fill(site, found.ok_or(Error::NoSuchImage { id })?)
}

/// Everything about one image.
pub fn show(site: &Site, id: i64) -> Result<ImageDetail> {
    let image = get(site, id)?;
    let db = &site.db;
    let editions = store::images::editions(db, id).map_err(db.err())?;
    let installed_updates = installed(db, id)?;
    let mut versions = store::images::versions(db, id).map_err(db.err())?;
    for v in &mut versions {
        v.path = site.resolve(&v.path.to_string_lossy());
    }
    Ok(ImageDetail {
        image,
        editions,
        installed_updates,
        schedule: jobs::current_schedule(db, id)?,
        versions,
        distribution: dp::image_status(site, id)?,
    })
}

/// The Installed Updates list: the image's packages that name a KB article (base and feature
/// packages are not updates), as read from the image.
pub fn installed(db: &Db, id: i64) -> Result<Vec<InstalledUpdate>> {
    store::images::installed_updates(db, id).map_err(db.err())
}

/// The facts read from a WIM for the database.
pub(crate) struct WimFacts {
    pub editions: Vec<Edition>,
    pub installed: Vec<(u32, apply::PackageRow)>,
    pub sha256: String,
    pub size: u64,
}

fn os_version(info: &crate::wim::ImageInfo) -> Option<String> {
    Some(format!("{}.{}.{}.{}", info.major?, info.minor?, info.build?, info.spbuild.unwrap_or(0)))
}

/// Reads the editions and the installed updates of every index of `wim` (and hashes it unless the
/// hash is known).
pub(crate) fn read_facts(
    site: &Site,
    wim: &Path,
    known: Option<(String, u64)>,
    control: Control<'_>,
) -> Result<WimFacts> {
    let info = crate::ops::info(wim)?;
    let editions: Vec<Edition> = info
        .images
        .iter()
        .map(|i| Edition {
            index: i.index,
            name: i.name.clone(),
            edition_id: i.edition_id.clone(),
            arch: i.arch.map(|a| catalog::display_arch(a.name())),
            build: i.build,
            os_version: os_version(i),
        })
        .collect();
    let mut installed = Vec::new();
    for e in &editions {
        let target = Target::Image { wim: wim.to_path_buf(), image: ImageRef::Index(e.index) };
        let opts = GetOptions { all: false, scratch_dir: Some(site.scratch_dir()), components: false };
        for row in apply::get_packages(&target, &opts, control)? {
            installed.push((e.index, row));
        }
    }
    let (sha256, size) = match known {
        Some(k) => k,
        None => sha256_file(wim)?,
    };
    Ok(WimFacts { editions, installed, sha256, size })
}

/// A fresh folder name for an image's files: unique without needing the database ID, so the files
/// can be complete before the row that points at them is committed.
fn new_key() -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    format!("img-{}-{}-{}", now(), std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed))
}

/// Copies a WIM into the site (keeping one index with `single_index`), reads what it holds, and
/// records it as content version 1.
pub fn import(site: &mut Site, req: &ImportRequest, control: Control<'_>) -> Result<ImageDetail> {
    let source = std::fs::canonicalize(&req.wim).map_err(Error::io(&req.wim, "cannot open the WIM"))?;
    let key = new_key();
    let rel = format!("images/{key}/v1/install.wim");
    let dest = site.resolve(&rel);
    let dir = dest.parent().expect("has a parent").to_path_buf();
    safe_fs::create_dir_all(&dir).map_err(Error::io(&dir, "cannot create the image folder"))?;
    let result = (|| {
        let known = if req.single_index {
            let keep = req.index.clone().unwrap_or(ImageRef::Index(1));
            crate::ops::reduce(&source, &keep, Some(&dest), false, LockWait::NoWait, control)?;
            None
        } else {
            // The whole file, byte for byte (ConfigMgr copies the WIM into its package source too).
            Some(copy_hashed(&source, &dest)?)
        };
        sync_dir(&dir);
        read_facts(site, &dest, known, control)
    })();
    let facts = match result {
        Ok(f) => f,
        Err(e) => {
            let _ = std::fs::remove_dir_all(site.resolve(&format!("images/{key}")));
            return Err(e);
        }
    };
    let first = facts.editions.first();
    let name = if facts.editions.len() == 1 {
        first.and_then(|e| e.name.clone())
    } else {
        source.file_stem().map(|s| s.to_string_lossy().into_owned())
    }
    .unwrap_or_else(|| "Windows image".into());
    let t = now();
    let index_text = req.index.as_ref().map(|i| match i {
        ImageRef::Index(n) => n.to_string(),
        ImageRef::Name(n) => n.clone(),
    });
    let source_text = source.to_string_lossy();
    let new = store::images::NewImage {
        name: &name,
        source_path: &source_text,
        source_index: index_text.as_deref(),
        single_index: req.single_index,
        os_version: first.and_then(|e| e.os_version.as_deref()),
        arch: first.and_then(|e| e.arch.as_deref()),
        path: &rel,
        sha256: &facts.sha256,
        size: facts.size,
    };
    let id = site.db.tx(|tx| {
        let id = store::images::insert(tx, &new, t)?;
        store::images::record_facts(tx, id, &facts, None)?;
        store::images::record_content_version(tx, id, 1, &facts, t, None)?;
        Ok(id)
    })?;
    tracing::info!(image = id, source = %source.display(), single_index = req.single_index, "image imported");
    show(site, id)
}

/// `--arch` of `site updates`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchFilter {
    /// x86 updates.
    X86,
    /// x64 updates.
    X64,
    /// Every update, including those whose architecture is unknown.
    All,
}

impl std::str::FromStr for ArchFilter {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "x86" => Ok(ArchFilter::X86),
            "x64" | "amd64" => Ok(ArchFilter::X64),
            "all" => Ok(ArchFilter::All),
            other => Err(format!("unknown architecture filter {other:?} (x86, x64, all)")),
        }
    }
}

impl ArchFilter {
    /// Whether an update passes.
    pub fn admits(self, u: &Update) -> bool {
        match self {
            ArchFilter::All => true,
            ArchFilter::X86 => u.arch.as_deref() == Some("x86"),
            ArchFilter::X64 => u.arch.as_deref() == Some("x64"),
        }
    }
}

/// A catalog update applicable to an image and not yet applied.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Applicable {
    /// The catalog entry.
    #[serde(flatten)]
    pub update: Update,
    /// A newer applicable catalog entry of the same package supersedes it (servicing skips it when
    /// both are selected).
    pub superseded: bool,
    /// What servicing will do with it, when not simply apply it.
    pub note: Option<String>,
}

fn rank(o: Outcome) -> u8 {
    match o {
        Outcome::WouldInstall | Outcome::Installed => 5,
        Outcome::Superseded => 4,
        Outcome::AlreadyInstalled => 3,
        Outcome::NotApplicable => 2,
        Outcome::NotSupported => 1,
        Outcome::Failed => 0,
    }
}

/// The update ID a staged input path stands for (`<dir>/<id>/<file>[!inner]`).
pub(crate) fn update_id_of(input: &str, stage_dir: &Path) -> Option<i64> {
    let rest = input.strip_prefix(stage_dir.to_str()?)?.trim_start_matches('/');
    rest.split('/').next()?.parse().ok()
}

/// A unique scratch folder of the site.
pub(crate) fn scratch_folder(site: &Site, what: &str) -> Result<PathBuf> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let dir = site.scratch_dir().join(format!("{what}-{}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed)));
    safe_fs::create_dir_all(&dir).map_err(Error::io(&dir, "cannot create a scratch folder"))?;
    Ok(dir)
}

/// What the engine's dry run says one catalog entry would do to an image.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "verdict", content = "reason")]
pub enum Verdict {
    /// It would install.
    Applies,
    /// A newer applicable entry of the same package, selected with it, replaces it (skipped).
    SupersededInRun,
    /// It or a newer version is installed already (skipped).
    AlreadyInstalled,
    /// Not a CBS package: servicing logs it as not supported.
    NotSupported(String),
    /// It cannot apply to this image (wrong product, architecture, missing parent …).
    NotApplicable(String),
    /// The file cannot be read (truncated, damaged).
    Unreadable(String),
    /// Its content-library blob fails verification (corrupt, missing, replaced): the site's copy is
    /// at fault, not the update; a run fails it naming the blob until `catalog sync --verify`
    /// repairs it.
    BlobFailed(String),
}

impl Verdict {
    /// Whether a run would have to fail or skip it for a reason the admin must look at: it cannot
    /// apply to the image at all (schedule refuses it unless forced).
    pub fn cannot_apply(&self) -> bool {
        matches!(self, Verdict::NotApplicable(_) | Verdict::Unreadable(_))
    }

    /// In words, for messages.
    pub fn describe(&self) -> String {
        match self {
            Verdict::Applies => "applies".into(),
            Verdict::SupersededInRun => "superseded by a newer selected update".into(),
            Verdict::AlreadyInstalled => "already installed".into(),
            Verdict::NotSupported(r) => format!("not supported: {r}"),
            Verdict::NotApplicable(r) => format!("not applicable: {r}"),
            Verdict::Unreadable(r) => format!("unreadable: {r}"),
            Verdict::BlobFailed(r) => format!("content library blob failed verification: {r}"),
        }
    }
}

/// One catalog entry judged against an image.
#[derive(Debug, Clone)]
pub struct Assessment {
    /// The entry.
    pub update: Update,
    /// What the dry run says.
    pub verdict: Verdict,
}

/// The catalog updates applicable to image `id` and not yet applied, decided by the engine in a dry
/// run over every index (as the Schedule Updates wizard lists them). Binaries that are not CBS
/// packages are listed too, as ConfigMgr lists them, with a note: servicing will log them as not
/// supported. A binary whose content-library blob fails verification is listed with that reason.
pub fn applicable(site: &Site, id: i64, control: Control<'_>) -> Result<Vec<Applicable>> {
    let candidates: Vec<Update> = catalog::list(&site.db)?.into_iter().filter(|u| u.kind != "unreadable").collect();
    let judged = assess(site, id, &candidates, control)?;
    let mut out = Vec::new();
    for a in judged {
        let note = match &a.verdict {
            Verdict::Applies | Verdict::SupersededInRun => None,
            Verdict::NotSupported(why) => {
                Some(format!("not a CBS package ({why}): servicing will log \"{}\"", apply::NOT_SUPPORTED_MESSAGE))
            }
            // A corrupt blob is listed with its reason, so the admin sees it before a run fails.
            Verdict::Unreadable(why) | Verdict::BlobFailed(why) => Some(why.clone()),
            Verdict::AlreadyInstalled | Verdict::NotApplicable(_) => continue,
        };
        let superseded = a.update.superseded_by.is_some();
        out.push(Applicable { update: a.update, superseded, note });
    }
    Ok(out)
}

/// Judges `candidates` against image `id` with the engine's dry run over every index: what a run
/// selecting all of them would do with each.
pub fn assess(site: &Site, id: i64, candidates: &[Update], control: Control<'_>) -> Result<Vec<Assessment>> {
    let image = get(site, id)?;
    let stage = scratch_folder(site, "applicability")?;
    let result = evaluate(site, &image, candidates, &stage, control);
    let _ = std::fs::remove_dir_all(&stage);
    result
}

fn evaluate(
    site: &Site,
    image: &ImageRow,
    candidates: &[Update],
    stage: &Path,
    control: Control<'_>,
) -> Result<Vec<Assessment>> {
    let library = site.content();
    let mut early: HashMap<i64, Verdict> = HashMap::new();
    let mut files = Vec::new();
    for u in candidates {
        if u.kind == "unreadable" {
            let why = u.problem.clone().unwrap_or_else(|| "the file cannot be read".into());
            early.insert(u.id, Verdict::Unreadable(why));
            continue;
        }
        if !u.supported {
            early.insert(u.id, Verdict::NotSupported(u.problem.clone().unwrap_or_else(|| "unsupported".into())));
            continue;
        }
        let dest = stage.join(u.id.to_string()).join(&u.file_name);
        match library.link_verified(&u.sha256, &dest) {
            Ok(()) => files.push(dest),
            Err(e) => {
                early.insert(u.id, Verdict::BlobFailed(e.to_string()));
            }
        }
    }
    let mut best: HashMap<i64, (Outcome, Option<String>)> = HashMap::new();
    if !files.is_empty() {
        for index in 1..=image.indexes.max(1) {
            let opts = AddOptions {
                continue_on_error: true,
                dry_run: true,
                scratch_dir: Some(site.scratch_dir()),
                log_dir: Some(stage.join("logs")),
                ..AddOptions::default()
            };
            let target = Target::Image { wim: image.path.clone(), image: ImageRef::Index(index) };
            let report = apply::add_packages(&target, &files, &opts, control)?;
            for p in &report.packages {
                if let Some(uid) = update_id_of(&p.input, stage) {
                    let slot = best.entry(uid).or_insert((p.outcome, p.reason.clone()));
                    if rank(p.outcome) > rank(slot.0) {
                        *slot = (p.outcome, p.reason.clone());
                    }
                }
            }
        }
    }
    let would: Vec<i64> = best.iter().filter(|(_, o)| o.0 == Outcome::WouldInstall).map(|(id, _)| *id).collect();
    let by_id: HashMap<i64, &Update> = candidates.iter().map(|u| (u.id, u)).collect();
    // Superseded within the run: applicable when a newer catalog entry of the family applies.
    let superseded_by_applicable = |u: &Update| {
        let mut next = u.superseded_by;
        let mut hops = 0;
        while let Some(n) = next {
            if would.contains(&n) {
                return true;
            }
            next = by_id.get(&n).and_then(|x| x.superseded_by);
            hops += 1;
            if hops > 64 {
                break;
            }
        }
        false
    };
    // The engine judges a package superseded by another of the same run before it looks at the
    // image; the image's own packages tell whether it was needed at all (same or newer installed).
    let installed: Vec<cbs::PackageIdentity> = store::images::installed_identities(&site.db, image.id)
        .map_err(site.db.err())?
        .iter()
        .filter_map(|i| i.parse().ok())
        .collect();
    let covered = |u: &Update| {
        let Some(id) = u.identity.as_deref().and_then(|i| i.parse::<cbs::PackageIdentity>().ok()) else { return false };
        installed.iter().any(|p| cbs::rules::family(p) == cbs::rules::family(&id) && p.version >= id.version)
    };
    let mut out = Vec::new();
    for u in candidates {
        let verdict = if let Some(v) = early.get(&u.id) {
            v.clone()
        } else {
            let (outcome, reason) = best.get(&u.id).cloned().unwrap_or((Outcome::Failed, None));
            let reason = reason.unwrap_or_else(|| outcome.label().to_owned());
            match outcome {
                Outcome::WouldInstall | Outcome::Installed => Verdict::Applies,
                Outcome::Superseded if superseded_by_applicable(u) && !covered(u) => Verdict::SupersededInRun,
                Outcome::Superseded | Outcome::AlreadyInstalled => Verdict::AlreadyInstalled,
                Outcome::NotApplicable => Verdict::NotApplicable(reason),
                Outcome::NotSupported => Verdict::NotSupported(reason),
                Outcome::Failed => Verdict::Unreadable(reason),
            }
        };
        out.push(Assessment { update: u.clone(), verdict });
    }
    Ok(out)
}
