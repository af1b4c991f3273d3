//! Writing a hive back to disk atomically: libhivex writes a temporary file next to the destination,
//! which is synced and renamed over it, so a crash or a failed write never leaves a half-written hive
//! in an image.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use hivex_sys as sys;

use super::handle::{c_path, last_errno};
use super::{Error, Hive};

impl Hive {
    /// Writes the hive back over the file it was opened from, atomically.
    pub fn commit(&mut self) -> Result<(), Error> {
        let path = self.path.clone();
        self.commit_to(&path)
    }

    /// Writes the hive to `path`, atomically replacing any file there. The hive stays open and
    /// [`Hive::commit`] still targets the file it was opened from.
    ///
    /// On failure `path` is unchanged and no temporary file is left behind.
    pub fn commit_to(&mut self, path: &Path) -> Result<(), Error> {
        self.require_writable("commit")?;
        let fail = |source: io::Error| Error::Commit { path: path.to_path_buf(), source };
        let (temp, file) = create_temp(path).map_err(fail)?;
        let guard = TempGuard(Some(temp.clone()));

        let c_temp = c_path(&temp)?;
        // SAFETY: the handle is live and writable, and c_temp is NUL-terminated and outlives the call.
        // libhivex opens the path itself, truncates it and writes the whole hive.
        let rc = unsafe { sys::hivex_commit(self.raw(), c_temp.as_ptr(), 0) };
        if rc != 0 {
            return Err(fail(last_errno()));
        }
        // Keep the destination's permissions (set only now: libhivex reopens the file for writing by
        // name). A new hive keeps the default, 0666 less the umask.
        if let Ok(meta) = fs::metadata(path) {
            file.set_permissions(fs::Permissions::from_mode(meta.permissions().mode() & 0o7777)).map_err(fail)?;
        }
        // libhivex closed its own descriptor without syncing; ours refers to the same file.
        file.sync_all().map_err(fail)?;
        drop(file);
        safe_fs::rename(&temp, path).map_err(fail)?;
        guard.disarm();

        // Make the rename itself durable. Some filesystems refuse fsync on a directory; the data is
        // already in place, so that is only worth a warning.
        if let Err(err) = File::open(parent_dir(path)).and_then(|dir| dir.sync_all()) {
            tracing::warn!(path = %path.display(), error = %err, "could not sync the directory of the committed hive");
        }
        tracing::debug!(path = %path.display(), "committed registry hive");
        Ok(())
    }
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Creates a new, empty temporary file next to `path` (so the final rename stays on one filesystem),
/// never following or reusing something already at that name.
fn create_temp(path: &Path) -> io::Result<(PathBuf, File)> {
    if path.file_name().is_none() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "the destination has no file name"));
    }
    loop {
        let temp = safe_fs::temp_beside(path);
        match safe_fs::create_new(&temp) {
            Ok(file) => return Ok((temp, file)),
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(err),
        }
    }
}

/// Removes the temporary file unless the commit got as far as renaming it.
struct TempGuard(Option<PathBuf>);

impl TempGuard {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(temp) = self.0.take() {
            if let Err(err) = fs::remove_file(&temp) {
                tracing::warn!(path = %temp.display(), error = %err, "could not remove temporary hive file");
            }
        }
    }
}
