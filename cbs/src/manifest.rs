//! Component and deployment manifests (`*.manifest`, `cbs-format.md` §3.1).
//!
//! A component manifest names a component (`<assemblyIdentity>`) and lists what it installs: files
//! with their SHA-256 digests, registry keys and values, and the assemblies it depends on. A
//! deployment manifest (hashed 32-hex name) has `<deployment/>` and `install` dependencies on the
//! components it brings in. Driver manifests (`type="driverUpdate"`) mark the `.inf` with
//! `<infFile/>`.
//!
//! Only the parts the servicing engine acts on are modelled (of `trustInfo`, the security descriptor
//! definitions registry keys name); other sections (`migration`, `taskScheduler`, `localization`, …)
//! are ignored. Registry data is bounded ([`MAX_REGISTRY_KEYS`], [`MAX_REGISTRY_VALUES`]) on top of
//! the XML reader's own limits. Compressed (`DCM\x01`) manifests
//! must be expanded before they reach this parser.

use base64::Engine as _;

use crate::identity::AssemblyIdentity;
use crate::xml::{self, assembly_identity, flag, Document, Element, XmlError, XmlErrorKind};

/// A parsed component or deployment manifest.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ComponentManifest {
    /// The manifest's `<assemblyIdentity>` (name and version required).
    pub identity: AssemblyIdentity,
    /// `manifestVersion`.
    pub manifest_version: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `copyright`.
    pub copyright: Option<String>,
    /// True when the manifest has a `<deployment>` element.
    pub deployment: bool,
    /// Every `<dependentAssembly>` of every `<dependency>`, in document order.
    pub dependencies: Vec<Dependency>,
    /// `<file>` elements, in document order.
    pub files: Vec<ManifestFile>,
    /// `<registryKey>` elements (inside `<registryKeys>`), in document order.
    pub registry_keys: Vec<RegistryKey>,
    /// `trustInfo/security/accessControl/securityDescriptorDefinitions/securityDescriptorDefinition`
    /// elements, which `securityDescriptor` references of keys and files name.
    pub security_descriptors: Vec<SecurityDescriptorDefinition>,
}

/// Most `<registryKey>` elements read from one manifest.
pub const MAX_REGISTRY_KEYS: usize = 1 << 16;
/// Most `<registryValue>` elements read from one manifest (all keys together).
pub const MAX_REGISTRY_VALUES: usize = 1 << 17;

/// One `<securityDescriptorDefinition>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecurityDescriptorDefinition {
    /// `name`, as `securityDescriptor[@name]` references it.
    pub name: String,
    /// `sddl`, the descriptor in SDDL.
    pub sddl: String,
    /// `operationHint` (`replace`, …).
    pub operation_hint: Option<String>,
}

/// One `<dependency><dependentAssembly>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dependency {
    /// `discoverable` of `<dependency>` (`no`, `false`, …).
    pub discoverable: Option<String>,
    /// `resourceType` of `<dependency>` (`Resources`).
    pub resource_type: Option<String>,
    /// `buildFilter` of `<dependency>`.
    pub build_filter: Option<String>,
    /// `optional` of `<dependency>`.
    pub optional: Option<String>,
    /// `dependencyType` of `<dependentAssembly>` (`install`, `prerequisite`).
    pub dependency_type: Option<String>,
    /// The identity depended on.
    pub identity: AssemblyIdentity,
}

/// One `<file>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ManifestFile {
    /// `name` (may hold a relative path).
    pub name: String,
    /// `destinationPath`, e.g. `$(runtime.system32)\`; absent for driver files.
    pub destination_path: Option<String>,
    /// `sourceName`.
    pub source_name: Option<String>,
    /// `sourcePath`.
    pub source_path: Option<String>,
    /// `importPath`.
    pub import_path: Option<String>,
    /// `attributes` (file attributes as written).
    pub attributes: Option<String>,
    /// `name` of the `<securityDescriptor>` child.
    pub security_descriptor: Option<String>,
    /// SHA-256 of the payload, from `<hash><DigestMethod Algorithm="…#sha256"/><DigestValue>` (base64).
    pub sha256: Option<[u8; 32]>,
    /// SHA-1 of the payload: from a `…#sha1` DigestMethod, or the legacy asm.v1 form
    /// `<file hash="hex" hashalg="SHA1">`.
    pub sha1: Option<[u8; 20]>,
    /// True when the file has an `<infFile>` child (the driver's `.inf`).
    pub inf_file: bool,
}

/// One `<registryKey>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RegistryKey {
    /// `keyName`, e.g. `HKEY_LOCAL_MACHINE\SYSTEM\…`.
    pub key_name: String,
    /// `owner`.
    pub owner: Option<bool>,
    /// `name` of the `<securityDescriptor>` child.
    pub security_descriptor: Option<String>,
    /// `<registryValue>` children.
    pub values: Vec<RegistryValue>,
}

