//! Loading update inputs into install units: one CBS package each (a cab, an MSU's inner cab, or an
//! extracted package folder), with its package manifests and component manifests parsed, ready for
//! applicability and staging. Unsupported inputs are recognised here, with their reason.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use cbs::cix::ContainerIndex;
use cbs::container::{self, member_key, Cabinet, ContainerKind, DirectorySource, Limits, Msu, PackageSource};
use cbs::manifest::ComponentManifest;
use cbs::mum::PackageManifest;
use cbs::name::{ends_with_ci, normalize_kb, strip_suffix_ci};
use cbs::package::{Error as PackageError, MetadataPass};
use cbs::psf::{Psf, PSF_CIX_NAME};
use cbs::PackageIdentity;

use super::error::{Error, Result};

/// The delta index of Windows 7-era hotfix cabs.
const CIX_NAME: &str = "_manifest_.cix.xml";

/// A component manifest of a package.
pub(crate) struct ManifestEntry {
    /// Member name in the package.
    pub member: String,
    /// Parsed.
    pub manifest: ComponentManifest,
    /// SHA-256 of its bytes: recorded in the registry, and checked when staging reads them again
    /// to copy them into `WinSxS\Manifests` (the bytes are not kept: issue 17, memory).
    pub sha256: [u8; 32],
}

/// One CBS package, open and parsed.
pub(crate) struct Unit {
    /// The input as named in logs (`path`, or `path!inner.cab`).
    pub label: String,
    /// The input file or folder.
    pub input: PathBuf,
    source: Box<dyn PackageSource>,
    /// `update.mum`.
    pub top: PackageManifest,
    /// Its identity.
    pub top_id: PackageIdentity,
    /// Member name of `update.mum`.
    pub top_member: String,
    /// Every other .mum, by lower-case identity string: (member name, manifest).
    pub mums: HashMap<String, (String, PackageManifest)>,
    /// Component and deployment manifests, by key form (lower case).
    pub manifests: HashMap<String, ManifestEntry>,
    /// Member names by [`member_key`].
    pub members: HashMap<String, String>,
    /// Payloads stored as deltas: member key of `<key-form>/<file>` → format.
    pub deltas: HashMap<String, String>,
    /// Payloads stored RAW under another member name (cix): member key → stored member.
    pub renamed: HashMap<String, String>,
    /// KB article, from update.mum or the MSU's pkgProperties.
    pub kb: Option<String>,
    /// The delta index (`_manifest_.cix.xml`), when payloads are stored as deltas.
    pub cix: Option<ContainerIndex>,
    /// The express index (`express.psf.cix.xml`) of a PSFX cab, whose payloads are in a `.psf`.
    pub psf_index: Option<ContainerIndex>,
    /// Member keys of the `<key-form>/<file>` payloads the `.psf` stores.
    pub psf_payloads: HashSet<String>,
    /// Where the `.psf` is, when one was found beside the package.
    pub psf: Option<PsfLocation>,
}

/// Where a PSFX package's `.psf` is. Opened only when staging needs it: a package that turns out
/// not applicable never pays for spooling a payload of hundreds of MiB.
pub(crate) enum PsfLocation {
    /// `<stem>.psf` beside the `<stem>.cab` input (or the `<stem>` package folder).
    File(PathBuf),
    /// A member of the MSU the cab came from, spooled to `scratch` when opened.
    MsuMember {
        /// The MSU.
        msu: PathBuf,
        /// The `.psf` member.
        member: String,
        /// Where to spool it.
        scratch: PathBuf,
        /// The MSU's limits.
        limits: Limits,
    },
}

/// What an input turned out to be.
pub(crate) enum Loaded {
    /// One or more CBS packages (an MSU can hold a servicing stack update and a cumulative update).
    Units(Vec<Unit>),
    /// Not something DISM applies; the reason says what it is.
    Unsupported(String),
}

impl Unit {
    /// Reads `members` in the order the source reads fastest (see
    /// [`PackageSource::read_each`]).
    pub fn read_each(
        &mut self,
        members: &[String],
        f: &mut dyn FnMut(&str, &mut dyn Read) -> cbs::container::Result<()>,
    ) -> cbs::container::Result<()> {
        self.source.read_each(members, f)
    }

