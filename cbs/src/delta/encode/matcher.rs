//! The encoder's match finder: a hash table of buckets over the virtual buffer (source, then
//! target), each bucket holding the last [`WAYS`] positions whose next bytes hash to it, so a
//! target position finds earlier occurrences of its next bytes in the source or in the target so
//! far in time bounded by the bucket size, never quadratic in the input.
//!
//! Memory is bounded whatever the input: the table has about two slots per position up to
//! [`MAX_BUCKET_BITS`] (128 MiB of slots), and past that the source is indexed at every `stride`-th
//! position only, so it keeps about half the table. A match that starts between two indexed
//! source positions is found a few bytes late and extended backwards by the parser.

/// Bytes hashed per position; shorter matches are found only at recent distances.
pub(crate) const MIN_MATCH: usize = 4;
/// Longest match reported (longer runs continue as further matches).
pub(crate) const MAX_MATCH: usize = 1 << 16;
/// Positions kept per bucket (most recent first when searched).
const WAYS: usize = 16;
/// Most buckets: 2^21 × 16 slots × 4 bytes = 128 MiB.
const MAX_BUCKET_BITS: u32 = 21;
const MIN_BUCKET_BITS: u32 = 6;
/// Once a match this long is found, the search stops.
const GOOD_ENOUGH: usize = 512;
const NONE: u32 = u32::MAX;

pub(crate) struct Matcher<'a> {
    buf: &'a [u8],
    /// Where the target starts in `buf`.
    source_len: usize,
    bucket_bits: u32,
    /// `WAYS` slots per bucket.
    table: Vec<u32>,
    /// Per bucket, the slot the next position goes to.
    cursor: Vec<u8>,
    /// Source positions indexed: every `stride`-th.
    stride: usize,
}

impl<'a> Matcher<'a> {
    /// A finder over `buf` (the source, its first `source_len` bytes, then the target), which must
    /// be shorter than `u32::MAX` bytes.
    pub(crate) fn new(buf: &'a [u8], source_len: usize) -> Self {
        let wanted = (buf.len().max(1) * 2).div_ceil(WAYS).next_power_of_two();
        let bucket_bits = wanted.ilog2().clamp(MIN_BUCKET_BITS, MAX_BUCKET_BITS);
        let slots = WAYS << bucket_bits;
        // The source may take about half the slots; the target's positions are all indexed.
        let stride = (source_len * 2).div_ceil(slots).max(1);
        Matcher { buf, source_len, bucket_bits, table: vec![NONE; slots], cursor: vec![0; 1 << bucket_bits], stride }
    }

    /// The source's length.
    pub(crate) fn source_len(&self) -> usize {
        self.source_len
    }

    /// The buffer's length.
    pub(crate) fn end(&self) -> usize {
        self.buf.len()
    }

    fn bucket(&self, at: usize) -> Option<usize> {
        let b = self.buf.get(at..at + MIN_MATCH)?;
        let v = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        Some((v.wrapping_mul(0x9E37_79B1) >> (32 - self.bucket_bits)) as usize)
    }

    /// Adds position `at` to its bucket (a source position only at the stride).
    pub(crate) fn insert(&mut self, at: usize) {
        if at < self.source_len && at % self.stride != 0 {
            return;
        }
        if let Some(b) = self.bucket(at) {
            let slot = usize::from(self.cursor[b]);
            self.table[b * WAYS + slot] = at as u32;
            self.cursor[b] = ((slot + 1) % WAYS) as u8;
        }
    }

    /// How many bytes at `a` and `b` agree (`b` < `a`), up to `limit`.
    pub(crate) fn common(&self, a: usize, b: usize, limit: usize) -> usize {
        let x = &self.buf[a..a + limit];
        let y = &self.buf[b..b + limit];
        x.iter().zip(y).take_while(|(p, q)| p == q).count()
    }

    /// The longest earlier match for position `at` (not yet inserted): (length, distance); among
    /// equally long ones, the nearest.
    pub(crate) fn longest(&self, at: usize) -> Option<(usize, usize)> {
        let limit = (self.buf.len() - at).min(MAX_MATCH);
        if limit < MIN_MATCH {
            return None;
        }
        let b = self.bucket(at)?;
        let newest = usize::from(self.cursor[b]) + WAYS - 1;
        let mut best: Option<(usize, usize)> = None;
        for k in 0..WAYS {
            let candidate = self.table[b * WAYS + (newest - k) % WAYS];
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
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_stays_bounded_and_the_source_is_strided_past_it() {
        let small = vec![0u8; 1000];
        let m = Matcher::new(&small, 500);
        // 2 × 1000 positions / 16 ways → 128 buckets.
        assert_eq!((m.stride, m.table.len(), m.cursor.len()), (1, 2048, 128));
        // A buffer bigger than the table: the slots stop at the cap, the source is strided.
        let big = vec![0u8; 100 << 20];
        let m = Matcher::new(&big, 50 << 20);
        assert_eq!(m.table.len(), WAYS << MAX_BUCKET_BITS);
        assert_eq!(m.stride, (100usize << 20).div_ceil(WAYS << MAX_BUCKET_BITS));
    }

    #[test]
    fn the_nearest_of_equal_matches_wins() {
        let buf = b"abcdXabcdYabcdZabcd".to_vec();
        let mut m = Matcher::new(&buf, 0);
        for p in 0..15 {
            m.insert(p);
        }
        assert_eq!(m.longest(15), Some((4, 5)));
    }
}
