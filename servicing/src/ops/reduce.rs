//! `reduce`: keep one image and drop the rest, so the file really shrinks (ConfigMgr's single-index
//! import; DISM needs `/Export-Image` to a new file for the same result).

use std::path::{Path, PathBuf};

use super::{file_size, same_file};
use crate::progress::Control;
use crate::wim::{Compression, ImageRef, LockWait, OpenMode, Result, Wim, WimLock, WriteOptions};

/// What `reduce` reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReduceReport {
    /// The source WIM.
    #[serde(rename = "wim")]
    pub source: PathBuf,
    /// Where the result was written (the source itself when reduced in place).
    pub dest: PathBuf,
    /// Index the kept image had in the source.
    #[serde(rename = "index")]
    pub kept_index: u32,
    /// Its name.
    #[serde(rename = "name")]
    pub kept_name: Option<String>,
    /// Images dropped.
    pub dropped: u32,
    /// Source size before, in bytes.
    pub size_before: u64,
    /// Result size, in bytes.
    pub size_after: u64,
}

/// Exports the kept image into a new WIM (same compression) written beside the destination and renamed
/// into place: in place over the source (under its writer lock) unless `dest` is given. A `dest` that
/// exists (and is not the source) is refused unless `overwrite`. A kill at any point leaves the
/// source as it was; the next writer removes the temp file.
pub fn reduce(
    source: &Path,
    keep: &ImageRef,
    dest: Option<&Path>,
    overwrite: bool,
    wait: LockWait,
    control: Control<'_>,
) -> Result<ReduceReport> {
    let size_before = file_size(source)?;
    let in_place = dest.is_none_or(|d| same_file(source, d));
    if let Some(d) = dest.filter(|_| !in_place && !overwrite) {
        // symlink_metadata: a dangling link is something there too.
        if d.symlink_metadata().is_ok() {
            return Err(crate::wim::Error::DestinationExists { path: d.to_path_buf() });
        }
    }
    let src = Wim::open(source, if in_place { OpenMode::ReadWrite(wait) } else { OpenMode::ReadOnly })?;
    let index = src.resolve(keep)?;
    let info = src.info();
    let compression = info.compression.unwrap_or(Compression::Lzx);
    let target = if in_place { source.to_path_buf() } else { dest.map(Path::to_path_buf).unwrap_or_default() };
    let own_lock;
    let lock = if in_place {
        src.writer_lock().expect("a read-write handle holds the writer lock")
    } else {
        own_lock = WimLock::acquire(&target, wait)?;
        &own_lock
    };
    let mut out = Wim::create_new(compression, &target)?;
    src.export_to(index, &mut out, None, control)?;
    let opts = WriteOptions { check_integrity: info.has_integrity_table, ..WriteOptions::default() };
    out.write_new(&target, lock, opts, control)?;
    tracing::info!(source = %source.display(), dest = %target.display(), kept = index, dropped = info.image_count - 1, "reduced to one image");
    let kept_name = src.property(index, "NAME");
    Ok(ReduceReport {
        source: source.to_path_buf(),
        dest: target.clone(),
        kept_index: index,
        kept_name,
        dropped: info.image_count - 1,
        size_before,
        size_after: file_size(&target)?,
    })
}
