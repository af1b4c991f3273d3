//! Fuzzes the container index reader (and the XML front end under it), then follows every basis
//! chain: loops and dangling references must come back as errors.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(index) = cbs::cix::ContainerIndex::parse(data, "fuzz.cix.xml") else {
        return;
    };
    for file in &index.files {
        if let Ok(chain) = index.basis_chain(file.id) {
            assert_eq!(chain.first(), Some(&file.id));
            assert!(chain.len() <= index.files.len());
        }
        if let Some(time) = file.time {
            let _ = cbs::cix::filetime_to_unix(time);
        }
    }
});
