//! The site (issue 6): catalog sync, content library, image import, applicable updates, scheduled
//! servicing through `site tick` / `site run`, directory distribution points with atomic, verified
//! switches; cancel, kill, two runners at once, a corrupted content-library blob.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use fixtures::packages::write_all;
use fixtures::profile::Profile;
use servicing::wim::{LockWait, WimLock};

use crate::util::*;

const KB1: &str = "Windows10.0-KB5000001-x64.cab";
const KB2: &str = "Windows10.0-KB5000002-x64.cab";
pub(crate) const KB3: &str = "Windows10.0-KB5000003-x64.cab";
const EXE: &str = "ie11-setup.exe";
const NOT_SUPPORTED_LINE: &str = "<![LOG[Not applying this update binary, it is not supported]LOG]!>";

/// Which database a test's site uses (every site test runs on both: [`on_both_backends`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    /// The embedded SQLite file.
    Sqlite,
    /// A fresh database of the shared throwaway PostgreSQL cluster.
    Postgres,
}

impl Backend {
    /// The `site init` arguments that choose this backend.
    pub(crate) fn init_args(self) -> Vec<String> {
        match self {
            Backend::Sqlite => Vec::new(),
            Backend::Postgres => vec!["--database".into(), fixtures::postgres_cluster::shared().database()],
        }
    }
}

/// A site with the monthly series (KB5000001, KB5000002) and an .exe in its catalog, the 3-edition
/// Windows 10 fixture imported with `--single-index`, and two distribution points.
pub(crate) struct Fixture {
    pub(crate) work: Work,
    pub(crate) site: PathBuf,
    pub(crate) all: PathBuf,
    pub(crate) updates: PathBuf,
}

/// The generated update catalogue under `all`, and an update source folder `updates` holding its
/// first two monthly updates and an `.exe` (for the "not supported" line): what the site tests sync.
pub(crate) fn update_source(work: &Work) -> (PathBuf, PathBuf) {
    let all = work.path("all");
    write_all(&all, &Profile::win10_amd64()).expect("catalogue");
    let updates = work.path("updates");
    std::fs::create_dir_all(&updates).unwrap();
    for f in [KB1, KB2, EXE] {
        std::fs::copy(all.join(f), updates.join(f)).unwrap();
    }
    (all, updates)
}

impl Fixture {
    pub(crate) fn new(backend: Backend) -> Fixture {
        let work = Work::new();
        let (all, updates) = update_source(&work);
        let site = work.path("site");
        let f = Fixture { work, site, all, updates };
        let init = backend.init_args();
        let mut args = vec!["init"];
        args.extend(init.iter().map(String::as_str));
        f.ok(&args);
        let sync = f.json(&["catalog", "sync", "--from", f.updates.to_str().unwrap()]);
        assert_eq!(sync["added"].as_array().unwrap().len(), 3, "{sync}");
        let wim = fixture_wim(&f.work, "win10", "win10.wim");
        let imported = f.json(&["image", "import", wim.to_str().unwrap(), "--single-index", "--index", "2"]);
        assert_eq!(imported["id"], 1);
        assert_eq!(imported["editions"].as_array().unwrap().len(), 1, "{imported}");
        assert_eq!(imported["content_version"], 1);
        f
    }

