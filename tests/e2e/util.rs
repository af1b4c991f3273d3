//! Shared helpers: running the CLI and wimlib-imagex, making small deterministic WIMs, hashing files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::{Digest, Sha256};

/// The wimpatch binary cargo built for this test.
pub fn wimpatch() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wimpatch"));
    c.env("WIMPATCH_NO_PROGRESS", "1").env_remove("RUST_LOG");
    c
}

/// Runs wimpatch with `args`.
pub fn run(args: &[&str]) -> Output {
    wimpatch().args(args).output().expect("run wimpatch")
}

/// Runs wimpatch and asserts success; returns stdout.
pub fn run_ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(out.status.success(), "wimpatch {args:?} failed: {}\n{}", out.status, stderr(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs wimlib-imagex and asserts success; returns stdout.
pub fn imagex(args: &[&str]) -> String {
    let out = Command::new("wimlib-imagex").args(args).output().expect("run wimlib-imagex");
    assert!(out.status.success(), "wimlib-imagex {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether `wimlib-imagex verify` accepts the file.
pub fn imagex_verifies(wim: &Path) -> bool {
    Command::new("wimlib-imagex")
        .args(["verify", wim.to_str().expect("utf-8 path")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Sorted file list of one image, as `wimlib-imagex dir` prints it.
pub fn imagex_dir(wim: &Path, index: u32) -> Vec<String> {
    let mut v: Vec<String> =
        imagex(&["dir", wim.to_str().expect("utf-8"), &index.to_string()]).lines().map(str::to_string).collect();
    v.sort();
    v
}

/// SHA-256 of a file, hex.
pub fn sha256(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("read file to hash");
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Deterministic pseudo-random bytes (xorshift), so tests need no RNG crate and are repeatable.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Writes a small tree: `files` files of `size` bytes (half noise, half text) under `root`.
pub fn make_tree(root: &Path, seed: u64, files: usize, size: usize) {
    for i in 0..files {
        let dir = root.join(format!("Windows/System32/sub{}", i % 4));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let mut data = noise(seed * 1000 + i as u64, size / 2);
        data.extend(std::iter::repeat_n(b"servicing text ".as_slice(), size / 30).flatten());
        std::fs::write(dir.join(format!("file{i}.dll")), data).expect("write");
    }
}

/// Paths of a temporary workspace.
pub struct Work {
    pub dir: tempfile::TempDir,
}

impl Work {
    pub fn new() -> Work {
        Work { dir: tempfile::tempdir().expect("tempdir") }
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// A 3-image WIM made by `wimlib-imagex capture` + `append`, with the image properties real install
/// media carry: (name, edition, ARCH value, build).
pub const THREE: [(&str, &str, &str, &str); 3] = [
    ("Windows 8.1 Core", "Core", "9", "9600"),
    ("Windows 8.1 Pro x86", "Professional", "0", "9600"),
    ("Windows 10 Enterprise arm64", "Enterprise", "12", "19045"),
];

pub fn three_image_wim(work: &Work, name: &str, files: usize, size: usize, compress: &str) -> PathBuf {
    let wim = work.path(name);
    for (i, (img, edition, arch, build)) in THREE.iter().enumerate() {
        let src = work.path(&format!("{name}-src{i}"));
        make_tree(&src, 7, files, size);
        // Each edition differs a little, as real editions do; most blobs are shared.
        std::fs::write(src.join(format!("Windows/edition-{edition}.txt")), edition).expect("write");
        let major = if *build == "19045" { "10" } else { "6" };
        let minor = if *build == "19045" { "0" } else { "3" };
        let verb = if i == 0 { "capture" } else { "append" };
        let props = [
            format!("WINDOWS/ARCH={arch}"),
            format!("WINDOWS/EDITIONID={edition}"),
            format!("WINDOWS/VERSION/MAJOR={major}"),
            format!("WINDOWS/VERSION/MINOR={minor}"),
            format!("WINDOWS/VERSION/BUILD={build}"),
            "WINDOWS/VERSION/SPBUILD=16384".to_string(),
        ];
        let mut args: Vec<String> = vec![
            verb.into(),
            src.to_str().expect("utf-8").into(),
            wim.to_str().expect("utf-8").into(),
            img.to_string(),
            format!("--flags={edition}"),
        ];
        if i == 0 {
            args.push(format!("--compress={compress}"));
        }
        for p in props {
            args.push("--image-property".into());
            args.push(p);
        }
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        imagex(&a);
    }
    wim
}

/// Names of files in `dir` that look like temp debris of a writer of `wim_name`.
pub fn debris(dir: &Path, wim_name: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".wimpatch-tmp.") || (n.len() == wim_name.len() + 9 && n.starts_with(wim_name)))
        .collect()
}

/// A real Microsoft package from the shared test data (`WIMPATCH_TESTDATA`, default
/// `../shared/testdata`), or `None` after printing "skipped: <test>" — a failure naming the file
/// under `WIMPATCH_REQUIRE_TESTDATA`.
pub fn real_package(name: &str, test: &str) -> Option<PathBuf> {
    testdata::find(&format!("real-cbs/{name}"), test)
}

/// The shared real-delta folder (genuine msdelta deltas, DCM manifests), or `None` after printing
/// "skipped: <test>" — a failure under `WIMPATCH_REQUIRE_TESTDATA`.
pub fn real_delta(test: &str) -> Option<PathBuf> {
    testdata::find("real-delta", test)
}

/// A tiny multi-edition fixture WIM of `profile` (`win81`, `win10`), LZX, in `work`.
pub fn fixture_wim(work: &Work, profile: &str, name: &str) -> PathBuf {
    let out = work.path(name);
    let scratch = work.path(&format!("{name}.gen"));
    let profile = fixtures::profile::Profile::by_id(profile).expect("profile");
    fixtures::image::build_wim(
        &profile,
        fixtures::profile::Size::Tiny,
        &[],
        servicing::wim::Compression::Lzx,
        &out,
        &scratch,
    )
    .expect("fixture WIM");
    out
}

/// Every path under `root` (symlinks not followed) with what it is: a file's length and SHA-256, a
/// symlink's target, or "dir". Compared before and after a run by [`tree_changes`].
pub fn tree_snapshot(root: &Path) -> std::collections::BTreeMap<PathBuf, String> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            let Ok(meta) = std::fs::symlink_metadata(&p) else { continue };
            let what = if meta.file_type().is_symlink() {
                format!("link {}", std::fs::read_link(&p).map(|t| t.display().to_string()).unwrap_or_default())
            } else if meta.is_dir() {
                stack.push(p.clone());
                "dir".to_owned()
            } else if meta.is_file() {
                format!(
                    "{} bytes {}",
                    meta.len(),
                    std::fs::read(&p).map(|b| format!("{:x}", Sha256::digest(b))).unwrap_or_default()
                )
            } else {
                "special".to_owned()
            };
            out.insert(p, what);
        }
    }
    out
}

/// Paths created, changed or removed between two [`tree_snapshot`]s.
pub fn tree_changes(
    before: &std::collections::BTreeMap<PathBuf, String>,
    after: &std::collections::BTreeMap<PathBuf, String>,
) -> Vec<PathBuf> {
    let mut changed: Vec<PathBuf> =
        after.iter().filter(|(p, what)| before.get(*p) != Some(*what)).map(|(p, _)| p.clone()).collect();
    changed.extend(before.keys().filter(|p| !after.contains_key(*p)).cloned());
    changed
}

/// A directory the current user cannot create files in: `dir` made read-only (0555), or, where
/// that does not stop us (root ignores modes), a sysfs directory, which refuses new files to
/// everyone. `None` when neither holds.
pub fn unwritable_dir(dir: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).ok()?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).ok()?;
    let cannot_create = |d: &Path| {
        let probe = d.join(".wimpatch-probe");
        let created = std::fs::write(&probe, b"x").is_ok();
        let _ = std::fs::remove_file(&probe);
        !created
    };
    if cannot_create(dir) {
        return Some(dir.to_path_buf());
    }
    let sys = PathBuf::from("/sys/kernel");
    (sys.is_dir() && cannot_create(&sys)).then_some(sys)
}

/// `<verb> --image <wim> --index <index> <rest…>`, as arguments for [`run_owned`].
pub fn image_args(verb: &str, wim: &Path, index: &str, rest: &[&str]) -> Vec<String> {
    let mut args: Vec<String> =
        vec![verb.into(), "--image".into(), wim.to_str().unwrap().into(), "--index".into(), index.into()];
    args.extend(rest.iter().map(|s| s.to_string()));
    args
}

/// Runs wimpatch with owned arguments.
pub fn run_owned(args: &[String]) -> Output {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&refs)
}

/// Runs wimpatch, which must succeed, and parses its JSON output.
pub fn run_json(args: &[String]) -> serde_json::Value {
    let out = run_owned(args);
    assert!(out.status.success(), "wimpatch {args:?} failed: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("JSON output")
}
