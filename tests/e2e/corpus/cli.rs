//! Hostile command lines and paths: missing or conflicting arguments (usage errors, exit status 2),
//! outputs that cannot be written, `--dir` at a file or at a folder that is not Windows, a scratch
//! directory that is a symlink to elsewhere or holds a planted symlink, and a destination that is
//! the source itself.

use std::path::{Path, PathBuf};

use super::{name, s, Case, Expect, Run, Sandbox};
use crate::util::unwritable_dir;

/// A directory nobody can create files in (see `unwritable_dir`), else `/proc/self`, where creating
/// a file fails too.
fn read_only(sb: &Sandbox<'_>) -> PathBuf {
    unwritable_dir(&sb.path("read-only")).unwrap_or_else(|| PathBuf::from("/proc/self"))
}

fn three(sb: &Sandbox<'_>) -> PathBuf {
    sb.copy(&sb.shared.three, "three.wim")
}

/// A cab that fails to apply (its payload digest is wrong), so a run gets as far as the scratch
/// folder and then fails.
fn failing_cab(sb: &Sandbox<'_>) -> PathBuf {
    let bytes = fixtures::packages::catalogue(&fixtures::profile::Profile::win10_amd64())
        .expect("catalogue")
        .into_iter()
        .find(|p| p.file_name == "broken-payload-digest.cab")
        .expect("broken entry")
        .bytes;
    sb.write("broken-payload-digest.cab", &bytes)
}

/// `add-package` of the failing cab into a copy of `win10`, with `extra` arguments.
fn add_failing(sb: &Sandbox<'_>, extra: &[&str]) -> Run {
    let wim = sb.copy(&sb.shared.win10, "win10.wim");
    let cab = failing_cab(sb);
    let mut args = sb.add_package(&wim, &cab);
    args.extend(extra.iter().map(|a| a.to_string()));
    Run { args, inputs: vec![wim, cab.clone()], ..Run::default() }.mentioning(&name(&cab))
}

fn usage(args: &[&str], mention: &str, inputs: &[&Path]) -> Run {
    Run::new(args, inputs, mention)
}

