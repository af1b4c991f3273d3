//! `wimpatch service`: ConfigMgr's scheduled offline servicing in one command — apply the packages,
//! then with `--remove-superseded` run StartComponentCleanup + ResetBase and write the image into a new
//! WIM that replaces the original (temp file + rename). Everything happens in one session on one WIM
//! handle, so nothing is committed unless every phase succeeds: a failed cleanup fails the run and the
//! original stays as it was (ConfigMgr's rule). `--reduce-to` keeps one index first (into a temp file
//! beside the WIM, renamed over it only at the very end).

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::cleanup::{plan_cleanup, CleanupSummary};
use super::error::{Error, Result};
use super::run_context::RunContext;
use super::scratch::Scratch;
use super::session::{Finish, Servicing};
use super::target::Target;
use super::{apply_inputs, AddOptions, PackageOutcome};
use crate::log::ServicingLogs;
use crate::progress::Control;
use crate::wim::{self, Compression, ImageRef, LockWait, OpenMode, Wim, WimLock, WriteOptions};

/// What `service` is asked to do.
#[derive(Debug, Clone)]
pub struct ServiceRequest {
    /// The WIM.
    pub wim: PathBuf,
    /// The image to service (ignored with `reduce_to`, which picks it). `None`: the only image of a
    /// one-image WIM; a multi-image WIM is refused ([`Error::NeedsIndex`]).
    pub image: Option<ImageRef>,
    /// Packages (files or folders).
    pub packages: Vec<PathBuf>,
    /// Cleanup + ResetBase + export after applying.
    pub remove_superseded: bool,
    /// Keep only this image first.
    pub reduce_to: Option<ImageRef>,
    /// Output compression of the rewritten WIM.
    pub compression: Option<Compression>,
    /// Options of the package phase (continue-on-error, scratch, logs, lock wait, limits).
    pub add: AddOptions,
}

/// Time spent in one phase.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PhaseTime {
    /// `reduce`, `read state`, `apply`, `cleanup`, `commit` or `export`.
    pub phase: &'static str,
    /// Seconds.
    pub seconds: f64,
}

/// What `service` reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ServiceReport {
    /// The WIM.
    pub wim: PathBuf,
    /// The serviced image's index (after any reduce).
    pub index: u32,
    /// Its name (`NAME` in the WIM's XML).
    pub name: Option<String>,
    /// Its edition (`WINDOWS/EDITIONID`), e.g. `Professional`.
    pub edition: Option<String>,
    /// Per-package results.
    pub packages: Vec<PackageOutcome>,
    /// Packages set to Superseded by the new ones.
    pub superseded: Vec<String>,
    /// The cleanup (with `--remove-superseded`).
    pub cleanup: Option<CleanupSummary>,
    /// WIM size before, bytes.
    pub size_before: u64,
    /// WIM size after, bytes.
    pub size_after: u64,
    /// Whether the WIM was changed.
    pub committed: bool,
    /// Time per phase.
    pub phases: Vec<PhaseTime>,
    /// Where the logs are.
    pub log_dir: PathBuf,
}

fn size(p: &Path) -> Result<u64> {
    std::fs::metadata(p).map(|m| m.len()).map_err(Error::io(p, "cannot read file size"))
}

/// Runs the pipeline.
pub fn service(req: &ServiceRequest, control: Control<'_>) -> Result<ServiceReport> {
    let size_before = size(&req.wim)?;
    let mut ctx = RunContext::open(
        "service",
        &req.wim.display().to_string(),
        req.add.scratch_dir.as_deref(),
        req.add.log_dir.as_deref(),
    )?;
    let logs = &mut ctx.logs;
    let result = run(req, control, &ctx.scratch, logs, size_before);
    match &result {
        Ok(r) => logs.manager.info(&format!(
            "Processing completed for image {} index {} ({}, edition {}): size {} -> {} bytes, committed: {}",
            r.wim.display(),
            r.index,
            r.name.as_deref().unwrap_or("unnamed"),
            r.edition.as_deref().unwrap_or("unknown"),
            r.size_before,
            r.size_after,
            r.committed
        )),
        Err(e) => logs
            .manager
            .error(&format!("Processing failed for image {}: {e}; the image was not changed", req.wim.display())),
    }
    if result.is_ok() {
        ctx.end("service");
    }
    result.map(|mut r| {
        r.log_dir = ctx.log_dir.clone();
        r
    })
}

