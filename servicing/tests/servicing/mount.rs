//! Tests of the mount front end that need no FUSE.

use std::path::Path;

use servicing::mount::{check_fuse, mount, MountError, MountRequest};
use servicing::wim::ImageRef;

#[test]
fn missing_fuse_device_gives_an_error_naming_the_mount_free_path() {
    let err = check_fuse(Path::new("/images/install.wim"), Path::new("/nonexistent/fuse")).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, MountError::FuseUnavailable { .. }));
    assert!(msg.contains("/images/install.wim"), "{msg}");
    assert!(msg.contains("FUSE is not available"), "{msg}");
    assert!(msg.contains("/nonexistent/fuse is missing"), "{msg}");
    assert!(msg.contains("without mounting"), "{msg}");
}

#[test]
fn a_missing_mount_directory_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let req = MountRequest {
        wim: dir.path().join("x.wim"),
        image: ImageRef::Index(1),
        dir: dir.path().join("no-such-dir"),
        read_write: true,
        scratch_dir: dir.path().to_path_buf(),
    };
    // The helper path does not exist either: the directory check must fail first.
    let err = mount(&req, Path::new("/nonexistent/helper"), &[]).unwrap_err();
    let msg = err.to_string();
    if matches!(err, MountError::FuseUnavailable { .. }) {
        eprintln!("skipped: a_missing_mount_directory_is_refused_before_anything_runs (no /dev/fuse)");
        return;
    }
    assert!(msg.contains("no-such-dir") && msg.contains("does not exist"), "{msg}");
}
