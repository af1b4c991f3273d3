//! Broken registry hives inside otherwise valid images: the `win10` fixture image with its
//! SOFTWARE (or COMPONENTS) hive truncated, replaced by garbage, cut after a valid header, made a
//! directory, or removed, through `wimlib-imagex update`. `add-package` and `get-packages` must fail
//! cleanly and name the hive; the image (a WIM or an offline folder) must stay as it was.

use std::path::{Path, PathBuf};

use super::{name, s, Case, Expect, Run, Sandbox};
use crate::util::{imagex, noise};

const CONFIG: &str = "/Windows/System32/config";

/// The hive `hive` of image 1 of the fixture, extracted.
fn original(sb: &Sandbox<'_>, hive: &str) -> Vec<u8> {
    let dir = sb.path("extract");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let w = s(&sb.shared.win10);
    imagex(&["extract", &w, "1", &format!("{CONFIG}/{hive}"), &format!("--dest-dir={}", dir.display()), "--no-acls"]);
    let bytes = std::fs::read(dir.join(hive)).expect("extracted hive");
    std::fs::remove_dir_all(&dir).expect("clean extract");
    bytes
}

/// A copy of the fixture whose image 1 has `command` applied (`wimlib-imagex update`).
fn image_with(sb: &Sandbox<'_>, file: &str, command: &str) -> PathBuf {
    let wim = sb.copy(&sb.shared.win10, file);
    imagex(&["update", &s(&wim), "1", &format!("--command={command}")]);
    wim
}

/// A copy of the fixture whose `hive` in image 1 holds `bytes`.
fn image_with_hive(sb: &Sandbox<'_>, file: &str, hive: &str, bytes: &[u8]) -> PathBuf {
    let src = sb.write(&format!("{hive}.replacement"), bytes);
    let wim = image_with(sb, file, &format!("add '{}' '{CONFIG}/{hive}'", src.display()));
    std::fs::remove_file(src).expect("clean replacement");
    wim
}

/// `add-package` of the good cab into image 1 of `wim`; stderr must name the WIM and `hive`.
fn add(sb: &Sandbox<'_>, wim: &Path, hive: &str) -> Run {
    let cab = sb.copy(&sb.shared.good_cab, "Windows10.0-KB5000001-x64.cab");
    Run { args: sb.add_package(wim, &cab), inputs: vec![wim.to_path_buf(), cab], ..Run::default() }
        .mentioning(&name(wim))
        .mentioning(hive)
}

fn get_packages(wim: &Path, hive: &str) -> Run {
    Run::new(&["get-packages", "--image", &s(wim), "--index", "1"], &[wim], &name(wim)).mentioning(hive)
}

pub fn cases() -> Vec<Case> {
    let fail = |name, setup| Case { name, setup, expect: Expect::Failure };
    vec![
        fail("hive/software-truncated", |sb| {
            let hive = original(sb, "SOFTWARE");
            let wim = image_with_hive(sb, "software-cut.wim", "SOFTWARE", &hive[..hive.len() / 3]);
            add(sb, &wim, "SOFTWARE")
        }),
        fail("hive/software-garbage", |sb| {
            let wim = image_with_hive(sb, "software-noise.wim", "SOFTWARE", &noise(7, 64 * 1024));
            add(sb, &wim, "SOFTWARE")
        }),
        fail("hive/software-header-only", |sb| {
            // A valid 4 KiB base block whose hive bins are garbage.
            let hive = original(sb, "SOFTWARE");
            let mut bytes = hive[..4096].to_vec();
            bytes.extend(noise(8, hive.len() - 4096));
            let wim = image_with_hive(sb, "software-bins.wim", "SOFTWARE", &bytes);
            add(sb, &wim, "SOFTWARE")
        }),
        fail("hive/software-empty", |sb| {
            let wim = image_with_hive(sb, "software-empty.wim", "SOFTWARE", &[]);
            add(sb, &wim, "SOFTWARE")
        }),
        fail("hive/software-missing", |sb| {
            let wim = image_with(sb, "software-gone.wim", &format!("delete '{CONFIG}/SOFTWARE'"));
            add(sb, &wim, "SOFTWARE")
        }),
        fail("hive/software-is-a-directory", |sb| {
            let dir = sb.path("SOFTWARE.dir");
            std::fs::create_dir_all(dir.join("inner")).expect("mkdir");
            let wim = image_with(
                sb,
                "software-dir.wim",
                &format!("delete '{CONFIG}/SOFTWARE'\nadd '{}' '{CONFIG}/SOFTWARE'", dir.display()),
            );
            std::fs::remove_dir_all(dir).expect("clean");
            add(sb, &wim, "SOFTWARE")
        }),
        fail("hive/components-garbage", |sb| {
            let wim = image_with_hive(sb, "components-noise.wim", "COMPONENTS", &noise(9, 64 * 1024));
            add(sb, &wim, "COMPONENTS")
        }),
        // Regression: get-packages used to name only the deleted scratch copy of the hive, twice.
        fail("hive/get-packages-software-garbage", |sb| {
            let wim = image_with_hive(sb, "software-noise.wim", "SOFTWARE", &noise(10, 64 * 1024));
            get_packages(&wim, "SOFTWARE")
        }),
        fail("hive/dir-target-software-truncated", |sb| {
            // An applied image (`--dir`): the folder is the input and must not change at all.
            let dir = sb.path("offline");
            std::fs::create_dir_all(&dir).expect("mkdir");
            imagex(&["apply", &s(&sb.shared.win10), "1", &s(&dir), "--no-acls"]);
            let hive = dir.join("Windows/System32/config/SOFTWARE");
            let bytes = std::fs::read(&hive).expect("hive");
            std::fs::write(&hive, &bytes[..bytes.len() / 2]).expect("truncate");
            let cab = sb.copy(&sb.shared.good_cab, "Windows10.0-KB5000001-x64.cab");
            let args = ["add-package", "--dir", &s(&dir), "--package-path", &s(&cab), "--log-dir", &sb.logs()];
            Run::new(&args, &[&hive, &cab], "SOFTWARE")
        }),
    ]
}
