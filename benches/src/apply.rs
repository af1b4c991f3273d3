//! Inputs of the package scenarios: a one-edition Windows 10-like image (and the same image with its
//! file tree present twice, for cost growth), a cumulative update with ~20 MB of incompressible
//! payload, and that package's members extracted to a folder (what the baselines add or hash).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use fixtures::profile::{Profile, Size};
use servicing::cbs::container::{Cabinet, Limits};
use servicing::wim::Compression;

/// Everything the package scenarios need, generated once into the cache.
pub struct ApplyInputs {
    /// The one-edition image.
    pub image: PathBuf,
    /// The same image with a second copy of its tree under `/Extra` (twice the files and metadata).
    pub image_x2: PathBuf,
    /// The cumulative update.
    pub package: PathBuf,
    /// Its members, extracted (`<key-form>/<file>`, manifests, .mum/.cat).
    pub package_dir: PathBuf,
    /// Bytes of payload (files below key-form folders) in the package.
    pub payload_bytes: u64,
    /// Files in the image.
    pub image_files: u64,
    /// `wimlib-imagex update` commands adding what add-package adds: the package's files under
    /// `WinSxS` and the image's two hives, each changed by one byte (add-package rewrites both).
    pub update_commands: PathBuf,
}

pub(crate) fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// Generates (or reuses) the inputs for `size` under `cache`.
pub fn prepare(cache: &Path, size: Size, package_bytes: u64) -> ApplyInputs {
    let profile = Profile::win10_amd64();
    let image = cache.join(format!("win10-{}-pro.wim", size.name()));
    let mut image_files = 0;
    if !image.exists() {
        eprintln!("generating {} (cached for later runs)…", image.display());
        let built = fixtures::image::build_wim(&profile, size, &["Professional"], Compression::Lzx, &image, cache)
            .expect("generate win10 image");
        image_files = built.images[0].files;
    }
    let image_x2 = cache.join(format!("win10-{}-pro-x2.wim", size.name()));
    if !image_x2.exists() {
        eprintln!("generating {} (cached for later runs)…", image_x2.display());
        let tree = cache.join("x2-tree");
        let _ = std::fs::remove_dir_all(&tree);
        let edition = profile.edition("Enterprise").expect("Enterprise edition").clone();
        fixtures::layout::write_tree(&tree, &profile, &edition, size).expect("second tree");
        let tmp = cache.join("x2.tmp.wim");
        std::fs::copy(&image, &tmp).expect("copy image");
        run(Command::new("wimlib-imagex")
            .args(["update", tmp.to_str().unwrap(), "1"])
            .arg(format!("--command=add {} /Extra", tree.display())));
        std::fs::rename(&tmp, &image_x2).expect("rename");
        let _ = std::fs::remove_dir_all(&tree);
    }
    let package = cache.join(format!("lcu-{}m.cab", package_bytes >> 20));
    let package_dir = cache.join(format!("lcu-{}m", package_bytes >> 20));
    if !package.exists() {
        let pkg = fixtures::packages::large_lcu(&profile, package_bytes).expect("large package");
        std::fs::write(&package, &pkg.bytes).expect("write package");
        let _ = std::fs::remove_dir_all(&package_dir);
    }
    let mut payload_bytes = 0;
    if !package_dir.exists() {
        let tmp = cache.join("lcu-extract.tmp");
        let _ = std::fs::remove_dir_all(&tmp);
        let mut cab = Cabinet::open(&package, Limits::default()).expect("open package");
        cab.for_each_member(|m, r: &mut dyn Read| -> Result<(), servicing::cbs::container::Error> {
            let dest = tmp.join(m.path.replace('\\', "/"));
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            let mut f = std::fs::File::create(&dest).unwrap();
            std::io::copy(r, &mut f).unwrap();
            Ok(())
        })
        .expect("extract package");
        std::fs::rename(&tmp, &package_dir).expect("rename");
    }
    for e in walk(&package_dir) {
        if e.strip_prefix(&package_dir).map(|r| r.components().count() > 1).unwrap_or(false) {
            payload_bytes += std::fs::metadata(&e).map(|m| m.len()).unwrap_or(0);
        }
    }
    if image_files == 0 {
        image_files = count_files(&image);
    }
    let hives = cache.join(format!("hives-{}", size.name()));
    if !hives.join("COMPONENTS").exists() {
        std::fs::create_dir_all(&hives).expect("hive dir");
        run(Command::new("wimlib-imagex").args([
            "extract",
            image.to_str().unwrap(),
            "1",
            "/Windows/System32/config/SOFTWARE",
            "/Windows/System32/config/COMPONENTS",
            &format!("--dest-dir={}", hives.display()),
            "--no-acls",
        ]));
        for h in ["SOFTWARE", "COMPONENTS"] {
            let p = hives.join(h);
            let mut bytes = std::fs::read(&p).expect("hive");
            let last = bytes.len() - 1;
            bytes[last] ^= 1;
            std::fs::write(&p, bytes).expect("hive");
        }
    }
    let update_commands = cache.join(format!("update-commands-{}.txt", size.name()));
    std::fs::write(
        &update_commands,
        format!(
            "add '{}' /Windows/WinSxS\nadd '{}' /Windows/System32/config/SOFTWARE\nadd '{}' /Windows/System32/config/COMPONENTS\n",
            package_dir.display(),
            hives.join("SOFTWARE").display(),
            hives.join("COMPONENTS").display()
        ),
    )
    .expect("command file");
    ApplyInputs { image, image_x2, package, package_dir, payload_bytes, image_files, update_commands }
}

/// Every file below `dir`.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn count_files(wim: &Path) -> u64 {
    let info: serde_json::Value = Command::new(crate::bin_dir().join("wimpatch"))
        .args(["info", "--json", wim.to_str().unwrap()])
        .output()
        .ok()
        .and_then(|o| serde_json::from_slice(&o.stdout).ok())
        .unwrap_or_default();
    info["images"][0]["file_count"].as_u64().unwrap_or(0)
}
