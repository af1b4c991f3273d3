//! `delete-image`: remove one image and rebuild so the file really shrinks.

use std::path::{Path, PathBuf};

use super::file_size;
use crate::progress::Control;
use crate::wim::{Commit, Error, ImageRef, LockWait, OpenMode, Result, Wim, WriteOptions};

/// What `delete-image` reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeleteReport {
    /// The WIM file.
    #[serde(rename = "wim")]
    pub path: PathBuf,
    /// Index of the deleted image (before deletion).
    #[serde(rename = "index")]
    pub deleted_index: u32,
    /// Its name.
    #[serde(rename = "name")]
    pub deleted_name: Option<String>,
    /// Images left.
    pub images_left: u32,
    /// Size before, in bytes.
    pub size_before: u64,
    /// Size after, in bytes.
    pub size_after: u64,
}

/// Deletes an image. Unlike DISM `/Delete-Image` (which only drops the metadata and leaves the data),
/// the file is rebuilt, so the space is reclaimed; the rebuild goes to a temp file renamed into place.
/// Deleting the only image is refused: a WIM with no image is of no use and DISM refuses it too.
pub fn delete_image(path: &Path, image: &ImageRef, wait: LockWait, control: Control<'_>) -> Result<DeleteReport> {
    let size_before = file_size(path)?;
    let mut wim = Wim::open(path, OpenMode::ReadWrite(wait))?;
    let index = wim.resolve(image)?;
    let count = wim.image_count();
    if count == 1 {
        return Err(Error::Invalid {
            path: path.to_path_buf(),
            message: "cannot delete the only image of a WIM".into(),
        });
    }
    let deleted_name = wim.property(index, "NAME");
    wim.delete_image(index)?;
    wim.commit(Commit::Rebuild { recompress: false }, WriteOptions::default(), control)?;
    tracing::info!(path = %path.display(), image = index, "deleted image and rebuilt");
    Ok(DeleteReport {
        path: path.to_path_buf(),
        deleted_index: index,
        deleted_name,
        images_left: count - 1,
        size_before,
        size_after: file_size(path)?,
    })
}
