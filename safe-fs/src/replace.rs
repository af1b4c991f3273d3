//! Replacing a file atomically: the new content goes to a temp file created (`O_EXCL|O_NOFOLLOW`)
//! beside the target, is synced, and is renamed over it, so a reader sees the old or the new file
//! and a planted link at the temp name is never written through.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::file::{create_new_mode, rename};

/// A fresh temp name beside `dest`: `.<name>.wimpatch-tmp.<pid>.<n>` (the faults harness and the
/// sweeps know the `.wimpatch-tmp` mark).
pub fn temp_beside(dest: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let name = dest.file_name().unwrap_or_default().to_string_lossy();
    dest.with_file_name(format!(".{name}.wimpatch-tmp.{}.{n}", std::process::id()))
}

/// Replaces `dest` by what `fill` writes. The temp file gets the mode of the file it replaces
/// (0666 minus the umask for a new one); on any error it is removed and `dest` is untouched.
pub fn replace_with(dest: &Path, fill: impl FnOnce(&mut File) -> io::Result<()>) -> io::Result<()> {
    let mode = match std::fs::symlink_metadata(dest) {
        Ok(m) if m.is_file() => m.permissions().mode() & 0o7777,
        _ => 0o666,
    };
    let (tmp, mut file) = loop {
        let tmp = temp_beside(dest);
        match create_new_mode(&tmp, mode) {
            Ok(f) => break (tmp, f),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    };
    let result = (|| {
        // The old mode exactly: the umask applied at creation may have dropped some of its bits.
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        fill(&mut file)?;
        file.sync_all()?;
        rename(&tmp, dest)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Replaces `dest` by `bytes` (see [`replace_with`]).
pub fn write_atomic(dest: &Path, bytes: &[u8]) -> io::Result<()> {
    replace_with(dest, |f| f.write_all(bytes))
}
