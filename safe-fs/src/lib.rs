//! The one place wimpatch writes to the filesystem. Every file is created with `O_EXCL|O_NOFOLLOW`
//! (or, for logs and locks that are reopened, `O_NOFOLLOW` and a check that it is a regular file with
//! one name), folders are created without following links, a file is replaced by a temp file created
//! beside it and renamed over it, and paths inside a target tree are resolved without leaving it or
//! following a symbolic link. Untrusted trees (a directory target, a distribution point, scratch and
//! log folders others can write to) may hold planted links; none of these calls follows one.
//!
//! `clippy.toml` bans the raw `std::fs` write calls everywhere else, so a new write has to come here.

#![forbid(unsafe_code)]
// This module is where the banned raw calls are allowed: each is wrapped with the checks above.
#![allow(clippy::disallowed_methods)]

mod dir;
mod file;
mod lock;
mod owner;
mod placement;
mod replace;
mod tree;

pub use dir::{create_dir, create_dir_all, create_dir_all_under, create_private_dir};
pub use file::{
    copy_new, create_fresh, create_new, create_new_mode, empty_file, hard_link, open_append, open_existing_rw,
    open_input, open_lock, open_regular, read_bounded, rename, write_fresh,
};
pub use lock::{try_lock_identity, unlock_identity};
pub use owner::{check_private_dir, effective_uid};
pub use placement::spread_subfolders;
pub use replace::{replace_with, temp_beside, write_atomic};
pub use tree::{refuse_symlink, resolve_under};

use std::io;
use std::path::Path;

/// An `io::Error` saying why `path` was refused (`InvalidInput`, so callers tell it from an I/O
/// failure).
pub(crate) fn refused(path: &Path, why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("{}: {why}", path.display()))
}
