//! Component registry data applied to the image's hives: every `<registryValue>` of every component
//! a package installs, mapped and decoded by [`cbs::registry`], written in the same hive edit as the
//! package state (nothing reaches the image before the session's one commit, so a failure anywhere
//! leaves every hive untouched).
//!
//! Only a component that is the newest of its family writes its values (like its files, an older
//! version stays in WinSxS only), so a newer version overwrites what its predecessor wrote and a
//! cleanup of superseded versions, which touches no value, keeps the winner's. Key security
//! descriptors from the manifest are not applied: libhivex cannot write a key's security cell (a new
//! key shares its parent's descriptor), and each one skipped is said in `dism.log`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use cbs::registry::{self, MappedKey, RegistryData, TargetHive, ValueContext, View};

use super::error::{Error, Result};
use super::inventory::family_of;
use super::plan::InstallPlan;
use super::session::Servicing;
use super::state::ImageState;
use crate::hive::{fold_name, Hive, Node, Value};
use crate::progress::Control;
use cbs::package::Package;

/// One manifest key to write, mapped, with its values decoded.
#[derive(Debug, Clone)]
pub(crate) struct KeyWrite {
    /// The package (input label), for messages.
    pub package: String,
    /// The component manifest (member name), for messages.
    pub manifest: String,
    /// `keyName` as the manifest writes it.
    pub key_name: String,
    /// Where it lands.
    pub target: MappedKey,
    /// `securityDescriptor[@name]` and the SDDL it resolves to.
    pub security_descriptor: Option<(String, Option<String>)>,
    /// The values, in manifest order.
    pub values: Vec<ValueWrite>,
}

/// One value to write.
#[derive(Debug, Clone)]
pub(crate) struct ValueWrite {
    /// Name (empty: the default value).
    pub name: String,
    /// Data.
    pub data: RegistryData,
    /// `operationHint="append"` on a REG_MULTI_SZ: add the missing entries to the existing list.
    pub append: bool,
}

/// Maps and decodes the registry data of every component `plan` installs, before anything is
/// written: a key the mapping refuses or a value that does not decode fails the package, naming the
/// manifest and the key. `windir` is the deployed system's Windows folder.
pub(crate) fn prepare(
    unit: &Package,
    plan: &InstallPlan,
    state: &ImageState,
    windir: &str,
    log: &mut Vec<String>,
) -> Result<Vec<KeyWrite>> {
    let mut out = Vec::new();
    for comp in &plan.components {
        let Some(entry) = unit.manifests.get(&comp.key_form) else { continue };
        let m = &entry.manifest;
        if m.registry_keys.is_empty() {
            continue;
        }
        if let (Some(fam), Some(v)) = (family_of(&comp.identity), comp.identity.version) {
            if state.inventory.highest(&fam).is_some_and(|have| have > v) {
                log.push(format!(
                    "CSI: {} {v} is not the newest of its family; its {} registry value(s) are not written",
                    comp.identity.name,
                    m.registry_value_count()
                ));
                continue;
            }
        }
        let arch = comp.identity.processor_architecture.as_deref().unwrap_or("neutral");
        let view = registry::view_for(arch, &state.arch);
        let ctx = ValueContext { wow64: view == View::Wow64, windir };
        for key in &m.registry_keys {
            let fail = |reason: String| Error::Registry {
                package: unit.label.clone(),
                manifest: entry.member.clone(),
                key: key.key_name.clone(),
                reason,
            };
            let target = registry::map_key(&key.key_name, view).map_err(fail)?;
            let mut values = Vec::with_capacity(key.values.len());
            for v in &key.values {
                let data = registry::decode_value(v, &ctx).map_err(|e| {
                    let shown = if v.name.is_empty() { "(default)" } else { v.name.as_str() };
                    fail(format!("value {shown:?}: {e}"))
                })?;
                values.push(ValueWrite { name: v.name.clone(), data, append: registry::is_append(v) });
            }
            let security_descriptor = key
                .security_descriptor
                .as_ref()
                .map(|name| (name.clone(), m.security_descriptor(name).map(|d| d.sddl.clone())));
            out.push(KeyWrite {
                package: unit.label.clone(),
                manifest: entry.member.clone(),
                key_name: key.key_name.clone(),
                target,
                security_descriptor,
                values,
            });
        }
    }
    Ok(out)
}

