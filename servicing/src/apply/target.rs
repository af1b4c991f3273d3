//! The two places packages are applied to — an image inside a WIM (serviced without mounting) and a
//! directory holding an offline Windows tree — behind one small interface: list a directory, fetch
//! files into the scratch area, and (in `commit`) write the staged result back.

use std::fmt;
use std::path::{Path, PathBuf};

use super::error::{Error, Result};
use crate::progress::Control;
use crate::wim::{ImageInfo, ImageRef, LockWait, OpenMode, Wim, WimLock};

/// What to service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One image of a WIM file (DISM `/ImageFile` + `/Index` or `/Name`), changed without mounting.
    Image {
        /// The WIM file.
        wim: PathBuf,
        /// Index or name.
        image: ImageRef,
    },
    /// A directory holding an offline Windows installation (DISM `/Image:<dir>`), changed in place.
    Directory(PathBuf),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Image { wim, image } => write!(f, "{} image {image}", wim.display()),
            Target::Directory(dir) => write!(f, "{}", dir.display()),
        }
    }
}

/// What a report names as serviced, in the JSON vocabulary every command shares: `wim`, `index`,
/// `name` (and `edition`) for an image of a WIM, `dir` for a directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TargetName {
    /// The WIM file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wim: Option<PathBuf>,
    /// The image index (resolved from a name when one was given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    /// The image name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The image's edition ID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edition: Option<String>,
    /// The offline Windows directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
}

/// One file or directory found by [`Session::walk`].
#[derive(Debug, Clone)]
pub(crate) struct TreeEntry {
    /// Image path, `/`-separated, starting with `/`.
    pub path: String,
    /// Whether it is a directory.
    pub is_dir: bool,
    /// Size of the file's data.
    pub size: u64,
    /// Hard-link group (0: not linked).
    pub group: u64,
}

/// An open target.
pub(crate) enum Session {
    Image {
        wim: Wim,
        index: u32,
        label: String,
        info: Box<ImageInfo>,
    },
    /// A directory; a writer holds the tree's lock (`<root>/.wimpatch.lock`) until dropped.
    Dir {
        root: PathBuf,
        label: String,
        _lock: Option<WimLock>,
    },
}

impl Session {
    /// Opens the target; `write` takes the WIM's writer lock (held until commit or drop).
    pub fn open(target: &Target, write: bool, wait: LockWait) -> Result<Session> {
        match target {
            Target::Image { wim: path, image } => {
                let mode = if write { OpenMode::ReadWrite(wait) } else { OpenMode::ReadOnly };
                let wim = Wim::open(path, mode)?;
                let index = wim.resolve(image)?;
                let info = Box::new(wim.image_info(index));
                Ok(Session::Image { wim, index, label: target.to_string(), info })
            }
            Target::Directory(root) => {
                let meta = std::fs::metadata(root).map_err(Error::io(root, "cannot open the image directory"))?;
                if !meta.is_dir() {
                    return Err(Error::BadInput { path: root.clone(), reason: "not a directory".into() });
                }
                // Writers of one tree are serialised like writers of one WIM; a commit a killed
                // writer left half-done is finished (or discarded) before anything reads the tree.
                let lock_name = root.join(".wimpatch");
                let lock = if write {
                    Some(WimLock::acquire(&lock_name, wait)?)
                } else if super::dir_txn::pending(root) {
                    WimLock::acquire(&lock_name, LockWait::NoWait).ok()
                } else {
                    None
                };
                if lock.is_some() {
                    super::dir_txn::recover(root)?;
                }
                Ok(Session::Dir { root: root.clone(), label: target.to_string(), _lock: lock.filter(|_| write) })
            }
        }
    }

    /// How the target is named in messages and logs.
    pub fn label(&self) -> &str {
        match self {
            Session::Image { label, .. } | Session::Dir { label, .. } => label,
        }
    }

    /// What reports name as serviced.
    pub fn target_name(&self) -> TargetName {
        match self {
            Session::Image { wim, index, info, .. } => TargetName {
                wim: Some(wim.path().to_path_buf()),
                index: Some(*index),
                name: info.name.clone(),
                edition: info.edition_id.clone(),
                dir: None,
            },
            Session::Dir { root, .. } => TargetName { dir: Some(root.clone()), ..TargetName::default() },
        }
    }

