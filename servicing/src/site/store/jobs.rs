//! The schedules' and runs' SQL: schedules, jobs (one row per run) and each run's per-update
//! results.

use super::{args, JobStatus, Row, Sql, SqlResult, UpdateResult};
use crate::site::catalog::Update;
use crate::site::jobs::{JobUpdate, JobView};
use crate::site::time::format_utc;

const JOB_SELECT: &str = "SELECT id, schedule_id, image_id, status, run_at, started, finished, message, \
    cancel_requested, version_before, version_after, runner FROM jobs";

fn job_row(r: &Row) -> SqlResult<JobView> {
    Ok(JobView {
        id: r.get(0)?,
        schedule_id: r.get(1)?,
        image_id: r.get(2)?,
        status: r.get(3)?,
        run_at: format_utc(r.get(4)?),
        started: r.get::<Option<i64>>(5)?.map(format_utc),
        finished: r.get::<Option<i64>>(6)?.map(format_utc),
        message: r.get(7)?,
        cancel_requested: r.get(8)?,
        version_before: r.get(9)?,
        version_after: r.get(10)?,
        runner: r.get(11)?,
        updates: Vec::new(),
    })
}

/// A run's per-update results, by catalog ID.
pub fn job_updates(db: &dyn Sql, job: i64) -> SqlResult<Vec<JobUpdate>> {
    db.all(
        "SELECT update_id, kb, title, file_name, result, reason FROM job_updates WHERE job_id = ?1 ORDER BY update_id",
        args![job],
        |r| {
            Ok(JobUpdate {
                update_id: r.get(0)?,
                kb: r.get(1)?,
                title: r.get(2)?,
                file_name: r.get(3)?,
                result: r.get(4)?,
                reason: r.get(5)?,
            })
        },
    )
}

/// One run (without its per-update results).
pub fn job(db: &dyn Sql, id: i64) -> SqlResult<Option<JobView>> {
    db.opt(&format!("{JOB_SELECT} WHERE id = ?1"), args![id], job_row)
}

/// The latest run of an image.
pub fn latest_of_image(db: &dyn Sql, image: i64) -> SqlResult<Option<JobView>> {
    db.opt(&format!("{JOB_SELECT} WHERE image_id = ?1 ORDER BY id DESC LIMIT 1"), args![image], job_row)
}

/// Every run of an image, newest first.
pub fn of_image(db: &dyn Sql, image: i64) -> SqlResult<Vec<JobView>> {
    db.all(&format!("{JOB_SELECT} WHERE image_id = ?1 ORDER BY id DESC"), args![image], job_row)
}

/// The latest run of a schedule.
pub fn latest_of_schedule(db: &dyn Sql, schedule: i64) -> SqlResult<Option<JobView>> {
    db.opt(&format!("{JOB_SELECT} WHERE schedule_id = ?1 ORDER BY id DESC LIMIT 1"), args![schedule], job_row)
}

/// A schedule as stored.
#[derive(Debug, Clone)]
pub struct ScheduleRow {
    /// ID.
    pub id: i64,
    /// `now`, `at` or `every`.
    pub kind: String,
    /// The time or recurrence text.
    pub spec: String,
    /// The selection, as JSON.
    pub selection: String,
    /// Continue on error.
    pub continue_on_error: bool,
    /// Update distribution points.
    pub update_dps: bool,
    /// Remove superseded updates.
    pub remove_superseded: bool,
    /// Still active.
    pub active: bool,
    /// `all-applicable` includes binaries that are not CBS packages.
    pub include_not_supported: bool,
}

const SCHEDULE_SELECT: &str = "SELECT s.id, s.kind, s.spec, s.selection, s.continue_on_error, s.update_dps, \
    s.remove_superseded, s.active, s.include_not_supported FROM schedules s";

fn schedule_row(r: &Row) -> SqlResult<ScheduleRow> {
    Ok(ScheduleRow {
        id: r.get(0)?,
        kind: r.get(1)?,
        spec: r.get(2)?,
        selection: r.get(3)?,
        continue_on_error: r.get(4)?,
        update_dps: r.get(5)?,
        remove_superseded: r.get(6)?,
        active: r.get(7)?,
        include_not_supported: r.get(8)?,
    })
}

/// The image's current schedule: the newest active one, else the newest.
pub fn latest_schedule(db: &dyn Sql, image: i64) -> SqlResult<Option<ScheduleRow>> {
    db.opt(
        &format!("{SCHEDULE_SELECT} WHERE s.image_id = ?1 ORDER BY s.active DESC, s.id DESC LIMIT 1"),
        args![image],
        schedule_row,
    )
}

/// Every schedule of an image, newest first.
pub fn schedules_of_image(db: &dyn Sql, image: i64) -> SqlResult<Vec<ScheduleRow>> {
    db.all(&format!("{SCHEDULE_SELECT} WHERE s.image_id = ?1 ORDER BY s.id DESC"), args![image], schedule_row)
}

