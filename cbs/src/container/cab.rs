//! [`Cabinet`]: a Microsoft cabinet (`MSCF`) read from any `Read + Seek`, with the limits of
//! [`Limits`] enforced while reading.
//!
//! The directory is parsed and checked by `directory.rs`. Decoding goes through the `cab` crate
//! (MSZIP, and LZX through `lzxd`), which is only ever shown a directory rebuilt from the checked
//! values: one entry per folder, named `f<index>`, covering the folder's whole data, with the
//! folders' data offsets moved past the rebuilt directory. The `Overlay` reader serves that
//! directory from memory and everything after it from the real stream. Reading a member is then
//! "open the folder stream, seek to the member's offset, read its size", and reading every member
//! ([`Cabinet::for_each_member`]) decodes each folder once, front to back.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Cursor, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::directory::{self, Directory};
use super::error::{Error, LimitKind, Result};
use super::limits::{Budget, Limits};
use super::member_name::{member_key, normalize_member_name};

/// How a folder's data is compressed (`typeCompress` of its CFFOLDER entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    /// Stored.
    None,
    /// MSZIP (deflate blocks with a `CK` prefix).
    MsZip,
    /// Quantum: listed, not decoded.
    Quantum {
        /// Compression level, 1–7.
        level: u8,
        /// Window size, 2^10–2^21.
        memory: u8,
    },
    /// LZX with a window of 2^`window_bits` bytes (15–21); Windows update cabs use LZX:21.
    Lzx {
        /// Window size exponent.
        window_bits: u8,
    },
}

impl Compression {
    pub(crate) fn from_type_bits(bits: u16) -> Option<Compression> {
        let param = ((bits >> 8) & 0x1f) as u8;
        match bits & 0x000f {
            0 => Some(Compression::None),
            1 => Some(Compression::MsZip),
            2 => {
                let level = ((bits >> 4) & 0x0f) as u8;
                ((1..=7).contains(&level) && (10..=21).contains(&param))
                    .then_some(Compression::Quantum { level, memory: param })
            }
            3 => (15..=21).contains(&param).then_some(Compression::Lzx { window_bits: param }),
            _ => None,
        }
    }

    fn to_type_bits(self) -> u16 {
        match self {
            Compression::None => 0,
            Compression::MsZip => 1,
            Compression::Quantum { level, memory } => 2 | (u16::from(level) << 4) | (u16::from(memory) << 8),
            Compression::Lzx { window_bits } => 3 | (u16::from(window_bits) << 8),
        }
    }

    /// The name `cabextract`, `expand` and `makecab` use: `none`, `MSZIP`, `Quantum`, `LZX:21` …
    pub fn name(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Compression::None => f.write_str("none"),
            Compression::MsZip => f.write_str("MSZIP"),
            Compression::Quantum { level, memory } => write!(f, "Quantum:{level}:{memory}"),
            Compression::Lzx { window_bits } => write!(f, "LZX:{window_bits}"),
        }
    }
}

/// One member of a cabinet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInfo {
    /// The name as stored, with `\` between folders (`amd64_…_none_<hash>\netcfgx.dll`).
    pub name: String,
    /// The checked name with `/` between folders, to join to an extraction folder.
    pub path: String,
    /// Decompressed size in bytes.
    pub size: u64,
    /// Index of the folder holding the member's data.
    pub folder: u16,
    /// The folder's compression.
    pub compression: Compression,
    /// Offset of the member's data in its folder's decompressed stream.
    pub offset: u64,
    /// FAT attributes (`0x01` read-only … `0x80` name is UTF-8).
    pub attributes: u16,
    /// MS-DOS date and time of the member, as stored.
    pub dos_date: u16,
    /// MS-DOS time.
    pub dos_time: u16,
}

/// One folder of a cabinet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderInfo {
    /// Compression of the folder's data.
    pub compression: Compression,
    /// Number of CFDATA blocks.
    pub data_blocks: u16,
    /// Offset of the first block in the file.
    pub data_offset: u64,
    /// Bytes the folder decodes to.
    pub uncompressed_size: u64,
    /// Bytes of its data area in the file (block headers included).
    pub compressed_size: u64,
}

