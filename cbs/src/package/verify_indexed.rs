//! `package info` for payloads stored through an index: each is expanded, its SHA-256 checked
//! against its manifest's digest (or, where the manifest gives none, only the index's hash, which
//! the expansion checks), and its entry in the report updated: verified, unsupported with the
//! reason, or failed with the reason (a corrupt delta, wrong bytes: the other payloads are still
//! reported). An express package whose `.psf` is not found is reported, not failed.

use std::collections::{BTreeSet, HashMap, HashSet};

use sha2::{Digest, Sha256};

use super::error::Error;
use super::expand::{expand_cix, expand_psf, Outcome};
use super::index::{Indexed, Stored};
use super::inspect::{hex, Scan};
use super::psf_site::{Found, PsfSite};
use super::report::{DeltaReport, FileStatus};
use crate::cix::ContainerIndex;
use crate::container::{member_key, PackageSource};
use crate::delta::DeltaLimits;

/// What became of one indexed file.
enum Got {
    /// Expanded: the SHA-256 of its bytes.
    Expanded([u8; 32]),
    /// Cannot be expanded, for this reason.
    Unsupported(String),
    /// Its delta or bytes are wrong, for this reason.
    Failed(String),
}

/// Expands the indexed payloads of `scan`, checks them and updates its report. A digest that does
/// not match the manifest's is [`Error::DigestMismatch`], naming the file and both digests.
pub(crate) fn verify_indexed(
    src: &mut dyn PackageSource,
    scan: &mut Scan,
    site: &mut PsfSite<'_>,
) -> Result<(), Error> {
    let package = src.package().to_owned();
    let limits = DeltaLimits::default();
    let mut results: HashMap<(Stored, u32), Got> = HashMap::new();
    let wanted =
        |stored: Stored| -> HashSet<u32> { scan.indexed.iter().filter(|p| p.stored == stored).map(|p| p.id).collect() };
    if let Some(cix) = &scan.cix {
        let ids = wanted(Stored::Cix);
        if !ids.is_empty() {
            expand_cix(src, cix, &limits, &ids, &mut |outcome| {
                let (id, result) = settle(outcome);
                results.insert((Stored::Cix, id), result);
                Ok(())
            })?;
        }
    }
    let mut psf_note: Option<(Option<String>, bool)> = None;
    if let Some(index) = &scan.psf_index {
        let ids = wanted(Stored::Psf);
        if !ids.is_empty() {
            match site.open()? {
                Found::Psf(mut psf) => {
                    psf_note = Some((Some(psf.name().to_owned()), true));
                    expand_psf(&mut psf, index, &limits, &ids, &mut |outcome| {
                        let (id, result) = settle(outcome);
                        results.insert((Stored::Psf, id), result);
                        Ok(())
                    })?;
                }
                Found::Missing(expected) => psf_note = Some((expected, false)),
            }
        }
    }

    // Check every expanded payload against its manifest, in manifest order.
    let mut by_target: HashMap<String, (&Indexed, &Got)> = HashMap::new();
    for p in &scan.indexed {
        let Some(result) = results.get(&(p.stored, p.id)) else { continue };
        if let (Got::Expanded(got), Some(want)) = (result, p.sha256) {
            if *got != want {
                return Err(Error::DigestMismatch {
                    package,
                    member: p.target.clone(),
                    expected: hex(&want),
                    actual: hex(got),
                });
            }
        }
        by_target.insert(member_key(&p.target), (p, result));
    }

    // Update the report's entries and the indexes' summaries.
    let index_of = |stored: Stored| match stored {
        Stored::Cix => scan.cix.as_ref(),
        Stored::Psf => scan.psf_index.as_ref(),
    };
    let stored_of: HashMap<String, Stored> = scan.indexed.iter().map(|p| (member_key(&p.target), p.stored)).collect();
    let mut tally: HashMap<Stored, Tally> = HashMap::new();
    let report = &mut scan.report;
    for component in &mut report.components {
        for f in &mut component.files {
            let key = member_key(&format!("{}/{}", component.keyform, f.name.replace('\\', "/")));
            let Some(stored) = stored_of.get(&key) else { continue };
            let t = tally.entry(*stored).or_default();
            match by_target.get(&key) {
                None => t.not_expanded += 1,
                Some((_, Got::Unsupported(reason))) => {
                    f.status = FileStatus::Unsupported;
                    f.reason = Some(reason.clone());
                    t.unsupported += 1;
                    t.reasons.insert(root_reason(reason).to_owned());
                }
                Some((_, Got::Failed(reason))) => {
                    f.status = FileStatus::Failed;
                    f.reason = Some(reason.clone());
                    t.failed += 1;
                    t.failures.insert(root_reason(reason).to_owned());
                }
                Some((p, Got::Expanded(got))) => {
                    f.expanded_sha256 = Some(hex(got));
                    let by = match p.sha256 {
                        Some(_) => Some("manifest SHA-256".to_owned()),
                        None => index_hash(index_of(p.stored), p.id),
                    };
                    match by {
                        Some(by) => {
                            f.status = FileStatus::Verified;
                            f.verified = Some(true);
                            f.verified_by = Some(by);
                            t.verified += 1;
                        }
                        None => {
                            f.status = FileStatus::NoDigest;
                            t.verified_length_only += 1;
                        }
                    }
                }
            }
        }
    }
    for stored in [Stored::Cix, Stored::Psf] {
        let t = tally.remove(&stored).unwrap_or_default();
        report.verified_files += t.verified;
        report.failed_files += t.failed;
        let delta = match stored {
            Stored::Cix => report.delta.as_mut(),
            Stored::Psf => report.psf.as_mut(),
        };
        if let Some(d) = delta {
            summarize(d, &t);
        }
    }
    if let (Some(d), Some((psf, found))) = (report.psf.as_mut(), psf_note) {
        d.psf = psf;
        d.psf_found = Some(found);
        if !found {
            d.expansion = match &d.psf {
                Some(at) => format!(
                    "not expanded: the payloads are in a .psf, and {at} was not found; {} payload files are not verified",
                    d.not_expanded
                ),
                None => format!(
                    "not expanded: the payloads are in a .psf, which is looked for only beside a package given by \
                     path; {} payload files are not verified",
                    d.not_expanded
                ),
            };
        }
    }
    Ok(())
}

