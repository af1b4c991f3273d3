//! Package identity strings: parse, print, round trip, errors, and from assembly identities.

use cbs::{AssemblyIdentity, PackageIdError, PackageIdentity, Version};

#[test]
fn round_trips_real_identities() {
    for text in [
        "Package_for_KB2938772~31bf3856ad364e35~amd64~~6.3.1.0",
        "Microsoft-Windows-Client-Features-Package-AutoMerged-net~31bf3856ad364e35~amd64~~6.3.9600.16384",
        "Package_for_RollupFix~31bf3856ad364e35~amd64~~19041.1.1.0",
        "Microsoft-Windows-Client-LanguagePack-Package~31bf3856ad364e35~amd64~en-US~10.0.19041.1",
        "Microsoft-Windows-Dedup-Deployment~31bf3856ad364e35~amd64~~10.0.20348.2849",
    ] {
        let id: PackageIdentity = text.parse().unwrap();
        assert_eq!(id.to_string(), text);
    }
}

#[test]
fn fields_land_in_the_right_place() {
    let id: PackageIdentity = "Name~pkt~x86~de-DE~1.2.3.4".parse().unwrap();
    assert_eq!(id.name, "Name");
    assert_eq!(id.public_key_token, "pkt");
    assert_eq!(id.arch, "x86");
    assert_eq!(id.culture, "de-DE");
    assert_eq!(id.version, Version::new(1, 2, 3, 4));
    assert!(!id.is_neutral());
}

#[test]
fn rejects_wrong_shapes_naming_the_text() {
    for bad in [
        "Package_for_KB1~31bf3856ad364e35~amd64~6.3.1.0",
        "Package_for_KB1~31bf3856ad364e35~amd64~~~6.3.1.0",
        "~31bf3856ad364e35~amd64~~6.3.1.0",
        "Package_for_KB1~31bf3856ad364e35~~~6.3.1.0",
        "Package for KB1~31bf3856ad364e35~amd64~~6.3.1.0",
        "",
    ] {
        let err = bad.parse::<PackageIdentity>().unwrap_err();
        assert!(matches!(err, PackageIdError::Malformed { .. }), "{bad:?} gave {err:?}");
        assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
    }
    let err = "P~31bf3856ad364e35~amd64~~6.3.1".parse::<PackageIdentity>().unwrap_err();
    assert!(matches!(err, PackageIdError::Version { .. }), "{err:?}");
    assert!(err.to_string().contains("\"P~31bf3856ad364e35~amd64~~6.3.1\""), "{err}");
}

#[test]
fn from_assembly_maps_neutral_to_empty_culture() {
    let asm = AssemblyIdentity::new("Microsoft-Windows-Common-Drivers-Package-net")
        .with_language("neutral")
        .with_version("6.3.9600.16384".parse().unwrap())
        .with_arch("amd64")
        .with_public_key_token("31bf3856ad364e35")
        .with_build_type("release");
    let id = PackageIdentity::from_assembly(&asm).unwrap();
    assert_eq!(id.to_string(), "Microsoft-Windows-Common-Drivers-Package-net~31bf3856ad364e35~amd64~~6.3.9600.16384");
    let back = PackageIdentity::from_assembly(&id.to_assembly()).unwrap();
    assert_eq!(back, id);

    let de = asm.clone().with_language("de-DE");
    assert_eq!(PackageIdentity::from_assembly(&de).unwrap().culture, "de-DE");

    let mut no_version = asm;
    no_version.version = None;
    assert!(matches!(PackageIdentity::from_assembly(&no_version), Err(PackageIdError::MissingVersion { .. })));
}
