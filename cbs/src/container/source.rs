//! [`PackageSource`]: where the rest of `cbs` reads a package's files from — a cabinet, a package
//! folder extracted on disk, or a WIM read by the engine — without caring which.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io::{self, BufReader, Cursor, Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::cab::{plain_guard, Cabinet, Spooled};
use super::error::{Error, LimitKind, Result};
use super::limits::{Budget, Limits};
use super::member_name::{member_key, normalize_member_name, NameError};

/// One file of a package source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceEntry {
    /// Relative path, `/` between folders, checked as a member name.
    pub path: String,
    /// Size in bytes, when the source knows it without reading.
    pub size: Option<u64>,
}

/// A package's files, by name. Names are compared as Windows does (case-insensitively, `\` = `/`).
pub trait PackageSource {
    /// The package's name in errors (a path, or `outer!inner`).
    fn package(&self) -> &str;

    /// Every file.
    fn list(&self) -> Result<Vec<SourceEntry>>;

    /// A reader of one file; the source's limits are enforced while reading.
    fn open(&mut self, name: &str) -> Result<Box<dyn Read + '_>>;

    /// Reads the files `names` one after the other, calling `f` with each name (as given) and a
    /// reader of its bytes; bytes `f` leaves unread are read and dropped. Stops at the first error,
    /// `f`'s or the reader's.
    ///
    /// The order is the one the source reads fastest: a cabinet goes in storage order and decodes
    /// each folder once (opening members one by one decodes a solid folder from its start every
    /// time, quadratic over a big package); the default opens the files in the order given.
    fn read_each(&mut self, names: &[String], f: &mut dyn FnMut(&str, &mut dyn Read) -> Result<()>) -> Result<()> {
        for name in names {
            let mut reader = self.open(name)?;
            f(name, &mut reader)?;
        }
        Ok(())
    }

    /// One file whole; more than `limit` bytes is [`Error::TooLarge`].
    fn read(&mut self, name: &str, limit: u64) -> Result<Vec<u8>> {
        let package = self.package().to_owned();
        let mut out = Vec::new();
        let mut reader = self.open(name)?.take(limit.saturating_add(1));
        reader.read_to_end(&mut out).map_err(|e| Error::from_io(&package, Some(name), e))?;
        if out.len() as u64 > limit {
            return Err(Error::TooLarge {
                package,
                member: Some(name.to_owned()),
                limit: LimitKind::ReadLimit,
                size: out.len() as u64,
                max: limit,
            });
        }
        Ok(out)
    }
}

/// Reads each of `names` whole, in one pass over `src` ([`PackageSource::read_each`]: a cabinet
/// decodes each solid folder once), and returns what `parse` makes of each, by name. The bytes are
/// dropped as soon as they are parsed, so memory holds one file's bytes at a time, never all of
/// them. A file over `limit` bytes, or a read error, ends the pass: the names not reached are
/// missing from the map, and [`PackageSource::read`] on one of them gives its error, in whatever
/// order the caller reports errors.
pub fn parse_each<T>(
    src: &mut (dyn PackageSource + '_),
    names: &[String],
    limit: u64,
    mut parse: impl FnMut(&str, &[u8]) -> T,
) -> HashMap<String, T> {
    let package = src.package().to_owned();
    let mut out = HashMap::with_capacity(names.len());
    let mut buf = Vec::new();
    let _ = src.read_each(names, &mut |name, reader| {
        buf.clear();
        reader
            .take(limit.saturating_add(1))
            .read_to_end(&mut buf)
            .map_err(|e| Error::from_io(&package, Some(name), e))?;
        if buf.len() as u64 > limit {
            return Err(Error::TooLarge {
                package: package.clone(),
                member: Some(name.to_owned()),
                limit: LimitKind::ReadLimit,
                size: buf.len() as u64,
                max: limit,
            });
        }
        out.insert(name.to_owned(), parse(name, &buf));
        Ok(())
    });
    out
}

impl<R: Read + Seek> PackageSource for Cabinet<R> {
    fn package(&self) -> &str {
        Cabinet::package(self)
    }

    fn list(&self) -> Result<Vec<SourceEntry>> {
        Ok(self.members().iter().map(|m| SourceEntry { path: m.path.clone(), size: Some(m.size) }).collect())
    }

    fn open(&mut self, name: &str) -> Result<Box<dyn Read + '_>> {
        Ok(Box::new(self.open_member(name)?))
    }

    fn read(&mut self, name: &str, limit: u64) -> Result<Vec<u8>> {
        self.read_member(name, limit)
    }

    /// In storage order, through [`Cabinet::for_each_member_where`]: each folder decoded once, with
    /// the checks and counts of [`Cabinet::open_member`]. A name the cabinet lacks is
    /// [`Error::MemberNotFound`] before anything is read.
    fn read_each(&mut self, names: &[String], f: &mut dyn FnMut(&str, &mut dyn Read) -> Result<()>) -> Result<()> {
        let mut given: HashMap<String, &str> = HashMap::with_capacity(names.len());
        for name in names {
            if !self.contains(name) {
                return Err(Error::MemberNotFound { package: Cabinet::package(self).to_owned(), member: name.clone() });
            }
            given.insert(member_key(name), name);
        }
        self.for_each_member_where(&|m| given.contains_key(&member_key(&m.path)), |m, reader| {
            f(given[&member_key(&m.path)], reader)
        })
    }
}