fn run(
    req: &ServiceRequest,
    control: Control<'_>,
    scratch: &Scratch,
    logs: &mut ServicingLogs,
    size_before: u64,
) -> Result<ServiceReport> {
    let mut phases = Vec::new();
    let mut clock = Instant::now();
    let mut lap = |phases: &mut Vec<PhaseTime>, phase: &'static str| {
        phases.push(PhaseTime { phase, seconds: clock.elapsed().as_secs_f64() });
        clock = Instant::now();
    };
    let files = cbs::package::expand_inputs(&req.packages)?;
    super::no_packages_is_an_error(&req.packages, &files)?;

    // The original stays locked for the whole run; with --reduce-to the work happens on a temp copy
    // holding only the kept image, renamed over the original at the end.
    let (work_wim, image, original_lock) = match &req.reduce_to {
        Some(keep) => {
            let lock = WimLock::acquire(&req.wim, req.add.wait)?;
            // Work copies of runs killed earlier (and their own temp files and locks).
            wim::sweep_stale(&req.wim);
            let src = Wim::open(&req.wim, OpenMode::ReadOnly)?;
            let index = src.resolve(keep)?;
            let info = src.info();
            let tmp = wim::temp_path_for(&req.wim);
            let tmp_lock = WimLock::acquire(&tmp, LockWait::NoWait)?;
            let mut out = Wim::create_new(info.compression.unwrap_or(Compression::Lzx), &tmp)?;
            src.export_to(index, &mut out, None, control)?;
            out.write_new(&tmp, &tmp_lock, WriteOptions::default(), control)?;
            drop(tmp_lock);
            logs.detail.dism(&format!("DISM.EXE: kept image {index} of {} in a work copy", req.wim.display()));
            lap(&mut phases, "reduce");
            (tmp, ImageRef::Index(1), Some(lock))
        }
        None => {
            let probe = Wim::open(&req.wim, OpenMode::ReadOnly)?;
            let count = probe.info().image_count;
            if req.remove_superseded && count > 1 {
                return Err(Error::NeedsSingleIndex { wim: req.wim.clone(), count });
            }
            let image = match &req.image {
                Some(image) => image.clone(),
                None if count <= 1 => ImageRef::Index(1),
                None => {
                    let images = (1..=count)
                        .map(|i| format!("{i}: {}", probe.property(i, "NAME").unwrap_or_else(|| "unnamed".into())))
                        .collect();
                    return Err(Error::NeedsIndex { wim: req.wim.clone(), count, images });
                }
            };
            (req.wim.clone(), image, None)
        }
    };
    // The serviced image by name and edition, for every report (text, JSON, logs).
    let (name, edition) = {
        let probe = Wim::open(&work_wim, OpenMode::ReadOnly)?;
        let index = probe.resolve(&image)?;
        (probe.property(index, "NAME"), probe.property(index, "WINDOWS/EDITIONID"))
    };
    let outcome = service_one(req, &work_wim, &image, &files, control, scratch, logs, &mut phases, &mut lap);
    let (index, packages, superseded, cleanup, committed) = match outcome {
        Ok(v) => v,
        Err(e) => {
            if original_lock.is_some() {
                let _ = std::fs::remove_file(&work_wim);
            }
            return Err(e);
        }
    };
    if let Some(lock) = original_lock {
        // Replace the original with the serviced one-image copy.
        safe_fs::rename(&work_wim, &req.wim).map_err(Error::io(&req.wim, "cannot replace the WIM"))?;
        if let Some(dir) = req.wim.parent() {
            let _ = std::fs::File::open(if dir.as_os_str().is_empty() { Path::new(".") } else { dir })
                .and_then(|d| d.sync_all());
        }
        drop(lock);
        lap(&mut phases, "replace");
    }
    Ok(ServiceReport {
        wim: req.wim.clone(),
        index,
        name,
        edition,
        packages,
        superseded,
        cleanup,
        size_before,
        size_after: size(&req.wim)?,
        committed: committed || req.reduce_to.is_some(),
        phases,
        log_dir: PathBuf::new(),
    })
}

type Served = (u32, Vec<PackageOutcome>, Vec<String>, Option<CleanupSummary>, bool);

#[allow(clippy::too_many_arguments)]
fn service_one(
    req: &ServiceRequest,
    wim: &Path,
    image: &ImageRef,
    files: &[PathBuf],
    control: Control<'_>,
    scratch: &Scratch,
    logs: &mut ServicingLogs,
    phases: &mut Vec<PhaseTime>,
    lap: &mut dyn FnMut(&mut Vec<PhaseTime>, &'static str),
) -> Result<Served> {
    let target = Target::Image { wim: wim.to_path_buf(), image: image.clone() };
    let mut svc = Servicing::open(&target, false, req.add.wait, scratch.path().to_path_buf(), control)?;
    let index = match &svc.session {
        super::target::Session::Image { index, .. } => *index,
        super::target::Session::Dir { .. } => 1,
    };
    lap(phases, "read state");
    let (packages, superseded) = apply_inputs(&mut svc, files, &req.add, control, logs)?;
    lap(phases, "apply");
    let cleanup = if req.remove_superseded {
        let summary = plan_cleanup(&mut svc, true, logs)?;
        lap(phases, "cleanup");
        Some(summary)
    } else {
        None
    };
    let rewrite = req.remove_superseded || req.compression.is_some();
    let committed = svc.has_changes() || rewrite;
    if committed {
        let how = if rewrite { Finish::Rewrite { compression: req.compression } } else { Finish::Append };
        svc.finish(how, control)?;
        lap(phases, if rewrite { "export" } else { "commit" });
    }
    Ok((index, packages, superseded, cleanup, committed))
}
