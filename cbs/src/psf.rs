//! PSF express payloads: the `.psf` file beside a Windows 10/11 cumulative update's cab, indexed by
//! the cab's `express.psf.cix.xml` (`cbs-format.md` §1.3).
//!
//! Each `<File>` of the index names a byte range of the `.psf` (`<Source offset length>`) stored
//! `RAW` or as a `PA30`/`PA31` delta against nothing (payload compression; 24H2's "baseless" PA31
//! entries) or against another file of the same index (`<Basis file>`); a `<Delta>` without
//! `<Source>` is a copy of its basis. `PA19` is reported as unsupported with the format named, and so
//! is a PA31 codec the delta decoder does not implement (BsDiff; an LZMS container when no LZMS
//! decoder is registered, see [`crate::codecs`]).
//!
//! The `.psf` is untrusted: every range is checked against its real length and the limits before
//! anything is allocated, and every expanded file is checked against the index's length and hash
//! before the caller sees it. Files are read in `.psf` order (one forward pass when no delta needs
//! a basis stored after it), and only those asked for (plus their bases).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use sha1::Sha1;
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::cix::{BasisError, CixFile, CixHash, ContainerIndex, SourceType};
use crate::delta::{apply_pa30, DeltaError, DeltaLimits, ExpandedFile};

/// The member of a PSFX cab that indexes its `.psf`.
pub const PSF_CIX_NAME: &str = "express.psf.cix.xml";

/// Why a `.psf` could not be expanded. Every variant names the `.psf` and, where one is involved,
/// the file of the index.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PsfError {
    /// Reading (or seeking in) the `.psf` failed.
    #[error("{psf}{}: I/O error: {source}", file.as_deref().map(|f| format!(": {f}")).unwrap_or_default())]
    Io {
        /// The `.psf`.
        psf: String,
        /// The file being read, if any.
        file: Option<String>,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The file has no byte range in the `.psf` (no `<Delta>`, or a `<Source name>` of a cab).
    #[error("{psf}: {file} is not stored in the .psf (its index entry has no <Source offset length>)")]
    NotInPsf {
        /// The `.psf`.
        psf: String,
        /// The file.
        file: String,
    },
    /// The range reaches past the end of the `.psf`: it is truncated or not the one indexed.
    #[error("{psf}: {file}: bytes {offset}..{end} are past the end of the .psf ({psf_length} bytes): the .psf is truncated or does not belong to this index", end = offset.saturating_add(*length))]
    OutOfRange {
        /// The `.psf`.
        psf: String,
        /// The file.
        file: String,
        /// `offset` of its `<Source>`.
        offset: u64,
        /// `length` of its `<Source>`.
        length: u64,
        /// The real length of the `.psf`.
        psf_length: u64,
    },
    /// A size is larger than the limits allow (or a RAW range is not the file's length).
    #[error("{psf}: {file}: {what} is {size} bytes, more than the limit of {max}")]
    TooLarge {
        /// The `.psf`.
        psf: String,
        /// The file.
        file: String,
        /// Which size (`stored RAW bytes`, `stored delta`, `expanded file`).
        what: &'static str,
        /// The size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// A delta format this expansion does not implement (`PA19`, `PA31`).
    #[error("{psf}: {file}: {format} delta is not supported ({reason})")]
    Unsupported {
        /// The `.psf`.
        psf: String,
        /// The file.
        file: String,
        /// `PA19` or `PA31`.
        format: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// A PA30 delta could not be applied.
    #[error("{psf}: {file}: {source}")]
    Delta {
        /// The `.psf`.
        psf: String,
        /// The file.
        file: String,
        /// What is wrong with the delta (boxed: it is the largest variant).
        #[source]
        source: Box<DeltaError>,
    },
    /// A `<Basis>` reference loops or is not one file.
    #[error("{psf}: {file}: {source}")]
    Basis {
        /// The `.psf`.
        psf: String,
        /// The file.
        file: String,
        /// The problem.
        #[source]
        source: BasisError,
    },
    /// A delta's basis is not a file of the index: it is a file installed in the image, which an
    /// offline expansion of the package alone cannot have.
    #[error("{psf}: {file}: its <Basis> is file id {basis}, which is not in the index (a file installed in the image); deltas against installed files are not supported")]
    InstalledBasis {
        /// The `.psf`.
        psf: String,
        /// The file.
        file: String,
        /// The basis id.
        basis: u32,
    },
    /// Bytes (stored or expanded) do not have the hash the index gives; nothing is handed out.
    #[error("{psf}: {what} has {algorithm} {actual}, the index says {expected}")]
    HashMismatch {
        /// The `.psf`.
        psf: String,
        /// `file <name>` or `stored bytes of <name>`.
        what: String,
        /// `SHA1` or `SHA256`.
        algorithm: &'static str,
        /// The hash in the index, hex.
        expected: String,
        /// The hash of the bytes, hex.
        actual: String,
    },
    /// An expanded file does not have the index's length.
    #[error("{psf}: {file} is {actual} bytes, the index says {expected}")]
    LengthMismatch {
        /// The `.psf`.
        psf: String,
        /// The file.
        file: String,
        /// The index's `length`.
        expected: u64,
        /// The expanded size.
        actual: u64,
    },
}

/// An open `.psf`: a seekable reader, its name in errors and its real length.
#[derive(Debug)]
pub struct Psf<R> {
    reader: R,
    name: String,
    length: u64,
    /// Where the reader is, so that reading ranges in order never seeks (a seek drops the
    /// buffer of a `BufReader`).
    position: u64,
}

impl Psf<BufReader<File>> {
    /// Opens the `.psf` at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, PsfError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let (file, _) = crate::regular_file::open_regular(path).map_err(|source| PsfError::Io {
            psf: name.clone(),
            file: None,
            source,
        })?;
        Psf::new(BufReader::new(file), name)
    }
}

