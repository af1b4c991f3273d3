//! `wimpatch`: offline servicing of Windows images on Linux. Thin: parses, calls the engine, prints.

#![forbid(unsafe_code)]

mod args;
mod commands;
mod dism;
mod failure;
mod help;
mod output;
mod reporter;
mod site_progress;
mod version;

use std::io::Write as _;
use std::process::ExitCode;

use clap::FromArgMatches as _;

fn main() -> ExitCode {
    let parsed = help::command().try_get_matches().and_then(|m| args::Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
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
    // wimlib and the codecs the package readers borrow from it (LZMS), before any command decodes.
    servicing::init();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // A closed stdout (e.g. `| head`) is not a failure of the operation.
        Err(err) if failure::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            let status = failure::exit_status(&err);
            let lines = failure::lines(&err);
            let mut stderr = std::io::stderr().lock();
            let first = match status {
                3 => "warning",
                _ => "error",
            };
            for (i, line) in lines.iter().enumerate() {
                let lead = if i == 0 || status == 130 { format!("{first}: ") } else { "  caused by: ".into() };
                let _ = writeln!(stderr, "{lead}{}", output::terminal_safe(line));
            }
            if status == 2 {
                let _ = writeln!(stderr, "\nFor more information, try '--help'.");
            }
            ExitCode::from(status)
        }
    }
}

/// A command line clap refuses (exit status 2; `--help` and `--version` exit 0 through here too).
/// With `--json` on the line, stdout also gets the `{"error": …}` object every failure prints.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let is_usage = !matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
        && e.kind() != ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand;
    if is_usage && std::env::args_os().any(|a| a == "--json") {
        // clap's words up to its usage line, on one line: "the following required arguments were
        // not provided: <WIM>".
        let rendered = e.render().to_string();
        let message = rendered
            .lines()
            .take_while(|l| !l.starts_with("Usage:"))
            .map(|l| l.trim().trim_start_matches("error: "))
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let body = serde_json::json!({
            "ok": false,
            "error": { "message": message, "input": null, "code": "usage", "exit_status": 2 }
        });
        let mut out = std::io::stdout().lock();
        let _ = serde_json::to_writer_pretty(&mut out, &body);
        let _ = writeln!(out);
    }
    e.exit()
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
