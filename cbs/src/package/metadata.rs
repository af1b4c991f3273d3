//! One pass over a package's metadata files (`.mum`, component manifests, `.cix.xml` indexes):
//! each is read once, in the order the source reads fastest (a cabinet decodes each solid folder
//! once), parsed, and its bytes dropped. Reading them one by one decoded a solid folder from its
//! start for every file, quadratic in the package (issue 17); keeping their bytes made a cab of
//! manifests padded with huge comments cost gigabytes.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::error::Error;
use crate::cix::ContainerIndex;
use crate::container::{parse_each, PackageSource};
use crate::manifest::ComponentManifest;
use crate::mum::PackageManifest;
use crate::name::ends_with_ci;
use crate::xml::XmlError;

/// Largest metadata file (.mum, .manifest, .cix.xml) read into memory.
pub const METADATA_LIMIT: u64 = 16 << 20;

/// A component manifest, parsed, with what is kept of its bytes.
#[derive(Debug, Clone)]
pub struct ParsedManifest {
    /// The manifest.
    pub manifest: ComponentManifest,
    /// SHA-256 of its bytes (the registry records it; the bytes are read again when staged).
    pub sha256: [u8; 32],
    /// Its size in bytes.
    pub size: u64,
}

enum Parsed {
    // Boxed: parsed manifests are large, and most entries of a package are one or the other.
    Package(Box<Result<PackageManifest, XmlError>>),
    Component(Box<Result<ParsedManifest, XmlError>>),
    Index(Result<ContainerIndex, XmlError>),
}

fn parse_package(name: &str, bytes: &[u8]) -> Result<PackageManifest, XmlError> {
    PackageManifest::parse(bytes, name)
}

fn parse_component(name: &str, bytes: &[u8]) -> Result<ParsedManifest, XmlError> {
    Ok(ParsedManifest {
        manifest: ComponentManifest::parse(bytes, name)?,
        sha256: Sha256::digest(bytes).into(),
        size: bytes.len() as u64,
    })
}

fn parse_index(name: &str, bytes: &[u8]) -> Result<ContainerIndex, XmlError> {
    ContainerIndex::parse(bytes, name)
}

impl Parsed {
    /// The parse a file's name calls for: `.mum`, `.manifest`, anything else an index.
    fn of(name: &str, bytes: &[u8]) -> Parsed {
        if ends_with_ci(name, ".mum") {
            Parsed::Package(Box::new(parse_package(name, bytes)))
        } else if ends_with_ci(name, ".manifest") {
            Parsed::Component(Box::new(parse_component(name, bytes)))
        } else {
            Parsed::Index(parse_index(name, bytes))
        }
    }
}

/// The metadata files of one package, parsed in one pass ([`MetadataPass::read`]) and handed out
/// by name. Parse errors wait until a file is asked for, so a caller reports them in its own order;
/// a read error ends the pass, and asking for a file the pass did not reach reads it on its own,
/// which gives that error.
pub struct MetadataPass {
    package: String,
    parsed: HashMap<String, Parsed>,
}

impl MetadataPass {
    /// Reads and parses `names` (as the source lists them) in one pass over `src`.
    pub fn read(src: &mut dyn PackageSource, names: &[String]) -> MetadataPass {
        let package = src.package().to_owned();
        let parsed = parse_each(src, names, METADATA_LIMIT, Parsed::of);
        MetadataPass { package, parsed }
    }

    fn take<T>(
        &mut self,
        src: &mut dyn PackageSource,
        name: &str,
        pick: fn(Parsed) -> Option<Result<T, XmlError>>,
        parse: fn(&str, &[u8]) -> Result<T, XmlError>,
    ) -> Result<T, Error> {
        let parsed = match self.parsed.remove(name).and_then(pick) {
            Some(parsed) => parsed,
            None => parse(name, &src.read(name, METADATA_LIMIT)?),
        };
        parsed.map_err(|source| Error::Xml { package: self.package.clone(), source })
    }

    /// The package manifest (`.mum`) `name`.
    pub fn package_manifest(&mut self, src: &mut dyn PackageSource, name: &str) -> Result<PackageManifest, Error> {
        let pick = |p| match p {
            Parsed::Package(r) => Some(*r),
            _ => None,
        };
        self.take(src, name, pick, parse_package)
    }

    /// The component or deployment manifest `name`.
    pub fn component_manifest(&mut self, src: &mut dyn PackageSource, name: &str) -> Result<ParsedManifest, Error> {
        let pick = |p| match p {
            Parsed::Component(r) => Some(*r),
            _ => None,
        };
        self.take(src, name, pick, parse_component)
    }

    /// The container index (`_manifest_.cix.xml`, `express.psf.cix.xml`) `name`.
    pub fn index(&mut self, src: &mut dyn PackageSource, name: &str) -> Result<ContainerIndex, Error> {
        let pick = |p| match p {
            Parsed::Index(r) => Some(r),
            _ => None,
        };
        self.take(src, name, pick, parse_index)
    }
}
