//! The catalog: `site catalog sync --from <DIR>` scans a folder tree of update binaries and records
//! each one's metadata (KB, title, release type and classification, architecture, the product and
//! build it targets, size, content hash, and supersedence among catalog entries). Re-sync is
//! incremental: a file whose size and modification time are unchanged is not read again.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::content::ContentLibrary;
use super::error::{Error, Result};
use super::store::catalog::SourceEntry;
use super::store::{self, now, Db, SqlResult, Tx};
use super::Site;
use cbs::container::{detect_path, ContainerKind, Limits, Msu};
use cbs::package::{inspect_path_with, PackageReport};
use cbs::PackageIdentity;

/// One catalog entry.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Update {
    /// Catalog ID.
    pub id: i64,
    /// KB article (`KB5000001`), when the binary names one.
    pub kb: Option<String>,
    /// Title, ConfigMgr-style.
    pub title: String,
    /// The package's own description.
    pub description: Option<String>,
    /// `releaseType` (`Security Update`, `Update` …).
    pub release_type: Option<String>,
    /// ConfigMgr classification (`Security Updates`, `Updates` …).
    pub classification: Option<String>,
    /// Architecture as ConfigMgr shows it (`x64`, `x86`, `arm64`), when known.
    pub arch: Option<String>,
    /// Product it targets (`Windows 10.0`).
    pub product: Option<String>,
    /// Build it targets (`19041`).
    pub build: Option<String>,
    /// CBS package identity (the main package).
    pub identity: Option<String>,
    /// `cbs` (a cab), `msu`, `combined-msu`, `wim-msu`, `unsupported`, `unreadable`.
    #[serde(serialize_with = "cbs::json_word::snake_case")]
    pub kind: String,
    /// Whether offline servicing can apply it (a CBS package).
    pub supported: bool,
    /// Why not (unsupported or unreadable).
    pub problem: Option<String>,
    /// File name.
    pub file_name: String,
    /// Path below the sync source.
    pub rel_path: String,
    /// The sync source folder.
    #[serde(rename = "sync_dir")]
    pub source: String,
    /// Size in bytes.
    pub size: u64,
    /// Content hash (the content-library blob).
    pub sha256: String,
    /// The catalog entry that supersedes this one.
    pub superseded_by: Option<i64>,
    /// When it entered the catalog (Unix seconds).
    pub added: i64,
}

/// What a sync did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SyncReport {
    /// The folder scanned.
    #[serde(rename = "dir")]
    pub source: PathBuf,
    /// Files seen.
    pub scanned: usize,
    /// New catalog entries.
    pub added: Vec<String>,
    /// Entries whose file changed (re-read).
    pub changed: Vec<String>,
    /// Entries whose file is gone (expired).
    pub removed: Vec<String>,
    /// Files skipped because size and time were unchanged.
    pub unchanged: usize,
    /// Blobs newly stored in the content library (the rest were already there: single instance).
    pub new_blobs: usize,
    /// Live entries of this source that cannot be read (a truncated or damaged file): they stay in
    /// the catalog, shown as unreadable, and are never offered for servicing.
    pub unreadable: Vec<FileProblem>,
    /// With `--verify`: blobs re-hashed.
    pub verified: usize,
    /// With `--verify`: corrupt or missing blobs re-imported from the source.
    pub repaired: Vec<String>,
    /// With `--verify`: corrupt blobs whose source file no longer has their bytes (left as they are:
    /// the update's runs fail on them until the source holds the file again).
    pub unrepairable: Vec<FileProblem>,
}

/// A file of a sync source and what is wrong with it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileProblem {
    /// Path below the sync source.
    pub file: String,
    /// Why.
    pub reason: String,
}

impl Update {
    /// What servicing can do with the entry, for listings: `None` for a package it can apply (the
    /// dry run decides per image), else `unreadable: <reason>` or `not supported: <reason>`.
    pub fn problem_note(&self) -> Option<String> {
        let reason = self.problem.as_deref().unwrap_or("no reason recorded");
        if self.kind == "unreadable" {
            Some(format!("unreadable: {reason}"))
        } else if !self.supported {
            Some(format!("not supported: {reason}"))
        } else {
            None
        }
    }