    /// The WIM XML of the image (none for a directory).
    pub fn image_info(&self) -> Option<&ImageInfo> {
        match self {
            Session::Image { info, .. } => Some(info),
            Session::Dir { .. } => None,
        }
    }

    /// Names of the entries in the image directory `path` (`/`-separated from the image root), or
    /// `None` when it does not exist.
    pub fn children(&self, path: &str) -> Result<Option<Vec<String>>> {
        match self {
            Session::Image { wim, index, .. } => Ok(wim.children(*index, path)?.map(|entries| {
                entries.into_iter().map(|e| e.path.rsplit('/').next().unwrap_or_default().to_owned()).collect()
            })),
            Session::Dir { root, .. } => {
                let Some(dir) = resolve_ci(root, path)? else { return Ok(None) };
                if !dir.is_dir() {
                    return Ok(None);
                }
                let mut names = Vec::new();
                for entry in std::fs::read_dir(&dir).map_err(Error::io(&dir, "cannot list directory"))? {
                    let entry = entry.map_err(Error::io(&dir, "cannot list directory"))?;
                    names.push(entry.file_name().to_string_lossy().into_owned());
                }
                names.sort();
                Ok(Some(names))
            }
        }
    }

    /// Every entry at and below the image path `path` (recursively), or `None` when it does not
    /// exist. Hard links are told by `group` (the WIM's hard-link group, or the inode for a directory
    /// target).
    pub fn walk(&self, path: &str) -> Result<Option<Vec<TreeEntry>>> {
        match self {
            Session::Image { wim, index, .. } => {
                let mut out = Vec::new();
                let mut missing = false;
                let r = wim.walk(*index, path, true, &mut |e| {
                    out.push(TreeEntry {
                        path: e.path.clone(),
                        is_dir: e.is_dir(),
                        size: e.size,
                        group: e.hard_link_group,
                    });
                    std::ops::ControlFlow::Continue(())
                });
                if let Err(crate::wim::Error::Wimlib { code: 49, .. }) = &r {
                    missing = true;
                } else {
                    r?;
                }
                Ok((!missing).then_some(out))
            }
            Session::Dir { root, .. } => {
                use std::os::unix::fs::MetadataExt;
                let Some(start) = resolve_ci(root, path)? else { return Ok(None) };
                let mut out = Vec::new();
                let mut stack = vec![start];
                while let Some(p) = stack.pop() {
                    let meta = std::fs::symlink_metadata(&p).map_err(Error::io(&p, "cannot read file metadata"))?;
                    let rel = p.strip_prefix(root).unwrap_or(&p).to_string_lossy().replace('\\', "/");
                    out.push(TreeEntry {
                        path: format!("/{rel}"),
                        is_dir: meta.is_dir(),
                        size: if meta.is_file() { meta.len() } else { 0 },
                        group: if meta.nlink() > 1 { (meta.dev() << 40) ^ meta.ino() } else { 0 },
                    });
                    if meta.is_dir() {
                        for e in std::fs::read_dir(&p).map_err(Error::io(&p, "cannot list directory"))? {
                            stack.push(e.map_err(Error::io(&p, "cannot list directory"))?.path());
                        }
                    }
                }
                Ok(Some(out))
            }
        }
    }

