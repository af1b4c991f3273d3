//! One servicing run, ConfigMgr's way: copy the image to a private work copy (verified), stage the
//! selected update binaries from the content library (each verified; a corrupt one fails that update
//! and is never applied), run the engine's `service` pipeline on the copy, then move the serviced
//! copy in as the next content version and record it, the per-update results and the installed
//! updates in one transaction. Until that transaction nothing the site serves has changed, so a
//! cancel, a failure or a kill at any earlier point leaves the image as it was.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::catalog::Update;
use super::content::{copy_hashed, sha256_file, sync_dir};
use super::dp::{self, DistributeReport};
use super::error::{Error, Result};
use super::images::{self, update_id_of, ImageRow, WimFacts};
use super::jobs::{self, JobUpdate};
use super::progress::{JobPhase, SiteEvent, SiteProgress};
use super::schedule::{Status, When};
use super::store::UpdateResult;
use super::store::{self, now, SqlResult, Tx};
use super::Site;
use crate::apply::{self, AddOptions, Outcome, ServiceRequest, NOT_SUPPORTED_MESSAGE};
use crate::log::{CmTraceLog, Severity, OFFLINE_SERVICING_COMPONENT, OFFLINE_SERVICING_LOG};
use crate::progress::{Control, Silent};
use crate::wim::{self, ImageRef, LockWait, WimLock};

/// What a run ended with.
#[derive(Debug, Clone, serde::Serialize)]
pub struct JobOutcome {
    /// The job.
    pub job: i64,
    /// The image.
    #[serde(rename = "image_id")]
    pub image: i64,
    /// Final status (`Scheduled` again when a runner shutdown interrupted it).
    pub status: Status,
    /// What happened.
    pub message: String,
    /// The image's content version after the run.
    pub content_version: i64,
    /// Per-update results.
    pub updates: Vec<JobUpdate>,
    /// The DP update, with `--update-dps`.
    pub distribution: Option<DistributeReport>,
    /// Where `OfflineServicingMgr.log` is.
    pub log: PathBuf,
}

/// Appends one line to the site's `OfflineServicingMgr.log`.
pub(crate) fn log_line(site: &Site, text: &str, error: bool) {
    log_entry(site, if error { Severity::Error } else { Severity::Info }, text);
}

/// One entry of the site's OfflineServicingMgr.log with the given severity.
pub(crate) fn log_entry(site: &Site, severity: Severity, text: &str) {
    let dir = site.log_dir();
    let _ = safe_fs::create_dir_all(&dir);
    match CmTraceLog::open(&dir.join(OFFLINE_SERVICING_LOG), OFFLINE_SERVICING_COMPONENT) {
        Ok(mut log) => log.write(severity, text),
        Err(e) => tracing::warn!(error = %e, "cannot open OfflineServicingMgr.log"),
    }
}

fn work_dir(site: &Site, job: i64) -> PathBuf {
    site.scratch_dir().join(format!("job-{job}"))
}

/// Removes a run's work folder and any version folder of the image that the database does not
/// know (a run killed between moving its result in and recording it).
pub(crate) fn sweep_job(site: &Site, job: i64, image: i64) -> Result<()> {
    let _ = std::fs::remove_dir_all(work_dir(site, job));
    let Ok(row) = images::get(site, image) else { return Ok(()) };
    let Some(key_dir) = row.path.parent().and_then(Path::parent) else { return Ok(()) };
    let known: Vec<PathBuf> =
        store::images::version_paths(&site.db, image).map_err(site.db.err())?.iter().map(|p| site.resolve(p)).collect();
    if let Ok(entries) = std::fs::read_dir(key_dir) {
        for e in entries.flatten() {
            let dir = e.path();
            if e.file_name().to_string_lossy().starts_with('v') && !known.iter().any(|k| k.starts_with(&dir)) {
                tracing::info!(dir = %dir.display(), "removing an unrecorded image version left by an interrupted run");
                let _ = std::fs::remove_dir_all(&dir);
            }
        }
    }
    Ok(())
}

