//! `wimpatch site …`: the site (catalog, content library, images, schedules, runner, distribution
//! points). Tables use ConfigMgr's column names.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{anyhow, Context as _, Result};
use servicing::site::catalog::{self, Update};
use servicing::site::dp::{self, DistributeReport};
use servicing::site::execute::JobOutcome;
use servicing::site::images::{self, ImageDetail, ImportRequest};
use servicing::site::jobs::{self, JobView, ScheduleRequest};
use servicing::site::lifecycle;
use servicing::site::runner::{self, TickReport};
use servicing::site::schedule::{Status, When};
use servicing::site::Site;

use super::Ctx;
use crate::args::{SiteArgs, SiteCatalogCommand, SiteCommand, SiteDpCommand, SiteImageCommand, SiteScheduleArgs};
use crate::output::{size, thousands};
use crate::site_progress::SiteBars;

/// A table cut to the terminal's width (never when piped).
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    crate::output::table(header, rows, crate::output::terminal_width())
}

fn or_dash(v: Option<impl ToString>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

/// The site's progress bars: on a terminal, unless `--no-progress`, `--json` or `-q`.
fn site_bars(ctx: &Ctx) -> SiteBars {
    SiteBars::new(!(ctx.global.no_progress || ctx.global.json || ctx.global.quiet))
}

fn site_dir(a: &SiteArgs) -> Result<PathBuf> {
    a.site
        .clone()
        .ok_or_else(|| super::UsageError("no site given: pass --site <DIR> or set WIMPATCH_SITE".into()).into())
}

pub fn run(ctx: &Ctx, a: SiteArgs) -> Result<()> {
    let dir = site_dir(&a)?;
    match a.command {
        SiteCommand::Init { database } => {
            let (_, report) = Site::init(&dir, database.as_deref())?;
            ctx.print(&report, || {
                format!(
                    "{} site {} (database schema version {})\n",
                    if report.created { "Created" } else { "Up to date:" },
                    report.site.display(),
                    report.schema_version
                )
            })
        }
        SiteCommand::Catalog(SiteCatalogCommand::Sync { from, verify }) => {
            let mut site = Site::open(&dir)?;
            let r = catalog::sync(&mut site, &from, verify)?;
            ctx.print(&r, || {
                let mut s = String::new();
                for (word, list) in [("added", &r.added), ("changed", &r.changed), ("removed", &r.removed)] {
                    for f in list {
                        let _ = writeln!(s, "{word:<8} {f}");
                    }
                }
                let _ = writeln!(
                    s,
                    "Catalog sync of {}: {} file(s) scanned, {} added, {} changed, {} removed, {} unchanged; {} new blob(s) in the content library",
                    r.source.display(),
                    r.scanned,
                    r.added.len(),
                    r.changed.len(),
                    r.removed.len(),
                    r.unchanged,
                    r.new_blobs
                );
                if verify {
                    let _ = writeln!(
                        s,
                        "Verified {} blob(s): {} repaired from the source, {} cannot be repaired",
                        r.verified,
                        r.repaired.len(),
                        r.unrepairable.len()
                    );
                    for f in &r.repaired {
                        let _ = writeln!(s, "repaired {f}");
                    }
                }
                for p in &r.unrepairable {
                    let _ = writeln!(s, "warning: {}: its blob is corrupt and cannot be repaired: {}", p.file, p.reason);
                }
                for p in &r.unreadable {
                    let _ = writeln!(
                        s,
                        "warning: {} is unreadable ({}): it stays in the catalog as unreadable and is never applied",
                        p.file, p.reason
                    );
                }
                s
            })
        }
        SiteCommand::Catalog(SiteCatalogCommand::List { filter }) => {
            let site = Site::open(&dir)?;
            let list: Vec<Update> = catalog::list(&site.db)?
                .into_iter()
                .filter(|u| filter.as_deref().is_none_or(|f| catalog::matches_filter(u, f)))
                .collect();
            ctx.print(&list, || catalog_table(&list))
        }
        SiteCommand::Catalog(SiteCatalogCommand::Remove { updates }) => {
            let mut site = Site::open(&dir)?;
            let r = lifecycle::remove_updates(&mut site, &updates)?;
            ctx.print(&r, || {
                let mut s = String::new();
                for u in &r.removed {
                    let _ = writeln!(
                        s,
                        "Removed {} ({}, catalog ID {}){}{}",
                        u.kb.as_deref().unwrap_or("-"),
                        u.file_name,
                        u.id,
                        if u.blob_deleted { "; its binary left the content library" } else { "" },
                        if u.still_in_source {
                            "; the file is still in its sync folder: the next sync of that folder adds it again"
                        } else {
                            ""
                        }
                    );
                }
                s
            })
        }
        SiteCommand::Dp(SiteDpCommand::Remove { name }) => {
            let mut site = Site::open(&dir)?;
            let r = lifecycle::remove_dp(&mut site, &name)?;
            ctx.print(&r, || {
                format!(
                    "Removed distribution point {} ({}); the files it holds stay there{}\n",
                    r.name,
                    r.url,
                    if r.held_images.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " (image-{})",
                            r.held_images.iter().map(i64::to_string).collect::<Vec<_>>().join(", image-")
                        )
                    }
                )
            })
        }
        SiteCommand::Image(cmd) => image(ctx, &dir, cmd),
        SiteCommand::Serve { listen } => super::site_serve::serve(ctx, &dir, listen),
        SiteCommand::Report { html } => {
            let site = Site::open(&dir)?;
            let written = servicing::site::status_page::write_report(&site, &html)?;
            ctx.print(&written, || {
                let mut s = String::new();
                for p in &written {
                    let _ = writeln!(s, "wrote {}", p.display());
                }
                s
            })
        }
        SiteCommand::Updates { image, filter, arch } => {
            let site = Site::open(&dir)?;
            let list: Vec<images::Applicable> = images::applicable(&site, image, ctx.control())?
                .into_iter()
                .filter(|a| arch.admits(&a.update))
                .filter(|a| filter.as_deref().is_none_or(|f| catalog::matches_filter(&a.update, f)))
                .collect();
            ctx.print(&list, || {
                if list.is_empty() {
                    return format!("No applicable update for image {image} that is not applied yet.\n");
                }
                updates_table(list.iter().map(|a| (&a.update, a.superseded, a.note.as_deref())))
            })
        }
        SiteCommand::Schedule(s) => schedule(ctx, &dir, s),
        SiteCommand::Cancel { image } => {
            let mut site = Site::open(&dir)?;
            let r = jobs::cancel(&mut site, image)?;
            ctx.print(&r, || format!("Job {} ({} → {}): {}\n", r.job, r.was, r.now, r.message))
        }
        SiteCommand::Tick => {
            let bars = site_bars(ctx);
            let report = runner::tick_with(&dir, &ctx.cancel, &bars)?;
            bars.clear();
            ctx.print(&report, || tick_text(&report))?;
            // A failed run must fail the command, so a systemd timer's `OnFailure=` fires.
            let failed: Vec<String> =
                report.ran.iter().filter(|o| o.status == Status::Failed).map(|o| o.job.to_string()).collect();
            if !failed.is_empty() {
                return Err(anyhow!("servicing run(s) failed: job {} (see above)", failed.join(", job ")));
            }
            Ok(())
        }
        SiteCommand::Run => {
            Site::open(&dir)?;
            runner::stop_on_signals(&ctx.cancel).context("cannot install the SIGTERM handler")?;
            eprintln!(
                "wimpatch site runner on {} (pid {}); SIGTERM or Ctrl-C stops it",
                dir.display(),
                std::process::id()
            );
            let bars = site_bars(ctx);
            runner::run(&dir, &ctx.cancel, &bars, |report| {
                bars.clear();
                if report.ran.is_empty() && report.recovered.is_empty() && report.recovered_distributions == 0 {
                    return;
                }
                let _ = ctx.print(report, || tick_text(report));
            })?;
            eprintln!("wimpatch site runner stopped");
            Ok(())
        }
        SiteCommand::Dp(SiteDpCommand::Add { name, path, url, bwlimit }) => {
            let mut site = Site::open(&dir)?;
            let target = match (path, url) {
                (Some(p), _) => dp::DpTarget::Path(p),
                (None, Some(u)) => dp::DpTarget::Url(u),
                (None, None) => unreachable!("clap requires --path or --url"),
            };
            let d = dp::add(&mut site, &name, &target, bwlimit)?;
            ctx.print(&d, || format!("Added distribution point {} at {} ({})\n", d.name, d.url, d.transport))
        }
        SiteCommand::Dp(SiteDpCommand::List) => {
            let site = Site::open(&dir)?;
            let list = dp::list(&site)?;
            ctx.print(&list, || {
                let mut rows = Vec::new();
                for d in &list {
                    if d.images.is_empty() {
                        let mut row = vec![d.dp.name.clone(), d.dp.url.clone()];
                        row.extend(std::iter::repeat_n("-".to_owned(), 5));
                        rows.push(row);
                    }
                    for i in &d.images {
                        rows.push(vec![
                            d.dp.name.clone(),
                            d.dp.url.clone(),
                            i.image_id.to_string(),
                            i.state.clone(),
                            or_dash(i.bytes_sent.map(thousands)),
                            or_dash(i.image_bytes.map(thousands)),
                            i.message.clone().unwrap_or_default(),
                        ]);
                    }
                }
                table(&["Name", "URL", "Image", "State", "Bytes Sent", "Image Bytes", "Message"], &rows)
            })
        }
        SiteCommand::Distribute { image } => {
            let mut site = Site::open(&dir)?;
            let bars = site_bars(ctx);
            let r = dp::distribute_with(&mut site, image, ctx.control(), &bars)?;
            bars.clear();
            ctx.print(&r, || distribution_text(&r))?;
            if !r.all_succeeded() {
                return Err(anyhow!(
                    "distribution failed on some distribution points (see above); they keep their previous version"
                ));
            }
            Ok(())
        }
    }
}

