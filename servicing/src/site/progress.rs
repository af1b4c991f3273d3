//! What the site reports while it works, for a terminal to draw (the engine itself never prints):
//! each run and its phase, and each distribution point's transfer in bytes. The CLI implements
//! [`SiteProgress`] with progress bars; [`NoProgress`] ignores everything.

use super::store::{DpStatus, JobStatus};

/// A phase of a servicing run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobPhase {
    /// Waiting for the image's WIM lock (another writer holds it).
    WaitingForLock,
    /// Copying the image to the run's work copy and staging the update binaries (verified).
    Staging,
    /// The engine services index `index` of `of`.
    Servicing {
        /// 1-based index.
        index: u32,
        /// Indexes in the image.
        of: u32,
    },
    /// Moving the serviced copy in as the next content version and recording it.
    Committing,
    /// Sending the new version to the distribution points.
    Distributing,
}

impl JobPhase {
    /// In words.
    pub fn label(self) -> String {
        match self {
            JobPhase::WaitingForLock => "waiting for the image lock".into(),
            JobPhase::Staging => "staging the work copy and update binaries".into(),
            JobPhase::Servicing { index, of } => format!("servicing index {index} of {of}"),
            JobPhase::Committing => "committing the new content version".into(),
            JobPhase::Distributing => "updating distribution points".into(),
        }
    }
}

/// One progress report of the site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiteEvent<'a> {
    /// A run started.
    JobStarted {
        /// The job.
        job: i64,
        /// The image.
        image: i64,
        /// Its name.
        name: &'a str,
    },
    /// A run entered a phase.
    JobPhase {
        /// The job.
        job: i64,
        /// The phase.
        phase: JobPhase,
    },
    /// A run ended.
    JobEnded {
        /// The job.
        job: i64,
        /// How.
        status: JobStatus,
    },
    /// A transfer to a DP started.
    DpStarted {
        /// DP name.
        dp: &'a str,
        /// The image.
        image: i64,
        /// Bytes of the image version sent.
        total: u64,
    },
    /// Bytes of a DP transfer written (directory DPs report as they copy; remote DPs at the end).
    DpBytes {
        /// DP name.
        dp: &'a str,
        /// Bytes done.
        done: u64,
        /// Bytes in all.
        total: u64,
    },
    /// A transfer to a DP ended.
    DpEnded {
        /// DP name.
        dp: &'a str,
        /// Success or Failed.
        status: DpStatus,
    },
}

/// Receives the site's progress. Must be cheap: a directory DP's copy reports every megabyte.
pub trait SiteProgress: Send + Sync {
    /// Called for each event.
    fn site_event(&self, event: &SiteEvent<'_>);
}

/// Ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl SiteProgress for NoProgress {
    fn site_event(&self, _event: &SiteEvent<'_>) {}
}
