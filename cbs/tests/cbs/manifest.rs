//! Component, deployment and driver manifests, modelled on `cbs-format.md` §3.1, and the errors
//! for bad digests.

use cbs::manifest::ComponentManifest;
use cbs::Version;

/// SHA-256 of `hello`.
const HELLO_SHA256_HEX: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
const HELLO_SHA256_B64: &str = "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=";
/// SHA-1 of `hello`.
const HELLO_SHA1_HEX: &str = "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d";
const HELLO_SHA1_B64: &str = "qvTGHdzF6KLavt4PO0gs2a6pQ00=";

fn hex<const N: usize>(text: &str) -> [u8; N] {
    let mut out = [0u8; N];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

fn component(digest_method: &str, digest_value: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<assembly xmlns="urn:schemas-microsoft-com:asm.v3" manifestVersion="1.0" copyright="Example">
  <assemblyIdentity name="Example-Binding-Engine" version="6.3.9600.17039" processorArchitecture="amd64" language="neutral" buildType="release" publicKeyToken="31bf3856ad364e35" versionScope="nonSxS" />
  <dependency discoverable="no" resourceType="Resources">
    <dependentAssembly dependencyType="prerequisite">
      <assemblyIdentity name="Example-Binding-Engine.Resources" version="6.3.9600.17039" processorArchitecture="amd64" language="*" buildType="release" publicKeyToken="31bf3856ad364e35" />
    </dependentAssembly>
  </dependency>
  <file name="example.dll" destinationPath="$(runtime.system32)\" sourceName="example.dll" sourcePath=".\" importPath="$(build.nttree)\">
    <securityDescriptor name="WRP_FILE_DEFAULT_SDDL" />
    <asmv2:hash xmlns:asmv2="urn:schemas-microsoft-com:asm.v2">
      <dsig:Transforms xmlns:dsig="http://www.w3.org/2000/09/xmldsig#">
        <dsig:Transform Algorithm="urn:schemas-microsoft-com:HashTransforms.Identity" />
      </dsig:Transforms>
      <dsig:DigestMethod xmlns:dsig="http://www.w3.org/2000/09/xmldsig#" Algorithm="{digest_method}" />
      <dsig:DigestValue xmlns:dsig="http://www.w3.org/2000/09/xmldsig#">{digest_value}</dsig:DigestValue>
    </asmv2:hash>
  </file>
  <registryKeys>
    <registryKey keyName="HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\MUI\CallbackDlls\EXAMPLE" owner="false">
      <registryValue name="DllPath" valueType="REG_EXPAND_SZ" value="%systemroot%\system32\example.dll" operationHint="replace" owner="true" />
      <registryValue name="" valueType="REG_DWORD" value="0x00000001" />
      <securityDescriptor name="WRP_REGKEY_DEFAULT_SDDL" />
    </registryKey>
  </registryKeys>
</assembly>
"#
    )
}

const SHA256_URI: &str = "http://www.w3.org/2000/09/xmldsig#sha256";

#[test]
fn component_manifest_files_digests_registry_and_dependencies() {
    let m = ComponentManifest::parse(component(SHA256_URI, HELLO_SHA256_B64).as_bytes(), "x.manifest").unwrap();
    assert_eq!(m.identity.name, "Example-Binding-Engine");
    assert_eq!(m.identity.version, Some(Version::new(6, 3, 9600, 17039)));
    assert_eq!(m.identity.version_scope.as_deref(), Some("nonSxS"));
    assert_eq!(m.copyright.as_deref(), Some("Example"));
    assert!(!m.is_deployment());
    assert!(!m.is_driver());

    assert_eq!(m.dependencies.len(), 1);
    let dep = &m.dependencies[0];
    assert_eq!(dep.discoverable.as_deref(), Some("no"));
    assert_eq!(dep.resource_type.as_deref(), Some("Resources"));
    assert_eq!(dep.dependency_type.as_deref(), Some("prerequisite"));
    assert_eq!(dep.identity.name, "Example-Binding-Engine.Resources");
    assert_eq!(dep.identity.language.as_deref(), Some("*"));
    assert_eq!(m.install_dependencies().count(), 0);

    assert_eq!(m.files.len(), 1);
    let f = &m.files[0];
    assert_eq!(f.name, "example.dll");
    assert_eq!(f.destination_path.as_deref(), Some("$(runtime.system32)\\"));
    assert_eq!(f.source_name.as_deref(), Some("example.dll"));
    assert_eq!(f.source_path.as_deref(), Some(".\\"));
    assert_eq!(f.import_path.as_deref(), Some("$(build.nttree)\\"));
    assert_eq!(f.security_descriptor.as_deref(), Some("WRP_FILE_DEFAULT_SDDL"));
    assert_eq!(f.sha256, Some(hex::<32>(HELLO_SHA256_HEX)));
    assert_eq!(f.sha1, None);
    assert!(!f.inf_file);

    assert_eq!(m.registry_keys.len(), 1);
    let key = &m.registry_keys[0];
    assert!(key.key_name.ends_with("CallbackDlls\\EXAMPLE"));
    assert_eq!(key.owner, Some(false));
    assert_eq!(key.security_descriptor.as_deref(), Some("WRP_REGKEY_DEFAULT_SDDL"));
    assert_eq!(key.values.len(), 2);
    assert_eq!(key.values[0].name, "DllPath");
    assert_eq!(key.values[0].value_type.as_deref(), Some("REG_EXPAND_SZ"));
    assert_eq!(key.values[0].value.as_deref(), Some("%systemroot%\\system32\\example.dll"));
    assert_eq!(key.values[0].operation_hint.as_deref(), Some("replace"));
    assert_eq!(key.values[0].owner, Some(true));
    assert_eq!(key.values[1].name, "");
    assert_eq!(key.values[1].owner, None);
}

