//! The image verbs: info, export-image, delete-image, reduce, optimize, verify.

use std::path::Path;

use anyhow::Result;
use servicing::ops;
use servicing::wim::ImageRef;

use super::Ctx;
use crate::args::ExportArgs;
use crate::output::{info as info_text, size};

pub fn info(ctx: &Ctx, wim: &Path) -> Result<()> {
    let report = ops::info(wim)?;
    ctx.print(&report, || info_text(&report))
}

pub fn export(ctx: &Ctx, a: ExportArgs) -> Result<()> {
    if let (Some(c), true) = (a.compress, a.dest.exists()) {
        // An append keeps the destination's compression: --compress other than it cannot be done.
        let existing = ops::info(&a.dest)?.header.compression;
        if existing != Some(c) {
            return Err(super::UsageError(format!(
                "--compress {} applies to a new destination only; {} exists with {} compression and an append keeps it",
                c.name(),
                a.dest.display(),
                existing.map_or("unknown", |e| e.name())
            ))
            .into());
        }
    }
    let req = ops::ExportRequest {
        source: a.source,
        image: a.index,
        dest: a.dest,
        compression: a.compress,
        dest_name: a.dest_name,
        check_integrity: a.check_integrity,
        wait: ctx.lock_wait(),
    };
    let r = ops::export_image(&req, ctx.control())?;
    ctx.print(&r, || {
        format!(
            "Exported image {} of {} to {} as image {} ({}).\nDestination size: {} -> {}\n",
            r.source_index,
            r.source.display(),
            r.dest.display(),
            r.dest_index,
            if r.created { "new file" } else { "appended" },
            size(r.dest_size_before),
            size(r.dest_size_after)
        )
    })
}

pub fn delete(ctx: &Ctx, wim: &Path, index: &ImageRef) -> Result<()> {
    let r = ops::delete_image(wim, index, ctx.lock_wait(), ctx.control())?;
    ctx.print(&r, || {
        format!(
            "Deleted image {} ({}) from {}; {} image(s) left.\nSize: {} -> {}\n",
            r.deleted_index,
            r.deleted_name.as_deref().unwrap_or("unnamed"),
            r.path.display(),
            r.images_left,
            size(r.size_before),
            size(r.size_after)
        )
    })
}

pub fn reduce(ctx: &Ctx, wim: &Path, keep: &ImageRef, dest: Option<&Path>, force: bool) -> Result<()> {
    let r = ops::reduce(wim, keep, dest, force, ctx.lock_wait(), ctx.control())?;
    ctx.print(&r, || {
        format!(
            "Kept image {} ({}), dropped {} other image(s); written to {}.\nSize: {} -> {}\n",
            r.kept_index,
            r.kept_name.as_deref().unwrap_or("unnamed"),
            r.dropped,
            r.dest.display(),
            size(r.size_before),
            size(r.size_after)
        )
    })
}

pub fn optimize(ctx: &Ctx, wim: &Path, recompress: bool) -> Result<()> {
    let r = ops::optimize(wim, recompress, ctx.lock_wait(), ctx.control())?;
    ctx.print(&r, || {
        format!(
            "Rebuilt {}{}.\nSize: {} -> {}\n",
            r.path.display(),
            if r.recompressed { " (recompressed)" } else { "" },
            size(r.size_before),
            size(r.size_after)
        )
    })
}

pub fn verify(ctx: &Ctx, wim: &Path) -> Result<()> {
    let r = ops::verify(wim, ctx.control())?;
    ctx.print(&r, || format!("{}: OK ({} image(s) verified)\n", r.path.display(), r.images))
}
