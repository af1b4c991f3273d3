//! wimlib's LZMS codec: the raw LZMS of the Windows Compression API
//! (`COMPRESS_ALGORITHM_LZMS | COMPRESS_RAW`), the same algorithm as in LZMS WIM resources.
//!
//! [`LzmsDecompressor`] is what `cbs` decodes PA31 Compression-API containers and `DCS` manifests
//! with: [`register`] hands it to `cbs::codecs` once per process (the engine's init does, see
//! [`crate::init`]). [`LzmsCompressor`] builds such inputs for fixtures and tests. Both own their
//! wimlib object and free it on drop, panic or not; neither calls back into Rust.

use std::ffi::c_void;
use std::ptr::NonNull;

use thiserror::Error;

use super::call;
use super::codec::Decompressor;
use super::handle::Compression;

/// The largest block wimlib's LZMS accepts (its `LZMS_MAX_BUFFER_SIZE`, 1 GiB).
pub const MAX_BLOCK_BYTES: usize = 1 << 30;

/// Why an LZMS block could not be (de)compressed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum LzmsError {
    /// wimlib could not create the codec for blocks of this size.
    #[error("cannot create wimlib's LZMS {what} for blocks of {block} bytes: {message}")]
    Create {
        /// `decompressor` or `compressor`.
        what: &'static str,
        /// The block size asked for.
        block: usize,
        /// wimlib's message.
        message: String,
    },
    /// The block is larger than the codec was created for.
    #[error("LZMS block of {size} bytes, more than the {max} this codec was created for")]
    TooLarge {
        /// The block's (uncompressed) size.
        size: usize,
        /// The codec's maximum.
        max: usize,
    },
    /// The compressed data is not a valid LZMS block of that size.
    #[error("corrupt LZMS data ({compressed} bytes do not decompress to {out_len})")]
    Corrupt {
        /// The compressed length.
        compressed: usize,
        /// The expected uncompressed length.
        out_len: usize,
    },
}

/// An owned wimlib LZMS decompressor for blocks of up to `max_block` bytes.
#[derive(Debug)]
pub struct LzmsDecompressor(Decompressor);

impl LzmsDecompressor {
    /// A decompressor for blocks of at most `max_block` bytes (1 ..= [`MAX_BLOCK_BYTES`]).
    pub fn new(max_block: usize) -> Result<Self, LzmsError> {
        let create_err = |message: String| LzmsError::Create { what: "decompressor", block: max_block, message };
        if max_block == 0 || max_block > MAX_BLOCK_BYTES {
            return Err(create_err(format!("the block size must be 1 to {MAX_BLOCK_BYTES}")));
        }
        Decompressor::new(Compression::Lzms, max_block).map(LzmsDecompressor).map_err(create_err)
    }

    /// Decompresses one raw LZMS block to exactly `out_len` bytes.
    pub fn decompress(&mut self, compressed: &[u8], out_len: usize) -> Result<Vec<u8>, LzmsError> {
        if out_len > self.0.max_block() {
            return Err(LzmsError::TooLarge { size: out_len, max: self.0.max_block() });
        }
        let mut out = vec![0u8; out_len];
        if !self.0.decompress_into(compressed, &mut out) {
            return Err(LzmsError::Corrupt { compressed: compressed.len(), out_len });
        }
        Ok(out)
    }
}

/// An owned wimlib LZMS compressor for blocks of up to `max_block` bytes (default level).
#[derive(Debug)]
pub struct LzmsCompressor {
    raw: NonNull<wim_sys::wimlib_compressor>,
    max_block: usize,
}

impl LzmsCompressor {
    /// A compressor for blocks of at most `max_block` bytes (1 ..= [`MAX_BLOCK_BYTES`]).
    pub fn new(max_block: usize) -> Result<Self, LzmsError> {
        call::init();
        let create_err = |message: String| LzmsError::Create { what: "compressor", block: max_block, message };
        if max_block == 0 || max_block > MAX_BLOCK_BYTES {
            return Err(create_err(format!("the block size must be 1 to {MAX_BLOCK_BYTES}")));
        }
        let mut raw = std::ptr::null_mut();
        // SAFETY: `raw` is a valid out-pointer; level 0 means wimlib's default level.
        let code =
            unsafe { wim_sys::wimlib_create_compressor(wim_sys::WIMLIB_COMPRESSION_TYPE_LZMS, max_block, 0, &mut raw) };
        match NonNull::new(raw) {
            Some(raw) if code == 0 => Ok(LzmsCompressor { raw, max_block }),
            _ => Err(create_err(call::message(code))),
        }
    }

    /// `data` as one raw LZMS block of at most `max_out` bytes, or `None` when it does not fit.
    pub fn compress(&mut self, data: &[u8], max_out: usize) -> Result<Option<Vec<u8>>, LzmsError> {
        if data.len() > self.max_block {
            return Err(LzmsError::TooLarge { size: data.len(), max: self.max_block });
        }
        if data.is_empty() || max_out == 0 {
            return Ok(None);
        }
        let mut out = vec![0u8; max_out];
        // SAFETY: both buffers are valid for the lengths given and do not overlap; the compressor is
        // ours alone and was created for blocks of `data.len()` bytes or more.
        let n = unsafe {
            wim_sys::wimlib_compress(
                data.as_ptr().cast::<c_void>(),
                data.len(),
                out.as_mut_ptr().cast::<c_void>(),
                max_out,
                self.raw.as_ptr(),
            )
        };
        if n == 0 {
            return Ok(None);
        }
        out.truncate(n);
        Ok(Some(out))
    }
}

impl Drop for LzmsCompressor {
    fn drop(&mut self) {
        // SAFETY: created by wimlib_create_compressor, freed exactly once here.
        unsafe { wim_sys::wimlib_free_compressor(self.raw.as_ptr()) };
    }
}

/// The decoder `cbs` calls: a fresh decompressor per block (wimlib's are not shareable between
/// threads, and creating one costs little next to decoding).
struct WimlibLzms;

impl cbs::codecs::LzmsDecoder for WimlibLzms {
    fn decompress(&self, compressed: &[u8], out_len: usize) -> Result<Vec<u8>, String> {
        LzmsDecompressor::new(out_len).and_then(|mut d| d.decompress(compressed, out_len)).map_err(|e| e.to_string())
    }
}

/// Registers wimlib's LZMS as the process's `cbs` LZMS decoder (idempotent: a decoder registered
/// earlier stays).
pub fn register() {
    if cbs::codecs::set_lzms(Box::new(WimlibLzms)) {
        tracing::debug!("LZMS decoder registered (wimlib)");
    }
}