/// The hive files besides SOFTWARE (which the session always has open) that registry data may
/// need, fetched from the image and opened the first time a key needs them.
#[derive(Default)]
pub(crate) struct ExtraHives {
    open: HashMap<TargetHive, (Hive, PathBuf)>,
    /// Hives the image does not have (looked for once).
    absent: Vec<TargetHive>,
    /// Hives changed, to commit.
    pub changed: Vec<TargetHive>,
    /// The SYSTEM hive's current control set (`ControlSet001`), once resolved.
    control_set: Option<String>,
}

impl ExtraHives {
    /// The open hives that changed, with their working copies, for the commit.
    pub fn into_changed(self) -> Vec<(TargetHive, Hive, PathBuf)> {
        let ExtraHives { mut open, changed, .. } = self;
        changed.into_iter().filter_map(|t| open.remove(&t).map(|(h, p)| (t, h, p))).collect()
    }
}

/// Writes `keys` into the session's hives, logging each key and value written as `CSI:` lines.
/// Returns the number of values written or confirmed.
pub(crate) fn apply(
    svc: &mut Servicing,
    keys: &[KeyWrite],
    control: Control<'_>,
    log: &mut Vec<String>,
) -> Result<usize> {
    if keys.is_empty() {
        return Ok(0);
    }
    // Fetch what is needed first, so a missing hive fails before any write.
    for key in keys {
        let hive = key.target.hive;
        if hive == TargetHive::Software || svc.registry.open.contains_key(&hive) {
            continue;
        }
        if svc.registry.absent.contains(&hive) {
            return Err(missing_hive(key));
        }
        let dir = svc.work.join("registry-hives");
        let fetched = svc.session.fetch(&[hive.image_path()], &dir, control)?.remove(0);
        match fetched {
            Some(path) => {
                crate::hive::split_long_subkey_lists(&path).map_err(Error::hive(&path))?;
                let opened = Hive::open(&path, crate::hive::Mode::Write).map_err(Error::hive(&path))?;
                svc.registry.open.insert(hive, (opened, path));
            }
            None => {
                svc.registry.absent.push(hive);
                return Err(missing_hive(key));
            }
        }
    }
    let mut caches: HashMap<TargetHive, KeyCache> = HashMap::new();
    let mut written = 0;
    for key in keys {
        let which = key.target.hive;
        let (hive, path) = match which {
            TargetHive::Software => (&mut svc.software, svc.software_path.as_path()),
            other => match svc.registry.open.get_mut(&other) {
                Some((h, p)) => (h, p.as_path()),
                None => return Err(missing_hive(key)),
            },
        };
        let mut rel = key.target.path.clone();
        if key.target.control_set {
            if svc.registry.control_set.is_none() {
                let set = control_set(hive, path, log)?;
                svc.registry.control_set = Some(set);
            }
            let set = svc.registry.control_set.as_deref().unwrap_or("ControlSet001");
            rel = if rel.is_empty() { set.to_owned() } else { format!("{set}\\{rel}") };
        }
        let shown = format!("{}\\{rel}", which.label()).trim_end_matches('\\').to_owned();
        let cache = caches.entry(which).or_default();
        let node = cache.ensure(hive, path, &rel, &shown, log)?;
        let mut batch: Vec<(String, Value)> = Vec::with_capacity(key.values.len());
        for v in &key.values {
            let mut data = v.data.clone();
            if let (true, RegistryData::MultiSz(add)) = (v.append, &data) {
                let earlier =
                    batch.iter().rev().find(|(n, _)| crate::hive::names_equal(n, &v.name)).map(|(_, x)| x.clone());
                let existing = match earlier {
                    Some(x) => Some(x),
                    None => hive.value(node, &v.name).map_err(Error::hive(path))?,
                };
                if let Some(Value::MultiSz(have)) = existing {
                    data = RegistryData::MultiSz(registry::append_multi_sz(&have, add));
                }
            }
            let shown_name = if v.name.is_empty() { "(default)" } else { v.name.as_str() };
            log.push(format!("CSI: Registry: {shown}: {shown_name} = {data} (from {})", key.manifest));
            batch.push((v.name.clone(), to_value(&data)));
        }
        if hive.merge_values(node, &batch).map_err(Error::hive(path))? {
            svc.hives_changed = true;
            if which != TargetHive::Software && !svc.registry.changed.contains(&which) {
                svc.registry.changed.push(which);
            }
        }
        written += batch.len();
        if let Some((name, sddl)) = &key.security_descriptor {
            log.push(format!(
                "CSI: Registry: {shown}: security descriptor {name} ({}) not applied: libhivex cannot write a key's \
                 security descriptor; the key keeps the one it has or shares its parent's",
                sddl.as_deref().unwrap_or("no definition in the manifest")
            ));
        }
    }
    Ok(written)
}

