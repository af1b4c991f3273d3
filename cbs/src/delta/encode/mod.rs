//! The PA30/PA31 encoder: `create(source, target)` writes a RAW delta in the standard header and
//! bit stream ([`lzx`](super::lzx) is the decoder it mirrors), with a SHA-256 target hash.
//!
//! - [`matcher`]: bounded hash tables of buckets over the source and the target, so finding
//!   matches is not quadratic and its memory does not grow past a fixed size.
//! - [`stream`]: tokens → the composite Huffman stream (segments with their own codes, code
//!   lengths through the pre-code), with no rift table (a RAW delta needs none).
//! - [`huffman`]: length-limited code lengths and the decoder's canonical numbering.
//! - [`bits`]: the LSB-first writer with the format's number codes.
//!
//! Memory: the source and target (joined in one buffer, see [`create_joined`]), the matcher's
//! tables (about eight bytes per input byte, never more than 132 MiB), and one 12-byte token per
//! match (at most one per four target bytes), then the output: linear in the inputs, nothing
//! quadratic.

pub(crate) mod bits;
mod huffman;
mod matcher;
mod stream;

use bits::BitWriter;
use matcher::{Matcher, MAX_MATCH, MIN_MATCH};
use sha2::{Digest, Sha256};
use stream::Token;

use super::header::{DeltaFormat, Pa30Header, CALG_SHA_256, FILE_TYPE_RAW};
use super::pa31::{Pa31Extra, PA31_HEADER_INFO_SIZE};
use super::{check_size, DeltaError, DeltaLimits};

/// `DELTA_FILE_TYPE_SET_EXECUTABLES_1` (RAW | I386 | IA64 | AMD64), what msdelta's creator
/// writes by default.
pub const FILE_TYPE_SET_EXECUTABLES_1: u64 = 0xf;

/// How [`create`] writes a delta.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreateOptions {
    /// `PA30` (msdelta.dll) or `PA31` (UpdateCompression.dll).
    pub format: DeltaFormat,
    /// Embed the SHA-256 of the target (`ApplyDeltaB` then checks it).
    pub sha256: bool,
    /// The target file time to record (a FILETIME; 0 when unknown).
    pub target_file_time: u64,
    /// The file-type set to record (the reverse-delta bit is refused: this writes forward deltas).
    pub file_type_set: u64,
}

impl Default for CreateOptions {
    fn default() -> Self {
        CreateOptions {
            format: DeltaFormat::Pa30,
            sha256: true,
            target_file_time: 0,
            file_type_set: FILE_TYPE_SET_EXECUTABLES_1,
        }
    }
}

/// Creates a RAW delta that rebuilds `target` from `source` (empty for plain compression).
pub fn create(
    source: &[u8],
    target: &[u8],
    options: &CreateOptions,
    limits: &DeltaLimits,
) -> Result<Vec<u8>, DeltaError> {
    let mut joined = Vec::with_capacity(source.len() + target.len());
    joined.extend_from_slice(source);
    joined.extend_from_slice(target);
    create_joined(&joined, source.len(), options, limits)
}

