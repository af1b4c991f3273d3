//! The plumbing every wimlib call goes through: one-time init, C strings, error mapping, and the
//! panic-safe progress trampoline.

use std::any::Any;
use std::ffi::{c_int, c_void, CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::Once;

use super::error::{error_name, Error, Result};
use crate::progress::{Control, Event, Phase};

static INIT: Once = Once::new();

/// Initialises wimlib once per process and registers its LZMS decoder with `cbs`. Every constructor
/// of a handle calls it first.
///
/// Lookups are case-insensitive, as on Windows: the images hold Windows trees whose paths DISM and CBS
/// treat case-insensitively (`System32` vs `system32`). wimlib's message printing stays off unless
/// `WIMPATCH_WIMLIB_MESSAGES` is set, because a library must not write to the caller's stderr; the
/// code and message travel in [`Error::Wimlib`] instead. `wimlib_global_cleanup` is never called: other
/// threads may still hold handles at exit.
pub(crate) fn init() {
    INIT.call_once(|| {
        let flags = wim_sys::WIMLIB_INIT_FLAG_DEFAULT_CASE_INSENSITIVE as c_int;
        // SAFETY: called once, before any other wimlib call of this process (the Once orders it), as the
        // header requires for the global-state functions.
        let code = unsafe { wim_sys::wimlib_global_init(flags) };
        if code != 0 {
            tracing::warn!(code, "wimlib_global_init failed; continuing with wimlib's defaults");
        }
        let print = std::env::var_os("WIMPATCH_WIMLIB_MESSAGES").is_some();
        // SAFETY: same single-threaded init window as above.
        unsafe { wim_sys::wimlib_set_print_errors(print) };
    });
    // After the Once (the decompressor it registers calls init itself): every engine entry point
    // that opens a WIM also makes the package decoders able to read LZMS.
    super::lzms::register();
}

/// wimlib's static message for a code.
pub(crate) fn message(code: c_int) -> String {
    // SAFETY: wimlib_get_error_string returns a pointer to a static NUL-terminated string for any code.
    let ptr = unsafe { wim_sys::wimlib_get_error_string(code as wim_sys::wimlib_error_code) };
    if ptr.is_null() {
        return "Unknown error".into();
    }
    // SAFETY: non-null, static and NUL-terminated (see above).
    unsafe { CStr::from_ptr(ptr) }.to_string_lossy().into_owned()
}

/// Maps a wimlib return code to `Ok(())` or an [`Error::Wimlib`] naming the file, the operation and image.
pub(crate) fn check(code: c_int, path: &Path, op: &'static str, image: Option<u32>) -> Result<()> {
    if code == 0 {
        return Ok(());
    }
    Err(Error::Wimlib { path: path.to_path_buf(), op, image, code, name: error_name(code), message: message(code) })
}

/// A path as a C string.
pub(crate) fn cpath(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::Nul { what: "path", value: path.display().to_string() })
}

/// A string as a C string.
pub(crate) fn cstr(what: &'static str, s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::Nul { what, value: s.to_string() })
}

/// Copies a C string that wimlib owns (valid only until the next call) into Rust.
///
/// # Safety
/// `ptr` must be null or point to a NUL-terminated string valid for the duration of this call.
pub(crate) unsafe fn copy_cstr(ptr: *const std::ffi::c_char) -> Option<String> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: the caller guarantees a valid NUL-terminated string.
    Some(unsafe { CStr::from_ptr(ptr) }.to_string_lossy().into_owned())
}

/// State shared with the progress trampoline for the duration of one wimlib call.
struct ProgressState<'a> {
    control: Control<'a>,
    /// A panic caught inside the callback, re-raised once wimlib has unwound its own state.
    panic: Option<Box<dyn Any + Send>>,
    /// Whether the abort came from the cancel flag (as opposed to a panic).
    cancelled: bool,
}

