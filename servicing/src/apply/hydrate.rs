//! PSFX hydration (`modern-lcu.md` §4): a Windows 10 1809+ / Windows 11 cumulative update ships a
//! changed file not whole but as a differential against the file's **RTM** version —
//! `<key-form>\f\<file>` (forward, RTM → new), with `<key-form>\r\<file>` (reverse, new → RTM) on
//! Windows 10 — or as `<key-form>\n\<file>` (null: the whole file, delta-compressed against
//! nothing), in the cab or in its `.psf`. The RTM base comes from the image: the installed version
//! of the same component family, turned back into RTM with its own `r\<file>` when it has one.
//!
//! Every hydrated file is checked against its manifest's SHA-256 before it is staged. What Windows
//! keeps is staged beside it: the full file in `WinSxS\<key-form>\`, the forward delta in `f\`, the
//! reverse delta in `r\` (the package's, or one made here for a `ForwardOnly` package, which ships
//! none: the next update needs it to get back to RTM), a null differential in `n\`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use cbs::container::member_key;
use cbs::delta::{apply_pa30, create, CreateOptions, DeltaLimits};
use cbs::package::Package;
use sha2::{Digest, Sha256};

use super::error::{Error, Result};
use super::inventory::{parse_key_form, Inventory};
use super::target::{resolve_ci, Session};
use crate::progress::Control;
use cbs::hex::hex;

/// The differential forms, as the folder names under a component's WinSxS folder.
pub(crate) const FORWARD: &str = "f";
/// Reverse differentials.
pub(crate) const REVERSE: &str = "r";
/// Null differentials.
pub(crate) const NULL: &str = "n";

/// The image path of a component's WinSxS folder.
fn sxs(key_form: &str) -> String {
    format!("/Windows/WinSxS/{key_form}")
}

/// `<key-form>/<form>/<file>`: where a package (and WinSxS) keeps a differential of `file`.
pub(crate) fn differential_name(key_form: &str, form: &str, file: &str) -> String {
    format!("{key_form}/{form}/{file}")
}

/// Where the differentials of one payload are in the package (member names, or `.psf` file
/// names when `in_psf`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Differentials {
    pub forward: Option<String>,
    pub reverse: Option<String>,
    pub null: Option<String>,
}

impl Differentials {
    /// The differentials `unit` holds for `<key_form>/<file>` (in the cab first, then the `.psf`);
    /// `None` when it holds neither a forward nor a null one.
    pub(crate) fn find(unit: &Package, key_form: &str, file: &str) -> Option<Differentials> {
        let find = |form: &str| {
            let name = differential_name(key_form, form, file);
            unit.member_for(&name).or_else(|| unit.psf_payloads.contains(&member_key(&name)).then_some(name))
        };
        let d = Differentials { forward: find(FORWARD), reverse: find(REVERSE), null: find(NULL) };
        (d.forward.is_some() || d.null.is_some()).then_some(d)
    }
}

/// One payload to hydrate.
pub(crate) struct HydrateJob {
    /// `<key-form>` of the component being installed.
    pub key_form: String,
    /// The file inside it (`/`-separated).
    pub file: String,
    /// The manifest's SHA-256.
    pub sha256: [u8; 32],
    /// Where the full file is staged.
    pub dest: PathBuf,
    /// The component's staged WinSxS folder (its `f\`, `r\`, `n\` go below it).
    pub folder: PathBuf,
    /// Its differentials in the package.
    pub found: Differentials,
}

/// Files of the image as this run sees them: this run's earlier stages (newest first) over the
/// image itself.
pub(crate) struct ImageFiles<'a> {
    pub session: &'a mut Session,
    pub stages: &'a [PathBuf],
    pub inventory: &'a Inventory,
    /// Where image files are copied to be read.
    pub into: PathBuf,
    pub control: Control<'a>,
}

