//! Opening files for writing without following a planted symbolic link or clobbering a file that
//! has another name (a hard link planted to a file outside the tree).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use crate::refused;

const NOFOLLOW: i32 = libc::O_NOFOLLOW | libc::O_CLOEXEC;

/// Creates `path`, which must not exist (not even as a dangling symbolic link), mode 0666 minus
/// the umask, open for reading and writing.
pub fn create_new(path: &Path) -> io::Result<File> {
    create_new_mode(path, 0o666)
}

/// [`create_new`] with `mode` (before the umask).
pub fn create_new_mode(path: &Path, mode: u32) -> io::Result<File> {
    OpenOptions::new().read(true).write(true).create_new(true).mode(mode).custom_flags(NOFOLLOW).open(path)
}

/// Creates `path` afresh: whatever had that name (a file, a planted link) is unlinked first, never
/// written through; then as [`create_new`]. For files of our own working folders that a retry may
/// find already there.
pub fn create_fresh(path: &Path) -> io::Result<File> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    create_new(path)
}

/// Writes `bytes` to a fresh `path` (see [`create_fresh`]); not synced (working files).
pub fn write_fresh(path: &Path, bytes: &[u8]) -> io::Result<()> {
    io::Write::write_all(&mut create_fresh(path)?, bytes)
}

/// Opens `path` for appending, creating it when missing. A symbolic link is refused (`O_NOFOLLOW`),
/// and so is anything but a regular file with one name: a planted hard link to another file would
/// otherwise be appended to.
pub fn open_append(path: &Path) -> io::Result<File> {
    reopen(path, OpenOptions::new().append(true))
}

/// Opens `path` read-write for a lock, creating it when missing; the same checks as
/// [`open_append`].
pub fn open_lock(path: &Path) -> io::Result<File> {
    reopen(path, OpenOptions::new().read(true).write(true).truncate(false))
}

/// Empties the regular file `path` (its data gone, the file kept), with the checks of
/// [`open_append`]: never through a symbolic link or into a file with another name.
pub fn empty_file(path: &Path) -> io::Result<()> {
    reopen(path, OpenOptions::new().write(true).truncate(false))?.set_len(0)
}

/// Opens the existing file `path` read-write (never creating it), following links: for the file a
/// user named (a WIM reached through a link of theirs), to lock it by identity.
pub fn open_existing_rw(path: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).write(true).custom_flags(libc::O_CLOEXEC | libc::O_NONBLOCK).open(path)
}

/// Opens `path` for reading when it is a regular file: a symbolic link, FIFO, device or folder is
/// refused before anything blocks on it.
pub fn open_regular(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| explain(path, e))?;
    if !file.metadata()?.is_file() {
        return Err(refused(path, "not a regular file"));
    }
    Ok(file)
}

/// Reads the regular file `path` (no symbolic link followed) whole, refusing one larger than `max`
/// bytes before reading it: the bounded read of a file the input controls.
pub fn read_bounded(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut file = open_regular(path)?;
    let len = file.metadata()?.len();
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {len} bytes, more than the {max} read at most", path.display()),
        ));
    }
    let mut out = Vec::with_capacity(len as usize);
    file.by_ref().take(max.saturating_add(1)).read_to_end(&mut out)?;
    if out.len() as u64 > max {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("{}: grew past {max} bytes", path.display())));
    }
    Ok(out)
}

/// Opens a path the user named (a package, a WIM, a content blob the site recorded) for reading,
/// with its size at open: symbolic links are followed, as `open` does, but only a regular file is
/// read. `O_NONBLOCK` makes opening a FIFO return at once (it would block until a writer came) and
/// `fstat` on the handle judges what was really opened, so a path swapped between a check and the
/// open cannot slip through. Anything else is an [`io::ErrorKind::InvalidInput`] error saying what
/// it is.
pub fn open_input(path: &Path) -> io::Result<(File, u64)> {
    let file =
        OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC).open(path)?;
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: refused, only regular files are read", kind_of(meta.file_type())),
        ));
    }
    Ok((file, meta.len()))
}

/// What a non-regular file is, for errors.
fn kind_of(t: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Copies the regular file `src` to `dest`, which must not exist; returns the bytes copied.
pub fn copy_new(src: &Path, dest: &Path) -> io::Result<u64> {
    let mut from = open_regular(src)?;
    let mut to = create_new_mode(dest, from.metadata()?.mode() & 0o777)?;
    io::copy(&mut from, &mut to)
}

/// Renames `from` to `to`. `rename(2)` never follows a symbolic link at either end (one at `to` is
/// replaced, not written through), so this is the plain call, kept here so the ban stays simple.
pub fn rename(from: &Path, to: &Path) -> io::Result<()> {
    std::fs::rename(from, to)
}

/// Makes `link` (which must not exist) another name of `original`. `link(2)` does not follow a
/// symbolic link at `original` on Linux and never writes through `link`.
pub fn hard_link(original: &Path, link: &Path) -> io::Result<()> {
    std::fs::hard_link(original, link)
}

/// Opens (creating when missing) a file we reopen run after run, with `O_NOFOLLOW`, and checks it
/// is a regular file with one name.
fn reopen(path: &Path, options: &mut OpenOptions) -> io::Result<File> {
    let file = options
        .create(true)
        .mode(0o666)
        .custom_flags(NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| explain(path, e))?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(refused(path, "not a regular file"));
    }
    if meta.nlink() > 1 {
        return Err(refused(path, "has other names (a hard link); refusing to write through it"));
    }
    Ok(file)
}

/// `ELOOP` from `O_NOFOLLOW` means "a symbolic link": say so.
fn explain(path: &Path, e: io::Error) -> io::Error {
    if e.raw_os_error() == Some(libc::ELOOP) {
        refused(path, "is a symbolic link; refusing to follow it")
    } else {
        e
    }
}