/// A nested cabinet's bytes: in memory when small, otherwise in an unlinked temporary file.
pub enum Spooled {
    /// Up to [`SPOOL_IN_MEMORY_MAX`] bytes.
    Memory(Cursor<Vec<u8>>),
    /// Larger: a temporary file, deleted by the system when closed.
    File(BufReader<File>),
}

/// Nested cabs up to this size are held in memory; larger ones (an LCU's inner cab is hundreds of
/// MiB) are spooled to a temporary file, so memory stays bounded whatever the package.
pub const SPOOL_IN_MEMORY_MAX: u64 = 32 << 20;

impl Read for Spooled {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Spooled::Memory(c) => c.read(buf),
            Spooled::File(f) => f.read(buf),
        }
    }
}

impl Seek for Spooled {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        match self {
            Spooled::Memory(c) => c.seek(pos),
            Spooled::File(f) => f.seek(pos),
        }
    }
}

impl fmt::Debug for Spooled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Spooled::Memory(c) => write!(f, "Spooled::Memory({} bytes)", c.get_ref().len()),
            Spooled::File(_) => f.write_str("Spooled::File"),
        }
    }
}

/// The stream the `cab` decoder reads: the rebuilt directory, then the real file.
struct Overlay<R> {
    directory: Vec<u8>,
    inner: R,
    /// Position in the overlay.
    pos: u64,
    /// Position of `inner`, when known.
    inner_pos: Option<u64>,
    /// Bytes read from the real file so far (the compressed side of the ratio check).
    data_read: Arc<AtomicU64>,
}

impl<R: Read + Seek> Read for Overlay<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let dir_len = self.directory.len() as u64;
        if self.pos < dir_len {
            let from = &self.directory[self.pos as usize..];
            let n = from.len().min(buf.len());
            buf[..n].copy_from_slice(&from[..n]);
            self.pos += n as u64;
            return Ok(n);
        }
        let real = self.pos - dir_len;
        if self.inner_pos != Some(real) {
            self.inner_pos = None;
            self.inner.seek(SeekFrom::Start(real))?;
            self.inner_pos = Some(real);
        }
        let n = self.inner.read(buf).inspect_err(|_| self.inner_pos = None)?;
        self.pos += n as u64;
        self.inner_pos = Some(real + n as u64);
        self.data_read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl<R: Read + Seek> Seek for Overlay<R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let target = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => {
                let end = self.inner.seek(SeekFrom::End(0))?;
                self.inner_pos = Some(end);
                (end + self.directory.len() as u64).checked_add_signed(d)
            }
        };
        self.pos = target.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        Ok(self.pos)
    }
}

/// Builds the directory the decoder sees: one folder entry per real folder (data offsets moved by
/// the directory's own length) and one file `f<i>` per folder covering its whole data.
fn decoder_directory(dir: &Directory, package: &str) -> Result<Vec<u8>> {
    let count = dir.folders.len();
    let reserve = dir.data_reserve > 0;
    let names: Vec<String> = (0..count).map(|i| format!("f{i}")).collect();
    let len = 36 + if reserve { 4 } else { 0 } + 8 * count + names.iter().map(|n| 17 + n.len()).sum::<usize>();
    let files_offset = 36 + if reserve { 4 } else { 0 } + 8 * count;
    let too_big = || Error::Unsupported {
        package: package.to_owned(),
        member: None,
        detail: "cabinet too large for the decoder (offsets past 4 GiB)".to_owned(),
    };
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(b"MSCF");
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&u32::try_from(len).map_err(|_| too_big())?.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&u32::try_from(files_offset).map_err(|_| too_big())?.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&[3, 1]);
    let count16 = u16::try_from(count).map_err(|_| too_big())?;
    out.extend_from_slice(&count16.to_le_bytes());
    out.extend_from_slice(&count16.to_le_bytes());
    out.extend_from_slice(&(if reserve { 0x0004u16 } else { 0 }).to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    if reserve {
        out.extend_from_slice(&[0, 0, 0, dir.data_reserve]);
    }
    for folder in &dir.folders {
        let offset = u32::try_from(folder.data_offset + len as u64).map_err(|_| too_big())?;
        // A Quantum folder is never decoded (refused before); give the decoder a type it parses.
        let bits = match folder.compression {
            Compression::Quantum { .. } => Compression::None.to_type_bits(),
            c => c.to_type_bits(),
        };
        out.extend_from_slice(&offset.to_le_bytes());
        out.extend_from_slice(&folder.blocks.to_le_bytes());
        out.extend_from_slice(&bits.to_le_bytes());
    }
    for (i, (folder, name)) in dir.folders.iter().zip(&names).enumerate() {
        let size = u32::try_from(folder.uncompressed).map_err(|_| too_big())?;
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(i as u16).to_le_bytes());
        out.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        out.extend_from_slice(name.as_bytes());
        out.push(0);
    }
    debug_assert_eq!(out.len(), len);
    Ok(out)
}

