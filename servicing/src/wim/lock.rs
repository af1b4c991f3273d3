//! The sidecar writer lock (`install.wim.lock`) that serialises writers of one WIM.
//!
//! wimlib does not protect a WIM against two handles that both append: both commits "succeed" and one is
//! silently lost. wimlib's own `flock` covers only in-place writes, and locking the `.wim` itself makes
//! wimlib's append fail with `WIMLIB_ERR_ALREADY_LOCKED`, so the lock lives in a separate file beside the
//! WIM, held from opening for write until the commit is done (for a mount: by the mount daemon, for the
//! whole mount). The lock is `flock(2)` on that file, so a killed holder releases it automatically.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::error::{Error, Result};

/// How long to wait for another writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LockWait {
    /// Fail at once with [`Error::Locked`].
    #[default]
    NoWait,
    /// Poll for up to this long, then fail with [`Error::Locked`].
    For(Duration),
}

/// A held writer lock. Dropping it releases the lock.
#[derive(Debug)]
pub struct WimLock {
    file: File,
    lock_path: PathBuf,
}

/// The lock file that guards `wim`: the WIM's path with `.lock` appended.
pub fn lock_path_for(wim: &Path) -> PathBuf {
    let mut s = wim.as_os_str().to_os_string();
    s.push(".lock");
    PathBuf::from(s)
}

impl WimLock {
    /// Takes the writer lock of `wim`, creating the lock file if needed.
    pub fn acquire(wim: &Path, wait: LockWait) -> Result<WimLock> {
        let lock_path = lock_path_for(wim);
        let started = Instant::now();
        loop {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&lock_path)
                .map_err(|e| Error::io(&lock_path, "cannot create the lock file", e))?;
            match file.try_lock() {
                Ok(()) => {
                    // The previous holder may have unlinked the file between our open and our lock; a lock
                    // on an unlinked inode guards nothing, so start over in that case.
                    let same = match (file.metadata(), std::fs::metadata(&lock_path)) {
                        (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
                        _ => false,
                    };
                    if !same {
                        continue;
                    }
                    let mut lock = WimLock { file, lock_path };
                    lock.write_holder();
                    return Ok(lock);
                }
                Err(TryLockError::WouldBlock) => {
                    let give_up = match wait {
                        LockWait::NoWait => true,
                        LockWait::For(limit) => started.elapsed() >= limit,
                    };
                    if give_up {
                        return Err(Error::Locked {
                            path: wim.to_path_buf(),
                            holder: read_holder(&lock_path),
                            lock: lock_path,
                        });
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(TryLockError::Error(e)) => return Err(Error::io(&lock_path, "cannot lock the lock file", e)),
            }
        }
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.lock_path
    }

    /// Records who holds the lock, for the message another writer sees.
    fn write_holder(&mut self) {
        let text = format!("pid {} ({})\n", std::process::id(), std::env::args().next().unwrap_or_default());
        let _ = self.file.set_len(0);
        let _ = self.file.seek(SeekFrom::Start(0));
        let _ = self.file.write_all(text.as_bytes());
    }
}

impl Drop for WimLock {
    fn drop(&mut self) {
        // Unlink while still holding the lock so no lock files accumulate; a waiter that opened the old
        // inode notices the unlink (inode check above) and retries on a fresh file.
        let _ = std::fs::remove_file(&self.lock_path);
        let _ = self.file.unlock();
    }
}

fn read_holder(lock_path: &Path) -> String {
    let mut s = String::new();
    if let Ok(mut f) = File::open(lock_path) {
        let _ = Read::by_ref(&mut f).take(256).read_to_string(&mut s);
    }
    let s = s.trim();
    if s.is_empty() {
        "unknown holder".into()
    } else {
        s.to_string()
    }
}
