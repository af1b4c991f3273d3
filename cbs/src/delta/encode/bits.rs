//! The LSB-first bit writer of PA30 streams: the mirror of the decoder's
//! [`BitReader`](super::super::bits::BitReader), with the same number codes and buffers.

/// Writes one PA30 bitstream; [`finish`](Self::finish) fills in the three-bit padding count.
#[derive(Debug, Default)]
pub(crate) struct BitWriter {
    bytes: Vec<u8>,
    /// Bits written, the three-bit padding count included.
    len: u64,
}

impl BitWriter {
    /// A stream with room for its padding count.
    pub(crate) fn new() -> Self {
        let mut w = BitWriter::default();
        w.bits(0, 3);
        w
    }

    /// Writes the low `n` bits of `value` (n ≤ 64), least significant first.
    pub(crate) fn bits(&mut self, value: u64, n: u32) {
        let mut left = n;
        let mut value = if n >= 64 { value } else { value & ((1u64 << n) - 1) };
        while left > 0 {
            let used = (self.len % 8) as u32;
            if used == 0 {
                self.bytes.push(0);
            }
            let room = 8 - used;
            let take = room.min(left);
            let chunk = (value & ((1u64 << take) - 1)) as u8;
            *self.bytes.last_mut().expect("a byte was pushed") |= chunk << used;
            value = if take >= 64 { 0 } else { value >> take };
            left -= take;
            self.len += u64::from(take);
        }
    }

    /// A Huffman code of `length` bits, most significant bit first (as the decoder reads it).
    pub(crate) fn code(&mut self, code: u32, length: u8) {
        let length = u32::from(length);
        if length > 0 {
            self.bits(u64::from(code.reverse_bits() >> (32 - length)), length);
        }
    }

    /// A number in the header code: `k` zeros and a one, then `4 × (k + 1)` bits.
    pub(crate) fn number(&mut self, value: u64) {
        let mut k = 0u32;
        while k < 15 && value >> (4 * (k + 1)) != 0 {
            k += 1;
        }
        self.bits(1u64 << k, k + 1);
        self.bits(value, 4 * (k + 1));
    }

    /// A long match length (at least 256): `k` zeros and a one, then `k + 8` bits under an implicit
    /// leading one.
    pub(crate) fn long_number(&mut self, value: u64) {
        debug_assert!((256..1 << 32).contains(&value));
        let width = 63 - value.leading_zeros();
        let k = width - 8;
        self.bits(1u64 << k, k + 1);
        self.bits(value, width);
    }

    /// A buffer: its size as a [`number`](Self::number), then its bytes from the next byte boundary.
    pub(crate) fn buffer(&mut self, data: &[u8]) {
        self.number(data.len() as u64);
        self.align();
        self.bytes.extend_from_slice(data);
        self.len += data.len() as u64 * 8;
    }

    /// Pads with zeros to the next byte boundary.
    pub(crate) fn align(&mut self) {
        self.len = self.len.div_ceil(8) * 8;
    }

    /// The stream's bytes, its padding count written into its first three bits.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        let padding = ((8 - self.len % 8) % 8) as u8;
        if let Some(first) = self.bytes.first_mut() {
            *first = (*first & !7) | padding;
        }
        self.bytes
    }
}
