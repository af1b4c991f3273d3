//! The report of one package, as `wimpatch package info` prints it (text or JSON).

use serde::Serialize;

use crate::identity::AssemblyIdentity;

/// An assembly identity in report form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdentityReport {
    /// Name.
    pub name: String,
    /// Four-part version.
    pub version: Option<String>,
    /// Processor architecture.
    pub arch: Option<String>,
    /// Language (`neutral` when absent).
    pub language: String,
    /// Public key token.
    pub public_key_token: Option<String>,
}

impl From<&AssemblyIdentity> for IdentityReport {
    fn from(a: &AssemblyIdentity) -> Self {
        IdentityReport {
            name: a.name.clone(),
            version: a.version.map(|v| v.to_string()),
            arch: a.processor_architecture.clone(),
            language: a.language.clone().unwrap_or_else(|| "neutral".into()),
            public_key_token: a.public_key_token.clone(),
        }
    }
}

/// One `<parent>` group: alternatives, any of which makes the package applicable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParentReport {
    /// `detect` / `staged`.
    pub disposition: Option<String>,
    /// `buildCompare`.
    pub build_compare: Option<String>,
    /// `serviceCompare`.
    pub service_compare: Option<String>,
    /// `revisionCompare`.
    pub revision_compare: Option<String>,
    /// The alternatives, as package identity strings where they form one.
    pub alternatives: Vec<String>,
    /// Nested groups.
    pub nested: Vec<ParentReport>,
}

/// A .mum other than update.mum (a sub-package).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubPackageReport {
    /// `Name~pkt~arch~culture~version`.
    pub identity: String,
    /// Release type.
    pub release_type: Option<String>,
    /// Its parent groups.
    pub parents: Vec<ParentReport>,
    /// Components it installs (deployment identities).
    pub components: Vec<String>,
    /// Components it updates (`updateComponent`), with `elevate`.
    pub update_components: Vec<String>,
    /// Drivers (`updateDriver` INF names).
    pub drivers: Vec<String>,
}

/// Where a payload file stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    /// Present and its SHA-256 equals the manifest's digest.
    Verified,
    /// Stored through a delta index (PA30 …, or a range of a `.psf`) and not expanded (the `.psf` was
    /// not found), so not verified.
    Delta,
    /// A PSFX differential (`<key-form>\f\`, with `r\`, or `n\`): a forward one is hydrated against
    /// the image's RTM version of the file when the package is installed (and checked there against
    /// the manifest digest), so it cannot be verified from the package alone.
    Differential,
    /// Neither the manifest nor the delta index gives a digest for it.
    NoDigest,
    /// Stored in a way this tool cannot expand yet (a PA30 transform not implemented, PA19, a PA31 codec not implemented):
    /// not verified; `reason` says why.
    Unsupported,
    /// Its delta or expanded bytes are wrong (a corrupt delta, a length or hash the index does not
    /// give): not verified; `reason` says why. `package info` exits 1 when any payload failed.
    Failed,
}

/// One payload file of a component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileReport {
    /// File name.
    pub name: String,
    /// `destinationPath` from the manifest.
    pub destination: Option<String>,
    /// SHA-256 digest from the manifest (hex).
    pub sha256: Option<String>,
    /// Whether the bytes were hashed and matched (`null` when they could not be checked).
    pub verified: Option<bool>,
    /// Status.
    pub status: FileStatus,
    /// For delta members: the delta format (`PA30`, …).
    pub delta_format: Option<String>,
    /// For a payload expanded from a delta index: the SHA-256 of the expanded bytes (hex).
    pub expanded_sha256: Option<String>,
    /// What a verified payload was checked against: `manifest SHA-256`, or (where the manifest
    /// gives no digest) the index's hash, `index SHA1` / `index SHA256`.
    pub verified_by: Option<String>,
    /// Why an [`FileStatus::Unsupported`] or [`FileStatus::Failed`] payload could not be expanded.
    pub reason: Option<String>,
}

/// One component or deployment manifest of the package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComponentReport {
    /// Key form (the manifest's file stem, checked against the identity).
    pub keyform: String,
    /// Identity.
    pub identity: IdentityReport,
    /// A deployment manifest (groups components; no files).
    pub deployment: bool,
    /// Payload files.
    pub files: Vec<FileReport>,
    /// How many registry values its `<registryKeys>` carry.
    pub registry_values: usize,
    /// Those values, mapped onto the hives of an image of the package's architecture and decoded
    /// (`package info --registry` shows them; other callers may clear the list).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub registry: Vec<crate::registry::RegistryEntry>,
}

