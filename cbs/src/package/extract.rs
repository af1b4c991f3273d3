//! `package extract`: the verified payload tree of a package written to a new folder.
//!
//! Layout of the destination: `<key form>/<file>` for every component payload, and the manifests,
//! `.mum` and `.cat` files at the root; an MSU with several inner packages gets one subfolder per
//! inner package, named after its member's stem. Payloads stored as deltas (PA30 cab members, ranges
//! of an express package's `.psf`) are expanded first, their last-write times taken from the index.
//! Everything is written into a temporary folder beside the destination, every payload's SHA-256
//! is checked against its manifest, and only then is the folder renamed into place: a failure (a
//! payload that cannot be expanded yet included) or a kill leaves no destination, never a partial
//! or unverified one.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::error::Error;
use super::expand::{expand_cix, expand_psf, Outcome};
use super::index::{Indexed, Stored};
use super::input::{open_input, Input, WimOpener};
use super::inspect::{hex, scan_source, Payload};
use super::psf_site::{Found, PsfSite};
use crate::cix::filetime_to_unix;
use crate::container::{self, member_key, normalize_member_name, Limits, PackageSource};
use crate::delta::{DeltaLimits, ExpandedFile};

/// What `package extract` wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExtractReport {
    /// The input path.
    pub input: String,
    /// `cbs-cab`, `msu`, `combined-msu`, `wim-msu`, `cbs-wim` or `package-folder`.
    #[serde(serialize_with = "crate::json_word::snake_case")]
    pub kind: &'static str,
    /// The destination folder.
    pub dest: String,
    /// The packages written, in the order they were read (servicing stack first).
    pub packages: Vec<ExtractedPackage>,
    /// Files written in all.
    pub files: usize,
}

/// One package written by `package extract`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExtractedPackage {
    /// The package (`outer.msu!inner.cab` for an MSU's inner package).
    pub package: String,
    /// `Name~pkt~arch~culture~version` of its update.mum.
    pub identity: Option<String>,
    /// Its folder relative to the destination (`""`: the destination itself).
    pub folder: String,
    /// Payload files written, each verified against its manifest's SHA-256 (or, for an expanded
    /// payload whose manifest gives none, its index's hash).
    pub payloads: usize,
    /// Manifests, `.mum` and `.cat` files written.
    pub metadata: usize,
}

