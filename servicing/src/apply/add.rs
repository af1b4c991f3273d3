//! `add-package`: loads every input through the package model, orders the packages (servicing stack
//! first, checkpoints in order), judges each against the image, stages and registers the applicable
//! ones, and commits once. Shared with `service`, which runs [`apply_inputs`] inside its own session.

use std::path::PathBuf;

use cbs::package::{OpenOptions, Opened, Package};
use cbs::rules;

use super::hydrate;
use super::inventory::parse_key_form;
use super::plan::{self, Decision};
use super::run_context::RunContext;
use super::scratch::Scratch;
use super::session::{Finish, Servicing};
use super::state::{self, ImageState};
use super::{
    registry, registry_values, stage, AddOptions, AddReport, Error, Outcome, PackageOutcome, Result, SkippedSubPackage,
    Target, INSTALL_CLIENT, NOT_SUPPORTED_MESSAGE,
};
use crate::log::{filetime_from_unix, now_unix, ServicingLogs};
use crate::progress::Control;

/// Applies `inputs` (package files, package folders, or folders of packages) to `target`.
pub fn add_packages(target: &Target, inputs: &[PathBuf], opts: &AddOptions, control: Control<'_>) -> Result<AddReport> {
    let mut ctx =
        RunContext::open("add-package", &target.to_string(), opts.scratch_dir.as_deref(), opts.log_dir.as_deref())?;
    ctx.logs.detail.dism(&format!(
        "DISM.EXE: Executing command line: wimpatch add-package {target} {}{}",
        inputs.iter().map(|p| format!("/PackagePath:{}", p.display())).collect::<Vec<_>>().join(" "),
        if opts.dry_run { " (dry run)" } else { "" }
    ));
    let result = run(target, inputs, opts, control, &ctx.scratch, &mut ctx.logs);
    match &result {
        Ok(r) => {
            let installed = r.packages.iter().filter(|p| p.outcome == Outcome::Installed).count();
            ctx.logs.manager.info(&format!(
                "Processing completed for image {target}: {installed} update(s) applied, committed: {}",
                r.committed
            ));
            ctx.end("add-package");
        }
        Err(e) => {
            ctx.logs.manager.error(&format!("Processing failed for image {target}: {e}; the image was not changed"));
            ctx.logs.detail.error(&format!("DISM.EXE: {e}"));
        }
    }
    result.map(|mut r| {
        r.log_dir = ctx.log_dir.clone();
        r.scratch_warning = ctx.scratch_warning.clone();
        r
    })
}

fn route(logs: &mut ServicingLogs, lines: Vec<String>) {
    for line in lines {
        match line.strip_prefix("CSI: ") {
            Some(rest) => logs.detail.csi(rest),
            None => logs.detail.cbs(&line),
        }
    }
}

fn run(
    target: &Target,
    inputs: &[PathBuf],
    opts: &AddOptions,
    control: Control<'_>,
    scratch: &Scratch,
    logs: &mut ServicingLogs,
) -> Result<AddReport> {
    let files = cbs::package::expand_inputs(inputs)?;
    no_packages_is_an_error(inputs, &files)?;
    let mut svc = Servicing::open(target, opts.dry_run, opts.wait, scratch.path().to_path_buf(), control)?;
    let label = svc.label.clone();
    let image = svc.session.target_name();
    let (outcomes, superseded) = apply_inputs(&mut svc, &files, opts, control, logs)?;
    let mut committed = false;
    if !opts.dry_run && svc.has_changes() {
        logs.detail.dism(&format!("DISM.EXE: committing {} package(s) to {label}", svc.stages.len()));
        svc.finish(Finish::Append, control)?;
        committed = true;
    }
    Ok(AddReport {
        target: label,
        image,
        dry_run: opts.dry_run,
        committed,
        packages: outcomes,
        superseded,
        log_dir: PathBuf::new(),
        scratch_warning: None,
    })
}

