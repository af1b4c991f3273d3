//! Tokens to the PA30 compressed stream: no rift table, the composite format (segments of the
//! target, each with its main, length and aligned-offset codes), code lengths sent through the
//! 39-symbol pre-code, then the symbols: literals, and copies whose offset slot is a recent
//! distance, a position near "the same place" in the source (mapped slots), or a distance back.

use super::bits::BitWriter;
use super::huffman::Code;
use crate::delta::DeltaLimits;

const MAIN_SYMBOLS: usize = 256 + 43 * 8;
const LENGTH_SYMBOLS: usize = 256;
const ALIGNED_SYMBOLS: usize = 16;
const ALL_LENGTHS: usize = MAIN_SYMBOLS + LENGTH_SYMBOLS + ALIGNED_SYMBOLS;
const PRE_SYMBOLS: usize = 39;
/// Target bytes per segment (more when the limit on segments requires).
const SEGMENT_BYTES: usize = 256 << 10;

/// A copy at target position `at` (a position in source + target) of `len` bytes from `dist` back.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Token {
    pub(crate) at: u32,
    pub(crate) len: u32,
    pub(crate) dist: u32,
}

/// How a copy's offset is written.
#[derive(Debug, Clone, Copy)]
enum Offset {
    /// Slot 4–6.
    Recent(u32),
    /// Slot 0–2 with its raw value and width, or slot 3.
    Mapped { slot: u32, value: u64, bits: u32 },
    /// A distance class (1–63) and its extra bits.
    Back { class: u32, distance: u64 },
}

impl Offset {
    fn slot(self) -> u32 {
        match self {
            Offset::Recent(i) => 4 + i,
            Offset::Mapped { slot, .. } => slot,
            Offset::Back { class, .. } if (1..=35).contains(&class) => 7 + class,
            Offset::Back { .. } => 7,
        }
    }
}

/// Chooses the offset encoding of `dist` at a target position of a delta whose source has
/// `source_len` bytes (the rift map of a RAW delta sends target position t to source position t).
fn offset(dist: u64, source_len: u64, recent: &[i64; 3]) -> Offset {
    if let Some(i) = recent.iter().position(|&r| r == dist as i64) {
        return Offset::Recent(i as u32);
    }
    let class = distance_class(dist);
    let back_bits = if class <= 3 { 0 } else { (class >> 1) - 1 };
    let mapped = dist as i64 - source_len as i64;
    let candidate = if source_len == 0 {
        None
    } else if mapped == 0 {
        Some(Offset::Mapped { slot: 3, value: 0, bits: 0 })
    } else if (-0x2000..0x2000).contains(&mapped) {
        Some(Offset::Mapped { slot: 0, value: (mapped + 0x2000) as u64, bits: 14 })
    } else if (-0xa000..-0x2000).contains(&mapped) {
        Some(Offset::Mapped { slot: 1, value: (mapped + 0xa000) as u64, bits: 16 })
    } else if (0x2000..0xa000).contains(&mapped) {
        Some(Offset::Mapped { slot: 1, value: (mapped + 0x6000) as u64, bits: 16 })
    } else if (0xa000..0x2a000).contains(&mapped) {
        Some(Offset::Mapped { slot: 2, value: (mapped + 0x16000) as u64, bits: 18 })
    } else if (-0x2a000..-0xa000).contains(&mapped) {
        Some(Offset::Mapped { slot: 2, value: (mapped + 0x2a000) as u64, bits: 18 })
    } else {
        None
    };
    match candidate {
        Some(c @ Offset::Mapped { bits, .. }) if bits < back_bits => c,
        _ => Offset::Back { class, distance: dist },
    }
}

/// The class of a distance: 1–3 exact, then two per power of two.
fn distance_class(d: u64) -> u32 {
    if d <= 3 {
        return d as u32;
    }
    let width = 63 - d.leading_zeros();
    2 * width + ((d >> (width - 1)) & 1) as u32
}

