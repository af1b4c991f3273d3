//! A CBS package read as a whole: what `wimpatch package info` reports and `package extract` writes.
//! Opens a cab, an MSU (cab or WIM form, the latter through the engine's [`WimOpener`]), an
//! extracted package folder, or a folder of packages; reads every .mum and component manifest;
//! checks key-form names; verifies every plain payload file against its manifest digest (one pass
//! over the package); and says which payloads are delta-compressed (PA30 members indexed by
//! `_manifest_.cix.xml`). [`extract_path`] writes the verified payload tree to a new folder.

mod error;
mod extract;
mod input;
mod inspect;
mod report;

pub use error::Error;
pub use extract::{extract_path, ExtractReport, ExtractedPackage};
pub use input::WimOpener;
pub use inspect::{inspect_path, inspect_path_with, inspect_source};
pub use report::{
    ComponentReport, DeltaReport, FileReport, FileStatus, IdentityReport, PackageReport, ParentReport, SubPackageReport,
};
