//! Subkey lists kept as Windows keeps them, where libhivex would not: long lists split into index
//! roots (`ri` over `lh` leaves) before libhivex edits a hive, and many subkeys added to one key at
//! once ([`insert_children`]).
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

use std::cmp::Ordering;
use std::path::Path;

use super::name::{compare_names, fold_name};
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
const NK_FLAGS: usize = 4 + 0x02;
const NK_SECURITY: usize = 4 + 0x2C;
const NK_MAX_SUBKEY_NAME: usize = 4 + 0x34;
const NK_NAME_LEN: usize = 4 + 0x48;
const NK_NAME: usize = 4 + 0x4C;
/// Key name stored as Latin-1 ("compressed"), not UTF-16LE.
const KEY_COMP_NAME: u16 = 0x0020;
/// The reference count of a security (`sk`) cell.
const SK_REFCOUNT: usize = 4 + 0x0C;
/// "No cell".
const NONE: u32 = u32::MAX;

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
        let list = append_list(&mut appender, &key.entries)?;
        put_dword(&mut out, BASE_BLOCK + key.nk + NK_SUBKEY_LIST, list);
        free_cells(&mut out, &key.old_cells)?;
    }
    seal(&mut out, appender)?;
    Some((out, count))
}

/// Adds the subkeys `names` (none of them already a subkey, no two equal) to the key whose `nk` cell
/// is at `parent` (an offset in the hive bins) of `hive`, as Windows would: each a new `nk` cell
/// inheriting the parent's security descriptor (its reference count raised) and timestamp, the
/// parent's list rebuilt once with every name in Windows order (an index root over half-full leaves
/// when it is long), in place. Returns the new cells' offsets in the bins, in `names`' order.
/// `None`, with `hive` unchanged, when the hive or the parent's list is not one this handles
/// (`lf`/`li` lists, a dirty hive, anything malformed, a name already there): the caller adds them
/// one by one instead.
pub fn insert_children(hive: &mut Vec<u8>, parent: usize, names: &[&str]) -> Option<Vec<usize>> {
    let base = hive.get(..BASE_BLOCK)?;
    if base.get(0..4)? != b"regf" || dword(base, 0x04)? != dword(base, 0x08)? {
        return None;
    }
    let bins_len = dword(base, 0x28)? as usize;
    let bins = hive.get(BASE_BLOCK..BASE_BLOCK.checked_add(bins_len)?)?;
    if bins.get(parent + 4..parent + 6)? != b"nk" || cell_len(bins, parent)? < NK_MIN_LEN {
        return None;
    }
    let count = dword(bins, parent + NK_SUBKEY_COUNT)? as usize;
    let list = dword(bins, parent + NK_SUBKEY_LIST)?;
    let (existing, old_cells) =
        if count == 0 { (Vec::new(), Vec::new()) } else { read_list_entries(bins, list as usize, count)? };
    let sk = dword(bins, parent + NK_SECURITY)? as usize;
    if bins.get(sk + 4..sk + 6)? != b"sk" || cell_len(bins, sk)? < SK_REFCOUNT + 4 {
        return None;
    }
    let refs = dword(bins, sk + SK_REFCOUNT)?.checked_add(u32::try_from(names.len()).ok()?)?;
    let timestamp: [u8; 8] = bins.get(parent + 4 + 0x04..parent + 4 + 0x0C)?.try_into().ok()?;

    // The existing subkeys' names, to merge the new ones into Windows order.
    let mut named: Vec<(String, [u8; 8])> = Vec::with_capacity(existing.len() + names.len());
    for entry in &existing {
        let nk = u32::from_le_bytes(entry[..4].try_into().ok()?) as usize;
        named.push((key_name(bins, nk)?, *entry));
    }
    let mut appender = BinAppender::new(bins_len);
    let mut added = Vec::with_capacity(names.len());
    let mut longest = u32::from(word(bins, parent + NK_MAX_SUBKEY_NAME)?);
    for name in names {
        let cell = key_cell(name, parent, sk, &timestamp)?;
        let at = appender.push(&cell)?;
        added.push(at as usize);
        let mut entry = [0u8; 8];
        entry[..4].copy_from_slice(&at.to_le_bytes());
        entry[4..].copy_from_slice(&name_hash(name).to_le_bytes());
        named.push(((*name).to_owned(), entry));
        longest = longest.max(2 * u32::try_from(name.encode_utf16().count()).ok()?);
    }
    named.sort_by(|a, b| compare_names(&a.0, &b.0));
    if named.windows(2).any(|w| compare_names(&w[0].0, &w[1].0) == Ordering::Equal) {
        return None;
    }
    let entries: Vec<[u8; 8]> = named.into_iter().map(|(_, e)| e).collect();
    let new_list = append_list(&mut appender, &entries)?;

    let count = u32::try_from(entries.len()).ok()?;
    let longest = u16::try_from(longest).unwrap_or(u16::MAX);
    // Everything is checked; from here on `hive` changes. (The old list cells were read as
    // allocated, so freeing them cannot fail.)
    hive.truncate(BASE_BLOCK + bins_len);
    let out = hive;
    let at = |off: usize| BASE_BLOCK + parent + off;
    put_dword(out, at(NK_SUBKEY_COUNT), count);
    put_dword(out, at(NK_SUBKEY_LIST), new_list);
    out[at(NK_MAX_SUBKEY_NAME)..at(NK_MAX_SUBKEY_NAME) + 2].copy_from_slice(&longest.to_le_bytes());
    put_dword(out, BASE_BLOCK + sk + SK_REFCOUNT, refs);
    free_cells(out, &old_cells)?;
    seal(out, appender)?;
    Some(added)
}

