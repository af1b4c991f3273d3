//! Servicing schedules and their runs: `site schedule` (the Schedule Updates wizard), `site cancel`
//! (Cancel Scheduled Updates), and what the Servicing and Update Status tabs show. One active
//! schedule per image, as in ConfigMgr: a new one replaces the pending one.

use super::catalog::{self, Update};
use super::error::{Error, Result};
use super::images;
use super::schedule::{Status, When};
use super::store::UpdateResult;
use super::store::{self, now, Db};
use super::time::format_utc;
use super::Site;
use crate::progress::Control;

/// The selector that means every applicable update (resolved at each run).
pub const ALL_APPLICABLE: &str = "all-applicable";

/// What `site schedule` is asked.
#[derive(Debug, Clone)]
pub struct ScheduleRequest {
    /// Image ID.
    pub image: i64,
    /// `KB…`, catalog IDs, or `all-applicable`.
    pub updates: Vec<String>,
    /// When.
    pub when: When,
    /// Continue on error.
    pub continue_on_error: bool,
    /// Update distribution points with the image.
    pub update_dps: bool,
    /// Remove superseded updates after the image is updated.
    pub remove_superseded: bool,
    /// `all-applicable` includes binaries that are not CBS packages (each run logs them as not
    /// supported, as ConfigMgr does); a named one is accepted.
    pub include_not_supported: bool,
    /// Schedule named updates even though the dry run says they cannot apply to the image (logged).
    pub force: bool,
}

/// Per-update result of a run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct JobUpdate {
    /// Catalog ID.
    pub update_id: i64,
    /// KB.
    pub kb: Option<String>,
    /// Title.
    pub title: String,
    /// File name.
    pub file_name: String,
    /// Pending, Applied, Skipped, Not Supported, Failed or Cancelled.
    pub result: UpdateResult,
    /// Why (skipped, not supported, failed).
    pub reason: Option<String>,
}

/// One servicing run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct JobView {
    /// Job ID.
    pub id: i64,
    /// Its schedule.
    pub schedule_id: i64,
    /// The image.
    pub image_id: i64,
    /// Status.
    pub status: Status,
    /// When it is or was due (UTC).
    pub run_at: String,
    /// Started (UTC).
    pub started: Option<String>,
    /// Ended (UTC).
    pub finished: Option<String>,
    /// What happened, in a sentence.
    pub message: Option<String>,
    /// A cancel was asked while it ran.
    pub cancel_requested: bool,
    /// Content version before the run.
    pub version_before: Option<i64>,
    /// Content version it produced.
    pub version_after: Option<i64>,
    /// Who ran it (`pid@host`).
    pub runner: Option<String>,
    /// Per-update results.
    pub updates: Vec<JobUpdate>,
}

/// A schedule with its latest run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScheduleView {
    /// Schedule ID.
    pub id: i64,
    /// `now`, `at …`, `every …`.
    pub when: String,
    /// The selection as given.
    pub selection: Vec<String>,
    /// Continue on error.
    pub continue_on_error: bool,
    /// Update distribution points.
    pub update_dps: bool,
    /// Remove superseded updates.
    pub remove_superseded: bool,
    /// `all-applicable` includes binaries that are not CBS packages.
    pub include_not_supported: bool,
    /// Still active (false once cancelled or replaced, or a one-off that ran).
    pub active: bool,
    /// The latest run.
    pub job: Option<JobView>,
}

fn with_updates(db: &Db, mut job: JobView) -> Result<JobView> {
    job.updates = store::jobs::job_updates(db, job.id).map_err(db.err())?;
    Ok(job)
}

/// One job with its per-update results.
pub fn job(db: &Db, id: i64) -> Result<Option<JobView>> {
    let found = store::jobs::job(db, id).map_err(db.err())?;
    found.map(|j| with_updates(db, j)).transpose()
}

