//! What kind of package a file is, from its first bytes and its member names.

use std::fmt;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use super::cab::Cabinet;
use super::error::{Error, Result};
use super::limits::Limits;
use super::member_name::{file_name, normalize_member_name};
use super::source::WimContent;

/// The reason given for a Defender definition or platform update.
pub const DEFENDER_REASON: &str = "Defender definition/platform package: not a CBS package";
/// The reason given for a cab without `update.mum` that is not recognised otherwise.
pub const NO_UPDATE_MUM_REASON: &str = "no update.mum: not a CBS package (for example a Setup Dynamic Update cab)";
/// The reason given for a hotpatch update.
pub const HOTPATCH_REASON: &str = "hotpatch package: not applicable offline";

/// The kind of an update package file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ContainerKind {
    /// A CBS package cab: `update.mum` at its root (what DISM installs).
    CbsCab,
    /// A classic MSU: a cab holding the CBS cab, `WSUSSCAN.cab`, `*-pkgProperties.txt` and the
    /// unattend `.xml`.
    Msu,
    /// A combined SSU+LCU MSU (or the Windows 10 "combined cab"): `SSU-*.cab`,
    /// `*AggregatedMetadata*.cab`, `DesktopDeployment*.cab` and/or a `.psf` beside the LCU.
    CombinedMsu,
    /// An MSU that is a WIM (`MSWIM\0\0\0`), Windows 11 24H2 and later; its content is read through
    /// the engine's [`WimContent`].
    WimMsu,
    /// Something that is not a package this tool applies; the text says what it is.
    Unsupported(String),
}

impl ContainerKind {
    /// Whether the kind is one the servicing engine can take.
    pub fn is_supported(&self) -> bool {
        !matches!(self, ContainerKind::Unsupported(_))
    }
}

impl fmt::Display for ContainerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContainerKind::CbsCab => f.write_str("CBS package cab"),
            ContainerKind::Msu => f.write_str("MSU"),
            ContainerKind::CombinedMsu => f.write_str("combined SSU+LCU MSU"),
            ContainerKind::WimMsu => f.write_str("WIM-format MSU"),
            ContainerKind::Unsupported(why) => write!(f, "unsupported ({why})"),
        }
    }
}

/// The file type told by the first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Magic {
    /// `MSCF` (or a prefix of it, for a file shorter than 4 bytes).
    Cabinet,
    /// `MSWIM\0\0\0`.
    Wim,
    /// `MZ`: a Windows executable.
    Executable,
    /// `D0 CF 11 E0 A1 B1 1A E1`: an OLE compound file (.msi, .msp).
    CompoundFile,
    /// `PK\x03\x04`: a ZIP archive (.zip, .appx, .msix).
    Zip,
    /// Anything else.
    Unknown,
}

/// Tells the file type from up to its first 8 bytes.
pub fn sniff(prefix: &[u8]) -> Magic {
    const OLE: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    if !prefix.is_empty() && b"MSCF".starts_with(&prefix[..prefix.len().min(4)]) {
        Magic::Cabinet
    } else if prefix.starts_with(b"MSWIM\0\0\0") {
        Magic::Wim
    } else if prefix.starts_with(b"MZ") {
        Magic::Executable
    } else if prefix.starts_with(OLE) {
        Magic::CompoundFile
    } else if prefix.starts_with(b"PK\x03\x04") {
        Magic::Zip
    } else {
        Magic::Unknown
    }
}

