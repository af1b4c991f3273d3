//! The content library: update binaries stored once by SHA-256 (`content/<aa>/<sha256>`), every read
//! verified against the name, so a corrupted blob is reported and never handed to the engine.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use cbs::regular_file::BoundedFile;
use sha2::{Digest, Sha256};

use super::error::{Error, Result};

const BUF: usize = 1 << 20;

pub use cbs::hex::hex;

/// SHA-256 (hex) and length of a file.
pub fn sha256_file(path: &Path) -> Result<(String, u64)> {
    // A blob planted as a FIFO or a link to `/dev/zero` is refused, and a file is read no further
    // than its size at open (issue 17: `site tick` hung on an endless blob).
    let mut f = BoundedFile::open(path).map_err(Error::io(path, "cannot open to hash"))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; BUF];
    let mut len = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(Error::io(path, "cannot read to hash"))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        len += n as u64;
    }
    Ok((hex(&h.finalize()), len))
}

/// Copies `src` to `dest` (created or truncated), hashing what is written, and syncs `dest`.
/// Returns the SHA-256 and length of the bytes written.
pub fn copy_hashed(src: &Path, dest: &Path) -> Result<(String, u64)> {
    copy_hashed_with(src, dest, &mut |_| {})
}

/// [`copy_hashed`], telling `written` the bytes written so far after each chunk.
pub fn copy_hashed_with(src: &Path, dest: &Path, written: &mut dyn FnMut(u64)) -> Result<(String, u64)> {
    let mut input = BoundedFile::open(src).map_err(Error::io(src, "cannot open to copy"))?;
    let mut out = safe_fs::create_fresh(dest).map_err(Error::io(dest, "cannot create"))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; BUF];
    let mut len = 0u64;
    loop {
        let n = input.read(&mut buf).map_err(Error::io(src, "cannot read"))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(Error::io(dest, "cannot write"))?;
        len += n as u64;
        written(len);
    }
    out.sync_all().map_err(Error::io(dest, "cannot sync"))?;
    Ok((hex(&h.finalize()), len))
}

/// Best-effort fsync of a directory, so a rename into it survives power loss.
pub fn sync_dir(dir: &Path) {
    if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
        tracing::debug!(dir = %dir.display(), error = %e, "directory fsync failed");
    }
}

/// A unique temporary name in `dir`.
pub fn temp_in(dir: &Path, stem: &str) -> PathBuf {
    safe_fs::temp_beside(&dir.join(stem))
}

/// What [`ContentLibrary::put`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The blob's SHA-256.
    pub sha256: String,
    /// Its size.
    pub size: u64,
    /// Whether the bytes were new to the library (false: single-instance hit).
    pub new: bool,
}

/// The content library of a site.
#[derive(Debug, Clone)]
pub struct ContentLibrary {
    root: PathBuf,
}

impl ContentLibrary {
    /// The library under `site/content`.
    pub fn new(site_dir: &Path) -> ContentLibrary {
        ContentLibrary { root: site_dir.join("content") }
    }

    /// Where the blob named `sha256` lives.
    pub fn blob_path(&self, sha256: &str) -> PathBuf {
        self.root.join(sha256.get(..2).unwrap_or("00")).join(sha256)
    }

