//! What every writing run of the engine sets up first, the same way for `add-package`,
//! `cleanup-image` and `service`: its scratch folder (locked while the run lives, swept by the next
//! run after a crash), the log folder, and the two logs opened with the session's opening lines.

use std::path::{Path, PathBuf};

use super::error::{Error, Result};
use super::scratch::Scratch;
use crate::log::ServicingLogs;

/// A run's scratch folder and logs.
pub(crate) struct RunContext {
    /// The run's scratch folder.
    pub scratch: Scratch,
    /// Where the logs are.
    pub log_dir: PathBuf,
    /// `OfflineServicingMgr.log` and `dism.log`.
    pub logs: ServicingLogs,
    /// Why the requested scratch folder was not used, when it was not (also logged).
    pub scratch_warning: Option<String>,
}

impl RunContext {
    /// Sets up a run of `verb` (`add-package`, …) on `target` (as shown in logs): scratch under
    /// `scratch_dir`, logs under `log_dir` (default: in the scratch area), the session's start
    /// lines in both logs, and the scratch fallback warning in the manager log.
    pub fn open(verb: &str, target: &str, scratch_dir: Option<&Path>, log_dir: Option<&Path>) -> Result<RunContext> {
        let (scratch, scratch_warning) = Scratch::create(scratch_dir)?;
        let log_dir = scratch.log_dir(log_dir)?;
        let mut logs = ServicingLogs::open(&log_dir).map_err(Error::io(&log_dir, "cannot open the log files"))?;
        logs.detail.dism(&format!("DISM.EXE: <----- Starting wimpatch {verb} session -----> {target}"));
        logs.manager.info(&format!("Processing started for image {target}"));
        if let Some(w) = &scratch_warning {
            logs.manager.warn(w);
        }
        Ok(RunContext { scratch, log_dir, logs, scratch_warning })
    }

    /// Writes the session's closing line in `dism.log`.
    pub fn end(&mut self, verb: &str) {
        self.logs.detail.dism(&format!("DISM.EXE: <----- Ending wimpatch {verb} session ----->"));
    }
}
