//! Bounded time and memory on hostile input (issue 17, items 7-10): a FIFO given as a package, a
//! WIM-format MSU holding a huge member, an 8000-deep deployment chain and sub-package cycles,
//! control characters in what is printed. Every run is bounded by a deadline in the harness, so
//! a hang fails the test instead of stalling the suite, and memory is measured on the child
//! (`/usr/bin/time -f %M`), never by timing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use fixtures::manifest::{deployment_manifest, identity_xml};
use fixtures::packages::{write_cab, Compression};
use servicing::cbs::AssemblyIdentity;

use crate::util::*;

/// Runs wimpatch with `args`, killed (and the test failed) if it has not ended after `limit`.
fn run_within(args: &[&str], limit: Duration) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let mut child = wimpatch()
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("wimpatch {args:?} hung (killed after {limit:?}): {}", std::fs::read_to_string(&err).unwrap());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output { status, stdout: std::fs::read(&out).unwrap(), stderr: std::fs::read(&err).unwrap() }
}

/// Runs wimpatch under `/usr/bin/time`; returns its output and its peak RSS in KiB.
fn run_measured(args: &[&str]) -> (Output, u64) {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("rss");
    let out = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&report)
        .arg(env!("CARGO_BIN_EXE_wimpatch"))
        .args(args)
        .env("WIMPATCH_NO_PROGRESS", "1")
        .env_remove("RUST_LOG")
        .output()
        .expect("run /usr/bin/time");
    let text = std::fs::read_to_string(&report).unwrap();
    let rss = text.lines().rev().find_map(|l| l.trim().parse().ok()).unwrap_or_else(|| panic!("no RSS in {text:?}"));
    (out, rss)
}

const RSS_MAX_KIB: u64 = 512 * 1024;

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(status.success());
}

/// Regression (issue 17: "a FIFO given as a package path blocks forever while holding the WIM
/// lock"): refused at once, naming it, before the WIM is locked; `package info` too.
#[test]
fn fifo_package_path_is_refused_without_blocking() {
    let work = Work::new();
    let wim = three_image_wim(&work, "fifo.wim", 3, 64, "XPRESS");
    let fifo = work.path("KB5099000.cab");
    mkfifo(&fifo);
    let before = sha256(&wim);
    let out = run_within(
        &["add-package", "--image", wim.to_str().unwrap(), "--index", "1", "--package-path", fifo.to_str().unwrap()],
        Duration::from_secs(60),
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("KB5099000.cab") && err.contains("FIFO"), "{err}");
    assert_eq!(sha256(&wim), before);
    // The lock is free: another writer gets it at once.
    assert!(servicing::wim::WimLock::acquire(&wim, servicing::wim::LockWait::NoWait).is_ok());

    let out = run_within(&["package", "info", fifo.to_str().unwrap()], Duration::from_secs(30));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("KB5099000.cab") && err.contains("FIFO"), "{err}");
}

/// Regression (issue 17: "a 21 KB WIM-format MSU holding a 3 GiB member is extracted to scratch and
/// read whole into RAM"): a WIM-MSU whose aggregated-metadata member is 640 MiB of zeros (captured
/// by wimlib, a few MiB compressed) is read from a spool file, never whole into memory: the run
/// stays under 512 MiB and fails with an error naming the package and member.
#[test]
fn wim_msu_with_a_huge_member_stays_under_512_mib() {
    let work = Work::new();
    let src = work.path("bomb-src");
    std::fs::create_dir_all(&src).unwrap();
    let member = "Windows10.0-KB5099001-x64_AggregatedMetadata.cab";
    let file = std::fs::File::create(src.join(member)).unwrap();
    file.set_len(640 << 20).unwrap(); // sparse: zeros
    drop(file);
    let msu = work.path("Windows10.0-KB5099001-x64.msu");
    imagex(&["capture", src.to_str().unwrap(), msu.to_str().unwrap(), "content", "--compress=XPRESS", "--no-acls"]);
    assert!(std::fs::metadata(&msu).unwrap().len() < 64 << 20);
    let scratch = work.path("scratch");
    let (out, rss) =
        run_measured(&["--scratch-dir", scratch.to_str().unwrap(), "package", "info", msu.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("KB5099001-x64.msu") && err.contains(member), "{err}");
    assert!(rss < RSS_MAX_KIB, "peak RSS {rss} KiB");
}

fn identity(name: &str) -> AssemblyIdentity {
    AssemblyIdentity::new(name)
        .with_version("10.0.19041.9001".parse().unwrap())
        .with_arch("amd64")
        .with_language("neutral")
        .with_public_key_token("31bf3856ad364e35")
}

/// An `update.mum` for `Package_for_KB<kb>` whose one `<update>` holds `body`.
fn update_mum(kb: u32, body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<assembly xmlns="urn:schemas-microsoft-com:asm.v3" manifestVersion="1.0">
  {}
  <package identifier="KB{kb}" releaseType="Update"><update name="{kb}-1">{body}</update></package>
</assembly>"#,
        identity_xml(&identity(&format!("Package_for_KB{kb}")))
    )
}

