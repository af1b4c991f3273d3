//! The ownership map of the executable transforms: one bit per byte of the source, set where a
//! pass has claimed the bytes (data outside code, rewritten directory fields, relocated
//! pointers), so that the i386 branch passes leave them alone (`modern-lcu.md` §2 item 12).
//!
//! Positions outside the source are never marked; marking them does nothing.

/// One bit per source byte.
#[derive(Debug, Clone, Default)]
pub(crate) struct Marks {
    words: Vec<u64>,
    len: usize,
}

impl Marks {
    /// An unmarked map of `len` bytes.
    pub(crate) fn new(len: usize) -> Self {
        Marks { words: vec![0; len.div_ceil(64)], len }
    }

    /// Marks `count` bytes from `at` (those inside the map).
    pub(crate) fn mark(&mut self, at: usize, count: usize) {
        self.set(at, count, true);
    }

    /// Clears `count` bytes from `at` (those inside the map).
    pub(crate) fn clear(&mut self, at: usize, count: usize) {
        self.set(at, count, false);
    }

    /// Marks every byte.
    pub(crate) fn mark_all(&mut self) {
        self.words.fill(u64::MAX);
    }

    /// Whether the byte at `at` is marked (a position outside the map is not).
    pub(crate) fn is_marked(&self, at: usize) -> bool {
        at < self.len && self.words[at / 64] >> (at % 64) & 1 == 1
    }

    /// Whether any of `count` bytes from `at` is marked.
    pub(crate) fn any(&self, at: usize, count: usize) -> bool {
        (at..at.saturating_add(count)).any(|i| self.is_marked(i))
    }

    fn set(&mut self, at: usize, count: usize, on: bool) {
        let end = at.saturating_add(count).min(self.len);
        for i in at.min(end)..end {
            let bit = 1u64 << (i % 64);
            if on {
                self.words[i / 64] |= bit;
            } else {
                self.words[i / 64] &= !bit;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Marks;

    #[test]
    fn marks_stay_inside_the_map() {
        let mut m = Marks::new(100);
        m.mark(98, 10);
        assert!(m.is_marked(98) && m.is_marked(99) && !m.is_marked(100) && !m.is_marked(97));
        m.mark_all();
        m.clear(10, 5);
        assert!(!m.any(10, 5) && m.any(9, 2) && m.is_marked(15) && !m.is_marked(100));
        m.clear(usize::MAX - 1, 5);
    }
}
