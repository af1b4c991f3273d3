//! Delta redistribution, rsync's way: the distribution point sends a signature of the file it holds
//! (a weak rolling checksum and a strong hash per fixed-size block), the site finds those blocks
//! anywhere in the new file and sends only copy instructions and the bytes that match nothing, and
//! the distribution point rebuilds the new file from its old one and checks its SHA-256.
//!
//! Why this and not a WIM-aware or append-tail delta: the site's new version is usually a rewrite
//! (`--remove-superseded` exports a fresh WIM), so nothing is appended, and blobs move around; a
//! rolling checksum finds unchanged resources wherever they now lie, needs nothing but the two files,
//! and the whole-file hash at the end makes any mistake (a weak or strong collision, a wrong base)
//! fail loudly instead of producing a wrong image.

use crate::io_error::IoError;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::content::hex;
use super::error::{Error, Result};
use crate::progress::Control;

const SIG_MAGIC: &[u8; 8] = b"WPSIG001";
const DELTA_MAGIC: &[u8; 8] = b"WPDELTA1";
const OP_END: u8 = 0;
const OP_COPY: u8 = 1;
const OP_DATA: u8 = 2;
/// Literal runs are flushed at this size so memory stays bounded on large files.
const MAX_LITERAL: usize = 1 << 20;
/// Bytes of the new file read at once.
const WINDOW: usize = 8 << 20;

/// The block size for a file of `len` bytes: about its square root (rsync's rule, which balances the
/// signature's size against the matching granularity), a multiple of 64, between 1 KiB and 64 KiB.
pub fn block_size_for(len: u64) -> u32 {
    let root = (len as f64).sqrt() as u32;
    (root / 64 * 64).clamp(1024, 64 << 10)
}

/// rsync's weak checksum of a block: two 16-bit sums, cheap to roll one byte along.
#[derive(Debug, Clone, Copy)]
struct Rolling {
    a: u32,
    b: u32,
    len: u32,
}

impl Rolling {
    fn new(block: &[u8]) -> Rolling {
        let mut a = 0u32;
        let mut b = 0u32;
        let len = block.len() as u32;
        for (i, &x) in block.iter().enumerate() {
            a = a.wrapping_add(u32::from(x));
            b = b.wrapping_add((len - i as u32).wrapping_mul(u32::from(x)));
        }
        Rolling { a, b, len }
    }

    fn roll(&mut self, out: u8, inn: u8) {
        self.a = self.a.wrapping_sub(u32::from(out)).wrapping_add(u32::from(inn));
        self.b = self.b.wrapping_sub(self.len.wrapping_mul(u32::from(out))).wrapping_add(self.a);
    }

    fn digest(&self) -> u32 {
        (self.a & 0xffff) | (self.b << 16)
    }
}

fn strong(block: &[u8]) -> [u8; 16] {
    let d = Sha256::digest(block);
    let mut out = [0u8; 16];
    out.copy_from_slice(&d[..16]);
    out
}

/// The signature of a file: what the distribution point sends to the site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// Block size.
    pub block_size: u32,
    /// Length of the file it describes.
    pub file_len: u64,
    blocks: Vec<(u32, [u8; 16])>,
}

impl Signature {
    /// Reads `path` (the distribution point's current file) block by block.
    pub fn compute(path: &Path, block_size: u32, control: Control<'_>) -> Result<Signature> {
        let f = File::open(path).map_err(Error::io(path, "cannot open to compute its signature"))?;
        let file_len = f.metadata().map_err(Error::io(path, "cannot read metadata"))?.len();
        let mut r = BufReader::with_capacity(1 << 20, f);
        let mut blocks = Vec::with_capacity((file_len / u64::from(block_size)) as usize + 1);
        let mut buf = vec![0u8; block_size as usize];
        loop {
            let n = read_full(&mut r, &mut buf).map_err(Error::io(path, "cannot read"))?;
            // Only whole blocks are matched; a short tail is sent as data when it is needed.
            if n < buf.len() {
                break;
            }
            blocks.push((Rolling::new(&buf).digest(), strong(&buf)));
            if blocks.len() % 1024 == 0 && control.cancelled() {
                return Err(Error::Cancelled { what: format!("signature of {}", path.display()) });
            }
        }
        Ok(Signature { block_size, file_len, blocks })
    }

    /// Its size on the wire.
    pub fn encoded_len(&self) -> u64 {
        8 + 4 + 8 + 4 + self.blocks.len() as u64 * 20
    }

