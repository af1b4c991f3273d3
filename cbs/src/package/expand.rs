//! Payloads stored through a container index, expanded for `package info` and `package extract`:
//! the `_manifest_.cix.xml` of Windows 7-era hotfix cabs (PA30 members, copies) and the
//! `express.psf.cix.xml` of PSF express packages (byte ranges of the `.psf` beside the cab).
//!
//! A file stored in a way this tool cannot expand yet (a PA30 executable transform not implemented,
//! PA19, a PA31 codec not implemented, a delta against a file installed in the image) is an [`Outcome::Unsupported`] with
//! the reason, and a file whose own delta or bytes are bad (a corrupt delta, a length or hash the
//! index does not give) is an [`Outcome::Failed`] with the reason; so is every file made from
//! either, and the other files are still expanded. A failure of the package as a whole (reading
//! the cab, a broken `<Basis>`) is an error.

use std::collections::{HashMap, HashSet};
use std::io::{self, Read, Seek};

use super::error::Error;
use crate::cix::{BasisError, ContainerIndex};
use crate::container::{self, PackageSource};
use crate::delta::{for_each_expanded, DeltaError, DeltaLimits, ExpandError, ExpandedFile};
use crate::psf::{for_each_psf_file_where, Psf, PsfError};

/// What became of one file of an index.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Expanded, its length and hash checked against the index.
    Expanded(ExpandedFile),
    /// Not expandable by this tool (yet).
    Unsupported {
        /// `id` in the index.
        id: u32,
        /// Its name in the index.
        name: String,
        /// Why (`unsupported delta format: PA30 executable transforms …`).
        reason: String,
    },
    /// Its delta or bytes are wrong: it cannot be expanded from this package.
    Failed {
        /// `id` in the index.
        id: u32,
        /// Its name in the index.
        name: String,
        /// Why (the delta error, or the length or hash that does not match).
        reason: String,
    },
}

impl Outcome {
    fn left_out(id: u32, name: String, reason: String, failed: bool) -> Self {
        if failed {
            Outcome::Failed { id, name, reason }
        } else {
            Outcome::Unsupported { id, name, reason }
        }
    }
}

/// Takes each file a round of expansion builds.
type Hand<'a> = dyn FnMut(ExpandedFile) -> Result<(), Error> + 'a;

/// One round of expansion: builds the selected files (and what they are made from), handing each
/// built file on.
type Round<'a> = dyn FnMut(&HashSet<u32>, &mut Hand<'_>) -> Result<(), Stop> + 'a;

/// Why one round of expansion stopped.
enum Stop {
    /// `file` cannot be expanded, for `reason` (`failed`: its data is bad, rather than
    /// unsupported): retry without it.
    LeaveOut { file: String, reason: String, failed: bool },
    /// A failure of the whole package.
    Fail(Error),
}

/// Hands every file of `wanted` (ids of `index`) to `sink` once, expanded or unsupported, expanding
/// from the cab members of `src`.
pub(crate) fn expand_cix(
    src: &mut dyn PackageSource,
    index: &ContainerIndex,
    limits: &DeltaLimits,
    wanted: &HashSet<u32>,
    sink: &mut dyn FnMut(Outcome) -> Result<(), Error>,
) -> Result<(), Error> {
    let package = src.package().to_owned();
    let mut run = |selected: &HashSet<u32>, hand: &mut Hand<'_>| {
        // The selected files and every file they are made from, in index order.
        let mut needed = HashSet::new();
        for &id in selected {
            needed.extend(index.basis_chain(id).unwrap_or_default());
        }
        let sub = ContainerIndex {
            files: index.files.iter().filter(|f| needed.contains(&f.id)).cloned().collect(),
            ..index.clone()
        };
        let mut stopped = None;
        let result = for_each_expanded(src, &sub, limits, |file| {
            hand(file).map_err(|err| {
                // The sink's error is kept as it is; the expansion only needs to stop.
                let message = err.to_string();
                stopped = Some(err);
                ExpandError::Container(container::Error::Io {
                    package: package.clone(),
                    member: None,
                    source: io::Error::other(message),
                })
            })
        });
        if let Some(err) = stopped {
            return Err(Stop::Fail(err));
        }
        result.map(drop).map_err(|err| match left_out_cix(&err) {
            Some((file, reason, failed)) => Stop::LeaveOut { file, reason, failed },
            None => Stop::Fail(err.into()),
        })
    };
    drive(index, wanted, &package, &mut run, sink)
}

/// [`expand_cix`] for an express index, expanding from byte ranges of `psf`.
pub(crate) fn expand_psf<R: Read + Seek>(
    psf: &mut Psf<R>,
    index: &ContainerIndex,
    limits: &DeltaLimits,
    wanted: &HashSet<u32>,
    sink: &mut dyn FnMut(Outcome) -> Result<(), Error>,
) -> Result<(), Error> {
    /// The error type of one pass: the `.psf`'s, or the sink's.
    enum PassError {
        Psf(PsfError),
        Sink(Error),
    }
    impl From<PsfError> for PassError {
        fn from(err: PsfError) -> Self {
            PassError::Psf(err)
        }
    }
    let name = psf.name().to_owned();
    let mut run = |selected: &HashSet<u32>, hand: &mut Hand<'_>| {
        let pass = for_each_psf_file_where(
            psf,
            index,
            limits,
            |f| selected.contains(&f.id),
            |file| hand(file).map_err(PassError::Sink),
        );
        match pass {
            Ok(_) => Ok(()),
            Err(PassError::Sink(err)) => Err(Stop::Fail(err)),
            Err(PassError::Psf(err)) => match left_out_psf(&err) {
                Some((file, reason, failed)) => Err(Stop::LeaveOut { file, reason, failed }),
                None => Err(Stop::Fail(err.into())),
            },
        }
    };
    drive(index, wanted, &name, &mut run, sink)
}

