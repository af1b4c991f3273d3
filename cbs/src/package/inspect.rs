//! Reading a package source end to end into a [`PackageReport`].

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::error::Error;
use super::index::{index_report, stored_as, Indexed, Stored};
use super::input::{open_input, Input, WimOpener};
use super::parsed::{ParsedPackage, CIX_NAME};
use super::psf_site::PsfSite;
use super::report::{
    ComponentReport, FileReport, FileStatus, IdentityReport, PackageReport, ParentReport, SubPackageReport,
};
use super::verify_indexed::verify_indexed;
use crate::cix::ContainerIndex;
use crate::container::{self, member_key, Limits, PackageSource};
use crate::manifest::ComponentManifest;
use crate::mum::{PackageManifest, ParentGroup};
use crate::name::{ends_with_ci, normalize_kb, strip_suffix_ci};
use crate::package_id::PackageIdentity;
use crate::psf::{stored_in_psf, PSF_CIX_NAME};

pub(crate) use crate::hex::hex;

/// Reads the input at `path`: a cab, an MSU, an extracted package folder (holding update.mum), or a
/// folder of packages (every file in it, sorted by name, one report each). A WIM-format MSU is
/// reported as such, unread ([`inspect_path_with`] reads it).
pub fn inspect_path(path: &Path, limits: Limits) -> Result<Vec<PackageReport>, Error> {
    inspect_path_with(path, limits, None)
}

/// [`inspect_path`], reading WIM-format MSUs (and the LCU `.wim` inside one) through `wim`, the
/// engine's WIM reader.
pub fn inspect_path_with(path: &Path, limits: Limits, wim: Option<WimOpener<'_>>) -> Result<Vec<PackageReport>, Error> {
    let shown = path.display().to_string();
    match open_input(path, limits, wim)? {
        Input::Package { kind, mut source } => {
            Ok(vec![inspect_source_at(&mut *source, shown, kind, &mut PsfSite::Beside(path))?])
        }
        Input::Folder(files) => {
            // Every file is reported: a broken one with its reason, and the others still in full.
            let mut out = Vec::new();
            for f in files {
                match inspect_path_with(&f, limits, wim) {
                    Ok(reports) => out.extend(reports),
                    Err(e) => {
                        let mut report = PackageReport::empty(f.display().to_string(), "unreadable");
                        report.error = Some(e.to_string());
                        out.push(report);
                    }
                }
            }
            Ok(out)
        }
        Input::Msu(mut msu) => {
            let mut report = PackageReport::empty(shown.clone(), msu.kind);
            report.kb = msu.kb.as_deref().map(normalize_kb);
            for name in msu.inner.clone() {
                let (kind, mut inner) = msu.open_inner(&name, None, wim)?;
                let mut site = PsfSite::Msu { msu: &mut msu, inner: &name };
                report.inner.push(inspect_source_at(&mut *inner, format!("{shown}!{name}"), kind, &mut site)?);
            }
            // The MSU stands for its main package: the last inner cab (the servicing stack, when
            // present, comes first).
            if let Some(main) = report.inner.last() {
                report.identity = main.identity.clone();
                report.identity_string = main.identity_string.clone();
                report.release_type = main.release_type.clone();
                report.restart = main.restart.clone();
                report.description = main.description.clone();
                report.parents = main.parents.clone();
                report.packages = main.packages.clone();
                report.components = main.components.clone();
                report.delta = main.delta.clone();
                report.psf = main.psf.clone();
                if report.kb.is_none() {
                    report.kb = main.kb.clone();
                }
            }
            Ok(vec![report])
        }
        Input::Other { kind, reason } => {
            let mut report = PackageReport::empty(shown, kind);
            report.reason = Some(reason);
            Ok(vec![report])
        }
    }
}

fn parents(groups: &[ParentGroup]) -> Vec<ParentReport> {
    groups
        .iter()
        .map(|g| ParentReport {
            disposition: g.disposition.as_ref().map(ToString::to_string),
            build_compare: g.build_compare.as_ref().map(ToString::to_string),
            service_compare: g.service_compare.as_ref().map(ToString::to_string),
            revision_compare: g.revision_compare.as_ref().map(ToString::to_string),
            alternatives: g
                .alternatives
                .iter()
                .map(|a| PackageIdentity::from_assembly(a).map(|p| p.to_string()).unwrap_or_else(|_| a.name.clone()))
                .collect(),
            nested: parents(&g.nested),
        })
        .collect()
}