impl ImageFiles<'_> {
    /// Reads `paths` (image paths, `/Windows/…`); absent ones are missing from the map.
    fn read(&mut self, paths: &[String], limit: u64) -> Result<HashMap<String, Vec<u8>>> {
        let mut found: HashMap<String, PathBuf> = HashMap::new();
        let mut from_image: Vec<&str> = Vec::new();
        'paths: for p in paths {
            for stage in self.stages.iter().rev() {
                if let Some(local) = resolve_ci(stage, p.trim_start_matches('/'))? {
                    if local.is_file() {
                        found.insert(p.clone(), local);
                        continue 'paths;
                    }
                }
            }
            from_image.push(p);
        }
        if !from_image.is_empty() {
            let fetched = self.session.fetch(&from_image, &self.into, self.control)?;
            for (p, local) in from_image.iter().zip(fetched) {
                if let Some(local) = local {
                    found.insert((*p).to_owned(), local);
                }
            }
        }
        let mut out = HashMap::new();
        for (p, local) in found {
            let bytes = safe_fs::read_bounded(&local, limit).map_err(Error::io(&local, "cannot read image file"))?;
            out.insert(p, bytes);
        }
        Ok(out)
    }
}

/// Why a payload could not be hydrated.
fn failure(unit: &Package, job: &HydrateJob, reason: String) -> Error {
    Error::Hydration { package: unit.label.clone(), component: job.key_form.clone(), file: job.file.clone(), reason }
}

/// The RTM bases of `jobs` that need one (a forward differential): key `<key-form>/<file>` →
/// (RTM bytes, the installed key form they came from).
fn rtm_bases(
    unit: &Package,
    jobs: &[HydrateJob],
    image: &mut ImageFiles<'_>,
    limits: &DeltaLimits,
) -> Result<HashMap<String, (Vec<u8>, String)>> {
    // The installed version each forward differential starts from.
    let mut installed: Vec<(usize, String)> = Vec::new();
    let mut wanted: Vec<String> = Vec::new();
    for (i, job) in jobs.iter().enumerate().filter(|(_, j)| j.found.forward.is_some()) {
        let new = parse_key_form(&job.key_form)
            .ok_or_else(|| failure(unit, job, "the component's key form cannot be parsed".into()))?;
        let Some(old) = image.inventory.below(&new.family, new.version) else {
            return Err(failure(
                unit,
                job,
                format!(
                    "the package ships a forward differential from RTM, and the image has no earlier version of {} \
                     {} to take the RTM base from",
                    new.family.arch, new.family.name
                ),
            ));
        };
        wanted.push(format!("{}/{}", sxs(&old), job.file));
        wanted.push(format!("{}/{REVERSE}/{}", sxs(&old), job.file));
        installed.push((i, old));
    }
    if installed.is_empty() {
        return Ok(HashMap::new());
    }
    let files = image.read(&wanted, limits.max_source_bytes)?;
    let mut out = HashMap::new();
    for (i, old) in installed {
        let job = &jobs[i];
        let file_path = format!("{}/{}", sxs(&old), job.file);
        let reverse_path = format!("{}/{REVERSE}/{}", sxs(&old), job.file);
        let Some(current) = files.get(&file_path) else {
            return Err(failure(
                unit,
                job,
                format!("the RTM base is missing: the installed version {old} has no {}", job.file),
            ));
        };
        let rtm = match files.get(&reverse_path) {
            // The installed version is a later one: its reverse differential leads back to RTM.
            Some(reverse) => apply_pa30(current, reverse, limits).map_err(|e| {
                failure(
                    unit,
                    job,
                    format!("the installed version {old}'s reverse differential r\\{} fails: {e}", job.file),
                )
            })?,
            // No reverse differential: the installed version is RTM itself.
            None => current.clone(),
        };
        out.insert(format!("{}/{}", job.key_form, job.file), (rtm, old));
    }
    Ok(out)
}