/// The latest run of an image (the one the Scheduled Updates columns show).
pub fn latest_job(db: &Db, image: i64) -> Result<Option<JobView>> {
    let found = store::jobs::latest_of_image(db, image).map_err(db.err())?;
    found.map(|j| with_updates(db, j)).transpose()
}

/// Every run of an image, newest first.
pub fn jobs_of(db: &Db, image: i64) -> Result<Vec<JobView>> {
    let jobs = store::jobs::of_image(db, image).map_err(db.err())?;
    jobs.into_iter().map(|j| with_updates(db, j)).collect()
}

/// The image's latest schedule with its latest run.
pub fn current_schedule(db: &Db, image: i64) -> Result<Option<ScheduleView>> {
    let Some(s) = store::jobs::latest_schedule(db, image).map_err(db.err())? else { return Ok(None) };
    let when = When::from_stored(&s.kind, &s.spec).map(|w| w.describe()).unwrap_or(s.spec);
    let job = store::jobs::latest_of_schedule(db, s.id).map_err(db.err())?.map(|j| with_updates(db, j)).transpose()?;
    Ok(Some(ScheduleView {
        id: s.id,
        when,
        selection: serde_json::from_str(&s.selection).unwrap_or_default(),
        continue_on_error: s.continue_on_error,
        update_dps: s.update_dps,
        remove_superseded: s.remove_superseded,
        include_not_supported: s.include_not_supported,
        active: s.active,
        job,
    }))
}

/// The catalog entries a selection names. `all-applicable` asks the engine (a dry run on the
/// image) and leaves out binaries that are not CBS packages unless `include_not_supported`; KB
/// numbers match every live entry of that KB; numbers are catalog IDs.
pub fn resolve(
    site: &Site,
    image: i64,
    selection: &[String],
    include_not_supported: bool,
    control: Control<'_>,
) -> Result<Vec<Update>> {
    let live = catalog::list(&site.db)?;
    let mut out: Vec<Update> = Vec::new();
    let push = |u: Update, out: &mut Vec<Update>| {
        if !out.iter().any(|x| x.id == u.id) {
            out.push(u);
        }
    };
    for token in selection {
        let t = token.trim();
        if t.eq_ignore_ascii_case(ALL_APPLICABLE) {
            for a in images::applicable(site, image, control)? {
                if a.update.supported || include_not_supported {
                    push(a.update, &mut out);
                }
            }
        } else if let Ok(id) = t.parse::<i64>() {
            let u = live.iter().find(|u| u.id == id).cloned().ok_or_else(|| Error::NoSuchUpdate { token: t.into() })?;
            push(u, &mut out);
        } else {
            let kb = if t.to_ascii_uppercase().starts_with("KB") { t.to_ascii_uppercase() } else { format!("KB{t}") };
            let hits: Vec<Update> = live.iter().filter(|u| u.kb.as_deref() == Some(kb.as_str())).cloned().collect();
            if hits.is_empty() {
                return Err(Error::NoSuchUpdate { token: t.into() });
            }
            for u in hits {
                push(u, &mut out);
            }
        }
    }
    out.sort_by_key(|u| u.id);
    Ok(out)
}

/// What `site schedule` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScheduleReport {
    /// The schedule.
    pub schedule: ScheduleView,
    /// Schedules it replaced (their pending runs were cancelled).
    pub replaced: Vec<i64>,
    /// Named updates the dry run says cannot apply, scheduled anyway with `--force`.
    pub forced: Vec<String>,
}

/// The job of an image that is In Process, if any.
pub(crate) fn in_process(db: &Db, image: i64) -> Result<Option<i64>> {
    store::jobs::in_process(db, image).map_err(db.err())
}

