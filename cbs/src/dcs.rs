//! `DCS\x01` compressed manifests (`modern-lcu.md` §6 item 35): the manifest in raw LZMS blocks,
//! decoded through the process's registered LZMS decoder ([`crate::codecs`]).
//!
//! Layout (field widths from SXSEXP's public `Source/sxsexp/csup.h`, `DCS_HEADER` and `DCS_BLOCK`:
//! every field a DWORD, little-endian): the magic, `NumberOfBlocks`, `UncompressedFileSize`; then
//! per block `CompressedBlockSize` (which counts the 4-byte `DecompressedBlockSize` after it),
//! `DecompressedBlockSize`, and `CompressedBlockSize − 4` bytes of raw LZMS
//! (`COMPRESS_ALGORITHM_LZMS | COMPRESS_RAW`). The framing is checked whole ([`parse`]) before
//! anything is decoded; the caller checks the XML, as for every compressed manifest.

use crate::codecs::compress_api::Block;
use crate::codecs::{decode_block, decoder, LzmsError};

/// The magic.
pub const MAGIC: &[u8; 4] = b"DCS\x01";
const HEADER_BYTES: usize = 12;

/// A DCS file's framing, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dcs<'a> {
    /// `UncompressedFileSize`.
    pub total: u64,
    /// The blocks, in order (never stored: every one goes through the decoder).
    pub blocks: Vec<Block<'a>>,
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Checks the framing of a DCS file whose manifest may be at most `max_out` bytes.
pub fn parse(bytes: &[u8], max_out: u64) -> Result<Dcs<'_>, LzmsError> {
    if !bytes.starts_with(MAGIC) {
        return Err(LzmsError::Malformed { what: "not a DCS manifest".into() });
    }
    if bytes.len() < HEADER_BYTES {
        return Err(LzmsError::Truncated { what: format!("DCS header ({} of {HEADER_BYTES} bytes)", bytes.len()) });
    }
    let count = u64::from(u32_at(bytes, 4));
    let total = u64::from(u32_at(bytes, 8));
    if total > max_out {
        return Err(LzmsError::TooLarge { what: "DCS manifest", size: total, max: max_out });
    }
    let mut rest = &bytes[HEADER_BYTES..];
    // Every block has its two 4-byte sizes: a count the file cannot hold is refused before the
    // block list is allocated.
    if count * 8 > rest.len() as u64 {
        return Err(LzmsError::Truncated {
            what: format!("{count} DCS blocks declared, {} bytes after the header", rest.len()),
        });
    }
    let mut blocks = Vec::with_capacity(count as usize);
    let mut sum = 0u64;
    for index in 0..count as usize {
        if rest.len() < 8 {
            return Err(LzmsError::Truncated { what: format!("sizes of DCS block {index}") });
        }
        let (size, out_len) = (u32_at(rest, 0) as usize, u32_at(rest, 4));
        let Some(data_len) = size.checked_sub(4) else {
            return Err(LzmsError::Malformed {
                what: format!("DCS block {index}: size {size} does not cover its DecompressedBlockSize"),
            });
        };
        let Some(data) = rest[8..].get(..data_len) else {
            return Err(LzmsError::Truncated {
                what: format!("DCS block {index}: {data_len} bytes declared, {} left", rest.len() - 8),
            });
        };
        sum += u64::from(out_len);
        if out_len == 0 || sum > total {
            return Err(LzmsError::Malformed {
                what: format!(
                    "DCS block {index} decompresses to {out_len} bytes: the blocks must fill {total} exactly"
                ),
            });
        }
        blocks.push(Block { data, out_len: out_len as usize });
        rest = &rest[8 + data_len..];
    }
    if sum != total {
        return Err(LzmsError::Malformed { what: format!("DCS blocks hold {sum} bytes, the header declares {total}") });
    }
    if !rest.is_empty() {
        return Err(LzmsError::Malformed { what: format!("{} bytes after the last DCS block", rest.len()) });
    }
    Ok(Dcs { total, blocks })
}

/// Decodes a DCS file of at most `max_out` bytes through the registered LZMS decoder.
pub fn decode(bytes: &[u8], max_out: u64) -> Result<Vec<u8>, LzmsError> {
    let decoder = decoder()?;
    let dcs = parse(bytes, max_out)?;
    let mut out = Vec::new();
    for (index, block) in dcs.blocks.iter().enumerate() {
        out.extend_from_slice(&decode_block(decoder, index, block.data, block.out_len)?);
    }
    Ok(out)
}

/// A DCS file of `data` in blocks of `block_size` bytes, each compressed by `compress` (raw LZMS).
/// For fixtures and tests: the compressor lives where the decoder does.
pub fn encode(data: &[u8], block_size: usize, mut compress: impl FnMut(&[u8]) -> Vec<u8>) -> Vec<u8> {
    let chunks: Vec<&[u8]> = data.chunks(block_size.max(1)).collect();
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&(chunks.len() as u32).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    for chunk in chunks {
        let packed = compress(chunk);
        out.extend_from_slice(&(packed.len() as u32 + 4).to_le_bytes());
        out.extend_from_slice(&(chunk.len() as u32).to_le_bytes());
        out.extend_from_slice(&packed);
    }
    out
}
