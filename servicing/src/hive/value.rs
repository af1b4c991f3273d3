//! Owned registry values and their exact on-disk (regf) encodings.
//!
//! Values are decoded from, and encoded to, the raw data bytes of a `vk` cell here rather than through
//! libhivex's UTF-8 helpers: those guess at encodings, drop terminators and cannot write, while servicing
//! must reproduce what Windows itself stores (UTF-16LE with terminators, little-endian integers).

/// Registry value type codes (`REG_*`), as stored in the `vk` cell.
pub mod kind {
    /// `REG_NONE`: no defined type.
    pub const REG_NONE: u32 = 0;
    /// `REG_SZ`: a NUL-terminated UTF-16LE string.
    pub const REG_SZ: u32 = 1;
    /// `REG_EXPAND_SZ`: a NUL-terminated UTF-16LE string holding `%VARIABLE%` references.
    pub const REG_EXPAND_SZ: u32 = 2;
    /// `REG_BINARY`: arbitrary bytes.
    pub const REG_BINARY: u32 = 3;
    /// `REG_DWORD`: a 32-bit little-endian integer.
    pub const REG_DWORD: u32 = 4;
    /// `REG_DWORD_BIG_ENDIAN`: a 32-bit big-endian integer.
    pub const REG_DWORD_BIG_ENDIAN: u32 = 5;
    /// `REG_LINK`: a symbolic link target, UTF-16LE without terminator.
    pub const REG_LINK: u32 = 6;
    /// `REG_MULTI_SZ`: NUL-terminated UTF-16LE strings followed by an empty string.
    pub const REG_MULTI_SZ: u32 = 7;
    /// `REG_RESOURCE_LIST`.
    pub const REG_RESOURCE_LIST: u32 = 8;
    /// `REG_FULL_RESOURCE_DESCRIPTOR`.
    pub const REG_FULL_RESOURCE_DESCRIPTOR: u32 = 9;
    /// `REG_RESOURCE_REQUIREMENTS_LIST`.
    pub const REG_RESOURCE_REQUIREMENTS_LIST: u32 = 10;
    /// `REG_QWORD`: a 64-bit little-endian integer.
    pub const REG_QWORD: u32 = 11;
}

/// A registry value's data, owned and decoded.
///
/// Decoding never fails and never loses bytes that matter: data that does not fit its declared type
/// (a `REG_DWORD` that is not 4 bytes, a `REG_SZ` that is not valid UTF-16, a `REG_NONE` carrying data)
/// comes back as [`Value::Other`] with the raw bytes, which encodes back to exactly the same bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `REG_NONE` with no data.
    None,
    /// `REG_SZ`.
    Sz(String),
    /// `REG_EXPAND_SZ`.
    ExpandSz(String),
    /// `REG_BINARY`.
    Binary(Vec<u8>),
    /// `REG_DWORD` (little-endian).
    Dword(u32),
    /// `REG_DWORD_BIG_ENDIAN`.
    DwordBigEndian(u32),
    /// `REG_LINK`, raw bytes (UTF-16LE path of the link target, no terminator).
    Link(Vec<u8>),
    /// `REG_MULTI_SZ`.
    MultiSz(Vec<String>),
    /// `REG_QWORD` (little-endian).
    Qword(u64),
    /// Any other type code, or data that does not decode as its declared type.
    Other {
        /// The `REG_*` type code.
        kind: u32,
        /// The raw data bytes.
        data: Vec<u8>,
    },
}

/// Why a [`Value`] cannot be represented in a hive.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A string holds a NUL character, which would silently end it for every Windows reader.
    #[error("the string contains a NUL character at position {index}")]
    NulInString {
        /// Index, in UTF-16 code units, of the NUL.
        index: usize,
    },
    /// A `REG_MULTI_SZ` element is empty, which Windows would read as the end of the list.
    #[error("element {index} of the REG_MULTI_SZ list is empty (an empty string ends the list)")]
    EmptyMultiSzElement {
        /// Index of the empty element.
        index: usize,
    },
}

impl Value {
    /// The `REG_*` type code this value is stored under.
    pub fn kind(&self) -> u32 {
        match self {
            Value::None => kind::REG_NONE,
            Value::Sz(_) => kind::REG_SZ,
            Value::ExpandSz(_) => kind::REG_EXPAND_SZ,
            Value::Binary(_) => kind::REG_BINARY,
            Value::Dword(_) => kind::REG_DWORD,
            Value::DwordBigEndian(_) => kind::REG_DWORD_BIG_ENDIAN,
            Value::Link(_) => kind::REG_LINK,
            Value::MultiSz(_) => kind::REG_MULTI_SZ,
            Value::Qword(_) => kind::REG_QWORD,
            Value::Other { kind, .. } => *kind,
        }
    }

