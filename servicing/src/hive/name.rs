//! Key and value names: Windows' case-insensitive comparison, key path splitting, and the limits Windows
//! puts on names.

use std::cmp::Ordering;

/// Longest key name Windows accepts, in UTF-16 code units.
pub const MAX_KEY_NAME_LEN: usize = 255;
/// Longest value name Windows accepts, in UTF-16 code units.
pub const MAX_VALUE_NAME_LEN: usize = 16383;

/// Whether two key or value names are the same name to Windows.
pub fn names_equal(a: &str, b: &str) -> bool {
    compare_names(a, b) == Ordering::Equal
}

/// Orders names as Windows orders the subkey lists of a hive (which it binary-searches): UTF-16 code
/// unit by code unit, each upcased on its own. Upcasing never expands a character (`ß` stays `ß`, not
/// `SS`), and upper case means `_` sorts after the letters.
pub fn compare_names(a: &str, b: &str) -> Ordering {
    a.encode_utf16().map(upcase).cmp(b.encode_utf16().map(upcase))
}

/// A name folded so that two names are equal to Windows exactly when their folded forms are equal
/// (for hash maps of names).
pub fn fold_name(name: &str) -> Vec<u16> {
    name.encode_utf16().map(upcase).collect()
}

fn upcase(unit: u16) -> u16 {
    if unit < 0x80 {
        return if (u16::from(b'a')..=u16::from(b'z')).contains(&unit) { unit - 0x20 } else { unit };
    }
    // Surrogates (halves of characters outside the BMP) are compared as they are, as Windows does.
    let Some(c) = char::from_u32(u32::from(unit)) else {
        return unit;
    };
    let mut upper = c.to_uppercase();
    match (upper.next(), upper.next()) {
        (Some(u), None) => u16::try_from(u32::from(u)).unwrap_or(unit),
        _ => unit,
    }
}

/// The components of a `\`-separated key path below the root. Leading and trailing backslashes are
/// ignored, so `""` and `"\"` are the root itself; an empty component (`a\\b`) is an error.
pub fn split_key_path(path: &str) -> Result<Vec<&str>, String> {
    let trimmed = path.trim_matches('\\');
    if trimmed.is_empty() {
        return Ok(Vec::new());
    }
    let parts: Vec<&str> = trimmed.split('\\').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!("key path {path:?} has an empty component"));
    }
    Ok(parts)
}

/// Why `name` cannot be a key name, if it cannot.
pub fn check_key_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a key name cannot be empty".into());
    }
    if name.contains('\\') {
        return Err(format!("key name {name:?} contains a backslash, the path separator"));
    }
    if name.contains('\0') {
        return Err(format!("key name {name:?} contains a NUL character"));
    }
    let len = name.encode_utf16().count();
    if len > MAX_KEY_NAME_LEN {
        return Err(format!("key name {name:?} is {len} characters long, over the limit of {MAX_KEY_NAME_LEN}"));
    }
    Ok(())
}

/// Why `name` cannot be a value name, if it cannot. The empty name is the key's default value.
pub fn check_value_name(name: &str) -> Result<(), String> {
    if name.contains('\0') {
        return Err(format!("value name {name:?} contains a NUL character"));
    }
    let len = name.encode_utf16().count();
    if len > MAX_VALUE_NAME_LEN {
        return Err(format!("value name is {len} characters long, over the limit of {MAX_VALUE_NAME_LEN}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparison_is_case_insensitive_per_character() {
        assert!(names_equal("Component Based Servicing", "COMPONENT based servicing"));
        assert!(names_equal("é", "É"));
        assert!(!names_equal("ß", "SS"));
        assert!(!names_equal("abc", "abcd"));
        assert!(!names_equal("a_b", "aab"));
    }

    #[test]
    fn order_is_by_upper_case() {
        assert_eq!(compare_names("aab", "a_b"), Ordering::Less, "'_' sorts after letters");
        assert_eq!(compare_names("Package", "PACKAGES"), Ordering::Less);
        assert_eq!(compare_names("b", "A"), Ordering::Greater);
        assert_eq!(compare_names("Ä", "ä"), Ordering::Equal);
    }

    #[test]
    fn key_paths_split_on_backslashes() {
        assert_eq!(
            split_key_path(r"Microsoft\Windows NT\CurrentVersion"),
            Ok(vec!["Microsoft", "Windows NT", "CurrentVersion"])
        );
        assert_eq!(split_key_path(r"\Select\"), Ok(vec!["Select"]));
        assert_eq!(split_key_path(""), Ok(vec![]));
        assert_eq!(split_key_path(r"\"), Ok(vec![]));
        assert!(split_key_path(r"a\\b").is_err());
    }

    #[test]
    fn names_are_checked() {
        assert!(check_key_name("Packages").is_ok());
        assert!(check_key_name("").is_err());
        assert!(check_key_name(r"a\b").is_err());
        assert!(check_key_name("a\0b").is_err());
        assert!(check_key_name(&"k".repeat(256)).is_err());
        assert!(check_key_name(&"k".repeat(255)).is_ok());
        assert!(check_value_name("").is_ok());
        assert!(check_value_name(r"a\b").is_ok());
        assert!(check_value_name("a\0").is_err());
    }
}
