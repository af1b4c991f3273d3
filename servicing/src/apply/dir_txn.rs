//! The directory target's commit as a transaction, so a kill never leaves a tree that is neither the
//! old nor the new one (payload projected into System32 with the package not registered).
//!
//! 1. *Prepare*: every new file (staged trees, edited hives) is moved or copied into
//!    `<root>/.wimpatch-transaction/new/<n>` (same filesystem as the tree, hard links kept as links)
//!    and every destination is checked (inside the tree, no symbolic link on the way). Nothing in the
//!    tree has changed yet.
//! 2. *Commit point*: `journal.json` (deletes, then `new/<n>` → destination, hives last) is written
//!    atomically and synced.
//! 3. *Apply*: deletes (then a `deleted` marker), then each rename. Every step can be run again:
//!    a rename whose `new/<n>` is gone was done.
//! 4. The transaction folder is removed.
//!
//! The next run that opens the tree (under the tree's writer lock) finishes a transaction that has
//! a journal (roll forward) and discards one without (roll back: the tree was not touched).

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::{Error, Result};
use super::target::resolve_ci;

/// The transaction folder at the tree's root.
pub(crate) const TRANSACTION_DIR: &str = ".wimpatch-transaction";
const JOURNAL: &str = "journal.json";
const DELETED: &str = "deleted";

#[derive(Debug, Default, Serialize, Deserialize)]
struct Journal {
    /// Image paths (`/`-separated, from the root) to remove first.
    deletes: Vec<String>,
    /// `(n, image path)`: `new/<n>` is renamed to the image path.
    places: Vec<(u64, String)>,
}

/// Commits `stages` (trees laid out from the image root), `files` (local file → image path, placed
/// last) and `deletes` (image paths) to the directory target `root`, as one transaction.
pub(crate) fn commit_dir(
    root: &Path,
    stages: &[PathBuf],
    files: &[(PathBuf, String)],
    deletes: &[String],
) -> Result<()> {
    recover(root)?;
    let txn = root.join(TRANSACTION_DIR);
    let new_dir = safe_fs::create_dir_all_under(root, Path::new(TRANSACTION_DIR).join("new").as_path())
        .map_err(Error::io(&txn, "cannot create the transaction folder"))?;
    let device = std::fs::metadata(&new_dir).map_err(Error::io(&new_dir, "cannot read file metadata"))?.dev();
    let mut journal = Journal { deletes: deletes.to_vec(), places: Vec::new() };
    let mut staged = Stager { new_dir: &new_dir, placed: HashMap::new(), next: 0 };
    let prepared = (|| {
        for stage in stages {
            for (path, rel) in stage_files(stage)? {
                let n = staged.take(&path)?;
                journal.places.push((n, rel));
            }
        }
        for (local, image) in files {
            let n = staged.take(local)?;
            journal.places.push((n, image.trim_start_matches('/').to_owned()));
        }
        for (_, rel) in &journal.places {
            check_destination(root, rel, device)?;
        }
        let text = serde_json::to_vec(&journal).expect("a journal serialises");
        let path = txn.join(JOURNAL);
        safe_fs::write_atomic(&path, &text).map_err(Error::io(&path, "cannot write the transaction journal"))?;
        sync_dir(&txn);
        Ok(())
    })();
    if let Err(e) = prepared {
        // Before the journal nothing in the tree changed: drop the half-made transaction.
        let _ = std::fs::remove_dir_all(&txn);
        return Err(e);
    }
    apply(root, &txn, &journal)
}

/// Finishes (journal present) or discards (no journal) a transaction a killed run left in `root`.
/// Call with the tree's writer lock held.
pub(crate) fn recover(root: &Path) -> Result<()> {
    let txn = root.join(TRANSACTION_DIR);
    match safe_fs::refuse_symlink(&txn) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(&txn, "cannot use the transaction folder")(e)),
        Ok(_) => {}
    }
    let path = txn.join(JOURNAL);
    match std::fs::read(&path) {
        Ok(bytes) => {
            let journal: Journal = serde_json::from_slice(&bytes).map_err(|e| Error::BadInput {
                path: path.clone(),
                reason: format!("unreadable transaction journal: {e}"),
            })?;
            tracing::info!(path = %txn.display(), "finishing the interrupted commit of an earlier run");
            apply(root, &txn, &journal)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::info!(path = %txn.display(), "discarding the unfinished commit of an earlier run");
            std::fs::remove_dir_all(&txn).map_err(Error::io(&txn, "cannot remove the transaction folder"))
        }
        Err(e) => Err(Error::io(&path, "cannot read the transaction journal")(e)),
    }
}

/// Whether `root` holds an unfinished transaction.
pub(crate) fn pending(root: &Path) -> bool {
    root.join(TRANSACTION_DIR).symlink_metadata().is_ok()
}

