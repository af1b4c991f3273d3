//! PA31, the UpdateCompression.dll form of PA30 (`modern-lcu.md` §3 items 22–24, §1 item 8).
//!
//! After `PA31` and the FILETIME, the outer bitstream starts with a length-prefixed buffer holding
//! the header: the PA30 fields, then `HeaderInfoSize` (0x88 for PA31 v1), `IsPa31` (1),
//! `DeltaClientMinVersion` (informational: sources disagree on its value) and an additional hash
//! buffer of the target-hash algorithm. The preprocessing and patch buffers follow in the outer
//! stream, as in PA30.
//!
//! Codecs: the patch buffer is PseudoLZX (the PA30 stream) unless it starts with the LZMS
//! Compression-API container magic ([`compress_api`](crate::codecs::compress_api)), decoded through
//! the process's registered LZMS decoder ([`crate::codecs`]; none registered: reported
//! [`DeltaError::Unsupported`] naming LZMS). The facts give the container only in the baseless form
//! (24H2 PSF entries: null source, RAW file type), where it holds the target itself; how it would
//! combine with a non-empty source or PE preprocessing they do not say, so those are Unsupported by
//! name, never guessed. A RAW PA31 with flag 0x100 is the BsDiff codec, whose
//! layout the facts do not give: also Unsupported by name. Flag bits this decoder does not know
//! (0x02000000 and 0x08000000 on UpdateCompression-era deltas) are tolerated, as
//! UpdateCompression.dll does.

use super::bits::BitReader;
use super::header::{Pa30Header, Parsed, FILE_TYPE_RAW};
use super::limits::Work;
use super::{hash, transform_e8, DeltaError, DeltaLimits};
use crate::codecs::{compress_api, LzmsError};

/// Largest PA31 header buffer accepted (the real one is a few dozen bytes).
pub(crate) const MAX_HEADER_BYTES: u64 = 4096;
/// Longest additional hash accepted.
const MAX_HASH_BYTES: u64 = 64;
/// `HeaderInfoSize` written by PA31 v1 creators.
pub const PA31_HEADER_INFO_SIZE: u64 = 0x88;
/// The first bytes of an LZMS Compression-API container (`modern-lcu.md` §1 item 8).
pub const LZMS_CONTAINER_MAGIC: [u8; 4] = [0x0a, 0x51, 0xe5, 0xc0];
/// The flag that selects the BsDiff codec on a RAW PA31 delta.
pub const PA31_FLAG_BSDIFF: u64 = 0x100;

/// The fields only a PA31 header has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pa31Extra {
    /// `HeaderInfoSize` (0x88 for PA31 v1).
    pub header_info_size: u64,
    /// `IsPa31` (1).
    pub is_pa31: u64,
    /// `DeltaClientMinVersion` (informational).
    pub client_min_version: u64,
    /// The additional hash (same algorithm as the target hash; may be empty).
    pub additional_hash: Vec<u8>,
}

pub(crate) fn read_extra(r: &mut BitReader<'_>, header: &Pa30Header) -> Result<Pa31Extra, DeltaError> {
    let header_info_size = r.number("PA31 header info size")?;
    let is_pa31 = r.number("PA31 marker")?;
    let client_min_version = r.number("PA31 client minimum version")?;
    let additional_hash = r.buffer("PA31 additional hash", MAX_HASH_BYTES)?.to_vec();
    if is_pa31 != 1 {
        return Err(DeltaError::malformed(format!("PA31 header says IsPa31 = {is_pa31}, not 1")));
    }
    if header.hash_alg_id == 0 && !additional_hash.is_empty() {
        return Err(DeltaError::malformed("PA31 additional hash without a hash algorithm"));
    }
    Ok(Pa31Extra { header_info_size, is_pa31, client_min_version, additional_hash })
}

/// The codec of a PA31 (or PA30) patch buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// The PA30 Huffman/LZ stream.
    PseudoLzx,
    /// An LZMS Compression-API container.
    LzmsContainer,
    /// BsDiff (RAW PA31 with flag 0x100).
    BsDiff,
}

impl Codec {
    /// The codec's name, for reports.
    pub fn name(self) -> &'static str {
        match self {
            Codec::PseudoLzx => "PseudoLZX",
            Codec::LzmsContainer => "LZMS (Compression-API container)",
            Codec::BsDiff => "BsDiff",
        }
    }
}

/// Which codec `patch` is in, for a delta with this header.
pub(crate) fn codec(header: &Pa30Header, patch: &[u8]) -> Codec {
    if patch.starts_with(&LZMS_CONTAINER_MAGIC) {
        Codec::LzmsContainer
    } else if header.pa31.is_some() && header.file_type == FILE_TYPE_RAW && header.flags & PA31_FLAG_BSDIFF != 0 {
        Codec::BsDiff
    } else {
        Codec::PseudoLzx
    }
}

/// The codec of a delta's patch buffer (after its header is parsed; a CRC32 prefix is skipped).
pub fn codec_of(delta: &[u8]) -> Result<Codec, DeltaError> {
    let parsed = super::header::parse(delta, u64::MAX)?;
    Ok(codec(&parsed.header, parsed.patch))
}

/// Applies a delta whose patch buffer is an LZMS Compression-API container: the baseless form, where
/// the container decodes to the target (then the same E8 post-process and hash check as PseudoLZX).
pub(crate) fn apply_lzms(
    source: &[u8],
    parsed: &Parsed<'_>,
    limits: &DeltaLimits,
    work: &mut Work,
) -> Result<Vec<u8>, DeltaError> {
    let head = &parsed.header;
    let magic = head.format.magic();
    let unsupported = |why: &str| DeltaError::Unsupported {
        format: format!("{} codec of a {magic} delta {why}", Codec::LzmsContainer.name()),
    };
    if !source.is_empty() {
        return Err(unsupported("against a non-empty source (the facts give only the baseless form)"));
    }
    if head.file_type != FILE_TYPE_RAW && !parsed.preprocess.is_empty() {
        return Err(unsupported("with PE preprocessing (the facts give only the RAW form)"));
    }
    let lzms_err = |e: LzmsError| match e {
        LzmsError::NoDecoder => unsupported("(no LZMS decoder is registered in this process)"),
        LzmsError::UnsupportedAlgorithm { .. } => DeltaError::Unsupported { format: format!("{e} in a {magic} delta") },
        LzmsError::TooLarge { what, size, max } => DeltaError::TooLarge { what, size, max },
        other => DeltaError::malformed(format!("{} body: {other}", Codec::LzmsContainer.name())),
    };
    if crate::codecs::lzms().is_none() {
        return Err(lzms_err(LzmsError::NoDecoder));
    }
    let container = compress_api::parse(parsed.patch, limits.max_target_bytes).map_err(lzms_err)?;
    if container.total != head.target_size {
        return Err(DeltaError::malformed(format!(
            "the LZMS container holds {} bytes, the header declares a target of {}",
            container.total, head.target_size
        )));
    }
    work.spend(container.total)?;
    let mut out = compress_api::decode_blocks(&container).map_err(lzms_err)?;
    transform_e8::post_process(head.flags, &mut out, work)?;
    hash::check_target(head, &out)?;
    Ok(out)
}
