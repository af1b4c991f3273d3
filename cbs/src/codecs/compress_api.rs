//! The buffer format of the Windows Compression API (`Compress()` without `COMPRESS_RAW`): what a
//! Windows 11 24H2 PA31 patch buffer holds when it is not PseudoLZX (`modern-lcu.md` §1 item 8,
//! §3 item 24).
//!
//! Layout, as independent public readers agree: a 24-byte header — bytes 0..6 `0A 51 E5 C0 18 00`
//! (the last two are the header size, 0x18), byte 6 a check byte (the low byte of the CRC32 (IEEE)
//! of bytes 0..6 continued over bytes 7..24), byte 7 the algorithm (`COMPRESS_ALGORITHM_*`: 2
//! MSZIP, 3 XPRESS, 4 XPRESS_HUFF, 5 LZMS), a u64 LE total uncompressed size at 8 and a u64 LE
//! block (chunk) uncompressed size at 16 — then per block a u32 LE compressed length and that many
//! bytes. Each block decompresses to `min(block size, what is left)`; a block whose compressed
//! length equals that is stored, copied as it is.
//!
//! Only LZMS is read (the other algorithms are reported by name). The framing is checked whole
//! ([`parse`]: check byte, sizes against the caller's limit, every block inside the buffer,
//! nothing after the last) before one byte is decoded or the output allocated.

use super::{decode_block, decoder, LzmsError};

/// Bytes 0..6 of every container: the magic and the header size (0x18).
pub const MAGIC: [u8; 6] = [0x0a, 0x51, 0xe5, 0xc0, 0x18, 0x00];
/// The header's size.
pub const HEADER_BYTES: usize = 24;
/// `COMPRESS_ALGORITHM_LZMS`.
pub const ALGORITHM_LZMS: u8 = 5;

/// One block of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block<'a> {
    /// Its bytes (compressed, or stored when as long as `out_len`).
    pub data: &'a [u8],
    /// What it decompresses to.
    pub out_len: usize,
}

impl Block<'_> {
    /// Whether the block is stored (its compressed length is its uncompressed length).
    pub fn is_stored(&self) -> bool {
        self.data.len() == self.out_len
    }
}

/// A container's framing, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container<'a> {
    /// Total uncompressed size.
    pub total: u64,
    /// Uncompressed size of every block but the last.
    pub block_size: u64,
    /// The blocks, in order.
    pub blocks: Vec<Block<'a>>,
}

/// The low byte of the CRC32 of `header` without its byte 6 (the check byte itself).
pub fn check_byte(header: &[u8; HEADER_BYTES]) -> u8 {
    let mut crc = crc32fast::Hasher::new();
    crc.update(&header[..6]);
    crc.update(&header[7..]);
    crc.finalize() as u8
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(b)
}

