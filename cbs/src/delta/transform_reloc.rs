//! Base relocations (`DELTA_FLAG_RELOCS`): every pointer the relocation table names is moved to
//! the target's layout and image base, and the table itself is rebuilt as the target would list
//! the same pointers.
//!
//! Each entry's location is mapped to the target's RVA. A `DIR64` (type 10) pointer is rewritten
//! as the target address of what it pointed at; a `HIGHLOW` (type 3) one likewise in 32 bits;
//! `HIGHADJ` (type 4) keeps the parameter word that follows it. Then the entries, sorted by their
//! new location, are written back in place as blocks of one 4 KiB page each, padded to four
//! bytes, within the raw data of the section holding the table. Whatever the old table had
//! beyond the new one stays as it was.

use super::image::DIR_BASERELOC;
use super::le::{put_u16, put_u32, put_u64, u16_at, u32_at, u64_at};
use super::limits::Work;
use super::marks::Marks;
use super::transform::Context;
use super::DeltaError;

/// One relocation as the rebuilt table lists it.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// The location's target RVA.
    rva: u32,
    /// The relocation type (0 for a type this transform does not know).
    kind: u16,
    /// The parameter word of a `HIGHADJ`.
    extra: u16,
}

pub(crate) fn run(buf: &mut [u8], cx: &Context<'_>, marks: &mut Marks, work: &mut Work) -> Result<(), DeltaError> {
    let image = cx.image;
    let Some((rva, size)) = image.directory(DIR_BASERELOC) else {
        return Ok(());
    };
    let Some(start) = image.rva_offset(i64::from(rva)) else {
        return Ok(());
    };
    let end = start.saturating_add(size as usize).min(buf.len());
    let mut entries = Vec::new();
    let mut block = start;
    while block + 8 <= end {
        let (Some(page), Some(length)) = (u32_at(buf, block), u32_at(buf, block + 4)) else {
            break;
        };
        let length = length as usize;
        if length < 8 || length > end - block {
            break;
        }
        let count = (length - 8) / 2;
        work.spend(count as u64 + 1)?;
        let mut j = 0;
        while j < count {
            let word = u16_at(buf, block + 8 + 2 * j).unwrap_or(0);
            let kind = word >> 12;
            if kind == 0 {
                // Padding ends the block.
                break;
            }
            let location = i64::from(page) + i64::from(word & 0xfff);
            let mut entry = Entry { rva: cx.map_rva(location) as u32, kind, extra: 0 };
            if let Some(at) = image.rva_offset(location) {
                match kind {
                    3 => {
                        if let Some(v) = u32_at(buf, at) {
                            // Sign-extended, as the creator reads a 32-bit pointer.
                            let moved = cx.map_va(i64::from(v as i32) as u64);
                            put_u32(buf, at, moved as u32);
                            marks.mark(at, 4);
                        }
                    }
                    10 => {
                        if let Some(v) = u64_at(buf, at) {
                            put_u64(buf, at, cx.map_va(v));
                            marks.mark(at, 8);
                        }
                    }
                    1 | 2 => marks.mark(at, 2),
                    4 => {
                        marks.mark(at, 2);
                        if j + 1 < count {
                            entry.extra = u16_at(buf, block + 8 + 2 * (j + 1)).unwrap_or(0);
                        }
                        j += 1;
                    }
                    _ => entry.kind = 0,
                }
            }
            entries.push(entry);
            j += 1;
        }
        block += length;
    }
    rebuild(buf, cx, rva, size, start, entries, work)
}

/// Writes `entries` back as relocation blocks from `start`.
fn rebuild(
    buf: &mut [u8],
    cx: &Context<'_>,
    rva: u32,
    size: u32,
    start: usize,
    mut entries: Vec<Entry>,
    work: &mut Work,
) -> Result<(), DeltaError> {
    // Stable: entries at the same location keep their order.
    entries.sort_by_key(|e| e.rva);
    work.spend(entries.len() as u64)?;
    // Room: the rest of the holding section's raw data (a block header more than before may be
    // needed when entries change pages), and never less than the old table.
    let room = cx
        .image
        .sections
        .iter()
        .find(|s| {
            let inside = u64::from(rva).wrapping_sub(u64::from(s.virtual_address));
            rva >= s.virtual_address && inside < u64::from(s.virtual_size.max(s.raw_size))
        })
        .map_or(size, |s| s.raw_size.saturating_sub(rva - s.virtual_address))
        .max(size);
    let limit = start.saturating_add((room & !1) as usize).min(buf.len());
    let mut out = start;
    let mut i = 0;
    while out + 8 <= limit && i < entries.len() {
        let page = entries[i].rva & !0xfff;
        let header = out;
        out += 8;
        let body = out;
        while out + 2 <= limit && i < entries.len() && entries[i].rva & !0xfff == page {
            let e = entries[i];
            put_u16(buf, out, (e.kind << 12) | (e.rva & 0xfff) as u16);
            out += 2;
            if e.kind == 4 && out + 2 <= limit {
                put_u16(buf, out, e.extra);
                out += 2;
            }
            i += 1;
        }
        if ((out - body) / 2) % 2 == 1 && out + 2 <= limit {
            put_u16(buf, out, 0);
            out += 2;
        }
        put_u32(buf, header, page);
        put_u32(buf, header + 4, (out - header) as u32);
    }
    Ok(())
}