/// [`create`] for a source and target already read into one buffer (`source_len` bytes of source,
/// then the target), which spares the encoder its own joined copy of the two.
///
/// # Panics
/// When `source_len` is past the end of `joined`.
pub fn create_joined(
    joined: &[u8],
    source_len: usize,
    options: &CreateOptions,
    limits: &DeltaLimits,
) -> Result<Vec<u8>, DeltaError> {
    let (source, target) = joined.split_at(source_len);
    check_size("source size", source.len() as u64, limits.max_source_bytes)?;
    check_size("target size", target.len() as u64, limits.max_target_bytes)?;
    // Distances and chain links are 32-bit; the longest distance class reaches 2^32 − 1.
    let total = source.len() as u64 + target.len() as u64;
    check_size("source + target size", total, u64::from(u32::MAX) - 1)?;
    if options.file_type_set & super::header::FILE_TYPE_SET_REVERSE_ANY != 0 {
        return Err(DeltaError::Unsupported { format: "creating a delta with the REVERSE_ANY file-type set".into() });
    }
    let tokens = parse(joined, source_len);
    let patch = if target.is_empty() { Vec::new() } else { stream::write(source.len(), target, &tokens, limits) };
    let hash = if options.sha256 { Sha256::digest(target).to_vec() } else { Vec::new() };
    let alg = if options.sha256 { CALG_SHA_256 } else { 0 };

    let header = Pa30Header {
        target_file_time: options.target_file_time,
        file_type_set: options.file_type_set,
        file_type: FILE_TYPE_RAW,
        flags: 0,
        target_size: target.len() as u64,
        hash_alg_id: alg,
        target_hash: hash,
        format: options.format,
        crc_prefix: None,
        pa31: (options.format == DeltaFormat::Pa31).then(|| Pa31Extra {
            header_info_size: PA31_HEADER_INFO_SIZE,
            is_pa31: 1,
            client_min_version: 1,
            additional_hash: Vec::new(),
        }),
    };
    Ok(assemble(&header, &[], &patch))
}

/// Writes a delta file: `header` (its format, and for PA31 its extras), then the preprocessing
/// and patch buffers; for a reverse delta (`REVERSE_ANY` in the file-type set) `patch` is the one
/// reversal-data buffer and `preprocess` is not written. A CRC32 prefix is not added (see
/// [`add_crc_prefix`](super::add_crc_prefix)).
pub fn assemble(header: &Pa30Header, preprocess: &[u8], patch: &[u8]) -> Vec<u8> {
    let fields = |w: &mut BitWriter| {
        w.number(header.file_type_set);
        w.number(header.file_type);
        w.number(header.flags);
        w.number(header.target_size);
        w.number(u64::from(header.hash_alg_id));
        w.buffer(&header.target_hash);
    };
    let mut out = Vec::with_capacity(patch.len() + preprocess.len() + 64);
    out.extend_from_slice(header.format.magic().as_bytes());
    out.extend_from_slice(&header.target_file_time.to_le_bytes());
    let mut w = BitWriter::new();
    match header.format {
        DeltaFormat::Pa30 => fields(&mut w),
        DeltaFormat::Pa31 => {
            let mut h = BitWriter::new();
            fields(&mut h);
            let extra = header.pa31.clone().unwrap_or(Pa31Extra {
                header_info_size: PA31_HEADER_INFO_SIZE,
                is_pa31: 1,
                client_min_version: 1,
                additional_hash: Vec::new(),
            });
            h.number(extra.header_info_size);
            h.number(extra.is_pa31);
            h.number(extra.client_min_version);
            h.buffer(&extra.additional_hash);
            w.buffer(&h.finish());
        }
    }
    if !header.is_reverse() {
        w.buffer(preprocess);
    }
    w.buffer(patch);
    out.extend_from_slice(&w.finish());
    out
}

/// The same delta in PA31 form (the PA30 fields moved into the header buffer, the preprocessing
/// and patch buffers unchanged), with `set_flags` OR-ed into its flags.
pub fn to_pa31(delta: &[u8], extra: &Pa31Extra, set_flags: u64) -> Result<Vec<u8>, DeltaError> {
    let parsed = super::header::parse(delta, u64::MAX)?;
    let mut header = parsed.header;
    header.format = DeltaFormat::Pa31;
    header.flags |= set_flags;
    header.pa31 = Some(extra.clone());
    header.crc_prefix = None;
    let patch = parsed.reversal.unwrap_or(parsed.patch);
    Ok(assemble(&header, parsed.preprocess, patch))
}