/// After a run ends: a recurring schedule gets its next run; a one-off schedule is done.
pub(crate) fn schedule_next(tx: &Tx<'_>, job: i64, t: i64) -> SqlResult<()> {
    let (schedule, image, run_at) = store::jobs::schedule_of_job(tx, job)?;
    let when = When::from_stored(&schedule.kind, &schedule.spec).ok();
    let next = when.as_ref().and_then(|w| w.next_after(run_at.max(t)));
    match next {
        Some(next) if schedule.active => {
            if store::jobs::pending_runs(tx, schedule.id)? == 0 {
                store::jobs::insert_job(tx, schedule.id, image, next, t)?;
            }
        }
        _ => store::jobs::deactivate_schedule(tx, schedule.id)?,
    }
    Ok(())
}

struct JobInfo {
    image: i64,
    selection: Vec<String>,
    continue_on_error: bool,
    update_dps: bool,
    remove_superseded: bool,
    include_not_supported: bool,
}

type Results = Vec<(Update, UpdateResult, Option<String>)>;

enum Done {
    /// The run completed; `new` is the serviced copy when something was committed.
    Completed {
        results: Results,
        new: Option<PathBuf>,
    },
    Cancelled {
        results: Results,
    },
    Failed {
        results: Results,
        error: String,
    },
}

fn rank(o: Outcome) -> u8 {
    match o {
        Outcome::Installed => 6,
        Outcome::Failed => 5,
        Outcome::NotSupported => 4,
        Outcome::AlreadyInstalled => 3,
        Outcome::Superseded => 2,
        Outcome::NotApplicable | Outcome::WouldInstall => 1,
    }
}

fn result_word(o: Outcome) -> UpdateResult {
    match o {
        Outcome::Installed => UpdateResult::Applied,
        Outcome::NotSupported => UpdateResult::NotSupported,
        Outcome::Failed => UpdateResult::Failed,
        _ => UpdateResult::Skipped,
    }
}

/// Runs claimed job `job` (status In Process, lease held) to its end and records the outcome.
pub fn execute(
    site: &mut Site,
    job: i64,
    flag: &AtomicBool,
    stop: &AtomicBool,
    progress: &dyn SiteProgress,
) -> Result<JobOutcome> {
    let info = {
        let (schedule, image, _) = store::jobs::schedule_of_job(&site.db, job).map_err(site.db.err())?;
        JobInfo {
            image,
            selection: serde_json::from_str(&schedule.selection).unwrap_or_default(),
            continue_on_error: schedule.continue_on_error,
            update_dps: schedule.update_dps,
            remove_superseded: schedule.remove_superseded,
            include_not_supported: schedule.include_not_supported,
        }
    };
    let image = images::get(site, info.image)?;
    progress.site_event(&SiteEvent::JobStarted { job, image: image.id, name: &image.name });
    let control = Control { reporter: &Silent, cancel: flag };
    log_line(
        site,
        &format!(
            "Image info: Package id {}, Size {} KB, Image path '{}', Type: 'OS Image'",
            image.id,
            image.size / 1024,
            image.path.display()
        ),
        false,
    );
    log_line(
        site,
        &format!(
            "Servicing job {job} started for image {} ({}), content version {}: updates {}, continue on error {}, \
             remove superseded {}, update distribution points {}",
            image.id,
            image.name,
            image.content_version,
            info.selection.join(" "),
            info.continue_on_error,
            info.remove_superseded,
            info.update_dps
        ),
        false,
    );
    let done = match run_job(site, job, &info, &image, control, progress) {
        Ok(d) => d,
        Err(e) => Done::Failed { results: Vec::new(), error: e.to_string() },
    };
    let outcome = finish(site, job, &info, &image, done, flag, stop, progress);
    let _ = std::fs::remove_dir_all(work_dir(site, job));
    if let Err(e) = &outcome {
        // Recording failed part-way (the switch is the last transaction, so the image is as before):
        // close the run as Failed rather than leave it In Process.
        let message = format!("{e}; nothing was committed: the image is as before the run");
        log_line(site, &format!("Servicing job {job} for image {} failed: {message}", image.id), true);
        let t = now();
        let image_id = image.id;
        site.db.tx(|tx| {
            store::jobs::close(tx, job, Status::InProcess, Status::Failed, t, &message)?;
            store::runs::release_lease(tx, image_id, job)?;
            schedule_next(tx, job, t)
        })?;
    }
    let status = match &outcome {
        Ok(o) => o.status,
        Err(_) => Status::Failed,
    };
    progress.site_event(&SiteEvent::JobEnded { job, status });
    outcome
}

