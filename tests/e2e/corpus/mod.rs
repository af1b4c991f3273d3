//! The bad-input corpus: malformed and hostile WIMs, cabs and MSUs, package manifests, registry
//! hives and command lines, one table row each. Every row is run in its own sandbox folder and must
//! end with exit status 2 (usage errors) or 1 (everything else), an error on stderr that names the
//! input, no panic, every input byte-identical, and nothing created, changed or removed in the
//! sandbox outside the paths the row allows (scratch, logs, its own output).
//!
//! A row that exposes a wimpatch bug fails its group until the bug is fixed: there is no list of
//! tolerated rows. `WIMPATCH_CORPUS_SHOW=1` prints every row's stderr, to review that each fails
//! for the reason it was written for.

mod cab;
mod cli;
mod hive;
mod mum;
mod wim;

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::util::*;

/// The exit status a row expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// A usage error: exit status 2 (clap rejects the command line).
    Usage,
    /// A failure: exit status 1.
    Failure,
}

/// One row of the corpus.
pub struct Case {
    /// A short, unique name (`wim/truncated-header`).
    pub name: &'static str,
    /// Writes the inputs into the sandbox and returns the command line to run.
    pub setup: fn(&Sandbox<'_>) -> Run,
    /// The exit status it must end with.
    pub expect: Expect,
}

/// What a row runs and checks.
#[derive(Debug, Default)]
pub struct Run {
    /// wimpatch's arguments.
    pub args: Vec<String>,
    /// Files that must be byte-identical afterwards.
    pub inputs: Vec<PathBuf>,
    /// Texts stderr must contain (the input's name, at least).
    pub mentions: Vec<String>,
    /// Paths under which the run may create or change files, beyond the sandbox's scratch, logs and
    /// temp folders.
    pub allowed: Vec<PathBuf>,
}

impl Run {
    /// A run of `args` that must name `mention` and leave `inputs` unchanged.
    pub fn new(args: &[&str], inputs: &[&Path], mention: &str) -> Run {
        Run {
            args: args.iter().map(|a| a.to_string()).collect(),
            inputs: inputs.iter().map(|p| p.to_path_buf()).collect(),
            mentions: vec![mention.to_owned()],
            allowed: Vec::new(),
        }
    }

    /// Also requires stderr to contain `text`.
    pub fn mentioning(mut self, text: &str) -> Run {
        self.mentions.push(text.to_owned());
        self
    }

    /// Also allows writes under `path`.
    pub fn allowing(mut self, path: &Path) -> Run {
        self.allowed.push(path.to_path_buf());
        self
    }
}

/// Inputs built once per test and copied into each sandbox.
pub struct Shared {
    /// Holds everything below.
    pub dir: Work,
    /// The tiny `win10` fixture image (three editions, real hives).
    pub win10: PathBuf,
    /// A 3-image WIM made by `wimlib-imagex` (LZX).
    pub three: PathBuf,
    /// A monthly cumulative update for `win10` that applies to it.
    pub good_cab: PathBuf,
}

impl Shared {
    pub fn build() -> Shared {
        let dir = Work::new();
        let win10 = fixture_wim(&dir, "win10", "win10.wim");
        let three = three_image_wim(&dir, "three.wim", 4, 16 * 1024, "lzx");
        let profile = fixtures::profile::Profile::win10_amd64();
        let def =
            fixtures::packages::updates::cumulative_update(&profile, &fixtures::packages::Lcu::monthly(5_000_001, 100))
                .expect("LCU definition");
        let good_cab = dir.path("Windows10.0-KB5000001-x64.cab");
        std::fs::write(
            &good_cab,
            def.cab("Windows10.0-KB5000001-x64.cab", fixtures::packages::Compression::MsZip).expect("cab"),
        )
        .expect("write cab");
        Shared { dir, win10, three, good_cab }
    }
}

/// One row's folder. Scratch (`WIMPATCH_SCRATCH_DIR`), logs, `TMPDIR` and the working directory
/// point inside it.
pub struct Sandbox<'a> {
    pub root: PathBuf,
    pub shared: &'a Shared,
}

impl Sandbox<'_> {
    /// A path in the sandbox.
    pub fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Writes `bytes` as `name` and returns the path.
    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(name);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, bytes).expect("write input");
        p
    }

    /// Copies `from` in as `name`.
    pub fn copy(&self, from: &Path, name: &str) -> PathBuf {
        self.write(name, &std::fs::read(from).expect("read template"))
    }

    /// The sandbox's log folder (allowed), as an argument.
    pub fn logs(&self) -> String {
        s(&self.path("logs"))
    }

    /// `add-package --image <wim> --index 1 --package-path <pkg> --log-dir <logs>`.
    pub fn add_package(&self, wim: &Path, pkg: &Path) -> Vec<String> {
        ["add-package", "--image", &s(wim), "--index", "1", "--package-path", &s(pkg), "--log-dir", &self.logs()]
            .iter()
            .map(|a| a.to_string())
            .collect()
    }
}

