//! Huffman codes for the encoder: length-limited code lengths from symbol counts, and the canonical
//! codes the decoder's [`Huffman`](super::super::huffman::Huffman) builds from those lengths
//! (longest codes numbered first).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Code lengths (at most `max_length` bits) for symbols seen `counts` times; unseen symbols get 0.
/// At least two symbols always get a code, so the code is complete and never empty.
pub(crate) fn lengths(counts: &[u64], max_length: u8) -> Vec<u8> {
    let mut counts = counts.to_vec();
    // Two symbols at least: a one-symbol code cannot be complete, and an empty one decodes nothing.
    for c in counts.iter_mut().take(2) {
        *c = (*c).max(1);
    }
    loop {
        let lengths = unlimited(&counts);
        if lengths.iter().all(|&l| l <= max_length) {
            return lengths;
        }
        // Too deep: flatten the distribution and try again (halving keeps every seen symbol).
        for c in &mut counts {
            if *c > 0 {
                *c = (*c >> 1).max(1);
            }
        }
    }
}

/// Plain Huffman code lengths (no limit) of the nonzero counts.
fn unlimited(counts: &[u64]) -> Vec<u8> {
    let mut lengths = vec![0u8; counts.len()];
    // Nodes: leaves first, then internal nodes; parent links give the depth.
    let mut parent: Vec<usize> = Vec::with_capacity(counts.len() * 2);
    let mut heap = BinaryHeap::new();
    for (symbol, &c) in counts.iter().enumerate() {
        if c > 0 {
            heap.push(Reverse((c, parent.len(), symbol)));
            parent.push(usize::MAX);
        }
    }
    let leaves: Vec<usize> = counts.iter().enumerate().filter(|(_, c)| **c > 0).map(|(s, _)| s).collect();
    while heap.len() > 1 {
        let Reverse((a, na, _)) = heap.pop().expect("two nodes");
        let Reverse((b, nb, _)) = heap.pop().expect("two nodes");
        let node = parent.len();
        parent.push(usize::MAX);
        parent[na] = node;
        parent[nb] = node;
        heap.push(Reverse((a + b, node, usize::MAX)));
    }
    for (leaf, &symbol) in leaves.iter().enumerate() {
        let mut depth = 0u8;
        let mut n = leaf;
        while parent[n] != usize::MAX {
            n = parent[n];
            depth = depth.saturating_add(1);
        }
        lengths[symbol] = depth.max(1);
    }
    lengths
}

/// The canonical codes of `lengths`, numbered as the decoder numbers them: the longest length
/// starts at 0, each shorter one at half of (first code + count) of the length below.
pub(crate) fn codes(lengths: &[u8]) -> Vec<u32> {
    let max = lengths.iter().copied().max().unwrap_or(0) as usize;
    let mut count = vec![0u32; max + 1];
    for &l in lengths {
        count[usize::from(l)] += 1;
    }
    let mut next = vec![0u32; max + 1];
    let mut code = 0u32;
    for l in (1..=max).rev() {
        next[l] = code;
        code = (code + count[l]) >> 1;
    }
    lengths
        .iter()
        .map(|&l| {
            if l == 0 {
                return 0;
            }
            let c = next[usize::from(l)];
            next[usize::from(l)] += 1;
            c
        })
        .collect()
}

/// A code ready to write: lengths and codes per symbol.
#[derive(Debug, Clone)]
pub(crate) struct Code {
    pub(crate) lengths: Vec<u8>,
    pub(crate) codes: Vec<u32>,
}

impl Code {
    pub(crate) fn from_counts(counts: &[u64], max_length: u8) -> Self {
        let lengths = lengths(counts, max_length);
        let codes = codes(&lengths);
        Code { lengths, codes }
    }
}