/// The main symbol's length slot and, for longer copies, the length-code symbol and long value.
fn length_parts(len: u64) -> (u32, Option<(u16, Option<u64>)>) {
    if len <= 8 {
        return (len as u32 - 1, None);
    }
    let m = len - 8;
    if m <= 255 {
        (0, Some((m as u16, None)))
    } else {
        (0, Some((0, Some(m))))
    }
}

/// Symbol counts of one segment.
struct Counts {
    main: Vec<u64>,
    lengths: Vec<u64>,
    aligned: Vec<u64>,
}

impl Counts {
    fn new() -> Self {
        Counts { main: vec![0; MAIN_SYMBOLS], lengths: vec![0; LENGTH_SYMBOLS], aligned: vec![0; ALIGNED_SYMBOLS] }
    }
}

struct Codes {
    main: Code,
    lengths: Code,
    aligned: Code,
}

impl Codes {
    fn all_lengths(&self) -> Vec<u8> {
        let mut v = self.main.lengths.clone();
        v.extend_from_slice(&self.lengths.lengths);
        v.extend_from_slice(&self.aligned.lengths);
        v
    }
}

/// One symbol of the stream, in its segment.
enum Event<'a> {
    Literal(usize, u8),
    Copy(usize, &'a Token, Offset),
}

/// Walks the tokens in order, handing each literal and copy to `f`, with the recent distances
/// updated exactly as the decoder updates them.
fn walk<'t>(source_len: usize, target: &[u8], tokens: &'t [Token], segment_bytes: usize, mut f: impl FnMut(Event<'t>)) {
    let mut recent = [0i64; 3];
    let mut t = 0usize;
    for token in tokens {
        let at = token.at as usize - source_len;
        while t < at {
            f(Event::Literal(t / segment_bytes, target[t]));
            t += 1;
        }
        let off = offset(u64::from(token.dist), source_len as u64, &recent);
        f(Event::Copy(t / segment_bytes, token, off));
        crate::delta::lzx::push_recent(&mut recent, i64::from(token.dist));
        t += token.len as usize;
    }
    while t < target.len() {
        f(Event::Literal(t / segment_bytes, target[t]));
        t += 1;
    }
}

/// The compressed stream for `target` against a source of `source_len` bytes.
pub(crate) fn write(source_len: usize, target: &[u8], tokens: &[Token], limits: &DeltaLimits) -> Vec<u8> {
    let max_segments = limits.max_segments.clamp(1, 4096) as usize;
    let segment_bytes = SEGMENT_BYTES.max(target.len().div_ceil(max_segments)).max(1);
    let segments = target.len().div_ceil(segment_bytes).max(1);
    let mut counts: Vec<Counts> = (0..segments).map(|_| Counts::new()).collect();
    walk(source_len, target, tokens, segment_bytes, |event| match event {
        Event::Literal(seg, b) => counts[seg].main[usize::from(b)] += 1,
        Event::Copy(seg, token, off) => {
            let c = &mut counts[seg];
            let (len_slot, long) = length_parts(u64::from(token.len));
            c.main[256 + (off.slot() * 8 + len_slot) as usize] += 1;
            if let Some((sym, _)) = long {
                c.lengths[usize::from(sym)] += 1;
            }
            if let Offset::Back { class, distance } = off {
                // Classes 10 and up have four or more extra bits, the last four through the aligned code.
                if class >= 10 {
                    c.aligned[(distance & 15) as usize] += 1;
                }
            }
        }
    });
    let codes: Vec<Codes> = counts
        .iter()
        .map(|c| Codes {
            main: Code::from_counts(&c.main, 16),
            lengths: Code::from_counts(&c.lengths, 16),
            aligned: Code::from_counts(&c.aligned, 16),
        })
        .collect();

    // Code lengths of every segment through one pre-code.
    let mut previous = vec![0u8; ALL_LENGTHS];
    let mut pre_symbols: Vec<Vec<(u8, u32, u32)>> = Vec::with_capacity(segments);
    for c in &codes {
        let lengths = c.all_lengths();
        pre_symbols.push(length_symbols(&lengths, &previous));
        previous = lengths;
    }
    let mut pre_counts = vec![0u64; PRE_SYMBOLS];
    for &(sym, _, _) in pre_symbols.iter().flatten() {
        pre_counts[usize::from(sym)] += 1;
    }
    let pre = Code::from_counts(&pre_counts, 15);

    let mut w = BitWriter::new();
    w.bits(0, 1); // no rift table
    w.bits(0, 1); // composite format
    w.number(segments as u64);
    for k in 0..segments {
        w.number(if k == 0 { source_len as u64 } else { segment_bytes as u64 });
    }
    for &l in &pre.lengths {
        w.bits(u64::from(l), 4);
    }
    for symbols in &pre_symbols {
        for &(sym, extra, extra_bits) in symbols {
            w.code(pre.codes[usize::from(sym)], pre.lengths[usize::from(sym)]);
            w.bits(u64::from(extra), extra_bits);
        }
    }
    walk(source_len, target, tokens, segment_bytes, |event| match event {
        Event::Literal(seg, b) => {
            let m = &codes[seg].main;
            w.code(m.codes[usize::from(b)], m.lengths[usize::from(b)]);
        }
        Event::Copy(seg, token, off) => {
            let c = &codes[seg];
            let (len_slot, long) = length_parts(u64::from(token.len));
            let sym = 256 + (off.slot() * 8 + len_slot) as usize;
            w.code(c.main.codes[sym], c.main.lengths[sym]);
            write_offset(&mut w, c, off);
            if let Some((sym, value)) = long {
                w.code(c.lengths.codes[usize::from(sym)], c.lengths.lengths[usize::from(sym)]);
                if let Some(v) = value {
                    w.long_number(v);
                }
            }
        }
    });
    w.finish()
}

