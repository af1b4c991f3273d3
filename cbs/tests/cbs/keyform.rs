//! Key-form names: the real examples of `cbs-format.md` §3.2 and every manifest of the real packages.

use cbs::keyform::{identity_hash, string_hash};
use cbs::{AssemblyIdentity, Version};

use crate::real_names::{RealName, HYPERV_IS, KB2584475, KB2938772};

const MS_PKT: &str = "31bf3856ad364e35";

fn v(text: &str) -> Version {
    text.parse().unwrap()
}

fn servicing_stack() -> AssemblyIdentity {
    AssemblyIdentity::new("Microsoft-Windows-ServicingStack")
        .with_version(v("10.0.19041.1"))
        .with_arch("amd64")
        .with_language("neutral")
        .with_public_key_token(MS_PKT)
        .with_build_type("release")
        .with_version_scope("nonSxS")
}

fn common_controls() -> AssemblyIdentity {
    AssemblyIdentity::new("Microsoft.Windows.Common-Controls")
        .with_version(v("6.0.19041.1110"))
        .with_arch("amd64")
        .with_language("*")
        .with_public_key_token("6595b64144ccf1df")
        .with_type("win32")
}

fn dedup(name: &str) -> AssemblyIdentity {
    AssemblyIdentity::new(name)
        .with_version(v("10.0.20348.2849"))
        .with_arch("amd64")
        .with_language("neutral")
        .with_public_key_token(MS_PKT)
        .with_build_type("release")
        .with_version_scope("nonSxS")
}

#[test]
fn servicing_stack_key_form() {
    assert_eq!(
        servicing_stack().key_form(),
        "amd64_microsoft-windows-servicingstack_31bf3856ad364e35_10.0.19041.1_none_bf506ecc66a800df"
    );
}

#[test]
fn common_controls_with_type_win32() {
    // The manifest says `language="*"`; the haveSxS sample says culture `none`. Both are skipped.
    let mut id = common_controls();
    assert_eq!(
        id.key_form(),
        "amd64_microsoft.windows.common-controls_6595b64144ccf1df_6.0.19041.1110_none_60b5254171f9507e"
    );
    id.language = Some("none".into());
    assert_eq!(
        id.key_form(),
        "amd64_microsoft.windows.common-controls_6595b64144ccf1df_6.0.19041.1110_none_60b5254171f9507e"
    );
}

#[test]
fn kdnic_resources_with_culture() {
    let id = AssemblyIdentity::new("kdnic.inf.resources")
        .with_version(v("10.0.19041.1"))
        .with_arch("amd64")
        .with_language("en-US")
        .with_public_key_token(MS_PKT)
        .with_version_scope("nonSxS");
    assert_eq!(id.key_form(), "amd64_kdnic.inf.resources_31bf3856ad364e35_10.0.19041.1_en-us_6a39b593cd0620bd");
}

fn driver(name: &str, version: &str) -> AssemblyIdentity {
    AssemblyIdentity::new(name)
        .with_version(v(version))
        .with_arch("amd64")
        .with_language("neutral")
        .with_public_key_token(MS_PKT)
        .with_build_type("release")
        .with_type("driverUpdate")
        .with_version_scope("nonSxS")
}

#[test]
fn sffdisk_driver_update() {
    assert_eq!(
        driver("sffdisk.inf", "6.1.7600.21058").key_form(),
        "amd64_sffdisk.inf_31bf3856ad364e35_6.1.7600.21058_none_00dd69b71c9db771"
    );
}

#[test]
fn sdbus_driver_update() {
    assert_eq!(
        driver("sdbus.inf", "6.1.7601.21824").key_form(),
        "amd64_sdbus.inf_31bf3856ad364e35_6.1.7601.21824_none_d08792ddfa1c5224"
    );
}

#[test]
fn dedup_service() {
    assert_eq!(
        dedup("Microsoft-Windows-Dedup-Service").key_form(),
        "amd64_microsoft-windows-dedup-service_31bf3856ad364e35_10.0.20348.2849_none_773c336e9bd2bbfb"
    );
}

#[test]
fn winners_form_drops_the_version() {
    assert_eq!(
        servicing_stack().versionless_key_form(),
        "amd64_microsoft-windows-servicingstack_31bf3856ad364e35_none_4a207b402ad93a1c"
    );
    let mut cc = common_controls();
    cc.language = None;
    assert_eq!(
        cc.versionless_key_form(),
        "amd64_microsoft.windows.common-controls_6595b64144ccf1df_none_62fe57338acfab7a"
    );
}