/// A cabinet opened for reading.
///
/// Lookups by name are case-insensitive and accept `\` or `/`, as Windows does. Members and sizes
/// come from the checked directory; reading enforces the [`Limits`] on the bytes actually decoded.
pub struct Cabinet<R> {
    package: String,
    limits: Limits,
    depth: u32,
    budget: Arc<Budget>,
    members: Vec<MemberInfo>,
    by_key: HashMap<String, usize>,
    folders: Vec<FolderInfo>,
    cabinet_size: u64,
    file_size: u64,
    header_reserve: Vec<u8>,
    data_read: Arc<AtomicU64>,
    decoder: cab::Cabinet<Overlay<R>>,
}

impl<R> fmt::Debug for Cabinet<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cabinet")
            .field("package", &self.package)
            .field("depth", &self.depth)
            .field("members", &self.members.len())
            .field("folders", &self.folders.len())
            .field("cabinet_size", &self.cabinet_size)
            .field("file_size", &self.file_size)
            .finish_non_exhaustive()
    }
}

impl Cabinet<BufReader<File>> {
    /// Opens the cabinet (or MSU) at `path`; errors name it by its path.
    pub fn open(path: impl AsRef<Path>, limits: Limits) -> Result<Self> {
        let path = path.as_ref();
        let package = path.display().to_string();
        let (file, _) = crate::regular_file::open_regular(path).map_err(|source| Error::Io {
            package: package.clone(),
            member: None,
            source,
        })?;
        Cabinet::new(BufReader::new(file), package, limits)
    }
}

impl<R: Read + Seek> Cabinet<R> {
    /// Reads and checks the directory of the cabinet in `reader`. `package` names it in errors.
    pub fn new(reader: R, package: impl Into<String>, limits: Limits) -> Result<Self> {
        Cabinet::build(reader, package.into(), limits, 0, Arc::new(Budget::new(limits.max_total_bytes)))
    }

    /// Like [`Cabinet::new`] for a cab found inside another package at nesting `depth` (1 for the
    /// inner cab of an MSU). Fails with [`Error::TooDeep`] past `limits.max_nesting`.
    pub fn new_nested(reader: R, package: impl Into<String>, limits: Limits, depth: u32) -> Result<Self> {
        let package = package.into();
        if depth > limits.max_nesting {
            return Err(Error::TooDeep { package, member: None, depth, max: limits.max_nesting });
        }
        Cabinet::build(reader, package, limits, depth, Arc::new(Budget::new(limits.max_total_bytes)))
    }

    fn build(mut reader: R, package: String, limits: Limits, depth: u32, budget: Arc<Budget>) -> Result<Self> {
        let dir = directory::parse(&mut reader, &package, &limits)?;

        let mut members = Vec::with_capacity(dir.files.len());
        let mut by_key: HashMap<String, usize> = HashMap::with_capacity(dir.files.len());
        for file in &dir.files {
            let path = normalize_member_name(&file.name).map_err(|reason| Error::UnsafeMemberName {
                package: package.clone(),
                member: file.name.clone(),
                reason,
            })?;
            let key = member_key(&path);
            if let Some(&first) = by_key.get(&key) {
                return Err(Error::DuplicateMember {
                    package,
                    member: file.name.clone(),
                    first: members.get(first).map(|m: &MemberInfo| m.name.clone()).unwrap_or_default(),
                });
            }
            by_key.insert(key, members.len());
            members.push(MemberInfo {
                name: file.name.clone(),
                path,
                size: u64::from(file.size),
                folder: file.folder,
                compression: dir.folders[usize::from(file.folder)].compression,
                offset: u64::from(file.offset),
                attributes: file.attributes,
                dos_date: file.date,
                dos_time: file.time,
            });
        }
        let folders = dir
            .folders
            .iter()
            .map(|f| FolderInfo {
                compression: f.compression,
                data_blocks: f.blocks,
                data_offset: f.data_offset,
                uncompressed_size: f.uncompressed,
                compressed_size: f.compressed,
            })
            .collect();

        let data_read = Arc::new(AtomicU64::new(0));
        let overlay = Overlay {
            directory: decoder_directory(&dir, &package)?,
            inner: reader,
            pos: 0,
            inner_pos: None,
            data_read: Arc::clone(&data_read),
        };
        let decoder = cab::Cabinet::new(overlay).map_err(|e| Error::from_io(&package, None, e))?;
        Ok(Cabinet {
            package,
            limits,
            depth,
            budget,
            members,
            by_key,
            folders,
            cabinet_size: dir.cabinet_size,
            file_size: dir.file_size,
            header_reserve: dir.header_reserve,
            data_read,
            decoder,
        })
    }