    /// The string of a `REG_SZ` or `REG_EXPAND_SZ` value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Sz(s) | Value::ExpandSz(s) => Some(s),
            _ => None,
        }
    }

    /// The number of a `REG_DWORD` or `REG_DWORD_BIG_ENDIAN` value.
    pub fn as_u32(&self) -> Option<u32> {
        match self {
            Value::Dword(v) | Value::DwordBigEndian(v) => Some(*v),
            _ => None,
        }
    }

    /// The number of a `REG_QWORD` value.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Qword(v) => Some(*v),
            _ => None,
        }
    }

    /// The bytes of a `REG_BINARY` value.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Binary(b) => Some(b),
            _ => None,
        }
    }

    /// Decodes raw `vk` data of type `kind`.
    pub fn decode(kind: u32, data: &[u8]) -> Value {
        let other = || Value::Other { kind, data: data.to_vec() };
        match kind {
            kind::REG_NONE if data.is_empty() => Value::None,
            kind::REG_SZ => utf16z_to_string(data).map_or_else(other, Value::Sz),
            kind::REG_EXPAND_SZ => utf16z_to_string(data).map_or_else(other, Value::ExpandSz),
            kind::REG_BINARY => Value::Binary(data.to_vec()),
            kind::REG_DWORD => match <[u8; 4]>::try_from(data) {
                Ok(b) => Value::Dword(u32::from_le_bytes(b)),
                Err(_) => other(),
            },
            kind::REG_DWORD_BIG_ENDIAN => match <[u8; 4]>::try_from(data) {
                Ok(b) => Value::DwordBigEndian(u32::from_be_bytes(b)),
                Err(_) => other(),
            },
            kind::REG_LINK => Value::Link(data.to_vec()),
            kind::REG_MULTI_SZ => multi_sz_to_strings(data).map_or_else(other, Value::MultiSz),
            kind::REG_QWORD => match <[u8; 8]>::try_from(data) {
                Ok(b) => Value::Qword(u64::from_le_bytes(b)),
                Err(_) => other(),
            },
            _ => other(),
        }
    }

    /// Encodes the data bytes Windows stores for this value.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        Ok(match self {
            Value::None => Vec::new(),
            Value::Sz(s) | Value::ExpandSz(s) => {
                let mut out = utf16le(s)?;
                out.extend_from_slice(&[0, 0]);
                out
            }
            Value::Binary(b) | Value::Link(b) => b.clone(),
            Value::Dword(v) => v.to_le_bytes().to_vec(),
            Value::DwordBigEndian(v) => v.to_be_bytes().to_vec(),
            Value::MultiSz(list) => {
                let mut out = Vec::new();
                for (index, s) in list.iter().enumerate() {
                    if s.is_empty() {
                        return Err(EncodeError::EmptyMultiSzElement { index });
                    }
                    out.extend(utf16le(s)?);
                    out.extend_from_slice(&[0, 0]);
                }
                // The list ends with an empty string; an empty list is that empty string alone.
                out.extend_from_slice(&[0, 0]);
                out
            }
            Value::Qword(v) => v.to_le_bytes().to_vec(),
            Value::Other { data, .. } => data.clone(),
        })
    }
}

fn utf16le(s: &str) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(s.len() * 2 + 2);
    for (index, unit) in s.encode_utf16().enumerate() {
        if unit == 0 {
            return Err(EncodeError::NulInString { index });
        }
        out.extend_from_slice(&unit.to_le_bytes());
    }
    Ok(out)
}

fn utf16_units(data: &[u8]) -> Vec<u16> {
    // A trailing odd byte cannot belong to any character; Windows ignores it too.
    data.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect()
}

/// `REG_SZ` data up to its first NUL. Windows often stores junk after the terminator (the buffer the
/// writer allocated), which every reader ignores; data that is not valid UTF-16 gives `None`.
fn utf16z_to_string(data: &[u8]) -> Option<String> {
    let units = utf16_units(data);
    let end = units.iter().position(|&u| u == 0).unwrap_or(units.len());
    String::from_utf16(&units[..end]).ok()
}

