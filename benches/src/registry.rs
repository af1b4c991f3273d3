//! Inputs of the registry scenario: a package of many component registry values
//! (`fixtures::packages::registry::bulk_registry_update`), a directory image holding the large image's
//! hives, and the same values as a `.reg` file for the floor, `hivexregedit --merge` into the same
//! SOFTWARE hive.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use fixtures::packages::registry::bulk_registry_update;
use fixtures::packages::Compression;
use fixtures::profile::{Profile, Size};
use servicing::cbs::manifest::ComponentManifest;
use servicing::cbs::registry::{entries, RegistryData};
use servicing::cbs::runtime::DEFAULT_WINDIR;

use crate::apply::run;

/// What the registry scenario needs.
pub struct RegistryInputs {
    /// A directory image (the image's hives and an empty `WinSxS\Manifests`), copied before each run.
    pub template: PathBuf,
    /// The package.
    pub package: PathBuf,
    /// Its values as a `.reg` file with `HKEY_LOCAL_MACHINE\SOFTWARE\…` keys.
    pub reg_file: PathBuf,
    /// Values in the package.
    pub values: usize,
}

/// Generates (or reuses) the inputs for `values` values against the hives of `image`.
pub fn prepare(cache: &Path, image: &Path, size: Size, values: usize) -> RegistryInputs {
    let base = cache.join(format!("registry-{}-{values}", size.name()));
    let template = base.join("template");
    let package = base.join("registry.cab");
    let reg_file = base.join("registry.reg");
    if package.exists() && reg_file.exists() && template.exists() {
        return RegistryInputs { template, package, reg_file, values };
    }
    let _ = std::fs::remove_dir_all(&base);
    let config = template.join("Windows/System32/config");
    std::fs::create_dir_all(&config).expect("template dir");
    std::fs::create_dir_all(template.join("Windows/WinSxS/Manifests")).expect("manifests dir");
    run(Command::new("wimlib-imagex").args([
        "extract",
        image.to_str().unwrap(),
        "1",
        "/Windows/System32/config/SOFTWARE",
        "/Windows/System32/config/SYSTEM",
        "/Windows/System32/config/COMPONENTS",
        &format!("--dest-dir={}", config.display()),
        "--no-acls",
    ]));
    let profile = Profile::win10_amd64();
    let def = bulk_registry_update(&profile, 9_100_001, values).expect("bulk registry package");
    std::fs::write(&package, def.cab("registry.cab", Compression::MsZip).expect("cab")).expect("write package");

    let mut reg = String::from("Windows Registry Editor Version 5.00\n");
    let mut count = 0;
    let mut seen = std::collections::HashSet::new();
    for component in def.components() {
        let m = ComponentManifest::parse(component.manifest().as_bytes(), "bench.manifest").expect("manifest");
        let mut current = String::new();
        for e in entries(&m, &profile.arch, DEFAULT_WINDIR) {
            let target = e.target.expect("mapped");
            let path = target.strip_prefix("SOFTWARE\\").expect("a SOFTWARE key");
            if path != current {
                // hivexregedit creates a key only below an existing parent: list the ancestors first.
                let parts: Vec<&str> = path.split('\\').collect();
                for depth in 1..=parts.len() {
                    let key = parts[..depth].join("\\");
                    if seen.insert(key.clone()) || depth == parts.len() {
                        let _ = write!(reg, "\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\{key}]\n");
                    }
                }
                current = path.to_owned();
            }
            let name = if e.name.is_empty() { "@".to_owned() } else { format!("\"{}\"", e.name) };
            let _ = writeln!(reg, "{name}={}", reg_data(&e.data.expect("decoded")));
            count += 1;
        }
    }
    assert_eq!(count, values);
    std::fs::write(&reg_file, reg).expect("write .reg");
    RegistryInputs { template, package, reg_file, values }
}

/// A value as regedit writes it.
fn reg_data(d: &RegistryData) -> String {
    let hex = |kind: Option<u32>, bytes: &[u8]| {
        let list: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
        match kind {
            Some(k) => format!("hex({k:x}):{}", list.join(",")),
            None => format!("hex:{}", list.join(",")),
        }
    };
    let utf16z = |items: &[String]| {
        let mut b: Vec<u8> = Vec::new();
        for s in items {
            b.extend(s.encode_utf16().flat_map(u16::to_le_bytes));
            b.extend([0, 0]);
        }
        b
    };
    match d {
        RegistryData::Sz(s) => format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")),
        RegistryData::ExpandSz(s) => hex(Some(2), &utf16z(std::slice::from_ref(s))),
        RegistryData::Dword(v) => format!("dword:{v:08x}"),
        RegistryData::Qword(v) => hex(Some(0xb), &v.to_le_bytes()),
        RegistryData::Binary(b) => hex(None, b),
        RegistryData::None(b) => hex(Some(0), b),
        RegistryData::MultiSz(l) => {
            let mut b = utf16z(l);
            b.extend([0, 0]);
            hex(Some(7), &b)
        }
    }
}