/// Runs one wimlib call with the progress function registered on `raw`, then unregisters it.
///
/// A panic inside the reporter cannot cross the C frames: the trampoline catches it, asks wimlib to
/// abort (wimlib then rolls back: appends are truncated, temp files removed), and the panic is resumed
/// here after the C call has returned. A raised cancel flag also aborts; it becomes
/// [`Error::Cancelled`].
pub(crate) fn with_progress(
    raw: *mut wim_sys::WIMStruct,
    control: Control<'_>,
    path: &Path,
    op: &'static str,
    image: Option<u32>,
    call: impl FnOnce() -> c_int,
) -> Result<()> {
    if control.cancelled() {
        return Err(Error::Cancelled { path: path.to_path_buf(), op });
    }
    let mut state = ProgressState { control, panic: None, cancelled: false };
    let ctx = (&mut state as *mut ProgressState<'_>).cast::<c_void>();
    // SAFETY: `raw` is a live WIMStruct owned by the caller; `ctx` points to `state`, which outlives the
    // registration because we unregister below before `state` goes out of scope.
    unsafe { wim_sys::wimlib_register_progress_function(raw, Some(trampoline), ctx) };
    let code = call();
    // SAFETY: as above; a null function unregisters.
    unsafe { wim_sys::wimlib_register_progress_function(raw, None, std::ptr::null_mut()) };
    if let Some(payload) = state.panic.take() {
        resume_unwind(payload);
    }
    if state.cancelled && code == wim_sys::WIMLIB_ERR_ABORTED_BY_PROGRESS as c_int {
        return Err(Error::Cancelled { path: path.to_path_buf(), op });
    }
    check(code, path, op, image)
}

unsafe extern "C" fn trampoline(
    msg: wim_sys::wimlib_progress_msg,
    info: *mut wim_sys::wimlib_progress_info,
    ctx: *mut c_void,
) -> wim_sys::wimlib_progress_status {
    // SAFETY: `ctx` is the `ProgressState` registered by `with_progress`, alive for the whole call, and
    // wimlib calls progress functions on the calling thread only, so this is the only reference.
    let state = unsafe { &mut *ctx.cast::<ProgressState<'_>>() };
    if state.panic.is_some() {
        return wim_sys::WIMLIB_PROGRESS_STATUS_ABORT;
    }
    // SAFETY: `info` is valid for this message (or null), per wimlib's progress contract.
    let event = unsafe { translate(msg, info) };
    let control = state.control;
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        if let Some(e) = event {
            control.reporter.report(&e);
        }
        control.cancelled()
    }));
    match outcome {
        Ok(false) => wim_sys::WIMLIB_PROGRESS_STATUS_CONTINUE,
        Ok(true) => {
            state.cancelled = true;
            wim_sys::WIMLIB_PROGRESS_STATUS_ABORT
        }
        Err(payload) => {
            state.panic = Some(payload);
            wim_sys::WIMLIB_PROGRESS_STATUS_ABORT
        }
    }
}

/// Turns a wimlib progress message into an owned [`Event`]; the union is only valid during the callback.
///
/// # Safety
/// `info` must be null or valid for the member that `msg` selects.
unsafe fn translate(msg: wim_sys::wimlib_progress_msg, info: *const wim_sys::wimlib_progress_info) -> Option<Event> {
    use wim_sys as w;
    let bytes = |phase, done, total| Some(Event::Bytes { phase, done, total });
    match msg {
        w::WIMLIB_PROGRESS_MSG_WRITE_STREAMS if !info.is_null() => {
            // SAFETY: WRITE_STREAMS selects `write_streams`.
            let i = unsafe { (*info).write_streams };
            bytes(Phase::WriteData, i.completed_bytes, i.total_bytes)
        }
        w::WIMLIB_PROGRESS_MSG_VERIFY_STREAMS if !info.is_null() => {
            // SAFETY: VERIFY_STREAMS selects `verify_streams`.
            let i = unsafe { (*info).verify_streams };
            bytes(Phase::Verify, i.completed_bytes, i.total_bytes)
        }
        w::WIMLIB_PROGRESS_MSG_EXTRACT_STREAMS if !info.is_null() => {
            // SAFETY: EXTRACT_STREAMS selects `extract`.
            let i = unsafe { (*info).extract };
            bytes(Phase::Extract, i.completed_bytes, i.total_bytes)
        }
        w::WIMLIB_PROGRESS_MSG_CALC_INTEGRITY | w::WIMLIB_PROGRESS_MSG_VERIFY_INTEGRITY if !info.is_null() => {
            // SAFETY: both integrity messages select `integrity`.
            let i = unsafe { (*info).integrity };
            bytes(Phase::Integrity, i.completed_bytes, i.total_bytes)
        }
        w::WIMLIB_PROGRESS_MSG_WRITE_METADATA_BEGIN => Some(Event::Begin(Phase::WriteMetadata)),
        w::WIMLIB_PROGRESS_MSG_WRITE_METADATA_END => Some(Event::End(Phase::WriteMetadata)),
        w::WIMLIB_PROGRESS_MSG_SCAN_BEGIN => Some(Event::Begin(Phase::Scan)),
        w::WIMLIB_PROGRESS_MSG_SCAN_END => Some(Event::End(Phase::Scan)),
        w::WIMLIB_PROGRESS_MSG_RENAME => Some(Event::Begin(Phase::Rename)),
        w::WIMLIB_PROGRESS_MSG_BEGIN_VERIFY_IMAGE => Some(Event::Begin(Phase::Verify)),
        w::WIMLIB_PROGRESS_MSG_EXTRACT_TREE_BEGIN | w::WIMLIB_PROGRESS_MSG_EXTRACT_IMAGE_BEGIN => {
            Some(Event::Begin(Phase::Extract))
        }
        w::WIMLIB_PROGRESS_MSG_EXTRACT_TREE_END | w::WIMLIB_PROGRESS_MSG_EXTRACT_IMAGE_END => {
            Some(Event::End(Phase::Extract))
        }
        _ => None,
    }
}