    /// Serialises it.
    pub fn write_to(&self, w: &mut dyn Write) -> std::io::Result<()> {
        w.write_all(SIG_MAGIC)?;
        w.write_all(&self.block_size.to_le_bytes())?;
        w.write_all(&self.file_len.to_le_bytes())?;
        w.write_all(&(self.blocks.len() as u32).to_le_bytes())?;
        for (weak, s) in &self.blocks {
            w.write_all(&weak.to_le_bytes())?;
            w.write_all(s)?;
        }
        Ok(())
    }

    /// Reads one written by [`Signature::write_to`].
    pub fn read_from(r: &mut dyn Read) -> std::io::Result<Signature> {
        let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_owned());
        let mut magic = [0u8; 8];
        r.read_exact(&mut magic)?;
        if &magic != SIG_MAGIC {
            return Err(bad("not a wimpatch signature"));
        }
        let mut b4 = [0u8; 4];
        let mut b8 = [0u8; 8];
        r.read_exact(&mut b4)?;
        let block_size = u32::from_le_bytes(b4);
        r.read_exact(&mut b8)?;
        let file_len = u64::from_le_bytes(b8);
        r.read_exact(&mut b4)?;
        let count = u32::from_le_bytes(b4) as u64;
        if block_size == 0 || count * u64::from(block_size) > file_len {
            return Err(bad("signature does not fit its file length"));
        }
        let mut blocks = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let mut s = [0u8; 16];
            r.read_exact(&mut b4)?;
            r.read_exact(&mut s)?;
            blocks.push((u32::from_le_bytes(b4), s));
        }
        Ok(Signature { block_size, file_len, blocks })
    }
}

fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn put_varint(w: &mut dyn Write, mut v: u64) -> std::io::Result<()> {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            return w.write_all(&[byte]);
        }
        w.write_all(&[byte | 0x80])?;
    }
}

fn get_varint(r: &mut dyn Read) -> std::io::Result<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let mut b = [0u8; 1];
        r.read_exact(&mut b)?;
        v |= u64::from(b[0] & 0x7f) << shift;
        if b[0] & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "varint too long"))
}

/// What [`make_delta`] produced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeltaStats {
    /// Bytes of the delta file (what is sent).
    pub delta_bytes: u64,
    /// Bytes of the new file found in the old one.
    pub copied_bytes: u64,
    /// Bytes sent as data.
    pub literal_bytes: u64,
    /// Length of the new file.
    pub new_len: u64,
}

struct Emitter<'a> {
    w: &'a mut dyn Write,
    run: Option<(u64, u64)>,
    stats: DeltaStats,
}

impl Emitter<'_> {
    fn copy(&mut self, block: u64, block_size: u32) -> std::io::Result<()> {
        self.stats.copied_bytes += u64::from(block_size);
        match &mut self.run {
            Some((start, count)) if *start + *count == block => *count += 1,
            _ => {
                self.flush_run()?;
                self.run = Some((block, 1));
            }
        }
        Ok(())
    }

    fn flush_run(&mut self) -> std::io::Result<()> {
        if let Some((start, count)) = self.run.take() {
            self.w.write_all(&[OP_COPY])?;
            put_varint(self.w, start)?;
            put_varint(self.w, count)?;
        }
        Ok(())
    }

    fn data(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.flush_run()?;
        self.stats.literal_bytes += bytes.len() as u64;
        self.w.write_all(&[OP_DATA])?;
        put_varint(self.w, bytes.len() as u64)?;
        self.w.write_all(bytes)
    }
}

/// Writes to `out` the delta that turns the file `sig` describes into `new`.
pub fn make_delta(new: &Path, sig: &Signature, out: &Path, control: Control<'_>) -> Result<DeltaStats> {
    let (sha, new_len) = super::content::sha256_file(new)?;
    let mut digest = [0u8; 32];
    for (i, chunk) in digest.iter_mut().enumerate() {
        *chunk = u8::from_str_radix(&sha[2 * i..2 * i + 2], 16).unwrap_or(0);
    }
    let file = safe_fs::create_fresh(out).map_err(Error::io(out, "cannot create the delta"))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let werr = Error::io(out, "cannot write the delta");
    let header = (|| -> std::io::Result<()> {
        w.write_all(DELTA_MAGIC)?;
        w.write_all(&sig.block_size.to_le_bytes())?;
        w.write_all(&sig.file_len.to_le_bytes())?;
        w.write_all(&new_len.to_le_bytes())?;
        w.write_all(&digest)
    })();
    header.map_err(werr)?;
    let stats = {
        let mut em = Emitter { w: &mut w, run: None, stats: DeltaStats { new_len, ..DeltaStats::default() } };
        scan(new, sig, &mut em, control)?;
        let tail = (|| -> std::io::Result<()> {
            em.flush_run()?;
            em.w.write_all(&[OP_END])
        })();
        tail.map_err(Error::io(out, "cannot write the delta"))?;
        em.stats
    };
    let file = w.into_inner().map_err(|e| {
        Error::Io(IoError { path: out.to_path_buf(), action: "cannot write the delta", source: e.into_error() })
    })?;
    file.sync_all().map_err(Error::io(out, "cannot sync the delta"))?;
    let delta_bytes = file.metadata().map_err(Error::io(out, "cannot read metadata"))?.len();
    Ok(DeltaStats { delta_bytes, ..stats })
}

