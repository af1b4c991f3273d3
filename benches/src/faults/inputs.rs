//! The inputs every run starts from, built once and copied into each run's folder: real WIMs
//! captured by `wimlib-imagex` from incompressible files (so writes take long enough to be cut), the
//! `win10` fixture image, the same with two cumulative updates applied one after the other (so the
//! first is superseded and `cleanup-image` has work), and the fixture `large_lcu` cab.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::state::output;

/// Sizes of the inputs.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    /// MiB of files the three images of the bulk WIM share.
    pub shared_mib: usize,
    /// MiB of files only one image holds (per image), which `delete-image` and a soft delete drop.
    pub own_mib: usize,
    /// Payload of the cumulative update `add-package` installs, in MiB.
    pub lcu_mib: u64,
}

/// The template files, in one folder.
pub struct Inputs {
    /// Three images (`Core`, `Professional`, `Enterprise`), uncompressed.
    pub bulk: PathBuf,
    /// Image 1 of `bulk` alone: the destination `export-image` appends to.
    pub one: PathBuf,
    /// `bulk` with image 3 soft-deleted: holes that `optimize` reclaims.
    pub holey: PathBuf,
    /// The tiny `win10` fixture image (three editions, real hives).
    pub win10: PathBuf,
    /// `win10` with KB5000001 then KB5000002 applied to image 1 by wimpatch: KB5000001 superseded.
    pub superseded: PathBuf,
    /// The `large_lcu` cumulative update for `win10`.
    pub lcu: PathBuf,
}

/// The editions of the bulk WIM, in image order.
pub const EDITIONS: [&str; 3] = ["Core", "Professional", "Enterprise"];

/// Deterministic incompressible bytes (xorshift64*).
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

fn imagex(args: &[&str]) -> Result<(), String> {
    output(Command::new("wimlib-imagex").args(args)).map(drop)
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// Builds every input under `dir`; `wimpatch` applies the updates of the `superseded` image.
pub fn build(dir: &Path, scale: Scale, wimpatch: &Path) -> Result<Inputs, String> {
    let io = |e: std::io::Error| e.to_string();
    std::fs::create_dir_all(dir).map_err(io)?;
    let bulk = dir.join("bulk.wim");
    for (i, edition) in EDITIONS.iter().enumerate() {
        let src = dir.join(format!("src-{edition}"));
        let sys = src.join("Windows/System32");
        std::fs::create_dir_all(&sys).map_err(io)?;
        for f in 0..scale.shared_mib {
            std::fs::write(sys.join(format!("shared{f}.dll")), noise(f as u64 + 1, 1 << 20)).map_err(io)?;
        }
        for f in 0..scale.own_mib {
            let seed = 1000 * (i as u64 + 1) + f as u64;
            std::fs::write(sys.join(format!("{edition}{f}.dll")), noise(seed, 1 << 20)).map_err(io)?;
        }
        let verb = if i == 0 { "capture" } else { "append" };
        imagex(&[verb, s(&src), s(&bulk), &format!("Windows 10 {edition}"), "--compress=none"])?;
        std::fs::remove_dir_all(&src).map_err(io)?;
    }
    let one = dir.join("one.wim");
    imagex(&["export", s(&bulk), "1", s(&one)])?;
    let holey = dir.join("holey.wim");
    std::fs::copy(&bulk, &holey).map_err(io)?;
    imagex(&["delete", s(&holey), "3", "--soft"])?;

    let profile = fixtures::profile::Profile::win10_amd64();
    let win10 = dir.join("win10.wim");
    fixtures::image::build_wim(
        &profile,
        fixtures::profile::Size::Tiny,
        &[],
        servicing::wim::Compression::Lzx,
        &win10,
        &dir.join("win10.gen"),
    )
    .map_err(|e| format!("fixture image: {e}"))?;
    let pkg = fixtures::packages::large_lcu(&profile, scale.lcu_mib << 20).map_err(|e| format!("large LCU: {e}"))?;
    let lcu = dir.join(&pkg.file_name);
    std::fs::write(&lcu, &pkg.bytes).map_err(io)?;
    let superseded = dir.join("superseded.wim");
    std::fs::copy(&win10, &superseded).map_err(io)?;
    for (kb, ubr) in [(5_000_001, 100), (5_000_002, 200)] {
        let def = fixtures::packages::updates::cumulative_update(&profile, &fixtures::packages::Lcu::monthly(kb, ubr))
            .map_err(|e| format!("KB{kb}: {e}"))?;
        let name = format!("Windows10.0-KB{kb}-x64.cab");
        let cab = dir.join(&name);
        std::fs::write(&cab, def.cab(&name, fixtures::packages::Compression::MsZip).map_err(|e| e.to_string())?)
            .map_err(io)?;
        let scratch = s(dir);
        let args = ["add-package", "--image", s(&superseded), "--index", "1", "--package-path", s(&cab)];
        output(Command::new(wimpatch).args(args).args(["--no-progress", "--scratch-dir", scratch]))?;
    }
    Ok(Inputs { bulk, one, holey, win10, superseded, lcu })
}
