//! `delta info|apply|create|reverse`: the MSDelta toolbox image engineers otherwise need Windows
//! for. Inputs are read whole (bounded by the delta limits); outputs are written only after the
//! work succeeded ([`write_new_file`]).

use std::fmt::Write as _;
use std::io::Read as _;
use std::path::Path;

use anyhow::{bail, Context as _, Result};
use servicing::cbs::delta::{
    apply_pa30_consuming, codec_of, create_joined, file_type_names, flag_names, hex, parse_header, reverse,
    CreateOptions, DeltaFormat, DeltaLimits,
};

use super::write_out::write_new_file;
use super::Ctx;
use crate::args::{DeltaCommand, DeltaFormatArg, DeltaHashArg};

/// What `delta info` reports.
#[derive(Debug, serde::Serialize)]
pub struct DeltaInfoReport {
    /// The delta file (`input`, as every report names the file it read).
    #[serde(rename = "input")]
    pub file: String,
    pub magic: &'static str,
    /// The CRC32 prefix before the signature (checked), hex, if any.
    pub crc_prefix: Option<String>,
    pub target_file_time: u64,
    pub file_type_set: u64,
    pub file_type_set_names: Vec<String>,
    pub file_type: u64,
    pub file_type_names: Vec<String>,
    pub flags: u64,
    pub flag_names: Vec<String>,
    pub reverse: bool,
    pub target_size: u64,
    pub hash_alg_id: u32,
    pub hash_algorithm: Option<&'static str>,
    pub target_hash: String,
    pub codec: &'static str,
    pub pa31: Option<Pa31Report>,
}

/// The PA31 header extras.
#[derive(Debug, serde::Serialize)]
pub struct Pa31Report {
    pub header_info_size: u64,
    pub is_pa31: u64,
    pub client_min_version: u64,
    pub additional_hash: String,
}

/// What `delta apply|create|reverse` report.
#[derive(Debug, serde::Serialize)]
pub struct DeltaWriteReport {
    pub action: &'static str,
    pub out: String,
    pub bytes: u64,
    /// `reverse --target`: where the new file went.
    pub target: Option<String>,
}

pub fn run(ctx: &Ctx, cmd: DeltaCommand) -> Result<()> {
    let limits = DeltaLimits::default();
    match cmd {
        DeltaCommand::Info { delta } => {
            let bytes = read_input(&delta, limits.max_delta_bytes)?;
            let report = info(&delta, &bytes)?;
            ctx.print(&report, || info_text(&report))
        }
        DeltaCommand::Apply { delta, source, out } => {
            let d = read_input(&delta, limits.max_delta_bytes)?;
            let s = match &source {
                Some(p) => read_input(p, limits.max_source_bytes)?,
                None => Vec::new(),
            };
            // The source is not needed afterwards: decoded in place, no second source-sized buffer.
            let target =
                apply_pa30_consuming(s, &d, &limits).with_context(|| format!("{}: cannot apply", delta.display()))?;
            write_new_file(&out, &target)?;
            report(ctx, "applied", &out, &target, None)
        }
        DeltaCommand::Create { source, target, out, format, hash } => {
            // One buffer for both: the encoder matches over source then target, and reading them
            // into it spares a joined copy (memory: the inputs once, plus the encoder's bounded table).
            let (joined, source_len) = read_joined(&source, limits.max_source_bytes, &target, limits.max_target_bytes)?;
            let options = CreateOptions {
                format: match format {
                    DeltaFormatArg::Pa30 => DeltaFormat::Pa30,
                    DeltaFormatArg::Pa31 => DeltaFormat::Pa31,
                },
                sha256: hash == DeltaHashArg::Sha256,
                target_file_time: file_time(&target),
                ..CreateOptions::default()
            };
            let d = create_joined(&joined, source_len, &options, &limits)
                .with_context(|| format!("{} -> {}: cannot create a delta", source.display(), target.display()))?;
            write_new_file(&out, &d)?;
            report(ctx, "created", &out, &d, None)
        }
        DeltaCommand::Reverse { delta, source, out, target } => {
            let d = read_input(&delta, limits.max_delta_bytes)?;
            let s = read_input(&source, limits.max_source_bytes)?;
            let options = CreateOptions { target_file_time: file_time(&source), ..CreateOptions::default() };
            let reversed =
                reverse(&s, &d, &options, &limits).with_context(|| format!("{}: cannot reverse", delta.display()))?;
            if let Some(t) = &target {
                write_new_file(t, &reversed.target)?;
            }
            write_new_file(&out, &reversed.delta)?;
            report(ctx, "reversed", &out, &reversed.delta, target.as_deref())
        }
    }
}

fn report(ctx: &Ctx, action: &'static str, out: &Path, bytes: &[u8], target: Option<&Path>) -> Result<()> {
    let r = DeltaWriteReport {
        action,
        out: out.display().to_string(),
        bytes: bytes.len() as u64,
        target: target.map(|t| t.display().to_string()),
    };
    ctx.print(&r, || format!("{}: {} ({} bytes)\n", r.action, r.out, r.bytes))
}

