//! The PA30 header: signature, target file time, and the fields `GetDeltaInfo` reports.
//!
//! Layout (`cbs-format.md` §1.3; smilingthax "msdelta-pa30-format"): `PA30`, the target's FILETIME
//! as 8 little-endian bytes, then a bitstream holding the file-type set, the file type, the flags,
//! the target size, the hash algorithm id and the hash (a buffer). Two more buffers follow in the
//! same stream: the preprocessing data (PE transforms, empty for raw files) and the compressed
//! patch.

use super::bits::BitReader;
use super::crc_prefix::strip_crc_prefix;
use super::pa31::{self, Pa31Extra};
use super::DeltaError;

/// `DELTA_FILE_TYPE_RAW`: bytes with no executable transform.
pub const FILE_TYPE_RAW: u64 = 1;
/// `DELTA_FILE_TYPE_I386`: a 32-bit x86 PE image.
pub const FILE_TYPE_I386: u64 = 2;
/// `DELTA_FILE_TYPE_IA64`: an Itanium PE image.
pub const FILE_TYPE_IA64: u64 = 4;
/// `DELTA_FILE_TYPE_AMD64`: an x64 PE image.
pub const FILE_TYPE_AMD64: u64 = 8;

/// `DELTA_FILE_TYPE_REVERSE_ANY`: set in the file-type set of a reverse delta (one reversal-data
/// buffer instead of the preprocessing and patch buffers, `modern-lcu.md` §4 item 28).
pub const FILE_TYPE_SET_REVERSE_ANY: u64 = 0x100;

/// `CALG_MD5`.
pub const CALG_MD5: u32 = 0x8003;
/// `CALG_SHA1`.
pub const CALG_SHA1: u32 = 0x8004;
/// `CALG_SHA_256`.
pub const CALG_SHA_256: u32 = 0x800c;

/// Longest target hash accepted (SHA-512 would be 64 bytes).
const MAX_HASH_BYTES: u64 = 64;

/// The header of a PA30 delta (what `GetDeltaInfoB` returns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pa30Header {
    /// The target's last-write time, a FILETIME (100 ns units since 1601-01-01 UTC).
    pub target_file_time: u64,
    /// The file types the creator allowed (`DELTA_FILE_TYPE_SET_*`, e.g. `0xf`).
    pub file_type_set: u64,
    /// The file type chosen: [`FILE_TYPE_RAW`], [`FILE_TYPE_I386`], [`FILE_TYPE_AMD64`], …
    pub file_type: u64,
    /// `DELTA_FLAG_*` bits: which transforms the creator applied.
    pub flags: u64,
    /// Size of the target in bytes.
    pub target_size: u64,
    /// Windows `ALG_ID` of the target hash, 0 for none.
    pub hash_alg_id: u32,
    /// The target hash (empty when there is none).
    pub target_hash: Vec<u8>,
    /// `PA30` or `PA31`.
    pub format: DeltaFormat,
    /// The CRC32 prefix the file carried before its signature (already checked), if any.
    pub crc_prefix: Option<u32>,
    /// The fields only PA31 headers have.
    pub pa31: Option<Pa31Extra>,
}

/// The signature of a delta this decoder reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeltaFormat {
    /// `PA30` (msdelta.dll).
    Pa30,
    /// `PA31` (UpdateCompression.dll): the PA30 fields inside a length-prefixed header buffer.
    Pa31,
}

impl DeltaFormat {
    /// The four-character signature.
    pub fn magic(self) -> &'static str {
        match self {
            DeltaFormat::Pa30 => "PA30",
            DeltaFormat::Pa31 => "PA31",
        }
    }
}

impl Pa30Header {
    /// The hash algorithm's name, for messages.
    pub fn hash_algorithm_name(&self) -> Option<&'static str> {
        hash_name(self.hash_alg_id)
    }

    /// True for a reverse delta (file-type set with `REVERSE_ANY`).
    pub fn is_reverse(&self) -> bool {
        self.file_type_set & FILE_TYPE_SET_REVERSE_ANY != 0
    }
}

pub(crate) fn hash_name(alg_id: u32) -> Option<&'static str> {
    match alg_id {
        CALG_MD5 => Some("MD5"),
        CALG_SHA1 => Some("SHA1"),
        CALG_SHA_256 => Some("SHA256"),
        _ => None,
    }
}

