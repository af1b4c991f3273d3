//! Codecs this crate reads but cannot implement itself: LZMS, behind a process-wide hook.
//!
//! The crate stays pure Rust without FFI, so the LZMS decoder is registered once per process by
//! whoever has one ([`set_lzms`]; the wimpatch engine registers wimlib's, the algorithm Windows
//! uses, when it initialises). Every decode path reads the hook itself ([`apply_pa30`] for PA31
//! bodies in a Compression-API container, [`decode_manifest`] for `DCS\x01` manifests), so no
//! caller passes a codec by hand; without a registered decoder they report LZMS unsupported by
//! name.
//!
//! [`apply_pa30`]: crate::delta::apply_pa30
//! [`decode_manifest`]: crate::dcm::decode_manifest

pub mod compress_api;

use std::sync::OnceLock;

use thiserror::Error;

/// A raw LZMS block decoder (`COMPRESS_ALGORITHM_LZMS | COMPRESS_RAW` in the Windows Compression
/// API): one block in, exactly `out_len` bytes out.
pub trait LzmsDecoder: Send + Sync {
    /// Decompresses `compressed` to `out_len` bytes, or says why it cannot.
    fn decompress(&self, compressed: &[u8], out_len: usize) -> Result<Vec<u8>, String>;
}

static LZMS: OnceLock<Box<dyn LzmsDecoder>> = OnceLock::new();

/// Registers the process's LZMS decoder. The first registration wins; returns whether this one
/// was taken.
pub fn set_lzms(decoder: Box<dyn LzmsDecoder>) -> bool {
    LZMS.set(decoder).is_ok()
}

/// The registered LZMS decoder, if any.
pub fn lzms() -> Option<&'static dyn LzmsDecoder> {
    LZMS.get().map(|d| d.as_ref())
}

/// Why LZMS data could not be decoded. The caller adds the file it came from.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum LzmsError {
    /// No decoder is registered ([`set_lzms`]).
    #[error("no LZMS decoder is registered in this process")]
    NoDecoder,
    /// A Compression-API container of another algorithm.
    #[error("Compression-API container of algorithm {id} ({name}) is not supported (only LZMS is)")]
    UnsupportedAlgorithm {
        /// `COMPRESS_ALGORITHM_*`.
        id: u8,
        /// Its name.
        name: &'static str,
    },
    /// The header's check byte does not match its CRC32.
    #[error("Compression-API container header check byte is 0x{found:02x}, its CRC32 gives 0x{expected:02x}")]
    BadCheckByte {
        /// The low byte of the CRC32 of the header.
        expected: u8,
        /// The byte in the header.
        found: u8,
    },
    /// The data ended before `what` was complete.
    #[error("LZMS data truncated: {what}")]
    Truncated {
        /// What was being read.
        what: String,
    },
    /// A field has a value the format does not allow.
    #[error("malformed LZMS data: {what}")]
    Malformed {
        /// What is wrong.
        what: String,
    },
    /// A declared size is over the caller's limit (checked before anything is allocated).
    #[error("{what} is {size} bytes, more than the limit of {max}")]
    TooLarge {
        /// Which size.
        what: &'static str,
        /// The declared size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// The decoder refused a block.
    #[error("LZMS block {index} ({compressed} bytes to {out_len}): {message}")]
    Block {
        /// The block's index (from 0).
        index: usize,
        /// Its compressed length.
        compressed: usize,
        /// Its declared decompressed length.
        out_len: usize,
        /// The decoder's words.
        message: String,
    },
}

/// The registered decoder, or [`LzmsError::NoDecoder`].
pub(crate) fn decoder() -> Result<&'static dyn LzmsDecoder, LzmsError> {
    lzms().ok_or(LzmsError::NoDecoder)
}

/// Decodes block `index` with `decoder` and checks it has the declared length.
pub(crate) fn decode_block(
    decoder: &dyn LzmsDecoder,
    index: usize,
    compressed: &[u8],
    out_len: usize,
) -> Result<Vec<u8>, LzmsError> {
    let block_err = |message: String| LzmsError::Block { index, compressed: compressed.len(), out_len, message };
    let out = decoder.decompress(compressed, out_len).map_err(block_err)?;
    if out.len() != out_len {
        return Err(block_err(format!("the decoder returned {} bytes", out.len())));
    }
    Ok(out)
}