/// Extracts the package at `path` (cab, MSU, combined MSU, WIM-format MSU through `wim`, package
/// folder) into `dest`, which must not exist or be an empty folder. Payloads stored as deltas (PA30
/// members, ranges of the `.psf` of an express package) are expanded and verified like the
/// others; payloads that cannot be expanded ([`Error::Unexpandable`], naming every one, in every
/// inner package), an express package
/// without its `.psf`, or a payload nothing gives a digest for fails the extraction, and nothing
/// is left at `dest`.
pub fn extract_path(
    path: &Path,
    dest: &Path,
    limits: Limits,
    wim: Option<WimOpener<'_>>,
) -> Result<ExtractReport, Error> {
    let shown = path.display().to_string();
    let dest_shown = dest.display().to_string();
    let destination = |detail: &str| Error::Destination { path: dest_shown.clone(), detail: detail.to_owned() };
    check_destination(dest, &dest_shown)?;
    let name = match dest.file_name() {
        Some(n) if dest.components().next_back().is_some_and(|c| matches!(c, std::path::Component::Normal(_))) => n,
        _ => return Err(destination("names no folder to create")),
    };
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };

    let input = open_input(path, limits, wim)?;
    safe_fs::create_dir_all(&parent).map_err(|e| io_err(&parent, e))?;
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{}.wimpatch-tmp.", name.to_string_lossy()))
        .tempdir_in(&parent)
        .map_err(|e| io_err(&parent, e))?;
    let root = fs::canonicalize(staging.path()).map_err(|e| io_err(staging.path(), e))?;
    let mut out = Staging { root, dirs: HashSet::new() };
    // Payloads that cannot be expanded, in every package: all are named, then nothing is written.
    let mut unexpandable: Vec<(String, String, String)> = Vec::new();

    let (kind, packages) = match input {
        Input::Package { kind, mut source } => {
            let mut site = PsfSite::Beside(path);
            (kind, vec![extract_source(&mut *source, shown.clone(), kind, &mut out, "", &mut site, &mut unexpandable)?])
        }
        Input::Msu(mut msu) => {
            let mut packages = Vec::new();
            let mut folders = HashSet::new();
            let several = msu.inner.len() > 1;
            for inner in msu.inner.clone() {
                let folder = if several { subfolder(&shown, &inner)? } else { String::new() };
                if !folders.insert(member_key(&folder)) {
                    return Err(Error::NotExtractable {
                        package: shown,
                        reason: format!("two inner packages would share the folder {folder:?}"),
                    });
                }
                let (kind, mut source) = msu.open_inner(&inner, None, wim)?;
                let label = format!("{shown}!{inner}");
                let mut site = PsfSite::Msu { msu: &mut msu, inner: &inner };
                packages.push(extract_source(
                    &mut *source,
                    label,
                    kind,
                    &mut out,
                    &folder,
                    &mut site,
                    &mut unexpandable,
                )?);
            }
            (msu.kind, packages)
        }
        Input::Folder(_) => {
            return Err(Error::NotExtractable {
                package: shown,
                reason: "a folder of packages (no update.mum in it); extract one package at a time".into(),
            })
        }
        Input::Other { kind, reason } => {
            return Err(Error::NotExtractable { package: shown, reason: format!("{kind}: {reason}") })
        }
    };
    if packages.is_empty() {
        return Err(Error::NotExtractable { package: shown, reason: "it holds no CBS package".into() });
    }
    if !unexpandable.is_empty() {
        let (package, file, reason) = unexpandable.remove(0);
        return Err(Error::Unexpandable { package, file, reason, others: unexpandable });
    }

    // Everything is written and verified: make it durable, then put it in place in one rename.
    for dir in &out.dirs {
        sync_dir(dir)?;
    }
    sync_dir(&out.root)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // The staging folder is private while it is filled; the result is an ordinary folder.
        fs::set_permissions(&out.root, fs::Permissions::from_mode(0o755)).map_err(|e| io_err(&out.root, e))?;
    }
    check_destination(dest, &dest_shown)?;
    match safe_fs::rename(staging.path(), dest) {
        Ok(()) => {
            // Renamed away: nothing is left for the guard to remove.
            let _ = staging.keep();
        }
        Err(e) if matches!(e.kind(), io::ErrorKind::DirectoryNotEmpty | io::ErrorKind::AlreadyExists) => {
            return Err(destination("was filled by someone else during the extraction; nothing was written to it"));
        }
        Err(e) => return Err(io_err(dest, e)),
    }
    sync_dir(&parent)?;
    let files = packages.iter().map(|p| p.payloads + p.metadata).sum();
    Ok(ExtractReport { input: shown, kind, dest: dest_shown, packages, files })
}

fn io_err(path: &Path, source: io::Error) -> Error {
    Error::Io { path: path.display().to_string(), source }
}

/// Refuses a destination that exists, unless it is an empty folder (which the rename replaces).
fn check_destination(dest: &Path, shown: &str) -> Result<(), Error> {
    let refuse = |detail: &str| Err(Error::Destination { path: shown.to_owned(), detail: detail.to_owned() });
    match fs::symlink_metadata(dest) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(dest, e)),
        Ok(meta) if !meta.is_dir() => refuse("already exists and is not a folder; extract writes a new folder"),
        Ok(_) => match fs::read_dir(dest).map_err(|e| io_err(dest, e))?.next() {
            None => Ok(()),
            Some(_) => refuse("already exists and is not empty; extract writes a new folder, it never merges"),
        },
    }
}

/// The folder of an MSU's inner package: its member's stem, checked as a member name.
fn subfolder(package: &str, inner: &str) -> Result<String, Error> {
    let base = inner.rsplit(['/', '\\']).next().unwrap_or(inner);
    let stem = base.rsplit_once('.').map_or(base, |(s, _)| s);
    normalize_member_name(stem).map_err(|reason| {
        Error::Container(container::Error::UnsafeMemberName {
            package: package.to_owned(),
            member: inner.to_owned(),
            reason,
        })
    })
}

