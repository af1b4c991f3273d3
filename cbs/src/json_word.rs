//! The JSON vocabulary's enum-like words: every command's `--json` writes them in snake_case, like
//! its keys (`install_pending`, `cbs_cab`), whatever words the text output uses for them.

/// `value` in snake_case: `Install Pending` → `install_pending`, `package-folder` →
/// `package_folder`, `InProcess` → `in_process`.
pub fn snake_case_word(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    let mut out = String::with_capacity(value.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            continue;
        }
        if c.is_uppercase() && i > 0 && !out.ends_with('_') {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            // A word starts here: after a lowercase letter or digit (`InProcess`), or where an
            // acronym ends (`NotASite`, `CBSError`).
            if prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_lower) {
                out.push('_');
            }
        }
        out.extend(c.to_lowercase());
    }
    while out.ends_with('_') {
        out.pop();
    }
    out
}

/// Serde `serialize_with` for a string field that holds an enum-like word.
pub fn snake_case<T, S>(value: &T, serializer: S) -> Result<S::Ok, S::Error>
where
    T: AsRef<str> + ?Sized,
    S: serde::Serializer,
{
    serializer.serialize_str(&snake_case_word(value.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::snake_case_word;

    #[test]
    fn words_become_snake_case() {
        assert_eq!(snake_case_word("Install Pending"), "install_pending");
        assert_eq!(snake_case_word("package-folder"), "package_folder");
        assert_eq!(snake_case_word("InProcess"), "in_process");
        assert_eq!(snake_case_word("Successful"), "successful");
        assert_eq!(snake_case_word("cbs-cab"), "cbs_cab");
        assert_eq!(snake_case_word("already_installed"), "already_installed");
        assert_eq!(snake_case_word("NotASite"), "not_a_site");
        assert_eq!(snake_case_word("CBSError"), "cbs_error");
        assert_eq!(snake_case_word("NotFound"), "not_found");
    }
}