/// Hydrates `jobs`: the differentials read from the package (`diffs`: name → bytes), the RTM bases
/// from `image`; each full file checked against its manifest digest, then staged with the
/// differentials Windows keeps. Returns the staged full files' (SHA-256, length) by job index.
pub(crate) fn hydrate(
    unit: &Package,
    jobs: &[HydrateJob],
    diffs: &HashMap<String, Vec<u8>>,
    image: &mut ImageFiles<'_>,
    write: &mut dyn FnMut(&Path, &[u8]) -> Result<()>,
    log: &mut Vec<String>,
) -> Result<Vec<([u8; 32], u64)>> {
    let limits = DeltaLimits::default();
    let bases = rtm_bases(unit, jobs, image, &limits)?;
    let mut out = Vec::with_capacity(jobs.len());
    for job in jobs {
        let bytes = |name: &Option<String>| -> Result<Option<&Vec<u8>>> {
            match name {
                None => Ok(None),
                Some(n) => diffs
                    .get(&member_key(n))
                    .map(Some)
                    .ok_or_else(|| failure(unit, job, format!("the differential {n} was not read from the package"))),
            }
        };
        let (full, how, rtm) = match (bytes(&job.found.forward)?, bytes(&job.found.null)?) {
            (Some(forward), _) => {
                let (rtm, old) = &bases[&format!("{}/{}", job.key_form, job.file)];
                let full = apply_pa30(rtm, forward, &limits).map_err(|e| {
                    failure(unit, job, format!("the forward differential against the RTM base from {old} fails: {e}"))
                })?;
                (full, format!("forward differential against RTM from {old}"), Some(rtm))
            }
            (None, Some(null)) => {
                let full = apply_pa30(&[], null, &limits)
                    .map_err(|e| failure(unit, job, format!("the null differential fails: {e}")))?;
                (full, "null differential".to_owned(), None)
            }
            (None, None) => return Err(failure(unit, job, "no forward or null differential".into())),
        };
        let digest: [u8; 32] = Sha256::digest(&full).into();
        if digest != job.sha256 {
            let base = if rtm.is_some() {
                "; the image's base file is not the RTM version the differential was made against"
            } else {
                ""
            };
            return Err(failure(
                unit,
                job,
                format!(
                    "hydrated from the {how}, SHA-256 {} where the manifest wants {}{base}",
                    hex(&digest),
                    hex(&job.sha256)
                ),
            ));
        }
        let beside = |form: &str| job.folder.join(form).join(&job.file);
        write(&job.dest, &full)?;
        if let Some(forward) = bytes(&job.found.forward)? {
            write(&beside(FORWARD), forward)?;
        }
        if let Some(null) = bytes(&job.found.null)? {
            write(&beside(NULL), null)?;
        }
        if let Some(rtm) = rtm {
            let reverse = match bytes(&job.found.reverse)? {
                // The package's own: it must lead back to the RTM base this image has.
                Some(reverse) => {
                    let back = apply_pa30(&full, reverse, &limits)
                        .map_err(|e| failure(unit, job, format!("the package's reverse differential fails: {e}")))?;
                    if back != *rtm {
                        return Err(failure(
                            unit,
                            job,
                            "the package's reverse differential does not lead back to the RTM base".into(),
                        ));
                    }
                    reverse.clone()
                }
                // A ForwardOnly package: made here, so the next update can get back to RTM.
                None => {
                    let made = create(&full, rtm, &CreateOptions::default(), &limits)
                        .map_err(|e| failure(unit, job, format!("cannot make its reverse differential: {e}")))?;
                    log.push(format!("CSI: made reverse differential r\\{} of {}", job.file, job.key_form));
                    made
                }
            };
            write(&beside(REVERSE), &reverse)?;
        }
        log.push(format!("CSI: hydrated {}/{} from its {how} (sha256 {})", job.key_form, job.file, hex(&digest)));
        out.push((digest, full.len() as u64));
    }
    Ok(out)
}