    /// The entry's type in words: `cab`, `msu`, `combined msu`, `wim msu`, `not a CBS package`,
    /// `unreadable`.
    pub fn kind_label(&self) -> &str {
        match self.kind.as_str() {
            "cbs" => "cab",
            "msu" => "msu",
            "combined-msu" => "combined msu",
            "wim-msu" => "wim msu",
            "unsupported" => "not a CBS package",
            other => other,
        }
    }
}

/// Every live (not expired) catalog entry, by ID.
pub fn list(db: &Db) -> Result<Vec<Update>> {
    store::catalog::list(db).map_err(db.err())
}

/// One entry by ID (expired ones included: jobs refer to them).
pub fn get(db: &Db, id: i64) -> Result<Option<Update>> {
    store::catalog::get(db, id).map_err(db.err())
}

/// Metadata read from one binary.
#[derive(Debug, Default)]
pub(crate) struct Meta {
    pub kind: String,
    pub supported: bool,
    pub problem: Option<String>,
    pub kb: Option<String>,
    pub title: String,
    pub description: Option<String>,
    pub release_type: Option<String>,
    pub classification: Option<String>,
    pub arch: Option<String>,
    pub product: Option<String>,
    pub build: Option<String>,
    pub identity: Option<String>,
}

/// ConfigMgr's architecture words.
pub fn display_arch(cbs_arch: &str) -> String {
    match cbs_arch.to_ascii_lowercase().as_str() {
        "amd64" | "x64" => "x64".into(),
        "x86" => "x86".into(),
        "arm64" => "arm64".into(),
        other => other.into(),
    }
}

/// The architecture a file name states (`…-x64.cab`, `…_amd64.msu`), for binaries that say nothing
/// about it themselves.
fn arch_from_name(name: &str) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    let tokens: Vec<&str> = lower.split(|c: char| !c.is_ascii_alphanumeric()).collect();
    ["x64", "amd64", "x86", "arm64"].iter().find(|a| tokens.contains(a)).map(|a| display_arch(a))
}

fn classification(release_type: &str) -> String {
    match release_type.to_ascii_lowercase().as_str() {
        "security update" => "Security Updates",
        "critical update" => "Critical Updates",
        "update" | "hotfix" => "Updates",
        "update rollup" => "Update Rollups",
        "feature pack" | "feature on demand" | "ondemand pack" => "Feature Packs",
        "service pack" => "Service Packs",
        "language pack" => "Language Packs",
        _ => return release_type.to_owned(),
    }
    .into()
}

/// The product and build a package targets, from the first parent it names
/// (`Microsoft-Windows-Foundation-Package~…~10.0.19041.1` → `Windows 10.0`, `19041`).
fn target_of(report: &PackageReport) -> (Option<String>, Option<String>) {
    let first = report.parents.iter().flat_map(|g| g.alternatives.iter()).next();
    let Some(id) = first.and_then(|a| a.parse::<PackageIdentity>().ok()) else { return (None, None) };
    let v = id.version.to_string();
    let parts: Vec<&str> = v.split('.').collect();
    if parts.len() < 3 {
        return (None, None);
    }
    (Some(format!("Windows {}.{}", parts[0], parts[1])), Some(parts[2].to_owned()))
}

