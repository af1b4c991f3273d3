//! Applicability, the CBS way (`cbs-format.md` §2.5, §4.4): architecture, already-installed and
//! superseded checks on the package, `<parent>` alternatives on it and on every sub-package, and
//! `updateComponent`/`updateDriver` conditions on each `<update>`; the result is the list of packages
//! to register and of components (with their files and projections) to install. Every decision is
//! written as a log line saying which parent matched or why none did.

use std::collections::BTreeSet;

use cbs::manifest::ComponentManifest;
use cbs::mum::{PackageManifest, ParentGroup, Update};
use cbs::rules::{self, PackageState, ParentMatch};
use cbs::{AssemblyIdentity, PackageIdentity};

use super::error::{Error, Result};
use super::inventory::{family_of, Inventory};
use super::state::ImageState;
use cbs::package::Package;

/// Deepest sub-package nesting followed (real packages nest three or four levels).
const MAX_DEPTH: usize = 16;

/// Longest chain of deployment dependencies followed (real deployments install components, rarely
/// other deployments: two or three levels). The chain is walked with an explicit stack, so the limit
/// is about hostile input, not the call stack.
const MAX_DEPENDENCY_DEPTH: usize = 64;

/// `a -> b -> a`.
fn cycle_text<'a>(path: impl IntoIterator<Item = &'a str>, back_to: &str) -> String {
    let mut parts: Vec<&str> = path.into_iter().collect();
    parts.push(back_to);
    parts.join(" -> ")
}

/// A package to register in the CBS store.
#[derive(Debug, Clone)]
pub(crate) struct PackageInstall {
    /// Its identity.
    pub identity: PackageIdentity,
    /// Member name of its .mum in the package.
    pub mum_member: String,
    /// 1 for the package the user asked for, 2 for the hidden sub-packages it brings.
    pub visibility: u32,
}

/// One payload file of a component to install.
#[derive(Debug, Clone)]
pub(crate) struct FileInstall {
    /// Path inside the component's WinSxS folder (`/`-separated).
    pub name: String,
    /// Where it is projected in the image (`Windows/System32/netcfgx.dll`), when it is.
    pub projection: Option<String>,
    /// Expected SHA-256 from the manifest.
    pub sha256: Option<[u8; 32]>,
}

/// A component (or deployment) to install.
#[derive(Debug, Clone)]
pub(crate) struct ComponentInstall {
    /// Key form (lower case): names the WinSxS folder and manifest.
    pub key_form: String,
    /// Identity.
    pub identity: AssemblyIdentity,
    /// Whether it is a deployment manifest.
    pub deployment: bool,
    /// Files.
    pub files: Vec<FileInstall>,
    /// The package that installs it.
    pub package: PackageIdentity,
    /// The deployment that brought it, if any.
    pub deployed_by: Option<AssemblyIdentity>,
}

/// What installing a package does.
#[derive(Debug, Clone, Default)]
pub(crate) struct InstallPlan {
    /// Packages to register: the package itself first, then applicable sub-packages.
    pub packages: Vec<PackageInstall>,
    /// Components to install (new to the image).
    pub components: Vec<ComponentInstall>,
    /// Sub-packages not applicable, with the reason.
    pub skipped: Vec<(String, String)>,
}

/// The verdict on one package.
#[derive(Debug, Clone)]
pub(crate) enum Decision {
    /// Applicable: install this.
    Install(InstallPlan),
    /// The same version is already in the image.
    AlreadyInstalled(String),
    /// A newer version of the same package is installed (or given in the same run).
    Superseded(String),
    /// Not applicable: wrong architecture, no parent, nothing to update.
    NotApplicable(String),
}

