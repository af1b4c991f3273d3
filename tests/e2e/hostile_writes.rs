//! Issue 17, items 1-5: hostile packages and hostile filesystems never make `add-package` (WIM or
//! `--dir`) write outside its target, follow a planted symbolic link, or lose a commit.

use std::path::{Path, PathBuf};

use fixtures::packages::{self, broken, cab_bytes, Compression, Lcu};
use fixtures::profile::Profile;

use crate::util::*;

/// The members of the monthly cumulative update `kb` for the `win10` fixture image.
fn lcu_members(kb: u32) -> Vec<(String, Vec<u8>)> {
    packages::updates::cumulative_update(&Profile::win10_amd64(), &Lcu::monthly(kb, (kb % 1000) as u16))
        .expect("LCU definition")
        .members()
}

/// Writes `members` as a cab named after `kb` into `work`.
fn write_cab(work: &Work, kb: u32, members: &[(String, Vec<u8>)]) -> PathBuf {
    let file = format!("Windows10.0-KB{kb}-x64.cab");
    let path = work.path(&file);
    std::fs::write(&path, cab_bytes(&file, members, Compression::MsZip).expect("cab")).expect("write cab");
    path
}

/// The `win10` fixture image 1 applied to the folder `name` of `work`, for `--dir`.
fn applied_tree(work: &Work, wim: &Path, name: &str) -> PathBuf {
    let dir = work.path(name);
    std::fs::create_dir_all(&dir).unwrap();
    imagex(&["apply", wim.to_str().unwrap(), "1", dir.to_str().unwrap(), "--no-acls"]);
    dir
}

/// `add-package` of `pkg` into `target` (`["--image", wim, "--index", "1"]` or `["--dir", dir]`).
fn add_to(target: &[&str], pkg: &Path, logs: &Path) -> std::process::Output {
    let mut args = vec!["add-package"];
    args.extend_from_slice(target);
    args.extend_from_slice(&["--package-path", pkg.to_str().unwrap(), "--log-dir", logs.to_str().unwrap()]);
    args.push("--no-progress");
    run(&args)
}

/// A `../`-chain from any folder of this machine to `witness`, so a name used as a path part
/// would land there.
fn traversal_to(witness: &Path) -> String {
    format!("{}{}", "../".repeat(40), witness.to_str().unwrap().trim_start_matches('/'))
}

#[test]
fn identity_traversal_in_update_mum_is_refused_for_wim_and_dir_and_nothing_is_written() {
    let work = Work::new();
    let witness = work.path("witness");
    std::fs::create_dir_all(&witness).unwrap();
    let bad_name = format!("{}/x", traversal_to(&witness));
    let mut members = lcu_members(5_001_701);
    let mum = String::from_utf8_lossy(&members.iter().find(|(n, _)| n == "update.mum").unwrap().1).into_owned();
    let edited = mum.replacen("name=\"Package_for_RollupFix\"", &format!("name=\"{bad_name}\""), 1);
    assert_ne!(edited, mum);
    broken::replace_member(&mut members, "update.mum", edited.into_bytes());
    let cab = write_cab(&work, 5_001_701, &members);

    let wim = fixture_wim(&work, "win10", "win10.wim");
    let dir = applied_tree(&work, &wim, "tree");
    let wim_before = sha256(&wim);
    let tree_before = tree_snapshot(&dir);
    let logs = work.path("logs");
    for target in [vec!["--image", wim.to_str().unwrap(), "--index", "1"], vec!["--dir", dir.to_str().unwrap()]] {
        let out = add_to(&target, &cab, &logs);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{target:?}: {err}");
        assert!(err.contains("name") && err.contains("update.mum"), "{target:?} does not name the field: {err}");
        assert!(std::fs::read_dir(&witness).unwrap().next().is_none(), "{target:?} wrote outside the target");
    }
    assert_eq!(sha256(&wim), wim_before, "the WIM changed");
    assert!(tree_changes(&tree_before, &tree_snapshot(&dir)).is_empty(), "the directory target changed");
}

#[test]
fn identity_traversal_in_a_component_manifest_is_refused() {
    let work = Work::new();
    let mut members = lcu_members(5_001_702);
    let (member, text) = members
        .iter()
        .find(|(n, _)| n.ends_with(".manifest") && !n.contains('\\'))
        .map(|(n, b)| (n.clone(), String::from_utf8_lossy(b).into_owned()))
        .unwrap();
    let at = text.find("<assemblyIdentity").unwrap();
    let edited = format!("{}{}", &text[..at], text[at..].replacen("language=\"", "language=\"..\\..\\", 1));
    broken::replace_member(&mut members, &member, edited.into_bytes());
    let cab = write_cab(&work, 5_001_702, &members);
    let wim = fixture_wim(&work, "win10", "win10.wim");
    let before = sha256(&wim);
    let out = add_to(&["--image", wim.to_str().unwrap(), "--index", "1"], &cab, &work.path("logs"));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("language"), "the field is not named: {err}");
    assert_eq!(sha256(&wim), before);
}

