//! Package manifests (`.mum`): the real KB4601060 sub-package, synthetic files modelled on
//! `cbs-format.md` §2.1/§2.2/§2.4, and the errors for broken ones.

use std::path::PathBuf;

use cbs::mum::{Compare, Disposition, Integrate, PackageManifest};
use cbs::xml::XmlErrorKind;
use cbs::{AssemblyIdentity, Version};

/// The shared test data folder, or `None` when it is absent (a failure under
/// `WIMPATCH_REQUIRE_TESTDATA`).
pub fn testdata() -> Option<PathBuf> {
    testdata::get("")
}

fn id(name: &str, version: &str) -> AssemblyIdentity {
    crate::amd64_identity(name, version)
}

#[test]
fn real_kb4601060_sub_package() {
    let Some(dir) = testdata() else {
        eprintln!("skipped: real_kb4601060_sub_package (WIMPATCH_TESTDATA not found)");
        return;
    };
    let path = dir.join("real-mum/KB4601060-Package_1.mum");
    let bytes = std::fs::read(&path).unwrap();
    let m = PackageManifest::parse(&bytes, &path.display().to_string()).unwrap();

    assert_eq!(m.identity, id("Package_1_for_KB4601060", "10.0.3770.4"));
    assert_eq!(
        m.package_identity().unwrap().to_string(),
        "Package_1_for_KB4601060~31bf3856ad364e35~amd64~~10.0.3770.4"
    );
    assert_eq!(m.kb(), Some("KB4601060"));
    assert_eq!(m.description.as_deref(), Some("Fix for KB4601060"));
    assert_eq!(m.display_name.as_deref(), Some("default"));
    assert_eq!(m.company.as_deref(), Some("Microsoft Corporation"));
    assert_eq!(m.support_information.as_deref(), Some("http://support.microsoft.com/?kbid=4601060"));
    assert_eq!(m.creation_time.as_deref(), Some("2021-01-27T19:51:22Z"));
    assert_eq!(m.package.release_type.as_deref(), Some("Update"));
    assert_eq!(m.package.restart.as_deref(), Some("possible"));
    assert_eq!(m.package.applicability_evaluation, None);
    assert!(!m.mentions_baseline);

    // One <parent> with seven alternatives and one nested <parent>.
    assert_eq!(m.package.parents.len(), 1);
    let parent = &m.package.parents[0];
    assert_eq!(parent.disposition, Some(Disposition::Staged));
    assert_eq!(parent.integrate, Some(Integrate::Separate));
    assert_eq!(parent.build_compare, Some(Compare::Eq));
    assert_eq!((parent.service_compare.clone(), parent.revision_compare.clone()), (None, None));
    let builds: Vec<String> = parent.alternatives.iter().map(|a| a.version.unwrap().to_string()).collect();
    assert_eq!(
        builds,
        [
            "10.0.17763.1",
            "10.0.10240.16384",
            "10.0.10586.0",
            "10.0.14393.0",
            "10.0.15063.0",
            "10.0.16299.15",
            "10.0.17134.1"
        ]
    );
    assert!(parent.alternatives.iter().all(|a| a.name == "Microsoft-Windows-NetFx-Shared-MOF-Client"));
    assert_eq!(parent.alternatives[0].build_type.as_deref(), Some("release"));
    assert_eq!(parent.nested.len(), 1);
    let nested = &parent.nested[0];
    assert_eq!(nested.build_compare, Some(Compare::Eq));
    assert_eq!(nested.disposition, Some(Disposition::Staged));
    assert_eq!(nested.alternatives, [id("WinPE-NetFx-Package", "10.0.17763.1").with_build_type("release")]);
    assert!(nested.nested.is_empty());

    let installer = m.package.installer_assembly.as_ref().unwrap();
    assert_eq!(installer.name, "Microsoft-Windows-ServicingStack");
    assert_eq!(installer.version, Some(Version::new(6, 0, 0, 0)));
    assert_eq!(installer.version_scope.as_deref(), Some("nonSxS"));

    assert_eq!(m.package.updates.len(), 1);
    let update = &m.package.updates[0];
    assert_eq!(update.name, "4601060-1_neutral");
    assert_eq!(update.applicable_disposition, Some(Disposition::Staged));
    assert_eq!(update.update_components.len(), 1);
    assert_eq!(update.update_components[0].elevate.as_deref(), Some("build"));
    assert_eq!(update.update_components[0].identity.name, "NetFx4-ServiceModel_mof_files");
    assert_eq!(update.update_components[0].identity.public_key_token.as_deref(), Some("b03f5f7f11d50a3a"));
    assert_eq!(update.components.len(), 1);
    assert_eq!(update.components[0].name, "b240f4289687c54f1913959ba8988462");
    assert_eq!(update.components[0].version, Some(Version::new(4, 0, 15713, 450)));
    assert!(update.packages.is_empty() && update.drivers.is_empty());
}

