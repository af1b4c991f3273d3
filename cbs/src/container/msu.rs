//! [`Msu`]: an MSU package (classic or combined) opened as a cabinet, with its inner CBS cabs,
//! `*-pkgProperties.txt` and unattend `.xml`.
//!
//! Inner cabs are opened from the outer member's bytes ([`Cabinet::open_nested`]): in memory up to
//! [`SPOOL_IN_MEMORY_MAX`](super::SPOOL_IN_MEMORY_MAX), else spooled to an unlinked temporary file
//! (a Windows 11 LCU cab is hundreds of MiB; holding it in memory would make memory grow with the
//! package, and an unlinked file disappears even when the process is killed).

use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::Path;

use super::cab::{Cabinet, MemberInfo, Spooled};
use super::error::{Error, Result};
use super::kind::{classify_cabinet, is_aggregated_metadata, ContainerKind};
use super::limits::Limits;
use super::text::decode_text;

/// The most bytes read from a text member (`*-pkgProperties.txt`, the unattend `.xml`).
pub const TEXT_MEMBER_MAX: u64 = 1 << 20;

/// The `Key="Value"` lines of an MSU's `*-pkgProperties.txt`, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PkgProperties {
    entries: Vec<(String, String)>,
}

impl PkgProperties {
    /// Parses the file's bytes (ASCII/UTF-8, or UTF-16 with a BOM). Lines without `=` are skipped;
    /// a value's surrounding double quotes are removed.
    pub fn parse(bytes: &[u8]) -> PkgProperties {
        let text = decode_text(bytes);
        let entries = text
            .lines()
            .filter_map(|line| {
                let (key, value) = line.split_once('=')?;
                let key = key.trim();
                if key.is_empty() {
                    return None;
                }
                let value = value.trim();
                let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
                Some((key.to_owned(), value.to_owned()))
            })
            .collect();
        PkgProperties { entries }
    }

    /// Every key and value, in file order.
    pub fn entries(&self) -> &[(String, String)] {
        &self.entries
    }

    /// The value of `key` (compared case-insensitively).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_str())
    }

    /// `KB Article Number`, e.g. `2584475`.
    pub fn kb_article_number(&self) -> Option<&str> {
        self.get("KB Article Number")
    }

    /// `Package Type`, e.g. `Hotfix`, `Update`, `Security Update`.
    pub fn package_type(&self) -> Option<&str> {
        self.get("Package Type")
    }

    /// `Processor Architecture`, e.g. `amd64`.
    pub fn processor_architecture(&self) -> Option<&str> {
        self.get("Processor Architecture")
    }

    /// `Applies to`, e.g. `Windows 6.1`.
    pub fn applies_to(&self) -> Option<&str> {
        self.get("Applies to")
    }
}

/// An MSU opened for reading.
pub struct Msu<R> {
    cab: Cabinet<R>,
    kind: ContainerKind,
    inner_cabs: Vec<String>,
    skipped: Vec<(String, &'static str)>,
    psf: Vec<String>,
    properties: Option<PkgProperties>,
    unattend: Option<String>,
}

impl<R> fmt::Debug for Msu<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Msu")
            .field("cab", &self.cab)
            .field("kind", &self.kind)
            .field("inner_cabs", &self.inner_cabs)
            .field("psf", &self.psf)
            .field("properties", &self.properties)
            .finish_non_exhaustive()
    }
}

impl Msu<BufReader<File>> {
    /// Opens the MSU at `path`.
    pub fn open(path: impl AsRef<Path>, limits: Limits) -> Result<Self> {
        Msu::from_cabinet(Cabinet::open(path, limits)?)
    }
}

impl<R: Read + Seek> Msu<R> {
    /// Takes an opened cabinet as an MSU: classifies it (a cab of another kind is
    /// [`Error::Unsupported`]), finds the inner cabs and reads the properties and unattend text.
    pub fn from_cabinet(mut cab: Cabinet<R>) -> Result<Self> {
        let kind = classify_cabinet(&mut cab)?;
        if !matches!(kind, ContainerKind::Msu | ContainerKind::CombinedMsu) {
            return Err(Error::Unsupported {
                package: cab.package().to_owned(),
                member: None,
                detail: format!("not an MSU: {kind}"),
            });
        }
        let root: Vec<MemberInfo> = cab.members().iter().filter(|m| !m.path.contains('/')).cloned().collect();
        let lower = |m: &MemberInfo| m.name.to_ascii_lowercase();
        let mut inner_cabs: Vec<String> = root
            .iter()
            .filter(|m| msu_member(&m.name) == MsuMember::Package && lower(m).ends_with(".cab"))
            .map(|m| m.name.clone())
            .collect();
        let skipped = root
            .iter()
            .filter_map(|m| match msu_member(&m.name) {
                MsuMember::NotForTheImage(why) => Some((m.name.clone(), why)),
                _ => None,
            })
            .collect();
        // The servicing stack goes first (a stable sort keeps the rest in archive order).
        inner_cabs.sort_by_key(|n| !crate::name::starts_with_ci(n, "ssu-"));
        let psf = root.iter().filter(|m| lower(m).ends_with(".psf")).map(|m| m.name.clone()).collect();
        let properties = match root.iter().find(|m| lower(m).ends_with("-pkgproperties.txt")) {
            Some(m) => Some(PkgProperties::parse(&cab.read_member(&m.name, TEXT_MEMBER_MAX)?)),
            None => None,
        };
        let unattend = match root.iter().find(|m| lower(m).ends_with(".xml")) {
            Some(m) => Some(decode_text(&cab.read_member(&m.name, TEXT_MEMBER_MAX)?)),
            None => None,
        };
        Ok(Msu { cab, kind, inner_cabs, skipped, psf, properties, unattend })
    }