    /// The package's name in errors: its path, or `outer!inner` for a nested cab.
    pub fn package(&self) -> &str {
        &self.package
    }

    /// Bytes decoded so far and counted against `max_total_bytes` (this cabinet's and those nested
    /// in it or sharing its count): members read, and the bytes decoded to reach them.
    pub fn bytes_decoded(&self) -> u64 {
        self.budget.used()
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Nesting depth: 0 for a package opened from disk, 1 for the inner cab of an MSU …
    pub fn depth(&self) -> u32 {
        self.depth
    }

    /// The members, in directory order.
    pub fn members(&self) -> &[MemberInfo] {
        &self.members
    }

    /// The folders.
    pub fn folders(&self) -> &[FolderInfo] {
        &self.folders
    }

    /// The member called `name` (case-insensitive; `\` or `/`).
    pub fn member(&self, name: &str) -> Option<&MemberInfo> {
        self.by_key.get(&member_key(name)).map(|&i| &self.members[i])
    }

    /// Whether a member called `name` exists (case-insensitive; `\` or `/`).
    pub fn contains(&self, name: &str) -> bool {
        self.by_key.contains_key(&member_key(name))
    }

    /// `cbCabinet`: the size the header declares.
    pub fn cabinet_size(&self) -> u64 {
        self.cabinet_size
    }

    /// Bytes after the cabinet proper: the Authenticode signature of a signed cabinet.
    pub fn trailing_bytes(&self) -> u64 {
        self.file_size - self.cabinet_size
    }

    /// The header's reserved area (20 bytes in a signed cabinet, pointing at the signature).
    pub fn header_reserve(&self) -> &[u8] {
        &self.header_reserve
    }

    /// Whether the cabinet carries an appended signature: the 20-byte header reserve Microsoft's
    /// signing tools write (`0x00100000`, offset of the signature = `cbCabinet`, its size) with a
    /// signature of that size after the cabinet.
    pub fn is_signed(&self) -> bool {
        let r = &self.header_reserve;
        if r.len() != 20 || r[..4] != [0, 0, 0x10, 0] {
            return false;
        }
        let offset = u64::from(u32::from_le_bytes([r[4], r[5], r[6], r[7]]));
        let size = u64::from(u32::from_le_bytes([r[8], r[9], r[10], r[11]]));
        offset == self.cabinet_size && size > 0 && offset + size <= self.file_size
    }

    fn index_of(&self, name: &str) -> Result<usize> {
        self.by_key
            .get(&member_key(name))
            .copied()
            .ok_or_else(|| Error::MemberNotFound { package: self.package.clone(), member: name.to_owned() })
    }

    /// The checks made before decoding anything of `folder` for a member of `size` bytes.
    fn check_before_decoding(&self, member: &MemberInfo) -> Result<()> {
        check_member(&self.package, &self.limits, &self.folders, &self.budget, member)
    }

    fn guard_state(&self, member: &MemberInfo) -> GuardState {
        GuardState {
            package: self.package.clone(),
            member: member.name.clone(),
            limits: self.limits,
            budget: Arc::clone(&self.budget),
            data_read: Some(Arc::clone(&self.data_read)),
            data_read_start: self.data_read.load(Ordering::Relaxed),
        }
    }

    /// A reader of one member's bytes. Errors met while reading come out of `Read` as `io::Error`s
    /// carrying an [`Error`] (get it back with [`Error::from_io`]); a member whose data ends early
    /// is an error, never a short read.
    ///
    /// The folder is decoded from its start up to the member (solid compression leaves no
    /// shortcut), and those bytes count against `max_total_bytes` like the member's own: opening
    /// the members of a big solid folder one by one is quadratic, and the budget is what bounds it.
    /// Reading many members goes through [`for_each_member_where`](Self::for_each_member_where).
    pub fn open_member(&mut self, name: &str) -> Result<MemberReader<'_, R>> {
        let member = self.members[self.index_of(name)?].clone();
        self.check_before_decoding(&member)?;
        self.budget.check(member.offset.saturating_add(member.size), &self.package, Some(&member.name))?;
        let state = self.guard_state(&member);
        let mut file = self
            .decoder
            .read_file(&format!("f{}", member.folder))
            .map_err(|e| Error::from_io(&self.package, Some(&member.name), e))?;
        let mut skipped = Guard { inner: &mut file, state, folder_pos: 0, remaining: member.offset };
        drain(&mut skipped)?;
        let Guard { state, .. } = skipped;
        let guard = Guard { inner: file, state, folder_pos: member.offset, remaining: member.size };
        guard.check_ratio()?;
        Ok(MemberReader { guard })
    }