/// Modelled on `cbs-format.md` §2.1 (top-level `update.mum`, with a BOM).
const TOP_LEVEL: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<assembly xmlns="urn:schemas-microsoft-com:asm.v3" manifestVersion="1.0" description="Fix for KB1234567" displayName="default" company="Example Corp" copyright="Example Corp" supportInformation="http://support.example.invalid/?kbid=1234567" creationTimeStamp="2024-01-02T03:04:05Z" lastUpdateTimeStamp="2024-01-02T03:04:06Z">
  <assemblyIdentity name="Package_for_KB1234567" version="6.3.1.0" language="neutral" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" />
  <package identifier="KB1234567" applicabilityEvaluation="deep" releaseType="Security Update" restart="possible">
    <parent buildCompare="EQ" serviceCompare="EQ" integrate="separate" disposition="detect">
      <assemblyIdentity name="Example-Client-Features-Package" language="neutral" version="6.3.9600.16384" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" buildType="release" />
      <assemblyIdentity name="Example-Server-Features-Package" language="neutral" version="6.3.9600.16384" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" buildType="release" versionScope="nonSxS" />
    </parent>
    <installerAssembly name="Microsoft-Windows-ServicingStack" version="6.0.0.0" language="neutral" processorArchitecture="amd64" versionScope="nonSxS" publicKeyToken="31bf3856ad364e35" />
    <update name="1234567-3_neutral_PACKAGE">
      <package integrate="hidden">
        <assemblyIdentity name="Package_for_KB1234567_RTM" version="6.3.1.0" language="neutral" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" />
      </package>
    </update>
    <mum2:packageExtended xmlns:mum2="urn:schemas-microsoft-com:asm.v3" completelyOfflineCapable="yes" packageSize="949044" />
  </package>
</assembly>
"#;

/// Modelled on `cbs-format.md` §2.2 (leaf sub-package with a component, no BOM).
const LEAF: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<assembly xmlns="urn:schemas-microsoft-com:asm.v3" manifestVersion="1.0" description="Fix for KB1234567">
  <assemblyIdentity name="Package_1_for_KB1234567" version="6.3.1.0" language="neutral" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" />
  <package identifier="KB1234567" releaseType="Update" restart="possible">
    <parent buildCompare="GE" revisionCompare="GE" integrate="separate" disposition="detect">
      <assemblyIdentity name="Package_for_KB1111111" version="6.3.1.14" language="neutral" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" />
    </parent>
    <update name="1234567-1_neutral_GDR">
      <applicable disposition="staged">
        <updateComponent elevate="distribution">
          <assemblyIdentity name="Example-Component" version="6.3.9600.17039" processorArchitecture="amd64" language="neutral" buildType="release" publicKeyToken="31bf3856ad364e35" versionScope="nonSxS" />
        </updateComponent>
      </applicable>
      <component>
        <assemblyIdentity name="0123456789abcdef0123456789abcdef" version="6.3.9600.17039" processorArchitecture="amd64" language="neutral" buildType="release" publicKeyToken="31bf3856ad364e35" versionScope="nonSxS" />
      </component>
    </update>
  </package>
