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
use cbs::delta::{apply_pa30, create, parse_header, CreateOptions, DeltaLimits};
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
        let mut out = HashMap::new();
        let mut from_image: Vec<&str> = Vec::new();
        'paths: for p in paths {
            for stage in self.stages.iter().rev() {
                if let Some(local) = resolve_ci(stage, p.trim_start_matches('/'))? {
                    if local.is_file() {
                        let bytes = safe_fs::read_bounded(&local, limit)
                            .map_err(Error::io(&local, "cannot read image file"))?;
                        out.insert(p.clone(), bytes);
                        continue 'paths;
                    }
                }
            }
            from_image.push(p);
        }
        if !from_image.is_empty() {
            let read = self.session.read_files(&from_image, limit, &self.into, self.control)?;
            for (p, bytes) in from_image.iter().zip(read) {
                if let Some(bytes) = bytes {
                    out.insert((*p).to_owned(), bytes);
                }
            }
        }
        Ok(out)
    }
}

/// Why a payload could not be hydrated.
fn failure(package: &str, job: &HydrateJob, reason: String) -> Error {
    Error::Hydration { package: package.to_owned(), component: job.key_form.clone(), file: job.file.clone(), reason }
}

/// A file a forward differential may be relative to.
struct Base {
    bytes: Vec<u8>,
    /// Where it came from, for logs and errors.
    what: String,
}

