//! Fuzzes reverse deltas: PRSM reversal data (sections, rift tables, deleted bytes, byte patches)
//! behind a `REVERSE_ANY` header, and `reverse()` round trips. Input: one selector byte, then
//! bytes. Selector bit 0: the bytes are the reversal data of a reverse delta whose target size is
//! the selector's high bits, applied to a fixed reference. Else the bytes split (at the second
//! byte's offset) into a source and a target: the forward delta we create, reversed, must give the
//! target back and, applied to it, the source.

#![no_main]

use cbs::delta::{
    apply_pa30, assemble, create, reverse, CreateOptions, DeltaFormat, DeltaLimits, Pa30Header, FILE_TYPE_RAW,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let limits = DeltaLimits { max_target_bytes: 1 << 20, max_work: 1 << 24, ..DeltaLimits::default() };
    if selector & 1 == 0 {
        let header = Pa30Header {
            target_file_time: 0,
            file_type_set: 0x101,
            file_type: FILE_TYPE_RAW,
            flags: 0,
            target_size: u64::from(selector >> 1) * 64,
            hash_alg_id: 0,
            target_hash: Vec::new(),
            format: DeltaFormat::Pa30,
            crc_prefix: None,
            pa31: None,
        };
        let delta = assemble(&header, &[], rest);
        if let Ok(out) = apply_pa30(b"the reference (new) file", &delta, &limits) {
            assert_eq!(out.len() as u64, header.target_size);
        }
        return;
    }
    let Some((&cut, rest)) = rest.split_first() else {
        return;
    };
    let cut = (usize::from(cut) * rest.len() / 255).min(rest.len());
    let (source, target) = rest.split_at(cut);
    let forward = create(source, target, &CreateOptions::default(), &limits).expect("create");
    let r = reverse(source, &forward, &CreateOptions::default(), &limits).expect("reverse");
    assert_eq!(r.target, target);
    assert_eq!(apply_pa30(&r.target, &r.delta, &limits).expect("apply reverse"), source);
});
