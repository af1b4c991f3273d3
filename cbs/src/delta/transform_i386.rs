//! The i386-only executable transforms (`modern-lcu.md` §2 items 12–14): marking the bytes outside
//! executable sections (`DELTA_FLAG_MARK`), then relative jumps (`DELTA_FLAG_I386_JMPS`) and
//! relative calls (`DELTA_FLAG_I386_CALLS`) found by scanning the executable sections byte by
//! byte.
//!
//! 32-bit code has no `.pdata` to find instructions by, so the creator looked at every `E8`,
//! `E9` and `0F 8x` byte and rewrote the displacement when the instruction and its destination
//! lie in bytes no earlier pass claimed ([`Marks`]) and the destination is inside the image. A
//! near jump whose new displacement fits a byte was collapsed to the short form in place.

use super::image::{Image, SCN_MEM_EXECUTE};
use super::le::put_u32;
use super::limits::Work;
use super::marks::Marks;
use super::transform::Context;
use super::DeltaError;

/// The part of each executable section the scans cover: (file offset, section RVA, end offset).
fn code_ranges(image: &Image, len: usize) -> impl Iterator<Item = (usize, u32, usize)> + '_ {
    image.sections.iter().filter(|s| s.characteristics & SCN_MEM_EXECUTE != 0).map(move |s| {
        let start = s.raw_offset as usize;
        let end = start.saturating_add(s.virtual_size.min(s.raw_size) as usize).min(len);
        (start, s.virtual_address, end)
    })
}

/// `DELTA_FLAG_MARK`: everything is claimed except the raw bytes of executable sections.
pub(crate) fn mark_non_executable(
    image: &Image,
    len: usize,
    marks: &mut Marks,
    work: &mut Work,
) -> Result<(), DeltaError> {
    marks.mark_all();
    for (start, _, end) in code_ranges(image, len) {
        work.spend(end.saturating_sub(start) as u64)?;
        marks.clear(start, end.saturating_sub(start));
    }
    Ok(())
}

/// Where a branch lands, as a source RVA, when it may be rewritten: inside the image (non-zero,
/// below `SizeOfImage`), before the first section or inside one, on a byte no pass claimed. The
/// arithmetic is unsigned 32-bit, as the creator's: a displacement that wraps lands far away.
fn reachable(image: &Image, marks: &Marks, next: u32, displacement: u32) -> Option<u32> {
    let target = next.wrapping_add(displacement);
    if target == 0 || target >= image.size_of_image {
        return None;
    }
    let first = image.sections.iter().map(|s| s.virtual_address).min().unwrap_or(0);
    let marker = if target < first {
        target as usize
    } else {
        let inside = image.sections.iter().any(|s| {
            target >= s.virtual_address
                && u64::from(target - s.virtual_address) < u64::from(s.virtual_size.max(s.raw_size))
        });
        if !inside {
            return None;
        }
        image.rva_offset(i64::from(target)).unwrap_or(target as usize)
    };
    (!marks.is_marked(marker)).then_some(target)
}

/// The displacement from `next` to `target` once both moved to the target's layout.
fn moved_displacement(cx: &Context<'_>, next: u32, target: u32) -> i32 {
    cx.map_rva(i64::from(target)).wrapping_sub(cx.map_rva(i64::from(next))) as i32
}

fn i32_at(buf: &[u8], at: usize) -> i32 {
    super::le::u32_at(buf, at).unwrap_or(0) as i32
}

/// `DELTA_FLAG_I386_JMPS`: `E9 rel32` and `0F 8x rel32` whose displacement does not fit a
/// signed byte. When the moved one does, the jump becomes `EB rel8` / `7x rel8` over its first
/// two bytes (a `0F 8x` only when its `0F` is not claimed); the rest stays as it was.
pub(crate) fn jumps(buf: &mut [u8], cx: &Context<'_>, marks: &Marks, work: &mut Work) -> Result<(), DeltaError> {
    let image = cx.image;
    for (start, va, end) in code_ranges(image, buf.len()) {
        work.spend(end.saturating_sub(start) as u64)?;
        let mut i = start;
        while i + 5 <= end {
            // `d`: the byte before the displacement (E9, or the 8x of a 0F 8x).
            let d = match (buf[i], buf[i + 1]) {
                (0xe9, _) => i,
                (0x0f, second) if second & 0xf0 == 0x80 => i + 1,
                _ => {
                    i += 1;
                    continue;
                }
            };
            let near_jcc = d != i;
            if d + 5 > buf.len() || marks.any(d, 5) {
                i += 1;
                continue;
            }
            let old = i32_at(buf, d + 1);
            if i8::try_from(old).is_ok() {
                i += 1;
                continue;
            }
            let next = va.wrapping_add((d - start) as u32).wrapping_add(5);
            let Some(target) = reachable(image, marks, next, old as u32) else {
                i += 1;
                continue;
            };
            let new = moved_displacement(cx, next, target);
            let may_shorten = !near_jcc || !marks.is_marked(d - 1);
            match i8::try_from(new) {
                Ok(short) if may_shorten => {
                    if near_jcc {
                        buf[d - 1] = 0x70 | (buf[d] & 0x0f);
                        buf[d] = short as u8;
                    } else {
                        buf[d] = 0xeb;
                        buf[d + 1] = short as u8;
                    }
                }
                _ => put_u32(buf, d + 1, new as u32),
            }
            i = d + 5;
        }
    }
    Ok(())
}

/// `DELTA_FLAG_I386_CALLS`: `E8 rel32` with all five bytes unclaimed.
pub(crate) fn calls(buf: &mut [u8], cx: &Context<'_>, marks: &Marks, work: &mut Work) -> Result<(), DeltaError> {
    let image = cx.image;
    for (start, va, end) in code_ranges(image, buf.len()) {
        work.spend(end.saturating_sub(start) as u64)?;
        let mut i = start;
        while i + 5 <= end {
            if buf[i] != 0xe8 || marks.any(i, 5) {
                i += 1;
                continue;
            }
            let next = va.wrapping_add((i - start) as u32).wrapping_add(5);
            let old = i32_at(buf, i + 1);
            let Some(target) = reachable(image, marks, next, old as u32) else {
                i += 1;
                continue;
            };
            put_u32(buf, i + 1, moved_displacement(cx, next, target) as u32);
            i += 5;
        }
    }
    Ok(())
}
