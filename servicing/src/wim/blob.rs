//! Reading one file's data straight from its WIM resource into memory — what servicing needs for
//! the thousands of RTM bases a cumulative update is hydrated from — instead of extracting each to
//! a scratch file (wimlib has no extract-to-memory call). Only the plain layout is read here: a
//! non-solid resource of a single-part, non-pipable WIM, stored whole or as the WIM's chunks
//! (a chunk table of `n - 1` offsets, 4 bytes each, 8 when the data is 4 GiB or more, then the
//! chunks; a chunk stored as long as its data is not compressed). Everything else, and anything
//! that does not match the blob's SHA-1, is left to wimlib's extraction.

use std::os::unix::fs::FileExt;

use sha1::{Digest, Sha1};

use super::codec::Decompressor;
use super::handle::{Compression, Wim};
use super::tree::DirEntry;

/// Where a file's data is in the WIM, as wimlib's lookup table says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlobLocation {
    /// Byte offset of the resource in the WIM file.
    pub offset: u64,
    /// Its size in the file (chunk table included).
    pub stored: u64,
    /// The data's size.
    pub size: u64,
    /// The resource is chunked and compressed with the WIM's compression type.
    pub compressed: bool,
    /// Part of a solid resource, spanned over parts, or in another part of a split WIM: not read
    /// here.
    pub elsewhere: bool,
    /// The data's SHA-1.
    pub sha1: [u8; 20],
}

impl BlobLocation {
    pub(crate) fn of(r: &wim_sys::wimlib_resource_entry) -> Option<BlobLocation> {
        (r.uncompressed_size > 0 && r.is_missing() == 0).then(|| BlobLocation {
            offset: r.offset,
            stored: r.compressed_size,
            size: r.uncompressed_size,
            compressed: r.is_compressed() != 0,
            elsewhere: r.packed() != 0 || r.is_spanned() != 0 || r.part_number != 1,
            sha1: r.sha1_hash,
        })
    }
}

/// Why a resource was not read here (the caller extracts it with wimlib instead).
#[derive(Debug)]
enum Skip {
    Layout(&'static str),
    Bad(String),
}

impl Wim {
    /// The data of the regular file `entry` (from [`Wim::walk`]/[`Wim::children`] on this handle),
    /// read from its resource and checked against its SHA-1; `None` when this layout is not read
    /// here, the data is larger than `limit`, or the bytes do not check out — wimlib's extraction
    /// then reads it (and reports what is wrong).
    pub fn read_file_data(&self, entry: &DirEntry, limit: u64) -> Option<Vec<u8>> {
        if entry.is_dir() || entry.reparse_tag != 0 {
            return None;
        }
        let Some(at) = entry.location else {
            // No resource: an empty file (wimlib lists no blob for one).
            return (entry.size == 0).then(Vec::new);
        };
        match self.read_resource(&at, limit) {
            Ok(bytes) => Some(bytes),
            Err(Skip::Layout(why)) => {
                tracing::trace!("{}: {} read through extraction ({why})", self.path().display(), entry.path);
                None
            }
            Err(Skip::Bad(why)) => {
                tracing::warn!(
                    "{}: {} not read directly ({why}); extracting it with wimlib instead",
                    self.path().display(),
                    entry.path
                );
                None
            }
        }
    }

