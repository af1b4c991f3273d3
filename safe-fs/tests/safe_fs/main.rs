//! Integration tests of safe-fs (one test binary for the crate): every primitive refuses a planted
//! symbolic link (and, where it reopens a file, a hard link to another file) instead of writing
//! through it.

// Tests plant links and files with the raw std::fs calls clippy.toml bans in product code.
#![allow(clippy::disallowed_methods)]

use std::os::unix::fs::symlink;
use std::path::Path;

fn victim(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("victim");
    std::fs::write(&p, b"precious").unwrap();
    p
}

fn intact(p: &Path) -> bool {
    std::fs::read(p).is_ok_and(|b| b == b"precious")
}

#[test]
fn file_creation_and_reopening_refuse_planted_links() {
    let dir = tempfile::tempdir().unwrap();
    let v = victim(dir.path());
    let link = dir.path().join("link");
    symlink(&v, &link).unwrap();
    assert!(safe_fs::create_new(&link).is_err());
    let e = safe_fs::open_append(&link).unwrap_err();
    assert!(e.to_string().contains("symbolic link"), "{e}");
    assert!(safe_fs::open_lock(&link).is_err());
    assert!(safe_fs::open_regular(&link).is_err());
    assert!(safe_fs::empty_file(&link).is_err());
    // create_fresh replaces the link itself, never the file it points to.
    safe_fs::write_fresh(&link, b"new").unwrap();
    assert_eq!(std::fs::read(&link).unwrap(), b"new");
    assert!(intact(&v));
    // A second name of another file is not appended to or truncated.
    let hard = dir.path().join("hard");
    std::fs::hard_link(&v, &hard).unwrap();
    assert!(safe_fs::open_append(&hard).is_err());
    assert!(safe_fs::open_lock(&hard).is_err());
    assert!(safe_fs::empty_file(&hard).is_err());
    assert!(intact(&v));
    // A file of our own is emptied and kept.
    let own = dir.path().join("own");
    std::fs::write(&own, b"data").unwrap();
    safe_fs::empty_file(&own).unwrap();
    assert_eq!(std::fs::metadata(&own).unwrap().len(), 0);
}

#[test]
fn folders_and_tree_paths_never_go_through_a_link_or_leave_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    symlink(&outside, root.join("sub")).unwrap();
    assert!(safe_fs::create_dir(&root.join("sub")).is_err());
    assert!(safe_fs::create_dir_all_under(&root, Path::new("sub/deeper")).is_err());
    assert!(safe_fs::create_dir_all_under(&root, Path::new("../escape")).is_err());
    assert!(std::fs::read_dir(&outside).unwrap().next().is_none());
    assert!(!dir.path().join("escape").exists());
    assert_eq!(safe_fs::create_dir_all_under(&root, Path::new("a/b")).unwrap(), root.join("a/b"));
    assert!(root.join("a/b").is_dir());
    assert!(safe_fs::resolve_under(&root, "sub/x", true).is_err());
    assert!(safe_fs::resolve_under(&root, "a/../../outside", true).is_err());
    assert_eq!(safe_fs::resolve_under(&root, "A/B", true).unwrap(), Some(root.join("a/b")));
    assert_eq!(safe_fs::resolve_under(&root, "A/B", false).unwrap(), None);
}

#[test]
fn atomic_replace_keeps_the_mode_and_leaves_no_temp() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("file");
    std::fs::write(&dest, b"old").unwrap();
    std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o640)).unwrap();
    safe_fs::write_atomic(&dest, b"new").unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), b"new");
    assert_eq!(std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777, 0o640);
    let failed = safe_fs::replace_with(&dest, |_| Err(std::io::Error::other("cut")));
    assert!(failed.is_err());
    assert_eq!(std::fs::read(&dest).unwrap(), b"new");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "a temp file was left");
}

#[test]
fn a_folder_of_another_user_is_not_private() {
    let dir = tempfile::tempdir().unwrap();
    safe_fs::check_private_dir(dir.path()).unwrap();
    let link = dir.path().join("link");
    symlink(dir.path(), &link).unwrap();
    assert!(safe_fs::check_private_dir(&link).is_err());
    let foreign = dir.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    if std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).is_ok() {
        let e = safe_fs::check_private_dir(&foreign).unwrap_err();
        assert!(e.to_string().contains("owned by user 65534"), "{e}");
    } else {
        eprintln!("skipped: foreign-owned folder (not root)");
    }
}

#[test]
fn the_identity_lock_is_shared_by_every_name_of_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    std::fs::write(&a, b"x").unwrap();
    let b = dir.path().join("b");
    std::fs::hard_link(&a, &b).unwrap();
    let first = safe_fs::open_existing_rw(&a).unwrap();
    assert!(safe_fs::try_lock_identity(&first).unwrap());
    let second = safe_fs::open_existing_rw(&b).unwrap();
    assert!(!safe_fs::try_lock_identity(&second).unwrap(), "a hard link got its own lock");
    // Closing another descriptor of the file does not drop the lock (unlike a POSIX record lock).
    drop(std::fs::File::open(&a).unwrap());
    assert!(!safe_fs::try_lock_identity(&second).unwrap());
    safe_fs::unlock_identity(&first).unwrap();
    assert!(safe_fs::try_lock_identity(&second).unwrap());
}

/// CI failed once here: the lock was given up by closing its descriptor while another test's
/// thread forked (`Command::spawn`); the child's copy kept the lock until it exec'd.
#[test]
fn an_identity_lock_is_released_at_once_while_a_forked_copy_of_its_descriptor_lives() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    std::fs::write(&a, b"x").unwrap();
    let first = safe_fs::open_existing_rw(&a).unwrap();
    assert!(safe_fs::try_lock_identity(&first).unwrap());
    // What a fork leaves behind: another descriptor of the same open file description.
    let copy = first.try_clone().unwrap();
    let other = safe_fs::open_existing_rw(&a).unwrap();
    drop(first);
    assert!(!safe_fs::try_lock_identity(&other).unwrap(), "the copy no longer holds the lock");
    safe_fs::unlock_identity(&copy).unwrap();
    assert!(safe_fs::try_lock_identity(&other).unwrap());
}

/// `lsattr -d` flags of `p` (e2fsprogs), `None` where the file system keeps none.
fn lsattr_flags(p: &Path) -> Option<String> {
    let out = std::process::Command::new("lsattr").arg("-d").arg(p).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap_or("").to_owned())
}

#[test]
fn a_scratch_base_is_marked_to_spread_its_folders_and_a_planted_link_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    std::fs::create_dir(&base).unwrap();
    let ext4 = std::process::Command::new("stat")
        .args(["-f", "-c", "%T"])
        .arg(dir.path())
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "ext2/ext3");
    let set = safe_fs::spread_subfolders(&base).unwrap();
    // ext4 keeps the flag (`stat -f` names ext2/3/4 alike); elsewhere it is only a hint.
    assert!(set || !ext4, "ext4 refused FS_TOPDIR_FL");
    if set {
        assert!(lsattr_flags(&base).is_some_and(|f| f.contains('T')), "{:?}", lsattr_flags(&base));
        assert!(safe_fs::spread_subfolders(&base).unwrap(), "marking twice is fine");
    }
    let victim_dir = dir.path().join("victim-dir");
    std::fs::create_dir(&victim_dir).unwrap();
    let link = dir.path().join("link");
    symlink(&victim_dir, &link).unwrap();
    assert!(safe_fs::spread_subfolders(&link).is_err());
    assert!(lsattr_flags(&victim_dir).is_none_or(|f| !f.contains('T')), "the link's target was marked");
}