impl<R: Read + Seek> Psf<R> {
    /// Takes `reader` as a `.psf` named `name` in errors; its length is measured here.
    pub fn new(mut reader: R, name: impl Into<String>) -> Result<Self, PsfError> {
        let name = name.into();
        let io = |source| PsfError::Io { psf: name.clone(), file: None, source };
        let length = reader.seek(SeekFrom::End(0)).map_err(io)?;
        reader.seek(SeekFrom::Start(0)).map_err(io)?;
        Ok(Psf { reader, name, length, position: 0 })
    }

    /// The name in errors.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The real length in bytes.
    pub fn len(&self) -> u64 {
        self.length
    }

    /// Whether the `.psf` is empty.
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// The `length` bytes at `offset`, checked against the real length and `max` first.
    fn read_range(
        &mut self,
        file: &str,
        offset: u64,
        length: u64,
        what: &'static str,
        max: u64,
    ) -> Result<Vec<u8>, PsfError> {
        if length > max {
            return Err(PsfError::TooLarge { psf: self.name.clone(), file: file.to_owned(), what, size: length, max });
        }
        if offset.checked_add(length).is_none_or(|end| end > self.length) {
            return Err(PsfError::OutOfRange {
                psf: self.name.clone(),
                file: file.to_owned(),
                offset,
                length,
                psf_length: self.length,
            });
        }
        let io = |source| PsfError::Io { psf: self.name.clone(), file: Some(file.to_owned()), source };
        if offset != self.position {
            self.reader.seek(SeekFrom::Start(offset)).map_err(io)?;
        }
        // Bounded above: `length` fits both the limit and the file.
        let mut out = vec![0u8; length as usize];
        let read = self.reader.read_exact(&mut out);
        // After a failed read the position is unknown: force a seek next time.
        self.position = if read.is_ok() { offset + length } else { u64::MAX };
        read.map_err(io)?;
        Ok(out)
    }
}

/// True when the `.psf` holds the file's bytes (a byte range) or the file is a copy of another
/// file of the index.
pub fn stored_in_psf(f: &CixFile) -> bool {
    match &f.delta {
        Some(d) => match &d.source {
            Some(s) => s.offset.is_some() && s.length.is_some(),
            None => d.copy_of().is_some(),
        },
        None => false,
    }
}

/// Expands every file of `index` from `psf`, handing each to `sink` once it is built and checked.
/// See [`for_each_psf_file_where`].
pub fn for_each_psf_file<R, E>(
    psf: &mut Psf<R>,
    index: &ContainerIndex,
    limits: &DeltaLimits,
    sink: impl FnMut(ExpandedFile) -> Result<(), E>,
) -> Result<usize, E>
where
    R: Read + Seek,
    E: From<PsfError>,
{
    for_each_psf_file_where(psf, index, limits, |_| true, sink)
}