/// Detects the kind of the package file at `path`.
pub fn detect_path(path: impl AsRef<Path>, limits: Limits) -> Result<ContainerKind> {
    let path = path.as_ref();
    let package = path.display().to_string();
    let (file, _) = crate::regular_file::open_regular(path).map_err(|source| Error::Io {
        package: package.clone(),
        member: None,
        source,
    })?;
    match detect(BufReader::new(file), &package, limits) {
        // A `.cab`/`.msu` that is not one is broken; any other file of no known type (a README
        // beside the packages, a checksum list) is simply not an update package, as DISM reports it.
        Err(Error::NotACabinet { .. }) if !claims_to_be_a_package(path) => {
            let what = path
                .extension()
                .map_or("a file without extension".to_owned(), |e| format!("a .{} file", e.to_string_lossy()));
            Ok(ContainerKind::Unsupported(format!("{what} of no known package type: not a CBS package")))
        }
        other => other,
    }
}

/// Whether the name says update package (`.cab`, `.msu`, `.wim`, `.psf`): then content of no known
/// type means a broken package, not another kind of file.
fn claims_to_be_a_package(path: &Path) -> bool {
    path.extension().is_some_and(|e| ["cab", "msu", "wim", "psf"].iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// Detects the kind of the package in `reader` (named `package` in errors). A cabinet is opened
/// and classified by its members ([`classify_cabinet`]); other types are told by their magic. A
/// file of no known type is [`Error::NotACabinet`].
pub fn detect<R: Read + Seek>(mut reader: R, package: &str, limits: Limits) -> Result<ContainerKind> {
    let io_err = |source| Error::Io { package: package.to_owned(), member: None, source };
    let mut prefix = Vec::with_capacity(8);
    reader.by_ref().take(8).read_to_end(&mut prefix).map_err(io_err)?;
    reader.seek(SeekFrom::Start(0)).map_err(io_err)?;
    Ok(match sniff(&prefix) {
        Magic::Cabinet => {
            let mut cab = Cabinet::new(reader, package, limits)?;
            classify_cabinet(&mut cab)?
        }
        Magic::Wim => ContainerKind::WimMsu,
        Magic::Executable => {
            ContainerKind::Unsupported("Windows executable (.exe, MZ header): not a CBS package".to_owned())
        }
        Magic::CompoundFile => {
            ContainerKind::Unsupported("OLE compound file (.msi/.msp, Windows Installer): not a CBS package".to_owned())
        }
        Magic::Zip => ContainerKind::Unsupported("ZIP archive (.zip/.appx/.msix): not a CBS package".to_owned()),
        Magic::Unknown => return Err(Error::NotACabinet { package: package.to_owned() }),
    })
}

/// What the member names of a package say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Layout {
    Cbs,
    /// With the `*AggregatedMetadata*.cab` members to look into for hotpatch metadata.
    Combined(Vec<String>),
    Classic,
    Defender,
    Other,
}

fn lower_root_names<'a>(names: &'a [&'a str]) -> impl Iterator<Item = String> + 'a {
    names.iter().filter(|n| !n.contains(['\\', '/'])).map(|n| n.to_ascii_lowercase())
}

pub(crate) fn is_aggregated_metadata(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.ends_with(".cab") && n.contains("aggregatedmetadata")
}

/// Classifies a package by the names of its members (as stored; either separator).
pub(crate) fn layout(names: &[&str]) -> Layout {
    if lower_root_names(names).any(|n| n == "update.mum") {
        return Layout::Cbs;
    }
    let combined = lower_root_names(names).any(|n| {
        (n.starts_with("ssu-") && n.ends_with(".cab"))
            || (n.starts_with("desktopdeployment") && n.ends_with(".cab"))
            || n.ends_with(".psf")
            || is_aggregated_metadata(&n)
    });
    if combined {
        let aggregated = names.iter().filter(|n| !n.contains(['\\', '/']) && is_aggregated_metadata(n));
        return Layout::Combined(aggregated.map(|n| (*n).to_owned()).collect());
    }
    let has_scan = lower_root_names(names).any(|n| n == "wsusscan.cab");
    let has_properties = lower_root_names(names).any(|n| n.ends_with("-pkgproperties.txt"));
    let has_inner = lower_root_names(names).any(|n| n.ends_with(".cab") && n != "wsusscan.cab");
    if has_scan && has_properties && has_inner {
        return Layout::Classic;
    }
    let defender = names.iter().any(|n| {
        let lower = n.to_ascii_lowercase();
        let file = file_name(&lower);
        file.starts_with("mpam")
            || lower.contains("definition updates")
            || lower.contains("defender")
            || matches!(file, "mpasbase.vdm" | "mpasdlta.vdm" | "mpavbase.vdm" | "mpavdlta.vdm" | "mpengine.dll")
    });
    if defender {
        Layout::Defender
    } else {
        Layout::Other
    }
}

pub(crate) fn is_hotpatch_metadata(name: &str) -> bool {
    crate::name::starts_with_ci(file_name(name), "hotpatchcompdb")
}

/// Classifies an open cabinet by its members. A combined MSU's `*AggregatedMetadata*.cab` is opened
/// (one level deeper) to look for hotpatch metadata (`HotpatchCompDB*`).
pub fn classify_cabinet<R: Read + Seek>(cab: &mut Cabinet<R>) -> Result<ContainerKind> {
    let names: Vec<String> = cab.members().iter().map(|m| m.name.clone()).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    Ok(match layout(&names) {
        Layout::Cbs => ContainerKind::CbsCab,
        Layout::Combined(aggregated) => {
            for name in aggregated {
                let inner = cab.open_nested(&name, None)?;
                if inner.members().iter().any(|m| is_hotpatch_metadata(&m.name)) {
                    return Ok(ContainerKind::Unsupported(HOTPATCH_REASON.to_owned()));
                }
            }
            ContainerKind::CombinedMsu
        }
        Layout::Classic => ContainerKind::Msu,
        Layout::Defender => ContainerKind::Unsupported(DEFENDER_REASON.to_owned()),
        Layout::Other => ContainerKind::Unsupported(NO_UPDATE_MUM_REASON.to_owned()),
    })
}

/// Classifies the content of a WIM (read through the engine's [`WimContent`]): [`ContainerKind::WimMsu`]
/// for the MSU layout (classic or combined), [`ContainerKind::CbsCab`] for a CBS package held
/// directly (`update.mum` at the root, as in the LCU `.wim` inside a WIM-MSU), and `Unsupported`
/// for a hotpatch or for anything else (an install image, say). Every listed path is checked as a
/// member name.
pub fn classify_wim<W: WimContent + ?Sized>(wim: &W, package: &str, limits: Limits) -> Result<ContainerKind> {
    let names = wim.list()?;
    if names.len() as u64 > limits.max_members {
        return Err(Error::TooLarge {
            package: package.to_owned(),
            member: None,
            limit: super::error::LimitKind::Members,
            size: names.len() as u64,
            max: limits.max_members,
        });
    }
    for name in &names {
        normalize_member_name(name).map_err(|reason| Error::UnsafeMemberName {
            package: package.to_owned(),
            member: name.clone(),
            reason,
        })?;
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    Ok(match layout(&refs) {
        Layout::Cbs => ContainerKind::CbsCab,
        Layout::Combined(aggregated) => {
            for name in aggregated {
                // Spooled, not read whole: past a few MiB it stays on disk.
                let spooled = wim.spool(&name, limits.max_member_bytes)?;
                let inner = Cabinet::new_nested(spooled, format!("{package}!{name}"), limits, 1)?;
                if inner.members().iter().any(|m| is_hotpatch_metadata(&m.name)) {
                    return Ok(ContainerKind::Unsupported(HOTPATCH_REASON.to_owned()));
                }
            }
            ContainerKind::WimMsu
        }
        Layout::Classic => ContainerKind::WimMsu,
        Layout::Defender => ContainerKind::Unsupported(DEFENDER_REASON.to_owned()),
        Layout::Other => ContainerKind::Unsupported(
            "WIM without update.mum or MSU members: not an update package (an install image?)".to_owned(),
        ),
    })
}