/// The matching pass over the new file.
fn scan(new: &Path, sig: &Signature, em: &mut Emitter<'_>, control: Control<'_>) -> Result<()> {
    let bs = sig.block_size as usize;
    let mut table: HashMap<u32, Vec<u32>> = HashMap::with_capacity(sig.blocks.len());
    // A 64 Ki-entry filter in front of the hash map: most positions match nothing, and a bit test is
    // much cheaper than a map probe.
    let mut filter = vec![false; 1 << 16];
    for (i, (weak, _)) in sig.blocks.iter().enumerate() {
        table.entry(*weak).or_default().push(i as u32);
        filter[(*weak ^ (*weak >> 16)) as usize & 0xffff] = true;
    }
    let mut f = File::open(new).map_err(Error::io(new, "cannot open"))?;
    let rerr = |e| Error::Io(IoError { path: new.to_path_buf(), action: "cannot read", source: e });
    let werr = |e| Error::Io(IoError { path: new.to_path_buf(), action: "cannot write the delta for", source: e });
    let mut buf: Vec<u8> = Vec::with_capacity(WINDOW + bs);
    let mut eof = false;
    let mut pos = 0usize; // window start in buf
    let mut lit = 0usize; // start of pending literal bytes in buf
    let mut rolling: Option<Rolling> = None;
    let mut next_expected: Option<u64> = None;
    let mut since_check = 0usize;
    loop {
        // Keep at least one block ahead in the buffer.
        if buf.len() - pos < bs && !eof {
            if lit < pos && pos - lit >= MAX_LITERAL {
                em.data(&buf[lit..pos]).map_err(werr)?;
                lit = pos;
            }
            let keep_from = lit.min(pos);
            buf.drain(..keep_from);
            pos -= keep_from;
            lit -= keep_from;
            let old = buf.len();
            buf.resize(old + WINDOW, 0);
            let n = read_full(&mut f, &mut buf[old..]).map_err(rerr)?;
            buf.truncate(old + n);
            eof = n < WINDOW;
            continue;
        }
        if buf.len() - pos < bs {
            break;
        }
        since_check += 1;
        if since_check >= 1 << 20 {
            since_check = 0;
            if control.cancelled() {
                return Err(Error::Cancelled { what: format!("delta of {}", new.display()) });
            }
        }
        let window = &buf[pos..pos + bs];
        let r = *rolling.get_or_insert_with(|| Rolling::new(window));
        let weak = r.digest();
        let mut hit = None;
        if filter[(weak ^ (weak >> 16)) as usize & 0xffff] {
            if let Some(cands) = table.get(&weak) {
                let s = strong(window);
                // Prefer the block that continues the current run: long copies encode small.
                let preferred =
                    next_expected.filter(|n| cands.contains(&(*n as u32)) && sig.blocks[*n as usize].1 == s);
                hit =
                    preferred.or_else(|| cands.iter().find(|&&c| sig.blocks[c as usize].1 == s).map(|&c| u64::from(c)));
            }
        }
        if let Some(block) = hit {
            em.data(&buf[lit..pos]).map_err(werr)?;
            em.copy(block, sig.block_size).map_err(werr)?;
            pos += bs;
            lit = pos;
            rolling = None;
            next_expected = Some(block + 1);
        } else {
            if pos + bs < buf.len() {
                let mut r = r;
                r.roll(buf[pos], buf[pos + bs]);
                rolling = Some(r);
            } else {
                rolling = None;
            }
            pos += 1;
            if pos - lit >= MAX_LITERAL {
                em.data(&buf[lit..pos]).map_err(werr)?;
                lit = pos;
            }
        }
    }
    em.data(&buf[lit..]).map_err(werr)?;
    Ok(())
}

