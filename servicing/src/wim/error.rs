//! Errors of the safe wimlib layer: wimlib's code and message plus the file, image and operation.

use crate::io_error::IoError;
use std::path::{Path, PathBuf};

/// An error from a WIM operation. Every variant names the file it concerns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// wimlib returned an error code.
    #[error("{}{}: {op} failed: {message} ({name}, wimlib error {code})", path.display(), image_suffix(*image))]
    Wimlib {
        /// The WIM file.
        path: PathBuf,
        /// The operation, e.g. `open`, `export`, `write`.
        op: &'static str,
        /// The image index concerned, if any.
        image: Option<u32>,
        /// wimlib's numeric code.
        code: i32,
        /// The `WIMLIB_ERR_*` name of the code.
        name: &'static str,
        /// wimlib's message for the code.
        message: String,
    },
    /// An image index or name that the WIM does not have.
    #[error("{}: no image {wanted} (the WIM has {count} image{}; indexes start at 1, names are listed by `wimpatch info`)", path.display(), if *count == 1 { "" } else { "s" })]
    NoSuchImage {
        /// The WIM file.
        path: PathBuf,
        /// What was asked for.
        wanted: String,
        /// How many images the WIM has.
        count: u32,
    },
    /// A name that more than one image carries: picking one would be a guess.
    #[error("{}: {count} images are named \"{name}\" (indexes {}); give the index instead", path.display(), indexes.iter().map(u32::to_string).collect::<Vec<_>>().join(", "))]
    AmbiguousImageName {
        /// The WIM file.
        path: PathBuf,
        /// The name asked for.
        name: String,
        /// How many images carry it.
        count: usize,
        /// Their indexes.
        indexes: Vec<u32>,
    },
    /// A destination that exists, where replacing it was not asked for.
    #[error("{}: the destination exists; give --force to replace it (nothing was written)", path.display())]
    DestinationExists {
        /// The destination.
        path: PathBuf,
    },
    /// Another process holds the writer lock.
    #[error("{} is locked by another writer ({holder}); {hint} (lock file {})", path.display(), lock.display())]
    Locked {
        /// The WIM file.
        path: PathBuf,
        /// The sidecar lock file.
        lock: PathBuf,
        /// What the lock file says about its holder.
        holder: String,
        /// What to do about it: unmount a mount, or wait (`--wait-lock`) for a writer.
        hint: String,
    },
    /// The cancel flag was raised; wimlib rolled the operation back.
    #[error("{}: {op} was cancelled; the file was left as it was", path.display())]
    Cancelled {
        /// The WIM file.
        path: PathBuf,
        /// The operation.
        op: &'static str,
    },
    /// A filesystem operation around wimlib failed.
    #[error(transparent)]
    Io(#[from] IoError),
    /// A path or name cannot be passed to C because it contains a NUL byte.
    #[error("{what} {value:?} contains a NUL byte")]
    Nul {
        /// What the string is.
        what: &'static str,
        /// The string.
        value: String,
    },
    /// The request itself is invalid (for example an empty export list).
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The WIM file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

fn image_suffix(image: Option<u32>) -> String {
    image.map(|i| format!(" (image {i})")).unwrap_or_default()
}

impl Error {
    pub(crate) fn io(path: &Path, action: &'static str, source: std::io::Error) -> Self {
        Error::Io(IoError { path: path.to_path_buf(), action, source })
    }

    /// The wimlib error code, when the error came from wimlib.
    pub fn wimlib_code(&self) -> Option<i32> {
        match self {
            Error::Wimlib { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// A `Result` of this layer.
pub type Result<T, E = Error> = std::result::Result<T, E>;

macro_rules! error_names {
    ($code:expr; $($name:ident),* $(,)?) => {
        match $code {
            $(c if c == wim_sys::$name as i32 => stringify!($name),)*
            _ => "WIMLIB_ERR_UNKNOWN",
        }
    };
}

/// The `WIMLIB_ERR_*` name of a code, for messages and logs.
pub fn error_name(code: i32) -> &'static str {
    error_names!(code;
        WIMLIB_ERR_SUCCESS, WIMLIB_ERR_ALREADY_LOCKED, WIMLIB_ERR_DECOMPRESSION, WIMLIB_ERR_FUSE,
        WIMLIB_ERR_GLOB_HAD_NO_MATCHES, WIMLIB_ERR_IMAGE_COUNT, WIMLIB_ERR_IMAGE_NAME_COLLISION,
        WIMLIB_ERR_INSUFFICIENT_PRIVILEGES, WIMLIB_ERR_INTEGRITY, WIMLIB_ERR_INVALID_CAPTURE_CONFIG,
        WIMLIB_ERR_INVALID_CHUNK_SIZE, WIMLIB_ERR_INVALID_COMPRESSION_TYPE, WIMLIB_ERR_INVALID_HEADER,
        WIMLIB_ERR_INVALID_IMAGE, WIMLIB_ERR_INVALID_INTEGRITY_TABLE, WIMLIB_ERR_INVALID_LOOKUP_TABLE_ENTRY,
        WIMLIB_ERR_INVALID_METADATA_RESOURCE, WIMLIB_ERR_INVALID_OVERLAY, WIMLIB_ERR_INVALID_PARAM,
        WIMLIB_ERR_INVALID_PART_NUMBER, WIMLIB_ERR_INVALID_PIPABLE_WIM, WIMLIB_ERR_INVALID_REPARSE_DATA,
        WIMLIB_ERR_INVALID_RESOURCE_HASH, WIMLIB_ERR_INVALID_UTF16_STRING, WIMLIB_ERR_INVALID_UTF8_STRING,
        WIMLIB_ERR_IS_DIRECTORY, WIMLIB_ERR_IS_SPLIT_WIM, WIMLIB_ERR_LINK, WIMLIB_ERR_METADATA_NOT_FOUND,
        WIMLIB_ERR_MKDIR, WIMLIB_ERR_MQUEUE, WIMLIB_ERR_NOMEM, WIMLIB_ERR_NOTDIR, WIMLIB_ERR_NOTEMPTY,
        WIMLIB_ERR_NOT_A_REGULAR_FILE, WIMLIB_ERR_NOT_A_WIM_FILE, WIMLIB_ERR_NOT_PIPABLE,
        WIMLIB_ERR_NO_FILENAME, WIMLIB_ERR_NTFS_3G, WIMLIB_ERR_OPEN, WIMLIB_ERR_OPENDIR,
        WIMLIB_ERR_PATH_DOES_NOT_EXIST, WIMLIB_ERR_READ, WIMLIB_ERR_READLINK, WIMLIB_ERR_RENAME,
        WIMLIB_ERR_REPARSE_POINT_FIXUP_FAILED, WIMLIB_ERR_RESOURCE_NOT_FOUND, WIMLIB_ERR_RESOURCE_ORDER,
        WIMLIB_ERR_SET_ATTRIBUTES, WIMLIB_ERR_SET_REPARSE_DATA, WIMLIB_ERR_SET_SECURITY,
        WIMLIB_ERR_SET_SHORT_NAME, WIMLIB_ERR_SET_TIMESTAMPS, WIMLIB_ERR_SPLIT_INVALID, WIMLIB_ERR_STAT,
        WIMLIB_ERR_UNEXPECTED_END_OF_FILE, WIMLIB_ERR_UNICODE_STRING_NOT_REPRESENTABLE,
        WIMLIB_ERR_UNKNOWN_VERSION, WIMLIB_ERR_UNSUPPORTED, WIMLIB_ERR_UNSUPPORTED_FILE,
        WIMLIB_ERR_WIM_IS_READONLY, WIMLIB_ERR_WRITE, WIMLIB_ERR_XML, WIMLIB_ERR_WIM_IS_ENCRYPTED,
        WIMLIB_ERR_WIMBOOT, WIMLIB_ERR_ABORTED_BY_PROGRESS, WIMLIB_ERR_UNKNOWN_PROGRESS_STATUS,
        WIMLIB_ERR_MKNOD, WIMLIB_ERR_MOUNTED_IMAGE_IS_BUSY, WIMLIB_ERR_NOT_A_MOUNTPOINT,
        WIMLIB_ERR_NOT_PERMITTED_TO_UNMOUNT, WIMLIB_ERR_FVE_LOCKED_VOLUME,
        WIMLIB_ERR_UNABLE_TO_READ_CAPTURE_CONFIG, WIMLIB_ERR_WIM_IS_INCOMPLETE,
        WIMLIB_ERR_COMPACTION_NOT_POSSIBLE, WIMLIB_ERR_IMAGE_HAS_MULTIPLE_REFERENCES,
        WIMLIB_ERR_DUPLICATE_EXPORTED_IMAGE, WIMLIB_ERR_CONCURRENT_MODIFICATION_DETECTED,
        WIMLIB_ERR_SNAPSHOT_FAILURE, WIMLIB_ERR_INVALID_XATTR, WIMLIB_ERR_SET_XATTR,
    )
}