/// Evaluates `unit` against `state`, appending CBS-style applicability lines to `log`.
pub(crate) fn evaluate(unit: &Package, state: &ImageState, log: &mut Vec<String>) -> Result<Decision> {
    let id = &unit.top_id;
    let image_arch = state.arch.to_ascii_lowercase();
    let pkg_arch = id.arch.to_ascii_lowercase();
    if pkg_arch != image_arch && pkg_arch != "neutral" {
        let reason = format!("wrong architecture: the package is {pkg_arch}, the image is {image_arch}");
        log.push(format!("Appl: package {id}: {reason}, applicable state: Absent"));
        return Ok(Decision::NotApplicable(reason));
    }

    // Same family already present.
    let fam = rules::family(id);
    for p in &state.packages {
        if rules::family(&p.identity) != fam {
            continue;
        }
        if p.identity.version == id.version && (p.state.is_present() || p.state == PackageState::Staged) {
            log.push(format!("Appl: package {id} is already {}", p.state));
            return Ok(Decision::AlreadyInstalled(format!("already installed ({})", p.state)));
        }
        if p.identity.version == id.version && p.state == PackageState::Superseded {
            log.push(format!("Appl: package {id} is installed and superseded"));
            return Ok(Decision::Superseded("already installed, and since superseded by a newer version".into()));
        }
        if p.identity.version > id.version && (p.state.is_present() || p.state == PackageState::Superseded) {
            let why = format!("superseded: {} is already installed ({})", p.identity, p.state);
            log.push(format!("Appl: package {id}: {why}"));
            return Ok(Decision::Superseded(why));
        }
    }

    if let Err(reason) = parents_found(&id.to_string(), &unit.top.package.parents, state, log) {
        log.push(format!("Appl: Evaluating package applicability for package {id}, applicable state: Absent"));
        return Ok(Decision::NotApplicable(reason));
    }
    log.push(format!("Appl: Evaluating package applicability for package {id}, applicable state: Installed"));

    let mut plan = InstallPlan::default();
    plan.packages.push(PackageInstall { identity: id.clone(), mum_member: unit.top_member.clone(), visibility: 1 });
    let mut seen_components = BTreeSet::new();
    let mut walk = Walk { unit, state, log, plan: &mut plan, seen: &mut seen_components, path: vec![id.clone()] };
    walk.package(id, &unit.top)?;

    if plan.components.is_empty() && plan.packages.len() == 1 && has_conditions(&unit.top) {
        // Every update was conditional and none applied: nothing of this package is in the image.
        let reason = "not applicable: none of the components it updates is present in the image".to_owned();
        return Ok(Decision::NotApplicable(reason));
    }
    Ok(Decision::Install(plan))
}

fn has_conditions(m: &PackageManifest) -> bool {
    m.package.updates.iter().any(|u| !u.update_components.is_empty() || !u.update_drivers.is_empty())
}

/// Checks every `<parent>` group; `Err(reason)` names, per alternative, why it did not match.
fn parents_found(pkg: &str, groups: &[ParentGroup], state: &ImageState, log: &mut Vec<String>) -> Result<(), String> {
    let installed = state.installed();
    for group in groups {
        let b = group.build_compare.as_ref().map_or("GE", |c| c.as_str());
        let r = group.revision_compare.as_ref().map_or("GE", |c| c.as_str());
        match rules::parent_matches(group, &installed) {
            ParentMatch::Found(found) => {
                log.push(format!(
                    "Appl: detect Parent, Package: {pkg}, Parent: {}, Disposition = Detect, VersionComp: EQ, BuildComp: {b}, RevisionComp: {r}, Exist: present",
                    PackageIdentity::from_assembly(&found.alternative).map(|p| p.to_string()).unwrap_or_else(|_| found.alternative.name.clone()),
                ));
                log.push(format!("Appl: detectParent: parent found: {}, state: {}", found.installed, found.state));
            }
            ParentMatch::NotFound(rejections) => {
                for rej in &rejections {
                    log.push(format!("Appl: detect Parent, Package: {pkg}, {rej}"));
                }
                log.push("Appl: detectParent: no parent found, go absent".to_owned());
                let mut reasons: Vec<String> = rejections.iter().map(ToString::to_string).collect();
                reasons.dedup();
                let shown = if reasons.len() > 3 {
                    format!("{}; and {} more", reasons[..3].join("; "), reasons.len() - 3)
                } else {
                    reasons.join("; ")
                };
                return Err(format!("not applicable: no parent package is installed ({shown})"));
            }
        }
    }
    Ok(())
}

struct Walk<'a> {
    unit: &'a Package,
    state: &'a ImageState,
    log: &'a mut Vec<String>,
    plan: &'a mut InstallPlan,
    seen: &'a mut BTreeSet<String>,
    /// The sub-packages from the top package down to the one being walked (for cycles and depth;
    /// the nesting is bounded by `MAX_DEPTH`, so the recursion is too).
    path: Vec<PackageIdentity>,
}