pub fn cases() -> Vec<Case> {
    let fail = |name, setup| Case { name, setup, expect: Expect::Failure };
    let usage_case = |name, setup| Case { name, setup, expect: Expect::Usage };
    vec![
        usage_case("cli/add-package-missing-index", |sb| {
            let wim = three(sb);
            let cab = sb.copy(&sb.shared.good_cab, "KB5000001.cab");
            usage(&["add-package", "--image", &s(&wim), "--package-path", &s(&cab)], "--index", &[&wim, &cab])
        }),
        usage_case("cli/add-package-image-and-dir", |sb| {
            let wim = three(sb);
            let cab = sb.copy(&sb.shared.good_cab, "KB5000001.cab");
            let dir = sb.path("offline");
            std::fs::create_dir_all(&dir).expect("mkdir");
            let args =
                ["add-package", "--image", &s(&wim), "--dir", &s(&dir), "--index", "1", "--package-path", &s(&cab)];
            usage(&args, "--dir", &[&wim, &cab])
        }),
        usage_case("cli/add-package-missing-package-path", |sb| {
            let wim = three(sb);
            usage(&["add-package", "--image", &s(&wim), "--index", "1"], "--package-path", &[&wim])
        }),
        usage_case("cli/get-packages-no-target", |_| usage(&["get-packages", "--index", "1"], "--image", &[])),
        usage_case("cli/wait-lock-not-a-number", |sb| {
            let wim = three(sb);
            usage(&["optimize", "--image", &s(&wim), "--wait-lock", "soon"], "soon", &[&wim])
        }),
        usage_case("cli/unknown-verb", |_| usage(&["service-everything"], "service-everything", &[])),
        fail("cli/add-package-dir-is-a-file", |sb| {
            let wim = three(sb);
            let cab = sb.copy(&sb.shared.good_cab, "KB5000001.cab");
            let args = ["add-package", "--dir", &s(&wim), "--package-path", &s(&cab), "--log-dir", &sb.logs()];
            Run::new(&args, &[&wim, &cab], "three.wim").mentioning("not a directory")
        }),
        fail("cli/get-packages-dir-is-a-file", |sb| {
            let wim = three(sb);
            Run::new(&["get-packages", "--dir", &s(&wim)], &[&wim], "three.wim")
        }),
        fail("cli/add-package-dir-not-windows", |sb| {
            let dir = sb.path("not-windows");
            let readme = sb.write("not-windows/readme.txt", b"no Windows here\n");
            let cab = sb.copy(&sb.shared.good_cab, "KB5000001.cab");
            let args = ["add-package", "--dir", &s(&dir), "--package-path", &s(&cab), "--log-dir", &sb.logs()];
            Run::new(&args, &[&readme, &cab], "not-windows")
        }),
        fail("cli/export-dest-in-unwritable-dir", |sb| {
            let wim = three(sb);
            let dest = read_only(sb).join("corpus-export.wim");
            Run::new(
                &["export-image", "--source", &s(&wim), "--index", "1", "--dest", &s(&dest)],
                &[&wim],
                "corpus-export.wim",
            )
        }),
        fail("cli/reduce-dest-in-unwritable-dir", |sb| {
            let wim = three(sb);
            let dest = read_only(sb).join("corpus-reduce.wim");
            Run::new(&["reduce", "--image", &s(&wim), "--keep", "1", "--dest", &s(&dest)], &[&wim], "corpus-reduce.wim")
        }),
        fail("cli/export-dest-parent-is-a-file", |sb| {
            let wim = three(sb);
            let file = sb.write("plain.txt", b"a file, not a folder\n");
            let dest = file.join("x.wim");
            Run::new(
                &["export-image", "--source", &s(&wim), "--index", "1", "--dest", &s(&dest)],
                &[&wim, &file],
                "x.wim",
            )
        }),
        fail("cli/log-dir-unwritable", |sb| {
            let wim = sb.copy(&sb.shared.win10, "win10.wim");
            let cab = sb.copy(&sb.shared.good_cab, "Windows10.0-KB5000001-x64.cab");
            let logs = read_only(sb).join("corpus-logs");
            let args = [
                "add-package",
                "--image",
                &s(&wim),
                "--index",
                "1",
                "--package-path",
                &s(&cab),
                "--log-dir",
                &s(&logs),
            ];
            Run::new(&args, &[&wim, &cab], "corpus-logs")
        }),
        fail("cli/scratch-dir-symlink-elsewhere", |sb| {
            // The scratch path is a symlink; the run may write only where it points (and logs).
            let target = sb.path("real-scratch");
            std::fs::create_dir_all(&target).expect("mkdir");
            let link = sb.path("scratch-link");
            std::os::unix::fs::symlink(&target, &link).expect("symlink");
            add_failing(sb, &["--scratch-dir", &s(&link)]).allowing(&target)
        }),
        fail("cli/scratch-planted-run-symlink", |sb| {
            // A `run-*` entry in the scratch area that is a symlink to someone else's folder, with an
            // unlocked `.lock`: sweeping stale runs must not follow it.
            let victim = sb.path("victim");
            sb.write("victim/.lock", b"");
            sb.write("victim/precious.txt", b"keep me\n");
            let area = sb.path("scratch/OfflineImageServicing");
            std::fs::create_dir_all(&area).expect("mkdir");
            std::os::unix::fs::symlink(&victim, area.join("run-1-0")).expect("symlink");
            add_failing(sb, &[]).allowing(&area.join("run-1-0")).mentioning("broken-payload-digest.cab")
        }),
        // Issue 17 item 2: planted links where wimpatch writes are refused, never written through.
        fail("cli/planted-lock-file-link", |sb| {
            let wim = sb.copy(&sb.shared.win10, "win10.wim");
            let cab = sb.copy(&sb.shared.good_cab, "KB5000001.cab");
            let victim = sb.write("victim.txt", b"precious\n");
            std::os::unix::fs::symlink(&victim, sb.path("win10.wim.lock")).expect("symlink");
            Run { args: sb.add_package(&wim, &cab), inputs: vec![wim, cab, victim], ..Run::default() }
                .mentioning("win10.wim.lock")
        }),
        fail("cli/planted-log-file-link", |sb| {
            let wim = sb.copy(&sb.shared.win10, "win10.wim");
            let cab = sb.copy(&sb.shared.good_cab, "KB5000001.cab");
            let victim = sb.write("victim.txt", b"precious\n");
            std::os::unix::fs::symlink(&victim, sb.path("logs/dism.log")).expect("symlink");
            Run { args: sb.add_package(&wim, &cab), inputs: vec![wim, cab, victim], ..Run::default() }
                .mentioning("dism.log")
        }),
        fail("cli/planted-default-log-folder-link", |sb| {
            // No --log-dir: the default folder under the scratch area is a link to elsewhere.
            let wim = sb.copy(&sb.shared.win10, "win10.wim");
            let cab = sb.copy(&sb.shared.good_cab, "KB5000001.cab");
            let elsewhere = sb.path("elsewhere");
            std::fs::create_dir_all(&elsewhere).expect("mkdir");
            let area = sb.path("scratch/OfflineImageServicing");
            std::fs::create_dir_all(&area).expect("mkdir");
            std::os::unix::fs::symlink(&elsewhere, area.join("logs")).expect("symlink");
            let args = ["add-package", "--image", &s(&wim), "--index", "1", "--package-path", &s(&cab)];
            Run::new(&args, &[&wim, &cab], "logs")
        }),
        fail("cli/scratch-dir-is-a-file", |sb| {
            let file = sb.write("scratch-file", b"not a folder\n");
            let mut run = add_failing(sb, &["--scratch-dir", &s(&file)]);
            run.inputs.push(file);
            run
        }),
        fail("cli/export-dest-is-source", |sb| {
            let wim = three(sb);
            let w = s(&wim);
            Run::new(&["export-image", "--source", &w, "--index", "1", "--dest", &w], &[&wim], "three.wim")
        }),
        fail("cli/package-path-endless-device", |sb| {
            // /dev/zero never ends: the reader must stop at its limits, not read forever.
            let wim = sb.copy(&sb.shared.win10, "win10.wim");
            Run { args: sb.add_package(&wim, Path::new("/dev/zero")), inputs: vec![wim], ..Run::default() }
                .mentioning("/dev/zero")
        }),
    ]
}