/// The temporary folder being filled.
struct Staging {
    /// Canonical path: every file written must resolve under it.
    root: PathBuf,
    /// Folders created, to sync before the rename.
    dirs: HashSet<PathBuf>,
}

impl Staging {
    /// Creates the folders of `rel` (a checked, `/`-separated relative path) and returns where the
    /// file goes, after checking that its folder resolves under the root.
    fn prepare(&mut self, rel: &str) -> Result<PathBuf, Error> {
        let path = self.root.join(rel);
        let parent = path.parent().unwrap_or(&self.root).to_path_buf();
        let rel_parent = Path::new(rel).parent().unwrap_or(Path::new(""));
        safe_fs::create_dir_all_under(&self.root, rel_parent).map_err(|e| io_err(&parent, e))?;
        let real = fs::canonicalize(&parent).map_err(|e| io_err(&parent, e))?;
        if !real.starts_with(&self.root) {
            return Err(Error::OutsideDestination {
                path: path.display().to_string(),
                root: self.root.display().to_string(),
            });
        }
        let mut dir = real.as_path();
        while dir != self.root && self.dirs.insert(dir.to_path_buf()) {
            dir = dir.parent().unwrap_or(&self.root);
        }
        Ok(path)
    }
}

/// Writes one package into `folder` of the staging area and verifies its payloads; payloads stored
/// as deltas are expanded (the `.psf` of an express package looked for at `site`).
fn extract_source(
    src: &mut dyn PackageSource,
    label: String,
    kind: &'static str,
    out: &mut Staging,
    folder: &str,
    site: &mut PsfSite<'_>,
    unexpandable: &mut Vec<(String, String, String)>,
) -> Result<ExtractedPackage, Error> {
    let scan = scan_source(src, label.clone(), kind)?;
    if let Some(err) = scan.deferred {
        return Err(err);
    }
    if let Some(p) = scan.payloads.iter().find(|p| p.sha256.is_none()) {
        return Err(Error::NoDigest { package: label, manifest: p.manifest.clone(), member: p.target.clone() });
    }
    let index_of = |stored: Stored| match stored {
        Stored::Cix => scan.cix.as_ref(),
        Stored::Psf => scan.psf_index.as_ref(),
    };
    // An expanded payload is verified against its manifest's digest, or else the index's hash.
    let unchecked = scan
        .indexed
        .iter()
        .find(|p| p.sha256.is_none() && index_of(p.stored).and_then(|i| i.file(p.id)).is_none_or(|f| f.hash.is_none()));
    if let Some(p) = unchecked {
        return Err(Error::NoDigest { package: label, manifest: p.manifest.clone(), member: p.target.clone() });
    }
    // The `.psf` is found before anything is written.
    let mut psf = None;
    if scan.indexed.iter().any(|p| p.stored == Stored::Psf) {
        match site.open()? {
            Found::Psf(found) => psf = Some(found),
            Found::Missing(expected) => {
                let expected = expected.unwrap_or_else(|| "the .psf beside it".to_owned());
                return Err(Error::PsfMissing { package: label, expected });
            }
        }
    }

    // Where each member goes: a payload to `<key form>/<file>`, a root manifest/.mum/.cat to its name.
    let package = src.package().to_owned();
    let prefix = |rel: &str| if folder.is_empty() { rel.to_owned() } else { format!("{folder}/{rel}") };
    let mut taken: HashMap<String, String> = HashMap::new();
    // The folder-relative path `member` is written to, or `None` when it is already written there.
    let mut claim = |member: &str, rel: &str| -> Result<Option<String>, Error> {
        let rel = normalize_member_name(rel).map_err(|reason| container::Error::UnsafeMemberName {
            package: package.clone(),
            member: rel.to_owned(),
            reason,
        })?;
        match taken.get(&member_key(&rel)) {
            // The same file named twice: written once.
            Some(first) if first == member => return Ok(None),
            Some(first) => {
                return Err(container::Error::DuplicateMember {
                    package: package.clone(),
                    member: rel,
                    first: first.clone(),
                }
                .into())
            }
            None => {}
        }
        taken.insert(member_key(&rel), member.to_owned());
        Ok(Some(prefix(&rel)))
    };
    let mut targets: HashMap<String, Vec<String>> = HashMap::new();
    let mut names: Vec<String> = Vec::new();
    let mut add = |member: &str, rel: Option<String>| {
        let Some(rel) = rel else { return };
        let list = targets.entry(member.to_owned()).or_default();
        if list.is_empty() {
            names.push(member.to_owned());
        }
        list.push(rel);
    };
    let mut metadata = 0;
    let key_forms: std::collections::HashSet<&str> =
        scan.report.components.iter().map(|c| c.keyform.as_str()).collect();
    for entry in src.list()? {
        let is_metadata = [".manifest", ".mum", ".cat"].iter().any(|s| crate::name::ends_with_ci(&entry.path, s));
        if is_metadata && !entry.path.contains('/') {
            add(&entry.path, claim(&entry.path, &entry.path)?);
            metadata += 1;
        } else if is_differential(&entry.path, &key_forms) {
            // PSFX differentials are written as the package holds them (`<key-form>/f|r|n/<file>`):
            // they are hydrated against an image's RTM files, which the package alone cannot do.
            add(&entry.path, claim(&entry.path, &entry.path)?);
        }
    }
    for p in &scan.payloads {
        add(&p.member, claim(&p.member, &p.target)?);
    }
    let mut expanded: HashMap<(Stored, u32), Vec<(String, &Indexed)>> = HashMap::new();
    for p in &scan.indexed {
        // Not a member name: one an index stores cannot collide with a cab member's.
        let member = format!("{:?} index file {}", p.stored, p.id);
        if let Some(rel) = claim(&member, &p.target)? {
            expanded.entry((p.stored, p.id)).or_default().push((rel, p));
        }
    }

    let written = write_members(src, &names, &targets, out)?;
    verify(&package, &scan.payloads, &written)?;

    let limits = DeltaLimits::default();
    let ids = |stored: Stored| -> HashSet<u32> { expanded.keys().filter(|k| k.0 == stored).map(|k| k.1).collect() };
    let (cix_ids, psf_ids) = (ids(Stored::Cix), ids(Stored::Psf));
    let mut write = |stored: Stored, outcome: Outcome| -> Result<(), Error> {
        match outcome {
            Outcome::Expanded(file) => match expanded.get(&(stored, file.id)) {
                Some(targets) => write_expanded(out, &package, &file, targets),
                // Only the files asked for are handed out.
                None => Ok(()),
            },
            // Noted, and the other payloads still expanded, so that every one is named.
            Outcome::Unsupported { name, reason, .. } | Outcome::Failed { name, reason, .. } => {
                unexpandable.push((label.clone(), name, reason));
                Ok(())
            }
        }
    };
    if let (Some(cix), false) = (&scan.cix, cix_ids.is_empty()) {
        expand_cix(src, cix, &limits, &cix_ids, &mut |outcome| write(Stored::Cix, outcome))?;
    }
    if let (Some(index), Some(psf)) = (&scan.psf_index, psf.as_mut()) {
        expand_psf(psf, index, &limits, &psf_ids, &mut |outcome| write(Stored::Psf, outcome))?;
    }
    Ok(ExtractedPackage {
        package: label,
        identity: scan.report.identity_string.clone(),
        folder: folder.to_owned(),
        payloads: scan.payloads.len() + scan.indexed.len(),
        metadata,
    })
}

