//! What "the content of a WIM" means for the fault harness, read through `wimlib-imagex` (the
//! reference reader, not wimpatch's own): the image count, each image's name, and each file's path,
//! attributes and stream hashes (SHA-1, from `dir --detailed`). Optionally the on-disk size (for
//! `optimize`, whose old and new content are the same) and the package states `get-packages`
//! reports (for `add-package`, whose hives differ run to run by their install time).
//!
//! A directory target (`add-package --dir`) is read the same way through wimpatch: `get-packages
//! --dir` first (like every wimpatch reader it finishes or discards a transaction a killed writer
//! left, under the tree's lock, as the WIM header hides an unfinished append), then every file's
//! path and SHA-256 (hives masked).
//!
//! Also the debris a killed writer can leave: temp files beside the WIM, the sidecar lock file, and
//! servicing scratch folders; in a directory target its transaction folder and lock file.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The observable state of one WIM file; `None` where the file does not exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WimState {
    /// `(index, name)` of every image, from `wimlib-imagex info`.
    pub images: Vec<String>,
    /// Per image: one line per file (path, attributes, stream hashes), sorted.
    pub files: Vec<Vec<String>>,
    /// The file's size, where the operation's old and new state differ only in layout.
    pub size: Option<u64>,
    /// `identity=state` of every package of one image, where hives are volatile.
    pub packages: Option<Vec<String>>,
}

/// How to read the state of an operation's WIM.
#[derive(Debug, Clone, Copy, Default)]
pub struct Probe {
    /// Record the file size (layout-only changes).
    pub size: bool,
    /// Hive files (`Windows/System32/config/*`) carry timestamps of the run: mask their hashes and
    /// record `get-packages --all` of this image instead.
    pub packages_of: Option<u32>,
}

/// Runs a command and returns its stdout, or a description of the failure.
pub fn output(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!("{cmd:?} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim()))
    }
}

fn imagex(args: &[&str]) -> Result<String, String> {
    output(Command::new("wimlib-imagex").args(args))
}

/// Whether `wimlib-imagex verify` accepts `wim` (which also proves it opens); the error otherwise.
/// A directory target has nothing to verify beyond its snapshot.
pub fn verifies(wim: &Path) -> Result<(), String> {
    if wim.is_dir() {
        return Ok(());
    }
    imagex(&["verify", path_str(wim)]).map(drop)
}

/// Applies image `index` of `wim` to the existing folder `dir` (a directory target).
pub fn apply_image(wim: &Path, index: u32, dir: &Path) -> Result<(), String> {
    imagex(&["apply", path_str(wim), &index.to_string(), path_str(dir), "--no-acls"]).map(drop)
}

/// Names wimpatch keeps at a directory target's root while it writes (see `dir_txn.rs`).
const DIR_DEBRIS: [&str; 2] = [".wimpatch-transaction", ".wimpatch.lock"];

/// The state of a directory target, read through wimpatch (see the module doc).
fn snapshot_dir(dir: &Path, probe: Probe, wimpatch: &Path) -> Result<Option<WimState>, String> {
    let text = output(Command::new(wimpatch).args([
        "get-packages",
        "--json",
        "--all",
        "--no-progress",
        "--dir",
        path_str(dir),
    ]))?;
    let packages = probe.packages_of.map(|_| package_lines(&text)).transpose()?;
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))?.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(dir).unwrap_or(&p).to_string_lossy().into_owned();
            if DIR_DEBRIS.contains(&rel.as_str()) {
                continue;
            }
            let meta = std::fs::symlink_metadata(&p).map_err(|e| e.to_string())?;
            if meta.is_dir() {
                stack.push(p);
                files.push(format!("/{rel}/"));
            } else if rel.to_ascii_lowercase().starts_with("windows/system32/config/") {
                files.push(format!("/{rel} (hive)"));
            } else {
                files.push(format!("/{rel} {}", super::sha256(&p)));
            }
        }
    }
    files.sort();
    Ok(Some(WimState { images: vec!["directory".into()], files: vec![files], size: None, packages }))
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("the harness makes UTF-8 paths")
}