/// An extracted package folder on disk (a directory holding `update.mum`, manifests, payload
/// folders …).
///
/// Names asked for are checked like cabinet member names (no `..`, no absolute path …) and
/// resolved one component at a time, exact case first, then case-insensitively as Windows would.
/// Symbolic links are refused wherever they are, so nothing outside the folder can be reached.
pub struct DirectorySource {
    root: PathBuf,
    package: String,
    limits: Limits,
    budget: Arc<Budget>,
}

impl fmt::Debug for DirectorySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectorySource").field("root", &self.root).field("limits", &self.limits).finish()
    }
}

impl DirectorySource {
    /// Opens the package folder `root`.
    pub fn open(root: impl AsRef<Path>, limits: Limits) -> Result<Self> {
        let given = root.as_ref();
        let package = given.display().to_string();
        let io_err = |source| Error::Io { package: package.clone(), member: None, source };
        let root = fs::canonicalize(given).map_err(io_err)?;
        if !fs::metadata(&root).map_err(io_err)?.is_dir() {
            return Err(Error::Io {
                package,
                member: None,
                source: io::Error::new(io::ErrorKind::NotADirectory, "not a directory"),
            });
        }
        Ok(DirectorySource { root, package, limits, budget: Arc::new(Budget::new(limits.max_total_bytes)) })
    }

    /// The folder (canonical path).
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn unsafe_name(&self, member: &str, reason: NameError) -> Error {
        Error::UnsafeMemberName { package: self.package.clone(), member: member.to_owned(), reason }
    }

    fn io_err(&self, member: &str, source: io::Error) -> Error {
        Error::Io { package: self.package.clone(), member: Some(member.to_owned()), source }
    }

    /// The path of the file `name` and its size.
    fn resolve(&self, name: &str) -> Result<(PathBuf, u64)> {
        let path = normalize_member_name(name).map_err(|reason| self.unsafe_name(name, reason))?;
        let not_found = || Error::MemberNotFound { package: self.package.clone(), member: name.to_owned() };
        let mut current = self.root.clone();
        for component in path.split('/') {
            let exact = current.join(component);
            let next = match fs::symlink_metadata(&exact) {
                Ok(_) => exact,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    let wanted = member_key(component);
                    let mut found = None;
                    for entry in fs::read_dir(&current).map_err(|e| self.io_err(name, e))? {
                        let entry = entry.map_err(|e| self.io_err(name, e))?;
                        let entry_name = entry.file_name();
                        if entry_name.to_str().is_some_and(|n| member_key(n) == wanted) {
                            if let Some(first) = found.replace(entry.path()) {
                                return Err(Error::DuplicateMember {
                                    package: self.package.clone(),
                                    member: entry.path().display().to_string(),
                                    first: first.display().to_string(),
                                });
                            }
                        }
                    }
                    found.ok_or_else(not_found)?
                }
                Err(e) => return Err(self.io_err(name, e)),
            };
            let meta = fs::symlink_metadata(&next).map_err(|e| self.io_err(name, e))?;
            if meta.file_type().is_symlink() {
                return Err(self.unsafe_name(name, NameError::SymbolicLink));
            }
            current = next;
        }
        let meta = fs::symlink_metadata(&current).map_err(|e| self.io_err(name, e))?;
        if !meta.is_file() {
            return Err(not_found());
        }
        Ok((current, meta.len()))
    }
}