/// Takes the image's WIM lock, waiting (cancellably) while another writer holds it.
fn lock_image(
    site: &Site,
    job: i64,
    path: &Path,
    control: Control<'_>,
    progress: &dyn SiteProgress,
) -> Result<Option<WimLock>> {
    let mut told = false;
    loop {
        match WimLock::acquire(path, LockWait::NoWait) {
            Ok(lock) => return Ok(Some(lock)),
            Err(wim::Error::Locked { holder, .. }) => {
                if !told {
                    progress.site_event(&SiteEvent::JobPhase { job, phase: JobPhase::WaitingForLock });
                    log_line(
                        site,
                        &format!("Waiting for the image lock of '{}' held by {holder}", path.display()),
                        false,
                    );
                    told = true;
                }
                if control.cancelled() {
                    return Ok(None);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn run_job(
    site: &mut Site,
    job: i64,
    info: &JobInfo,
    image: &ImageRow,
    control: Control<'_>,
    progress: &dyn SiteProgress,
) -> Result<Done> {
    // Held until the run ends: no other writer changes the site's copy while it is read.
    let Some(_lock) = lock_image(site, job, &image.path, control, progress)? else {
        return Ok(Done::Cancelled { results: Vec::new() });
    };
    let updates = jobs::resolve(site, info.image, &info.selection, info.include_not_supported, control)?;
    let pending: Results = updates.iter().map(|u| (u.clone(), UpdateResult::Pending, None)).collect();
    site.db.tx(|tx| store::jobs::set_job_updates(tx, job, &pending))?;
    let mut results: Results = Vec::new();
    if control.cancelled() {
        return Ok(Done::Cancelled { results });
    }

    progress.site_event(&SiteEvent::JobPhase { job, phase: JobPhase::Staging });
    let work = work_dir(site, job);
    let _ = std::fs::remove_dir_all(&work);
    safe_fs::create_dir_all(&work).map_err(Error::io(&work, "cannot create the work folder"))?;
    let work_wim = work.join("install.wim");
    let (sha, _) = copy_hashed(&image.path, &work_wim)?;
    if sha != image.sha256 {
        return Err(Error::Mismatch {
            path: image.path.clone(),
            what: "copy",
            expected: image.sha256.clone(),
            actual: sha,
        });
    }

    // Stage the binaries; what is not a CBS package is logged as ConfigMgr logs it and left out.
    let stage = work.join("updates");
    let library = site.content();
    let mut files = Vec::new();
    for u in &updates {
        if !u.supported {
            let why = u.problem.clone().unwrap_or_else(|| "not a CBS package".into());
            // A warning, as add-package and service log it.
            log_entry(site, Severity::Warning, NOT_SUPPORTED_MESSAGE);
            log_entry(
                site,
                Severity::Warning,
                &format!("Update binary {} ({}) is not a CBS package: {why}", u.file_name, u.title),
            );
            results.push((u.clone(), UpdateResult::NotSupported, Some(why)));
            continue;
        }
        let dest = stage.join(u.id.to_string()).join(&u.file_name);
        match library.copy_verified(&u.sha256, &dest) {
            Ok(_) => files.push(dest),
            Err(e) => {
                log_line(
                    site,
                    &format!("Failed to stage update {} ({}): {e}", u.kb.as_deref().unwrap_or("-"), u.file_name),
                    true,
                );
                results.push((u.clone(), UpdateResult::Failed, Some(e.to_string())));
                if !info.continue_on_error {
                    return Ok(Done::Failed { results, error: e.to_string() });
                }
            }
        }
        if control.cancelled() {
            return Ok(Done::Cancelled { results });
        }
    }
    if files.is_empty() {
        return Ok(Done::Completed { results, new: None });
    }

    // The engine, once per index of the work copy (each call commits to the copy only).
    let mut best: HashMap<i64, (Outcome, Option<String>)> = HashMap::new();
    let mut committed = false;
    for index in 1..=image.indexes.max(1) {
        progress
            .site_event(&SiteEvent::JobPhase { job, phase: JobPhase::Servicing { index, of: image.indexes.max(1) } });
        let req = ServiceRequest {
            wim: work_wim.clone(),
            image: Some(ImageRef::Index(index)),
            packages: files.clone(),
            remove_superseded: info.remove_superseded,
            reduce_to: None,
            compression: None,
            add: AddOptions {
                continue_on_error: info.continue_on_error,
                dry_run: false,
                scratch_dir: Some(site.scratch_dir()),
                log_dir: Some(site.log_dir()),
                wait: LockWait::NoWait,
                limits: Default::default(),
                windir: None,
            },
        };
        let report = match apply::service(&req, control) {
            Ok(r) => r,
            Err(apply::Error::Cancelled { .. }) => return Ok(Done::Cancelled { results }),
            Err(e) if control.cancelled() => {
                tracing::info!(error = %e, "servicing stopped by a cancel");
                return Ok(Done::Cancelled { results });
            }
            Err(e) => return Ok(Done::Failed { results, error: e.to_string() }),
        };
        committed |= report.committed;
        for p in &report.packages {
            let Some(uid) = update_id_of(&p.input, &stage) else { continue };
            let entry = best.entry(uid).or_insert((p.outcome, p.reason.clone()));
            if rank(p.outcome) > rank(entry.0) {
                *entry = (p.outcome, p.reason.clone());
            }
        }
    }
    for u in &updates {
        if let Some((o, reason)) = best.get(&u.id) {
            results.push((u.clone(), result_word(*o), reason.clone()));
        }
    }
    if control.cancelled() {
        return Ok(Done::Cancelled { results });
    }
    Ok(Done::Completed { results, new: committed.then_some(work_wim) })
}

/// Records a run's end: the version switch (when the run committed), statuses, results, the lease.
#[allow(clippy::too_many_arguments)]
fn finish(
    site: &mut Site,
    job: i64,
    info: &JobInfo,
    image: &ImageRow,
    done: Done,
    flag: &AtomicBool,
    stop: &AtomicBool,
    progress: &dyn SiteProgress,
) -> Result<JobOutcome> {
    let t = now();
    let cancel_requested = store::jobs::cancel_requested(&site.db, job).map_err(site.db.err())?;
    let mut version = image.content_version;
    let (status, message, results, new) = match done {
        Done::Cancelled { results } if !cancel_requested && stop.load(Ordering::SeqCst) => (
            Status::Scheduled,
            "interrupted at a safe point by a runner shutdown; nothing was committed, and it runs again at the next start"
                .to_owned(),
            results,
            None,
        ),
        Done::Cancelled { results } => (
            Status::Cancelled,
            "cancelled at a safe point; nothing was committed: the image and the distribution points are as before".into(),
            results,
            None,
        ),
        Done::Failed { results, error } => (
            Status::Failed,
            format!("{error}; nothing was committed: the image is as before the run"),
            results,
            None,
        ),
        Done::Completed { results, new } => {
            let failed = results.iter().filter(|r| r.1 == UpdateResult::Failed).count();
            let applied = results.iter().filter(|r| r.1 == UpdateResult::Applied).count();
            let (status, mut message) = if failed > 0 {
                (Status::Failed, format!("{failed} update(s) failed (continue on error); {applied} applied"))
            } else {
                (Status::Successful, format!("{applied} update(s) applied"))
            };
            if new.is_some() {
                version += 1;
                message.push_str(&format!("; content version {version}"));
            } else {
                message.push_str("; nothing to commit, the content version is unchanged");
            }
            (status, message, results, new)
        }
    };

    // Move the serviced copy in under a version folder the database does not know yet; the
    // transaction below makes it current. A kill in between leaves an unrecorded folder, swept later.
    let mut switched: Option<(String, WimFacts)> = None;
    if let Some(work_wim) = &new {
        progress.site_event(&SiteEvent::JobPhase { job, phase: JobPhase::Committing });
        let key_dir = image.path.parent().and_then(Path::parent).expect("images/<key>/v<N>/install.wim");
        let key = key_dir.file_name().map(|k| k.to_string_lossy().into_owned()).unwrap_or_default();
        let rel = format!("images/{key}/v{version}/install.wim");
        let dest = site.resolve(&rel);
        let dir = dest.parent().expect("has a parent").to_path_buf();
        let _ = std::fs::remove_dir_all(&dir);
        safe_fs::create_dir_all(&dir).map_err(Error::io(&dir, "cannot create the version folder"))?;
        std::fs::File::open(work_wim).and_then(|f| f.sync_all()).map_err(Error::io(work_wim, "cannot sync"))?;
        safe_fs::rename(work_wim, &dest).map_err(Error::io(&dest, "cannot move the serviced image in"))?;
        sync_dir(&dir);
        let (sha, size) = sha256_file(&dest)?;
        let facts = images::read_facts(site, &dest, Some((sha, size)), Control::none())?;
        switched = Some((rel, facts));
    }

    let updates_rows = results;
    let outcome_status = status;
    let image_id = image.id;
    let recorded = site.db.tx(|tx| {
        if store::jobs::status(tx, job)? != Some(Status::InProcess) {
            // Another runner closed this run (our lease expired): its verdict stands.
            return Ok(false);
        }
        store::jobs::record_results(tx, job, &updates_rows)?;
        if outcome_status == Status::Scheduled {
            store::jobs::reset_results(tx, job)?;
            store::jobs::requeue(tx, job, &message)?;
            store::runs::release_lease(tx, image_id, job)?;
            return Ok(true);
        }
        store::jobs::resolve_results(
            tx,
            job,
            UpdateResult::Pending,
            UpdateResult::Skipped,
            Some("not run: the run ended before this update"),
        )?;
        if let Some((rel, facts)) = &switched {
            let v = store::images::NewVersion {
                version,
                path: rel,
                sha256: &facts.sha256,
                size: facts.size,
                job: Some(job),
            };
            store::images::switch_version(tx, image_id, &v, t)?;
            store::images::record_facts(tx, image_id, facts, Some(job))?;
            store::images::record_content_version(tx, image_id, version, facts, t, Some(job))?;
        }
        store::jobs::end(tx, job, outcome_status, t, &message, version)?;
        store::runs::release_lease(tx, image_id, job)?;
        schedule_next(tx, job, t)?;
        Ok(true)
    })?;
    if !recorded {
        if let Some((rel, _)) = &switched {
            if let Some(dir) = site.resolve(rel).parent() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
        let j = jobs::job(&site.db, job)?.expect("job exists");
        return Ok(JobOutcome {
            job,
            image: image_id,
            status: j.status,
            message: j.message.unwrap_or_default(),
            content_version: image.content_version,
            updates: j.updates,
            distribution: None,
            log: site.log_dir().join(OFFLINE_SERVICING_LOG),
        });
    }
    if switched.is_some() {
        prune_versions(site, image_id, version)?;
    }
    let severity_error = matches!(outcome_status, Status::Failed);
    log_line(site, &format!("Servicing job {job} for image {image_id}: {outcome_status}: {message}"), severity_error);

    let mut distribution = None;
    if info.update_dps && matches!(outcome_status, Status::Successful | Status::Failed) && !flag.load(Ordering::SeqCst)
    {
        progress.site_event(&SiteEvent::JobPhase { job, phase: JobPhase::Distributing });
        let report = dp::distribute_with(site, image_id, Control { reporter: &Silent, cancel: flag }, progress)?;
        for d in &report.dps {
            let text = match &d.message {
                Some(m) => format!("Distribution point {}: {} ({})", d.dp, d.status, m),
                None => format!(
                    "Distribution point {}: {} by {} ({} of {} bytes sent, {:.1}%; verified by {})",
                    d.dp,
                    d.status,
                    d.method.map_or("-", |m| m.as_str()),
                    d.bytes_sent,
                    d.image_bytes,
                    d.percent_sent,
                    d.verification.as_deref().unwrap_or("-")
                ),
            };
            log_line(site, &text, d.status != dp::DpStatus::Success);
        }
        distribution = Some(report);
    }
    let j = jobs::job(&site.db, job)?.expect("job exists");
    Ok(JobOutcome {
        job,
        image: image_id,
        status: j.status,
        message,
        content_version: version,
        updates: j.updates,
        distribution,
        log: site.log_dir().join(OFFLINE_SERVICING_LOG),
    })
}

/// Keeps the current and the previous content version on disk; older ones are removed.
pub(crate) fn prune_versions(site: &mut Site, image: i64, current: i64) -> Result<()> {
    let old = store::images::version_paths_below(&site.db, image, current - 1).map_err(site.db.err())?;
    if old.is_empty() {
        return Ok(());
    }
    site.db.tx(|tx| store::images::delete_versions_below(tx, image, current - 1))?;
    for rel in old {
        if let Some(dir) = site.resolve(&rel).parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    Ok(())
}
