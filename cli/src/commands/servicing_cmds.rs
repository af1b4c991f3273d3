//! The package-servicing verbs: `add-package`, `get-packages`, `cleanup-image` and `service`.

use std::fmt::Write as _;

use anyhow::Result;
use servicing::apply::{self, AddOptions, CleanupOptions, GetOptions, Outcome, PackageOutcome, ServiceRequest, Target};

use super::Ctx;
use crate::args::{AddPackageArgs, CleanupArgs, GetPackagesArgs, ServiceArgs, TargetArgs};
use crate::output::size;

/// Returned when `--continue-on-error` let a run finish with some packages applied and others failed
/// or not supported: the CLI exits with status 3.
#[derive(Debug)]
pub struct PartialSuccess {
    pub failed: usize,
    pub applied: usize,
}

impl std::fmt::Display for PartialSuccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} package(s) failed or were not supported; {} package(s) were applied (exit status 3: partial success)",
            self.failed, self.applied
        )
    }
}

impl std::error::Error for PartialSuccess {}

fn target(a: &TargetArgs) -> Target {
    match (&a.image, &a.index, &a.dir) {
        (Some(wim), Some(index), _) => Target::Image { wim: wim.clone(), image: index.clone() },
        (_, _, Some(dir)) => Target::Directory(dir.clone()),
        // clap's argument group makes one of the two forms required.
        _ => Target::Directory(std::path::PathBuf::from(".")),
    }
}

pub fn add_package(ctx: &Ctx, a: AddPackageArgs) -> Result<()> {
    let opts = AddOptions {
        continue_on_error: a.continue_on_error,
        dry_run: a.dry_run,
        scratch_dir: ctx.engine_scratch()?,
        log_dir: a.log_dir,
        wait: ctx.lock_wait(),
        limits: Default::default(),
        windir: a.windir,
    };
    let report = apply::add_packages(&target(&a.target), &a.package_path, &opts, ctx.control())?;
    ctx.print(&report, || {
        let mut s = package_lines(&report.packages);
        for sup in &report.superseded {
            let _ = writeln!(s, "superseded         {sup}");
        }
        let _ = writeln!(
            s,
            "{}. Logs: {}",
            if report.dry_run {
                "Dry run: nothing was changed"
            } else if report.committed {
                "Committed"
            } else {
                "Nothing to commit: the image is unchanged"
            },
            report.log_dir.display()
        );
        s
    })?;
    exit_status(&report.packages)
}

/// The exit status of a run, as DISM's would be: 0 when every package was installed, already
/// installed or superseded; 3 when some were applied and others failed or are not supported
/// (`--continue-on-error`); 1 when none was applied because they failed, and 1 with DISM's
/// 0x800f081e when nothing applies to the image at all.
fn exit_status(packages: &[PackageOutcome]) -> Result<()> {
    let count = |f: &dyn Fn(Outcome) -> bool| packages.iter().filter(|p| f(p.outcome)).count();
    let failed = count(&|o| matches!(o, Outcome::Failed | Outcome::NotSupported));
    let applied = count(&|o| matches!(o, Outcome::Installed | Outcome::WouldInstall));
    let nothing_to_do = count(&|o| matches!(o, Outcome::AlreadyInstalled | Outcome::Superseded));
    let not_applicable = count(&|o| o == Outcome::NotApplicable);
    if failed > 0 && applied > 0 {
        return Err(PartialSuccess { failed, applied }.into());
    }
    if failed > 0 {
        return Err(super::Kinded::new(
            "no_package_applied",
            format!(
                "no package was applied: {failed} failed or were not supported (see above); the image is unchanged"
            ),
        )
        .into());
    }
    if applied == 0 && nothing_to_do == 0 && not_applicable > 0 {
        return Err(super::Kinded::new(
            "not_applicable",
            "0x800f081e (CBS_E_NOT_APPLICABLE): no package is applicable to this image (the reasons are above); the image is unchanged",
        )
        .into());
    }
    Ok(())
}

fn package_lines(packages: &[PackageOutcome]) -> String {
    let mut s = String::new();
    for p in packages {
        let name = p.identity.as_deref().unwrap_or(&p.input);
        let kb = p.kb.as_deref().map(|k| format!(" ({k})")).unwrap_or_default();
        let _ = write!(s, "{:<18} {name}{kb}", p.outcome.label());
        if let Some(r) = &p.reason {
            let _ = write!(s, ": {r}");
        }
        if matches!(p.outcome, Outcome::Installed | Outcome::WouldInstall) {
            let _ = write!(
                s,
                " [{} package(s), {} component(s), {} file(s) verified]",
                p.packages.len(),
                p.components.len(),
                p.files
            );
        }
        s.push('\n');
    }
    s
}