    /// Expands every file of the delta index (PA30 against empty or basis, RAW, copies), each checked
    /// against the index's hash, handing each to `sink`.
    pub fn expand(
        &mut self,
        sink: impl FnMut(cbs::delta::ExpandedFile) -> Result<(), cbs::delta::ExpandError>,
    ) -> Result<usize> {
        let Some(cix) = &self.cix else { return Ok(0) };
        Ok(cbs::delta::for_each_expanded(self.source.as_mut(), cix, &cbs::delta::DeltaLimits::default(), sink)?)
    }

    /// Opens the `.psf` of a PSFX package (an MSU member is spooled to an unlinked scratch file
    /// first: the express index reads ranges in any order). Fails naming the package when the
    /// package has an express index but no `.psf` was found beside it.
    pub fn open_psf(&self) -> Result<Psf<BufReader<File>>> {
        match &self.psf {
            None => {
                // `path!inner.cab` for an MSU's inner cab, else the cab itself.
                let expected = match self.label.rsplit_once('!') {
                    Some((msu, inner)) => {
                        format!("{} (a member of {msu})", Path::new(inner).with_extension("psf").display())
                    }
                    None => cbs::psf::psf_beside(&self.input).display().to_string(),
                };
                Err(Error::PsfMissing { package: self.label.clone(), expected })
            }
            Some(PsfLocation::File(path)) => Ok(Psf::open(path)?),
            Some(PsfLocation::MsuMember { msu, member, scratch, limits }) => {
                let mut msu_file = Msu::open(msu, *limits).map_err(PackageError::from)?;
                let label = format!("{}!{member}", msu.display());
                let mut spool = spool_file(scratch)?;
                {
                    let package = msu_file.package().to_owned();
                    let mut reader = msu_file.cabinet_mut().open_member(member).map_err(PackageError::from)?;
                    std::io::copy(&mut reader, &mut spool)
                        .map_err(|e| PackageError::from(cbs::container::Error::from_io(&package, Some(member), e)))?;
                }
                spool.seek(SeekFrom::Start(0)).map_err(Error::io(scratch, "cannot spool .psf"))?;
                Ok(Psf::new(BufReader::new(spool), label)?)
            }
        }
    }

    /// The member holding `name` (`<key-form>/<file>`), case-insensitively, following RAW renames of
    /// the delta index.
    pub fn member_for(&self, name: &str) -> Option<String> {
        let key = member_key(name);
        if let Some(stored) = self.renamed.get(&key) {
            return self.members.get(&member_key(stored)).cloned();
        }
        self.members.get(&key).cloned()
    }

    /// The .mum of a sub-package, by identity.
    pub fn mum(&self, id: &PackageIdentity) -> Option<&(String, PackageManifest)> {
        self.mums.get(&id.to_string().to_lowercase())
    }

    /// The `.cat` beside a `.mum` member, if the package has one.
    pub fn catalog_for(&self, mum_member: &str) -> Option<String> {
        let stem = mum_member.get(..mum_member.len().saturating_sub(4))?;
        self.members.get(&member_key(&format!("{stem}.cat"))).cloned()
    }
}

/// The files an input path stands for: a file is itself; a package folder (holding `update.mum`) is
/// one input; any other folder gives its files, sorted by name (DISM `/PackagePath:<folder>`).
pub(crate) fn expand_inputs(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| Error::BadInput { path: p.clone(), reason: e.to_string() })?;
        if !meta.is_dir() {
            // Before any lock is taken: a FIFO or a device given as a package is refused here,
            // without blocking, instead of hanging the run with the image locked (issue 17).
            cbs::regular_file::open_regular(p)
                .map_err(|e| Error::BadInput { path: p.clone(), reason: e.to_string() })?;
        }
        if meta.is_dir() && !has_update_mum(p) {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(Error::io(p, "cannot list package folder"))?
                .flatten()
                .map(|e| e.path())
                .filter(|f| f.is_file() || (f.is_dir() && has_update_mum(f)))
                .collect();
            files.sort();
            out.extend(files);
        } else {
            out.push(p.clone());
        }
    }
    // A `.psf` beside its `.cab` (or package folder) is that package's payload, not a package.
    let lower = |p: &Path| p.to_string_lossy().to_ascii_lowercase();
    let payloads: HashSet<String> =
        out.iter().filter(|p| p.is_dir() || has_extension(p, "cab")).map(|p| lower(&cbs::psf::psf_beside(p))).collect();
    out.retain(|p| !(has_extension(p, "psf") && payloads.contains(&lower(p))));
    Ok(out)
}