impl PackageSource for DirectorySource {
    fn package(&self) -> &str {
        &self.package
    }

    /// Every regular file under the folder, sorted by path. A symbolic link, a name Windows could
    /// not hold, or two names equal for Windows is an error, not skipped.
    fn list(&self) -> Result<Vec<SourceEntry>> {
        let mut out = Vec::new();
        let mut seen: HashMap<String, String> = HashMap::new();
        let mut pending = vec![(self.root.clone(), String::new())];
        while let Some((dir, prefix)) = pending.pop() {
            for entry in fs::read_dir(&dir).map_err(|e| self.io_err(&prefix, e))? {
                let entry = entry.map_err(|e| self.io_err(&prefix, e))?;
                let raw = entry.file_name();
                let rel = match raw.to_str() {
                    Some(n) if prefix.is_empty() => n.to_owned(),
                    Some(n) => format!("{prefix}/{n}"),
                    None => return Err(self.unsafe_name(&raw.to_string_lossy(), NameError::NotUnicode)),
                };
                let rel = normalize_member_name(&rel).map_err(|reason| self.unsafe_name(&rel, reason))?;
                if let Some(first) = seen.insert(member_key(&rel), rel.clone()) {
                    return Err(Error::DuplicateMember { package: self.package.clone(), member: rel, first });
                }
                let kind = entry.file_type().map_err(|e| self.io_err(&rel, e))?;
                if kind.is_symlink() {
                    return Err(self.unsafe_name(&rel, NameError::SymbolicLink));
                } else if kind.is_dir() {
                    pending.push((entry.path(), rel));
                } else if kind.is_file() {
                    let size = entry.metadata().map_err(|e| self.io_err(&rel, e))?.len();
                    out.push(SourceEntry { path: rel, size: Some(size) });
                    if out.len() as u64 > self.limits.max_members {
                        return Err(Error::TooLarge {
                            package: self.package.clone(),
                            member: None,
                            limit: LimitKind::Members,
                            size: out.len() as u64,
                            max: self.limits.max_members,
                        });
                    }
                }
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    fn open(&mut self, name: &str) -> Result<Box<dyn Read + '_>> {
        let (path, size) = self.resolve(name)?;
        if size > self.limits.max_member_bytes {
            return Err(Error::TooLarge {
                package: self.package.clone(),
                member: Some(name.to_owned()),
                limit: LimitKind::MemberBytes,
                size,
                max: self.limits.max_member_bytes,
            });
        }
        self.budget.check(size, &self.package, Some(name))?;
        let (file, _) = crate::regular_file::open_regular(&path).map_err(|e| self.io_err(name, e))?;
        Ok(Box::new(plain_guard(
            BufReader::new(file),
            &self.package,
            name,
            size,
            self.limits,
            Arc::clone(&self.budget),
        )))
    }
}

/// Read access to the files of a WIM, implemented by the engine (over wimlib) so that `cbs` stays
/// free of FFI. Paths are relative to the image root; `/` or `\` separate folders.
pub trait WimContent {
    /// Every file of the image.
    fn list(&self) -> Result<Vec<String>>;

    /// One file's bytes. More than `limit` bytes must be refused ([`Error::TooLarge`] with
    /// [`LimitKind::ReadLimit`]), not read.
    fn read(&self, path: &str, limit: u64) -> Result<Vec<u8>>;

    /// One file as a seekable reader, for a file too big to hold in memory (the inner cab of a
    /// WIM-format MSU is hundreds of MiB); same refusal past `limit` as [`read`](Self::read).
    /// The default reads it into memory.
    fn spool(&self, path: &str, limit: u64) -> Result<Spooled> {
        Ok(Spooled::Memory(Cursor::new(self.read(path, limit)?)))
    }
}

impl<W: WimContent + ?Sized> WimContent for Box<W> {
    fn list(&self) -> Result<Vec<String>> {
        (**self).list()
    }

    fn read(&self, path: &str, limit: u64) -> Result<Vec<u8>> {
        (**self).read(path, limit)
    }

    fn spool(&self, path: &str, limit: u64) -> Result<Spooled> {
        (**self).spool(path, limit)
    }
}

/// A [`PackageSource`] over a WIM's content (a WIM-MSU, or the LCU `.wim` inside one).
pub struct WimSource<W> {
    wim: W,
    package: String,
    limits: Limits,
    budget: Arc<Budget>,
}

impl<W> fmt::Debug for WimSource<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WimSource").field("package", &self.package).field("limits", &self.limits).finish()
    }
}