fn read_meta(path: &Path, file_name: &str, scratch: &Path) -> Meta {
    let limits = Limits::default();
    let kind = match detect_path(path, limits) {
        Ok(k) => k,
        Err(e) => {
            return Meta {
                kind: "unreadable".into(),
                problem: Some(e.to_string()),
                title: file_name.to_owned(),
                arch: arch_from_name(file_name),
                ..Meta::default()
            }
        }
    };
    let kind_name = match &kind {
        ContainerKind::CbsCab => "cbs",
        ContainerKind::Msu => "msu",
        ContainerKind::CombinedMsu => "combined-msu",
        ContainerKind::WimMsu => "wim-msu",
        ContainerKind::Unsupported(_) => "unsupported",
    };
    if let ContainerKind::Unsupported(reason) = kind {
        return Meta {
            kind: kind_name.into(),
            problem: Some(reason),
            title: file_name.to_owned(),
            arch: arch_from_name(file_name),
            ..Meta::default()
        };
    }
    // WIM-format MSUs (24H2+) are read through the engine's WIM layer, spooling under the site's
    // scratch folder.
    let opener = crate::wim::package_content_opener(Some(scratch.to_path_buf()));
    let report = match inspect_path_with(path, limits, Some(&opener)) {
        // A payload that failed to expand makes the package as unusable as an unreadable one.
        Ok(r) if r.first().is_some_and(PackageReport::any_failed) => {
            return Meta {
                kind: "unreadable".into(),
                problem: Some(first_failure(&r[0])),
                title: file_name.to_owned(),
                arch: arch_from_name(file_name),
                ..Meta::default()
            }
        }
        Ok(mut r) if !r.is_empty() => r.remove(0),
        Ok(_) => {
            return Meta {
                kind: "unreadable".into(),
                problem: Some("no package inside".into()),
                title: file_name.to_owned(),
                ..Meta::default()
            }
        }
        Err(e) => {
            return Meta {
                kind: "unreadable".into(),
                problem: Some(e.to_string()),
                title: file_name.to_owned(),
                arch: arch_from_name(file_name),
                ..Meta::default()
            }
        }
    };
    // An MSU's pkgProperties say what WSUS would: package type, product, architecture.
    let props = matches!(kind_name, "msu" | "combined-msu")
        .then(|| Msu::open(path, limits).ok().and_then(|m| m.properties().cloned()))
        .flatten();
    let release_type =
        report.release_type.clone().or_else(|| props.as_ref().and_then(|p| p.package_type().map(str::to_owned)));
    let arch = report
        .identity
        .as_ref()
        .and_then(|i| i.arch.clone())
        .or_else(|| props.as_ref().and_then(|p| p.processor_architecture().map(str::to_owned)))
        .map(|a| display_arch(&a))
        .or_else(|| arch_from_name(file_name));
    let (mut product, build) = target_of(&report);
    if let Some(p) = props.as_ref().and_then(|p| p.get("Product Name")) {
        product = Some(p.to_owned());
    }
    let kb = report.kb.clone();
    let title = format!(
        "{} for {}{}{}{}",
        release_type.as_deref().unwrap_or("Update"),
        product.as_deref().unwrap_or("Windows"),
        build.as_deref().map(|b| format!(" build {b}")).unwrap_or_default(),
        arch.as_deref().map(|a| format!(" for {a}-based Systems")).unwrap_or_default(),
        kb.as_deref().map(|k| format!(" ({k})")).unwrap_or_default(),
    );
    Meta {
        kind: kind_name.into(),
        supported: true,
        problem: None,
        kb,
        title,
        description: report.description.clone(),
        classification: release_type.as_deref().map(classification),
        release_type,
        arch,
        product,
        build,
        identity: report.identity_string.clone(),
    }
}

/// Every regular file below `root`, sorted, as (path, path relative to root with `/`).
fn walk(root: &Path) -> Result<Vec<(PathBuf, String)>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(Error::io(&dir, "cannot list the update folder"))? {
            let entry = entry.map_err(Error::io(&dir, "cannot list the update folder"))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            // Partial downloads and editor debris are not updates.
            if name.starts_with('.') {
                continue;
            }
            let ft = entry.file_type().map_err(Error::io(&path, "cannot read file type"))?;
            if ft.is_dir() {
                stack.push(path);
            } else if ft.is_file() {
                let rel = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().replace('\\', "/");
                out.push((path, rel));
            }
        }
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(out)
}

fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    use std::os::unix::fs::MetadataExt;
    meta.mtime() * 1_000_000_000 + meta.mtime_nsec()
}