/// A sub-package `.mum` named `name` that installs the package `next`.
fn sub_mum(name: &str, next: &str) -> (String, Vec<u8>) {
    let id = identity(name);
    let text = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<assembly xmlns="urn:schemas-microsoft-com:asm.v3" manifestVersion="1.0">
  {}
  <package identifier="{name}" releaseType="Update"><update name="{name}"><package integrate="hidden">{}</package></update></package>
</assembly>"#,
        identity_xml(&id),
        identity_xml(&identity(next))
    );
    let pid = servicing::cbs::PackageIdentity::from_assembly(&id).unwrap();
    (format!("{pid}.mum"), text.into_bytes())
}

/// `add-package` of `cab` into image 1 of `wim`, logs and scratch in `work`.
fn add_package_args(wim: &Path, cab: &Path, work: &Work) -> Vec<String> {
    // A scratch folder of the test's own, not the shared automatic one.
    std::fs::create_dir_all(work.path("scratch")).unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    ["add-package", "--image", &s(wim), "--index", "1", "--package-path", &s(cab)]
        .into_iter()
        .map(str::to_owned)
        .chain(["--log-dir".into(), s(&work.path("logs")), "--scratch-dir".into(), s(&work.path("scratch"))])
        .collect()
}

fn add_package(wim: &Path, cab: &Path, work: &Work) -> Output {
    let args = add_package_args(wim, cab, work);
    run_within(&args.iter().map(String::as_str).collect::<Vec<_>>(), Duration::from_secs(300))
}

fn write_package(work: &Work, name: &str, members: &[(String, Vec<u8>)]) -> PathBuf {
    let cab = work.path(name);
    write_cab(&cab, members, Compression::MsZip).unwrap();
    cab
}

/// Regression (issue 17: "an 8000-deep component dependency chain overflows the stack (exit 134,
/// no file named)"), and the dependency and sub-package cycles: each is refused with exit
/// status 1, naming the package and the chain or cycle, and the image is unchanged.
#[test]
fn deep_dependency_chain_and_cycles_are_refused_by_name() {
    let work = Work::new();
    let wim = fixture_wim(&work, "win10", "win10.wim");
    let before = sha256(&wim);

    // d0 -> d1 -> … -> d7999, every one a deployment.
    let ids: Vec<AssemblyIdentity> = (0..8000).map(|i| identity(&format!("Chain-Deployment-{i:04}"))).collect();
    let mut members = vec![(
        "update.mum".to_owned(),
        update_mum(5099002, &format!("<component>{}</component>", identity_xml(&ids[0]))).into_bytes(),
    )];
    for (i, id) in ids.iter().enumerate() {
        let next: Vec<AssemblyIdentity> = ids.get(i + 1).cloned().into_iter().collect();
        members
            .push((format!("{}.manifest", servicing::cbs::key_form(id)), deployment_manifest(id, &next).into_bytes()));
    }
    let cab = write_package(&work, "Windows10.0-KB5099002-x64.cab", &members);
    let out = add_package(&wim, &cab, &work);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("KB5099002") && err.contains("component dependency chain deeper than"), "{err}");

    // a -> b -> a.
    let (a, b) = (identity("Cycle-Deployment-A"), identity("Cycle-Deployment-B"));
    let members = vec![
        (
            "update.mum".to_owned(),
            update_mum(5099003, &format!("<component>{}</component>", identity_xml(&a))).into_bytes(),
        ),
        (
            format!("{}.manifest", servicing::cbs::key_form(&a)),
            deployment_manifest(&a, std::slice::from_ref(&b)).into_bytes(),
        ),
        (
            format!("{}.manifest", servicing::cbs::key_form(&b)),
            deployment_manifest(&b, std::slice::from_ref(&a)).into_bytes(),
        ),
    ];
    let cab = write_package(&work, "Windows10.0-KB5099003-x64.cab", &members);
    let out = add_package(&wim, &cab, &work);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let cycle = format!(
        "{} -> {} -> {}",
        servicing::cbs::key_form(&a),
        servicing::cbs::key_form(&b),
        servicing::cbs::key_form(&a)
    );
    assert!(err.contains("component dependency cycle") && err.contains(&cycle), "{err}");

    // Sub-packages: P -> Q -> P.
    let (p, q) = ("Package_Cycle_P", "Package_Cycle_Q");
    let members = vec![
        (
            "update.mum".to_owned(),
            update_mum(5099004, &format!(r#"<package integrate="hidden">{}</package>"#, identity_xml(&identity(p))))
                .into_bytes(),
        ),
        sub_mum(p, q),
        sub_mum(q, p),
    ];
    let cab = write_package(&work, "Windows10.0-KB5099004-x64.cab", &members);
    let out = add_package(&wim, &cab, &work);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("sub-package cycle") && err.contains(p) && err.contains(q), "{err}");
    assert_eq!(sha256(&wim), before);
}