    fn read_resource(&self, at: &BlobLocation, limit: u64) -> Result<Vec<u8>, Skip> {
        let info = self.info();
        if at.elsewhere || info.pipable || info.total_parts != 1 {
            return Err(Skip::Layout("solid, pipable or split WIM resource"));
        }
        if at.size > limit {
            return Err(Skip::Layout("larger than the limit"));
        }
        let end = at.offset.checked_add(at.stored).ok_or(Skip::Bad("resource offset overflows".into()))?;
        if end > info.total_bytes {
            return Err(Skip::Bad(format!("resource ends at {end}, past the file's {} bytes", info.total_bytes)));
        }
        if self.data_file.get().is_none() {
            let opened =
                safe_fs::open_regular(self.path()).map_err(|e| Skip::Bad(format!("cannot open the WIM: {e}")))?;
            let _ = self.data_file.set(opened);
        }
        let file = self.data_file.get().expect("set just above");
        let read = |off: u64, len: u64| -> Result<Vec<u8>, Skip> {
            let mut buf = vec![0u8; usize::try_from(len).map_err(|_| Skip::Bad("resource too large".into()))?];
            file.read_exact_at(&mut buf, off).map_err(|e| Skip::Bad(format!("cannot read the resource: {e}")))?;
            Ok(buf)
        };
        let data = if !at.compressed {
            if at.stored != at.size {
                return Err(Skip::Bad(format!("stored resource of {} bytes holds {}", at.stored, at.size)));
            }
            read(at.offset, at.stored)?
        } else {
            let kind = match info.compression {
                Some(k @ (Compression::Xpress | Compression::Lzx | Compression::Lzms)) => k,
                _ => return Err(Skip::Layout("compressed resource of a WIM without a known compression type")),
            };
            // What the WIM format allows (each chunk compressed or stored, never larger, behind a
            // table of at most 8 bytes a chunk): a hostile lookup table cannot make this allocate
            // more than the data's own size, which the limit bounds.
            let most = at.size.saturating_add(at.size.div_ceil(u64::from(info.chunk_size.max(1))).saturating_mul(8));
            if at.stored > most {
                return Err(Skip::Bad(format!("{} stored bytes for {} bytes of data", at.stored, at.size)));
            }
            let stored = read(at.offset, at.stored)?;
            unchunk(&stored, at.size, info.chunk_size as usize, kind)?
        };
        if Sha1::digest(&data).as_slice() != at.sha1 {
            return Err(Skip::Bad("the data does not match its SHA-1".into()));
        }
        Ok(data)
    }
}

/// The `size` bytes of a chunked resource `stored` (chunk table, then chunks of `chunk` bytes).
fn unchunk(stored: &[u8], size: u64, chunk: usize, kind: Compression) -> Result<Vec<u8>, Skip> {
    if chunk == 0 {
        return Err(Skip::Bad("chunk size 0".into()));
    }
    let size = usize::try_from(size).map_err(|_| Skip::Bad("resource too large".into()))?;
    let chunks = size.div_ceil(chunk);
    let entry = if size as u64 > u64::from(u32::MAX) { 8 } else { 4 };
    let table = (chunks - 1).checked_mul(entry).filter(|t| *t <= stored.len()).ok_or(Skip::Bad(format!(
        "a chunk table of {chunks} entries does not fit the {} stored bytes",
        stored.len()
    )))?;
    let (offsets, body) = stored.split_at(table);
    let start_of = |i: usize| -> u64 {
        if i == 0 {
            return 0;
        }
        let e = &offsets[(i - 1) * entry..i * entry];
        if entry == 8 {
            u64::from_le_bytes(e.try_into().expect("8 bytes"))
        } else {
            u64::from(u32::from_le_bytes(e.try_into().expect("4 bytes")))
        }
    };
    let mut codec =
        Decompressor::new(kind, chunk).map_err(|m| Skip::Bad(format!("cannot make a decompressor: {m}")))?;
    let mut out = vec![0u8; size];
    for (i, dest) in out.chunks_mut(chunk).enumerate() {
        let (from, to) = (start_of(i), if i + 1 == chunks { body.len() as u64 } else { start_of(i + 1) });
        if from > to || to > body.len() as u64 {
            return Err(Skip::Bad(format!("chunk {i} spans {from}..{to} of {} bytes", body.len())));
        }
        let src = &body[from as usize..to as usize];
        if src.len() == dest.len() {
            dest.copy_from_slice(src);
        } else if src.len() > dest.len() || !codec.decompress_into(src, dest) {
            return Err(Skip::Bad(format!("chunk {i} does not decompress")));
        }
    }
    Ok(out)
}