/// A new file in `scratch`, already unlinked: it lives while the handle does, and nothing is left
/// behind whatever happens next (the run's scratch folder is swept too).
fn spool_file(scratch: &Path) -> Result<File> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = scratch.join(format!("psf-{}-{n}.spool", std::process::id()));
    let file = safe_fs::create_new(&path).map_err(Error::io(&path, "cannot create .psf spool file"))?;
    std::fs::remove_file(&path).map_err(Error::io(&path, "cannot unlink .psf spool file"))?;
    Ok(file)
}

fn has_extension(path: &Path, ext: &str) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case(ext))
}

/// The file stem, lower-cased (Windows names compare case-insensitively).
fn stem_key(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().to_ascii_lowercase()).unwrap_or_default()
}

fn has_update_mum(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|it| it.flatten().any(|e| e.file_name().to_string_lossy().eq_ignore_ascii_case("update.mum")))
        .unwrap_or(false)
}

/// Opens and parses one input.
pub(crate) fn load(path: &Path, limits: Limits, scratch: &Path) -> Result<Loaded> {
    let shown = path.display().to_string();
    if path.is_dir() {
        let src = DirectorySource::open(path, limits).map_err(PackageError::from)?;
        let mut unit = parse_unit(Box::new(src), shown, path, None)?;
        if unit.psf_index.is_some() {
            // An expanded PSFX cab: its `.psf` is beside the folder, named like it.
            unit.psf = cbs::psf::find_psf_beside(path).map(PsfLocation::File);
        }
        return Ok(Loaded::Units(vec![unit]));
    }
    let kind = container::detect_path(path, limits).map_err(PackageError::from)?;
    match kind {
        ContainerKind::CbsCab => {
            let cab = Cabinet::open(path, limits).map_err(PackageError::from)?;
            let mut unit = parse_unit(Box::new(cab), shown, path, None)?;
            if unit.psf_index.is_some() {
                unit.psf = cbs::psf::find_psf_beside(path).map(PsfLocation::File);
            }
            Ok(Loaded::Units(vec![unit]))
        }
        ContainerKind::Msu | ContainerKind::CombinedMsu => {
            let mut msu = Msu::open(path, limits).map_err(PackageError::from)?;
            let kb = msu.kb_number().map(|k| normalize_kb(&k));
            let mut units = Vec::new();
            for name in msu.inner_cab_names().to_vec() {
                let inner = msu.open_inner(&name, Some(scratch)).map_err(PackageError::from)?;
                let mut unit = parse_unit(Box::new(inner), format!("{shown}!{name}"), path, kb.clone())?;
                if unit.psf_index.is_some() {
                    // The LCU cab's payload is the `.psf` member of the same name.
                    let want = stem_key(Path::new(&name));
                    let member = msu.psf_names().iter().find(|p| stem_key(Path::new(p.as_str())) == want);
                    unit.psf = member.map(|m| PsfLocation::MsuMember {
                        msu: path.to_path_buf(),
                        member: m.clone(),
                        scratch: scratch.to_path_buf(),
                        limits,
                    });
                }
                units.push(unit);
            }
            if units.is_empty() {
                return Ok(Loaded::Unsupported("MSU without an inner CBS package".into()));
            }
            Ok(Loaded::Units(units))
        }
        ContainerKind::WimMsu => {
            Ok(Loaded::Unsupported("WIM-format MSU: reading its content for installation is not wired up yet".into()))
        }
        ContainerKind::Unsupported(reason) => Ok(Loaded::Unsupported(reason)),
    }
}