/// Reads a package source: update.mum, every other .mum, every manifest, the delta index, and every
/// payload named by a manifest (hashed while streaming, in one pass over the source: see
/// [`PackageSource::read_each`]); payloads stored as deltas are expanded and verified. A source
/// has no path, so the `.psf` of an express package is not looked for (the report says so):
/// [`inspect_path`] finds it.
pub fn inspect_source(src: &mut dyn PackageSource, path: String, kind: &'static str) -> Result<PackageReport, Error> {
    inspect_source_at(src, path, kind, &mut PsfSite::Unknown)
}

/// [`inspect_source`], the `.psf` of an express package looked for at `site`.
fn inspect_source_at(
    src: &mut dyn PackageSource,
    path: String,
    kind: &'static str,
    site: &mut PsfSite<'_>,
) -> Result<PackageReport, Error> {
    let mut scan = scan_source(src, path, kind)?;
    let package = src.package().to_owned();
    let checked: Vec<&Payload> = scan.payloads.iter().filter(|p| p.sha256.is_some()).collect();
    let mut names: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
    for p in &checked {
        if seen.insert(p.member.as_str()) {
            names.push(p.member.clone());
        }
    }
    let mut hashes: HashMap<String, [u8; 32]> = HashMap::with_capacity(names.len());
    // A read error ends the pass early; the payloads it did not hash are hashed one by one below,
    // in manifest order, so the error reported is the one manifest order meets first, as when each
    // payload was read on its own.
    let _ = src.read_each(&names, &mut |name, reader| {
        hashes.insert(name.to_owned(), hash_reader(reader, &package, name)?);
        Ok(())
    });
    for p in checked {
        let Some(want) = p.sha256 else { continue };
        let got = match hashes.get(&p.member) {
            Some(h) => *h,
            None => hash_member(src, &p.member)?,
        };
        if got != want {
            return Err(Error::DigestMismatch {
                package: package.clone(),
                member: p.member.clone(),
                expected: hex(&want),
                actual: hex(&got),
            });
        }
    }
    verify_indexed(src, &mut scan, site)?;
    match scan.deferred {
        Some(err) => Err(err),
        None => Ok(scan.report),
    }
}

/// A payload file named by a manifest and present in the package.
#[derive(Debug, Clone)]
pub(crate) struct Payload {
    /// The member holding its bytes (its own name, or the RAW member the delta index names).
    pub(crate) member: String,
    /// `<key form>/<file>`, as the manifest names it (`/` between folders; not checked yet).
    pub(crate) target: String,
    /// The manifest naming it.
    pub(crate) manifest: String,
    /// SHA-256 from the manifest; `None` when it gives none.
    pub(crate) sha256: Option<[u8; 32]>,
}

/// A package read except for its payloads' bytes.
pub(crate) struct Scan {
    /// The report, every payload with a digest marked verified: true once [`Scan::payloads`] match.
    pub(crate) report: PackageReport,
    /// Every payload present, in manifest order (delta payloads are in [`Scan::indexed`]).
    pub(crate) payloads: Vec<Payload>,
    /// Every payload stored through an index, in manifest order.
    pub(crate) indexed: Vec<Indexed>,
    /// `_manifest_.cix.xml`, when the package has one.
    pub(crate) cix: Option<ContainerIndex>,
    /// `express.psf.cix.xml`, when the package has one.
    pub(crate) psf_index: Option<ContainerIndex>,
    /// The first error met among the manifests. Reading payloads one by one would have reported a
    /// mismatch of a payload before it first, so it waits until those are checked.
    pub(crate) deferred: Option<Error>,
}