#[test]
fn deployment_short_form() {
    assert_eq!(
        dedup("Microsoft-Windows-Dedup-Deployment").short_key_form(),
        "microsoft-w..-deployment_31bf3856ad364e35_10.0.20348.2849_f8f9ef63a3376fad"
    );
}

#[test]
fn long_names_keep_19_characters_each_side() {
    let id = AssemblyIdentity::new("Microsoft-Windows-Network-DiagnosticsFrameworkCore")
        .with_version(v("6.3.9600.16384"))
        .with_arch("amd64")
        .with_public_key_token(MS_PKT);
    let key = id.key_form();
    assert!(key.starts_with("amd64_microsoft-windows-n..osticsframeworkcore_31bf3856ad364e35_"), "{key}");
    // Exactly 40 characters stays whole.
    let forty = "a".repeat(40);
    let key = AssemblyIdentity::new(&forty).with_arch("x86").key_form();
    assert!(key.starts_with(&format!("x86_{forty}_none_none_none_")), "{key}");
}

#[test]
fn long_culture_is_abbreviated() {
    let id = AssemblyIdentity::new("Microsoft.PowerShell.DSC.Proxy.Resources")
        .with_version(v("7.3.7601.16384"))
        .with_arch("amd64")
        .with_language("sr-Latn-RS")
        .with_public_key_token(MS_PKT);
    let key = id.key_form();
    assert!(key.contains("_7.3.7601.16384_sr-..-rs_"), "{key}");
}

#[test]
fn spaces_and_parentheses_leave_the_display_name_but_not_the_hash() {
    let plain = AssemblyIdentity::new("Foo").with_arch("amd64");
    let fancy = AssemblyIdentity::new("F (o) o").with_arch("amd64");
    assert!(fancy.key_form().starts_with("amd64_foo_none_none_none_"));
    assert_ne!(plain.key_form(), fancy.key_form(), "the hash covers the raw name");
}

#[test]
fn string_hash_is_case_insensitive_and_position_sensitive() {
    assert_eq!(string_hash("ABC"), string_hash("abc"));
    assert_ne!(string_hash("ab"), string_hash("ba"));
    assert_eq!(string_hash(""), 0);
    // A single character lands in g0, whose weight is 0x1E5FFFFFD27.
    assert_eq!(string_hash("a"), 0x61u64.wrapping_mul(0x1E5_FFFF_FD27));
}

#[test]
fn neutral_and_absent_language_hash_alike() {
    let a = servicing_stack();
    let mut b = servicing_stack();
    b.language = None;
    assert_eq!(identity_hash(&a, true), identity_hash(&b, true));
    // buildType takes no part in the name.
    b.build_type = None;
    assert_eq!(a.key_form(), b.key_form());
}

fn identity_of(row: &RealName) -> AssemblyIdentity {
    AssemblyIdentity {
        name: row.name.to_owned(),
        version: Some(v(row.version)),
        processor_architecture: row.arch.map(str::to_owned),
        language: row.language.map(str::to_owned),
        public_key_token: row.public_key_token.map(str::to_owned),
        build_type: row.build_type.map(str::to_owned),
        version_scope: row.version_scope.map(str::to_owned),
        type_name: row.type_name.map(str::to_owned),
    }
}

fn check_table(table: &[RealName], min_rows: usize, min_folders: usize) {
    assert!(table.len() >= min_rows, "table shrank to {} rows", table.len());
    let mut failures = Vec::new();
    let mut folders = 0;
    for row in table {
        let key = identity_of(row).key_form();
        if key != row.manifest_stem {
            failures.push(format!("manifest: computed {key}, real {}", row.manifest_stem));
        }
        if let Some(folder) = row.payload_folder {
            folders += 1;
            if key != folder {
                failures.push(format!("payload folder: computed {key}, real {folder}"));
            }
        }
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
    assert!(folders >= min_folders, "only {folders} payload folders checked");
}

#[test]
fn every_kb2938772_manifest_and_payload_folder() {
    // 5 manifests (2 components, 1 driver, 2 hashed-name deployments), 3 payload folders.
    check_table(KB2938772, 5, 3);
}

#[test]
fn every_kb2584475_manifest_and_payload_folder() {
    check_table(KB2584475, 4, 4);
}

#[test]
fn every_hyperv_integration_services_manifest_and_payload_folder() {
    check_table(HYPERV_IS, 15, 15);
}
