//! Reading an image's installed component manifests (`WinSxS\Manifests\<key-form>.manifest`).
//! Windows 8 and later store them DCM-compressed against a base manifest that the image's own
//! servicing stack carries (`wcp.dll`, `modern-lcu.md` §6): the base is read from that image,
//! once, the first time a compressed manifest is met — never from another build, never embedded.

use std::path::Path;

use cbs::dcm::{base_from_wcp_dll, decode_manifest, DcmKind};
use cbs::manifest::ComponentManifest;

use super::error::Result;
use super::state::MANIFESTS_DIR;
use super::target::Session;
use crate::ops::servicing_stack_version;
use crate::progress::Control;

/// Largest manifest (compressed or not) and `wcp.dll` read.
const MANIFEST_LIMIT: u64 = 16 << 20;
const WCP_LIMIT: u64 = 64 << 20;

/// The image's manifests, read on demand; the DCM base loaded once.
pub(crate) struct ImageManifests {
    /// `None`: not looked for yet; `Some(Err)`: why there is none.
    base: Option<std::result::Result<Vec<u8>, String>>,
}

impl ImageManifests {
    pub(crate) fn new() -> Self {
        ImageManifests { base: None }
    }

    /// Parses the manifests of `key_forms` (fetched into `work`): `None` for one that is absent or
    /// unreadable (the reason is logged).
    pub(crate) fn read(
        &mut self,
        session: &mut Session,
        key_forms: &[String],
        work: &Path,
        control: Control<'_>,
    ) -> Result<Vec<Option<ComponentManifest>>> {
        let paths: Vec<String> = key_forms.iter().map(|k| format!("{MANIFESTS_DIR}/{k}.manifest")).collect();
        let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
        let mut out = Vec::with_capacity(key_forms.len());
        for file in session.fetch(&refs, work, control)? {
            let Some(path) = file else {
                out.push(None);
                continue;
            };
            let shown = path.display().to_string();
            let Ok(bytes) = safe_fs::read_bounded(&path, MANIFEST_LIMIT) else {
                tracing::warn!("{shown}: unreadable or larger than {MANIFEST_LIMIT} bytes");
                out.push(None);
                continue;
            };
            if DcmKind::detect(&bytes) == Some(DcmKind::Dcm) && self.base.is_none() {
                self.base = Some(load_base(session, work, control)?);
            }
            let base = self.base.as_ref().and_then(|b| b.as_ref().ok()).map(Vec::as_slice);
            let parsed = decode_manifest(&bytes, base, &shown)
                .map_err(|e| match &self.base {
                    Some(Err(why)) => format!("{e} ({why})"),
                    _ => e.to_string(),
                })
                .and_then(|text| ComponentManifest::parse(&text, &shown).map_err(|e| e.to_string()));
            match parsed {
                Ok(m) => out.push(Some(m)),
                Err(e) => {
                    tracing::warn!("{e}");
                    out.push(None);
                }
            }
        }
        Ok(out)
    }
}

/// The DCM base of the image's newest servicing stack, or why there is none.
fn load_base(session: &mut Session, work: &Path, control: Control<'_>) -> Result<std::result::Result<Vec<u8>, String>> {
    let Some(names) = session.children("/Windows/WinSxS")? else {
        return Ok(Err("the image has no \\Windows\\WinSxS".into()));
    };
    let mut best = None;
    for name in names {
        let Some(version) = servicing_stack_version(&name) else { continue };
        if best.as_ref().is_some_and(|(v, _)| *v >= version) {
            continue;
        }
        let dir = format!("/Windows/WinSxS/{name}");
        if let Some(dll) =
            session.children(&dir)?.and_then(|c| c.into_iter().find(|f| f.eq_ignore_ascii_case("wcp.dll")))
        {
            best = Some((version, format!("{dir}/{dll}")));
        }
    }
    let Some((_, image_path)) = best else {
        return Ok(Err("the image has no servicing-stack wcp.dll to take the DCM base from".into()));
    };
    let Some(local) = session.fetch(&[image_path.as_str()], &work.join("wcp"), control)?.remove(0) else {
        return Ok(Err(format!("{image_path} could not be read")));
    };
    let dll = match safe_fs::read_bounded(&local, WCP_LIMIT) {
        Ok(dll) => dll,
        Err(e) => return Ok(Err(format!("{image_path}: {e}"))),
    };
    Ok(base_from_wcp_dll(&dll, &image_path).map(<[u8]>::to_vec).map_err(|e| e.to_string()))
}
