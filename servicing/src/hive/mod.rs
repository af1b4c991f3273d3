//! Safe layer over libhivex: open, read, write and commit Windows registry hives (regf).
//!
//! This module and `wim` are the only places in the project that call C. Everything libhivex returns is
//! copied into owned Rust values (key names, [`Value`]s) before the call returns, so no borrowed pointer
//! into the library ever escapes. Hives are untrusted input: files and values are size-checked before
//! libhivex loads or copies them, and libhivex validates every cell offset it follows.
//!
//! Keys are addressed by [`Node`] handles or by `\`-separated paths below the root
//! (`Microsoft\Windows\CurrentVersion`), with names compared case-insensitively as Windows does.

mod commit;
mod error;
mod handle;
mod header;
mod name;
mod read;
mod subkey_index;
mod value;
mod write;

pub use error::Error;
pub use handle::{Hive, Mode, Node};
pub use name::{compare_names, fold_name, names_equal, MAX_KEY_NAME_LEN, MAX_VALUE_NAME_LEN};
pub use subkey_index::{insert_children, split_in_memory, split_long_subkey_lists, MAX_LEAF_ENTRIES};
pub use value::{kind, EncodeError, Value};

/// Largest hive file [`Hive::open`] accepts. Real SOFTWARE and COMPONENTS hives stay well below it.
pub const MAX_HIVE_BYTES: u64 = 1 << 30;

/// Largest value data read from a hive.
pub const MAX_VALUE_BYTES: usize = 64 << 20;

/// Largest value data written to a hive: the most one data cell holds before Windows expects "big
/// data" (a `db` cell and segment list), which libhivex cannot write.
pub const MAX_WRITE_VALUE_BYTES: usize = 16344;

/// Most subkeys of one key read from a hive.
pub const MAX_SUBKEYS: usize = 1 << 20;

/// Most values of one key read from a hive.
pub const MAX_VALUES: usize = 1 << 20;

/// Deepest key nesting followed when building a key path (Windows allows 512 levels).
pub const MAX_DEPTH: usize = 512;

/// What can be known of the libhivex in use. libhivex exports no version function, so this is the
/// version pkg-config reported at build time and the shared object the process actually loaded
/// (from `/proc/self/maps`; its file name carries the soname version, not the release).
#[derive(Debug, Clone, serde::Serialize)]
pub struct LibhivexVersion {
    /// `pkg-config --modversion hivex` when the build ran ("unknown" without pkg-config).
    pub build_version: &'static str,
    /// The libhivex shared object mapped into this process, resolved (e.g.
    /// `/usr/lib/x86_64-linux-gnu/libhivex.so.0.0.0`); `None` where /proc is not available.
    pub loaded: Option<std::path::PathBuf>,
}

/// The libhivex version as far as it is knowable; see [`LibhivexVersion`].
pub fn libhivex_version() -> LibhivexVersion {
    LibhivexVersion { build_version: hivex_sys::BUILD_VERSION, loaded: loaded_object("libhivex.so") }
}

/// The resolved path of the mapped shared object whose file name starts with `prefix`.
fn loaded_object(prefix: &str) -> Option<std::path::PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| std::path::Path::new(p).file_name().is_some_and(|n| n.to_string_lossy().starts_with(prefix)))
        .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.into()))
}
