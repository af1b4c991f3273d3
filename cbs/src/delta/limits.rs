//! Limits on what an untrusted delta may make the decoder do.

/// Bounds for [`apply_pa30`](super::apply_pa30) and the container-index expansion.
///
/// The target size comes from the delta's header, so it is checked before anything is allocated;
/// `max_work` bounds the decoding loops themselves, so a hostile delta stops with an error in
/// bounded time whatever it declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeltaLimits {
    /// Largest target (decoded output) in bytes.
    pub max_target_bytes: u64,
    /// Largest source (basis) buffer in bytes.
    pub max_source_bytes: u64,
    /// Largest delta in bytes.
    pub max_delta_bytes: u64,
    /// Largest number of entries in one rift table (address map) of the delta, and of anchor
    /// pairs examined when two tables are composed.
    pub max_rift_entries: u64,
    /// Largest number of Huffman-table segments in the compressed stream.
    pub max_segments: u64,
    /// Decoding steps (symbols decoded, bytes transformed) allowed for one delta.
    pub max_work: u64,
}

impl DeltaLimits {
    /// The defaults: 1 GiB targets and sources, 1 GiB deltas, 1 Mi rift entries, 4,096 segments,
    /// and 2^34 steps. The largest files of a Windows component store (a few hundred MiB) fit.
    pub const DEFAULT: DeltaLimits = DeltaLimits {
        max_target_bytes: 1 << 30,
        max_source_bytes: 1 << 30,
        max_delta_bytes: 1 << 30,
        max_rift_entries: 1 << 20,
        max_segments: 4096,
        max_work: 1 << 34,
    };
}

impl Default for DeltaLimits {
    fn default() -> Self {
        DeltaLimits::DEFAULT
    }
}

/// Counts decoding steps against [`DeltaLimits::max_work`].
#[derive(Debug)]
pub(crate) struct Work {
    left: u64,
    max: u64,
}

impl Work {
    pub(crate) fn new(limits: &DeltaLimits) -> Self {
        Work { left: limits.max_work, max: limits.max_work }
    }

    /// Spends `n` steps; fails once the budget is gone.
    pub(crate) fn spend(&mut self, n: u64) -> Result<(), super::DeltaError> {
        match self.left.checked_sub(n) {
            Some(left) => {
                self.left = left;
                Ok(())
            }
            None => Err(super::DeltaError::WorkLimit { max: self.max }),
        }
    }
}
