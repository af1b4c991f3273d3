//! Splits long subkey lists of a hive into index roots (`ri` over `lh` leaves), as Windows keeps them,
//! before libhivex edits the hive.
//!
//! Why: libhivex adds a subkey by copying the whole leaf the name sorts into to a new cell at the end
//! of the file, and never reuses the old one. A key with one `lh` list of N subkeys therefore grows the
//! hive by 8·N bytes per subkey added: recording a cumulative update's ~2,700 components under
//! `COMPONENTS\DerivedData\Components` of a hive written as one flat list (what libhivex itself writes)
//! grew it from 20 MB to 109 MB, all of which the WIM commit then compresses. Windows never lets a leaf
//! hold more than fit in one 4 KB hive bin (507 entries; ReactOS `cmindex.c`,
//! `CmpMaxFastIndexPerHblock`) and splits a full leaf in two halves; with such leaves an added subkey
//! copies at most ~4 KB.
//!
//! The rewrite appends the new leaves and index roots in fresh 4 KB hive bins, points each key at its
//! index root, marks the old list cells free and fixes the base block (bins size, checksum). Nothing
//! else moves, so every other cell offset stays valid. The hive is untrusted: anything that does not
//! parse cleanly (a dirty hive, a cell crossing its bin, counts that disagree, `lf`/`li` lists) is left
//! exactly as it was, and libhivex judges it as before.

use std::path::Path;

use super::{Error, MAX_HIVE_BYTES};

/// Size of the base block; hive bin offsets count from its end.
const BASE_BLOCK: usize = 4096;
/// Size of a standard hive bin.
const BIN: usize = 4096;
/// Size of a hive bin header.
const BIN_HEADER: usize = 32;
/// Offset of the base block checksum (XOR of the 127 dwords before it).
const CHECKSUM_OFFSET: usize = 0x1FC;
/// Most entries Windows puts in one `lh` leaf: as many as fit in one hive bin.
pub const MAX_LEAF_ENTRIES: usize = (BIN - BIN_HEADER - 4 - 4) / 8;
/// Entries per leaf written here: half a full leaf, what Windows leaves after splitting one, so that
/// two leaves fill a hive bin exactly and later additions have room before a leaf is "full".
const LEAF_ENTRIES: usize = MAX_LEAF_ENTRIES / 2;

// Offsets in a key node (`nk`) cell, counted from the cell's size field.
const NK_SUBKEY_COUNT: usize = 4 + 0x14;
const NK_SUBKEY_LIST: usize = 4 + 0x1C;
const NK_MIN_LEN: usize = 4 + 0x4C;

/// Splits every subkey list of the hive file `path` that holds more than [`MAX_LEAF_ENTRIES`]
/// entries in one `lh` leaf (or in leaves of an index root) into an index root over leaves of half
/// that size, and replaces the file atomically if anything changed. Returns how many keys were
/// re-indexed (0: the file is untouched). Meant for a working copy about to be opened for writing;
/// the only error is failing to replace the file.
pub fn split_long_subkey_lists(path: &Path) -> Result<usize, Error> {
    // A file that cannot be read here (a link, too large, missing) is left to `Hive::open`, which
    // refuses it with the precise reason.
    let Ok(bytes) = safe_fs::read_bounded(path, MAX_HIVE_BYTES) else {
        return Ok(0);
    };
    let Some((rewritten, keys)) = split_in_memory(&bytes) else {
        return Ok(0);
    };
    safe_fs::write_atomic(path, &rewritten).map_err(|source| Error::Open { path: path.to_path_buf(), source })?;
    tracing::debug!(path = %path.display(), keys, "split long subkey lists into index roots");
    Ok(keys)
}

