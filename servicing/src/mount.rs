//! Mounting an image for editing, DISM `/Mount-Image` style, through a helper process.
//!
//! wimlib's mount daemonizes and exits the calling process, so the engine never mounts in-process: it
//! runs a helper program (the `wimpatch` binary's hidden `mount-helper` verb) that opens the WIM, takes
//! the writer lock for a read-write mount, and mounts; the helper's exit status tells whether the mount
//! is up. The daemon keeps the lock until unmount. Mounting needs FUSE (`/dev/fuse` and the right to
//! mount); where it is missing the error names the mount-free alternative.

use crate::io_error::IoError;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::wim::{self, ImageRef, LockWait, OpenMode, Wim, WimLock};

/// The FUSE device wimlib's mount needs.
pub const FUSE_DEVICE: &str = "/dev/fuse";

/// Errors of mount and unmount.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MountError {
    /// No FUSE device.
    #[error("cannot mount {}: FUSE is not available ({} is missing; load the fuse module, or in a container pass --device /dev/fuse --cap-add SYS_ADMIN). Mounting is optional: service the WIM directly without mounting (the mount-free path, e.g. `wimpatch info`, `export-image`, `reduce`, and add-package with --image/--index)", wim.display(), device.display())]
    FuseUnavailable {
        /// The WIM.
        wim: PathBuf,
        /// The device that is missing.
        device: PathBuf,
    },
    /// The mount directory is missing, not a directory, or not empty.
    #[error("mount directory {}: {problem}", dir.display())]
    BadMountDir {
        /// The directory.
        dir: PathBuf,
        /// What is wrong.
        problem: &'static str,
    },
    /// The helper process failed.
    #[error("mounting {} on {} failed: {detail}", wim.display(), dir.display())]
    Helper {
        /// The WIM.
        wim: PathBuf,
        /// The mount directory.
        dir: PathBuf,
        /// What the helper reported.
        detail: String,
    },
    /// A WIM error (open, lock, unmount).
    #[error(transparent)]
    Wim(#[from] wim::Error),
    /// A filesystem error.
    #[error(transparent)]
    Io(#[from] IoError),
}

/// What to mount.
#[derive(Debug, Clone)]
pub struct MountRequest {
    /// The WIM file.
    pub wim: PathBuf,
    /// The image.
    pub image: ImageRef,
    /// The (existing, empty) mount directory.
    pub dir: PathBuf,
    /// Read-write (changes can be committed) or read-only.
    pub read_write: bool,
    /// Scratch directory; the staging directory of a read-write mount lives under it.
    pub scratch_dir: PathBuf,
}

impl MountRequest {
    /// The staging directory wimlib keeps modified files in during a read-write mount: one per WIM
    /// (named after a hash of its absolute path), so that whoever holds the WIM's writer lock knows
    /// that anything already in it was left by a killed mount daemon.
    pub fn staging_dir(&self) -> PathBuf {
        let key = std::path::absolute(&self.wim).unwrap_or_else(|_| self.wim.clone());
        // FNV-1a: stable across builds, unlike std's hasher.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in key.as_os_str().as_encoded_bytes() {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.scratch_dir.join("mount-staging").join(format!("{h:016x}"))
    }
}

/// Checks that the FUSE device exists.
pub fn check_fuse(wim: &Path, device: &Path) -> Result<(), MountError> {
    if device.exists() {
        Ok(())
    } else {
        Err(MountError::FuseUnavailable { wim: wim.to_path_buf(), device: device.to_path_buf() })
    }
}

/// Linux's "Transport endpoint is not connected": what a FUSE mount point answers once its daemon
/// has gone.
const ENOTCONN: i32 = 107;

fn check_mount_dir(dir: &Path) -> Result<(), MountError> {
    let bad = |problem| Err(MountError::BadMountDir { dir: dir.to_path_buf(), problem });
    match std::fs::read_dir(dir) {
        Err(e) if e.raw_os_error() == Some(ENOTCONN) => bad(
            "is a FUSE mount point whose daemon is gone (run `wimpatch unmount --mount-dir` on it, or `fusermount -u`)",
        ),
        Err(_) if !dir.exists() => bad("does not exist (create an empty directory first)"),
        Err(_) if !dir.is_dir() => bad("is not a directory"),
        Err(e) => Err(MountError::Io(IoError { path: dir.to_path_buf(), action: "cannot read", source: e })),
        Ok(mut entries) => {
            if entries.next().is_some() {
                bad("is not empty")
            } else {
                Ok(())
            }
        }
    }
}

/// Mounts by running `helper` with `helper_args` (which must end up calling [`run_helper`] with the
/// same request) and waiting for it. Returns once the mount is up.
pub fn mount(req: &MountRequest, helper: &Path, helper_args: &[String]) -> Result<(), MountError> {
    check_fuse(&req.wim, Path::new(FUSE_DEVICE))?;
    check_mount_dir(&req.dir)?;
    // Validate the WIM and image before forking anything, so bad input fails with the usual messages.
    let probe = Wim::open(&req.wim, OpenMode::ReadOnly)?;
    probe.resolve(&req.image)?;
    drop(probe);
    let staging = req.staging_dir();
    safe_fs::create_dir_all(&staging).map_err(|e| {
        MountError::Io(IoError { path: staging.clone(), action: "cannot create the staging directory", source: e })
    })?;
    // The helper's stderr goes to a file: the daemon it leaves behind keeps stderr open until libfuse
    // redirects it, so a pipe might never reach EOF.
    let err_path = req.scratch_dir.join(format!("mount-helper-{}.err", std::process::id()));
    let err_file = safe_fs::create_fresh(&err_path)
        .map_err(|e| MountError::Io(IoError { path: err_path.clone(), action: "cannot create", source: e }))?;
    let status = Command::new(helper)
        .args(helper_args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err_file)
        .status()
        .map_err(|e| {
            MountError::Io(IoError { path: helper.to_path_buf(), action: "cannot run the mount helper", source: e })
        })?;
    let detail = std::fs::read_to_string(&err_path).unwrap_or_default();
    let _ = std::fs::remove_file(&err_path);
    if status.success() {
        tracing::info!(wim = %req.wim.display(), dir = %req.dir.display(), rw = req.read_write, "mounted");
        Ok(())
    } else {
        let detail = detail.trim();
        let detail = if detail.is_empty() { format!("mount helper exited with {status}") } else { detail.to_string() };
        Err(MountError::Helper { wim: req.wim.clone(), dir: req.dir.clone(), detail })
    }
}

/// The helper side: opens, locks (read-write), and mounts from this process. On success this process
/// exits inside the call; the daemon returns here after unmount. Returns the exit code to use.
pub fn run_helper(req: &MountRequest) -> Result<(), MountError> {
    let mode = if req.read_write { OpenMode::ReadWrite(LockWait::NoWait) } else { OpenMode::ReadOnly };
    // A read-only mount takes the writer lock too: a writer that rebuilt the WIM under it (delete-image,
    // optimize) would pull the data out from under the mount. The daemon inherits the lock either way.
    let read_only_lock = if req.read_write { None } else { Some(WimLock::acquire(&req.wim, LockWait::NoWait)?) };
    let mut wim = Wim::open(&req.wim, mode)?;
    if let Some(lock) = read_only_lock.as_ref().or(wim.writer_lock()) {
        lock.held_by_mount(&req.dir, req.read_write);
    }
    let index = wim.resolve(&req.image)?;
    if req.read_write {
        // We hold the writer lock, so no live mount of this WIM exists: whatever is left in its
        // staging directory belongs to a killed mount daemon.
        sweep_staging(&req.staging_dir());
    }
    wim::mount::mount_here(&mut wim, index, &req.dir, req.read_write, &req.staging_dir())?;
    Ok(())
}

fn sweep_staging(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let path = e.path();
        let removed = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
        match removed {
            Ok(()) => tracing::info!(path = %path.display(), "removed the staging files of an interrupted mount"),
            Err(err) => tracing::warn!(path = %path.display(), %err, "cannot remove stale staging files"),
        }
    }
}

/// Unmounts, committing (append, under the lock the daemon holds) or discarding.
pub fn unmount(dir: &Path, commit: bool, force: bool) -> Result<(), MountError> {
    wim::mount::unmount(dir, commit, force)?;
    wait_until_detached(dir);
    Ok(())
}

/// wimlib returns once the daemon has committed, but the kernel may still be detaching the FUSE
/// file system: for a moment the directory answers ENOTCONN and the next `mount` on it fails with
/// "does not exist". Wait (bounded) until it reads as a plain directory again, so that "unmounted"
/// means the directory is usable, as after DISM's /Unmount-Image.
fn wait_until_detached(dir: &Path) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::fs::read_dir(dir).is_err() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
