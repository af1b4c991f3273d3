//! [`PackageContent`]: the files of a WIM-format update package (a WIM-MSU, or the LCU `.wim` inside
//! one) served to `cbs` through its [`WimContent`] trait, so that `cbs` reads them without FFI.
//!
//! wimlib has no call that reads one file into memory, so a file is extracted into a private
//! scratch folder and read back from there; its size, known from the listing, is checked against
//! the caller's limit before anything is extracted, and the copy is removed once read.
//!
//! The package is untrusted: like a cabinet's folders, every file is judged by the
//! [`Limits`](container::Limits) before it is extracted: its size, the compression ratio of the
//! WIM resource holding it (a 21 KB WIM can hold gigabytes of zeros), and the running total of
//! bytes extracted from the package.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};

use cbs::container::{self, member_key, LimitKind, Limits, Spooled, WimContent, SPOOL_IN_MEMORY_MAX};

use super::error::Error;
use super::handle::{OpenMode, Wim};
use super::image::ImageRef;
use crate::progress::Control;

/// The name of the image that holds a WIM-format MSU's files.
pub const CONTENT_IMAGE: &str = "content";

/// One file: path in the image without its leading `/`, size, and the `(uncompressed,
/// compressed)` sizes of the WIM resource holding it.
type ContentFile = (String, u64, Option<(u64, u64)>);

/// The regular files of one image of a WIM, readable one at a time.
#[derive(Debug)]
pub struct PackageContent {
    wim: RefCell<Wim>,
    image: u32,
    files: Vec<ContentFile>,
    by_key: HashMap<String, usize>,
    scratch: Scratch,
    package: String,
    limits: Limits,
    /// Bytes extracted so far (against `limits.max_total_bytes`).
    extracted: Cell<u64>,
}

impl PackageContent {
    /// Opens the WIM at `path` read-only: its only image, else the image named `content`. Files
    /// are extracted under `scratch_dir` (the system's temporary folder when `None`) while read.
    /// Directories and reparse points (links) are not listed, so they are never followed.
    pub fn open(path: &Path, scratch_dir: Option<&Path>) -> Result<PackageContent, Error> {
        let wim = Wim::open(path, OpenMode::ReadOnly)?;
        let image = match wim.image_count() {
            1 => 1,
            _ => wim.resolve(&ImageRef::Name(CONTENT_IMAGE.into()))?,
        };
        let mut files = Vec::new();
        let mut by_key = HashMap::new();
        for entry in wim.list(image)? {
            let skip = wim_sys::WIMLIB_FILE_ATTRIBUTE_DIRECTORY | wim_sys::WIMLIB_FILE_ATTRIBUTE_REPARSE_POINT;
            if entry.attributes & skip != 0 {
                continue;
            }
            let rel = entry.path.trim_start_matches('/').to_owned();
            by_key.insert(member_key(&rel), files.len());
            files.push((rel, entry.size, entry.compressed_resource));
        }
        let base = scratch_dir.map_or_else(std::env::temp_dir, Path::to_path_buf);
        let scratch = Scratch::create(&base).map_err(|e| Error::io(&base, "create a scratch folder", e))?;
        let package = path.display().to_string();
        Ok(PackageContent {
            wim: RefCell::new(wim),
            image,
            files,
            by_key,
            scratch,
            package,
            limits: Limits::DEFAULT,
            extracted: Cell::new(0),
        })
    }

    /// The image read (1-based).
    pub fn image(&self) -> u32 {
        self.image
    }

    fn backend(&self, member: &str, source: Error) -> container::Error {
        container::Error::Backend {
            package: self.package.clone(),
            member: Some(member.to_owned()),
            source: Box::new(source),
        }
    }

    fn io(&self, member: &str, source: io::Error) -> container::Error {
        container::Error::Io { package: self.package.clone(), member: Some(member.to_owned()), source }
    }

