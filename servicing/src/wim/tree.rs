//! Walking an image's directory tree and extracting chosen paths, without mounting.

use std::any::Any;
use std::ffi::{c_int, c_void};
use std::ops::ControlFlow;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::path::Path;

use super::blob::BlobLocation;
use super::call::{check, copy_cstr, cpath, cstr, with_progress};
use super::error::Result;
use super::handle::Wim;
use crate::progress::Control;

/// One file or directory of an image, copied out of wimlib's callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// Full path inside the image, `/`-separated, starting with `/`.
    pub path: String,
    /// Windows file attributes (`FILE_ATTRIBUTE_*`).
    pub attributes: u32,
    /// Size of the unnamed data stream in bytes.
    pub size: u64,
    /// SHA-1 of the unnamed data stream, when known.
    pub sha1: Option<[u8; 20]>,
    /// Number of hard links to this file.
    pub links: u32,
    /// Identifier shared by the links of one hard-link group (0 = not linked).
    pub hard_link_group: u64,
    /// Reparse tag (symlinks, junctions), 0 if none.
    pub reparse_tag: u32,
    /// Depth below the starting path.
    pub depth: usize,
    /// `(uncompressed, compressed)` bytes of the compressed WIM resource the data is read from: the
    /// file's own resource, or the whole solid resource holding it. `None` when the data is stored
    /// uncompressed (or there is none). What a ratio limit judges before anything is extracted.
    pub compressed_resource: Option<(u64, u64)>,
    /// Where the data is in the WIM, for [`Wim::read_file_data`].
    pub(crate) location: Option<BlobLocation>,
}

impl DirEntry {
    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        self.attributes & wim_sys::WIMLIB_FILE_ATTRIBUTE_DIRECTORY != 0
    }
}

struct IterState<'f> {
    f: &'f mut dyn FnMut(&DirEntry) -> ControlFlow<()>,
    panic: Option<Box<dyn Any + Send>>,
}

/// Returned from the callback to stop iteration; distinct from every wimlib error code.
const STOP: c_int = 0x7157_0001;

