//! Deltas: `wimpatch delta create` and `delta apply` against `zstd --patch-from` and `xdelta3` on the
//! same pairs, in the same run: encode size and time, decode throughput (MB/s of target), peak RSS.
//!
//! Pairs: advapi32 (`shared/testdata/real-delta/msdelta-created`, old → new, with Microsoft's own
//! `CreateDeltaB` delta, whose size ours is held against and whose decode is timed too) and a 50 MB
//! synthetic pair generated here (a mix of incompressible, text-like and record-like blocks; the
//! target has scattered overwrites, insertions and deletions and one moved megabyte).
//!
//! Every delta is decoded back and compared with its target before anything is reported, so a
//! figure never comes from a wrong result.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{stats, time_once};

/// One pair's figures.
#[derive(Debug, serde::Serialize)]
pub struct DeltaRow {
    pub pair: String,
    pub source_bytes: u64,
    pub target_bytes: u64,
    /// Encoded sizes.
    pub ours_bytes: u64,
    pub zstd_bytes: u64,
    pub xdelta3_bytes: u64,
    /// Microsoft's delta of the same pair, when there is one.
    pub genuine_bytes: Option<u64>,
    /// `ours / zstd`, `ours / xdelta3`, `ours / genuine`.
    pub size_ratio_zstd: f64,
    pub size_ratio_xdelta3: f64,
    pub size_ratio_genuine: Option<f64>,
    /// Median encode seconds, and ours over theirs.
    pub encode_s: f64,
    pub zstd_encode_s: f64,
    pub xdelta3_encode_s: f64,
    pub encode_time_ratio_zstd: f64,
    pub encode_time_ratio_xdelta3: f64,
    /// Peak RSS of the encoders, MiB.
    pub encode_peak_rss_mib: Option<f64>,
    pub zstd_encode_peak_rss_mib: Option<f64>,
    pub xdelta3_encode_peak_rss_mib: Option<f64>,
    /// Decode throughput, MB (10^6 bytes) of target per second (median run).
    pub decode_mb_s: f64,
    pub zstd_decode_mb_s: f64,
    pub xdelta3_decode_mb_s: f64,
    /// Decoding Microsoft's delta (PE transforms included) with `wimpatch delta apply`.
    pub genuine_decode_mb_s: Option<f64>,
    pub decode_peak_rss_mib: Option<f64>,
    pub genuine_decode_peak_rss_mib: Option<f64>,
    /// Peak RSS of `wimpatch delta info` on the same delta: the process, its libraries and the delta read
    /// in, which every decode pays before it holds a source or a target.
    pub info_peak_rss_mib: Option<f64>,
    pub genuine_info_peak_rss_mib: Option<f64>,
    /// What a decode holds beyond that floor, over source + target: 1.0 is the source and the target and
    /// nothing else (the constant-memory goal), 1.5 would be a second copy of one of them.
    pub decode_memory_over_inputs: Option<f64>,
    pub genuine_decode_memory_over_inputs: Option<f64>,
}

struct Pair {
    name: String,
    source: PathBuf,
    target: PathBuf,
    genuine: Option<PathBuf>,
}

/// Size of the synthetic pair's source.
const SYNTHETIC_BYTES: usize = 50_000_000;

/// Runs the delta benchmark under `work` with `runs` runs per command.
pub fn measure(work: &Path, cache: &Path, wimpatch: &Path, runs: usize) -> Vec<DeltaRow> {
    let dir = work.join("delta");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create delta work dir");
    let mut pairs = Vec::new();
    match testdata::get("real-delta/msdelta-created") {
        Some(made) => pairs.push(Pair {
            name: "advapi32.dll (real, amd64 PE)".into(),
            source: made.join("sources/advapi32_old.dll"),
            target: made.join("sources/advapi32_new.dll"),
            genuine: Some(made.join("genuine/advapi32_pe_genuine.pa30")),
        }),
        None => eprintln!("delta: shared/testdata/real-delta not found, the advapi32 pair is skipped"),
    }
    let (source, target) = synthetic(cache);
    pairs.push(Pair { name: "synthetic 50 MB".into(), source, target, genuine: None });
    pairs.iter().map(|p| measure_pair(p, &dir, wimpatch, runs)).collect()
}

fn len(p: &Path) -> u64 {
    std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).len()
}

fn same(a: &Path, b: &Path) {
    let (x, y) = (std::fs::read(a).expect("read decoded"), std::fs::read(b).expect("read target"));
    assert!(x == y, "{} does not equal {}", a.display(), b.display());
}

fn cmd(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut c = Command::new(program);
    c.env("WIMPATCH_NO_PROGRESS", "1");
    c
}

/// Median seconds and the largest peak RSS of `runs` runs of `make` (each after `prepare`).
fn timed(runs: usize, rss_file: &Path, prepare: &dyn Fn(), make: &mut dyn FnMut() -> Command) -> (f64, Option<f64>) {
    let mut times = Vec::new();
    let mut rss: Option<f64> = None;
    for _ in 0..runs {
        let (t, r) = time_once(prepare, make, rss_file);
        times.push(t);
        rss = crate::max_opt(rss, r);
    }
    (stats(times).0, rss)
}

