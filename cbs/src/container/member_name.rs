//! Member names: what is refused, and the normalised form used on disk and for lookups.
//!
//! Names in cabinets use `\` between folders (`amd64_..._none_<hash>\netcfgx.dll`). A name is
//! untrusted input that will become a path under an extraction folder or inside a Windows image, so
//! anything that could climb out of that folder, or that Windows itself could not store, is refused
//! rather than repaired: `..` and `.` components, absolute paths, drive letters, `:` (NTFS streams),
//! control characters, empty components, the characters Windows forbids in names, trailing dots and
//! spaces (Windows strips them, so two names would meet), and the DOS device names (`CON`, `NUL` …).

use thiserror::Error;

/// Why a member name is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NameError {
    /// The name is empty.
    #[error("empty name")]
    Empty,
    /// A `..` component, which would climb out of the extraction folder.
    #[error("'..' component (path traversal)")]
    ParentComponent,
    /// A `.` component.
    #[error("'.' component")]
    DotComponent,
    /// A leading `\` or `/` (an absolute or UNC path).
    #[error("absolute path")]
    Absolute,
    /// A drive letter (`C:`).
    #[error("drive letter")]
    DriveLetter,
    /// A NUL or other control character.
    #[error("control character U+{0:04X}")]
    ControlChar(u32),
    /// Two separators in a row, or a separator at the end.
    #[error("empty path component")]
    EmptyComponent,
    /// A character Windows does not allow in a file name (`: * ? " < > |`).
    #[error("character {0:?} not allowed in a Windows file name")]
    ReservedChar(char),
    /// A component ending in `.` or a space, which Windows strips.
    #[error("component {0:?} ends in a dot or a space")]
    TrailingDotOrSpace(String),
    /// A DOS device name (`CON`, `PRN`, `AUX`, `NUL`, `COM1`–`COM9`, `LPT1`–`LPT9`), with or
    /// without an extension.
    #[error("reserved device name {0:?}")]
    ReservedDeviceName(String),
    /// A component longer than 255 bytes.
    #[error("component of {0} bytes (the limit is 255)")]
    TooLong(usize),
    /// A symbolic link where a package folder should hold a plain file or folder.
    #[error("symbolic link")]
    SymbolicLink,
    /// A file name on disk that is not valid Unicode.
    #[error("not valid Unicode")]
    NotUnicode,
}

/// Checks a member name and returns it with `/` between components, ready to join to an
/// extraction folder. `\` and `/` are both accepted as separators.
pub fn normalize_member_name(name: &str) -> Result<String, NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(NameError::ControlChar(c as u32));
    }
    if name.starts_with(['\\', '/']) {
        return Err(NameError::Absolute);
    }
    let bytes = name.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return Err(NameError::DriveLetter);
    }
    let mut out = String::with_capacity(name.len());
    for component in name.split(['\\', '/']) {
        check_component(component)?;
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(component);
    }
    Ok(out)
}

fn check_component(component: &str) -> Result<(), NameError> {
    match component {
        "" => return Err(NameError::EmptyComponent),
        "." => return Err(NameError::DotComponent),
        ".." => return Err(NameError::ParentComponent),
        _ => {}
    }
    if component.len() > 255 {
        return Err(NameError::TooLong(component.len()));
    }
    if let Some(c) = component.chars().find(|c| matches!(c, ':' | '*' | '?' | '"' | '<' | '>' | '|')) {
        return Err(NameError::ReservedChar(c));
    }
    if component.ends_with(['.', ' ']) {
        return Err(NameError::TrailingDotOrSpace(component.to_owned()));
    }
    let stem = component.split('.').next().unwrap_or(component).trim_end_matches(' ');
    if is_device_name(stem) {
        return Err(NameError::ReservedDeviceName(component.to_owned()));
    }
    Ok(())
}

fn is_device_name(stem: &str) -> bool {
    let upper = stem.to_ascii_uppercase();
    match upper.as_str() {
        "CON" | "PRN" | "AUX" | "NUL" => true,
        _ => {
            let b = upper.as_bytes();
            b.len() == 4 && (upper.starts_with("COM") || upper.starts_with("LPT")) && (b'1'..=b'9').contains(&b[3])
        }
    }
}

/// The key two names are compared by, as Windows compares them: separators unified to `/`, case
/// folded. Works on any text (it is also used for names the caller asks for, which are not checked).
pub fn member_key(name: &str) -> String {
    name.chars().map(|c| if c == '\\' { '/' } else { c }).flat_map(char::to_lowercase).collect()
}

/// The last component of a member name (either separator).
pub(crate) fn file_name(name: &str) -> &str {
    name.rsplit(['\\', '/']).next().unwrap_or(name)
}
