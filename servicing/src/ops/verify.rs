//! `verify`: check every image's metadata and every blob's SHA-1.

use std::path::{Path, PathBuf};

use crate::progress::Control;
use crate::wim::{OpenMode, Result, Wim};

/// What `verify` reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VerifyReport {
    /// Whether every check passed (always true in a report: a failed check is an error, whose JSON
    /// says `"ok": false`).
    pub ok: bool,
    /// The WIM file.
    #[serde(rename = "wim")]
    pub path: PathBuf,
    /// Number of images checked.
    pub images: u32,
    /// Whether the header says an earlier write was interrupted (content is still valid).
    pub write_in_progress: bool,
}

/// Verifies a WIM. An error names the file and what failed (bad hash, bad metadata, missing resource).
pub fn verify(path: &Path, control: Control<'_>) -> Result<VerifyReport> {
    let mut wim = Wim::open(path, OpenMode::ReadOnly)?;
    wim.verify(control)?;
    let info = wim.info();
    Ok(VerifyReport {
        ok: true,
        path: path.to_path_buf(),
        images: info.image_count,
        write_in_progress: info.write_in_progress,
    })
}