fn write_offset(w: &mut BitWriter, c: &Codes, off: Offset) {
    match off {
        Offset::Recent(_) => {}
        Offset::Mapped { value, bits, .. } => w.bits(value, bits),
        Offset::Back { class, distance } => {
            if !(1..=35).contains(&class) {
                // Slot 7 escapes to classes 36–63 with a short prefix code.
                match class {
                    36..=39 => {
                        w.bits(0, 1);
                        w.bits(u64::from(class - 36), 2);
                    }
                    40..=47 => {
                        w.bits(0b01, 2);
                        w.bits(u64::from(class - 40), 3);
                    }
                    _ => {
                        w.bits(0b11, 2);
                        w.bits(u64::from(class - 48), 4);
                    }
                }
            }
            if class > 3 {
                let extra = (class >> 1) - 1;
                if extra < 4 {
                    w.bits(distance, extra);
                } else {
                    w.bits(distance >> 4, extra - 4);
                    let a = (distance & 15) as usize;
                    w.code(c.aligned.codes[a], c.aligned.lengths[a]);
                }
            }
        }
    }
}

/// One segment's code lengths as pre-code symbols `(symbol, extra value, extra bits)`: runs equal
/// to the previous segment's lengths (31–38), literal lengths (0–16) and repeats of the last
/// length written (23–30).
fn length_symbols(lengths: &[u8], previous: &[u8]) -> Vec<(u8, u32, u32)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lengths.len() {
        let same = lengths[i..].iter().zip(&previous[i..]).take_while(|(a, b)| a == b).count();
        if same >= 4 {
            let n = same.min(127);
            out.push(run_symbol(31, n));
            i += n;
            continue;
        }
        out.push((lengths[i], 0, 0));
        let value = lengths[i];
        i += 1;
        let repeat = lengths[i..].iter().take_while(|&&l| l == value).count().min(127);
        if repeat >= 1 {
            out.push(run_symbol(23, repeat));
            i += repeat;
        }
    }
    out
}

/// A run symbol (base 23 repeats the last length, base 31 copies the previous segment) for a count
/// of 1–127.
fn run_symbol(base: u8, count: usize) -> (u8, u32, u32) {
    debug_assert!((1..=127).contains(&count));
    if count <= 3 {
        return (base + count as u8 - 1, 0, 0);
    }
    let extra = count.ilog2();
    (base + extra as u8 + 1, (count - (1 << extra)) as u32, extra)
}