/// Reads everything but the payloads' bytes ([`ParsedPackage::read`]) and renders it: the report
/// of every .mum and manifest, and which member holds each payload.
pub(crate) fn scan_source(src: &mut dyn PackageSource, path: String, kind: &'static str) -> Result<Scan, Error> {
    let package = src.package().to_owned();
    let parsed = ParsedPackage::read(src)?;
    let top = &parsed.top;

    let mut report = PackageReport::empty(path, kind);
    report.identity = Some(IdentityReport::from(&top.identity));
    report.identity_string = Some(parsed.top_id.to_string());
    report.kb = top.kb().map(normalize_kb);
    report.release_type = top.package.release_type.clone();
    report.restart = top.package.restart.clone();
    report.description = top.description.clone();
    report.parents = parents(&top.package.parents);

    // Catalogs, and the .mum files without one.
    for name in &parsed.entries {
        if ends_with_ci(name, ".cat") {
            report.catalogs.push(name.clone());
        }
        if let Some(stem) = strip_suffix_ci(name, ".mum") {
            if parsed.member(&format!("{stem}.cat")).is_none() {
                report.missing_catalogs.push(name.clone());
            }
        }
    }
    // Sub-packages.
    report.packages.extend(parsed.mums.values().map(|(_, mum)| sub_package(mum)));
    report.packages.sort_by(|a, b| a.identity.cmp(&b.identity));

    // The delta index, if payloads are deltas.
    // File name (key) → how the delta index stores it, for files not stored under their own name.
    let mut delta_of: HashMap<String, (String, u32)> = HashMap::new();
    let mut raw_member_of: HashMap<String, String> = HashMap::new();
    if let Some(index) = &parsed.cix {
        for f in &index.files {
            if let Some(s) = f.delta.as_ref().and_then(|d| d.source.as_ref()) {
                if !s.source_type.is_delta() {
                    if let Some(stored) = &s.name {
                        // RAW, possibly under another member name ("3"): hash that member.
                        raw_member_of.insert(member_key(&f.name), stored.clone());
                        continue;
                    }
                }
            }
            if let Some(format) = stored_as(f) {
                delta_of.insert(member_key(&f.name), (format, f.id));
            }
        }
        let name = parsed.member(CIX_NAME).cloned().unwrap_or_else(|| CIX_NAME.to_owned());
        report.delta = Some(index_report(name, index, |f| f.delta.is_some()));
    }
    // The express index, if payloads are in a `.psf`.
    let mut psf_of: HashMap<String, (String, u32)> = HashMap::new();
    if let Some(index) = &parsed.psf_index {
        for f in index.files.iter().filter(|f| stored_in_psf(f)) {
            if let Some(format) = stored_as(f) {
                psf_of.insert(member_key(&f.name), (format, f.id));
            }
        }
        let name = parsed.member(PSF_CIX_NAME).cloned().unwrap_or_else(|| PSF_CIX_NAME.to_owned());
        report.psf = Some(index_report(name, index, stored_in_psf));
    }
    let arch = report.identity.as_ref().and_then(|i| i.arch.clone()).unwrap_or_default();
    let lookup = Lookup {
        by_key: &parsed.members,
        delta_of: &delta_of,
        raw_member_of: &raw_member_of,
        psf_of: &psf_of,
        arch: &arch,
    };

    // Component and deployment manifests, and their payloads.
    let mut payloads = Vec::new();
    let mut indexed = Vec::new();
    let mut deferred = None;
    for key_form in &parsed.manifest_order {
        let entry = &parsed.manifests[key_form];
        match scan_manifest(&entry.manifest, key_form, &package, &entry.member, &lookup) {
            Ok((component, found, found_indexed)) => {
                report.verified_files += found.iter().filter(|p| p.sha256.is_some()).count();
                report.components.push(component);
                payloads.extend(found);
                indexed.extend(found_indexed);
            }
            Err(err) => {
                deferred = Some(err);
                break;
            }
        }
    }
    let deferred = deferred.or(parsed.manifest_error);
    report.components.sort_by(|a, b| a.keyform.cmp(&b.keyform));
    Ok(Scan { report, payloads, indexed, cix: parsed.cix, psf_index: parsed.psf_index, deferred })
}

/// The report of a sub-package's `.mum`.
fn sub_package(mum: &PackageManifest) -> SubPackageReport {
    let mut sub = SubPackageReport {
        // Validated when the .mum was parsed.
        identity: PackageIdentity::from_assembly(&mum.identity).map(|p| p.to_string()).unwrap_or_default(),
        release_type: mum.package.release_type.clone(),
        parents: parents(&mum.package.parents),
        components: Vec::new(),
        update_components: Vec::new(),
        drivers: Vec::new(),
    };
    for u in &mum.package.updates {
        sub.components.extend(u.components.iter().map(|c| c.name.clone()));
        sub.update_components.extend(u.update_components.iter().map(|c| {
            let v = c.identity.version.map(|v| v.to_string()).unwrap_or_default();
            let arch = c.identity.processor_architecture.clone().unwrap_or_default();
            match &c.elevate {
                Some(el) => format!("{} {v} {arch} (elevate={el})", c.identity.name),
                None => format!("{} {v} {arch}", c.identity.name),
            }
        }));
        sub.drivers.extend(u.update_drivers.iter().map(|d| d.identity.name.clone()));
    }
    sub
}

/// Where the payloads of a package are: cab members, and the files the indexes store.
struct Lookup<'a> {
    /// Member key → member name.
    by_key: &'a HashMap<String, String>,
    /// `_manifest_.cix.xml`: file key → (format, id) of files stored as deltas or copies.
    delta_of: &'a HashMap<String, (String, u32)>,
    /// `_manifest_.cix.xml`: file key → the member storing it RAW.
    raw_member_of: &'a HashMap<String, String>,
    /// `express.psf.cix.xml`: file key → (format, id) of files stored in the `.psf`.
    psf_of: &'a HashMap<String, (String, u32)>,
    /// The package's architecture: the image it applies to (x86 components of an amd64 package are
    /// wow64 components).
    arch: &'a str,
}

