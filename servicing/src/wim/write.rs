//! Getting changes to disk: writing a new WIM atomically, committing in place (append or rebuild),
//! exporting images between WIMs, and verifying.

use std::ffi::c_int;
use std::path::Path;

use super::atomic::{commit_rename, sweep_stale, temp_path_for};
use super::call::{cpath, cstr, with_progress};
use super::error::{Error, Result};
use super::handle::Wim;
use super::lock::{lock_path_for, WimLock};
use crate::progress::Control;

/// How to commit changes into the WIM's own file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
    /// Append new data and a new header; crash-safe (the header is written last) and cheap, but leaves
    /// the replaced data as holes. Synced to disk before returning.
    Append,
    /// Rewrite the whole file to a temporary file and rename it over the original (reclaims holes).
    /// With `recompress`, every blob is compressed again.
    Rebuild {
        /// Recompress all data, not only new data.
        recompress: bool,
    },
}

/// Options for writing a new WIM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriteOptions {
    /// Add an integrity table (DISM `/CheckIntegrity`).
    pub check_integrity: bool,
    /// Recompress data even where it could be copied raw.
    pub recompress: bool,
    /// Compression threads (0 = wimlib's choice: all CPUs, limited by memory).
    pub threads: u32,
}

impl WriteOptions {
    fn flags(self) -> c_int {
        let mut f = wim_sys::WIMLIB_WRITE_FLAG_FSYNC;
        if self.check_integrity {
            f |= wim_sys::WIMLIB_WRITE_FLAG_CHECK_INTEGRITY;
        }
        if self.recompress {
            f |= wim_sys::WIMLIB_WRITE_FLAG_RECOMPRESS;
        }
        f as c_int
    }
}

/// Gives the heap memory this process has freed back to the system before wimlib's write, which
/// needs its largest buffers last: glibc keeps what hydration's worker threads freed in their own
/// arenas, so it would otherwise still count (and be resident) while wimlib compresses.
fn release_freed_heap() {
    // SAFETY: malloc_trim only walks glibc's own arenas; no pointer of ours is involved.
    unsafe {
        libc::malloc_trim(0);
    }
}

impl Wim {
    /// Writes all images of this (usually in-memory) WIM to `dest` atomically: into a temporary file in
    /// the same directory, synced, then renamed over `dest`. `dest_lock` is the writer lock of `dest`,
    /// taken by the caller (it may be the lock of the handle being replaced, for an in-place rewrite);
    /// temp files left by killed writers of `dest` are removed first. On any error (or cancellation)
    /// `dest` is untouched and the temp file removed.
    pub fn write_new(
        &mut self,
        dest: &Path,
        dest_lock: &WimLock,
        opts: WriteOptions,
        control: Control<'_>,
    ) -> Result<()> {
        if dest_lock.path() != lock_path_for(dest) {
            return Err(Error::Invalid {
                path: dest.to_path_buf(),
                message: format!("write_new was given the lock of another file ({})", dest_lock.path().display()),
            });
        }
        sweep_stale(dest);
        release_freed_heap();
        let tmp = temp_path_for(dest);
        let c = cpath(&tmp)?;
        let raw = self.raw();
        let result = with_progress(raw, control, dest, "write", None, || {
            // SAFETY: live handle; `c` valid for the call.
            unsafe { wim_sys::wimlib_write(raw, c.as_ptr(), wim_sys::WIMLIB_ALL_IMAGES, opts.flags(), opts.threads) }
        });
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        if let Err(e) = commit_rename(&tmp, dest) {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        Ok(())
    }

    /// Commits changes into the WIM's own file. Takes `self`: after `wimlib_overwrite` succeeds the
    /// handle may only be freed, so reopen the file to continue. Needs a handle opened read-write (the
    /// writer lock is held until this returns).
    pub fn commit(mut self, how: Commit, opts: WriteOptions, control: Control<'_>) -> Result<()> {
        if !self.is_locked_for_write() {
            return Err(Error::Invalid {
                path: self.path().to_path_buf(),
                message: "commit needs a handle opened read-write (with the writer lock)".into(),
            });
        }
        let mut flags = opts.flags();
        match how {
            Commit::Append => {}
            Commit::Rebuild { recompress } => {
                flags |= wim_sys::WIMLIB_WRITE_FLAG_REBUILD as c_int;
                if recompress {
                    flags |= wim_sys::WIMLIB_WRITE_FLAG_RECOMPRESS as c_int;
                }
            }
        }
        release_freed_heap();
        let raw = self.raw();
        let path = self.path().to_path_buf();
        let lock = self.take_lock();
        let result = with_progress(raw, control, &path, "commit", None, || {
            // SAFETY: live handle; after this call the handle is only freed (by Drop below).
            unsafe { wim_sys::wimlib_overwrite(raw, flags, opts.threads) }
        });
        // Free the handle before releasing the lock, so no other writer opens the file while wimlib
        // still holds it.
        drop(self);
        if matches!(how, Commit::Rebuild { .. }) {
            super::atomic::sync_parent(&path);
        }
        drop(lock);
        result
    }

    /// Writes this WIM, with its in-memory changes, into a new file that replaces its own (temp file in
    /// the same directory, synced, renamed), under the writer lock this handle holds: what
    /// `wimlib-imagex export` of every image into a fresh file gives, holes and replaced data dropped.
    /// Takes `self` like [`Wim::commit`]. On any error or cancel the original file is untouched.
    pub fn rewrite(mut self, opts: WriteOptions, control: Control<'_>) -> Result<()> {
        let Some(lock) = self.take_lock() else {
            return Err(Error::Invalid {
                path: self.path().to_path_buf(),
                message: "rewrite needs a handle opened read-write (with the writer lock)".into(),
            });
        };
        let path = self.path().to_path_buf();
        let result = self.write_new(&path, &lock, opts, control);
        drop(self);
        drop(lock);
        result
    }

    /// Exports one image of `self` into `dest` (in memory; write `dest` afterwards). Only blobs missing
    /// from `dest` are copied. `name` overrides the image name (use it to avoid a name collision).
    pub fn export_to(&self, image: u32, dest: &mut Wim, name: Option<&str>, control: Control<'_>) -> Result<u32> {
        let n = name.map(|n| cstr("image name", n)).transpose()?;
        let np = n.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
        let src = self.raw();
        let dst = dest.raw();
        let path = self.path().to_path_buf();
        with_progress(dst, control, &path, "export", Some(image), || {
            // SAFETY: both handles live; the destination takes a reference on the source, so freeing
            // the source before writing the destination is allowed by wimlib.
            unsafe { wim_sys::wimlib_export_image(src, image as c_int, dst, np, std::ptr::null(), 0) }
        })?;
        Ok(dest.image_count())
    }

    /// Checks the metadata of every image and the SHA-1 of every blob.
    pub fn verify(&mut self, control: Control<'_>) -> Result<()> {
        let raw = self.raw();
        let path = self.path().to_path_buf();
        with_progress(raw, control, &path, "verify", None, || {
            // SAFETY: live handle; flags must be 0.
            unsafe { wim_sys::wimlib_verify_wim(raw, 0) }
        })
    }
}