#[test]
fn digest_value_may_be_wrapped_and_sha1_digests_are_kept_apart() {
    let wrapped = format!("\n  {}\n  {}\n", &HELLO_SHA256_B64[..20], &HELLO_SHA256_B64[20..]);
    let m = ComponentManifest::parse(component(SHA256_URI, &wrapped).as_bytes(), "x.manifest").unwrap();
    assert_eq!(m.files[0].sha256, Some(hex::<32>(HELLO_SHA256_HEX)));
    let m = ComponentManifest::parse(
        component("http://www.w3.org/2000/09/xmldsig#sha1", HELLO_SHA1_B64).as_bytes(),
        "x.manifest",
    )
    .unwrap();
    assert_eq!(m.files[0].sha256, None);
    assert_eq!(m.files[0].sha1, Some(hex::<20>(HELLO_SHA1_HEX)));
}

#[test]
fn dsig_namespace_declared_once_on_the_hash() {
    let text = format!(
        r#"<assembly xmlns="urn:schemas-microsoft-com:asm.v3" manifestVersion="1.0">
  <assemblyIdentity name="Example.Resources" version="10.0.19041.3996" processorArchitecture="amd64" language="lt-LT" publicKeyToken="31bf3856ad364e35" />
  <file name="example.dll.mui" destinationPath="$(runtime.system32)\lt-LT\" sourceName="example.dll.mui" importPath="$(build.nttree)\lt-lt\">
    <asmv2:hash xmlns:asmv2="urn:schemas-microsoft-com:asm.v2" xmlns:dsig="http://www.w3.org/2000/09/xmldsig#"><dsig:Transforms><dsig:Transform Algorithm="urn:schemas-microsoft-com:HashTransforms.Identity" /></dsig:Transforms><dsig:DigestMethod Algorithm="{SHA256_URI}" /><dsig:DigestValue>{HELLO_SHA256_B64}</dsig:DigestValue></asmv2:hash>
  </file>
</assembly>"#
    );
    let m = ComponentManifest::parse(text.as_bytes(), "res.manifest").unwrap();
    assert_eq!(m.identity.culture(), "lt-lt");
    assert_eq!(m.files[0].sha256, Some(hex::<32>(HELLO_SHA256_HEX)));
}

#[test]
fn deployment_manifest_lists_install_dependencies() {
    let text = r#"<assembly xmlns="urn:schemas-microsoft-com:asm.v3" manifestVersion="1.0">
  <assemblyIdentity name="0123456789abcdef0123456789abcdef" version="6.3.9600.17039" processorArchitecture="amd64" language="neutral" buildType="release" publicKeyToken="31bf3856ad364e35" versionScope="nonSxS" />
  <deployment xmlns="urn:schemas-microsoft-com:asm.v3" />
  <dependency discoverable="false">
    <dependentAssembly dependencyType="install">
      <assemblyIdentity name="Example-Binding-Engine" version="6.3.9600.17039" processorArchitecture="amd64" language="neutral" buildType="release" publicKeyToken="31bf3856ad364e35" versionScope="nonSxS" />
    </dependentAssembly>
  </dependency>
  <dependency discoverable="false">
    <dependentAssembly dependencyType="install">
      <assemblyIdentity name="Example-Binding-Engine" version="6.3.9600.17039" processorArchitecture="wow64" language="neutral" buildType="release" publicKeyToken="31bf3856ad364e35" versionScope="nonSxS" />
    </dependentAssembly>
  </dependency>
</assembly>"#;
    let m = ComponentManifest::parse(text.as_bytes(), "deployment.manifest").unwrap();
    assert!(m.is_deployment());
    assert!(m.files.is_empty());
    let arches: Vec<&str> =
        m.install_dependencies().map(|d| d.identity.processor_architecture.as_deref().unwrap()).collect();
    assert_eq!(arches, ["amd64", "wow64"]);
    assert_eq!(m.dependencies[0].discoverable.as_deref(), Some("false"));
}

