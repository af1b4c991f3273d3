//! The encoder's match finder: hash chains over the virtual buffer (source, then target), so a
//! target position finds earlier occurrences of its next bytes in the source or in the target so
//! far in time bounded by the chain depth, never quadratic in the input.
//!
//! Memory: one `u32` link per position of the buffer and a fixed head table.

/// Bytes hashed per position; shorter matches are found only at recent distances.
pub(crate) const MIN_MATCH: usize = 4;
/// Longest match reported (longer runs continue as further matches).
pub(crate) const MAX_MATCH: usize = 1 << 16;
/// Widest head table (2^24 chains, 64 MiB, for inputs of 16 MiB and more); smaller inputs get a
/// table their size, so chains stay short on big inputs and encoding a manifest does not clear
/// megabytes.
const MAX_HASH_BITS: u32 = 24;
const MIN_HASH_BITS: u32 = 10;
/// Chain links followed per position.
const MAX_CHAIN: usize = 48;
/// Once a match this long is found, the search stops.
const GOOD_ENOUGH: usize = 512;
const NONE: u32 = u32::MAX;

pub(crate) struct Matcher<'a> {
    buf: &'a [u8],
    /// Where the target starts in `buf`.
    source_len: usize,
    hash_bits: u32,
    head: Vec<u32>,
    prev: Vec<u32>,
}

impl<'a> Matcher<'a> {
    /// A finder over `buf` (the source, its first `source_len` bytes, then the target), which must
    /// be shorter than `u32::MAX` bytes.
    pub(crate) fn new(buf: &'a [u8], source_len: usize) -> Self {
        let hash_bits = (buf.len().max(1).ilog2() + 1).clamp(MIN_HASH_BITS, MAX_HASH_BITS);
        Matcher { buf, source_len, hash_bits, head: vec![NONE; 1 << hash_bits], prev: vec![NONE; buf.len()] }
    }

    /// The source's length.
    pub(crate) fn source_len(&self) -> usize {
        self.source_len
    }

    /// The buffer's length.
    pub(crate) fn end(&self) -> usize {
        self.buf.len()
    }

    fn hash(&self, at: usize) -> Option<usize> {
        let b = self.buf.get(at..at + MIN_MATCH)?;
        let v = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        Some((v.wrapping_mul(0x9E37_79B1) >> (32 - self.hash_bits)) as usize)
    }

    /// Adds position `at` to its chain.
    pub(crate) fn insert(&mut self, at: usize) {
        if let Some(h) = self.hash(at) {
            self.prev[at] = self.head[h];
            self.head[h] = at as u32;
        }
    }

    /// How many bytes at `a` and `b` agree (`b` < `a`), up to `limit`.
    pub(crate) fn common(&self, a: usize, b: usize, limit: usize) -> usize {
        let x = &self.buf[a..a + limit];
        let y = &self.buf[b..b + limit];
        x.iter().zip(y).take_while(|(p, q)| p == q).count()
    }

    /// The longest earlier match for position `at` (not yet inserted): (length, distance).
    pub(crate) fn longest(&self, at: usize) -> Option<(usize, usize)> {
        let limit = (self.buf.len() - at).min(MAX_MATCH);
        if limit < MIN_MATCH {
            return None;
        }
        let mut candidate = self.head[self.hash(at)?];
        let mut best: Option<(usize, usize)> = None;
        for _ in 0..MAX_CHAIN {
            if candidate == NONE {
                break;
            }
            let c = candidate as usize;
            let best_len = best.map_or(MIN_MATCH - 1, |b| b.0);
            // Cheap reject: the byte that would make this match longer than the best.
            if self.buf[c + best_len.min(limit - 1)] == self.buf[at + best_len.min(limit - 1)] {
                let len = self.common(at, c, limit);
                if len > best_len {
                    best = Some((len, at - c));
                    if len >= GOOD_ENOUGH.min(limit) {
                        break;
                    }
                }
            }
            candidate = self.prev[c];
        }
        best
    }
}
