//! The encoder's match finder: hash tables of buckets over the virtual buffer (one for the source,
//! one for the target), each bucket holding the last positions whose next bytes hash to it, so a
//! target position finds earlier occurrences of its next bytes in the source or in the target so
//! far in time bounded by the bucket size, never quadratic in the input.
//!
//! Memory is bounded whatever the input: each table has about two slots per position, up to 64 MiB
//! for the source, 32 MiB for its long-window index and 32 MiB for the target. Past that, the source is indexed at every `stride`-th
//! position only (it still fills its table), and the target keeps its most recent positions. A
//! match that starts between two indexed source positions is found a few bytes late and extended
//! backwards by the parser.

/// Bytes hashed per position; shorter matches are found only at recent distances.
pub(crate) const MIN_MATCH: usize = 4;
/// Longest match reported (longer runs continue as further matches).
pub(crate) const MAX_MATCH: usize = 1 << 16;
/// Positions kept per bucket of the source's table and of the target's (most recent first when
/// searched). The two are apart so that indexing the target never evicts the source.
const SOURCE_WAYS: usize = 16;
const TARGET_WAYS: usize = 8;
/// Most buckets: 2^20 × 16 slots × 4 bytes = 64 MiB for the source, 2^20 × 8 × 4 = 32 MiB for
/// the target.
const MAX_SOURCE_BUCKET_BITS: u32 = 20;
const MAX_TARGET_BUCKET_BITS: u32 = 20;
/// The long-window index of the source: every `LONG`-th source position, keyed by its next `LONG`
/// bytes, `LONG_WAYS` per bucket, at most 2^21 buckets (32 MiB). Short keys cannot tell apart the
/// many places of a common 4-byte string in a large source; a 32-byte window mostly can, so a
/// target position finds the source place it was copied from (any common run of 2 × `LONG` − 1
/// bytes holds an indexed window), and the parser extends the match backwards to its start.
const LONG: usize = 32;
const LONG_WAYS: usize = 4;
const MAX_LONG_BUCKET_BITS: u32 = 21;
const MIN_BUCKET_BITS: u32 = 6;
/// Source positions indexed at least: every `SOURCE_STEP`-th. A match is still found one to
/// `SOURCE_STEP - 1` bytes after its start and extended backwards by the parser; only a match
/// shorter than `MIN_MATCH + SOURCE_STEP - 1` may be missed.
const SOURCE_STEP: usize = 2;
/// Once a match this long is found, the search stops.
const GOOD_ENOUGH: usize = 512;
const NONE: u32 = u32::MAX;

/// One table: `ways` slots per bucket, the next slot to overwrite per bucket.
struct Table {
    ways: usize,
    bits: u32,
    slots: Vec<u32>,
    cursor: Vec<u8>,
}

impl Table {
    /// About two slots per position of `positions`, within `max_bits` buckets.
    fn new(positions: usize, ways: usize, max_bits: u32) -> Self {
        let wanted = (positions.max(1) * 2).div_ceil(ways).next_power_of_two();
        let bits = wanted.ilog2().clamp(MIN_BUCKET_BITS, max_bits);
        Table { ways, bits, slots: vec![NONE; ways << bits], cursor: vec![0; 1 << bits] }
    }

    fn bucket(&self, key: u32) -> usize {
        (key.wrapping_mul(0x9E37_79B1) >> (32 - self.bits)) as usize
    }

    fn insert(&mut self, key: u32, at: usize) {
        let b = self.bucket(key);
        let slot = usize::from(self.cursor[b]);
        self.slots[b * self.ways + slot] = at as u32;
        self.cursor[b] = ((slot + 1) % self.ways) as u8;
    }

    /// The positions of `key`'s bucket, newest first (stopping at an empty slot).
    fn candidates(&self, key: u32) -> impl Iterator<Item = usize> + '_ {
        let b = self.bucket(key);
        let newest = usize::from(self.cursor[b]) + self.ways - 1;
        (0..self.ways)
            .map(move |k| self.slots[b * self.ways + (newest - k) % self.ways])
            .take_while(|&c| c != NONE)
            .map(|c| c as usize)
    }
}

pub(crate) struct Matcher<'a> {
    buf: &'a [u8],
    /// Where the target starts in `buf`.
    source_len: usize,
    source: Table,
    target: Table,
    long: Table,
    /// Source positions indexed: every `stride`-th.
    stride: usize,
}

