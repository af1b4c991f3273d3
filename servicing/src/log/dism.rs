//! The `dism.log`-style detail log: `YYYY-MM-DD HH:MM:SS, <Level padded> <DISM|CBS|CSI>   <text>`, the
//! layout of DISM's own log, so engineers (and CMTrace, which reads plain logs too) find what they
//! expect: applicability decisions, files staged, registry changes.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::clock::{civil_from_unix, now_unix};

/// Which DISM layer a line belongs to (DISM front end, CBS packages, CSI components).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Session and command lines.
    Dism,
    /// Package applicability and state.
    Cbs,
    /// Component (file, registry) operations.
    Csi,
}

/// An open detail log, appended to.
#[derive(Debug)]
pub struct DismLog {
    path: PathBuf,
    file: File,
}

impl DismLog {
    /// Opens `path` for appending (created if missing).
    pub fn open(path: &Path) -> io::Result<DismLog> {
        // A planted link or hard link at the log name is refused, never appended through.
        let file = safe_fs::open_append(path)?;
        Ok(DismLog { path: path.to_path_buf(), file })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line; `level` is `Info`, `Warning` or `Error`. Write failures only warn (see
    /// [`super::CmTraceLog::write`]).
    pub fn line(&mut self, level: &str, source: Source, text: &str) {
        tracing::debug!(target: "dism", "{text}");
        // DISM writes local time.
        let now = now_unix();
        let local = now as i64 + i64::from(super::local_offset::offset_minutes_east((now / 1000) as i64)) * 60_000;
        let line = format_line(local.max(0) as u64, level, source, text);
        if let Err(e) = self.file.write_all(line.as_bytes()) {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot write log line");
        }
    }

    /// An `Info` line from the DISM layer.
    pub fn dism(&mut self, text: &str) {
        self.line("Info", Source::Dism, text);
    }

    /// An `Info` line from the CBS layer.
    pub fn cbs(&mut self, text: &str) {
        self.line("Info", Source::Cbs, text);
    }

    /// An `Info` line from the CSI layer.
    pub fn csi(&mut self, text: &str) {
        self.line("Info", Source::Csi, text);
    }

    /// A `Warning` line from the CBS layer.
    pub fn warning(&mut self, text: &str) {
        self.line("Warning", Source::Cbs, text);
    }

    /// An `Error` line from the CBS layer.
    pub fn error(&mut self, text: &str) {
        self.line("Error", Source::Cbs, text);
    }
}

/// One line in DISM's layout (`unix_millis` already local): the level padded to 21 columns, the source padded to 6.
pub fn format_line(unix_millis: u64, level: &str, source: Source, text: &str) -> String {
    let c = civil_from_unix(unix_millis);
    let source = match source {
        Source::Dism => "DISM",
        Source::Cbs => "CBS",
        Source::Csi => "CSI",
    };
    let text = text.replace(['\r', '\n'], " ");
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}, {level:<21} {source:<6} {text}\n",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_matches_dism_layout() {
        assert_eq!(
            format_line(1_668_768_687_000, "Info", Source::Dism, "DISM.EXE: <----- Starting Dism.exe session ----->"),
            "2022-11-18 10:51:27, Info                  DISM   DISM.EXE: <----- Starting Dism.exe session ----->\n"
        );
    }
}
