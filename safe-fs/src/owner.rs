//! Whose folder is it: a default scratch or log folder in a shared place (`/tmp`, `/var/tmp`) that
//! another user created could hold planted links or be swapped under us, so it is refused.

use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::refused;
use crate::tree::refuse_symlink;

/// The effective user id of this process.
pub fn effective_uid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// Checks that the existing folder `path` is a real folder (not a link) that this user owns, or
/// that root owns and no one else can write to.
pub fn check_private_dir(path: &Path) -> io::Result<()> {
    let meta = refuse_symlink(path)?;
    if !meta.is_dir() {
        return Err(refused(path, "is not a folder"));
    }
    let uid = effective_uid();
    let others_write = meta.permissions().mode() & 0o022 != 0;
    if meta.uid() == uid || (meta.uid() == 0 && !others_write) {
        Ok(())
    } else {
        Err(refused(
            path,
            &format!(
                "is owned by user {} (not this user, {uid}); refusing a shared folder another user controls",
                meta.uid()
            ),
        ))
    }
}