unsafe extern "C" fn dir_callback(dentry: *const wim_sys::wimlib_dir_entry, ctx: *mut c_void) -> c_int {
    // SAFETY: `ctx` is the IterState passed by `walk`, alive for the whole iteration, on this thread.
    let state = unsafe { &mut *ctx.cast::<IterState<'_>>() };
    // SAFETY: wimlib passes a valid entry for the duration of the callback.
    let d = unsafe { &*dentry };
    // SAFETY: streams[0] (the unnamed stream) always exists: the array has 1 + num_named_streams entries.
    let unnamed = unsafe { &*d.streams.as_ptr() };
    let sha1 = unnamed.resource.sha1_hash;
    let entry = DirEntry {
        // SAFETY: full_path is a NUL-terminated string valid during the callback.
        path: unsafe { copy_cstr(d.full_path) }.unwrap_or_default(),
        attributes: d.attributes,
        size: unnamed.resource.uncompressed_size,
        sha1: if sha1.iter().any(|b| *b != 0) { Some(sha1) } else { None },
        links: d.num_links,
        hard_link_group: d.hard_link_group_id,
        reparse_tag: d.reparse_tag,
        depth: d.depth,
        compressed_resource: if unnamed.resource.packed() != 0 {
            Some((unnamed.resource.raw_resource_uncompressed_size, unnamed.resource.raw_resource_compressed_size))
        } else if unnamed.resource.is_compressed() != 0 {
            Some((unnamed.resource.uncompressed_size, unnamed.resource.compressed_size))
        } else {
            None
        },
        location: BlobLocation::of(&unnamed.resource),
    };
    match catch_unwind(AssertUnwindSafe(|| (state.f)(&entry))) {
        Ok(ControlFlow::Continue(())) => 0,
        Ok(ControlFlow::Break(())) => STOP,
        Err(p) => {
            state.panic = Some(p);
            STOP
        }
    }
}

impl Wim {
    /// Calls `f` for `path` and (with `recursive`) everything below it, in wimlib's order (a directory
    /// before its children). `f` may stop early with `ControlFlow::Break`.
    pub fn walk(
        &self,
        image: u32,
        path: &str,
        recursive: bool,
        f: &mut dyn FnMut(&DirEntry) -> ControlFlow<()>,
    ) -> Result<()> {
        let c = cstr("image path", path)?;
        let flags = if recursive { wim_sys::WIMLIB_ITERATE_DIR_TREE_FLAG_RECURSIVE } else { 0 } as c_int;
        let mut state = IterState { f, panic: None };
        // SAFETY: live handle; `c` valid for the call; `state` outlives the call and is only touched by
        // the callback on this thread.
        let code = unsafe {
            wim_sys::wimlib_iterate_dir_tree(
                self.raw(),
                image as c_int,
                c.as_ptr(),
                flags,
                Some(dir_callback),
                (&mut state as *mut IterState<'_>).cast(),
            )
        };
        if let Some(p) = state.panic.take() {
            resume_unwind(p);
        }
        if code == STOP {
            return Ok(());
        }
        check(code, self.path(), "list files", Some(image))
    }

    /// The entries directly inside the directory `path` (not recursive), or `None` when `path` does not
    /// exist in the image.
    pub fn children(&self, image: u32, path: &str) -> Result<Option<Vec<DirEntry>>> {
        let c = cstr("image path", path)?;
        let mut out = Vec::new();
        let mut f = |e: &DirEntry| {
            out.push(e.clone());
            ControlFlow::Continue(())
        };
        let mut state = IterState { f: &mut f, panic: None };
        // SAFETY: as in `walk`.
        let code = unsafe {
            wim_sys::wimlib_iterate_dir_tree(
                self.raw(),
                image as c_int,
                c.as_ptr(),
                wim_sys::WIMLIB_ITERATE_DIR_TREE_FLAG_CHILDREN as c_int,
                Some(dir_callback),
                (&mut state as *mut IterState<'_>).cast(),
            )
        };
        if let Some(p) = state.panic.take() {
            resume_unwind(p);
        }
        if code == wim_sys::WIMLIB_ERR_PATH_DOES_NOT_EXIST as c_int {
            return Ok(None);
        }
        check(code, self.path(), "list files", Some(image))?;
        Ok(Some(out))
    }

    /// Every entry of an image, root first.
    pub fn list(&self, image: u32) -> Result<Vec<DirEntry>> {
        let mut out = Vec::new();
        self.walk(image, "/", true, &mut |e| {
            out.push(e.clone());
            ControlFlow::Continue(())
        })?;
        Ok(out)
    }

    /// Extracts the given image paths (files or directories) under `target`, keeping their directory
    /// structure (`/Windows/System32/config/SOFTWARE` → `target/Windows/System32/config/SOFTWARE`).
    /// A missing path fails the whole call (`WIMLIB_ERR_PATH_DOES_NOT_EXIST`), never silently.
    pub fn extract_paths(&mut self, image: u32, target: &Path, paths: &[&str], control: Control<'_>) -> Result<()> {
        let t = cpath(target)?;
        let owned: Vec<_> = paths.iter().map(|p| cstr("image path", p)).collect::<Result<_>>()?;
        let ptrs: Vec<*const std::ffi::c_char> = owned.iter().map(|c| c.as_ptr()).collect();
        let raw = self.raw();
        let path = self.path().to_path_buf();
        with_progress(raw, control, &path, "extract", Some(image), || {
            // SAFETY: live handle; all strings and the pointer array outlive the call.
            unsafe { wim_sys::wimlib_extract_paths(raw, image as c_int, t.as_ptr(), ptrs.as_ptr(), ptrs.len(), 0) }
        })
    }

    /// Extracts a whole image into `target`.
    pub fn extract_image(&mut self, image: u32, target: &Path, control: Control<'_>) -> Result<()> {
        let t = cpath(target)?;
        let raw = self.raw();
        let path = self.path().to_path_buf();
        with_progress(raw, control, &path, "extract", Some(image), || {
            // SAFETY: live handle; `t` outlives the call.
            unsafe { wim_sys::wimlib_extract_image(raw, image as c_int, t.as_ptr(), 0) }
        })
    }
}
