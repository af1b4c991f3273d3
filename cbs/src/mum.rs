//! Package manifests: `update.mum` and the sub-package `.mum` files of a CBS cab
//! (`cbs-format.md` §2).
//!
//! A package manifest is an `<assembly>` whose `<assemblyIdentity>` names the package and whose
//! `<package>` says where it applies (`<parent>`) and what it installs (`<update>`: sub-packages,
//! deployments, drivers). Attributes whose values the rules act on (disposition, integrate, the
//! compare operators) are typed; informational ones stay strings as written. Unknown elements and
//! attributes are ignored so that newer packages still read.

use std::collections::BTreeMap;
use std::fmt;

use crate::identity::AssemblyIdentity;
use crate::package_id::{PackageIdError, PackageIdentity};
use crate::xml::{self, assembly_identity, flag, number, Document, Element, XmlError, XmlErrorKind};

/// A parsed `.mum`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PackageManifest {
    /// The package's `<assemblyIdentity>` (name and version required).
    pub identity: AssemblyIdentity,
    /// `manifestVersion`.
    pub manifest_version: Option<String>,
    /// `description`, e.g. `Fix for KB2938772`.
    pub description: Option<String>,
    /// `displayName`.
    pub display_name: Option<String>,
    /// `company`.
    pub company: Option<String>,
    /// `copyright`.
    pub copyright: Option<String>,
    /// `supportInformation` (a support URL).
    pub support_information: Option<String>,
    /// `creationTimeStamp` as written (`2014-03-04T15:15:52Z`).
    pub creation_time: Option<String>,
    /// `lastUpdateTimeStamp` as written.
    pub last_update_time: Option<String>,
    /// The `<package>` element.
    pub package: PackageInfo,
    /// True when the word `baseline` occurs anywhere in the file (element or attribute names,
    /// values, text), compared case-insensitively. This is W10UI's checkpoint-LCU test
    /// (`findstr /i Baseline update.mum`, `cbs-format.md` §2.4); which attribute carries it is not
    /// known.
    pub mentions_baseline: bool,
}

/// The `<package>` element of a `.mum`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PackageInfo {
    /// `identifier`, normally the KB (`KB2938772`).
    pub identifier: Option<String>,
    /// `releaseType` (`Update`, `Security Update`, `Hotfix`, `Feature Pack`, …).
    pub release_type: Option<String>,
    /// `restart` (`possible`, `required`).
    pub restart: Option<String>,
    /// `applicabilityEvaluation` (`deep`).
    pub applicability_evaluation: Option<String>,
    /// `permanence` (`permanent`).
    pub permanence: Option<String>,
    /// `selfUpdate`, as written.
    pub self_update: Option<String>,
    /// `psfName` (Windows 7/8.1-era packages with a PSF payload).
    pub psf_name: Option<String>,
    /// `targetPartition`.
    pub target_partition: Option<String>,
    /// `binaryPartition`.
    pub binary_partition: Option<String>,
    /// `<parent>` groups, in document order.
    pub parents: Vec<ParentGroup>,
    /// `<update>` elements, in document order.
    pub updates: Vec<Update>,
    /// `<installerAssembly>` (the servicing stack version that can install the package).
    pub installer_assembly: Option<AssemblyIdentity>,
    /// `<packageExtended>`.
    pub package_extended: Option<PackageExtended>,
    /// `<customInformation>`: its attributes by name, plus the attributes of its child elements as
    /// `Child.attribute` (`FodInformation.Id`) and their non-empty text as `Child`.
    pub custom_information: BTreeMap<String, String>,
    /// `<declareCapability><capability><capabilityIdentity …/>` entries (Features on Demand).
    pub capabilities: Vec<CapabilityIdentity>,
}

/// `<packageExtended>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PackageExtended {
    /// `completelyOfflineCapable` (`yes`/`no`).
    pub completely_offline_capable: Option<bool>,
    /// `packageSize` in bytes.
    pub package_size: Option<u64>,
    /// `performDeviceInstallsPriorToReboot` (driver packages).
    pub perform_device_installs_prior_to_reboot: Option<bool>,
}

/// A `<capabilityIdentity>`. Its version is two-part (`1.0`), so it is not a [`crate::Version`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CapabilityIdentity {
    /// `name`, e.g. `Language.Fonts.Jpan`.
    pub name: String,
    /// `version` as written.
    pub version: Option<String>,
    /// `language`, e.g. `und-Jpan`.
    pub language: Option<String>,
}

/// `disposition` of a `<parent>`, `<applicable>` or `<selectable>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Disposition {
    /// `detect`: the package is absent when no parent is found.
    Detect,
    /// `staged`.
    Staged,
    /// Any other value, as written.
    Other(String),
}

