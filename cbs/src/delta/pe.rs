//! Preprocessing of PE sources (executable transforms) before the compressed stream is decoded.
//!
//! When the delta's file type is an executable (i386, AMD64, …) the creator normalised the
//! source image before diffing: the optional header's checksum is zeroed, and transforms selected
//! by the header flags rewrite addresses in the source (relocations, relative branches,
//! RIP-relative operands, `.pdata`, imports, exports, resources) so that code that only moved
//! matches. The preprocessing buffer says where things moved: the target's image base, checksum
//! and time stamp, a map of target RVAs to file offsets, a map of source RVAs to target RVAs, and
//! (for .NET images) CLI metadata maps.
//!
//! Implemented: reading all of it, the checksum normalisation, the AMD64 transforms
//! ([`transform`](super::transform)) and the copy map (source file offset → target file offset,
//! inverted exactly where layouts overlap or leave gaps). Other executable types (i386, IA-64) are
//! decoded without their transforms; when that gives other bytes than the target hash, the delta
//! is reported as unsupported rather than returned wrong.

use super::header::{Parsed, FILE_TYPE_AMD64};
use super::image::Image;
use super::le::{put_u32, u32_at};
use super::limits::Work;
use super::rift::{RiftEntry, RiftTable};
use super::{bits::BitReader, hash, lzx, transform, DeltaError, DeltaLimits};

/// The preprocessing data of a PE delta.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PeInfo {
    /// The target's `ImageBase`.
    pub(crate) image_base: u64,
    /// The target's optional-header `CheckSum`.
    pub(crate) checksum: u32,
    /// The target's `TimeDateStamp`.
    pub(crate) time_stamp: u32,
    /// Target RVA → target file offset.
    pub(crate) target_layout: RiftTable,
    /// Source RVA → target RVA.
    pub(crate) moves: RiftTable,
}

impl PeInfo {
    pub(crate) fn read(data: &[u8], limits: &DeltaLimits, work: &mut Work) -> Result<Self, DeltaError> {
        let mut r = BitReader::new(data, "preprocessing data")?;
        let image_base = r.bits(64, "target image base")?;
        let checksum = r.bits(32, "target checksum")? as u32;
        let time_stamp = r.bits(32, "target time stamp")? as u32;
        let target_layout = RiftTable::read(&mut r, limits, work)?;
        if r.bit("CLI metadata flag")? {
            return Err(DeltaError::Unsupported { format: "PA30 transforms of managed (.NET) images".into() });
        }
        let moves = RiftTable::read(&mut r, limits, work)?;
        if r.remaining() > 0 && r.bit("CLI map flag")? {
            return Err(DeltaError::Unsupported { format: "PA30 transforms of managed (.NET) images".into() });
        }
        Ok(PeInfo { image_base, checksum, time_stamp, target_layout, moves })
    }
}

/// Applies a delta whose source is a PE image transformed before diffing.
pub(crate) fn apply(
    source: &[u8],
    parsed: &Parsed<'_>,
    limits: &DeltaLimits,
    work: &mut Work,
) -> Result<Vec<u8>, DeltaError> {
    let out = decode(source, parsed, limits, work)?;
    match hash::check_target(&parsed.header, &out) {
        Ok(()) => Ok(out),
        Err(DeltaError::HashMismatch { .. }) => Err(DeltaError::Unsupported {
            format: format!(
                "PA30 executable transforms (file type {}, flags 0x{:x}) that rewrite copied source bytes",
                parsed.header.file_type, parsed.header.flags
            ),
        }),
        Err(e) => Err(e),
    }
}

/// Decodes the target of a PE delta (its hash not checked yet).
fn decode(source: &[u8], parsed: &Parsed<'_>, limits: &DeltaLimits, work: &mut Work) -> Result<Vec<u8>, DeltaError> {
    let info = PeInfo::read(parsed.preprocess, limits, work)?;
    let mut normalised = source.to_vec();
    let image = Image::parse(source);
    let mut copy_map = Vec::new();
    if let Some(image) = &image {
        put_u32(&mut normalised, image.checksum_offset(), 0);
        if parsed.header.file_type == FILE_TYPE_AMD64 && image.is_64 {
            transform::amd64(&mut normalised, image, &info, parsed.header.flags, work)?;
        }
        // Source file offset → source RVA → target RVA → target file offset, turned around: the
        // decoder asks, for a target position, where the matching source bytes are.
        let forward = image.layout().then(&info.moves, limits, work)?.then(&info.target_layout, limits, work)?;
        let source_len = source.len() as i64;
        copy_map = forward
            .inverse(limits, work)?
            .entries
            .into_iter()
            .map(|e| RiftEntry { from: source_len.wrapping_add(e.from), to: e.to })
            .collect();
    }
    let mut out = lzx::decode(&normalised, parsed.patch, parsed.header.target_size, &copy_map, limits, work)?;
    if let (Some(image), Some(target)) = (&image, Image::parse(&out)) {
        let old = u32_at(source, image.time_stamp_offset()).unwrap_or(0);
        if old != 0 && old != info.time_stamp {
            for at in target.time_stamp_offsets(out.len()) {
                if u32_at(&out, at) == Some(old) {
                    put_u32(&mut out, at, info.time_stamp);
                }
            }
        }
    }
    Ok(out)
}
