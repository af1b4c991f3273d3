//! The compression stage of PA30 ("PseudoLzx"): Huffman-coded literals and copies over the
//! concatenation of source and target.
//!
//! The decoder works in one virtual buffer, the source followed by the target being built; a copy
//! reads from anywhere before the current position, so it can take bytes from the source (a delta)
//! or from earlier target bytes (plain LZ77 compression, the only kind when the source is empty).
//!
//! Stream: a rift table, then either one bit 1 (flat codes for the whole target) or 0 and a
//! composite format: a number of segments, each starting at a target position and having its own
//! three codes (main: 256 literals and 43 × 8 copy symbols; lengths: 256; aligned offset bits: 16),
//! whose lengths are sent through a 39-symbol pre-code, delta-coded against the previous segment.
//!
//! A copy symbol holds an offset slot and a length slot. Slots 0–2 are signed distances from the
//! position the rift table maps the current one to (a source copy near "the same place"), slot 3 is
//! that very position, slots 4–6 repeat one of the three last distances, and the rest are plain
//! LZ distances backwards from the current position. A slot-3 copy follows the map byte by byte:
//! where it crosses an anchor it continues from that anchor's mapped position.

use super::bits::BitReader;
use super::huffman::Huffman;
use super::limits::Work;
use super::rift::{RiftEntry, RiftTable};
use super::{DeltaError, DeltaLimits};

const MAIN_SYMBOLS: usize = 256 + 43 * 8;
const LENGTH_SYMBOLS: usize = 256;
const ALIGNED_SYMBOLS: usize = 16;
const ALL_LENGTHS: usize = MAIN_SYMBOLS + LENGTH_SYMBOLS + ALIGNED_SYMBOLS;
const PRE_SYMBOLS: usize = 39;

/// Where a copy reads from, before it is turned into a distance.
enum Offset {
    /// Relative to the rift-mapped position (offset slots 0–3).
    Mapped(i64),
    /// One of the three last distances.
    Recent(usize),
    /// A distance back from the current position.
    Back(i64),
}

/// The three codes of one segment.
struct Codes {
    main: Huffman,
    lengths: Huffman,
    aligned: Huffman,
}

impl Codes {
    fn new(lengths: &[u8]) -> Result<Self, DeltaError> {
        let (main, rest) = lengths.split_at(MAIN_SYMBOLS);
        let (len, aligned) = rest.split_at(LENGTH_SYMBOLS);
        Ok(Codes {
            main: Huffman::new(main, "main code")?,
            lengths: Huffman::new(len, "length code")?,
            aligned: Huffman::new(aligned, "aligned-offset code")?,
        })
    }

    fn flat() -> Result<Self, DeltaError> {
        let mut lengths = Huffman::flat_lengths(MAIN_SYMBOLS);
        lengths.extend(Huffman::flat_lengths(LENGTH_SYMBOLS));
        lengths.extend(Huffman::flat_lengths(ALIGNED_SYMBOLS));
        Codes::new(&lengths)
    }
}

/// Segments: (first target position, code lengths). Codes are built when a segment starts, so a
/// delta declaring many segments costs their lengths only.
struct Segments {
    starts: Vec<u64>,
    lengths: Vec<Vec<u8>>,
}

fn read_segments(r: &mut BitReader<'_>, limits: &DeltaLimits, work: &mut Work) -> Result<Segments, DeltaError> {
    let n = r.number("segment count")?;
    if n == 0 {
        return Err(DeltaError::malformed("composite format without segments"));
    }
    if n > limits.max_segments {
        return Err(DeltaError::TooLarge { what: "segment count", size: n, max: limits.max_segments });
    }
    let mut starts = Vec::with_capacity(n as usize);
    let mut at = 0u64;
    for _ in 0..n {
        at = at.saturating_add(r.number("segment start")?);
        starts.push(at);
    }
    let mut pre = [0u8; PRE_SYMBOLS];
    for l in &mut pre {
        *l = r.bits(4, "pre-code")? as u8;
    }
    let pre = Huffman::new(&pre, "pre-code")?;
    let mut lengths: Vec<Vec<u8>> = Vec::with_capacity(n as usize);
    let mut previous = vec![0u8; ALL_LENGTHS];
    for _ in 0..n {
        work.spend(ALL_LENGTHS as u64)?;
        let next = read_lengths(r, &pre, &previous)?;
        lengths.push(next.clone());
        previous = next;
    }
    Ok(Segments { starts, lengths })
}

