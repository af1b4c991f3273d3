//! Dispatch from parsed arguments to the engine, and printing of the results.

mod completions;
mod delta;
mod image;
mod manifest;
mod manpages;
mod mount;
mod package;
mod servicing_cmds;
mod site;
mod site_serve;
mod write_out;

pub use servicing_cmds::PartialSuccess;

/// A command that failed because Ctrl-C (or SIGTERM's flag) cancelled it: exit status 130, as a
/// shell reports an interrupted command.
#[derive(Debug)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted (exit status 130)")
    }
}

impl std::error::Error for Interrupted {}

/// A command line that cannot be run as given, found after clap's own checks (a missing `--site`,
/// `--compress` on an append): exit status 2, like clap's usage errors.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// A failure the CLI itself finds after the engine's work (DISM's 0x800f081e, nothing applied), with
/// the stable snake_case kind `--json` reports as its `code`.
#[derive(Debug)]
pub struct Kinded {
    kind: &'static str,
    message: String,
}

impl Kinded {
    pub fn new(kind: &'static str, message: impl Into<String>) -> Kinded {
        Kinded { kind, message: message.into() }
    }

    pub fn kind(&self) -> &'static str {
        self.kind
    }
}

impl std::fmt::Display for Kinded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Kinded {}

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use servicing::progress::Control;
use servicing::wim::LockWait;

use crate::args::{Cli, Command, Global};
use crate::reporter::BarReporter;

/// What every command gets: global options, a progress reporter, and the cancel flag.
pub struct Ctx {
    pub global: Global,
    pub reporter: BarReporter,
    pub cancel: Arc<AtomicBool>,
    /// With `--json`: the last report, held back until the command ends so that a failure after it
    /// is reported in the same JSON document (`"ok": false`, `"error"`).
    pending: RefCell<Option<serde_json::Value>>,
}

impl Ctx {
    pub fn control(&self) -> Control<'_> {
        Control { reporter: &self.reporter, cancel: &self.cancel }
    }

    pub fn lock_wait(&self) -> LockWait {
        match self.global.wait_lock {
            0 => LockWait::NoWait,
            s => LockWait::For(Duration::from_secs(s)),
        }
    }

    /// The scratch directory: `--scratch-dir` (created if missing), or the per-user default.
    pub fn scratch_dir(&self) -> Result<PathBuf> {
        match &self.global.scratch_dir {
            Some(dir) => {
                safe_fs::create_dir_all(dir)
                    .map_err(|e| anyhow::anyhow!("scratch directory {}: cannot create: {e}", dir.display()))?;
                Ok(dir.clone())
            }
            None => default_scratch(),
        }
    }

    /// The scratch directory handed to the engine: `--scratch-dir` as given (the engine falls back
    /// to the default, with a warning, when it does not exist, as ConfigMgr does), or the per-user
    /// default, prepared here so that a refusal names the way out.
    pub fn engine_scratch(&self) -> Result<Option<PathBuf>> {
        match &self.global.scratch_dir {
            Some(dir) => Ok(Some(dir.clone())),
            None => default_scratch().map(Some),
        }
    }

    /// Prints a report: JSON with `--json` (held until the command ends, see `pending`), else the
    /// given text.
    pub fn print<T: serde::Serialize>(&self, report: &T, text: impl FnOnce() -> String) -> Result<()> {
        use std::io::Write as _;
        self.reporter.finish();
        if self.global.json {
            // A command printing several reports (the site runner) streams all but the last.
            self.flush_json()?;
            *self.pending.borrow_mut() = Some(serde_json::to_value(report)?);
        } else {
            let mut out = std::io::stdout().lock();
            write!(out, "{}", crate::output::terminal_safe(&text()))?;
        }
        Ok(())
    }

    /// Writes the held-back JSON report, if any.
    fn flush_json(&self) -> Result<()> {
        if let Some(value) = self.pending.borrow_mut().take() {
            write_json(&value)?;
        }
        Ok(())
    }
}

/// The per-user default scratch directory, created 0700; one another user owns is refused with the
/// way out.
fn default_scratch() -> Result<PathBuf> {
    servicing::apply::prepare_default_scratch_dir().map_err(|e| {
        anyhow::anyhow!(
            "default scratch directory {}: {e}; choose another with --scratch-dir DIR (or WIMPATCH_SCRATCH_DIR)",
            servicing::apply::default_scratch_dir().display()
        )
    })
}

fn write_json(value: &serde_json::Value) -> Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    // As an io::Error, so that a closed stdout (`| grep -m1`) is recognised as such by main.
    serde_json::to_writer_pretty(&mut out, value).map_err(std::io::Error::from)?;
    writeln!(out)?;
    Ok(())
}

