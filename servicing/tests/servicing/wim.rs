//! Tests of the safe wimlib layer: handles, locks, progress, panics and cancellation.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use servicing::progress::{Control, Event, Reporter};
use servicing::wim::{
    Commit, Compression, Error, ImageRef, LockWait, OpenMode, UpdateCommand, Wim, WimLock, WriteOptions,
};

fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A one-image WIM made through this layer: `files` files of `size` random bytes.
fn small_wim(dir: &Path, name: &str, files: usize, size: usize) -> PathBuf {
    let src = dir.join(format!("{name}-src"));
    std::fs::create_dir_all(src.join("Windows/System32")).unwrap();
    for i in 0..files {
        std::fs::write(src.join(format!("Windows/System32/f{i}.dll")), noise(i as u64 + 1, size)).unwrap();
    }
    let path = dir.join(name);
    let mut wim = Wim::create_new(Compression::Lzx, &path).unwrap();
    let idx = wim.add_image(&src, "Test Image", Control::none()).unwrap();
    wim.set_property(idx, "WINDOWS/ARCH", Some("9")).unwrap();
    let lock = WimLock::acquire(&path, LockWait::NoWait).unwrap();
    wim.write_new(&path, &lock, WriteOptions::default(), Control::none()).unwrap();
    path
}

fn bytes(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap()
}

#[test]
fn created_wim_reads_back_with_properties_and_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = small_wim(dir.path(), "a.wim", 3, 1000);
    let wim = Wim::open(&path, OpenMode::ReadOnly).unwrap();
    assert_eq!(wim.image_count(), 1);
    assert_eq!(wim.info().compression, Some(Compression::Lzx));
    let info = wim.image_info(1);
    assert_eq!(info.name.as_deref(), Some("Test Image"));
    assert_eq!(info.arch.map(|a| a.name()), Some("amd64"));
    let files: Vec<String> = wim.list(1).unwrap().into_iter().filter(|e| !e.is_dir()).map(|e| e.path).collect();
    assert_eq!(files.len(), 3);
    assert!(files.iter().any(|f| f == "/Windows/System32/f0.dll"), "{files:?}");
    assert_eq!(wim.resolve(&ImageRef::Name("test image".into())).unwrap(), 1);
    assert!(matches!(wim.resolve(&ImageRef::Index(2)), Err(Error::NoSuchImage { count: 1, .. })));
}

#[test]
fn update_batch_commits_in_append_mode_and_extract_reads_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = small_wim(dir.path(), "a.wim", 2, 100);
    let new_file = dir.path().join("new.txt");
    std::fs::write(&new_file, b"added").unwrap();
    let mut wim = Wim::open(&path, OpenMode::ReadWrite(LockWait::NoWait)).unwrap();
    wim.update(
        1,
        &[
            UpdateCommand::Add { source: new_file.clone(), target: "/Windows/new.txt".into() },
            UpdateCommand::Delete { path: "/Windows/System32/f1.dll".into(), must_exist: true },
            UpdateCommand::Rename {
                from: "/Windows/System32/f0.dll".into(),
                to: "/Windows/System32/renamed.dll".into(),
            },
        ],
        Control::none(),
    )
    .unwrap();
    wim.commit(Commit::Append, WriteOptions::default(), Control::none()).unwrap();
    let mut wim = Wim::open(&path, OpenMode::ReadOnly).unwrap();
    let out = dir.path().join("out");
    wim.extract_paths(1, &out, &["/Windows/new.txt", "/Windows/System32/renamed.dll"], Control::none()).unwrap();
    assert_eq!(std::fs::read(out.join("Windows/new.txt")).unwrap(), b"added");
    assert_eq!(std::fs::read(out.join("Windows/System32/renamed.dll")).unwrap(), noise(1, 100));
    let mut found = false;
    wim.walk(1, "/Windows/System32", true, &mut |e| {
        found |= e.path.ends_with("f1.dll");
        ControlFlow::Continue(())
    })
    .unwrap();
    assert!(!found, "deleted file still listed");
    // A missing path fails loudly instead of being skipped.
    let err = wim.extract_paths(1, &out, &["/nope"], Control::none()).unwrap_err();
    assert_eq!(err.wimlib_code(), Some(wim_sys::WIMLIB_ERR_PATH_DOES_NOT_EXIST as i32));
}