</assembly>
"#;

/// Driver update (Hyper-V IS shape, single-quoted declaration).
const DRIVER: &str = r#"<?xml version='1.0' encoding='utf-8' standalone='yes'?>
<assembly xmlns="urn:schemas-microsoft-com:asm.v3" description="Fix for KB7654321" displayName="default" manifestVersion="1.0">
  <assemblyIdentity buildType="release" language="neutral" name="Example-Driver-Package" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" version="6.3.9600.19456" versionScope="nonSxS"/>
  <package identifier="KB7654321" releaseType="Update" restart="required">
    <parent integrate="delegate">
      <assemblyIdentity buildType="release" language="neutral" name="Example-EnterpriseEdition" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" version="6.1.7600.16385"/>
    </parent>
    <update description="Example Bus Driver" displayName="Example Bus Driver" name="Example-bus" restart="required">
      <applicable disposition="detect">
        <updateDriver elevate="install">
          <assemblyIdentity buildType="release" language="neutral" name="exbus.inf" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" type="driverUpdate" version="6.3.9600.19456" versionScope="nonSxS"/>
        </updateDriver>
      </applicable>
      <driver inf="exbus.inf" ranking="normal">
        <assemblyIdentity buildType="release" language="neutral" name="exbus.inf" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" type="driverUpdate" version="6.3.9600.19456" versionScope="nonSxS"/>
        <mum2:driverExtended xmlns:mum2="urn:schemas-microsoft-com:asm.v3" deviceInstallRequired="true"/>
      </driver>
    </update>
    <mum2:packageExtended xmlns:mum2="urn:schemas-microsoft-com:asm.v3" completelyOfflineCapable="no" performDeviceInstallsPriorToReboot="true"/>
  </package>
</assembly>
"#;

/// A feature / on-demand / LCU mix exercising the rarer elements of §2.2–§2.4.
const FEATURE: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<assembly xmlns="urn:schemas-microsoft-com:asm.v3" manifestVersion="1.0">
  <assemblyIdentity name="Package_for_RollupFix" version="26100.1742.1.10" language="neutral" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" />
  <package identifier="KB5043080" releaseType="Feature Pack" restart="required" permanence="permanent" selfUpdate="true" psfName="Windows11.0-KB5043080-x64.psf" targetPartition="MainOS">
    <parent integrate="delegate" disposition="detect">
      <assemblyIdentity name="Microsoft-Windows-CoreEdition" version="10.0.26100.1742" language="neutral" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" />
    </parent>
    <update name="Feature-All" displayName="All of it" description="Everything">
      <selectable disposition="staged"><detectNone default="false"/></selectable>
      <applicable disposition="detect">
        <detectUpdate><update name="Microsoft-Hyper-V-All"/></detectUpdate>
      </applicable>
      <package contained="false" integrate="hidden">
        <assemblyIdentity name="Microsoft-Hyper-V-Package" version="10.0.26100.1742" language="neutral" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" />
      </package>
    </update>
    <declareCapability><capability><capabilityIdentity name="Language.Fonts.Jpan" version="1.0" language="und-Jpan"/></capability></declareCapability>
    <mum2:customInformation xmlns:mum2="urn:schemas-microsoft-com:asm.v3" Version="10.0.26100.1742" PackageFormat="PSFX" PSFXVersion="2" PSFXDeltaFormat="ForwardOnly" Baseline="true">
      <mum2:FodInformation Id="433"/>
    </mum2:customInformation>
  </package>
</assembly>
"#;

fn with_bom(text: &str) -> Vec<u8> {
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(text.as_bytes());
    bytes
}

