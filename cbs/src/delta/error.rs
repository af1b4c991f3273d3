//! The error of decoding one PA30 delta.
//!
//! [`apply_pa30`](super::apply_pa30) sees only bytes, so these variants say what is wrong and where
//! in the delta, not which file it was: the expansion of a container index
//! ([`ExpandError`](super::ExpandError)) wraps them with the package and member names.

use thiserror::Error;

/// Why a PA30 delta could not be read or applied.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DeltaError {
    /// The delta does not start with `PA30` nor with another known delta signature.
    #[error("not a PA30 delta (signature {found:02x?})")]
    BadMagic {
        /// The first bytes of the input (up to four).
        found: Vec<u8>,
    },
    /// A known delta format this decoder does not implement (`PA19`, `PA31`), or a PA30 feature it
    /// does not implement.
    #[error("unsupported delta format: {format}")]
    Unsupported {
        /// What is not supported (`PA19 (mspatcha)`, `PA31`, …).
        format: String,
    },
    /// The delta ended before a field was complete.
    #[error("delta truncated while reading {what}")]
    Truncated {
        /// The field being read.
        what: &'static str,
    },
    /// A field has a value the format does not allow.
    #[error("malformed delta: {what}")]
    Malformed {
        /// What is wrong.
        what: String,
    },
    /// A size or count in the delta is larger than [`DeltaLimits`](super::DeltaLimits) allows.
    #[error("{what} is {size}, more than the limit of {max}")]
    TooLarge {
        /// Which size (`target size`, `basis size`, …).
        what: &'static str,
        /// The size the delta declares (or the input has).
        size: u64,
        /// The limit.
        max: u64,
    },
    /// Decoding took more steps than [`DeltaLimits::max_work`](super::DeltaLimits::max_work).
    #[error("decoding needed more than {max} steps")]
    WorkLimit {
        /// The limit.
        max: u64,
    },
    /// The header names a hash algorithm this decoder cannot compute.
    #[error("unknown target hash algorithm 0x{alg_id:x}")]
    UnknownHashAlgorithm {
        /// The Windows `ALG_ID`.
        alg_id: u32,
    },
    /// The decoded output does not have the hash the header declares.
    #[error("decoded output does not match the {algorithm} target hash (expected {expected}, got {actual})")]
    HashMismatch {
        /// The algorithm (`MD5`, `SHA256`, …).
        algorithm: &'static str,
        /// The hash in the header, hex.
        expected: String,
        /// The hash of the decoded bytes, hex.
        actual: String,
    },
}

impl DeltaError {
    pub(crate) fn malformed(what: impl Into<String>) -> Self {
        DeltaError::Malformed { what: what.into() }
    }
}
