//! Fault injection: every writing operation of wimpatch is run in a child process and killed with
//! SIGKILL at a random moment (a seeded PRNG draws the delay between 0 and the operation's measured
//! uncut duration). After each kill the result must open and pass `wimlib-imagex verify`, hold exactly
//! the old or exactly the new content, the inputs it only reads must be byte-identical, and the next
//! writer must succeed and leave no temp file, lock file or scratch folder behind.
//!
//! Shared by the `wimpatch-faults` binary (`make faults`) and the short form in the end-to-end tests
//! (`tests/e2e/faults.rs`), which include this folder by path.

pub mod inputs;
pub mod ops;
pub mod state;

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use ops::{Case, Operation, OPERATIONS};
use state::{debris, snapshot, verifies, WimState};

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The wimpatch binary.
    pub wimpatch: PathBuf,
    /// Killed runs per operation.
    pub runs: usize,
    /// PRNG seed; the same seed draws the same delays.
    pub seed: u64,
    /// Input sizes.
    pub scale: inputs::Scale,
    /// Only operations whose name contains this.
    pub only: Option<String>,
    /// Where the inputs and runs live (a temp folder is made inside, removed at the end unless a
    /// run failed).
    pub work_root: PathBuf,
}

/// The outcome for one operation.
#[derive(Debug, Clone, Default)]
pub struct Row {
    /// The operation's name.
    pub name: String,
    /// Killed runs attempted.
    pub runs: usize,
    /// Uncut duration, the upper bound of the kill delay.
    pub uncut: Duration,
    /// Runs where the kill landed before the process finished on its own.
    pub killed: usize,
    /// Runs that ended in the old state.
    pub old: usize,
    /// Runs that ended in the new state.
    pub new: usize,
    /// Runs that ended in neither (unreadable, failing verify, mixed content, changed inputs).
    pub corrupted: usize,
    /// Killed runs that left a temp file, lock file or scratch folder for the next writer.
    pub debris_left: usize,
    /// Runs whose next writer failed, or left debris or a wrong state.
    pub recovery_failed: usize,
    /// Runs whose next writer kept the killed run's scratch folder (a failure: every scratch folder
    /// of a dead run must be swept by the next run).
    pub scratch_kept: usize,
}

/// Every row and every failure, described.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// One row per operation.
    pub rows: Vec<Row>,
    /// What went wrong, one line each (empty when all is well).
    pub failures: Vec<String>,
    /// Occurrences of known wimpatch bugs, one line each; they fail the run only when strict.
    pub known: Vec<String>,
}

impl Report {
    /// Whether no run was corrupted and every next writer recovered; `strict` also counts the
    /// known bugs.
    pub fn ok(&self, strict: bool) -> bool {
        self.failures.is_empty() && (!strict || self.known.is_empty())
    }

    /// The table, Markdown.
    pub fn table(&self) -> String {
        let mut t = String::from(
            "| operation | runs | uncut s | killed mid-run | survived (old state) | survived (new state) \
             | corrupted/mixed | debris left | recovery failed | scratch kept |\n\
             |---|---|---|---|---|---|---|---|---|---|\n",
        );
        for r in &self.rows {
            t.push_str(&format!(
                "| {} | {} | {:.3} | {} | {} | {} | {} | {} | {} | {} |\n",
                r.name,
                r.runs,
                r.uncut.as_secs_f64(),
                r.killed,
                r.old,
                r.new,
                r.corrupted,
                r.debris_left,
                r.recovery_failed,
                r.scratch_kept
            ));
        }
        t
    }
}

/// splitmix64: small, seedable, good enough to spread kill delays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn sha256(path: &Path) -> String {
    match std::fs::read(path) {
        Ok(bytes) => Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect(),
        Err(e) => format!("unreadable: {e}"),
    }
}

fn wimpatch(config: &Config, args: &[String]) -> Command {
    let mut c = Command::new(&config.wimpatch);
    c.args(args).env("WIMPATCH_NO_PROGRESS", "1").env_remove("RUST_LOG");
    c
}

