//! Fuzzes the component manifest reader (and the XML front end under it).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(manifest) = cbs::manifest::ComponentManifest::parse(data, "fuzz.manifest") else {
        return;
    };
    let _ = manifest.is_deployment();
    let _ = manifest.is_driver();
    let _ = manifest.inf_files().count();
    let _ = manifest.install_dependencies().count();
    let _ = manifest.identity.key_form();
});
