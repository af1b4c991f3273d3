//! Checks of the regf base block made before a file reaches libhivex.
//!
//! libhivex refuses most malformed files itself, but with a bare errno ("Operation not supported"), and it
//! silently accepts a hive truncated after its root bin. These checks turn the common cases into messages
//! that say what is wrong with which file.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use super::Error;

const BASE_BLOCK: usize = 4096;
const HBIN: u64 = 4096;
const CHECKSUM_OFFSET: usize = 0x1FC;

/// Validates the base block of the regf file `path`, of `size` bytes.
pub(super) fn check(path: &Path, size: u64) -> Result<(), Error> {
    let invalid = |what: String| Error::InvalidData { path: path.to_path_buf(), what };
    let min = BASE_BLOCK as u64 + HBIN;
    if size < min {
        return Err(invalid(format!(
            "file is {size} bytes; a registry hive holds at least a {BASE_BLOCK}-byte base block and one \
             {HBIN}-byte hive bin"
        )));
    }
    let mut block = [0u8; BASE_BLOCK];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut block))
        .map_err(|source| Error::Open { path: path.to_path_buf(), source })?;

    if &block[0..4] != b"regf" {
        return Err(invalid("not a registry hive (no \"regf\" signature at offset 0)".into()));
    }
    let (major, minor) = (dword(&block, 0x14), dword(&block, 0x18));
    if major != 1 {
        return Err(invalid(format!("unsupported regf format version {major}.{minor} (expected 1.x)")));
    }
    let stored = dword(&block, CHECKSUM_OFFSET);
    let raw = (0..CHECKSUM_OFFSET).step_by(4).fold(0u32, |sum, off| sum ^ dword(&block, off));
    // Windows never stores 0 or 0xFFFFFFFF (it substitutes 1 and 0xFFFFFFFE); libhivex stores the raw
    // XOR. Both writers' output is a sound header.
    let windows = match raw {
        0 => 1,
        u32::MAX => u32::MAX - 1,
        other => other,
    };
    if stored != raw && stored != windows {
        return Err(invalid(format!(
            "base block checksum mismatch (stored {stored:#010x}, computed {raw:#010x}): the header is corrupt"
        )));
    }
    let bins = u64::from(dword(&block, 0x28));
    if bins == 0 || bins % HBIN != 0 {
        return Err(invalid(format!(
            "base block declares {bins} bytes of hive bins, not a positive multiple of {HBIN}"
        )));
    }
    let available = size - BASE_BLOCK as u64;
    if bins > available {
        return Err(invalid(format!(
            "file is truncated: the base block declares {bins} bytes of hive bins but only {available} follow it"
        )));
    }
    let root = u64::from(dword(&block, 0x24));
    if root >= bins {
        return Err(invalid(format!("root key offset {root:#x} lies outside the {bins} bytes of hive bins")));
    }
    Ok(())
}

fn dword(block: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([block[off], block[off + 1], block[off + 2], block[off + 3]])
}

/// Whether a libhivex refusal is about the file's content (rather than the file or the machine).
pub(super) fn is_format_errno(err: &io::Error) -> bool {
    // libhivex reports structural problems with these; anything else (ENOENT, EACCES, ENOMEM) is about
    // the file or the machine. The numbers are Linux's, the only platform wimpatch runs on.
    const EINVAL: i32 = 22;
    const EFAULT: i32 = 14;
    const ERANGE: i32 = 34;
    const ENOTSUP: i32 = 95;
    matches!(err.raw_os_error(), Some(EINVAL | EFAULT | ERANGE | ENOTSUP))
}
