//! Versions and assembly identities: parsing, ordering, culture and AppId strings.

use cbs::{AssemblyIdentity, Version};

#[test]
fn version_parses_and_prints() {
    let v: Version = "6.3.9600.17039".parse().unwrap();
    assert_eq!(v, Version::new(6, 3, 9600, 17039));
    assert_eq!(v.to_string(), "6.3.9600.17039");
    assert_eq!((v.major(), v.minor(), v.build(), v.revision()), (6, 3, 9600, 17039));
}

#[test]
fn version_rejects_bad_text_and_names_it() {
    for bad in ["", "6.3.9600", "6.3.9600.1.2", "6.3.x.1", "6.3.70000.1", "6..1.1", " 6.3.1.1", "+6.3.1.1"] {
        let err = Version::parse(bad).unwrap_err();
        assert_eq!(err.text, bad);
        assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
    }
}

#[test]
fn version_orders_numerically_part_by_part() {
    let mut vs: Vec<Version> = ["6.3.9600.17039", "6.3.9600.16384", "10.0.0.0", "6.3.10000.0", "6.3.9600.9"]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    vs.sort();
    let printed: Vec<String> = vs.iter().map(ToString::to_string).collect();
    assert_eq!(printed, ["6.3.9600.9", "6.3.9600.16384", "6.3.9600.17039", "6.3.10000.0", "10.0.0.0"]);
}

#[test]
fn culture_is_none_for_neutral_or_absent() {
    let mut id = AssemblyIdentity::new("x");
    assert_eq!(id.culture(), "none");
    id.language = Some("Neutral".into());
    assert_eq!(id.culture(), "none");
    id.language = Some("en-US".into());
    assert_eq!(id.culture(), "en-us");
}

#[test]
fn appid_string_matches_the_documented_sample() {
    let id = AssemblyIdentity::new("Microsoft-Windows-Dedup-Service")
        .with_version("10.0.20348.2849".parse().unwrap())
        .with_build_type("release")
        .with_language("neutral")
        .with_arch("amd64")
        .with_public_key_token("31bf3856ad364e35")
        .with_version_scope("nonSxS");
    assert_eq!(
        id.appid_string(),
        "Microsoft-Windows-Dedup-Service, Culture=neutral, Version=10.0.20348.2849, \
         PublicKeyToken=31bf3856ad364e35, ProcessorArchitecture=amd64, versionScope=NonSxS"
    );
}

#[test]
fn appid_string_with_language_and_type() {
    let id = AssemblyIdentity::new("netrasa.inf")
        .with_version("6.3.9600.17039".parse().unwrap())
        .with_language("en-US")
        .with_arch("amd64")
        .with_public_key_token("31bf3856ad364e35")
        .with_type("driverUpdate");
    assert_eq!(
        id.appid_string(),
        "netrasa.inf, Culture=en-US, Type=driverUpdate, Version=6.3.9600.17039, \
         PublicKeyToken=31bf3856ad364e35, ProcessorArchitecture=amd64"
    );
}