fn measure_pair(p: &Pair, dir: &Path, wimpatch: &Path, runs: usize) -> DeltaRow {
    eprintln!("delta: {}…", p.name);
    let rss = dir.join("rss.txt");
    let ours = dir.join("ours.pa30");
    let zst = dir.join("theirs.zst");
    let xd3 = dir.join("theirs.xd3");
    let out = dir.join("decoded");
    let rm = |f: &Path| {
        let _ = std::fs::remove_file(f);
    };
    let (src, tgt) = (p.source.clone(), p.target.clone());

    // Encode.
    let (encode_s, encode_rss) = timed(runs, &rss, &|| rm(&ours), &mut || {
        let mut c = cmd(wimpatch);
        c.arg("delta").arg("create").arg("--source").arg(&src).arg("--target").arg(&tgt).arg("--out").arg(&ours);
        c
    });
    let (zstd_encode_s, zstd_rss) = timed(runs, &rss, &|| rm(&zst), &mut || {
        let mut c = cmd("zstd");
        c.arg("-q").arg("-f").arg(format!("--patch-from={}", src.display())).arg(&tgt).arg("-o").arg(&zst);
        c
    });
    let (xdelta3_encode_s, xdelta3_rss) = timed(runs, &rss, &|| rm(&xd3), &mut || {
        let mut c = cmd("xdelta3");
        c.arg("-f").arg("-e").arg("-s").arg(&src).arg(&tgt).arg(&xd3);
        c
    });

    // Decode (each result checked against the target first).
    let decode = |make: &mut dyn FnMut() -> Command| {
        let (t, r) = timed(runs, &rss, &|| rm(&out), make);
        same(&out, &tgt);
        (len(&tgt) as f64 / 1e6 / t, r)
    };
    let apply = |delta: PathBuf| {
        let (src, out) = (src.clone(), out.clone());
        move || {
            let mut c = cmd(wimpatch);
            c.arg("delta").arg("apply").arg(&delta).arg("--source").arg(&src).arg("--out").arg(&out);
            c
        }
    };
    let (decode_mb_s, decode_rss) = decode(&mut apply(ours.clone()));
    let (zstd_decode_mb_s, _) = decode(&mut || {
        let mut c = cmd("zstd");
        c.arg("-q").arg("-d").arg("-f").arg(format!("--patch-from={}", src.display())).arg(&zst).arg("-o").arg(&out);
        c
    });
    let (xdelta3_decode_mb_s, _) = decode(&mut || {
        let mut c = cmd("xdelta3");
        c.arg("-f").arg("-d").arg("-s").arg(&src).arg(&xd3).arg(&out);
        c
    });
    let genuine_decode = p.genuine.clone().map(|g| decode(&mut apply(g)));
    let info_rss = |delta: &Path| {
        timed(runs, &rss, &|| {}, &mut || {
            let mut c = cmd(wimpatch);
            c.arg("delta").arg("info").arg(delta);
            c
        })
        .1
    };
    let info_peak_rss_mib = info_rss(&ours);
    let genuine_info_peak_rss_mib = p.genuine.as_deref().and_then(info_rss);
    let inputs_mib = (len(&src) + len(&tgt)) as f64 / (1024.0 * 1024.0);
    let over_inputs = |peak: Option<f64>, floor: Option<f64>| Some((peak? - floor?) / inputs_mib);

    let (ours_bytes, zstd_bytes, xdelta3_bytes) = (len(&ours), len(&zst), len(&xd3));
    let genuine_bytes = p.genuine.as_deref().map(len);
    DeltaRow {
        pair: p.name.clone(),
        source_bytes: len(&src),
        target_bytes: len(&tgt),
        ours_bytes,
        zstd_bytes,
        xdelta3_bytes,
        genuine_bytes,
        size_ratio_zstd: ours_bytes as f64 / zstd_bytes as f64,
        size_ratio_xdelta3: ours_bytes as f64 / xdelta3_bytes as f64,
        size_ratio_genuine: genuine_bytes.map(|g| ours_bytes as f64 / g as f64),
        encode_s,
        zstd_encode_s,
        xdelta3_encode_s,
        encode_time_ratio_zstd: encode_s / zstd_encode_s,
        encode_time_ratio_xdelta3: encode_s / xdelta3_encode_s,
        encode_peak_rss_mib: encode_rss,
        zstd_encode_peak_rss_mib: zstd_rss,
        xdelta3_encode_peak_rss_mib: xdelta3_rss,
        decode_mb_s,
        zstd_decode_mb_s,
        xdelta3_decode_mb_s,
        genuine_decode_mb_s: genuine_decode.map(|(mb_s, _)| mb_s),
        decode_peak_rss_mib: decode_rss,
        genuine_decode_peak_rss_mib: genuine_decode.and_then(|(_, r)| r),
        info_peak_rss_mib,
        genuine_info_peak_rss_mib,
        decode_memory_over_inputs: over_inputs(decode_rss, info_peak_rss_mib),
        genuine_decode_memory_over_inputs: over_inputs(genuine_decode.and_then(|(_, r)| r), genuine_info_peak_rss_mib),
    }
}

