//! `manifest decode`: compressed (DCM) WinSxS manifests to XML, with the base from a file, a
//! `wcp.dll`, or an image's servicing stack. Every manifest is decoded and checked (parsed, key
//! form computed) before anything is written.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use servicing::cbs::dcm::{base_from_wcp_dll, decode_dcd, decode_manifest, DcmKind};
use servicing::cbs::key_form;
use servicing::cbs::manifest::ComponentManifest;
use servicing::ops::servicing_stack_wcp_dll;

use super::delta::read_input;
use super::write_out::write_new_file;
use super::Ctx;
use crate::args::ManifestCommand;

/// Largest manifest, base or wcp.dll read.
const MAX_INPUT_BYTES: u64 = 64 << 20;

/// One decoded manifest.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DecodedManifest {
    /// The manifest file (`input`, as every report names the file it read).
    #[serde(rename = "input")]
    pub file: String,
    /// `DCM`, `DCN`, … or `XML` for a plain manifest.
    pub kind: &'static str,
    pub bytes: u64,
    /// The key form of the manifest's identity.
    pub key_form: String,
    /// Whether the file's name (without `.manifest`) is that key form.
    pub name_matches_key_form: bool,
    /// Where the XML was written (with --out-dir).
    pub out: Option<String>,
}

/// What `manifest decode` reports.
#[derive(Debug, serde::Serialize)]
pub struct DecodeReport {
    /// Where the base came from.
    pub base: String,
    pub manifests: Vec<DecodedManifest>,
}

pub fn run(ctx: &Ctx, cmd: ManifestCommand) -> Result<()> {
    let ManifestCommand::Decode { manifests, base, wcp_dll, image, index, out_dir } = cmd;
    if manifests.len() > 1 && out_dir.is_none() && !ctx.global.json {
        bail!("{} manifests: give --out-dir (only one manifest is printed to stdout)", manifests.len());
    }
    let (base_bytes, base_from) = if let Some(path) = &base {
        (read_input(path, MAX_INPUT_BYTES)?, path.display().to_string())
    } else if let Some(path) = &wcp_dll {
        let dll = read_input(path, MAX_INPUT_BYTES)?;
        let base = base_from_wcp_dll(&dll, &path.display().to_string())?.to_vec();
        (base, format!("{} (resource 0x266/1)", path.display()))
    } else if let Some(wim) = &image {
        let dll = servicing_stack_wcp_dll(wim, &index, ctx.engine_scratch()?.as_deref())?;
        let label = format!("{}:{}", wim.display(), dll.image_path);
        let base = base_from_wcp_dll(&dll.bytes, &label)?.to_vec();
        (base, format!("{label} (resource 0x266/1)"))
    } else {
        bail!("give --base, --wcp-dll or --image");
    };

    // Decode and check everything first: nothing is written when one fails.
    let mut decoded: Vec<(PathBuf, DecodedManifest, Vec<u8>)> = Vec::with_capacity(manifests.len());
    for path in &manifests {
        let bytes = read_input(path, MAX_INPUT_BYTES)?;
        let label = path.display().to_string();
        let kind = DcmKind::detect(&bytes).map_or("XML", DcmKind::name);
        // A DCD manifest is a delta against a file it does not name: only a file the user names
        // with --base can be its source.
        let xml = if DcmKind::detect(&bytes) == Some(DcmKind::Dcd) && base.is_some() {
            decode_dcd(&bytes, &base_bytes, &label)?
        } else {
            decode_manifest(&bytes, Some(&base_bytes), &label)?.into_owned()
        };
        let manifest = ComponentManifest::parse(&xml, &label)
            .with_context(|| format!("{label}: the decoded manifest is not a valid manifest (wrong base?)"))?;
        let key = key_form(&manifest.identity);
        let stem = file_stem(path);
        decoded.push((
            path.clone(),
            DecodedManifest {
                file: label,
                kind,
                bytes: xml.len() as u64,
                name_matches_key_form: stem.eq_ignore_ascii_case(&key),
                key_form: key,
                out: None,
            },
            xml,
        ));
    }

    if let Some(dir) = &out_dir {
        safe_fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
        for (path, report, xml) in &mut decoded {
            let out = dir.join(format!("{}.xml", file_stem(path)));
            write_new_file(&out, xml)?;
            report.out = Some(out.display().to_string());
        }
    }
    let report = DecodeReport { base: base_from, manifests: decoded.iter().map(|(_, r, _)| r.clone()).collect() };
    if out_dir.is_none() && !ctx.global.json {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        out.write_all(&decoded[0].2)?;
        return Ok(());
    }
    ctx.print(&report, || {
        report
            .manifests
            .iter()
            .map(|m| format!("{} ({}): {} -> {}\n", m.file, m.kind, m.key_form, m.out.as_deref().unwrap_or("-")))
            .collect()
    })
}

/// The file name without a `.manifest` extension.
fn file_stem(path: &Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    match name.len().checked_sub(".manifest".len()) {
        Some(cut) if name[cut..].eq_ignore_ascii_case(".manifest") => name[..cut].to_owned(),
        _ => name,
    }
}