/// Writes one expanded file to its targets, after checking its SHA-256 against the manifests'
/// digests; its last-write time is the index's.
fn write_expanded(
    out: &mut Staging,
    package: &str,
    file: &ExpandedFile,
    targets: &[(String, &Indexed)],
) -> Result<(), Error> {
    let got: [u8; 32] = Sha256::digest(&file.bytes).into();
    for (_, p) in targets {
        if let Some(want) = p.sha256.filter(|want| *want != got) {
            return Err(Error::DigestMismatch {
                package: package.to_owned(),
                member: p.target.clone(),
                expected: hex(&want),
                actual: hex(&got),
            });
        }
    }
    let modified = file
        .time
        .map(filetime_to_unix)
        .and_then(|(seconds, nanos)| Some(SystemTime::UNIX_EPOCH + Duration::new(u64::try_from(seconds).ok()?, nanos)));
    for (rel, _) in targets {
        let path = out.prepare(rel)?;
        let mut f = safe_fs::create_new(&path).map_err(|e| io_err(&path, e))?;
        f.write_all(&file.bytes).map_err(|e| io_err(&path, e))?;
        if let Some(time) = modified {
            f.set_modified(time).map_err(|e| io_err(&path, e))?;
        }
        f.sync_all().map_err(|e| io_err(&path, e))?;
    }
    Ok(())
}