/// Loads, orders, judges, stages and registers `files` in `svc`, without committing. Returns one
/// outcome per package and the packages set to Superseded.
pub(crate) fn apply_inputs(
    svc: &mut Servicing,
    files: &[PathBuf],
    opts: &AddOptions,
    control: Control<'_>,
    logs: &mut ServicingLogs,
) -> Result<(Vec<PackageOutcome>, Vec<String>)> {
    let label = svc.label.clone();
    let work = svc.work.clone();
    logs.detail.cbs(&format!(
        "Image {label}: architecture {}, {} packages, {} component versions",
        svc.state.arch,
        svc.state.packages.len(),
        svc.state.inventory.len()
    ));
    // Load every input.
    let mut outcomes: Vec<PackageOutcome> = Vec::new();
    let mut units: Vec<Package> = Vec::new();
    // WIM-format MSUs (and LCU `.wim` packages) are read through the engine's WIM reader.
    let opener = crate::wim::package_content_opener(Some(work.clone()));
    let open = OpenOptions { limits: opts.limits, scratch: Some(&work), wim: Some(&opener) };
    for file in files {
        let shown = file.display().to_string();
        match cbs::package::open_packages(file, open).map_err(Error::from) {
            Ok(Opened::Packages { packages, skipped }) => {
                for (member, why) in skipped {
                    logs.manager.info(&format!("Skipping {member}: {why}, not for the OS image"));
                    logs.detail.cbs(&format!("{member}: skipped: {why}, not for the OS image"));
                }
                units.extend(packages);
            }
            Ok(Opened::Unsupported(reason)) => {
                logs.manager.warn(NOT_SUPPORTED_MESSAGE);
                logs.manager.warn(&format!("Update binary {shown} is not a CBS package: {reason}"));
                // The same severity as the OfflineServicingMgr.log lines above (and the site's).
                logs.detail.warning(&format!("{shown}: not a CBS package: {reason}"));
                if !opts.continue_on_error {
                    return Err(Error::NotSupported { package: shown, reason });
                }
                tracing::warn!("{shown}: not a CBS package ({reason}); skipped");
                outcomes.push(PackageOutcome::new(shown, None, None, Outcome::NotSupported, Some(reason)));
            }
            Err(e) => {
                logs.manager.error(&format!("Failed to read update binary {shown}: {e}"));
                if !opts.continue_on_error {
                    return Err(e);
                }
                outcomes.push(PackageOutcome::new(shown, None, None, Outcome::Failed, Some(e.to_string())));
            }
        }
    }

    // Servicing stacks first, checkpoints in version order; a package given twice in one run at two
    // versions only goes in at the higher one (checkpoints excepted: each is a step of the chain).
    let order = rules::order_for_install(&units.iter().map(|u| u.top.clone()).collect::<Vec<_>>());
    let mut ordered: Vec<Option<Package>> = units.into_iter().map(Some).collect();
    let tops: Vec<(cbs::PackageIdentity, bool)> =
        ordered.iter().flatten().map(|u| (u.top_id.clone(), u.top.mentions_baseline)).collect();

    let filetime = filetime_from_unix(now_unix());
    let mut superseded_all = Vec::new();
    for (n, idx) in order.into_iter().enumerate() {
        let Some(mut unit) = ordered[idx].take() else { continue };
        if control.cancelled() {
            return Err(Error::Cancelled { target: label });
        }
        let kb = unit.kb.clone().unwrap_or_else(|| unit.top_id.name.clone());
        let id_text = unit.top_id.to_string();
        let mut out =
            PackageOutcome::new(unit.label.clone(), Some(id_text.clone()), unit.kb.clone(), Outcome::Failed, None);
        if !unit.top.mentions_baseline {
            if let Some((newer, _)) = tops.iter().find(|(other, baseline)| {
                !baseline && rules::family(other) == rules::family(&unit.top_id) && other.version > unit.top_id.version
            }) {
                let why = format!("superseded by {newer}, given in the same run");
                logs.manager.info(&format!("Update {kb} ({}) is skipped: {why}", unit.label));
                out.outcome = Outcome::Superseded;
                out.reason = Some(why);
                outcomes.push(out);
                continue;
            }
        }
        logs.manager.info(&format!("Applying update {kb} ({}) to image {label}", unit.label));
        let mut lines = Vec::new();
        let decision = plan::evaluate(&unit, &svc.state, &mut lines);
        route(logs, std::mem::take(&mut lines));
        let decision = match decision {
            Ok(d) => d,
            Err(e) => {
                failed(logs, opts, &kb, out, e, &mut outcomes)?;
                continue;
            }
        };
        let (outcome, why) = match decision {
            Decision::Install(plan) => (Outcome::Installed, Ok(plan)),
            Decision::AlreadyInstalled(why) => (Outcome::AlreadyInstalled, Err(why)),
            Decision::Superseded(why) => (Outcome::Superseded, Err(why)),
            Decision::NotApplicable(why) => (Outcome::NotApplicable, Err(why)),
        };
        let plan = match why {
            Ok(plan) => plan,
            Err(why) => {
                logs.manager.info(&format!("Update {kb} ({}) is skipped: {why}", unit.label));
                out.outcome = outcome;
                out.reason = Some(why);
                outcomes.push(out);
                continue;
            }
        };
        out.packages = plan.packages.iter().map(|p| p.identity.to_string()).collect();
        out.components = plan.components.iter().map(|c| c.key_form.clone()).collect();
        out.skipped_sub_packages = plan
            .skipped
            .iter()
            .map(|(identity, reason)| SkippedSubPackage { identity: identity.clone(), reason: reason.clone() })
            .collect();

        // Registry data is mapped and decoded before anything is staged: a refused key or a
        // malformed value fails the package with nothing written.
        let windir = opts.windir.as_deref().unwrap_or(cbs::runtime::DEFAULT_WINDIR);
        let registry_keys = registry_values::prepare(&unit, &plan, &svc.state, windir, &mut lines);
        route(logs, std::mem::take(&mut lines));
        let registry_keys = match registry_keys {
            Ok(k) => k,
            Err(e) => {
                failed(logs, opts, &kb, out, e, &mut outcomes)?;
                continue;
            }
        };
        out.registry_values = registry_keys.iter().map(|k| k.values.len() as u64).sum();

        if opts.dry_run {
            simulate(&mut svc.state, &plan, filetime);
            out.outcome = Outcome::WouldInstall;
            logs.manager.info(&format!("Update {kb} would be applied (dry run)"));
            outcomes.push(out);
            continue;
        }

        let stage_root = work.join(format!("stage-{n}"));
        let mut image = hydrate::ImageFiles {
            session: &mut svc.session,
            stages: &svc.stages,
            inventory: &svc.state.inventory,
            into: work.join(format!("base-{n}")),
            control,
        };
        let staged = stage::stage(&mut unit, &plan, &stage_root, &work, &mut image, &mut lines);
        route(logs, std::mem::take(&mut lines));
        let stats = match staged {
            Ok(s) => s,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&stage_root);
                failed(logs, opts, &kb, out, e, &mut outcomes)?;
                continue;
            }
        };
        out.files = stats.files;
        out.bytes = stats.bytes;

        // The registry: packages, supersedence, components.
        let location = format!(r"\\?\{}", unit.input.display());
        registry::register(&mut svc.software, &svc.software_path, &plan, &location, filetime, &mut svc.state)?;
        let installed_now: Vec<_> = plan.packages.iter().map(|p| p.identity.clone()).collect();
        let superseded = registry::supersede(&mut svc.software, &svc.software_path, &installed_now, &mut svc.state)?;
        for s in &superseded {
            logs.detail.cbs(&format!("Package {s} is now Superseded (0x50)"));
        }
        superseded_all.extend(superseded.iter().map(ToString::to_string));
        if let Some((hive, path)) = svc.components.as_mut() {
            registry::record_components(hive, path, &unit, &plan)?;
        }
        // The components' own registry data, in the same hive edit.
        let written = registry_values::apply(svc, &registry_keys, control, &mut lines);
        route(logs, std::mem::take(&mut lines));
        out.registry_values = written? as u64;
        svc.hives_changed = true;
        for c in &plan.components {
            if let Some(k) = parse_key_form(&c.key_form) {
                svc.state.inventory.insert(k);
            }
        }
        for p in &plan.packages {
            logs.detail.cbs(&format!("Package {} registered: CurrentState 0x70 (Installed)", p.identity));
        }
        logs.manager.info(&format!(
            "Update {kb} was applied successfully: {} package(s), {} component(s), {} file(s) verified, {} registry \
             value(s) written",
            plan.packages.len(),
            plan.components.len(),
            stats.files,
            out.registry_values
        ));
        out.outcome = Outcome::Installed;
        svc.stages.push(stage_root);
        // A cumulative update's version is `<build>.<UBR>.x.y`: the image is now at that revision.
        let v = unit.top_id.version;
        let build = svc.session.image_info().and_then(|i| i.build);
        if unit.top_id.name.eq_ignore_ascii_case("Package_for_RollupFix")
            && build.is_none_or(|b| b == u32::from(v.major()))
            && svc.new_ubr.is_none_or(|u| u < v.minor())
        {
            svc.new_ubr = Some(v.minor());
        }
        outcomes.push(out);
    }

    Ok((outcomes, superseded_all))
}