/// Greedy parse with one step of lazy matching; recent distances are tried first, tracked exactly
/// as the decoder tracks them.
fn parse(buf: &[u8], source_len: usize) -> Vec<Token> {
    let s = source_len;
    let end = buf.len();
    let mut m = Matcher::new(buf, s);
    for p in 0..s {
        m.insert(p);
    }
    let mut tokens = Vec::new();
    let mut recent = [0i64; 3];
    let mut p = s;
    let mut pending: Option<(usize, usize, usize)> = None; // (position, length, distance)
    while p < end {
        let here = best_at(&m, p, &recent);
        m.insert(p);
        if let Some((plen, pdist)) = pending.map(|(_, l, d)| (l, d)) {
            // A match found one byte back: keep it unless this one is clearly longer.
            if here.is_some_and(|(len, _)| len > plen + 1) {
                pending = None;
            } else {
                let at = p - 1;
                emit(&mut tokens, &mut recent, buf, s, at, plen, pdist);
                insert_covered(&mut m, p + 1, at + plen);
                p = at + plen;
                pending = None;
                continue;
            }
        }
        match here {
            Some((len, dist)) if len >= GREEDY_LENGTH => {
                emit(&mut tokens, &mut recent, buf, s, p, len, dist);
                insert_covered(&mut m, p + 1, p + len);
                p += len;
            }
            Some((len, dist)) => {
                pending = Some((p, len, dist));
                p += 1;
            }
            None => p += 1,
        }
    }
    if let Some((at, len, dist)) = pending {
        emit(&mut tokens, &mut recent, buf, s, at, len, dist);
    }
    tokens
}

/// Indexes the target positions `from..to` that a match covers. All of a short match; of a long one
/// its ends and every `COVERED_STEP`-th position between: a later repeat of the same bytes is still
/// found (at a recent distance, or from the indexed positions and extended), and a file that is mostly
/// one long copy of its source (a reverse differential) no longer indexes every byte twice.
fn insert_covered(m: &mut Matcher<'_>, from: usize, to: usize) {
    const EDGE: usize = 16;
    const COVERED_STEP: usize = 8;
    if to.saturating_sub(from) <= 4 * EDGE {
        (from..to).for_each(|q| m.insert(q));
        return;
    }
    (from..from + EDGE).for_each(|q| m.insert(q));
    (from + EDGE..to - EDGE).step_by(COVERED_STEP).for_each(|q| m.insert(q));
    (to - EDGE..to).for_each(|q| m.insert(q));
}

/// Matches this long are taken at once, without looking one byte further.
const GREEDY_LENGTH: usize = 32;

/// The best match at `p`: a recent distance when it is nearly as long as the best new one.
fn best_at(m: &Matcher<'_>, p: usize, recent: &[i64; 3]) -> Option<(usize, usize)> {
    let limit = (m.end() - p).min(MAX_MATCH);
    let mut best_recent: Option<(usize, usize)> = None;
    // The recent distances, and the same offset in the source (patched files mostly keep their
    // layout; it is also what the cheapest offset slot encodes).
    let same_offset = i64::try_from(m.source_len()).unwrap_or(0);
    for &r in recent.iter().chain(std::iter::once(&same_offset)) {
        let Ok(r) = usize::try_from(r) else { continue };
        if r == 0 || r > p || limit < 3 {
            continue;
        }
        let len = m.common(p, p - r, limit);
        if len >= 3 && best_recent.is_none_or(|(l, _)| len > l) {
            best_recent = Some((len, r));
        }
    }
    let found = m.longest(p);
    match (best_recent, found) {
        (Some(r), Some(f)) if f.0 > r.0 + 2 => Some(f),
        (Some(r), _) => Some(r),
        (None, f) => f.filter(|(len, _)| *len >= MIN_MATCH),
    }
}

/// Records a copy, first extended backwards over bytes that would otherwise be literals (the
/// matcher indexes a large source sparsely, so it may find a match a few bytes after its start).
#[allow(clippy::too_many_arguments)]
fn emit(
    tokens: &mut Vec<Token>,
    recent: &mut [i64; 3],
    buf: &[u8],
    source_len: usize,
    mut at: usize,
    mut len: usize,
    dist: usize,
) {
    let floor = tokens.last().map_or(source_len, |t| t.at as usize + t.len as usize);
    while at > floor && at > dist && buf[at - 1] == buf[at - 1 - dist] {
        at -= 1;
        len += 1;
    }
    super::lzx::push_recent(recent, dist as i64);
    tokens.push(Token { at: at as u32, len: len as u32, dist: dist as u32 });
}