impl Walk<'_> {
    fn package(&mut self, id: &PackageIdentity, mum: &PackageManifest) -> Result<()> {
        if self.path.len() > MAX_DEPTH + 1 {
            return Err(Error::TooDeep {
                package: self.unit.label.clone(),
                graph: "sub-package",
                max: MAX_DEPTH,
                at: id.to_string(),
            });
        }
        for update in &mum.package.updates {
            self.update(id, update)?;
        }
        Ok(())
    }

    fn update(&mut self, owner: &PackageIdentity, update: &Update) -> Result<()> {
        if let Some(reason) = self.update_not_applicable(update) {
            self.log.push(format!("Appl: update {} of {owner}: {reason}", update.name));
            return Ok(());
        }
        for pref in &update.packages {
            let sub_id = PackageIdentity::from_assembly(&pref.identity).map_err(|e| Error::Missing {
                package: self.unit.label.clone(),
                what: "sub-package with a valid identity",
                name: format!("{} ({e})", pref.identity.name),
            })?;
            if let Some(at) = self.path.iter().position(|p| *p == sub_id) {
                let names: Vec<String> = self.path[at..].iter().map(ToString::to_string).collect();
                return Err(Error::Cycle {
                    package: self.unit.label.clone(),
                    graph: "sub-package",
                    cycle: cycle_text(names.iter().map(String::as_str), &sub_id.to_string()),
                });
            }
            if self.plan.packages.iter().any(|p| p.identity == sub_id) {
                continue;
            }
            let (member, sub) = self.unit.mum(&sub_id).ok_or_else(|| Error::Missing {
                package: self.unit.label.clone(),
                what: "sub-package manifest",
                name: format!("{sub_id}.mum"),
            })?;
            match parents_found(&sub_id.to_string(), &sub.package.parents, self.state, self.log) {
                Ok(()) => {
                    self.plan.packages.push(PackageInstall {
                        identity: sub_id.clone(),
                        mum_member: member.clone(),
                        visibility: 2,
                    });
                    self.path.push(sub_id.clone());
                    let walked = self.package(&sub_id, sub);
                    self.path.pop();
                    walked?;
                }
                Err(reason) => self.plan.skipped.push((sub_id.to_string(), reason)),
            }
        }
        for c in &update.components {
            self.component(owner, c, None)?;
        }
        for d in &update.drivers {
            let identity = d.identity.clone().or_else(|| {
                update
                    .update_drivers
                    .iter()
                    .find(|u| u.identity.name.eq_ignore_ascii_case(&d.inf))
                    .map(|u| u.identity.clone())
            });
            match identity {
                Some(identity) => self.component(owner, &identity, None)?,
                None => self.log.push(format!("Appl: driver {} of {owner} names no component; skipped", d.inf)),
            }
        }
        Ok(())
    }

    /// `Some(reason)` when an `<update>`'s conditions rule it out: each `updateComponent` or
    /// `updateDriver` needs an older version of that component in the image.
    fn update_not_applicable(&self, update: &Update) -> Option<String> {
        let conditions: Vec<&AssemblyIdentity> =
            update.update_components.iter().chain(&update.update_drivers).map(|e| &e.identity).collect();
        if conditions.is_empty() {
            return None;
        }
        let mut reasons = Vec::new();
        for want in conditions {
            let Some(fam) = family_of(want) else {
                reasons.push(format!("{} has no usable identity", want.name));
                continue;
            };
            match (self.state.inventory.highest(&fam), want.version) {
                (None, _) => reasons.push(format!("{} ({}) is not in the image", want.name, fam.arch)),
                (Some(have), Some(v)) if have >= v => {
                    reasons.push(format!("{} ({}) is already at {have}", want.name, fam.arch));
                }
                _ => return None,
            }
        }
        Some(format!("not applicable: {}", reasons.join("; ")))
    }

    /// Adds a component (and, for a deployment, what it installs, and so on down) to the plan.
    /// Dependencies are walked depth first with an explicit stack (an 8000-deep chain overflowed
    /// the call stack: issue 17); a dependency back onto the chain being walked is a cycle, refused
    /// with the chain named; one reached again by another way is installed once.
    fn component(
        &mut self,
        owner: &PackageIdentity,
        id: &AssemblyIdentity,
        deployed_by: Option<&AssemblyIdentity>,
    ) -> Result<()> {
        /// A component on the chain being walked, and the next of its dependencies to visit.
        struct Frame {
            id: AssemblyIdentity,
            key_form: String,
            dependencies: Vec<AssemblyIdentity>,
            next: usize,
        }
        let Some(dependencies) = self.add_component(owner, id, deployed_by)? else { return Ok(()) };
        let mut chain = vec![Frame { id: id.clone(), key_form: cbs::key_form(id), dependencies, next: 0 }];
        while let Some(top) = chain.last_mut() {
            let Some(dep) = top.dependencies.get(top.next).cloned() else {
                chain.pop();
                continue;
            };
            top.next += 1;
            let parent = top.id.clone();
            let key_form = cbs::key_form(&dep);
            if let Some(at) = chain.iter().position(|f| f.key_form == key_form) {
                return Err(Error::Cycle {
                    package: self.unit.label.clone(),
                    graph: "component dependency",
                    cycle: cycle_text(chain[at..].iter().map(|f| f.key_form.as_str()), &key_form),
                });
            }
            if chain.len() >= MAX_DEPENDENCY_DEPTH {
                return Err(Error::TooDeep {
                    package: self.unit.label.clone(),
                    graph: "component dependency",
                    max: MAX_DEPENDENCY_DEPTH,
                    at: key_form,
                });
            }
            if let Some(dependencies) = self.add_component(owner, &dep, Some(&parent))? {
                chain.push(Frame { id: dep, key_form, dependencies, next: 0 });
            }
        }
        Ok(())
    }

    /// Adds one component to the plan; returns the install dependencies to walk next (a
    /// deployment's), or `None` when it was planned already.
    fn add_component(
        &mut self,
        owner: &PackageIdentity,
        id: &AssemblyIdentity,
        deployed_by: Option<&AssemblyIdentity>,
    ) -> Result<Option<Vec<AssemblyIdentity>>> {
        let key_form = cbs::key_form(id);
        if !self.seen.insert(key_form.clone()) {
            return Ok(None);
        }
        let entry = self.unit.manifests.get(&key_form).ok_or_else(|| Error::Missing {
            package: self.unit.label.clone(),
            what: "component manifest",
            name: format!("{key_form}.manifest"),
        })?;
        let m: &ComponentManifest = &entry.manifest;
        let present = self.state.inventory.contains(&key_form);
        if present {
            self.log.push(format!("CSI: component {key_form} is already in the store"));
        } else {
            let files = m
                .files
                .iter()
                .map(|f| FileInstall {
                    name: f.name.replace('\\', "/"),
                    projection: f
                        .destination_path
                        .as_deref()
                        .and_then(|d| project(d, &f.name, id, &self.state.arch, &self.state.inventory, self.log)),
                    sha256: f.sha256,
                })
                .collect();
            self.plan.components.push(ComponentInstall {
                key_form: key_form.clone(),
                identity: id.clone(),
                deployment: m.deployment,
                files,
                package: owner.clone(),
                deployed_by: deployed_by.cloned(),
            });
        }
        if !m.deployment {
            return Ok(Some(Vec::new()));
        }
        Ok(Some(
            m.dependencies
                .iter()
                .filter(|dep| dep.dependency_type.as_deref().is_none_or(|t| t.eq_ignore_ascii_case("install")))
                .map(|dep| dep.identity.clone())
                .collect(),
        ))
    }
}