#[test]
fn a_failing_command_rolls_back_the_whole_batch() {
    let dir = tempfile::tempdir().unwrap();
    let path = small_wim(dir.path(), "a.wim", 1, 100);
    let f = dir.path().join("x.txt");
    std::fs::write(&f, b"x").unwrap();
    let mut wim = Wim::open(&path, OpenMode::ReadWrite(LockWait::NoWait)).unwrap();
    let err = wim
        .update(
            1,
            &[
                UpdateCommand::Add { source: f, target: "/x.txt".into() },
                UpdateCommand::Delete { path: "/missing".into(), must_exist: true },
            ],
            Control::none(),
        )
        .unwrap_err();
    assert!(err.to_string().contains("a.wim (image 1): update image failed"), "{err}");
    assert!(wim.list(1).unwrap().iter().all(|e| e.path != "/x.txt"), "the add was not rolled back");
}

#[test]
fn the_writer_lock_excludes_a_second_writer_until_released() {
    let dir = tempfile::tempdir().unwrap();
    let path = small_wim(dir.path(), "a.wim", 1, 10);
    let first = Wim::open(&path, OpenMode::ReadWrite(LockWait::NoWait)).unwrap();
    let err = Wim::open(&path, OpenMode::ReadWrite(LockWait::NoWait)).unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err}");
    // Readers are never blocked.
    Wim::open(&path, OpenMode::ReadOnly).unwrap();
    drop(first);
    Wim::open(&path, OpenMode::ReadWrite(LockWait::NoWait)).unwrap();
}

struct PanicAfter(AtomicU64);
impl Reporter for PanicAfter {
    fn report(&self, e: &Event) {
        if matches!(e, Event::Bytes { .. }) && self.0.fetch_add(1, Ordering::SeqCst) >= 1 {
            panic!("reporter bug");
        }
    }
}

#[test]
fn a_panic_in_the_reporter_aborts_the_write_and_is_re_raised_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = small_wim(dir.path(), "a.wim", 8, 256 * 1024);
    let before = bytes(&path);
    let reporter = PanicAfter(AtomicU64::new(0));
    let cancel = AtomicBool::new(false);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let wim = Wim::open(&path, OpenMode::ReadWrite(LockWait::NoWait)).unwrap();
        let _ = wim.commit(
            Commit::Rebuild { recompress: true },
            WriteOptions::default(),
            Control { reporter: &reporter, cancel: &cancel },
        );
    }));
    let payload = result.expect_err("the panic must come back out");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"reporter bug"));
    assert_eq!(bytes(&path), before, "the WIM changed");
    // wimlib removed its temp file, and the lock was released during unwinding.
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!left.iter().any(|n| n.len() == "a.wim".len() + 9 && n.starts_with("a.wim")), "temp left: {left:?}");
    assert!(!left.iter().any(|n| n == "a.wim.lock"), "lock file left: {left:?}");
    Wim::open(&path, OpenMode::ReadWrite(LockWait::NoWait)).unwrap();
}

struct CancelOnFirst<'a>(&'a AtomicBool);
impl Reporter for CancelOnFirst<'_> {
    fn report(&self, e: &Event) {
        if matches!(e, Event::Bytes { .. }) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
}

#[test]
fn the_cancel_flag_aborts_an_append_and_leaves_the_file_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let path = small_wim(dir.path(), "a.wim", 1, 100);
    let before = bytes(&path);
    let big = dir.path().join("big.bin");
    std::fs::write(&big, noise(5, 4 << 20)).unwrap();
    let cancel = AtomicBool::new(false);
    let reporter = CancelOnFirst(&cancel);
    let mut wim = Wim::open(&path, OpenMode::ReadWrite(LockWait::NoWait)).unwrap();
    wim.update(1, &[UpdateCommand::Add { source: big, target: "/big.bin".into() }], Control::none()).unwrap();
    let err = wim
        .commit(Commit::Append, WriteOptions::default(), Control { reporter: &reporter, cancel: &cancel })
        .unwrap_err();
    assert!(matches!(err, Error::Cancelled { op: "commit", .. }), "{err}");
    assert_eq!(bytes(&path), before, "wimlib should have truncated the append back");
}

