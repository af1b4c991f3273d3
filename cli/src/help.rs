//! What `--help` adds to the argument definitions: examples for every command (as DISM's `/?` has
//! them), and `--wait-lock` hidden on the verbs that never take a writer lock.

/// Examples per command, by the path of subcommand names.
const EXAMPLES: &[(&[&str], &str)] = &[
    (&[], "wimpatch info install.wim\n  wimpatch add-package --image install.wim --index 1 --package-path KB5034441.msu\n  wimpatch service --image install.wim --reduce-to Pro --package-path updates/ --remove-superseded\n  wimpatch <COMMAND> --help"),
    (&["info"], "wimpatch info install.wim\n  wimpatch info install.wim --json"),
    (&["export-image"], "wimpatch export-image --source install.wim --index 3 --dest pro.wim\n  wimpatch export-image --source install.esd --index \"Windows 10 Pro\" --dest pro.wim --compress lzx"),
    (&["delete-image"], "wimpatch delete-image --image install.wim --index 2\n  wimpatch delete-image --image install.wim --index \"Windows 10 Home\""),
    (&["reduce"], "wimpatch reduce --image install.wim --keep 6\n  wimpatch reduce --image install.wim --keep Pro --dest pro.wim --force"),
    (&["optimize"], "wimpatch optimize --image install.wim\n  wimpatch optimize --image install.wim --recompress"),
    (&["verify"], "wimpatch verify install.wim\n  wimpatch verify install.wim --json"),
    (&["mount"], "wimpatch mount --image install.wim --index 1 --mount-dir /mnt/win\n  wimpatch mount --image install.wim --index 1 --mount-dir /mnt/win --read-only"),
    (&["unmount"], "wimpatch unmount --mount-dir /mnt/win --commit\n  wimpatch unmount --mount-dir /mnt/win --discard"),
    (&["add-package"], "wimpatch add-package --image install.wim --index 1 --package-path KB5034441.msu\n  wimpatch add-package --image install.wim --index 1 --package-path ssu.cab lcu.msu --continue-on-error\n  wimpatch add-package --dir /mnt/win --package-path updates/ --dry-run"),
    (&["dism"], "wimpatch dism /Get-ImageInfo /ImageFile:install.wim\n  wimpatch dism /ImageFile:install.wim /Index:1 /Add-Package /PackagePath:KB5034441.msu\n  wimpatch dism /?"),
    (&["completions"], "wimpatch completions bash\n  wimpatch completions fish"),
    (&["manpages"], "wimpatch manpages /usr/local/share/man/man1"),
    (&["get-packages"], "wimpatch get-packages --image install.wim --index 1\n  wimpatch get-packages --dir /mnt/win --all --json"),
    (&["cleanup-image"], "wimpatch cleanup-image --image install.wim --index 1 --analyze-component-store\n  wimpatch cleanup-image --image install.wim --index 1 --start-component-cleanup --reset-base"),
    (&["service"], "wimpatch service --image pro.wim --package-path ssu.cab lcu.msu --remove-superseded\n  wimpatch service --image install.wim --reduce-to 6 --package-path updates/ --remove-superseded --compress lzx"),
    (&["package"], "wimpatch package info KB5034441.msu\n  wimpatch package extract KB5034441.msu --dest kb5034441/"),
    (&["package", "info"], "wimpatch package info Windows8.1-KB2938772-x64.cab\n  wimpatch package info updates/ --json\n  wimpatch package info KB5034441.msu --registry"),
    (&["package", "extract"], "wimpatch package extract Windows8.1-KB2938772-x64.cab --dest kb2938772/"),
    (&["delta"], "wimpatch delta info file.dll.delta\n  wimpatch delta apply forward.delta --source old.dll --out new.dll"),
    (&["delta", "info"], "wimpatch delta info f/ntoskrnl.exe\n  wimpatch delta info r/ntoskrnl.exe --json"),
    (&["delta", "apply"], "wimpatch delta apply f/ntoskrnl.exe --source ntoskrnl.exe.base --out ntoskrnl.exe\n  wimpatch delta apply n/new.dll --out new.dll"),
    (&["delta", "create"], "wimpatch delta create --source old.dll --target new.dll --out forward.delta\n  wimpatch delta create --source old.dll --target new.dll --out forward.delta --format pa31 --hash none"),
    (&["delta", "reverse"], "wimpatch delta reverse f/file.dll --source file.dll --out r/file.dll --target new/file.dll"),
    (&["manifest"], "wimpatch manifest decode x.manifest --image install.wim"),
    (&["manifest", "decode"], "wimpatch manifest decode amd64_x.manifest --wcp-dll wcp.dll\n  wimpatch manifest decode *.manifest --image install.wim --index 1 --out-dir xml/"),
    (&["site"], "wimpatch site --site /srv/wimpatch init\n  export WIMPATCH_SITE=/srv/wimpatch; wimpatch site image list"),
    (&["site", "init"], "wimpatch site --site /srv/wimpatch init\n  wimpatch site --site /mnt/site init --database postgresql://wimpatch@db.example:5432/wimpatch"),
    (&["site", "catalog"], "wimpatch site catalog sync --from /srv/updates\n  wimpatch site catalog list --filter 2024-01"),
    (&["site", "catalog", "sync"], "wimpatch site catalog sync --from /srv/updates\n  wimpatch site catalog sync --from /srv/updates --verify"),
    (&["site", "catalog", "remove"], "wimpatch site catalog remove KB5034441\n  wimpatch site catalog remove 12 13"),
    (&["site", "catalog", "list"], "wimpatch site catalog list\n  wimpatch site catalog list --filter KB5034441 --json"),
    (&["site", "image"], "wimpatch site image import install.wim --single-index --index Pro\n  wimpatch site image list"),
    (&["site", "image", "import"], "wimpatch site image import install.wim\n  wimpatch site image import install.wim --single-index --index 6"),
    (&["site", "image", "list"], "wimpatch site image list\n  wimpatch site image list --json"),
    (&["site", "image", "show"], "wimpatch site image show 1"),
    (&["site", "image", "remove"], "wimpatch site image remove 2"),
    (&["site", "image", "rollback"], "wimpatch site image rollback 1\n  wimpatch site image rollback 1 --update-dps"),
    (&["site", "updates"], "wimpatch site updates --image-id 1\n  wimpatch site updates --image-id 1 --filter Security --arch x64"),
    (&["site", "schedule"], "wimpatch site schedule --image-id 1 --updates all-applicable --now\n  wimpatch site schedule --image-id 1 --updates KB5034441 KB5034439 --at 2026-11-10T02:00:00Z --update-dps\n  wimpatch site schedule --image-id 1 --updates all-applicable --every monthly:second-tuesday@02:00 --remove-superseded"),
    (&["site", "cancel"], "wimpatch site cancel --image-id 1"),
    (&["site", "tick"], "wimpatch site tick\n  wimpatch site tick --json"),
    (&["site", "run"], "wimpatch site run"),
    (&["site", "dp"], "wimpatch site dp add branch1 --path /srv/dp/branch1\n  wimpatch site dp list"),
    (&["site", "dp", "add"], "wimpatch site dp add branch1 --path /srv/dp/branch1"),
    (&["site", "dp", "list"], "wimpatch site dp list\n  wimpatch site dp list --json"),
    (&["site", "dp", "remove"], "wimpatch site dp remove branch1"),
    (&["site", "distribute"], "wimpatch site distribute --image-id 1"),
    (&["site", "serve"], "wimpatch site serve\n  wimpatch site serve --listen 0.0.0.0:8080"),
    (&["site", "report"], "wimpatch site report --html /var/www/wimpatch"),
];

