//! The package-servicing verbs: `add-package` and `get-packages`.

use std::fmt::Write as _;

use anyhow::Result;
use servicing::apply::{self, AddOptions, GetOptions, Outcome, Target};

use super::Ctx;
use crate::args::{AddPackageArgs, GetPackagesArgs, TargetArgs};

/// Returned when `--continue-on-error` let a run finish with some packages failed or not supported:
/// the CLI exits with status 3.
#[derive(Debug)]
pub struct PartialSuccess {
    pub failed: usize,
}

impl std::fmt::Display for PartialSuccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} package(s) failed or were not supported; the others were applied (exit status 3)", self.failed)
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
        scratch_dir: ctx.global.scratch_dir.clone(),
        log_dir: a.log_dir,
        wait: ctx.lock_wait(),
        limits: Default::default(),
    };
    let report = apply::add_packages(&target(&a.target), &a.package_path, &opts, ctx.control())?;
    ctx.print(&report, || {
        let mut s = String::new();
        for p in &report.packages {
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
    let failed =
        report.packages.iter().filter(|p| matches!(p.outcome, Outcome::Failed | Outcome::NotSupported)).count();
    if failed > 0 {
        return Err(PartialSuccess { failed }.into());
    }
    Ok(())
}

pub fn get_packages(ctx: &Ctx, a: GetPackagesArgs) -> Result<()> {
    let opts = GetOptions { all: a.all, scratch_dir: ctx.global.scratch_dir.clone() };
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