/// Expands the files of `index` that `wanted` selects (and, without handing them out, the files
/// they are deltas against), in `.psf` order, each checked against the index's length and hash
/// before `sink` sees it. An error from `sink` stops the expansion. Returns how many files were
/// handed to `sink`.
///
/// A selected file the `.psf` does not store is [`PsfError::NotInPsf`]; `PA19` entries are
/// [`PsfError::Unsupported`]; a basis that is not in the index is [`PsfError::InstalledBasis`].
pub fn for_each_psf_file_where<R, E>(
    psf: &mut Psf<R>,
    index: &ContainerIndex,
    limits: &DeltaLimits,
    wanted: impl Fn(&CixFile) -> bool,
    mut sink: impl FnMut(ExpandedFile) -> Result<(), E>,
) -> Result<usize, E>
where
    R: Read + Seek,
    E: From<PsfError>,
{
    let name = psf.name.clone();
    let chains = needed_chains(&name, index, &wanted)?;
    let selected: HashSet<u32> = chains.iter().map(|c| c[0]).collect();
    // How many files still need each file as their basis: a basis is dropped after its last use.
    let mut uses: HashMap<u32, usize> = HashMap::new();
    let mut seen = HashSet::new();
    for chain in &chains {
        for pair in chain.windows(2) {
            if seen.insert(pair[0]) {
                *uses.entry(pair[1]).or_default() += 1;
            }
        }
    }
    let mut kept: HashMap<u32, Vec<u8>> = HashMap::new();
    let mut done: HashSet<u32> = HashSet::new();
    let mut count = 0;
    for chain in &chains {
        // The chain runs from the file to one needing no basis: build from that end.
        for &id in chain.iter().rev() {
            if !done.insert(id) {
                continue;
            }
            let entry = index.file(id).expect("needed_chains checked every id");
            let basis_id = entry.delta.as_ref().and_then(|d| d.basis.first().copied());
            let bytes = build(psf, entry, basis_id.and_then(|b| kept.get(&b)).map(Vec::as_slice), limits)?;
            check_file(&name, entry, &bytes)?;
            if let Some(b) = basis_id {
                if let Some(n) = uses.get_mut(&b) {
                    *n -= 1;
                    if *n == 0 {
                        kept.remove(&b);
                    }
                }
            }
            let needed_later = uses.get(&id).is_some_and(|n| *n > 0);
            if selected.contains(&id) {
                let file = ExpandedFile { id, name: entry.name.clone(), bytes, time: entry.time, attr: entry.attr };
                if needed_later {
                    kept.insert(id, file.bytes.clone());
                }
                count += 1;
                sink(file)?;
            } else if needed_later {
                kept.insert(id, bytes);
            }
        }
    }
    Ok(count)
}

/// For each selected file, its basis chain (the file first), checked: every file stored in the
/// `.psf`, every basis in the index, no loop. Sorted so that files are read in `.psf` order.
fn needed_chains(
    psf: &str,
    index: &ContainerIndex,
    wanted: &dyn Fn(&CixFile) -> bool,
) -> Result<Vec<Vec<u32>>, PsfError> {
    let mut chains = Vec::new();
    for f in index.files.iter().filter(|f| wanted(f)) {
        let mut chain = vec![f.id];
        let mut current = f;
        loop {
            if !stored_in_psf(current) {
                return Err(PsfError::NotInPsf { psf: psf.to_owned(), file: current.name.clone() });
            }
            let basis = current.delta.as_ref().map(|d| d.basis.as_slice()).unwrap_or_default();
            let next = match basis {
                [] => break,
                [one] => *one,
                _ => {
                    return Err(PsfError::Basis {
                        psf: psf.to_owned(),
                        file: current.name.clone(),
                        source: BasisError::SeveralBases(current.id),
                    })
                }
            };
            if chain.contains(&next) {
                return Err(PsfError::Basis {
                    psf: psf.to_owned(),
                    file: f.name.clone(),
                    source: BasisError::Cycle(next),
                });
            }
            current = index.file(next).ok_or_else(|| PsfError::InstalledBasis {
                psf: psf.to_owned(),
                file: current.name.clone(),
                basis: next,
            })?;
            chain.push(next);
        }
        chains.push(chain);
    }
    // By where the chain's first stored bytes are: its root (the last one) is read first.
    let start = |chain: &Vec<u32>| {
        chain.iter().rev().find_map(|id| index.file(*id)?.delta.as_ref()?.source.as_ref()?.offset).unwrap_or(u64::MAX)
    };
    chains.sort_by_key(|c| (start(c), c[0]));
    Ok(chains)
}

