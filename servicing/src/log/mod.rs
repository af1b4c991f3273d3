//! Log files an image engineer already reads: CMTrace-format `OfflineServicingMgr.log` (one entry per
//! package) and a `dism.log`-style detail log (applicability, files, registry), both appended to under
//! a log directory. Every entry is also a `tracing` event, so `-v` on the CLI shows the same lines.

mod clock;
mod cmtrace;
mod dism;
mod local_offset;

pub use clock::{civil_from_unix, filetime_from_unix, now_unix, Civil};
pub use cmtrace::{CmTraceLog, Severity, DEFAULT_MAX_LOG_BYTES};
pub use dism::DismLog;
pub use local_offset::offset_minutes_east;

use std::path::{Path, PathBuf};

/// The component name ConfigMgr's offline servicing manager writes in its log.
pub const OFFLINE_SERVICING_COMPONENT: &str = "SMS_OFFLINE_SERVICING_MANAGER";

/// File name of the per-package log.
pub const OFFLINE_SERVICING_LOG: &str = "OfflineServicingMgr.log";

/// File name of the detail log.
pub const DISM_LOG: &str = "dism.log";

/// Both logs of one servicing run, under one directory.
#[derive(Debug)]
pub struct ServicingLogs {
    dir: PathBuf,
    /// `OfflineServicingMgr.log`.
    pub manager: CmTraceLog,
    /// `dism.log`.
    pub detail: DismLog,
}

impl ServicingLogs {
    /// Opens (creating the directory and files, appending when they exist) both logs in `dir`.
    pub fn open(dir: &Path) -> std::io::Result<ServicingLogs> {
        safe_fs::create_dir_all(dir)?;
        Ok(ServicingLogs {
            dir: dir.to_path_buf(),
            manager: CmTraceLog::open(&dir.join(OFFLINE_SERVICING_LOG), OFFLINE_SERVICING_COMPONENT)?,
            detail: DismLog::open(&dir.join(DISM_LOG))?,
        })
    }

    /// The log directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}
