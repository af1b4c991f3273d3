//! Resolving a path inside a target tree (an offline Windows folder, a distribution point) without
//! leaving it or following a symbolic link, Windows-style: case-insensitively when asked.

use std::fs::Metadata;
use std::io;
use std::path::{Component, Path, PathBuf};

use crate::refused;

/// The metadata of `path` itself (`lstat`); a symbolic link is refused.
pub fn refuse_symlink(path: &Path) -> io::Result<Metadata> {
    let meta = std::fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() {
        return Err(refused(path, "is a symbolic link; refusing to follow it"));
    }
    Ok(meta)
}

/// Resolves `rel` (`/`- or `\`-separated) below `root` one component at a time; with
/// `ignore_case`, a component not found as written is matched case-insensitively (ASCII), as
/// Windows would. `Ok(None)` when a component does not exist. A component that is a symbolic link,
/// `..` or absolute is refused: the result is always a real path inside `root`.
pub fn resolve_under(root: &Path, rel: &str, ignore_case: bool) -> io::Result<Option<PathBuf>> {
    let mut cur = root.to_path_buf();
    for part in rel.split(['/', '\\']).filter(|p| !p.is_empty() && *p != ".") {
        if !matches!(Path::new(part).components().next(), Some(Component::Normal(_))) || part.contains('\0') {
            return Err(refused(&root.join(rel), "leaves its folder"));
        }
        let exact = cur.join(part);
        let next = if exact.symlink_metadata().is_ok() {
            Some(exact)
        } else if ignore_case {
            std::fs::read_dir(&cur).ok().and_then(|it| {
                it.flatten().find(|e| e.file_name().to_string_lossy().eq_ignore_ascii_case(part)).map(|e| e.path())
            })
        } else {
            None
        };
        let Some(next) = next else { return Ok(None) };
        refuse_symlink(&next)?;
        cur = next;
    }
    Ok(Some(cur))
}