    pub(crate) fn args<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut v = vec!["site", "--site", self.site.to_str().unwrap()];
        v.extend_from_slice(args);
        v
    }

    pub(crate) fn ok(&self, args: &[&str]) -> String {
        run_ok(&self.args(args))
    }

    pub(crate) fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = self.args(args);
        a.push("--json");
        let out = run_ok(&a);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{a:?}: {e}: {out}"))
    }

    /// `site tick` whose run fails: exit status 1 (issue 17 item 13: it exited 0, so systemd's
    /// `OnFailure=` never fired), with `mention` in the error.
    pub(crate) fn tick_fails(&self, mention: &str) -> String {
        let out = run(&self.args(&["tick"]));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains(mention), "{err}");
        err
    }

    pub(crate) fn spawn(&self, args: &[&str]) -> Child {
        wimpatch().args(self.args(args)).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
    }

    pub(crate) fn add_dps(&self) -> (PathBuf, PathBuf) {
        let (a, b) = (self.work.path("dp-a"), self.work.path("dp-b"));
        self.ok(&["dp", "add", "dp-a", "--path", a.to_str().unwrap()]);
        self.ok(&["dp", "add", "dp-b", "--path", b.to_str().unwrap()]);
        (a.join("image-1/install.wim"), b.join("image-1/install.wim"))
    }

    pub(crate) fn show(&self) -> serde_json::Value {
        self.json(&["image", "show", "1"])
    }

    pub(crate) fn image_path(&self) -> PathBuf {
        PathBuf::from(self.show()["wim"].as_str().unwrap())
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.site.join("logs/OfflineServicingMgr.log")).unwrap_or_default()
    }

    pub(crate) fn schedule_now(&self, updates: &[&str], extra: &[&str]) {
        let mut a = vec!["schedule", "--image-id", "1", "--updates"];
        a.extend_from_slice(updates);
        a.push("--now");
        a.extend_from_slice(extra);
        self.ok(&a);
    }

    /// Polls `image show` until the latest run has `status` (the runner's progress is observed, not
    /// timed); fails after a generous deadline so a hang is reported rather than waited on forever.
    fn wait_status(&self, child: &mut Child, status: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self.show()["scheduled_updates_status"] == status {
                return;
            }
            if let Ok(Some(code)) = child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    use std::io::Read as _;
                    let _ = e.read_to_string(&mut err);
                }
                panic!("runner exited ({code}) before the run was {status}: {err}");
            }
            assert!(Instant::now() < deadline, "the run never became {status}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn kbs(list: &serde_json::Value) -> Vec<String> {
    list.as_array().unwrap().iter().map(|u| u["kb"].as_str().unwrap_or("-").to_owned()).collect()
}

