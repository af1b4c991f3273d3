//! The scratch area of a servicing run: `<scratch>/OfflineImageServicing/run-<pid>-<n>/` (ConfigMgr's
//! `ConfigMgr_OfflineImageServicing` folder, under the scratch directory the user chose), locked while
//! the run is alive, removed when it ends, and swept by the next run if a crash left it behind.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::error::{Error, Result};

/// The folder below the scratch directory.
pub const FOLDER: &str = "OfflineImageServicing";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The default scratch directory, one per user: `$XDG_CACHE_HOME/wimpatch` when that is set (an
/// absolute path), else `$TMPDIR/wimpatch-<uid>` (`/tmp/wimpatch-<uid>`). A shared folder would be
/// owned by whoever made it first and refused (or unwritable) for everyone else.
pub fn default_scratch_dir() -> PathBuf {
    match std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from) {
        Some(cache) if cache.is_absolute() => cache.join("wimpatch"),
        _ => std::env::temp_dir().join(format!("wimpatch-{}", safe_fs::effective_uid())),
    }
}

/// Creates the default scratch directory (0700, this user's), or checks the existing one is this
/// user's; returns it.
pub fn prepare_default_scratch_dir() -> std::io::Result<PathBuf> {
    let dir = default_scratch_dir();
    if let Some(parent) = dir.parent() {
        safe_fs::create_dir_all(parent)?;
    }
    safe_fs::create_private_dir(&dir)?;
    Ok(dir)
}

/// A live run directory; removed on drop.
#[derive(Debug)]
pub struct Scratch {
    base: PathBuf,
    run: PathBuf,
    _lock: File,
}

