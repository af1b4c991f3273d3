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

    pub fn scratch_dir(&self) -> Result<PathBuf> {
        let dir = self.global.scratch_dir.clone().unwrap_or_else(|| std::env::temp_dir().join("wimpatch"));
        safe_fs::create_dir_all(&dir)
            .map_err(|e| anyhow::anyhow!("scratch directory {}: cannot create: {e}", dir.display()))?;
        if self.global.scratch_dir.is_none() {
            // The default sits in the shared temp folder: refuse one another user made.
            safe_fs::check_private_dir(&dir).map_err(|e| anyhow::anyhow!("scratch directory: {e}"))?;
        }
        Ok(dir)
    }

    /// Prints a report: JSON with `--json`, else the given text.
    pub fn print<T: serde::Serialize>(&self, report: &T, text: impl FnOnce() -> String) -> Result<()> {
        use std::io::Write as _;
        self.reporter.finish();
        let mut out = std::io::stdout().lock();
        if self.global.json {
            // As an io::Error, so that a closed stdout (`| grep -m1`) is recognised as such by main.
            serde_json::to_writer_pretty(&mut out, report).map_err(std::io::Error::from)?;
            writeln!(out)?;
        } else {
            write!(out, "{}", crate::output::terminal_safe(&text()))?;
        }
        Ok(())
    }
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> Result<()> {
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
    let ctx = Ctx { global: cli.global, reporter: BarReporter::new(bars), cancel };
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
    match result {
        Err(e) if ctx.cancel.load(Ordering::SeqCst) => Err(e.context(Interrupted)),
        other => other,
    }
}
