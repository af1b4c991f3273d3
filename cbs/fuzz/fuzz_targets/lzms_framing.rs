//! Fuzzes the LZMS framings checked before any decoder runs: the Compression-API container
//! (`cbs::codecs::compress_api::parse`: check byte, sizes, blocks) and `DCS\x01` manifests
//! (`cbs::dcs::parse`). Whatever they accept must describe blocks inside the input whose sizes add
//! up to the declared total, within the limit. Input: the bytes, after a `DCS\x01` magic when the
//! first byte is odd.

#![no_main]

use cbs::codecs::compress_api::{self, Block};
use libfuzzer_sys::fuzz_target;

const MAX_OUT: u64 = 1 << 20;

fn check(input: &[u8], total: u64, blocks: &[Block<'_>]) {
    assert!(total <= MAX_OUT);
    assert_eq!(blocks.iter().map(|b| b.out_len as u64).sum::<u64>(), total);
    assert!(blocks.iter().map(|b| b.data.len()).sum::<usize>() <= input.len());
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    if selector & 1 == 0 {
        if let Ok(c) = compress_api::parse(rest, MAX_OUT) {
            check(rest, c.total, &c.blocks);
        }
    } else {
        let bytes = [cbs::dcs::MAGIC.as_slice(), rest].concat();
        if let Ok(d) = cbs::dcs::parse(&bytes, MAX_OUT) {
            check(&bytes, d.total, &d.blocks);
        }
    }
});
