//! Recording installs where Windows keeps them: package keys in the SOFTWARE hive's CBS store
//! (`CurrentState` 0x70, install client/name/location/time, visibility, owners), older versions of the
//! same packages set to Superseded (0x50), and component entries in the COMPONENTS hive when the image
//! has one.

use std::collections::HashMap;
use std::path::Path;

use cbs::rules::{self, PackageState};
use cbs::PackageIdentity;

use super::error::{Error, Result};
use super::plan::InstallPlan;
use super::state::{ImageState, InstalledPackage, CBS_PACKAGES};
use crate::hive::{fold_name, Hive, Node, Value};
use cbs::package::Package;

/// What DISM writes as `InstallClient` for offline `/Add-Package`.
pub const INSTALL_CLIENT: &str = "DISM Package Manager Provider";

/// Owner entries carry the owner's state with this flag (as seen in real `Owners` keys).
const OWNER_FLAG: u32 = 0x0002_0000;

/// Registers every package of `plan` as Installed, owned by the plan's first (top-level) package, and
/// updates `state` to match.
pub(crate) fn register(
    software: &mut Hive,
    path: &Path,
    plan: &InstallPlan,
    install_location: &str,
    filetime: u64,
    state: &mut ImageState,
) -> Result<()> {
    let err = Error::hive;
    let store = software.ensure_path(CBS_PACKAGES).map_err(err(path))?;
    let Some(top) = plan.packages.first() else { return Ok(()) };
    let installed = PackageState::Installed.as_u32();
    for p in &plan.packages {
        let name = p.identity.to_string();
        let key = match software.child(store, &name).map_err(err(path))? {
            Some(k) => k,
            None => software.add_child(store, &name).map_err(err(path))?,
        };
        let values: Vec<(String, Value)> = vec![
            ("CurrentState".into(), Value::Dword(installed)),
            ("InstallClient".into(), Value::Sz(INSTALL_CLIENT.into())),
            ("InstallLocation".into(), Value::Sz(install_location.to_owned())),
            ("InstallName".into(), Value::Sz(format!("{name}.mum"))),
            ("InstallTimeHigh".into(), Value::Dword((filetime >> 32) as u32)),
            ("InstallTimeLow".into(), Value::Dword(filetime as u32)),
            ("InstallUser".into(), Value::Sz("S-1-5-18".into())),
            ("SelfUpdate".into(), Value::Dword(0)),
            ("Visibility".into(), Value::Dword(p.visibility)),
        ];
        software.set_values(key, &values).map_err(err(path))?;
        let owners = match software.child(key, "Owners").map_err(err(path))? {
            Some(o) => o,
            None => software.add_child(key, "Owners").map_err(err(path))?,
        };
        let owner = top.identity.to_string();
        software.set_value(owners, &owner, &Value::Dword(OWNER_FLAG | installed)).map_err(err(path))?;

        state.packages.retain(|q| {
            !(q.identity.version == p.identity.version && rules::family(&q.identity) == rules::family(&p.identity))
        });
        state.packages.push(InstalledPackage {
            identity: p.identity.clone(),
            state: PackageState::Installed,
            visibility: Some(p.visibility),
            install_time: Some(filetime),
            install_client: Some(INSTALL_CLIENT.into()),
            install_location: Some(install_location.to_owned()),
            owners: vec![owner],
        });
    }
    Ok(())
}

/// Sets older versions of the packages just installed to Superseded, and with them the packages only
/// they own (the hidden sub-packages of a superseded cumulative update). Returns what changed.
pub(crate) fn supersede(
    software: &mut Hive,
    path: &Path,
    installed_now: &[PackageIdentity],
    state: &mut ImageState,
) -> Result<Vec<PackageIdentity>> {
    let mut superseded: Vec<PackageIdentity> = Vec::new();
    for new in installed_now {
        let fam = rules::family(new);
        for p in &state.packages {
            if rules::family(&p.identity) == fam && p.identity.version < new.version && p.state.is_present() {
                superseded.push(p.identity.clone());
            }
        }
    }
    // Owned packages follow their owners.
    let owners_gone: Vec<String> = superseded.iter().map(|s| s.to_string().to_lowercase()).collect();
    for p in &state.packages {
        if p.state.is_present()
            && !p.owners.is_empty()
            && p.owners.iter().all(|o| owners_gone.contains(&o.to_lowercase()))
            && !superseded.contains(&p.identity)
        {
            superseded.push(p.identity.clone());
        }
    }
    if superseded.is_empty() {
        return Ok(superseded);
    }
    let err = Error::hive;
    let store = software.ensure_path(CBS_PACKAGES).map_err(err(path))?;
    let value = PackageState::Superseded.as_u32();
    for id in &superseded {
        if let Some(key) = software.child(store, &id.to_string()).map_err(err(path))? {
            software.set_value(key, "CurrentState", &Value::Dword(value)).map_err(err(path))?;
            if let Some(owners) = software.child(key, "Owners").map_err(err(path))? {
                for name in software.value_names(owners).map_err(err(path))? {
                    software.set_value(owners, &name, &Value::Dword(OWNER_FLAG | value)).map_err(err(path))?;
                }
            }
        }
        for p in state.packages.iter_mut().filter(|p| p.identity == *id) {
            p.state = PackageState::Superseded;
        }
    }
    Ok(superseded)
}

