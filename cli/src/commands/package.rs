//! `package info` and `package extract`: what a CBS package holds, verified, and its payload tree.

use std::fmt::Write as _;

use anyhow::Result;
use servicing::cbs::container::Limits;
use servicing::cbs::package::{extract_path, inspect_path_with, ExtractReport, FileStatus, PackageReport};
use servicing::wim::package_content_opener;

use super::Ctx;
use crate::args::PackageCommand;

pub fn run(ctx: &Ctx, cmd: PackageCommand) -> Result<()> {
    // WIM-format MSUs are read through the engine; their files pass through the scratch folder
    // (created only when one is read).
    let scratch = ctx.global.scratch_dir.clone().unwrap_or_else(servicing::apply::default_scratch_dir);
    let opener = package_content_opener(Some(scratch));
    match cmd {
        PackageCommand::Info { path, registry } => {
            let mut reports = inspect_path_with(&path, Limits::default(), Some(&opener))?;
            if !registry {
                // The count stays; the per-value listing is what --registry asks for.
                reports.iter_mut().for_each(clear_registry_lists);
            }
            if ctx.global.json && reports.len() == 1 {
                // One input gives one object; a folder gives an array.
                ctx.print(&reports[0], String::new)?;
            } else {
                ctx.print(&reports, || {
                    reports
                        .iter()
                        .map(|r| if registry { format!("{}{}", text(r), registry_text(r)) } else { text(r) })
                        .collect::<Vec<_>>()
                        .join("\n")
                })?;
            }
            // Everything is reported first: a folder whole, a package with all its files. A file of
            // a folder that could not be read, or a payload that failed to expand, makes the exit 1.
            let unreadable: Vec<&str> = reports.iter().filter(|r| r.error.is_some()).map(|r| r.path.as_str()).collect();
            if !unreadable.is_empty() {
                anyhow::bail!(
                    "{} of {} packages could not be read: {}",
                    unreadable.len(),
                    reports.len(),
                    unreadable.join(", ")
                );
            }
            let failed: Vec<&str> = reports.iter().filter(|r| r.any_failed()).map(|r| r.path.as_str()).collect();
            if !failed.is_empty() {
                anyhow::bail!("payload files failed to expand in {} (see the report)", failed.join(", "));
            }
            Ok(())
        }
        PackageCommand::Extract { path, dest } => {
            let report = extract_path(&path, &dest, Limits::default(), Some(&opener))?;
            ctx.print(&report, || extract_text(&report))
        }
    }
}

fn clear_registry_lists(r: &mut PackageReport) {
    r.components.iter_mut().for_each(|c| c.registry.clear());
    r.inner.iter_mut().for_each(clear_registry_lists);
}

/// `package info --registry`: each component's values with the hive path they are written to.
fn registry_text(r: &PackageReport) -> String {
    let mut s = String::new();
    for c in r.components.iter().filter(|c| c.registry_values > 0) {
        let _ = writeln!(s, "Registry     : {} ({} values)", c.keyform, c.registry_values);
        for e in &c.registry {
            let name = if e.name.is_empty() { "(default)" } else { e.name.as_str() };
            let target = e.target.as_deref().unwrap_or("-");
            match (&e.data, &e.error) {
                (Some(data), _) => {
                    let _ = writeln!(s, "               {target}: {name} = {data}");
                }
                (None, error) => {
                    let _ = writeln!(
                        s,
                        "               {} [{}]: {name}: cannot be written: {}",
                        e.key,
                        target,
                        error.as_deref().unwrap_or("-")
                    );
                }
            }
        }
    }
    for inner in &r.inner {
        s.push_str(&registry_text(inner));
    }
    s
}

fn extract_text(r: &ExtractReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Package      : {} ({})", r.input, r.kind);
    let _ = writeln!(s, "Extracted to : {}", r.dest);
    for p in &r.packages {
        let folder = if p.folder.is_empty() { "." } else { p.folder.as_str() };
        let _ = writeln!(
            s,
            "  {folder}: {} ({} payload files verified, deltas expanded; {} manifests/.mum/.cat)",
            p.identity.as_deref().unwrap_or(&p.package),
            p.payloads,
            p.metadata
        );
    }
    let _ = writeln!(s, "Files        : {}", r.files);
    s
}

fn text(r: &PackageReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Package      : {}", r.path);
    let _ = writeln!(s, "Kind         : {}", r.kind);
    if let Some(reason) = &r.reason {
        let _ = writeln!(s, "Not applied  : {reason}");
    }
    if let Some(error) = &r.error {
        let _ = writeln!(s, "Unreadable   : {error}");
    }
    if let Some(id) = &r.identity_string {
        let _ = writeln!(s, "Identity     : {id}");
    }
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    if r.identity.is_some() {
        let _ = writeln!(s, "KB           : {}", opt(&r.kb));
        let _ = writeln!(s, "Release type : {}", opt(&r.release_type));
        let _ = writeln!(s, "Restart      : {}", opt(&r.restart));
        for (i, p) in r.parents.iter().enumerate() {
            let _ = writeln!(
                s,
                "Parents #{}   : any of {} (build {}, service {})",
                i + 1,
                p.alternatives.len(),
                p.build_compare.as_deref().unwrap_or("-"),
                p.service_compare.as_deref().unwrap_or("-")
            );
            for a in &p.alternatives {
                let _ = writeln!(s, "               {a}");
            }
        }
        let _ = writeln!(s, "Sub-packages : {}", r.packages.len());
        for p in &r.packages {
            let _ = writeln!(s, "               {}", p.identity);
        }
        let files: usize = r.components.iter().map(|c| c.files.len()).sum();
        // Counted from the files: an MSU's own `verified_files` leaves its main package's to it.
        let verified = r.components.iter().flat_map(|c| &c.files).filter(|f| f.status == FileStatus::Verified).count();
        let _ = writeln!(s, "Components   : {} manifests, {} payload files", r.components.len(), files);
        let values: usize = r.components.iter().map(|c| c.registry_values).sum();
        let _ = writeln!(s, "Registry     : {values} values in component manifests (--registry lists them)");
        let _ = writeln!(
            s,
            "Verified     : {} of {} payload files (SHA-256 against the manifests; deltas expanded first)",
            verified, files
        );
        if let Some(d) = &r.delta {
            let _ = writeln!(
                s,
                "Deltas       : {} files indexed by {} ({:?}): {}",
                d.files, d.index, d.by_format, d.expansion
            );
        }
        if let Some(d) = &r.psf {
            let _ = writeln!(s, "Express .psf : {} ({:?}): {}", d.index, d.by_format, d.expansion);
            if let (Some(psf), Some(true)) = (&d.psf, d.psf_found) {
                let _ = writeln!(s, "               read from {psf}");
            }
        }
        for c in &r.components {
            for f in &c.files {
                let label = match f.status {
                    FileStatus::Unsupported => "Unsupported  :",
                    FileStatus::Failed => "Failed       :",
                    _ => continue,
                };
                let reason = f.reason.as_deref().unwrap_or("-");
                let _ = writeln!(s, "{label} {}\\{}: {reason}", c.keyform, f.name);
            }
        }
    }
    for inner in &r.inner {
        let _ = writeln!(s, "\n  Inner package:");
        for line in text(inner).lines() {
            let _ = writeln!(s, "  {line}");
        }
    }
    s
}