/// Creates a schedule and its first run (status Scheduled).
pub fn schedule(site: &mut Site, req: &ScheduleRequest, control: Control<'_>) -> Result<ScheduleReport> {
    let image = images::get(site, req.image)?;
    if req.remove_superseded && image.indexes > 1 {
        return Err(Error::NeedsSingleIndex { image: req.image, count: image.indexes });
    }
    if let Some(job) = in_process(&site.db, req.image)? {
        return Err(Error::InProcess { image: req.image, job });
    }
    if req.updates.is_empty() {
        return Err(Error::NoSuchUpdate { token: String::new() });
    }
    // Resolve now: unknown KBs fail here, not at 2 a.m.; the list is shown until the run resolves
    // it again (an all-applicable selection picks up what the catalog gained meanwhile).
    let updates = resolve(site, req.image, &req.updates, req.include_not_supported, control)?;
    let forced = refuse_inapplicable(site, req, &updates, control)?;
    let t = now();
    let run_at = req
        .when
        .first_run(t)
        .ok_or_else(|| Error::BadSchedule { spec: req.when.describe(), reason: "never occurs".into() })?;
    let (kind, spec) = req.when.to_stored();
    let selection = serde_json::to_string(&req.updates).unwrap_or_else(|_| "[]".into());
    let image_id = req.image;
    let pending: Vec<(Update, UpdateResult, Option<String>)> =
        updates.into_iter().map(|u| (u, UpdateResult::Pending, None)).collect();
    let new = store::jobs::NewSchedule {
        image: image_id,
        kind,
        spec: &spec,
        selection: &selection,
        continue_on_error: req.continue_on_error,
        update_dps: req.update_dps,
        remove_superseded: req.remove_superseded,
        include_not_supported: req.include_not_supported,
    };
    let created = site.db.tx(|tx| {
        // Checked again inside the transaction: a runner may have claimed a run since.
        if let Some(job) = store::jobs::in_process(tx, image_id)? {
            return Ok(Err(job));
        }
        // A run `--now` is one extra run: a recurring schedule (and its options) stays as it is;
        // only another pending run-now is replaced. `--at` and `--every` replace what is active.
        let replaced = store::jobs::replaceable_schedules(tx, image_id, req.when == When::Now)?;
        let id = store::jobs::insert_schedule(tx, &new, t)?;
        for old in &replaced {
            store::jobs::deactivate_schedule(tx, *old)?;
            store::jobs::cancel_pending_runs(tx, *old, t, &format!("replaced by schedule {id}"))?;
        }
        let job = store::jobs::insert_job(tx, id, image_id, run_at, t)?;
        store::jobs::set_job_updates(tx, job, &pending)?;
        Ok(Ok((id, replaced)))
    })?;
    let (id, replaced) = created.map_err(|job| Error::InProcess { image: image_id, job })?;
    tracing::info!(image = image_id, schedule = id, run_at = %format_utc(run_at), "servicing scheduled");
    let schedule = schedule_view(&site.db, id)?.expect("just inserted");
    Ok(ScheduleReport { schedule, replaced, forced })
}

/// Refuses named updates the engine's dry run says cannot apply to the image (wrong product or
/// architecture, missing parent, unreadable file or blob), and named binaries that are not CBS
/// packages unless `include_not_supported`, as ConfigMgr's wizard offers only applicable updates.
/// With `force` they are kept, and that is logged. `all-applicable` is the dry run's own list.
fn refuse_inapplicable(
    site: &Site,
    req: &ScheduleRequest,
    updates: &[Update],
    control: Control<'_>,
) -> Result<Vec<String>> {
    let is_all = |t: &String| t.trim().eq_ignore_ascii_case(ALL_APPLICABLE);
    if req.updates.iter().all(is_all) {
        return Ok(Vec::new());
    }
    let named: Vec<Update> = if req.updates.iter().any(is_all) {
        let applicable: Vec<i64> = images::applicable(site, req.image, control)?.iter().map(|a| a.update.id).collect();
        updates.iter().filter(|u| !applicable.contains(&u.id)).cloned().collect()
    } else {
        updates.to_vec()
    };
    if named.is_empty() {
        return Ok(Vec::new());
    }
    let mut refused = Vec::new();
    for a in images::assess(site, req.image, &named, control)? {
        let bad = a.verdict.cannot_apply()
            || (matches!(a.verdict, images::Verdict::NotSupported(_)) && !req.include_not_supported);
        if bad {
            refused.push(format!(
                "{} ({}, catalog ID {}): {}",
                a.update.kb.as_deref().unwrap_or("-"),
                a.update.file_name,
                a.update.id,
                a.verdict.describe()
            ));
        }
    }
    if refused.is_empty() {
        return Ok(refused);
    }
    if !req.force {
        return Err(Error::CannotApply { image: req.image, updates: refused });
    }
    for r in &refused {
        tracing::warn!(image = req.image, update = %r, "scheduled with --force although it cannot apply");
        super::execute::log_entry(
            site,
            crate::log::Severity::Warning,
            &format!("Schedule for image {} forced (--force) although the update cannot apply: {r}", req.image),
        );
    }
    Ok(refused)
}

