//! Errors of the hive layer. Every variant names the hive file, and the key or value where there is one,
//! because a servicing run touches several hives and "invalid argument" alone tells the user nothing.

use std::io;
use std::path::PathBuf;

use super::value::EncodeError;

/// An error from [`Hive`](super::Hive).
///
/// Key paths are rendered from the hive root with a leading backslash (`\Microsoft\Windows`); the root
/// itself is `\`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be opened (missing, unreadable) or libhivex refused to load it.
    #[error("cannot open registry hive {}: {source}", path.display())]
    Open {
        /// The hive file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: io::Error,
    },

    /// The file is larger than [`MAX_HIVE_BYTES`](super::MAX_HIVE_BYTES); it is refused before libhivex
    /// maps or reads it.
    #[error("registry hive {} is {size} bytes, larger than the {limit}-byte limit; refusing to load it", path.display())]
    TooLarge {
        /// The hive file.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },

    /// A key path does not exist.
    #[error("registry hive {}: key {key} does not exist", path.display())]
    NotFound {
        /// The hive file.
        path: PathBuf,
        /// The missing key, from the root.
        key: String,
    },

    /// A write was attempted on a hive opened with [`Mode::ReadOnly`](super::Mode::ReadOnly).
    #[error("registry hive {} is open read-only; cannot {op}", path.display())]
    ReadOnly {
        /// The hive file.
        path: PathBuf,
        /// The refused operation.
        op: &'static str,
    },

    /// A libhivex call failed.
    #[error("registry hive {}: {op} failed at key {key}: {source}", path.display())]
    Call {
        /// The hive file.
        path: PathBuf,
        /// The operation, e.g. `add subkey`.
        op: &'static str,
        /// The key the operation was on (best effort: `node@0x…` when the key path itself is unreadable).
        key: String,
        /// The errno libhivex set.
        #[source]
        source: io::Error,
    },

    /// The hive's content is malformed or exceeds a limit of this layer.
    #[error("registry hive {}: {what}", path.display())]
    InvalidData {
        /// The hive file.
        path: PathBuf,
        /// What is wrong, and where.
        what: String,
    },

    /// An argument cannot be used: a malformed key path, a name with a NUL or a backslash, an oversized
    /// value, duplicate value names.
    #[error("registry hive {}: {what}", path.display())]
    InvalidInput {
        /// The hive file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },

    /// A value cannot be encoded for storage.
    #[error("registry hive {}: cannot store value {name:?} of key {key}: {source}", path.display())]
    Encode {
        /// The hive file.
        path: PathBuf,
        /// The key holding the value.
        key: String,
        /// The value name (empty for the default value).
        name: String,
        /// Why it cannot be encoded.
        #[source]
        source: EncodeError,
    },

    /// Writing the hive back to disk failed; the destination file is unchanged.
    #[error("cannot write registry hive {}: {source}", path.display())]
    Commit {
        /// The destination file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// The same error, naming the hive `shown` instead of the file it was read from.
    pub(super) fn renamed(self, shown: &std::path::Path) -> Error {
        let shown = shown.to_path_buf();
        match self {
            Error::Open { source, .. } => Error::Open { path: shown, source },
            Error::TooLarge { size, limit, .. } => Error::TooLarge { path: shown, size, limit },
            Error::NotFound { key, .. } => Error::NotFound { path: shown, key },
            Error::ReadOnly { op, .. } => Error::ReadOnly { path: shown, op },
            Error::Call { op, key, source, .. } => Error::Call { path: shown, op, key, source },
            Error::InvalidData { what, .. } => Error::InvalidData { path: shown, what },
            Error::InvalidInput { what, .. } => Error::InvalidInput { path: shown, what },
            Error::Encode { key, name, source, .. } => Error::Encode { path: shown, key, name, source },
            Error::Commit { source, .. } => Error::Commit { path: shown, source },
        }
    }
}
