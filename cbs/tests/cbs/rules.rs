//! Supersedence, install ordering and parent matching, as tables of cases.

use cbs::mum::{Compare, ElevatedIdentity, PackageManifest, PackageRef, ParentGroup, Update};
use cbs::rules::{
    classify, family, is_servicing_stack, is_servicing_stack_name, order_classes, order_for_install, parent_matches,
    superseded_indices, supersedes, InstallClass, PackageState, ParentMatch, RejectReason, VersionField,
};
use cbs::{AssemblyIdentity, PackageIdentity, Version};

fn pid(text: &str) -> PackageIdentity {
    text.parse().unwrap()
}

fn asm(name: &str, version: &str) -> AssemblyIdentity {
    crate::amd64_identity(name, version)
}

#[test]
fn family_drops_the_version_and_case() {
    let f = family(&pid("Package_for_RollupFix~31BF3856AD364E35~AMD64~~26100.1742.1.10"));
    assert_eq!(f.to_string(), "package_for_rollupfix~31bf3856ad364e35~amd64~");
    assert_eq!(f, family(&pid("package_for_rollupfix~31bf3856ad364e35~amd64~~1.0.0.0")));
    assert_ne!(f, family(&pid("Package_for_RollupFix~31bf3856ad364e35~arm64~~26100.1742.1.10")));
}

#[test]
fn supersedence_table() {
    let rollup = "Package_for_RollupFix~31bf3856ad364e35~amd64~~";
    let cases: &[(&str, &str, bool)] = &[
        (&format!("{rollup}26100.2033.1.5"), &format!("{rollup}26100.1742.1.10"), true),
        (&format!("{rollup}26100.1742.1.10"), &format!("{rollup}26100.2033.1.5"), false),
        (&format!("{rollup}26100.1742.1.10"), &format!("{rollup}26100.1742.1.10"), false),
        (&format!("{rollup}26100.1742.1.11"), &format!("{rollup}26100.1742.1.10"), true),
        // Case of the name does not matter.
        ("package_for_rollupfix~31bf3856ad364e35~amd64~~2.0.0.0", &format!("{rollup}1.0.0.0"), true),
        // Different architecture, culture, token or name: unrelated.
        ("Package_for_RollupFix~31bf3856ad364e35~arm64~~2.0.0.0", &format!("{rollup}1.0.0.0"), false),
        ("Package_for_RollupFix~31bf3856ad364e35~amd64~en-US~2.0.0.0", &format!("{rollup}1.0.0.0"), false),
        ("Package_for_RollupFix~0000000000000000~amd64~~2.0.0.0", &format!("{rollup}1.0.0.0"), false),
        ("Package_for_KB5043080~31bf3856ad364e35~amd64~~2.0.0.0", &format!("{rollup}1.0.0.0"), false),
    ];
    for (a, b, expect) in cases {
        assert_eq!(supersedes(&pid(a), &pid(b)), *expect, "{a} supersedes {b}?");
    }
}

#[test]
fn superseded_indices_marks_every_older_family_member() {
    let ids: Vec<PackageIdentity> = [
        "Package_for_RollupFix~31bf3856ad364e35~amd64~~26100.1742.1.10",
        "Package_for_KB1~31bf3856ad364e35~amd64~~6.3.1.0",
        "Package_for_RollupFix~31bf3856ad364e35~amd64~~26100.2894.1.3",
        "Package_for_RollupFix~31bf3856ad364e35~amd64~~26100.2033.1.5",
    ]
    .iter()
    .map(|s| pid(s))
    .collect();
    assert_eq!(superseded_indices(&ids), [0, 3]);
}

fn manifest(name: &str, version: &str) -> PackageManifest {
    let mut m = PackageManifest { identity: asm(name, version), ..Default::default() };
    m.package.installer_assembly = Some(asm("Microsoft-Windows-ServicingStack", "6.0.0.0"));
    m
}

fn with_update_component(mut m: PackageManifest, component: &str) -> PackageManifest {
    m.package.updates.push(Update {
        name: "u".into(),
        update_components: vec![ElevatedIdentity {
            elevate: Some("distribution".into()),
            identity: asm(component, "10.0.19041.1"),
        }],
        ..Default::default()
    });
    m
}

#[test]
fn servicing_stack_names() {
    let cases = [
        ("Package_for_ServicingStack_3300", true),
        ("package_for_servicingstack_1", true),
        ("Microsoft-Windows-ServicingStack-Package", true),
        ("Package_for_RollupFix", false),
        ("Package_for_KB4132216", false),
        ("Servicing-Stack", false),
    ];
    for (name, expect) in cases {
        assert_eq!(is_servicing_stack_name(name), expect, "{name}");
    }
}

