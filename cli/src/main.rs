//! `wimpatch`: offline servicing of Windows images on Linux. Thin: parses, calls the engine, prints.

#![forbid(unsafe_code)]

mod args;
mod commands;
mod dism;
mod output;
mod reporter;
mod version;

use std::io::Write as _;
use std::process::ExitCode;

use clap::FromArgMatches as _;

fn main() -> ExitCode {
    // Usage errors exit with status 2 inside clap.
    let cli = args::Cli::from_arg_matches(&version::command().get_matches()).unwrap_or_else(|e| e.exit());
    let cli = match dism::rewrite(cli) {
        Ok(Some(cli)) => cli,
        Ok(None) => return ExitCode::SUCCESS,
        Err(usage) => {
            eprintln!(
                "error: {}\n\nFor the DISM options wimpatch maps, try 'wimpatch dism /?'.",
                output::terminal_safe(&usage)
            );
            return ExitCode::from(2);
        }
    };
    init_tracing(&cli.global);
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // A closed stdout (e.g. `| head`) is not a failure of the operation.
            if err
                .chain()
                .any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe))
            {
                return ExitCode::SUCCESS;
            }
            let mut stderr = std::io::stderr().lock();
            if let Some(partial) = err.downcast_ref::<commands::PartialSuccess>() {
                let _ = writeln!(stderr, "warning: {}", output::terminal_safe(&partial.to_string()));
                return ExitCode::from(3);
            }
            if let Some(usage) = err.downcast_ref::<commands::UsageError>() {
                let _ = writeln!(stderr, "error: {}", output::terminal_safe(&usage.to_string()));
                let _ = writeln!(stderr, "\nFor more information, try '--help'.");
                return ExitCode::from(2);
            }
            if err.downcast_ref::<commands::Interrupted>().is_some() {
                // The context is the flag; the engine's own words say what was left as it was.
                for cause in err.chain().skip(1) {
                    let _ = writeln!(stderr, "error: {}", output::terminal_safe(&cause.to_string()));
                }
                return ExitCode::from(130);
            }
            let _ = writeln!(stderr, "error: {}", output::terminal_safe(&err.to_string()));
            // A cause whose words the message above already carries is not said twice.
            let mut said = err.to_string();
            for cause in err.chain().skip(1) {
                let text = cause.to_string();
                if !said.contains(&text) {
                    let _ = writeln!(stderr, "  caused by: {}", output::terminal_safe(&text));
                    said.push_str(&text);
                }
            }
            ExitCode::from(1)
        }
    }
}

/// Diagnostics go to stderr through tracing; `RUST_LOG` overrides the `-v`/`-q` level.
fn init_tracing(g: &args::Global) {
    use tracing_subscriber::EnvFilter;
    let level = match (g.quiet, g.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    // Colour only for a person at a terminal, whatever TERM says; NO_COLOR turns it off there too.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .try_init();
}
