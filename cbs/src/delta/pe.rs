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
//! Implemented: reading all of it, the checksum normalisation, and decoding when the transforms
//! leave the copied bytes alone. Not implemented yet: the address-rewriting transforms themselves;
//! a delta that needs them fails its target hash and is reported as unsupported rather than
//! returned wrong.

use super::header::Parsed;
use super::limits::Work;
use super::lzx;
use super::rift::{RiftEntry, RiftTable};
use super::{bits::BitReader, hash, DeltaError, DeltaLimits};

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

/// The parts of a PE image's headers the transforms need.
#[derive(Debug, Clone, Default)]
pub(crate) struct Image {
    /// Offset of the `PE\0\0` signature.
    pe_offset: usize,
    /// (VirtualAddress, VirtualSize, PointerToRawData, SizeOfRawData) of each section.
    sections: Vec<(u32, u32, u32, u32)>,
    /// (RVA, size) of each data directory.
    directories: Vec<(u32, u32)>,
}

fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(data.get(at..at.checked_add(2)?)?.try_into().ok()?))
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(data.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

impl Image {
    /// Reads the headers, or `None` when `data` is not a PE image.
    pub(crate) fn parse(data: &[u8]) -> Option<Image> {
        if data.get(..2)? != b"MZ" {
            return None;
        }
        let pe_offset = u32_at(data, 0x3c)? as usize;
        if data.get(pe_offset..pe_offset.checked_add(4)?)? != b"PE\0\0" {
            return None;
        }
        let sections_count = usize::from(u16_at(data, pe_offset + 6)?);
        let optional_size = usize::from(u16_at(data, pe_offset + 20)?);
        let optional = pe_offset + 24;
        let (directories_at, count_at) = match u16_at(data, optional)? {
            0x10b => (optional + 96, optional + 92),
            0x20b => (optional + 112, optional + 108),
            _ => return None,
        };
        let directories_count = (u32_at(data, count_at)? as usize).min(16);
        let directories = (0..directories_count)
            .map_while(|i| Some((u32_at(data, directories_at + 8 * i)?, u32_at(data, directories_at + 8 * i + 4)?)))
            .collect();
        let table = optional + optional_size;
        // The section table is bounded by the file, so a lying count cannot make this loop long.
        let sections = (0..sections_count)
            .map_while(|i| {
                let at = table.checked_add(40 * i)?;
                Some((u32_at(data, at + 12)?, u32_at(data, at + 8)?, u32_at(data, at + 20)?, u32_at(data, at + 16)?))
            })
            .collect();
        Some(Image { pe_offset, sections, directories })
    }

    fn checksum_offset(&self) -> usize {
        // PE signature (4) + file header (20), then CheckSum at 64 in either optional-header form.
        self.pe_offset + 24 + 64
    }

    fn time_stamp_offset(&self) -> usize {
        self.pe_offset + 8
    }

    /// The file offset of an RVA inside a section's raw data.
    fn file_offset(&self, rva: u32) -> Option<usize> {
        self.sections.iter().find_map(|&(va, vsize, raw, rsize)| {
            let inside = rva >= va && rva - va < vsize.max(rsize);
            (inside && raw != 0).then(|| raw as usize + (rva - va) as usize)
        })
    }

    /// File offset → RVA: the start of the file, then each section's raw data at its address.
    fn layout(&self) -> RiftTable {
        let mut entries = vec![RiftEntry { from: 0, to: 0 }];
        for &(va, _, raw, _) in &self.sections {
            if va != 0 && raw != 0 {
                entries.push(RiftEntry { from: i64::from(raw), to: i64::from(va) });
            }
        }
        entries.sort_by_key(|e| e.from);
        RiftTable { entries }
    }

    /// Where an image of `len` bytes repeats its time stamp: the file header, the export
    /// directory and each debug directory entry (only the entries inside the file: the declared
    /// size is untrusted).
    fn time_stamp_offsets(&self, len: usize) -> Vec<usize> {
        let mut out = vec![self.time_stamp_offset()];
        if let Some(at) = self.directories.first().and_then(|&(rva, _)| self.file_offset(rva)) {
            out.push(at.saturating_add(4));
        }
        if let Some(&(rva, size)) = self.directories.get(6) {
            if let Some(at) = self.file_offset(rva).filter(|at| *at < len) {
                let entries = (size as usize / 28).min((len - at) / 28);
                out.extend((0..entries).map(|i| at + 28 * i + 4));
            }
        }
        out
    }
}

/// Applies a delta whose source is a PE image transformed before diffing.
pub(crate) fn apply(
    source: &[u8],
    parsed: &Parsed<'_>,
    limits: &DeltaLimits,
    work: &mut Work,
) -> Result<Vec<u8>, DeltaError> {
    let info = PeInfo::read(parsed.preprocess, limits, work)?;
    let mut normalised = source.to_vec();
    let image = Image::parse(source);
    let mut copy_map = Vec::new();
    if let Some(image) = &image {
        let at = image.checksum_offset();
        if let Some(field) = normalised.get_mut(at..at + 4) {
            field.fill(0);
        }
        // Source file offset → source RVA → target RVA → target file offset, turned around: the
        // decoder asks, for a target position, where the matching source bytes are.
        let forward = image.layout().then(&info.moves, limits, work)?.then(&info.target_layout, limits, work)?;
        let source_len = source.len() as i64;
        copy_map = forward
            .inverse()
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
                if let Some(field) = out.get_mut(at..at + 4) {
                    if field == old.to_le_bytes() {
                        field.copy_from_slice(&info.time_stamp.to_le_bytes());
                    }
                }
            }
        }
    }
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