#[test]
fn export_into_a_new_wim_is_written_atomically_and_stale_temps_are_swept() {
    let dir = tempfile::tempdir().unwrap();
    let path = small_wim(dir.path(), "a.wim", 2, 1000);
    let dest = dir.path().join("b.wim");
    // Debris of a killed earlier writer of b.wim.
    let stale = servicing::wim::temp_path_for(&dest);
    std::fs::write(&stale, b"partial").unwrap();
    let src = Wim::open(&path, OpenMode::ReadOnly).unwrap();
    let lock = WimLock::acquire(&dest, LockWait::NoWait).unwrap();
    let mut out = Wim::create_new(Compression::Xpress, &dest).unwrap();
    assert_eq!(src.export_to(1, &mut out, Some("Renamed"), Control::none()).unwrap(), 1);
    drop(src); // the destination keeps its own reference to the source
    out.write_new(&dest, &lock, WriteOptions::default(), Control::none()).unwrap();
    assert!(!stale.exists(), "stale temp file not swept");
    let mut b = Wim::open(&dest, OpenMode::ReadOnly).unwrap();
    assert_eq!(b.image_info(1).name.as_deref(), Some("Renamed"));
    assert_eq!(b.info().compression, Some(Compression::Xpress));
    b.verify(Control::none()).unwrap();
}

#[test]
fn write_new_refuses_the_lock_of_another_file() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.wim");
    let lock = WimLock::acquire(&a, LockWait::NoWait).unwrap();
    let mut w = Wim::create_new(Compression::None, &a).unwrap();
    let err = w.write_new(&dir.path().join("b.wim"), &lock, WriteOptions::default(), Control::none()).unwrap_err();
    assert!(err.to_string().contains("lock of another file"), "{err}");
}

#[test]
fn handles_can_move_to_another_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<Wim>();
    let dir = tempfile::tempdir().unwrap();
    let path = small_wim(dir.path(), "a.wim", 1, 10);
    let wim = Wim::open(&path, OpenMode::ReadOnly).unwrap();
    let n = std::thread::spawn(move || wim.image_count()).join().unwrap();
    assert_eq!(n, 1);
}

/// Regression: a killed `optimize` left wimlib's rebuild temp (`<name>` + 9 alphanumerics) before its
/// header was written; the sweep looked for the WIM magic and kept it forever.
#[test]
fn sweep_removes_a_rebuild_temp_killed_before_its_header() {
    let dir = tempfile::tempdir().unwrap();
    let wim = dir.path().join("big.wim");
    std::fs::write(&wim, b"MSWIM\0\0\0").unwrap();
    let empty = dir.path().join("big.wimVEWOjnt45");
    std::fs::write(&empty, b"").unwrap();
    let zeroed = dir.path().join("big.wimAAAAAAAAA");
    std::fs::write(&zeroed, vec![0u8; 4096]).unwrap();
    let unrelated = dir.path().join("big.wimNOTAWIM12");
    std::fs::write(&unrelated, b"some other file of the user").unwrap();
    let removed = servicing::wim::sweep_stale(&wim);
    assert!(!empty.exists() && !zeroed.exists(), "{removed:?}");
    assert!(unrelated.exists(), "a file with other content must be kept");
    assert!(wim.exists());
}

/// Issue 17 item 4: one WIM reached by two names has one writer lock: through a symbolic link (the
/// sidecar sits beside the resolved path) and through a hard link (the WIM's own inode is locked).
#[test]
fn a_wim_and_its_aliases_share_the_writer_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = small_wim(dir.path(), "a.wim", 1, 100);
    let symlink = dir.path().join("link.wim");
    std::os::unix::fs::symlink(&path, &symlink).unwrap();
    let sub = dir.path().join("elsewhere");
    std::fs::create_dir_all(&sub).unwrap();
    let hardlink = sub.join("hard.wim");
    std::fs::hard_link(&path, &hardlink).unwrap();
    for (held, other) in [(&path, &symlink), (&symlink, &path), (&path, &hardlink), (&hardlink, &path)] {
        let lock = WimLock::acquire(held, LockWait::NoWait).unwrap();
        let second = WimLock::acquire(other, LockWait::NoWait);
        assert!(
            matches!(second, Err(Error::Locked { .. })),
            "{} locked, {} not refused: {second:?}",
            held.display(),
            other.display()
        );
        drop(lock);
        drop(WimLock::acquire(other, LockWait::NoWait).expect("free again"));
    }
}

/// Issue 17 item 2: a lock file planted as a link (or as a hard link to another file) is refused,
/// never truncated through.
#[test]
fn a_planted_lock_file_is_not_written_through() {
    let dir = tempfile::tempdir().unwrap();
    let path = small_wim(dir.path(), "a.wim", 1, 100);
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, b"precious").unwrap();
    std::os::unix::fs::symlink(&victim, dir.path().join("a.wim.lock")).unwrap();
    assert!(WimLock::acquire(&path, LockWait::NoWait).is_err());
    std::fs::remove_file(dir.path().join("a.wim.lock")).unwrap();
    std::fs::hard_link(&victim, dir.path().join("a.wim.lock")).unwrap();
    assert!(WimLock::acquire(&path, LockWait::NoWait).is_err());
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
}

