//! Unbinding imports (`DELTA_FLAG_UNBIND`): a bound image carries resolved addresses in its
//! import address tables and a bound-import table naming the DLL builds they came from, both of
//! which change with every build of those DLLs. The creator diffed the image as if unbound, so
//! the decoder unbinds the source the same way.
//!
//! For each import descriptor with a non-zero time stamp, the time stamp and forwarder chain are
//! cleared and the lookup table (`OriginalFirstThunk`) is copied over the address table
//! (`FirstThunk`). The bound-import table is zeroed and its directory entry cleared (the real
//! Windows 7 deltas copy those zeros). A section named `.idata` is marked readable and writable.

use super::image::{DIR_BOUND_IMPORT, DIR_IMPORT};
use super::le::{put_u32, u32_at, u64_at};
use super::limits::Work;
use super::transform::Context;
use super::DeltaError;

/// `IMAGE_SCN_MEM_READ | IMAGE_SCN_MEM_WRITE`.
const READ_WRITE: u32 = 0xc000_0000;

pub(crate) fn run(buf: &mut [u8], cx: &Context<'_>, work: &mut Work) -> Result<(), DeltaError> {
    let image = cx.image;
    let thunk = if image.is_64 { 8 } else { 4 };
    if let Some(first) = image.directory(DIR_IMPORT).and_then(|(rva, _)| image.rva_offset(i64::from(rva))) {
        let mut at = first;
        // Descriptors end with an all-zero one, or where the buffer does.
        while let (Some(lookup), Some(stamp), Some(name), Some(address)) =
            (u32_at(buf, at), u32_at(buf, at + 4), u32_at(buf, at + 12), u32_at(buf, at + 16))
        {
            work.spend(1)?;
            if lookup == 0 && name == 0 && address == 0 {
                break;
            }
            if stamp != 0 {
                put_u32(buf, at + 4, 0);
                put_u32(buf, at + 8, 0);
                if let (Some(from), Some(to)) =
                    (image.rva_offset(i64::from(lookup)), image.rva_offset(i64::from(address)))
                {
                    copy_thunks(buf, from, to, thunk, work)?;
                }
            }
            at += 20;
        }
    }
    if let Some((rva, size)) = image.directory(DIR_BOUND_IMPORT) {
        // The table lives in the headers, where an RVA is a file offset.
        if let Some(start) = image.file_offset_any(rva) {
            let end = start.saturating_add(size as usize).min(buf.len());
            if let Some(table) = buf.get_mut(start..end) {
                work.spend(table.len() as u64)?;
                table.fill(0);
            }
        }
        if let Some(at) = image.directory_entry_offset(DIR_BOUND_IMPORT) {
            put_u32(buf, at, 0);
            put_u32(buf, at + 4, 0);
        }
    }
    for section in &image.sections {
        if &section.name == b".idata\0\0" {
            if let Some(c) = u32_at(buf, section.characteristics_at) {
                put_u32(buf, section.characteristics_at, c | READ_WRITE);
            }
        }
    }
    Ok(())
}

/// Copies thunks from `from` to `to` up to (not including) the lookup table's zero thunk.
fn copy_thunks(buf: &mut [u8], from: usize, to: usize, thunk: usize, work: &mut Work) -> Result<(), DeltaError> {
    let mut k = 0usize;
    loop {
        let (src, dst) = (from + k * thunk, to + k * thunk);
        let value = if thunk == 8 { u64_at(buf, src) } else { u32_at(buf, src).map(u64::from) };
        match value {
            Some(v) if v != 0 && dst + thunk <= buf.len() => {
                work.spend(1)?;
                buf.copy_within(src..src + thunk, dst);
                k += 1;
            }
            _ => return Ok(()),
        }
    }
}
