//! The executable transforms of an i386 or AMD64 source, run before the compressed stream is
//! decoded.
//!
//! The creator of a PE delta rewrote the addresses in its copy of the source so that code and
//! data that only moved match the target byte for byte; copies in the compressed stream read those
//! rewritten bytes. The decoder repeats the rewriting on the source, in the creator's order, each
//! step selected by a header flag that the file type allows: unbinding imports, the target's time
//! stamp in the file header, marking non-executable bytes (i386), imports, exports, resources,
//! relocations, relative jumps and calls (i386, [`transform_i386`]), RIP-relative operands and
//! `.pdata` (AMD64), and finally the target's image base in the optional header. The passes
//! before the branch scans claim the bytes they own in a [`Marks`] map.
//!
//! Every transform reads the source's own headers (parsed once, before anything changes), maps a
//! source RVA to the target's with the preprocessing's move table, and stays inside the buffer: a
//! field that is not there is skipped. Loops spend from the decoder's work budget.

use super::header::{FILE_TYPE_AMD64, FILE_TYPE_I386};
use super::image::Image;
use super::le::{put_u32, put_u64};
use super::limits::Work;
use super::marks::Marks;
use super::pe::PeInfo;
use super::rift::RiftTable;
use super::{
    transform_dirs, transform_i386, transform_pdata, transform_reloc, transform_resources, transform_rip,
    transform_unbind, DeltaError,
};

/// `DELTA_FLAG_MARK`.
const FLAG_MARK: u64 = 0x2;
/// `DELTA_FLAG_IMPORTS`.
const FLAG_IMPORTS: u64 = 0x4;
/// `DELTA_FLAG_EXPORTS`.
const FLAG_EXPORTS: u64 = 0x8;
/// `DELTA_FLAG_RESOURCES`.
const FLAG_RESOURCES: u64 = 0x10;
/// `DELTA_FLAG_RELOCS`.
const FLAG_RELOCS: u64 = 0x20;
/// `DELTA_FLAG_I386_JMPS`.
const FLAG_I386_JMPS: u64 = 0x80;
/// `DELTA_FLAG_I386_CALLS`.
const FLAG_I386_CALLS: u64 = 0x100;
/// `DELTA_FLAG_AMD64_DISASM`.
const FLAG_AMD64_DISASM: u64 = 0x200;
/// `DELTA_FLAG_AMD64_PDATA`.
const FLAG_AMD64_PDATA: u64 = 0x400;
/// `DELTA_FLAG_UNBIND`.
const FLAG_UNBIND: u64 = 0x2000;

/// The transforms shared by both file types.
const COMMON: u64 = FLAG_IMPORTS | FLAG_EXPORTS | FLAG_RESOURCES | FLAG_RELOCS | FLAG_UNBIND;

/// The transforms a file type allows; the header's flags are taken through it, so a bit of the
/// other architecture never runs (`modern-lcu.md` §2 item 10).
pub(crate) fn allowed(file_type: u64) -> u64 {
    match file_type {
        FILE_TYPE_I386 => COMMON | FLAG_MARK | FLAG_I386_JMPS | FLAG_I386_CALLS,
        FILE_TYPE_AMD64 => COMMON | FLAG_AMD64_DISASM | FLAG_AMD64_PDATA,
        _ => 0,
    }
}

/// What every transform needs: the source's headers and where its RVAs went.
pub(crate) struct Context<'a> {
    pub(crate) image: &'a Image,
    /// Source RVA → target RVA.
    pub(crate) moves: &'a RiftTable,
    /// The target's `ImageBase`.
    pub(crate) target_base: u64,
}

impl Context<'_> {
    /// The target RVA of a source RVA (positions before the first move keep their value).
    pub(crate) fn map_rva(&self, rva: i64) -> i64 {
        self.moves.map(rva)
    }

    /// The target address of a source virtual address: its RVA moved, on the target's base.
    pub(crate) fn map_va(&self, va: u64) -> u64 {
        let rva = va.wrapping_sub(self.image.image_base) as i64;
        self.target_base.wrapping_add(self.map_rva(rva) as u64)
    }
}

/// Rewrites `buf`, a copy of a source whose headers are `image`, the way the delta's creator did
/// before diffing, for a delta of `file_type` with `flags`.
pub(crate) fn run(
    buf: &mut [u8],
    image: &Image,
    info: &PeInfo,
    file_type: u64,
    flags: u64,
    work: &mut Work,
) -> Result<(), DeltaError> {
    let flags = flags & allowed(file_type);
    let cx = Context { image, moves: &info.moves, target_base: info.image_base };
    // Only the i386 branch passes read the map: without them it holds nothing (marking it is a no-op)
    // and costs no bit per source byte.
    let branches = flags & (FLAG_I386_JMPS | FLAG_I386_CALLS) != 0;
    let mut marks = Marks::new(if branches { buf.len() } else { 0 });
    if flags & FLAG_UNBIND != 0 {
        transform_unbind::run(buf, &cx, work)?;
    }
    // The creator stamped the target's time into its copy of the header before diffing, so a copy
    // of those bytes carries the target's value.
    put_u32(buf, image.time_stamp_offset(), info.time_stamp);
    if flags & FLAG_MARK != 0 {
        transform_i386::mark_non_executable(image, buf.len(), &mut marks, work)?;
    }
    if flags & FLAG_IMPORTS != 0 {
        transform_dirs::imports(buf, &cx, &mut marks, work)?;
    }
    if flags & FLAG_EXPORTS != 0 {
        transform_dirs::exports(buf, &cx, &mut marks, work)?;
    }
    if flags & FLAG_RESOURCES != 0 {
        transform_resources::run(buf, &cx, &mut marks, work)?;
    }
    if flags & FLAG_RELOCS != 0 {
        transform_reloc::run(buf, &cx, &mut marks, work)?;
    }
    // Jumps before calls, as the creator ran them.
    if flags & FLAG_I386_JMPS != 0 {
        transform_i386::jumps(buf, &cx, &marks, work)?;
    }
    if flags & FLAG_I386_CALLS != 0 {
        transform_i386::calls(buf, &cx, &marks, work)?;
    }
    // The RIP-relative pass finds functions through `.pdata`, so it runs while `.pdata` still
    // holds source RVAs.
    if flags & FLAG_AMD64_DISASM != 0 {
        transform_rip::run(buf, &cx, work)?;
    }
    if flags & FLAG_AMD64_PDATA != 0 {
        transform_pdata::run(buf, &cx, work)?;
    }
    let (at, width) = image.image_base_field();
    if width == 8 {
        put_u64(buf, at, info.image_base);
    } else {
        put_u32(buf, at, info.image_base as u32);
    }
    Ok(())
}
