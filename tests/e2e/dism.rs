//! `wimpatch dism …`: DISM's spellings run the native verbs. Each mapped DISM command is run on one
//! copy of a fixture and the native verb on another, and the results (output, exit status, the image
//! afterwards) must be the same.

use std::path::{Path, PathBuf};
use std::process::Output;

use fixtures::packages::write_all;
use fixtures::profile::Profile;

use crate::util::*;

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// stdout with `from`'s path replaced by `to`'s and the install-time lines dropped, so two runs on
/// two copies compare.
fn same_text(out: &Output, from: &Path, to: &Path) -> String {
    String::from_utf8_lossy(&out.stdout)
        .replace(s(from), s(to))
        .lines()
        .filter(|l| !l.contains("Install Time"))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn both(native: &Output, dism: &Output, native_wim: &Path, dism_wim: &Path, what: &str) {
    assert_eq!(native.status.code(), dism.status.code(), "{what}: exit status\n{}\n{}", stderr(native), stderr(dism));
    assert_eq!(same_text(native, native_wim, dism_wim), same_text(dism, dism_wim, dism_wim), "{what}: output");
}

fn dism(args: &[String]) -> Output {
    let mut all = vec!["dism".to_owned()];
    all.extend(args.iter().cloned());
    run_owned(&all)
}

fn copy(work: &Work, wim: &Path, name: &str) -> PathBuf {
    let to = work.path(name);
    std::fs::copy(wim, &to).expect("copy");
    to
}

#[test]
fn get_imageinfo_and_export_image_match_info_and_export() {
    let work = Work::new();
    let wim = fixture_wim(&work, "win81", "win81.wim");
    let native = run(&["info", s(&wim)]);
    assert!(native.status.success());
    // Option names in any case, /WimFile: as DISM's older spelling.
    for line in [
        vec![format!("/Get-ImageInfo"), format!("/ImageFile:{}", s(&wim))],
        vec![format!("/get-imageinfo"), format!("/WIMFILE:{}", s(&wim)), "/Index:2".into()],
    ] {
        both(&native, &dism(&line), &wim, &wim, "/Get-ImageInfo");
    }

    let (a, b) = (work.path("native.wim"), work.path("dism.wim"));
    let native = run(&["export-image", "--source", s(&wim), "--index", "2", "--dest", s(&a), "--compress", "xpress"]);
    let by_dism = dism(&[
        "/Export-Image".into(),
        format!("/SourceImageFile:{}", s(&wim)),
        "/SourceIndex:2".into(),
        format!("/DestinationImageFile:{}", s(&b)),
        "/Compress:fast".into(),
    ]);
    both(&native, &by_dism, &a, &b, "/Export-Image");
    assert_eq!(imagex_dir(&a, 1), imagex_dir(&b, 1));
    assert_eq!(
        String::from_utf8_lossy(&run(&["info", s(&a)]).stdout)
            .replace(s(&a), "W")
            .lines()
            .filter(|l| !l.contains("GUID"))
            .collect::<Vec<_>>(),
        String::from_utf8_lossy(&run(&["info", s(&b)]).stdout)
            .replace(s(&b), "W")
            .lines()
            .filter(|l| !l.contains("GUID"))
            .collect::<Vec<_>>(),
    );
    // /SourceName: and /DestinationName: appending to the same destination, as DISM does.
    let native =
        run(&["export-image", "--source", s(&wim), "--index", "Windows 8.1", "--dest", s(&a), "--dest-name", "Core"]);
    let by_dism = dism(&[
        "/Export-Image".into(),
        format!("/SourceImageFile:{}", s(&wim)),
        "/SourceName:Windows 8.1".into(),
        format!("/DestinationImageFile:{}", s(&b)),
        "/DestinationName:Core".into(),
    ]);
    both(&native, &by_dism, &a, &b, "/Export-Image /SourceName");
}

#[test]
fn add_package_get_packages_and_cleanup_match_the_native_verbs() {
    let work = Work::new();
    let wim = fixture_wim(&work, "win10", "win10.wim");
    run_ok(&["reduce", "--image", s(&wim), "--keep", "1"]);
    let all = write_all(&work.path("packages"), &Profile::win10_amd64()).expect("catalogue");
    let month = |n: u32| {
        all.iter()
            .find(|p| p.package.file_name == format!("Windows10.0-KB500000{n}-x64.cab"))
            .expect("month")
            .path
            .clone()
    };
    let (a, b) = (copy(&work, &wim, "native.wim"), copy(&work, &wim, "dism.wim"));
    let logs = work.path("logs");

    // Two packages: the flag repeated in DISM's form; /LogPath: names a file, its folder gets the logs.
    let native = run(&[
        "add-package",
        "--image",
        s(&a),
        "--index",
        "1",
        "--package-path",
        s(&month(1)),
        s(&month(2)),
        "--log-dir",
        s(&logs),
    ]);
    let by_dism = dism(&[
        "/Add-Package".into(),
        format!("/ImageFile:{}", s(&b)),
        "/Index:1".into(),
        format!("/packagepath:{}", s(&month(1))),
        format!("/PackagePath:{}", s(&month(2))),
        format!("/LogPath:{}/dism.log", s(&logs)),
    ]);
    assert!(native.status.success(), "{}", stderr(&native));
    both(&native, &by_dism, &a, &b, "/Add-Package");
    assert_eq!(imagex_dir(&a, 1), imagex_dir(&b, 1));

    let native = run(&["get-packages", "--image", s(&a), "--index", "1"]);
    let by_dism = dism(&["/Get-Packages".into(), format!("/ImageFile:{}", s(&b)), "/Index:1".into()]);
    both(&native, &by_dism, &a, &b, "/Get-Packages");
    assert!(String::from_utf8_lossy(&by_dism.stdout).contains("KB5000002"));

    let name = image_name(&b);
    let native = run(&["cleanup-image", "--image", s(&a), "--index", &name, "--analyze-component-store"]);
    let by_dism = dism(&[
        "/Cleanup-Image".into(),
        format!("/ImageFile:{}", s(&b)),
        format!("/Name:{name}"),
        "/AnalyzeComponentStore".into(),
    ]);
    both(&native, &by_dism, &a, &b, "/AnalyzeComponentStore");

    let native = run(&["cleanup-image", "--image", s(&a), "--index", "1", "--start-component-cleanup", "--reset-base"]);
    let by_dism = dism(&[
        format!("/ImageFile:{}", s(&b)),
        "/Index:1".into(),
        "/Cleanup-Image".into(),
        "/StartComponentCleanup".into(),
        "/ResetBase".into(),
    ]);
    assert!(native.status.success(), "{}", stderr(&native));
    both(&native, &by_dism, &a, &b, "/StartComponentCleanup /ResetBase");
    assert_eq!(imagex_dir(&a, 1), imagex_dir(&b, 1));

    // /Image:DIR is DISM's offline folder: wimpatch's --dir target.
    let dir = work.path("applied");
    std::fs::create_dir_all(&dir).unwrap();
    imagex(&["apply", s(&b), "1", s(&dir), "--no-acls"]);
    let native = run(&["get-packages", "--dir", s(&dir)]);
    let by_dism = dism(&[format!("/Image:{}", s(&dir)), "/Get-Packages".into()]);
    assert!(native.status.success(), "{}", stderr(&native));
    both(&native, &by_dism, &dir, &dir, "/Image: /Get-Packages");
}

fn image_name(wim: &Path) -> String {
    let info = run_json(&["info".into(), s(wim).into(), "--json".into()]);
    fn find_name(v: &serde_json::Value) -> Option<String> {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(serde_json::Value::String(n)) = m.get("name") {
                    return Some(n.clone());
                }
                m.values().find_map(find_name)
            }
            serde_json::Value::Array(a) => a.iter().find_map(find_name),
            _ => None,
        }
    }
    find_name(&info).expect("an image name in info --json")
}