/// The subkeys of one key by folded name, read once: the component store's keys have thousands,
/// and looking up each of a large update's components by scanning them (a name decoded per
/// subkey) made recording quadratic.
struct Subkeys {
    parent: Node,
    by_name: HashMap<Vec<u16>, Node>,
}

impl Subkeys {
    fn of(store: &Hive, parent: Node) -> std::result::Result<Subkeys, crate::hive::Error> {
        let mut by_name = HashMap::new();
        for child in store.children(parent)? {
            by_name.insert(fold_name(&store.node_name(child)?), child);
        }
        Ok(Subkeys { parent, by_name })
    }

    /// Adds every one of `names` that is not a subkey yet, all at once (see [`Hive::add_children`]).
    fn add_missing<'n>(
        &mut self,
        store: &mut Hive,
        names: impl IntoIterator<Item = &'n str>,
    ) -> std::result::Result<(), crate::hive::Error> {
        let mut missing: Vec<&str> = Vec::new();
        let mut wanted = std::collections::HashSet::new();
        for name in names {
            let folded = fold_name(name);
            if !self.by_name.contains_key(&folded) && wanted.insert(folded) {
                missing.push(name);
            }
        }
        for (name, node) in missing.iter().zip(store.add_children(self.parent, &missing)?) {
            self.by_name.insert(fold_name(name), node);
        }
        Ok(())
    }

    /// The subkey `name`, added when it is not there.
    fn get_or_add(&mut self, store: &mut Hive, name: &str) -> std::result::Result<Node, crate::hive::Error> {
        let folded = fold_name(name);
        if let Some(node) = self.by_name.get(&folded) {
            return Ok(*node);
        }
        let node = store.add_child(self.parent, name)?;
        self.by_name.insert(folded, node);
        Ok(node)
    }
}

/// Adds COMPONENTS hive entries for the components of `plan`: `DerivedData\Components\<key-form>`
/// (identity, SHA-256 of the manifest, flags, owning deployment) and
/// `CanonicalData\Deployments\<short form>` for deployments (appid and the installing package).
pub(crate) fn record_components(store: &mut Hive, path: &Path, unit: &Package, plan: &InstallPlan) -> Result<()> {
    let err = Error::hive;
    let derived = store.ensure_path(r"DerivedData\Components").map_err(err(path))?;
    let deployments = store.ensure_path(r"CanonicalData\Deployments").map_err(err(path))?;
    let mut derived_keys = Subkeys::of(store, derived).map_err(err(path))?;
    let mut deployment_keys = Subkeys::of(store, deployments).map_err(err(path))?;
    let recorded = || plan.components.iter().filter(|c| unit.manifests.contains_key(&c.key_form));
    derived_keys.add_missing(store, recorded().map(|c| c.key_form.as_str())).map_err(err(path))?;
    let shorts: Vec<String> = recorded().filter(|c| c.deployment).map(|c| cbs::short_key_form(&c.identity)).collect();
    deployment_keys.add_missing(store, shorts.iter().map(String::as_str)).map_err(err(path))?;
    for comp in &plan.components {
        let Some(entry) = unit.manifests.get(&comp.key_form) else { continue };
        let key = derived_keys.get_or_add(store, &comp.key_form).map_err(err(path))?;
        let digest = entry.sha256;
        let mut values = vec![
            ("identity".to_owned(), Value::Binary(comp.identity.appid_string().into_bytes())),
            ("S256H".to_owned(), Value::Binary(digest.to_vec())),
            ("CF".to_owned(), Value::Dword(0)),
        ];
        if let Some(dep) = &comp.deployed_by {
            values.push((format!("c!{}", cbs::short_key_form(dep)), Value::Binary(Vec::new())));
        }
        for f in &comp.files {
            values.push((
                format!("f!{}", f.name.rsplit('/').next().unwrap_or(&f.name).to_lowercase()),
                Value::Binary(Vec::new()),
            ));
        }
        store.set_values(key, &values).map_err(err(path))?;
        if comp.deployment {
            let short = cbs::short_key_form(&comp.identity);
            let dkey = deployment_keys.get_or_add(store, &short).map_err(err(path))?;
            let pkg = comp.package.to_string();
            let mut data = Vec::with_capacity(8 + pkg.len());
            data.extend_from_slice(&(pkg.len() as u32).to_le_bytes());
            data.extend_from_slice(&0u32.to_le_bytes());
            data.extend_from_slice(pkg.as_bytes());
            store
                .set_values(
                    dkey,
                    &[
                        ("appid".to_owned(), Value::Binary(comp.identity.appid_string().into_bytes())),
                        (format!("i!{pkg}"), Value::Binary(data)),
                    ],
                )
                .map_err(err(path))?;
        }
    }
    Ok(())
}