    /// Copies the image files `paths` into `into` (keeping their directory structure below it) and
    /// returns where each landed, `None` for a path the image does not have.
    pub fn fetch(&mut self, paths: &[&str], into: &Path, control: Control<'_>) -> Result<Vec<Option<PathBuf>>> {
        let mut out = Vec::with_capacity(paths.len());
        match self {
            Session::Image { wim, index, .. } => {
                let entries = entries_of(wim, *index, paths)?;
                // Ask wimlib for all present paths in one call (one pass over the blobs).
                let present: Vec<&str> =
                    paths.iter().zip(&entries).filter(|(_, e)| e.is_some()).map(|(p, _)| *p).collect();
                if !present.is_empty() {
                    wim.extract_paths(*index, into, &present, control)?;
                }
                for (p, e) in paths.iter().zip(&entries) {
                    // wimlib keeps the image's own case; find each file case-insensitively.
                    out.push(match e {
                        Some(_) => Some(
                            resolve_ci(into, p.trim_start_matches('/'))?
                                .unwrap_or_else(|| into.join(p.trim_start_matches('/'))),
                        ),
                        None => None,
                    });
                }
            }
            Session::Dir { root, .. } => {
                safe_fs::create_dir_all(into).map_err(Error::io(into, "cannot create directory"))?;
                for p in paths {
                    match resolve_ci(root, p)? {
                        Some(src) if src.is_file() => {
                            let rel = Path::new(p.trim_start_matches('/'));
                            let dest = into.join(rel);
                            if let Some(parent) = rel.parent() {
                                safe_fs::create_dir_all_under(into, parent)
                                    .map_err(Error::io(into.join(parent), "cannot create directory"))?;
                            }
                            safe_fs::copy_new(&src, &dest).map_err(Error::io(&src, "cannot copy file"))?;
                            out.push(Some(dest));
                        }
                        _ => out.push(None),
                    }
                }
            }
        }
        Ok(out)
    }

    /// The contents of the image files `paths` (each at most `limit` bytes), `None` for a path the
    /// image does not have. A WIM's files are read from their resources into memory; only what
    /// that cannot read (solid resources, split or pipable WIMs) goes through a copy in `into`,
    /// emptied once read so its data never reaches the disk.
    pub fn read_files(
        &mut self,
        paths: &[&str],
        limit: u64,
        into: &Path,
        control: Control<'_>,
    ) -> Result<Vec<Option<Vec<u8>>>> {
        let read =
            |local: &Path| safe_fs::read_bounded(local, limit).map_err(Error::io(local, "cannot read image file"));
        match self {
            Session::Image { wim, index, .. } => {
                let entries = entries_of(wim, *index, paths)?;
                let mut out: Vec<Option<Vec<u8>>> = Vec::with_capacity(paths.len());
                let mut extract: Vec<(usize, &str)> = Vec::new();
                for (i, (p, e)) in paths.iter().zip(&entries).enumerate() {
                    // A folder is not a file (and is not extracted).
                    let Some(e) = e.as_ref().filter(|e| !e.is_dir()) else {
                        out.push(None);
                        continue;
                    };
                    let direct = wim.read_file_data(e, limit);
                    if direct.is_none() {
                        extract.push((i, p));
                    }
                    out.push(direct);
                }
                if !extract.is_empty() {
                    let wanted: Vec<&str> = extract.iter().map(|(_, p)| *p).collect();
                    wim.extract_paths(*index, into, &wanted, control)?;
                    for (i, p) in extract {
                        let rel = p.trim_start_matches('/');
                        let local = resolve_ci(into, rel)?.unwrap_or_else(|| into.join(rel));
                        if !local.is_file() {
                            continue;
                        }
                        out[i] = Some(read(&local)?);
                        // On ext4 without a journal every file created after a deletion scans past
                        // each recently deleted inode of its group: the copy is emptied, not
                        // deleted, and goes with the scratch folder at the end of the run.
                        let _ = safe_fs::empty_file(&local);
                    }
                }
                Ok(out)
            }
            Session::Dir { root, .. } => {
                let mut out = Vec::with_capacity(paths.len());
                for p in paths {
                    out.push(match resolve_ci(root, p)? {
                        Some(src) if src.is_file() => Some(read(&src)?),
                        _ => None,
                    });
                }
                Ok(out)
            }
        }
    }
}

/// The entries of `paths` in image `index` of `wim`, `None` for one it does not have; each parent
/// folder is listed once (get-packages asks for thousands of .mum files of one folder), names
/// matched case-insensitively as Windows does.
fn entries_of(wim: &Wim, index: u32, paths: &[&str]) -> Result<Vec<Option<crate::wim::DirEntry>>> {
    type Listing = Option<std::collections::HashMap<String, crate::wim::DirEntry>>;
    let mut listed: std::collections::HashMap<String, Listing> = std::collections::HashMap::new();
    let mut out = Vec::with_capacity(paths.len());
    for p in paths {
        let (parent, name) = p.rsplit_once('/').unwrap_or(("", p));
        let parent = if parent.is_empty() { "/" } else { parent };
        let key = parent.to_lowercase();
        if !listed.contains_key(&key) {
            let names = wim.children(index, parent)?.map(|c| {
                c.into_iter().filter_map(|e| e.path.rsplit('/').next().map(str::to_lowercase).map(|n| (n, e))).collect()
            });
            listed.insert(key.clone(), names);
        }
        out.push(listed[&key].as_ref().and_then(|names| names.get(&name.to_lowercase()).cloned()));
    }
    Ok(out)
}

