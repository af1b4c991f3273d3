//! Fuzzes the PA30 decoder: header, PE preprocessing and the AMD64 executable transforms of the
//! source, rift tables (composition and exact inversion), Huffman codes and copies.
//!
//! Input: one selector byte; when its low bit is clear the rest is a delta against an empty
//! source, otherwise three little-endian bytes give the length of a source that follows, and the
//! delta is what is left. Seeds: the real PA30 members of the Windows 7 MSUs (`0` + member), and
//! basis deltas with their decoded basis (`1` + length + basis + member), and the genuine PE deltas
//! of `real-delta` with their bases. When the selector's second bit is set, the delta is also decoded
//! in place of a copy of the source (`apply_pa30_consuming`), which must give the same result.

#![no_main]

use cbs::delta::{apply_pa30, apply_pa30_consuming, parse_header, DeltaError, DeltaLimits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let (source, delta) = if selector & 1 == 0 {
        (&[][..], rest)
    } else {
        let Some((len, rest)) = rest.split_first_chunk::<3>() else {
            return;
        };
        let len = (usize::from(len[0]) | usize::from(len[1]) << 8 | usize::from(len[2]) << 16).min(rest.len());
        rest.split_at(len)
    };
    // Small limits keep each run fast; they are checked like the defaults.
    let limits = DeltaLimits { max_target_bytes: 8 << 20, max_work: 1 << 24, ..DeltaLimits::default() };
    let header = parse_header(delta);
    let result = apply_pa30(source, delta, &limits);
    if selector & 2 != 0 {
        let in_place = apply_pa30_consuming(source.to_vec(), delta, &limits);
        assert_eq!(format!("{in_place:?}"), format!("{result:?}"), "in place and on a copy differ");
    }
    match result {
        Ok(out) => {
            // Output is only ever returned with the size (and hash) the header declares.
            let header = header.expect("a delta that applies has a header");
            assert_eq!(out.len() as u64, header.target_size);
        }
        Err(DeltaError::TooLarge { size, max, .. }) => assert!(size > max),
        Err(_) => {}
    }
});
