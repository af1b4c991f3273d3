//! Rift tables: piecewise maps between positions of the source and of the target.
//!
//! A rift table is a sorted list of (from, to) anchor pairs; a position between two anchors moves by
//! the displacement `to − from` of the anchor at or before it. The compressed stream of a delta
//! carries one (empty for most raw deltas), and the PE preprocessing carries more, which tell the
//! decoder where a piece of the target sits in the source after code moved.
//!
//! On the wire a table is a flag bit, two [`IntFormat`] codes and a count, then per entry the
//! difference of `from` to the previous entry and the difference of the displacement to the
//! previous one.

use super::bits::BitReader;
use super::huffman::Huffman;
use super::limits::Work;
use super::{DeltaError, DeltaLimits};

/// One anchor: positions at and after `from` map with displacement `to − from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RiftEntry {
    pub(crate) from: i64,
    pub(crate) to: i64,
}

/// A rift table, sorted by `from`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RiftTable {
    pub(crate) entries: Vec<RiftEntry>,
}

impl RiftTable {
    /// Reads a table from the stream.
    pub(crate) fn read(r: &mut BitReader<'_>, limits: &DeltaLimits, work: &mut Work) -> Result<Self, DeltaError> {
        if !r.bit("rift table flag")? {
            return Ok(RiftTable::default());
        }
        let from_code = IntFormat::read(r)?;
        let shift_code = IntFormat::read(r)?;
        let count = r.number("rift table size")?;
        // Every entry takes at least two bits, so a count above the bits left is a lie.
        if count > limits.max_rift_entries {
            return Err(DeltaError::TooLarge { what: "rift table entries", size: count, max: limits.max_rift_entries });
        }
        if count > r.remaining() / 2 {
            return Err(DeltaError::Truncated { what: "rift table" });
        }
        work.spend(count)?;
        let mut entries = Vec::with_capacity(count as usize);
        let (mut from, mut shift) = (0i64, 0i64);
        for _ in 0..count {
            from = from.wrapping_add(from_code.read_value(r)?);
            shift = shift.wrapping_add(shift_code.read_value(r)?);
            entries.push(RiftEntry { from, to: from.wrapping_add(shift) });
        }
        entries.sort_by_key(|e| e.from);
        Ok(RiftTable { entries })
    }

    /// The displacement of `position`: that of the last anchor at or before it, else `before`.
    pub(crate) fn shift_at(&self, position: i64, before: i64) -> i64 {
        let i = self.entries.partition_point(|e| e.from <= position);
        match i.checked_sub(1) {
            Some(i) => self.entries[i].to.wrapping_sub(self.entries[i].from),
            None => before,
        }
    }

    /// How many positions from `position` on keep its displacement (up to the next anchor), or
    /// `None` when no anchor follows.
    pub(crate) fn run_from(&self, position: i64) -> Option<u64> {
        let i = self.entries.partition_point(|e| e.from <= position);
        self.entries.get(i).map(|n| n.from.wrapping_sub(position) as u64)
    }

    /// Maps `position` through the table (identity before the first anchor), as the executable
    /// transforms map an RVA.
    pub(crate) fn map(&self, position: i64) -> i64 {
        position.wrapping_add(self.shift_at(position, 0))
    }

    /// The displacement of the last anchor (0 for an empty table). Where the tables are composed
    /// and inverted, positions before the first anchor take it: the table wraps around.
    pub(crate) fn last_shift(&self) -> i64 {
        self.entries.last().map_or(0, |e| e.to.wrapping_sub(e.from))
    }

    /// The displacement at `position` with the wrap-around convention of [`Self::last_shift`].
    pub(crate) fn wrapped_shift(&self, position: i64) -> i64 {
        self.shift_at(position, self.last_shift())
    }

