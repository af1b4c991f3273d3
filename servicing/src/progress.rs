//! How the engine reports progress and learns of cancellation without drawing anything itself.
//!
//! Callers (the CLI, a scheduler, an embedding tool) implement [`Reporter`] and own an [`AtomicBool`]
//! cancel flag; engine functions take both through a [`Control`]. wimlib calls its progress callback on the
//! calling thread, so a reporter is only ever called from the thread running the operation.

use std::sync::atomic::{AtomicBool, Ordering};

/// A phase of a long operation, for labelling progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Writing file data (compressing and copying blobs).
    WriteData,
    /// Writing image metadata, the blob table and the XML.
    WriteMetadata,
    /// Checking blob hashes (verify).
    Verify,
    /// Extracting files from an image.
    Extract,
    /// Scanning a directory tree to add it to an image.
    Scan,
    /// Renaming the finished temporary file over the original.
    Rename,
    /// Calculating or checking the integrity table.
    Integrity,
}

impl Phase {
    /// A short human label.
    pub fn label(self) -> &'static str {
        match self {
            Phase::WriteData => "writing data",
            Phase::WriteMetadata => "writing metadata",
            Phase::Verify => "verifying",
            Phase::Extract => "extracting",
            Phase::Scan => "scanning",
            Phase::Rename => "replacing file",
            Phase::Integrity => "integrity table",
        }
    }
}

/// One progress report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A phase started.
    Begin(Phase),
    /// `done` of `total` bytes of a phase are complete.
    Bytes {
        /// The phase.
        phase: Phase,
        /// Bytes done.
        done: u64,
        /// Bytes in all.
        total: u64,
    },
    /// A phase ended.
    End(Phase),
}

/// Receives progress. Implementations must be cheap: they run inside wimlib's write loop.
pub trait Reporter: Send + Sync {
    /// Called for each progress event.
    fn report(&self, event: &Event);
}

/// A reporter that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Reporter for Silent {
    fn report(&self, _event: &Event) {}
}

/// What every long engine call takes: where to report, and a flag that asks it to stop.
#[derive(Clone, Copy)]
pub struct Control<'a> {
    /// Progress sink.
    pub reporter: &'a dyn Reporter,
    /// Set to `true` (from another thread or a signal handler's flag) to cancel at the next safe point.
    pub cancel: &'a AtomicBool,
}

static NEVER: AtomicBool = AtomicBool::new(false);

impl Control<'static> {
    /// No reporting, never cancelled.
    pub fn none() -> Control<'static> {
        Control { reporter: &Silent, cancel: &NEVER }
    }
}

impl Control<'_> {
    /// Whether cancellation was requested.
    pub fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for Control<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control").field("cancelled", &self.cancelled()).finish_non_exhaustive()
    }
}
