//! Servicing schedules and their runs: `site schedule` (the Schedule Updates wizard), `site cancel`
//! (Cancel Scheduled Updates), and what the Servicing and Update Status tabs show. One active
//! schedule per image, as in ConfigMgr: a new one replaces the pending one.

use rusqlite::{params, OptionalExtension};

use super::catalog::{self, Update};
use super::db::{now, Db};
use super::error::{Error, Result};
use super::images;
use super::schedule::{Status, When};
use super::store::UpdateResult;
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

const JOB_SELECT: &str = "SELECT id, schedule_id, image_id, status, run_at, started, finished, message, \
    cancel_requested, version_before, version_after, runner FROM jobs";

fn job_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<JobView> {
    Ok(JobView {
        id: r.get(0)?,
        schedule_id: r.get(1)?,
        image_id: r.get(2)?,
        status: r.get(3)?,
        run_at: format_utc(r.get(4)?),
        started: r.get::<_, Option<i64>>(5)?.map(format_utc),
        finished: r.get::<_, Option<i64>>(6)?.map(format_utc),
        message: r.get(7)?,
        cancel_requested: r.get(8)?,
        version_before: r.get(9)?,
        version_after: r.get(10)?,
        runner: r.get(11)?,
        updates: Vec::new(),
    })
}

fn with_updates(db: &Db, mut job: JobView) -> Result<JobView> {
    let mut stmt = db
        .conn()
        .prepare(
            "SELECT update_id, kb, title, file_name, result, reason FROM job_updates WHERE job_id = ?1 ORDER BY update_id",
        )
        .map_err(db.err())?;
    let rows = stmt
        .query_map([job.id], |r| {
            Ok(JobUpdate {
                update_id: r.get(0)?,
                kb: r.get(1)?,
                title: r.get(2)?,
                file_name: r.get(3)?,
                result: r.get(4)?,
                reason: r.get(5)?,
            })
        })
        .map_err(db.err())?;
    job.updates = rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db.err())?;
    Ok(job)
}

/// One job with its per-update results.
pub fn job(db: &Db, id: i64) -> Result<Option<JobView>> {
    let found =
        db.conn().query_row(&format!("{JOB_SELECT} WHERE id = ?1"), [id], job_row).optional().map_err(db.err())?;
    found.map(|j| with_updates(db, j)).transpose()
}

/// The latest run of an image (the one the Scheduled Updates columns show).
pub fn latest_job(db: &Db, image: i64) -> Result<Option<JobView>> {
    let found = db
        .conn()
        .query_row(&format!("{JOB_SELECT} WHERE image_id = ?1 ORDER BY id DESC LIMIT 1"), [image], job_row)
        .optional()
        .map_err(db.err())?;
    found.map(|j| with_updates(db, j)).transpose()
}

/// Every run of an image, newest first.
pub fn jobs_of(db: &Db, image: i64) -> Result<Vec<JobView>> {
    let mut stmt =
        db.conn().prepare(&format!("{JOB_SELECT} WHERE image_id = ?1 ORDER BY id DESC")).map_err(db.err())?;
    let rows = stmt.query_map([image], job_row).map_err(db.err())?;
    let jobs = rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db.err())?;
    jobs.into_iter().map(|j| with_updates(db, j)).collect()
}

