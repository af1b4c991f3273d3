//! CMTrace log files: one entry per line, `<![LOG[text]LOG]!><time=… date=… component=… type=…>`, the
//! format ConfigMgr's server components write and CMTrace/OneTrace parse (severity colouring, columns).

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::clock::{civil_from_unix, now_unix};

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
}

impl CmTraceLog {
    /// Opens `path` for appending (created if missing); entries carry `component`.
    pub fn open(path: &Path, component: &str) -> io::Result<CmTraceLog> {
        // A planted link or hard link at the log name is refused, never appended through.
        let file = safe_fs::open_append(path)?;
        Ok(CmTraceLog { path: path.to_path_buf(), file, component: component.to_owned() })
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
        let line = format_entry(now_unix(), std::process::id(), &self.component, severity, text);
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

/// One CMTrace line. The text may not contain `]LOG]!>` (it would end the entry early) nor line breaks
/// (CMTrace would start a new entry), so those are neutralised.
pub fn format_entry(unix_millis: u64, thread: u32, component: &str, severity: Severity, text: &str) -> String {
    let c = civil_from_unix(unix_millis);
    let text = text.replace("]LOG]!>", "] LOG]!>").replace(['\r', '\n'], " ");
    format!(
        "<![LOG[{text}]LOG]!><time=\"{:02}:{:02}:{:02}.{:03}+000\" date=\"{:02}-{:02}-{:04}\" component=\"{component}\" \
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
        let line = format_entry(1_709_251_198_250, 77356, "SMS_OFFLINE_SERVICING_MANAGER", Severity::Warning, "a\nb");
        assert_eq!(
            line,
            "<![LOG[a b]LOG]!><time=\"23:59:58.250+000\" date=\"02-29-2024\" component=\"SMS_OFFLINE_SERVICING_MANAGER\" \
             context=\"\" type=\"2\" thread=\"77356\" file=\"\">\r\n"
        );
    }
}