/// Regression (issue 17: control characters printed raw): a path holding ESC and BEL is printed
/// with them escaped, so the terminal is never driven by untrusted text.
#[test]
fn control_characters_are_printed_escaped() {
    let work = Work::new();
    let evil = work.path("evil\u{1b}]0;owned\u{7}.cab");
    std::fs::write(&evil, b"not a cabinet").unwrap();
    let out = run_within(&["package", "info", evil.to_str().unwrap()], Duration::from_secs(30));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains('\u{1b}') && !err.contains('\u{7}'), "{err:?}");
    assert!(err.contains("evil\\u{1b}]0;owned\\u{7}.cab"), "{err}");
}

/// Regression (issue 17: "a 5 MB cab of manifests padded with 15 MB comments takes 3 GB in
/// `add-package` because every manifest's bytes are kept"): 48 manifests, each padded with a 12 MiB
/// comment (576 MiB of manifest text, a few MiB compressed), parsed and dropped one at a time: the
/// run stays under 512 MiB whatever it concludes, and a failure names the package.
#[test]
fn manifests_padded_with_huge_comments_stay_under_512_mib_in_add_package() {
    let work = Work::new();
    let wim = fixture_wim(&work, "win10", "win10.wim");
    let before = sha256(&wim);
    let ids: Vec<AssemblyIdentity> = (0..48).map(|i| identity(&format!("Padded-Deployment-{i:02}"))).collect();
    let padding = format!("<!--{}-->", " ".repeat(12 << 20));
    let mut members = vec![(
        "update.mum".to_owned(),
        update_mum(5099005, &format!("<component>{}</component>", identity_xml(&ids[0]))).into_bytes(),
    )];
    for id in &ids {
        let text = deployment_manifest(id, &[]);
        // After the XML declaration, so the document stays well-formed.
        let at = text.find("?>").map_or(0, |i| i + 2);
        let padded = format!("{}\n{padding}{}", &text[..at], &text[at..]);
        members.push((format!("{}.manifest", servicing::cbs::key_form(id)), padded.into_bytes()));
    }
    let cab = write_package(&work, "Windows10.0-KB5099005-x64.cab", &members);
    assert!(std::fs::metadata(&cab).unwrap().len() < 16 << 20, "the cab itself is small");
    let args = add_package_args(&wim, &cab, &work);
    let (out, rss) = run_measured(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let err = stderr(&out);
    eprintln!("padded manifests: exit {:?}, peak RSS {rss} KiB; {err}", out.status.code());
    assert!(matches!(out.status.code(), Some(0 | 1)), "{err}");
    if out.status.code() == Some(1) {
        assert!(err.contains("KB5099005"), "a failure names the package: {err}");
        assert_eq!(sha256(&wim), before);
    }
    assert!(rss < RSS_MAX_KIB, "peak RSS {rss} KiB");
}
