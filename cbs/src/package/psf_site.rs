//! Where the `.psf` of a PSF express package is, by the rule the engine follows when it installs
//! one: `<stem>.psf` beside `<stem>.cab` (`<folder>.psf` beside an extracted package folder), in
//! any case; in an MSU, the `.psf` member with the inner cab's stem. Opened only when the package
//! turns out to have an express index.

use std::io::{self, BufReader};
use std::path::Path;

use super::error::Error;
use super::input::MsuInput;
use crate::container::{self, Spooled};
use crate::psf::Psf;

/// Where to look for a package's `.psf`.
pub(crate) enum PsfSite<'a> {
    /// Nowhere: the package was given as a source, without its path.
    Unknown,
    /// Beside this input (a cab or a package folder).
    Beside(&'a Path),
    /// A member of this MSU, named like its inner package `inner`.
    Msu {
        /// The MSU.
        msu: &'a mut MsuInput,
        /// The inner package's member name.
        inner: &'a str,
    },
}

/// The `.psf` found, or where it was expected.
pub(crate) enum Found {
    /// Open, positioned at its start.
    Psf(Psf<Spooled>),
    /// Not found: where it was looked for (`None`: the input's path is not known).
    Missing(Option<String>),
}

impl PsfSite<'_> {
    /// Finds and opens the `.psf`.
    pub(crate) fn open(&mut self) -> Result<Found, Error> {
        match self {
            PsfSite::Unknown => Ok(Found::Missing(None)),
            PsfSite::Beside(input) => match crate::psf::find_psf_beside(input) {
                Some(path) => {
                    let (file, _) = crate::regular_file::open_regular(&path)
                        .map_err(|source| Error::Io { path: path.display().to_string(), source })?;
                    Ok(Found::Psf(Psf::new(Spooled::File(BufReader::new(file)), path.display().to_string())?))
                }
                None => Ok(Found::Missing(Some(crate::psf::psf_beside(input).display().to_string()))),
            },
            PsfSite::Msu { msu, inner } => {
                let want = stem_key(inner);
                let member = msu.psf_names()?.into_iter().find(|m| stem_key(m) == want);
                match member {
                    Some(member) => {
                        let label = format!("{}!{member}", msu.path());
                        let spooled = msu.spool_member(&member)?;
                        Ok(Found::Psf(Psf::new(spooled, label)?))
                    }
                    None => {
                        let name = Path::new(inner).with_extension("psf");
                        Ok(Found::Missing(Some(format!("{} (a member of {})", name.display(), msu.path()))))
                    }
                }
            }
        }
    }
}

/// A spooled member copied to an unlinked temporary file (a `.psf` is read at any offset).
pub(crate) fn spool_reader(reader: &mut dyn io::Read, package: &str, member: &str) -> Result<Spooled, Error> {
    let err = |e| Error::Container(container::Error::from_io(package, Some(member), e));
    let mut file = tempfile::tempfile().map_err(err)?;
    io::copy(reader, &mut file).map_err(err)?;
    io::Seek::rewind(&mut file).map_err(err)?;
    Ok(Spooled::File(BufReader::new(file)))
}

/// A member's file stem, lower-cased (Windows names compare case-insensitively).
fn stem_key(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    base.rsplit_once('.').map_or(base, |(s, _)| s).to_lowercase()
}
