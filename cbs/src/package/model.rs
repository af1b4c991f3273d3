//! The package model the servicing engine installs from: one CBS package opened once (a cab, an
//! MSU's inner cab or LCU `.wim`, an extracted package folder), its `update.mum`, sub-package
//! `.mum` files, component manifests and delta indexes parsed in one pass and kept parsed (not as
//! bytes), and where each payload comes from (a member, a RAW rename or a delta of the cix index,
//! a range of the `.psf`). Payload bytes are read only when asked ([`Package::read_each`],
//! [`Package::expand`], [`Package::open_psf`]).
//!
//! The metadata is read by [`ParsedPackage`], which `package info` and `package extract` render
//! too (they report what is wrong file by file instead of refusing the package as a whole).

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use super::error::Error;
use super::input::{open_input, Input, WimOpener};
use super::parsed::{ManifestEntry, ParsedPackage};
use super::psf_site::{Found, PsfSite};
use crate::cix::ContainerIndex;
use crate::container::{self, member_key, Limits, PackageSource, Spooled};
use crate::mum::PackageManifest;
use crate::name::normalize_kb;
use crate::psf::Psf;
use crate::PackageIdentity;

/// Where a PSF express package's `.psf` is. Opened only when staging needs it: a package that turns
/// out not applicable never pays for spooling a payload of hundreds of MiB.
enum PsfPlace {
    /// Beside the input (`<stem>.psf` beside `<stem>.cab`, or beside the package folder).
    Beside(PathBuf),
    /// A member of the MSU (cab or WIM form) the package came from, named like the inner package.
    MsuMember {
        /// The MSU.
        msu: PathBuf,
        /// The inner package's member name.
        inner: String,
        /// The MSU's limits.
        limits: Limits,
    },
}

/// One CBS package, open and parsed.
pub struct Package {
    /// The input as named in logs (`path`, or `path!inner.cab`).
    pub label: String,
    /// The input file or folder.
    pub input: PathBuf,
    /// How it was read: `cbs-cab`, `package-folder` or `cbs-wim`.
    pub kind: &'static str,
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
    /// KB article (`KB` and digits), from update.mum or the MSU.
    pub kb: Option<String>,
    /// The delta index (`_manifest_.cix.xml`), when payloads are stored as deltas.
    pub cix: Option<ContainerIndex>,
    /// The express index (`express.psf.cix.xml`) of a PSFX package, whose payloads are in a `.psf`.
    pub psf_index: Option<ContainerIndex>,
    /// Member keys of the `<key-form>/<file>` payloads the `.psf` stores.
    pub psf_payloads: HashSet<String>,
    psf: Option<PsfPlace>,
}

/// What an input path turned out to be.
pub enum Opened {
    /// One or more CBS packages (an MSU can hold a servicing stack update and a cumulative update).
    Packages {
        /// The packages, servicing stack first.
        packages: Vec<Package>,
        /// Members of an MSU that are not for the OS image (`<msu>!<member>`, why): not installed,
        /// named in the servicing log.
        skipped: Vec<(String, &'static str)>,
    },
    /// Not something DISM applies; the reason says what it is.
    Unsupported(String),
}

/// How inputs are opened.
#[derive(Clone, Copy)]
pub struct OpenOptions<'a> {
    /// Bounds on every container and decompressed stream.
    pub limits: Limits,
    /// Where inner cabs of an MSU are spooled (the system temp folder when `None`).
    pub scratch: Option<&'a Path>,
    /// Reads WIM-format MSUs and LCU `.wim` packages; without it they are unsupported.
    pub wim: Option<WimOpener<'a>>,
}