/// The image a schedule belongs to.
pub fn schedule_image(db: &dyn Sql, schedule: i64) -> SqlResult<Option<i64>> {
    db.opt("SELECT image_id FROM schedules WHERE id = ?1", args![schedule], |r| r.get(0))
}

/// The schedule of a run, with the run's image and due time.
pub fn schedule_of_job(db: &dyn Sql, job: i64) -> SqlResult<(ScheduleRow, i64, i64)> {
    db.one(
        "SELECT s.id, s.kind, s.spec, s.selection, s.continue_on_error, s.update_dps, s.remove_superseded, s.active, \
         s.include_not_supported, j.image_id, j.run_at FROM jobs j JOIN schedules s ON s.id = j.schedule_id \
         WHERE j.id = ?1",
        args![job],
        |r| Ok((schedule_row(r)?, r.get(9)?, r.get(10)?)),
    )
}

/// The run of an image that is In Process, if any.
pub fn in_process(db: &dyn Sql, image: i64) -> SqlResult<Option<i64>> {
    db.opt("SELECT id FROM jobs WHERE image_id = ?1 AND status = ?2", args![image, JobStatus::InProcess], |r| r.get(0))
}

/// The image's newest Scheduled run, as (job, schedule).
pub fn latest_scheduled(db: &dyn Sql, image: i64) -> SqlResult<Option<(i64, i64)>> {
    db.opt(
        "SELECT id, schedule_id FROM jobs WHERE image_id = ?1 AND status = ?2 ORDER BY id DESC LIMIT 1",
        args![image, JobStatus::Scheduled],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// A run's status.
pub fn status(db: &dyn Sql, job: i64) -> SqlResult<Option<JobStatus>> {
    db.opt("SELECT status FROM jobs WHERE id = ?1", args![job], |r| r.get(0))
}

/// Whether a cancel was asked for the run.
pub fn cancel_requested(db: &dyn Sql, job: i64) -> SqlResult<bool> {
    db.one("SELECT cancel_requested FROM jobs WHERE id = ?1", args![job], |r| r.get(0))
}

/// Asks the runner of a run to cancel it at its next safe point.
pub fn request_cancel(tx: &dyn Sql, job: i64) -> SqlResult<()> {
    tx.exec("UPDATE jobs SET cancel_requested = 1 WHERE id = ?1", args![job])?;
    Ok(())
}

/// The active schedules of an image that a new one replaces: every one, or with `now_only` only
/// the pending run-now ones.
pub fn replaceable_schedules(tx: &dyn Sql, image: i64, now_only: bool) -> SqlResult<Vec<i64>> {
    let sql = if now_only {
        "SELECT id FROM schedules WHERE image_id = ?1 AND active = 1 AND kind = 'now'"
    } else {
        "SELECT id FROM schedules WHERE image_id = ?1 AND active = 1"
    };
    tx.all(sql, args![image], |r| r.get(0))
}

/// A new schedule.
pub struct NewSchedule<'a> {
    /// The image.
    pub image: i64,
    /// `now`, `at` or `every`.
    pub kind: &'a str,
    /// The time or recurrence text.
    pub spec: &'a str,
    /// The selection, as JSON.
    pub selection: &'a str,
    /// Continue on error.
    pub continue_on_error: bool,
    /// Update distribution points.
    pub update_dps: bool,
    /// Remove superseded updates.
    pub remove_superseded: bool,
    /// `all-applicable` includes binaries that are not CBS packages.
    pub include_not_supported: bool,
}

/// Records an active schedule; its ID.
pub fn insert_schedule(tx: &dyn Sql, s: &NewSchedule<'_>, t: i64) -> SqlResult<i64> {
    tx.one(
        "INSERT INTO schedules (image_id, kind, spec, selection, continue_on_error, update_dps, remove_superseded, \
         include_not_supported, active, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1, ?9) RETURNING id",
        args![
            s.image,
            s.kind,
            s.spec,
            s.selection,
            s.continue_on_error,
            s.update_dps,
            s.remove_superseded,
            s.include_not_supported,
            t
        ],
        |r| r.get(0),
    )
}

/// A schedule runs no more.
pub fn deactivate_schedule(tx: &dyn Sql, schedule: i64) -> SqlResult<()> {
    tx.exec("UPDATE schedules SET active = 0 WHERE id = ?1", args![schedule])?;
    Ok(())
}

/// Cancels the Scheduled runs of a schedule, saying why.
pub fn cancel_pending_runs(tx: &dyn Sql, schedule: i64, t: i64, message: &str) -> SqlResult<()> {
    tx.exec(
        "UPDATE jobs SET status = ?4, finished = ?2, message = ?3 WHERE schedule_id = ?1 AND status = ?5",
        args![schedule, t, message, JobStatus::Cancelled, JobStatus::Scheduled],
    )?;
    Ok(())
}

/// A Scheduled run of a schedule, due at `run_at`; its ID.
pub fn insert_job(tx: &dyn Sql, schedule: i64, image: i64, run_at: i64, t: i64) -> SqlResult<i64> {
    tx.one(
        "INSERT INTO jobs (schedule_id, image_id, status, run_at, created) VALUES (?1, ?2, ?5, ?3, ?4) RETURNING id",
        args![schedule, image, run_at, t, JobStatus::Scheduled],
        |r| r.get(0),
    )
}

/// How many runs of a schedule are Scheduled.
pub fn pending_runs(tx: &dyn Sql, schedule: i64) -> SqlResult<i64> {
    tx.one(
        "SELECT COUNT(*) FROM jobs WHERE schedule_id = ?1 AND status = ?2",
        args![schedule, JobStatus::Scheduled],
        |r| r.get(0),
    )
}

/// Writes the per-update rows of a run (replacing any).
pub fn set_job_updates(tx: &dyn Sql, job: i64, updates: &[(Update, UpdateResult, Option<String>)]) -> SqlResult<()> {
    tx.exec("DELETE FROM job_updates WHERE job_id = ?1", args![job])?;
    for (u, result, reason) in updates {
        tx.exec(
            "INSERT INTO job_updates (job_id, update_id, kb, title, file_name, result, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            args![job, u.id, u.kb, u.title, u.file_name, result, reason],
        )?;
    }
    Ok(())
}

/// Writes (or overwrites) the result of each of these updates in a run.
pub fn record_results(tx: &dyn Sql, job: i64, updates: &[(Update, UpdateResult, Option<String>)]) -> SqlResult<()> {
    for (u, result, reason) in updates {
        tx.exec(
            "INSERT INTO job_updates (job_id, update_id, kb, title, file_name, result, reason) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
             ON CONFLICT (job_id, update_id) DO UPDATE SET kb = ?3, title = ?4, file_name = ?5, result = ?6, reason = ?7",
            args![job, u.id, u.kb, u.title, u.file_name, result, reason],
        )?;
    }
    Ok(())
}

/// Gives every update of a run still at `from` the result `to` (with `reason`).
pub fn resolve_results(
    tx: &dyn Sql,
    job: i64,
    from: UpdateResult,
    to: UpdateResult,
    reason: Option<&str>,
) -> SqlResult<()> {
    tx.exec(
        "UPDATE job_updates SET result = ?2, reason = ?3 WHERE job_id = ?1 AND result = ?4",
        args![job, to, reason, from],
    )?;
    Ok(())
}

/// Every update of a run back to Pending (the run goes back to the queue).
pub fn reset_results(tx: &dyn Sql, job: i64) -> SqlResult<()> {
    tx.exec("UPDATE job_updates SET result = ?2, reason = NULL WHERE job_id = ?1", args![job, UpdateResult::Pending])?;
    Ok(())
}

/// Ends a run that is still `expected` with `status`; whether it was (1 row changed).
pub fn close(tx: &dyn Sql, job: i64, expected: JobStatus, status: JobStatus, t: i64, message: &str) -> SqlResult<bool> {
    let n = tx.exec(
        "UPDATE jobs SET status = ?2, finished = ?3, message = ?4 WHERE id = ?1 AND status = ?5",
        args![job, status, t, message, expected],
    )?;
    Ok(n == 1)
}

/// Records a run's end and the content version it left.
pub fn end(tx: &dyn Sql, job: i64, status: JobStatus, t: i64, message: &str, version_after: i64) -> SqlResult<()> {
    tx.exec(
        "UPDATE jobs SET status = ?2, finished = ?3, message = ?4, version_after = ?5 WHERE id = ?1",
        args![job, status, t, message, version_after],
    )?;
    Ok(())
}

/// Puts a run back in the queue (a runner shutdown interrupted it at a safe point).
pub fn requeue(tx: &dyn Sql, job: i64, message: &str) -> SqlResult<()> {
    tx.exec(
        "UPDATE jobs SET status = ?3, started = NULL, runner = NULL, version_before = NULL, message = ?2 WHERE id = ?1",
        args![job, message, JobStatus::Scheduled],
    )?;
    Ok(())
}

/// When the next Scheduled run is due.
pub fn next_due(db: &dyn Sql) -> SqlResult<Option<i64>> {
    db.one("SELECT MIN(run_at) FROM jobs WHERE status = ?1", args![JobStatus::Scheduled], |r| r.get(0))
}

/// The pending (Scheduled) and running (In Process) runs of an image, by ID.
pub fn open_of_image(db: &dyn Sql, image: i64) -> SqlResult<Vec<(i64, JobStatus)>> {
    db.all(
        "SELECT id, status FROM jobs WHERE image_id = ?1 AND status IN (?2, ?3) ORDER BY id",
        args![image, JobStatus::Scheduled, JobStatus::InProcess],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// The pending and running runs that selected catalog entry `update`, as (run, image, status).
pub fn open_of_update(db: &dyn Sql, update: i64) -> SqlResult<Vec<(i64, i64, JobStatus)>> {
    db.all(
        "SELECT j.id, j.image_id, j.status FROM job_updates u JOIN jobs j ON j.id = u.job_id \
         WHERE u.update_id = ?1 AND j.status IN (?2, ?3) ORDER BY j.id",
        args![update, JobStatus::Scheduled, JobStatus::InProcess],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
}