    /// Extracts `path` (refused past `limit` bytes) into a fresh folder of the scratch area; returns
    /// that folder, the file in it, and the file's size.
    fn extract(&self, path: &str, limit: u64) -> container::Result<(PathBuf, PathBuf, u64)> {
        let &index = self.by_key.get(&member_key(path)).ok_or_else(|| container::Error::MemberNotFound {
            package: self.package.clone(),
            member: path.to_owned(),
        })?;
        let (stored, size, resource) = &self.files[index];
        let too_large = |kind, max| container::Error::TooLarge {
            package: self.package.clone(),
            member: Some(path.to_owned()),
            limit: kind,
            size: *size,
            max,
        };
        if *size > limit {
            return Err(too_large(LimitKind::ReadLimit, limit));
        }
        if *size > self.limits.max_member_bytes {
            return Err(too_large(LimitKind::MemberBytes, self.limits.max_member_bytes));
        }
        if let Some((uncompressed, compressed)) = *resource {
            if self.limits.ratio_exceeded(uncompressed, compressed) {
                return Err(container::Error::Ratio {
                    package: self.package.clone(),
                    member: Some(path.to_owned()),
                    ratio: uncompressed / compressed.max(1),
                    max: self.limits.max_ratio,
                });
            }
        }
        let total = self.extracted.get().saturating_add(*size);
        if total > self.limits.max_total_bytes {
            return Err(container::Error::TooLarge {
                package: self.package.clone(),
                member: Some(path.to_owned()),
                limit: LimitKind::TotalBytes,
                size: total,
                max: self.limits.max_total_bytes,
            });
        }
        self.extracted.set(total);
        let folder = self.scratch.fresh().map_err(|e| self.io(path, e))?;
        let in_image = format!("/{stored}");
        self.wim
            .borrow_mut()
            .extract_paths(self.image, &folder, &[&in_image], Control::none())
            .map_err(|e| self.backend(path, e))?;
        let file = folder.join(stored);
        let meta = fs::symlink_metadata(&file).map_err(|e| self.io(path, e))?;
        if !meta.is_file() {
            return Err(container::Error::Unsupported {
                package: self.package.clone(),
                member: Some(path.to_owned()),
                detail: "not extracted as a regular file".into(),
            });
        }
        Ok((folder, file, meta.len()))
    }
}

impl WimContent for PackageContent {
    fn list(&self) -> container::Result<Vec<String>> {
        Ok(self.files.iter().map(|(p, ..)| p.clone()).collect())
    }

    fn read(&self, path: &str, limit: u64) -> container::Result<Vec<u8>> {
        let (folder, file, size) = self.extract(path, limit)?;
        let read = File::open(&file).and_then(|f| {
            // Never more than `limit` (+1 to tell), whatever the file turned out to hold.
            let mut out = Vec::with_capacity(size.min(limit) as usize);
            f.take(limit.saturating_add(1)).read_to_end(&mut out)?;
            Ok(out)
        });
        let _ = fs::remove_dir_all(&folder);
        let bytes = read.map_err(|e| self.io(path, e))?;
        if bytes.len() as u64 > limit {
            return Err(container::Error::TooLarge {
                package: self.package.clone(),
                member: Some(path.to_owned()),
                limit: LimitKind::ReadLimit,
                size: bytes.len() as u64,
                max: limit,
            });
        }
        Ok(bytes)
    }

    /// Up to [`SPOOL_IN_MEMORY_MAX`] in memory; larger files stay on disk, open and already unlinked,
    /// so they go away with the reader.
    fn spool(&self, path: &str, limit: u64) -> container::Result<Spooled> {
        let (folder, file, size) = self.extract(path, limit)?;
        let opened = if size <= SPOOL_IN_MEMORY_MAX {
            fs::read(&file).map(|b| Spooled::Memory(Cursor::new(b)))
        } else {
            File::open(&file).map(|f| Spooled::File(BufReader::new(f)))
        };
        let _ = fs::remove_dir_all(&folder);
        opened.map_err(|e| self.io(path, e))
    }
}

/// What `cbs::package::inspect_path_with` and `extract_path` take to read WIM-format packages:
/// opens a path as a [`PackageContent`], scratch files under `scratch_dir`.
pub fn package_content_opener(
    scratch_dir: Option<PathBuf>,
) -> impl Fn(&Path) -> container::Result<Box<dyn WimContent>> {
    move |path| match PackageContent::open(path, scratch_dir.as_deref()) {
        Ok(content) => Ok(Box::new(content) as Box<dyn WimContent>),
        Err(e) => {
            Err(container::Error::Backend { package: path.display().to_string(), member: None, source: Box::new(e) })
        }
    }
}

/// A private folder of numbered subfolders, removed with everything in it when dropped.
#[derive(Debug)]
struct Scratch {
    dir: PathBuf,
    next: Cell<u64>,
}

impl Scratch {
    fn create(base: &Path) -> io::Result<Scratch> {
        use std::os::unix::fs::DirBuilderExt;
        safe_fs::create_dir_all(base)?;
        let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let mut attempt = 0u32;
        loop {
            let dir = base.join(format!(".wimpatch-content.{}.{stamp}.{attempt}", std::process::id()));
            // `create` fails on an existing name, so the folder is ours alone (and private: 0700).
            match fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => return Ok(Scratch { dir, next: Cell::new(0) }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 100 => attempt += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// A new, empty subfolder: files extracted one after the other never meet.
    fn fresh(&self) -> io::Result<PathBuf> {
        let n = self.next.get();
        self.next.set(n + 1);
        let dir = self.dir.join(n.to_string());
        safe_fs::create_dir(&dir)?;
        Ok(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}
