//! Container indexes: `_manifest_.cix.xml` (Windows 7 IPD delta cabs) and `express.psf.cix.xml`
//! (PSFX packages), `cbs-format.md` §1.3.
//!
//! The index lists every file of the package with its size, time, attributes and hash, and says
//! where its bytes come from: a cab member (`<Source name>`) or a byte range of the `.psf`
//! (`<Source offset length>`), stored raw or as a delta (`PA30`, `PA19`, `PA31`) against nothing or
//! against another file (`<Basis file>`).

use std::collections::HashSet;
use std::fmt;

use crate::manifest::decode_hex;
use crate::xml::{self, number, Document, Element, XmlError, XmlErrorKind};

/// A parsed container index.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerIndex {
    /// `name` of `<Container>` (`kb2584475.cab`).
    pub name: String,
    /// `type` (`CAB`, `PSF`, …).
    pub container_type: Option<String>,
    /// `length` of the container in bytes.
    pub length: Option<u64>,
    /// `version` as written.
    pub version: Option<String>,
    /// Text of `<Description>`, when not empty.
    pub description: Option<String>,
    /// `<DeltaBasisSearch><Location>` entries (PSFX), in document order.
    pub basis_search: Vec<BasisLocation>,
    /// `<Files><File>` entries, in document order.
    pub files: Vec<CixFile>,
}

/// One `<DeltaBasisSearch><Location id path flags/>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BasisLocation {
    /// `id` as written.
    pub id: Option<String>,
    /// `path`.
    pub path: String,
    /// `flags` as written.
    pub flags: Option<String>,
}

/// One `<File>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CixFile {
    /// `id`, unique in the index.
    pub id: u32,
    /// `name`: the path of the file in the expanded package (`<keyform>\sffdisk.sys`, `update.mum`).
    pub name: String,
    /// `length` of the expanded file in bytes.
    pub length: u64,
    /// `time`: last-write time as a Windows FILETIME (100 ns units since 1601-01-01 UTC).
    pub time: Option<u64>,
    /// `attr`: Windows file attributes (32 = archive).
    pub attr: Option<u32>,
    /// `<Hash>` of the expanded file.
    pub hash: Option<CixHash>,
    /// `<Delta>`: where the bytes come from.
    pub delta: Option<Delta>,
}

/// A `<Hash alg value/>`; the value is hex in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CixHash {
    /// `alg="SHA1"`.
    Sha1([u8; 20]),
    /// `alg="SHA256"`.
    Sha256([u8; 32]),
}

impl CixHash {
    /// The hash bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            CixHash::Sha1(b) => b,
            CixHash::Sha256(b) => b,
        }
    }

    /// The algorithm name as the index writes it.
    pub fn algorithm(&self) -> &'static str {
        match self {
            CixHash::Sha1(_) => "SHA1",
            CixHash::Sha256(_) => "SHA256",
        }
    }
}

/// How a file's bytes are stored (`<Source type>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceType {
    /// `RAW`: stored as is.
    Raw,
    /// `PA30`: an MSDELTA patch.
    Pa30,
    /// `PA19`: an older mspatcha patch.
    Pa19,
    /// `PA31`: the Windows 11 24H2 delta format (UpdateCompression.dll).
    Pa31,
}

impl SourceType {
    /// Parses `RAW`, `PA30`, `PA19` or `PA31` (any case).
    pub fn parse(text: &str) -> Option<Self> {
        [SourceType::Raw, SourceType::Pa30, SourceType::Pa19, SourceType::Pa31]
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(text))
    }

    /// The name as the index writes it.
    pub fn as_str(&self) -> &'static str {
        match self {
            SourceType::Raw => "RAW",
            SourceType::Pa30 => "PA30",
            SourceType::Pa19 => "PA19",
            SourceType::Pa31 => "PA31",
        }
    }

    /// True for the delta formats.
    pub fn is_delta(&self) -> bool {
        !matches!(self, SourceType::Raw)
    }
}

impl fmt::Display for SourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `<Delta>`: its `<Source>` and the `<Basis>` files the stored bytes apply against.
///
/// Real Windows 7 indexes have three shapes: a `RAW` or `PA30` source with no basis (the bytes, or a
/// delta against nothing), a `PA30` source with one basis (a delta against another file of the
/// index), and no source with one basis: the file is a copy of the basis file (same length and
/// hash in every observed case; KB2465285 has four).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delta {
    /// The `<Source>`, absent when the file is a copy of its basis.
    pub source: Option<DeltaSource>,
    /// `file` ids of the `<Basis>` elements; empty for a delta against nothing.
    pub basis: Vec<u32>,
}

impl Delta {
    /// The basis file id when the file is a plain copy of it (no `<Source>`, one `<Basis>`).
    pub fn copy_of(&self) -> Option<u32> {
        match (&self.source, self.basis.as_slice()) {
            (None, [id]) => Some(*id),
            _ => None,
        }
    }
}

