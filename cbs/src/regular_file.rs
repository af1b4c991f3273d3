//! Opening a path named by untrusted input for reading, as a regular file only.
//!
//! A FIFO opened for reading blocks until a writer comes (forever, if none does), and a character
//! device such as `/dev/zero` never ends: given as a package path, or planted as a content-library
//! blob, either hung the process while it held the WIM lock or left a site job In Process
//! (issue 17). [`open_regular`] opens with `O_NONBLOCK` (which makes opening a FIFO return at once
//! and is meaningless for a regular file), checks the handle with `fstat` (so a path swapped
//! between a check and the open cannot slip through) and refuses anything but a regular file.
//! [`BoundedFile`] then reads no more than the size `fstat` recorded: a file that grows while it
//! is read is an error, not an endless stream.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

/// Opens `path` for reading if it is a regular file (following symbolic links, like `open`), with
/// its size at open; anything else is refused without blocking ([`safe_fs::open_input`]).
pub fn open_regular(path: &Path) -> io::Result<(File, u64)> {
    safe_fs::open_input(path)
}

/// A regular file that reads at most the size it had when opened; a byte past it (the file grew)
/// is an error.
#[derive(Debug)]
pub struct BoundedFile {
    file: File,
    size: u64,
    pos: u64,
}

impl BoundedFile {
    /// [`open_regular`], bounded by the size at open.
    pub fn open(path: &Path) -> io::Result<BoundedFile> {
        let (file, size) = open_regular(path)?;
        Ok(BoundedFile { file, size, pos: 0 })
    }

    /// The size at open.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The file, for what needs the handle itself (sync, metadata).
    pub fn get_ref(&self) -> &File {
        &self.file
    }
}

impl Read for BoundedFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.size.saturating_sub(self.pos);
        if left == 0 {
            // One probe byte: a file that grew since it was opened is not read on and on.
            let mut probe = [0u8; 1];
            return match self.file.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("the file grew past its size at open ({} bytes) while it was read", self.size),
                )),
            };
        }
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.file.read(&mut buf[..want])?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for BoundedFile {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let at = match pos {
            SeekFrom::End(d) => self.file.seek(SeekFrom::Start(
                self.size
                    .checked_add_signed(d)
                    .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?,
            ))?,
            other => self.file.seek(other)?,
        };
        self.pos = at;
        Ok(at)
    }
}
