//! The E8 post-process (`DELTA_FLAG_E8`, `modern-lcu.md` §2 item 17): the creator turned the
//! displacement after every `E8` byte of the whole target into an absolute position (the classic
//! LZX call filter, translation size = target length) so that calls to one function compress
//! alike; the decoder turns them back after the compressed stream is decoded.
//!
//! It applies only to a native i386 image (machine `0x14c`, PE32, not an IL-only .NET assembly):
//! the gate the facts give, and what the real deltas confirm (see [`applies`]).

use super::image::{Image, DIR_CLR, MACHINE_I386};
use super::le::{put_u32, u32_at};
use super::limits::Work;
use super::DeltaError;

/// `DELTA_FLAG_E8`.
pub(crate) const FLAG_E8: u64 = 0x1;
/// `COMIMAGE_FLAGS_ILONLY` in the CLR header's `Flags`.
const COMIMAGE_FLAGS_ILONLY: u32 = 0x1;

/// Whether the E8 post-process runs on a decoded `target` of a delta with `flags`: the flag is
/// set and the target is a native i386 image. An AMD64 image (file type 8 with the flag, as the
/// Windows 7 x64 hotfixes' WoW64 files carry) is an i386 image when its machine says so; the gate
/// looks at the output, not at the delta's file type.
pub(crate) fn applies(flags: u64, target: &[u8]) -> bool {
    if flags & FLAG_E8 == 0 {
        return false;
    }
    let Some(image) = Image::parse(target) else {
        return false;
    };
    if image.machine != MACHINE_I386 || image.is_64 {
        return false;
    }
    // A pure IL assembly carries machine 0x14c too, but has no native calls to undo.
    let il_only = image
        .directory(DIR_CLR)
        .and_then(|(rva, _)| {
            image.sections.iter().find_map(|s| {
                let inside = rva >= s.virtual_address && rva - s.virtual_address < s.virtual_size;
                inside.then(|| s.raw_offset as usize + (rva - s.virtual_address) as usize)
            })
        })
        .and_then(|at| u32_at(target, at.checked_add(16)?))
        .is_some_and(|flags| flags & COMIMAGE_FLAGS_ILONLY != 0);
    !il_only
}

/// Runs the post-process on a decoded `target` when [`applies`] says so.
pub(crate) fn post_process(flags: u64, target: &mut [u8], work: &mut Work) -> Result<(), DeltaError> {
    if applies(flags, target) {
        undo(target, work)?;
    }
    Ok(())
}

/// Turns the absolute call positions back into displacements, in place: at each `E8` before the
/// last 10 bytes, a value `v` with `−i ≤ v < len` becomes `v − i` (when `v ≥ 0`) or `v + len`;
/// the scan skips the four operand bytes after every `E8`, translated or not.
pub(crate) fn undo(buf: &mut [u8], work: &mut Work) -> Result<(), DeltaError> {
    let len = buf.len();
    let Ok(size) = i32::try_from(len) else {
        return Ok(());
    };
    if len <= 10 {
        return Ok(());
    }
    work.spend(len as u64)?;
    let mut i = 0usize;
    while i < len - 10 {
        if buf[i] != 0xe8 {
            i += 1;
            continue;
        }
        let v = u32_at(buf, i + 1).unwrap_or(0) as i32;
        // `i < len ≤ i32::MAX`, so the position fits.
        let at = i as i32;
        if v >= -at && v < size {
            let restored = if v >= 0 { v.wrapping_sub(at) } else { v.wrapping_add(size) };
            put_u32(buf, i + 1, restored as u32);
        }
        i += 5;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delta::DeltaLimits;

    #[test]
    fn absolute_positions_become_displacements_again() {
        let mut buf = vec![0u8; 64];
        // At 4: absolute 20 → 20 − 4 = 16. At 9: negative −3 (≥ −9) → −3 + 64 = 61.
        buf[4] = 0xe8;
        buf[5..9].copy_from_slice(&20i32.to_le_bytes());
        buf[9] = 0xe8;
        buf[10..14].copy_from_slice(&(-3i32).to_le_bytes());
        // At 20: out of range (≥ len) stays.
        buf[20] = 0xe8;
        buf[21..25].copy_from_slice(&100i32.to_le_bytes());
        // At 56 (in the last 10 bytes): untouched.
        buf[56] = 0xe8;
        buf[57..61].copy_from_slice(&1i32.to_le_bytes());
        let mut work = Work::new(&DeltaLimits::default());
        undo(&mut buf, &mut work).unwrap();
        assert_eq!(i32::from_le_bytes(buf[5..9].try_into().unwrap()), 16);
        assert_eq!(i32::from_le_bytes(buf[10..14].try_into().unwrap()), 61);
        assert_eq!(i32::from_le_bytes(buf[21..25].try_into().unwrap()), 100);
        assert_eq!(i32::from_le_bytes(buf[57..61].try_into().unwrap()), 1);
    }

    #[test]
    fn only_native_i386_images_and_only_with_the_flag() {
        assert!(!applies(FLAG_E8, b"not a PE image at all, just bytes"));
        assert!(!applies(0, b"MZ"));
    }
}
