//! A package's metadata read once: `update.mum`, every sub-package `.mum`, every component
//! manifest (its key-form name checked) and the container indexes, parsed in one pass over the
//! source and kept parsed. Both consumers start here: the engine's [`super::Package`] and the
//! reports of `package info` / `package extract`, so a format change lands in one place.

use std::collections::HashMap;

use super::error::Error;
use super::metadata::MetadataPass;
use crate::cix::ContainerIndex;
use crate::container::{member_key, PackageSource};
use crate::manifest::ComponentManifest;
use crate::mum::PackageManifest;
use crate::name::{ends_with_ci, strip_suffix_ci};
use crate::psf::PSF_CIX_NAME;
use crate::PackageIdentity;

/// The delta index of Windows 7-era hotfix cabs.
pub(crate) const CIX_NAME: &str = "_manifest_.cix.xml";

/// A component manifest of a package.
pub struct ManifestEntry {
    /// Member name in the package.
    pub member: String,
    /// Parsed.
    pub manifest: ComponentManifest,
    /// SHA-256 of its bytes: recorded in the image's registry, and checked when the bytes are read
    /// again to be copied into `WinSxS\Manifests` (the bytes are not kept: bounded memory).
    pub sha256: [u8; 32],
}

/// Everything a package's metadata files say (no payload bytes).
pub(crate) struct ParsedPackage {
    /// Member names, in the order the source lists them.
    pub(crate) entries: Vec<String>,
    /// Member names by [`member_key`].
    pub(crate) members: HashMap<String, String>,
    /// Member name of `update.mum`.
    pub(crate) top_member: String,
    /// `update.mum`.
    pub(crate) top: PackageManifest,
    /// Its identity.
    pub(crate) top_id: PackageIdentity,
    /// Every other top-level .mum, by lower-case identity string: (member name, manifest).
    pub(crate) mums: HashMap<String, (String, PackageManifest)>,
    /// Component and deployment manifests, by key form (lower case).
    pub(crate) manifests: HashMap<String, ManifestEntry>,
    /// The key forms of [`ParsedPackage::manifests`] in listing order (reports and payload checks
    /// go in this order, so the first problem named is the same however the source is read).
    pub(crate) manifest_order: Vec<String>,
    /// `_manifest_.cix.xml`, when payloads are stored as deltas.
    pub(crate) cix: Option<ContainerIndex>,
    /// `express.psf.cix.xml`, when payloads are in a `.psf`.
    pub(crate) psf_index: Option<ContainerIndex>,
    /// The first manifest that failed to parse or is misnamed; the manifests after it are not
    /// read. Kept apart so a report can name a payload mismatch met before it first; the engine
    /// refuses the package on it ([`ParsedPackage::complete`]).
    pub(crate) manifest_error: Option<Error>,
}

impl ParsedPackage {
    /// Reads the metadata of the package `src` holds. Metadata files are the top-level `.mum` and
    /// `.manifest` members and the two indexes; identities are validated as they are parsed.
    pub(crate) fn read(src: &mut dyn PackageSource) -> Result<ParsedPackage, Error> {
        let package = src.package().to_owned();
        let entries: Vec<String> = src.list()?.into_iter().map(|e| e.path).collect();
        let members: HashMap<String, String> = entries.iter().map(|e| (member_key(e), e.clone())).collect();
        let top_member =
            members.get("update.mum").cloned().ok_or_else(|| Error::NoUpdateMum { package: package.clone() })?;
        let indexes = [member_key(CIX_NAME), member_key(PSF_CIX_NAME)];
        let top_level = |n: &str| !n.contains(['/', '\\']);
        let meta_names: Vec<String> = entries
            .iter()
            .filter(|n| {
                top_level(n)
                    && (ends_with_ci(n, ".mum") || ends_with_ci(n, ".manifest") || indexes.contains(&member_key(n)))
            })
            .cloned()
            .collect();
        let mut meta = MetadataPass::read(src, &meta_names);
        let identity_error = |member: &str, detail: String| Error::Identity {
            package: package.clone(),
            member: member.to_owned(),
            detail,
        };
        let top = meta.package_manifest(src, &top_member)?;
        let top_id =
            PackageIdentity::from_assembly(&top.identity).map_err(|e| identity_error(&top_member, e.to_string()))?;

        let mut mums = HashMap::new();
        for name in entries.iter().filter(|n| top_level(n) && **n != top_member && ends_with_ci(n, ".mum")) {
            let mum = meta.package_manifest(src, name)?;
            let id = PackageIdentity::from_assembly(&mum.identity).map_err(|e| identity_error(name, e.to_string()))?;
            mums.insert(id.to_string().to_lowercase(), (name.clone(), mum));
        }

        let mut manifests = HashMap::new();
        let mut manifest_order = Vec::new();
        let mut manifest_error = None;
        for name in entries.iter().filter(|n| top_level(n) && ends_with_ci(n, ".manifest")) {
            let entry = meta.component_manifest(src, name).and_then(|parsed| {
                let key_form = strip_suffix_ci(name, ".manifest").unwrap_or(name).to_ascii_lowercase();
                let computed = crate::key_form(&parsed.manifest.identity);
                if computed != key_form {
                    return Err(Error::KeyFormMismatch {
                        package: package.clone(),
                        member: name.clone(),
                        expected: computed,
                    });
                }
                Ok((key_form, ManifestEntry { member: name.clone(), manifest: parsed.manifest, sha256: parsed.sha256 }))
            });
            match entry {
                Ok((key_form, entry)) => {
                    manifest_order.push(key_form.clone());
                    manifests.insert(key_form, entry);
                }
                Err(e) => {
                    manifest_error = Some(e);
                    break;
                }
            }
        }

        let mut index = |name: &str| -> Result<Option<ContainerIndex>, Error> {
            match members.get(&member_key(name)) {
                Some(member) => Ok(Some(meta.index(src, member)?)),
                None => Ok(None),
            }
        };
        let cix = index(CIX_NAME)?;
        let psf_index = index(PSF_CIX_NAME)?;
        Ok(ParsedPackage {
            entries,
            members,
            top_member,
            top,
            top_id,
            mums,
            manifests,
            manifest_order,
            cix,
            psf_index,
            manifest_error,
        })
    }

    /// `self`, or the manifest error that makes the package unusable for installing.
    pub(crate) fn complete(mut self) -> Result<ParsedPackage, Error> {
        match self.manifest_error.take() {
            Some(e) => Err(e),
            None => Ok(self),
        }
    }

    /// The member named `name`, case-insensitively.
    pub(crate) fn member(&self, name: &str) -> Option<&String> {
        self.members.get(&member_key(name))
    }
}