/// The hive `hive` with its long subkey lists split, and how many keys were re-indexed; `None` when
/// nothing needs it or the hive does not parse cleanly enough to touch.
pub fn split_in_memory(hive: &[u8]) -> Option<(Vec<u8>, usize)> {
    let base = hive.get(..BASE_BLOCK)?;
    if base.get(0..4)? != b"regf" || dword(base, 0x04)? != dword(base, 0x08)? {
        // Not a hive, or a dirty one whose log has not been replayed: not ours to restructure.
        return None;
    }
    let bins_len = dword(base, 0x28)? as usize;
    let bins = hive.get(BASE_BLOCK..BASE_BLOCK.checked_add(bins_len)?)?;
    let keys = long_lists(bins)?;
    if keys.is_empty() {
        return None;
    }
    // A list cell shared by two keys (never written by Windows) would be freed twice: leave such a
    // hive alone.
    let mut seen = std::collections::HashSet::new();
    if !keys.iter().flat_map(|k| &k.old_cells).all(|&c| seen.insert(c)) {
        return None;
    }

    let mut out = hive[..BASE_BLOCK + bins_len].to_vec();
    let mut appender = BinAppender::new(bins_len);
    let count = keys.len();
    for key in keys {
        let mut leaves = Vec::new();
        for chunk in key.entries.chunks(LEAF_ENTRIES) {
            let mut cell = Vec::with_capacity(8 + chunk.len() * 8);
            cell.extend_from_slice(b"lh");
            cell.extend_from_slice(&u16::try_from(chunk.len()).ok()?.to_le_bytes());
            for entry in chunk {
                cell.extend_from_slice(entry);
            }
            leaves.push(appender.push(&cell)?);
        }
        let mut root = Vec::with_capacity(4 + leaves.len() * 4);
        root.extend_from_slice(b"ri");
        root.extend_from_slice(&u16::try_from(leaves.len()).ok()?.to_le_bytes());
        for leaf in leaves {
            root.extend_from_slice(&leaf.to_le_bytes());
        }
        let root = appender.push(&root)?;
        put_dword(&mut out, BASE_BLOCK + key.nk + NK_SUBKEY_LIST, root);
        for old in key.old_cells {
            // A positive size marks the cell free; its bytes stay as they were.
            let at = BASE_BLOCK + old;
            let size = (dword(&out, at)? as i32).checked_neg()?;
            put_dword(&mut out, at, size as u32);
        }
    }
    let appended = appender.finish();
    let new_bins_len = u32::try_from(bins_len + appended.len()).ok()?;
    out.extend_from_slice(&appended);
    put_dword(&mut out, 0x28, new_bins_len);
    let checksum = (0..CHECKSUM_OFFSET).step_by(4).fold(0u32, |sum, off| sum ^ dword(&out, off).unwrap_or(0));
    // Windows never stores 0 or all-ones as the checksum.
    let checksum = match checksum {
        0 => 1,
        u32::MAX => u32::MAX - 1,
        other => other,
    };
    put_dword(&mut out, CHECKSUM_OFFSET, checksum);
    Some((out, count))
}

/// A key whose subkey list is to be rebuilt.
struct LongList {
    /// Offset of its `nk` cell in the bins.
    nk: usize,
    /// Its `lh` entries (cell offset, name hash), in order.
    entries: Vec<[u8; 8]>,
    /// The cells of its current list (the leaf, or the index root and its leaves).
    old_cells: Vec<usize>,
}

/// Every key whose subkey list has a leaf longer than [`MAX_LEAF_ENTRIES`]; `None` if the bins do not
/// parse cleanly.
fn long_lists(bins: &[u8]) -> Option<Vec<LongList>> {
    let mut found = Vec::new();
    for nk in allocated_cells(bins)?.into_iter().filter(|&c| bins.get(c + 4..c + 6) == Some(b"nk")) {
        if cell_len(bins, nk)? < NK_MIN_LEN {
            continue;
        }
        let count = dword(bins, nk + NK_SUBKEY_COUNT)? as usize;
        if count <= MAX_LEAF_ENTRIES {
            continue;
        }
        let list = dword(bins, nk + NK_SUBKEY_LIST)? as usize;
        if let Some(long) = read_list(bins, list, count) {
            found.push(LongList { nk, entries: long.0, old_cells: long.1 });
        }
    }
    Some(found)
}

/// The entries and cells of the `lh` list (or index root over `lh` leaves) at `list`, if it holds
/// `count` entries and has a leaf longer than [`MAX_LEAF_ENTRIES`].
fn read_list(bins: &[u8], list: usize, count: usize) -> Option<(Vec<[u8; 8]>, Vec<usize>)> {
    match bins.get(list + 4..list + 6)? {
        b"lh" => {
            let entries = leaf_entries(bins, list)?;
            (entries.len() == count).then_some((entries, vec![list]))
        }
        b"ri" => {
            let n = usize::from(word(bins, list + 6)?);
            if cell_len(bins, list)? < 8 + 4 * n {
                return None;
            }
            let mut entries = Vec::with_capacity(count);
            let mut cells = vec![list];
            let mut longest = 0;
            for i in 0..n {
                let leaf = dword(bins, list + 8 + 4 * i)? as usize;
                if bins.get(leaf + 4..leaf + 6)? != b"lh" || cells.contains(&leaf) {
                    return None;
                }
                let part = leaf_entries(bins, leaf)?;
                longest = longest.max(part.len());
                entries.extend(part);
                cells.push(leaf);
                if entries.len() > count {
                    return None;
                }
            }
            (entries.len() == count && longest > MAX_LEAF_ENTRIES).then_some((entries, cells))
        }
        _ => None,
    }
}