impl<'a> Matcher<'a> {
    /// A finder over `buf` (the source, its first `source_len` bytes, then the target), which must
    /// be shorter than `u32::MAX` bytes.
    pub(crate) fn new(buf: &'a [u8], source_len: usize) -> Self {
        let source = Table::new(source_len.div_ceil(SOURCE_STEP), SOURCE_WAYS, MAX_SOURCE_BUCKET_BITS);
        let target = Table::new(buf.len() - source_len, TARGET_WAYS, MAX_TARGET_BUCKET_BITS);
        // The source's positions may fill its table once; past that, every `stride`-th.
        let stride = source_len.div_ceil(source.slots.len()).max(SOURCE_STEP);
        let long = Table::new(source_len / LONG, LONG_WAYS, MAX_LONG_BUCKET_BITS);
        Matcher { buf, source_len, source, target, long, stride }
    }

    /// The source's length.
    pub(crate) fn source_len(&self) -> usize {
        self.source_len
    }

    /// The buffer's length.
    pub(crate) fn end(&self) -> usize {
        self.buf.len()
    }

    fn key(&self, at: usize) -> Option<u32> {
        let b = self.buf.get(at..at + MIN_MATCH)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A hash of the `LONG` bytes at `at`, when there are that many.
    fn long_key(&self, at: usize) -> Option<u32> {
        let w = self.buf.get(at..at + LONG)?;
        let mut h = 0u64;
        for chunk in w.chunks_exact(8) {
            let v = u64::from_le_bytes(chunk.try_into().ok()?);
            h = (h ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
        }
        Some((h ^ h >> 32) as u32)
    }

    /// Adds position `at` to its tables (a source position only at the stride, and to the long
    /// index at every `LONG`-th).
    pub(crate) fn insert(&mut self, at: usize) {
        let Some(key) = self.key(at) else { return };
        if at >= self.source_len {
            self.target.insert(key, at);
            return;
        }
        if at.is_multiple_of(self.stride) {
            self.source.insert(key, at);
        }
        if at.is_multiple_of(LONG) && at + LONG <= self.source_len {
            if let Some(long) = self.long_key(at) {
                self.long.insert(long, at);
            }
        }
    }

    /// How many bytes at `a` and `b` agree (`b` < `a`), up to `limit`.
    pub(crate) fn common(&self, a: usize, b: usize, limit: usize) -> usize {
        let x = &self.buf[a..a + limit];
        let y = &self.buf[b..b + limit];
        x.iter().zip(y).take_while(|(p, q)| p == q).count()
    }

    /// The longest earlier match for position `at` (not yet inserted): (length, distance); among
    /// equally long ones, the nearest (the target's own bytes before the source's, the long index
    /// last).
    pub(crate) fn longest(&self, at: usize) -> Option<(usize, usize)> {
        let limit = (self.buf.len() - at).min(MAX_MATCH);
        if limit < MIN_MATCH {
            return None;
        }
        let key = self.key(at)?;
        let long = self.long_key(at).map(|k| self.long.candidates(k)).into_iter().flatten();
        let mut best: Option<(usize, usize)> = None;
        for c in self.target.candidates(key).chain(self.source.candidates(key)).chain(long) {
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
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tables_stay_bounded_and_the_source_is_strided_past_them() {
        let small = vec![0u8; 1000];
        let m = Matcher::new(&small, 500);
        // 2 × 250 indexed positions / 16 ways → 32, at least 64 buckets; 2 × 500 / 8 ways → 128.
        assert_eq!((m.stride, m.source.slots.len(), m.target.slots.len()), (SOURCE_STEP, 1024, 1024));
        // Inputs bigger than the tables: the slots stop at the caps, the source is strided.
        let big = vec![0u8; 150 << 20];
        let m = Matcher::new(&big, 100 << 20);
        assert_eq!(m.source.slots.len(), SOURCE_WAYS << MAX_SOURCE_BUCKET_BITS);
        assert_eq!(m.target.slots.len(), TARGET_WAYS << MAX_TARGET_BUCKET_BITS);
        assert_eq!(m.stride, (100usize << 20).div_ceil(SOURCE_WAYS << MAX_SOURCE_BUCKET_BITS));
    }

    #[test]
    fn the_nearest_of_equal_matches_wins() {
        let buf = b"abcdXabcdYabcdZabcd".to_vec();
        let mut m = Matcher::new(&buf, 0);
        for p in 0..15 {
            m.insert(p);
        }
        assert_eq!(m.longest(15), Some((4, 5)));
        // A source position is found too.
        let buf = b"abcdefghXXXXabcdefgh".to_vec();
        let mut m = Matcher::new(&buf, 8);
        for p in 0..12 {
            m.insert(p);
        }
        assert_eq!(m.longest(12), Some((8, 12)));
    }
}