fn image(ctx: &Ctx, dir: &std::path::Path, cmd: SiteImageCommand) -> Result<()> {
    match cmd {
        SiteImageCommand::Import { wim, index, single_index } => {
            let mut site = Site::open(dir)?;
            let d = images::import(&mut site, &ImportRequest { wim, index, single_index }, ctx.control())?;
            ctx.print(&d, || format!("Imported as image {}\n{}", d.image.id, detail_text(&d)))
        }
        SiteImageCommand::List => {
            let site = Site::open(dir)?;
            let list = images::list(&site)?;
            ctx.print(&list, || {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|i| {
                        vec![
                            i.id.to_string(),
                            i.name.clone(),
                            or_dash(i.version.as_ref()),
                            or_dash(i.scheduled_updates_date.as_ref()),
                            or_dash(i.scheduled_updates_status),
                            i.content_version.to_string(),
                            thousands(i.size),
                        ]
                    })
                    .collect();
                table(
                    &[
                        "ID",
                        "Name",
                        "Version",
                        "Scheduled Updates Date",
                        "Scheduled Updates Status",
                        "Content Version",
                        "Size (bytes)",
                    ],
                    &rows,
                )
            })
        }
        SiteImageCommand::Show { id } => {
            let site = Site::open(dir)?;
            let d = images::show(&site, id)?;
            ctx.print(&d, || detail_text(&d))
        }
        SiteImageCommand::Remove { id } => {
            let mut site = Site::open(dir)?;
            let r = lifecycle::remove_image(&mut site, id)?;
            ctx.print(&r, || {
                let mut s = format!("Removed image {} ({}) and {}\n", r.image_id, r.name, r.removed_dir.display());
                for d in &r.removed_from_dps {
                    let _ = writeln!(s, "  removed its copy from distribution point {d}");
                }
                for d in &r.left_on_dps {
                    let _ = writeln!(s, "  distribution point {d} keeps image-{}: remove it there by hand", r.image_id);
                }
                s
            })
        }
        SiteImageCommand::Rollback { id, update_dps } => {
            let mut site = Site::open(dir)?;
            let r = lifecycle::rollback(&mut site, id, update_dps, ctx.control())?;
            ctx.print(&r, || {
                let mut s = format!(
                    "Image {id} rolled back: content version {} holds the bytes of content version {} again (version {} is kept as the previous one)\n",
                    r.image.image.content_version, r.restored_from, r.replaced
                );
                if let Some(d) = &r.distribution {
                    s.push_str(&distribution_text(d));
                }
                s.push_str(&detail_text(&r.image));
                s
            })?;
            if r.distribution.as_ref().is_some_and(|d| !d.all_succeeded()) {
                return Err(anyhow!(
                    "distribution failed on some distribution points (see above); they keep their previous version"
                ));
            }
            Ok(())
        }
    }
}

