//! Limits on what an untrusted package may make the reader do.
//!
//! A cabinet declares its sizes up front, so most limits are checked before a byte is decompressed;
//! the readers check them again on the bytes they actually produce, so a file that lies about its
//! sizes is stopped while it is read, never allocated whole.

use std::sync::atomic::{AtomicU64, Ordering};

use super::error::{Error, LimitKind};

/// Limits applied to one package and everything nested in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Members in one cabinet (or files in one package folder).
    pub max_members: u64,
    /// Bytes of one member, decompressed.
    pub max_member_bytes: u64,
    /// Bytes decompressed from one package in total, nested cabs included (shared by a cabinet and
    /// the cabs opened from it).
    pub max_total_bytes: u64,
    /// Decompressed bytes per compressed byte read. Judged on the running totals of a folder once
    /// more than [`RATIO_SLACK_BYTES`] have come out, so a single highly compressible block is not
    /// mistaken for a bomb.
    pub max_ratio: u64,
    /// Cabs inside cabs: the outermost package is depth 0, its inner cab depth 1, and so on.
    pub max_nesting: u32,
}

/// Decompressed bytes of a folder that are never judged by `max_ratio` (two full 32 KiB blocks: one
/// block of zeros compresses to a few bytes, a legitimate ratio of thousands).
pub const RATIO_SLACK_BYTES: u64 = 64 * 1024;

impl Limits {
    /// The defaults: 100,000 members, 4 GiB per member, 16 GiB per package, ratio 1000, nesting 3.
    /// A Windows 11 LCU (an MSU of about 1 GiB holding a PSF of 700 MiB) fits well within them.
    pub const DEFAULT: Limits = Limits {
        max_members: 100_000,
        max_member_bytes: 4 << 30,
        max_total_bytes: 16 << 30,
        max_ratio: 1000,
        max_nesting: 3,
    };

    /// Whether `decompressed` bytes out of `compressed` bytes read breaks `max_ratio`.
    pub fn ratio_exceeded(&self, decompressed: u64, compressed: u64) -> bool {
        decompressed > RATIO_SLACK_BYTES && decompressed > self.max_ratio.saturating_mul(compressed)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// The running total of decompressed bytes of one package, shared with the cabs nested in it.
#[derive(Debug)]
pub(crate) struct Budget {
    used: AtomicU64,
    max: u64,
}

impl Budget {
    pub(crate) fn new(max: u64) -> Budget {
        Budget { used: AtomicU64::new(0), max }
    }

    /// Counts `n` more bytes; fails (without counting them) when that would pass the total.
    pub(crate) fn take(&self, n: u64, package: &str, member: Option<&str>) -> Result<(), Error> {
        let mut used = self.used.load(Ordering::Relaxed);
        loop {
            let next = used.saturating_add(n);
            if next > self.max {
                return Err(self.over_total(next, package, member));
            }
            match self.used.compare_exchange_weak(used, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return Ok(()),
                Err(now) => used = now,
            }
        }
    }

    fn over_total(&self, size: u64, package: &str, member: Option<&str>) -> Error {
        Error::TooLarge {
            package: package.to_owned(),
            member: member.map(str::to_owned),
            limit: LimitKind::TotalBytes,
            size,
            max: self.max,
        }
    }

    /// Bytes counted so far.
    pub(crate) fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Fails when `n` more bytes would pass the total (a check before decompressing, not a count).
    pub(crate) fn check(&self, n: u64, package: &str, member: Option<&str>) -> Result<(), Error> {
        let next = self.used().saturating_add(n);
        if next > self.max {
            return Err(self.over_total(next, package, member));
        }
        Ok(())
    }
}
