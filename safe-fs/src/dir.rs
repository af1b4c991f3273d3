//! Creating folders without following a symbolic link planted where a folder is expected.

use std::io;
use std::path::{Component, Path, PathBuf};

use crate::refused;
use crate::tree::refuse_symlink;

/// Creates the folder `path` (its parent must exist). An existing folder is fine; an existing
/// symbolic link, even to a folder, is refused.
pub fn create_dir(path: &Path) -> io::Result<()> {
    match std::fs::create_dir(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            if refuse_symlink(path)?.is_dir() {
                Ok(())
            } else {
                Err(refused(path, "exists and is not a folder"))
            }
        }
        Err(e) => Err(e),
    }
}

/// Creates the folder `path` (its parent must exist) readable by this user only (0700), or accepts
/// an existing one this user owns ([`crate::check_private_dir`]); a link, or a folder another user
/// owns, is refused.
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    match std::fs::DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => crate::check_private_dir(path),
        Err(e) => Err(e),
    }
}

/// Creates the folder `path` and its missing parents. The part of `path` that already exists is the
/// caller's (a path the user gave may go through links they chose); every folder created here is
/// created by `mkdir(2)`, which never follows a link. For folders inside a tree others can write to,
/// use [`create_dir_all_under`].
pub fn create_dir_all(path: &Path) -> io::Result<()> {
    std::fs::create_dir_all(path)
}

/// Creates `root/rel` and its missing parents below `root`, and returns it. `root` is trusted;
/// below it no component may be a symbolic link or leave it (`..`, an absolute path).
pub fn create_dir_all_under(root: &Path, rel: &Path) -> io::Result<PathBuf> {
    let mut cur = root.to_path_buf();
    for part in rel.components() {
        match part {
            Component::Normal(name) => cur.push(name),
            Component::CurDir => continue,
            _ => return Err(refused(&root.join(rel), "leaves its folder")),
        }
        create_dir(&cur)?;
    }
    Ok(cur)
}
