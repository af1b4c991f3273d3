//! Fuzzes the `.mum` reader (and the XML front end under it), then runs the rules over whatever
//! parsed: nothing may panic, loop or allocate without bound.

#![no_main]

use cbs::rules::{classify, order_for_install, parent_matches, PackageState};
use cbs::PackageIdentity;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(manifest) = cbs::mum::PackageManifest::parse(data, "fuzz.mum") else {
        return;
    };
    let _ = manifest.package_identity();
    let _ = classify(&manifest);
    let order = order_for_install(std::slice::from_ref(&manifest));
    assert_eq!(order, [0]);
    // Every parent alternative, as an installed package, in two states.
    let installed: Vec<(PackageIdentity, PackageState)> = manifest
        .package
        .parents
        .iter()
        .flat_map(|g| g.alternatives.iter())
        .filter_map(|a| PackageIdentity::from_assembly(a).ok())
        .flat_map(|id| [(id.clone(), PackageState::Staged), (id, PackageState::Installed)])
        .collect();
    for group in &manifest.package.parents {
        let _ = parent_matches(group, &installed);
    }
});
