//! README.md cannot drift: every command line of its ```sh blocks runs, in order, against fixtures
//! (the folder the README describes: `install.wim`, the 3-edition Windows 8.1-like image, and
//! `updates/`, the synthetic monthly series with `ie11-setup.exe`), with `wimpatch` on PATH, and ends
//! with the exit status its comment names (0 unless it says `exit status N`). Blocks tagged
//! `sh norun` are the ones a test cannot run (a build, root, FUSE, genuine manifests); ```text
//! blocks are synopses, not commands.

use std::path::{Path, PathBuf};
use std::process::Command;

use fixtures::packages::monthly_series;
use fixtures::profile::Profile;

use crate::install::repo_root;
use crate::util::*;

/// One command line of the README, continuation lines joined.
#[derive(Debug, Clone)]
pub struct Line {
    /// 1-based line number in README.md where it starts.
    pub at: usize,
    pub text: String,
}

/// The README's fenced blocks: (info string, command lines).
pub fn blocks(readme: &str) -> Vec<(String, Vec<Line>)> {
    let mut out = Vec::new();
    let mut current: Option<(String, Vec<Line>)> = None;
    let mut pending: Option<Line> = None;
    for (i, raw) in readme.lines().enumerate() {
        if let Some(info) = raw.strip_prefix("```") {
            match current.take() {
                Some(block) => out.push(block),
                None => current = Some((info.trim().to_owned(), Vec::new())),
            }
            continue;
        }
        let Some((_, lines)) = current.as_mut() else { continue };
        let line = raw.trim_end();
        if let Some(mut p) = pending.take() {
            p.text.push(' ');
            p.text.push_str(line.trim_start());
            if p.text.ends_with('\\') {
                p.text.pop();
                pending = Some(p);
            } else {
                lines.push(p);
            }
            continue;
        }
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let mut l = Line { at: i + 1, text: trimmed.to_owned() };
        if l.text.ends_with('\\') {
            l.text.pop();
            pending = Some(l);
        } else {
            lines.push(l);
        }
    }
    out
}

/// The exit status a line's comment announces (`# exit status 3: …`), else 0.
fn expected_status(line: &str) -> i32 {
    line.split_once("# ")
        .and_then(|(_, comment)| comment.split("exit status ").nth(1))
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// A folder with `wimpatch` in it, for PATH.
fn bin_dir(work: &Work) -> PathBuf {
    let dir = work.path("bin");
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_wimpatch"), dir.join("wimpatch")).unwrap();
    dir
}

/// The folder the README's session starts in.
fn session(work: &Work) -> PathBuf {
    let cwd = work.path("session");
    std::fs::create_dir_all(cwd.join("updates")).unwrap();
    let wim = fixture_wim(work, "win81", "install.wim");
    std::fs::rename(&wim, cwd.join("install.wim")).unwrap();
    for f in monthly_series(&Profile::win81_amd64()).expect("series") {
        std::fs::write(cwd.join("updates").join(&f.file_name), &f.bytes).unwrap();
    }
    cwd
}

fn run_line(line: &Line, cwd: &Path, path: &str, env: &[(String, String)]) -> std::process::Output {
    Command::new("bash")
        .args(["-o", "pipefail", "-c", &line.text])
        .current_dir(cwd)
        .env("PATH", path)
        .env("WIMPATCH_NO_PROGRESS", "1")
        .env_remove("RUST_LOG")
        .env_remove("WIMPATCH_SITE")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .expect("bash")
}

#[test]
fn every_readme_command_line_runs() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let blocks = blocks(&readme);
    let work = Work::new();
    let cwd = session(&work);
    let path = format!("{}:{}", bin_dir(&work).display(), std::env::var("PATH").unwrap_or_default());
    let mut env: Vec<(String, String)> = Vec::new();
    let (mut ran, mut marked, mut runnable) = (0, 0, 0);
    for (info, lines) in &blocks {
        match info.as_str() {
            "sh" => runnable += lines.len(),
            "sh norun" => {
                marked += lines.len();
                continue;
            }
            "text" | "" => continue,
            other => panic!("README block tagged {other:?}: use sh, sh norun or text"),
        }
        for line in lines {
            // `export NAME=VALUE` lasts for the rest of the session, as in a shell.
            if let Some(assign) = line.text.strip_prefix("export ") {
                let name = assign.split('=').next().unwrap().to_owned();
                let probe = Line { at: line.at, text: format!("export {assign}\nprintf %s \"${name}\"") };
                let out = run_line(&probe, &cwd, &path, &env);
                assert!(out.status.success(), "README.md:{}: {}", line.at, line.text);
                env.push((name, String::from_utf8(out.stdout).unwrap()));
                ran += 1;
                continue;
            }
            let out = run_line(line, &cwd, &path, &env);
            assert_eq!(
                out.status.code(),
                Some(expected_status(&line.text)),
                "README.md:{}: {}\nstdout:\n{}\nstderr:\n{}",
                line.at,
                line.text,
                String::from_utf8_lossy(&out.stdout),
                stderr(&out)
            );
            ran += 1;
        }
    }
    // Every unmarked command line ran; the README has some of each.
    assert_eq!(ran, runnable);
    assert!(ran >= 40 && marked >= 5, "ran {ran}, marked {marked}");
}

#[test]
fn readme_blocks_parse_continuations_comments_and_statuses() {
    let text = "intro\n```sh\n# a comment\nwimpatch a \\\n    --b c   # exit status 3: partial\n\nwimpatch d\n```\n```sh norun\nmake x\n```\n";
    let b = blocks(text);
    assert_eq!(b.len(), 2);
    assert_eq!(b[0].0, "sh");
    assert_eq!(b[0].1.len(), 2);
    assert_eq!(b[0].1[0].text, "wimpatch a  --b c   # exit status 3: partial");
    assert_eq!(b[0].1[0].at, 4);
    assert_eq!(expected_status(&b[0].1[0].text), 3);
    assert_eq!(expected_status(&b[0].1[1].text), 0);
    assert_eq!(b[1].0, "sh norun");
}

#[test]
fn readme_first_lines_say_what_it_does_today() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let intro: String = readme.lines().take(12).collect::<Vec<_>>().join(" ");
    assert!(!intro.contains("being built") && !intro.to_lowercase().contains("not yet implemented"), "{intro}");
    for verb in ["add-package", "cleanup", "export", "verify", "schedule"] {
        assert!(intro.to_lowercase().contains(verb) || readme.contains(&format!("wimpatch {verb}")), "{verb}");
    }
    // Each verb the intro claims exists in the binary's help.
    let help = run_ok(&["--help"]);
    for verb in ["info", "add-package", "get-packages", "cleanup-image", "service", "delta", "manifest", "site", "dism"]
    {
        assert!(help.contains(&format!("  {verb}")), "{verb} in --help");
    }
}
