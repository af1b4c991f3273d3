//! Writing a new WIM beside its final path and renaming it into place, and sweeping up what killed
//! writers leave behind.
//!
//! A kill during `wimlib_write` leaves a temporary file and never touches the destination; a kill after
//! the rename leaves the new file complete. Two kinds of debris exist: our own `.<name>.wimpatch-tmp.*`
//! files, and wimlib's rebuild temp files (`<name>` + 9 alphanumerics, which open as
//! `WIMLIB_ERR_WIM_IS_INCOMPLETE`). Both are removed only while holding the WIM's writer lock, because
//! while the lock is held no other writer can be producing them.

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};

use super::error::{Error, Result};

const OUR_TAG: &str = ".wimpatch-tmp.";
const WIM_MAGIC: &[u8; 8] = b"MSWIM\0\0\0";

/// A unique temporary path in the same directory as `dest` (same filesystem, so the rename is atomic).
pub fn temp_path_for(dest: &Path) -> PathBuf {
    safe_fs::temp_beside(dest)
}

/// Renames `tmp` over `dest` and makes the rename durable by syncing the directory.
pub fn commit_rename(tmp: &Path, dest: &Path) -> Result<()> {
    safe_fs::rename(tmp, dest).map_err(|e| Error::io(dest, "cannot move the new file into place", e))?;
    sync_parent(dest);
    Ok(())
}

/// Best-effort fsync of a file's directory; a failure only weakens power-loss safety, so it is logged.
pub fn sync_parent(path: &Path) {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
        tracing::debug!(dir = %dir.display(), error = %e, "directory fsync failed");
    }
}

/// Removes temp files left by killed writers of `wim`. Call only while holding `wim`'s writer lock.
/// Returns the paths removed.
pub fn sweep_stale(wim: &Path) -> Vec<PathBuf> {
    let Some(name) = wim.file_name().map(|n| n.to_string_lossy().into_owned()) else { return Vec::new() };
    let dir = wim.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let ours = format!(".{name}{OUR_TAG}");
    // A work copy written through a temp name of its own (`service --reduce-to`) leaves
    // `..<name>.wimpatch-tmp.*` when killed mid-write.
    let nested = format!(".{ours}");
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let fname: OsString = entry.file_name();
        let fname = fname.to_string_lossy();
        let stale = fname.starts_with(&ours)
            || fname.starts_with(&nested)
            || is_wimlib_rebuild_temp(&name, &fname, &entry.path());
        if stale && std::fs::remove_file(entry.path()).is_ok() {
            tracing::info!(path = %entry.path().display(), "removed a temporary file left by an interrupted write");
            removed.push(entry.path());
        }
    }
    removed
}

/// wimlib's rebuild temp: the WIM's own name plus exactly 9 ASCII alphanumerics, starting with the WIM
/// magic. The magic check keeps us from deleting an unrelated file that happens to match the name.
fn is_wimlib_rebuild_temp(wim_name: &str, candidate: &str, path: &Path) -> bool {
    let Some(suffix) = candidate.strip_prefix(wim_name) else { return false };
    if suffix.len() != 9 || !suffix.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    // wimlib creates the file, then writes its header: a writer killed in between leaves a file
    // shorter than the magic or still zero there. Anything else must carry the WIM magic.
    let mut magic = [0u8; 8];
    use std::io::Read;
    let mut read = 0;
    if let Ok(mut f) = File::open(path) {
        while read < magic.len() {
            match f.read(&mut magic[read..]) {
                Ok(0) | Err(_) => break,
                Ok(n) => read += n,
            }
        }
    } else {
        return false;
    }
    read < magic.len() || magic == [0; 8] || &magic == WIM_MAGIC
}
