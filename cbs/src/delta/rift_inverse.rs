//! The exact inverse of a rift table, as MSDelta computes it for the copy map of a PE delta.
//!
//! A map from source file offsets to target file offsets is not one-to-one: sections that the
//! target lays out differently overlap (two source ranges land on the same target bytes) or leave
//! gaps (target bytes no source byte lands on). The inverse is defined by coverage, in a fixed
//! order: the segments are taken by source position in unsigned order (from 0 up, then the
//! negative positions, which the table reaches by wrapping around), and each target position
//! belongs to the first segment whose image covers it. An anchor goes where a run of newly
//! covered positions starts; positions no segment covers keep the displacement of the anchor
//! before them.

use std::collections::BTreeMap;

use super::limits::Work;
use super::rift::{RiftEntry, RiftTable};
use super::{DeltaError, DeltaLimits};

/// One past `i64::MAX`, the end of the signed line.
const TOP: i128 = 1 << 63;

impl RiftTable {
    /// The inverse map (see the module documentation), with the wrap-around convention.
    pub(crate) fn inverse(&self, limits: &DeltaLimits, work: &mut Work) -> Result<RiftTable, DeltaError> {
        let Some(first) = self.entries.first() else {
            return Ok(RiftTable::default());
        };
        if self.entries.len() as u64 > limits.max_rift_entries {
            return Err(DeltaError::TooLarge {
                what: "rift table entries",
                size: self.entries.len() as u64,
                max: limits.max_rift_entries,
            });
        }
        if self.entries.iter().all(|e| e.from == first.from) {
            // One anchor: MSDelta keeps the displacement as it is rather than negating it.
            return Ok(RiftTable { entries: vec![RiftEntry { from: 0, to: first.to.wrapping_sub(first.from) }] });
        }
        let segments = self.segments();
        // Processing starts at 0 inside the segment holding it and goes up, around through the
        // negative positions, and stops where that segment starts (so a part of it below 0 is
        // never taken). `segments` starts at i64::MIN, so some segment holds 0.
        let holder = segments.partition_point(|s| s.0 <= 0).saturating_sub(1);
        let mut order: Vec<(i128, i128, i64)> = Vec::with_capacity(segments.len());
        for (i, &(start, shift)) in segments.iter().enumerate() {
            let end = segments.get(i + 1).map_or(TOP, |n| i128::from(n.0));
            let start = if i == holder { 0 } else { i128::from(start) };
            order.push((start, end, shift));
        }
        order.rotate_left(holder);
        order.retain(|&(start, end, _)| start < end);
        let mut cover = Cover::default();
        let mut out = Vec::new();
        for (start, end, shift) in order {
            work.spend(1)?;
            // The image of [start, end) is contiguous modulo 2^64; split it where it wraps from
            // i64::MAX to i64::MIN.
            let image = wrap(start + i128::from(shift));
            let len = end - start;
            let first_len = len.min(TOP - image);
            cover.add(image, image + first_len, shift, &mut out, work)?;
            if first_len < len {
                cover.add(-TOP, -TOP + (len - first_len), shift, &mut out, work)?;
            }
        }
        out.retain(|e| e.from != i64::MIN && e.to != i64::MIN);
        out.sort_by_key(|e| e.from);
        out.dedup_by(|later, earlier| {
            if later.from == earlier.from {
                *earlier = *later;
                true
            } else {
                false
            }
        });
        Ok(RiftTable { entries: out })
    }

    /// (start, displacement) of each segment, sorted, covering the whole line from `i64::MIN`
    /// (the last anchor among equal positions wins; before the first anchor the table wraps).
    fn segments(&self) -> Vec<(i64, i64)> {
        let mut out: Vec<(i64, i64)> = Vec::with_capacity(self.entries.len() + 1);
        if self.entries.first().is_some_and(|e| e.from > i64::MIN) {
            out.push((i64::MIN, self.last_shift()));
        }
        for e in &self.entries {
            let shift = e.to.wrapping_sub(e.from);
            match out.last_mut() {
                Some(last) if last.0 == e.from => last.1 = shift,
                _ => out.push((e.from, shift)),
            }
        }
        out
    }
}