/// Scans `from` and brings the catalog entries of that source up to date. With `verify`, every blob
/// of the source's entries is re-hashed, even for files whose size and time are unchanged, and a
/// corrupt or missing one is stored again from the source file.
pub fn sync(site: &mut Site, from: &Path, verify: bool) -> Result<SyncReport> {
    let source_dir = std::fs::canonicalize(from).map_err(Error::io(from, "cannot open the update folder"))?;
    let source = source_dir.to_string_lossy().into_owned();
    let files = walk(&source_dir)?;
    let existing: HashMap<String, SourceEntry> =
        store::catalog::source_entries(&site.db, &source).map_err(site.db.err())?.into_iter().collect();
    let library = ContentLibrary::new(&site.dir);
    let mut report = SyncReport { source: source_dir.clone(), scanned: files.len(), ..SyncReport::default() };
    // Read and store everything first; the database changes happen in one transaction at the end.
    enum Change {
        Insert { rel: String, name: String, size: u64, mtime: i64, sha: String, meta: Meta },
        Update { id: i64, size: u64, mtime: i64, sha: String, meta: Option<Meta>, revived: bool },
    }
    let mut changes = Vec::new();
    let mut blobs: Vec<(String, u64)> = Vec::new();
    let mut seen = HashSet::new();
    for (path, rel) in &files {
        seen.insert(rel.clone());
        let fs_meta = std::fs::metadata(path).map_err(Error::io(path, "cannot read file metadata"))?;
        let (size, mtime) = (fs_meta.len(), mtime_ns(&fs_meta));
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let mut repairing = false;
        if let Some(e) = existing.get(rel) {
            if !e.expired && e.size == size as i64 && e.mtime_ns == mtime && library.has(&e.sha256, size) {
                if !verify {
                    report.unchanged += 1;
                    continue;
                }
                report.verified += 1;
                match library.verify(&e.sha256) {
                    Ok(()) => {
                        report.unchanged += 1;
                        continue;
                    }
                    Err(err) => {
                        tracing::warn!(file = %rel, error = %err, "catalog verify: re-importing a corrupt blob");
                        repairing = true;
                    }
                }
            } else if verify && !e.expired && !library.has(&e.sha256, e.size as u64) {
                repairing = true;
            }
        }
        let stored = library.put(path)?;
        if repairing {
            match existing.get(rel) {
                Some(e) if e.sha256 == stored.sha256 => report.repaired.push(rel.clone()),
                Some(e) => report.unrepairable.push(FileProblem {
                    file: rel.clone(),
                    reason: format!(
                        "the source file now hashes to {}, not to the blob's {}: it is read as a changed file",
                        stored.sha256, e.sha256
                    ),
                }),
                None => {}
            }
        }
        if stored.new {
            report.new_blobs += 1;
        }
        blobs.push((stored.sha256.clone(), stored.size));
        match existing.get(rel) {
            None => {
                let meta = read_meta(path, &name, &site.scratch_dir());
                tracing::info!(file = %rel, kb = ?meta.kb, kind = %meta.kind, "catalog: added");
                report.added.push(rel.clone());
                changes.push(Change::Insert { rel: rel.clone(), name, size, mtime, sha: stored.sha256, meta });
            }
            Some(e) => {
                // Same bytes (touched, or a blob restored): only the bookkeeping changes.
                let same = e.sha256 == stored.sha256;
                let meta = (!same || e.expired).then(|| read_meta(path, &name, &site.scratch_dir()));
                if e.expired {
                    report.added.push(rel.clone());
                } else if !same {
                    tracing::info!(file = %rel, "catalog: changed");
                    report.changed.push(rel.clone());
                } else {
                    report.unchanged += 1;
                }
                changes.push(Change::Update { id: e.id, size, mtime, sha: stored.sha256, meta, revived: e.expired });
            }
        }
    }
    let removed: Vec<(i64, String)> = existing
        .iter()
        .filter(|(rel, e)| !e.expired && !seen.contains(*rel))
        .map(|(rel, e)| (e.id, rel.clone()))
        .collect();
    report.removed = removed.iter().map(|(_, r)| r.clone()).collect();
    report.removed.sort();
    let t = now();
    site.db.tx(|tx| {
        for (sha, size) in &blobs {
            store::catalog::add_content(tx, sha, *size, t)?;
        }
        for c in &changes {
            match c {
                Change::Insert { rel, name, size, mtime, sha, meta } => {
                    let entry = store::catalog::NewEntry {
                        source: &source,
                        rel_path: rel,
                        file_name: name,
                        size: *size,
                        mtime_ns: *mtime,
                        sha256: sha,
                        meta,
                    };
                    store::catalog::insert(tx, &entry, t)?;
                }
                Change::Update { id, size, mtime, sha, meta, revived } => {
                    store::catalog::set_file(tx, *id, *size, *mtime, sha)?;
                    if let Some(meta) = meta {
                        store::catalog::set_meta(tx, *id, meta, t)?;
                    }
                    if *revived {
                        store::catalog::set_added(tx, *id, t)?;
                    }
                }
            }
        }
        for (id, _) in &removed {
            store::catalog::expire(tx, *id, t)?;
        }
        recompute_supersedence(tx)
    })?;
    if verify {
        // Blobs of this source's entries whose file is gone cannot be re-imported from it.
        for (rel, e) in existing.iter().filter(|(rel, e)| !e.expired && !seen.contains(*rel)) {
            if let Err(err) = library.verify(&e.sha256) {
                report.verified += 1;
                report.unrepairable.push(FileProblem { file: rel.clone(), reason: err.to_string() });
            }
        }
    }
    report.unreadable = store::catalog::unreadable_of_source(&site.db, &source).map_err(site.db.err())?;
    for p in &report.unreadable {
        tracing::warn!(file = %p.file, reason = %p.reason, "catalog: unreadable update file");
    }
    Ok(report)
}

