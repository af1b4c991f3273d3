//! The one error type of the container layer.
//!
//! Every variant names the package (its path on disk, or `outer!inner` for a nested cab) and, where
//! one is involved, the member, so a message read in a log says which file of which package is bad.

use std::fmt;
use std::io;

use thiserror::Error;

use super::member_name::NameError;

/// Result of the container layer.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which limit of [`Limits`](super::Limits) (or of the caller) was exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    /// `Limits::max_members`: members in one cabinet or package folder.
    Members,
    /// `Limits::max_member_bytes`: the size of one member.
    MemberBytes,
    /// `Limits::max_total_bytes`: bytes decompressed from one package, nested cabs included.
    TotalBytes,
    /// The byte limit the caller passed to a `read` call.
    ReadLimit,
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LimitKind::Members => "max_members",
            LimitKind::MemberBytes => "max_member_bytes",
            LimitKind::TotalBytes => "max_total_bytes",
            LimitKind::ReadLimit => "the caller's read limit",
        })
    }
}

/// What went wrong while reading a package container.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The operating system failed to read (or spool) the package.
    #[error("{package}{}: I/O error: {source}", at(.member))]
    Io {
        /// The package.
        package: String,
        /// The member being read, if any.
        member: Option<String>,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The file does not start with a cabinet signature (`MSCF`).
    #[error("{package}: not a cabinet file (no MSCF signature)")]
    NotACabinet {
        /// The package.
        package: String,
    },
    /// The file ends before a structure or a data block that the cabinet declares.
    #[error("{package}{}: truncated: {detail}", at(.member))]
    Truncated {
        /// The package.
        package: String,
        /// The member being read, if any.
        member: Option<String>,
        /// What was cut off.
        detail: String,
    },
    /// The cabinet's structures or compressed data are inconsistent.
    #[error("{package}{}: corrupt: {detail}", at(.member))]
    Corrupt {
        /// The package.
        package: String,
        /// The member concerned, if any.
        member: Option<String>,
        /// What is wrong.
        detail: String,
    },
    /// A member name that could escape the extraction folder or that Windows could not store.
    #[error("{package}: unsafe member name {member:?}: {reason}")]
    UnsafeMemberName {
        /// The package.
        package: String,
        /// The name as stored in the package.
        member: String,
        /// Why it is refused.
        reason: NameError,
    },
    /// Two members with the same name, compared as Windows does (case-insensitively, `\` = `/`).
    #[error("{package}: duplicate member {member:?} (same name as {first:?} for Windows)")]
    DuplicateMember {
        /// The package.
        package: String,
        /// The second member.
        member: String,
        /// The member it collides with.
        first: String,
    },
    /// A size or count above a limit: the package is refused before the bytes are produced.
    #[error("{package}{}: {size} exceeds {limit} ({max})", at(.member))]
    TooLarge {
        /// The package.
        package: String,
        /// The member, if the limit is about one.
        member: Option<String>,
        /// Which limit.
        limit: LimitKind,
        /// The size (bytes) or count that was found or would be reached.
        size: u64,
        /// The limit's value.
        max: u64,
    },
    /// Decompressed bytes out of proportion to the compressed bytes read (a decompression bomb).
    #[error("{package}{}: decompresses {ratio}:1, above max_ratio {max}:1", at(.member))]
    Ratio {
        /// The package.
        package: String,
        /// The member being read.
        member: Option<String>,
        /// The ratio reached (decompressed / compressed, rounded down).
        ratio: u64,
        /// `Limits::max_ratio`.
        max: u64,
    },
    /// A cab inside a cab inside a cab … deeper than `Limits::max_nesting`.
    #[error("{package}{}: nesting depth {depth} exceeds max_nesting ({max})", at(.member))]
    TooDeep {
        /// The package holding the nested cab.
        package: String,
        /// The nested cab's member name.
        member: Option<String>,
        /// The depth it would have (the outermost package is depth 0).
        depth: u32,
        /// `Limits::max_nesting`.
        max: u32,
    },
    /// No member of that name (compared case-insensitively).
    #[error("{package}: no member {member:?}")]
    MemberNotFound {
        /// The package.
        package: String,
        /// The name that was asked for.
        member: String,
    },
    /// A well-formed feature this reader does not handle (Quantum compression, multi-cabinet sets …).
    #[error("{package}{}: unsupported: {detail}", at(.member))]
    Unsupported {
        /// The package.
        package: String,
        /// The member concerned, if any.
        member: Option<String>,
        /// What is not supported.
        detail: String,
    },
    /// An error of a content backend (the engine's [`WimContent`](super::WimContent) implementation).
    #[error("{package}{}: {source}", at(.member))]
    Backend {
        /// The package.
        package: String,
        /// The member concerned, if any.
        member: Option<String>,
        /// The backend's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

fn at(member: &Option<String>) -> String {
    match member {
        Some(m) => format!(", member {m:?}"),
        None => String::new(),
    }
}

impl Error {
    /// The package the error is about.
    pub fn package(&self) -> &str {
        match self {
            Error::Io { package, .. }
            | Error::NotACabinet { package }
            | Error::Truncated { package, .. }
            | Error::Corrupt { package, .. }
            | Error::UnsafeMemberName { package, .. }
            | Error::DuplicateMember { package, .. }
            | Error::TooLarge { package, .. }
            | Error::Ratio { package, .. }
            | Error::TooDeep { package, .. }
            | Error::MemberNotFound { package, .. }
            | Error::Unsupported { package, .. }
            | Error::Backend { package, .. } => package,
        }
    }

    /// The member the error is about, if any.
    pub fn member(&self) -> Option<&str> {
        match self {
            Error::NotACabinet { .. } => None,
            Error::UnsafeMemberName { member, .. }
            | Error::DuplicateMember { member, .. }
            | Error::MemberNotFound { member, .. } => Some(member),
            Error::Io { member, .. }
            | Error::Truncated { member, .. }
            | Error::Corrupt { member, .. }
            | Error::TooLarge { member, .. }
            | Error::Ratio { member, .. }
            | Error::TooDeep { member, .. }
            | Error::Unsupported { member, .. }
            | Error::Backend { member, .. } => member.as_deref(),
        }
    }

    /// Turns an `io::Error` met while reading `member` of `package` into an `Error`.
    ///
    /// An `io::Error` that carries an `Error` (what [`MemberReader`](super::MemberReader) returns
    /// through `Read`) gives that error back. End of file becomes [`Error::Truncated`], invalid data
    /// (bad checksum, undecodable block) becomes [`Error::Corrupt`], anything else [`Error::Io`].
    pub fn from_io(package: &str, member: Option<&str>, err: io::Error) -> Error {
        if err.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            if let Some(inner) = err.into_inner() {
                if let Ok(own) = inner.downcast::<Error>() {
                    return *own;
                }
            }
            // Unreachable in practice: `is::<Error>()` was true just above.
            return Error::Corrupt {
                package: package.to_owned(),
                member: member.map(str::to_owned),
                detail: "lost error".to_owned(),
            };
        }
        let package = package.to_owned();
        let member = member.map(str::to_owned);
        match err.kind() {
            io::ErrorKind::UnexpectedEof => {
                Error::Truncated { package, member, detail: format!("unexpected end of data ({err})") }
            }
            io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput | io::ErrorKind::Other => {
                Error::Corrupt { package, member, detail: err.to_string() }
            }
            _ => Error::Io { package, member, source: err },
        }
    }

    /// The `io::ErrorKind` this error travels as when it goes through `Read`.
    fn io_kind(&self) -> io::ErrorKind {
        match self {
            Error::Io { source, .. } => source.kind(),
            Error::Truncated { .. } => io::ErrorKind::UnexpectedEof,
            Error::MemberNotFound { .. } => io::ErrorKind::NotFound,
            _ => io::ErrorKind::InvalidData,
        }
    }
}

impl From<Error> for io::Error {
    fn from(err: Error) -> io::Error {
        io::Error::new(err.io_kind(), err)
    }
}
