//! Lower-case hexadecimal text of digests, as logs, reports and errors show them (one copy for the
//! whole project).

/// `bytes` as lower-case hex, two digits each.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
