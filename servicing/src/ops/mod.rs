//! The image verbs behind the CLI (`info`, `export-image`, `delete-image`, `reduce`, `optimize`,
//! `verify`): each opens what it needs, does one job safely, and returns a report the CLI prints as text
//! or JSON.

mod delete;
mod export;
mod info;
mod optimize;
mod reduce;
mod verify;
mod wcp_dll;

pub use delete::{delete_image, DeleteReport};
pub use export::{export_image, ExportReport, ExportRequest};
pub use info::{info, InfoReport};
pub use optimize::{optimize, OptimizeReport};
pub use reduce::{reduce, ReduceReport};
pub use verify::{verify, VerifyReport};
pub use wcp_dll::{servicing_stack_version, servicing_stack_wcp_dll, ImageWcpDll};

use crate::io_error::IoError;
use std::path::Path;

use crate::wim::{Error, Result};

/// Size of a file in bytes, with an error naming it.
pub(crate) fn file_size(path: &Path) -> Result<u64> {
    std::fs::metadata(path)
        .map(|m| m.len())
        .map_err(|e| Error::Io(IoError { path: path.to_path_buf(), action: "cannot read file size", source: e }))
}

/// Whether two paths name the same existing file.
pub(crate) fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}