fn settle(outcome: Outcome) -> (u32, Got) {
    match outcome {
        Outcome::Expanded(file) => (file.id, Got::Expanded(Sha256::digest(&file.bytes).into())),
        Outcome::Unsupported { id, reason, .. } => (id, Got::Unsupported(reason)),
        Outcome::Failed { id, reason, .. } => (id, Got::Failed(reason)),
    }
}

/// Counts of one index's payloads.
#[derive(Default)]
struct Tally {
    verified: usize,
    verified_length_only: usize,
    unsupported: usize,
    failed: usize,
    not_expanded: usize,
    reasons: BTreeSet<String>,
    failures: BTreeSet<String>,
}

/// `index SHA1` when the index gives a hash for the file (which the expansion checked).
fn index_hash(index: Option<&ContainerIndex>, id: u32) -> Option<String> {
    let hash = index?.file(id)?.hash.as_ref()?;
    Some(format!("index {}", hash.algorithm()))
}

/// The reason a file made from an unsupported or failed file inherits is its basis's.
fn root_reason(reason: &str) -> &str {
    match reason.strip_prefix("made from ") {
        Some(rest) => [", which cannot be expanded: ", ", which failed: "]
            .iter()
            .find_map(|sep| rest.split_once(sep).map(|(_, r)| r))
            .unwrap_or(reason),
        None => reason,
    }
}

/// `N expanded and verified, M unsupported: <reason>, K failed: <reason>`.
fn summarize(d: &mut DeltaReport, t: &Tally) {
    d.verified = t.verified;
    d.unsupported = t.unsupported;
    d.failed = t.failed;
    d.not_expanded = t.not_expanded;
    let mut text = format!("{} expanded and verified", t.verified);
    if t.verified_length_only > 0 {
        text.push_str(&format!(
            ", {} expanded with no digest to check (manifest and index give none)",
            t.verified_length_only
        ));
    }
    if t.unsupported > 0 {
        let reasons: Vec<&str> = t.reasons.iter().map(String::as_str).collect();
        text.push_str(&format!(", {} unsupported: {}", t.unsupported, reasons.join("; ")));
    }
    if t.failed > 0 {
        let reasons: Vec<&str> = t.failures.iter().map(String::as_str).collect();
        text.push_str(&format!(", {} failed: {}", t.failed, reasons.join("; ")));
    }
    d.expansion = text;
}
