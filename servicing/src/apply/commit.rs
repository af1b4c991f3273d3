//! Writing a run's staged result into the target. A WIM image gets one wimlib update batch (each
//! staging tree added at the image root, merged into the existing folders; the edited hives replace the
//! old ones) committed in append mode under the writer lock: the cost follows the package, not the
//! image, and a kill at any point leaves the old or the new image (the header is written last). A
//! directory gets the files moved in, hard links kept, the hives last.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::error::{Error, Result};
use super::session::Finish;
use super::target::{resolve_ci, Session};
use crate::progress::Control;
use crate::wim::{Commit, UpdateCommand, WriteOptions};

/// Commits `stages` (trees laid out from the image root), `files` (local file → image path) and
/// `deletes` (image paths) to the target. Consumes the session: a committed WIM handle cannot be used
/// again.
pub(crate) fn commit(
    session: Session,
    stages: &[PathBuf],
    files: &[(PathBuf, String)],
    deletes: &[String],
    how: Finish,
    control: Control<'_>,
) -> Result<()> {
    match session {
        Session::Image { mut wim, index, .. } => {
            let mut cmds: Vec<UpdateCommand> =
                deletes.iter().map(|p| UpdateCommand::Delete { path: p.clone(), must_exist: false }).collect();
            cmds.extend(stages.iter().map(|s| UpdateCommand::Add { source: s.clone(), target: "/".into() }));
            cmds.extend(
                files.iter().map(|(local, image)| UpdateCommand::Add { source: local.clone(), target: image.clone() }),
            );
            if !cmds.is_empty() {
                wim.update(index, &cmds, control)?;
            }
            match how {
                Finish::Append => wim.commit(Commit::Append, WriteOptions::default(), control)?,
                Finish::Rewrite { compression } => {
                    let info = wim.info();
                    if let Some(c) = compression {
                        wim.set_output_compression(c)?;
                    }
                    let opts = WriteOptions {
                        check_integrity: info.has_integrity_table,
                        recompress: compression.is_some_and(|c| Some(c) != info.compression),
                        ..WriteOptions::default()
                    };
                    wim.rewrite(opts, control)?;
                }
            }
            Ok(())
        }
        Session::Dir { root, .. } => {
            for d in deletes {
                if let Some(p) = resolve_ci(&root, d.trim_start_matches('/'))? {
                    let meta = std::fs::symlink_metadata(&p).map_err(Error::io(&p, "cannot read file metadata"))?;
                    if meta.is_dir() {
                        std::fs::remove_dir_all(&p).map_err(Error::io(&p, "cannot remove directory"))?;
                    } else {
                        std::fs::remove_file(&p).map_err(Error::io(&p, "cannot remove file"))?;
                    }
                }
            }
            let mut placed: HashMap<(u64, u64), PathBuf> = HashMap::new();
            for stage in stages {
                move_tree(stage, stage, &root, &mut placed)?;
            }
            for (local, image) in files {
                let dest = destination(&root, image.trim_start_matches('/'))?;
                place_file(local, &dest)?;
            }
            Ok(())
        }
    }
}

/// The path in `root` for `rel`, reusing existing folders whatever their case.
fn destination(root: &Path, rel: &str) -> Result<PathBuf> {
    let mut cur = root.to_path_buf();
    let parts: Vec<&str> = rel.split('/').filter(|p| !p.is_empty()).collect();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        match resolve_ci(&cur, part)? {
            Some(found) => cur = found,
            None => {
                cur = cur.join(part);
                if !last {
                    std::fs::create_dir(&cur).map_err(Error::io(&cur, "cannot create directory"))?;
                }
            }
        }
    }
    Ok(cur)
}

fn move_tree(stage: &Path, dir: &Path, root: &Path, placed: &mut HashMap<(u64, u64), PathBuf>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(Error::io(dir, "cannot list staging directory"))?
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        let meta = std::fs::symlink_metadata(&path).map_err(Error::io(&path, "cannot read staged file"))?;
        if meta.is_dir() {
            move_tree(stage, &path, root, placed)?;
            continue;
        }
        let rel = path.strip_prefix(stage).unwrap_or(&path).to_string_lossy().into_owned();
        let dest = destination(root, &rel)?;
        let inode = (meta.dev(), meta.ino());
        if let Some(first) = placed.get(&inode) {
            // Another name of a file already placed: link to it, as the image holds one file.
            let tmp = dest
                .with_file_name(format!(".{}.wimpatch-link", dest.file_name().unwrap_or_default().to_string_lossy()));
            let _ = std::fs::remove_file(&tmp);
            std::fs::hard_link(first, &tmp).map_err(Error::io(&tmp, "cannot link file"))?;
            std::fs::rename(&tmp, &dest).map_err(Error::io(&dest, "cannot replace file"))?;
        } else {
            place_file(&path, &dest)?;
            placed.insert(inode, dest);
        }
    }
    Ok(())
}

/// Moves `src` over `dest` atomically (rename; across filesystems, copy to a temp file beside `dest`,
/// then rename).
fn place_file(src: &Path, dest: &Path) -> Result<()> {
    if std::fs::rename(src, dest).is_ok() {
        return Ok(());
    }
    let tmp = dest.with_file_name(format!(".{}.wimpatch-tmp", dest.file_name().unwrap_or_default().to_string_lossy()));
    std::fs::copy(src, &tmp).map_err(Error::io(&tmp, "cannot copy file into the image directory"))?;
    std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(Error::io(&tmp, "cannot sync file"))?;
    std::fs::rename(&tmp, dest).map_err(Error::io(dest, "cannot replace file"))?;
    Ok(())
}
