//! File and member names as Windows compares them: ASCII case folding only, and every test on a
//! `char` boundary, so that no name (combining marks, right-to-left overrides, fullwidth dots, CJK)
//! can make a slice panic or match a suffix it does not end with.
//!
//! Why ASCII folding for these tests, whose suffixes and prefixes are ASCII: Windows compares names
//! through an upcase table, under which only an ASCII letter equals an ASCII letter. Unicode
//! lowercasing would turn the Kelvin sign (U+212A) into an ASCII `k`, so `x-p\u{212A}gProperties.txt`
//! would pass for `-pkgproperties.txt` here and not on Windows. (Whole-name equality keeps
//! [`crate::container::member_key`], which folds all of Unicode.)

/// `name` ends with `suffix`, ASCII letters compared without case.
pub fn ends_with_ci(name: &str, suffix: &str) -> bool {
    strip_suffix_ci(name, suffix).is_some()
}

/// `name` starts with `prefix`, ASCII letters compared without case.
pub fn starts_with_ci(name: &str, prefix: &str) -> bool {
    strip_prefix_ci(name, prefix).is_some()
}

/// `name` without `suffix` (compared as in [`ends_with_ci`]), or `None`.
pub fn strip_suffix_ci<'a>(name: &'a str, suffix: &str) -> Option<&'a str> {
    let at = name.len().checked_sub(suffix.len())?;
    (name.is_char_boundary(at) && name[at..].eq_ignore_ascii_case(suffix)).then(|| &name[..at])
}

/// `name` without `prefix` (compared as in [`ends_with_ci`]), or `None`.
pub fn strip_prefix_ci<'a>(name: &'a str, prefix: &str) -> Option<&'a str> {
    let at = prefix.len();
    (name.len() >= at && name.is_char_boundary(at) && name[..at].eq_ignore_ascii_case(prefix)).then(|| &name[at..])
}

/// The article number the way reports show it: `2584475` (pkgProperties) and `KB2584475`
/// (update.mum) name the same article, `KB…`.
pub fn normalize_kb(kb: &str) -> String {
    let kb = kb.trim();
    if !kb.is_empty() && kb.bytes().all(|b| b.is_ascii_digit()) {
        format!("KB{kb}")
    } else {
        kb.to_owned()
    }
}

/// The digits after the first `kb` (any case) in `name`, as in `Windows10.0-KB5000001-x64.cab`.
pub fn kb_in_file_name(name: &str) -> Option<String> {
    let bytes = name.as_bytes();
    let at = bytes.windows(2).position(|w| w.eq_ignore_ascii_case(b"kb"))?;
    let digits: String = name[at + 2..].chars().take_while(char::is_ascii_digit).collect();
    (!digits.is_empty()).then_some(digits)
}
