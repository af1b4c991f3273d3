//! One owned wimlib decompressor of any WIM compression type: what the LZMS hook of `cbs` and the
//! direct read of a file's data from a WIM resource both decode with.

use std::ffi::c_void;
use std::ptr::NonNull;

use super::call;
use super::handle::Compression;

/// An owned wimlib decompressor for blocks of up to `max_block` bytes, freed on drop.
#[derive(Debug)]
pub(crate) struct Decompressor {
    raw: NonNull<wim_sys::wimlib_decompressor>,
    max_block: usize,
}

impl Decompressor {
    /// A decompressor of `kind` for blocks of at most `max_block` bytes; wimlib's message when it
    /// cannot make one (a size the codec does not allow, `Compression::None`).
    pub(crate) fn new(kind: Compression, max_block: usize) -> Result<Self, String> {
        call::init();
        if max_block == 0 {
            return Err("the block size must not be 0".into());
        }
        let mut raw = std::ptr::null_mut();
        // SAFETY: `raw` is a valid out-pointer; wimlib writes a new object to it only on success.
        let code = unsafe { wim_sys::wimlib_create_decompressor(kind.raw(), max_block, &mut raw) };
        match NonNull::new(raw) {
            Some(raw) if code == 0 => Ok(Decompressor { raw, max_block }),
            _ => Err(call::message(code)),
        }
    }

    /// The largest block this decompressor was made for.
    pub(crate) fn max_block(&self) -> usize {
        self.max_block
    }

    /// Decompresses one block into all of `out`; `false` when the data is not a valid block of
    /// exactly that size (or `out` is larger than the decompressor was made for).
    pub(crate) fn decompress_into(&mut self, compressed: &[u8], out: &mut [u8]) -> bool {
        if out.len() > self.max_block {
            return false;
        }
        // SAFETY: both buffers are valid for the lengths given and do not overlap; the decompressor
        // is ours alone (`&mut self`) and was made for blocks of `out.len()` bytes or more.
        let code = unsafe {
            wim_sys::wimlib_decompress(
                compressed.as_ptr().cast::<c_void>(),
                compressed.len(),
                out.as_mut_ptr().cast::<c_void>(),
                out.len(),
                self.raw.as_ptr(),
            )
        };
        code == 0
    }
}

impl Drop for Decompressor {
    fn drop(&mut self) {
        // SAFETY: created by wimlib_create_decompressor, freed exactly once here.
        unsafe { wim_sys::wimlib_free_decompressor(self.raw.as_ptr()) };
    }
}
