//! Expanding a `_manifest_.cix.xml` container index: every file it lists, rebuilt from the cab
//! members that store it (raw, PA30 against nothing, PA30 against another file of the index, or a
//! copy of another file), checked against the index's hashes.
//!
//! Files are produced in dependency order (a basis before the files made from it). A basis is
//! kept in memory only until the last file that needs it is built.

use std::collections::{HashMap, HashSet};

use sha1::Sha1;
use sha2::{Digest, Sha256};
use thiserror::Error;

use super::hash::hex;
use super::{apply_pa30, DeltaError, DeltaLimits};
use crate::cix::{BasisError, CixFile, CixHash, ContainerIndex, SourceType};
use crate::container::{self, PackageSource};

/// One expanded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpandedFile {
    /// `id` in the index.
    pub id: u32,
    /// The file's path in the expanded package as the index writes it: `<key form>\<file>` for
    /// payloads, a bare name for manifests and catalogs.
    pub name: String,
    /// The file's bytes (their length and hash checked against the index).
    pub bytes: Vec<u8>,
    /// Last-write time, a FILETIME, from the index.
    pub time: Option<u64>,
    /// Windows file attributes, from the index.
    pub attr: Option<u32>,
}

/// Why a container index could not be expanded. Every variant names the package and the file (and
/// the cab member, where one is involved).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ExpandError {
    /// Reading a member failed (the container error names the package and member).
    #[error(transparent)]
    Container(#[from] container::Error),
    /// A delta member could not be applied.
    #[error("{package}: {file} (member {member}): {source}")]
    Delta {
        /// The package.
        package: String,
        /// The file being expanded.
        file: String,
        /// The cab member holding the delta.
        member: String,
        /// What is wrong with the delta (boxed: it is the largest variant).
        #[source]
        source: Box<DeltaError>,
    },
    /// A `<Basis>` reference is dangling, loops, or is not one file.
    #[error("{package}: {file}: {source}")]
    Basis {
        /// The package.
        package: String,
        /// The file being expanded.
        file: String,
        /// The problem.
        #[source]
        source: BasisError,
    },
    /// A file is stored in a way this expansion does not handle (PA19, PA31, a `.psf` byte range).
    #[error("{package}: {file}: {what} is not supported")]
    Unsupported {
        /// The package.
        package: String,
        /// The file.
        file: String,
        /// What is not supported.
        what: String,
    },
    /// Bytes (a stored member or an expanded file) do not have the hash the index gives.
    #[error("{package}: {what} has {algorithm} {actual}, the index says {expected}")]
    HashMismatch {
        /// The package.
        package: String,
        /// `file <name>` or `member <name> (stored bytes of <file>)`.
        what: String,
        /// `SHA1` or `SHA256`.
        algorithm: &'static str,
        /// The hash in the index, hex.
        expected: String,
        /// The hash of the bytes, hex.
        actual: String,
    },
    /// An expanded file does not have the index's length.
    #[error("{package}: {file} is {actual} bytes, the index says {expected}")]
    LengthMismatch {
        /// The package.
        package: String,
        /// The file.
        file: String,
        /// The index's `length`.
        expected: u64,
        /// The expanded size.
        actual: u64,
    },
}

impl ExpandError {
    /// The one file of the index this error is about, when the rest of the index can still be
    /// expanded without it: a delta that cannot be applied, or bytes with the wrong length or
    /// hash. Errors of the package as a whole (reading the cab, a broken `<Basis>`) give `None`.
    pub fn file(&self) -> Option<&str> {
        match self {
            ExpandError::Delta { file, .. }
            | ExpandError::Unsupported { file, .. }
            | ExpandError::LengthMismatch { file, .. } => Some(file),
            // `what` is written by `check_hash` in one of its two forms.
            ExpandError::HashMismatch { what, .. } => {
                what.strip_prefix("file ").or_else(|| what.split_once(" (stored bytes of ")?.1.strip_suffix(')'))
            }
            _ => None,
        }
    }
}

/// Expands every file of `index` from `src` and returns them in dependency order.
pub fn expand_index(
    src: &mut dyn PackageSource,
    index: &ContainerIndex,
    limits: &DeltaLimits,
) -> Result<Vec<ExpandedFile>, ExpandError> {
    let mut out = Vec::with_capacity(index.files.len());
    for_each_expanded(src, index, limits, |file| {
        out.push(file);
        Ok(())
    })?;
    Ok(out)
}

