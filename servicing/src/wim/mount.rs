//! wimlib's FUSE mount and unmount calls.
//!
//! `wimlib_mount_image` daemonizes: on success the calling process exits inside the call (libfuse forks
//! and the parent calls `_exit(0)`), and the forked daemon returns from the call only after the image is
//! unmounted. So [`mount_here`] must only run in a dedicated helper process; `crate::mount` spawns one.

use std::ffi::c_int;
use std::path::Path;

use super::call::{check, cpath};
use super::error::Result;
use super::handle::Wim;

/// Mounts `image` of `wim` on `dir`, serving it from this process.
///
/// **Call only from a throw-away helper process.** On success this process exits with status 0 inside
/// the call once the mount is ready; the daemon that serves the mount (a fork of it) returns `Ok(())`
/// here after unmount, and must then exit. A read-write mount needs `wim` opened read-write: the daemon
/// inherits the writer lock and holds it for the whole mount, so no other writer can interleave.
pub fn mount_here(wim: &mut Wim, image: u32, dir: &Path, read_write: bool, staging_dir: &Path) -> Result<()> {
    let d = cpath(dir)?;
    let s = cpath(staging_dir)?;
    let mut flags = 0;
    if read_write {
        flags |= wim_sys::WIMLIB_MOUNT_FLAG_READWRITE as c_int;
    }
    // SAFETY: live handle; strings valid for the call. The process-exit behaviour is documented above.
    let code = unsafe { wim_sys::wimlib_mount_image(wim.raw(), image as c_int, d.as_ptr(), flags, s.as_ptr()) };
    check(code, wim.path(), "mount", Some(image))
}

/// Unmounts the image mounted on `dir`, committing changes (append) or discarding them. With `force`,
/// files still open in the mount are closed instead of failing with "busy".
pub fn unmount(dir: &Path, commit: bool, force: bool) -> Result<()> {
    let d = cpath(dir)?;
    let mut flags = 0;
    if commit {
        flags |= wim_sys::WIMLIB_UNMOUNT_FLAG_COMMIT as c_int;
        if force {
            flags |= wim_sys::WIMLIB_UNMOUNT_FLAG_FORCE as c_int;
        }
    }
    super::call::init();
    // SAFETY: `d` valid for the call; unmount talks to the daemon and touches no handle of ours.
    let code = unsafe { wim_sys::wimlib_unmount_image(d.as_ptr(), flags) };
    check(code, dir, if commit { "unmount (commit)" } else { "unmount (discard)" }, None)
}