    /// Reads one member whole, refusing (before decoding) one larger than `limit` bytes.
    pub fn read_member(&mut self, name: &str, limit: u64) -> Result<Vec<u8>> {
        let member = self.members[self.index_of(name)?].clone();
        if member.size > limit {
            return Err(Error::TooLarge {
                package: self.package.clone(),
                member: Some(member.name),
                limit: LimitKind::ReadLimit,
                size: member.size,
                max: limit,
            });
        }
        let package = self.package.clone();
        let mut reader = self.open_member(name)?;
        let mut out = Vec::with_capacity(member.size as usize);
        reader.read_to_end(&mut out).map_err(|e| Error::from_io(&package, Some(&member.name), e))?;
        Ok(out)
    }

    /// Calls `f` with every member and a reader of its bytes, decoding each folder once (reading
    /// members one by one with [`open_member`](Self::open_member) decodes a folder from its start
    /// for every member). Members come folder by folder, in the order of their data. Bytes `f`
    /// leaves unread are skipped. Stops at the first error, `f`'s or the reader's.
    pub fn for_each_member<E, F>(&mut self, f: F) -> std::result::Result<(), E>
    where
        E: From<Error>,
        F: FnMut(&MemberInfo, &mut dyn Read) -> std::result::Result<(), E>,
    {
        self.for_each_member_where(&|_| true, f)
    }

    /// Like [`for_each_member`](Self::for_each_member), for the members `wanted` accepts only, and
    /// with the checks and counts of [`open_member`](Self::open_member): each folder holding a
    /// wanted member is decoded once, front to back, up to its last wanted member; every byte
    /// decoded counts against `max_total_bytes`, the bytes between wanted members too (they are
    /// decoded and dropped), and a folder whose bytes to decode would pass the budget is refused
    /// before any of it is decoded; each member is checked just before it is read. Visiting `n`
    /// members of one solid folder costs one decode of the folder, where `n` calls of
    /// `open_member` cost up to `n`.
    pub fn for_each_member_where<E, F>(&mut self, wanted: &dyn Fn(&MemberInfo) -> bool, mut f: F) -> Result<(), E>
    where
        E: From<Error>,
        F: FnMut(&MemberInfo, &mut dyn Read) -> Result<(), E>,
    {
        let mut order: Vec<usize> = (0..self.members.len()).filter(|&i| wanted(&self.members[i])).collect();
        order.sort_by_key(|&i| (self.members[i].folder, self.members[i].offset, i));
        let mut start = 0;
        while start < order.len() {
            let folder = self.members[order[start]].folder;
            let end = start + order[start..].iter().take_while(|&&i| self.members[i].folder == folder).count();
            let first = self.members[order[start]].clone();
            check_member(&self.package, &self.limits, &self.folders, &self.budget, &first)?;
            let decoded = order[start..end].iter().map(|&i| self.members[i].offset + self.members[i].size).max();
            self.budget.check(decoded.unwrap_or(0), &self.package, Some(&first.name))?;
            let mut state = self.guard_state(&first);
            let Cabinet { decoder, members, package, limits, folders, budget, .. } = self;
            let mut file =
                decoder.read_file(&format!("f{folder}")).map_err(|e| Error::from_io(package, Some(&first.name), e))?;
            let mut pos = 0u64;
            for &i in &order[start..end] {
                let member = &members[i];
                check_member(package, limits, folders, budget, member)?;
                state.member.clone_from(&member.name);
                if member.offset > pos {
                    // Bytes up to the member (unwanted members, or a gap): decoded, counted, dropped.
                    // Members never overlap (the directory check), so the decoder only goes forward.
                    let mut skipped =
                        Guard { inner: &mut file, state, folder_pos: pos, remaining: member.offset - pos };
                    drain(&mut skipped)?;
                    state = skipped.state;
                }
                // `max`: an empty member may sit inside another's span (the overlap check skips them).
                pos = pos.max(member.offset + member.size);
                let mut guard = Guard { inner: &mut file, state, folder_pos: member.offset, remaining: member.size };
                guard.check_ratio()?;
                f(member, &mut guard)?;
                drain(&mut guard)?;
                state = guard.state;
            }
            start = end;
        }
        Ok(())
    }