impl<W: WimContent> WimSource<W> {
    /// Wraps the engine's WIM reader; `package` names it in errors.
    pub fn new(wim: W, package: impl Into<String>, limits: Limits) -> Self {
        WimSource { wim, package: package.into(), limits, budget: Arc::new(Budget::new(limits.max_total_bytes)) }
    }

    /// The engine's reader.
    pub fn content(&self) -> &W {
        &self.wim
    }
}

impl<W: WimContent> PackageSource for WimSource<W> {
    fn package(&self) -> &str {
        &self.package
    }

    fn list(&self) -> Result<Vec<SourceEntry>> {
        let names = self.wim.list()?;
        if names.len() as u64 > self.limits.max_members {
            return Err(Error::TooLarge {
                package: self.package.clone(),
                member: None,
                limit: LimitKind::Members,
                size: names.len() as u64,
                max: self.limits.max_members,
            });
        }
        names
            .into_iter()
            .map(|name| {
                let path = normalize_member_name(&name).map_err(|reason| Error::UnsafeMemberName {
                    package: self.package.clone(),
                    member: name.clone(),
                    reason,
                })?;
                Ok(SourceEntry { path, size: None })
            })
            .collect()
    }

    /// Spooled (in memory up to [`SPOOL_IN_MEMORY_MAX`](super::SPOOL_IN_MEMORY_MAX), else an
    /// unlinked file), never read whole into memory, and counted as it is read.
    fn open(&mut self, name: &str) -> Result<Box<dyn Read + '_>> {
        let path = normalize_member_name(name).map_err(|reason| Error::UnsafeMemberName {
            package: self.package.clone(),
            member: name.to_owned(),
            reason,
        })?;
        let mut spooled = self.wim.spool(&path, self.limits.max_member_bytes)?;
        let io_err = |source| Error::Io { package: self.package.clone(), member: Some(name.to_owned()), source };
        let size = spooled.seek(io::SeekFrom::End(0)).map_err(io_err)?;
        spooled.seek(io::SeekFrom::Start(0)).map_err(io_err)?;
        self.budget.check(size, &self.package, Some(name))?;
        Ok(Box::new(plain_guard(spooled, &self.package, name, size, self.limits, Arc::clone(&self.budget))))
    }

    fn read(&mut self, name: &str, limit: u64) -> Result<Vec<u8>> {
        let path = normalize_member_name(name).map_err(|reason| Error::UnsafeMemberName {
            package: self.package.clone(),
            member: name.to_owned(),
            reason,
        })?;
        let limit = limit.min(self.limits.max_member_bytes);
        let bytes = self.wim.read(&path, limit)?;
        if bytes.len() as u64 > limit {
            return Err(Error::TooLarge {
                package: self.package.clone(),
                member: Some(name.to_owned()),
                limit: LimitKind::ReadLimit,
                size: bytes.len() as u64,
                max: limit,
            });
        }
        self.budget.take(bytes.len() as u64, &self.package, Some(name))?;
        Ok(bytes)
    }
}
