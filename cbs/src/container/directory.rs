//! The cabinet directory: CFHEADER, the CFFOLDER and CFFILE tables, and a walk over every folder's
//! CFDATA block headers, parsed and checked here before a byte of data is decoded.
//!
//! The `cab` crate decodes the data but trusts the directory: an offset past the end of a folder
//! makes it index out of bounds, an uncompressed block whose two sizes differ makes it slice out of
//! range. So this module checks everything the decoder relies on (every block inside the file, each
//! block at most 32 KiB out, stored blocks with equal sizes, members inside their folder's data and
//! not overlapping, folders' data not overlapping) and the decoder is only ever shown a directory
//! rebuilt from these checked values (see `cab.rs`).

use std::io::{self, BufReader, Read, Seek, SeekFrom};

use super::cab::Compression;
use super::error::{Error, LimitKind, Result};
use super::limits::Limits;

const SIGNATURE: &[u8; 4] = b"MSCF";
const HEADER_LEN: u64 = 36;
const FLAG_PREV_CABINET: u16 = 0x0001;
const FLAG_NEXT_CABINET: u16 = 0x0002;
const FLAG_RESERVE_PRESENT: u16 = 0x0004;
const ATTR_NAME_IS_UTF: u16 = 0x0080;
/// The longest header reserve the format allows.
const MAX_HEADER_RESERVE: u16 = 60_000;
/// `CB_MAX_FILENAME`: a member name is at most 256 bytes including its NUL.
const MAX_NAME_BYTES: usize = 255;
/// `CB_MAX_CHUNK`: one CFDATA block decodes to at most 32 KiB.
pub(crate) const MAX_BLOCK_OUT: u64 = 32_768;

/// One folder (a run of data blocks compressed as one stream), as checked.
#[derive(Debug, Clone)]
pub(crate) struct RawFolder {
    pub data_offset: u64,
    pub blocks: u16,
    pub compression: Compression,
    /// Sum of the blocks' decoded sizes.
    pub uncompressed: u64,
    /// Bytes of the folder's data area in the file: block headers, reserves and data.
    pub compressed: u64,
}

/// One CFFILE entry.
#[derive(Debug, Clone)]
pub(crate) struct RawFile {
    pub name: String,
    pub size: u32,
    pub offset: u32,
    pub folder: u16,
    pub date: u16,
    pub time: u16,
    pub attributes: u16,
}

/// The checked directory of a cabinet.
#[derive(Debug, Clone)]
pub(crate) struct Directory {
    /// `cbCabinet`: the cabinet proper; a signature may follow it.
    pub cabinet_size: u64,
    /// The length of the whole stream.
    pub file_size: u64,
    pub header_reserve: Vec<u8>,
    pub data_reserve: u8,
    pub folders: Vec<RawFolder>,
    pub files: Vec<RawFile>,
}

/// A positioned reader over the stream that turns short reads into `Truncated` errors.
struct Input<'a, R: Read + Seek> {
    r: BufReader<&'a mut R>,
    pos: u64,
    package: &'a str,
}

impl<'a, R: Read + Seek> Input<'a, R> {
    fn bytes<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let mut buf = [0u8; N];
        self.r.read_exact(&mut buf).map_err(|e| self.fail(e, what))?;
        self.pos += N as u64;
        Ok(buf)
    }

    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.bytes::<1>(what)?[0])
    }

    fn u16(&mut self, what: &str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.bytes(what)?))
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.bytes(what)?))
    }

    fn seek(&mut self, to: u64, what: &str) -> Result<()> {
        if to != self.pos {
            let delta = to as i128 - self.pos as i128;
            match i64::try_from(delta) {
                Ok(d) => self.r.seek_relative(d),
                Err(_) => self.r.seek(SeekFrom::Start(to)).map(|_| ()),
            }
            .map_err(|e| self.fail(e, what))?;
            self.pos = to;
        }
        Ok(())
    }

    fn fail(&self, e: io::Error, what: &str) -> Error {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            Error::Truncated {
                package: self.package.to_owned(),
                member: None,
                detail: format!("{what} at offset {} is cut off", self.pos),
            }
        } else {
            Error::Io { package: self.package.to_owned(), member: None, source: e }
        }
    }
}

