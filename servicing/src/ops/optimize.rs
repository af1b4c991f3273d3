//! `optimize`: rebuild a WIM to reclaim the holes that appends leave (`wimoptimize`).

use std::path::{Path, PathBuf};

use super::file_size;
use crate::progress::Control;
use crate::wim::{Commit, LockWait, OpenMode, Result, Wim, WriteOptions};

/// What `optimize` reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OptimizeReport {
    /// The WIM file.
    #[serde(rename = "wim")]
    pub path: PathBuf,
    /// Size before, in bytes.
    pub size_before: u64,
    /// Size after, in bytes.
    pub size_after: u64,
    /// Whether all data was recompressed.
    pub recompressed: bool,
}

/// Rebuilds the WIM into a temporary file and renames it over the original (wimlib's rebuild), under the
/// writer lock. A kill leaves the original intact and a temp file the next writer removes.
pub fn optimize(path: &Path, recompress: bool, wait: LockWait, control: Control<'_>) -> Result<OptimizeReport> {
    let size_before = file_size(path)?;
    let wim = Wim::open(path, OpenMode::ReadWrite(wait))?;
    wim.commit(Commit::Rebuild { recompress }, WriteOptions::default(), control)?;
    tracing::info!(path = %path.display(), recompress, "rebuilt");
    Ok(OptimizeReport { path: path.to_path_buf(), size_before, size_after: file_size(path)?, recompressed: recompress })
}
