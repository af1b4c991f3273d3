//! Writing an output file of the `delta` and `manifest` verbs: only after the work succeeded, never
//! through a symlink planted at the destination (safe-fs's atomic replace: an exclusive temp file
//! beside the destination, synced, renamed over it — a rename replaces a link instead of following
//! it, and a failure leaves the destination untouched).

use std::path::Path;

use anyhow::{bail, Context as _, Result};

/// Writes `bytes` to `dest` as described above.
pub fn write_new_file(dest: &Path, bytes: &[u8]) -> Result<()> {
    if dest.file_name().is_none() {
        bail!("{}: not a file name", dest.display());
    }
    if std::fs::symlink_metadata(dest).is_ok_and(|m| m.is_dir()) {
        bail!("{}: is a directory", dest.display());
    }
    safe_fs::write_atomic(dest, bytes).with_context(|| format!("{}: cannot write", dest.display()))
}
