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
//! Implemented: reading all of it, the checksum normalisation, the i386 and AMD64 transforms
//! ([`transform`](super::transform)), the copy map (source file offset → target file offset,
//! inverted exactly where layouts overlap or leave gaps) and the E8 post-process of the output
//! ([`transform_e8`](super::transform_e8)). Not implemented, and reported as unsupported by name:
//! the CLI4 file types (`0x10`–`0x80`, which include the only ARM/ARM64 ones), the classic .NET
//! transforms (a preprocessing that carries CLI metadata, a managed source whose output does not
//! match, or a managed source under the CLI flags in a delta without a target hash) and the IA-64
//! transforms (an IA-64 delta decodes only when its hash matches without them). Output that does
//! not match the target hash is never returned: it is reported as an executable-transform case not
//! reproduced.

use std::borrow::Cow;

use super::header::{Parsed, FILE_TYPE_AMD64, FILE_TYPE_I386};
use super::image::{Image, DIR_CLR};
use super::le::{put_u32, u32_at};
use super::limits::Work;
use super::rift::{RiftEntry, RiftTable};
use super::{bits::BitReader, hash, lzx, transform, transform_e8, DeltaError, DeltaLimits};

/// `DELTA_FLAG_CLI_DISASM | DELTA_FLAG_CLI_METADATA`.
const FLAGS_CLI: u64 = 0x4000 | 0x8000;

/// Why a classic .NET delta is refused.
fn cli_unsupported() -> DeltaError {
    DeltaError::Unsupported { format: "CLI transforms (CLI_DISASM, CLI_METADATA) of a managed (.NET) image".into() }
}

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
            return Err(cli_unsupported());
        }
        let moves = RiftTable::read(&mut r, limits, work)?;
        if r.remaining() > 0 && r.bit("CLI map flag")? {
            return Err(cli_unsupported());
        }
        Ok(PeInfo { image_base, checksum, time_stamp, target_layout, moves })
    }
}

/// Applies a delta whose source is a PE image transformed before diffing. The transforms rewrite
/// `source` itself when it is owned, a copy of it when borrowed.
pub(crate) fn apply(
    source: Cow<'_, [u8]>,
    parsed: &Parsed<'_>,
    limits: &DeltaLimits,
    work: &mut Work,
) -> Result<Vec<u8>, DeltaError> {
    let head = &parsed.header;
    let hashless = head.hash_alg_id == 0 || head.target_hash.is_empty();
    // Asked of the source as it came, before the transforms rewrite it.
    let managed = head.flags & FLAGS_CLI != 0 && has_clr_header(&source);
    // Without a target hash nothing would tell bytes decoded without the CLI transforms from the
    // right ones: a managed source under the CLI flags is refused before decoding.
    if hashless && managed {
        return Err(cli_unsupported());
    }
    let out = decode(source, parsed, limits, work)?;
    match hash::check_target(&parsed.header, &out) {
        Ok(()) => Ok(out),
        Err(DeltaError::HashMismatch { .. }) if managed => Err(cli_unsupported()),
        // Other bytes than the hash: a transform case this decoder does not reproduce (or a
        // damaged delta, which the index's hash of the stored member usually catches first).
        Err(DeltaError::HashMismatch { algorithm, .. }) => Err(DeltaError::Unsupported {
            format: format!(
                "PA30 executable transforms (file type {}, flags 0x{:x}) that rewrite copied source bytes: the \
                 output does not match the {algorithm} target hash",
                parsed.header.file_type, parsed.header.flags
            ),
        }),
        Err(e) => Err(e),
    }
}

/// Refuses the CLI4 file types (`DELTA_FILE_TYPE_CLI4_*`, the only ones with ARM/ARM64 code) by
/// name, before anything is decoded.
pub(crate) fn refuse_cli4(file_type: u64) -> Result<(), DeltaError> {
    match cli4_name(file_type) {
        Some(name) => Err(DeltaError::Unsupported { format: format!("CLI4 executable transforms (file type {name})") }),
        None => Ok(()),
    }
}

fn cli4_name(file_type: u64) -> Option<&'static str> {
    match file_type {
        0x10 => Some("CLI4_I386"),
        0x20 => Some("CLI4_AMD64"),
        0x40 => Some("CLI4_ARM"),
        0x80 => Some("CLI4_ARM64"),
        _ => None,
    }
}

/// Whether `source` is a PE image with a CLR (.NET) header.
fn has_clr_header(source: &[u8]) -> bool {
    Image::parse(source).is_some_and(|image| image.directory(DIR_CLR).is_some())
}

/// Decodes the target of a PE delta (its hash not checked yet).
///
/// Everything read from the source as it came (its headers, its time stamp, its length) is read
/// before the transforms start; from then on only the rewritten bytes are used, so rewriting the
/// caller's own buffer gives what rewriting a copy would.
fn decode(
    source: Cow<'_, [u8]>,
    parsed: &Parsed<'_>,
    limits: &DeltaLimits,
    work: &mut Work,
) -> Result<Vec<u8>, DeltaError> {
    let info = PeInfo::read(parsed.preprocess, limits, work)?;
    let image = Image::parse(&source);
    let source_len = source.len() as i64;
    let old_stamp = image.as_ref().and_then(|image| u32_at(&source, image.time_stamp_offset())).unwrap_or(0);
    let mut copy_map = Vec::new();
    let mut normalised = source;
    if let Some(image) = &image {
        // Source file offset → source RVA → target RVA → target file offset, turned around: the
        // decoder asks, for a target position, where the matching source bytes are.
        let forward = image.layout().then(&info.moves, limits, work)?.then(&info.target_layout, limits, work)?;
        copy_map = forward
            .inverse(limits, work)?
            .entries
            .into_iter()
            .map(|e| RiftEntry { from: source_len.wrapping_add(e.from), to: e.to })
            .collect();
        let buf = normalised.to_mut();
        put_u32(buf, image.checksum_offset(), 0);
        let file_type = parsed.header.file_type;
        if file_type == FILE_TYPE_AMD64 || file_type == FILE_TYPE_I386 {
            transform::run(buf, image, &info, file_type, parsed.header.flags, work)?;
        }
    }
    let mut out = lzx::decode(&normalised, parsed.patch, parsed.header.target_size, &copy_map, limits, work)?;
    drop(normalised);
    transform_e8::post_process(parsed.header.flags, &mut out, work)?;
    if let (true, Some(target)) = (image.is_some(), Image::parse(&out)) {
        if old_stamp != 0 && old_stamp != info.time_stamp {
            for at in target.time_stamp_offsets(out.len()) {
                if u32_at(&out, at) == Some(old_stamp) {
                    put_u32(&mut out, at, info.time_stamp);
                }
            }
        }
    }
    Ok(out)
}
