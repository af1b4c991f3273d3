//! Small text members (`*-pkgProperties.txt`, the unattend `.xml`): ASCII, UTF-8 with or without a
//! byte-order mark, or UTF-16 with one.

/// Decodes a text member: a UTF-8 BOM is dropped, a UTF-16 BOM (LE or BE) selects UTF-16, and
/// UTF-16LE without a BOM is recognised by its zero high bytes; anything else is read as UTF-8,
/// invalid sequences replaced.
pub fn decode_text(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return String::from_utf8_lossy(rest).into_owned();
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return utf16(rest, u16::from_le_bytes);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return utf16(rest, u16::from_be_bytes);
    }
    if bytes.len() >= 4 && bytes[0] != 0 && bytes[1] == 0 && bytes[2] != 0 && bytes[3] == 0 {
        return utf16(bytes, u16::from_le_bytes);
    }
    String::from_utf8_lossy(bytes).into_owned()
}

fn utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> String {
    let units = bytes.chunks_exact(2).map(|c| unit([c[0], c[1]]));
    char::decode_utf16(units).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)).collect()
}
