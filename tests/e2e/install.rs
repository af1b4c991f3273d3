//! What a newcomer installs: `--version` naming the libraries, shell completions, man pages, and
//! `make install` under a PREFIX into a DESTDIR (binary, pages, completions, systemd units whose
//! paths match, and the sysusers.d entry creating the user the units run as).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{run, run_ok, stderr, Work};

/// The workspace root (the cli package sits one level below it).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

fn tool_stdout(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn version_names_the_wimlib_and_libhivex_in_use() {
    // wimlib-imagex reports the version string of the wimlib it runs with ("using wimlib 1.13.5"),
    // the installed header the version code (Debian's 1.13.6 library says "1.13.5" in its string).
    let imagex = tool_stdout("wimlib-imagex", &["--version"]).expect("wimlib-imagex --version");
    let string = imagex.split("using wimlib ").nth(1).and_then(|r| r.split(')').next()).expect("wimlib version");
    let header = std::fs::read_to_string("/usr/include/wimlib.h").expect("wimlib.h (libwim-dev)");
    let define = |name: &str| {
        header
            .lines()
            .find_map(|l| l.strip_prefix(&format!("#define {name} ")))
            .map(|v| v.trim().to_owned())
            .expect("version define")
    };
    let wimlib = format!(
        "{}.{}.{}",
        define("WIMLIB_MAJOR_VERSION"),
        define("WIMLIB_MINOR_VERSION"),
        define("WIMLIB_PATCH_VERSION")
    );
    let long = run_ok(&["--version"]);
    assert!(long.starts_with(&format!("wimpatch {}\n", env!("CARGO_PKG_VERSION"))), "{long}");
    assert!(long.contains(&format!("wimlib {wimlib} (run time, wimlib_get_version")), "{long}");
    assert!(string == wimlib || long.contains(&format!("its version string says {string})")), "{long}");
    let hivex = tool_stdout("pkg-config", &["--modversion", "hivex"]).map(|v| v.trim().to_owned());
    let hivex = hivex.as_deref().unwrap_or("unknown");
    assert!(long.contains(&format!("libhivex {hivex} (pkg-config")), "{long}");
    assert!(long.contains("loaded: /") && long.contains("libhivex.so"), "{long}");
    let short = run_ok(&["-V"]);
    assert_eq!(short.trim(), format!("wimpatch {} (wimlib {wimlib}, libhivex {hivex})", env!("CARGO_PKG_VERSION")));
    // A subcommand's --version says the same (clap names the subcommand in the first word).
    let sub = run_ok(&["info", "--version"]);
    assert_eq!(sub.split_once(' ').map(|(_, rest)| rest), long.split_once(' ').map(|(_, rest)| rest));
}

#[test]
fn completions_for_every_shell() {
    let bash = run_ok(&["completions", "bash"]);
    assert!(bash.contains("complete -F _wimpatch") && bash.contains("add-package"), "{bash}");
    // The bash script is valid bash.
    let work = Work::new();
    let script = work.path("wimpatch.bash");
    std::fs::write(&script, &bash).unwrap();
    let check = Command::new("bash").arg("-n").arg(&script).output().expect("bash");
    assert!(check.status.success(), "bash -n: {}", String::from_utf8_lossy(&check.stderr));
    assert!(run_ok(&["completions", "zsh"]).starts_with("#compdef wimpatch"));
    assert!(run_ok(&["completions", "fish"]).contains("complete -c wimpatch"));
    assert!(run_ok(&["completions", "powershell"]).contains("Register-ArgumentCompleter"));
    let bad = run(&["completions", "tcsh"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
}

/// The visible subcommands `wimpatch [PARENT…] --help` lists.
fn listed_subcommands(parents: &[&str]) -> Vec<String> {
    let mut args: Vec<&str> = parents.to_vec();
    args.push("--help");
    let help = run_ok(&args);
    let Some(section) = help.split("Commands:\n").nth(1) else { return Vec::new() };
    section
        .lines()
        .take_while(|l| l.starts_with("  "))
        // Wrapped descriptions continue on lines indented further.
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// Every man page name a full tree of commands needs: `wimpatch-site-catalog-sync` and so on.
fn expected_pages(parents: &mut Vec<String>, out: &mut Vec<String>) {
    let refs: Vec<&str> = parents.iter().map(String::as_str).collect();
    out.push(std::iter::once("wimpatch").chain(refs.iter().copied()).collect::<Vec<_>>().join("-") + ".1");
    for sub in listed_subcommands(&refs) {
        parents.push(sub);
        expected_pages(parents, out);
        parents.pop();
    }
}

fn pages_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("man dir")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn manpages_one_per_command_and_subcommand() {
    let work = Work::new();
    let dir = work.path("man/man1");
    run_ok(&["manpages", dir.to_str().unwrap()]);
    let mut expected = Vec::new();
    expected_pages(&mut Vec::new(), &mut expected);
    expected.sort();
    assert!(expected.len() > 30, "{expected:?}");
    assert_eq!(pages_in(&dir), expected);
    let page = std::fs::read_to_string(dir.join("wimpatch-site-catalog-sync.1")).unwrap();
    assert!(page.starts_with(".ie \\n(.g .ds Aq") || page.contains(".TH"), "{page}");
    assert!(page.contains("wimpatch\\-site\\-catalog\\-sync"), "{page}");
    assert!(!dir.join("wimpatch-mount-helper.1").exists(), "hidden commands have no page");
}

#[test]
fn make_install_under_prefix_and_destdir() {
    let work = Work::new();
    let dest = work.path("root");
    let out = Command::new("make")
        .current_dir(repo_root())
        .args(["--no-print-directory", "install", "PREFIX=/usr"])
        .arg(format!("DESTDIR={}", dest.display()))
        .arg(format!("WIMPATCH_BIN={}", env!("CARGO_BIN_EXE_wimpatch")))
        .output()
        .expect("make");
    assert!(out.status.success(), "make install: {}\n{}", String::from_utf8_lossy(&out.stdout), stderr(&out));

    // The binary, and it runs.
    let bin = dest.join("usr/bin/wimpatch");
    let v = Command::new(&bin).arg("--version").output().expect("installed binary");
    assert!(v.status.success() && String::from_utf8_lossy(&v.stdout).contains("wimlib "));
    // Man pages, one per command, and completions where the shells look for them.
    let man = pages_in(&dest.join("usr/share/man/man1"));
    assert!(man.contains(&"wimpatch.1".to_owned()) && man.contains(&"wimpatch-site-tick.1".to_owned()), "{man:?}");
    for c in [
        "bash-completion/completions/wimpatch",
        "zsh/site-functions/_wimpatch",
        "fish/vendor_completions.d/wimpatch.fish",
    ] {
        let p = dest.join("usr/share").join(c);
        assert!(std::fs::metadata(&p).map(|m| m.len() > 100).unwrap_or(false), "{}", p.display());
    }

    // The units run the installed binary as the user sysusers.d creates, on the site the README names.
    let units = dest.join("usr/lib/systemd/system");
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    for name in ["wimpatch-site.service", "wimpatch-site-tick.service", "wimpatch-site-tick.timer"] {
        let text = std::fs::read_to_string(units.join(name)).unwrap_or_else(|_| panic!("{name} installed"));
        if name.ends_with(".timer") {
            continue;
        }
        let exec = text.lines().find_map(|l| l.strip_prefix("ExecStart=")).expect("ExecStart");
        assert!(exec.starts_with("/usr/bin/wimpatch site "), "{name}: {exec}");
        assert!(text.contains("\nUser=wimpatch\n") && text.contains("\nGroup=wimpatch\n"), "{name}");
        let site = text.lines().find_map(|l| l.strip_prefix("Environment=WIMPATCH_SITE=")).expect("site");
        assert!(readme.contains(&format!("units use {site}")), "{name}: the README names the units' site {site}");
        let writable = text.lines().find_map(|l| l.strip_prefix("ReadWritePaths=")).expect("ReadWritePaths");
        assert!(Path::new(site).starts_with(writable), "{name}: the site {site} is writable ({writable})");
    }
    let sysusers = dest.join("usr/lib/sysusers.d/wimpatch.conf");
    let tmpfiles = std::fs::read_to_string(dest.join("usr/lib/tmpfiles.d/wimpatch.conf")).unwrap();
    assert!(tmpfiles.lines().any(|l| l.starts_with("d /srv/wimpatch 0750 wimpatch wimpatch")), "{tmpfiles}");
    // systemd-sysusers, where present, really creates the user from the entry in an empty root.
    if Command::new("systemd-sysusers").arg("--version").output().is_ok_and(|o| o.status.success()) {
        std::fs::create_dir_all(dest.join("etc")).unwrap();
        let made = Command::new("systemd-sysusers")
            .arg(format!("--root={}", dest.display()))
            .arg(&sysusers)
            .output()
            .expect("systemd-sysusers");
        assert!(made.status.success(), "systemd-sysusers: {}", stderr(&made));
        let passwd = std::fs::read_to_string(dest.join("etc/passwd")).unwrap();
        assert!(passwd.lines().any(|l| l.starts_with("wimpatch:") && l.contains(":/srv/wimpatch:")), "{passwd}");
        let group = std::fs::read_to_string(dest.join("etc/group")).unwrap();
        assert!(group.lines().any(|l| l.starts_with("wimpatch:")), "{group}");
    } else {
        let text = std::fs::read_to_string(&sysusers).unwrap();
        assert!(text.lines().any(|l| l.starts_with("u wimpatch ")), "{text}");
    }

    // `make uninstall` with the same variables removes every file install put there.
    let out = Command::new("make")
        .current_dir(repo_root())
        .args(["--no-print-directory", "uninstall", "PREFIX=/usr"])
        .arg(format!("DESTDIR={}", dest.display()))
        .output()
        .expect("make");
    assert!(out.status.success(), "make uninstall: {}", stderr(&out));
    let left: Vec<_> = crate::util::tree_snapshot(&dest.join("usr"))
        .into_iter()
        .filter(|(_, what)| what != "dir")
        .map(|(p, _)| p)
        .collect();
    assert!(left.is_empty(), "left after uninstall: {left:?}");
}

#[test]
fn installed_units_pass_systemd_analyze_verify() {
    if !Command::new("systemd-analyze").arg("--version").output().is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: installed_units_pass_systemd_analyze_verify (no systemd-analyze)");
        return;
    }
    // PREFIX inside the work folder, no DESTDIR: ExecStart then names a binary that exists, which
    // `verify` checks, as it checks every key and section.
    let work = Work::new();
    let prefix = work.path("usr");
    let out = Command::new("make")
        .current_dir(repo_root())
        .args(["--no-print-directory", "install"])
        .arg(format!("PREFIX={}", prefix.display()))
        .arg(format!("WIMPATCH_BIN={}", env!("CARGO_BIN_EXE_wimpatch")))
        .output()
        .expect("make");
    assert!(out.status.success(), "make install: {}", stderr(&out));
    let units = prefix.join("lib/systemd/system");
    // The DP drop-in (issue 19) as the admin installs it, with this test's own DP folders: the units
    // still verify with it.
    let example =
        std::fs::read_to_string(prefix.join("share/doc/wimpatch/dp-paths.conf")).expect("dp-paths.conf installed");
    let dps = [work.path("dp1"), work.path("dp2")];
    let mut dropin: Vec<String> =
        example.lines().filter(|l| !l.starts_with("ReadWritePaths=")).map(str::to_owned).collect();
    for d in &dps {
        std::fs::create_dir_all(d).unwrap();
        dropin.push(format!("ReadWritePaths={}", d.display()));
    }
    for unit in ["wimpatch-site.service", "wimpatch-site-tick.service"] {
        let dir = units.join(format!("{unit}.d"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("dp-paths.conf"), dropin.join("\n") + "\n").unwrap();
    }
    // systemd-analyze reads drop-ins from its unit path: pointed at the installed units, it must see
    // ours (a bad key in a copy of it is reported, naming the file), and find nothing wrong in it.
    let unit_path = format!("{}:", units.display());
    let probe_dir = units.join("wimpatch-site-tick.service.d");
    std::fs::write(probe_dir.join("zz-probe.conf"), "[Service]\nNoSuchKeyForTheProbe=1\n").unwrap();
    let probe = Command::new("systemd-analyze")
        .env("SYSTEMD_UNIT_PATH", &unit_path)
        .arg("verify")
        .arg(units.join("wimpatch-site-tick.service"))
        .output()
        .expect("systemd-analyze");
    assert!(stderr(&probe).contains("zz-probe.conf"), "drop-ins are not read: {}", stderr(&probe));
    std::fs::remove_file(probe_dir.join("zz-probe.conf")).unwrap();
    let verify = Command::new("systemd-analyze")
        .env("SYSTEMD_UNIT_PATH", &unit_path)
        .arg("verify")
        .args(
            ["wimpatch-site.service", "wimpatch-site-tick.service", "wimpatch-site-tick.timer"].map(|u| units.join(u)),
        )
        .output()
        .expect("systemd-analyze");
    assert!(verify.status.success() && verify.stderr.is_empty(), "systemd-analyze verify: {}", stderr(&verify));
}
