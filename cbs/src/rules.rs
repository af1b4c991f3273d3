//! Supersedence, install ordering and parent matching, as pure functions over identities.
//!
//! What is documented and what is inferred (see `cbs-format.md`):
//!
//! - **Supersedence** (§4.4, inferred): a package supersedes another of the same family
//!   (`name~publicKeyToken~arch~culture`, compared case-insensitively) with a lower four-part
//!   version.
//! - **Ordering** (§6): servicing stack updates first, then checkpoint cumulative updates in
//!   version order, then everything else in the order given.
//! - **Parents** (§2.5, inferred from CBS log lines): the `<assemblyIdentity>` entries of one
//!   `<parent>` are alternatives; one is found when an installed package of the same family
//!   satisfies the three comparisons CBS logs: `VersionComp` on major.minor, `BuildComp` on the
//!   third field, `RevisionComp` on the fourth. `buildCompare`/`revisionCompare` set the last two;
//!   when omitted they are `GE`, and `VersionComp` is always `EQ`, as the logs print. Each field
//!   is compared on its own, not the version as a whole: `6.3.9601.0` fails `RevisionComp: GE`
//!   against `6.3.9600.16384`.
//!   `serviceCompare` and `distributionCompare` occur in real packages but §2.5 gives them no
//!   meaning, so they are not evaluated; a match reports them in
//!   [`ParentFound::unevaluated`].

use std::fmt;

use crate::identity::{AssemblyIdentity, Version};
use crate::mum::{Compare, PackageManifest, ParentGroup};
use crate::package_id::PackageIdentity;

/// A package identity without its version, lower-cased: what supersedence and parent matching
/// compare. Displayed as `name~publicKeyToken~arch~culture`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PackageFamily {
    /// Package name, lower-cased.
    pub name: String,
    /// Public key token, lower-cased.
    pub public_key_token: String,
    /// Architecture, lower-cased.
    pub arch: String,
    /// Culture, lower-cased; empty for neutral.
    pub culture: String,
}

impl fmt::Display for PackageFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}~{}~{}~{}", self.name, self.public_key_token, self.arch, self.culture)
    }
}

/// The family of a package: its identity without the version. Windows treats package names
/// case-insensitively (Windows 7 cabs name their `.mum` files in lower case), so the fields are
/// lower-cased.
pub fn family(id: &PackageIdentity) -> PackageFamily {
    PackageFamily {
        name: id.name.to_lowercase(),
        public_key_token: id.public_key_token.to_lowercase(),
        arch: id.arch.to_lowercase(),
        culture: id.culture.to_lowercase(),
    }
}

/// True when `a` supersedes `b`: same family and a strictly higher four-part version.
pub fn supersedes(a: &PackageIdentity, b: &PackageIdentity) -> bool {
    a.version > b.version && family(a) == family(b)
}

/// The indexes of the packages in `ids` that another package in `ids` supersedes, ascending.
pub fn superseded_indices(ids: &[PackageIdentity]) -> Vec<usize> {
    (0..ids.len()).filter(|&i| ids.iter().any(|other| supersedes(other, &ids[i]))).collect()
}

/// True for a servicing stack package name: any name containing `servicingstack` (ASCII
/// case-insensitive), which covers `Package_for_ServicingStack_<rev>`.
pub fn is_servicing_stack_name(name: &str) -> bool {
    name.to_ascii_lowercase().contains("servicingstack")
}

/// The component every servicing stack update raises.
const SERVICING_STACK_COMPONENT: &str = "microsoft-windows-servicingstack";

/// True for a servicing stack update: its name says so ([`is_servicing_stack_name`]), one of its
/// sub-packages' names does, or one of its updates raises or installs the
/// `Microsoft-Windows-ServicingStack` component.
///
/// `<installerAssembly>` is not looked at: every package names the servicing stack there.
/// An older SSU such as `Package_for_KB4132216` is only recognised from the `.mum` that holds the
/// component (its sub-package); the cab reader should classify the whole cab from all of its
/// `.mum` files, or from a `*_microsoft-windows-servicingstack_*.manifest` member as W10UI does.
pub fn is_servicing_stack(manifest: &PackageManifest) -> bool {
    let is_stack_component = |id: &AssemblyIdentity| id.name.eq_ignore_ascii_case(SERVICING_STACK_COMPONENT);
    is_servicing_stack_name(&manifest.identity.name)
        || manifest.package.updates.iter().any(|u| {
            u.update_components.iter().any(|c| is_stack_component(&c.identity))
                || u.components.iter().any(is_stack_component)
                || u.packages.iter().any(|p| is_servicing_stack_name(&p.identity.name))
        })
}