fn missing_hive(key: &KeyWrite) -> Error {
    Error::Registry {
        package: key.package.clone(),
        manifest: key.manifest.clone(),
        key: key.key_name.clone(),
        reason: format!(
            "the image has no {} hive to write it to",
            key.target.hive.image_path().trim_start_matches('/')
        ),
    }
}

/// The current control set of a SYSTEM hive, from `Select\Current`; a hive without `Select` gets one
/// naming `ControlSet001`, as a freshly installed system has.
fn control_set(hive: &mut Hive, path: &Path, log: &mut Vec<String>) -> Result<String> {
    let err = Error::hive(path);
    let select = hive.lookup("Select").map_err(Error::hive(path))?;
    let Some(select) = select else {
        let node = hive.ensure_path("Select").map_err(Error::hive(path))?;
        hive.set_values(
            node,
            &[
                ("Current".into(), Value::Dword(1)),
                ("Default".into(), Value::Dword(1)),
                ("Failed".into(), Value::Dword(0)),
                ("LastKnownGood".into(), Value::Dword(1)),
            ],
        )
        .map_err(err)?;
        log.push("CSI: Registry: SYSTEM has no Select key; created it with Current = 1 (ControlSet001)".into());
        return Ok("ControlSet001".into());
    };
    match hive.value(select, "Current").map_err(Error::hive(path))? {
        Some(Value::Dword(n)) if (1..=999).contains(&n) => Ok(format!("ControlSet{n:03}")),
        other => Err(Error::Hive {
            path: path.to_path_buf(),
            source: crate::hive::Error::InvalidData {
                path: path.to_path_buf(),
                what: format!("Select\\Current is {other:?}, not a control set number (1 to 999)"),
            },
        }),
    }
}

/// Subkeys by folded name, read once per parent: a package writes many keys below the same parents
/// (`Classes\CLSID`), and listing a parent with thousands of subkeys for each would be quadratic.
#[derive(Default)]
struct KeyCache {
    children: HashMap<Node, HashMap<Vec<u16>, Node>>,
    keys: HashMap<Vec<u16>, Node>,
}

impl KeyCache {
    /// The key at `rel` below the root of `hive`, created (and logged) where missing.
    fn ensure(&mut self, hive: &mut Hive, path: &Path, rel: &str, shown: &str, log: &mut Vec<String>) -> Result<Node> {
        let folded = fold_name(rel);
        if let Some(node) = self.keys.get(&folded) {
            return Ok(*node);
        }
        let mut node = hive.root();
        let mut created = false;
        for part in rel.split('\\').filter(|p| !p.is_empty()) {
            let children = match self.children.entry(node) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    let mut map = HashMap::new();
                    for child in hive.children(node).map_err(Error::hive(path))? {
                        map.insert(fold_name(&hive.node_name(child).map_err(Error::hive(path))?), child);
                    }
                    e.insert(map)
                }
            };
            let name = fold_name(part);
            node = match children.get(&name) {
                Some(child) => *child,
                None => {
                    let child = hive.add_child(node, part).map_err(Error::hive(path))?;
                    children.insert(name, child);
                    created = true;
                    child
                }
            };
        }
        if created {
            log.push(format!("CSI: Registry: created key {shown}"));
        }
        self.keys.insert(folded, node);
        Ok(node)
    }
}

fn to_value(data: &RegistryData) -> Value {
    match data {
        RegistryData::None(b) if b.is_empty() => Value::None,
        RegistryData::None(b) => Value::Other { kind: crate::hive::kind::REG_NONE, data: b.clone() },
        RegistryData::Sz(s) => Value::Sz(s.clone()),
        RegistryData::ExpandSz(s) => Value::ExpandSz(s.clone()),
        RegistryData::Binary(b) => Value::Binary(b.clone()),
        RegistryData::Dword(v) => Value::Dword(*v),
        RegistryData::Qword(v) => Value::Qword(*v),
        RegistryData::MultiSz(l) => Value::MultiSz(l.clone()),
    }
}
