//! Writing an output file of the `delta` and `manifest` verbs: only after the work succeeded, never
//! through a symlink planted at the destination.
//!
//! The bytes go to a new temporary file beside the destination, created exclusively (`O_EXCL`
//! does not follow symlinks), flushed, then renamed over the destination: a rename replaces a
//! symlink there instead of writing through it, and a failure leaves the destination untouched.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};

/// Writes `bytes` to `dest` as described above.
pub fn write_new_file(dest: &Path, bytes: &[u8]) -> Result<()> {
    let Some(name) = dest.file_name() else {
        bail!("{}: not a file name", dest.display());
    };
    if std::fs::symlink_metadata(dest).is_ok_and(|m| m.is_dir()) {
        bail!("{}: is a directory", dest.display());
    }
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut attempt = 0u32;
    let (temp, mut file) = loop {
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(".wimpatch-{}-{attempt}.tmp", std::process::id()));
        let temp = dir.join(temp_name);
        match OpenOptions::new().write(true).create_new(true).open(&temp) {
            Ok(f) => break (temp, f),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => attempt += 1,
            Err(e) => return Err(e).with_context(|| format!("{}: cannot create", temp.display())),
        }
    };
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    drop(file);
    if let Err(e) = written.and_then(|()| std::fs::rename(&temp, dest)) {
        let _ = std::fs::remove_file(&temp);
        return Err(e).with_context(|| format!("{}: cannot write", dest.display()));
    }
    Ok(())
}
