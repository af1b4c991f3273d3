//! Fuzzes the PA30/PA31 encoder: whatever the source and target, `create` then `apply` gives the
//! target back, the header declares its size and SHA-256, and the CRC32-prefixed form applies too.
//! Input: one selector byte (bit 0: PA31; bit 1: no hash; bit 2: CRC prefix), one split byte, then
//! bytes cut into source and target at the split's proportion. Repeating the target a few times
//! (selector bits 3–4) exercises long matches and several recent distances.

#![no_main]

use cbs::delta::{add_crc_prefix, apply_pa30, create, parse_header, CreateOptions, DeltaFormat, DeltaLimits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&[selector, cut], rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let cut = (usize::from(cut) * rest.len() / 255).min(rest.len());
    let (source, target) = rest.split_at(cut);
    let target: Vec<u8> = target.repeat(1 + usize::from(selector >> 3 & 3));
    let options = CreateOptions {
        format: if selector & 1 != 0 { DeltaFormat::Pa31 } else { DeltaFormat::Pa30 },
        sha256: selector & 2 == 0,
        ..CreateOptions::default()
    };
    let limits = DeltaLimits::default();
    let mut delta = create(source, &target, &options, &limits).expect("create");
    let header = parse_header(&delta).expect("our header parses");
    assert_eq!(header.target_size, target.len() as u64);
    if selector & 4 != 0 {
        delta = add_crc_prefix(&delta);
    }
    assert_eq!(apply_pa30(source, &delta, &limits).expect("our delta applies"), target);
});