/// Runs every selected operation; never panics on a failed check, it reports it.
pub fn run(config: &Config) -> Result<Report, String> {
    std::fs::create_dir_all(&config.work_root).map_err(|e| e.to_string())?;
    let work = tempfile::tempdir_in(&config.work_root).map_err(|e| e.to_string())?;
    let inputs = inputs::build(&work.path().join("inputs"), config.scale, &config.wimpatch)?;
    let mut rng = Rng(config.seed);
    let mut report = Report::default();
    for op in OPERATIONS.iter().filter(|op| config.only.as_deref().is_none_or(|o| op.name.contains(o))) {
        let dir = work.path().join(op.name.replace([' ', '(', ')'], "_"));
        let row = run_operation(config, op, &inputs, &dir, &mut rng, &mut report)?;
        report.rows.push(row);
    }
    if !report.failures.is_empty() {
        // The failed runs' folders were kept; keep the tree around them too.
        let kept = work.keep();
        report.failures.push(format!("failed runs kept under {}", kept.display()));
    }
    Ok(report)
}

/// The old and new states and the uncut duration, from one run that is not interrupted.
struct Reference {
    old: Option<WimState>,
    new: Option<WimState>,
    uncut: Duration,
}

fn reference(config: &Config, op: &Operation, inputs: &inputs::Inputs, dir: &Path) -> Result<Reference, String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let case = op.prepare(inputs, dir)?;
    let old = snapshot(&case.wim, op.probe, &config.wimpatch)?;
    let started = Instant::now();
    state::output(&mut wimpatch(config, &case.args)).map_err(|e| format!("{}: uncut run: {e}", op.name))?;
    let uncut = started.elapsed();
    let new = snapshot(&case.wim, op.probe, &config.wimpatch)?;
    if old == new {
        return Err(format!("{}: the uncut run did not change {}", op.name, case.wim.display()));
    }
    let left = debris(&case.wim, &case.scratch);
    if !left.is_empty() {
        return Err(format!("{}: the uncut run left {left:?}", op.name));
    }
    std::fs::remove_dir_all(dir).map_err(|e| e.to_string())?;
    Ok(Reference { old, new, uncut })
}

fn run_operation(
    config: &Config,
    op: &Operation,
    inputs: &inputs::Inputs,
    dir: &Path,
    rng: &mut Rng,
    report: &mut Report,
) -> Result<Row, String> {
    let reference = reference(config, op, inputs, &dir.join("reference"))?;
    let mut row = Row { name: op.name.to_owned(), runs: config.runs, uncut: reference.uncut, ..Row::default() };
    for i in 0..config.runs {
        let run_dir = dir.join(format!("run-{i}"));
        std::fs::create_dir_all(&run_dir).map_err(|e| e.to_string())?;
        let case = op.prepare(inputs, &run_dir)?;
        let delay = reference.uncut.mul_f64(rng.unit());
        let at = format!("{} run {i} (kill after {delay:?})", op.name);
        match kill_once(config, op, &case, delay, &reference) {
            Ok(outcome) => {
                row.killed += usize::from(outcome.killed);
                row.debris_left += usize::from(outcome.debris);
                match outcome.state {
                    Ok(true) => row.new += 1,
                    Ok(false) => row.old += 1,
                    Err(e) => {
                        row.corrupted += 1;
                        report.failures.push(format!("{at}: {e}"));
                        continue; // keep the folder for a post-mortem
                    }
                }
                match recover(config, op, &case, outcome.state == Ok(true), &reference) {
                    Ok(kept) if kept.is_empty() => {}
                    Ok(kept) => {
                        row.scratch_kept += 1;
                        report.failures.push(format!(
                            "{at}: the next writer kept the killed run's scratch folder {}",
                            names(&kept, &run_dir)
                        ));
                        continue; // keep the folder for a post-mortem
                    }
                    Err(e) => {
                        row.recovery_failed += 1;
                        match op.known_bug {
                            Some(bug) => report.known.push(format!("{at}: next writer: {e} [{bug}]")),
                            None => report.failures.push(format!("{at}: next writer: {e}")),
                        }
                        continue;
                    }
                }
            }
            Err(e) => return Err(format!("{} run {i}: {e}", op.name)),
        }
        std::fs::remove_dir_all(&run_dir).map_err(|e| e.to_string())?;
    }
    Ok(row)
}