/// Appends `entries` as one `lh` leaf, or as an index root over leaves of [`LEAF_ENTRIES`] when
/// there are more than a leaf holds; returns the list's offset.
fn append_list(appender: &mut BinAppender, entries: &[[u8; 8]]) -> Option<u32> {
    let leaf = |appender: &mut BinAppender, chunk: &[[u8; 8]]| {
        let mut cell = Vec::with_capacity(4 + chunk.len() * 8);
        cell.extend_from_slice(b"lh");
        cell.extend_from_slice(&u16::try_from(chunk.len()).ok()?.to_le_bytes());
        for entry in chunk {
            cell.extend_from_slice(entry);
        }
        appender.push(&cell)
    };
    if entries.len() <= MAX_LEAF_ENTRIES {
        return leaf(appender, entries);
    }
    let mut leaves = Vec::new();
    for chunk in entries.chunks(LEAF_ENTRIES) {
        leaves.push(leaf(appender, chunk)?);
    }
    let mut root = Vec::with_capacity(4 + leaves.len() * 4);
    root.extend_from_slice(b"ri");
    root.extend_from_slice(&u16::try_from(leaves.len()).ok()?.to_le_bytes());
    for leaf in leaves {
        root.extend_from_slice(&leaf.to_le_bytes());
    }
    appender.push(&root)
}

/// Marks the allocated cells at `cells` (offsets in the bins of `hive`) free. A positive size marks a
/// cell free; its bytes stay as they were.
fn free_cells(hive: &mut [u8], cells: &[usize]) -> Option<()> {
    for &cell in cells {
        let at = BASE_BLOCK + cell;
        let size = (dword(hive, at)? as i32).checked_neg()?;
        if size <= 0 {
            return None;
        }
        put_dword(hive, at, size as u32);
    }
    Some(())
}

/// Appends the new bins to `hive` and fixes the base block: the bins size and the checksum.
fn seal(hive: &mut Vec<u8>, appender: BinAppender) -> Option<()> {
    let appended = appender.finish();
    let bins_len = u32::try_from(hive.len() - BASE_BLOCK + appended.len()).ok()?;
    hive.extend_from_slice(&appended);
    put_dword(hive, 0x28, bins_len);
    let checksum = (0..CHECKSUM_OFFSET).step_by(4).fold(0u32, |sum, off| sum ^ dword(hive, off).unwrap_or(0));
    // Windows never stores 0 or all-ones as the checksum.
    let checksum = match checksum {
        0 => 1,
        u32::MAX => u32::MAX - 1,
        other => other,
    };
    put_dword(hive, CHECKSUM_OFFSET, checksum);
    Some(())
}