/// A small deterministic generator (xorshift64*), so the synthetic inputs are the same in every run
/// (seed: any non-zero value).
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// The synthetic pair (generated once into `cache`): (source, target).
fn synthetic(cache: &Path) -> (PathBuf, PathBuf) {
    let source = cache.join("delta-synthetic-source.bin");
    let target = cache.join("delta-synthetic-target.bin");
    if source.exists() && target.exists() {
        return (source, target);
    }
    eprintln!("generating the 50 MB synthetic delta pair (cached for later runs)…");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    const WORDS: [&str; 16] = [
        "servicing",
        "component",
        "manifest",
        "package",
        "windows",
        "update",
        "payload",
        "registry",
        "delta",
        "image",
        "version",
        "amd64",
        "neutral",
        "catalog",
        "staged",
        "installed",
    ];
    let mut src = Vec::with_capacity(SYNTHETIC_BYTES);
    let mut counter = 0u32;
    while src.len() < SYNTHETIC_BYTES {
        // 4 KiB blocks: a quarter incompressible, the rest text-like or fixed-width records.
        match rng.below(4) {
            0 => src.extend(rng.bytes(4096)),
            1 | 2 => {
                let end = src.len() + 4096;
                while src.len() < end {
                    src.extend_from_slice(WORDS[rng.below(WORDS.len())].as_bytes());
                    src.push(if rng.below(8) == 0 { b'\n' } else { b' ' });
                }
            }
            _ => {
                for _ in 0..256 {
                    counter = counter.wrapping_add(1 + rng.below(3) as u32);
                    src.extend_from_slice(&counter.to_le_bytes());
                    src.extend_from_slice(&(rng.next() as u32 & 0xffff).to_le_bytes());
                    src.extend_from_slice(&[0, 0, 0, 0, 0x10, 0, 0, 0]);
                }
            }
        }
    }
    src.truncate(SYNTHETIC_BYTES);
    // The target: every ~64 KiB an overwrite, insertion or deletion of up to 512 bytes, then one
    // megabyte moved from the first half to the end.
    let mut tgt = Vec::with_capacity(SYNTHETIC_BYTES + SYNTHETIC_BYTES / 64);
    let mut at = 0usize;
    while at < src.len() {
        let step = (32_768 + rng.below(65_536)).min(src.len() - at);
        tgt.extend_from_slice(&src[at..at + step]);
        at += step;
        let n = 1 + rng.below(512);
        match rng.below(3) {
            0 => {
                tgt.extend(rng.bytes(n));
                at = (at + n).min(src.len());
            }
            1 => tgt.extend(rng.bytes(n)),
            _ => at = (at + n).min(src.len()),
        }
    }
    let moved: Vec<u8> = tgt.drain(10_000_000..11_048_576).collect();
    tgt.extend_from_slice(&moved);
    std::fs::write(&source, &src).expect("write synthetic source");
    std::fs::write(&target, &tgt).expect("write synthetic target");
    (source, target)
}

/// The Markdown lines of the figures.
pub fn print(rows: &[DeltaRow]) {
    if rows.is_empty() {
        return;
    }
    println!("\nDeltas (wimpatch delta create/apply vs zstd --patch-from and xdelta3 -e/-d -s; medians):\n");
    println!(
        "| pair | target bytes | ours bytes | /zstd | /xdelta3 | /Microsoft | encode s (zstd, xdelta3) | encode time ratio zstd, xdelta3 | encode peak RSS MiB (zstd, xdelta3) | decode MB/s (zstd, xdelta3) | Microsoft delta decode MB/s | decode peak RSS MiB (Microsoft's delta) | decode memory beyond `delta info` / (source + target), ours (Microsoft's) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mib = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.1}"));
    let opt = |v: Option<f64>, p: usize| v.map_or("n/a".to_string(), |v| format!("{v:.p$}"));
    for r in rows {
        println!(
            "| {} | {} | {} | {:.2} | {:.2} | {} | {:.3} ({:.3}, {:.3}) | {:.2}, {:.2} | {} ({}, {}) | {:.1} ({:.1}, {:.1}) | {} | {} ({}) | {} ({}) |",
            r.pair,
            r.target_bytes,
            r.ours_bytes,
            r.size_ratio_zstd,
            r.size_ratio_xdelta3,
            opt(r.size_ratio_genuine, 2),
            r.encode_s,
            r.zstd_encode_s,
            r.xdelta3_encode_s,
            r.encode_time_ratio_zstd,
            r.encode_time_ratio_xdelta3,
            mib(r.encode_peak_rss_mib),
            mib(r.zstd_encode_peak_rss_mib),
            mib(r.xdelta3_encode_peak_rss_mib),
            r.decode_mb_s,
            r.zstd_decode_mb_s,
            r.xdelta3_decode_mb_s,
            opt(r.genuine_decode_mb_s, 1),
            mib(r.decode_peak_rss_mib),
            mib(r.genuine_decode_peak_rss_mib),
            opt(r.decode_memory_over_inputs, 2),
            opt(r.genuine_decode_memory_over_inputs, 2),
        );
    }
}