/// Writes every member to its targets in one pass over the source; returns each member's SHA-256.
fn write_members(
    src: &mut dyn PackageSource,
    names: &[String],
    targets: &HashMap<String, Vec<String>>,
    out: &mut Staging,
) -> Result<HashMap<String, [u8; 32]>, Error> {
    let package = src.package().to_owned();
    let mut hashes = HashMap::with_capacity(names.len());
    // A write error is the destination's, not the package's: kept here, and the pass stopped.
    let mut failed: Option<Error> = None;
    let pass = src.read_each(names, &mut |name, reader| {
        let stop = |failed: &mut Option<Error>, err: Error| {
            let message = err.to_string();
            *failed = Some(err);
            container::Error::Io {
                package: package.clone(),
                member: Some(name.to_owned()),
                source: io::Error::other(message),
            }
        };
        let rels = &targets[name];
        let first = match out.prepare(&rels[0]) {
            Ok(p) => p,
            Err(e) => return Err(stop(&mut failed, e)),
        };
        let mut file = match safe_fs::create_new(&first) {
            Ok(f) => f,
            Err(e) => return Err(stop(&mut failed, io_err(&first, e))),
        };
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = reader.read(&mut buf).map_err(|e| container::Error::from_io(&package, Some(name), e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            if let Err(e) = file.write_all(&buf[..n]) {
                return Err(stop(&mut failed, io_err(&first, e)));
            }
        }
        if let Err(e) = file.sync_all() {
            return Err(stop(&mut failed, io_err(&first, e)));
        }
        for rel in &rels[1..] {
            let copy = match out.prepare(rel) {
                Ok(p) => p,
                Err(e) => return Err(stop(&mut failed, e)),
            };
            if let Err(e) = copy_new(&first, &copy) {
                return Err(stop(&mut failed, io_err(&copy, e)));
            }
        }
        hashes.insert(name.to_owned(), hasher.finalize().into());
        Ok(())
    });
    if let Some(err) = failed {
        return Err(err);
    }
    pass?;
    Ok(hashes)
}

/// Copies a written file to a second name (never over an existing file), synced.
fn copy_new(from: &Path, to: &Path) -> io::Result<()> {
    let mut input = File::open(from)?;
    let mut output = safe_fs::create_new(to)?;
    io::copy(&mut input, &mut output)?;
    output.sync_all()
}

/// Every payload's bytes against its manifest's digest.
fn verify(package: &str, payloads: &[Payload], written: &HashMap<String, [u8; 32]>) -> Result<(), Error> {
    for p in payloads {
        let Some(want) = p.sha256 else { continue };
        // Every payload member was in the pass, which succeeded; absent would be a bug, refused all the same.
        let Some(got) = written.get(&p.member) else {
            return Err(Error::MissingPayload {
                package: package.to_owned(),
                manifest: p.manifest.clone(),
                member: p.member.clone(),
            });
        };
        if *got != want {
            return Err(Error::DigestMismatch {
                package: package.to_owned(),
                member: p.member.clone(),
                expected: hex(&want),
                actual: hex(got),
            });
        }
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io_err(dir, e))
}

/// `<key-form>/f|r|n/<file>` of a component of the package: a PSFX differential.
fn is_differential(member: &str, key_forms: &std::collections::HashSet<&str>) -> bool {
    let mut parts = member.split(['/', '\\']);
    let (Some(kf), Some(form), Some(_)) = (parts.next(), parts.next(), parts.next()) else { return false };
    ["f", "r", "n"].iter().any(|f| form.eq_ignore_ascii_case(f)) && key_forms.contains(kf.to_ascii_lowercase().as_str())
}
