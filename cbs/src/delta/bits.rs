//! The LSB-first bit reader of PA30 streams, with the format's two variable-length number codes.
//!
//! Every PA30 bitstream (the header stream after the eight-byte file time, and each nested buffer)
//! starts with three bits giving how many bits of its last byte are padding; reads past the real end
//! fail instead of returning zeros, so a truncated delta is an error, never silently different
//! output.

use super::DeltaError;

/// A bounded LSB-first reader over one PA30 bitstream.
#[derive(Debug, Clone)]
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    /// Position in bits from the start of `data`.
    pos: u64,
    /// End of the meaningful bits (the padding of the last byte excluded).
    end: u64,
}

impl<'a> BitReader<'a> {
    /// Opens a bitstream: reads its three-bit padding count.
    pub(crate) fn new(data: &'a [u8], what: &'static str) -> Result<Self, DeltaError> {
        let first = *data.first().ok_or(DeltaError::Truncated { what })?;
        let padding = u64::from(first & 7);
        let total = (data.len() as u64).saturating_mul(8);
        let end = total.checked_sub(padding).filter(|end| *end >= 3).ok_or(DeltaError::Truncated { what })?;
        Ok(BitReader { data, pos: 3, end })
    }

    /// Bits left before the end.
    pub(crate) fn remaining(&self) -> u64 {
        self.end - self.pos
    }

    /// The next `n` bits (at most 57) without consuming them; bits past the end read as zero.
    pub(crate) fn peek(&self, n: u32) -> u64 {
        debug_assert!(n <= 57);
        let byte = usize::try_from(self.pos / 8).unwrap_or(usize::MAX);
        let mut word = [0u8; 8];
        if let Some(rest) = self.data.get(byte..) {
            let take = rest.len().min(8);
            word[..take].copy_from_slice(&rest[..take]);
        }
        let value = u64::from_le_bytes(word) >> (self.pos % 8);
        let value = if n >= 64 { value } else { value & ((1u64 << n) - 1) };
        // Bits past the end (the last byte's padding) are not data: mask them out.
        let available = self.remaining();
        if u64::from(n) > available {
            value & ((1u64 << available) - 1)
        } else {
            value
        }
    }

    /// Consumes `n` bits, failing when fewer are left.
    pub(crate) fn skip(&mut self, n: u32, what: &'static str) -> Result<(), DeltaError> {
        if u64::from(n) > self.remaining() {
            return Err(DeltaError::Truncated { what });
        }
        self.pos += u64::from(n);
        Ok(())
    }

    /// Reads `n` bits (at most 64), the first read being the least significant.
    pub(crate) fn bits(&mut self, n: u32, what: &'static str) -> Result<u64, DeltaError> {
        if n == 0 {
            return Ok(0);
        }
        if u64::from(n) > self.remaining() {
            return Err(DeltaError::Truncated { what });
        }
        let value = if n <= 32 {
            self.peek(n)
        } else {
            let low = self.peek(32);
            self.pos += 32;
            let high = self.peek(n - 32);
            self.pos -= 32;
            low | (high << 32)
        };
        self.pos += u64::from(n);
        Ok(value)
    }

    /// One bit.
    pub(crate) fn bit(&mut self, what: &'static str) -> Result<bool, DeltaError> {
        Ok(self.bits(1, what)? != 0)
    }

    /// A number in the header code: `k` zero bits and a one give the width, `4 × (k + 1)` bits
    /// (up to 64), then the value in that many bits.
    pub(crate) fn number(&mut self, what: &'static str) -> Result<u64, DeltaError> {
        let prefix = self.peek(17);
        let zeros = (prefix | (1 << 16)).trailing_zeros();
        if zeros >= 16 {
            if u64::from(zeros) >= self.remaining() {
                return Err(DeltaError::Truncated { what });
            }
            return Err(DeltaError::malformed(format!("{what}: number wider than 64 bits")));
        }
        self.skip(zeros + 1, what)?;
        self.bits(4 * (zeros + 1), what)
    }

