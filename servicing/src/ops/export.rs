//! `export-image`: copy one image into another WIM (DISM `/Export-Image`), creating it or appending.

use std::path::PathBuf;

use super::{file_size, same_file};
use crate::progress::Control;
use crate::wim::{Commit, Compression, Error, ImageRef, LockWait, OpenMode, Result, Wim, WimLock, WriteOptions};

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    /// Source WIM.
    pub source: PathBuf,
    /// Source image.
    pub image: ImageRef,
    /// Destination WIM (created if missing, appended to otherwise).
    pub dest: PathBuf,
    /// Compression of a new destination (default: the source's). An existing destination keeps its
    /// own; asking for a different one is an error, as with DISM.
    pub compression: Option<Compression>,
    /// Name of the new image (default: the source image's name).
    pub dest_name: Option<String>,
    /// Write an integrity table.
    pub check_integrity: bool,
    /// How long to wait for another writer of the destination.
    pub wait: LockWait,
}

/// What `export-image` reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportReport {
    /// Source WIM.
    #[serde(rename = "wim")]
    pub source: PathBuf,
    /// Source image index.
    #[serde(rename = "index")]
    pub source_index: u32,
    /// Destination WIM.
    pub dest: PathBuf,
    /// Index of the new image in the destination.
    pub dest_index: u32,
    /// Whether the destination was created.
    pub created: bool,
    /// Destination compression.
    pub compression: Option<Compression>,
    /// Destination size before (0 if created), in bytes.
    pub dest_size_before: u64,
    /// Destination size after, in bytes.
    pub dest_size_after: u64,
}

/// Exports one image. A new destination is written to a temp file and renamed into place; an existing
/// one gets a crash-safe append under its writer lock. The source is only read.
pub fn export_image(req: &ExportRequest, control: Control<'_>) -> Result<ExportReport> {
    if same_file(&req.source, &req.dest) {
        return Err(Error::Invalid {
            path: req.dest.clone(),
            message: "the destination is the source WIM; export to another file (or use `reduce` to keep one image)"
                .into(),
        });
    }
    let src = Wim::open(&req.source, OpenMode::ReadOnly)?;
    let index = src.resolve(&req.image)?;
    let src_compression = src.info().compression;
    let opts = WriteOptions { check_integrity: req.check_integrity, ..WriteOptions::default() };

    if req.dest.exists() {
        let dest_size_before = file_size(&req.dest)?;
        let mut dest = Wim::open(&req.dest, OpenMode::ReadWrite(req.wait))?;
        let dest_compression = dest.info().compression;
        if let Some(wanted) = req.compression {
            if Some(wanted) != dest_compression {
                return Err(Error::Invalid {
                    path: req.dest.clone(),
                    message: format!(
                        "the destination exists with {} compression; appending keeps it, so --compress {} is not possible (export to a new file instead)",
                        dest_compression.map_or("unknown", Compression::name),
                        wanted.name()
                    ),
                });
            }
        }
        let dest_index = src.export_to(index, &mut dest, req.dest_name.as_deref(), control)?;
        dest.commit(Commit::Append, opts, control)?;
        tracing::info!(source = %req.source.display(), image = index, dest = %req.dest.display(), dest_index, "exported image (appended)");
        return Ok(ExportReport {
            source: req.source.clone(),
            source_index: index,
            dest: req.dest.clone(),
            dest_index,
            created: false,
            compression: dest_compression,
            dest_size_before,
            dest_size_after: file_size(&req.dest)?,
        });
    }

    let compression = req.compression.or(src_compression).unwrap_or(Compression::Lzx);
    let lock = WimLock::acquire(&req.dest, req.wait)?;
    let mut dest = Wim::create_new(compression, &req.dest)?;
    let dest_index = src.export_to(index, &mut dest, req.dest_name.as_deref(), control)?;
    dest.write_new(&req.dest, &lock, opts, control)?;
    tracing::info!(source = %req.source.display(), image = index, dest = %req.dest.display(), compression = compression.name(), "exported image (new file)");
    Ok(ExportReport {
        source: req.source.clone(),
        source_index: index,
        dest: req.dest.clone(),
        dest_index,
        created: true,
        compression: Some(compression),
        dest_size_before: 0,
        dest_size_after: file_size(&req.dest)?,
    })
}
