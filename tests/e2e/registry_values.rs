//! Component registry data (`<registryKeys>`) reaching the offline hives with `add-package`: the real
//! `Windows8.1-KB2938772-x64.cab` on the Windows 8.1 fixture, and a synthetic package with values
//! under every mapped root. Hives are read back with `hivexsh`, not with our own hive code.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fixtures::manifest::{RegistryKey, RegistryValue};
use fixtures::packages::registry::{self as probe, PROBE_APPID, PROBE_CLSID, PROBE_LAUNCH_PERMISSION};
use fixtures::packages::Compression;
use fixtures::profile::{Profile, Size};
use servicing::cbs::container::{Cabinet, Limits};
use servicing::cbs::manifest::ComponentManifest;
use servicing::cbs::registry::{map_key, view_for, TargetHive};

use crate::util::*;

const KB: &str = "Windows8.1-KB2938772-x64.cab";

/// One value as `hivexsh lsval` shows it: type code and data bytes (strings re-encoded as the
/// UTF-16LE text hivexsh decoded, without terminator).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Read {
    Sz(u32, String),
    Dword(u32),
    Hex(u32, Vec<u8>),
}

/// Every value of `key` (`\`-separated below the hive root) in `hive`, by name (`""` = default), read
/// with `hivexsh`; `None` when the key does not exist.
fn lsval(hive: &Path, key: &str) -> Option<BTreeMap<String, Read>> {
    let script = format!("cd {}\nlsval\n", if key.is_empty() { "\\" } else { key });
    let out = std::process::Command::new("hivexsh")
        .arg(hive)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(script.as_bytes())?;
            child.wait_with_output()
        })
        .expect("hivexsh");
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        assert!(err.contains("not found"), "hivexsh {key}: {err}");
        return None;
    }
    let mut values = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        // hivexsh shows the default value as "@", as .reg files do.
        let (name, rest) = if let Some(rest) = line.strip_prefix("\"@\"=") {
            (String::new(), rest)
        } else {
            let body = line.strip_prefix('"').unwrap_or_else(|| panic!("hivexsh line {line:?}"));
            let end = body.find("\"=").unwrap_or_else(|| panic!("hivexsh line {line:?}"));
            (body[..end].to_owned(), &body[end + 2..])
        };
        let read = if let Some(hex) = rest.strip_prefix("dword:") {
            Read::Dword(u32::from_str_radix(hex, 16).unwrap())
        } else if let Some(rest) = rest.strip_prefix("hex(") {
            let (t, bytes) = rest.split_once("):").unwrap();
            let bytes = bytes.split(',').filter(|b| !b.is_empty()).map(|b| u8::from_str_radix(b, 16).unwrap());
            Read::Hex(t.parse().unwrap(), bytes.collect())
        } else {
            let (t, quoted) = match rest.strip_prefix("str(") {
                Some(r) => {
                    let (t, q) = r.split_once("):").unwrap();
                    (t.parse().unwrap(), q)
                }
                None => (1, rest),
            };
            let text = quoted.strip_prefix('"').and_then(|q| q.strip_suffix('"')).unwrap();
            Read::Sz(t, text.replace("\\\"", "\"").replace("\\\\", "\\"))
        };
        values.insert(name, read);
    }
    Some(values)
}

fn value(hive: &Path, key: &str, name: &str) -> Read {
    let values = lsval(hive, key).unwrap_or_else(|| panic!("key {key} missing from {}", hive.display()));
    values.get(name).cloned().unwrap_or_else(|| panic!("value {name:?} missing from {key}: {values:?}"))
}