/// A `<Source>`: where the stored bytes are and how they are encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeltaSource {
    /// `type`.
    pub source_type: SourceType,
    /// `name`: the cab member holding the bytes (IPD cabs).
    pub name: Option<String>,
    /// `offset`: where the bytes start in the `.psf` (PSFX).
    pub offset: Option<u64>,
    /// `length`: how many bytes (PSFX).
    pub length: Option<u64>,
    /// `<Hash>` of the stored bytes.
    pub hash: Option<CixHash>,
}

/// Why [`ContainerIndex::basis_chain`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BasisError {
    /// A `<Basis file>` (or the starting id) names no `<File>` of the index.
    #[error("file id {0} is not in the index")]
    UnknownFile(u32),
    /// Following the basis references comes back to this id.
    #[error("basis references loop back to file id {0}")]
    Cycle(u32),
    /// A delta names more than one basis; how to combine them is not known.
    #[error("file id {0} has more than one basis")]
    SeveralBases(u32),
}

impl ContainerIndex {
    /// Parses a `.cix.xml`. `file` names it in errors.
    pub fn parse(bytes: &[u8], file: &str) -> Result<Self, XmlError> {
        Self::from_document(&xml::parse(bytes, file)?)
    }

    /// Reads a parsed document.
    pub fn from_document(doc: &Document) -> Result<Self, XmlError> {
        let file = doc.file.as_str();
        let root = doc.expect_root("Container")?;
        let mut index = ContainerIndex {
            name: root.required_attr(file, "name")?.to_owned(),
            container_type: root.attr("type").map(str::to_owned),
            length: number(file, root, "length")?,
            version: root.attr("version").map(str::to_owned),
            ..Default::default()
        };
        let mut ids = HashSet::new();
        for child in &root.children {
            match child.name.as_str() {
                "Description" => {
                    let text = child.text.trim();
                    if !text.is_empty() {
                        index.description = Some(text.to_owned());
                    }
                }
                "DeltaBasisSearch" => {
                    for location in child.children_named("Location") {
                        index.basis_search.push(BasisLocation {
                            id: location.attr("id").map(str::to_owned),
                            path: location.required_attr(file, "path")?.to_owned(),
                            flags: location.attr("flags").map(str::to_owned),
                        });
                    }
                }
                "Files" => {
                    for entry in child.children_named("File") {
                        let parsed = parse_file(file, entry)?;
                        if !ids.insert(parsed.id) {
                            return Err(XmlError::invalid_value(
                                file,
                                entry,
                                "id",
                                &parsed.id.to_string(),
                                "another <File> has the same id",
                            ));
                        }
                        index.files.push(parsed);
                    }
                }
                _ => {}
            }
        }
        Ok(index)
    }

    /// The file with this id.
    pub fn file(&self, id: u32) -> Option<&CixFile> {
        self.files.iter().find(|f| f.id == id)
    }

