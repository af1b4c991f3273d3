//! CMTrace log files: one entry per line, `<![LOG[text]LOG]!><time=… date=… component=… type=…>`, the
//! format ConfigMgr's server components write and CMTrace/OneTrace parse (severity colouring, columns).

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::clock::{civil_from_unix, now_unix};
use super::local_offset::offset_minutes_east;

/// Size past which a CMTrace log is rotated: renamed to `<name>.lo_` (replacing an older one) and
/// started anew, as ConfigMgr does with its component logs.
pub const DEFAULT_MAX_LOG_BYTES: u64 = 2 << 20;

/// An entry's severity: CMTrace's `type` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// `type="1"`.
    Info,
    /// `type="2"` (yellow in CMTrace).
    Warning,
    /// `type="3"` (red in CMTrace).
    Error,
}

impl Severity {
    fn code(self) -> u8 {
        match self {
            Severity::Info => 1,
            Severity::Warning => 2,
            Severity::Error => 3,
        }
    }
}

/// An open CMTrace log, appended to.
#[derive(Debug)]
pub struct CmTraceLog {
    path: PathBuf,
    file: File,
    component: String,
    /// Bytes in the current file.
    size: u64,
    /// Rotation size.
    max: u64,
}

impl CmTraceLog {
    /// Opens `path` for appending (created if missing); entries carry `component`.
    pub fn open(path: &Path, component: &str) -> io::Result<CmTraceLog> {
        Self::open_with_max(path, component, DEFAULT_MAX_LOG_BYTES)
    }

    /// [`CmTraceLog::open`], rotating at `max` bytes instead of [`DEFAULT_MAX_LOG_BYTES`].
    pub fn open_with_max(path: &Path, component: &str, max: u64) -> io::Result<CmTraceLog> {
        // A planted link or hard link at the log name is refused, never appended through.
        let mut file = safe_fs::open_append(path)?;
        let mut size = file.metadata()?.len();
        if size >= max {
            file = rotate(path)?;
            size = 0;
        }
        Ok(CmTraceLog { path: path.to_path_buf(), file, component: component.to_owned(), size, max })
    }

    /// The previous generation: `<name>.lo_`.
    pub fn rotated_path(path: &Path) -> PathBuf {
        path.with_extension("lo_")
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one entry stamped now. A failing log write is reported on `tracing` and otherwise
    /// ignored: losing a log line must not fail the servicing it describes.
    pub fn write(&mut self, severity: Severity, text: &str) {
        match severity {
            Severity::Info => tracing::info!(target: "OfflineServicingMgr", "{text}"),
            // Warnings and failures reach the console once, in plain words, from where they
            // arise (a tracing warning, or the error returned); the ConfigMgr line stays in the log
            // and shows on the console only with -v.
            Severity::Warning | Severity::Error => tracing::info!(target: "OfflineServicingMgr", "{text}"),
        }
        let now = now_unix();
        let bias = -offset_minutes_east((now / 1000) as i64);
        let line = format_entry(now, bias, std::process::id(), &self.component, severity, text);
        if self.size > 0 && self.size + line.len() as u64 > self.max {
            match rotate(&self.path) {
                Ok(file) => {
                    self.file = file;
                    self.size = 0;
                }
                Err(e) => tracing::warn!(path = %self.path.display(), error = %e, "cannot rotate log"),
            }
        }
        self.size += line.len() as u64;
        if let Err(e) = self.file.write_all(line.as_bytes()) {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot write log entry");
        }
    }

    /// An informational entry.
    pub fn info(&mut self, text: &str) {
        self.write(Severity::Info, text);
    }

    /// A warning entry.
    pub fn warn(&mut self, text: &str) {
        self.write(Severity::Warning, text);
    }

    /// An error entry.
    pub fn error(&mut self, text: &str) {
        self.write(Severity::Error, text);
    }
}

/// Renames the log to `<name>.lo_` (replacing an older one) and opens a new, empty one.
fn rotate(path: &Path) -> io::Result<File> {
    safe_fs::rename(path, &CmTraceLog::rotated_path(path))?;
    safe_fs::open_append(path)
}

/// One CMTrace line, stamped with the local time of `unix_millis` and its bias (minutes *west* of
/// UTC, as Windows counts it and ConfigMgr writes it: UTC+1 is `-060`, UTC-8 `+480`). The text may
/// not contain `]LOG]!>` (it would end the entry early) nor line breaks
/// (CMTrace would start a new entry), so those are neutralised.
pub fn format_entry(
    unix_millis: u64,
    bias_minutes: i32,
    thread: u32,
    component: &str,
    severity: Severity,
    text: &str,
) -> String {
    let local = unix_millis as i64 - i64::from(bias_minutes) * 60_000;
    let c = civil_from_unix(local.max(0) as u64);
    let text = text.replace("]LOG]!>", "] LOG]!>").replace(['\r', '\n'], " ");
    format!(
        "<![LOG[{text}]LOG]!><time=\"{:02}:{:02}:{:02}.{:03}{bias_minutes:+04}\" date=\"{:02}-{:02}-{:04}\" component=\"{component}\" \
         context=\"\" type=\"{}\" thread=\"{thread}\" file=\"\">\r\n",
        c.hour,
        c.minute,
        c.second,
        c.millis,
        c.month,
        c.day,
        c.year,
        severity.code()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_has_cmtrace_fields() {
        let line =
            format_entry(1_709_251_198_250, 0, 77356, "SMS_OFFLINE_SERVICING_MANAGER", Severity::Warning, "a\nb");
        assert_eq!(
            line,
            "<![LOG[a b]LOG]!><time=\"23:59:58.250+000\" date=\"02-29-2024\" component=\"SMS_OFFLINE_SERVICING_MANAGER\" \
             context=\"\" type=\"2\" thread=\"77356\" file=\"\">\r\n"
        );
    }

    #[test]
    fn entry_carries_local_time_and_its_bias_west_of_utc() {
        // 23:59:58.250Z in UTC+1 (bias -60) is 00:59:58.250 the next day.
        let east = format_entry(1_709_251_198_250, -60, 1, "C", Severity::Info, "x");
        assert!(east.contains("time=\"00:59:58.250-060\" date=\"03-01-2024\""), "{east}");
        // In UTC-8 (bias +480) it is 15:59:58.250 the same day.
        let west = format_entry(1_709_251_198_250, 480, 1, "C", Severity::Info, "x");
        assert!(west.contains("time=\"15:59:58.250+480\" date=\"02-29-2024\""), "{west}");
    }

    #[test]
    fn a_log_past_its_size_is_rotated_to_lo_underscore() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("OfflineServicingMgr.log");
        let mut log = CmTraceLog::open_with_max(&path, "C", 600).unwrap();
        for i in 0..6 {
            log.info(&format!("entry {i}"));
        }
        let rotated = std::fs::read_to_string(CmTraceLog::rotated_path(&path)).unwrap();
        let current = std::fs::read_to_string(&path).unwrap();
        assert!(rotated.contains("entry 0") && !current.contains("entry 0"), "{rotated}\n{current}");
        assert!(current.contains("entry 5") && current.len() <= 600, "{current}");
        // Reopening a full log rotates it before the first entry.
        drop(log);
        let _ = CmTraceLog::open_with_max(&path, "C", 10).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
        assert!(std::fs::read_to_string(CmTraceLog::rotated_path(&path)).unwrap().contains("entry 5"));
    }
}