/// A file outside every target whose bytes must never change.
fn victim(work: &Work, name: &str) -> PathBuf {
    let p = work.path(name);
    std::fs::write(&p, b"precious").unwrap();
    p
}

fn untouched(p: &Path) -> bool {
    std::fs::read(p).is_ok_and(|b| b == b"precious")
}

fn good_cab(work: &Work, kb: u32) -> PathBuf {
    write_cab(work, kb, &lcu_members(kb))
}

#[test]
fn a_planted_lock_file_link_is_not_written_through() {
    let work = Work::new();
    let wim = fixture_wim(&work, "win10", "win10.wim");
    let target = victim(&work, "victim.txt");
    std::os::unix::fs::symlink(&target, work.path("win10.wim.lock")).unwrap();
    let before = sha256(&wim);
    let out =
        add_to(&["--image", wim.to_str().unwrap(), "--index", "1"], &good_cab(&work, 5_001_703), &work.path("logs"));
    assert!(untouched(&target), "the lock link was followed: {}", stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("win10.wim.lock"), "{}", stderr(&out));
    assert_eq!(sha256(&wim), before);
}

#[test]
fn planted_log_file_links_are_not_written_through() {
    let work = Work::new();
    let wim = fixture_wim(&work, "win10", "win10.wim");
    let logs = work.path("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let manager = victim(&work, "victim-manager.txt");
    let detail = victim(&work, "victim-detail.txt");
    std::os::unix::fs::symlink(&manager, logs.join("OfflineServicingMgr.log")).unwrap();
    std::os::unix::fs::symlink(&detail, logs.join("dism.log")).unwrap();
    let out = add_to(&["--image", wim.to_str().unwrap(), "--index", "1"], &good_cab(&work, 5_001_704), &logs);
    assert!(untouched(&manager) && untouched(&detail), "a log link was followed: {}", stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // A hard link to a file outside is refused too (appending would change that file).
    std::fs::remove_file(logs.join("OfflineServicingMgr.log")).unwrap();
    std::fs::remove_file(logs.join("dism.log")).unwrap();
    std::fs::hard_link(&manager, logs.join("OfflineServicingMgr.log")).unwrap();
    let out = add_to(&["--image", wim.to_str().unwrap(), "--index", "1"], &good_cab(&work, 5_001_704), &logs);
    assert!(untouched(&manager), "a hard-linked log was appended to: {}", stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

/// The default log folder (`<scratch>/OfflineImageServicing/logs`): a planted link is not
/// followed, and a scratch folder another user owns is refused.
#[test]
fn the_default_log_folder_is_not_followed_or_taken_from_another_user() {
    let work = Work::new();
    let wim = fixture_wim(&work, "win10", "win10.wim");
    let cab = good_cab(&work, 5_001_705);
    let scratch = work.path("scratch");
    let base = scratch.join("OfflineImageServicing");
    std::fs::create_dir_all(&base).unwrap();
    let elsewhere = work.path("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, base.join("logs")).unwrap();
    let before = sha256(&wim);
    let args =
        ["add-package", "--image", wim.to_str().unwrap(), "--index", "1", "--package-path", cab.to_str().unwrap()];
    let out =
        wimpatch().args(args).args(["--no-progress", "--scratch-dir", scratch.to_str().unwrap()]).output().unwrap();
    assert!(std::fs::read_dir(&elsewhere).unwrap().next().is_none(), "logs went through the link: {}", stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(sha256(&wim), before);

    // Owned by someone else (only root can make such a folder here).
    std::fs::remove_file(base.join("logs")).unwrap();
    if std::os::unix::fs::chown(&base, Some(65534), Some(65534)).is_err() {
        eprintln!("skipped: foreign-owned scratch folder (not root)");
        return;
    }
    let out =
        wimpatch().args(args).args(["--no-progress", "--scratch-dir", scratch.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "a foreign scratch folder was used: {}", stderr(&out));
    assert!(stderr(&out).contains("owned by"), "{}", stderr(&out));
    assert!(!base.join("logs").exists());
    assert_eq!(sha256(&wim), before);
}

/// `--dir` with its scratch folder on another filesystem used to copy each file to
/// `.<name>.wimpatch-tmp` beside its destination, following a link planted there. Nothing beside a
/// destination is written through now, on one filesystem or two.
#[test]
fn planted_temp_name_links_in_a_directory_target_are_not_written_through() {
    let work = Work::new();
    let wim = fixture_wim(&work, "win10", "win10.wim");
    let dir = applied_tree(&work, &wim, "tree");
    let cab = good_cab(&work, 5_001_706);
    let target = victim(&work, "victim.bin");
    let mut planted = 0;
    for sub in ["Windows/System32", "Windows/System32/config", "Windows/SysWOW64", "Windows/System32/drivers"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else { continue };
        for e in entries.flatten().filter(|e| e.path().is_file()) {
            let name = e.file_name().to_string_lossy().into_owned();
            std::os::unix::fs::symlink(&target, dir.join(sub).join(format!(".{name}.wimpatch-tmp"))).unwrap();
            planted += 1;
        }
    }
    assert!(planted > 3, "nothing to plant beside");
    // Scratch on another filesystem where there is one (tmpfs), as the original bug needed.
    let shm = std::path::Path::new("/dev/shm");
    let scratch = if shm.is_dir() { tempfile::tempdir_in(shm).unwrap() } else { tempfile::tempdir().unwrap() };
    let args = ["add-package", "--dir", dir.to_str().unwrap(), "--package-path", cab.to_str().unwrap()];
    let out = wimpatch()
        .args(args)
        .args(["--no-progress", "--log-dir", work.path("logs").to_str().unwrap()])
        .args(["--scratch-dir", scratch.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(untouched(&target), "a temp-name link was written through: {}", stderr(&out));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!dir.join(".wimpatch-transaction").exists() && !dir.join(".wimpatch.lock").exists());
}

/// Issue 17 item 4: the writer lock is the file's, whatever name reaches it.
#[test]
fn two_add_package_runs_through_a_wim_and_its_aliases_both_commit_or_one_is_refused() {
    let work = Work::new();
    let wim = fixture_wim(&work, "win10", "win10.wim");
    let symlink = work.path("alias-symlink.wim");
    std::os::unix::fs::symlink(&wim, &symlink).unwrap();
    let hardlink = work.path("alias-hardlink.wim");
    std::fs::hard_link(&wim, &hardlink).unwrap();
    let profile = Profile::win10_amd64();
    let ssu = packages::updates::servicing_stack_update(&profile, 5_001_707, 900, packages::PayloadSize::Tiny).unwrap();
    let ssu_file = "Windows10.0-KB5001707-x64.cab";
    let ssu_cab = work.path(ssu_file);
    std::fs::write(&ssu_cab, ssu.cab(ssu_file, Compression::MsZip).unwrap()).unwrap();
    let lcu_cab = good_cab(&work, 5_001_708);
    for alias in [&symlink, &hardlink] {
        let spawn = |path: &Path, cab: &Path, logs: &str| {
            wimpatch()
                .args(["add-package", "--image", path.to_str().unwrap(), "--index", "1", "--json", "--no-progress"])
                .args(["--package-path", cab.to_str().unwrap(), "--log-dir", work.path(logs).to_str().unwrap()])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let a = spawn(&wim, &ssu_cab, "logs-a");
        let b = spawn(alias, &lcu_cab, "logs-b");
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        let listing = run_ok(&["get-packages", "--json", "--image", wim.to_str().unwrap(), "--index", "1"]);
        for (out, kb) in [(&a, "KB5001707"), (&b, "KB5001708")] {
            if out.status.success() {
                assert!(listing.contains(kb), "{kb} said committed through {} but is gone", alias.display());
            } else {
                assert!(stderr(out).contains("lock"), "{kb} failed for another reason: {}", stderr(out));
            }
        }
        assert!(a.status.success() || b.status.success(), "both refused");
    }
}

/// `text` with every `<asmv2:hash>` element (the payload digests) removed.
pub fn without_hashes(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("<asmv2:hash") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("</asmv2:hash>").map(|e| start + e + "</asmv2:hash>".len()).unwrap_or(rest.len());
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Issue 17 item 3: a payload whose manifest gives no digest cannot be verified, so add-package
/// refuses the package naming the file (as `package extract` does), for a WIM and a directory.
#[test]
fn a_payload_without_a_digest_is_refused_naming_the_file() {
    let work = Work::new();
    let mut members = lcu_members(5_001_709);
    let mut stripped = 0;
    for (name, bytes) in members.iter_mut().filter(|(n, _)| n.ends_with(".manifest") && !n.contains('\\')) {
        let text = String::from_utf8_lossy(bytes).into_owned();
        let edited = without_hashes(&text);
        if edited != text {
            stripped += 1;
            *bytes = edited.into_bytes();
            assert!(!name.is_empty());
        }
    }
    assert!(stripped > 0, "no manifest had a digest to strip");
    let cab = write_cab(&work, 5_001_709, &members);
    let wim = fixture_wim(&work, "win10", "win10.wim");
    let dir = applied_tree(&work, &wim, "tree");
    let wim_before = sha256(&wim);
    let tree_before = tree_snapshot(&dir);
    for target in [vec!["--image", wim.to_str().unwrap(), "--index", "1"], vec!["--dir", dir.to_str().unwrap()]] {
        let out = add_to(&target, &cab, &work.path("logs"));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{target:?}: {err}");
        assert!(err.contains("no SHA-256 digest for"), "{target:?}: {err}");
        assert!(err.contains(".manifest"), "{target:?} does not name the manifest: {err}");
    }
    assert_eq!(sha256(&wim), wim_before, "the WIM changed");
    assert!(tree_changes(&tree_before, &tree_snapshot(&dir)).is_empty(), "the directory target changed");
}
