//! `cleanup-image /StartComponentCleanup [/ResetBase]`, offline: remove the component versions a newer
//! version of the same family supersedes (folder, manifest, COMPONENTS entry), remove packages in the
//! Superseded state (their .mum/.cat and registry keys), empty `WinSxS\Temp\PendingDeletes`; with
//! ResetBase also make every installed package permanent, drop backups, and record
//! `LastResetBase_UTC` — keeping the reverse/forward/null differentials of the versions that stay,
//! which the next cumulative update needs; refused when the image sets `DisableResetbase`;
//! superseded versions kept by a plain cleanup when the image sets `SupersededActions` to 0. Refused on an image with pending operations, as DISM
//! refuses. All of it is one batch of deletions (plus the edited hives), so the cost follows what is
//! removed.

use std::path::PathBuf;

use cbs::rules::PackageState;

use super::error::{Error, Result};
use super::run_context::RunContext;
use super::session::{Finish, Servicing};
use super::state::{CBS_KEY, CBS_PACKAGES, PACKAGES_DIR};
use super::target::Target;
use crate::hive::Value;
use crate::log::{civil_from_unix, now_unix, ServicingLogs};
use crate::progress::Control;
use crate::wim::LockWait;

/// How to run a cleanup.
#[derive(Debug, Clone, Default)]
pub struct CleanupOptions {
    /// `/ResetBase`.
    pub reset_base: bool,
    /// Scratch directory (as for `add-package`).
    pub scratch_dir: Option<PathBuf>,
    /// Log directory (default `<scratch>/OfflineImageServicing/logs`).
    pub log_dir: Option<PathBuf>,
    /// Wait for another writer.
    pub wait: LockWait,
}

/// What a cleanup removed.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CleanupSummary {
    /// Superseded component versions removed (key forms).
    pub removed_components: Vec<String>,
    /// Superseded packages removed.
    pub removed_packages: Vec<String>,
    /// Packages made permanent (ResetBase).
    pub permanent_packages: Vec<String>,
    /// Other paths removed (pending deletes, reverse deltas, backups).
    pub removed_other: Vec<String>,
    /// Bytes of file data removed (each file counted once per name).
    pub removed_bytes: u64,
    /// Files removed.
    pub removed_files: u64,
}

/// What `cleanup-image` reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CleanupReport {
    /// The target, as messages name it (JSON: the fields of `image`).
    #[serde(skip)]
    pub target: String,
    /// The target in the shared JSON vocabulary (`wim`, `index`, `name`, `edition` or `dir`).
    #[serde(flatten)]
    pub image: super::TargetName,
    /// `/ResetBase` was given.
    pub reset_base: bool,
    /// What was removed.
    #[serde(flatten)]
    pub summary: CleanupSummary,
    /// Whether anything was written.
    pub committed: bool,
    /// The logs.
    pub log_dir: PathBuf,
}

/// Runs StartComponentCleanup (and ResetBase) on `target` and commits it.
pub fn cleanup_image(target: &Target, opts: &CleanupOptions, control: Control<'_>) -> Result<CleanupReport> {
    let mut ctx =
        RunContext::open("cleanup-image", &target.to_string(), opts.scratch_dir.as_deref(), opts.log_dir.as_deref())?;
    ctx.logs.detail.dism(&format!(
        "DISM.EXE: Executing command line: wimpatch cleanup-image {target} /StartComponentCleanup{}",
        if opts.reset_base { " /ResetBase" } else { "" }
    ));
    let (scratch, log_dir, logs) = (&ctx.scratch, ctx.log_dir.clone(), &mut ctx.logs);
    let result = (|| {
        let mut svc = Servicing::open(target, false, opts.wait, scratch.path().to_path_buf(), control)?;
        let summary = plan_cleanup(&mut svc, opts.reset_base, logs)?;
        let label = svc.label.clone();
        let image = svc.session.target_name();
        let committed = svc.has_changes();
        if committed {
            svc.finish(Finish::Append, control)?;
        }
        Ok(CleanupReport {
            target: label,
            image,
            reset_base: opts.reset_base,
            summary,
            committed,
            log_dir: log_dir.clone(),
        })
    })();
    match &result {
        Ok(r) => logs.detail.dism(&format!(
            "DISM.EXE: cleanup done: {} component version(s), {} package(s) removed, {} made permanent",
            r.summary.removed_components.len(),
            r.summary.removed_packages.len(),
            r.summary.permanent_packages.len()
        )),
        Err(e) => {
            logs.manager.error(&format!("Processing failed for image {target}: {e}; the image was not changed"));
            logs.detail.error(&format!("DISM.EXE: {e}"));
        }
    }
    if result.is_ok() {
        ctx.end("cleanup-image");
    }
    result
}

