//! `wimpatch add-package` and `get-packages` on the Windows 8.1-like fixture image with the real
//! `Windows8.1-KB2938772-x64.cab`: files, hard links, registry state, logs, idempotence, dry run,
//! unsupported inputs next to it, broken packages, and the directory target.

use std::path::{Path, PathBuf};

use servicing::cbs::container::{Cabinet, Limits};

use crate::util::*;

const KB: &str = "Windows8.1-KB2938772-x64.cab";
const TOP: &str = "Package_for_KB2938772~31bf3856ad364e35~amd64~~6.3.1.0";
const AMD64_DIR: &str =
    "amd64_microsoft-windows-ndis-tdi-bindingengine_31bf3856ad364e35_6.3.9600.17039_none_2f0e3c02f951e22c";
const X86_DIR: &str =
    "x86_microsoft-windows-ndis-tdi-bindingengine_31bf3856ad364e35_6.3.9600.17039_none_d2efa07f40f470f6";

fn cab_member(cab: &Path, name: &str) -> Vec<u8> {
    Cabinet::open(cab, Limits::default()).expect("cab").read_member(name, 16 << 20).expect("member")
}

fn extract_one(wim: &Path, index: &str, path: &str, dest: &Path) -> Vec<u8> {
    let _ = std::fs::remove_dir_all(dest);
    std::fs::create_dir_all(dest).unwrap();
    imagex(&["extract", wim.to_str().unwrap(), index, path, &format!("--dest-dir={}", dest.display()), "--no-acls"]);
    std::fs::read(dest.join(path.rsplit('/').next().unwrap())).expect("extracted file")
}