/// Reads one segment's code lengths through the pre-code. Symbols 0–16 are lengths; 17–22 change
/// the previous segment's length by +1, +2, +3, −1, −2, −3; 23–30 repeat the length just written
/// and 31–38 copy the previous segment's lengths, for a count given by the symbol (1–3, or a range
/// of counts narrowed by extra bits).
fn read_lengths(r: &mut BitReader<'_>, pre: &Huffman, previous: &[u8]) -> Result<Vec<u8>, DeltaError> {
    let mut out = Vec::with_capacity(ALL_LENGTHS);
    while out.len() < ALL_LENGTHS {
        let symbol = pre.decode(r, "code lengths")?;
        let i = out.len();
        match symbol {
            0..=16 => out.push(symbol as u8),
            17..=19 => out.push(previous[i].wrapping_add(symbol as u8 - 16)),
            20..=22 => out.push(previous[i].wrapping_sub(symbol as u8 - 19)),
            _ => {
                let run = u32::from(symbol - 23);
                let slot = run & 7;
                let count = if slot < 3 {
                    slot as usize + 1
                } else {
                    let extra = slot - 1;
                    ((1u64 << extra) | r.bits(extra, "code lengths")?) as usize
                };
                if i + count > ALL_LENGTHS {
                    return Err(DeltaError::malformed("code-length run past the end of the table"));
                }
                if run < 8 {
                    let last =
                        *out.last().ok_or_else(|| DeltaError::malformed("code-length run with nothing to repeat"))?;
                    out.resize(i + count, last);
                } else {
                    out.extend_from_slice(&previous[i..i + count]);
                }
            }
        }
        if out.last().is_some_and(|&l| usize::from(l) > super::huffman::MAX_CODE_LENGTH) {
            return Err(DeltaError::malformed("code length over 16"));
        }
    }
    Ok(out)
}

/// Reads one symbol of the main code: a literal byte, or a copy (offset, length).
enum Symbol {
    Literal(u8),
    Copy(Offset, u64),
}

fn read_symbol(r: &mut BitReader<'_>, codes: &Codes) -> Result<Symbol, DeltaError> {
    let main = codes.main.decode(r, "main symbol")?;
    if main < 256 {
        return Ok(Symbol::Literal(main as u8));
    }
    let index = u32::from(main) - 256;
    let offset = read_offset(r, codes, index >> 3)?;
    let length = match index & 7 {
        0 => match codes.lengths.decode(r, "match length")? {
            0 => r.long_number("long match length")? + 7,
            l => u64::from(l) + 7,
        },
        l => u64::from(l),
    };
    Ok(Symbol::Copy(offset, length + 1))
}

fn read_offset(r: &mut BitReader<'_>, codes: &Codes, slot: u32) -> Result<Offset, DeltaError> {
    const WHAT: &str = "match offset";
    Ok(match slot {
        // Three widths of signed distances around the mapped position; each width leaves out the
        // range the narrower one covers.
        0 => Offset::Mapped(r.bits(14, WHAT)? as i64 - 0x2000),
        1 => {
            let v = r.bits(16, WHAT)? as i64;
            Offset::Mapped(if v < 0x8000 { v - 0xa000 } else { v - 0x6000 })
        }
        2 => {
            let v = r.bits(18, WHAT)? as i64;
            Offset::Mapped(if v >= 0x20000 { v - 0x16000 } else { v - 0x2a000 })
        }
        3 => Offset::Mapped(0),
        4..=6 => Offset::Recent(slot as usize - 4),
        _ => {
            // The class of the distance: slots 8.. give classes 1..=35 directly; slot 7 escapes to
            // classes 36..=63 with a short prefix code.
            let class = match slot - 7 {
                0 => {
                    if !r.bit(WHAT)? {
                        36 + r.bits(2, WHAT)? as u32
                    } else if !r.bit(WHAT)? {
                        40 + r.bits(3, WHAT)? as u32
                    } else {
                        48 + r.bits(4, WHAT)? as u32
                    }
                }
                c => c,
            };
            let distance = if class <= 3 {
                u64::from(class)
            } else {
                // Like the integer classes: two leading bits 1b, then `extra` bits, the last four
                // of which come from the aligned-offset code once there are at least four.
                let extra = (class >> 1) - 1;
                let lead = u64::from(class & 1) + 2;
                if extra < 4 {
                    (lead << extra) | r.bits(extra, WHAT)?
                } else {
                    let high = (lead << (extra - 4)) | r.bits(extra - 4, WHAT)?;
                    (high << 4) | u64::from(codes.aligned.decode(r, "aligned offset")?)
                }
            };
            Offset::Back(distance as i64)
        }
    })
}

