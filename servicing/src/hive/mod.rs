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
mod value;
mod write;

pub use error::Error;
pub use handle::{Hive, Mode, Node};
pub use name::{compare_names, fold_name, names_equal, MAX_KEY_NAME_LEN, MAX_VALUE_NAME_LEN};
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