/// The delta index of a package whose payloads are PA30 members (`_manifest_.cix.xml`), or the
/// express index of a package whose payloads are in a `.psf` (`express.psf.cix.xml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeltaReport {
    /// The index member (`_manifest_.cix.xml`, `express.psf.cix.xml`).
    pub index: String,
    /// Files listed in the index.
    pub files: usize,
    /// Files stored as deltas, by format (`PA30` → count; for a `.psf`, `RAW` ranges too).
    pub by_format: std::collections::BTreeMap<String, usize>,
    /// Files whose `<Basis>` is another file of the package.
    pub with_basis: usize,
    /// What became of the payloads it stores: `N expanded and verified, M unsupported: <reason>`,
    /// or why they were not expanded.
    pub expansion: String,
    /// Payload files expanded and verified.
    pub verified: usize,
    /// Payload files that cannot be expanded yet ([`FileStatus::Unsupported`]).
    pub unsupported: usize,
    /// Payload files whose expansion failed ([`FileStatus::Failed`]).
    pub failed: usize,
    /// Payload files not expanded at all ([`FileStatus::Delta`]: the `.psf` was not found).
    pub not_expanded: usize,
    /// For an express index: the `.psf` read, or where it was looked for.
    pub psf: Option<String>,
    /// For an express index: whether that `.psf` was found.
    pub psf_found: Option<bool>,
}

/// Everything `package info` says about one input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageReport {
    /// The input path (for an MSU's inner cab: `outer.msu!inner.cab`).
    #[serde(rename = "input")]
    pub path: String,
    /// `cbs-cab`, `msu`, `combined-msu`, `wim-msu`, `package-folder`, `unsupported`, or `unreadable`
    /// (a file of a folder that failed: `error` says why).
    #[serde(serialize_with = "crate::json_word::snake_case")]
    pub kind: &'static str,
    /// Why an unsupported input is not applied.
    pub reason: Option<String>,
    /// update.mum identity.
    pub identity: Option<IdentityReport>,
    /// `Name~pkt~arch~culture~version` of update.mum.
    pub identity_string: Option<String>,
    /// KB number (from update.mum `identifier`, or the MSU's pkgProperties).
    pub kb: Option<String>,
    /// `releaseType`.
    pub release_type: Option<String>,
    /// `restart`.
    pub restart: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Parent groups of update.mum.
    pub parents: Vec<ParentReport>,
    /// Sub-packages (every other .mum).
    pub packages: Vec<SubPackageReport>,
    /// Component and deployment manifests.
    pub components: Vec<ComponentReport>,
    /// Catalog files present.
    pub catalogs: Vec<String>,
    /// .mum files that have no .cat beside them.
    pub missing_catalogs: Vec<String>,
    /// The delta index, when payloads are deltas.
    pub delta: Option<DeltaReport>,
    /// The express index, when payloads are in a `.psf`.
    pub psf: Option<DeltaReport>,
    /// Payload files verified against their digests.
    pub verified_files: usize,
    /// Payload files whose expansion failed ([`FileStatus::Failed`]).
    pub failed_files: usize,
    /// For an MSU: its inner CBS packages, servicing stack first.
    pub inner: Vec<PackageReport>,
    /// In a folder of packages: why this file could not be read (the others are still reported).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(rename = "read_error")]
    pub error: Option<String>,
}

impl PackageReport {
    /// Whether any payload of this package or of its inner packages failed.
    pub fn any_failed(&self) -> bool {
        self.failed_files > 0 || self.inner.iter().any(PackageReport::any_failed)
    }

    pub(crate) fn empty(path: String, kind: &'static str) -> Self {
        PackageReport {
            path,
            kind,
            reason: None,
            identity: None,
            identity_string: None,
            kb: None,
            release_type: None,
            restart: None,
            description: None,
            parents: Vec::new(),
            packages: Vec::new(),
            components: Vec::new(),
            catalogs: Vec::new(),
            missing_catalogs: Vec::new(),
            delta: None,
            psf: None,
            verified_files: 0,
            failed_files: 0,
            inner: Vec::new(),
            error: None,
        }
    }
}
