//! The target hash of a PA30 header, checked on the decoded output.

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::header::{hash_name, Pa30Header, CALG_MD5, CALG_SHA1, CALG_SHA_256};
use super::DeltaError;

pub use crate::hex::hex;

/// The hash of `data` with the Windows algorithm `alg_id`.
pub(crate) fn digest(alg_id: u32, data: &[u8]) -> Result<Vec<u8>, DeltaError> {
    Ok(match alg_id {
        CALG_MD5 => Md5::digest(data).to_vec(),
        CALG_SHA1 => Sha1::digest(data).to_vec(),
        CALG_SHA_256 => Sha256::digest(data).to_vec(),
        _ => return Err(DeltaError::UnknownHashAlgorithm { alg_id }),
    })
}

/// Checks `output` against the header's target hash; no hash (algorithm 0 or empty) passes.
pub(crate) fn check_target(header: &Pa30Header, output: &[u8]) -> Result<(), DeltaError> {
    if header.hash_alg_id == 0 || header.target_hash.is_empty() {
        return Ok(());
    }
    let actual = digest(header.hash_alg_id, output)?;
    if actual != header.target_hash {
        return Err(DeltaError::HashMismatch {
            algorithm: hash_name(header.hash_alg_id).unwrap_or("unknown"),
            expected: hex(&header.target_hash),
            actual: hex(&actual),
        });
    }
    Ok(())
}
