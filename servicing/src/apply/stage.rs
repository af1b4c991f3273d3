//! Staging a planned package under the scratch directory, laid out as it will sit in the image
//! (`Windows/WinSxS/<key-form>/…`, `Windows/WinSxS/Manifests/…`, projections as hard links to the
//! WinSxS copy, `Windows/servicing/Packages/<identity>.mum/.cat`). Every payload is hashed while it is
//! copied and checked against its manifest digest, so nothing unverified reaches the image: the
//! image itself is only touched by the commit, which adds this tree as it is.

use std::collections::HashMap;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use cbs::container::normalize_member_name;
use cbs::package::Error as PackageError;
use sha2::{Digest, Sha256};

use super::error::{Error, Result};
use super::hydrate::{self, Differentials, HydrateJob, ImageFiles};
use super::plan::InstallPlan;
use cbs::package::Package;

/// What staging wrote.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct StageStats {
    /// Payload files.
    pub files: u64,
    /// Payload bytes.
    pub bytes: u64,
    /// Hard-linked projections.
    pub projections: u64,
}

use cbs::hex::hex;

/// A relative path under the image root built from package-controlled text, refused if it could
/// leave the root.
fn safe_join(root: &Path, rel: &str, unit: &Package, manifest: &str) -> Result<PathBuf> {
    let normal = normalize_member_name(rel).map_err(|reason| Error::UnsafePath {
        package: unit.label.clone(),
        manifest: manifest.to_owned(),
        path: rel.to_owned(),
        reason: reason.to_string(),
    })?;
    Ok(root.join(normal))
}

fn create_parent(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent() {
        safe_fs::create_dir_all(parent).map_err(Error::io(parent, "cannot create staging directory"))?;
    }
    Ok(())
}

/// Job keys of payloads expanded from deltas start with this (no member name holds a NUL).
const DELTA_PREFIX: &str = "\0delta:";

/// Job keys of payloads read from a PSF express package's `.psf` start with this.
const PSF_PREFIX: &str = "\0psf:";
/// Job keys of payloads hydrated from PSFX differentials start with this.
const HYDRATE_PREFIX: &str = "\0hydrate:";

/// One payload to copy: member → staged file.
struct Job {
    name: String,
    dest: PathBuf,
    sha256: Option<[u8; 32]>,
    projection: Option<String>,
    manifest: String,
}