/// The verbs that never take a WIM's writer lock: `--wait-lock` means nothing there.
const NO_WRITER_LOCK: &[&str] = &[
    "info",
    "verify",
    "get-packages",
    "mount",
    "unmount",
    "package",
    "delta",
    "manifest",
    "site",
    "completions",
    "manpages",
];

/// The command line definition with the examples and the hidden options above; parse with it.
pub fn command() -> clap::Command {
    let mut cmd = crate::version::command();
    // The defaults that depend on the user and the environment, named as they are for this run.
    let scratch = servicing::apply::default_scratch_dir();
    cmd = cmd.mut_arg("scratch_dir", |a| {
        a.help(format!(
            "Scratch directory (staging, temporary files, default logs). Default: {} (per user: \
             $XDG_CACHE_HOME/wimpatch, else $TMPDIR/wimpatch-<uid>; created 0700)",
            scratch.display()
        ))
    });
    let logs = scratch.join("OfflineImageServicing").join("logs");
    for verb in ["add-package", "cleanup-image", "service"] {
        cmd = cmd.mut_subcommand(verb, |c| {
            c.mut_arg("log_dir", |a| {
                a.help(format!(
                    "Where OfflineServicingMgr.log (CMTrace, rotated to .lo_ past 2 MiB) and dism.log go. \
                     Default: <scratch>/OfflineImageServicing/logs ({})",
                    logs.display()
                ))
            })
        });
    }
    for (path, text) in EXAMPLES {
        cmd = with_sub(cmd, path, &|c| c.after_help(format!("Examples:\n  {text}")));
    }
    for verb in NO_WRITER_LOCK {
        cmd = with_sub(cmd, &[verb], &hide_wait_lock);
    }
    cmd
}

