//! A CBS package read as a whole: what `wimpatch package info` reports. Opens a cab, an MSU, an
//! extracted package folder, or a folder of packages; reads every .mum and component manifest;
//! checks key-form names; verifies every plain payload file against its manifest digest; and says
//! which payloads are delta-compressed (PA30 members indexed by `_manifest_.cix.xml`).

mod error;
mod inspect;
mod report;

pub use error::Error;
pub use inspect::{inspect_path, inspect_source};
pub use report::{
    ComponentReport, DeltaReport, FileReport, FileStatus, IdentityReport, PackageReport, ParentReport, SubPackageReport,
};
