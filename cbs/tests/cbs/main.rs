//! Integration tests of the cbs crate (one test binary for the crate).

mod cix;
mod container;
mod delta;
mod identity;
mod keyform;
mod manifest;
mod mum;
mod package_extract;
mod package_id;
mod package_read;
mod psf;
mod real_names;
mod rules;
mod xml;

/// A neutral amd64 Microsoft identity, the shape most test cases need.
pub fn amd64_identity(name: &str, version: &str) -> cbs::AssemblyIdentity {
    cbs::AssemblyIdentity::new(name)
        .with_version(version.parse().unwrap())
        .with_arch("amd64")
        .with_language("neutral")
        .with_public_key_token("31bf3856ad364e35")
}