/// A header and the buffers after it, borrowed from the delta.
#[derive(Debug)]
pub(crate) struct Parsed<'a> {
    pub(crate) header: Pa30Header,
    pub(crate) preprocess: &'a [u8],
    pub(crate) patch: &'a [u8],
    /// The reversal data of a reverse delta (then `preprocess` and `patch` are empty).
    pub(crate) reversal: Option<&'a [u8]>,
}

/// Parses the header of a PA30 or PA31 delta (after a CRC32 prefix, when one matches). `PA19`
/// deltas are [`DeltaError::Unsupported`].
pub fn parse_header(delta: &[u8]) -> Result<Pa30Header, DeltaError> {
    let (header, _) = read_header(delta)?;
    Ok(header)
}

fn read_header(delta: &[u8]) -> Result<(Pa30Header, BitReader<'_>), DeltaError> {
    let (delta, crc_prefix) = strip_crc_prefix(delta);
    let magic = delta.get(..4).ok_or_else(|| {
        if b"PA30".starts_with(delta) {
            DeltaError::Truncated { what: "signature" }
        } else {
            DeltaError::BadMagic { found: delta.to_vec() }
        }
    })?;
    let format = match magic {
        b"PA30" => DeltaFormat::Pa30,
        b"PA31" => DeltaFormat::Pa31,
        b"PA19" => return Err(DeltaError::Unsupported { format: "PA19 (the older mspatcha format)".into() }),
        other => return Err(DeltaError::BadMagic { found: other.to_vec() }),
    };
    let time: [u8; 8] =
        delta.get(4..12).and_then(|b| b.try_into().ok()).ok_or(DeltaError::Truncated { what: "target file time" })?;
    let mut r = BitReader::new(&delta[12..], "header")?;
    if format == DeltaFormat::Pa31 {
        // The PA30 fields and the PA31 extras sit in their own buffer; the outer stream goes on
        // with the preprocessing and patch buffers.
        let inner = r.buffer("PA31 header", pa31::MAX_HEADER_BYTES)?;
        let mut h = BitReader::new(inner, "PA31 header")?;
        let mut header = read_fields(&mut h, u64::from_le_bytes(time))?;
        header.format = format;
        header.crc_prefix = crc_prefix;
        header.pa31 = Some(pa31::read_extra(&mut h, &header)?);
        return Ok((header, r));
    }
    let mut header = read_fields(&mut r, u64::from_le_bytes(time))?;
    header.crc_prefix = crc_prefix;
    Ok((header, r))
}

/// The PA30 header fields, read from `r`.
fn read_fields(r: &mut BitReader<'_>, target_file_time: u64) -> Result<Pa30Header, DeltaError> {
    let file_type_set = r.number("file type set")?;
    let file_type = r.number("file type")?;
    let flags = r.number("flags")?;
    let target_size = r.number("target size")?;
    let hash_alg_id = r.number("hash algorithm")?;
    let hash_alg_id = u32::try_from(hash_alg_id)
        .map_err(|_| DeltaError::malformed(format!("hash algorithm id 0x{hash_alg_id:x} is wider than 32 bits")))?;
    let target_hash = r.buffer("target hash", MAX_HASH_BYTES)?.to_vec();
    let header = Pa30Header {
        target_file_time,
        file_type_set,
        file_type,
        flags,
        target_size,
        hash_alg_id,
        target_hash,
        format: DeltaFormat::Pa30,
        crc_prefix: None,
        pa31: None,
    };
    Ok(header)
}

/// Parses the header and borrows the preprocessing and patch buffers; each is at most
/// `max_buffer` bytes.
pub(crate) fn parse(delta: &[u8], max_buffer: u64) -> Result<Parsed<'_>, DeltaError> {
    let (header, mut r) = read_header(delta)?;
    if header.is_reverse() {
        let reversal = r.buffer("reversal data", max_buffer)?;
        return Ok(Parsed { header, preprocess: &[], patch: &[], reversal: Some(reversal) });
    }
    let preprocess = r.buffer("preprocessing data", max_buffer)?;
    let patch = r.buffer("patch data", max_buffer)?;
    Ok(Parsed { header, preprocess, patch, reversal: None })
}