/// One `<registryValue>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RegistryValue {
    /// `name`; empty for the key's default value.
    pub name: String,
    /// `valueType` (`REG_SZ`, `REG_EXPAND_SZ`, `REG_DWORD`, …).
    pub value_type: Option<String>,
    /// `value` as written (hex for binary and DWORD values).
    pub value: Option<String>,
    /// `operationHint` (`replace`, `append` for a REG_MULTI_SZ that adds to an existing list).
    pub operation_hint: Option<String>,
    /// `owner`.
    pub owner: Option<bool>,
    /// `mutable`.
    pub mutable: Option<bool>,
}

impl ComponentManifest {
    /// Parses a manifest. `file` names it in errors. A compressed (`DCM`) manifest fails with an
    /// error naming the file: it needs its base ([`Self::parse_with_base`]).
    pub fn parse(bytes: &[u8], file: &str) -> Result<Self, XmlError> {
        Self::parse_with_base(bytes, file, None)
    }

    /// Parses a manifest, plain XML or compressed ([`crate::dcm`]); `base` is the base manifest a
    /// `DCM` manifest is a delta against (from the image's servicing-stack `wcp.dll`).
    pub fn parse_with_base(bytes: &[u8], file: &str, base: Option<&[u8]>) -> Result<Self, XmlError> {
        let text = crate::dcm::decode_manifest(bytes, base, file).map_err(|e| XmlError {
            file: file.to_owned(),
            line: 1,
            column: 1,
            kind: Box::new(XmlErrorKind::Compressed(e.to_string())),
        })?;
        Self::from_document(&xml::parse(&text, file)?)
    }

    /// Reads a parsed document.
    pub fn from_document(doc: &Document) -> Result<Self, XmlError> {
        let file = doc.file.as_str();
        let root = doc.expect_root("assembly")?;
        let mut manifest = ComponentManifest {
            identity: assembly_identity(file, root.required_child(file, "assemblyIdentity")?, true)?,
            manifest_version: owned(root, "manifestVersion"),
            description: owned(root, "description"),
            copyright: owned(root, "copyright"),
            ..Default::default()
        };
        let mut value_count = 0usize;
        for child in &root.children {
            match child.name.as_str() {
                "deployment" => manifest.deployment = true,
                "dependency" => {
                    for dependent in child.children_named("dependentAssembly") {
                        manifest.dependencies.push(Dependency {
                            discoverable: owned(child, "discoverable"),
                            resource_type: owned(child, "resourceType"),
                            build_filter: owned(child, "buildFilter"),
                            optional: owned(child, "optional"),
                            dependency_type: owned(dependent, "dependencyType"),
                            identity: assembly_identity(
                                file,
                                dependent.required_child(file, "assemblyIdentity")?,
                                false,
                            )?,
                        });
                    }
                }
                "file" => manifest.files.push(parse_file(file, child)?),
                "registryKeys" => {
                    for key in child.children_named("registryKey") {
                        if manifest.registry_keys.len() == MAX_REGISTRY_KEYS {
                            return Err(too_many(file, key, "registryKey", MAX_REGISTRY_KEYS));
                        }
                        let parsed = parse_key(file, key)?;
                        value_count += parsed.values.len();
                        manifest.registry_keys.push(parsed);
                        if value_count > MAX_REGISTRY_VALUES {
                            return Err(too_many(file, key, "registryValue", MAX_REGISTRY_VALUES));
                        }
                    }
                }
                "trustInfo" => read_security_descriptors(file, child, &mut manifest.security_descriptors)?,
                _ => {}
            }
        }
        Ok(manifest)
    }

    /// True for a deployment manifest (one with `<deployment/>`).
    pub fn is_deployment(&self) -> bool {
        self.deployment
    }

    /// True for a driver manifest (`type="driverUpdate"`).
    pub fn is_driver(&self) -> bool {
        self.identity.type_name.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("driverUpdate"))
    }

    /// The number of registry values of all its keys.
    pub fn registry_value_count(&self) -> usize {
        self.registry_keys.iter().map(|k| k.values.len()).sum()
    }

    /// The SDDL of the security descriptor definition called `name`.
    pub fn security_descriptor(&self, name: &str) -> Option<&SecurityDescriptorDefinition> {
        self.security_descriptors.iter().find(|d| d.name.eq_ignore_ascii_case(name))
    }

    /// The files marked `<infFile/>`.
    pub fn inf_files(&self) -> impl Iterator<Item = &ManifestFile> {
        self.files.iter().filter(|f| f.inf_file)
    }

    /// The `install` dependencies: for a deployment, the components it installs.
    pub fn install_dependencies(&self) -> impl Iterator<Item = &Dependency> {
        self.dependencies
            .iter()
            .filter(|d| d.dependency_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("install")))
    }
}

/// Parses a manifest; the same as [`ComponentManifest::parse`].
pub fn parse_manifest(bytes: &[u8], file: &str) -> Result<ComponentManifest, XmlError> {
    ComponentManifest::parse(bytes, file)
}

fn owned(e: &Element, attr: &str) -> Option<String> {
    e.attr(attr).map(str::to_owned)
}

