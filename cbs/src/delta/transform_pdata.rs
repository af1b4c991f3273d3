//! The exception data of x64 images (`DELTA_FLAG_AMD64_PDATA`): each `RUNTIME_FUNCTION` holds
//! three RVAs (function begin, end, and its unwind data), moved to the target's layout, and so
//! are the RVAs inside the unwind data it points at: the exception or termination handler, or
//! the `RUNTIME_FUNCTION` a chained entry continues. Unwind data shared by several functions is
//! rewritten once.

use std::collections::HashSet;

use super::image::DIR_EXCEPTION;
use super::le::{put_u32, u32_at};
use super::limits::Work;
use super::transform::Context;
use super::DeltaError;

/// `UNW_FLAG_EHANDLER | UNW_FLAG_UHANDLER`.
const HANDLER: u8 = 0x3;
/// `UNW_FLAG_CHAININFO`.
const CHAINED: u8 = 0x4;

pub(crate) fn run(buf: &mut [u8], cx: &Context<'_>, work: &mut Work) -> Result<(), DeltaError> {
    let image = cx.image;
    if cx.moves.entries.is_empty() {
        return Ok(());
    }
    let Some((rva, size)) = image.directory(DIR_EXCEPTION) else {
        return Ok(());
    };
    // An offset of 0 would be the file's headers, not a table: the creator leaves it alone.
    let Some(start) = image.rva_offset(i64::from(rva)).filter(|at| *at != 0) else {
        return Ok(());
    };
    let end = start.saturating_add(size as usize).min(buf.len());
    let count = end.saturating_sub(start) / 12;
    work.spend(count as u64)?;
    let mut seen = HashSet::new();
    for at in (0..count).map(|i| start + 12 * i) {
        if let Some(unwind) = u32_at(buf, at + 8).filter(|u| *u != 0 && seen.insert(*u)) {
            unwind_info(buf, cx, unwind);
        }
        map_fields(buf, cx, at);
    }
    Ok(())
}

/// Moves the three RVAs of the `RUNTIME_FUNCTION` at `at`.
fn map_fields(buf: &mut [u8], cx: &Context<'_>, at: usize) {
    for field in [at, at + 4, at + 8] {
        if let Some(value) = u32_at(buf, field).filter(|v| *v != 0) {
            put_u32(buf, field, cx.map_rva(i64::from(value)) as u32);
        }
    }
}

/// Moves the RVAs of the `UNWIND_INFO` at source RVA `rva`: after the four-byte header and the
/// unwind codes (padded to an even count) comes the handler's RVA, or a chained
/// `RUNTIME_FUNCTION`.
fn unwind_info(buf: &mut [u8], cx: &Context<'_>, rva: u32) {
    let Some(at) = cx.image.rva_offset(i64::from(rva)) else {
        return;
    };
    let (Some(&header), Some(&codes)) = (buf.get(at), buf.get(at + 2)) else {
        return;
    };
    let flags = header >> 3;
    let tail = at + 4 + 2 * ((usize::from(codes) + 1) & !1);
    if flags & CHAINED != 0 {
        map_fields(buf, cx, tail);
    } else if flags & HANDLER != 0 {
        if let Some(handler) = u32_at(buf, tail).filter(|v| *v != 0) {
            put_u32(buf, tail, cx.map_rva(i64::from(handler)) as u32);
        }
    }
}
