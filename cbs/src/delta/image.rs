//! The parts of a PE image's headers that the PA30 transforms read: where the headers are, the
//! section table and the data directories.
//!
//! Parsing is lenient the way the transforms need it: only the fields used are checked, and every
//! table is cut to what the file really holds, so a lying count cannot make a loop long.

use super::le::{u16_at, u32_at, u64_at};
use super::rift::{RiftEntry, RiftTable};

/// Data directory indexes.
pub(crate) const DIR_EXPORT: usize = 0;
pub(crate) const DIR_IMPORT: usize = 1;
pub(crate) const DIR_RESOURCE: usize = 2;
pub(crate) const DIR_EXCEPTION: usize = 3;
pub(crate) const DIR_BASERELOC: usize = 5;
pub(crate) const DIR_DEBUG: usize = 6;
pub(crate) const DIR_BOUND_IMPORT: usize = 11;
pub(crate) const DIR_CLR: usize = 14;

/// `IMAGE_SCN_MEM_EXECUTE`.
pub(crate) const SCN_MEM_EXECUTE: u32 = 0x2000_0000;
/// `IMAGE_FILE_MACHINE_I386`.
pub(crate) const MACHINE_I386: u16 = 0x14c;

/// One section header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Section {
    pub(crate) name: [u8; 8],
    pub(crate) virtual_address: u32,
    pub(crate) virtual_size: u32,
    pub(crate) raw_offset: u32,
    pub(crate) raw_size: u32,
    /// `Characteristics` as the file had them when parsed.
    pub(crate) characteristics: u32,
    /// File offset of this header's `Characteristics` field.
    pub(crate) characteristics_at: usize,
}

