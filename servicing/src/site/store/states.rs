//! The site store's vocabulary: every state the database records is a Rust enum here (a servicing
//! run's status, each update's result in a run, a distribution point's status and transfer method),
//! with the one word each is stored and shown as, and its conversion to and from a stored value. SQL
//! statements bind these values; none spells a state as a string literal.

use super::value::{FromValue, ToValue, Value};

/// The state of a servicing run, with ConfigMgr's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting for its time.
    Scheduled,
    /// A runner is on it.
    InProcess,
    /// Done; the image holds the applicable selected updates.
    Successful,
    /// Stopped with an error (or its runner died); the image is as before the run.
    Failed,
    /// Cancelled before it ran, or at a safe point while it ran; the image is as before.
    Cancelled,
}

impl JobStatus {
    /// As stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Scheduled => "Scheduled",
            JobStatus::InProcess => "In Process",
            JobStatus::Successful => "Successful",
            JobStatus::Failed => "Failed",
            JobStatus::Cancelled => "Cancelled",
        }
    }

    /// From the stored text.
    pub fn parse(s: &str) -> Option<JobStatus> {
        [JobStatus::Scheduled, JobStatus::InProcess, JobStatus::Successful, JobStatus::Failed, JobStatus::Cancelled]
            .into_iter()
            .find(|st| st.as_str() == s)
    }
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// The result of one update in a servicing run (the Update Status tab).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateResult {
    /// Selected; the run has not reached it (or has not run).
    Pending,
    /// Installed into the image.
    Applied,
    /// Not applicable, already installed or superseded.
    Skipped,
    /// Not a CBS package (an .exe, .msi …), as ConfigMgr reports it.
    NotSupported,
    /// Failed (the reason says why).
    Failed,
    /// The run was cancelled before it reached this update.
    Cancelled,
}

impl UpdateResult {
    /// As stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateResult::Pending => "Pending",
            UpdateResult::Applied => "Applied",
            UpdateResult::Skipped => "Skipped",
            UpdateResult::NotSupported => "Not Supported",
            UpdateResult::Failed => "Failed",
            UpdateResult::Cancelled => "Cancelled",
        }
    }
}

impl std::fmt::Display for UpdateResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// Where a DP stands for one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DpStatus {
    /// Holds the content version it was last sent.
    Success,
    /// A distribution is running.
    InProgress,
    /// The last distribution failed; the DP keeps what it held.
    Failed,
}

impl DpStatus {
    /// The stored (and shown) word.
    pub fn as_str(self) -> &'static str {
        match self {
            DpStatus::Success => "Success",
            DpStatus::InProgress => "In Progress",
            DpStatus::Failed => "Failed",
        }
    }
}

impl std::fmt::Display for DpStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// How a DP got its copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DpMethod {
    /// A whole, verified copy (directory DPs).
    Copy,
    /// rsync's delta transfer (remote DPs).
    Rsync,
    /// The DP held this very file already (directory DPs).
    Unchanged,
}

impl DpMethod {
    /// The stored (and shown) word.
    pub fn as_str(self) -> &'static str {
        match self {
            DpMethod::Copy => "copy",
            DpMethod::Rsync => "rsync",
            DpMethod::Unchanged => "unchanged",
        }
    }
}

impl std::fmt::Display for DpMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

macro_rules! stored_word {
    ($t:ty, [$($v:expr),*]) => {
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                Value::Text(self.as_str().to_owned())
            }
        }
        impl FromValue for $t {
            fn from_value(value: &Value) -> std::result::Result<Self, String> {
                let s = String::from_value(value)?;
                [$($v),*].into_iter().find(|v: &$t| v.as_str() == s)
                    .ok_or_else(|| format!("unknown {} {s:?}", stringify!($t)))
            }
        }
    };
}
stored_word!(DpStatus, [DpStatus::Success, DpStatus::InProgress, DpStatus::Failed]);
stored_word!(DpMethod, [DpMethod::Copy, DpMethod::Rsync, DpMethod::Unchanged]);
stored_word!(
    JobStatus,
    [JobStatus::Scheduled, JobStatus::InProcess, JobStatus::Successful, JobStatus::Failed, JobStatus::Cancelled]
);
stored_word!(
    UpdateResult,
    [
        UpdateResult::Pending,
        UpdateResult::Applied,
        UpdateResult::Skipped,
        UpdateResult::NotSupported,
        UpdateResult::Failed,
        UpdateResult::Cancelled
    ]
);

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: ToValue + FromValue>(v: T) -> T {
        T::from_value(&v.to_value()).unwrap()
    }

    #[test]
    fn every_state_round_trips_through_its_stored_word() {
        for s in
            [JobStatus::Scheduled, JobStatus::InProcess, JobStatus::Successful, JobStatus::Failed, JobStatus::Cancelled]
        {
            assert_eq!(round_trip(s), s);
        }
        for s in [UpdateResult::NotSupported, UpdateResult::Pending, UpdateResult::Cancelled] {
            assert_eq!(round_trip(s), s);
        }
        for s in [DpStatus::InProgress, DpStatus::Failed] {
            assert_eq!(round_trip(s), s);
        }
        assert!(JobStatus::from_value(&Value::Text("Unheard of".into())).is_err());
    }
}
