//! The owned libhivex handle: opening, closing, and the plumbing for memory libhivex hands back.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;

use hivex_sys as sys;

use super::{header, Error, MAX_HIVE_BYTES};

/// How a hive is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Read only. libhivex maps the file: it must not be truncated or rewritten in place while the
    /// [`Hive`] is open (replacing it by rename, as [`Hive::commit`] does, is fine).
    ReadOnly,
    /// Read and write. libhivex reads the whole file into memory; nothing reaches the disk before
    /// [`Hive::commit`] or [`Hive::commit_to`] (or [`Hive::add_children`] with many names, which
    /// commits first).
    Write,
}

/// A key (an `nk` cell) of one open [`Hive`].
///
/// A `Node` is the cell's offset in the file. libhivex checks that an offset is a live `nk` cell before
/// using it, so a `Node` from another hive, or of a deleted key, gives an error rather than undefined
/// behaviour; it may however name an unrelated key once its cell has been reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Node(pub(super) sys::hive_node_h);

impl Node {
    /// The offset of the key's cell in the hive file, for diagnostics.
    pub fn offset(self) -> usize {
        self.0
    }
}

/// An open registry hive file.
pub struct Hive {
    handle: NonNull<sys::hive_h>,
    pub(super) path: PathBuf,
    /// What errors call the hive: the file itself, or (for a working copy of an image's hive) the
    /// image and the hive's path in it, since the copy is gone by the time the error is read.
    pub(super) shown: PathBuf,
    pub(super) mode: Mode,
    pub(super) root: Node,
}

// SAFETY: a hive_h is a plain heap object: libhivex keeps no thread-local or global state tied to it
// (errno, which it sets, is read back on the thread that made the call), so it may be used from, and
// closed on, any one thread at a time.
//
// Hive is deliberately not Sync: libhivex does no locking around the handle, so two threads calling into
// it at once, even through `&self` reads, would race on its internal state.
unsafe impl Send for Hive {}

impl std::fmt::Debug for Hive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hive").field("path", &self.path).field("mode", &self.mode).finish_non_exhaustive()
    }
}

impl Hive {
    /// Opens the hive file `path`.
    ///
    /// The file is untrusted input: it is refused before libhivex sees it if it is larger than
    /// [`MAX_HIVE_BYTES`] or if its base block is malformed, and libhivex then validates every cell.
    pub fn open(path: &Path, mode: Mode) -> Result<Hive, Error> {
        Hive::open_as(path, mode, path)
    }

    /// Opens the hive file `path`, called `shown` in every error (`install.wim:1:\Windows\System32\
    /// config\SOFTWARE` for the working copy of an image's hive), as [`open`](Hive::open) does.
    /// A symbolic link (what a reparse point in the image is extracted as) is refused, not followed.
    pub fn open_as(path: &Path, mode: Mode, shown: &Path) -> Result<Hive, Error> {
        let owned = shown.to_path_buf();
        let meta = std::fs::symlink_metadata(path).map_err(|source| Error::Open { path: owned.clone(), source })?;
        if !meta.is_file() {
            let what = if meta.file_type().is_symlink() {
                "a symbolic link or reparse point, not a regular file"
            } else {
                "not a regular file"
            };
            return Err(Error::Open { path: owned, source: io::Error::new(io::ErrorKind::InvalidInput, what) });
        }
        if meta.len() > MAX_HIVE_BYTES {
            return Err(Error::TooLarge { path: owned, size: meta.len(), limit: MAX_HIVE_BYTES });
        }
        header::check(path, meta.len()).map_err(|e| e.renamed(shown))?;

        let c_path = c_path(path)?;
        let flags = match mode {
            Mode::ReadOnly => 0,
            Mode::Write => sys::HIVEX_OPEN_WRITE as c_int,
        };
        // SAFETY: c_path is a NUL-terminated string that outlives the call (libhivex keeps its own copy).
        let raw = unsafe { sys::hivex_open(c_path.as_ptr(), flags) };
        let Some(handle) = NonNull::new(raw) else {
            let errno = last_errno();
            return Err(if header::is_format_errno(&errno) {
                Error::InvalidData { path: owned, what: format!("libhivex rejected the hive structure ({errno})") }
            } else {
                Error::Open { path: owned, source: errno }
            });
        };
        let mut hive = Hive { handle, path: path.to_path_buf(), shown: owned, mode, root: Node(0) };
        // SAFETY: the handle is live; hivex_root only reads the handle's header fields.
        let root = unsafe { sys::hivex_root(hive.raw()) };
        if root == 0 {
            // `hive` is dropped here, which closes the handle.
            return Err(Error::InvalidData { path: hive.shown.clone(), what: "the root key cell is not valid".into() });
        }
        hive.root = Node(root);
        tracing::debug!(path = %hive.path.display(), ?mode, "opened registry hive");
        Ok(hive)
    }