    /// The path of the blob named `sha256`, which must be a regular file of its own: the library
    /// only ever stores blobs by renaming a plain file into place, so a symbolic link (to
    /// `/dev/zero`, say), a FIFO or a device there is refused, never read or linked.
    fn blob(&self, sha256: &str) -> Result<PathBuf> {
        let path = self.blob_path(sha256);
        match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::MissingBlob { path }),
            Err(e) => Err(Error::io(&path, "cannot read metadata")(e)),
            Ok(meta) if meta.file_type().is_file() => Ok(path),
            Ok(_) => Err(Error::io(&path, "content library blob refused")(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a regular file (a symbolic link, FIFO or device was put in the library's place)",
            ))),
        }
    }

    /// Whether the blob exists with the given size (a cheap check; reads verify the bytes).
    pub fn has(&self, sha256: &str, size: u64) -> bool {
        std::fs::metadata(self.blob_path(sha256)).is_ok_and(|m| m.len() == size)
    }

    /// Stores the file's bytes once: copies it into the library while hashing, then renames the copy
    /// to its digest, unless a sound blob of that digest is there already (then the copy is dropped).
    /// A blob that exists but no longer hashes to its name is replaced.
    pub fn put(&self, file: &Path) -> Result<Stored> {
        safe_fs::create_dir_all(&self.root).map_err(Error::io(&self.root, "cannot create the content library"))?;
        let tmp = temp_in(&self.root, "incoming");
        let (sha256, size) = match copy_hashed(file, &tmp) {
            Ok(v) => v,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        };
        let blob = self.blob_path(&sha256);
        if blob.exists() {
            match self.verify(&sha256) {
                Ok(()) => {
                    let _ = std::fs::remove_file(&tmp);
                    return Ok(Stored { sha256, size, new: false });
                }
                Err(e) => tracing::warn!(error = %e, "replacing a corrupt content-library blob"),
            }
        }
        let dir = blob.parent().expect("blob has a parent");
        let prefix = dir.strip_prefix(&self.root).unwrap_or(dir);
        safe_fs::create_dir_all_under(&self.root, prefix)
            .map_err(Error::io(dir, "cannot create the content library"))?;
        // Blobs are read-only once stored: nothing but a corruption changes them.
        let mut perms = std::fs::metadata(&tmp).map_err(Error::io(&tmp, "cannot read metadata"))?.permissions();
        perms.set_readonly(true);
        let _ = std::fs::set_permissions(&tmp, perms);
        safe_fs::rename(&tmp, &blob).map_err(Error::io(&blob, "cannot store the blob"))?;
        sync_dir(dir);
        tracing::debug!(blob = %blob.display(), size, "stored update binary in the content library");
        Ok(Stored { sha256, size, new: true })
    }

    /// Reads the whole blob and checks it hashes to its name.
    pub fn verify(&self, sha256: &str) -> Result<()> {
        let path = self.blob(sha256)?;
        let (actual, _) = sha256_file(&path)?;
        if actual != sha256 {
            return Err(Error::CorruptBlob { path, expected: sha256.to_owned(), actual });
        }
        Ok(())
    }

    /// Copies the blob to `dest`, verifying the bytes written: on a mismatch `dest` is removed and
    /// the error names the blob. The engine then reads exactly the bytes that were verified.
    pub fn copy_verified(&self, sha256: &str, dest: &Path) -> Result<u64> {
        let path = self.blob(sha256)?;
        if let Some(dir) = dest.parent() {
            safe_fs::create_dir_all(dir).map_err(Error::io(dir, "cannot create directory"))?;
        }
        let (actual, size) = match copy_hashed(&path, dest) {
            Ok(v) => v,
            Err(e) => {
                let _ = std::fs::remove_file(dest);
                return Err(e);
            }
        };
        if actual != sha256 {
            let _ = std::fs::remove_file(dest);
            return Err(Error::CorruptBlob { path, expected: sha256.to_owned(), actual });
        }
        Ok(size)
    }

    /// Hard-links the blob to `dest` (copying where linking is not possible), then verifies it. For
    /// read-only uses (applicability checks) where copying every binary would cost too much.
    pub fn link_verified(&self, sha256: &str, dest: &Path) -> Result<()> {
        let path = self.blob(sha256)?;
        if let Some(dir) = dest.parent() {
            safe_fs::create_dir_all(dir).map_err(Error::io(dir, "cannot create directory"))?;
        }
        if safe_fs::hard_link(&path, dest).is_err() {
            return self.copy_verified(sha256, dest).map(|_| ());
        }
        let (actual, _) = sha256_file(dest)?;
        if actual != sha256 {
            let _ = std::fs::remove_file(dest);
            return Err(Error::CorruptBlob { path, expected: sha256.to_owned(), actual });
        }
        Ok(())
    }
}