/// Decodes the compressed stream `patch` into a target of `target_size` bytes against `source`.
///
/// `extra_rift` is the map from the PE preprocessing (empty for raw deltas); it joins the stream's
/// own rift table.
pub(crate) fn decode(
    source: &[u8],
    patch: &[u8],
    target_size: u64,
    extra_rift: &[RiftEntry],
    limits: &DeltaLimits,
    work: &mut Work,
) -> Result<Vec<u8>, DeltaError> {
    let mut out = Vec::with_capacity(usize::try_from(target_size).unwrap_or(0));
    if patch.is_empty() {
        return if target_size == 0 { Ok(out) } else { Err(DeltaError::Truncated { what: "patch data" }) };
    }
    let mut r = BitReader::new(patch, "patch data")?;
    let mut rift = RiftTable::read(&mut r, limits, work)?;
    rift.entries.extend_from_slice(extra_rift);
    let source_len = source.len() as i64;
    // The end of the source maps to the start of the target region: a mapped copy at target
    // position t reads source position t when nothing else says otherwise.
    rift.entries.push(RiftEntry { from: source_len, to: 0 });
    rift.entries.sort_by_key(|e| e.from);
    // Before the first anchor the displacement is the last anchor's.
    let before = rift.entries.last().map_or(0, |e| e.to.wrapping_sub(e.from));

    let segments = if r.bit("format flag")? { None } else { Some(read_segments(&mut r, limits, work)?) };
    let mut segment = 0usize;
    let mut codes = match &segments {
        None => Codes::flat()?,
        Some(s) => Codes::new(&s.lengths[0])?,
    };

    let mut recent = [0i64; 3];
    while (out.len() as u64) < target_size {
        if let Some(s) = &segments {
            let at = out.len() as u64 + source.len() as u64;
            let mut next = segment;
            while next + 1 < s.starts.len() && at >= s.starts[next + 1] {
                next += 1;
            }
            if next != segment {
                segment = next;
                codes = Codes::new(&s.lengths[segment])?;
            }
        }
        work.spend(1)?;
        let (offset, length) = match read_symbol(&mut r, &codes)? {
            Symbol::Literal(b) => {
                out.push(b);
                continue;
            }
            Symbol::Copy(offset, length) => (offset, length),
        };
        let position = source_len.wrapping_add(out.len() as i64);
        // A copy at the mapped position itself (slot 3) keeps following the map.
        let follows_map = matches!(offset, Offset::Mapped(0));
        let distance = match offset {
            Offset::Mapped(d) => d.wrapping_sub(rift.shift_at(position, before)),
            Offset::Recent(i) => recent[i],
            Offset::Back(d) => d,
        };
        push_recent(&mut recent, distance);
        let length = length.min(target_size - out.len() as u64);
        work.spend(length)?;
        if follows_map {
            // Where the copy crosses an anchor, the rest is read from where that anchor maps to
            // (the creator matched the target against the mapped source position by position;
            // the real PE deltas depend on it). Each run is at least one byte.
            let (mut left, mut at) = (length, position);
            while left > 0 {
                let run = rift.run_from(at).map_or(left, |n| n.clamp(1, left));
                copy(source, &mut out, at.wrapping_add(rift.shift_at(at, before)), run)?;
                left -= run;
                at = at.wrapping_add(run as i64);
            }
        } else {
            copy(source, &mut out, position.wrapping_sub(distance), length)?;
        }
    }
    Ok(out)
}

/// Every copy, whatever its kind, moves its distance to the front of the three recent ones (the
/// encoder tracks them with this same rule).
pub(crate) fn push_recent(recent: &mut [i64; 3], distance: i64) {
    if recent[0] != distance {
        let second = recent[1];
        recent[1] = recent[0];
        recent[0] = distance;
        if second != distance {
            recent[2] = second;
        }
    }
}

/// Appends `length` bytes read from virtual position `from` (source, then the target so far).
fn copy(source: &[u8], out: &mut Vec<u8>, from: i64, length: u64) -> Result<(), DeltaError> {
    let bad = || DeltaError::malformed(format!("copy from position {from} is outside the data decoded so far"));
    let mut from = u64::try_from(from).map_err(|_| bad())?;
    let mut left = length;
    let source_len = source.len() as u64;
    if from < source_len {
        let n = left.min(source_len - from);
        out.extend_from_slice(&source[from as usize..(from + n) as usize]);
        from += n;
        left -= n;
    }
    if left == 0 {
        return Ok(());
    }
    let start = usize::try_from(from - source_len).map_err(|_| bad())?;
    if start >= out.len() {
        return Err(bad());
    }
    let left = left as usize;
    if start + left <= out.len() {
        out.extend_from_within(start..start + left);
    } else {
        // Overlapping: the copy repeats the bytes it is writing (a run).
        for k in 0..left {
            let b = out[start + k];
            out.push(b);
        }
    }
    Ok(())
}