/// Runs `run` over the files still pending until every wanted file has an outcome: after a file
/// turns out unsupported or failed, the next round leaves it (and the files made from it) out.
fn drive(
    index: &ContainerIndex,
    wanted: &HashSet<u32>,
    package: &str,
    run: &mut Round<'_>,
    sink: &mut dyn FnMut(Outcome) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut handed: HashSet<u32> = HashSet::new();
    // Files left out: why, and whether they failed (rather than being unsupported).
    let mut failed: HashMap<u32, (String, bool)> = HashMap::new();
    loop {
        let mut selected = HashSet::new();
        // In index order, so that outcomes (and errors) come in a stable order.
        let pending: Vec<_> =
            index.files.iter().filter(|f| wanted.contains(&f.id) && !handed.contains(&f.id)).collect();
        for f in pending {
            let reason = match index.basis_chain(f.id) {
                Ok(chain) => chain.iter().find_map(|id| {
                    let (reason, bad) = failed.get(id)?;
                    Some(if *id == f.id {
                        (reason.clone(), *bad)
                    } else {
                        let basis = index.file(*id).map_or_else(|| format!("file id {id}"), |b| b.name.clone());
                        let state = if *bad { "failed" } else { "cannot be expanded" };
                        (format!("made from {basis}, which {state}: {reason}"), *bad)
                    })
                }),
                Err(BasisError::UnknownFile(id)) => Some((
                    format!(
                        "a delta against file id {id}, which is not in the package (a file installed in the image)"
                    ),
                    false,
                )),
                Err(source) => {
                    return Err(ExpandError::Basis { package: package.to_owned(), file: f.name.clone(), source }.into())
                }
            };
            match reason {
                Some((reason, bad)) => {
                    handed.insert(f.id);
                    sink(Outcome::left_out(f.id, f.name.clone(), reason, bad))?;
                }
                None => {
                    selected.insert(f.id);
                }
            }
        }
        if selected.is_empty() {
            return Ok(());
        }
        let mut hand = |file: ExpandedFile| {
            if selected.contains(&file.id) && handed.insert(file.id) {
                sink(Outcome::Expanded(file))?;
            }
            Ok(())
        };
        match run(&selected, &mut hand) {
            Ok(()) => return Ok(()),
            Err(Stop::Fail(err)) => return Err(err),
            Err(Stop::LeaveOut { file, reason, failed: bad }) => {
                let id = match index.file_named(&file) {
                    Some(f) if !failed.contains_key(&f.id) => f.id,
                    // Unknown, or already left out: retrying cannot help (never loop).
                    _ => {
                        return Err(ExpandError::Unsupported { package: package.to_owned(), file, what: reason }.into())
                    }
                };
                failed.insert(id, (reason, bad));
            }
        }
    }
}

/// The file, reason and "failed" (rather than "not supported") of an expansion error about one
/// file; `None` for an error of the whole package.
fn left_out_cix(err: &ExpandError) -> Option<(String, String, bool)> {
    let file = err.file()?.to_owned();
    match err {
        ExpandError::Unsupported { what, .. } => Some((file, what.clone(), false)),
        ExpandError::Delta { source, .. } => {
            Some((file, source.to_string(), !matches!(**source, DeltaError::Unsupported { .. })))
        }
        // The message without the package, which the report already names.
        ExpandError::HashMismatch { what, algorithm, expected, actual, .. } => {
            Some((file, format!("{what} has {algorithm} {actual}, the index says {expected}"), true))
        }
        ExpandError::LengthMismatch { expected, actual, .. } => {
            Some((file, format!("expanded to {actual} bytes, the index says {expected}"), true))
        }
        _ => None,
    }
}

/// [`left_out_cix`] for the errors of a `.psf`.
fn left_out_psf(err: &PsfError) -> Option<(String, String, bool)> {
    match err {
        PsfError::Unsupported { file, format, reason, .. } => {
            Some((file.clone(), format!("{format} delta is not supported ({reason})"), false))
        }
        PsfError::Delta { file, source, .. } => {
            Some((file.clone(), source.to_string(), !matches!(**source, DeltaError::Unsupported { .. })))
        }
        PsfError::InstalledBasis { file, basis, .. } => Some((
            file.clone(),
            format!("a delta against file id {basis}, which is not in the package (a file installed in the image)"),
            false,
        )),
        PsfError::LengthMismatch { file, expected, actual, .. } => {
            Some((file.clone(), format!("expanded to {actual} bytes, the index says {expected}"), true))
        }
        _ => None,
    }
}