/// One component or deployment manifest: its report, its payloads present in the package, and
/// those stored through an index. A payload neither present nor indexed is
/// [`Error::MissingPayload`].
fn scan_manifest(
    m: &ComponentManifest,
    keyform: &str,
    package: &str,
    name: &str,
    lookup: &Lookup<'_>,
) -> Result<(ComponentReport, Vec<Payload>, Vec<Indexed>), Error> {
    let keyform = keyform.to_owned();
    let mut files = Vec::new();
    let mut payloads = Vec::new();
    let mut indexed = Vec::new();
    for f in &m.files {
        let member = format!("{keyform}/{}", f.name.replace('\\', "/"));
        let key = member_key(&member);
        let sha256 = f.sha256.map(|d| hex(&d));
        let index_entry = |stored: Stored, id: u32| Indexed {
            stored,
            id,
            target: member.clone(),
            manifest: name.to_owned(),
            sha256: f.sha256,
        };
        let (status, verified, delta_format) = if let Some((fmt, id)) = lookup.delta_of.get(&key) {
            indexed.push(index_entry(Stored::Cix, *id));
            (FileStatus::Delta, None, Some(fmt.clone()))
        } else if let Some(real) = lookup
            .raw_member_of
            .get(&key)
            .and_then(|stored| lookup.by_key.get(&member_key(stored)))
            .or_else(|| lookup.by_key.get(&key))
            .cloned()
        {
            payloads.push(Payload { member: real, target: member, manifest: name.to_owned(), sha256: f.sha256 });
            match f.sha256 {
                // Verified provisionally: `inspect_source` fails the whole report on a mismatch.
                Some(_) => (FileStatus::Verified, Some(true), None),
                None => (FileStatus::NoDigest, None, None),
            }
        } else if let Some((fmt, id)) = lookup.psf_of.get(&key) {
            indexed.push(index_entry(Stored::Psf, *id));
            (FileStatus::Delta, None, Some(fmt.clone()))
        } else if let Some(forms) = psfx_forms(lookup, &keyform, &f.name.replace('\\', "/")) {
            (FileStatus::Differential, None, Some(forms))
        } else {
            return Err(Error::MissingPayload { package: package.to_owned(), manifest: name.to_owned(), member });
        };
        let verified_by = (status == FileStatus::Verified).then(|| "manifest SHA-256".to_owned());
        files.push(FileReport {
            name: f.name.clone(),
            destination: f.destination_path.clone(),
            sha256,
            verified,
            status,
            delta_format,
            expanded_sha256: None,
            verified_by,
            reason: None,
        });
    }
    Ok((
        ComponentReport {
            keyform,
            identity: IdentityReport::from(&m.identity),
            deployment: m.deployment,
            files,
            registry_values: m.registry_value_count(),
            registry: crate::registry::entries(m, lookup.arch, crate::runtime::DEFAULT_WINDIR),
        },
        payloads,
        indexed,
    ))
}

/// The PSFX differentials the package holds for `<keyform>/<file>` (cab members or `.psf` files):
/// `forward+reverse`, `forward`, `null` …; `None` when it holds neither a forward nor a null one.
fn psfx_forms(lookup: &Lookup<'_>, keyform: &str, file: &str) -> Option<String> {
    let has = |form: &str| {
        let key = member_key(&format!("{keyform}/{form}/{file}"));
        lookup.by_key.contains_key(&key) || lookup.psf_of.contains_key(&key)
    };
    let forms: Vec<&str> =
        [("f", "forward"), ("r", "reverse"), ("n", "null")].iter().filter(|(f, _)| has(f)).map(|(_, n)| *n).collect();
    (forms.contains(&"forward") || forms.contains(&"null")).then(|| forms.join("+"))
}

/// SHA-256 of a member, streamed (payloads can be large).
fn hash_member(src: &mut dyn PackageSource, name: &str) -> Result<[u8; 32], Error> {
    let package = src.package().to_owned();
    let mut reader = src.open(name)?;
    Ok(hash_reader(&mut reader, &package, name)?)
}

/// SHA-256 of what `reader` gives; a read error names `package` and `member`.
pub(crate) fn hash_reader(reader: &mut dyn Read, package: &str, member: &str) -> container::Result<[u8; 32]> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = reader.read(&mut buf).map_err(|e| container::Error::from_io(package, Some(member), e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().into())
}