/// Opens `path` (one input as [`super::expand_inputs`] gives them) and parses every package in it.
pub fn open_packages(path: &Path, opts: OpenOptions<'_>) -> Result<Opened, Error> {
    let shown = path.display().to_string();
    match open_input(path, opts.limits, opts.wim)? {
        Input::Package { kind, source } => {
            let mut package = Package::parse(source, kind, shown, path, None)?;
            if package.psf_index.is_some() {
                package.psf = Some(PsfPlace::Beside(path.to_path_buf()));
            }
            Ok(Opened::Packages { packages: vec![package], skipped: Vec::new() })
        }
        Input::Msu(mut msu) => {
            let kb = msu.kb.as_deref().map(normalize_kb);
            let mut packages = Vec::new();
            for name in msu.inner.clone() {
                let (kind, source) = msu.open_inner(&name, opts.scratch, opts.wim)?;
                let mut package = Package::parse(source, kind, format!("{shown}!{name}"), path, kb.clone())?;
                if package.psf_index.is_some() {
                    package.psf =
                        Some(PsfPlace::MsuMember { msu: path.to_path_buf(), inner: name, limits: opts.limits });
                }
                packages.push(package);
            }
            if packages.is_empty() {
                return Ok(Opened::Unsupported("MSU without an inner CBS package".into()));
            }
            let skipped = msu.skipped.iter().map(|(member, why)| (format!("{shown}!{member}"), *why)).collect();
            Ok(Opened::Packages { packages, skipped })
        }
        Input::Folder(_) => Ok(Opened::Unsupported("a folder without update.mum; give its packages instead".into())),
        Input::Other { kind, reason } => Ok(Opened::Unsupported(match kind {
            "unsupported" => reason,
            _ => format!("{kind}: {reason}"),
        })),
    }
}

impl Package {
    /// Parses the package `src` holds ([`ParsedPackage::read`]): a package with any metadata
    /// problem is refused. Records which payloads the indexes store (deltas, RAW renames, `.psf`).
    fn parse(
        mut src: Box<dyn PackageSource>,
        kind: &'static str,
        label: String,
        input: &Path,
        msu_kb: Option<String>,
    ) -> Result<Package, Error> {
        let parsed = ParsedPackage::read(src.as_mut())?.complete()?;
        let mut deltas = HashMap::new();
        let mut renamed = HashMap::new();
        for f in parsed.cix.iter().flat_map(|index| &index.files) {
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
        let psf_payloads = parsed
            .psf_index
            .iter()
            .flat_map(|index| &index.files)
            .filter(|f| crate::psf::stored_in_psf(f))
            .map(|f| member_key(&f.name))
            .collect();
        let kb = parsed.top.kb().map(normalize_kb).or(msu_kb);
        Ok(Package {
            label,
            input: input.to_path_buf(),
            kind,
            source: src,
            top: parsed.top,
            top_id: parsed.top_id,
            top_member: parsed.top_member,
            mums: parsed.mums,
            manifests: parsed.manifests,
            members: parsed.members,
            deltas,
            renamed,
            kb,
            cix: parsed.cix,
            psf_index: parsed.psf_index,
            psf_payloads,
            psf: None,
        })
    }

    /// Reads `members` in the order the source reads fastest (see [`PackageSource::read_each`]).
    pub fn read_each(
        &mut self,
        members: &[String],
        f: &mut dyn FnMut(&str, &mut dyn Read) -> container::Result<()>,
    ) -> container::Result<()> {
        self.source.read_each(members, f)
    }

    /// Expands every file of the delta index (PA30 against empty or basis, RAW, copies), each checked
    /// against the index's hash, handing each to `sink`. Returns how many were expanded.
    pub fn expand(
        &mut self,
        sink: impl FnMut(crate::delta::ExpandedFile) -> Result<(), crate::delta::ExpandError>,
    ) -> Result<usize, Error> {
        let Some(cix) = &self.cix else { return Ok(0) };
        Ok(crate::delta::for_each_expanded(self.source.as_mut(), cix, &crate::delta::DeltaLimits::default(), sink)?)
    }

    /// Opens the `.psf` of a PSFX package: beside the input, or the MSU member named like the inner
    /// package (spooled to an unlinked temporary file: the express index reads ranges in any
    /// order). `wim` reopens a WIM-format MSU. Fails naming where the `.psf` was expected.
    pub fn open_psf(&self, wim: Option<WimOpener<'_>>) -> Result<Psf<Spooled>, Error> {
        let found = match &self.psf {
            None => Found::Missing(Some(crate::psf::psf_beside(&self.input).display().to_string())),
            Some(PsfPlace::Beside(input)) => PsfSite::Beside(input).open()?,
            Some(PsfPlace::MsuMember { msu, inner, limits }) => match open_input(msu, *limits, wim)? {
                Input::Msu(mut opened) => PsfSite::Msu { msu: &mut opened, inner }.open()?,
                _ => {
                    return Err(Error::PsfMissing {
                        package: self.label.clone(),
                        expected: format!("{}: no longer an MSU", msu.display()),
                    })
                }
            },
        };
        match found {
            Found::Psf(psf) => Ok(psf),
            Found::Missing(expected) => Err(Error::PsfMissing {
                package: self.label.clone(),
                expected: expected.unwrap_or_else(|| "the .psf".into()),
            }),
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
