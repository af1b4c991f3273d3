//! Applying CBS update packages to an offline image, the way DISM `/Add-Package` does, and reading
//! back what is installed (`/Get-Packages`).
//!
//! One engine, two targets ([`Target`]): an image inside a WIM, serviced without mounting (only the
//! hives and the `WinSxS\Manifests` listing are read; the result is one wimlib update batch committed in
//! append mode under the writer lock), or a directory holding an offline Windows tree, changed in
//! place. A run ([`add`]): read the image's state ([`state`]); load every input (`cbs::package`), recognising what is
//! not a CBS package; order them (servicing stack first, checkpoints in order); decide applicability
//! per package ([`plan`]); stage each applicable package under the scratch directory with every
//! payload verified ([`stage`]); record it in the hives ([`registry`]); then commit once ([`commit`]).
//! Nothing reaches the image before the commit, so a failure or a cancel before it leaves the image
//! byte-identical. Logs: `OfflineServicingMgr.log` and `dism.log` under the log directory.

mod add;
mod analyze;
mod cleanup;
mod commit;
mod dir_txn;
mod error;
mod get;
mod hydrate;
mod image_manifests;
pub mod inventory;
mod plan;
mod registry;
mod registry_values;
mod run_context;
mod scratch;
mod service;
mod session;
mod stage;
pub mod state;
mod target;

pub use add::add_packages;
pub(crate) use add::{apply_inputs, no_packages_is_an_error};
pub use analyze::{analyze_component_store, AnalyzeReport};
pub use cleanup::{cleanup_image, CleanupOptions, CleanupReport, CleanupSummary};
pub use error::{Error, Result};
pub use get::{get_packages, GetOptions, PackageRow};
pub use registry::INSTALL_CLIENT;
pub use scratch::{default_scratch_dir, prepare_default_scratch_dir, Scratch};
pub use service::{service, PhaseTime, ServiceReport, ServiceRequest};
pub use session::Finish;
pub use target::{Target, TargetName};

use std::path::PathBuf;

use cbs::container::Limits;

use crate::wim::LockWait;

/// ConfigMgr's exact log text for an input that is not a CBS package.
pub const NOT_SUPPORTED_MESSAGE: &str = "Not applying this update binary, it is not supported";

/// How to run `add-package`.
#[derive(Debug, Clone, Default)]
pub struct AddOptions {
    /// Go on with the other packages when one fails or is not supported (the run then reports
    /// partial success); without it the first failure stops the run and nothing is committed.
    pub continue_on_error: bool,
    /// Decide and report, change nothing.
    pub dry_run: bool,
    /// Scratch directory (`<dir>/OfflineImageServicing/` is used); `None` = the system temp directory.
    pub scratch_dir: Option<PathBuf>,
    /// Log directory; `None` = `<scratch>/OfflineImageServicing/logs`.
    pub log_dir: Option<PathBuf>,
    /// How long to wait for another writer of the same WIM.
    pub wait: LockWait,
    /// Limits for reading packages.
    pub limits: Limits,
    /// The Windows folder of the deployed system, for `$(runtime.*)` variables in registry values;
    /// `None` = `C:\Windows`.
    pub windir: Option<String>,
}

/// What happened to one package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Installed (committed).
    Installed,
    /// `--dry-run`: would be installed.
    WouldInstall,
    /// The same version is already installed; nothing done.
    AlreadyInstalled,
    /// A newer version is installed or given in the same run; nothing done.
    Superseded,
    /// Not applicable to this image (architecture, parents, components absent).
    NotApplicable,
    /// Not a CBS package (an .exe, .msi, Defender cab …).
    NotSupported,
    /// Could not be read, verified or staged.
    Failed,
}

impl Outcome {
    /// A short human label.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Installed => "installed",
            Outcome::WouldInstall => "would install",
            Outcome::AlreadyInstalled => "already installed",
            Outcome::Superseded => "superseded",
            Outcome::NotApplicable => "not applicable",
            Outcome::NotSupported => "not supported",
            Outcome::Failed => "failed",
        }
    }
}

/// A sub-package that did not apply.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SkippedSubPackage {
    /// Its identity.
    pub identity: String,
    /// Why.
    pub reason: String,
}

/// The result for one package (one input, or one inner package of an MSU).
#[derive(Debug, Clone, serde::Serialize)]
pub struct PackageOutcome {
    /// The input (`file`, or `file!inner.cab`).
    pub input: String,
    /// Package identity, when the package could be read.
    pub identity: Option<String>,
    /// KB article.
    pub kb: Option<String>,
    /// What happened.
    pub outcome: Outcome,
    /// Why (for everything but installed).
    pub reason: Option<String>,
    /// Packages registered (the package and its applicable sub-packages).
    pub packages: Vec<String>,
    /// Sub-packages that did not apply.
    pub skipped_sub_packages: Vec<SkippedSubPackage>,
    /// Components installed, by key form.
    pub components: Vec<String>,
    /// Registry values of its components written to the image's hives.
    pub registry_values: u64,
    /// Payload files staged and verified.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
}

impl PackageOutcome {
    fn new(
        input: String,
        identity: Option<String>,
        kb: Option<String>,
        outcome: Outcome,
        reason: Option<String>,
    ) -> Self {
        PackageOutcome {
            input,
            identity,
            kb,
            outcome,
            reason,
            packages: Vec::new(),
            skipped_sub_packages: Vec::new(),
            components: Vec::new(),
            registry_values: 0,
            files: 0,
            bytes: 0,
        }
    }
}

/// What `add-package` reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AddReport {
    /// The target, as messages name it (JSON: the fields of `image`).
    #[serde(skip)]
    pub target: String,
    /// The target in the shared JSON vocabulary (`wim`, `index`, `name`, `edition` or `dir`).
    #[serde(flatten)]
    pub image: TargetName,
    /// `--dry-run`.
    pub dry_run: bool,
    /// Whether anything was written to the image.
    pub committed: bool,
    /// One entry per package, in the order applied.
    pub packages: Vec<PackageOutcome>,
    /// Packages set to Superseded by this run.
    pub superseded: Vec<String>,
    /// Where the logs are.
    pub log_dir: PathBuf,
    /// A warning about the scratch directory, if any.
    pub scratch_warning: Option<String>,
}

impl AddReport {
    /// True when some input failed or was not supported (only possible with `--continue-on-error`).
    pub fn partial(&self) -> bool {
        self.packages.iter().any(|p| matches!(p.outcome, Outcome::Failed | Outcome::NotSupported))
    }
}