/// The bases of `jobs` that need one (a forward differential), in the order they are tried, by
/// `<key-form>/<file>`: the RTM version (the installed file taken back with its own `r\`, or the
/// installed file when it has none), then — after a checkpoint cumulative update, whose successors
/// are differentials against the checkpoint's files (`modern-lcu.md` §4 item 30) — the installed
/// file itself.
fn bases(
    unit: &Package,
    jobs: &[HydrateJob],
    image: &mut ImageFiles<'_>,
    limits: &DeltaLimits,
) -> Result<HashMap<String, Vec<Base>>> {
    // The installed version each forward differential starts from.
    let mut installed: Vec<(usize, String)> = Vec::new();
    let mut wanted: Vec<String> = Vec::new();
    for (i, job) in jobs.iter().enumerate().filter(|(_, j)| j.found.forward.is_some()) {
        let new = parse_key_form(&job.key_form)
            .ok_or_else(|| failure(&unit.label, job, "the component's key form cannot be parsed".into()))?;
        let Some(old) = image.inventory.below(&new.family, new.version) else {
            return Err(failure(
                &unit.label,
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
    let mut files = image.read(&wanted, limits.max_source_bytes)?;
    let mut out = HashMap::new();
    for (i, old) in installed {
        let job = &jobs[i];
        let file_path = format!("{}/{}", sxs(&old), job.file);
        let reverse_path = format!("{}/{REVERSE}/{}", sxs(&old), job.file);
        // Taken out of the map, not copied: bases are most of the memory hydration holds.
        let Some(current) = files.remove(&file_path) else {
            return Err(failure(
                &unit.label,
                job,
                format!("the RTM base is missing: the installed version {old} has no {}", job.file),
            ));
        };
        let mut candidates = Vec::new();
        match files.get(&reverse_path) {
            // The installed version is a later one: its reverse differential leads back to RTM.
            Some(reverse) => {
                match apply_pa30(&current, reverse, limits) {
                    Ok(rtm) => candidates.push(Base { bytes: rtm, what: format!("RTM (from {old} and its r\\)") }),
                    Err(e) => tracing::warn!("{old}: reverse differential r\\{} fails: {e}", job.file),
                }
                candidates.push(Base { bytes: current, what: format!("{old} (a checkpoint's file)") });
            }
            // No reverse differential: the installed version is RTM itself.
            None => candidates.push(Base { bytes: current, what: format!("RTM ({old})") }),
        }
        out.insert(format!("{}/{}", job.key_form, job.file), candidates);
    }
    Ok(out)
}

/// Bytes of hydrated files (as their differentials declare them) whose bases are read from the
/// image together: one extraction per batch, and at most about this much of the image's files held
/// at once, so a cumulative update of thousands of files hydrates in bounded memory.
const BATCH_BYTES: u64 = 16 << 20;

/// `jobs` cut into consecutive batches of about `limit` bytes of targets (at least one job each).
fn batches<'j>(jobs: &'j [HydrateJob], diffs: &HashMap<String, Vec<u8>>, limit: u64) -> Vec<&'j [HydrateJob]> {
    let target_size = |job: &HydrateJob| {
        let forward = job.found.forward.as_ref().and_then(|n| diffs.get(&member_key(n)));
        // A null differential needs no base; an unreadable header fails later, with its reason.
        forward.and_then(|d| parse_header(d).ok()).map_or(0, |h| h.target_size)
    };
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0u64);
    for (i, job) in jobs.iter().enumerate() {
        bytes = bytes.saturating_add(target_size(job));
        if bytes >= limit || i + 1 == jobs.len() {
            out.push(&jobs[start..=i]);
            (start, bytes) = (i + 1, 0);
        }
    }
    out
}

/// Hydrates `jobs`: the differentials read from the package (`diffs`: name → bytes), the RTM bases
/// from `image`, a batch at a time; each full file checked against its manifest digest, then staged
/// with the differentials Windows keeps. Returns the staged full files' (SHA-256, length) by job
/// index.
///
/// The files of a batch are hydrated (their reverse differentials made) and written on every core
/// while this thread reads the next batch's bases from the image, so reading the image, the delta
/// work and creating the staged files (what costs most on some filesystems) overlap. Failures are
/// reported in job order and the log is in job order, so the result is the same as one at a time;
/// a later job's files may already be staged when an earlier one fails, which the failed run's
/// scratch removal discards.
pub(crate) fn hydrate(
    unit: &Package,
    jobs: &[HydrateJob],
    diffs: &HashMap<String, Vec<u8>>,
    image: &mut ImageFiles<'_>,
    write: &(dyn Fn(&Path, &[u8]) -> Result<()> + Sync),
    log: &mut Vec<String>,
) -> Result<Vec<([u8; 32], u64)>> {
    let limits = DeltaLimits::default();
    let label = unit.label.as_str();
    let batches = batches(jobs, diffs, BATCH_BYTES);
    let mut out = Vec::with_capacity(jobs.len());
    let mut next = match batches.first() {
        Some(first) => Some(bases(unit, first, image, &limits)?),
        None => None,
    };
    for (i, batch) in batches.iter().enumerate() {
        let current = next.take().unwrap_or_default();
        let stage = |job: &HydrateJob| -> Result<Staged> {
            let h = hydrate_one(label, job, diffs, &current, &limits)?;
            let beside = |form: &str| job.folder.join(form).join(&job.file);
            write(&job.dest, &h.full)?;
            for (form, bytes) in [(FORWARD, h.forward), (NULL, h.null), (REVERSE, h.reverse.as_deref())] {
                if let Some(bytes) = bytes {
                    write(&beside(form), bytes)?;
                }
            }
            Ok(Staged { digest: h.digest, len: h.full.len() as u64, how: h.how, reverse_made: h.reverse_made })
        };
        let (done, upcoming) = std::thread::scope(|s| {
            let workers = s.spawn(|| in_parallel(batch, stage));
            let upcoming = batches.get(i + 1).map(|b| bases(unit, b, image, &limits));
            (workers.join().unwrap_or_else(|p| std::panic::resume_unwind(p)), upcoming)
        });
        for (job, result) in batch.iter().zip(done) {
            let h = result?;
            if h.reverse_made {
                log.push(format!("CSI: made reverse differential r\\{} of {}", job.file, job.key_form));
            }
            log.push(format!(
                "CSI: hydrated {}/{} from its {} (sha256 {})",
                job.key_form,
                job.file,
                h.how,
                hex(&h.digest)
            ));
            out.push((h.digest, h.len));
        }
        next = upcoming.transpose()?;
    }
    Ok(out)
}

/// What staging one hydrated file leaves for the log and the caller.
struct Staged {
    digest: [u8; 32],
    len: u64,
    how: String,
    reverse_made: bool,
}

/// `f` of every item, on up to as many threads as there are cores, in `items`' order.
fn in_parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(items.len());
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    // Each thread takes the next item: files differ in size by orders of magnitude.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut slots: Vec<Option<R>> = std::iter::repeat_with(|| None).take(items.len()).collect();
    let done: Vec<Vec<(usize, R)>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        mine.push((i, f(item)));
                    }
                    mine
                })
            })
            .collect();
        // A panic in a worker is a bug: carried on to the caller as one.
        workers.into_iter().map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
    });
    for (i, r) in done.into_iter().flatten() {
        slots[i] = Some(r);
    }
    slots.into_iter().map(|r| r.expect("every item was taken by a worker")).collect()
}