fn hivexget(hive: &Path, key: &str, value: &str) -> String {
    let out = std::process::Command::new("hivexget").arg(hive).arg(key).arg(value).output().expect("hivexget");
    assert!(out.status.success(), "hivexget {key} {value}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn add(wim: &Path, index: &str, packages: &[&Path], extra: &[&str], logs: &Path) -> std::process::Output {
    let mut args = vec!["add-package", "--image", wim.to_str().unwrap(), "--index", index];
    for p in packages {
        args.push("--package-path");
        args.push(p.to_str().unwrap());
    }
    args.extend_from_slice(&["--log-dir", logs.to_str().unwrap(), "--no-progress"]);
    args.extend_from_slice(extra);
    run(&args)
}

fn packages_json(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["get-packages", "--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&run_ok(&all)).expect("JSON")
}

fn state_of(list: &serde_json::Value, identity: &str) -> Option<String> {
    list.as_array()?.iter().find(|p| p["identity"] == identity).map(|p| p["state"].as_str().unwrap_or("").to_owned())
}

#[test]
fn kb2938772_applies_to_win81_by_index_and_by_name_and_again_is_already_installed() {
    let cab = real_or_skip!(KB, "kb2938772_applies_to_win81_by_index_and_by_name_and_again_is_already_installed");
    let work = Work::new();
    let wim = fixture_wim(&work, "win81", "win81.wim");
    let logs = work.path("logs");
    let amd64 = cab_member(&cab, &format!("{AMD64_DIR}\\netcfgx.dll"));
    let x86 = cab_member(&cab, &format!("{X86_DIR}\\netcfgx.dll"));

    // By index (image 1) and by name (image 2).
    for (index, by) in [("1", "1"), ("2", "Windows 8.1 Pro")] {
        let out = add(&wim, by, &[&cab], &["--json"], &logs);
        assert!(out.status.success(), "add-package: {}", stderr(&out));
        let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(r["committed"], true);
        assert_eq!(r["packages"][0]["outcome"], "installed");
        assert_eq!(r["packages"][0]["identity"], TOP);
        // Package_2 has only the WinPE parent, absent from a client image.
        let skipped = r["packages"][0]["skipped_sub_packages"].as_array().unwrap();
        assert!(skipped.iter().any(|s| s["identity"].as_str().unwrap().starts_with("Package_2_for_KB2938772")));

        let x = work.path("x");
        assert_eq!(extract_one(&wim, index, "/Windows/System32/netcfgx.dll", &x), amd64, "System32 copy");
        assert_eq!(extract_one(&wim, index, "/Windows/SysWOW64/netcfgx.dll", &x), x86, "SysWOW64 copy");
        let listing = imagex_dir(&wim, index.parse().unwrap());
        for want in [
            format!("/Windows/WinSxS/{AMD64_DIR}/netcfgx.dll"),
            format!("/Windows/WinSxS/{X86_DIR}/netcfgx.dll"),
            format!("/Windows/WinSxS/Manifests/{AMD64_DIR}.manifest"),
            format!("/Windows/servicing/Packages/{TOP}.mum"),
            format!("/Windows/servicing/Packages/{TOP}.cat"),
        ] {
            assert!(listing.iter().any(|l| l.eq_ignore_ascii_case(&want)), "missing {want}");
        }
        // The projection is the WinSxS file (one hard-link group), as on Windows.
        let detail =
            imagex(&["dir", wim.to_str().unwrap(), index, "--path=/Windows/System32/netcfgx.dll", "--detailed"]);
        assert!(detail.contains("Link Count          = 2"), "{detail}");

        let hive_dir = work.path("hive");
        let _ = extract_one(&wim, index, "/Windows/System32/config/SOFTWARE", &hive_dir);
        let key = format!(r"Microsoft\Windows\CurrentVersion\Component Based Servicing\Packages\{TOP}");
        assert_eq!(hivexget(&hive_dir.join("SOFTWARE"), &key, "CurrentState"), "112");
        assert_eq!(hivexget(&hive_dir.join("SOFTWARE"), &key, "InstallClient"), "DISM Package Manager Provider");

        let list = packages_json(&["--image", wim.to_str().unwrap(), "--index", index]);
        assert_eq!(state_of(&list, TOP).as_deref(), Some("installed"));
        let all = packages_json(&["--image", wim.to_str().unwrap(), "--index", index, "--all"]);
        assert_eq!(
            state_of(&all, "Package_3_for_KB2938772~31bf3856ad364e35~amd64~~6.3.1.0").as_deref(),
            Some("installed")
        );
        assert_eq!(state_of(&all, "Package_2_for_KB2938772~31bf3856ad364e35~amd64~~6.3.1.0"), None);
    }
    assert!(imagex_verifies(&wim));

    // Again: already installed, nothing written.
    let before = sha256(&wim);
    let out = add(&wim, "1", &[&cab], &["--json"], &logs);
    assert!(out.status.success(), "{}", stderr(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["packages"][0]["outcome"], "already_installed");
    assert_eq!(r["committed"], false);
    assert_eq!(sha256(&wim), before);

    let manager = std::fs::read_to_string(logs.join("OfflineServicingMgr.log")).unwrap();
    assert!(manager.contains("Update KB2938772 was applied successfully"), "{manager}");
    assert!(manager.contains("component=\"SMS_OFFLINE_SERVICING_MANAGER\""));
    let detail = std::fs::read_to_string(logs.join("dism.log")).unwrap();
    assert!(detail.contains("Appl: detectParent: parent found: Package_for_KB2919355~31bf3856ad364e35~amd64~~6.3.1.14"));
    assert!(detail.contains("Appl: detectParent: no parent found, go absent"));
}

/// `add-package` refused WIM-format MSUs ("not wired up yet") though `package info` read them: the
/// engine now opens packages through the one package model, WIM-MSUs included.
#[test]
fn wim_format_msu_installs_like_the_cab_it_holds() {
    let cab = real_or_skip!(KB, "wim_format_msu_installs_like_the_cab_it_holds");
    let work = Work::new();
    let wim = fixture_wim(&work, "win81", "win81.wim");
    let logs = work.path("logs");
    let msu = crate::package::wim_msu(&work, &cab);
    let scratch = work.path("scratch");
    let out = add(&wim, "1", &[&msu], &["--json", "--scratch-dir", scratch.to_str().unwrap()], &logs);
    assert!(out.status.success(), "add-package: {}", stderr(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["committed"], true, "{r}");
    assert_eq!(r["packages"][0]["outcome"], "installed", "{r}");
    assert_eq!(r["packages"][0]["identity"], TOP);
    let x = work.path("x");
    let amd64 = cab_member(&cab, &format!("{AMD64_DIR}\\netcfgx.dll"));
    assert_eq!(extract_one(&wim, "1", "/Windows/System32/netcfgx.dll", &x), amd64, "System32 copy");
    let hive_dir = work.path("hive");
    let _ = extract_one(&wim, "1", "/Windows/System32/config/SOFTWARE", &hive_dir);
    let key = format!(r"Microsoft\Windows\CurrentVersion\Component Based Servicing\Packages\{TOP}");
    assert_eq!(hivexget(&hive_dir.join("SOFTWARE"), &key, "CurrentState"), "112");
    assert!(imagex_verifies(&wim));
    // The cab itself is now already installed: the MSU installed exactly what the cab holds.
    let before = sha256(&wim);
    let out = add(&wim, "1", &[&cab], &["--json"], &logs);
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["packages"][0]["outcome"], "already_installed", "{r}");
    assert_eq!(sha256(&wim), before);
    // Nothing of the WIM's content is left in scratch.
    fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                files_under(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut left = Vec::new();
    files_under(&scratch, &mut left);
    assert!(left.is_empty(), "left in scratch: {left:?}");
}

#[test]
fn dry_run_reports_and_changes_nothing() {
    let cab = real_or_skip!(KB, "dry_run_reports_and_changes_nothing");
    let work = Work::new();
    let wim = fixture_wim(&work, "win81", "win81.wim");
    let before = sha256(&wim);
    let out = add(&wim, "1", &[&cab], &["--json", "--dry-run"], &work.path("logs"));
    assert!(out.status.success(), "{}", stderr(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["packages"][0]["outcome"], "would_install");
    assert_eq!(r["committed"], false);
    assert_eq!(sha256(&wim), before);
}

#[test]
fn exe_next_to_cab_is_not_supported_and_continue_on_error_applies_the_cab() {
    let cab = real_or_skip!(KB, "exe_next_to_cab_is_not_supported_and_continue_on_error_applies_the_cab");
    let work = Work::new();
    let wim = fixture_wim(&work, "win81", "win81.wim");
    let folder = work.path("updates");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::copy(&cab, folder.join(KB)).unwrap();
    let mut exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff".to_vec();
    exe.resize(512, 0);
    std::fs::write(folder.join("IE11-Windows6.1-x64-en-us.exe"), exe).unwrap();
    let logs = work.path("logs");
    let before = sha256(&wim);

    let out = add(&wim, "1", &[&folder], &[], &logs);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("IE11-Windows6.1-x64-en-us.exe"), "{}", stderr(&out));
    assert_eq!(sha256(&wim), before, "nothing may change without --continue-on-error");
    let manager = std::fs::read_to_string(logs.join("OfflineServicingMgr.log")).unwrap();
    assert!(manager.contains("<![LOG[Not applying this update binary, it is not supported]LOG]!>"), "{manager}");
    // "Not supported" is a warning in every log (CMTrace type 2, dism.log Warning), as in the site's
    // (the run's own "Processing failed" line, without --continue-on-error, is an error).
    for line in
        manager.lines().filter(|l| l.starts_with("<![LOG[Not applying") || l.starts_with("<![LOG[Update binary"))
    {
        assert!(line.contains("type=\"2\""), "{line}");
    }
    let detail = std::fs::read_to_string(logs.join("dism.log")).unwrap();
    let dism_line = detail.lines().find(|l| l.contains("not a CBS package")).unwrap_or_else(|| panic!("{detail}"));
    assert!(dism_line.contains(", Warning "), "{dism_line}");

    let out = add(&wim, "1", &[&folder], &["--continue-on-error", "--json"], &logs);
    assert_eq!(out.status.code(), Some(3), "partial success: {}", stderr(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let outcomes: Vec<&str> =
        r["packages"].as_array().unwrap().iter().map(|p| p["outcome"].as_str().unwrap()).collect();
    assert!(outcomes.contains(&"installed") && outcomes.contains(&"not_supported"), "{outcomes:?}");
    assert_ne!(sha256(&wim), before);
    assert!(imagex_verifies(&wim));
}

#[test]
fn tampered_cab_fails_and_leaves_the_wim_byte_identical() {
    let cab = real_or_skip!(KB, "tampered_cab_fails_and_leaves_the_wim_byte_identical");
    let work = Work::new();
    let wim = fixture_wim(&work, "win81", "win81.wim");
    let mut bytes = std::fs::read(&cab).unwrap();
    // Inside the compressed data, past the header and directory.
    let at = bytes.len() / 2;
    bytes[at] ^= 0x40;
    let bad: PathBuf = work.path("tampered.cab");
    std::fs::write(&bad, bytes).unwrap();
    let before = sha256(&wim);
    let out = add(&wim, "1", &[&bad], &[], &work.path("logs"));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("tampered.cab"), "{}", stderr(&out));
    assert_eq!(sha256(&wim), before);
    assert!(debris(wim.parent().unwrap(), "win81.wim").is_empty());
}

#[test]
fn directory_target_gets_the_same_result() {
    let cab = real_or_skip!(KB, "directory_target_gets_the_same_result");
    let work = Work::new();
    let wim = fixture_wim(&work, "win81", "win81.wim");
    let dir = work.path("applied");
    std::fs::create_dir_all(&dir).unwrap();
    imagex(&["apply", wim.to_str().unwrap(), "1", dir.to_str().unwrap(), "--no-acls"]);
    let out = run(&[
        "add-package",
        "--dir",
        dir.to_str().unwrap(),
        "--package-path",
        cab.to_str().unwrap(),
        "--log-dir",
        work.path("logs").to_str().unwrap(),
        "--no-progress",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let projected = dir.join("Windows/System32/netcfgx.dll");
    assert_eq!(std::fs::read(&projected).unwrap(), cab_member(&cab, &format!("{AMD64_DIR}\\netcfgx.dll")));
    use std::os::unix::fs::MetadataExt;
    let sxs = dir.join(format!("Windows/WinSxS/{AMD64_DIR}/netcfgx.dll"));
    assert_eq!(std::fs::metadata(&projected).unwrap().ino(), std::fs::metadata(&sxs).unwrap().ino());
    let key = format!(r"Microsoft\Windows\CurrentVersion\Component Based Servicing\Packages\{TOP}");
    assert_eq!(hivexget(&dir.join("Windows/System32/config/SOFTWARE"), &key, "CurrentState"), "112");
    let list = packages_json(&["--dir", dir.to_str().unwrap()]);
    assert_eq!(state_of(&list, TOP).as_deref(), Some("installed"));
}

#[test]
fn win7_msu_is_not_applicable_to_win81_with_the_reason() {
    let msu = real_or_skip!("Windows6.1-KB2584475-x64.msu", "win7_msu_is_not_applicable_to_win81_with_the_reason");
    let work = Work::new();
    let wim = fixture_wim(&work, "win81", "win81.wim");
    let before = sha256(&wim);
    let out = add(&wim, "1", &[&msu], &["--json"], &work.path("logs"));
    // Nothing applicable: DISM's 0x800f081e and exit 1, with the report (and its reason) on stdout.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("0x800f081e"), "{}", stderr(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["packages"][0]["outcome"], "not_applicable");
    // The same document carries the failure.
    assert_eq!(r["ok"], false, "{r}");
    assert_eq!(r["error"]["code"], "not_applicable", "{r}");
    assert_eq!(r["error"]["exit_status"], 1, "{r}");
    assert!(r["packages"][0]["reason"].as_str().unwrap().contains("no parent"), "{r}");
    assert_eq!(sha256(&wim), before);
}

/// Whether get-packages lists `identity` as Installed in image 1.
fn installed(wim: &Path, identity: &str) -> bool {
    let list = packages_json(&["--image", wim.to_str().unwrap(), "--index", "1"]);
    state_of(&list, identity).as_deref() == Some("installed")
}

#[test]
fn sigkill_during_add_package_commit_leaves_old_or_new_image_and_next_run_recovers() {
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    let work = Work::new();
    let wim = fixture_wim(&work, "win10", "win10.wim");
    let profile = fixtures::profile::Profile::win10_amd64();
    // Enough incompressible payload that the append takes a while.
    let pkg = fixtures::packages::large_lcu(&profile, 24 << 20).expect("package");
    let cab = work.path(&pkg.file_name);
    std::fs::write(&cab, &pkg.bytes).unwrap();
    let identity = pkg.identity.clone().expect("identity");
    let scratch = work.path("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    let logs = work.path("logs");
    let args = image_args(
        "add-package",
        &wim,
        "1",
        &[
            "--package-path",
            cab.to_str().unwrap(),
            "--scratch-dir",
            scratch.to_str().unwrap(),
            "--log-dir",
            logs.to_str().unwrap(),
            "--no-progress",
        ],
    );
    let size0 = std::fs::metadata(&wim).unwrap().len();
    let mut killed_mid_commit = 0;
    for _ in 0..3 {
        let mut child = wimpatch().args(&args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let killed = loop {
            if let Ok(Some(_)) = child.try_wait() {
                break false;
            }
            // The append has started once the file grows.
            if std::fs::metadata(&wim).map(|m| m.len() > size0 + 64 * 1024).unwrap_or(false) {
                child.kill().unwrap();
                child.wait().unwrap();
                break true;
            }
            assert!(Instant::now() < deadline, "the commit never started");
            std::thread::sleep(Duration::from_micros(300));
        };
        assert!(imagex_verifies(&wim), "the WIM must verify after a kill");
        if killed {
            killed_mid_commit += 1;
            // Old state (the kill beat the header) or new state, never anything else.
            let now = installed(&wim, &identity);
            if !now {
                let listing = imagex_dir(&wim, 1);
                assert!(!listing.iter().any(|l| l.contains("19041.500")), "half-applied image");
            }
        }
        if installed(&wim, &identity) {
            break;
        }
    }
    assert!(killed_mid_commit > 0, "no kill landed during the commit");
    // The next run finishes the job (or reports it done), and sweeps what the killed runs left.
    let out = run_owned(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(installed(&wim, &identity));
    assert!(imagex_verifies(&wim));
    let left: Vec<_> = std::fs::read_dir(scratch.join("OfflineImageServicing"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("run-"))
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "scratch left behind: {left:?}");
    assert!(!wim.with_extension("wim.lock").exists());
}

#[test]
fn missing_scratch_dir_falls_back_with_a_warning() {
    let cab = real_or_skip!(KB, "missing_scratch_dir_falls_back_with_a_warning");
    let work = Work::new();
    let wim = fixture_wim(&work, "win81", "win81.wim");
    let missing = work.path("no-such-dir");
    let logs = work.path("logs");
    let r = run_json(&image_args(
        "add-package",
        &wim,
        "1",
        &[
            "--package-path",
            cab.to_str().unwrap(),
            "--scratch-dir",
            missing.to_str().unwrap(),
            "--log-dir",
            logs.to_str().unwrap(),
            "--json",
            "--no-progress",
        ],
    ));
    assert!(r["scratch_warning"].as_str().unwrap().contains("does not exist"), "{r}");
    assert!(!missing.exists());
}

#[test]
fn a_package_folder_without_packages_is_an_error_not_a_silent_success() {
    let work = Work::new();
    let wim = fixture_wim(&work, "win81", "win81.wim");
    let empty = work.path("no-updates");
    std::fs::create_dir_all(&empty).unwrap();
    let before = sha256(&wim);
    let out =
        run_owned(&image_args("add-package", &wim, "1", &["--package-path", empty.to_str().unwrap(), "--no-progress"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no update packages found") && stderr(&out).contains("no-updates"),
        "{}",
        stderr(&out)
    );
    assert_eq!(sha256(&wim), before);
}