fn hide_wait_lock(c: clap::Command) -> clap::Command {
    // A global option is copied into a subcommand (and on into its own subcommands) unless the
    // subcommand defines one of the same id: this one is the same option, hidden.
    c.arg(
        clap::Arg::new("wait_lock")
            .long("wait-lock")
            .value_name("SECONDS")
            .value_parser(clap::value_parser!(u64))
            .default_value("0")
            .global(true)
            .hide(true),
    )
}

/// `cmd` with `f` applied to the subcommand at `path` (`cmd` itself for an empty path).
fn with_sub(cmd: clap::Command, path: &[&str], f: &dyn Fn(clap::Command) -> clap::Command) -> clap::Command {
    match path.split_first() {
        None => f(cmd),
        Some((first, rest)) => cmd.mut_subcommand(*first, |sub| with_sub(sub, rest, f)),
    }
}

/// Every command path (for tests): `[]`, `["info"]`, `["site", "catalog", "sync"]`, … hidden ones
/// left out.
#[cfg(test)]
fn all_paths(cmd: &clap::Command, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(prefix.clone());
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
        let mut p = prefix.clone();
        p.push(sub.get_name().to_owned());
        all_paths(sub, p, out);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_command_has_examples() {
        let cmd = super::command();
        let mut paths = Vec::new();
        super::all_paths(&cmd, Vec::new(), &mut paths);
        for path in paths {
            let mut c = &cmd;
            for name in &path {
                c = c.find_subcommand(name).unwrap();
            }
            let help = c.get_after_help().map(|h| h.to_string()).unwrap_or_default();
            assert!(help.starts_with("Examples:"), "no examples for `wimpatch {}`", path.join(" "));
        }
    }

    /// `a "b c" d` → `["a", "b c", "d"]` (the examples quote with double quotes only).
    fn words(line: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (i, part) in line.split('"').enumerate() {
            if i % 2 == 1 {
                out.push(part.to_owned());
            } else {
                out.extend(part.split_whitespace().map(str::to_owned));
            }
        }
        out
    }

    #[test]
    fn every_example_parses() {
        for (_, text) in super::EXAMPLES {
            for line in text.lines().map(str::trim).filter(|l| !l.contains('<') && !l.contains(';')) {
                let args = words(line);
                assert_eq!(args[0], "wimpatch", "{line}");
                if let Err(e) = super::command().try_get_matches_from(&args) {
                    panic!("example `{line}` does not parse: {e}");
                }
            }
        }
    }
}
