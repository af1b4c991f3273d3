//! The one shape of a filesystem error in the engine's error enums: the path, what was being done,
//! and the OS error. Every enum carries it as `Io(IoError)`, so a message reads the same whichever
//! layer failed: `<path>: <action>: <OS error>`.

use std::path::PathBuf;

/// A filesystem operation on `path` failed.
#[derive(Debug, thiserror::Error)]
#[error("{}: {action}: {source}", path.display())]
pub struct IoError {
    /// The file or folder.
    pub path: PathBuf,
    /// What was being done (`cannot read`, `cannot create staged file`, …).
    pub action: &'static str,
    /// The OS error.
    #[source]
    pub source: std::io::Error,
}

impl IoError {
    /// The error of `action` on `path`, for `map_err`, converted into the caller's error type.
    pub fn at<E: From<IoError>>(path: impl Into<PathBuf>, action: &'static str) -> impl FnOnce(std::io::Error) -> E {
        let path = path.into();
        move |source| E::from(IoError { path, action, source })
    }
}