    /// Replaces the libhivex handle with a fresh one on the file the hive was opened from (after the
    /// file was rewritten outside libhivex). Node offsets stay valid when the rewrite moved no cell.
    pub(super) fn reload(&mut self) -> Result<(), Error> {
        let mut fresh = Hive::open_as(&self.path, self.mode, &self.shown)?;
        std::mem::swap(&mut self.handle, &mut fresh.handle);
        // Closes the old handle.
        drop(fresh);
        Ok(())
    }

    /// The file the hive was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The mode the hive was opened in.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The root key.
    pub fn root(&self) -> Node {
        self.root
    }

    /// The raw handle, for calls into libhivex. Valid for as long as `self` is.
    pub(super) fn raw(&self) -> *mut sys::hive_h {
        self.handle.as_ptr()
    }

    pub(super) fn require_writable(&self, op: &'static str) -> Result<(), Error> {
        match self.mode {
            Mode::Write => Ok(()),
            Mode::ReadOnly => Err(Error::ReadOnly { path: self.shown.clone(), op }),
        }
    }

    /// A [`Error::Call`] for a failed libhivex call on `node`; `source` must be captured right after
    /// the call, before anything else can touch errno.
    pub(super) fn call_error(&self, op: &'static str, node: Node, source: io::Error) -> Error {
        Error::Call { path: self.shown.clone(), op, key: self.describe(node), source }
    }

    pub(super) fn invalid_data(&self, what: String) -> Error {
        Error::InvalidData { path: self.shown.clone(), what }
    }

    pub(super) fn invalid_input(&self, what: String) -> Error {
        Error::InvalidInput { path: self.shown.clone(), what }
    }

    /// The key path of `node` for a message, or its offset when the path cannot be read.
    pub(super) fn describe(&self, node: Node) -> String {
        self.key_path(node).unwrap_or_else(|_| format!("node@{:#x}", node.0))
    }
}

impl Drop for Hive {
    fn drop(&mut self) {
        // SAFETY: the handle came from hivex_open, is closed exactly once (here), and nothing borrowed
        // from it outlives `self`: every buffer libhivex returned has been copied out and freed.
        let rc = unsafe { sys::hivex_close(self.handle.as_ptr()) };
        if rc != 0 {
            tracing::warn!(path = %self.path.display(), error = %last_errno(), "closing registry hive failed");
        }
    }
}

/// `path` as a C string for libhivex.
pub(super) fn c_path(path: &Path) -> Result<CString, Error> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::InvalidInput { path: path.to_path_buf(), what: "the file path contains a NUL byte".into() })
}

/// errno after a failed libhivex call; never "Success", which some failure paths would otherwise show.
pub(super) fn last_errno() -> io::Error {
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(0) {
        io::Error::other("libhivex reported a failure without an error code")
    } else {
        err
    }
}

unsafe extern "C" {
    // libhivex returns buffers from the C allocator and leaves freeing them to the caller.
    fn free(ptr: *mut c_void);
}

/// A buffer allocated by libhivex with `malloc`, freed when dropped.
pub(super) struct Malloced<T>(NonNull<T>);

impl<T> Malloced<T> {
    /// Takes ownership of `ptr`; `None` when it is null (libhivex's failure return).
    ///
    /// # Safety
    /// A non-null `ptr` must come from the C allocator, be owned by the caller, and not be freed elsewhere.
    pub(super) unsafe fn from_raw(ptr: *mut T) -> Option<Self> {
        NonNull::new(ptr).map(Malloced)
    }

    pub(super) fn as_ptr(&self) -> *mut T {
        self.0.as_ptr()
    }
}

impl<T> Drop for Malloced<T> {
    fn drop(&mut self) {
        // SAFETY: per `from_raw`, the pointer came from malloc and is owned by us; it is freed once.
        unsafe { free(self.0.as_ptr().cast()) }
    }
}

impl Malloced<c_char> {
    /// The NUL-terminated string libhivex returned, as UTF-8 (libhivex has already recoded it from the
    /// hive's Latin-1 or UTF-16; anything it could not recode is replaced, not trusted).
    ///
    /// # Safety
    /// The buffer must hold a NUL-terminated string.
    pub(super) unsafe fn to_string_lossy(&self) -> String {
        // SAFETY: the caller guarantees NUL termination; the buffer lives as long as `self`.
        let s = unsafe { CStr::from_ptr(self.as_ptr()) };
        s.to_string_lossy().into_owned()
    }
}

impl Malloced<usize> {
    /// The zero-terminated array of node or value offsets libhivex returned; `None` when it holds more
    /// than `limit` entries.
    ///
    /// # Safety
    /// The buffer must be a zero-terminated array of `usize`.
    pub(super) unsafe fn to_offsets(&self, limit: usize) -> Option<Vec<usize>> {
        let mut out = Vec::new();
        let base = self.as_ptr();
        loop {
            // SAFETY: the array is zero-terminated and we stop at the terminator, so every index read
            // is inside the allocation.
            let entry = unsafe { *base.add(out.len()) };
            if entry == 0 {
                return Some(out);
            }
            if out.len() == limit {
                return None;
            }
            out.push(entry);
        }
    }
}