/// Rebuilds the new file at `out` from `base` (the distribution point's current file) and `delta`,
/// and checks the result's length and SHA-256 against the delta's header. Returns the SHA-256.
pub fn apply_delta(base: &Path, delta: &Path, out: &Path, control: Control<'_>) -> Result<String> {
    let bad = |reason: String| Error::BadDelta { path: delta.to_path_buf(), reason };
    let mut d = BufReader::with_capacity(1 << 20, File::open(delta).map_err(Error::io(delta, "cannot open"))?);
    let derr = |e: std::io::Error| Error::BadDelta { path: delta.to_path_buf(), reason: format!("cannot read: {e}") };
    let mut magic = [0u8; 8];
    d.read_exact(&mut magic).map_err(derr)?;
    if &magic != DELTA_MAGIC {
        return Err(bad("not a wimpatch delta".into()));
    }
    let mut b4 = [0u8; 4];
    let mut b8 = [0u8; 8];
    let mut digest = [0u8; 32];
    d.read_exact(&mut b4).map_err(derr)?;
    let block_size = u64::from(u32::from_le_bytes(b4));
    d.read_exact(&mut b8).map_err(derr)?;
    let base_len = u64::from_le_bytes(b8);
    d.read_exact(&mut b8).map_err(derr)?;
    let new_len = u64::from_le_bytes(b8);
    d.read_exact(&mut digest).map_err(derr)?;
    let mut b = File::open(base).map_err(Error::io(base, "cannot open the base"))?;
    let actual_base = b.metadata().map_err(Error::io(base, "cannot read metadata"))?.len();
    if actual_base != base_len {
        return Err(bad(format!("made against a {base_len}-byte file, but the base has {actual_base} bytes")));
    }
    let file = safe_fs::create_fresh(out).map_err(Error::io(out, "cannot create"))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let mut h = Sha256::new();
    let mut written = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    let werr = |e| Error::Io(IoError { path: out.to_path_buf(), action: "cannot write", source: e });
    loop {
        if control.cancelled() {
            drop(w);
            let _ = std::fs::remove_file(out);
            return Err(Error::Cancelled { what: format!("rebuild of {}", out.display()) });
        }
        let mut op = [0u8; 1];
        d.read_exact(&mut op).map_err(derr)?;
        match op[0] {
            OP_END => break,
            OP_COPY => {
                let start = get_varint(&mut d).map_err(derr)?;
                let count = get_varint(&mut d).map_err(derr)?;
                let from = start.checked_mul(block_size).ok_or_else(|| bad("copy offset overflows".into()))?;
                let len = count.checked_mul(block_size).ok_or_else(|| bad("copy length overflows".into()))?;
                if from.checked_add(len).is_none_or(|end| end > base_len) {
                    return Err(bad(format!("copy of blocks {start}+{count} runs past the base")));
                }
                b.seek(SeekFrom::Start(from)).map_err(Error::io(base, "cannot seek"))?;
                let mut left = len;
                while left > 0 {
                    let n = left.min(buf.len() as u64) as usize;
                    b.read_exact(&mut buf[..n]).map_err(Error::io(base, "cannot read the base"))?;
                    h.update(&buf[..n]);
                    w.write_all(&buf[..n]).map_err(werr)?;
                    left -= n as u64;
                }
                written += len;
            }
            OP_DATA => {
                let len = get_varint(&mut d).map_err(derr)?;
                if written + len > new_len {
                    return Err(bad("data runs past the new file's length".into()));
                }
                let mut left = len;
                while left > 0 {
                    let n = left.min(buf.len() as u64) as usize;
                    d.read_exact(&mut buf[..n]).map_err(derr)?;
                    h.update(&buf[..n]);
                    w.write_all(&buf[..n]).map_err(werr)?;
                    left -= n as u64;
                }
                written += len;
            }
            other => return Err(bad(format!("unknown instruction {other}"))),
        }
        if written > new_len {
            return Err(bad("the rebuilt file is longer than announced".into()));
        }
    }
    let file = w
        .into_inner()
        .map_err(|e| Error::Io(IoError { path: out.to_path_buf(), action: "cannot write", source: e.into_error() }))?;
    file.sync_all().map_err(Error::io(out, "cannot sync"))?;
    let actual = hex(&h.finalize());
    let expected = hex(&digest);
    if written != new_len || actual != expected {
        let _ = std::fs::remove_file(out);
        return Err(Error::Mismatch { path: out.to_path_buf(), what: "delta rebuild", expected, actual });
    }
    Ok(actual)
}
