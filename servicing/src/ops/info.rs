//! `info`: the WIM header facts and every image's properties (DISM `/Get-ImageInfo`).

use std::path::{Path, PathBuf};

use crate::wim::{ImageInfo, OpenMode, Result, Wim, WimInfo};

/// What `info` reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InfoReport {
    /// The WIM file.
    #[serde(rename = "wim")]
    pub path: PathBuf,
    /// Header facts.
    pub header: WimInfo,
    /// Every image.
    pub images: Vec<ImageInfo>,
}

/// Reads the header and image properties of a WIM (read-only; no lock).
pub fn info(path: &Path) -> Result<InfoReport> {
    let wim = Wim::open(path, OpenMode::ReadOnly)?;
    Ok(InfoReport { path: path.to_path_buf(), header: wim.info(), images: wim.images() })
}