/// The headers of a PE image.
#[derive(Debug, Clone, Default)]
pub(crate) struct Image {
    /// Offset of the `PE\0\0` signature.
    pe_offset: usize,
    /// PE32+ (64-bit optional header).
    pub(crate) is_64: bool,
    /// `Machine` of the file header.
    pub(crate) machine: u16,
    /// `SizeOfImage` of the optional header.
    pub(crate) size_of_image: u32,
    /// `ImageBase` of the optional header.
    pub(crate) image_base: u64,
    pub(crate) sections: Vec<Section>,
    /// (RVA, size) of each data directory.
    directories: Vec<(u32, u32)>,
    /// File offset of the first data directory entry.
    directories_at: usize,
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
        let machine = u16_at(data, pe_offset + 4)?;
        let sections_count = usize::from(u16_at(data, pe_offset + 6)?);
        let optional_size = usize::from(u16_at(data, pe_offset + 20)?);
        let optional = pe_offset + 24;
        let (is_64, image_base, directories_at, count_at) = match u16_at(data, optional)? {
            0x10b => (false, u64::from(u32_at(data, optional + 28)?), optional + 96, optional + 92),
            0x20b => (true, u64_at(data, optional + 24)?, optional + 112, optional + 108),
            _ => return None,
        };
        let size_of_image = u32_at(data, optional + 56)?;
        let directories_count = (u32_at(data, count_at)? as usize).min(16);
        let directories = (0..directories_count)
            .map_while(|i| Some((u32_at(data, directories_at + 8 * i)?, u32_at(data, directories_at + 8 * i + 4)?)))
            .collect();
        let table = optional + optional_size;
        let sections = (0..sections_count)
            .map_while(|i| {
                let at = table.checked_add(40 * i)?;
                Some(Section {
                    name: data.get(at..at + 8)?.try_into().ok()?,
                    virtual_size: u32_at(data, at + 8)?,
                    virtual_address: u32_at(data, at + 12)?,
                    raw_size: u32_at(data, at + 16)?,
                    raw_offset: u32_at(data, at + 20)?,
                    characteristics: u32_at(data, at + 36)?,
                    characteristics_at: at + 36,
                })
            })
            .collect();
        Some(Image { pe_offset, is_64, machine, size_of_image, image_base, sections, directories, directories_at })
    }

    pub(crate) fn checksum_offset(&self) -> usize {
        // PE signature (4) + file header (20), then CheckSum at 64 in either optional-header form.
        self.pe_offset + 24 + 64
    }

    pub(crate) fn time_stamp_offset(&self) -> usize {
        self.pe_offset + 8
    }

    /// Where `ImageBase` is, and how wide.
    pub(crate) fn image_base_field(&self) -> (usize, usize) {
        if self.is_64 {
            (self.pe_offset + 24 + 24, 8)
        } else {
            (self.pe_offset + 24 + 28, 4)
        }
    }

    /// A data directory that is present (non-zero RVA): (RVA, size).
    pub(crate) fn directory(&self, index: usize) -> Option<(u32, u32)> {
        self.directories.get(index).copied().filter(|&(rva, _)| rva != 0)
    }

    /// The file offset of data directory entry `index`, when the header has it.
    pub(crate) fn directory_entry_offset(&self, index: usize) -> Option<usize> {
        (index < self.directories.len()).then(|| self.directories_at + 8 * index)
    }

    /// The file offset of an RVA in the headers (before the first section, where the two are
    /// equal) or in a section.
    pub(crate) fn file_offset_any(&self, rva: u32) -> Option<usize> {
        let first = self.sections.iter().map(|s| s.virtual_address).filter(|va| *va != 0).min().unwrap_or(u32::MAX);
        if rva < first {
            Some(rva as usize)
        } else {
            self.rva_offset(i64::from(rva))
        }
    }

    /// The file offset of an RVA as the transforms compute it: the first section (in table order)
    /// whose virtual or raw extent holds it. Headers (before any section) have none.
    pub(crate) fn rva_offset(&self, rva: i64) -> Option<usize> {
        self.sections.iter().find_map(|s| {
            let start = i64::from(s.virtual_address);
            let end = start + i64::from(s.virtual_size.max(s.raw_size));
            (rva >= start && rva < end).then(|| usize::try_from(i64::from(s.raw_offset) + (rva - start)).ok())?
        })
    }

    /// The file offset of an RVA inside a section that has raw data (for the time stamp fix-up).
    fn file_offset(&self, rva: u32) -> Option<usize> {
        self.sections.iter().find_map(|s| {
            let inside = rva >= s.virtual_address && rva - s.virtual_address < s.virtual_size.max(s.raw_size);
            (inside && s.raw_offset != 0).then(|| s.raw_offset as usize + (rva - s.virtual_address) as usize)
        })
    }

    /// File offset → RVA: the start of the file, then each section's raw data at its address.
    pub(crate) fn layout(&self) -> RiftTable {
        let mut entries = vec![RiftEntry { from: 0, to: 0 }];
        for s in &self.sections {
            if s.virtual_address != 0 && s.raw_offset != 0 {
                entries.push(RiftEntry { from: i64::from(s.raw_offset), to: i64::from(s.virtual_address) });
            }
        }
        entries.sort_by_key(|e| e.from);
        RiftTable { entries }
    }

    /// Where an image of `len` bytes repeats its time stamp: the file header, the export
    /// directory and each debug directory entry (only the entries inside the file: the declared
    /// size is untrusted).
    pub(crate) fn time_stamp_offsets(&self, len: usize) -> Vec<usize> {
        let mut out = vec![self.time_stamp_offset()];
        if let Some(at) = self.directories.first().and_then(|&(rva, _)| self.file_offset(rva)) {
            out.push(at.saturating_add(4));
        }
        if let Some(&(rva, size)) = self.directories.get(DIR_DEBUG) {
            if let Some(at) = self.file_offset(rva).filter(|at| *at < len) {
                let entries = (size as usize / 28).min((len - at) / 28);
                out.extend((0..entries).map(|i| at + 28 * i + 4));
            }
        }
        out
    }
}