/// A new key node cell body (without its size field) called `name`, below `parent`, with the security
/// cell `sk`, no subkeys, values or class.
fn key_cell(name: &str, parent: usize, sk: usize, timestamp: &[u8]) -> Option<Vec<u8>> {
    let (flags, stored): (u16, Vec<u8>) = if name.chars().all(|c| u32::from(c) <= 0xFF) {
        (KEY_COMP_NAME, name.chars().map(|c| u32::from(c) as u8).collect())
    } else {
        (0, name.encode_utf16().flat_map(u16::to_le_bytes).collect())
    };
    let mut body = vec![0u8; 0x4C + stored.len()];
    body[0..2].copy_from_slice(b"nk");
    body[2..4].copy_from_slice(&flags.to_le_bytes());
    body[4..12].copy_from_slice(timestamp);
    body[0x10..0x14].copy_from_slice(&u32::try_from(parent).ok()?.to_le_bytes());
    for off in [0x1C, 0x20, 0x28, 0x30] {
        body[off..off + 4].copy_from_slice(&NONE.to_le_bytes()); // no subkey lists, values or class
    }
    body[0x2C..0x30].copy_from_slice(&u32::try_from(sk).ok()?.to_le_bytes());
    body[0x48..0x4A].copy_from_slice(&u16::try_from(stored.len()).ok()?.to_le_bytes());
    body[0x4C..].copy_from_slice(&stored);
    Some(body)
}

/// The name of the allocated key node at `nk`.
fn key_name(bins: &[u8], nk: usize) -> Option<String> {
    if bins.get(nk + 4..nk + 6)? != b"nk" {
        return None;
    }
    let len = usize::from(word(bins, nk + NK_NAME_LEN)?);
    if cell_len(bins, nk)? < NK_NAME + len {
        return None;
    }
    let raw = bins.get(nk + NK_NAME..nk + NK_NAME + len)?;
    if word(bins, nk + NK_FLAGS)? & KEY_COMP_NAME != 0 {
        Some(raw.iter().map(|&b| char::from(b)).collect())
    } else {
        let units: Vec<u16> = raw.chunks_exact(2).map(|u| u16::from_le_bytes([u[0], u[1]])).collect();
        Some(String::from_utf16_lossy(&units))
    }
}

/// The `lh` hash of a key name: each UTF-16 unit upcased, folded as `hash * 37 + unit`.
fn name_hash(name: &str) -> u32 {
    fold_name(name).into_iter().fold(0u32, |h, unit| h.wrapping_mul(37).wrapping_add(u32::from(unit)))
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
    let (entries, cells) = read_list_entries(bins, list, count)?;
    let longest_leaf = match cells.len() {
        1 => entries.len(),
        _ => cells[1..].iter().map(|&leaf| usize::from(word(bins, leaf + 6).unwrap_or(0))).max().unwrap_or(0),
    };
    (longest_leaf > MAX_LEAF_ENTRIES).then_some((entries, cells))
}

/// The entries and cells of the `lh` list (or index root over `lh` leaves) at `list`, if it holds
/// exactly `count` entries.
fn read_list_entries(bins: &[u8], list: usize, count: usize) -> Option<(Vec<[u8; 8]>, Vec<usize>)> {
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
            let mut entries = Vec::with_capacity(count.min(bins.len() / 8));
            let mut cells = vec![list];
            let mut seen = std::collections::HashSet::from([list]);
            for i in 0..n {
                let leaf = dword(bins, list + 8 + 4 * i)? as usize;
                if bins.get(leaf + 4..leaf + 6)? != b"lh" || !seen.insert(leaf) {
                    return None;
                }
                entries.extend(leaf_entries(bins, leaf)?);
                cells.push(leaf);
                if entries.len() > count {
                    return None;
                }
            }
            (entries.len() == count).then_some((entries, cells))
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
        if size < BIN || !size.is_multiple_of(BIN) || bin.checked_add(size)? > bins.len() {
            return None;
        }
        let mut cell = bin + BIN_HEADER;
        while cell < bin + size {
            let raw = dword(bins, cell)? as i32;
            let len = raw.unsigned_abs() as usize;
            if len < 8 || !len.is_multiple_of(8) || cell + len > bin + size {
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
