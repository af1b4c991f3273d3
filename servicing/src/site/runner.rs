//! The runner: `site tick` (one pass: recover, then run every due job) and `site run` (ticks until
//! stopped; SIGTERM stops it gracefully). Two runners never service the same image at once: a run is
//! claimed in one transaction together with a lease row (holder and expiry, renewed while it runs),
//! and it holds the image's WIM lock while it works. A runner that died is found by its lease (its
//! process is gone, or the lease expired) and its run is marked Failed; the image and the DPs are
//! intact because a run works on a private copy and switches versions only in its last transaction.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::error::{Error, Result};
use super::execute::{self, JobOutcome};
use super::progress::{NoProgress, SiteProgress};
use super::store::runs::Claim;
use super::store::{self, now};
use super::store::{JobStatus, UpdateResult};
use super::time::format_utc;
use super::{dp, Site};

/// How long a lease lasts without renewal.
pub const LEASE_SECONDS: i64 = 60;
/// How often a running job renews its lease and looks for a cancel request.
const HEARTBEAT: Duration = Duration::from_millis(200);
const RENEW_EVERY: Duration = Duration::from_secs(5);

/// A job found In Process whose runner is gone.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Recovered {
    /// The job.
    pub job: i64,
    /// The image.
    #[serde(rename = "image_id")]
    pub image: i64,
    /// Who held it.
    pub holder: Option<String>,
    /// Its status now.
    pub status: JobStatus,
}

/// What one pass did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct TickReport {
    /// Runs of dead runners, closed.
    pub recovered: Vec<Recovered>,
    /// DP distributions left In Progress by a dead process, closed.
    pub recovered_distributions: usize,
    /// Runs done by this pass.
    pub ran: Vec<JobOutcome>,
    /// Due runs left to another runner (its lease holds the image).
    pub skipped: Vec<String>,
    /// When the next run is due (UTC).
    pub next_due: Option<String>,
    /// The pass stopped early because a stop was asked.
    pub stopped: bool,
}

/// This process, as written in leases: `pid@host#start`, where `start` is the process start time
/// (from `/proc`), so that a reused PID is not taken for a live runner.
pub fn holder_id() -> String {
    let pid = std::process::id();
    format!("{pid}@{}#{}", hostname(), start_time(pid).unwrap_or(0))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into())
}

fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 22, counted after the command name (which may hold spaces and parentheses).
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the holder of a lease is certainly gone: same host and its process is not running (or
/// the PID now belongs to a process that started later).
pub(crate) fn holder_dead(holder: &str) -> bool {
    let Some((pid, rest)) = holder.split_once('@') else { return false };
    let (host, start) = rest.split_once('#').unwrap_or((rest, "0"));
    if host != hostname() {
        return false;
    }
    let Ok(pid) = pid.parse::<u32>() else { return false };
    match start_time(pid) {
        None => true,
        Some(now_start) => start.parse::<u64>().is_ok_and(|s| s != 0 && s != now_start),
    }
}

/// Asks for `flag` to be raised on SIGTERM (systemd's stop) and SIGHUP, so `site run` finishes or
/// cancels its current step at a safe point and exits.
pub fn stop_on_signals(flag: &Arc<AtomicBool>) -> std::io::Result<()> {
    signal_hook::flag::register(signal_hook::consts::SIGTERM, Arc::clone(flag))?;
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(flag))?;
    Ok(())
}

/// Closes runs whose runner died, and DP distributions a dead process left In Progress.
pub fn recover(site: &mut Site) -> Result<(Vec<Recovered>, usize)> {
    let t = now();
    let candidates = store::runs::running(&site.db).map_err(site.db.err())?;
    let mut out = Vec::new();
    for store::runs::Running { job, image, cancel_requested, holder, expires } in candidates {
        let dead = match (&holder, expires) {
            (Some(h), Some(e)) => e < t || holder_dead(h),
            _ => true,
        };
        if !dead {
            continue;
        }
        let status = if cancel_requested { JobStatus::Cancelled } else { JobStatus::Failed };
        let message = format!(
            "the runner {} stopped during the run (killed or crashed); nothing was committed: the image and \
             the distribution points are as before the run",
            holder.as_deref().unwrap_or("(no lease)")
        );
        let closed = site.db.tx(|tx| {
            let closed = store::jobs::close(tx, job, JobStatus::InProcess, status, t, &message)?;
            store::jobs::resolve_results(
                tx,
                job,
                UpdateResult::Pending,
                UpdateResult::Failed,
                Some("the run was interrupted"),
            )?;
            store::runs::release_lease(tx, image, job)?;
            if closed {
                execute::schedule_next(tx, job, t)?;
            }
            Ok(closed)
        })?;
        if closed {
            tracing::warn!(job, image, holder = ?holder, "closed the run of a runner that stopped");
            execute::log_line(site, &format!("Servicing job {job} for image {image} was interrupted: {message}"), true);
            execute::sweep_job(site, job, image)?;
            out.push(Recovered { job, image, holder, status });
        }
    }
    let dps = dp::recover(site)?;
    Ok((out, dps))
}

