//! The sidecar writer lock (`install.wim.lock`) that serialises writers of one WIM.
//!
//! wimlib does not protect a WIM against two handles that both append: both commits "succeed" and one is
//! silently lost. wimlib's own `flock` covers only in-place writes, and locking the `.wim` itself makes
//! wimlib's append fail with `WIMLIB_ERR_ALREADY_LOCKED`, so the lock lives in a separate file beside the
//! WIM, held from opening for write until the commit is done (for a mount: by the mount daemon, for the
//! whole mount). The lock is `flock(2)` on that file, so a killed holder releases it automatically.
//!
//! One WIM can have several names. The sidecar sits beside the WIM's resolved path (symbolic links
//! followed), so a link to the WIM finds the same sidecar; and the WIM file itself carries an open
//! file description lock keyed on its inode ([`safe_fs::try_lock_identity`]), so a hard link, which
//! no path resolution can tell, shares the lock too.

use std::fs::{File, TryLockError};
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
    /// The WIM itself, open with its identity lock held (none when the WIM does not exist yet).
    identity: Option<File>,
}

/// The lock file that guards `wim`: the WIM's resolved path (links followed) with `.lock` appended,
/// so every name that leads to one file finds one lock file.
pub fn lock_path_for(wim: &Path) -> PathBuf {
    let mut s = resolved(wim).into_os_string();
    s.push(".lock");
    PathBuf::from(s)
}

/// `wim` with symbolic links resolved; for a file that does not exist yet, its folder resolved.
fn resolved(wim: &Path) -> PathBuf {
    if let Ok(p) = std::fs::canonicalize(wim) {
        return p;
    }
    let parent = match wim.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match (std::fs::canonicalize(parent), wim.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => wim.to_path_buf(),
    }
}

/// Opens the existing WIM at `path` and takes its identity lock: `Ok(None)` when there is no file
/// (nothing to share a lock with) or it cannot be opened for writing (the writer's own open then
/// fails with wimlib's message), `Err(WouldBlock)` when another name of it is locked.
fn lock_identity(path: &Path) -> std::io::Result<Option<File>> {
    let Ok(file) = safe_fs::open_existing_rw(path) else { return Ok(None) };
    if !file.metadata()?.is_file() {
        return Ok(None);
    }
    if safe_fs::try_lock_identity(&file)? {
        Ok(Some(file))
    } else {
        Err(std::io::ErrorKind::WouldBlock.into())
    }
}

