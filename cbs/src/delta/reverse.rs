//! Reverse deltas (`modern-lcu.md` §4 items 25–28): making the delta from a new file back to its
//! old version, and reading the PRSM reversal data of genuine reverse deltas.
//!
//! Making one: [`reverse`] applies a forward delta to the old file (the source), then writes a RAW
//! PA30 delta from the result back to the source, with the source's SHA-256 as its target hash.
//! That is the form a Windows 10 PSFX update ships its `r\` reverse differentials in (an ordinary
//! forward-format delta N → RTM, hydrated with the current file as its source), and what any
//! `ApplyDeltaB` applies; Windows 11 computes its own with `ApplyDeltaGetReverseB`, whose output
//! format (PRSM reversal data, below) is not documented well enough to write.
//!
//! Reading PRSM reversal data (file-type set with `REVERSE_ANY`): the container (`PRSM`, a count,
//! length-prefixed sections until the bits run out) and the section types the facts make exact are
//! implemented: type 1 with an uncompressed deleted-bytes blob (runs re-inserted at rift-table
//! positions) and type 2 (single-byte patches applied in reverse order). Type 0 (copy runs from the
//! new file) reads its run lengths with a built-in default integer code whose code lengths no
//! public fact gives, and a type-1 blob may be compressed with XPRESS Huffman: both are reported
//! [`DeltaError::Unsupported`] by name rather than guessed.

use super::bits::BitReader;
use super::encode::{create, CreateOptions};
use super::limits::Work;
use super::rift::RiftTable;
use super::{apply_pa30, DeltaError, DeltaLimits};

/// `PRSM`, read as a little-endian 32-bit value.
const PRSM_MAGIC: u64 = 0x4d53_5250;

/// The result of [`reverse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reversed {
    /// The new file: the forward delta applied to the source.
    pub target: Vec<u8>,
    /// A delta from `target` back to the source (RAW PA30, SHA-256 of the source).
    pub delta: Vec<u8>,
}

/// Applies `forward` to `source` and makes the delta from the result back to `source`.
/// `options` chooses the reverse delta's format (its file time is the source's when known).
pub fn reverse(
    source: &[u8],
    forward: &[u8],
    options: &CreateOptions,
    limits: &DeltaLimits,
) -> Result<Reversed, DeltaError> {
    let target = apply_pa30(source, forward, limits)?;
    let delta = create(&target, source, options, limits)?;
    Ok(Reversed { target, delta })
}

/// Rebuilds the old file (`size` bytes) from the new one (`reference`) and PRSM reversal data.
pub(crate) fn apply_reversal(
    _reference: &[u8],
    data: &[u8],
    size: u64,
    limits: &DeltaLimits,
    work: &mut Work,
) -> Result<Vec<u8>, DeltaError> {
    let mut r = BitReader::new(data, "reversal data")?;
    let magic = r.bits(32, "reversal data signature")?;
    if magic != PRSM_MAGIC {
        return Err(DeltaError::malformed(format!("reversal data starts with 0x{magic:08x}, not PRSM")));
    }
    let _count = r.bits(32, "reversal section count")?;
    let size = usize::try_from(size).map_err(|_| DeltaError::malformed("reverse target size"))?;
    work.spend(size as u64)?;
    let mut out = vec![0u8; size];
    while r.remaining() > 0 {
        let section = r.buffer("reversal section", data.len() as u64)?;
        let mut s = BitReader::new(section, "reversal section")?;
        match s.bits(32, "reversal section type")? {
            0 => {
                return Err(DeltaError::Unsupported {
                    format: "reverse delta copy section (PRSM type 0: its default integer code is not documented)"
                        .into(),
                })
            }
            1 => {
                let _ = s.bits(32, "reversal section field")?;
                if s.bits(32, "deleted bytes compression")? != 0 {
                    return Err(DeltaError::Unsupported {
                        format: "reverse delta with XPRESS Huffman compressed deleted bytes (PRSM type 1)".into(),
                    });
                }
                let table = RiftTable::read(&mut s, limits, work)?;
                let blob = s.buffer("deleted bytes", section.len() as u64)?;
                let mut cursor = 0usize;
                for e in &table.entries {
                    let run = usize::try_from(e.to).map_err(|_| DeltaError::malformed("negative deleted run"))?;
                    let from = cursor;
                    cursor = cursor
                        .checked_add(run)
                        .filter(|&c| c <= blob.len())
                        .ok_or_else(|| DeltaError::malformed("deleted run past the end of its bytes"))?;
                    let at = usize::try_from(e.from).map_err(|_| DeltaError::malformed("negative deleted position"))?;
                    let dest = at
                        .checked_add(run)
                        .and_then(|end| out.get_mut(at..end))
                        .ok_or_else(|| DeltaError::malformed("deleted run outside the output"))?;
                    dest.copy_from_slice(&blob[from..cursor]);
                    work.spend(run as u64 + 1)?;
                }
            }
            2 => {
                let _ = s.bits(32, "reversal section field")?;
                let table = RiftTable::read(&mut s, limits, work)?;
                for e in table.entries.iter().rev() {
                    let at = usize::try_from(e.from).ok().filter(|&a| a < out.len());
                    let at = at.ok_or_else(|| DeltaError::malformed("byte patch outside the output"))?;
                    out[at] = e.to as u8;
                }
            }
            other => return Err(DeltaError::malformed(format!("reversal section type {other}"))),
        }
    }
    Ok(out)
}