/// Stages `plan` of `unit` under `root`. Payloads are read in one pass in the package's storage order
/// (a solid cabinet folder is decoded once, not once per file). On error the caller discards `root`.
pub(crate) fn stage(
    unit: &mut Package,
    plan: &InstallPlan,
    root: &Path,
    scratch: &Path,
    image: &mut ImageFiles<'_>,
    log: &mut Vec<String>,
) -> Result<StageStats> {
    let mut stats = StageStats::default();
    let sxs = root.join("Windows/WinSxS");
    let mut jobs: HashMap<String, Job> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    // Delta payloads: member key of `<key-form>/<file>` → job key.
    let mut delta_wanted: HashMap<String, String> = HashMap::new();
    // Payloads of the `.psf`: member key of `<key-form>/<file>` → job key.
    let mut psf_wanted: HashMap<String, String> = HashMap::new();
    // Payloads shipped as PSFX differentials (`f\`, `r\`, `n\`), with their job keys.
    let mut hydrate_jobs: Vec<(HydrateJob, String)> = Vec::new();
    // Metadata copied as it is (component manifests into `WinSxS\Manifests`, `.mum`/`.cat` into
    // `servicing\Packages`), member → (destination, digest): read in the payloads' pass, since the
    // unit keeps parsed manifests, not their bytes, and opening members one by one decodes a solid
    // folder once per member.
    let mut metadata: HashMap<String, (PathBuf, Option<[u8; 32]>)> = HashMap::new();
    for comp in &plan.components {
        let entry = unit.manifests.get(&comp.key_form).ok_or_else(|| Error::Missing {
            package: unit.label.clone(),
            what: "component manifest",
            name: format!("{}.manifest", comp.key_form),
        })?;
        let manifest_member = entry.member.clone();
        let manifest_path = sxs.join("Manifests").join(format!("{}.manifest", comp.key_form));
        create_parent(&manifest_path)?;
        metadata.insert(manifest_member.clone(), (manifest_path, Some(entry.sha256)));

        for f in &comp.files {
            let name = format!("{}/{}", comp.key_form, f.name);
            // A payload we cannot check is not installed (as `package extract` does not extract it).
            if f.sha256.is_none() {
                return Err(PackageError::NoDigest {
                    package: unit.label.clone(),
                    manifest: manifest_member.clone(),
                    member: name,
                }
                .into());
            }
            let dest = safe_join(&sxs, &name, unit, &manifest_member)?;
            create_parent(&dest)?;
            let key = cbs::container::member_key(&name);
            let job = Job {
                name: name.clone(),
                dest: dest.clone(),
                sha256: f.sha256,
                projection: f.projection.clone(),
                manifest: manifest_member.clone(),
            };
            // Payloads not stored plainly in the cab get a job key of their own, filled below.
            let mut queue = |prefix: &str, wanted: &mut HashMap<String, String>, job: Job| {
                let job_key = format!("{prefix}{key}");
                if !jobs.contains_key(&job_key) {
                    order.push(job_key.clone());
                }
                wanted.insert(key.clone(), job_key.clone());
                jobs.insert(job_key, job);
            };
            if unit.deltas.contains_key(&key) {
                // Stored as a delta: expanded from the package's delta index.
                queue(DELTA_PREFIX, &mut delta_wanted, job);
                continue;
            }
            let member = match unit.member_for(&name) {
                Some(member) => member,
                // Not in the cab: a PSF express package keeps it in its `.psf`.
                None if unit.psf_payloads.contains(&key) => {
                    queue(PSF_PREFIX, &mut psf_wanted, job);
                    continue;
                }
                // A PSFX update: a differential against the RTM version, or a null one.
                None if Differentials::find(unit, &comp.key_form, &f.name).is_some() => {
                    let found = Differentials::find(unit, &comp.key_form, &f.name).unwrap_or_default();
                    let folder = safe_join(&sxs, &comp.key_form, unit, &manifest_member)?;
                    let hydrate = HydrateJob {
                        key_form: comp.key_form.clone(),
                        file: f.name.clone(),
                        sha256: f.sha256.unwrap_or_default(),
                        dest: dest.clone(),
                        folder,
                        found,
                    };
                    let job_key = format!("{HYDRATE_PREFIX}{key}");
                    hydrate_jobs.push((hydrate, job_key.clone()));
                    if !jobs.contains_key(&job_key) {
                        order.push(job_key.clone());
                    }
                    jobs.insert(job_key, job);
                    continue;
                }
                None => {
                    return Err(PackageError::MissingPayload {
                        package: unit.label.clone(),
                        manifest: manifest_member.clone(),
                        member: name.clone(),
                    }
                    .into())
                }
            };
            if !jobs.contains_key(&member) {
                order.push(member.clone());
            }
            jobs.insert(member, job);
        }
    }

    // One pass over the payloads; a write error is kept aside (the reader's errors name the package,
    // this one names the staging file).
    let label = unit.label.clone();
    let mut copied: HashMap<String, ([u8; 32], u64)> = HashMap::new();
    let mut write_error: Option<Error> = None;
    let packages_dir = root.join("Windows/servicing/Packages");
    safe_fs::create_dir_all(&packages_dir).map_err(Error::io(&packages_dir, "cannot create staging directory"))?;
    for p in &plan.packages {
        let id = p.identity.to_string();
        metadata.insert(p.mum_member.clone(), (packages_dir.join(format!("{id}.mum")), None));
        if let Some(cat) = unit.catalog_for(&p.mum_member) {
            metadata.insert(cat, (packages_dir.join(format!("{id}.cat")), None));
        } else {
            log.push(format!("CBS: {id} has no catalog (.cat) in the package"));
        }
    }
    let mut plain: Vec<String> = order.iter().filter(|k| !k.starts_with('\0')).cloned().collect();
    plain.extend(metadata.keys().filter(|m| !jobs.contains_key(*m)).cloned());
    let pass = unit.read_each(&plain, &mut |member, reader| {
        let dest = match (jobs.get(member), metadata.get(member)) {
            (Some(job), _) => &job.dest,
            (None, Some((dest, _))) => dest,
            (None, None) => return Ok(()),
        };
        match copy_hashing(reader, dest, &label, member) {
            Ok(Ok(done)) => {
                copied.insert(member.to_owned(), done);
                Ok(())
            }
            Ok(Err(read_error)) => Err(read_error),
            Err(e) => {
                write_error = Some(e);
                Err(cbs::container::Error::Io {
                    package: label.clone(),
                    member: Some(member.to_owned()),
                    source: std::io::Error::other("staging stopped"),
                })
            }
        }
    });
    if let Some(e) = write_error {
        return Err(e);
    }
    pass.map_err(PackageError::from)?;
    if !delta_wanted.is_empty() {
        let mut write_error: Option<Error> = None;
        let expanded = unit.expand(|f| {
            let Some(job_key) = delta_wanted.get(&cbs::container::member_key(&f.name)) else { return Ok(()) };
            let job = &jobs[job_key];
            match copy_hashing(&mut f.bytes.as_slice(), &job.dest, &label, &f.name) {
                Ok(Ok(done)) => {
                    copied.insert(job_key.clone(), done);
                    Ok(())
                }
                Ok(Err(read_error)) => Err(read_error.into()),
                Err(e) => {
                    write_error = Some(e);
                    Err(cbs::container::Error::Io {
                        package: label.clone(),
                        member: Some(f.name.clone()),
                        source: std::io::Error::other("staging stopped"),
                    }
                    .into())
                }
            }
        });
        if let Some(e) = write_error {
            return Err(e);
        }
        expanded?;
        log.push(format!("CSI: expanded {} delta payload(s) of {label}", delta_wanted.len()));
    }
    if !psf_wanted.is_empty() {
        stage_from_psf(unit, scratch, &psf_wanted, &jobs, &mut copied)?;
        log.push(format!("CSI: expanded {} payload(s) of {label} from its .psf", psf_wanted.len()));
    }

    if !hydrate_jobs.is_empty() {
        let (hydrate_jobs, keys): (Vec<HydrateJob>, Vec<String>) = hydrate_jobs.into_iter().unzip();
        let diffs = read_differentials(unit, scratch, &hydrate_jobs)?;
        let write = |path: &Path, bytes: &[u8]| -> Result<()> {
            create_parent(path)?;
            safe_fs::write_fresh(path, bytes).map_err(Error::io(path, "cannot write staged file"))
        };
        let done = hydrate::hydrate(unit, &hydrate_jobs, &diffs, image, &write, log)?;
        for (key, result) in keys.into_iter().zip(done) {
            copied.insert(key, result);
        }
        log.push(format!("CSI: hydrated {} payload(s) of {label} from PSFX differentials", hydrate_jobs.len()));
    }

    let mut staged_metadata: Vec<&String> = metadata.keys().collect();
    staged_metadata.sort();
    for member in staged_metadata {
        let (dest, want) = &metadata[member];
        let (digest, _) = copied.get(member).copied().ok_or_else(|| Error::Missing {
            package: unit.label.clone(),
            what: "package file",
            name: member.clone(),
        })?;
        // The manifest read again must be the one parsed (the source could have changed since).
        if let Some(want) = want.filter(|w| *w != digest) {
            return Err(PackageError::DigestMismatch {
                package: unit.label.clone(),
                member: member.clone(),
                expected: hex(&want),
                actual: hex(&digest),
            }
            .into());
        }
        log.push(format!("CSI: staged {}", dest.strip_prefix(root).unwrap_or(dest).display()));
    }

    for member in &order {
        let job = &jobs[member];
        let (digest, len) = copied.get(member).copied().ok_or_else(|| PackageError::MissingPayload {
            package: unit.label.clone(),
            manifest: job.manifest.clone(),
            member: job.name.clone(),
        })?;
        // Every job has a digest: one without was refused when it was queued.
        if job.sha256 != Some(digest) {
            return Err(PackageError::DigestMismatch {
                package: unit.label.clone(),
                member: if member.starts_with('\0') { job.name.clone() } else { member.clone() },
                expected: job.sha256.map(|want| hex(&want)).unwrap_or_default(),
                actual: hex(&digest),
            }
            .into());
        }
        stats.files += 1;
        stats.bytes += len;
        log.push(format!("CSI: staged {} ({len} bytes, sha256 {})", job.name, hex(&digest)));
        if let Some(projection) = &job.projection {
            let link = safe_join(root, projection, unit, &job.manifest)?;
            create_parent(&link)?;
            if link.exists() {
                std::fs::remove_file(&link).map_err(Error::io(&link, "cannot replace staged projection"))?;
            }
            safe_fs::hard_link(&job.dest, &link).map_err(Error::io(&link, "cannot link projected file"))?;
            stats.projections += 1;
            log.push(format!("CSI: projected {} to {projection} (hard link)", job.name));
        }
    }

    Ok(stats)
}