fn results(show: &serde_json::Value) -> Vec<(String, String)> {
    show["schedule"]["job"]["updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["file_name"].as_str().unwrap().to_owned(), u["result"].as_str().unwrap().to_owned()))
        .collect()
}

fn installed_kbs(show: &serde_json::Value) -> Vec<String> {
    show["installed_updates"].as_array().unwrap().iter().map(|u| u["kb"].as_str().unwrap().to_owned()).collect()
}

fn site_services_on_schedule_and_distributes_verified_copies_each_month(backend: Backend) {
    let f = Fixture::new(backend);
    let (dp_a, dp_b) = f.add_dps();

    // The Schedule Updates list: applicable and not applied; filter and architecture work.
    let all = f.json(&["updates", "--image-id", "1"]);
    assert_eq!(kbs(&all), ["KB5000001", "KB5000002", "-"], "{all}");
    assert_eq!(all[0]["superseded"], true);
    assert_eq!(kbs(&f.json(&["updates", "--image-id", "1", "--filter", "kb5000002"])), ["KB5000002"]);
    assert_eq!(kbs(&f.json(&["updates", "--image-id", "1", "--filter", "executable"])), ["-"]);
    assert_eq!(kbs(&f.json(&["updates", "--image-id", "1", "--arch", "x64"])), ["KB5000001", "KB5000002"]);
    assert!(f.json(&["updates", "--image-id", "1", "--arch", "x86"]).as_array().unwrap().is_empty());

    let before = f.show();
    f.schedule_now(
        &["all-applicable"],
        &["--continue-on-error", "--update-dps", "--remove-superseded", "--include-not-supported"],
    );
    assert_eq!(f.show()["scheduled_updates_status"], "scheduled");
    let tick = f.json(&["tick"]);
    assert_eq!(tick["ran"].as_array().unwrap().len(), 1, "{tick}");

    let show = f.show();
    assert_eq!(show["scheduled_updates_status"], "successful", "{show}");
    assert_eq!(show["content_version"], 2);
    assert_ne!(show["sha256"], before["sha256"]);
    let r = results(&show);
    assert!(r.contains(&(KB2.into(), "applied".into())), "{r:?}");
    assert!(r.contains(&(KB1.into(), "skipped".into())), "{r:?}");
    assert!(r.contains(&(EXE.into(), "not_supported".into())), "{r:?}");
    assert_eq!(installed_kbs(&show), ["KB5000002"]);
    assert!(f.log().contains(NOT_SUPPORTED_LINE), "{}", f.log());
    // A warning here too, as add-package logs it.
    for line in f.log().lines().filter(|l| l.starts_with(NOT_SUPPORTED_LINE) || l.starts_with("<![LOG[Update binary")) {
        assert!(line.contains("type=\"2\""), "{line}");
    }

    // Both DPs hold exactly the site's copy.
    let site_wim = PathBuf::from(show["wim"].as_str().unwrap());
    assert!(imagex_verifies(&site_wim));
    for dp in [&dp_a, &dp_b] {
        assert_eq!(sha256(dp), sha256(&site_wim), "{}", dp.display());
    }
    for d in show["distribution"].as_array().unwrap() {
        assert_eq!(d["status"], "success");
        assert_eq!(d["content_version"], 2);
    }

    // A month later: the next package of the series; incremental sync reads only the new file.
    std::fs::copy(f.all.join(KB3), f.updates.join(KB3)).unwrap();
    let sync = f.json(&["catalog", "sync", "--from", f.updates.to_str().unwrap()]);
    assert_eq!(sync["added"], serde_json::json!([KB3]));
    assert_eq!(sync["unchanged"], 3);
    assert_eq!(kbs(&f.json(&["updates", "--image-id", "1", "--arch", "x64"])), ["KB5000003"]);
    f.schedule_now(&["KB5000003"], &["--update-dps", "--remove-superseded"]);
    let tick = f.json(&["tick"]);
    let dist = &tick["ran"][0]["distribution"];
    let show = f.show();
    assert_eq!(show["scheduled_updates_status"], "successful", "{show}");
    assert_eq!(show["content_version"], 3);
    assert_eq!(installed_kbs(&show), ["KB5000003"]);
    let site_wim = PathBuf::from(show["wim"].as_str().unwrap());
    // A directory DP gets a plain verified copy: what is sent is the whole image, and says so.
    for d in dist["dps"].as_array().unwrap() {
        assert_eq!(d["method"], "copy", "{d}");
        assert_eq!(d["bytes_sent"], show["size"], "{d}");
        assert_eq!(d["image_bytes"], show["size"], "{d}");
        assert_eq!(d["verification"], "sha256", "{d}");
    }
    for dp in [&dp_a, &dp_b] {
        assert_eq!(sha256(dp), sha256(&site_wim), "{}", dp.display());
        assert!(imagex_verifies(dp));
    }

    // Removing a binary from the source expires its catalog entry.
    std::fs::remove_file(f.updates.join(EXE)).unwrap();
    let sync = f.json(&["catalog", "sync", "--from", f.updates.to_str().unwrap()]);
    assert_eq!(sync["removed"], serde_json::json!([EXE]));
    assert!(!kbs(&f.json(&["updates", "--image-id", "1"])).contains(&"-".to_owned()));
}

/// Holds the WIM lock of the site's image, as another writer would: a run claims the job (In
/// Process) and then waits, cancellably, for the lock.
fn hold_image_lock(f: &Fixture) -> WimLock {
    WimLock::acquire(&f.image_path(), LockWait::NoWait).unwrap()
}

fn cancel_during_in_process_leaves_the_image_and_dps_unchanged(backend: Backend) {
    let f = Fixture::new(backend);
    let (dp_a, _) = f.add_dps();
    f.ok(&["distribute", "--image-id", "1"]);
    let dp_before = sha256(&dp_a);
    let before = f.show();
    let lock = hold_image_lock(&f);
    f.schedule_now(&["all-applicable"], &["--continue-on-error", "--update-dps"]);
    let mut tick = f.spawn(&["tick"]);
    f.wait_status(&mut tick, "in_process");
    let cancel = f.json(&["cancel", "--image-id", "1"]);
    assert_eq!(cancel["was"], "in_process", "{cancel}");
    let out = tick.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    drop(lock);
    let show = f.show();
    assert_eq!(show["scheduled_updates_status"], "cancelled", "{show}");
    assert_eq!(show["content_version"], 1);
    assert_eq!(show["sha256"], before["sha256"]);
    assert_eq!(sha256(&f.image_path()), before["sha256"].as_str().unwrap());
    assert_eq!(sha256(&dp_a), dp_before);
    assert!(installed_kbs(&show).is_empty());

    // A pending schedule is simply removed.
    f.ok(&["schedule", "--image-id", "1", "--updates", "KB5000002", "--at", "2099-01-01T00:00:00Z"]);
    assert_eq!(f.json(&["cancel", "--image-id", "1"])["now"], "cancelled");
    assert!(f.json(&["tick"])["ran"].as_array().unwrap().is_empty());
}

fn a_killed_runner_leaves_a_failed_job_and_an_intact_image_and_a_sigterm_requeues(backend: Backend) {
    let f = Fixture::new(backend);
    let (dp_a, _) = f.add_dps();
    f.ok(&["distribute", "--image-id", "1"]);
    let (image_before, dp_before) = (sha256(&f.image_path()), sha256(&dp_a));

    let lock = hold_image_lock(&f);
    f.schedule_now(&["KB5000002"], &["--update-dps"]);
    let mut runner = f.spawn(&["run"]);
    f.wait_status(&mut runner, "in_process");
    runner.kill().unwrap(); // SIGKILL
    runner.wait().unwrap();
    drop(lock);
    let tick = f.json(&["tick"]);
    assert_eq!(tick["recovered"][0]["status"], "failed", "{tick}");
    let show = f.show();
    assert_eq!(show["scheduled_updates_status"], "failed");
    assert_eq!(show["content_version"], 1);
    // The image is the last good content version, whole: same bytes, and wimlib verifies it.
    assert_eq!(sha256(&f.image_path()), image_before);
    assert!(imagex_verifies(&f.image_path()));
    assert_eq!(sha256(&dp_a), dp_before);

    // SIGTERM: the run stops at its safe point and is put back in the queue; the next pass runs it.
    let lock = hold_image_lock(&f);
    f.schedule_now(&["KB5000002"], &["--update-dps"]);
    let mut runner = f.spawn(&["run"]);
    f.wait_status(&mut runner, "in_process");
    let pid = runner.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let out = runner.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    drop(lock);
    assert_eq!(f.show()["scheduled_updates_status"], "scheduled");
    f.json(&["tick"]);
    let show = f.show();
    assert_eq!(show["scheduled_updates_status"], "successful", "{show}");
    assert_eq!(show["content_version"], 2);
    assert_eq!(sha256(&dp_a), show["sha256"].as_str().unwrap());
}

fn two_ticks_at_once_run_the_job_once(backend: Backend) {
    let f = Fixture::new(backend);
    f.schedule_now(&["KB5000002"], &[]);
    let a = f.spawn(&["tick", "--json"]);
    let b = f.spawn(&["tick", "--json"]);
    let mut ran = 0;
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        ran += report["ran"].as_array().unwrap().len();
    }
    assert_eq!(ran, 1);
    let show = f.show();
    assert_eq!(show["scheduled_updates_status"], "successful");
    assert_eq!(show["content_version"], 2);
    assert_eq!(f.log().matches("Servicing job 1 started").count(), 1);
}

