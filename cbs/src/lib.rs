//! Component-Based Servicing (CBS) package formats, in pure Rust.
//!
//! Layers: [`container`] reads cabinets, MSUs and package folders under explicit limits; [`xml`] is a
//! small bounded XML front end under [`mum`] (update.mum and sub-package .mum), [`manifest`] (component
//! and deployment manifests) and [`cix`] (delta indexes); [`identity`], [`package_id`] and [`keyform`]
//! name things the way CBS does; [`rules`] holds supersedence, ordering and parent matching; [`package`]
//! reads a whole package and verifies its payloads (`wimpatch package info`).

#![forbid(unsafe_code)]

pub mod cix;
pub mod codecs;
pub mod container;
pub mod dcm;
pub mod dcs;
pub mod delta;
pub mod hex;
pub mod identity;
pub mod json_word;
pub mod keyform;
pub mod manifest;
pub mod mum;
pub mod name;
pub mod package;
pub mod package_id;
pub mod pe_resource;
pub mod psf;
pub mod registry;
pub mod regular_file;
pub mod rules;
pub mod runtime;
pub mod xml;

pub use identity::{AssemblyIdentity, ParseVersionError, Version};
pub use keyform::{key_form, short_key_form, versionless_key_form};
pub use package_id::{PackageIdError, PackageIdentity};