fn schedule(ctx: &Ctx, dir: &std::path::Path, a: SiteScheduleArgs) -> Result<()> {
    let when = if a.now {
        When::Now
    } else if let Some(at) = &a.at {
        When::parse_at(at).map_err(|e| anyhow!("--at: {e}"))?
    } else if let Some(every) = &a.every {
        When::parse_every(every).map_err(|e| anyhow!("--every: {e}"))?
    } else {
        unreachable!("clap requires one of --now, --at, --every")
    };
    let mut site = Site::open(dir)?;
    let req = ScheduleRequest {
        image: a.image,
        updates: a.updates,
        when,
        continue_on_error: a.continue_on_error,
        update_dps: a.update_dps,
        remove_superseded: a.remove_superseded,
        include_not_supported: a.include_not_supported,
        force: a.force,
    };
    let r = jobs::schedule(&mut site, &req, ctx.control())?;
    ctx.print(&r, || {
        let mut s = String::new();
        for old in &r.replaced {
            let _ = writeln!(s, "Replaced schedule {old} (its pending run was cancelled)");
        }
        for f in &r.forced {
            let _ = writeln!(s, "warning: scheduled with --force although it cannot apply: {f}");
        }
        let _ = writeln!(s, "Schedule {} for image {}: {}", r.schedule.id, a.image, r.schedule.when);
        if let Some(job) = &r.schedule.job {
            let _ = writeln!(s, "Run {}: {} at {}", job.id, job.status, job.run_at);
            for u in &job.updates {
                let _ = writeln!(s, "  {:<10} {}", u.kb.as_deref().unwrap_or("-"), u.title);
            }
        }
        s
    })
}