/// Four runners started at the same moment over ten due runs (one per image): every run is claimed
/// and run by exactly one runner, as the runners' reports and the run history in the database show.
fn four_runners_over_ten_due_jobs_run_each_job_once(backend: Backend) {
    let f = Fixture::new(backend);
    let wim = f.work.path("win10.wim");
    for id in 2..=10 {
        let imported = f.json(&["image", "import", wim.to_str().unwrap(), "--single-index", "--index", "2"]);
        assert_eq!(imported["id"], id);
    }
    for id in 1..=10 {
        f.ok(&["schedule", "--image-id", &id.to_string(), "--updates", "KB5000002", "--now"]);
    }
    let runners: Vec<Child> = (0..4).map(|_| f.spawn(&["tick", "--json"])).collect();
    let mut ran: Vec<i64> = Vec::new();
    let mut per_runner = Vec::new();
    for child in runners {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let jobs: Vec<i64> = report["ran"].as_array().unwrap().iter().map(|r| r["job"].as_i64().unwrap()).collect();
        per_runner.push(jobs.len());
        ran.extend(jobs);
    }
    println!("{backend:?}: jobs run per runner: {per_runner:?}");
    ran.sort_unstable();
    assert_eq!(ran, (1..=10).collect::<Vec<i64>>(), "every job exactly once across the runners");
    // The run history: one run per image, Successful, by one runner, version 1 → 2, started once.
    let log = f.log();
    for id in 1..=10 {
        let show = f.json(&["image", "show", &id.to_string()]);
        let job = &show["schedule"]["job"];
        assert_eq!(job["status"], "successful", "{show}");
        assert_eq!((job["version_before"].as_i64(), job["version_after"].as_i64()), (Some(1), Some(2)), "{job}");
        assert!(job["runner"].is_string(), "{job}");
        assert_eq!(show["content_version"], 2);
        let job_id = job["id"].as_i64().unwrap();
        assert_eq!(log.matches(&format!("Servicing job {job_id} started")).count(), 1, "job {job_id}");
    }
}