/// Expands every file of `index` from `src`, handing each to `sink` as soon as it is built and
/// checked (in dependency order); an error from `sink` stops the expansion. Returns how many files
/// were expanded.
pub fn for_each_expanded(
    src: &mut dyn PackageSource,
    index: &ContainerIndex,
    limits: &DeltaLimits,
    mut sink: impl FnMut(ExpandedFile) -> Result<(), ExpandError>,
) -> Result<usize, ExpandError> {
    let package = src.package().to_owned();
    // How many files still need each file as their basis (or copy source).
    let mut wanted: HashMap<u32, usize> = HashMap::new();
    for f in &index.files {
        for &b in f.delta.iter().flat_map(|d| d.basis.iter()) {
            *wanted.entry(b).or_default() += 1;
        }
    }
    let mut kept: HashMap<u32, Vec<u8>> = HashMap::new();
    let mut done: HashSet<u32> = HashSet::new();
    let mut count = 0;
    for f in &index.files {
        if done.contains(&f.id) {
            continue;
        }
        let chain = index.basis_chain(f.id).map_err(|source| ExpandError::Basis {
            package: package.clone(),
            file: f.name.clone(),
            source,
        })?;
        // The chain runs from the file to a file needing no basis: build it from that end.
        for &id in chain.iter().rev() {
            if done.contains(&id) {
                continue;
            }
            let entry = index.file(id).ok_or_else(|| ExpandError::Basis {
                package: package.clone(),
                file: f.name.clone(),
                source: BasisError::UnknownFile(id),
            })?;
            let basis_id = entry.delta.as_ref().and_then(|d| d.basis.first().copied());
            let bytes = {
                let basis = basis_id.and_then(|b| kept.get(&b)).map(Vec::as_slice);
                build(src, &package, entry, basis, limits)?
            };
            check_file(&package, entry, &bytes)?;
            if let Some(b) = basis_id {
                release(&mut wanted, &mut kept, b);
            }
            if wanted.get(&id).is_some_and(|n| *n > 0) {
                kept.insert(id, bytes.clone());
            }
            done.insert(id);
            count += 1;
            sink(ExpandedFile { id, name: entry.name.clone(), bytes, time: entry.time, attr: entry.attr })?;
        }
    }
    Ok(count)
}

/// One fewer file needs `id`; forget its bytes when none does.
fn release(wanted: &mut HashMap<u32, usize>, kept: &mut HashMap<u32, Vec<u8>>, id: u32) {
    if let Some(n) = wanted.get_mut(&id) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            kept.remove(&id);
        }
    }
}

/// Builds one file's bytes; `basis` is its expanded basis, when it has one.
fn build(
    src: &mut dyn PackageSource,
    package: &str,
    f: &CixFile,
    basis: Option<&[u8]>,
    limits: &DeltaLimits,
) -> Result<Vec<u8>, ExpandError> {
    let unsupported =
        |what: String| ExpandError::Unsupported { package: package.to_owned(), file: f.name.clone(), what };
    let Some(delta) = &f.delta else {
        // No <Delta>: the file is stored under its own name.
        let member = f.name.replace('\\', "/");
        return Ok(src.read(&member, f.length)?);
    };
    let basis_missing = || ExpandError::Basis {
        package: package.to_owned(),
        file: f.name.clone(),
        source: BasisError::UnknownFile(delta.basis.first().copied().unwrap_or(f.id)),
    };
    if delta.basis.len() > 1 {
        return Err(ExpandError::Basis {
            package: package.to_owned(),
            file: f.name.clone(),
            source: BasisError::SeveralBases(f.id),
        });
    }
    let Some(source) = &delta.source else {
        // A copy of its basis.
        return basis.map(<[u8]>::to_vec).ok_or_else(basis_missing);
    };
    let Some(member) = &source.name else {
        return Err(unsupported(format!("a {} source at a byte range of the .psf", source.source_type)));
    };
    let limit = match source.source_type {
        SourceType::Raw => f.length,
        _ => limits.max_delta_bytes,
    };
    let stored = src.read(member, limit)?;
    if let Some(hash) = &source.hash {
        check_hash(package, &format!("member {member} (stored bytes of {})", f.name), hash, &stored)?;
    }
    match source.source_type {
        SourceType::Raw => Ok(stored),
        SourceType::Pa30 => {
            let basis = match delta.basis.first() {
                Some(_) => basis.ok_or_else(basis_missing)?,
                None => &[],
            };
            apply_pa30(basis, &stored, limits).map_err(|source| ExpandError::Delta {
                package: package.to_owned(),
                file: f.name.clone(),
                member: member.clone(),
                source: Box::new(source),
            })
        }
        other => Err(unsupported(format!("{other} delta (member {member})"))),
    }
}

fn check_file(package: &str, f: &CixFile, bytes: &[u8]) -> Result<(), ExpandError> {
    if bytes.len() as u64 != f.length {
        return Err(ExpandError::LengthMismatch {
            package: package.to_owned(),
            file: f.name.clone(),
            expected: f.length,
            actual: bytes.len() as u64,
        });
    }
    match &f.hash {
        Some(hash) => check_hash(package, &format!("file {}", f.name), hash, bytes),
        None => Ok(()),
    }
}

fn check_hash(package: &str, what: &str, want: &CixHash, bytes: &[u8]) -> Result<(), ExpandError> {
    let actual = match want {
        CixHash::Sha1(_) => Sha1::digest(bytes).to_vec(),
        CixHash::Sha256(_) => Sha256::digest(bytes).to_vec(),
    };
    if actual != want.bytes() {
        return Err(ExpandError::HashMismatch {
            package: package.to_owned(),
            what: what.to_owned(),
            algorithm: want.algorithm(),
            expected: hex(want.bytes()),
            actual: hex(&actual),
        });
    }
    Ok(())
}