/// What kind of package an install plan has to place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InstallClass {
    /// A servicing stack update: installed first.
    ServicingStack,
    /// A checkpoint (baseline) cumulative update, with its package version: installed after the
    /// servicing stack, in version order.
    Checkpoint(Version),
    /// Anything else: installed last, in the order given.
    Other,
}

/// Classifies a top-level package manifest for [`order_for_install`]. A package is a checkpoint
/// when its `.mum` mentions `baseline` ([`PackageManifest::mentions_baseline`]); this is W10UI's
/// test, as the exact marker is not documented.
pub fn classify(manifest: &PackageManifest) -> InstallClass {
    if is_servicing_stack(manifest) {
        InstallClass::ServicingStack
    } else if manifest.mentions_baseline {
        InstallClass::Checkpoint(manifest.identity.version.unwrap_or_default())
    } else {
        InstallClass::Other
    }
}

/// The install order of `manifests`, as indexes: servicing stack updates first (in the order
/// given), then checkpoint cumulative updates by ascending version (ties in the order given), then
/// the rest in the order given.
pub fn order_for_install(manifests: &[PackageManifest]) -> Vec<usize> {
    let classes: Vec<InstallClass> = manifests.iter().map(classify).collect();
    order_classes(&classes)
}

/// [`order_for_install`] over classes the caller has already worked out (for example from all the
/// `.mum` files of a cab).
pub fn order_classes(classes: &[InstallClass]) -> Vec<usize> {
    let rank = |c: &InstallClass| match c {
        InstallClass::ServicingStack => (0, Version::default()),
        InstallClass::Checkpoint(v) => (1, *v),
        InstallClass::Other => (2, Version::default()),
    };
    let mut order: Vec<usize> = (0..classes.len()).collect();
    // `sort_by_key` is stable, so equal ranks keep the given order.
    order.sort_by_key(|&i| rank(&classes[i]));
    order
}

/// A package's state, as stored in `CurrentState` (`cbs-format.md` §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PackageState {
    /// 0x0.
    Absent,
    /// 0x5.
    UninstallPending,
    /// 0x10.
    Resolving,
    /// 0x20.
    Resolved,
    /// 0x30.
    Staging,
    /// 0x40.
    Staged,
    /// 0x50.
    Superseded,
    /// 0x60.
    InstallPending,
    /// 0x65.
    PartiallyInstalled,
    /// 0x70.
    Installed,
    /// 0x80.
    Permanent,
    /// Any other value.
    Other(u32),
}

impl PackageState {
    const TABLE: [(PackageState, u32, &'static str); 11] = [
        (PackageState::Absent, 0x0, "Absent"),
        (PackageState::UninstallPending, 0x5, "Uninstall Pending"),
        (PackageState::Resolving, 0x10, "Resolving"),
        (PackageState::Resolved, 0x20, "Resolved"),
        (PackageState::Staging, 0x30, "Staging"),
        (PackageState::Staged, 0x40, "Staged"),
        (PackageState::Superseded, 0x50, "Superseded"),
        (PackageState::InstallPending, 0x60, "Install Pending"),
        (PackageState::PartiallyInstalled, 0x65, "Partially Installed"),
        (PackageState::Installed, 0x70, "Installed"),
        (PackageState::Permanent, 0x80, "Permanent"),
    ];

    /// The state for a `CurrentState` value.
    pub fn from_u32(value: u32) -> Self {
        Self::TABLE.iter().find(|(_, v, _)| *v == value).map_or(PackageState::Other(value), |(s, _, _)| *s)
    }

    /// The `CurrentState` value.
    pub fn as_u32(&self) -> u32 {
        match self {
            PackageState::Other(v) => *v,
            known => Self::TABLE.iter().find(|(s, _, _)| s == known).map_or(0, |(_, v, _)| *v),
        }
    }

    /// True for the states in which a package counts as present when looking for a parent:
    /// Installed, Permanent and Install Pending (installed offline, finishing online). CBS logs
    /// only show `state: Installed` for a found parent, so the other two are inferred.
    pub fn is_present(&self) -> bool {
        matches!(self, PackageState::Installed | PackageState::Permanent | PackageState::InstallPending)
    }
}

impl fmt::Display for PackageState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PackageState::Other(v) => write!(f, "0x{v:x}"),
            known => {
                let name = Self::TABLE.iter().find(|(s, _, _)| s == known).map_or("?", |(_, _, n)| *n);
                f.write_str(name)
            }
        }
    }
}

