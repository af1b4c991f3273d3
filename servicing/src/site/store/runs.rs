//! The runners' SQL: claiming a due run with a lease on its image, renewing and releasing the
//! lease, and finding the runs whose runner is gone.

use super::{args, images, Db, JobStatus, Sql, SqlResult};
use crate::site::error::Result;
use crate::site::time::format_utc;

/// What a claim got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The run is this runner's now (In Process, lease taken) on this image.
    Claimed {
        /// The run.
        job: i64,
        /// Its image.
        image: i64,
    },
    /// A due run this runner cannot take, and why (its image is leased to another runner).
    Skipped {
        /// The run.
        job: i64,
        /// Why.
        why: String,
    },
}

/// Claims the next due run (Scheduled, `run_at <= t`) not in `exclude`: one transaction checks that
/// no live lease holds its image, marks it In Process and takes the lease until `t + lease`. `None`
/// when no run is due.
pub fn claim_next(db: &mut Db, t: i64, holder: &str, lease: i64, exclude: &[i64]) -> Result<Option<Claim>> {
    if db.is_postgres() {
        // Runners claim side by side: each locks the first due run no other claim holds, then
        // the run's image row, so claims of runs of one image queue there and exactly one of them
        // finds the image free of a live lease.
        return db.claim_tx(|tx| {
            let tx: &dyn Sql = tx;
            let sql = format!(
                "SELECT id, image_id FROM jobs WHERE status = ?2 AND run_at <= ?1 {} ORDER BY run_at, id LIMIT 1 \
                 FOR UPDATE SKIP LOCKED",
                not_in(exclude)
            );
            let found: Option<(i64, i64)> =
                tx.opt(&sql, args![t, JobStatus::Scheduled], |r| Ok((r.get(0)?, r.get(1)?)))?;
            let Some((job, image)) = found else { return Ok(None) };
            tx.rows("SELECT id FROM images WHERE id = ?1 FOR UPDATE", args![image])?;
            take(tx, job, image, t, holder, lease)
        });
    }
    // The candidate is read first and checked again inside the write transaction, which SQLite's
    // `BEGIN IMMEDIATE` serialises with every other writer.
    let Some(job) = due(db, t, exclude).map_err(db.err())? else { return Ok(None) };
    db.tx(|tx| {
        let tx: &dyn Sql = tx;
        let row: Option<(i64, JobStatus)> =
            tx.opt("SELECT image_id, status FROM jobs WHERE id = ?1", args![job], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let Some((image, status)) = row else { return Ok(Some(Claim::Skipped { job, why: "gone".into() })) };
        if status != JobStatus::Scheduled {
            return Ok(Some(Claim::Skipped { job, why: format!("job {job} is {status}") }));
        }
        take(tx, job, image, t, holder, lease)
    })
}

/// The next due run not in `exclude`.
fn due(db: &dyn Sql, t: i64, exclude: &[i64]) -> SqlResult<Option<i64>> {
    db.opt(
        &format!(
            "SELECT id FROM jobs WHERE status = ?2 AND run_at <= ?1 {} ORDER BY run_at, id LIMIT 1",
            not_in(exclude)
        ),
        args![t, JobStatus::Scheduled],
        |r| r.get(0),
    )
}

/// `AND id NOT IN (…)` of the runs already tried (IDs are integers, written as such).
fn not_in(exclude: &[i64]) -> String {
    if exclude.is_empty() {
        return String::new();
    }
    let ids: Vec<String> = exclude.iter().map(i64::to_string).collect();
    format!("AND id NOT IN ({})", ids.join(","))
}

/// Inside the claiming transaction: refuses when a live lease of another run holds the image, else
/// marks run `job` In Process and takes the image's lease.
fn take(tx: &dyn Sql, job: i64, image: i64, t: i64, holder: &str, lease: i64) -> SqlResult<Option<Claim>> {
    let held: Option<(String, i64)> =
        tx.opt("SELECT holder, expires FROM leases WHERE image_id = ?1", args![image], |r| Ok((r.get(0)?, r.get(1)?)))?;
    if let Some((h, e)) = held {
        if e >= t {
            return Ok(Some(Claim::Skipped {
                job,
                why: format!("image {image} is leased by {h} until {}", format_utc(e)),
            }));
        }
    }
    let version = images::content_version(tx, image)?;
    tx.exec(
        "UPDATE jobs SET status = ?5, started = ?2, runner = ?3, version_before = ?4, message = NULL WHERE id = ?1",
        args![job, t, holder, version, JobStatus::InProcess],
    )?;
    tx.exec(
        "INSERT INTO leases (image_id, job_id, holder, expires) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (image_id) DO UPDATE SET job_id = ?2, holder = ?3, expires = ?4",
        args![image, job, holder, t + lease],
    )?;
    Ok(Some(Claim::Claimed { job, image }))
}

/// Extends the lease of run `job` on `image` until `expires`.
pub fn renew_lease(db: &dyn Sql, image: i64, job: i64, expires: i64) -> SqlResult<()> {
    db.exec("UPDATE leases SET expires = ?3 WHERE image_id = ?1 AND job_id = ?2", args![image, job, expires])?;
    Ok(())
}

/// Drops the lease of run `job` on `image`.
pub fn release_lease(tx: &dyn Sql, image: i64, job: i64) -> SqlResult<()> {
    tx.exec("DELETE FROM leases WHERE image_id = ?1 AND job_id = ?2", args![image, job])?;
    Ok(())
}

/// A run In Process with its lease, if it has one.
#[derive(Debug, Clone)]
pub struct Running {
    /// The run.
    pub job: i64,
    /// Its image.
    pub image: i64,
    /// A cancel was asked.
    pub cancel_requested: bool,
    /// Who holds the lease.
    pub holder: Option<String>,
    /// Until when.
    pub expires: Option<i64>,
}

/// Every run In Process, with its lease.
pub fn running(db: &dyn Sql) -> SqlResult<Vec<Running>> {
    db.all(
        "SELECT j.id, j.image_id, j.cancel_requested, l.holder, l.expires FROM jobs j \
         LEFT JOIN leases l ON l.image_id = j.image_id AND l.job_id = j.id WHERE j.status = ?1",
        args![JobStatus::InProcess],
        |r| {
            Ok(Running {
                job: r.get(0)?,
                image: r.get(1)?,
                cancel_requested: r.get(2)?,
                holder: r.get(3)?,
                expires: r.get(4)?,
            })
        },
    )
}

/// Holds image `image` for an administrative change (a lease of run 0 by `holder` until
/// `expires`), unless a run is In Process on it or a live lease (not expired at `t`) holds it: then
/// the run that holds it.
pub fn hold_image(tx: &dyn Sql, image: i64, holder: &str, t: i64, expires: i64) -> SqlResult<Result<(), i64>> {
    if let Some(job) = super::jobs::in_process(tx, image)? {
        return Ok(Err(job));
    }
    let lease: Option<(i64, i64)> =
        tx.opt("SELECT job_id, expires FROM leases WHERE image_id = ?1", args![image], |r| Ok((r.get(0)?, r.get(1)?)))?;
    if let Some((job, until)) = lease {
        if until >= t {
            return Ok(Err(job));
        }
    }
    tx.exec(
        "INSERT INTO leases (image_id, job_id, holder, expires) VALUES (?1, 0, ?2, ?3) \
         ON CONFLICT (image_id) DO UPDATE SET job_id = 0, holder = ?2, expires = ?3",
        args![image, holder, expires],
    )?;
    Ok(Ok(()))
}

/// Drops the administrative hold of `holder` on `image` ([`hold_image`]).
pub fn release_hold(tx: &dyn Sql, image: i64, holder: &str) -> SqlResult<()> {
    tx.exec("DELETE FROM leases WHERE image_id = ?1 AND job_id = 0 AND holder = ?2", args![image, holder])?;
    Ok(())
}