/// The catalog with what the data says about each entry: its type, the entry superseding it, and
/// why servicing cannot use it (unreadable, not supported).
fn catalog_table(list: &[Update]) -> String {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|u| {
            vec![
                u.id.to_string(),
                or_dash(u.kb.as_ref()),
                u.title.clone(),
                or_dash(u.classification.as_ref()),
                or_dash(u.arch.as_ref()),
                u.kind_label().to_owned(),
                or_dash(u.superseded_by),
                u.file_name.clone(),
                u.problem_note().unwrap_or_default(),
            ]
        })
        .collect();
    table(&["ID", "Article ID", "Title", "Classification", "Arch", "Type", "Superseded By", "File", "Note"], &rows)
}

fn updates_table<'a>(items: impl Iterator<Item = (&'a Update, bool, Option<&'a str>)>) -> String {
    let rows: Vec<Vec<String>> = items
        .map(|(u, superseded, note)| {
            vec![
                u.id.to_string(),
                or_dash(u.kb.as_ref()),
                u.title.clone(),
                or_dash(u.classification.as_ref()),
                or_dash(u.arch.as_ref()),
                if superseded { "Yes".into() } else { "No".into() },
                u.file_name.clone(),
                note.unwrap_or_default().to_owned(),
            ]
        })
        .collect();
    table(&["ID", "Article ID", "Title", "Classification", "Arch", "Superseded", "File", "Note"], &rows)
}

fn job_lines(s: &mut String, job: &JobView, indent: &str) {
    let _ = writeln!(
        s,
        "{indent}Run {}: {} (due {}{}{}){}",
        job.id,
        job.status,
        job.run_at,
        job.started.as_deref().map(|t| format!(", started {t}")).unwrap_or_default(),
        job.finished.as_deref().map(|t| format!(", ended {t}")).unwrap_or_default(),
        job.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default()
    );
    for u in &job.updates {
        let _ = writeln!(
            s,
            "{indent}  {:<10} {:<13} {}{}",
            u.kb.as_deref().unwrap_or("-"),
            u.result,
            u.file_name,
            u.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default()
        );
    }
}