    /// Opens the member `name`, itself a cabinet, as a [`Cabinet`] one level deeper, named
    /// `<this package>!<member>`. It shares this cabinet's limits and its `max_total_bytes` count.
    /// Up to [`SPOOL_IN_MEMORY_MAX`] bytes it is read into memory, beyond that into an unlinked
    /// temporary file in `scratch_dir` (the system's temporary folder when `None`).
    pub fn open_nested(&mut self, name: &str, scratch_dir: Option<&Path>) -> Result<Cabinet<Spooled>> {
        let member = self.members[self.index_of(name)?].clone();
        let depth = self.depth + 1;
        if depth > self.limits.max_nesting {
            return Err(Error::TooDeep {
                package: self.package.clone(),
                member: Some(member.name),
                depth,
                max: self.limits.max_nesting,
            });
        }
        let spooled = if member.size <= SPOOL_IN_MEMORY_MAX {
            Spooled::Memory(Cursor::new(self.read_member(name, SPOOL_IN_MEMORY_MAX)?))
        } else {
            let io_err =
                |source| Error::Io { package: self.package.clone(), member: Some(member.name.clone()), source };
            let mut file = match scratch_dir {
                Some(dir) => tempfile::tempfile_in(dir),
                None => tempfile::tempfile(),
            }
            .map_err(io_err)?;
            let package = self.package.clone();
            let mut reader = self.open_member(name)?;
            copy_out(&mut reader, &mut file, &package, &member.name)?;
            file.seek(SeekFrom::Start(0)).map_err(|source| Error::Io {
                package: package.clone(),
                member: Some(member.name.clone()),
                source,
            })?;
            Spooled::File(BufReader::new(file))
        };
        let package = format!("{}!{}", self.package, member.name);
        Cabinet::build(spooled, package, self.limits, depth, Arc::clone(&self.budget))
    }
}

/// The checks made before decoding anything of a member's folder (see
/// [`Cabinet::check_before_decoding`]); a free function so that it can run while the decoder is
/// borrowed.
fn check_member(
    package: &str,
    limits: &Limits,
    folders: &[FolderInfo],
    budget: &Budget,
    member: &MemberInfo,
) -> Result<()> {
    let err_member = || Some(member.name.clone());
    if member.size > limits.max_member_bytes {
        return Err(Error::TooLarge {
            package: package.to_owned(),
            member: err_member(),
            limit: LimitKind::MemberBytes,
            size: member.size,
            max: limits.max_member_bytes,
        });
    }
    let folder = &folders[usize::from(member.folder)];
    if let Compression::Quantum { .. } = folder.compression {
        return Err(Error::Unsupported {
            package: package.to_owned(),
            member: err_member(),
            detail: format!("{} compression", folder.compression),
        });
    }
    // The declared sizes are exactly what the decoder will produce, so a folder whose totals
    // break the ratio is refused before any work.
    if limits.ratio_exceeded(folder.uncompressed_size, folder.compressed_size) {
        return Err(Error::Ratio {
            package: package.to_owned(),
            member: err_member(),
            ratio: folder.uncompressed_size / folder.compressed_size.max(1),
            max: limits.max_ratio,
        });
    }
    budget.check(member.size, package, Some(&member.name))
}

