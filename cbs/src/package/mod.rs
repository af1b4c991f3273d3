//! A CBS package read as a whole: what `wimpatch package info` reports and `package extract` writes.
//! Opens a cab, an MSU (cab or WIM form, the latter through the engine's [`WimOpener`]), an
//! extracted package folder, or a folder of packages; reads every .mum and component manifest;
//! checks key-form names; verifies every plain payload file against its manifest digest (one pass
//! over the package); expands the payloads stored as deltas (PA30 members indexed by
//! `_manifest_.cix.xml`, ranges of the `.psf` indexed by `express.psf.cix.xml`) and verifies them
//! too, reporting those it cannot expand yet. [`extract_path`] writes the verified payload tree to
//! a new folder.

mod error;
mod expand;
mod extract;
mod index;
mod input;
mod inspect;
mod metadata;
mod model;
mod parsed;
mod psf_site;
mod report;
mod verify_indexed;

pub use error::Error;
pub use extract::{extract_path, ExtractReport, ExtractedPackage};
pub use input::{expand_inputs, WimOpener};
pub use inspect::{inspect_path, inspect_path_with, inspect_source};
pub use metadata::{MetadataPass, ParsedManifest, METADATA_LIMIT};
pub use model::{open_packages, OpenOptions, Opened, Package};
pub use parsed::ManifestEntry;
pub use report::{
    ComponentReport, DeltaReport, FileReport, FileStatus, IdentityReport, PackageReport, ParentReport, SubPackageReport,
};
