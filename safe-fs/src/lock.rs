//! A lock keyed on a file's identity (its inode), not on the name it was reached by: an open file
//! description lock (`F_OFD_SETLK`) on the file itself, so two names of one file (a symbolic link,
//! a hard link) share it. Unlike classic POSIX locks it is not dropped when another descriptor of
//! the file is closed (wimlib opens and closes the WIM many times), and unlike `flock(2)` it does
//! not collide with the `flock` wimlib takes on the WIM while appending.

use std::fs::File;
use std::io;

use nix::fcntl::{fcntl, FcntlArg};

/// Takes an exclusive lock on the whole of `file` (opened for writing) without waiting:
/// `Ok(false)` when another open file description holds a conflicting lock. Released when the last
/// descriptor of this open file description is closed.
pub fn try_lock_identity(file: &File) -> io::Result<bool> {
    let whole = libc::flock {
        l_type: libc::F_WRLCK as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 0,
        // OFD locks require 0 here.
        l_pid: 0,
    };
    match fcntl(file, FcntlArg::F_OFD_SETLK(&whole)) {
        Ok(_) => Ok(true),
        Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EACCES) => Ok(false),
        Err(e) => Err(io::Error::from(e)),
    }
}