#[test]
fn top_level_update_mum_with_bom() {
    let m = PackageManifest::parse(&with_bom(TOP_LEVEL), "update.mum").unwrap();
    assert_eq!(m.package_identity().unwrap().to_string(), "Package_for_KB1234567~31bf3856ad364e35~amd64~~6.3.1.0");
    assert_eq!(m.manifest_version.as_deref(), Some("1.0"));
    assert_eq!(m.copyright.as_deref(), Some("Example Corp"));
    assert_eq!(m.last_update_time.as_deref(), Some("2024-01-02T03:04:06Z"));
    assert_eq!(m.package.release_type.as_deref(), Some("Security Update"));
    assert_eq!(m.package.applicability_evaluation.as_deref(), Some("deep"));
    let parent = &m.package.parents[0];
    assert_eq!(parent.disposition, Some(Disposition::Detect));
    assert_eq!(parent.service_compare, Some(Compare::Eq));
    assert_eq!(parent.alternatives.len(), 2);
    assert_eq!(parent.alternatives[1].version_scope.as_deref(), Some("nonSxS"));
    let subs: Vec<_> = m.sub_packages().collect();
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0].identity, id("Package_for_KB1234567_RTM", "6.3.1.0"));
    assert_eq!(subs[0].integrate, Some(Integrate::Hidden));
    assert_eq!(subs[0].contained, None);
    let ext = m.package.package_extended.as_ref().unwrap();
    assert_eq!(ext.completely_offline_capable, Some(true));
    assert_eq!(ext.package_size, Some(949_044));
    // The same text without the BOM gives the same model.
    assert_eq!(PackageManifest::parse(TOP_LEVEL.as_bytes(), "update.mum").unwrap(), m);
}

#[test]
fn leaf_package_with_component_update() {
    let m = PackageManifest::parse(LEAF.as_bytes(), "Package_1_for_KB1234567.mum").unwrap();
    let parent = &m.package.parents[0];
    assert_eq!((parent.build_compare.clone(), parent.revision_compare.clone()), (Some(Compare::Ge), Some(Compare::Ge)));
    let update = &m.package.updates[0];
    assert_eq!(update.name, "1234567-1_neutral_GDR");
    assert_eq!(update.update_components[0].elevate.as_deref(), Some("distribution"));
    assert_eq!(update.update_components[0].identity.name, "Example-Component");
    let components: Vec<&str> = m.components().map(|c| c.name.as_str()).collect();
    assert_eq!(components, ["0123456789abcdef0123456789abcdef"]);
    assert_eq!(m.package.installer_assembly, None);
}

#[test]
fn driver_package() {
    let m = PackageManifest::parse(DRIVER.as_bytes(), "update.mum").unwrap();
    assert_eq!(m.identity.version_scope.as_deref(), Some("nonSxS"));
    assert_eq!(m.package.parents[0].integrate, Some(Integrate::Delegate));
    assert_eq!(m.package.parents[0].disposition, None);
    let update = &m.package.updates[0];
    assert_eq!(update.display_name.as_deref(), Some("Example Bus Driver"));
    assert_eq!(update.restart.as_deref(), Some("required"));
    assert_eq!(update.applicable_disposition, Some(Disposition::Detect));
    assert_eq!(update.update_drivers[0].elevate.as_deref(), Some("install"));
    assert_eq!(update.update_drivers[0].identity.type_name.as_deref(), Some("driverUpdate"));
    let driver = &update.drivers[0];
    assert_eq!(driver.inf, "exbus.inf");
    assert_eq!(driver.ranking.as_deref(), Some("normal"));
    assert_eq!(driver.identity.as_ref().unwrap().name, "exbus.inf");
    assert_eq!(driver.device_install_required, Some(true));
    let ext = m.package.package_extended.as_ref().unwrap();
    assert_eq!(ext.completely_offline_capable, Some(false));
    assert_eq!(ext.perform_device_installs_prior_to_reboot, Some(true));
}