/// Builds one file's bytes; `basis` is its expanded basis, when it has one.
fn build<R: Read + Seek>(
    psf: &mut Psf<R>,
    f: &CixFile,
    basis: Option<&[u8]>,
    limits: &DeltaLimits,
) -> Result<Vec<u8>, PsfError> {
    let name = psf.name.clone();
    let delta = f.delta.as_ref().ok_or_else(|| PsfError::NotInPsf { psf: name.clone(), file: f.name.clone() })?;
    // needed_chains built every basis before the files that need it.
    let basis_bytes = || basis.expect("basis built before the files made from it");
    let Some(source) = &delta.source else {
        return Ok(basis_bytes().to_vec());
    };
    let (Some(offset), Some(length)) = (source.offset, source.length) else {
        return Err(PsfError::NotInPsf { psf: name, file: f.name.clone() });
    };
    if f.length > limits.max_target_bytes {
        return Err(PsfError::TooLarge {
            psf: name,
            file: f.name.clone(),
            what: "expanded file",
            size: f.length,
            max: limits.max_target_bytes,
        });
    }
    let unsupported =
        |format, reason| PsfError::Unsupported { psf: name.clone(), file: f.name.clone(), format, reason };
    // Refused before reading anything: never silently skipped, never half-expanded.
    // PA31 (24H2 baseless entries) goes to the same decoder as PA30: the blob's own magic picks the
    // form, whichever of the two the index names (dpx.dll treats PA31 as a blob magic, not a type).
    if source.source_type == SourceType::Pa19 {
        return Err(unsupported("PA19", "the older mspatcha format"));
    }
    let stored = match source.source_type {
        // A RAW range longer than the file cannot be right; shorter is caught by the length check.
        SourceType::Raw => psf.read_range(&f.name, offset, length, "stored RAW bytes", f.length)?,
        _ => psf.read_range(&f.name, offset, length, "stored delta", limits.max_delta_bytes)?,
    };
    if let Some(hash) = &source.hash {
        check_hash(&name, &format!("stored bytes of {}", f.name), hash, &stored)?;
    }
    if source.source_type == SourceType::Raw {
        return Ok(stored);
    }
    let against: &[u8] = if delta.basis.is_empty() { &[] } else { basis_bytes() };
    apply_pa30(against, &stored, limits).map_err(|source| PsfError::Delta {
        psf: name.clone(),
        file: f.name.clone(),
        source: Box::new(source),
    })
}

fn check_file(psf: &str, f: &CixFile, bytes: &[u8]) -> Result<(), PsfError> {
    if bytes.len() as u64 != f.length {
        return Err(PsfError::LengthMismatch {
            psf: psf.to_owned(),
            file: f.name.clone(),
            expected: f.length,
            actual: bytes.len() as u64,
        });
    }
    match &f.hash {
        Some(hash) => check_hash(psf, &format!("file {}", f.name), hash, bytes),
        None => Ok(()),
    }
}

fn check_hash(psf: &str, what: &str, want: &CixHash, bytes: &[u8]) -> Result<(), PsfError> {
    let actual = match want {
        CixHash::Sha1(_) => Sha1::digest(bytes).to_vec(),
        CixHash::Sha256(_) => Sha256::digest(bytes).to_vec(),
    };
    if actual != want.bytes() {
        return Err(PsfError::HashMismatch {
            psf: psf.to_owned(),
            what: what.to_owned(),
            algorithm: want.algorithm(),
            expected: hex(want.bytes()),
            actual: hex(&actual),
        });
    }
    Ok(())
}

use crate::hex::hex;

/// The name a `.psf` beside `input` has: `<stem>.psf` for `<stem>.cab`, `<folder>.psf` for an
/// extracted package folder (whose name, `Windows10.0-KB…`, has a dot that is no extension).
pub fn psf_beside(input: &Path) -> PathBuf {
    let stem = if input.is_dir() { input.file_name() } else { input.file_stem() };
    let name = format!("{}.psf", stem.map(|s| s.to_string_lossy()).unwrap_or_default());
    input.with_file_name(name)
}

/// The `.psf` beside `input`: the exact name first, then the same name in any case.
pub fn find_psf_beside(input: &Path) -> Option<PathBuf> {
    let exact = psf_beside(input);
    if exact.is_file() {
        return Some(exact);
    }
    let want = exact.file_name()?.to_string_lossy().to_lowercase();
    let dir = match exact.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_file() && p.file_name().is_some_and(|n| n.to_string_lossy().to_lowercase() == want))
}
