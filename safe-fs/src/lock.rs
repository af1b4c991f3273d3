//! A lock keyed on a file's identity (its inode), not on the name it was reached by: an open file
//! description lock (`F_OFD_SETLK`) on the file itself, so two names of one file (a symbolic link,
//! a hard link) share it. Unlike classic POSIX locks it is not dropped when another descriptor of
//! the file is closed (wimlib opens and closes the WIM many times), and unlike `flock(2)` it does
//! not collide with the `flock` wimlib takes on the WIM while appending.

use std::fs::File;
use std::io;

use nix::fcntl::{fcntl, FcntlArg};

/// Takes an exclusive lock on the whole of `file` (opened for writing) without waiting:
/// `Ok(false)` when another open file description holds a conflicting lock. Released by
/// [`unlock_identity`], or when the last descriptor of this open file description is closed.
pub fn try_lock_identity(file: &File) -> io::Result<bool> {
    match fcntl(file, FcntlArg::F_OFD_SETLK(&whole_file(libc::F_WRLCK))) {
        Ok(_) => Ok(true),
        Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EACCES) => Ok(false),
        Err(e) => Err(io::Error::from(e)),
    }
}

/// Releases the lock [`try_lock_identity`] took through `file`, at once. Closing is not enough
/// when it must be gone now: a child forked by another thread holds a copy of every descriptor
/// until it execs, and the lock lives as long as any copy does.
pub fn unlock_identity(file: &File) -> io::Result<()> {
    fcntl(file, FcntlArg::F_OFD_SETLK(&whole_file(libc::F_UNLCK))).map(drop).map_err(io::Error::from)
}

/// A `struct flock` of type `l_type` covering the whole file.
fn whole_file(l_type: libc::c_int) -> libc::flock {
    libc::flock {
        l_type: l_type as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 0,
        // OFD locks require 0 here.
        l_pid: 0,
    }
}