#[test]
fn feature_package_with_custom_information() {
    let m = PackageManifest::parse(FEATURE.as_bytes(), "update.mum").unwrap();
    let p = &m.package;
    assert_eq!(p.permanence.as_deref(), Some("permanent"));
    assert_eq!(p.self_update.as_deref(), Some("true"));
    assert_eq!(p.psf_name.as_deref(), Some("Windows11.0-KB5043080-x64.psf"));
    assert_eq!(p.target_partition.as_deref(), Some("MainOS"));
    let update = &p.updates[0];
    let selectable = update.selectable.as_ref().unwrap();
    assert_eq!(selectable.disposition, Some(Disposition::Staged));
    assert_eq!(selectable.detect_none_default, Some(false));
    assert_eq!(update.detect_updates, ["Microsoft-Hyper-V-All"]);
    assert_eq!(update.packages[0].contained, Some(false));
    assert_eq!(p.capabilities.len(), 1);
    assert_eq!(p.capabilities[0].name, "Language.Fonts.Jpan");
    assert_eq!(p.capabilities[0].version.as_deref(), Some("1.0"));
    assert_eq!(p.capabilities[0].language.as_deref(), Some("und-Jpan"));
    let info: Vec<(&str, &str)> = p.custom_information.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        info,
        [
            ("Baseline", "true"),
            ("FodInformation.Id", "433"),
            ("PSFXDeltaFormat", "ForwardOnly"),
            ("PSFXVersion", "2"),
            ("PackageFormat", "PSFX"),
            ("Version", "10.0.26100.1742"),
        ]
    );
    assert!(m.mentions_baseline);
}

#[test]
fn keyword_values_parse_case_insensitively_and_keep_unknown_ones() {
    assert_eq!(Compare::parse("ge"), Compare::Ge);
    assert_eq!(Compare::parse("LT"), Compare::Other("LT".into()));
    assert_eq!(Compare::Eq.to_string(), "EQ");
    assert_eq!(Disposition::parse("Detect"), Disposition::Detect);
    assert_eq!(Integrate::parse("standalone"), Integrate::Standalone);
    assert_eq!(Integrate::parse("weird").as_str(), "weird");
}

#[test]
fn broken_package_manifests_are_refused_naming_file_and_place() {
    let cases: &[(&str, &str, &str)] = &[
        ("<assemblyX/>", "root element is <assemblyX>, expected <assembly>", "1:1"),
        ("<assembly><package/></assembly>", "<assembly> has no <assemblyIdentity> element", "1:1"),
        (
            "<assembly><assemblyIdentity name=\"P\" version=\"1.0.0.0\"/></assembly>",
            "<assembly> has no <package> element",
            "1:1",
        ),
        (
            "<assembly>\n<assemblyIdentity name=\"P\"/><package/></assembly>",
            "<assemblyIdentity> has no \"version\" attribute",
            "2:1",
        ),
        (
            "<assembly>\n  <assemblyIdentity name=\"P\" version=\"6.3.1\"/><package/></assembly>",
            "version=\"6.3.1\": expected four dot-separated parts",
            "2:3",
        ),
        (
            "<assembly><assemblyIdentity name=\"P\" version=\"1.0.0.0\"/><package><update/></package></assembly>",
            "<update> has no \"name\" attribute",
            "1:66",
        ),
        (
            "<assembly><assemblyIdentity name=\"P\" version=\"1.0.0.0\"/><package><parent/></package></assembly>",
            "<parent> has no <assemblyIdentity> element",
            "1:66",
        ),
        (
            "<assembly><assemblyIdentity name=\"P\" version=\"1.0.0.0\"/><package><packageExtended completelyOfflineCapable=\"maybe\"/></package></assembly>",
            "completelyOfflineCapable=\"maybe\": expected yes, no, true or false",
            "1:66",
        ),
        (
            "<assembly><assemblyIdentity name=\"P\" version=\"1.0.0.0\"/><package><packageExtended packageSize=\"-1\"/></package></assembly>",
            "packageSize=\"-1\": expected a decimal number",
            "1:66",
        ),
        (
            "<assembly><assemblyIdentity name=\"\" version=\"1.0.0.0\"/><package/></assembly>",
            "the name is empty",
            "1:11",
        ),
    ];
    for (text, message, place) in cases {
        let err = PackageManifest::parse(text.as_bytes(), "bad.mum").unwrap_err();
        let shown = err.to_string();
        assert!(shown.starts_with(&format!("bad.mum:{place}: ")), "{shown}");
        assert!(shown.contains(message), "{shown}");
    }
    // XML-level failures come through unchanged.
    let err = PackageManifest::parse(b"<!DOCTYPE a []><assembly/>", "evil.mum").unwrap_err();
    assert!(matches!(*err.kind, XmlErrorKind::DtdRefused { .. }));
    assert!(err.to_string().starts_with("evil.mum:1:1: "));
}