fn corrupt(package: &str, detail: String) -> Error {
    Error::Corrupt { package: package.to_owned(), member: None, detail }
}

fn truncated(package: &str, detail: String) -> Error {
    Error::Truncated { package: package.to_owned(), member: None, detail }
}

/// Reads and checks the directory of the cabinet in `reader`.
pub(crate) fn parse<R: Read + Seek>(reader: &mut R, package: &str, limits: &Limits) -> Result<Directory> {
    let io_err = |source| Error::Io { package: package.to_owned(), member: None, source };
    let file_size = reader.seek(SeekFrom::End(0)).map_err(io_err)?;
    reader.seek(SeekFrom::Start(0)).map_err(io_err)?;
    let mut input = Input { r: BufReader::with_capacity(64 * 1024, reader), pos: 0, package };

    // The signature first, so that a file of another kind is named as such, however short.
    let sig_len = file_size.min(4) as usize;
    let mut sig = [0u8; 4];
    input.r.read_exact(&mut sig[..sig_len]).map_err(|e| input.fail(e, "signature"))?;
    input.pos = sig_len as u64;
    if sig_len == 0 || sig[..sig_len] != SIGNATURE[..sig_len] {
        return Err(Error::NotACabinet { package: package.to_owned() });
    }
    if file_size < HEADER_LEN {
        return Err(truncated(
            package,
            format!("the cabinet header needs {HEADER_LEN} bytes, the file has {file_size}"),
        ));
    }

    let _header_checksum = input.u32("header")?;
    let cabinet_size = u64::from(input.u32("header")?);
    let _reserved2 = input.u32("header")?;
    let files_offset = u64::from(input.u32("header")?);
    let _reserved3 = input.u32("header")?;
    let minor = input.u8("header")?;
    let major = input.u8("header")?;
    let folder_count = input.u16("header")?;
    let file_count = input.u16("header")?;
    let flags = input.u16("header")?;
    let _set_id = input.u16("header")?;
    let _set_index = input.u16("header")?;

    if cabinet_size < HEADER_LEN {
        return Err(corrupt(package, format!("the header declares a cabinet of {cabinet_size} bytes")));
    }
    if cabinet_size > file_size {
        return Err(truncated(package, format!("the header declares {cabinet_size} bytes, the file has {file_size}")));
    }
    if major != 1 {
        return Err(Error::Unsupported {
            package: package.to_owned(),
            member: None,
            detail: format!("cabinet format version {major}.{minor} (only 1.x is defined)"),
        });
    }
    if flags & (FLAG_PREV_CABINET | FLAG_NEXT_CABINET) != 0 {
        return Err(Error::Unsupported {
            package: package.to_owned(),
            member: None,
            detail: "multi-cabinet set (data continued in another cabinet file)".to_owned(),
        });
    }
    if u64::from(file_count) > limits.max_members {
        return Err(Error::TooLarge {
            package: package.to_owned(),
            member: None,
            limit: LimitKind::Members,
            size: u64::from(file_count),
            max: limits.max_members,
        });
    }
    if folder_count == 0 && file_count > 0 {
        return Err(corrupt(package, format!("{file_count} members but no folder")));
    }

    let (mut header_reserve, mut folder_reserve, mut data_reserve) = (Vec::new(), 0u8, 0u8);
    if flags & FLAG_RESERVE_PRESENT != 0 {
        let header_reserve_len = input.u16("reserve sizes")?;
        folder_reserve = input.u8("reserve sizes")?;
        data_reserve = input.u8("reserve sizes")?;
        if header_reserve_len > MAX_HEADER_RESERVE {
            return Err(corrupt(package, format!("header reserve of {header_reserve_len} bytes (at most 60000)")));
        }
        let end = input.pos + u64::from(header_reserve_len);
        if end > cabinet_size {
            return Err(truncated(package, format!("the header reserve ends at {end}, past the cabinet")));
        }
        header_reserve = vec![0u8; usize::from(header_reserve_len)];
        input.r.read_exact(&mut header_reserve).map_err(|e| input.fail(e, "header reserve"))?;
        input.pos = end;
    }

    let folders_start = input.pos;
    let folder_entry = 8 + u64::from(folder_reserve);
    let folders_end = folders_start + u64::from(folder_count) * folder_entry;
    if folders_end > cabinet_size {
        return Err(truncated(package, format!("the folder table ends at {folders_end}, past the cabinet")));
    }
    let mut folders = Vec::with_capacity(usize::from(folder_count));
    for index in 0..folder_count {
        input.seek(folders_start + u64::from(index) * folder_entry, "folder entry")?;
        let data_offset = u64::from(input.u32("folder entry")?);
        let blocks = input.u16("folder entry")?;
        let type_bits = input.u16("folder entry")?;
        let compression = Compression::from_type_bits(type_bits)
            .ok_or_else(|| corrupt(package, format!("folder {index}: unknown compression type 0x{type_bits:04x}")))?;
        folders.push(RawFolder { data_offset, blocks, compression, uncompressed: 0, compressed: 0 });
    }

    if files_offset < folders_end {
        return Err(corrupt(
            package,
            format!("the member table starts at {files_offset}, inside the header and folder table (which end at {folders_end})"),
        ));
    }
    if file_count > 0 && files_offset >= cabinet_size {
        return Err(truncated(package, format!("the member table starts at {files_offset}, past the cabinet")));
    }
    input.seek(files_offset, "member table")?;
    let mut files = Vec::with_capacity(usize::from(file_count));
    for index in 0..file_count {
        if input.pos + 17 > cabinet_size {
            return Err(truncated(package, format!("member entry {index} at {} runs past the cabinet", input.pos)));
        }
        let size = input.u32("member entry")?;
        let offset = input.u32("member entry")?;
        let folder = input.u16("member entry")?;
        let date = input.u16("member entry")?;
        let time = input.u16("member entry")?;
        let attributes = input.u16("member entry")?;
        let mut raw = Vec::new();
        loop {
            if input.pos >= cabinet_size {
                return Err(truncated(package, format!("the name of member entry {index} runs past the cabinet")));
            }
            let b = input.u8("member name")?;
            if b == 0 {
                break;
            }
            if raw.len() == MAX_NAME_BYTES {
                return Err(corrupt(package, format!("member entry {index}: name longer than {MAX_NAME_BYTES} bytes")));
            }
            raw.push(b);
        }
        let name = decode_name(raw, attributes & ATTR_NAME_IS_UTF != 0)
            .map_err(|detail| corrupt(package, format!("member entry {index}: {detail}")))?;
        if folder >= 0xFFFD {
            return Err(Error::Unsupported {
                package: package.to_owned(),
                member: Some(name),
                detail: "member continued from or into another cabinet of a set".to_owned(),
            });
        }
        if folder >= folder_count {
            return Err(Error::Corrupt {
                package: package.to_owned(),
                member: Some(name),
                detail: format!("folder index {folder}, but the cabinet has {folder_count} folders"),
            });
        }
        files.push(RawFile { name, size, offset, folder, date, time, attributes });
    }
    let files_end = input.pos;

    // Every block needs at least its 8-byte header (plus reserve): a cheap bound before walking.
    let block_header = 8 + u64::from(data_reserve);
    let declared_blocks: u64 = folders.iter().map(|f| u64::from(f.blocks)).sum();
    if declared_blocks * block_header > cabinet_size.saturating_sub(files_end) {
        return Err(truncated(
            package,
            format!("the folders declare {declared_blocks} data blocks, more than the rest of the cabinet can hold"),
        ));
    }
    for (index, folder) in folders.iter_mut().enumerate() {
        if folder.blocks == 0 {
            continue;
        }
        if folder.data_offset < files_end {
            return Err(corrupt(
                package,
                format!("folder {index}: data at {} starts inside the cabinet's directory", folder.data_offset),
            ));
        }
        input.seek(folder.data_offset, "data block")?;
        for block in 0..folder.blocks {
            let block_start = input.pos;
            if block_start + block_header > cabinet_size {
                return Err(truncated(
                    package,
                    format!("folder {index}: data block {block} header at {block_start} runs past the cabinet"),
                ));
            }
            let _checksum = input.u32("data block header")?;
            let packed = u64::from(input.u16("data block header")?);
            let unpacked = u64::from(input.u16("data block header")?);
            let data_end = block_start + block_header + packed;
            if data_end > cabinet_size {
                return Err(truncated(
                    package,
                    format!(
                        "folder {index}: data block {block} ({packed} bytes at {block_start}) runs past the cabinet"
                    ),
                ));
            }
            if unpacked > MAX_BLOCK_OUT {
                return Err(corrupt(
                    package,
                    format!("folder {index}: data block {block} declares {unpacked} bytes out (at most 32768)"),
                ));
            }
            if folder.compression == Compression::None && packed != unpacked {
                return Err(corrupt(
                    package,
                    format!("folder {index}: stored data block {block} has {packed} bytes but declares {unpacked}"),
                ));
            }
            folder.uncompressed += unpacked;
            folder.compressed += block_header + packed;
            input.seek(data_end, "data block")?;
        }
    }

    // Two folders reading the same bytes would let a small file decode to many copies.
    let mut ranges: Vec<(u64, u64, usize)> = folders
        .iter()
        .enumerate()
        .filter(|(_, f)| f.blocks > 0)
        .map(|(i, f)| (f.data_offset, f.data_offset + f.compressed, i))
        .collect();
    ranges.sort_unstable();
    for pair in ranges.windows(2) {
        if pair[1].0 < pair[0].1 {
            return Err(corrupt(package, format!("the data of folders {} and {} overlap", pair[0].2, pair[1].2)));
        }
    }

    // Members inside their folder's data, and not sharing bytes (the overlapping-entries bomb).
    for file in &files {
        let folder = &folders[usize::from(file.folder)];
        let end = u64::from(file.offset) + u64::from(file.size);
        if end > folder.uncompressed {
            return Err(Error::Corrupt {
                package: package.to_owned(),
                member: Some(file.name.clone()),
                detail: format!(
                    "declares {} bytes at offset {} of folder {}, which holds {} bytes",
                    file.size, file.offset, file.folder, folder.uncompressed
                ),
            });
        }
    }
    let mut spans: Vec<(u16, u64, u64, usize)> = files
        .iter()
        .enumerate()
        .filter(|(_, f)| f.size > 0)
        .map(|(i, f)| (f.folder, u64::from(f.offset), u64::from(f.offset) + u64::from(f.size), i))
        .collect();
    spans.sort_unstable();
    for pair in spans.windows(2) {
        if pair[0].0 == pair[1].0 && pair[1].1 < pair[0].2 {
            return Err(Error::Corrupt {
                package: package.to_owned(),
                member: Some(files[pair[1].3].name.clone()),
                detail: format!("shares bytes of folder {} with member {:?}", pair[1].0, files[pair[0].3].name),
            });
        }
    }

    Ok(Directory { cabinet_size, file_size, header_reserve, data_reserve, folders, files })
}

/// Member names are UTF-8 when the entry says so; otherwise they are in the packer's code page,
/// which the cabinet does not record: valid UTF-8 is taken as such, anything else byte by byte as
/// Latin-1 (lossless, so two different names never become one).
fn decode_name(raw: Vec<u8>, utf8_flag: bool) -> std::result::Result<String, String> {
    match String::from_utf8(raw) {
        Ok(s) => Ok(s),
        Err(e) if utf8_flag => Err(format!("name marked UTF-8 is not UTF-8 ({e})")),
        Err(e) => Ok(e.into_bytes().iter().map(|&b| char::from(b)).collect()),
    }
}