/// `integrate` of a `<parent>` or an update's `<package>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Integrate {
    /// `separate`.
    Separate,
    /// `delegate`.
    Delegate,
    /// `hidden`.
    Hidden,
    /// `standalone`.
    Standalone,
    /// Any other value, as written.
    Other(String),
}

/// A version comparison operator of a `<parent>` (`buildCompare="EQ"`, …).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Compare {
    /// `EQ`: the field must be equal.
    Eq,
    /// `GE`: the installed field must be greater than or equal.
    Ge,
    /// Any other value, as written; never satisfied by [`crate::rules::parent_matches`].
    Other(String),
}

macro_rules! keyword_enum {
    ($ty:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            /// Parses a value, ignoring ASCII case; unknown values become `Other`.
            pub fn parse(text: &str) -> Self {
                $(if text.eq_ignore_ascii_case($text) { return $ty::$variant; })+
                $ty::Other(text.to_owned())
            }

            /// The value as manifests spell it.
            pub fn as_str(&self) -> &str {
                match self {
                    $($ty::$variant => $text,)+
                    $ty::Other(s) => s,
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

keyword_enum!(Disposition { Detect => "detect", Staged => "staged" });
keyword_enum!(Integrate { Separate => "separate", Delegate => "delegate", Hidden => "hidden", Standalone => "standalone" });
keyword_enum!(Compare { Eq => "EQ", Ge => "GE" });

/// One `<parent>` element: alternative parent packages (any one is enough) and the comparison
/// operators that say how an installed package's version must relate to an alternative's version.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParentGroup {
    /// `disposition`.
    pub disposition: Option<Disposition>,
    /// `integrate`.
    pub integrate: Option<Integrate>,
    /// `buildCompare` (third version field).
    pub build_compare: Option<Compare>,
    /// `serviceCompare` (kept; its meaning is not documented, see [`crate::rules::parent_matches`]).
    pub service_compare: Option<Compare>,
    /// `revisionCompare` (fourth version field).
    pub revision_compare: Option<Compare>,
    /// `distributionCompare` (kept; its meaning is not documented).
    pub distribution_compare: Option<Compare>,
    /// `name`.
    pub name: Option<String>,
    /// `set`.
    pub set: Option<String>,
    /// The `<assemblyIdentity>` alternatives, in document order.
    pub alternatives: Vec<AssemblyIdentity>,
    /// Nested `<parent>` elements (KB4601060 has one), in document order.
    pub nested: Vec<ParentGroup>,
}

/// One `<update>` element.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Update {
    /// `name`, e.g. `2938772-3_neutral_GDR`.
    pub name: String,
    /// `displayName`.
    pub display_name: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `restart`.
    pub restart: Option<String>,
    /// `disposition` of the `<applicable>` child, when there is one.
    pub applicable_disposition: Option<Disposition>,
    /// `<applicable><updateComponent elevate>` entries: existing components this update raises.
    pub update_components: Vec<ElevatedIdentity>,
    /// `<applicable><updateDriver elevate>` entries.
    pub update_drivers: Vec<ElevatedIdentity>,
    /// `<applicable><detectUpdate><update name/>` names.
    pub detect_updates: Vec<String>,
    /// `<applicable><detectUpdate><parent>` groups.
    pub detect_parents: Vec<ParentGroup>,
    /// `<selectable>`, for optional features.
    pub selectable: Option<Selectable>,
    /// `<package>` children: sub-packages this update installs.
    pub packages: Vec<PackageRef>,
    /// `<component>` children: deployments (or components) this update installs.
    pub components: Vec<AssemblyIdentity>,
    /// `<driver>` children.
    pub drivers: Vec<Driver>,
    /// `<customInformation>` of the update, flattened as for [`PackageInfo::custom_information`].
    pub custom_information: BTreeMap<String, String>,
}

/// `<updateComponent elevate>` / `<updateDriver elevate>` with its identity.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ElevatedIdentity {
    /// `elevate` (`distribution`, `serviceLevel`, `build`, `install`).
    pub elevate: Option<String>,
    /// The identity.
    pub identity: AssemblyIdentity,
}

/// `<selectable disposition><detectNone default/></selectable>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selectable {
    /// `disposition`.
    pub disposition: Option<Disposition>,
    /// `default` of `<detectNone>`.
    pub detect_none_default: Option<bool>,
}

/// An update's `<package>` child: a sub-package reference.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PackageRef {
    /// The sub-package identity (name and version required).
    pub identity: AssemblyIdentity,
    /// `integrate` (`hidden` in every known sample).
    pub integrate: Option<Integrate>,
    /// `contained`.
    pub contained: Option<bool>,
}

