//! The owned WIM handle: opening, creating, header facts, and freeing.

use std::ffi::c_int;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;

use super::call::{self, check, cpath};
use super::error::{Error, Result};
use super::lock::{LockWait, WimLock};

/// WIM compression types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// No compression.
    None,
    /// XPRESS (DISM `/Compress:fast`).
    Xpress,
    /// LZX (DISM `/Compress:max`).
    Lzx,
    /// LZMS (DISM `/Compress:recovery`, ESD).
    Lzms,
}

impl Compression {
    pub(crate) fn raw(self) -> wim_sys::wimlib_compression_type {
        match self {
            Compression::None => wim_sys::WIMLIB_COMPRESSION_TYPE_NONE,
            Compression::Xpress => wim_sys::WIMLIB_COMPRESSION_TYPE_XPRESS,
            Compression::Lzx => wim_sys::WIMLIB_COMPRESSION_TYPE_LZX,
            Compression::Lzms => wim_sys::WIMLIB_COMPRESSION_TYPE_LZMS,
        }
    }

    pub(crate) fn from_raw(v: i32) -> Option<Compression> {
        match v as wim_sys::wimlib_compression_type {
            wim_sys::WIMLIB_COMPRESSION_TYPE_NONE => Some(Compression::None),
            wim_sys::WIMLIB_COMPRESSION_TYPE_XPRESS => Some(Compression::Xpress),
            wim_sys::WIMLIB_COMPRESSION_TYPE_LZX => Some(Compression::Lzx),
            wim_sys::WIMLIB_COMPRESSION_TYPE_LZMS => Some(Compression::Lzms),
            _ => None,
        }
    }

    /// The name used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Xpress => "xpress",
            Compression::Lzx => "lzx",
            Compression::Lzms => "lzms",
        }
    }
}

impl std::str::FromStr for Compression {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Ok(Compression::None),
            "xpress" | "fast" => Ok(Compression::Xpress),
            "lzx" | "max" | "maximum" => Ok(Compression::Lzx),
            "lzms" | "recovery" => Ok(Compression::Lzms),
            other => Err(format!("unknown compression {other:?} (none, xpress, lzx, lzms)")),
        }
    }
}

/// Facts from the WIM header.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WimInfo {
    /// The WIM GUID, as 32 hex digits.
    pub guid: String,
    /// Number of images.
    pub image_count: u32,
    /// Bootable image index (0 = none).
    pub boot_index: u32,
    /// Format version (68864 normal, 3584 solid/ESD).
    pub wim_version: u32,
    /// Compression type, `None` if wimlib reports one this layer does not know.
    pub compression: Option<Compression>,
    /// Chunk size in bytes.
    pub chunk_size: u32,
    /// Size of the file in bytes.
    pub total_bytes: u64,
    /// Part number of a split WIM.
    pub part_number: u16,
    /// Number of parts of a split WIM.
    pub total_parts: u16,
    /// Has an integrity table.
    pub has_integrity_table: bool,
    /// Read-only (file permissions or header flag).
    pub is_readonly: bool,
    /// A previous writer was interrupted (the header flag is still set): run `wimpatch optimize`.
    pub write_in_progress: bool,
    /// Pipable format.
    pub pipable: bool,
    /// Solid (ESD) resources in use.
    pub solid: bool,
}

/// Open for reading only, or for writing with the writer lock held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Read-only: no lock is taken.
    ReadOnly,
    /// Read-write: the sidecar lock is taken (see [`WimLock`]) and held until the handle is dropped or
    /// committed.
    ReadWrite(LockWait),
}

/// An open WIM.
///
/// `Send` but not `Sync`: wimlib forbids concurrent use of one `WIMStruct` even for reads, but a handle
/// may move between threads (wimlib keeps no thread-local state per handle, and progress callbacks run
/// on whichever thread makes the call).
#[derive(Debug)]
pub struct Wim {
    raw: NonNull<wim_sys::WIMStruct>,
    path: PathBuf,
    lock: Option<WimLock>,
    /// The file opened once for reading resources directly (`Wim::read_file_data`).
    pub(crate) data_file: std::cell::OnceCell<std::fs::File>,
}

// SAFETY: see the type's documentation; every method that touches `raw` takes `&self`/`&mut self` and
// the type is not `Sync`, so a handle is used by one thread at a time.
unsafe impl Send for Wim {}

