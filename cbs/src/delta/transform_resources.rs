//! The resource directory (`DELTA_FLAG_RESOURCES`): a tree whose offsets are relative to the
//! start of the resource data, rewritten so that each points where the target has what it
//! pointed at.
//!
//! An offset `off` becomes `map(base + off) − map(base)`, with `base` the directory's RVA. The
//! creator treats a data entry's `OffsetToData` the same way (as if relative too), and so does the
//! decoder: the point is to repeat the creator's bytes, not to fix the field's meaning.

use std::collections::HashSet;

use super::image::DIR_RESOURCE;
use super::le::{put_u32, u16_at, u32_at};
use super::limits::Work;
use super::marks::Marks;
use super::transform::Context;
use super::DeltaError;

/// Subdirectory (for an entry's offset) or string name (for its name).
const HIGH: u32 = 0x8000_0000;
/// `IMAGE_RESOURCE_DIRECTORY` before its entries.
const HEADER: usize = 16;

pub(crate) fn run(buf: &mut [u8], cx: &Context<'_>, marks: &mut Marks, work: &mut Work) -> Result<(), DeltaError> {
    let image = cx.image;
    let Some((rva, size)) = image.directory(DIR_RESOURCE) else {
        return Ok(());
    };
    let Some(base) = image.rva_offset(i64::from(rva)) else {
        return Ok(());
    };
    let end = base.saturating_add(size as usize).min(buf.len());
    let dir_rva = i64::from(rva);
    let base_moved = cx.map_rva(dir_rva);
    let remap = |off: u32| (cx.map_rva(dir_rva + i64::from(off)).wrapping_sub(base_moved)) as u32;
    let mut pending = vec![base];
    let mut seen = HashSet::new();
    while let Some(dir) = pending.pop() {
        if !seen.insert(dir) || dir.saturating_add(HEADER) > end {
            continue;
        }
        let (Some(named), Some(ids)) = (u16_at(buf, dir + 12), u16_at(buf, dir + 14)) else {
            continue;
        };
        let count = (usize::from(named) + usize::from(ids)).min((end - dir - HEADER) / 8);
        for i in 0..count {
            work.spend(1)?;
            let entry = dir + HEADER + 8 * i;
            let (Some(name), Some(offset)) = (u32_at(buf, entry), u32_at(buf, entry + 4)) else {
                break;
            };
            let target = base.saturating_add((offset & !HIGH) as usize);
            if offset & HIGH != 0 {
                // Only a subdirectory after this entry is walked, so the walk cannot loop.
                if target.saturating_add(HEADER) <= end && target > entry {
                    pending.push(target);
                }
                put_u32(buf, entry + 4, HIGH | (remap(offset & !HIGH) & !HIGH));
                marks.mark(entry + 4, 4);
            } else if target.saturating_add(16) <= end {
                if let Some(data) = u32_at(buf, target) {
                    put_u32(buf, target, remap(data));
                    marks.mark(target, 4);
                }
            }
            if name & HIGH != 0 {
                put_u32(buf, entry, HIGH | (remap(name & !HIGH) & !HIGH));
                marks.mark(entry, 4);
            }
        }
    }
    Ok(())
}
