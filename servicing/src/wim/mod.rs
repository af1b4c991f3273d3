//! Safe layer over wimlib: the only place (with `hive`) where the project calls C.
//!
//! Shape: [`Wim`] is an owned handle (`Send`, not `Sync`, freed on drop); read-write handles hold the
//! sidecar writer lock ([`WimLock`]) until committed or dropped; [`Wim::commit`] consumes the handle
//! because wimlib allows nothing but `free` after an overwrite; new files are written beside their
//! destination and renamed into place ([`Wim::write_new`]). Progress reaches a
//! [`Reporter`](crate::progress::Reporter); a panic inside it aborts the C call and is re-raised after;
//! the cancel flag aborts cleanly (wimlib truncates an append back and removes temp files).
//!
//! A handle cannot be shared between threads (wimlib forbids concurrent use of one `WIMStruct`):
//!
//! ```compile_fail
//! fn needs_sync<T: Sync>() {}
//! needs_sync::<servicing::wim::Wim>();
//! ```

mod atomic;
mod blob;
mod call;
mod codec;
mod content;
mod error;
mod handle;
mod image;
mod lock;
pub mod lzms;
pub mod mount;
mod tree;
mod update;
mod write;

pub use atomic::{sweep_stale, temp_path_for};
pub use content::{package_content_opener, PackageContent, CONTENT_IMAGE};
pub use error::{error_name, Error, Result};
pub use handle::{Compression, OpenMode, Wim, WimInfo};
pub use image::{Arch, ImageInfo, ImageRef};
pub use lock::{lock_path_for, LockWait, WimLock};
pub use tree::DirEntry;
pub use update::UpdateCommand;
pub use write::{Commit, WriteOptions};

/// The wimlib version linked at run time, as (major, minor, patch).
pub fn wimlib_version() -> (u32, u32, u32) {
    // SAFETY: takes no arguments, returns a constant.
    let v = unsafe { wim_sys::wimlib_get_version() };
    (v >> 20, (v >> 10) & 0x3ff, v & 0x3ff)
}

/// The version string the linked wimlib reports. It can disagree with [`wimlib_version`]: Debian's
/// wimlib 1.13.6 says "1.13.5" here (upstream left the string behind), so callers show both.
pub fn wimlib_version_string() -> String {
    // SAFETY: takes no arguments; returns a pointer to a static string owned by the library.
    let p = unsafe { wim_sys::wimlib_get_version_string() };
    if p.is_null() {
        return String::new();
    }
    // SAFETY: non-null, NUL-terminated and static for the life of the process (wimlib.h).
    unsafe { std::ffi::CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// Initialises wimlib and registers its LZMS decoder with `cbs` (see [`crate::init`]).
pub fn init() {
    call::init();
}
