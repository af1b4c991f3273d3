//! Package identity strings, `Name~publicKeyToken~arch~culture~version`.
//!
//! This is the form that names `.mum`/`.cat` files (in cabs and in `Windows\servicing\Packages`) and
//! the registry keys under `Component Based Servicing\Packages`. A neutral package has an empty
//! culture field, hence the `~~` in `Package_for_KB2938772~31bf3856ad364e35~amd64~~6.3.1.0`.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use crate::identity::{AssemblyIdentity, ParseVersionError, Version};

/// Why a package identity could not be parsed or built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PackageIdError {
    /// The text does not have the `Name~pkt~arch~culture~version` shape.
    #[error("invalid package identity {text:?}: {reason}")]
    Malformed {
        /// The text that was given.
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The version field is not a four-part version.
    #[error("invalid package identity {text:?}: bad version field")]
    Version {
        /// The text that was given.
        text: String,
        /// The version error.
        #[source]
        source: ParseVersionError,
    },
    /// An assembly identity without a version cannot name a package.
    #[error("assembly identity {name:?} has no version, so it cannot name a package")]
    MissingVersion {
        /// The assembly name.
        name: String,
    },
}

/// A parsed package identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PackageIdentity {
    /// Package name, e.g. `Package_for_RollupFix`.
    pub name: String,
    /// Public key token, e.g. `31bf3856ad364e35`.
    pub public_key_token: String,
    /// Processor architecture, e.g. `amd64`.
    pub arch: String,
    /// Culture; empty for a neutral package.
    pub culture: String,
    /// Package version (not the OS build for most packages; see `cbs-format.md` §2.1).
    pub version: Version,
}

impl PackageIdentity {
    /// The package identity named by an `<assemblyIdentity>` of a `.mum` (or a `<parent>` entry).
    /// A `neutral` or absent language becomes the empty culture.
    pub fn from_assembly(id: &AssemblyIdentity) -> Result<Self, PackageIdError> {
        let version = id.version.ok_or_else(|| PackageIdError::MissingVersion { name: id.name.clone() })?;
        Ok(PackageIdentity {
            name: id.name.clone(),
            public_key_token: id.public_key_token.clone().unwrap_or_default(),
            arch: id.processor_architecture.clone().unwrap_or_default(),
            culture: if id.is_neutral() { String::new() } else { id.language.clone().unwrap_or_default() },
            version,
        })
    }

    /// The assembly identity a `.mum` would carry for this package (`language="neutral"` when the
    /// culture is empty).
    pub fn to_assembly(&self) -> AssemblyIdentity {
        let language = if self.culture.is_empty() { "neutral" } else { &self.culture };
        let mut id = AssemblyIdentity::new(&self.name).with_version(self.version).with_language(language);
        if !self.arch.is_empty() {
            id = id.with_arch(&self.arch);
        }
        if !self.public_key_token.is_empty() {
            id = id.with_public_key_token(&self.public_key_token);
        }
        id
    }

    /// True for a neutral package (empty culture).
    pub fn is_neutral(&self) -> bool {
        self.culture.is_empty()
    }
}

impl fmt::Display for PackageIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}~{}~{}~{}~{}", self.name, self.public_key_token, self.arch, self.culture, self.version)
    }
}

impl FromStr for PackageIdentity {
    type Err = PackageIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let malformed = |reason: String| PackageIdError::Malformed { text: text.to_owned(), reason };
        let fields: Vec<&str> = text.split('~').collect();
        if fields.len() != 5 {
            return Err(malformed(format!(
                "expected 5 '~'-separated fields (Name~pkt~arch~culture~version), found {}",
                fields.len()
            )));
        }
        let [name, pkt, arch, culture, version] = [fields[0], fields[1], fields[2], fields[3], fields[4]];
        if name.is_empty() {
            return Err(malformed("the name field is empty".to_owned()));
        }
        if arch.is_empty() {
            return Err(malformed("the architecture field is empty".to_owned()));
        }
        if let Some(c) = [name, pkt, arch, culture].iter().flat_map(|f| f.chars()).find(|c| c.is_whitespace()) {
            return Err(malformed(format!("contains whitespace {c:?}")));
        }
        // The identity names `.mum`/`.cat` files: the same grammar as a manifest's attributes.
        let fields = [("name", name), ("publicKeyToken", pkt), ("processorArchitecture", arch), ("language", culture)];
        for (attribute, value) in fields {
            if let Some(reason) = crate::identity::unsafe_name_part(attribute, value) {
                return Err(malformed(format!("the {attribute} field {value:?} {reason}")));
            }
        }
        let version =
            Version::parse(version).map_err(|source| PackageIdError::Version { text: text.to_owned(), source })?;
        Ok(PackageIdentity {
            name: name.to_owned(),
            public_key_token: pkt.to_owned(),
            arch: arch.to_owned(),
            culture: culture.to_owned(),
            version,
        })
    }
}
