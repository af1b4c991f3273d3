//! `add-package` with a Windows 7 hotfix MSU whose payloads are PA30 deltas (`_manifest_.cix.xml`):
//! on a minimal Windows 7 SP1-like offline directory (the driver package its SP1 branch needs, and
//! the older sdbus/sffdisk driver components), the package installs like a plain one and every
//! expanded payload equals its manifest digest.

use std::path::Path;

use fixtures::hives::{write_hives, HivePackage, OsInfo};
use servicing::cbs::{key_form, AssemblyIdentity, Version};

use crate::util::*;

fn driver(name: &str, version: &str) -> AssemblyIdentity {
    AssemblyIdentity::new(name)
        .with_version(Version::parse(version).unwrap())
        .with_arch("amd64")
        .with_language("neutral")
        .with_build_type("release")
        .with_public_key_token("31bf3856ad364e35")
        .with_type("driverUpdate")
        .with_version_scope("nonSxS")
}

/// A Windows 7 SP1 amd64 offline tree with just what KB2584475's SP1 branch looks for.
fn win7_sp1(root: &Path) {
    let config = root.join("Windows/System32/config");
    let os = OsInfo {
        product_name: "Windows 7 Professional".into(),
        edition_id: "Professional".into(),
        installation_type: "Client".into(),
        major: 6,
        minor: 1,
        build: 7601,
        ubr: 17514,
        arch: "amd64".into(),
    };
    let package = HivePackage {
        identity: "Microsoft-Windows-Client-Drivers-Package~31bf3856ad364e35~amd64~~6.1.7601.17514".into(),
        current_state: 0x70,
        visibility: 2,
        install_client: "DISM Package Manager Provider".into(),
        install_time: 129_380_000_000_000_000,
    };
    write_hives(&config, &os, &[package], &[]).expect("hives");
    let manifests = root.join("Windows/WinSxS/Manifests");
    std::fs::create_dir_all(&manifests).unwrap();
    for name in ["sdbus.inf", "sffdisk.inf"] {
        let old = key_form(&driver(name, "6.1.7601.17514"));
        std::fs::write(manifests.join(format!("{old}.manifest")), b"<assembly/>").unwrap();
        std::fs::create_dir_all(root.join("Windows/WinSxS").join(&old)).unwrap();
    }
    std::fs::create_dir_all(root.join("Windows/servicing/Packages")).unwrap();
}

#[test]
fn windows7_delta_hotfix_installs_with_every_expanded_payload_verified() {
    let msu = real_or_skip!(
        "Windows6.1-KB2584475-x64.msu",
        "windows7_delta_hotfix_installs_with_every_expanded_payload_verified"
    );
    let work = Work::new();
    let root = work.path("win7");
    win7_sp1(&root);
    let r = run_json(&[
        "add-package".into(),
        "--dir".into(),
        root.to_str().unwrap().into(),
        "--package-path".into(),
        msu.to_str().unwrap().into(),
        "--log-dir".into(),
        work.path("logs").to_str().unwrap().into(),
        "--json".into(),
        "--no-progress".into(),
    ]);
    assert_eq!(r["packages"][0]["outcome"], "installed", "{r}");
    assert!(r["packages"][0]["files"].as_u64().unwrap() >= 4, "{r}");
    // Only the SP1 branch applies to an SP1 image.
    let skipped: Vec<&str> = r["packages"][0]["skipped_sub_packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["identity"].as_str().unwrap())
        .collect();
    assert!(skipped.iter().any(|s| s.starts_with("Package_for_KB2584475_RTM")), "{skipped:?}");

    // Every installed payload equals its manifest digest (recomputed here from the files on disk).
    let info: serde_json::Value =
        serde_json::from_str(&run_ok(&["package", "info", "--json", msu.to_str().unwrap()])).unwrap();
    let inner = &info["inner"][0];
    let mut checked = 0;
    for comp in inner["components"].as_array().unwrap() {
        let kf = comp["keyform"].as_str().unwrap();
        let dir = root.join("Windows/WinSxS").join(kf);
        if !dir.exists() {
            continue;
        }
        for f in comp["files"].as_array().unwrap() {
            let (Some(want), name) = (f["sha256"].as_str(), f["name"].as_str().unwrap()) else { continue };
            let got = sha256(&dir.join(name.replace('\\', "/")));
            assert_eq!(got, want, "{kf}/{name}");
            checked += 1;
        }
    }
    assert!(checked >= 4, "only {checked} payloads checked");
    let key = r"Microsoft\Windows\CurrentVersion\Component Based Servicing\Packages\Package_for_KB2584475~31bf3856ad364e35~amd64~~6.1.1.0";
    let out = std::process::Command::new("hivexget")
        .arg(root.join("Windows/System32/config/SOFTWARE"))
        .arg(key)
        .arg("CurrentState")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "112");
}
