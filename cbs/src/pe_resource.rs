//! Reading one resource out of a PE image (the DCM manifest base in `wcp.dll`, resource type
//! 0x266, id 1: `modern-lcu.md` §6 item 37).
//!
//! The resource directory is a three-level tree (type, name, language) of
//! `IMAGE_RESOURCE_DIRECTORY` tables; offsets inside it are relative to the directory's start and
//! the leaf's data is an RVA. The language level is taken language-agnostically: the first entry,
//! as `LoadFirstResourceLanguageAgnostic` does. Every offset and size comes from an untrusted file,
//! so each read is bounded, and the walk has a fixed depth.

use thiserror::Error;

use crate::delta::image::{Image, DIR_RESOURCE};
use crate::delta::le::{u16_at, u32_at};

/// Why a resource could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PeResourceError {
    /// The file is not a PE image.
    #[error("{file}: not a PE image")]
    NotPe {
        /// The file.
        file: String,
    },
    /// The image has no resource directory, or not the resource asked for.
    #[error("{file}: no resource of type 0x{type_id:x} with id {id}")]
    NotFound {
        /// The file.
        file: String,
        /// The resource type.
        type_id: u32,
        /// The resource id.
        id: u32,
    },
    /// The resource directory points outside the file.
    #[error("{file}: malformed resource directory: {what}")]
    Malformed {
        /// The file.
        file: String,
        /// What is wrong.
        what: &'static str,
    },
}

/// Entries per directory level beyond which a table is considered hostile.
const MAX_ENTRIES: usize = 1 << 16;

/// The bytes of resource `type_id`/`id` (first language) of the PE image `pe`; `file` names it in
/// errors.
pub fn find_resource<'a>(pe: &'a [u8], type_id: u32, id: u32, file: &str) -> Result<&'a [u8], PeResourceError> {
    let image = Image::parse(pe).ok_or_else(|| PeResourceError::NotPe { file: file.to_owned() })?;
    let not_found = || PeResourceError::NotFound { file: file.to_owned(), type_id, id };
    let malformed = |what| PeResourceError::Malformed { file: file.to_owned(), what };
    let (rva, _) = image.directory(DIR_RESOURCE).ok_or_else(not_found)?;
    let root = image.file_offset_any(rva).filter(|&at| at < pe.len()).ok_or_else(|| malformed("directory RVA"))?;
    let types = subdirectory(pe, root, 0, Some(type_id), &malformed)?.ok_or_else(not_found)?;
    let names = subdirectory(pe, root, types, Some(id), &malformed)?.ok_or_else(not_found)?;
    // The language level: the first entry, whatever its language.
    let leaf = entry(pe, root, names, None, &malformed)?.ok_or_else(not_found)?;
    if leaf & 0x8000_0000 != 0 {
        return Err(malformed("a fourth directory level"));
    }
    let data_entry = root.checked_add(leaf as usize).ok_or_else(|| malformed("data entry offset"))?;
    let data_rva = u32_at(pe, data_entry).ok_or_else(|| malformed("data entry"))?;
    let size = u32_at(pe, data_entry + 4).ok_or_else(|| malformed("data entry"))? as usize;
    let at = image.file_offset_any(data_rva).ok_or_else(|| malformed("data RVA"))?;
    at.checked_add(size).and_then(|end| pe.get(at..end)).ok_or_else(|| malformed("data past the end of the file"))
}

/// The subdirectory (offset from the root) of the entry with `id` in the table at `table`.
fn subdirectory(
    pe: &[u8],
    root: usize,
    table: usize,
    id: Option<u32>,
    malformed: &dyn Fn(&'static str) -> PeResourceError,
) -> Result<Option<usize>, PeResourceError> {
    match entry(pe, root, table, id, malformed)? {
        None => Ok(None),
        Some(to) if to & 0x8000_0000 != 0 => Ok(Some((to & 0x7fff_ffff) as usize)),
        Some(_) => Err(malformed("a data entry where a directory was expected")),
    }
}

/// The `OffsetToData` of the entry with numeric `id` (or the first entry) of the table at `table`.
fn entry(
    pe: &[u8],
    root: usize,
    table: usize,
    id: Option<u32>,
    malformed: &dyn Fn(&'static str) -> PeResourceError,
) -> Result<Option<u32>, PeResourceError> {
    let at = root.checked_add(table).ok_or_else(|| malformed("table offset"))?;
    let named = usize::from(u16_at(pe, at + 12).ok_or_else(|| malformed("table header"))?);
    let ids = usize::from(u16_at(pe, at + 14).ok_or_else(|| malformed("table header"))?);
    let count = (named + ids).min(MAX_ENTRIES);
    for i in 0..count {
        let e = at + 16 + 8 * i;
        let name = u32_at(pe, e).ok_or_else(|| malformed("entry past the end of the file"))?;
        let to = u32_at(pe, e + 4).ok_or_else(|| malformed("entry past the end of the file"))?;
        match id {
            None => return Ok(Some(to)),
            // Named entries (high bit set) never match a numeric id.
            Some(id) if name & 0x8000_0000 == 0 && name == id => return Ok(Some(to)),
            Some(_) => {}
        }
    }
    Ok(None)
}
