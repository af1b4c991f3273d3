//! Changing images in memory: batches of add/delete/rename, adding and deleting whole images.
//! Nothing reaches the file until a write or overwrite.

use std::ffi::{c_int, CString};
use std::path::{Path, PathBuf};

use super::call::{check, cpath, cstr, with_progress};
use super::error::Result;
use super::handle::Wim;
use crate::progress::Control;

/// One change to an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateCommand {
    /// Add a file or directory tree from the local filesystem at `target` (an existing directory is
    /// merged; an existing file is replaced).
    Add {
        /// Local file or directory.
        source: PathBuf,
        /// Path inside the image.
        target: String,
    },
    /// Delete a path (directories recursively). With `must_exist`, a missing path fails the batch.
    Delete {
        /// Path inside the image.
        path: String,
        /// Fail if the path is missing.
        must_exist: bool,
    },
    /// Rename (move) a path inside the image; an existing target is replaced.
    Rename {
        /// Old path.
        from: String,
        /// New path.
        to: String,
    },
}

impl Wim {
    /// Applies a batch of changes to one image. The batch is atomic: if one command fails, wimlib rolls
    /// back all of them and the in-memory image is unchanged.
    pub fn update(&mut self, image: u32, commands: &[UpdateCommand], control: Control<'_>) -> Result<()> {
        // Own every C string for the duration of the call; the raw commands point into them.
        let mut strings: Vec<CString> = Vec::new();
        let mut raw_cmds: Vec<wim_sys::wimlib_update_command> = Vec::with_capacity(commands.len());
        for cmd in commands {
            let mut rc = wim_sys::wimlib_update_command::default();
            match cmd {
                UpdateCommand::Add { source, target } => {
                    strings.push(cpath(source)?);
                    let s = strings.last().map_or(std::ptr::null_mut(), |c| c.as_ptr().cast_mut());
                    strings.push(cstr("image path", target)?);
                    let t = strings.last().map_or(std::ptr::null_mut(), |c| c.as_ptr().cast_mut());
                    rc.op = wim_sys::WIMLIB_UPDATE_OP_ADD;
                    rc.__bindgen_anon_1.add = wim_sys::wimlib_add_command {
                        fs_source_path: s,
                        wim_target_path: t,
                        config_file: std::ptr::null_mut(),
                        add_flags: 0,
                    };
                }
                UpdateCommand::Delete { path, must_exist } => {
                    strings.push(cstr("image path", path)?);
                    let p = strings.last().map_or(std::ptr::null_mut(), |c| c.as_ptr().cast_mut());
                    let mut flags = wim_sys::WIMLIB_DELETE_FLAG_RECURSIVE as c_int;
                    if !must_exist {
                        flags |= wim_sys::WIMLIB_DELETE_FLAG_FORCE as c_int;
                    }
                    rc.op = wim_sys::WIMLIB_UPDATE_OP_DELETE;
                    rc.__bindgen_anon_1.delete_ = wim_sys::wimlib_delete_command { wim_path: p, delete_flags: flags };
                }
                UpdateCommand::Rename { from, to } => {
                    strings.push(cstr("image path", from)?);
                    let f = strings.last().map_or(std::ptr::null_mut(), |c| c.as_ptr().cast_mut());
                    strings.push(cstr("image path", to)?);
                    let t = strings.last().map_or(std::ptr::null_mut(), |c| c.as_ptr().cast_mut());
                    rc.op = wim_sys::WIMLIB_UPDATE_OP_RENAME;
                    rc.__bindgen_anon_1.rename =
                        wim_sys::wimlib_rename_command { wim_source_path: f, wim_target_path: t, rename_flags: 0 };
                }
            }
            raw_cmds.push(rc);
        }
        let raw = self.raw();
        let path = self.path().to_path_buf();
        let flags = wim_sys::WIMLIB_UPDATE_FLAG_SEND_PROGRESS as c_int;
        with_progress(raw, control, &path, "update image", Some(image), || {
            // SAFETY: live handle; `raw_cmds` and the strings they point to (moved into `strings`, whose
            // heap buffers do not move) outlive the call. wimlib does not keep the pointers afterwards.
            unsafe { wim_sys::wimlib_update_image(raw, image as c_int, raw_cmds.as_ptr(), raw_cmds.len(), flags) }
        })
    }

    /// Captures a local directory as a new image named `name`; returns its index. The files are read
    /// when the WIM is written, so `source` must stay unchanged until then.
    pub fn add_image(&mut self, source: &Path, name: &str, control: Control<'_>) -> Result<u32> {
        let s = cpath(source)?;
        let n = cstr("image name", name)?;
        let raw = self.raw();
        let path = self.path().to_path_buf();
        with_progress(raw, control, &path, "add image", None, || {
            // SAFETY: live handle; strings valid for the call; NULL config means no exclusions.
            unsafe { wim_sys::wimlib_add_image(raw, s.as_ptr(), n.as_ptr(), std::ptr::null(), 0) }
        })?;
        Ok(self.image_count())
    }

    /// Deletes an image from the in-memory WIM. A later overwrite rebuilds the file.
    pub fn delete_image(&mut self, image: u32) -> Result<()> {
        // SAFETY: live handle; plain arguments.
        let code = unsafe { wim_sys::wimlib_delete_image(self.raw(), image as c_int) };
        check(code, self.path(), "delete image", Some(image))
    }
}