/// Files of every shape a resource takes: empty, one short chunk, several chunks (compressible and
/// not), a last chunk stored whole, and the same data twice (one blob).
fn resource_shapes(src: &Path) -> Vec<(String, Vec<u8>)> {
    let text: Vec<u8> =
        (0..200_000u32).flat_map(|i| format!("line {} of a manifest\n", i % 977).into_bytes()).collect();
    let files = vec![
        ("empty.txt", Vec::new()),
        ("short.dll", noise(7, 300)),
        ("text.xml", text[..150_000].to_vec()),
        ("random.bin", noise(9, 100_003)),
        ("mixed.exe", [text[..70_000].to_vec(), noise(11, 40_000)].concat()),
        ("copy.bin", noise(9, 100_003)),
    ];
    std::fs::create_dir_all(src.join("Windows/WinSxS")).unwrap();
    files
        .into_iter()
        .map(|(n, b)| {
            std::fs::write(src.join("Windows/WinSxS").join(n), &b).unwrap();
            (format!("/Windows/WinSxS/{n}"), b)
        })
        .collect()
}

#[test]
fn file_data_is_read_from_its_resource_in_every_compression_and_solid_ones_are_left_to_extraction() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let shapes = resource_shapes(&src);
    for (flags, direct) in [
        (vec!["--compress=none"], true),
        (vec!["--compress=xpress"], true),
        (vec!["--compress=lzx"], true),
        (vec!["--compress=lzms"], true),
        (vec!["--compress=lzx", "--chunk-size=65536"], true),
        (vec!["--solid"], false),
    ] {
        let path = dir.path().join(format!("{}.wim", flags.join("").replace(['-', '='], "")));
        let ok = std::process::Command::new("wimlib-imagex")
            .arg("capture")
            .arg(&src)
            .arg(&path)
            .args(&flags)
            .output()
            .unwrap();
        assert!(ok.status.success(), "{flags:?}: {}", String::from_utf8_lossy(&ok.stderr));
        let wim = Wim::open(&path, OpenMode::ReadOnly).unwrap();
        let entries = wim.list(1).unwrap();
        for (name, want) in &shapes {
            let e = entries.iter().find(|e| &e.path == name).unwrap();
            let got = wim.read_file_data(e, u64::MAX);
            if direct || want.is_empty() {
                assert_eq!(got.as_deref(), Some(&want[..]), "{flags:?} {name}");
            } else {
                assert_eq!(got, None, "{flags:?} {name}: a solid resource is extracted by wimlib");
            }
            if !want.is_empty() {
                assert_eq!(wim.read_file_data(e, want.len() as u64 - 1), None, "{name}: over the limit");
            }
        }
    }
}

#[test]
fn a_damaged_resource_is_never_read_as_data_only_left_to_extraction() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let shapes = resource_shapes(&src);
    let path = dir.path().join("a.wim");
    let ok = std::process::Command::new("wimlib-imagex").arg("capture").arg(&src).arg(&path).output().unwrap();
    assert!(ok.status.success());
    let wim = Wim::open(&path, OpenMode::ReadOnly).unwrap();
    let entries = wim.list(1).unwrap();
    let original = bytes(&path);
    // Every 97th byte of the file flipped in turn (chunk tables and chunks among them).
    let e = entries.iter().find(|e| e.path.ends_with("/text.xml")).unwrap();
    let want = &shapes.iter().find(|(n, _)| n.ends_with("/text.xml")).unwrap().1;
    assert_eq!(wim.read_file_data(e, u64::MAX).as_deref(), Some(&want[..]));
    // The handle keeps the lookup table it read at open: only flips inside the resource change
    // what a direct read sees.
    let mut damaged = 0;
    for at in (0..original.len()).step_by(97) {
        let mut copy = original.clone();
        copy[at] ^= 0x5a;
        std::fs::write(&path, &copy).unwrap();
        match wim.read_file_data(e, u64::MAX) {
            Some(got) => assert_eq!(&got, want, "a flip at {at} read as other bytes"),
            None => damaged += 1,
        }
    }
    assert!(damaged > 10, "only {damaged} flips were noticed: the resource was not read from the file");
}