/// Writes the payloads `wanted` (member key → job key) from the unit's `.psf`: one pass in `.psf`
/// order over only those files (and the files they are deltas against), each checked against the
/// express index's hash before it is written; the manifest digest is checked by the caller.
fn stage_from_psf(
    unit: &Package,
    scratch: &Path,
    wanted: &HashMap<String, String>,
    jobs: &HashMap<String, Job>,
    copied: &mut HashMap<String, ([u8; 32], u64)>,
) -> Result<()> {
    let Some(index) = unit.psf_index.as_ref() else { return Ok(()) };
    // A WIM-format MSU is reopened through the engine's WIM reader, its files spooled in scratch.
    let opener = crate::wim::package_content_opener(Some(scratch.to_path_buf()));
    let mut psf = unit.open_psf(Some(&opener))?;
    let label = psf.name().to_owned();
    let limits = cbs::delta::DeltaLimits::default();
    let is_wanted = |f: &cbs::cix::CixFile| wanted.contains_key(&cbs::container::member_key(&f.name));
    cbs::psf::for_each_psf_file_where(&mut psf, index, &limits, is_wanted, |f| -> Result<()> {
        let Some(job_key) = wanted.get(&cbs::container::member_key(&f.name)) else { return Ok(()) };
        let job = &jobs[job_key];
        match copy_hashing(&mut f.bytes.as_slice(), &job.dest, &label, &f.name)? {
            Ok(done) => {
                copied.insert(job_key.clone(), done);
                Ok(())
            }
            Err(read_error) => Err(PackageError::from(read_error).into()),
        }
    })?;
    Ok(())
}