/// Step 3 and 4: idempotent, so a kill inside is finished by the next run.
fn apply(root: &Path, txn: &Path, journal: &Journal) -> Result<()> {
    let deleted = txn.join(DELETED);
    if deleted.symlink_metadata().is_err() {
        for d in &journal.deletes {
            if let Some(p) = resolve_ci(root, d.trim_start_matches('/'))? {
                let meta = std::fs::symlink_metadata(&p).map_err(Error::io(&p, "cannot read file metadata"))?;
                if meta.is_dir() {
                    std::fs::remove_dir_all(&p).map_err(Error::io(&p, "cannot remove directory"))?;
                } else {
                    std::fs::remove_file(&p).map_err(Error::io(&p, "cannot remove file"))?;
                }
            }
        }
        safe_fs::create_new(&deleted).map_err(Error::io(&deleted, "cannot mark the deletes done"))?;
        sync_dir(txn);
    }
    let new_dir = txn.join("new");
    for (n, rel) in &journal.places {
        let src = new_dir.join(n.to_string());
        if src.symlink_metadata().is_err() {
            continue; // placed before the kill
        }
        let dest = destination(root, rel)?;
        safe_fs::rename(&src, &dest).map_err(Error::io(&dest, "cannot move the new file into place"))?;
    }
    sync_dir(root);
    std::fs::remove_dir_all(txn).map_err(Error::io(txn, "cannot remove the transaction folder"))
}

/// Moves staged files into `new/`, keeping hard links.
struct Stager<'a> {
    new_dir: &'a Path,
    placed: HashMap<(u64, u64), u64>,
    next: u64,
}

impl Stager<'_> {
    /// Brings `src` into `new/<n>` and returns `n`: a rename when on one filesystem, else a copy; a
    /// second name of a file already taken becomes a hard link to it.
    fn take(&mut self, src: &Path) -> Result<u64> {
        let meta = safe_fs::refuse_symlink(src).map_err(Error::io(src, "cannot read staged file"))?;
        let n = self.next;
        self.next += 1;
        let dest = self.new_dir.join(n.to_string());
        let inode = (meta.dev(), meta.ino());
        if let Some(first) = self.placed.get(&inode) {
            let first = self.new_dir.join(first.to_string());
            safe_fs::hard_link(&first, &dest).map_err(Error::io(&dest, "cannot link file"))?;
            return Ok(n);
        }
        if safe_fs::rename(src, &dest).is_err() {
            safe_fs::copy_new(src, &dest).map_err(Error::io(&dest, "cannot copy file into the image directory"))?;
            std::fs::File::open(&dest).and_then(|f| f.sync_all()).map_err(Error::io(&dest, "cannot sync file"))?;
        }
        if meta.nlink() > 1 {
            self.placed.insert(inode, n);
        }
        Ok(n)
    }
}

/// Every file of the staging tree `stage`, with its path relative to it, in a stable order.
fn stage_files(stage: &Path) -> Result<Vec<(PathBuf, String)>> {
    let mut out = Vec::new();
    let mut stack = vec![stage.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(Error::io(&dir, "cannot list staging directory"))?
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for path in entries.into_iter().rev() {
            let meta = std::fs::symlink_metadata(&path).map_err(Error::io(&path, "cannot read staged file"))?;
            if meta.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(stage).unwrap_or(&path).to_string_lossy().into_owned();
                out.push((path, rel));
            }
        }
    }
    Ok(out)
}

/// Refuses, before the commit point, a destination that leaves the tree, runs through a symbolic
/// link, is a folder, or sits on another filesystem than the transaction folder (the rename would
/// fail half-way).
fn check_destination(root: &Path, rel: &str, device: u64) -> Result<()> {
    let parts: Vec<&str> = rel.split(['/', '\\']).filter(|p| !p.is_empty()).collect();
    let mut cur = root.to_path_buf();
    for (i, part) in parts.iter().enumerate() {
        match resolve_ci(&cur, part)? {
            Some(found) => {
                let meta = std::fs::symlink_metadata(&found).map_err(Error::io(&found, "cannot read file metadata"))?;
                let last = i + 1 == parts.len();
                if last && meta.is_dir() {
                    return Err(Error::BadInput { path: found, reason: "a folder is where a file goes".into() });
                }
                if meta.dev() != device {
                    return Err(Error::BadInput {
                        path: found,
                        reason: "is on another filesystem than the image root; cannot replace files atomically".into(),
                    });
                }
                cur = found;
            }
            None => return Ok(()),
        }
    }
    Ok(())
}

/// The path in `root` for `rel`, reusing existing folders whatever their case and creating missing
/// ones (never through a symbolic link).
fn destination(root: &Path, rel: &str) -> Result<PathBuf> {
    let mut cur = root.to_path_buf();
    let parts: Vec<&str> = rel.split(['/', '\\']).filter(|p| !p.is_empty()).collect();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        match resolve_ci(&cur, part)? {
            Some(found) => cur = found,
            None => {
                cur = cur.join(part);
                if !last {
                    safe_fs::create_dir(&cur).map_err(Error::io(&cur, "cannot create directory"))?;
                }
            }
        }
    }
    Ok(cur)
}

/// Best-effort fsync of a folder (renames inside it made durable).
fn sync_dir(dir: &Path) {
    if let Err(e) = std::fs::File::open(dir).and_then(|d| d.sync_all()) {
        tracing::debug!(dir = %dir.display(), error = %e, "directory fsync failed");
    }
}