fn parse_file(file: &str, e: &Element) -> Result<ManifestFile, XmlError> {
    let mut entry = ManifestFile {
        name: e.required_attr(file, "name")?.to_owned(),
        destination_path: owned(e, "destinationPath"),
        source_name: owned(e, "sourceName"),
        source_path: owned(e, "sourcePath"),
        import_path: owned(e, "importPath"),
        attributes: owned(e, "attributes"),
        ..Default::default()
    };
    if let Some(hex) = e.attr("hash") {
        let algorithm = e.attr("hashalg").unwrap_or("SHA1");
        if !algorithm.eq_ignore_ascii_case("SHA1") {
            return Err(XmlError::invalid_value(file, e, "hashalg", algorithm, "only SHA1 is known for legacy hashes"));
        }
        entry.sha1 =
            Some(decode_hex::<20>(hex).map_err(|reason| XmlError::invalid_value(file, e, "hash", hex, reason))?);
    }
    for child in &e.children {
        match child.name.as_str() {
            "securityDescriptor" => entry.security_descriptor = owned(child, "name"),
            "infFile" => entry.inf_file = true,
            "hash" => read_digest(file, child, &mut entry)?,
            _ => {}
        }
    }
    Ok(entry)
}

/// Which digest a `DigestMethod` names.
enum DigestAlgorithm {
    Sha256,
    Sha1,
}

fn read_digest(file: &str, hash: &Element, entry: &mut ManifestFile) -> Result<(), XmlError> {
    let method = hash.required_child(file, "DigestMethod")?;
    let uri = method.required_attr(file, "Algorithm")?;
    let fragment = uri.rsplit_once('#').map_or(uri, |(_, f)| f);
    let algorithm = if fragment.eq_ignore_ascii_case("sha256") {
        DigestAlgorithm::Sha256
    } else if fragment.eq_ignore_ascii_case("sha1") {
        DigestAlgorithm::Sha1
    } else {
        return Err(XmlError::invalid_value(file, method, "Algorithm", uri, "unsupported digest algorithm"));
    };
    let value = hash.required_child(file, "DigestValue")?;
    let text: String = value.text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD.decode(text.as_bytes()).map_err(|e| {
        XmlError::invalid_value(file, value, "text", &value.text, format!("invalid base64 digest: {e}"))
    })?;
    let wrong_length = |want: usize| {
        XmlError::invalid_value(
            file,
            value,
            "text",
            &value.text,
            format!("digest is {} bytes, expected {want}", bytes.len()),
        )
    };
    match algorithm {
        DigestAlgorithm::Sha256 => entry.sha256 = Some(bytes.as_slice().try_into().map_err(|_| wrong_length(32))?),
        DigestAlgorithm::Sha1 => entry.sha1 = Some(bytes.as_slice().try_into().map_err(|_| wrong_length(20))?),
    }
    Ok(())
}

fn parse_key(file: &str, e: &Element) -> Result<RegistryKey, XmlError> {
    let mut key = RegistryKey {
        key_name: e.required_attr(file, "keyName")?.to_owned(),
        owner: flag(file, e, "owner")?,
        ..Default::default()
    };
    for child in &e.children {
        match child.name.as_str() {
            "securityDescriptor" => key.security_descriptor = owned(child, "name"),
            "registryValue" => key.values.push(RegistryValue {
                name: child.attr("name").unwrap_or_default().to_owned(),
                value_type: owned(child, "valueType"),
                value: owned(child, "value"),
                operation_hint: owned(child, "operationHint"),
                owner: flag(file, child, "owner")?,
                mutable: flag(file, child, "mutable")?,
            }),
            _ => {}
        }
    }
    Ok(key)
}

fn too_many(file: &str, at: &Element, what: &str, limit: usize) -> XmlError {
    XmlError::invalid_value(file, at, "registryKeys", "", format!("more than the limit of {limit} <{what}> elements"))
}

/// Reads `trustInfo/security/accessControl/securityDescriptorDefinitions/securityDescriptorDefinition`.
fn read_security_descriptors(
    file: &str,
    trust: &Element,
    out: &mut Vec<SecurityDescriptorDefinition>,
) -> Result<(), XmlError> {
    for security in trust.children_named("security") {
        for access in security.children_named("accessControl") {
            for defs in access.children_named("securityDescriptorDefinitions") {
                for def in defs.children_named("securityDescriptorDefinition") {
                    out.push(SecurityDescriptorDefinition {
                        name: def.required_attr(file, "name")?.to_owned(),
                        sddl: def.required_attr(file, "sddl")?.to_owned(),
                        operation_hint: owned(def, "operationHint"),
                    });
                }
            }
        }
    }
    Ok(())
}

/// Decodes exactly `N` bytes of hex (either case).
pub(crate) fn decode_hex<const N: usize>(text: &str) -> Result<[u8; N], String> {
    let text = text.trim();
    if text.len() != 2 * N {
        return Err(format!("expected {} hex digits, found {}", 2 * N, text.len()));
    }
    let mut out = [0u8; N];
    for (slot, pair) in out.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
        let digit = |b: u8| (b as char).to_digit(16).ok_or_else(|| format!("{:?} is not a hex digit", b as char));
        *slot = u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).unwrap_or(0);
    }
    Ok(out)
}