/// A path as a `String` argument.
pub fn s(p: &Path) -> String {
    p.to_str().expect("UTF-8 path").to_owned()
}

/// The file name of `p`, which stderr must mention.
pub fn name(p: &Path) -> String {
    p.file_name().expect("file name").to_string_lossy().into_owned()
}

/// Runs one row; returns what went wrong (empty when the row passed).
fn check(case: &Case, shared: &Shared, root: &Path) -> Vec<String> {
    std::fs::create_dir_all(root).expect("sandbox");
    for d in ["scratch", "logs", "tmp", "cwd"] {
        std::fs::create_dir_all(root.join(d)).expect("sandbox folder");
    }
    let sb = Sandbox { root: root.to_path_buf(), shared };
    let run = (case.setup)(&sb);
    let hashes: Vec<String> = run.inputs.iter().map(|p| sha256(p)).collect();
    let before = tree_snapshot(root);
    let out = wimpatch()
        .args(&run.args)
        .env("WIMPATCH_SCRATCH_DIR", root.join("scratch"))
        .env("TMPDIR", root.join("tmp"))
        // A working directory of its own, outside the allowed paths: relative writes show up too.
        .current_dir(root.join("cwd"))
        .output()
        .expect("run wimpatch");
    let err = stderr(&out);
    let mut problems = Vec::new();
    let want = if case.expect == Expect::Usage { 2 } else { 1 };
    if out.status.code() != Some(want) {
        problems.push(format!("exit status {:?}, expected {want}", out.status.code()));
    }
    if err.contains("panicked") {
        problems.push("panicked".into());
    }
    for m in &run.mentions {
        if !err.contains(m.as_str()) {
            problems.push(format!("stderr does not mention {m:?}"));
        }
    }
    for (p, h) in run.inputs.iter().zip(hashes) {
        if sha256(p) != h {
            problems.push(format!("input {} changed", p.display()));
        }
    }
    let mut allowed: Vec<PathBuf> = ["scratch", "logs", "tmp"].iter().map(|d| root.join(d)).collect();
    allowed.extend(run.allowed.iter().cloned());
    for changed in tree_changes(&before, &tree_snapshot(root)) {
        if !allowed.iter().any(|a| changed.starts_with(a)) {
            problems.push(format!("{} was created, changed or removed", changed.display()));
        }
    }
    if std::env::var_os("WIMPATCH_CORPUS_SHOW").is_some() {
        eprintln!("--- {} (exit {:?})\n{}", case.name, out.status.code(), err.trim());
    }
    if !problems.is_empty() {
        problems.push(format!("args {:?}\nstderr: {}", run.args, err.trim()));
    }
    problems
}

/// Every row of the corpus.
pub fn all_cases() -> Vec<Case> {
    [wim::cases(), cab::cases(), mum::cases(), hive::cases(), cli::cases()].into_iter().flatten().collect()
}

/// Runs the rows `select` picks; returns the failures, one text each.
fn run_cases(select: impl Fn(&Case) -> bool) -> (usize, Vec<String>) {
    let shared = Shared::build();
    let cases: Vec<Case> = all_cases().into_iter().filter(|c| select(c)).collect();
    let started = Instant::now();
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let root = shared.dir.path(&format!("case-{i}"));
        let problems = check(case, &shared, &root);
        if problems.is_empty() {
            let _ = std::fs::remove_dir_all(&root);
        } else {
            failures.push(format!("{}:\n  {}", case.name, problems.join("\n  ")));
        }
    }
    eprintln!("corpus: {} cases in {:.1} s, {} failed", cases.len(), started.elapsed().as_secs_f64(), failures.len());
    (cases.len(), failures)
}

fn group(prefix: &str) {
    let (count, failures) = run_cases(|c| c.name.starts_with(prefix));
    assert!(count > 0, "no {prefix} cases");
    assert!(failures.is_empty(), "{} of {count} {prefix} cases failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn corpus_wim() {
    group("wim/");
}

#[test]
fn corpus_cab() {
    group("cab/");
}

#[test]
fn corpus_mum() {
    group("mum/");
}

#[test]
fn corpus_hive() {
    group("hive/");
}

#[test]
fn corpus_cli() {
    group("cli/");
}

#[test]
fn corpus_is_large_and_names_are_unique() {
    let cases = all_cases();
    let mut names: Vec<&str> = cases.iter().map(|c| c.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "duplicate case names");
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    let prefixes = ["wim/", "cab/", "mum/", "hive/", "cli/"];
    assert!(cases.iter().all(|c| prefixes.iter().any(|p| c.name.starts_with(p))), "a case outside the groups");
}
