//! An image's servicing state as Windows keeps it: packages and their `CurrentState` in the SOFTWARE
//! hive (`…\Component Based Servicing\Packages`), and the component inventory in `WinSxS\Manifests`.

use std::path::Path;

use cbs::rules::PackageState;
use cbs::PackageIdentity;

use super::error::{Error, Result};
use super::inventory::Inventory;
use crate::hive::{Hive, Mode, Node};

/// The CBS package store key, below the SOFTWARE hive's root.
pub const CBS_PACKAGES: &str = r"Microsoft\Windows\CurrentVersion\Component Based Servicing\Packages";

/// The CBS key itself (pending-operation markers live here).
pub const CBS_KEY: &str = r"Microsoft\Windows\CurrentVersion\Component Based Servicing";

/// Image paths read to learn the state.
pub const SOFTWARE_HIVE: &str = "/Windows/System32/config/SOFTWARE";
/// The component store's hive (optional: old or minimal images lack it).
pub const COMPONENTS_HIVE: &str = "/Windows/System32/config/COMPONENTS";
/// Component manifests.
pub const MANIFESTS_DIR: &str = "/Windows/WinSxS/Manifests";
/// Package manifests of installed packages.
pub const PACKAGES_DIR: &str = "/Windows/servicing/Packages";

/// One package key of the CBS store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledPackage {
    /// The identity (the key name).
    pub identity: PackageIdentity,
    /// `CurrentState`.
    pub state: PackageState,
    /// `Visibility` (1 visible, 2 hidden).
    pub visibility: Option<u32>,
    /// `InstallTimeHigh/Low` as one FILETIME.
    pub install_time: Option<u64>,
    /// `InstallClient`.
    pub install_client: Option<String>,
    /// `InstallLocation`.
    pub install_location: Option<String>,
    /// Value names under `Owners` (the packages that own this one).
    pub owners: Vec<String>,
}

/// Reads every package key of the SOFTWARE hive at `path`, called `shown` in errors. Keys whose
/// names are not package identities are skipped with a warning (they cannot take part in
/// applicability).
pub fn read_packages(path: &Path, shown: &Path) -> Result<Vec<InstalledPackage>> {
    let hive = Hive::open_as(path, Mode::ReadOnly, shown).map_err(Error::hive(path))?;
    read_packages_from(&hive, path)
}

pub(crate) fn read_packages_from(hive: &Hive, path: &Path) -> Result<Vec<InstalledPackage>> {
    let err = Error::hive;
    let Some(store) = hive.lookup(CBS_PACKAGES).map_err(err(path))? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for node in hive.children(store).map_err(err(path))? {
        let name = hive.node_name(node).map_err(err(path))?;
        let Ok(identity) = name.parse::<PackageIdentity>() else {
            tracing::warn!(hive = %path.display(), key = %name, "package key is not a package identity; ignored");
            continue;
        };
        out.push(read_package(hive, node, identity).map_err(err(path))?);
    }
    Ok(out)
}

fn read_package(hive: &Hive, node: Node, identity: PackageIdentity) -> Result<InstalledPackage, crate::hive::Error> {
    let dword = |name: &str| -> Result<Option<u32>, crate::hive::Error> {
        Ok(hive.value(node, name)?.and_then(|v| v.as_u32()))
    };
    let text = |name: &str| -> Result<Option<String>, crate::hive::Error> {
        Ok(hive.value(node, name)?.and_then(|v| v.as_str().map(str::to_owned)))
    };
    let state = dword("CurrentState")?.map_or(PackageState::Absent, PackageState::from_u32);
    let install_time = match (dword("InstallTimeHigh")?, dword("InstallTimeLow")?) {
        (Some(h), Some(l)) => Some((u64::from(h) << 32) | u64::from(l)),
        _ => None,
    };
    let owners = match hive.child(node, "Owners")? {
        Some(o) => hive.value_names(o)?,
        None => Vec::new(),
    };
    Ok(InstalledPackage {
        identity,
        state,
        visibility: dword("Visibility")?,
        install_time,
        install_client: text("InstallClient")?,
        install_location: text("InstallLocation")?,
        owners,
    })
}

/// Whether the SOFTWARE hive records pending operations (`PackagesPending`, `SessionsPending`,
/// `RebootPending` keys with content), which DISM refuses to service over.
pub fn pending_keys(hive: &Hive, path: &Path) -> Result<Vec<String>> {
    let mut found = Vec::new();
    for key in ["PackagesPending", "SessionsPending", "RebootPending"] {
        if let Some(node) = hive.lookup(&format!(r"{CBS_KEY}\{key}")).map_err(Error::hive(path))? {
            let has_content = !hive.children(node).map_err(Error::hive(path))?.is_empty()
                || !hive.value_names(node).map_err(Error::hive(path))?.is_empty()
                || key == "RebootPending";
            if has_content {
                found.push(key.to_owned());
            }
        }
    }
    Ok(found)
}

/// The state the engine plans against: installed packages (updated as packages of one run are
/// planned, so later packages see earlier ones) and the component inventory.
#[derive(Debug, Clone, Default)]
pub struct ImageState {
    /// Package keys of the CBS store.
    pub packages: Vec<InstalledPackage>,
    /// Component versions in `WinSxS\Manifests`.
    pub inventory: Inventory,
    /// The image's architecture (`amd64`, `x86`, `arm64`).
    pub arch: String,
}

impl ImageState {
    /// `(identity, state)` pairs, what parent matching takes.
    pub fn installed(&self) -> Vec<(PackageIdentity, PackageState)> {
        self.packages.iter().map(|p| (p.identity.clone(), p.state)).collect()
    }

    /// The package with exactly this identity (names compared case-insensitively).
    pub fn find(&self, id: &PackageIdentity) -> Option<&InstalledPackage> {
        let fam = cbs::rules::family(id);
        self.packages.iter().find(|p| p.identity.version == id.version && cbs::rules::family(&p.identity) == fam)
    }

    /// The most common architecture among installed packages: the architecture of a directory image,
    /// which has no WIM XML to say it.
    pub fn majority_arch(packages: &[InstalledPackage]) -> Option<String> {
        let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
        for p in packages {
            let a = p.identity.arch.to_ascii_lowercase();
            if a != "neutral" && !a.is_empty() {
                *counts.entry(a).or_default() += 1;
            }
        }
        counts.into_iter().max_by_key(|(_, n)| *n).map(|(a, _)| a)
    }
}