    /// The file with this name (compared ASCII case-insensitively, as Windows paths are).
    pub fn file_named(&self, name: &str) -> Option<&CixFile> {
        self.files.iter().find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// The first file stored as a delta (PA30, …) that no other file is made from, with the
    /// member holding its delta: (file, member). Damaging that member touches this file alone.
    pub fn leaf_delta(&self) -> Option<(&CixFile, &str)> {
        let is_basis = |id: u32| self.files.iter().filter_map(|f| f.delta.as_ref()).any(|d| d.basis.contains(&id));
        self.files.iter().filter(|f| !is_basis(f.id)).find_map(|f| {
            let source = f.delta.as_ref()?.source.as_ref().filter(|s| s.source_type.is_delta())?;
            Some((f, source.name.as_deref()?))
        })
    }

    /// The basis chain of a file: its id, then its basis, then the basis's basis, … down to a file
    /// whose bytes need no other file. Expanding the files in reverse order of the chain rebuilds
    /// the first one. Fails on an unknown id, a loop, or a delta with several bases.
    pub fn basis_chain(&self, id: u32) -> Result<Vec<u32>, BasisError> {
        let mut chain = Vec::new();
        let mut current = id;
        loop {
            if chain.contains(&current) {
                return Err(BasisError::Cycle(current));
            }
            let entry = self.file(current).ok_or(BasisError::UnknownFile(current))?;
            chain.push(current);
            match entry.delta.as_ref().map(|d| d.basis.as_slice()) {
                None | Some([]) => return Ok(chain),
                Some([next]) => current = *next,
                Some(_) => return Err(BasisError::SeveralBases(current)),
            }
        }
    }
}

/// Parses a container index; the same as [`ContainerIndex::parse`].
pub fn parse_cix(bytes: &[u8], file: &str) -> Result<ContainerIndex, XmlError> {
    ContainerIndex::parse(bytes, file)
}

/// Converts a FILETIME to seconds and nanoseconds since the Unix epoch (negative before 1970).
pub fn filetime_to_unix(filetime: u64) -> (i64, u32) {
    const UNIX_EPOCH_AS_FILETIME_SECONDS: i64 = 11_644_473_600;
    let seconds = i64::try_from(filetime / 10_000_000).unwrap_or(i64::MAX) - UNIX_EPOCH_AS_FILETIME_SECONDS;
    let nanos = u32::try_from((filetime % 10_000_000) * 100).unwrap_or(0);
    (seconds, nanos)
}

fn required_number<T: std::str::FromStr>(file: &str, e: &Element, attr: &str) -> Result<T, XmlError> {
    number(file, e, attr)?.ok_or_else(|| XmlError::missing_attribute(file, e, attr))
}

fn parse_hash(file: &str, e: &Element) -> Result<CixHash, XmlError> {
    let alg = e.required_attr(file, "alg")?;
    let value = e.required_attr(file, "value")?;
    let bad = |reason: String| XmlError::invalid_value(file, e, "value", value, reason);
    if alg.eq_ignore_ascii_case("SHA1") {
        Ok(CixHash::Sha1(decode_hex::<20>(value).map_err(bad)?))
    } else if alg.eq_ignore_ascii_case("SHA256") {
        Ok(CixHash::Sha256(decode_hex::<32>(value).map_err(bad)?))
    } else {
        Err(XmlError::invalid_value(file, e, "alg", alg, "unsupported hash algorithm (expected SHA1 or SHA256)"))
    }
}

fn parse_file(file: &str, e: &Element) -> Result<CixFile, XmlError> {
    let mut entry = CixFile {
        id: required_number(file, e, "id")?,
        name: e.required_attr(file, "name")?.to_owned(),
        length: required_number(file, e, "length")?,
        time: number(file, e, "time")?,
        attr: number(file, e, "attr")?,
        hash: None,
        delta: None,
    };
    for child in &e.children {
        match child.name.as_str() {
            "Hash" => entry.hash = Some(parse_hash(file, child)?),
            "Delta" => {
                if entry.delta.is_some() {
                    return Err(XmlError::at(
                        file,
                        child,
                        XmlErrorKind::Invalid("<File> has two <Delta> elements".into()),
                    ));
                }
                entry.delta = Some(parse_delta(file, child)?);
            }
            _ => {}
        }
    }
    Ok(entry)
}

fn parse_delta(file: &str, e: &Element) -> Result<Delta, XmlError> {
    let mut sources = e.children_named("Source");
    let source = match sources.next() {
        Some(source) => Some(parse_source(file, source)?),
        None => None,
    };
    if let Some(extra) = sources.next() {
        return Err(XmlError::at(file, extra, XmlErrorKind::Invalid("<Delta> has more than one <Source>".into())));
    }
    let mut basis = Vec::new();
    for b in e.children_named("Basis") {
        basis.push(required_number(file, b, "file")?);
    }
    if source.is_none() && basis.len() != 1 {
        return Err(XmlError::at(
            file,
            e,
            XmlErrorKind::Invalid(format!(
                "<Delta> without <Source> must have exactly one <Basis> (the file it copies), found {}",
                basis.len()
            )),
        ));
    }
    Ok(Delta { source, basis })
}

fn parse_source(file: &str, source: &Element) -> Result<DeltaSource, XmlError> {
    let type_text = source.required_attr(file, "type")?;
    let source_type = SourceType::parse(type_text).ok_or_else(|| {
        XmlError::invalid_value(
            file,
            source,
            "type",
            type_text,
            "unknown source type (expected RAW, PA30, PA19 or PA31)",
        )
    })?;
    let name = source.attr("name").map(str::to_owned);
    let offset: Option<u64> = number(file, source, "offset")?;
    let length: Option<u64> = number(file, source, "length")?;
    match (&name, offset, length) {
        (_, Some(_), None) => return Err(XmlError::missing_attribute(file, source, "length")),
        (_, None, Some(_)) => return Err(XmlError::missing_attribute(file, source, "offset")),
        (None, None, None) => {
            return Err(XmlError::at(
                file,
                source,
                XmlErrorKind::Invalid("<Source> has neither a name nor an offset and length".into()),
            ))
        }
        _ => {}
    }
    if let (Some(offset), Some(length)) = (offset, length) {
        if offset.checked_add(length).is_none() {
            return Err(XmlError::invalid_value(
                file,
                source,
                "length",
                &length.to_string(),
                "offset + length overflows",
            ));
        }
    }
    let hash = match source.child("Hash") {
        Some(h) => Some(parse_hash(file, h)?),
        None => None,
    };
    Ok(DeltaSource { source_type, name, offset, length, hash })
}