#[test]
fn driver_manifest_marks_the_inf() {
    let text = format!(
        r#"<?xml version='1.0' encoding='utf-8' standalone='yes'?>
<assembly xmlns="urn:schemas-microsoft-com:asm.v3" manifestVersion="1.0">
  <assemblyIdentity name="exbus.inf" version="6.1.7601.21824" processorArchitecture="amd64" language="neutral" buildType="release" publicKeyToken="31bf3856ad364e35" type="driverUpdate" versionScope="nonSxS" />
  <deployment />
  <file name="exbus.inf" sourceName="exbus.inf" importPath="$(build.nttree)\">
    <infFile />
    <asmv2:hash xmlns:asmv2="urn:schemas-microsoft-com:asm.v2"><dsig:DigestMethod xmlns:dsig="http://www.w3.org/2000/09/xmldsig#" Algorithm="{SHA256_URI}" /><dsig:DigestValue xmlns:dsig="http://www.w3.org/2000/09/xmldsig#">{HELLO_SHA256_B64}</dsig:DigestValue></asmv2:hash>
  </file>
  <file name="exbus.sys" sourceName="exbus.sys" importPath="$(build.nttree)\" />
</assembly>"#
    );
    let m = ComponentManifest::parse(text.as_bytes(), "driver.manifest").unwrap();
    assert!(m.is_driver());
    assert!(m.is_deployment());
    let infs: Vec<&str> = m.inf_files().map(|f| f.name.as_str()).collect();
    assert_eq!(infs, ["exbus.inf"]);
    assert!(m.files.iter().all(|f| f.destination_path.is_none()));
    assert_eq!(m.files[1].sha256, None);
}

#[test]
fn legacy_sha1_hash_attributes() {
    let text = format!(
        r#"<assembly xmlns="urn:schemas-microsoft-com:asm.v1" manifestVersion="1.0">
  <assemblyIdentity type="win32" name="Example.Controls" version="6.0.0.0" processorArchitecture="x86" publicKeyToken="6595b64144ccf1df" language="*" />
  <file name="comctl.dll" hash="{}" hashalg="SHA1" />
  <file name="other.dll" hash="{HELLO_SHA1_HEX}" />
</assembly>"#,
        HELLO_SHA1_HEX.to_uppercase()
    );
    let m = ComponentManifest::parse(text.as_bytes(), "legacy.manifest").unwrap();
    assert_eq!(m.identity.type_name.as_deref(), Some("win32"));
    assert!(m.files.iter().all(|f| f.sha1 == Some(hex::<20>(HELLO_SHA1_HEX)) && f.sha256.is_none()));
}

#[test]
fn bad_digests_are_refused_naming_the_file() {
    let bad = |text: String, expect: &str, place: &str| {
        let err = ComponentManifest::parse(text.as_bytes(), "amd64_example.manifest").unwrap_err();
        let shown = err.to_string();
        assert!(shown.starts_with(&format!("amd64_example.manifest:{place}: ")), "{shown}");
        assert!(shown.contains(expect), "{shown}");
    };
    bad(component(SHA256_URI, "not*base64!"), "<DigestValue> text=\"not*base64!\": invalid base64 digest", "16:7");
    bad(component(SHA256_URI, HELLO_SHA1_B64), "digest is 20 bytes, expected 32", "16:7");
    bad(component(SHA256_URI, ""), "digest is 0 bytes, expected 32", "16:7");
    bad(
        component("http://www.w3.org/2001/04/xmldsig-more#md5", HELLO_SHA256_B64),
        "unsupported digest algorithm",
        "15:7",
    );
    bad(
        component(SHA256_URI, HELLO_SHA256_B64)
            .replace("<dsig:DigestValue", "<dsig:Other")
            .replace("</dsig:DigestValue", "</dsig:Other"),
        "<hash> has no <DigestValue> element",
        "11:5",
    );
    bad(
        r#"<assembly><assemblyIdentity name="X" version="1.0.0.0"/><file name="a" hash="xyz"/></assembly>"#.into(),
        "hash=\"xyz\": expected 40 hex digits, found 3",
        "1:57",
    );
    bad(
        format!(
            r#"<assembly><assemblyIdentity name="X" version="1.0.0.0"/><file name="a" hash="{HELLO_SHA1_HEX}" hashalg="MD5"/></assembly>"#
        ),
        "only SHA1 is known",
        "1:57",
    );
    bad(
        r#"<assembly><assemblyIdentity name="X" version="1.0.0.0"/><file/></assembly>"#.into(),
        "<file> has no \"name\" attribute",
        "1:57",
    );
    bad(
        r#"<assembly><assemblyIdentity name="X" version="1.0.0.0"/><registryKeys><registryKey/></registryKeys></assembly>"#.into(),
        "<registryKey> has no \"keyName\" attribute",
        "1:71",
    );
}
