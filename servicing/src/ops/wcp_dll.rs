//! The servicing-stack `wcp.dll` of an image: where the DCM manifest base of that build lives
//! (`modern-lcu.md` §6 items 37–38). It sits in
//! `\Windows\WinSxS\<arch>_microsoft-windows-servicingstack_…\wcp.dll`, not in System32; with
//! several servicing-stack versions the newest is the one that services the image.

use crate::io_error::IoError;
use std::path::{Path, PathBuf};

use cbs::identity::Version;

use crate::apply::Scratch;
use crate::progress::Control;
use crate::wim::{Error, ImageRef, OpenMode, Result, Wim};

/// A `wcp.dll` read out of an image.
#[derive(Debug, Clone)]
pub struct ImageWcpDll {
    /// Its path inside the image.
    pub image_path: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// Largest `wcp.dll` read (the real one is a few MiB).
const MAX_WCP_BYTES: u64 = 64 << 20;

/// Reads the newest servicing-stack `wcp.dll` of image `image` of the WIM at `path`; it passes
/// through a run folder of the scratch area (under `scratch`, else the temp directory), removed
/// afterwards.
pub fn servicing_stack_wcp_dll(path: &Path, image: &ImageRef, scratch: Option<&Path>) -> Result<ImageWcpDll> {
    let mut wim = Wim::open(path, OpenMode::ReadOnly)?;
    let index = wim.resolve(image)?;
    let not_found = |what: String| {
        Error::Io(IoError {
            path: path.to_path_buf(),
            action: "find the servicing stack's wcp.dll",
            source: std::io::Error::new(std::io::ErrorKind::NotFound, what),
        })
    };
    let winsxs = wim
        .children(index, "/Windows/WinSxS")?
        .ok_or_else(|| not_found(format!("image {index} has no \\Windows\\WinSxS")))?;
    let mut best: Option<(Version, String)> = None;
    for dir in winsxs.iter().filter(|e| e.is_dir()) {
        let name = dir.path.rsplit('/').next().unwrap_or_default();
        let Some(version) = servicing_stack_version(name) else { continue };
        let Some(files) = wim.children(index, &dir.path)? else { continue };
        let Some(dll) = files.iter().find(|f| !f.is_dir() && f.path.to_ascii_lowercase().ends_with("/wcp.dll")) else {
            continue;
        };
        if dll.size > MAX_WCP_BYTES {
            continue;
        }
        if best.as_ref().is_none_or(|(v, _)| version > *v) {
            best = Some((version, dll.path.clone()));
        }
    }
    let (_, image_path) = best.ok_or_else(|| not_found(format!("image {index} has no servicing-stack wcp.dll")))?;
    let (temp, _) = Scratch::create(scratch).map_err(|e| {
        Error::Io(IoError {
            path: scratch.map_or_else(std::env::temp_dir, Path::to_path_buf),
            action: "create the scratch folder",
            source: std::io::Error::other(e.to_string()),
        })
    })?;
    wim.extract_paths(index, temp.path(), &[image_path.as_str()], Control::none())?;
    let local = temp.path().join(image_path.trim_start_matches('/'));
    let bytes = std::fs::read(&local).map_err(|e| io(&local, "read the extracted wcp.dll", e))?;
    Ok(ImageWcpDll { image_path, bytes })
}

/// The version of a servicing-stack component folder of `WinSxS`
/// (`<arch>_microsoft-windows-servicingstack_<token>_<version>_<culture>_<hash>`), `None` for any other
/// folder.
pub fn servicing_stack_version(folder: &str) -> Option<Version> {
    if !folder.to_ascii_lowercase().contains("_microsoft-windows-servicingstack_") {
        return None;
    }
    // The version is the fourth field.
    folder.split('_').nth(3).and_then(|v| v.parse::<Version>().ok())
}

fn io(path: &Path, action: &'static str, source: std::io::Error) -> Error {
    Error::Io(IoError { path: PathBuf::from(path), action, source })
}