impl Wim {
    /// Opens a WIM file.
    pub fn open(path: &Path, mode: OpenMode) -> Result<Wim> {
        call::init();
        // Checked before the lock is taken, and without blocking: a FIFO given as the WIM would make
        // wimlib wait for a writer forever, holding the lock (issue 17).
        if let Err(e) = cbs::regular_file::open_regular(path) {
            return Err(match e.kind() {
                std::io::ErrorKind::InvalidInput => {
                    Error::Invalid { path: path.to_path_buf(), message: format!("is not a WIM file: {e}") }
                }
                _ => Error::io(path, "cannot open", e),
            });
        }
        let lock = match mode {
            OpenMode::ReadOnly => None,
            OpenMode::ReadWrite(wait) => Some(WimLock::acquire(path, wait)?),
        };
        if let Some(_held) = &lock {
            super::atomic::sweep_stale(path);
        }
        let flags = match mode {
            OpenMode::ReadOnly => 0,
            OpenMode::ReadWrite(_) => wim_sys::WIMLIB_OPEN_FLAG_WRITE_ACCESS as c_int,
        } | wim_sys::WIMLIB_OPEN_FLAG_ERROR_IF_SPLIT as c_int;
        let c = cpath(path)?;
        let mut raw = std::ptr::null_mut();
        // SAFETY: `c` is a valid C string for the call; `raw` is an out-pointer wimlib sets on success.
        let code = unsafe { wim_sys::wimlib_open_wim(c.as_ptr(), flags, &mut raw) };
        check(code, path, "open", None)?;
        let raw = NonNull::new(raw)
            .ok_or_else(|| Error::Invalid { path: path.to_path_buf(), message: "wimlib returned no handle".into() })?;
        let wim = Wim { raw, path: path.to_path_buf(), lock, data_file: Default::default() };
        if wim.info().write_in_progress {
            tracing::warn!(path = %path.display(), "an earlier write to this WIM was interrupted; its old content is intact, `wimpatch optimize` reclaims the space");
        }
        Ok(wim)
    }

    /// Creates an empty in-memory WIM that will be written to `dest` (used for messages only until
    /// [`Wim::write_new`]).
    pub fn create_new(compression: Compression, dest: &Path) -> Result<Wim> {
        call::init();
        let mut raw = std::ptr::null_mut();
        // SAFETY: `raw` is an out-pointer wimlib sets on success.
        let code = unsafe { wim_sys::wimlib_create_new_wim(compression.raw(), &mut raw) };
        check(code, dest, "create", None)?;
        let raw = NonNull::new(raw)
            .ok_or_else(|| Error::Invalid { path: dest.to_path_buf(), message: "wimlib returned no handle".into() })?;
        Ok(Wim { raw, path: dest.to_path_buf(), lock: None, data_file: Default::default() })
    }

    /// The file this handle reads from (or will be written to).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether this handle holds the writer lock.
    pub fn is_locked_for_write(&self) -> bool {
        self.lock.is_some()
    }

    pub(crate) fn raw(&self) -> *mut wim_sys::WIMStruct {
        self.raw.as_ptr()
    }

    pub(crate) fn take_lock(&mut self) -> Option<WimLock> {
        self.lock.take()
    }

    /// The writer lock this handle holds (read-write handles only), e.g. to rewrite the same file with
    /// [`Wim::write_new`].
    pub fn writer_lock(&self) -> Option<&WimLock> {
        self.lock.as_ref()
    }

    /// Header facts.
    pub fn info(&self) -> WimInfo {
        let mut i = wim_sys::wimlib_wim_info::default();
        // SAFETY: live handle; `i` is a properly sized out-struct. The function always returns 0.
        unsafe { wim_sys::wimlib_get_wim_info(self.raw(), &mut i) };
        WimInfo {
            guid: i.guid.iter().map(|b| format!("{b:02x}")).collect(),
            image_count: i.image_count,
            boot_index: i.boot_index,
            wim_version: i.wim_version,
            compression: Compression::from_raw(i.compression_type),
            chunk_size: i.chunk_size,
            total_bytes: i.total_bytes,
            part_number: i.part_number,
            total_parts: i.total_parts,
            has_integrity_table: i.has_integrity_table() != 0,
            is_readonly: i.is_readonly() != 0,
            write_in_progress: i.write_in_progress() != 0,
            pipable: i.pipable() != 0,
            solid: i.wim_version == 3584,
        }
    }

    /// Number of images.
    pub fn image_count(&self) -> u32 {
        self.info().image_count
    }

    /// Sets the compression type of data written by the next write (a different type forces a rebuild).
    pub fn set_output_compression(&mut self, c: Compression) -> Result<()> {
        // SAFETY: live handle; plain value argument.
        let code = unsafe { wim_sys::wimlib_set_output_compression_type(self.raw(), c.raw()) };
        check(code, &self.path, "set output compression", None)
    }
}

impl Drop for Wim {
    fn drop(&mut self) {
        // SAFETY: we own the handle and free it exactly once; wimlib refcounts handles shared through
        // exports, so a destination that still references this one keeps it alive.
        unsafe { wim_sys::wimlib_free(self.raw.as_ptr()) };
        // The lock (if any) drops after the handle: nothing writes once the handle is gone.
    }
}
