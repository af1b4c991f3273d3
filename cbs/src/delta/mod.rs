//! PA30 (MSDelta) deltas: the payload format of Windows 7-era hotfix cabs, and the expansion of a
//! `_manifest_.cix.xml` container index into the files it describes (`cbs-format.md` §1.3).
//!
//! - [`parse_header`] reads what `GetDeltaInfoB` reports: target file time, file type, flags, size
//!   and hash.
//! - [`apply_pa30`] rebuilds the target from a source (empty for plain compression) and the delta,
//!   like `ApplyDeltaB`, and checks the header's target hash; [`apply_pa30_consuming`] does it in
//!   place of a source the caller is done with.
//! - [`expand_index`] / [`for_each_expanded`] expand every file of a container index from a
//!   [`PackageSource`](crate::container::PackageSource), checking each against the index's SHA-1.
//!
//! Stages of a delta: header ([`header`]), preprocessing of PE sources ([`pe`]: the i386 and
//! AMD64 executable transforms of [`transform`] and its `transform_*` steps, with the x64 length
//! decoder [`x64_length`], the ownership map [`marks`] of the i386 branch scans, and the copy
//! map, inverted exactly by [`rift_inverse`]), then the compressed stream ([`lzx`]) of
//! Huffman-coded literals and copies from the source and the target so far, positioned by rift
//! tables ([`rift`]), and last the E8 post-process of i386 targets ([`transform_e8`]).
//!
//! Everything read is untrusted: sizes are checked against [`DeltaLimits`] before allocating,
//! every loop spends from a work budget, and a bad delta is a [`DeltaError`], never a panic.

mod bits;
mod crc_prefix;
pub mod encode;
mod error;
mod expand;
mod hash;
mod header;
mod huffman;
pub(crate) mod image;
pub(crate) mod le;
mod limits;
mod lzx;
mod marks;
mod names;
mod pa31;
mod pe;
mod reverse;
mod rift;
mod rift_inverse;
mod transform;
mod transform_dirs;
mod transform_e8;
mod transform_i386;
mod transform_pdata;
mod transform_reloc;
mod transform_resources;
mod transform_rip;
mod transform_unbind;
mod x64_length;

pub use crc_prefix::{add_crc_prefix, crc32, strip_crc_prefix};
pub use encode::{assemble, create, create_joined, to_pa31, CreateOptions};
pub use error::DeltaError;
pub use expand::{expand_index, for_each_expanded, ExpandError, ExpandedFile};
pub use hash::hex;
pub use header::{
    parse_header, DeltaFormat, Pa30Header, CALG_MD5, CALG_SHA1, CALG_SHA_256, FILE_TYPE_AMD64, FILE_TYPE_I386,
    FILE_TYPE_IA64, FILE_TYPE_RAW, FILE_TYPE_SET_REVERSE_ANY,
};
pub use limits::DeltaLimits;
pub use names::{file_type_names, flag_names};
pub use pa31::{codec_of, Codec, Pa31Extra, LZMS_CONTAINER_MAGIC, PA31_FLAG_BSDIFF, PA31_HEADER_INFO_SIZE};
pub use reverse::{reverse, Reversed};

use std::borrow::Cow;

use limits::Work;

/// Applies the PA30 or PA31 `delta` (after a CRC32 prefix, when one matches) to `source` and
/// returns the target. A reverse delta's reversal data rebuilds the old file from `source`, the
/// new one.
///
/// `source` is empty for a delta that only compresses its target (what update packages mostly
/// hold). The target's size is checked against `limits` before anything is decoded; when the
/// header carries a target hash, the output is returned only if it matches.
///
/// Memory beyond `source` and the target: the delta's tables, plus, for a delta of an executable
/// whose transforms rewrite the source, a copy of `source` to rewrite. A caller that has no
/// further use for the source avoids that copy with [`apply_pa30_consuming`].
pub fn apply_pa30(source: &[u8], delta: &[u8], limits: &DeltaLimits) -> Result<Vec<u8>, DeltaError> {
    apply(Cow::Borrowed(source), delta, limits)
}

/// [`apply_pa30`] for a caller done with `source`: an executable's transforms rewrite it in place,
/// so a delta decodes in the source, the target and the delta's tables (one bit per source byte
/// more for i386 branch rewriting), never a second source-sized buffer. The source is gone
/// afterwards, whether the delta applied or not.
pub fn apply_pa30_consuming(source: Vec<u8>, delta: &[u8], limits: &DeltaLimits) -> Result<Vec<u8>, DeltaError> {
    apply(Cow::Owned(source), delta, limits)
}

fn apply(source: Cow<'_, [u8]>, delta: &[u8], limits: &DeltaLimits) -> Result<Vec<u8>, DeltaError> {
    check_size("delta size", delta.len() as u64, limits.max_delta_bytes)?;
    check_size("source size", source.len() as u64, limits.max_source_bytes)?;
    let parsed = header::parse(delta, limits.max_delta_bytes)?;
    let head = &parsed.header;
    check_size("target size", head.target_size, limits.max_target_bytes)?;
    pe::refuse_cli4(head.file_type)?;
    let mut work = Work::new(limits);
    if let Some(reversal) = parsed.reversal {
        let output = reverse::apply_reversal(&source, reversal, head.target_size, limits, &mut work)?;
        hash::check_target(head, &output)?;
        return Ok(output);
    }
    match pa31::codec(head, parsed.patch) {
        Codec::PseudoLzx => {}
        Codec::LzmsContainer => return pa31::apply_lzms(&source, &parsed, limits, &mut work),
        other => {
            return Err(DeltaError::Unsupported {
                format: format!("{} codec of a {} delta", other.name(), head.format.magic()),
            })
        }
    }
    let output = if head.file_type == FILE_TYPE_RAW || parsed.preprocess.is_empty() {
        let mut out = lzx::decode(&source, parsed.patch, head.target_size, &[], limits, &mut work)?;
        transform_e8::post_process(head.flags, &mut out, &mut work)?;
        out
    } else {
        pe::apply(source, &parsed, limits, &mut work)?
    };
    if output.len() as u64 != head.target_size {
        return Err(DeltaError::malformed(format!(
            "decoded {} bytes, the header declares {}",
            output.len(),
            head.target_size
        )));
    }
    hash::check_target(head, &output)?;
    Ok(output)
}

pub(crate) fn check_size(what: &'static str, size: u64, max: u64) -> Result<(), DeltaError> {
    if size > max {
        return Err(DeltaError::TooLarge { what, size, max });
    }
    Ok(())
}