/// The header of a delta, with names.
fn info(path: &Path, bytes: &[u8]) -> Result<DeltaInfoReport> {
    let h = parse_header(bytes).with_context(|| format!("{}: not a readable delta", path.display()))?;
    let codec = codec_of(bytes).with_context(|| format!("{}: not a readable delta", path.display()))?;
    Ok(DeltaInfoReport {
        file: path.display().to_string(),
        magic: h.format.magic(),
        crc_prefix: h.crc_prefix.map(|c| format!("{c:08x}")),
        target_file_time: h.target_file_time,
        file_type_set: h.file_type_set,
        file_type_set_names: file_type_names(h.file_type_set),
        file_type: h.file_type,
        file_type_names: file_type_names(h.file_type),
        flags: h.flags,
        flag_names: flag_names(h.flags),
        reverse: h.is_reverse(),
        target_size: h.target_size,
        hash_alg_id: h.hash_alg_id,
        hash_algorithm: h.hash_algorithm_name(),
        target_hash: hex(&h.target_hash),
        codec: codec.name(),
        pa31: h.pa31.as_ref().map(|p| Pa31Report {
            header_info_size: p.header_info_size,
            is_pa31: p.is_pa31,
            client_min_version: p.client_min_version,
            additional_hash: hex(&p.additional_hash),
        }),
    })
}

fn info_text(r: &DeltaInfoReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Delta          : {}", r.file);
    let _ = writeln!(s, "Format         : {}", r.magic);
    let _ = writeln!(s, "CRC32 prefix   : {}", r.crc_prefix.as_deref().unwrap_or("none"));
    let _ = writeln!(s, "File type set  : 0x{:x} ({})", r.file_type_set, r.file_type_set_names.join(" | "));
    let _ = writeln!(s, "File type      : 0x{:x} ({})", r.file_type, r.file_type_names.join(" | "));
    let _ = writeln!(s, "Flags          : 0x{:x} ({})", r.flags, r.flag_names.join(" | "));
    let _ = writeln!(s, "Reverse        : {}", if r.reverse { "yes" } else { "no" });
    let _ = writeln!(s, "Target size    : {}", r.target_size);
    let _ = writeln!(s, "Target time    : {}", r.target_file_time);
    match r.hash_algorithm {
        Some(name) => {
            let _ = writeln!(s, "Target hash    : {name} {}", r.target_hash);
        }
        None if r.hash_alg_id == 0 => {
            let _ = writeln!(s, "Target hash    : none");
        }
        None => {
            let _ = writeln!(s, "Target hash    : algorithm 0x{:x} {}", r.hash_alg_id, r.target_hash);
        }
    }
    let _ = writeln!(s, "Codec          : {}", r.codec);
    if let Some(p) = &r.pa31 {
        let _ = writeln!(
            s,
            "PA31 header    : info size 0x{:x}, IsPa31 {}, client min version {}, additional hash {}",
            p.header_info_size,
            p.is_pa31,
            p.client_min_version,
            if p.additional_hash.is_empty() { "none" } else { &p.additional_hash }
        );
    }
    s
}

/// Reads a whole input file, refusing one larger than `max` bytes before reading it.
pub fn read_input(path: &Path, max: u64) -> Result<Vec<u8>> {
    let meta = std::fs::metadata(path).with_context(|| format!("{}: cannot read", path.display()))?;
    if !meta.is_file() {
        bail!("{}: not a regular file", path.display());
    }
    if meta.len() > max {
        bail!("{}: {} bytes, more than the limit of {max}", path.display(), meta.len());
    }
    std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))
}

/// Two files read one after the other into one buffer, sized once: (bytes, length of the first).
fn read_joined(first: &Path, first_max: u64, second: &Path, second_max: u64) -> Result<(Vec<u8>, usize)> {
    let size = |path: &Path, max: u64| -> Result<u64> {
        let meta = std::fs::metadata(path).with_context(|| format!("{}: cannot read", path.display()))?;
        if !meta.is_file() {
            bail!("{}: not a regular file", path.display());
        }
        if meta.len() > max {
            bail!("{}: {} bytes, more than the limit of {max}", path.display(), meta.len());
        }
        Ok(meta.len())
    };
    let (a, b) = (size(first, first_max)?, size(second, second_max)?);
    let mut joined = Vec::with_capacity(usize::try_from(a.saturating_add(b)).context("inputs too large")?);
    for (path, len) in [(first, a), (second, b)] {
        let file = std::fs::File::open(path).with_context(|| format!("{}: cannot read", path.display()))?;
        let at = joined.len();
        file.take(len).read_to_end(&mut joined).with_context(|| format!("{}: cannot read", path.display()))?;
        if (joined.len() - at) as u64 != len {
            bail!("{}: changed while it was read", path.display());
        }
    }
    Ok((joined, a as usize))
}

/// A file's modification time as a FILETIME (0 when unknown).
fn file_time(path: &Path) -> u64 {
    const UNIX_EPOCH_AS_FILETIME: u64 = 116_444_736_000_000_000;
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| UNIX_EPOCH_AS_FILETIME + d.as_nanos() as u64 / 100)
}
