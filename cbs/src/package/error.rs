//! Errors of reading a package as a whole. Every variant names the package and, where there is one,
//! the member.

use crate::container;
use crate::xml::XmlError;

/// An error while reading or verifying a package.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The container could not be read (corrupt cab, unsafe member name, limits).
    #[error(transparent)]
    Container(#[from] container::Error),
    /// A manifest is not valid XML or not a valid manifest.
    #[error("{package}: {source}")]
    Xml {
        /// The package.
        package: String,
        /// The parse error (names the member and position).
        #[source]
        source: XmlError,
    },
    /// A CBS package without `update.mum`.
    #[error("{package}: no update.mum at the root: not a CBS package")]
    NoUpdateMum {
        /// The package.
        package: String,
    },
    /// A payload file's SHA-256 differs from its manifest's digest.
    #[error("{package}: {member}: SHA-256 mismatch: the manifest says {expected}, the file has {actual}")]
    DigestMismatch {
        /// The package.
        package: String,
        /// The payload member.
        member: String,
        /// Digest from the manifest (hex).
        expected: String,
        /// Digest of the bytes (hex).
        actual: String,
    },
    /// A manifest names a payload the package does not contain (and no delta index covers it).
    #[error("{package}: {manifest} names payload {member}, which the package does not contain")]
    MissingPayload {
        /// The package.
        package: String,
        /// The manifest.
        manifest: String,
        /// The missing member.
        member: String,
    },
    /// A component manifest's file name is not the key form of its identity.
    #[error("{package}: manifest {member} declares an identity whose key form is {expected}")]
    KeyFormMismatch {
        /// The package.
        package: String,
        /// The manifest member.
        member: String,
        /// The key form computed from the identity.
        expected: String,
    },
    /// An identity in a manifest cannot form a package identity (e.g. no version).
    #[error("{package}: {member}: {detail}")]
    Identity {
        /// The package.
        package: String,
        /// The member.
        member: String,
        /// What is wrong.
        detail: String,
    },
    /// A folder could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}