/// Reads the differentials `jobs` need, from the cab (one pass) and the `.psf`: member key → bytes.
fn read_differentials(unit: &mut Package, scratch: &Path, jobs: &[HydrateJob]) -> Result<HashMap<String, Vec<u8>>> {
    let limits = cbs::delta::DeltaLimits::default();
    let names: Vec<&String> =
        jobs.iter().flat_map(|j| [&j.found.forward, &j.found.reverse, &j.found.null]).flatten().collect();
    let (in_cab, in_psf): (Vec<&String>, Vec<&String>) = names.into_iter().partition(|n| unit.member_for(n).is_some());
    let mut out: HashMap<String, Vec<u8>> = HashMap::new();
    let label = unit.label.clone();
    let cab: Vec<String> = in_cab.into_iter().cloned().collect();
    unit.read_each(&cab, &mut |member, reader| {
        let mut bytes = Vec::new();
        reader
            .take(limits.max_delta_bytes.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| cbs::container::Error::from_io(&label, Some(member), e))?;
        if bytes.len() as u64 > limits.max_delta_bytes {
            return Err(cbs::container::Error::from_io(
                &label,
                Some(member),
                std::io::Error::new(std::io::ErrorKind::InvalidData, "differential larger than the delta limit"),
            ));
        }
        out.insert(cbs::container::member_key(member), bytes);
        Ok(())
    })
    .map_err(PackageError::from)?;
    if !in_psf.is_empty() {
        let Some(index) = unit.psf_index.as_ref() else { return Ok(out) };
        let wanted: std::collections::HashSet<String> = in_psf.iter().map(|n| cbs::container::member_key(n)).collect();
        let opener = crate::wim::package_content_opener(Some(scratch.to_path_buf()));
        let mut psf = unit.open_psf(Some(&opener))?;
        let is_wanted = |f: &cbs::cix::CixFile| wanted.contains(&cbs::container::member_key(&f.name));
        cbs::psf::for_each_psf_file_where(&mut psf, index, &limits, is_wanted, |f| -> Result<()> {
            out.insert(cbs::container::member_key(&f.name), f.bytes);
            Ok(())
        })?;
    }
    Ok(out)
}

/// Copies `reader` to `dest`, returning its SHA-256 and length. The outer error is a write error (it
/// names `dest`); the inner one a read error of the package.
fn copy_hashing(
    reader: &mut dyn Read,
    dest: &Path,
    label: &str,
    member: &str,
) -> Result<std::result::Result<([u8; 32], u64), cbs::container::Error>> {
    let file = safe_fs::create_fresh(dest).map_err(Error::io(dest, "cannot create staged file"))?;
    let mut out = BufWriter::new(file);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut len = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(n) => n,
            Err(e) => return Ok(Err(cbs::container::Error::from_io(label, Some(member), e))),
        };
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(Error::io(dest, "cannot write staged file"))?;
        len += n as u64;
    }
    out.flush().map_err(Error::io(dest, "cannot write staged file"))?;
    Ok(Ok((hasher.finalize().into(), len)))
}
