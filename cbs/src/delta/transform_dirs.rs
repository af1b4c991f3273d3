//! The import and export directories (`DELTA_FLAG_IMPORTS`, `DELTA_FLAG_EXPORTS`): RVAs stored
//! in tables, moved to where the target has what they point at.

use super::image::{DIR_EXPORT, DIR_IMPORT};
use super::le::{put_u32, put_u64, u32_at, u64_at};
use super::limits::Work;
use super::marks::Marks;
use super::transform::Context;
use super::DeltaError;

/// Moves the RVA stored at `at` (zero stays zero: it means "none") and claims the field.
fn map_field(buf: &mut [u8], at: usize, cx: &Context<'_>, marks: &mut Marks) {
    if let Some(rva) = u32_at(buf, at).filter(|v| *v != 0) {
        put_u32(buf, at, cx.map_rva(i64::from(rva)) as u32);
    }
    marks.mark(at, 4);
}

/// Imports: per descriptor (until the all-zero one), the lookup table's entries imported by name
/// hold an RVA of the hint and name (both claimed as well); the address table is walked the same
/// way, except that in a bound image it holds addresses, which move like relocated pointers; then
/// the descriptor's own `Name`, `OriginalFirstThunk` and `FirstThunk`.
pub(crate) fn imports(buf: &mut [u8], cx: &Context<'_>, marks: &mut Marks, work: &mut Work) -> Result<(), DeltaError> {
    let image = cx.image;
    let Some(mut at) = image.directory(DIR_IMPORT).and_then(|(rva, _)| image.rva_offset(i64::from(rva))) else {
        return Ok(());
    };
    while let (Some(lookup), Some(stamp), Some(name), Some(address)) =
        (u32_at(buf, at), u32_at(buf, at + 4), u32_at(buf, at + 12), u32_at(buf, at + 16))
    {
        work.spend(1)?;
        if lookup == 0 && name == 0 && address == 0 {
            break;
        }
        thunks(buf, cx, lookup, false, marks, work)?;
        thunks(buf, cx, address, stamp != 0, marks, work)?;
        for field in [12, 0, 16] {
            map_field(buf, at + field, cx, marks);
        }
        at += 20;
    }
    Ok(())
}

/// One thunk array, up to its zero entry; every entry is claimed, by ordinal ones included.
fn thunks(
    buf: &mut [u8],
    cx: &Context<'_>,
    rva: u32,
    bound: bool,
    marks: &mut Marks,
    work: &mut Work,
) -> Result<(), DeltaError> {
    let image = cx.image;
    let Some(mut at) = Some(rva).filter(|r| *r != 0).and_then(|r| image.rva_offset(i64::from(r))) else {
        return Ok(());
    };
    let (width, ordinal) = if image.is_64 { (8, 1u64 << 63) } else { (4, 1u64 << 31) };
    loop {
        let value = if image.is_64 { u64_at(buf, at) } else { u32_at(buf, at).map(u64::from) };
        let Some(value) = value.filter(|v| *v != 0) else {
            return Ok(());
        };
        work.spend(1)?;
        if bound {
            let moved = cx.map_va(value);
            if image.is_64 {
                put_u64(buf, at, moved);
            } else {
                put_u32(buf, at, moved as u32);
            }
        } else if value & ordinal == 0 {
            // By name: the low 32 bits are the RVA of the hint and name. The creator claims
            // those bytes too, so an `E8` in code whose displacement happens to land inside a
            // name is not rewritten (KB2584475-x86's `sffp_mmc.sys` has one in its INIT
            // section; without this claim it decoded to other bytes).
            if let Some(name) = image.rva_offset(i64::from(value as u32)) {
                let len = hint_name_len(buf, name);
                work.spend(len as u64)?;
                marks.mark(name, len);
            }
            map_field(buf, at, cx, marks);
        }
        marks.mark(at, width);
        at += width;
    }
}

/// The bytes of an `IMAGE_IMPORT_BY_NAME` at `at`: the 2-byte hint, the name and its NUL (cut
/// at the end of the buffer).
fn hint_name_len(buf: &[u8], at: usize) -> usize {
    let name = buf.get(at.saturating_add(2)..).unwrap_or_default();
    2 + name.iter().position(|b| *b == 0).map_or(name.len(), |n| n + 1)
}

/// Exports: the RVAs of `AddressOfFunctions` and `AddressOfNames`, then the directory's `Name`
/// and three table RVAs. Counts are cut to the entries the file holds.
pub(crate) fn exports(buf: &mut [u8], cx: &Context<'_>, marks: &mut Marks, work: &mut Work) -> Result<(), DeltaError> {
    let image = cx.image;
    let Some(dir) = image.directory(DIR_EXPORT).and_then(|(rva, _)| image.rva_offset(i64::from(rva))) else {
        return Ok(());
    };
    let (Some(functions), Some(names), Some(functions_at), Some(names_at)) =
        (u32_at(buf, dir + 20), u32_at(buf, dir + 24), u32_at(buf, dir + 28), u32_at(buf, dir + 32))
    else {
        return Ok(());
    };
    if u32_at(buf, dir + 36).is_none() {
        return Ok(());
    }
    for (table, count) in [(functions_at, functions), (names_at, names)] {
        let Some(start) = Some(table).filter(|t| *t != 0).and_then(|t| image.rva_offset(i64::from(t))) else {
            continue;
        };
        let fits = buf.len().saturating_sub(start) / 4;
        let count = (count as usize).min(fits);
        work.spend(count as u64)?;
        for i in 0..count {
            map_field(buf, start + 4 * i, cx, marks);
        }
    }
    for field in [12, 28, 32, 36] {
        map_field(buf, dir + field, cx, marks);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::hint_name_len;

    #[test]
    fn a_hint_and_name_is_claimed_up_to_its_nul() {
        assert_eq!(hint_name_len(b"\x01\x00memcpy\0memset\0", 0), 9);
        // A name running off the end of the file is cut there.
        assert_eq!(hint_name_len(b"\x01\x00mem", 0), 5);
        assert_eq!(hint_name_len(b"\x01", 0), 2);
        assert_eq!(hint_name_len(b"", 7), 2);
    }
}
