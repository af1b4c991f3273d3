//! Canonical Huffman codes as PA30 builds them from code lengths.
//!
//! The codes are canonical with the longest codes numbered first: the longest length starts at
//! code 0, and each shorter length starts at half of (first code + count) of the length below it.
//! A code's most significant bit is the first bit read from the LSB-first stream.

use super::bits::BitReader;
use super::DeltaError;

/// Longest code length the format allows.
pub(crate) const MAX_CODE_LENGTH: usize = 16;

/// Codes up to this long are decoded with one table look-up; longer ones bit by bit.
const FAST_BITS: u32 = 10;

/// A decoder for one code.
#[derive(Debug, Clone)]
pub(crate) struct Huffman {
    /// Codes of each length.
    count: [u32; MAX_CODE_LENGTH + 1],
    /// First code of each length.
    first_code: [u32; MAX_CODE_LENGTH + 1],
    /// Index in `symbols` of the first symbol of each length.
    first_index: [u32; MAX_CODE_LENGTH + 1],
    /// Symbols ordered by (length, symbol).
    symbols: Vec<u16>,
    max_length: u32,
    /// Indexed by the next `FAST_BITS` bits: `symbol << 8 | length`, or 0 for a longer code.
    fast: Vec<u32>,
}

impl Huffman {
    /// Builds the code for these lengths (0 = symbol unused). An over-subscribed set of lengths (no
    /// prefix code has them) is an error; an empty code builds but decodes nothing.
    pub(crate) fn new(lengths: &[u8], what: &'static str) -> Result<Self, DeltaError> {
        let mut count = [0u32; MAX_CODE_LENGTH + 1];
        for &l in lengths {
            let l = usize::from(l);
            if l > MAX_CODE_LENGTH {
                return Err(DeltaError::malformed(format!("{what}: code length {l} is over {MAX_CODE_LENGTH}")));
            }
            count[l] += 1;
        }
        count[0] = 0;
        let kraft: u64 = (1..=MAX_CODE_LENGTH).map(|l| u64::from(count[l]) << (MAX_CODE_LENGTH - l)).sum();
        if kraft > 1 << MAX_CODE_LENGTH {
            return Err(DeltaError::malformed(format!("{what}: code lengths are over-subscribed")));
        }
        let max_length = (1..=MAX_CODE_LENGTH).rev().find(|&l| count[l] > 0).unwrap_or(0);
        let mut first_code = [0u32; MAX_CODE_LENGTH + 1];
        let mut next = 0u32;
        for l in (1..=max_length).rev() {
            first_code[l] = next;
            next = (next + count[l]) >> 1;
        }
        let mut first_index = [0u32; MAX_CODE_LENGTH + 1];
        let mut index = 0u32;
        for l in 1..=MAX_CODE_LENGTH {
            first_index[l] = index;
            index += count[l];
        }
        let mut symbols = vec![0u16; index as usize];
        let mut fill = first_index;
        for (symbol, &l) in lengths.iter().enumerate() {
            if l > 0 {
                let slot = &mut fill[usize::from(l)];
                symbols[*slot as usize] = u16::try_from(symbol).unwrap_or(u16::MAX);
                *slot += 1;
            }
        }
        // Longest codes first, so that where an incomplete code lets a shorter code be a prefix
        // of a longer one, the shorter wins, as in the bit-by-bit decoder.
        let mut fast = vec![0u32; 1 << FAST_BITS];
        for l in (1..=max_length.min(FAST_BITS as usize)).rev() {
            for rank in 0..count[l] {
                let code = first_code[l] + rank;
                let reversed = code.reverse_bits() >> (32 - l);
                let symbol = u32::from(symbols[(first_index[l] + rank) as usize]);
                for high in 0..1u32 << (FAST_BITS as usize - l) {
                    fast[(reversed | high << l) as usize] = symbol << 8 | l as u32;
                }
            }
        }
        Ok(Huffman { count, first_code, first_index, symbols, max_length: max_length as u32, fast })
    }

    /// Code lengths of a "flat" code for `n` symbols: as even as a prefix code can be.
    pub(crate) fn flat_lengths(n: usize) -> Vec<u8> {
        if n <= 2 {
            return vec![1; n];
        }
        let bits = (n - 1).ilog2() + 1;
        let short = (1usize << bits) - n;
        let mut lengths = vec![bits as u8 - 1; short];
        lengths.resize(n, bits as u8);
        lengths
    }

    /// Decodes one symbol.
    pub(crate) fn decode(&self, r: &mut BitReader<'_>, what: &'static str) -> Result<u16, DeltaError> {
        let window = r.peek(MAX_CODE_LENGTH as u32);
        let hit = self.fast[(window & ((1 << FAST_BITS) - 1)) as usize];
        if hit != 0 {
            r.skip(hit & 0xff, what)?;
            return Ok((hit >> 8) as u16);
        }
        let mut code = 0u32;
        for l in 1..=self.max_length {
            code = (code << 1) | ((window >> (l - 1)) & 1) as u32;
            let li = l as usize;
            let first = self.first_code[li];
            if code >= first && code - first < self.count[li] {
                r.skip(l, what)?;
                return Ok(self.symbols[(self.first_index[li] + code - first) as usize]);
            }
        }
        if u64::from(self.max_length) > r.remaining() {
            return Err(DeltaError::Truncated { what });
        }
        Err(DeltaError::malformed(format!("{what}: no Huffman code matches")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_codes_are_complete() {
        for n in [1usize, 2, 3, 16, 39, 256, 600] {
            let lengths = Huffman::flat_lengths(n);
            assert_eq!(lengths.len(), n);
            let kraft: f64 = lengths.iter().map(|&l| 0.5f64.powi(i32::from(l))).sum();
            assert!(n == 1 || (kraft - 1.0).abs() < 1e-9, "{n}: {kraft}");
        }
        assert_eq!(Huffman::flat_lengths(600).iter().filter(|&&l| l == 9).count(), 424);
    }

    #[test]
    fn longest_codes_come_first() {
        // Lengths a=1, b=2, c=3, d=3: codes d? The longest (c, d) get 000 and 001, b gets 01, a 1.
        let h = Huffman::new(&[1, 2, 3, 3], "t").unwrap();
        // Stream bits (after the 3 padding-count bits): 1 | 0 1 | 0 0 0 | 0 0 1  → a, b, c, d.
        // LSB-first: bit3=1, bit4=0, bit5=1, bit6..8=000, bit9..11=001.
        let data = [0b0010_1000, 0b0000_1000];
        let mut r = BitReader::new(&data, "t").unwrap();
        let got: Vec<u16> = (0..4).map(|_| h.decode(&mut r, "t").unwrap()).collect();
        assert_eq!(got, [0, 1, 2, 3]);
        assert!(Huffman::new(&[1, 1, 1], "t").is_err());
        assert!(Huffman::new(&[0, 0], "t").unwrap().decode(&mut BitReader::new(&[0, 0], "t").unwrap(), "t").is_err());
    }
}