impl Scratch {
    /// Creates the run directory under `requested` (or [`default_scratch_dir`]). A requested path
    /// that does not exist falls back to automatic, as ConfigMgr does; the warning says so.
    pub fn create(requested: Option<&Path>) -> Result<(Scratch, Option<String>)> {
        let mut warning = None;
        let parent = match requested {
            Some(p) if p.is_dir() => p.to_path_buf(),
            Some(p) => {
                let auto = prepare_default_scratch_dir()
                    .map_err(Error::io(&default_scratch_dir(), "cannot create scratch directory"))?;
                let msg = format!(
                    "scratch directory {} does not exist; using the automatic one ({})",
                    p.display(),
                    auto.display()
                );
                tracing::warn!("{msg}");
                warning = Some(msg);
                auto
            }
            None => prepare_default_scratch_dir()
                .map_err(Error::io(&default_scratch_dir(), "refusing the default scratch directory"))?,
        };
        let base = parent.join(FOLDER);
        // The scratch folder usually sits in a shared place (`/tmp`): a folder (or link) of that name
        // another user made could lead our writes anywhere, so it must be a real folder of ours.
        safe_fs::create_dir(&base).map_err(Error::io(&base, "cannot create scratch directory"))?;
        safe_fs::check_private_dir(&base).map_err(Error::io(&base, "refusing the scratch directory"))?;
        // Each run's folder in a file-system group of its own, away from the inodes the last run
        // freed (see `safe_fs::spread_subfolders`; only a hint, so a failure is only logged).
        if let Err(e) = safe_fs::spread_subfolders(&base) {
            tracing::debug!("{}: cannot mark it to spread its run folders: {e}", base.display());
        }
        sweep(&base);
        let run = base.join(format!("run-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed)));
        let _ = std::fs::remove_dir_all(&run);
        let lock_path = run.join(".lock");
        // Another run's sweep removes empty lock-less folders; if it takes ours between the two
        // steps, make it again.
        let mut attempt = 0;
        let lock = loop {
            attempt += 1;
            safe_fs::create_dir(&run).map_err(Error::io(&run, "cannot create scratch directory"))?;
            match safe_fs::open_lock(&lock_path) {
                Ok(f) => break f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && attempt < 3 => continue,
                Err(e) => return Err(Error::io(&lock_path, "cannot create scratch lock")(e)),
            }
        };
        lock.lock().map_err(Error::io(&lock_path, "cannot lock scratch directory"))?;
        Ok((Scratch { base, run, _lock: lock }, warning))
    }

    /// The run directory.
    pub fn path(&self) -> &Path {
        &self.run
    }

    /// `<scratch>/OfflineImageServicing`, where the default log folder lives.
    pub fn base(&self) -> &Path {
        &self.base
    }

    /// The log folder: `requested`, or `<scratch>/OfflineImageServicing/logs` (created, and never
    /// a planted link).
    pub fn log_dir(&self, requested: Option<&Path>) -> Result<PathBuf> {
        match requested {
            Some(dir) => Ok(dir.to_path_buf()),
            None => safe_fs::create_dir_all_under(&self.base, Path::new("logs"))
                .map_err(Error::io(&self.base.join("logs"), "cannot create the log folder")),
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Everything but the lock file first: a kill half-way leaves a folder whose lock the next
        // run can take (the owner is gone), so it is swept at once instead of looking like a run
        // that is just starting.
        let mut failed = None;
        if let Ok(entries) = std::fs::read_dir(&self.run) {
            for e in entries.flatten() {
                if e.file_name() == ".lock" {
                    continue;
                }
                let p = e.path();
                let r =
                    if p.is_dir() && !p.is_symlink() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
                if let Err(err) = r {
                    failed = Some(err);
                }
            }
        }
        let _ = std::fs::remove_file(self.run.join(".lock"));
        if let Err(e) = std::fs::remove_dir(&self.run).map_err(|e| failed.unwrap_or(e)) {
            tracing::warn!(path = %self.run.display(), error = %e, "cannot remove scratch directory");
        }
    }
}

/// Removes run directories whose owner is gone (their lock can be taken).
fn sweep(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else { return };
    for e in entries.flatten() {
        let path = e.path();
        if !e.file_name().to_string_lossy().starts_with("run-") || !path.is_dir() {
            continue;
        }
        // A run whose process is alive is never swept: between making its folder and locking it, a
        // starting run looks exactly like a dead one (two concurrent runs saw WIMLIB_ERR_MKDIR).
        if owner_alive(&e.file_name().to_string_lossy()) {
            continue;
        }
        let lock_path = path.join(".lock");
        let free = match safe_fs::open_regular(&lock_path) {
            Ok(f) => f.try_lock().is_ok(),
            // No lock file: an empty folder (a run killed after removing its files, or one starting
            // this instant, which makes its folder again), or an old half-removed one.
            Err(_) => {
                std::fs::read_dir(&path).map(|mut d| d.next().is_none()).unwrap_or(false)
                    || e.metadata()
                        .and_then(|m| m.modified())
                        .map(|t| t.elapsed().map(|d| d.as_secs() > 60).unwrap_or(false))
                        .unwrap_or(false)
            }
        };
        if free {
            tracing::info!(path = %path.display(), "removing scratch directory left by an interrupted run");
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

/// Whether the process named in a run folder's name (`run-<pid>-<n>`) is alive.
fn owner_alive(name: &str) -> bool {
    let pid = name.strip_prefix("run-").and_then(|rest| rest.split('-').next()).and_then(|p| p.parse::<u32>().ok());
    match pid {
        // Linux: a live process has its /proc entry (pid reuse only keeps a stale folder a while longer).
        Some(pid) => Path::new("/proc").join(pid.to_string()).exists(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: a run that has made its folder but not yet locked it (empty, no `.lock`) looked
    /// dead to another run's sweep, which removed it (the first run then failed with
    /// WIMLIB_ERR_MKDIR). A folder whose owner process is alive is left alone; a dead owner's is swept.
    #[test]
    fn sweep_keeps_a_starting_run_of_a_live_process() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join(FOLDER);
        safe_fs::create_dir(&base).unwrap();
        let starting = base.join(format!("run-{}-999", std::process::id()));
        safe_fs::create_dir(&starting).unwrap();
        // No process has pid u32::MAX - 1 on Linux (pid_max is at most 2^22).
        let dead = base.join(format!("run-{}-0", u32::MAX - 1));
        safe_fs::create_dir(&dead).unwrap();
        sweep(&base);
        assert!(starting.is_dir(), "a live run's folder was swept");
        assert!(!dead.exists(), "a dead run's empty folder was kept");
    }
}