/// A `<driver inf ranking>` element.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Driver {
    /// `inf`, e.g. `sffdisk.inf`.
    pub inf: String,
    /// `ranking` (`currentDevices`, `normal`, `force`).
    pub ranking: Option<String>,
    /// The driver's `<assemblyIdentity>` child, when present.
    pub identity: Option<AssemblyIdentity>,
    /// `deviceInstallRequired` of `<driverExtended>`.
    pub device_install_required: Option<bool>,
}

impl PackageManifest {
    /// Parses a `.mum`. `file` names it in errors.
    pub fn parse(bytes: &[u8], file: &str) -> Result<Self, XmlError> {
        Self::from_document(&xml::parse(bytes, file)?)
    }

    /// Reads a parsed document.
    pub fn from_document(doc: &Document) -> Result<Self, XmlError> {
        let file = doc.file.as_str();
        let root = doc.expect_root("assembly")?;
        let identity = assembly_identity(file, root.required_child(file, "assemblyIdentity")?, true)?;
        let package = parse_package(file, root.required_child(file, "package")?)?;
        let owned = |attr: &str| root.attr(attr).map(str::to_owned);
        let mut mentions_baseline = false;
        root.walk(&mut |e| {
            mentions_baseline = mentions_baseline
                || contains_baseline(&e.name)
                || contains_baseline(&e.text)
                || e.attributes.iter().any(|a| contains_baseline(&a.name) || contains_baseline(&a.value));
        });
        Ok(PackageManifest {
            identity,
            manifest_version: owned("manifestVersion"),
            description: owned("description"),
            display_name: owned("displayName"),
            company: owned("company"),
            copyright: owned("copyright"),
            support_information: owned("supportInformation"),
            creation_time: owned("creationTimeStamp"),
            last_update_time: owned("lastUpdateTimeStamp"),
            package,
            mentions_baseline,
        })
    }

    /// The package identity string this manifest names (`Name~pkt~arch~culture~version`).
    pub fn package_identity(&self) -> Result<PackageIdentity, PackageIdError> {
        PackageIdentity::from_assembly(&self.identity)
    }

    /// The KB (`identifier` of `<package>`), when present.
    pub fn kb(&self) -> Option<&str> {
        self.package.identifier.as_deref()
    }

    /// Every sub-package referenced by an update, in document order.
    pub fn sub_packages(&self) -> impl Iterator<Item = &PackageRef> {
        self.package.updates.iter().flat_map(|u| u.packages.iter())
    }

    /// Every `<component>` identity of every update, in document order.
    pub fn components(&self) -> impl Iterator<Item = &AssemblyIdentity> {
        self.package.updates.iter().flat_map(|u| u.components.iter())
    }
}

fn contains_baseline(text: &str) -> bool {
    text.as_bytes().windows(8).any(|w| w.eq_ignore_ascii_case(b"baseline"))
}

/// Parses a `.mum`; the same as [`PackageManifest::parse`].
pub fn parse_mum(bytes: &[u8], file: &str) -> Result<PackageManifest, XmlError> {
    PackageManifest::parse(bytes, file)
}

fn owned(e: &Element, attr: &str) -> Option<String> {
    e.attr(attr).map(str::to_owned)
}

fn parse_package(file: &str, e: &Element) -> Result<PackageInfo, XmlError> {
    let mut info = PackageInfo {
        identifier: owned(e, "identifier"),
        release_type: owned(e, "releaseType"),
        restart: owned(e, "restart"),
        applicability_evaluation: owned(e, "applicabilityEvaluation"),
        permanence: owned(e, "permanence"),
        self_update: owned(e, "selfUpdate"),
        psf_name: owned(e, "psfName"),
        target_partition: owned(e, "targetPartition"),
        binary_partition: owned(e, "binaryPartition"),
        ..Default::default()
    };
    for child in &e.children {
        match child.name.as_str() {
            "parent" => info.parents.push(parse_parent(file, child)?),
            "update" => info.updates.push(parse_update(file, child)?),
            "installerAssembly" => {
                if info.installer_assembly.is_some() {
                    return Err(XmlError::at(
                        file,
                        child,
                        XmlErrorKind::Invalid("<installerAssembly> appears twice".into()),
                    ));
                }
                info.installer_assembly = Some(assembly_identity(file, child, false)?);
            }
            "packageExtended" => {
                info.package_extended = Some(PackageExtended {
                    completely_offline_capable: flag(file, child, "completelyOfflineCapable")?,
                    package_size: number(file, child, "packageSize")?,
                    perform_device_installs_prior_to_reboot: flag(file, child, "performDeviceInstallsPriorToReboot")?,
                });
            }
            "customInformation" => custom_information(child, &mut info.custom_information),
            "declareCapability" => {
                for capability in child.children_named("capability") {
                    for id in capability.children_named("capabilityIdentity") {
                        info.capabilities.push(CapabilityIdentity {
                            name: id.required_attr(file, "name")?.to_owned(),
                            version: owned(id, "version"),
                            language: owned(id, "language"),
                        });
                    }
                }
            }
            _ => {}
        }
    }
    Ok(info)
}