struct Outcome {
    /// The kill landed before the process exited on its own.
    killed: bool,
    /// Debris was left for the next writer.
    debris: bool,
    /// `Ok(true)` new state, `Ok(false)` old state, `Err` anything else.
    state: Result<bool, String>,
}

fn kill_once(config: &Config, op: &Operation, case: &Case, delay: Duration, r: &Reference) -> Result<Outcome, String> {
    let hashes: Vec<String> = case.untouched.iter().map(|p| sha256(p)).collect();
    let mut child = wimpatch(config, &case.args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("spawn: {e}"))?;
    std::thread::sleep(delay);
    // On a child that already exited (not yet reaped) this is a no-op; the status tells which.
    let _ = child.kill();
    let status = child.wait().map_err(|e| format!("wait: {e}"))?;
    let killed = status.signal() == Some(9);
    if !killed && !status.success() {
        return Ok(Outcome { killed, debris: false, state: Err(format!("finished on its own but failed: {status}")) });
    }
    let debris = !debris(&case.wim, &case.scratch).is_empty();
    let state = classify(config, op, case, &hashes, r);
    Ok(Outcome { killed, debris, state })
}

fn classify(config: &Config, op: &Operation, case: &Case, hashes: &[String], r: &Reference) -> Result<bool, String> {
    for (p, h) in case.untouched.iter().zip(hashes) {
        if &sha256(p) != h {
            return Err(format!("{} changed, though the operation only reads it", p.display()));
        }
    }
    if case.wim.exists() {
        verifies(&case.wim).map_err(|e| format!("{} does not verify: {e}", case.wim.display()))?;
    }
    let now = snapshot(&case.wim, op.probe, &config.wimpatch)?;
    if now == r.new {
        Ok(true)
    } else if now == r.old {
        Ok(false)
    } else {
        Err(format!("{} holds neither the old nor the new content: {}", case.wim.display(), describe(&now)))
    }
}

/// `paths` relative to a run's folder, for short report lines.
fn names(paths: &[PathBuf], run_dir: &Path) -> String {
    let v: Vec<String> = paths.iter().map(|p| p.strip_prefix(run_dir).unwrap_or(p).display().to_string()).collect();
    v.join(", ")
}

fn describe(state: &Option<WimState>) -> String {
    match state {
        None => "absent".into(),
        Some(s) => format!("images {:?}, size {:?}", s.images, s.size),
    }
}

/// Runs the next writer and checks it succeeded, swept every piece of debris, and left a valid file
/// (the new state where that is defined). Returns the scratch run folders it kept that have no
/// `.lock`.
fn recover(config: &Config, op: &Operation, case: &Case, was_new: bool, r: &Reference) -> Result<Vec<PathBuf>, String> {
    let args = op.next_writer(case, was_new);
    state::output(&mut wimpatch(config, &args))?;
    let (kept, left): (Vec<PathBuf>, Vec<PathBuf>) = debris(&case.wim, &case.scratch)
        .into_iter()
        .partition(|p| p.starts_with(&case.scratch) && p.is_dir() && !p.join(".lock").exists());
    if !left.is_empty() {
        return Err(format!("left {}", names(&left, case.scratch.parent().unwrap_or(&case.scratch))));
    }
    verifies(&case.wim).map_err(|e| format!("{} does not verify: {e}", case.wim.display()))?;
    if !was_new || op.idempotent {
        let now = snapshot(&case.wim, op.probe, &config.wimpatch)?;
        if now != r.new {
            return Err(format!("ended in {}, not the new state", describe(&now)));
        }
    }
    Ok(kept)
}