/// Sets `superseded_by` for every live entry: the newest live entry of the same package family
/// (name, key token, architecture, culture) with a higher version supersedes it.
fn recompute_supersedence(tx: &Tx<'_>) -> SqlResult<()> {
    let rows = store::catalog::live_identities(tx)?;
    let parsed: Vec<(i64, PackageIdentity)> =
        rows.into_iter().filter_map(|(id, text)| text.parse().ok().map(|p| (id, p))).collect();
    store::catalog::clear_supersedence(tx)?;
    for (id, pkg) in &parsed {
        let newest = parsed
            .iter()
            .filter(|(_, other)| cbs::rules::supersedes(other, pkg))
            .max_by(|a, b| a.1.version.cmp(&b.1.version).then(a.0.cmp(&b.0)));
        if let Some((by, _)) = newest {
            store::catalog::set_superseded_by(tx, *id, *by)?;
        }
    }
    Ok(())
}

/// Whether an entry matches a free-text filter: any of its metadata strings contains the text,
/// case-insensitively.
pub fn matches_filter(u: &Update, filter: &str) -> bool {
    let needle = filter.to_lowercase();
    let fields = [
        u.kb.as_deref(),
        Some(u.title.as_str()),
        u.description.as_deref(),
        u.release_type.as_deref(),
        u.classification.as_deref(),
        u.arch.as_deref(),
        u.product.as_deref(),
        u.build.as_deref(),
        u.identity.as_deref(),
        Some(u.kind.as_str()),
        u.problem.as_deref(),
        Some(u.file_name.as_str()),
        Some(u.sha256.as_str()),
    ];
    fields.iter().flatten().any(|f| f.to_lowercase().contains(&needle))
}

/// `<file>: <reason>` of the first payload of `report` (or of its inner packages) that failed.
fn first_failure(report: &PackageReport) -> String {
    let own = report.components.iter().find_map(|c| {
        let f = c.files.iter().find(|f| f.status == cbs::package::FileStatus::Failed)?;
        Some(format!("{}\\{}: {}", c.keyform, f.name, f.reason.as_deref().unwrap_or("failed")))
    });
    own.or_else(|| report.inner.iter().find(|r| r.any_failed()).map(first_failure))
        .unwrap_or_else(|| "a payload failed to expand".into())
}