fn bytes_below(svc: &Servicing, path: &str) -> Result<(u64, u64)> {
    Ok(svc
        .session
        .walk(path)?
        .map_or((0, 0), |entries| entries.iter().filter(|e| !e.is_dir).fold((0, 0), |(n, b), e| (n + 1, b + e.size))))
}

/// Deletes `path` (a file or a whole folder), counting what goes.
fn remove_other(svc: &mut Servicing, summary: &mut CleanupSummary, path: String) -> Result<()> {
    let (files, bytes) = bytes_below(svc, &path)?;
    summary.removed_files += files;
    summary.removed_bytes += bytes;
    svc.deletes.push(path.clone());
    summary.removed_other.push(path);
    Ok(())
}

/// Deletes everything inside the folder `dir`, keeping the folder.
fn remove_children(svc: &mut Servicing, summary: &mut CleanupSummary, dir: &str) -> Result<()> {
    for c in svc.session.children(dir)?.unwrap_or_default() {
        remove_other(svc, summary, format!("{dir}/{c}"))?;
    }
    Ok(())
}

/// Where Windows keeps the component store's cleanup settings (`modern-lcu.md` §10 item 54).
const SXS_CONFIGURATION: &str = r"Microsoft\Windows\CurrentVersion\SideBySide\Configuration";

/// `DisableResetbase = 1` (W10UI sets it on builds where a base reset breaks later cumulative
/// updates): refused, as the image's owner asked, before anything is planned.
fn refuse_disabled_reset_base(svc: &Servicing) -> Result<()> {
    let err = Error::hive(svc.software_path.clone());
    let Some(key) = svc.software.lookup(SXS_CONFIGURATION).map_err(err)? else { return Ok(()) };
    let value = svc.software.value(key, "DisableResetbase").map_err(Error::hive(svc.software_path.clone()))?;
    if value.and_then(|v| v.as_u32()) == Some(1) {
        return Err(Error::ResetBaseDisabled { target: svc.label.clone() });
    }
    Ok(())
}

/// `SideBySide\Configuration\SupersededActions`, when the image sets it.
///
/// What Windows does with each value is not public (`modern-lcu.md` §10 item 54: W10UI writes 0 for
/// its plain cleanup mode and 1 for its rebase mode, 3 on 18362+). wimpatch reads bit 0 as "act on
/// superseded component versions": 0 keeps them through /StartComponentCleanup (updates stay
/// uninstallable, as that W10UI mode intends), 1 or 3 remove them — which is also what happens
/// when the value is absent, as DISM's documented /StartComponentCleanup removes previous versions
/// at once. /ResetBase removes every superseded version whatever the value.
fn superseded_actions(svc: &Servicing) -> Result<Option<u32>> {
    let err = Error::hive(svc.software_path.clone());
    let Some(key) = svc.software.lookup(SXS_CONFIGURATION).map_err(err)? else { return Ok(None) };
    let value = svc.software.value(key, "SupersededActions").map_err(Error::hive(svc.software_path.clone()))?;
    Ok(value.and_then(|v| v.as_u32()))
}