/// `REG_MULTI_SZ` strings up to the empty string that ends the list (or the end of the data when a
/// writer left the final terminators out).
fn multi_sz_to_strings(data: &[u8]) -> Option<Vec<String>> {
    let units = utf16_units(data);
    let mut out = Vec::new();
    for part in units.split(|&u| u == 0) {
        if part.is_empty() {
            break;
        }
        out.push(String::from_utf16(part).ok()?);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sz_is_utf16le_with_terminator() {
        let bytes = Value::Sz("Aé€".into()).encode().expect("encodes");
        assert_eq!(bytes, [0x41, 0, 0xE9, 0, 0xAC, 0x20, 0, 0]);
        assert_eq!(Value::decode(kind::REG_SZ, &bytes), Value::Sz("Aé€".into()));
    }

    #[test]
    fn sz_ignores_junk_after_terminator_and_accepts_missing_terminator() {
        assert_eq!(Value::decode(kind::REG_SZ, &[0x41, 0, 0, 0, 0x42, 0]), Value::Sz("A".into()));
        assert_eq!(Value::decode(kind::REG_SZ, &[0x41, 0, 0x42, 0]), Value::Sz("AB".into()));
        assert_eq!(Value::decode(kind::REG_SZ, &[]), Value::Sz(String::new()));
    }

    #[test]
    fn invalid_utf16_is_kept_raw() {
        // An unpaired high surrogate.
        let data = [0x00, 0xD8, 0x41, 0x00];
        let v = Value::decode(kind::REG_EXPAND_SZ, &data);
        assert_eq!(v, Value::Other { kind: kind::REG_EXPAND_SZ, data: data.to_vec() });
        assert_eq!(v.encode().expect("encodes"), data);
    }

    #[test]
    fn nul_inside_a_string_is_refused() {
        assert_eq!(Value::Sz("a\0b".into()).encode(), Err(EncodeError::NulInString { index: 1 }));
    }

    #[test]
    fn multi_sz_is_double_nul_terminated() {
        let v = Value::MultiSz(vec!["ab".into(), "c".into()]);
        let bytes = v.encode().expect("encodes");
        assert_eq!(bytes, [0x61, 0, 0x62, 0, 0, 0, 0x63, 0, 0, 0, 0, 0]);
        assert_eq!(Value::decode(kind::REG_MULTI_SZ, &bytes), v);
        assert_eq!(Value::MultiSz(vec![]).encode().expect("encodes"), [0, 0]);
        assert_eq!(Value::decode(kind::REG_MULTI_SZ, &[0, 0]), Value::MultiSz(vec![]));
        assert_eq!(
            Value::MultiSz(vec!["a".into(), String::new()]).encode(),
            Err(EncodeError::EmptyMultiSzElement { index: 1 })
        );
    }

    #[test]
    fn integers_have_their_endianness() {
        assert_eq!(Value::Dword(0x0102_0304).encode().expect("encodes"), [4, 3, 2, 1]);
        assert_eq!(Value::DwordBigEndian(0x0102_0304).encode().expect("encodes"), [1, 2, 3, 4]);
        assert_eq!(Value::Qword(0x0102_0304_0506_0708).encode().expect("encodes"), [8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(Value::decode(kind::REG_DWORD, &[4, 3, 2, 1]), Value::Dword(0x0102_0304));
        assert_eq!(Value::decode(kind::REG_DWORD_BIG_ENDIAN, &[1, 2, 3, 4]), Value::DwordBigEndian(0x0102_0304));
        assert_eq!(Value::decode(kind::REG_QWORD, &[8, 7, 6, 5, 4, 3, 2, 1]), Value::Qword(0x0102_0304_0506_0708));
    }

    #[test]
    fn wrongly_sized_integers_are_kept_raw() {
        assert_eq!(Value::decode(kind::REG_DWORD, &[1, 2]), Value::Other { kind: kind::REG_DWORD, data: vec![1, 2] });
        assert_eq!(
            Value::decode(kind::REG_QWORD, &[1, 2, 3, 4]),
            Value::Other { kind: kind::REG_QWORD, data: vec![1, 2, 3, 4] }
        );
    }

    #[test]
    fn none_with_data_is_kept_raw() {
        assert_eq!(Value::decode(kind::REG_NONE, &[]), Value::None);
        assert_eq!(Value::decode(kind::REG_NONE, &[7]), Value::Other { kind: kind::REG_NONE, data: vec![7] });
        assert_eq!(Value::None.encode().expect("encodes"), Vec::<u8>::new());
    }

    #[test]
    fn unknown_kinds_round_trip() {
        let v = Value::decode(0x1234, &[9, 8, 7]);
        assert_eq!(v, Value::Other { kind: 0x1234, data: vec![9, 8, 7] });
        assert_eq!(v.kind(), 0x1234);
        assert_eq!(v.encode().expect("encodes"), [9, 8, 7]);
    }
}