/// Which part of a version a parent comparison looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VersionField {
    /// Major and minor (`VersionComp`).
    MajorMinor,
    /// The third field (`BuildComp`).
    Build,
    /// The fourth field (`RevisionComp`).
    Revision,
}

impl fmt::Display for VersionField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VersionField::MajorMinor => "major.minor",
            VersionField::Build => "build",
            VersionField::Revision => "revision",
        })
    }
}

/// The alternative that matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentFound {
    /// The `<assemblyIdentity>` alternative that matched.
    pub alternative: AssemblyIdentity,
    /// The installed package that satisfied it.
    pub installed: PackageIdentity,
    /// Its state.
    pub state: PackageState,
    /// Where the alternative sits: empty for the group's own alternatives, otherwise the indexes
    /// into `nested` at each level.
    pub nesting: Vec<usize>,
    /// Comparisons written on the matching `<parent>` that were not evaluated (`serviceCompare`,
    /// `distributionCompare`), with their values.
    pub unevaluated: Vec<(&'static str, Compare)>,
}

/// Why one alternative did not match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RejectReason {
    /// The alternative has no version, so it cannot name a package.
    NoVersion,
    /// No package of the alternative's family is in the installed list.
    NotInstalled,
    /// A package of the family is listed, but not in a present state
    /// ([`PackageState::is_present`]).
    NotPresent {
        /// The listed package.
        installed: PackageIdentity,
        /// Its state.
        state: PackageState,
    },
    /// A package of the family is present, but its version fails a comparison.
    VersionMismatch {
        /// The listed package.
        installed: PackageIdentity,
        /// The field compared.
        field: VersionField,
        /// The operator.
        compare: Compare,
    },
    /// The comparison operator is not `EQ` or `GE`.
    UnsupportedCompare {
        /// The attribute (`buildCompare`, `revisionCompare`).
        attribute: &'static str,
        /// Its value.
        value: String,
    },
}

/// One rejected alternative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentRejection {
    /// The alternative.
    pub alternative: AssemblyIdentity,
    /// Where it sits (as [`ParentFound::nesting`]).
    pub nesting: Vec<usize>,
    /// Why it did not match.
    pub reason: RejectReason,
}

impl fmt::Display for ParentRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let wanted = match PackageIdentity::from_assembly(&self.alternative) {
            Ok(id) => id.to_string(),
            Err(_) => self.alternative.name.clone(),
        };
        match &self.reason {
            RejectReason::NoVersion => write!(f, "{wanted}: the parent entry has no version"),
            RejectReason::NotInstalled => write!(f, "{wanted}: no package of this family is installed"),
            RejectReason::NotPresent { installed, state } => write!(f, "{wanted}: {installed} is {state}"),
            RejectReason::VersionMismatch { installed, field, compare } => {
                write!(f, "{wanted}: {installed} fails {field} {compare}")
            }
            RejectReason::UnsupportedCompare { attribute, value } => {
                write!(f, "{wanted}: {attribute}={value:?} is not EQ or GE")
            }
        }
    }
}

/// The outcome of [`parent_matches`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParentMatch {
    /// An alternative is satisfied.
    Found(Box<ParentFound>),
    /// None is; one entry per alternative and installed candidate, in the order tried.
    NotFound(Vec<ParentRejection>),
}

impl ParentMatch {
    /// True when a parent was found.
    pub fn is_found(&self) -> bool {
        matches!(self, ParentMatch::Found(_))
    }
}