/// The image's latest schedule with its latest run.
pub fn current_schedule(db: &Db, image: i64) -> Result<Option<ScheduleView>> {
    let found = db
        .conn()
        .query_row(
            "SELECT id, kind, spec, selection, continue_on_error, update_dps, remove_superseded, active, \
             include_not_supported FROM schedules WHERE image_id = ?1 ORDER BY active DESC, id DESC LIMIT 1",
            [image],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, bool>(4)?,
                    r.get::<_, bool>(5)?,
                    r.get::<_, bool>(6)?,
                    r.get::<_, bool>(7)?,
                    r.get::<_, bool>(8)?,
                ))
            },
        )
        .optional()
        .map_err(db.err())?;
    let Some((id, kind, spec, selection, coe, dps, rs, active, ins)) = found else { return Ok(None) };
    let when = When::from_stored(&kind, &spec).map(|w| w.describe()).unwrap_or(spec);
    let job = db
        .conn()
        .query_row(&format!("{JOB_SELECT} WHERE schedule_id = ?1 ORDER BY id DESC LIMIT 1"), [id], job_row)
        .optional()
        .map_err(db.err())?
        .map(|j| with_updates(db, j))
        .transpose()?;
    Ok(Some(ScheduleView {
        id,
        when,
        selection: serde_json::from_str(&selection).unwrap_or_default(),
        continue_on_error: coe,
        update_dps: dps,
        remove_superseded: rs,
        include_not_supported: ins,
        active,
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
    db.conn()
        .query_row("SELECT id FROM jobs WHERE image_id = ?1 AND status = ?2", params![image, Status::InProcess], |r| {
            r.get(0)
        })
        .optional()
        .map_err(db.err())
}

/// Writes the per-update rows of a job (replacing any).
pub(crate) fn set_job_updates(
    tx: &rusqlite::Transaction<'_>,
    job: i64,
    updates: &[(Update, UpdateResult, Option<String>)],
) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM job_updates WHERE job_id = ?1", [job])?;
    for (u, result, reason) in updates {
        tx.execute(
            "INSERT INTO job_updates (job_id, update_id, kb, title, file_name, result, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![job, u.id, u.kb, u.title, u.file_name, result, reason],
        )?;
    }
    Ok(())
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
    let created = site.db.tx(|tx| {
        // Checked again inside the transaction: a runner may have claimed a run since.
        let running: Option<i64> = tx
            .query_row(
                "SELECT id FROM jobs WHERE image_id = ?1 AND status = ?2",
                params![image_id, Status::InProcess],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(job) = running {
            return Ok(Err(job));
        }
        // A run `--now` is one extra run: a recurring schedule (and its options) stays as it is;
        // only another pending run-now is replaced. `--at` and `--every` replace what is active.
        let replaced = replaceable_schedules(tx, image_id, req.when == When::Now)?;
        tx.execute(
            "INSERT INTO schedules (image_id, kind, spec, selection, continue_on_error, update_dps, remove_superseded, \
             include_not_supported, active, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1, ?9)",
            params![
                image_id,
                kind,
                spec,
                selection,
                req.continue_on_error,
                req.update_dps,
                req.remove_superseded,
                req.include_not_supported,
                t
            ],
        )?;
        let id = tx.last_insert_rowid();
        for old in &replaced {
            tx.execute("UPDATE schedules SET active = 0 WHERE id = ?1", [old])?;
            tx.execute(
                "UPDATE jobs SET status = ?4, finished = ?2, message = ?3 WHERE schedule_id = ?1 AND status = ?5",
                params![old, t, format!("replaced by schedule {id}"), Status::Cancelled, Status::Scheduled],
            )?;
        }
        tx.execute(
            "INSERT INTO jobs (schedule_id, image_id, status, run_at, created) VALUES (?1, ?2, ?5, ?3, ?4)",
            params![id, image_id, run_at, t, Status::Scheduled],
        )?;
        let job = tx.last_insert_rowid();
        set_job_updates(tx, job, &pending)?;
        Ok(Ok((id, replaced)))
    })?;
    let (id, replaced) = created.map_err(|job| Error::InProcess { image: image_id, job })?;
    tracing::info!(image = image_id, schedule = id, run_at = %format_utc(run_at), "servicing scheduled");
    let schedule = schedule_view(&site.db, id)?.expect("just inserted");
    Ok(ScheduleReport { schedule, replaced, forced })
}

/// The active schedules of an image that a new one replaces: every one, or with `now_only` only
/// the pending run-now ones.
fn replaceable_schedules(tx: &rusqlite::Transaction<'_>, image: i64, now_only: bool) -> rusqlite::Result<Vec<i64>> {
    let sql = if now_only {
        "SELECT id FROM schedules WHERE image_id = ?1 AND active = 1 AND kind = 'now'"
    } else {
        "SELECT id FROM schedules WHERE image_id = ?1 AND active = 1"
    };
    let mut stmt = tx.prepare(sql)?;
    let rows = stmt.query_map([image], |r| r.get(0))?;
    rows.collect()
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
    let image: Option<i64> = db
        .conn()
        .query_row("SELECT image_id FROM schedules WHERE id = ?1", [id], |r| r.get(0))
        .optional()
        .map_err(db.err())?;
    let Some(image) = image else { return Ok(None) };
    Ok(schedules_of(db, image)?.into_iter().find(|s| s.id == id))
}

/// Every schedule of an image, newest first, each with its latest run.
pub fn schedules_of(db: &Db, image: i64) -> Result<Vec<ScheduleView>> {
    let mut stmt = db
        .conn()
        .prepare(
            "SELECT id, kind, spec, selection, continue_on_error, update_dps, remove_superseded, active, \
             include_not_supported FROM schedules WHERE image_id = ?1 ORDER BY id DESC",
        )
        .map_err(db.err())?;
    let rows = stmt
        .query_map([image], |r| {
            let (kind, spec): (String, String) = (r.get(1)?, r.get(2)?);
            Ok(ScheduleView {
                id: r.get(0)?,
                when: When::from_stored(&kind, &spec).map(|w| w.describe()).unwrap_or(spec),
                selection: serde_json::from_str(&r.get::<_, String>(3)?).unwrap_or_default(),
                continue_on_error: r.get(4)?,
                update_dps: r.get(5)?,
                remove_superseded: r.get(6)?,
                active: r.get(7)?,
                include_not_supported: r.get(8)?,
                job: None,
            })
        })
        .map_err(db.err())?;
    let mut out = rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db.err())?;
    for s in &mut out {
        s.job = db
            .conn()
            .query_row(&format!("{JOB_SELECT} WHERE schedule_id = ?1 ORDER BY id DESC LIMIT 1"), [s.id], job_row)
            .optional()
            .map_err(db.err())?
            .map(|j| with_updates(db, j))
            .transpose()?;
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
        if let Some(job) = tx
            .query_row(
                "SELECT id FROM jobs WHERE image_id = ?1 AND status = ?2",
                params![image, Status::InProcess],
                |r| r.get::<_, i64>(0),
            )
            .optional()?
        {
            tx.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?1", [job])?;
            return Ok(Some((job, Status::InProcess)));
        }
        if let Some((job, schedule)) = tx
            .query_row(
                "SELECT id, schedule_id FROM jobs WHERE image_id = ?1 AND status = ?2 ORDER BY id DESC LIMIT 1",
                params![image, Status::Scheduled],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
            )
            .optional()?
        {
            tx.execute(
                "UPDATE jobs SET status = ?3, finished = ?2, message = 'cancelled before it ran' WHERE id = ?1",
                params![job, t, Status::Cancelled],
            )?;
            tx.execute(
                "UPDATE job_updates SET result = ?2 WHERE job_id = ?1 AND result = ?3",
                params![job, UpdateResult::Cancelled, UpdateResult::Pending],
            )?;
            tx.execute("UPDATE schedules SET active = 0 WHERE id = ?1", [schedule])?;
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