    /// [`ContainerKind::Msu`] or [`ContainerKind::CombinedMsu`].
    pub fn kind(&self) -> &ContainerKind {
        &self.kind
    }

    /// The package's name in errors.
    pub fn package(&self) -> &str {
        self.cab.package()
    }

    /// The outer cab's members.
    pub fn members(&self) -> &[MemberInfo] {
        self.cab.members()
    }

    /// The inner CBS cabs, `SSU-*.cab` first, then the others in archive order. `WSUSSCAN.cab`,
    /// `*AggregatedMetadata*.cab` and `DesktopDeployment*.cab` are not among them.
    pub fn inner_cab_names(&self) -> &[String] {
        &self.inner_cabs
    }

    /// The root members that are not for the OS image (WSUS scan data, Setup's dynamic update,
    /// aggregated metadata), each with why: not installed, named in the servicing log.
    pub fn skipped_members(&self) -> &[(String, &'static str)] {
        &self.skipped
    }

    /// The `.psf` payload files (combined MSUs; the LCU cab's express payload).
    pub fn psf_names(&self) -> &[String] {
        &self.psf
    }

    /// The parsed `*-pkgProperties.txt`, if the MSU has one.
    pub fn properties(&self) -> Option<&PkgProperties> {
        self.properties.as_ref()
    }

    /// The KB number: `KB Article Number` of the properties, else the digits after `KB` in the first
    /// inner cab's name.
    pub fn kb_number(&self) -> Option<String> {
        if let Some(kb) = self.properties.as_ref().and_then(PkgProperties::kb_article_number) {
            return Some(kb.to_owned());
        }
        self.inner_cabs.iter().find_map(|name| crate::name::kb_in_file_name(name))
    }

    /// The text of the unattend `.xml` (classic MSUs), decoded.
    pub fn unattend_xml(&self) -> Option<&str> {
        self.unattend.as_deref()
    }

    /// Opens an inner cab (see [`Cabinet::open_nested`]).
    pub fn open_inner(&mut self, name: &str, scratch_dir: Option<&Path>) -> Result<Cabinet<Spooled>> {
        self.cab.open_nested(name, scratch_dir)
    }

    /// The outer cabinet.
    pub fn cabinet(&self) -> &Cabinet<R> {
        &self.cab
    }

    /// The outer cabinet, to read other members.
    pub fn cabinet_mut(&mut self) -> &mut Cabinet<R> {
        &mut self.cab
    }

    /// Gives the outer cabinet back.
    pub fn into_cabinet(self) -> Cabinet<R> {
        self.cab
    }
}

/// What a root member of an MSU (cab or WIM form) is to offline servicing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsuMember {
    /// An update package the image takes: an inner `.cab` (the servicing stack, the LCU), or the LCU
    /// `.wim` of a WIM-format MSU.
    Package,
    /// Shipped in the MSU for something other than the OS image; the reason says what.
    NotForTheImage(&'static str),
    /// Anything else (properties, unattend text, a `.psf` payload): read where needed, not a package.
    Other,
}

/// Classifies an MSU's root member by its name, the way the installer does: the one rule used for
/// both MSU forms.
pub fn msu_member(name: &str) -> MsuMember {
    let n = name.to_ascii_lowercase();
    if n == "wsusscan.cab" {
        MsuMember::NotForTheImage("WSUS scan metadata for update servers")
    } else if n.starts_with("desktopdeployment") && n.ends_with(".cab") {
        MsuMember::NotForTheImage("Setup's dynamic update for in-place upgrades (DesktopDeployment)")
    } else if is_aggregated_metadata(&n) {
        MsuMember::NotForTheImage("aggregated metadata of the update (hotpatch and express download data)")
    } else if n.ends_with(".mumx.esd") {
        MsuMember::NotForTheImage("package metadata for online installation")
    } else if n.ends_with(".cab") || n.ends_with(".wim") {
        MsuMember::Package
    } else {
        MsuMember::Other
    }
}
