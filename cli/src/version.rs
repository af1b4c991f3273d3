//! The command with its version text: wimpatch's own version plus the wimlib and libhivex in use.

use clap::CommandFactory as _;

/// The clap command of `wimpatch`, with `-V` / `--version` naming the libraries. Used to parse the
/// command line and to generate completions and man pages, so all three agree.
pub fn command() -> clap::Command {
    let (short, long) = texts();
    // clap keeps &'static str; the texts are made once per process.
    crate::args::Cli::command().version(leak(short)).long_version(leak(long))
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// `-V` (one line) and `--version` (one line per library, saying where each number comes from).
fn texts() -> (String, String) {
    let own = env!("CARGO_PKG_VERSION");
    let (major, minor, patch) = servicing::wim::wimlib_version();
    let wimlib = format!("{major}.{minor}.{patch}");
    let string = servicing::wim::wimlib_version_string();
    let says = if string.is_empty() || string == wimlib {
        String::new()
    } else {
        format!("; its version string says {string}")
    };
    let hivex = servicing::hive::libhivex_version();
    let short = format!("{own} (wimlib {wimlib}, libhivex {})", hivex.build_version);
    let loaded = hivex.loaded.map(|p| format!("; loaded: {}", p.display())).unwrap_or_default();
    let long = format!(
        "{own}\nwimlib {wimlib} (run time, wimlib_get_version{says})\nlibhivex {} (pkg-config when wimpatch was built: libhivex has no version call{loaded})",
        hivex.build_version
    );
    (short, long)
}