/// Where a file with `destinationPath` lands, for a component of `id`'s architecture on an image of
/// `image_arch` — only when this version is the newest of its family (it "wins"); older versions stay
/// in WinSxS only. Unknown `$(runtime.*)` variables are logged and not projected.
fn project(
    dest: &str,
    file: &str,
    id: &AssemblyIdentity,
    image_arch: &str,
    inventory: &Inventory,
    log: &mut Vec<String>,
) -> Option<String> {
    let comp_arch = id.processor_architecture.as_deref().unwrap_or("neutral").to_ascii_lowercase();
    if let (Some(fam), Some(v)) = (family_of(id), id.version) {
        if inventory.highest(&fam).is_some_and(|have| have > v) {
            log.push(format!("CSI: {} {v} is not the newest of its family; not projected", id.name));
            return None;
        }
    }
    let wow = cbs::runtime::is_wow64(&comp_arch, image_arch);
    let dest = dest.replace('\\', "/");
    let (var, rest) = match dest.strip_prefix("$(") {
        Some(r) => match r.split_once(')') {
            Some((v, rest)) => (Some(v.to_ascii_lowercase()), rest.to_owned()),
            None => (None, dest.clone()),
        },
        None => (None, dest.clone()),
    };
    let folder =
        var.as_deref().and_then(|v| v.strip_prefix("runtime.")).and_then(|n| cbs::runtime::runtime_folder(n, wow));
    let base = match (folder, var.as_deref()) {
        (Some(folder), _) => folder.image_path(),
        (None, Some(other)) => {
            log.push(format!("CSI: destinationPath variable $({other}) of {file} is not known; not projected"));
            return None;
        }
        (None, None) => {
            log.push(format!("CSI: destinationPath {dest:?} of {file} has no $(runtime.*) variable; not projected"));
            return None;
        }
    };
    let mut parts: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
    parts.extend(rest.split('/').filter(|p| !p.is_empty()));
    let file_name = file.rsplit(['\\', '/']).next().unwrap_or(file);
    parts.push(file_name);
    if parts.iter().any(|p| *p == "." || *p == ".." || p.contains(':')) {
        log.push(format!("CSI: destinationPath {dest:?} of {file} leaves the image; not projected"));
        return None;
    }
    Some(parts.join("/"))
}
