//! Arbitrary bytes into the cabinet reader: open, classify, read every member (one by one and in
//! one pass), open every member as a nested cab. Any panic, hang or runaway allocation is a bug;
//! errors are the expected outcome.

#![no_main]

use std::io::{self, Cursor};

use cbs::container::{classify_cabinet, Cabinet, Limits};
use libfuzzer_sys::fuzz_target;

/// Smaller than the defaults, so that one input stays fast.
const LIMITS: Limits = Limits {
    max_members: 2_000,
    max_member_bytes: 8 << 20,
    max_total_bytes: 64 << 20,
    max_ratio: 1000,
    max_nesting: 2,
};

fuzz_target!(|data: &[u8]| {
    let Ok(mut cab) = Cabinet::new(Cursor::new(data), "fuzz.cab", LIMITS) else {
        return;
    };
    let _ = classify_cabinet(&mut cab);
    let _ = cab.for_each_member(|_, r| io::copy(r, &mut io::sink()).map(drop));
    let names: Vec<String> = cab.members().iter().map(|m| m.name.clone()).collect();
    for name in &names {
        let _ = cab.read_member(name, 1 << 20);
        if let Ok(mut inner) = cab.open_nested(name, None) {
            let _ = classify_cabinet(&mut inner);
            let _ = inner.for_each_member(|_, r| io::copy(r, &mut io::sink()).map(drop));
        }
    }
});
