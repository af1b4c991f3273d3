//! Where a file system puts what a folder will hold: a hint, never a condition of success.

use std::io;
use std::path::Path;

use rustix::fs::{ioctl_getflags, ioctl_setflags, IFlags};

/// Marks the folder `path` (not a link) as the top of unrelated trees (ext4's `FS_TOPDIR_FL`,
/// `chattr +T`): each folder made in it is then placed in a file-system group of its own instead of
/// beside its siblings. Returns whether the mark is set; a file system without such flags is not
/// an error.
///
/// Why: ext4 without a journal makes every new inode scan past each inode of its group freed in the
/// last minute or more (`recently_deleted`); a servicing run that creates and removes tens of
/// thousands of scratch files beside the previous run's freed ones pays that scan on every file.
pub fn spread_subfolders(path: &Path) -> io::Result<bool> {
    use std::os::unix::fs::OpenOptionsExt as _;
    // The folder itself, never a link's target (the check names a link in its error; the flag
    // keeps a link swapped in after it from being followed).
    crate::tree::refuse_symlink(path)?;
    let dir = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(path)?;
    let flags = match ioctl_getflags(&dir) {
        Ok(f) => f,
        Err(e) if unsupported(e) => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    if flags.contains(IFlags::TOPDIR) {
        return Ok(true);
    }
    match ioctl_setflags(&dir, flags | IFlags::TOPDIR) {
        Ok(()) => Ok(true),
        Err(e) if unsupported(e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

fn unsupported(e: rustix::io::Errno) -> bool {
    matches!(
        e,
        rustix::io::Errno::NOTTY | rustix::io::Errno::OPNOTSUPP | rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS
    )
}
