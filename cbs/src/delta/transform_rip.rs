//! RIP-relative operands and relative branches of x64 code (`DELTA_FLAG_AMD64_DISASM`).
//!
//! The code is found through `.pdata`: each `RUNTIME_FUNCTION` gives a function's
//! `[BeginAddress, EndAddress)`, which is walked instruction by instruction with
//! [`x64_length`](super::x64_length), never past the function's end. An instruction with a
//! rewritable field (a RIP-relative displacement, a `rel32` branch) gets the displacement that
//! reaches, from the target position of the instruction's end, the target position of what it
//! reached in the source: `map(next + d) − map(next)`.

use super::image::DIR_EXCEPTION;
use super::le::{put_u32, u32_at};
use super::limits::Work;
use super::transform::Context;
use super::x64_length;
use super::DeltaError;

pub(crate) fn run(buf: &mut [u8], cx: &Context<'_>, work: &mut Work) -> Result<(), DeltaError> {
    let image = cx.image;
    // Without moves every displacement maps to itself.
    if cx.moves.entries.is_empty() {
        return Ok(());
    }
    let Some((rva, size)) = image.directory(DIR_EXCEPTION) else {
        return Ok(());
    };
    let Some(table) = image.rva_offset(i64::from(rva)) else {
        return Ok(());
    };
    for i in 0..(size / 12) as usize {
        let at = table + 12 * i;
        let (Some(begin), Some(end)) = (u32_at(buf, at), u32_at(buf, at + 4)) else {
            break;
        };
        work.spend(1)?;
        if begin == 0 || end <= begin {
            continue;
        }
        let Some(mut offset) = image.rva_offset(i64::from(begin)) else {
            continue;
        };
        let mut position = i64::from(begin);
        let end = i64::from(end);
        while position < end && offset < buf.len() {
            let window = ((end - position) as usize).min(buf.len() - offset).min(15);
            let instruction = x64_length::decode(&buf[offset..offset + window]);
            work.spend(instruction.len as u64)?;
            let next = position + instruction.len as i64;
            if let Some(field) = instruction.field {
                let at = offset + field;
                if let Some(old) = u32_at(buf, at) {
                    let reached = next + i64::from(old as i32);
                    let new = cx.map_rva(reached).wrapping_sub(cx.map_rva(next));
                    put_u32(buf, at, new as u32);
                }
            }
            position = next;
            offset += instruction.len;
        }
    }
    Ok(())
}