fn custom_information(e: &Element, out: &mut BTreeMap<String, String>) {
    for a in &e.attributes {
        out.insert(a.name.clone(), a.value.clone());
    }
    for child in &e.children {
        for a in &child.attributes {
            out.insert(format!("{}.{}", child.name, a.name), a.value.clone());
        }
        let text = child.text.trim();
        if !text.is_empty() {
            out.insert(child.name.clone(), text.to_owned());
        }
    }
}

fn compare(e: &Element, attr: &str) -> Option<Compare> {
    e.attr(attr).map(Compare::parse)
}

fn parse_parent(file: &str, e: &Element) -> Result<ParentGroup, XmlError> {
    let mut group = ParentGroup {
        disposition: e.attr("disposition").map(Disposition::parse),
        integrate: e.attr("integrate").map(Integrate::parse),
        build_compare: compare(e, "buildCompare"),
        service_compare: compare(e, "serviceCompare"),
        revision_compare: compare(e, "revisionCompare"),
        distribution_compare: compare(e, "distributionCompare"),
        name: owned(e, "name"),
        set: owned(e, "set"),
        ..Default::default()
    };
    for child in &e.children {
        match child.name.as_str() {
            "assemblyIdentity" => group.alternatives.push(assembly_identity(file, child, true)?),
            "parent" => group.nested.push(parse_parent(file, child)?),
            _ => {}
        }
    }
    if group.alternatives.is_empty() && group.nested.is_empty() {
        return Err(XmlError::missing_child(file, e, "assemblyIdentity"));
    }
    Ok(group)
}

fn elevated(file: &str, e: &Element) -> Result<ElevatedIdentity, XmlError> {
    Ok(ElevatedIdentity {
        elevate: owned(e, "elevate"),
        identity: assembly_identity(file, e.required_child(file, "assemblyIdentity")?, false)?,
    })
}

fn parse_update(file: &str, e: &Element) -> Result<Update, XmlError> {
    let mut update = Update {
        name: e.required_attr(file, "name")?.to_owned(),
        display_name: owned(e, "displayName"),
        description: owned(e, "description"),
        restart: owned(e, "restart"),
        ..Default::default()
    };
    for child in &e.children {
        match child.name.as_str() {
            "applicable" => {
                update.applicable_disposition = child.attr("disposition").map(Disposition::parse);
                for item in &child.children {
                    match item.name.as_str() {
                        "updateComponent" => update.update_components.push(elevated(file, item)?),
                        "updateDriver" => update.update_drivers.push(elevated(file, item)?),
                        "detectUpdate" => {
                            for detect in &item.children {
                                match detect.name.as_str() {
                                    "update" => {
                                        update.detect_updates.push(detect.required_attr(file, "name")?.to_owned());
                                    }
                                    "parent" => update.detect_parents.push(parse_parent(file, detect)?),
                                    _ => {}
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            "selectable" => {
                update.selectable = Some(Selectable {
                    disposition: child.attr("disposition").map(Disposition::parse),
                    detect_none_default: match child.child("detectNone") {
                        Some(none) => flag(file, none, "default")?,
                        None => None,
                    },
                });
            }
            "package" => update.packages.push(PackageRef {
                identity: assembly_identity(file, child.required_child(file, "assemblyIdentity")?, true)?,
                integrate: child.attr("integrate").map(Integrate::parse),
                contained: flag(file, child, "contained")?,
            }),
            "component" => {
                update.components.push(assembly_identity(
                    file,
                    child.required_child(file, "assemblyIdentity")?,
                    false,
                )?);
            }
            "driver" => update.drivers.push(Driver {
                inf: child.required_attr(file, "inf")?.to_owned(),
                ranking: owned(child, "ranking"),
                identity: match child.child("assemblyIdentity") {
                    Some(id) => Some(assembly_identity(file, id, false)?),
                    None => None,
                },
                device_install_required: match child.child("driverExtended") {
                    Some(ext) => flag(file, ext, "deviceInstallRequired")?,
                    None => None,
                },
            }),
            "customInformation" => custom_information(child, &mut update.custom_information),
            _ => {}
        }
    }
    Ok(update)
}