/// Resolves `rel` (`/`-separated, relative to `root`) one component at a time, exact case first, then
/// case-insensitively as Windows would. `None` when a component does not exist. Symbolic links and
/// `..` are refused: a directory target must not lead writes outside itself.
pub(crate) fn resolve_ci(root: &Path, rel: &str) -> Result<Option<PathBuf>> {
    safe_fs::resolve_under(root, rel, true).map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidInput => Error::BadInput {
            path: root.join(rel.trim_start_matches('/')),
            reason: format!("{e}; refusing to service through it"),
        },
        _ => Error::io(root.join(rel.trim_start_matches('/')), "cannot read file metadata")(e),
    })
}

#[cfg(test)]
mod tests {
    // The test builds its input tree with plain std::fs (the product code goes through safe-fs).
    #![allow(clippy::disallowed_methods)]

    use super::*;

    /// Reading image files gives their bytes whether they come straight from their resources (a
    /// plain WIM) or through wimlib's extraction (a solid one), by Windows' case-insensitive names,
    /// and nothing for a missing file or a folder.
    #[test]
    fn image_files_read_the_same_from_plain_and_solid_wims() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        let sxs = src.join("Windows/WinSxS/amd64_x_31bf3856ad364e35_10.0.1.1_none_0");
        std::fs::create_dir_all(sxs.join("r")).unwrap();
        let big: Vec<u8> = (0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        std::fs::write(sxs.join("Big.dll"), &big).unwrap();
        std::fs::write(sxs.join("r/Big.dll"), b"PA30 reverse").unwrap();
        std::fs::write(sxs.join("empty.txt"), b"").unwrap();
        let k = "/Windows/WinSxS/amd64_x_31bf3856ad364e35_10.0.1.1_none_0";
        let (big_path, reverse, empty, missing) =
            (format!("{k}/big.DLL"), format!("{k}/R/big.dll"), format!("{k}/empty.txt"), format!("{k}/gone.dll"));
        let paths = [big_path.as_str(), reverse.as_str(), empty.as_str(), missing.as_str(), k];
        for solid in [false, true] {
            let wim = dir.path().join(format!("solid-{solid}.wim"));
            let mut c = std::process::Command::new("wimlib-imagex");
            c.arg("capture").arg(&src).arg(&wim);
            if solid {
                c.arg("--solid");
            }
            assert!(c.status().unwrap().success());
            let target = Target::Image { wim: wim.clone(), image: ImageRef::Index(1) };
            let mut session = Session::open(&target, false, LockWait::NoWait).unwrap();
            let into = dir.path().join(format!("into-{solid}"));
            let got = session.read_files(&paths, 1 << 20, &into, Control::none()).unwrap();
            assert_eq!(got[0].as_deref(), Some(&big[..]), "solid {solid}");
            assert_eq!(got[1].as_deref(), Some(&b"PA30 reverse"[..]), "solid {solid}");
            assert_eq!(got[2].as_deref(), Some(&b""[..]), "solid {solid}");
            assert_eq!(got[3], None, "solid {solid}");
            assert_eq!(got[4], None, "solid {solid}: a folder is not a file");
            // Only the solid WIM's files went through copies, each emptied once read.
            assert_eq!(into.exists(), solid);
            if solid {
                let copy = into.join(k.trim_start_matches('/')).join("Big.dll");
                assert_eq!(std::fs::metadata(&copy).unwrap().len(), 0);
            }
            // Over the limit: refused, not truncated.
            assert!(session
                .read_files(&paths[..1], 1000, &dir.path().join(format!("small-{solid}")), Control::none())
                .is_err());
        }
    }
}