/// Checks the framing of an LZMS container whose output may be at most `max_out` bytes.
pub fn parse(bytes: &[u8], max_out: u64) -> Result<Container<'_>, LzmsError> {
    let Some((header, mut rest)) = bytes.split_first_chunk::<HEADER_BYTES>() else {
        return Err(LzmsError::Truncated {
            what: format!("Compression-API container header ({} of {HEADER_BYTES} bytes)", bytes.len()),
        });
    };
    if header[..4] != MAGIC[..4] {
        return Err(LzmsError::Malformed {
            what: format!("not a Compression-API container (magic {:02x?})", &header[..4]),
        });
    }
    if header[4..6] != MAGIC[4..6] {
        let size = u16::from_le_bytes([header[4], header[5]]);
        return Err(LzmsError::Malformed {
            what: format!("Compression-API header size is {size}, not {HEADER_BYTES}"),
        });
    }
    let expected = check_byte(header);
    if header[6] != expected {
        return Err(LzmsError::BadCheckByte { expected, found: header[6] });
    }
    match header[7] {
        ALGORITHM_LZMS => {}
        id @ 2..=4 => {
            let name = ["MSZIP", "XPRESS", "XPRESS_HUFF"][usize::from(id - 2)];
            return Err(LzmsError::UnsupportedAlgorithm { id, name });
        }
        id => return Err(LzmsError::Malformed { what: format!("unknown Compression-API algorithm {id}") }),
    }
    let total = u64_at(header, 8);
    let block_size = u64_at(header, 16);
    if total > max_out {
        return Err(LzmsError::TooLarge { what: "Compression-API container output", size: total, max: max_out });
    }
    if block_size == 0 && total > 0 {
        return Err(LzmsError::Malformed { what: "Compression-API block size is 0".into() });
    }
    let count = if total == 0 { 0 } else { total.div_ceil(block_size) };
    // Every block has at least its 4-byte length: a count the buffer cannot hold is refused before
    // the block list is allocated.
    if count.saturating_mul(4) > rest.len() as u64 {
        return Err(LzmsError::Truncated {
            what: format!("{count} blocks declared, {} bytes after the header", rest.len()),
        });
    }
    let mut blocks = Vec::with_capacity(count as usize);
    let mut left = total;
    for index in 0..count as usize {
        let Some((len, after)) = rest.split_first_chunk::<4>() else {
            return Err(LzmsError::Truncated { what: format!("length of block {index}") });
        };
        let len = u32::from_le_bytes(*len) as usize;
        let Some((data, after)) = after.split_at_checked(len) else {
            return Err(LzmsError::Truncated {
                what: format!("block {index}: {len} bytes declared, {} left", after.len()),
            });
        };
        // `block_size` ≤ `left` ≤ `max_out` once reduced: both fit a usize where `max_out` does.
        let out_len = left.min(block_size);
        let out_len = usize::try_from(out_len).map_err(|_| LzmsError::TooLarge {
            what: "Compression-API block",
            size: out_len,
            max: usize::MAX as u64,
        })?;
        blocks.push(Block { data, out_len });
        left -= out_len as u64;
        rest = after;
    }
    if !rest.is_empty() {
        return Err(LzmsError::Malformed { what: format!("{} bytes after the last block", rest.len()) });
    }
    Ok(Container { total, block_size, blocks })
}

/// Decodes an LZMS container of at most `max_out` bytes through the registered decoder.
pub fn decode(bytes: &[u8], max_out: u64) -> Result<Vec<u8>, LzmsError> {
    decoder()?;
    decode_blocks(&parse(bytes, max_out)?)
}

/// Decodes the blocks of a [`parse`]d container through the registered decoder.
pub fn decode_blocks(container: &Container<'_>) -> Result<Vec<u8>, LzmsError> {
    let decoder = decoder()?;
    let mut out = Vec::new();
    for (index, block) in container.blocks.iter().enumerate() {
        if block.is_stored() {
            out.extend_from_slice(block.data);
        } else {
            out.extend_from_slice(&decode_block(decoder, index, block.data, block.out_len)?);
        }
    }
    Ok(out)
}

/// An LZMS container of `data` in blocks of `block_size` bytes, each compressed by `compress` (raw
/// LZMS) or stored when `compress` gives `None` or nothing shorter. For fixtures and tests: the
/// compressor lives where the decoder does.
pub fn encode(data: &[u8], block_size: usize, mut compress: impl FnMut(&[u8]) -> Option<Vec<u8>>) -> Vec<u8> {
    let mut header = [0u8; HEADER_BYTES];
    header[..6].copy_from_slice(&MAGIC);
    header[7] = ALGORITHM_LZMS;
    header[8..16].copy_from_slice(&(data.len() as u64).to_le_bytes());
    header[16..24].copy_from_slice(&(block_size as u64).to_le_bytes());
    header[6] = check_byte(&header);
    let mut out = header.to_vec();
    for chunk in data.chunks(block_size.max(1)) {
        let packed = compress(chunk).filter(|c| c.len() < chunk.len());
        let body = packed.as_deref().unwrap_or(chunk);
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(body);
    }
    out
}