/// One payload hydrated and checked, not yet written.
struct Hydrated<'d> {
    full: Vec<u8>,
    digest: [u8; 32],
    /// How it was hydrated, for the log.
    how: String,
    /// The differentials kept beside it.
    forward: Option<&'d [u8]>,
    null: Option<&'d [u8]>,
    reverse: Option<Vec<u8>>,
    /// The reverse differential was made here (a ForwardOnly package ships none).
    reverse_made: bool,
}

/// Hydrates one job (its base, if it needs one, in `bases`) and checks it; nothing is written.
fn hydrate_one<'d>(
    package: &str,
    job: &HydrateJob,
    diffs: &'d HashMap<String, Vec<u8>>,
    bases: &HashMap<String, Vec<Base>>,
    limits: &DeltaLimits,
) -> Result<Hydrated<'d>> {
    let bytes = |name: &Option<String>| -> Result<Option<&'d [u8]>> {
        match name {
            None => Ok(None),
            Some(n) => diffs
                .get(&member_key(n))
                .map(|d| Some(d.as_slice()))
                .ok_or_else(|| failure(package, job, format!("the differential {n} was not read from the package"))),
        }
    };
    let (forward, null) = (bytes(&job.found.forward)?, bytes(&job.found.null)?);
    let (full, digest, how, rtm) = match (forward, null) {
        (Some(forward), _) => {
            // The first base whose result is the file the manifest names.
            let mut tried = Vec::new();
            let mut hit = None;
            for base in &bases[&format!("{}/{}", job.key_form, job.file)] {
                match apply_pa30(&base.bytes, forward, limits) {
                    Ok(full) => {
                        let digest: [u8; 32] = Sha256::digest(&full).into();
                        if digest == job.sha256 {
                            hit = Some((full, digest, base));
                            break;
                        }
                        tried.push(format!(
                            "against {} gives SHA-256 {} where the manifest wants {}",
                            base.what,
                            hex(&digest),
                            hex(&job.sha256)
                        ));
                    }
                    Err(e) => tried.push(format!("against {} fails: {e}", base.what)),
                }
            }
            let Some((full, digest, base)) = hit else {
                return Err(failure(
                    package,
                    job,
                    format!(
                        "the forward differential {}: the image's base file is not the version the differential \
                             was made against (the RTM file changed, or a checkpoint update it needs is missing)",
                        tried.join("; ")
                    ),
                ));
            };
            (full, digest, format!("forward differential against {}", base.what), Some(&base.bytes))
        }
        (None, Some(null)) => {
            let full = apply_pa30(&[], null, limits)
                .map_err(|e| failure(package, job, format!("the null differential fails: {e}")))?;
            let digest: [u8; 32] = Sha256::digest(&full).into();
            (full, digest, "null differential".to_owned(), None)
        }
        (None, None) => return Err(failure(package, job, "no forward or null differential".into())),
    };
    if digest != job.sha256 {
        let base = if rtm.is_some() {
            "; the image's base file is not the RTM version the differential was made against"
        } else {
            ""
        };
        return Err(failure(
            package,
            job,
            format!(
                "hydrated from the {how}, SHA-256 {} where the manifest wants {}{base}",
                hex(&digest),
                hex(&job.sha256)
            ),
        ));
    }
    let (mut reverse, mut reverse_made) = (None, false);
    if let Some(rtm) = rtm {
        reverse = Some(match bytes(&job.found.reverse)? {
            // The package's own: it must lead back to the RTM base this image has.
            Some(reverse) => {
                let back = apply_pa30(&full, reverse, limits)
                    .map_err(|e| failure(package, job, format!("the package's reverse differential fails: {e}")))?;
                if back != *rtm {
                    return Err(failure(
                        package,
                        job,
                        "the package's reverse differential does not lead back to the RTM base".into(),
                    ));
                }
                reverse.to_vec()
            }
            // A ForwardOnly package: made here, so the next update can get back to RTM.
            None => {
                reverse_made = true;
                create(&full, rtm, &CreateOptions::default(), limits)
                    .map_err(|e| failure(package, job, format!("cannot make its reverse differential: {e}")))?
            }
        });
    }
    Ok(Hydrated { full, digest, how, forward, null, reverse, reverse_made })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(n: usize, forward: bool) -> HydrateJob {
        let name = format!("amd64_c{n}/f{n}.dll");
        let found = if forward {
            Differentials { forward: Some(format!("amd64_c{n}/{FORWARD}/f{n}.dll")), ..Differentials::default() }
        } else {
            Differentials { null: Some(format!("amd64_c{n}/{NULL}/f{n}.dll")), ..Differentials::default() }
        };
        HydrateJob {
            key_form: format!("amd64_c{n}"),
            file: format!("f{n}.dll"),
            sha256: [0; 32],
            dest: PathBuf::from(&name),
            folder: PathBuf::from(format!("amd64_c{n}")),
            found,
        }
    }

    /// Bases were all read at once before batches: a 200 MB update held 400 MB of them.
    #[test]
    fn hydration_batches_cover_every_job_in_order_within_the_byte_limit() {
        let limits = DeltaLimits::default();
        let sizes = [100usize, 200, 50, 400, 10, 0];
        let jobs: Vec<HydrateJob> = sizes.iter().enumerate().map(|(n, &size)| job(n, size > 0)).collect();
        let mut diffs = HashMap::new();
        for (j, &size) in jobs.iter().zip(&sizes) {
            if let Some(name) = &j.found.forward {
                let target = vec![7u8; size];
                diffs.insert(member_key(name), create(&[], &target, &CreateOptions::default(), &limits).unwrap());
            }
        }
        let cut = batches(&jobs, &diffs, 250);
        let lens: Vec<usize> = cut.iter().map(|b| b.len()).collect();
        // 100 + 200 reaches the limit, then 50 + 400, then the rest (a null differential counts 0).
        assert_eq!(lens, [2, 2, 2]);
        let order: Vec<&str> = cut.iter().flat_map(|b| b.iter().map(|j| j.file.as_str())).collect();
        assert_eq!(order, jobs.iter().map(|j| j.file.as_str()).collect::<Vec<_>>());
        assert!(batches(&jobs[..0], &diffs, 250).is_empty());
        assert_eq!(batches(&jobs, &diffs, 1).len(), jobs.len(), "every job reaches a 1-byte limit on its own");
    }

    #[test]
    fn in_parallel_keeps_the_order_of_its_items() {
        let items: Vec<u64> = (0..1000).collect();
        let doubled = in_parallel(&items, |x| x * 2);
        assert_eq!(doubled, items.iter().map(|x| x * 2).collect::<Vec<_>>());
        assert!(in_parallel(&items[..0], |x| *x).is_empty());
    }
}