#[test]
fn servicing_stack_manifests() {
    // Every package names the servicing stack as its installer: that alone does not make an SSU.
    assert!(!is_servicing_stack(&manifest("Package_for_KB1234567", "6.3.1.0")));
    assert!(is_servicing_stack(&manifest("Package_for_ServicingStack_3300", "22000.280.1.0")));
    // An old-style SSU is recognised by the component it raises.
    let old = with_update_component(manifest("Package_for_KB4132216", "10.0.1.0"), "Microsoft-Windows-ServicingStack");
    assert!(is_servicing_stack(&old));
    let other = with_update_component(
        manifest("Package_for_KB4132217", "10.0.1.0"),
        "Microsoft-Windows-ServicingStack-Onecore",
    );
    assert!(!is_servicing_stack(&other));
    // Or by a sub-package reference named for the servicing stack.
    let mut parent = manifest("Package_for_KB9", "1.0.0.0");
    parent.package.updates.push(Update {
        name: "u".into(),
        packages: vec![PackageRef {
            identity: asm("Package_for_ServicingStack_1", "1.0.0.0"),
            integrate: None,
            contained: None,
        }],
        ..Default::default()
    });
    assert!(is_servicing_stack(&parent));
}

fn checkpoint(version: &str) -> PackageManifest {
    let mut m = manifest("Package_for_RollupFix", version);
    m.mentions_baseline = true;
    m
}

#[test]
fn classification() {
    assert_eq!(classify(&manifest("Package_for_ServicingStack_1", "1.0.0.0")), InstallClass::ServicingStack);
    assert_eq!(classify(&checkpoint("26100.1742.1.10")), InstallClass::Checkpoint(Version::new(26100, 1742, 1, 10)));
    assert_eq!(classify(&manifest("Package_for_RollupFix", "26100.2894.1.3")), InstallClass::Other);
    // A servicing stack that mentions a baseline is still a servicing stack.
    let mut ssu = manifest("Package_for_ServicingStack_1", "1.0.0.0");
    ssu.mentions_baseline = true;
    assert_eq!(classify(&ssu), InstallClass::ServicingStack);
}

#[test]
fn install_order_puts_servicing_stacks_first_then_checkpoints_by_version() {
    let packages = [
        manifest("Package_for_RollupFix", "26100.2894.1.3"), // 0: target LCU
        manifest("Package_for_DotNetRollup", "10.0.1.0"),    // 1
        checkpoint("26100.2033.1.5"),                        // 2
        manifest("Package_for_ServicingStack_2700", "26100.2700.1.0"), // 3
        checkpoint("26100.1742.1.10"),                       // 4
        with_update_component(manifest("Package_for_KB4132216", "10.0.1.0"), "Microsoft-Windows-ServicingStack"), // 5
        manifest("Package_for_KB5000001", "6.3.1.0"),        // 6
    ];
    assert_eq!(order_for_install(&packages), [3, 5, 4, 2, 0, 1, 6]);
    assert_eq!(order_for_install(&[]), Vec::<usize>::new());
}

#[test]
fn class_ordering_table() {
    use InstallClass::{Checkpoint, Other, ServicingStack};
    let v = |s: &str| s.parse::<Version>().unwrap();
    let cases: Vec<(Vec<InstallClass>, Vec<usize>)> = vec![
        (vec![Other, Other, Other], vec![0, 1, 2]),
        (vec![Other, ServicingStack], vec![1, 0]),
        (vec![ServicingStack, Other, ServicingStack], vec![0, 2, 1]),
        (vec![Checkpoint(v("2.0.0.0")), Checkpoint(v("1.0.0.0")), Other], vec![1, 0, 2]),
        (vec![Other, Checkpoint(v("1.0.0.0")), Checkpoint(v("1.0.0.0")), ServicingStack], vec![3, 1, 2, 0]),
        (vec![Checkpoint(v("1.0.0.9")), Checkpoint(v("1.0.0.10")), Checkpoint(v("1.0.0.2"))], vec![2, 0, 1]),
    ];
    for (classes, expect) in cases {
        assert_eq!(order_classes(&classes), expect, "{classes:?}");
    }
}