/// Issue 17 item 1: identity values name files (`<name>~…~<version>.mum`, WinSxS key forms), so a
/// value that could leave its folder is refused when the manifest is parsed, naming the attribute.
#[test]
fn identity_traversal_is_refused_naming_the_field() {
    let cases = [
        ("name=\"Package_for_KB1234567\"", "name=\"../../../../tmp/x\"", "name"),
        ("name=\"Package_for_KB1234567\"", "name=\"/etc/cron.d/x\"", "name"),
        ("name=\"Package_for_KB1234567\"", "name=\"..\\..\\x\"", "name"),
        ("name=\"Package_for_KB1234567\"", "name=\"C:evil\"", "name"),
        ("name=\"Package_for_KB1234567\"", "name=\"NUL\"", "name"),
        ("name=\"Package_for_KB1234567\"", "name=\"com1.inf\"", "name"),
        ("name=\"Package_for_KB1234567\"", "name=\"a~b\"", "name"),
        ("language=\"neutral\"", "language=\"../x\"", "language"),
        ("processorArchitecture=\"amd64\"", "processorArchitecture=\"amd64/..\"", "processorArchitecture"),
        ("publicKeyToken=\"31bf3856ad364e35\"", "publicKeyToken=\"..\"", "publicKeyToken"),
        ("name=\"Package_for_KB1234567_RTM\"", "name=\"Package_for_KB1234567_RTM\" type=\"a/b\"", "type"),
        ("name=\"Package_for_KB1234567_RTM\"", "name=\"sub/../../x\"", "name"),
    ];
    let long = format!("name=\"{}\"", "A".repeat(300));
    let mut all: Vec<(&str, String, &str)> = cases.iter().map(|(a, b, f)| (*a, b.to_string(), *f)).collect();
    all.push(("name=\"Package_for_KB1234567\"", long, "name"));
    for (from, to, field) in all {
        let text = TOP_LEVEL.replacen(from, &to, 1);
        assert_ne!(text, TOP_LEVEL, "{to}");
        let err = PackageManifest::parse(text.as_bytes(), "update.mum").expect_err(&to);
        match &*err.kind {
            XmlErrorKind::InvalidValue { attribute, .. } => assert_eq!(attribute, field, "{to}: {err}"),
            other => panic!("{to}: {other:?}"),
        }
        assert!(err.to_string().contains("update.mum"), "{err}");
    }
    // The real names stay accepted: dots, dashes, underscores, `*` as the language.
    let ok = TOP_LEVEL.replacen("language=\"neutral\"", "language=\"*\"", 1);
    PackageManifest::parse(ok.as_bytes(), "update.mum").unwrap();
}

#[test]
fn package_identity_string_with_traversal_is_refused() {
    for bad in ["../x~31bf3856ad364e35~amd64~~1.0.0.0", "x~31bf3856ad364e35~amd64~..~1.0.0.0", "CON~p~amd64~~1.0.0.0"] {
        assert!(bad.parse::<cbs::PackageIdentity>().is_err(), "{bad}");
    }
}