/// Plans the cleanup into `svc` (deletions and hive edits), without committing.
pub(crate) fn plan_cleanup(svc: &mut Servicing, reset_base: bool, logs: &mut ServicingLogs) -> Result<CleanupSummary> {
    // Pending operations: DISM refuses too (they need the image to boot once).
    let mut pending = Vec::new();
    if svc.session.children("/Windows/WinSxS")?.is_some_and(|c| c.iter().any(|n| n.eq_ignore_ascii_case("pending.xml")))
    {
        pending.push(r"Windows\WinSxS\pending.xml".to_owned());
    }
    pending.extend(
        super::state::pending_keys(&svc.software, &svc.software_path)?.into_iter().map(|k| format!(r"{CBS_KEY}\{k}")),
    );
    if !pending.is_empty() {
        return Err(Error::PendingOperations { target: svc.label.clone(), what: pending.join(", ") });
    }

    if reset_base {
        refuse_disabled_reset_base(svc)?;
    }
    let mut summary = CleanupSummary::default();
    let err = Error::hive;

    // Superseded component versions: removed unless the image's `SupersededActions` is 0 (see
    // `superseded_actions`); /ResetBase removes them whatever it says.
    let actions = superseded_actions(svc)?;
    let remove_versions = reset_base || actions.is_none_or(|a| a & 1 != 0);
    if let Some(a) = actions {
        logs.detail.cbs(&format!(
            "SupersededActions = {a}: superseded component versions are {}",
            if remove_versions { "removed" } else { "kept (only /ResetBase removes them)" }
        ));
    }
    let superseded_versions = if remove_versions { svc.state.inventory.superseded() } else { Vec::new() };
    for kf in superseded_versions {
        let dir = format!("/Windows/WinSxS/{kf}");
        let (files, bytes) = bytes_below(svc, &dir)?;
        summary.removed_files += files;
        summary.removed_bytes += bytes;
        svc.deletes.push(dir);
        svc.deletes.push(format!("/Windows/WinSxS/Manifests/{kf}.manifest"));
        if let Some((hive, path)) = svc.components.as_mut() {
            if let Some(node) = hive.lookup(&format!(r"DerivedData\Components\{kf}")).map_err(err(path.clone()))? {
                hive.delete_child(node).map_err(err(path.clone()))?;
                svc.hives_changed = true;
            }
        }
        logs.detail.csi(&format!("Removing superseded component {kf} ({files} files, {bytes} bytes)"));
        svc.state.inventory.remove(&kf);
        summary.removed_components.push(kf);
    }

    // Packages in the Superseded state.
    let store = svc.software.lookup(CBS_PACKAGES).map_err(err(svc.software_path.clone()))?;
    let superseded: Vec<_> =
        svc.state.packages.iter().filter(|p| p.state == PackageState::Superseded).map(|p| p.identity.clone()).collect();
    for id in &superseded {
        let name = id.to_string();
        svc.deletes.push(format!("{PACKAGES_DIR}/{name}.mum"));
        svc.deletes.push(format!("{PACKAGES_DIR}/{name}.cat"));
        if let Some(store) = store {
            if let Some(key) = svc.software.child(store, &name).map_err(err(svc.software_path.clone()))? {
                svc.software.delete_child(key).map_err(err(svc.software_path.clone()))?;
                svc.hives_changed = true;
            }
        }
        logs.detail.cbs(&format!("Removing superseded package {name}"));
        summary.removed_packages.push(name);
    }
    svc.state.packages.retain(|p| p.state != PackageState::Superseded);

    // Pending deletes left by online servicing.
    remove_children(svc, &mut summary, "/Windows/WinSxS/Temp/PendingDeletes")?;

    if reset_base {
        // Backups: what uninstalling would have needed. The differentials of the versions that
        // stay (`<key-form>\r`, `\f`, `\n`) are kept: the next cumulative update is hydrated from
        // them (modern-lcu.md §10 item 55); the superseded versions' went with their folders above.
        remove_children(svc, &mut summary, "/Windows/WinSxS/Backup")?;
        // Every installed package becomes permanent.
        let permanent = PackageState::Permanent.as_u32();
        if let Some(store) = store {
            for p in svc.state.packages.iter_mut().filter(|p| p.state == PackageState::Installed) {
                let name = p.identity.to_string();
                if let Some(key) = svc.software.child(store, &name).map_err(err(svc.software_path.clone()))? {
                    svc.software
                        .set_value(key, "CurrentState", &Value::Dword(permanent))
                        .map_err(err(svc.software_path.clone()))?;
                    svc.hives_changed = true;
                }
                p.state = PackageState::Permanent;
                summary.permanent_packages.push(name);
            }
        }
        let c = civil_from_unix(now_unix());
        let stamp = format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", c.year, c.month, c.day, c.hour, c.minute, c.second);
        let key = svc.software.ensure_path(CBS_KEY).map_err(err(svc.software_path.clone()))?;
        svc.software.set_value(key, "LastResetBase_UTC", &Value::Sz(stamp)).map_err(err(svc.software_path.clone()))?;
        svc.hives_changed = true;
        logs.detail.cbs(&format!("ResetBase: {} package(s) made permanent", summary.permanent_packages.len()));
    }
    Ok(summary)
}
