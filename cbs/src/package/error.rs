//! Errors of reading and extracting a package as a whole. Every variant names the package (or the
//! path written) and, where there is one, the member.

use crate::container;
use crate::delta::ExpandError;
use crate::psf::PsfError;
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
    /// A payload stored through a container index could not be expanded (the index or delta is
    /// wrong, or a hash does not match it).
    #[error(transparent)]
    Expand(#[from] ExpandError),
    /// A payload stored in the `.psf` of an express package could not be expanded.
    #[error(transparent)]
    Psf(#[from] PsfError),
    /// A payload file is stored in a way this tool cannot expand yet (a PA30 transform not
    /// implemented, PA19, a PA31 codec not implemented) or its delta is bad, so the package cannot be extracted. Every
    /// such file is named: the first here, the others in `others`.
    #[error("{package}: {file} cannot be expanded: {reason}{}; nothing was extracted", also(.others))]
    Unexpandable {
        /// The package.
        package: String,
        /// The file, as the index names it (`<key form>\<file>`).
        file: String,
        /// Why.
        reason: String,
        /// The other payload files that cannot be expanded: (package, file, why).
        others: Vec<(String, String, String)>,
    },
    /// An express package whose `.psf` (which holds its payloads) was not found.
    #[error("{package}: its payloads are in a .psf, and {expected} was not found")]
    PsfMissing {
        /// The package.
        package: String,
        /// Where the `.psf` was looked for.
        expected: String,
    },
    /// A manifest gives no SHA-256 digest for a payload, so it cannot be verified before it is extracted
    /// or installed.
    #[error("{package}: {manifest} gives no SHA-256 digest for {member}: it cannot be verified, so it is not used")]
    NoDigest {
        /// The package.
        package: String,
        /// The manifest.
        manifest: String,
        /// The payload (`<key form>/<file>`).
        member: String,
    },
    /// An input that cannot be extracted (not a package, a folder of packages, a WIM-MSU without a
    /// WIM reader …).
    #[error("{package}: cannot extract: {reason}")]
    NotExtractable {
        /// The input.
        package: String,
        /// Why.
        reason: String,
    },
    /// The extraction destination is not usable (it exists and is not empty, it names no folder …).
    #[error("{path}: {detail}")]
    Destination {
        /// The destination.
        path: String,
        /// What is wrong.
        detail: String,
    },
    /// A path to write resolved outside the extraction folder (a guard: member names are checked
    /// before, so this means a bug or a race with another process).
    #[error("{path}: resolves outside the extraction folder {root}; refused")]
    OutsideDestination {
        /// The path that would have been written.
        path: String,
        /// The extraction folder.
        root: String,
    },
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// `; also <package>: <file>: <reason>` for each further file that cannot be expanded.
fn also(others: &[(String, String, String)]) -> String {
    others.iter().map(|(package, file, reason)| format!("; also {package}: {file}: {reason}")).collect()
}