fn detail_text(d: &ImageDetail) -> String {
    let i = &d.image;
    let mut s = String::new();
    let _ = writeln!(s, "Image {}: {}", i.id, i.name);
    let _ = writeln!(s, "  Version:                  {}", or_dash(i.version.as_ref()));
    let _ = writeln!(s, "  Architecture:             {}", or_dash(i.arch.as_ref()));
    let _ = writeln!(s, "  Content version:          {}", i.content_version);
    let _ = writeln!(s, "  Size:                     {}", size(i.size));
    let _ = writeln!(s, "  Path:                     {}", i.path.display());
    let _ = writeln!(s, "  SHA-256:                  {}", i.sha256);
    let _ = writeln!(s, "  Scheduled Updates Date:   {}", or_dash(i.scheduled_updates_date.as_ref()));
    let _ = writeln!(s, "  Scheduled Updates Status: {}", or_dash(i.scheduled_updates_status));
    let _ = writeln!(s, "Editions:");
    for e in &d.editions {
        let _ = writeln!(
            s,
            "  Index {}: {} ({}, {}, {})",
            e.index,
            or_dash(e.name.as_ref()),
            or_dash(e.edition_id.as_ref()),
            or_dash(e.arch.as_ref()),
            or_dash(e.os_version.as_ref())
        );
    }
    let _ = writeln!(s, "Installed Updates:");
    if d.installed_updates.is_empty() {
        let _ = writeln!(s, "  (none)");
    } else {
        let _ = writeln!(s, "  {:<5} {:<10} {:<16} {:<11} Installed  Identity", "Index", "Article ID", "Type", "State");
    }
    for u in &d.installed_updates {
        let _ = writeln!(
            s,
            "  {:<5} {:<10} {:<16} {:<11} {}  {}",
            u.index,
            u.kb.as_deref().unwrap_or("-"),
            u.release_type.as_deref().unwrap_or("-"),
            u.state,
            u.install_time.as_deref().unwrap_or("-"),
            u.identity
        );
    }
    match &d.schedule {
        None => {
            let _ = writeln!(s, "Servicing: no schedule");
        }
        Some(sch) => {
            let _ = writeln!(
                s,
                "Servicing: schedule {} ({}), {}; updates {}; continue on error: {}; update distribution points: {}; remove superseded updates: {}",
                sch.id,
                if sch.active { "active" } else { "done" },
                sch.when,
                sch.selection.join(" "),
                yes(sch.continue_on_error),
                yes(sch.update_dps),
                yes(sch.remove_superseded)
            );
            if let Some(job) = &sch.job {
                job_lines(&mut s, job, "  ");
            }
        }
    }
    if !d.distribution.is_empty() {
        let _ = writeln!(s, "Distribution points:");
        for p in &d.distribution {
            let _ = writeln!(
                s,
                "  {:<12} {}{}",
                p.dp,
                p.state,
                p.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default()
            );
        }
    }
    s
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn distribution_text(r: &DistributeReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Image {} content version {} ({}):", r.image_id, r.content_version, size(r.size));
    for d in &r.dps {
        match &d.message {
            Some(m) => {
                let _ = writeln!(s, "  {:<12} {}: {m}", d.dp, d.status);
            }
            None => {
                let _ = writeln!(
                    s,
                    "  {:<12} {}: holds content version {} now ({}: {} of {} bytes sent, {:.1}%{}; verified by {})",
                    d.dp,
                    d.status,
                    r.content_version,
                    method_words(d.method),
                    thousands(d.bytes_sent),
                    thousands(d.image_bytes),
                    d.percent_sent,
                    if d.bytes_received > 0 {
                        format!(", {} bytes back", thousands(d.bytes_received))
                    } else {
                        String::new()
                    },
                    d.verification.as_deref().unwrap_or("-")
                );
            }
        }
    }
    s
}

/// How a DP got its copy, in words.
fn method_words(m: Option<servicing::site::dp::DpMethod>) -> &'static str {
    use servicing::site::dp::DpMethod;
    match m {
        Some(DpMethod::Copy) => "a whole verified copy",
        Some(DpMethod::Rsync) => "an rsync delta transfer",
        Some(DpMethod::Unchanged) => "it held this very file already",
        None => "-",
    }
}

fn outcome_text(s: &mut String, o: &JobOutcome) {
    let _ = writeln!(s, "Job {} (image {}): {}: {}", o.job, o.image, o.status, o.message);
    for u in &o.updates {
        let _ = writeln!(
            s,
            "  {:<10} {:<13} {}{}",
            u.kb.as_deref().unwrap_or("-"),
            u.result,
            u.file_name,
            u.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default()
        );
    }
    if let Some(d) = &o.distribution {
        s.push_str(&distribution_text(d));
    }
    let _ = writeln!(s, "  Log: {}", o.log.display());
}

fn tick_text(r: &TickReport) -> String {
    let mut s = String::new();
    for rec in &r.recovered {
        let _ = writeln!(
            s,
            "Job {} (image {}): {}: its runner {} stopped during the run; the image is as before",
            rec.job,
            rec.image,
            rec.status,
            rec.holder.as_deref().unwrap_or("-")
        );
    }
    if r.recovered_distributions > 0 {
        let _ = writeln!(s, "{} interrupted distribution(s) marked Failed", r.recovered_distributions);
    }
    for o in &r.ran {
        outcome_text(&mut s, o);
    }
    for k in &r.skipped {
        let _ = writeln!(s, "Skipped {k}");
    }
    if r.ran.is_empty() && r.skipped.is_empty() {
        let _ = writeln!(s, "Nothing due.");
    }
    if let Some(n) = &r.next_due {
        let _ = writeln!(s, "Next run due {n}");
    }
    s
}