fn corrupt(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut bytes = std::fs::read(path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(path, bytes).unwrap();
}

fn a_corrupted_content_library_blob_fails_its_update_nothing_is_applied_and_site_tick_exits_nonzero(backend: Backend) {
    let f = Fixture::new(backend);
    let catalog = f.json(&["catalog", "list"]);
    let kb2 = catalog.as_array().unwrap().iter().find(|u| u["kb"] == "KB5000002").unwrap();
    let sha = kb2["sha256"].as_str().unwrap();
    corrupt(&f.site.join("content").join(&sha[..2]).join(sha));
    let before = sha256(&f.image_path());

    f.schedule_now(&["KB5000002"], &[]);
    f.tick_fails("job 1");
    let show = f.show();
    assert_eq!(show["scheduled_updates_status"], "failed", "{show}");
    let update = &show["schedule"]["job"]["updates"][0];
    assert_eq!(update["result"], "failed");
    let reason = update["reason"].as_str().unwrap();
    assert!(reason.contains("is corrupt"), "{update}");
    // Issue 19: the message named a repair ("re-sync the catalog") that skipped unchanged files.
    assert!(reason.contains("catalog sync --from") && reason.contains("--verify"), "{reason}");
    assert_eq!(show["content_version"], 1);
    assert_eq!(sha256(&f.image_path()), before);
    assert!(installed_kbs(&show).is_empty());
    assert!(f.log().contains("is corrupt"));
}

/// Issue 17 item 2: a DP is a share others can write to. A planted `image-<ID>` link (to a folder
/// outside the DP) and a planted lock-file link are never written through.
fn planted_links_in_a_distribution_point_are_not_followed(backend: Backend) {
    let f = Fixture::new(backend);
    let victim_dir = f.work.path("victim-dir");
    std::fs::create_dir_all(&victim_dir).unwrap();
    let victim = f.work.path("victim.txt");
    std::fs::write(&victim, b"precious").unwrap();
    let (dp_a, dp_b) = {
        let (a, b) = (f.work.path("dp-a"), f.work.path("dp-b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(b.join("image-1")).unwrap();
        std::os::unix::fs::symlink(&victim_dir, a.join("image-1")).unwrap();
        std::os::unix::fs::symlink(&victim, b.join("image-1/install.wim.lock")).unwrap();
        f.add_dps()
    };
    let out = run(&f.args(&["distribute", "--image-id", "1"]));
    let err = stderr(&out);
    assert!(std::fs::read_dir(&victim_dir).unwrap().next().is_none(), "wrote through the image-1 link: {err}");
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious", "wrote through the lock link: {err}");
    assert!(!dp_a.exists() || dp_a.symlink_metadata().is_ok_and(|m| !m.file_type().is_symlink()));
    assert!(!dp_b.exists(), "distributed through a planted lock link");
    let status = run(&f.args(&["dp", "list", "--json"]));
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(!text.contains("\"Success\""), "a DP with a planted link reported success: {text}");
}

/// Regression (issue 17: "a content-library blob that is a symlink to an endless file hangs `site
/// tick` with its job In Process"): the blob is refused at once, the run fails naming it, and
/// `site tick` ends (within the harness's deadline) with exit status 1.
fn an_endless_content_library_blob_fails_site_tick_within_seconds(backend: Backend) {
    let f = Fixture::new(backend);
    let catalog = f.json(&["catalog", "list"]);
    let kb2 = catalog.as_array().unwrap().iter().find(|u| u["kb"] == "KB5000002").unwrap();
    let sha = kb2["sha256"].as_str().unwrap();
    let blob = f.site.join("content").join(&sha[..2]).join(sha);
    std::fs::remove_file(&blob).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &blob).unwrap();
    let before = sha256(&f.image_path());

    f.schedule_now(&["KB5000002"], &[]);
    let mut tick = f.spawn(&["tick"]);
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = tick.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = tick.kill();
            panic!("site tick hung on a blob linked to /dev/zero");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = tick.wait_with_output().unwrap();
    assert_eq!(status.code(), Some(1), "{}", stderr(&out));
    let show = f.show();
    assert_eq!(show["scheduled_updates_status"], "failed", "{show}");
    let reason = show["schedule"]["job"]["updates"][0]["reason"].as_str().unwrap_or_default().to_owned();
    assert!(reason.contains(sha) && reason.contains("not a regular file"), "{reason}");
    assert_eq!(sha256(&f.image_path()), before);
}

on_both_backends!(
    site_services_on_schedule_and_distributes_verified_copies_each_month,
    cancel_during_in_process_leaves_the_image_and_dps_unchanged,
    a_killed_runner_leaves_a_failed_job_and_an_intact_image_and_a_sigterm_requeues,
    two_ticks_at_once_run_the_job_once,
    four_runners_over_ten_due_jobs_run_each_job_once,
    a_corrupted_content_library_blob_fails_its_update_nothing_is_applied_and_site_tick_exits_nonzero,
    planted_links_in_a_distribution_point_are_not_followed,
    an_endless_content_library_blob_fails_site_tick_within_seconds,
);