/// Reads the state of `wim` (`Ok(None)` when it does not exist). `wimpatch` is used only for
/// `get-packages` when the probe asks for package states.
pub fn snapshot(wim: &Path, probe: Probe, wimpatch: &Path) -> Result<Option<WimState>, String> {
    if !wim.exists() {
        return Ok(None);
    }
    if wim.is_dir() {
        return snapshot_dir(wim, probe, wimpatch);
    }
    let info = imagex(&["info", path_str(wim)])?;
    let mut images = Vec::new();
    let mut index = String::new();
    for line in info.lines() {
        if let Some(v) = line.strip_prefix("Index:") {
            index = v.trim().to_owned();
        } else if let Some(v) = line.strip_prefix("Name:") {
            images.push(format!("{index}:{}", v.trim()));
        }
    }
    let mut files = Vec::new();
    for i in 1..=images.len() {
        let listing = imagex(&["dir", path_str(wim), &i.to_string(), "--detailed"])?;
        files.push(file_lines(&listing, probe.packages_of.is_some()));
    }
    let size = if probe.size { Some(std::fs::metadata(wim).map_err(|e| e.to_string())?.len()) } else { None };
    let packages = match probe.packages_of {
        Some(i) => Some(packages(wim, i, wimpatch)?),
        None => None,
    };
    Ok(Some(WimState { images, files, size, packages }))
}

/// One line per file of a `dir --detailed` listing: the path, the attributes and every stream's
/// name and hash. Times, offsets, link group ids and reference counts are layout, not content.
fn file_lines(listing: &str, mask_hives: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<(String, String)> = None;
    let finish = |entry: Option<(String, String)>, out: &mut Vec<String>| {
        if let Some((path, detail)) = entry {
            let hive = path.to_ascii_lowercase().contains("/windows/system32/config/");
            out.push(if mask_hives && hive { format!("{path} (hive)") } else { format!("{path} {detail}") });
        }
    };
    for line in listing.lines() {
        if let Some(path) = line.strip_prefix("Full Path           = ") {
            finish(current.take(), &mut out);
            current = Some((path.to_owned(), String::new()));
        } else if let Some((_, detail)) = current.as_mut() {
            let t = line.trim();
            if t.starts_with("Attributes") || t.starts_with("Hash") || t.ends_with("stream:") {
                detail.push_str(t);
                detail.push(';');
            }
        }
    }
    finish(current, &mut out);
    out.sort();
    out
}

fn packages(wim: &Path, index: u32, wimpatch: &Path) -> Result<Vec<String>, String> {
    let text = output(
        Command::new(wimpatch)
            .args(["get-packages", "--json", "--all", "--no-progress", "--image", path_str(wim), "--index"])
            .arg(index.to_string()),
    )?;
    package_lines(&text)
}

/// `identity=state` of every package of a `get-packages --json` listing, sorted.
fn package_lines(text: &str) -> Result<Vec<String>, String> {
    let list: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("get-packages JSON: {e}"))?;
    let mut out: Vec<String> = list
        .as_array()
        .ok_or("get-packages did not print a list")?
        .iter()
        .map(|p| format!("{}={}", p["identity"].as_str().unwrap_or("?"), p["state"].as_str().unwrap_or("?")))
        .collect();
    out.sort();
    Ok(out)
}

/// What killed writers of `wim` can leave: our temp files (`.<name>.wimpatch-tmp.*`), wimlib's
/// rebuild temps (`<name>` + 9 alphanumerics), the sidecar `<name>.lock`, and servicing scratch
/// folders (`<scratch>/OfflineImageServicing/run-*`).
pub fn debris(wim: &Path, scratch: &Path) -> Vec<PathBuf> {
    if wim.is_dir() {
        let mut out: Vec<PathBuf> =
            DIR_DEBRIS.iter().map(|n| wim.join(n)).filter(|p| p.symlink_metadata().is_ok()).collect();
        out.extend(scratch_runs(scratch));
        out.sort();
        return out;
    }
    let name = wim.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let dir = wim.parent().unwrap_or(Path::new("."));
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            let rebuild =
                n.strip_prefix(&name).is_some_and(|s| s.len() == 9 && s.bytes().all(|b| b.is_ascii_alphanumeric()));
            n.contains(".wimpatch-tmp") || n == format!("{name}.lock") || rebuild
        })
        .map(|e| e.path())
        .collect();
    out.extend(scratch_runs(scratch));
    out.sort();
    out
}

/// Servicing scratch folders (`<scratch>/OfflineImageServicing/run-*`).
fn scratch_runs(scratch: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(scratch.join("OfflineImageServicing"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("run-"))
        .map(|e| e.path())
        .collect()
}