    /// The table of `then ∘ self` (both with the wrap-around convention): positions mapped by
    /// `self`, then by `then`. Anchors are placed at `i64::MIN`, at each anchor of `self` and
    /// where a segment of `self` maps onto an anchor of `then`, so the result is exact on the
    /// whole line, the wrapped part included.
    pub(crate) fn then(
        &self,
        then: &RiftTable,
        limits: &DeltaLimits,
        work: &mut Work,
    ) -> Result<RiftTable, DeltaError> {
        // Real tables have a few entries per section, so the product stays small; a hostile one is
        // stopped here, before the anchors are collected.
        let pairs = (self.entries.len() as u64 + 1).saturating_mul(then.entries.len() as u64 + 1);
        if pairs > limits.max_rift_entries {
            return Err(DeltaError::TooLarge {
                what: "composed rift table",
                size: pairs,
                max: limits.max_rift_entries,
            });
        }
        work.spend(pairs)?;
        let mut points: Vec<i64> = Vec::with_capacity(self.entries.len() + then.entries.len() + 1);
        points.push(i64::MIN);
        points.extend(self.entries.iter().map(|e| e.from));
        // Segment i of `self` covers [start, end] (inclusive, so the last one reaches i64::MAX)
        // with one displacement; where its image passes an anchor of `then`, the composition
        // changes displacement too. The image may wrap around, so the crossing point is solved
        // modulo 2^64 and then checked against the segment.
        let mut segment = |start: i64, end: i64, shift: i64| {
            for a in &then.entries {
                let x = a.from.wrapping_sub(shift);
                if x >= start && x <= end {
                    points.push(x);
                }
            }
        };
        let last = self.last_shift();
        match self.entries.first() {
            Some(first) if first.from > i64::MIN => segment(i64::MIN, first.from - 1, last),
            Some(_) => {}
            None => segment(i64::MIN, i64::MAX, 0),
        }
        for (i, e) in self.entries.iter().enumerate() {
            let end = self.entries.get(i + 1).map_or(i64::MAX, |n| n.from.saturating_sub(1).max(e.from));
            segment(e.from, end, e.to.wrapping_sub(e.from));
        }
        points.sort_unstable();
        points.dedup();
        let entries = points
            .into_iter()
            .map(|x| {
                let mid = x.wrapping_add(self.wrapped_shift(x));
                RiftEntry { from: x, to: mid.wrapping_add(then.wrapped_shift(mid)) }
            })
            .collect();
        Ok(RiftTable { entries })
    }
}

/// Symbols of an [`IntFormat`]: 126 magnitude classes of non-negative values, then 126 of negative.
const INT_SYMBOLS: usize = 252;
const INT_HALF: usize = 126;

/// The Huffman code of signed integers used by rift tables.
///
/// A symbol is a magnitude class (0–3 exact; above, a leading-bits class followed by extra bits)
/// in the non-negative or the negative half. The code lengths are sent compactly: explicit 4-bit
/// lengths for the first classes of each half, then a default length for a count of classes, after
/// which the length steps down by one.
#[derive(Debug, Clone)]
pub(crate) struct IntFormat {
    code: Huffman,
}

impl IntFormat {
    pub(crate) fn read(r: &mut BitReader<'_>) -> Result<Self, DeltaError> {
        let explicit_pos = r.bits(8, "integer code")? as usize;
        let explicit_neg = r.bits(8, "integer code")? as usize;
        let defaults = r.bits(8, "integer code")? as usize;
        if explicit_pos > INT_HALF || explicit_neg > INT_HALF {
            return Err(DeltaError::malformed("integer code: more explicit lengths than classes"));
        }
        if defaults > INT_SYMBOLS - explicit_pos - explicit_neg {
            return Err(DeltaError::malformed("integer code: more default lengths than classes"));
        }
        let mut lengths = [0u8; INT_SYMBOLS];
        for l in &mut lengths[..explicit_pos] {
            *l = r.bits(4, "integer code")? as u8 + 1;
        }
        for l in &mut lengths[INT_HALF..INT_HALF + explicit_neg] {
            *l = r.bits(4, "integer code")? as u8 + 1;
        }
        let default = r.bits(4, "integer code")? as u8 + 1;
        // The classes without an explicit length: `defaults` of them (counted across the
        // non-negative half first) take the default length; from there on the length is one less.
        let mut length = default;
        let mut left = defaults;
        for (i, l) in lengths.iter_mut().enumerate().take(INT_HALF).skip(explicit_pos) {
            if left == 0 {
                length = length.saturating_sub(1);
                left = (INT_SYMBOLS - explicit_pos - explicit_neg).saturating_sub(i);
            }
            *l = length;
            left = left.saturating_sub(1);
        }
        let mut length = default;
        let mut left = defaults.saturating_sub(INT_HALF - explicit_pos);
        for (i, l) in lengths.iter_mut().enumerate().skip(INT_HALF + explicit_neg) {
            if left == 0 {
                length = length.saturating_sub(1);
                left = INT_SYMBOLS - i;
            }
            *l = length;
            left = left.saturating_sub(1);
        }
        Ok(IntFormat { code: Huffman::new(&lengths, "integer code")? })
    }

    pub(crate) fn read_value(&self, r: &mut BitReader<'_>) -> Result<i64, DeltaError> {
        let symbol = usize::from(self.code.decode(r, "integer")?);
        let (class, negative) = if symbol < INT_HALF { (symbol, false) } else { (symbol - INT_HALF, true) };
        let magnitude = if class <= 3 {
            class as i64
        } else {
            // Class 2k+2+b: the value has k+2 significant bits, the leading two being 1b.
            let extra = (class >> 1) as u32 - 1;
            let lead = (class & 1) as i64 + 2;
            (lead << extra) | r.bits(extra, "integer")? as i64
        };
        Ok(if negative { !magnitude } else { magnitude })
    }
}