#[test]
fn mount_and_unmount_image_match_mount_and_unmount() {
    let work = Work::new();
    let wim = three_image_wim(&work, "three.wim", 2, 1024, "lzx");
    let mnt = work.path("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let by_dism = dism(&[
        "/Mount-Image".into(),
        format!("/ImageFile:{}", s(&wim)),
        "/Index:2".into(),
        format!("/MountDir:{}", s(&mnt)),
        "/ReadOnly".into(),
    ]);
    if !by_dism.status.success() {
        // No usable FUSE here: the native verb must fail the same way.
        let native = run(&["mount", "--image", s(&wim), "--index", "2", "--mount-dir", s(&mnt), "--read-only"]);
        assert_eq!(native.status.code(), by_dism.status.code());
        assert_eq!(stderr(&native), stderr(&by_dism));
        eprintln!("skipped: the mounted part of mount_and_unmount_image_match_mount_and_unmount (FUSE refused)");
    } else {
        assert!(mnt.join("Windows/edition-Professional.txt").exists());
        let out = dism(&["/Unmount-Image".into(), format!("/MountDir:{}", s(&mnt)), "/Discard".into()]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(!mnt.join("Windows/edition-Professional.txt").exists(), "unmounted");
    }
    // Unmounting what is not mounted fails alike.
    let native = run(&["unmount", "--mount-dir", s(&mnt), "--commit"]);
    let by_dism = dism(&["/Unmount-Image".into(), format!("/MountDir:{}", s(&mnt)), "/commit".into()]);
    assert_eq!(native.status.code(), Some(1));
    assert_eq!(native.status.code(), by_dism.status.code());
    assert_eq!(stderr(&native), stderr(&by_dism));
}

#[test]
fn dism_usage_errors_exit_2_and_slash_question_mark_lists_the_mapping() {
    let help = run(&["dism", "/?"]);
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for verb in [
        "/Get-ImageInfo",
        "/Export-Image",
        "/Add-Package",
        "/Get-Packages",
        "/Cleanup-Image",
        "/Mount-Image",
        "/Unmount-Image",
    ] {
        assert!(text.contains(verb), "{verb} in {text}");
    }
    for (args, says) in [
        (vec!["/Online", "/Get-Packages"], "/Online is not supported"),
        (vec!["/Get-ImageInfo", "/ImageFile:x.wim", "/Bogus"], "not supported here: /Bogus"),
        (vec!["/Add-Package", "/Image:dir"], "needs /PackagePath"),
        (vec!["/Add-Package", "/ImageFile:x.wim", "/PackagePath:p.cab"], "needs /Index:N or /Name:NAME"),
        (vec!["/Get-Packages", "/Image:dir", "/Get-ImageInfo"], "one DISM command at a time"),
        (vec!["/Unmount-Image", "/MountDir:m"], "/Commit or /Discard"),
        (vec!["/Cleanup-Image", "/Image:d", "/ResetBase"], "/StartComponentCleanup"),
        (vec!["/Get-ImageInfo", "/ImageFile:x.wim", "/Index:Pro"], "not an image index"),
        (vec!["Get-ImageInfo"], "not a DISM option"),
    ] {
        let mut all = vec!["dism"];
        all.extend(args.iter());
        let out = run(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
}