/// Copies a member out, telling read errors (the package's) from write errors (the spool's).
fn copy_out(reader: &mut dyn Read, out: &mut dyn Write, package: &str, member: &str) -> Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::from_io(package, Some(member), e)),
        };
        out.write_all(&buf[..n]).map_err(|source| Error::Io {
            package: package.to_owned(),
            member: Some(member.to_owned()),
            source,
        })?;
    }
}

fn drain<I: Read>(guard: &mut Guard<I>) -> Result<()> {
    let mut buf = [0u8; 8192];
    loop {
        match guard.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::from_io(&guard.state.package, Some(&guard.state.member), e)),
        }
    }
}

/// What a [`Guard`] needs to judge the bytes going through it.
pub(crate) struct GuardState {
    pub(crate) package: String,
    pub(crate) member: String,
    pub(crate) limits: Limits,
    pub(crate) budget: Arc<Budget>,
    /// Bytes read from the file so far, for the ratio; `None` when nothing is decompressed.
    data_read: Option<Arc<AtomicU64>>,
    data_read_start: u64,
}

/// Reads exactly `remaining` bytes of a member, counting them against the limits.
pub(crate) struct Guard<I> {
    pub(crate) inner: I,
    pub(crate) state: GuardState,
    /// Position in the folder's decoded stream (for the ratio).
    folder_pos: u64,
    remaining: u64,
}

impl<I> Guard<I> {
    fn check_ratio(&self) -> Result<()> {
        let Some(data_read) = &self.state.data_read else { return Ok(()) };
        let compressed = data_read.load(Ordering::Relaxed).saturating_sub(self.state.data_read_start);
        if self.state.limits.ratio_exceeded(self.folder_pos, compressed) {
            return Err(Error::Ratio {
                package: self.state.package.clone(),
                member: Some(self.state.member.clone()),
                ratio: self.folder_pos / compressed.max(1),
                max: self.state.limits.max_ratio,
            });
        }
        Ok(())
    }
}

impl<I: Read> Read for Guard<I> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = match self.inner.read(&mut buf[..want]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(e),
            Err(e) => return Err(Error::from_io(&self.state.package, Some(&self.state.member), e).into()),
        };
        if n == 0 {
            return Err(Error::Truncated {
                package: self.state.package.clone(),
                member: Some(self.state.member.clone()),
                detail: format!("the data ends {} bytes early", self.remaining),
            }
            .into());
        }
        self.state.budget.take(n as u64, &self.state.package, Some(&self.state.member))?;
        self.remaining -= n as u64;
        self.folder_pos += n as u64;
        self.check_ratio()?;
        Ok(n)
    }
}

/// The bytes of one member ([`Cabinet::open_member`]).
pub struct MemberReader<'a, R: Read + Seek> {
    guard: Guard<cab::FileReader<'a, Overlay<R>>>,
}

impl<R: Read + Seek> MemberReader<'_, R> {
    /// Bytes not read yet.
    pub fn remaining(&self) -> u64 {
        self.guard.remaining
    }
}

impl<R: Read + Seek> Read for MemberReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.guard.read(buf)
    }
}

impl<R: Read + Seek> fmt::Debug for MemberReader<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemberReader")
            .field("package", &self.guard.state.package)
            .field("member", &self.guard.state.member)
            .field("remaining", &self.guard.remaining)
            .finish()
    }
}

/// A reader of a file of a package folder on disk, counted like a cabinet member (no ratio: the
/// bytes are not decompressed).
pub(crate) fn plain_guard<I: Read>(
    inner: I,
    package: &str,
    member: &str,
    size: u64,
    limits: Limits,
    budget: Arc<Budget>,
) -> Guard<I> {
    Guard {
        inner,
        state: GuardState {
            package: package.to_owned(),
            member: member.to_owned(),
            limits,
            budget,
            data_read: None,
            data_read_start: 0,
        },
        folder_pos: 0,
        remaining: size,
    }
}
