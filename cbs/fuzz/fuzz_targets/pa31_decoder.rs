//! Fuzzes PA31 reading: the length-prefixed header buffer and its extras, the codec selection
//! (LZMS container, BsDiff, PseudoLZX), and CRC32 prefixes. Input: one selector byte, then bytes.
//! Selector bit 0: the bytes follow `PA31` + an 8-byte file time directly (a raw PA31 header
//! stream); else they are a delta, applied as is and, when it parses, re-wrapped as PA31 with the
//! selector's high bits as extra flags, which must decode to the same result. Bit 1 adds a CRC32
//! prefix to what is applied.

#![no_main]

use cbs::delta::{add_crc_prefix, apply_pa30, parse_header, to_pa31, DeltaError, DeltaLimits, Pa31Extra};
use libfuzzer_sys::fuzz_target;

fn limits() -> DeltaLimits {
    DeltaLimits { max_target_bytes: 8 << 20, max_work: 1 << 24, ..DeltaLimits::default() }
}

fn apply(delta: &[u8], crc: bool) -> Result<Vec<u8>, DeltaError> {
    let delta = if crc { add_crc_prefix(delta) } else { delta.to_vec() };
    let out = apply_pa30(&[], &delta, &limits());
    if let Ok(out) = &out {
        assert_eq!(out.len() as u64, parse_header(&delta).expect("applied, so it has a header").target_size);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let crc = selector & 2 != 0;
    if selector & 1 == 0 {
        let mut delta = b"PA31\0\0\0\0\0\0\0\0".to_vec();
        delta.extend_from_slice(rest);
        let _ = apply(&delta, crc);
        return;
    }
    let pa30 = apply(rest, false);
    let extra = Pa31Extra { header_info_size: 0x88, is_pa31: 1, client_min_version: 0, additional_hash: Vec::new() };
    // Only the unknown UpdateCompression bits: they must not change the result.
    let flags = u64::from(selector & 0x0c) << 23 & 0x0A00_0000;
    if let Ok(pa31) = to_pa31(rest, &extra, flags) {
        let wrapped = apply(&pa31, crc);
        if let (Ok(a), Ok(b)) = (&pa30, &wrapped) {
            assert_eq!(a, b);
        }
        if pa30.is_ok() && parse_header(rest).is_ok_and(|h| h.file_type == 1 && h.flags & 0x100 == 0) {
            assert!(wrapped.is_ok(), "a RAW PA30 that applies must apply as PA31 too");
        }
    }
});