/// One schedule with its latest run.
pub fn schedule_view(db: &Db, id: i64) -> Result<Option<ScheduleView>> {
    let Some(image) = store::jobs::schedule_image(db, id).map_err(db.err())? else { return Ok(None) };
    Ok(schedules_of(db, image)?.into_iter().find(|s| s.id == id))
}

/// Every schedule of an image, newest first, each with its latest run.
pub fn schedules_of(db: &Db, image: i64) -> Result<Vec<ScheduleView>> {
    let rows = store::jobs::schedules_of_image(db, image).map_err(db.err())?;
    let mut out = Vec::with_capacity(rows.len());
    for s in rows {
        let job =
            store::jobs::latest_of_schedule(db, s.id).map_err(db.err())?.map(|j| with_updates(db, j)).transpose()?;
        out.push(ScheduleView {
            id: s.id,
            when: When::from_stored(&s.kind, &s.spec).map(|w| w.describe()).unwrap_or(s.spec),
            selection: serde_json::from_str(&s.selection).unwrap_or_default(),
            continue_on_error: s.continue_on_error,
            update_dps: s.update_dps,
            remove_superseded: s.remove_superseded,
            include_not_supported: s.include_not_supported,
            active: s.active,
            job,
        });
    }
    Ok(out)
}

/// What `site cancel` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CancelReport {
    /// The job concerned.
    pub job: i64,
    /// Its status before.
    pub was: Status,
    /// Its status now (`Cancelled`, or still `In Process` with the cancel requested).
    pub now: Status,
    /// What happens next.
    pub message: String,
}

/// Cancels the image's In Process run at its next safe point, or removes its pending schedule.
pub fn cancel(site: &mut Site, image: i64) -> Result<CancelReport> {
    images::get(site, image)?;
    let t = now();
    let found = site.db.tx(|tx| {
        if let Some(job) = store::jobs::in_process(tx, image)? {
            store::jobs::request_cancel(tx, job)?;
            return Ok(Some((job, Status::InProcess)));
        }
        if let Some((job, schedule)) = store::jobs::latest_scheduled(tx, image)? {
            store::jobs::close(tx, job, Status::Scheduled, Status::Cancelled, t, "cancelled before it ran")?;
            store::jobs::resolve_results(tx, job, UpdateResult::Pending, UpdateResult::Cancelled, None)?;
            store::jobs::deactivate_schedule(tx, schedule)?;
            return Ok(Some((job, Status::Scheduled)));
        }
        Ok(None)
    })?;
    let Some((job, was)) = found else { return Err(Error::NothingToCancel { image }) };
    let report = match was {
        Status::InProcess => CancelReport {
            job,
            was,
            now: Status::InProcess,
            message: "cancel requested: the runner stops at the next safe point and the image stays as it was".into(),
        },
        _ => CancelReport { job, was, now: Status::Cancelled, message: "the pending schedule was removed".into() },
    };
    tracing::info!(image, job, was = %was, "cancel");
    Ok(report)
}
