//! Bounded little-endian field access for the PE transforms.
//!
//! The transforms rewrite fields at offsets read from an untrusted image, so a read outside the
//! buffer is `None` and a write outside it does nothing: a lying header can make a transform skip
//! a field, never panic.

pub(crate) fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(data.get(at..at.checked_add(2)?)?.try_into().ok()?))
}

pub(crate) fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(data.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

pub(crate) fn u64_at(data: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(data.get(at..at.checked_add(8)?)?.try_into().ok()?))
}

fn put(data: &mut [u8], at: usize, bytes: &[u8]) {
    if let Some(field) = at.checked_add(bytes.len()).and_then(|end| data.get_mut(at..end)) {
        field.copy_from_slice(bytes);
    }
}

pub(crate) fn put_u16(data: &mut [u8], at: usize, value: u16) {
    put(data, at, &value.to_le_bytes());
}

pub(crate) fn put_u32(data: &mut [u8], at: usize, value: u32) {
    put(data, at, &value.to_le_bytes());
}

pub(crate) fn put_u64(data: &mut [u8], at: usize, value: u64) {
    put(data, at, &value.to_le_bytes());
}