#[test]
fn package_states_round_trip() {
    let cases = [
        (0x0, PackageState::Absent, "Absent", false),
        (0x5, PackageState::UninstallPending, "Uninstall Pending", false),
        (0x20, PackageState::Resolved, "Resolved", false),
        (0x40, PackageState::Staged, "Staged", false),
        (0x50, PackageState::Superseded, "Superseded", false),
        (0x60, PackageState::InstallPending, "Install Pending", true),
        (0x65, PackageState::PartiallyInstalled, "Partially Installed", false),
        (0x70, PackageState::Installed, "Installed", true),
        (0x80, PackageState::Permanent, "Permanent", true),
        (0x99, PackageState::Other(0x99), "0x99", false),
    ];
    for (value, state, name, present) in cases {
        assert_eq!(PackageState::from_u32(value), state);
        assert_eq!(state.as_u32(), value);
        assert_eq!(state.to_string(), name);
        assert_eq!(state.is_present(), present, "{name}");
    }
}

fn group(build: Option<Compare>, revision: Option<Compare>, alternatives: &[(&str, &str)]) -> ParentGroup {
    ParentGroup {
        build_compare: build,
        revision_compare: revision,
        alternatives: alternatives.iter().map(|(n, v)| asm(n, v)).collect(),
        ..Default::default()
    }
}

fn installed(entries: &[(&str, &str, PackageState)]) -> Vec<(PackageIdentity, PackageState)> {
    entries
        .iter()
        .map(|(name, version, state)| (pid(&format!("{name}~31bf3856ad364e35~amd64~~{version}")), *state))
        .collect()
}