/// Looks for an installed package satisfying one `<parent>` group.
///
/// The group's own alternatives are tried in document order, then its nested groups, depth first,
/// each with its own comparison attributes (nothing is inherited). For each alternative the
/// `installed` entries of the same family are tried in the order given; the first present one whose
/// version satisfies major.minor `EQ`, build per `buildCompare` (default `GE`) and revision per
/// `revisionCompare` (default `GE`) wins.
pub fn parent_matches(group: &ParentGroup, installed: &[(PackageIdentity, PackageState)]) -> ParentMatch {
    let mut rejections = Vec::new();
    let mut nesting = Vec::new();
    match search_group(group, installed, &mut nesting, &mut rejections) {
        Some(found) => ParentMatch::Found(found),
        None => ParentMatch::NotFound(rejections),
    }
}

fn search_group(
    group: &ParentGroup,
    installed: &[(PackageIdentity, PackageState)],
    nesting: &mut Vec<usize>,
    rejections: &mut Vec<ParentRejection>,
) -> Option<Box<ParentFound>> {
    let mut reject = |alternative: &AssemblyIdentity, nesting: &[usize], reason| {
        rejections.push(ParentRejection { alternative: alternative.clone(), nesting: nesting.to_vec(), reason });
    };
    let comparisons = [
        (VersionField::MajorMinor, "versionComp", Compare::Eq),
        (VersionField::Build, "buildCompare", group.build_compare.clone().unwrap_or(Compare::Ge)),
        (VersionField::Revision, "revisionCompare", group.revision_compare.clone().unwrap_or(Compare::Ge)),
    ];
    for alternative in &group.alternatives {
        if let Some((_, attribute, Compare::Other(value))) =
            comparisons.iter().find(|(_, _, c)| matches!(c, Compare::Other(_)))
        {
            reject(alternative, nesting, RejectReason::UnsupportedCompare { attribute, value: value.clone() });
            continue;
        }
        let Ok(wanted) = PackageIdentity::from_assembly(alternative) else {
            reject(alternative, nesting, RejectReason::NoVersion);
            continue;
        };
        let wanted_family = family(&wanted);
        let mut candidates = installed.iter().filter(|(id, _)| family(id) == wanted_family).peekable();
        if candidates.peek().is_none() {
            reject(alternative, nesting, RejectReason::NotInstalled);
            continue;
        }
        for (id, state) in candidates {
            if !state.is_present() {
                reject(alternative, nesting, RejectReason::NotPresent { installed: id.clone(), state: *state });
                continue;
            }
            let failed = comparisons
                .iter()
                .find(|(field, _, compare)| !satisfies(&id.version, &wanted.version, *field, compare));
            match failed {
                Some((field, _, compare)) => reject(
                    alternative,
                    nesting,
                    RejectReason::VersionMismatch { installed: id.clone(), field: *field, compare: compare.clone() },
                ),
                None => {
                    let unevaluated = [
                        ("serviceCompare", &group.service_compare),
                        ("distributionCompare", &group.distribution_compare),
                    ]
                    .into_iter()
                    .filter_map(|(name, c)| c.clone().map(|c| (name, c)))
                    .collect();
                    return Some(Box::new(ParentFound {
                        alternative: alternative.clone(),
                        installed: id.clone(),
                        state: *state,
                        nesting: nesting.clone(),
                        unevaluated,
                    }));
                }
            }
        }
    }
    for (i, inner) in group.nested.iter().enumerate() {
        nesting.push(i);
        let found = search_group(inner, installed, nesting, rejections);
        nesting.pop();
        if found.is_some() {
            return found;
        }
    }
    None
}

/// Whether `have` satisfies `compare` against `want` on `field`.
fn satisfies(have: &Version, want: &Version, field: VersionField, compare: &Compare) -> bool {
    let (h, w) = match field {
        VersionField::MajorMinor => (
            (u32::from(have.major()) << 16) | u32::from(have.minor()),
            (u32::from(want.major()) << 16) | u32::from(want.minor()),
        ),
        VersionField::Build => (u32::from(have.build()), u32::from(want.build())),
        VersionField::Revision => (u32::from(have.revision()), u32::from(want.revision())),
    };
    match compare {
        Compare::Eq => h == w,
        Compare::Ge => h >= w,
        Compare::Other(_) => false,
    }
}