/// The file or folder a command is about, named as `input` in a `--json` failure when the error
/// itself names none.
fn command_input(command: &Command) -> Option<PathBuf> {
    use crate::args::{PackageCommand, SiteCommand};
    let target = |t: &crate::args::TargetArgs| t.image.clone().or_else(|| t.dir.clone());
    match command {
        Command::Info { wim } | Command::Verify { wim } => Some(wim.clone()),
        Command::ExportImage(a) => Some(a.source.clone()),
        Command::DeleteImage { image, .. } | Command::Reduce { image, .. } | Command::Optimize { image, .. } => {
            Some(image.clone())
        }
        Command::Mount(a) | Command::MountHelper(a) => Some(a.image.clone()),
        Command::Unmount(a) => Some(a.mount_dir.clone()),
        Command::AddPackage(a) => target(&a.target),
        Command::GetPackages(a) => target(&a.target),
        Command::CleanupImage(a) => target(&a.target),
        Command::Service(a) => Some(a.image.clone()),
        Command::Package(PackageCommand::Info { path, .. } | PackageCommand::Extract { path, .. }) => {
            Some(path.clone())
        }
        Command::Delta(_) | Command::Manifest(_) | Command::Completions { .. } | Command::Manpages { .. } => None,
        // Rewritten into the verb it maps to before this runs.
        Command::Dism { .. } => None,
        Command::Site(a) => match &a.command {
            SiteCommand::Image(crate::args::SiteImageCommand::Import { wim, .. }) => Some(wim.clone()),
            _ => a.site.clone(),
        },
    }
}

/// Runs the parsed command. With `--json`, stdout gets one JSON document: the report, or on failure
/// the report (if any) with `"ok": false` and `"error": {"message", "input", "code", "exit_status"}`.
pub fn run(cli: Cli) -> Result<()> {
    let input = command_input(&cli.command);
    let bars = !(cli.global.no_progress || cli.global.json || cli.global.quiet);
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancel);
    // First Ctrl-C: cancel at the next safe point (wimlib rolls back). Second: give up at once.
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("cancelling at the next safe point (press Ctrl-C again to abort at once)");
    });
    let ctx = Ctx { global: cli.global, reporter: BarReporter::new(bars), cancel, pending: RefCell::new(None) };
    let result = match cli.command {
        Command::Info { wim } => image::info(&ctx, &wim),
        Command::ExportImage(a) => image::export(&ctx, a),
        Command::DeleteImage { image, index } => image::delete(&ctx, &image, &index),
        Command::Reduce { image, keep, dest, force } => image::reduce(&ctx, &image, &keep, dest.as_deref(), force),
        Command::Optimize { image, recompress } => image::optimize(&ctx, &image, recompress),
        Command::Verify { wim } => image::verify(&ctx, &wim),
        Command::Mount(a) => mount::mount(&ctx, a),
        Command::Unmount(a) => mount::unmount(&ctx, a),
        Command::MountHelper(a) => mount::helper(&ctx, a),
        Command::Package(p) => package::run(&ctx, p),
        Command::Delta(d) => delta::run(&ctx, d),
        Command::Manifest(m) => manifest::run(&ctx, m),
        Command::AddPackage(a) => servicing_cmds::add_package(&ctx, a),
        Command::GetPackages(a) => servicing_cmds::get_packages(&ctx, a),
        Command::CleanupImage(a) => servicing_cmds::cleanup_image(&ctx, a),
        Command::Service(a) => servicing_cmds::service(&ctx, a),
        Command::Site(a) => site::run(&ctx, a),
        // main replaced it by the native command it maps to.
        Command::Dism { .. } => Err(anyhow::anyhow!("the DISM options were not translated")),
        Command::Completions { shell } => completions::completions(shell),
        Command::Manpages { dir } => manpages::manpages(&ctx, &dir),
    };
    ctx.reporter.finish();
    let result = match result {
        Err(e) if ctx.cancel.load(Ordering::SeqCst) => Err(e.context(Interrupted)),
        other => other,
    };
    if !ctx.global.json {
        return result;
    }
    match result {
        Ok(()) => ctx.flush_json(),
        Err(e) if crate::failure::is_broken_pipe(&e) => Err(e),
        Err(e) => {
            let report = ctx.pending.borrow_mut().take();
            // stdout closed under us: stderr still says what failed.
            let _ = write_json(&crate::failure::json(&e, report, input.as_ref()));
            Err(e)
        }
    }
}