#[test]
fn parent_compare_table() {
    use Compare::{Eq, Ge};
    use PackageState::Installed;
    let wanted = "6.3.9600.16384";
    // (buildCompare, revisionCompare, installed version, found?, failing field)
    type Case = (Option<Compare>, Option<Compare>, &'static str, bool, Option<VersionField>);
    let cases: &[Case] = &[
        // Defaults: major.minor EQ, build GE, revision GE.
        (None, None, "6.3.9600.16384", true, None),
        (None, None, "6.3.9600.17031", true, None),
        // The fields are compared one by one, not as a whole version: a higher build with a lower
        // revision fails RevisionComp GE (the literal reading of cbs-format.md §2.5).
        (None, None, "6.3.9601.0", false, Some(VersionField::Revision)),
        (None, None, "6.3.9601.16384", true, None),
        (None, None, "6.3.9600.16383", false, Some(VersionField::Revision)),
        (None, None, "6.3.9599.20000", false, Some(VersionField::Build)),
        (None, None, "6.4.9600.16384", false, Some(VersionField::MajorMinor)),
        (None, None, "7.3.9600.16384", false, Some(VersionField::MajorMinor)),
        (None, None, "6.2.9600.16384", false, Some(VersionField::MajorMinor)),
        // buildCompare EQ.
        (Some(Eq), None, "6.3.9600.17031", true, None),
        (Some(Eq), None, "6.3.9601.16384", false, Some(VersionField::Build)),
        (Some(Eq), None, "6.3.9599.16384", false, Some(VersionField::Build)),
        // buildCompare GE.
        (Some(Ge), None, "6.3.9601.16384", true, None),
        (Some(Ge), None, "6.3.9599.16384", false, Some(VersionField::Build)),
        // revisionCompare EQ.
        (None, Some(Eq), "6.3.9600.16384", true, None),
        (None, Some(Eq), "6.3.9600.17031", false, Some(VersionField::Revision)),
        (None, Some(Eq), "6.3.9601.16384", true, None),
        // revisionCompare GE.
        (None, Some(Ge), "6.3.9600.16385", true, None),
        (None, Some(Ge), "6.3.9600.16383", false, Some(VersionField::Revision)),
        // Both EQ: only the exact version.
        (Some(Eq), Some(Eq), "6.3.9600.16384", true, None),
        (Some(Eq), Some(Eq), "6.3.9600.16385", false, Some(VersionField::Revision)),
    ];
    for (build, revision, have, found, field) in cases {
        let g = group(build.clone(), revision.clone(), &[("Example-Foundation-Package", wanted)]);
        let result = parent_matches(&g, &installed(&[("Example-Foundation-Package", have, Installed)]));
        let label = format!("build={build:?} revision={revision:?} installed={have}");
        match result {
            ParentMatch::Found(f) => {
                assert!(found, "{label}: unexpected match");
                assert_eq!(f.installed.version.to_string(), *have);
                assert_eq!(f.alternative, asm("Example-Foundation-Package", wanted));
                assert_eq!(f.state, Installed);
                assert!(f.nesting.is_empty());
            }
            ParentMatch::NotFound(reasons) => {
                assert!(!found, "{label}: expected a match, got {reasons:?}");
                assert_eq!(reasons.len(), 1, "{label}");
                match &reasons[0].reason {
                    RejectReason::VersionMismatch { field: f, .. } => assert_eq!(Some(*f), *field, "{label}"),
                    other => panic!("{label}: {other:?}"),
                }
            }
        }
    }
}

#[test]
fn parent_states_and_absence() {
    let g = group(None, None, &[("Example-Foundation-Package", "10.0.0.0")]);
    let cases: &[(PackageState, bool)] = &[
        (PackageState::Installed, true),
        (PackageState::Permanent, true),
        (PackageState::InstallPending, true),
        (PackageState::Staged, false),
        (PackageState::Superseded, false),
        (PackageState::Absent, false),
        (PackageState::UninstallPending, false),
    ];
    for &(state, found) in cases {
        let result = parent_matches(&g, &installed(&[("Example-Foundation-Package", "10.0.18362.628", state)]));
        assert_eq!(result.is_found(), found, "{state}");
        if let ParentMatch::NotFound(reasons) = result {
            assert!(matches!(reasons[0].reason, RejectReason::NotPresent { state: s, .. } if s == state));
        }
    }
    let ParentMatch::NotFound(reasons) = parent_matches(&g, &[]) else { panic!("nothing is installed") };
    assert_eq!(reasons[0].reason, RejectReason::NotInstalled);
    assert_eq!(
        reasons[0].to_string(),
        "Example-Foundation-Package~31bf3856ad364e35~amd64~~10.0.0.0: no package of this family is installed"
    );
}

#[test]
fn parent_alternatives_are_or_and_candidates_are_tried_in_order() {
    // The SSU-gated LCU of the CBS log in cbs-format.md §2.5.
    let g = group(None, None, &[("Package_for_KB4132216", "10.0.1.0")]);
    let before = installed(&[("Microsoft-Windows-Foundation-Package", "10.0.14393.0", PackageState::Installed)]);
    assert!(!parent_matches(&g, &before).is_found());
    let after = installed(&[
        ("Microsoft-Windows-Foundation-Package", "10.0.14393.0", PackageState::Installed),
        ("Package_for_KB4132216", "10.0.1.0", PackageState::Installed),
    ]);
    let ParentMatch::Found(found) = parent_matches(&g, &after) else { panic!("the SSU is installed") };
    assert_eq!(found.installed.to_string(), "Package_for_KB4132216~31bf3856ad364e35~amd64~~10.0.1.0");

    // Second alternative matches; the first is reported as not installed only when nothing matched.
    let g =
        group(Some(Compare::Eq), None, &[("Client-Package", "6.3.9600.16384"), ("Server-Package", "6.3.9600.16384")]);
    let ParentMatch::Found(found) =
        parent_matches(&g, &installed(&[("Server-Package", "6.3.9600.17031", PackageState::Installed)]))
    else {
        panic!("Server-Package matches")
    };
    assert_eq!(found.alternative.name, "Server-Package");

    // A superseded entry of the family is skipped; the installed one matches.
    let g = group(None, None, &[("Package_for_KB1", "10.0.1.0")]);
    let list = installed(&[
        ("Package_for_KB1", "10.0.1.0", PackageState::Superseded),
        ("Package_for_KB1", "10.0.1.3", PackageState::Installed),
    ]);
    let ParentMatch::Found(found) = parent_matches(&g, &list) else { panic!("10.0.1.3 is installed") };
    assert_eq!(found.installed.version, Version::new(10, 0, 1, 3));
    // Package versions such as RollupFix's `<build>.<UBR>.x.y` put the UBR in the minor field, so
    // VersionComp EQ ties a parent to one UBR.
    let g = group(None, None, &[("Package_for_RollupFix", "26100.1742.1.10")]);
    let list = installed(&[("Package_for_RollupFix", "26100.2033.1.5", PackageState::Installed)]);
    let ParentMatch::NotFound(reasons) = parent_matches(&g, &list) else { panic!("the minor field differs") };
    assert!(matches!(reasons[0].reason, RejectReason::VersionMismatch { field: VersionField::MajorMinor, .. }));
}

#[test]
fn nested_parent_groups_are_alternatives_with_their_own_compares() {
    // Shaped like KB4601060: MOF-Client alternatives, then a nested group for WinPE.
    let mut g =
        group(Some(Compare::Eq), None, &[("NetFx-MOF-Client", "10.0.17763.1"), ("NetFx-MOF-Client", "10.0.17134.1")]);
    g.nested.push(group(Some(Compare::Eq), Some(Compare::Eq), &[("WinPE-NetFx-Package", "10.0.17763.1")]));

    let winpe = installed(&[("WinPE-NetFx-Package", "10.0.17763.1", PackageState::Installed)]);
    let ParentMatch::Found(found) = parent_matches(&g, &winpe) else { panic!("WinPE matches the nested group") };
    assert_eq!(found.nesting, [0]);
    assert_eq!(found.alternative.name, "WinPE-NetFx-Package");

    // The nested group's revisionCompare EQ applies to it only.
    let winpe_newer = installed(&[("WinPE-NetFx-Package", "10.0.17763.2", PackageState::Installed)]);
    let ParentMatch::NotFound(reasons) = parent_matches(&g, &winpe_newer) else { panic!("revision must be equal") };
    assert_eq!(reasons.len(), 3);
    assert_eq!(reasons[2].nesting, [0]);
    assert!(matches!(reasons[2].reason, RejectReason::VersionMismatch { field: VersionField::Revision, .. }));

    let client = installed(&[("NetFx-MOF-Client", "10.0.17134.1000", PackageState::Installed)]);
    let ParentMatch::Found(found) = parent_matches(&g, &client) else { panic!("17134 matches") };
    assert!(found.nesting.is_empty());
    assert_eq!(found.alternative.version, Some(Version::new(10, 0, 17134, 1)));
}

#[test]
fn unevaluated_and_unsupported_compares_are_reported() {
    let mut g = group(Some(Compare::Eq), None, &[("Example-Package", "6.3.9600.16384")]);
    g.service_compare = Some(Compare::Eq);
    let list = installed(&[("Example-Package", "6.3.9600.16384", PackageState::Installed)]);
    let ParentMatch::Found(found) = parent_matches(&g, &list) else { panic!("exact version") };
    assert_eq!(found.unevaluated, [("serviceCompare", Compare::Eq)]);

    let g = group(Some(Compare::Other("LT".into())), None, &[("Example-Package", "6.3.9600.16384")]);
    let ParentMatch::NotFound(reasons) = parent_matches(&g, &list) else { panic!("LT is not understood") };
    assert_eq!(reasons[0].reason, RejectReason::UnsupportedCompare { attribute: "buildCompare", value: "LT".into() });
    assert!(reasons[0].to_string().contains("buildCompare=\"LT\" is not EQ or GE"), "{}", reasons[0]);
}

#[test]
fn real_kb4601060_parent_against_installed_sets() {
    let Some(dir) = crate::mum::testdata() else {
        eprintln!("skipped: real_kb4601060_parent_against_installed_sets (WIMPATCH_TESTDATA not found)");
        return;
    };
    let path = dir.join("real-mum/KB4601060-Package_1.mum");
    let m = PackageManifest::parse(&std::fs::read(&path).unwrap(), &path.display().to_string()).unwrap();
    let parent = &m.package.parents[0];
    type Installed = &'static [(&'static str, &'static str, PackageState)];
    let cases: &[(Installed, Option<&str>)] = &[
        // Windows 10 1809 client: build EQ 17763, revision GE.
        (
            &[("Microsoft-Windows-NetFx-Shared-MOF-Client", "10.0.17763.1577", PackageState::Installed)],
            Some("10.0.17763.1"),
        ),
        (
            &[("Microsoft-Windows-NetFx-Shared-MOF-Client", "10.0.14393.4104", PackageState::Installed)],
            Some("10.0.14393.0"),
        ),
        // A build the package does not list.
        (&[("Microsoft-Windows-NetFx-Shared-MOF-Client", "10.0.19041.1", PackageState::Installed)], None),
        // WinPE through the nested parent.
        (&[("WinPE-NetFx-Package", "10.0.17763.1", PackageState::Installed)], Some("10.0.17763.1")),
        (&[("WinPE-NetFx-Package", "10.0.17763.1", PackageState::Staged)], None),
        (&[], None),
    ];
    for (list, expect) in cases {
        let list: Vec<(PackageIdentity, PackageState)> =
            list.iter().map(|(n, v, s)| (pid(&format!("{n}~31bf3856ad364e35~amd64~~{v}")), *s)).collect();
        match (parent_matches(parent, &list), expect) {
            (ParentMatch::Found(f), Some(v)) => assert_eq!(f.alternative.version.unwrap().to_string(), *v),
            (ParentMatch::NotFound(_), None) => {}
            (other, _) => panic!("{list:?}: {other:?}"),
        }
    }
}