pub fn get_packages(ctx: &Ctx, a: GetPackagesArgs) -> Result<()> {
    let opts = GetOptions { all: a.all, scratch_dir: ctx.engine_scratch()?, components: a.components };
    let rows = apply::get_packages(&target(&a.target), &opts, ctx.control())?;
    ctx.print(&rows, || {
        let mut s = String::new();
        for r in &rows {
            let _ = writeln!(s, "Package Identity : {}", r.identity);
            let _ = writeln!(s, "State : {}", r.state);
            let _ = writeln!(s, "Release Type : {}", r.release_type.as_deref().unwrap_or("-"));
            let _ = writeln!(s, "KB : {}", r.kb.as_deref().unwrap_or("-"));
            let _ = writeln!(s, "Install Time : {}", r.install_time.as_deref().unwrap_or("-"));
            s.push('\n');
        }
        let _ = writeln!(s, "{} package(s).", rows.len());
        s
    })
}

pub fn cleanup_image(ctx: &Ctx, a: CleanupArgs) -> Result<()> {
    let target = target(&a.target);
    if a.analyze_component_store {
        let r = apply::analyze_component_store(&target, ctx.engine_scratch()?, ctx.control())?;
        return ctx.print(&r, || {
            format!(
                "Component Store (WinSxS) information of {}:\n\n\
                 Windows Explorer Reported Size of Component Store : {}\n\n\
                 Actual Size of Component Store : {}\n\n\
                 \x20   Shared with Windows : {}\n\
                 \x20   Backups and Disabled Features : {}\n\
                 \x20   Cache and Temporary Data : {}\n\n\
                 Date of Last Cleanup : {}\n\n\
                 Number of Reclaimable Packages : {}\n\
                 Superseded component versions : {}\n\
                 Component Store Cleanup Recommended : {}\n",
                r.target,
                size(r.explorer_size),
                size(r.actual_size),
                size(r.shared_with_windows),
                size(r.backups_and_disabled_features),
                size(r.cache_and_temporary_data),
                r.last_cleanup.as_deref().unwrap_or("never"),
                r.reclaimable_packages,
                r.superseded_components,
                if r.cleanup_recommended { "Yes" } else { "No" }
            )
        });
    }
    let opts = CleanupOptions {
        reset_base: a.reset_base,
        scratch_dir: ctx.engine_scratch()?,
        log_dir: a.log_dir,
        wait: ctx.lock_wait(),
    };
    let r = apply::cleanup_image(&target, &opts, ctx.control())?;
    ctx.print(&r, || {
        let mut s = String::new();
        // Hundreds of component versions go in a cleanup: listed with -v (and in dism.log, and
        // always in --json); the count below says how many.
        if ctx.global.verbose > 0 {
            for c in &r.summary.removed_components {
                let _ = writeln!(s, "removed component  {c}");
            }
        }
        for p in &r.summary.removed_packages {
            let _ = writeln!(s, "removed package    {p}");
        }
        let _ = writeln!(
            s,
            "{} component version(s) and {} package(s) removed ({} files, {}); {} package(s) made permanent. {}",
            r.summary.removed_components.len(),
            r.summary.removed_packages.len(),
            r.summary.removed_files,
            size(r.summary.removed_bytes),
            r.summary.permanent_packages.len(),
            if r.committed { "Committed." } else { "Nothing to do: the image is unchanged." }
        );
        s
    })
}

pub fn service(ctx: &Ctx, a: ServiceArgs) -> Result<()> {
    let req = ServiceRequest {
        wim: a.image,
        image: a.index,
        packages: a.package_path,
        remove_superseded: a.remove_superseded,
        reduce_to: a.reduce_to,
        compression: a.compress,
        add: AddOptions {
            continue_on_error: a.continue_on_error,
            dry_run: false,
            scratch_dir: ctx.engine_scratch()?,
            log_dir: a.log_dir,
            wait: ctx.lock_wait(),
            limits: Default::default(),
            windir: None,
        },
    };
    let r = apply::service(&req, ctx.control())?;
    ctx.print(&r, || {
        let mut s = format!(
            "Image: {} index {} ({}, edition {})\n",
            r.wim.display(),
            r.index,
            r.name.as_deref().unwrap_or("unnamed"),
            r.edition.as_deref().unwrap_or("unknown")
        );
        s.push_str(&package_lines(&r.packages));
        if let Some(c) = &r.cleanup {
            let _ = writeln!(
                s,
                "cleanup: {} component version(s), {} package(s) removed; {} made permanent",
                c.removed_components.len(),
                c.removed_packages.len(),
                c.permanent_packages.len()
            );
        }
        let _ = writeln!(s, "size: {} -> {}", size(r.size_before), size(r.size_after));
        for p in &r.phases {
            let _ = writeln!(s, "  {:<12} {:.2} s", p.phase, p.seconds);
        }
        let _ = writeln!(s, "Logs: {}", r.log_dir.display());
        s
    })?;
    exit_status(&r.packages)
}