/// `--package-path` naming only empty folders is a mistake (DISM fails too), not a successful no-op.
pub(crate) fn no_packages_is_an_error(inputs: &[PathBuf], files: &[PathBuf]) -> Result<()> {
    match (files.is_empty(), inputs.first()) {
        (true, Some(first)) => Err(Error::BadInput {
            path: first.clone(),
            reason: "no update packages found (.cab, .msu, or package folders holding update.mum)".into(),
        }),
        _ => Ok(()),
    }
}

/// A package failed: log it; stop the run (nothing committed) unless `--continue-on-error`, in which
/// case record the failure and go on.
fn failed(
    logs: &mut ServicingLogs,
    opts: &AddOptions,
    kb: &str,
    mut out: PackageOutcome,
    e: Error,
    outcomes: &mut Vec<PackageOutcome>,
) -> Result<()> {
    logs.manager.error(&format!("Failed to apply update {kb} ({}): {e}", out.input));
    if !opts.continue_on_error {
        return Err(e);
    }
    out.outcome = Outcome::Failed;
    out.reason = Some(e.to_string());
    outcomes.push(out);
    Ok(())
}

/// For `--dry-run`: update the in-memory state as an install would, so later packages of the run
/// (a checkpoint chain) are judged as they would be for real.
fn simulate(state: &mut ImageState, plan: &plan::InstallPlan, filetime: u64) {
    for p in &plan.packages {
        state.packages.push(state::InstalledPackage {
            identity: p.identity.clone(),
            state: cbs::rules::PackageState::Installed,
            visibility: Some(p.visibility),
            install_time: Some(filetime),
            install_client: Some(INSTALL_CLIENT.into()),
            install_location: None,
            owners: Vec::new(),
        });
    }
    for c in &plan.components {
        if let Some(k) = parse_key_form(&c.key_form) {
            state.inventory.insert(k);
        }
    }
}