fn parse_unit(mut src: Box<dyn PackageSource>, label: String, input: &Path, msu_kb: Option<String>) -> Result<Unit> {
    let package = src.package().to_owned();
    let entries = src.list().map_err(PackageError::from)?;
    let members: HashMap<String, String> = entries.iter().map(|e| (member_key(&e.path), e.path.clone())).collect();
    let top_member =
        members.get("update.mum").cloned().ok_or_else(|| PackageError::NoUpdateMum { package: package.clone() })?;
    // Every top-level .mum and manifest and the indexes, read in one pass (each solid folder
    // decoded once) and kept parsed, not as bytes.
    let indexes = [member_key(CIX_NAME), member_key(PSF_CIX_NAME)];
    let meta_names: Vec<String> = entries
        .iter()
        .map(|e| &e.path)
        .filter(|n| {
            !n.contains(['/', '\\'])
                && (ends_with_ci(n, ".mum") || ends_with_ci(n, ".manifest") || indexes.contains(&member_key(n)))
        })
        .cloned()
        .collect();
    let mut meta = MetadataPass::read(src.as_mut(), &meta_names);
    let top = meta.package_manifest(src.as_mut(), &top_member)?;
    let top_id = PackageIdentity::from_assembly(&top.identity).map_err(|e| PackageError::Identity {
        package: package.clone(),
        member: top_member.clone(),
        detail: e.to_string(),
    })?;

    let mut mums = HashMap::new();
    let mut manifests = HashMap::new();
    for e in &entries {
        let name = &e.path;
        if name.contains(['/', '\\']) || *name == top_member {
            continue;
        }
        if ends_with_ci(name, ".mum") {
            let mum = meta.package_manifest(src.as_mut(), name)?;
            let id = PackageIdentity::from_assembly(&mum.identity).map_err(|e| PackageError::Identity {
                package: package.clone(),
                member: name.clone(),
                detail: e.to_string(),
            })?;
            mums.insert(id.to_string().to_lowercase(), (name.clone(), mum));
        } else if ends_with_ci(name, ".manifest") {
            let parsed = meta.component_manifest(src.as_mut(), name)?;
            let key_form = strip_suffix_ci(name, ".manifest").unwrap_or(name).to_ascii_lowercase();
            let computed = cbs::key_form(&parsed.manifest.identity);
            if computed != key_form {
                return Err(PackageError::KeyFormMismatch { package, member: name.clone(), expected: computed }.into());
            }
            manifests.insert(
                key_form,
                ManifestEntry { member: name.clone(), manifest: parsed.manifest, sha256: parsed.sha256 },
            );
        }
    }

    let mut deltas = HashMap::new();
    let mut renamed = HashMap::new();
    let mut index = None;
    if let Some(cix_member) = members.get(&member_key(CIX_NAME)).cloned() {
        let cix = meta.index(src.as_mut(), &cix_member)?;
        for f in &cix.files {
            let Some(d) = &f.delta else { continue };
            match &d.source {
                Some(s) if s.source_type.is_delta() => {
                    deltas.insert(member_key(&f.name), s.source_type.as_str().to_owned());
                }
                Some(s) => {
                    if let Some(stored) = &s.name {
                        renamed.insert(member_key(&f.name), stored.clone());
                    }
                }
                None => {
                    deltas.insert(member_key(&f.name), "copy".to_owned());
                }
            }
        }
        index = Some(cix);
    }
    let mut psf_index = None;
    let mut psf_payloads = HashSet::new();
    if let Some(member) = members.get(&member_key(PSF_CIX_NAME)).cloned() {
        let cix = meta.index(src.as_mut(), &member)?;
        psf_payloads = cix.files.iter().filter(|f| cbs::psf::stored_in_psf(f)).map(|f| member_key(&f.name)).collect();
        psf_index = Some(cix);
    }

    let kb = top.kb().map(normalize_kb).or(msu_kb);
    Ok(Unit {
        label,
        input: input.to_path_buf(),
        source: src,
        top,
        top_id,
        top_member,
        mums,
        manifests,
        members,
        deltas,
        renamed,
        kb,
        cix: index,
        psf_index,
        psf_payloads,
        psf: None,
    })
}
