//! Component-Based Servicing (CBS) package formats, in pure Rust.
//!
//! This first slice holds what both the engine and the fixture generator need: assembly identities,
//! the package identity string (`Name~pkt~arch~culture~version`) and the WinSxS key-form names with their
//! hash. The cab/msu/mum readers arrive with the CBS reader issue.

#![forbid(unsafe_code)]

pub mod identity;
pub mod keyform;
pub mod package_id;

pub use identity::{AssemblyIdentity, ParseVersionError, Version};
pub use keyform::{key_form, short_key_form, versionless_key_form};
pub use package_id::{PackageIdError, PackageIdentity};