    /// A number in the code of long match lengths: `k` zero bits and a one, then `k + 8` bits under
    /// an implicit leading one (so the value is at least 256).
    pub(crate) fn long_number(&mut self, what: &'static str) -> Result<u64, DeltaError> {
        let prefix = self.peek(32);
        if prefix == 0 {
            if self.remaining() < 32 {
                return Err(DeltaError::Truncated { what });
            }
            return Err(DeltaError::malformed(format!("{what}: long number without a width")));
        }
        let zeros = prefix.trailing_zeros();
        if zeros > 23 {
            return Err(DeltaError::malformed(format!("{what}: long number wider than 32 bits")));
        }
        self.skip(zeros + 1, what)?;
        let width = zeros + 8;
        Ok((1u64 << width) | self.bits(width, what)?)
    }

    /// Skips to the next byte boundary.
    pub(crate) fn align(&mut self) {
        let aligned = self.pos.div_ceil(8) * 8;
        self.pos = aligned.min(self.end);
    }

    /// A buffer: its size as a [`number`](Self::number), then, from the next byte boundary, that
    /// many bytes. `max` bounds the size before anything is sliced.
    pub(crate) fn buffer(&mut self, what: &'static str, max: u64) -> Result<&'a [u8], DeltaError> {
        let size = self.number(what)?;
        if size > max {
            return Err(DeltaError::TooLarge { what, size, max });
        }
        self.align();
        let bits = size.checked_mul(8).ok_or(DeltaError::Truncated { what })?;
        if bits > self.remaining() {
            return Err(DeltaError::Truncated { what });
        }
        let start = usize::try_from(self.pos / 8).map_err(|_| DeltaError::Truncated { what })?;
        let len = usize::try_from(size).map_err(|_| DeltaError::Truncated { what })?;
        let slice = start.checked_add(len).and_then(|stop| self.data.get(start..stop));
        let slice = slice.ok_or(DeltaError::Truncated { what })?;
        self.pos += bits;
        Ok(slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_numbers_of_a_real_delta() {
        // The stream after "PA30" + file time of KB2584475 member 0.
        let stream = [0xf8, 0x03, 0x02, 0x00, 0x08, 0x02, 0xe0, 0xe0, 0x00, 0xa0, 0x10];
        let mut r = BitReader::new(&stream, "test").unwrap();
        assert_eq!(r.number("a").unwrap(), 0xf);
        assert_eq!(r.number("b").unwrap(), 1);
        assert_eq!(r.number("c").unwrap(), 0x20000);
        assert_eq!(r.number("d").unwrap(), 14336);
        assert_eq!(r.number("e").unwrap(), 0x8003);
        assert_eq!(r.number("f").unwrap(), 16);
        assert!(r.number("g").is_err());
    }

    #[test]
    fn padding_hides_the_last_bits() {
        // Padding 7: of the 8 bits only bit 0..=0 are data, and the first 3 are the count itself.
        assert!(BitReader::new(&[0x07], "t").is_err());
        let mut r = BitReader::new(&[0x05, 0xff], "t").unwrap();
        assert_eq!(r.remaining(), 8);
        assert_eq!(r.bits(5, "t").unwrap(), 0);
        assert_eq!(r.bits(3, "t").unwrap(), 0b111);
        assert!(r.bits(1, "t").is_err());
    }

    #[test]
    fn wide_reads_and_long_numbers() {
        let data = [0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        let mut r = BitReader::new(&data, "t").unwrap();
        r.skip(5, "t").unwrap();
        assert_eq!(r.bits(64, "t").unwrap(), u64::MAX);
        // 0b1 prefix (k = 0), then 8 bits: 256 + value.
        let mut r = BitReader::new(&[0b0000_1000, 0b0000_0101], "t").unwrap();
        assert_eq!(r.long_number("t").unwrap(), 256 + 0x50);
    }
}