/// The entries of the allocated `lh` cell at `leaf`.
fn leaf_entries(bins: &[u8], leaf: usize) -> Option<Vec<[u8; 8]>> {
    let n = usize::from(word(bins, leaf + 6)?);
    if cell_len(bins, leaf)? < 8 + 8 * n {
        return None;
    }
    let body = bins.get(leaf + 8..leaf + 8 + 8 * n)?;
    Some(body.chunks_exact(8).map(|e| e.try_into().expect("chunks of 8")).collect())
}

/// Offsets of every allocated cell, walking each hive bin; `None` if a bin or cell is malformed.
fn allocated_cells(bins: &[u8]) -> Option<Vec<usize>> {
    let mut cells = Vec::new();
    let mut bin = 0;
    while bin < bins.len() {
        if bins.get(bin..bin + 4)? != b"hbin" || dword(bins, bin + 4)? as usize != bin {
            return None;
        }
        let size = dword(bins, bin + 8)? as usize;
        if size < BIN || size % BIN != 0 || bin.checked_add(size)? > bins.len() {
            return None;
        }
        let mut cell = bin + BIN_HEADER;
        while cell < bin + size {
            let raw = dword(bins, cell)? as i32;
            let len = raw.unsigned_abs() as usize;
            if len < 8 || len % 8 != 0 || cell + len > bin + size {
                return None;
            }
            if raw < 0 {
                cells.push(cell);
            }
            cell += len;
        }
        bin += size;
    }
    Some(cells)
}

/// The length (size field included) of the allocated cell at `cell`.
fn cell_len(bins: &[u8], cell: usize) -> Option<usize> {
    let raw = dword(bins, cell)? as i32;
    (raw < 0).then(|| raw.unsigned_abs() as usize)
}

/// Packs new cells into 4 KB hive bins appended after `start` bytes of existing bins.
struct BinAppender {
    start: usize,
    bytes: Vec<u8>,
    /// Where the current bin starts in `bytes`, and how much of it is used.
    current: Option<(usize, usize)>,
}

impl BinAppender {
    fn new(start: usize) -> Self {
        BinAppender { start, bytes: Vec::new(), current: None }
    }

    /// Adds an allocated cell with `body`; returns its offset in the hive bins.
    fn push(&mut self, body: &[u8]) -> Option<u32> {
        let len = (4 + body.len()).next_multiple_of(8);
        let fits = matches!(self.current, Some((bin, used)) if used + len <= self.bin_len(bin));
        if !fits {
            self.close_bin();
            let bin = self.bytes.len();
            let size = (BIN_HEADER + len).next_multiple_of(BIN);
            self.bytes.resize(bin + size, 0);
            self.bytes[bin..bin + 4].copy_from_slice(b"hbin");
            put_dword(&mut self.bytes, bin + 4, u32::try_from(self.start + bin).ok()?);
            put_dword(&mut self.bytes, bin + 8, u32::try_from(size).ok()?);
            self.current = Some((bin, BIN_HEADER));
        }
        let (bin, used) = self.current?;
        let at = bin + used;
        put_dword(&mut self.bytes, at, (-(i32::try_from(len).ok()?)) as u32);
        self.bytes[at + 4..at + 4 + body.len()].copy_from_slice(body);
        self.current = Some((bin, used + len));
        u32::try_from(self.start + at).ok()
    }

    fn bin_len(&self, bin: usize) -> usize {
        self.bytes.len() - bin
    }

    /// Marks the rest of the current bin as one free cell.
    fn close_bin(&mut self) {
        if let Some((bin, used)) = self.current.take() {
            let rest = self.bin_len(bin) - used;
            if rest > 0 {
                put_dword(&mut self.bytes, bin + used, rest as u32);
            }
        }
    }

    fn finish(mut self) -> Vec<u8> {
        self.close_bin();
        self.bytes
    }
}

fn word(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(off..off + 2)?.try_into().ok()?))
}

fn dword(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

fn put_dword(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}
