//! The 4-byte CRC32 prefix that delta files in MSUs and WinSxS often carry before `PA30`/`PA19`/`PA31`
//! (`modern-lcu.md` §4 item 29): a little-endian CRC32 (IEEE) of the rest of the file.
//!
//! The prefix is recognised only when the CRC matches: a delta whose first four bytes merely look
//! like a signature elsewhere is never cut.

/// Signatures a prefixed delta can carry after its CRC.
const SIGNATURES: [&[u8; 4]; 3] = [b"PA30", b"PA19", b"PA31"];

/// The CRC32 (IEEE 802.3, reflected, as zlib computes it) of `data`.
pub fn crc32(data: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(data);
    hasher.finalize()
}

/// `delta` without its CRC32 prefix, and the CRC when there was one. A prefix is stripped only when
/// a known signature follows it and the CRC of everything after it matches.
pub fn strip_crc_prefix(delta: &[u8]) -> (&[u8], Option<u32>) {
    let Some((head, rest)) = delta.split_first_chunk::<4>() else {
        return (delta, None);
    };
    if SIGNATURES.iter().any(|s| delta.starts_with(&s[..])) {
        return (delta, None);
    }
    if !SIGNATURES.iter().any(|s| rest.starts_with(&s[..])) {
        return (delta, None);
    }
    let crc = u32::from_le_bytes(*head);
    if crc32(rest) == crc {
        (rest, Some(crc))
    } else {
        (delta, None)
    }
}

/// `delta` with a CRC32 prefix added, the form kept in WinSxS and MSUs.
pub fn add_crc_prefix(delta: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(delta.len() + 4);
    out.extend_from_slice(&crc32(delta).to_le_bytes());
    out.extend_from_slice(delta);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn only_a_matching_crc_is_stripped() {
        let body = b"PA30\x01\x02\x03\x04\x05\x06\x07\x08rest".to_vec();
        let prefixed = add_crc_prefix(&body);
        assert_eq!(strip_crc_prefix(&prefixed), (&body[..], Some(crc32(&body))));
        let mut wrong = prefixed.clone();
        wrong[0] ^= 1;
        assert_eq!(strip_crc_prefix(&wrong).1, None);
        assert_eq!(strip_crc_prefix(&body), (&body[..], None));
        assert_eq!(strip_crc_prefix(b"PA3"), (&b"PA3"[..], None));
    }
}