/// `value` taken modulo 2^64 into the signed range.
fn wrap(value: i128) -> i128 {
    i128::from(value as i64)
}

/// The target positions covered so far: disjoint, non-touching intervals, start → end (a tree, so
/// that a hostile table with many segments costs O(n log n), not O(n²)).
#[derive(Debug, Default)]
struct Cover {
    intervals: BTreeMap<i128, i128>,
}

impl Cover {
    /// Covers [start, end) with displacement `shift` (source = target − shift), emitting an anchor
    /// at the start of each part not covered before.
    fn add(
        &mut self,
        start: i128,
        end: i128,
        shift: i64,
        out: &mut Vec<RiftEntry>,
        work: &mut Work,
    ) -> Result<(), DeltaError> {
        if start >= end {
            return Ok(());
        }
        // The intervals touching [start, end], in order: those starting at most at `end` whose
        // end reaches `start`. Each is merged away here, so each is visited once in all.
        let mut touching = Vec::new();
        for (&s, &e) in self.intervals.range(..=end).rev() {
            if e < start {
                break;
            }
            touching.push((s, e));
        }
        touching.reverse();
        let mut anchor = |at: i128| {
            let from = at as i64;
            out.push(RiftEntry { from, to: from.wrapping_sub(shift) });
        };
        let mut cursor = start;
        for &(s, e) in &touching {
            work.spend(1)?;
            if cursor < s {
                anchor(cursor);
            }
            cursor = cursor.max(e);
            self.intervals.remove(&s);
        }
        if cursor < end {
            anchor(cursor);
        }
        let merged_start = touching.first().map_or(start, |&(s, _)| s.min(start));
        let merged_end = touching.last().map_or(end, |&(_, e)| e.max(end));
        self.intervals.insert(merged_start, merged_end);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(pairs: &[(i64, i64)]) -> RiftTable {
        RiftTable { entries: pairs.iter().map(|&(from, to)| RiftEntry { from, to }).collect() }
    }

    fn inverse(pairs: &[(i64, i64)]) -> Vec<(i64, i64)> {
        let limits = DeltaLimits::default();
        let mut work = Work::new(&limits);
        table(pairs).inverse(&limits, &mut work).unwrap().entries.iter().map(|e| (e.from, e.to)).collect()
    }

    #[test]
    fn a_monotonic_map_inverts_by_swapping() {
        // Sections at file offsets 0x400, 0x1a00 placed at RVAs 0x1000, 0x3000.
        let inv = inverse(&[(0, 0), (0x400, 0x1000), (0x1a00, 0x3000)]);
        assert!(inv.contains(&(0, 0)) && inv.contains(&(0x1000, 0x400)) && inv.contains(&(0x3000, 0x1a00)), "{inv:x?}");
        let t = table(&inv);
        for (target, source) in [(0x10, 0x10), (0x1004, 0x404), (0x3010, 0x1a10)] {
            assert_eq!(t.map(target), source);
        }
    }

    #[test]
    fn overlaps_go_to_the_first_segment_and_gaps_keep_the_previous_displacement() {
        // [0, 100) → [0, 100); [100, 200) → [50, 150) overlaps the first image on [50, 100);
        // [200, ∞) → [300, …) leaves [150, 300) uncovered.
        let t = table(&inverse(&[(0, 0), (100, 50), (200, 300)]));
        assert_eq!(t.map(60), 60, "covered first by the identity segment");
        assert_eq!(t.map(120), 170, "only the second segment covers 120");
        assert_eq!(t.map(160), 210, "the gap keeps the second segment's displacement");
        assert_eq!(t.map(310), 210);
    }

    #[test]
    fn one_anchor_keeps_its_displacement() {
        assert_eq!(inverse(&[(5, 12)]), vec![(0, 7)]);
        assert!(inverse(&[]).is_empty());
    }

    #[test]
    fn wrapping_images_stay_bounded() {
        let inv = inverse(&[(i64::MIN, i64::MAX), (0, i64::MIN), (1, 1), (i64::MAX, 0)]);
        assert!(inv.windows(2).all(|w| w[0].0 < w[1].0), "{inv:x?}");
    }
}