impl WimLock {
    /// Takes the writer lock of `wim`, creating the lock file if needed.
    pub fn acquire(wim: &Path, wait: LockWait) -> Result<WimLock> {
        let lock_path = lock_path_for(wim);
        let wim_path = resolved(wim);
        let started = Instant::now();
        loop {
            // Never through a planted link or a hard link to another file: it would be truncated.
            let file =
                safe_fs::open_lock(&lock_path).map_err(|e| Error::io(&lock_path, "cannot create the lock file", e))?;
            let locked = match file.try_lock() {
                Ok(()) => match lock_identity(&wim_path) {
                    Ok(identity) => Ok(identity),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        let _ = file.unlock();
                        Err(TryLockError::WouldBlock)
                    }
                    Err(e) => return Err(Error::io(&wim_path, "cannot lock the WIM", e)),
                },
                Err(e) => Err(e),
            };
            match locked {
                Ok(identity) => {
                    // The previous holder may have unlinked the file between our open and our lock; a lock
                    // on an unlinked inode guards nothing, so start over in that case. The same holds for
                    // the WIM itself, replaced by a rebuild (rename) while we waited.
                    let same = match (file.metadata(), std::fs::symlink_metadata(&lock_path)) {
                        (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
                        _ => false,
                    };
                    let same_wim = match &identity {
                        None => true,
                        Some(f) => match (f.metadata(), std::fs::metadata(&wim_path)) {
                            (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
                            _ => false,
                        },
                    };
                    if !same || !same_wim {
                        continue;
                    }
                    let mut lock = WimLock { file, lock_path, identity };
                    lock.write_holder();
                    return Ok(lock);
                }
                Err(TryLockError::WouldBlock) => {
                    let give_up = match wait {
                        LockWait::NoWait => true,
                        LockWait::For(limit) => started.elapsed() >= limit,
                    };
                    if give_up {
                        let holder = read_holder(&lock_path);
                        // A mount whose directory is no longer mounted is being torn down: its daemon
                        // releases the lock a moment after `unmount` returns. Wait for that (bounded)
                        // instead of telling the user to unmount what is already unmounted.
                        if unmounting(&holder) && started.elapsed() < UNMOUNT_GRACE {
                            std::thread::sleep(Duration::from_millis(50));
                            continue;
                        }
                        return Err(Error::Locked {
                            path: wim.to_path_buf(),
                            hint: hint_for(&holder),
                            holder,
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
        let text = format!("pid {} ({})", std::process::id(), std::env::args().next().unwrap_or_default());
        self.describe(&text);
    }

    /// Records that a mount holds the lock: its daemon is a fork whose pid nobody knows, so the
    /// record names the mount directory and what it is, which is what another writer needs to hear.
    pub fn held_by_mount(&self, dir: &Path, read_write: bool) {
        let mode = if read_write { "read-write" } else { "read-only" };
        self.describe(&format!("{MOUNT_HOLDER}{mode} mount on {}", dir.display()));
    }

    fn describe(&self, text: &str) {
        let mut file = &self.file;
        let _ = file.set_len(0);
        let _ = file.seek(SeekFrom::Start(0));
        let _ = file.write_all(format!("{text}\n").as_bytes());
    }
}

/// How a mount's holder record starts.
const MOUNT_HOLDER: &str = "a ";

/// How long a writer waits for the daemon of a mount that was just unmounted to let the lock go.
const UNMOUNT_GRACE: Duration = Duration::from_secs(15);

/// The mount directory a holder record names, when the holder is a mount.
fn mount_dir_of(holder: &str) -> Option<&str> {
    holder.strip_prefix(MOUNT_HOLDER).and_then(|rest| rest.split_once(" mount on ")).map(|(_, dir)| dir)
}

/// Whether `holder` is a mount whose directory is no longer a mount point (its daemon is exiting).
fn unmounting(holder: &str) -> bool {
    let Some(dir) = mount_dir_of(holder) else { return false };
    let dir = Path::new(dir);
    let (Ok(here), Some(Ok(parent))) = (std::fs::metadata(dir), dir.parent().map(std::fs::metadata)) else {
        return false;
    };
    here.dev() == parent.dev()
}

/// What another writer is told to do about `holder`.
fn hint_for(holder: &str) -> String {
    match mount_dir_of(holder) {
        Some(dir) => format!(
            "the image is mounted: unmount it first with `wimpatch unmount --mount-dir {dir} --commit` (or --discard)"
        ),
        None => "wait for it to finish, or let this command wait with --wait-lock <SECONDS>".into(),
    }
}

impl Drop for WimLock {
    fn drop(&mut self) {
        // The WIM's identity lock goes first: released after the unlink, a writer arriving in between
        // made a fresh lock file, found the WIM still locked through no lock file it could read, and
        // was refused with "unknown holder" right after an unmount (the mount daemon exiting). In
        // this order that writer waits on the old lock file instead, whose record says who holds it.
        // Unlocked explicitly: a child forked meanwhile by another thread still holds a copy of the
        // descriptor until it execs, and closing ours alone would leave the lock to that copy.
        if let Some(identity) = self.identity.take() {
            let _ = safe_fs::unlock_identity(&identity);
        }
        // Unlink while still holding the lock so no lock files accumulate; a waiter that opened the old
        // inode notices the unlink (inode check above) and retries on a fresh file.
        let _ = std::fs::remove_file(&self.lock_path);
        let _ = self.file.unlock();
    }
}

fn read_holder(lock_path: &Path) -> String {
    let mut s = String::new();
    if let Ok(mut f) = safe_fs::open_regular(lock_path) {
        let _ = Read::by_ref(&mut f).take(256).read_to_string(&mut s);
    }
    let s = s.trim();
    if s.is_empty() {
        "unknown holder".into()
    } else {
        s.to_string()
    }
}