/// Watches a claimed run from a second thread: renews the lease, and raises `flag` when a cancel is
/// requested in the database or the runner is asked to stop.
fn heartbeat(dir: &Path, job: i64, image: i64, stop: &AtomicBool, flag: &AtomicBool, done: &AtomicBool) {
    let site = match Site::open(dir) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "heartbeat cannot open the site; the lease will expire");
            return;
        }
    };
    let mut renewed = Instant::now();
    while !done.load(Ordering::SeqCst) {
        if stop.load(Ordering::SeqCst) {
            flag.store(true, Ordering::SeqCst);
        }
        let asked = store::jobs::cancel_requested(&site.db, job).ok();
        if asked == Some(true) {
            flag.store(true, Ordering::SeqCst);
        }
        if renewed.elapsed() >= RENEW_EVERY {
            let r = store::runs::renew_lease(&site.db, image, job, now() + LEASE_SECONDS);
            if let Err(e) = r {
                tracing::warn!(error = %e, job, "cannot renew the lease");
            }
            renewed = Instant::now();
        }
        std::thread::sleep(HEARTBEAT);
    }
}

/// One pass: recover, then run every due job this runner can claim.
pub fn tick(dir: &Path, stop: &AtomicBool) -> Result<TickReport> {
    tick_with(dir, stop, &NoProgress)
}

/// [`tick`], reporting each run's phases and DP transfers to `progress`.
pub fn tick_with(dir: &Path, stop: &AtomicBool, progress: &dyn SiteProgress) -> Result<TickReport> {
    let mut site = Site::open(dir)?;
    let mut report = TickReport::default();
    let (recovered, dps) = recover(&mut site)?;
    report.recovered = recovered;
    report.recovered_distributions = dps;
    let holder = holder_id();
    let mut tried = Vec::new();
    loop {
        if stop.load(Ordering::SeqCst) {
            report.stopped = true;
            break;
        }
        let (job, image) = match store::runs::claim_next(&mut site.db, now(), &holder, LEASE_SECONDS, &tried)? {
            None => break,
            Some(Claim::Claimed { job, image }) => {
                tried.push(job);
                (job, image)
            }
            Some(Claim::Skipped { job, why }) => {
                tried.push(job);
                tracing::info!(job, why = %why, "not claimed");
                report.skipped.push(format!("job {job}: {why}"));
                continue;
            }
        };
        let flag = AtomicBool::new(false);
        let done = AtomicBool::new(false);
        let outcome = std::thread::scope(|s| {
            s.spawn(|| heartbeat(dir, job, image, stop, &flag, &done));
            let r = execute::execute(&mut site, job, &flag, stop, progress);
            done.store(true, Ordering::SeqCst);
            r
        })?;
        report.ran.push(outcome);
    }
    report.next_due = store::jobs::next_due(&site.db).map_err(site.db.err())?.map(format_utc);
    Ok(report)
}

/// Ticks until `stop` is raised: after each pass it sleeps until the next run is due (at most 30 s,
/// so schedules made meanwhile are seen), waking early when asked to stop. A failing pass is logged
/// and retried; only a site that cannot be opened ends the loop.
pub fn run(
    dir: &Path,
    stop: &AtomicBool,
    progress: &dyn SiteProgress,
    mut on_tick: impl FnMut(&TickReport),
) -> Result<()> {
    loop {
        match tick_with(dir, stop, progress) {
            Ok(report) => on_tick(&report),
            Err(e @ (Error::NotASite { .. } | Error::SchemaTooNew { .. })) => return Err(e),
            Err(e) => tracing::error!(error = %e, "site tick failed; retrying"),
        }
        if stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        let next = Site::open(dir).ok().and_then(|s| store::jobs::next_due(&s.db).ok().flatten());
        let wait = next.map_or(30, |n| (n - now()).clamp(1, 30)) as u64;
        let until = Instant::now() + Duration::from_secs(wait);
        while Instant::now() < until {
            if stop.load(Ordering::SeqCst) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