fn multi_sz(list: &[&str]) -> Read {
    let mut bytes = Vec::new();
    for s in list {
        bytes.extend(s.encode_utf16().flat_map(u16::to_le_bytes));
        bytes.extend([0, 0]);
    }
    bytes.extend([0, 0]);
    Read::Hex(7, bytes)
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

/// What hivexsh must show for a manifest value (independent of the engine's encoder).
fn expected(v: &servicing::cbs::manifest::RegistryValue, wow64: bool) -> Read {
    let text = v.value.clone().unwrap_or_default();
    let system = if wow64 { r"C:\Windows\SysWOW64" } else { r"C:\Windows\System32" };
    let text = text.replace("$(runtime.system32)", system);
    match v.value_type.as_deref().unwrap() {
        "REG_SZ" => Read::Sz(1, text),
        "REG_EXPAND_SZ" => Read::Sz(2, text),
        "REG_DWORD" => Read::Dword(u32::from_str_radix(text.trim_start_matches("0x"), 16).unwrap()),
        "REG_BINARY" => Read::Hex(3, unhex(&text)),
        "REG_MULTI_SZ" => {
            let items: Vec<&str> =
                text.split(',').map(|s| s.trim().trim_matches('"')).filter(|s| !s.is_empty()).collect();
            multi_sz(&items)
        }
        other => panic!("type {other} not expected in this package"),
    }
}

fn cab_member(cab: &Path, name: &str) -> Vec<u8> {
    Cabinet::open(cab, Limits::default()).expect("cab").read_member(name, 16 << 20).expect("member")
}

fn extract(wim: &Path, paths: &[&str], dest: &Path) {
    std::fs::create_dir_all(dest).unwrap();
    let mut args = vec!["extract", wim.to_str().unwrap(), "1"];
    args.extend_from_slice(paths);
    let d = format!("--dest-dir={}", dest.display());
    args.extend_from_slice(&[&d, "--no-acls"]);
    imagex(&args);
}

fn add(target: &[&str], package: &Path, extra: &[&str], logs: &Path) -> std::process::Output {
    let mut args = vec!["add-package"];
    args.extend_from_slice(target);
    args.extend_from_slice(&[
        "--package-path",
        package.to_str().unwrap(),
        "--log-dir",
        logs.to_str().unwrap(),
        "--no-progress",
        "--json",
    ]);
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn kb2938772_registry_values_reach_system_and_software_hives() {
    let cab = real_or_skip!(KB, "kb2938772_registry_values_reach_system_and_software_hives");
    let work = Work::new();
    let wim = fixture_wim(&work, "win81", "win81.wim");
    let logs = work.path("logs");
    let out = add(&["--image", wim.to_str().unwrap(), "--index", "1"], &cab, &[], &logs);
    assert!(out.status.success(), "{}", stderr(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let components: Vec<String> =
        r["packages"][0]["components"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();

    let hives = work.path("hives");
    extract(&wim, &["/Windows/System32/config/SYSTEM", "/Windows/System32/config/SOFTWARE"], &hives);
    let (system, software) = (hives.join("SYSTEM"), hives.join("SOFTWARE"));

    // Every value of every installed component manifest, where the mapping puts it.
    let mut checked = 0;
    let mut per_arch: BTreeMap<String, usize> = BTreeMap::new();
    for kf in &components {
        let m = ComponentManifest::parse(&cab_member(&cab, &format!("{kf}.manifest")), kf).unwrap();
        let arch = m.identity.processor_architecture.clone().unwrap();
        let view = view_for(&arch, "amd64");
        for key in &m.registry_keys {
            let mapped = map_key(&key.key_name, view).unwrap();
            let (hive, path) = match mapped.hive {
                TargetHive::System if mapped.control_set => (&system, format!(r"ControlSet001\{}", mapped.path)),
                TargetHive::System => (&system, mapped.path.clone()),
                TargetHive::Software => (&software, mapped.path.clone()),
                other => panic!("KB2938772 writes no {other:?} key"),
            };
            let found = lsval(hive, &path).unwrap_or_else(|| panic!("{kf}: key {path} missing"));
            for v in &key.values {
                let got = found.get(&v.name).unwrap_or_else(|| panic!("{kf}: {path}: value {:?} missing", v.name));
                assert_eq!(
                    got,
                    &expected(v, view == servicing::cbs::registry::View::Wow64),
                    "{kf}: {path}: {:?}",
                    v.name
                );
                checked += 1;
                *per_arch.entry(arch.clone()).or_default() += 1;
            }
        }
    }
    // 27 values in 14 keys per binding engine manifest (the 41 the issue quotes is the two added).
    assert_eq!(per_arch.get("amd64"), Some(&27), "amd64 component values: {per_arch:?}");
    assert_eq!(per_arch.get("x86"), Some(&27), "x86 (wow64) component values: {per_arch:?}");
    assert_eq!(r["packages"][0]["registry_values"].as_u64(), Some(checked as u64));

    // A sample of each type, spelled out (not derived from the manifest).
    assert_eq!(
        value(&system, r"ControlSet001\Control\MUI\CallbackDlls\NETCFGX", "DllPath"),
        Read::Sz(2, r"%systemroot%\system32\netcfgx.dll".into())
    );
    assert_eq!(value(&system, r"ControlSet001\Control\MUI\CallbackDlls\NETCFGX", "Type"), Read::Dword(9));
    let network = value(&system, r"ControlSet001\Control\Network", "FilterClasses");
    let Read::Hex(7, bytes) = &network else { panic!("FilterClasses is {network:?}") };
    assert!(bytes
        .starts_with(&"ms_firewall_upper\0scheduler\0".encode_utf16().flat_map(u16::to_le_bytes).collect::<Vec<_>>()));
    let appid = r"Classes\AppId\{DCED8DB0-11A5-4b16-AB9D-4E28CA38C99F}";
    let Read::Hex(3, launch) = value(&software, appid, "LaunchPermission") else { panic!("LaunchPermission type") };
    assert_eq!(launch.len(), 124);
    assert_eq!(&launch[..4], &[1, 0, 4, 0x80], "a self-relative security descriptor");
    assert_eq!(value(&software, appid, "DllSurrogate"), Read::Sz(1, String::new()));
    let dialog = r"CLSID\{DCED8DB0-11A5-4b16-AB9D-4E28CA38C99F}";
    assert_eq!(
        value(&software, &format!(r"Classes\{dialog}\InProcServer32"), ""),
        Read::Sz(2, r"%SystemRoot%\system32\netcfgx.dll".into())
    );
    assert_eq!(
        value(&software, &format!(r"Classes\WOW6432Node\{dialog}"), ""),
        Read::Sz(1, "Advanced Configuration Dialog".into())
    );
    assert_eq!(
        value(&software, r"Classes\WOW6432Node\CLSID\{5B035261-40F9-11D1-AAEC-00805FC1270E}\InProcServer32", ""),
        Read::Sz(1, r"C:\Windows\SysWOW64\netcfgx.dll".into())
    );
    let detail = std::fs::read_to_string(logs.join("dism.log")).unwrap();
    assert!(
        detail.contains(
            r"CSI    Registry: SYSTEM\ControlSet001\Control\MUI\CallbackDlls\NETCFGX: Type = REG_DWORD 0x00000009"
        ),
        "{detail}"
    );
    assert!(detail.contains(r"CSI    Registry: SYSTEM\ControlSet001\Control\Network: security descriptor Binding_Engine_Default_SDDL (D:PAI(A;CI;KR;;;BU)"));
    assert!(detail.contains("not applied: libhivex cannot write a key's security descriptor"));
}

/// A directory image of `profile` (win81 or win10), with the user hives, SYSTEM switched to control
/// set 2, and an existing `Svchost\netsvcs` list to append to.
fn probe_image(work: &Work, profile: &Profile, name: &str) -> PathBuf {
    let dir = work.path(name);
    let edition = profile.editions[0].clone();
    fixtures::layout::write_tree(&dir, profile, &edition, Size::Tiny).expect("tree");
    fixtures::hives::write_user_hives(&dir).expect("user hives");
    fixtures::hives::set_current_control_set(&dir.join("Windows/System32/config/SYSTEM"), 2).expect("control set");
    let software = dir.join("Windows/System32/config/SOFTWARE");
    let mut hive = servicing::hive::Hive::open(&software, servicing::hive::Mode::Write).unwrap();
    let svchost = hive.ensure_path(r"Microsoft\Windows NT\CurrentVersion\Svchost").unwrap();
    hive.set_value(svchost, "netsvcs", &servicing::hive::Value::MultiSz(vec!["BITS".into(), "Schedule".into()]))
        .unwrap();
    hive.commit().unwrap();
    dir
}

fn probe_cab(work: &Work, profile: &Profile, revision: u16, extra: Vec<RegistryKey>, name: &str) -> PathBuf {
    let def = probe::registry_update(profile, 9_000_001, revision, extra).expect("probe package");
    let path = work.path(name);
    std::fs::write(&path, def.cab(name, Compression::MsZip).expect("cab")).unwrap();
    path
}

#[test]
fn synthetic_values_land_under_every_mapped_root_once_and_a_newer_version_overwrites() {
    let work = Work::new();
    let profile = Profile::win10_amd64();
    let dir = probe_image(&work, &profile, "image");
    let target = ["--dir", dir.to_str().unwrap()];
    let logs = work.path("logs");
    let config = dir.join("Windows/System32/config");
    let (system, software) = (config.join("SYSTEM"), config.join("SOFTWARE"));
    let (ntuser, default) = (dir.join("Users/Default/NTUSER.DAT"), config.join("DEFAULT"));

    let v1 = probe_cab(&work, &profile, 1, Vec::new(), "probe1.cab");
    let out = add(&target, &v1, &[], &logs);
    assert!(out.status.success(), "{}", stderr(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["packages"][0]["outcome"], "installed");
    assert_eq!(r["packages"][0]["registry_values"], 20);

    let service = r"ControlSet002\Services\RegProbe";
    assert_eq!(value(&system, service, ""), Read::Sz(1, "Registry probe 1".into()));
    assert_eq!(value(&system, service, "Start"), Read::Dword(1));
    assert_eq!(
        value(&system, service, "ImagePath"),
        Read::Sz(2, r"%SystemRoot%\system32\svchost.exe -k netsvcs".into())
    );
    assert_eq!(value(&system, service, "DependOnService"), multi_sz(&["RpcSs", "Tcpip"]));
    assert_eq!(value(&system, service, "Cookie"), Read::Hex(11, 0x0102_0304_0000_0001u64.to_le_bytes().to_vec()));
    assert_eq!(value(&system, service, "Blob"), Read::Hex(3, vec![0, 0xff, 0, 1]));
    assert_eq!(value(&system, service, "Marker"), Read::Hex(0, vec![]));
    assert!(lsval(&system, r"ControlSet001\Services\RegProbe").is_none(), "written to a control set not current");
    assert_eq!(value(&system, r"Setup\RegProbe", "Revision"), Read::Dword(1));
    assert_eq!(
        value(&software, r"Microsoft\RegistryProbe", "Path"),
        Read::Sz(1, r"C:\Windows\System32\regprobe.dll".into())
    );
    assert_eq!(
        value(&software, r"WOW6432Node\Microsoft\RegistryProbe", "Path"),
        Read::Sz(1, r"C:\Windows\SysWOW64\regprobe.dll".into())
    );
    let inproc = format!(r"Classes\CLSID\{PROBE_CLSID}\InprocServer32");
    assert_eq!(value(&software, &inproc, ""), Read::Sz(2, r"%SystemRoot%\system32\regprobe.dll".into()));
    assert_eq!(value(&software, &inproc, "ThreadingModel"), Read::Sz(1, "Both".into()));
    let inproc32 = format!(r"Classes\WOW6432Node\CLSID\{PROBE_CLSID}\InprocServer32");
    assert_eq!(value(&software, &inproc32, ""), Read::Sz(2, r"%SystemRoot%\system32\regprobe.dll".into()));
    assert_eq!(
        value(&software, &format!(r"Classes\AppID\{PROBE_APPID}"), "LaunchPermission"),
        Read::Hex(3, unhex(PROBE_LAUNCH_PERMISSION))
    );
    let svchost = r"Microsoft\Windows NT\CurrentVersion\Svchost";
    assert_eq!(value(&software, svchost, "netsvcs"), multi_sz(&["BITS", "Schedule", "RegProbe"]));
    assert_eq!(value(&ntuser, r"Software\Microsoft\RegistryProbe", "Revision"), Read::Sz(1, "1".into()));
    assert_eq!(value(&default, r"Software\Microsoft\RegistryProbe", "Revision"), Read::Sz(1, "1".into()));
    let detail = std::fs::read_to_string(logs.join("dism.log")).unwrap();
    assert!(detail.contains(r"CSI    Registry: created key SYSTEM\ControlSet002\Services\RegProbe"), "{detail}");
    assert!(detail.contains(r"CSI    Registry: SYSTEM\ControlSet002\Services\RegProbe: Start = REG_DWORD 0x00000001"));

    // get-packages shows per component how many values its manifest carries.
    let list: serde_json::Value =
        serde_json::from_str(&run_ok(&["get-packages", "--json", "--components", "--dir", dir.to_str().unwrap()]))
            .unwrap();
    let row = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["identity"].as_str().unwrap().starts_with("Package_for_RegistryProbe"));
    let components = row.expect("probe package listed")["components"].as_array().unwrap().clone();
    let counts: Vec<(String, u64)> = components
        .iter()
        .map(|c| (c["key_form"].as_str().unwrap()[..4].to_owned(), c["registry_values"].as_u64().unwrap()))
        .collect();
    assert_eq!(counts, [("amd6".to_owned(), 16), ("x86_".to_owned(), 4)], "{components:?}");

    // Again: already installed, not one byte changes.
    let before = tree_snapshot(&dir);
    let out = add(&target, &v1, &[], &logs);
    assert!(out.status.success(), "{}", stderr(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["packages"][0]["outcome"], "already_installed");
    assert_eq!(tree_changes(&before, &tree_snapshot(&dir)), Vec::<PathBuf>::new());

    // A newer version overwrites what the older wrote; the appended entry stays single.
    let v2 = probe_cab(&work, &profile, 2, Vec::new(), "probe2.cab");
    let out = add(&target, &v2, &[], &logs);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(value(&system, service, ""), Read::Sz(1, "Registry probe 2".into()));
    assert_eq!(value(&system, service, "Start"), Read::Dword(2));
    assert_eq!(value(&software, r"Microsoft\RegistryProbe", "Revision"), Read::Sz(1, "2".into()));
    assert_eq!(value(&software, r"WOW6432Node\Microsoft\RegistryProbe", "Revision"), Read::Sz(1, "2".into()));
    assert_eq!(value(&ntuser, r"Software\Microsoft\RegistryProbe", "Revision"), Read::Sz(1, "2".into()));
    assert_eq!(value(&software, svchost, "netsvcs"), multi_sz(&["BITS", "Schedule", "RegProbe"]));
}

#[test]
fn windir_override_changes_runtime_paths_in_values() {
    let work = Work::new();
    let profile = Profile::win10_amd64();
    let dir = probe_image(&work, &profile, "image");
    let cab = probe_cab(&work, &profile, 1, Vec::new(), "probe.cab");
    let out = add(&["--dir", dir.to_str().unwrap()], &cab, &["--windir", r"D:\WinDeployed"], &work.path("logs"));
    assert!(out.status.success(), "{}", stderr(&out));
    let software = dir.join("Windows/System32/config/SOFTWARE");
    assert_eq!(
        value(&software, r"Microsoft\RegistryProbe", "Path"),
        Read::Sz(1, r"D:\WinDeployed\System32\regprobe.dll".into())
    );
}

#[test]
fn refused_root_or_malformed_value_fails_naming_manifest_and_key_and_leaves_the_wim_unchanged() {
    let work = Work::new();
    let profile = Profile::win81_amd64();
    let wim = fixture_wim(&work, "win81", "win81.wim");
    let before = sha256(&wim);
    let cases = [
        (r"HKEY_LOCAL_MACHINE\SAM\SAM\Domains\RegProbe", RegistryValue::new("X", "REG_SZ", "x"), "not a hive"),
        (
            r"HKEY_LOCAL_MACHINE\SOFTWARE\RegProbe\OddHex",
            RegistryValue::new("Blob", "REG_BINARY", "abc"),
            "odd number of hex digits",
        ),
        (r"HKEY_LOCAL_MACHINE\SOFTWARE\RegProbe\BadDword", RegistryValue::new("N", "REG_DWORD", "0xZZ"), "hex digits"),
    ];
    for (i, (key_name, bad, why)) in cases.into_iter().enumerate() {
        let extra = vec![RegistryKey { key_name: key_name.into(), values: vec![bad] }];
        let cab = probe_cab(&work, &profile, 1, extra, &format!("bad{i}.cab"));
        let out = add(&["--image", wim.to_str().unwrap(), "--index", "1"], &cab, &[], &work.path("logs"));
        assert_eq!(out.status.code(), Some(1), "{key_name}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(key_name), "{key_name}: {err}");
        // The key form shortens long names (`s..hetic-registryprobe`).
        assert!(err.contains("registryprobe_31bf3856ad364e35_6.3.9600.1_none_"), "manifest not named: {err}");
        assert!(err.contains(".manifest: registry key"), "manifest not named: {err}");
        assert!(err.contains(why), "{key_name}: {err}");
        assert_eq!(sha256(&wim), before, "{key_name}: the WIM changed");
    }
}

#[test]
fn package_info_counts_registry_values_and_lists_them_with_their_hive_paths() {
    let work = Work::new();
    let profile = Profile::win10_amd64();
    let cab = probe_cab(&work, &profile, 1, Vec::new(), "probe.cab");
    let v: serde_json::Value =
        serde_json::from_str(&run_ok(&["package", "info", "--json", cab.to_str().unwrap()])).unwrap();
    let counts: BTreeMap<String, u64> = v["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["identity"]["arch"].as_str().unwrap_or("").to_owned(), c["registry_values"].as_u64().unwrap()))
        .collect();
    assert_eq!(counts.get("amd64"), Some(&16));
    assert_eq!(counts.get("x86"), Some(&4));
    assert!(v["components"][0].get("registry").is_none(), "the listing needs --registry");

    let listed: serde_json::Value =
        serde_json::from_str(&run_ok(&["package", "info", "--json", "--registry", cab.to_str().unwrap()])).unwrap();
    let all: Vec<&serde_json::Value> = listed["components"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["registry"].as_array().into_iter().flatten())
        .collect();
    assert_eq!(all.len(), 20);
    let targets: Vec<&str> = all.iter().map(|e| e["target"].as_str().unwrap()).collect();
    for want in [
        r"SYSTEM\CurrentControlSet\Services\RegProbe",
        r"SOFTWARE\WOW6432Node\Microsoft\RegistryProbe",
        r"Users\Default\NTUSER.DAT\Software\Microsoft\RegistryProbe",
        r"DEFAULT\Software\Microsoft\RegistryProbe",
    ] {
        assert!(targets.contains(&want), "{want} not in {targets:?}");
    }
    let text = run_ok(&["package", "info", "--registry", cab.to_str().unwrap()]);
    assert!(text.contains(r"SYSTEM\CurrentControlSet\Services\RegProbe: Start = REG_DWORD 0x00000001"), "{text}");
    assert!(
        text.contains(&format!(
            r"SOFTWARE\Classes\WOW6432Node\CLSID\{PROBE_CLSID}\InprocServer32: (default) = REG_EXPAND_SZ"
        )),
        "{text}"
    );
}

/// The component registry counts of `get-packages --components` on `dir`, for the probe package.
fn probe_counts(dir: &Path) -> Vec<(String, Option<u64>)> {
    let list: serde_json::Value =
        serde_json::from_str(&run_ok(&["get-packages", "--json", "--components", "--dir", dir.to_str().unwrap()]))
            .unwrap();
    let row = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["identity"].as_str().unwrap().starts_with("Package_for_RegistryProbe"))
        .cloned()
        .expect("probe package listed");
    row["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["key_form"].as_str().unwrap()[..4].to_owned(), c["registry_values"].as_u64()))
        .collect()
}

#[test]
fn dcm_compressed_installed_manifests_are_read_with_the_images_servicing_stack_base() {
    use servicing::cbs::delta::{create, CreateOptions, DeltaLimits};
    let work = Work::new();
    let profile = Profile::win10_amd64();
    let dir = probe_image(&work, &profile, "image");
    let v1 = probe_cab(&work, &profile, 1, Vec::new(), "probe1.cab");
    let out = add(&["--dir", dir.to_str().unwrap()], &v1, &[], &work.path("logs"));
    assert!(out.status.success(), "{}", stderr(&out));
    let plain = probe_counts(&dir);

    // As Windows 10 stores them: every installed manifest DCM-compressed against a base manifest
    // that only the image's servicing stack carries.
    let base = b"<?xml version=\"1.0\" encoding=\"utf-8\"?><assembly xmlns=\"urn:schemas-microsoft-com:asm.v3\" manifestVersion=\"1.0\"><registryKeys><registryKey keyName=\"HKEY_LOCAL_MACHINE\\SOFTWARE\"/></registryKeys></assembly>".to_vec();
    let manifests = dir.join("Windows/WinSxS/Manifests");
    for e in std::fs::read_dir(&manifests).unwrap().flatten() {
        let text = std::fs::read(e.path()).unwrap();
        let mut dcm = b"DCM\x01".to_vec();
        dcm.extend(create(&base, &text, &CreateOptions::default(), &DeltaLimits::default()).unwrap());
        std::fs::remove_file(e.path()).unwrap();
        std::fs::write(e.path(), dcm).unwrap();
    }
    // Without the servicing stack's base, the compressed manifests cannot be read.
    let unread = probe_counts(&dir);
    assert!(unread.iter().all(|(_, n)| n.is_none()), "{unread:?}");

    // Two servicing stacks: the newest one's base is the image's.
    let sxs = dir.join("Windows/WinSxS");
    let old = sxs.join("amd64_microsoft-windows-servicingstack_31bf3856ad364e35_10.0.19041.1_none_1111111111111111");
    let new = sxs.join("amd64_microsoft-windows-servicingstack_31bf3856ad364e35_10.0.19041.900_none_2222222222222222");
    std::fs::create_dir_all(&old).unwrap();
    std::fs::create_dir_all(&new).unwrap();
    std::fs::write(old.join("wcp.dll"), fixtures::wcp_dll::wcp_dll(b"not the base")).unwrap();
    std::fs::write(new.join("wcp.dll"), fixtures::wcp_dll::wcp_dll(&base)).unwrap();
    assert_eq!(probe_counts(&dir), plain);
    assert!(plain.iter().all(|(_, n)| n.is_some_and(|n| n > 0)), "{plain:?}");
}
