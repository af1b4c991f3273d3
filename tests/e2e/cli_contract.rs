//! What the command line promises an image engineer: no silent data loss (an existing `reduce
//! --dest`), no guessed image (`service` on a multi-image WIM, an ambiguous name), and exit codes
//! that say what happened (DISM's: not applicable only fails with 0x800f081e, already installed only
//! succeeds, some applied and some failed is 3).

use fixtures::packages::write_all;
use fixtures::profile::Profile;

use crate::util::*;

#[test]
fn reduce_dest_onto_an_existing_file_is_refused_without_force() {
    let work = Work::new();
    let wim = three_image_wim(&work, "three.wim", 2, 512, "lzx");
    let other = three_image_wim(&work, "other.wim", 2, 512, "lzx");
    let text = work.path("notes.txt");
    std::fs::write(&text, b"an engineer's notes").unwrap();
    for dest in [&other, &text] {
        let before = sha256(dest);
        let out = run(&["reduce", "--image", wim.to_str().unwrap(), "--keep", "2", "--dest", dest.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
        assert!(stderr(&out).contains(dest.to_str().unwrap()), "{}", stderr(&out));
        assert_eq!(sha256(dest), before, "{} changed", dest.display());
    }
    run_ok(&["reduce", "--image", wim.to_str().unwrap(), "--keep", "2", "--dest", text.to_str().unwrap(), "--force"]);
    assert!(imagex_verifies(&text));
    assert!(imagex(&["info", text.to_str().unwrap()]).contains("Image Count:    1"));
}

#[test]
fn service_without_index_on_a_multi_image_wim_is_refused_and_names_the_images() {
    let work = Work::new();
    let wim = fixture_wim(&work, "win10", "win10.wim");
    let before = sha256(&wim);
    let pkgs = write_all(&work.path("packages"), &Profile::win10_amd64()).unwrap();
    let lcu = pkgs.iter().find(|p| p.package.file_name == "Windows10.0-KB5000001-x64.cab").unwrap();
    let scratch = work.path("scratch");
    let base = ["--scratch-dir", scratch.to_str().unwrap(), "service", "--image", wim.to_str().unwrap()];
    let mut args = base.to_vec();
    args.extend(["--package-path", lcu.path.to_str().unwrap()]);
    let out = run(&args);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("--index") && err.contains("1: "), "{err}");
    assert_eq!(sha256(&wim), before);

    args.extend(["--index", "2", "--json", "--no-progress"]);
    let v: serde_json::Value = serde_json::from_str(&run_ok(&args)).unwrap();
    assert_eq!(v["index"], 2);
    assert!(v["name"].is_string() && v["edition"].is_string(), "{v}");
}

#[test]
fn an_image_name_that_two_images_carry_is_refused_with_their_indexes() {
    let work = Work::new();
    let wim = three_image_wim(&work, "three.wim", 1, 64, "none");
    // wimlib refuses two equal names, but not two that differ in case only (other tools write
    // either), and names are matched ignoring case.
    imagex(&["info", wim.to_str().unwrap(), "3", "WINDOWS 8.1 CORE"]);
    let out = run(&["delete-image", "--image", wim.to_str().unwrap(), "--index", "windows 8.1 core"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("indexes 1, 3"), "{}", stderr(&out));
    assert!(imagex(&["info", wim.to_str().unwrap()]).contains("Image Count:    3"));
}

#[test]
fn exit_codes_say_not_applicable_already_installed_and_partial() {
    let work = Work::new();
    let wim = fixture_wim(&work, "win10", "win10.wim");
    let pkgs = write_all(&work.path("packages"), &Profile::win10_amd64()).unwrap();
    let path = |name: &str| pkgs.iter().find(|p| p.package.file_name == name).unwrap().path.clone();
    let (lcu, x86, exe) =
        (path("Windows10.0-KB5000001-x64.cab"), path("Windows10.0-KB5000020-x86.cab"), path("ie11-setup.exe"));
    let logs = work.path("logs");
    let add = |pkgs: &[&std::path::Path], extra: &[&str]| {
        let mut a = vec!["add-package", "--image", wim.to_str().unwrap(), "--index", "1"];
        for p in pkgs {
            a.extend(["--package-path", p.to_str().unwrap()]);
        }
        a.extend(["--log-dir", logs.to_str().unwrap(), "--no-progress"]);
        a.extend_from_slice(extra);
        run(&a)
    };

    // Not applicable only: DISM's 0x800f081e, nothing written.
    let before = sha256(&wim);
    let out = add(&[&x86], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("0x800f081e"), "{}", stderr(&out));
    assert_eq!(sha256(&wim), before);

    // Continue-on-error with nothing applied is a failure, not "the others were applied".
    let out = add(&[&exe, &x86], &["--continue-on-error"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!stderr(&out).contains("were applied"), "{}", stderr(&out));

    // Some applied, some not supported: 3, with the count that was applied.
    let out = add(&[&exe, &lcu], &["--continue-on-error"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("1 package(s) were applied"), "{}", stderr(&out));

    // Already installed only: success, as DISM.
    let out = add(&[&lcu], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn several_package_paths_after_one_flag_are_accepted() {
    let work = Work::new();
    let wim = fixture_wim(&work, "win10", "win10.wim");
    let pkgs = write_all(&work.path("packages"), &Profile::win10_amd64()).unwrap();
    let path = |name: &str| pkgs.iter().find(|p| p.package.file_name == name).unwrap().path.clone();
    let (one, two) = (path("Windows10.0-KB5000001-x64.cab"), path("Windows10.0-KB5000002-x64.cab"));
    let logs = work.path("logs");
    let out = run_ok(&[
        "add-package",
        "--image",
        wim.to_str().unwrap(),
        "--index",
        "1",
        "--package-path",
        one.to_str().unwrap(),
        two.to_str().unwrap(),
        "--log-dir",
        logs.to_str().unwrap(),
        "--json",
        "--no-progress",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["packages"].as_array().unwrap().len(), 2, "{v}");
}

#[test]
fn invalid_values_found_after_parsing_are_usage_errors() {
    let work = Work::new();
    let site = work.path("site");
    let s = site.to_str().unwrap();
    for bad in [
        vec!["site", "--site", s, "schedule", "--image", "1", "--updates", "KB1", "--at", "next tuesday"],
        vec!["site", "--site", s, "schedule", "--image", "1", "--updates", "KB1", "--every", "fortnightly"],
    ] {
        let out = run(&bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", stderr(&out));
    }
    let out = wimpatch().args(["site", "image", "list"]).env_remove("WIMPATCH_SITE").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--site"), "{}", stderr(&out));

    // --compress on an append that would keep another compression.
    let wim = three_image_wim(&work, "three.wim", 1, 64, "lzx");
    let dest = three_image_wim(&work, "dest.wim", 1, 64, "lzx");
    let before = sha256(&dest);
    let out = run(&[
        "export-image",
        "--source",
        wim.to_str().unwrap(),
        "--index",
        "1",
        "--dest",
        dest.to_str().unwrap(),
        "--compress",
        "xpress",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(sha256(&dest), before);
}
