//! The site's status pages, rendered on the server as plain HTML with an inline SVG chart (no
//! script at all): `index.html` (the images with ConfigMgr's columns, the distribution points and
//! the catalog) and `image-<ID>.html` per image (Installed Updates with their index, schedules,
//! run history with each update's result and reason, DP status per content version, and image size
//! and update count over content versions). `site serve` answers with these pages and
//! `site report --html DIR` writes them as files. Every text that came from a package, a file name
//! or the database is escaped.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::catalog;
use super::dp;
use super::error::{Error, Result};
use super::images::{self, ImageDetail};
use super::jobs::{self, JobView};
use super::store::{self, Db};
use super::Site;

/// One page: its file name (`index.html`, `image-1.html`) and its HTML.
#[derive(Debug, Clone)]
pub struct Page {
    /// File name, also the URL path below `/`.
    pub name: String,
    /// The document.
    pub html: String,
}

/// One content version as the chart shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VersionPoint {
    /// The content version.
    pub version: i64,
    /// Size of its WIM in bytes.
    pub size: u64,
    /// Installed updates (distinct KB articles) it holds.
    pub updates: i64,
    /// When it was made (UTC).
    pub created: String,
}

/// Every content version an image has had, oldest first (recorded even after its file is pruned).
pub fn version_history(db: &Db, image: i64) -> Result<Vec<VersionPoint>> {
    store::images::content_history(db, image).map_err(db.err())
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn opt(v: Option<impl ToString>) -> String {
    v.map(|v| esc(&v.to_string())).unwrap_or_else(|| "-".into())
}

/// A CSS class for a status word (`Successful` → `status-successful`).
fn status_class(word: &str) -> String {
    let slug: String = word.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase();
    format!("status status-{slug}")
}

const STYLE: &str =
    "body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em}\
th,td{border:1px solid #bbb;padding:.25em .5em;text-align:left;vertical-align:top}th{background:#eee}\
.status-successful,.status-success,.status-applied{color:#060}.status-failed{color:#a00;font-weight:bold}\
.status-scheduled,.status-inprocess,.status-inprogress{color:#036}.num{text-align:right}\
svg text{font-size:11px;font-family:sans-serif}";

fn document(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head>\n<body>\n{body}</body></html>\n",
        esc(title)
    )
}

fn table(id: &str, header: &[&str], rows: &[String]) -> String {
    let mut s = format!("<table id=\"{id}\"><thead><tr>");
    for h in header {
        let _ = write!(s, "<th>{}</th>", esc(h));
    }
    s.push_str("</tr></thead><tbody>\n");
    for r in rows {
        s.push_str(r);
        s.push('\n');
    }
    s.push_str("</tbody></table>\n");
    s
}

/// Every page of the site.
pub fn pages(site: &Site) -> Result<Vec<Page>> {
    let list = images::list(site)?;
    let mut out = vec![Page { name: "index.html".into(), html: index(site, &list)? }];
    for img in &list {
        out.push(image_page(site, img.id)?);
    }
    Ok(out)
}

/// One page by its name (`index.html` or `image-<ID>.html`), rendered now; `None` when there is
/// no such page.
pub fn page(site: &Site, name: &str) -> Result<Option<Page>> {
    if name.is_empty() || name == "index.html" {
        let list = images::list(site)?;
        return Ok(Some(Page { name: "index.html".into(), html: index(site, &list)? }));
    }
    let id = name.strip_prefix("image-").and_then(|r| r.strip_suffix(".html")).and_then(|n| n.parse::<i64>().ok());
    match id {
        Some(id) => match image_page(site, id) {
            Ok(p) => Ok(Some(p)),
            Err(Error::NoSuchImage { .. }) => Ok(None),
            Err(e) => Err(e),
        },
        None => Ok(None),
    }
}

fn index(site: &Site, list: &[images::ImageRow]) -> Result<String> {
    let mut body = format!("<h1>wimpatch site {}</h1>\n<h2>Images</h2>\n", esc(&site.dir.display().to_string()));
    let rows: Vec<String> = list
        .iter()
        .map(|i| {
            let status = i.scheduled_updates_status.map(|s| s.to_string());
            format!(
                "<tr data-image=\"{id}\"><td>{id}</td><td><a href=\"image-{id}.html\">{}</a></td><td>{}</td><td>{}</td>\
                 <td class=\"{}\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                esc(&i.name),
                opt(i.version.as_ref()),
                opt(i.scheduled_updates_date.as_ref()),
                status_class(status.as_deref().unwrap_or("none")),
                opt(status.as_ref()),
                i.content_version,
                i.size,
                id = i.id
            )
        })
        .collect();
    body.push_str(&table(
        "images",
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
    ));
    body.push_str("<h2>Distribution points</h2>\n");
    let mut rows = Vec::new();
    for d in dp::list(site)? {
        if d.images.is_empty() {
            rows.push(format!(
                "<tr data-dp=\"{}\"><td>{}</td><td>{}</td><td>-</td><td>-</td></tr>",
                esc(&d.dp.name),
                esc(&d.dp.name),
                esc(&d.dp.url)
            ));
        }
        for i in &d.images {
            rows.push(format!(
                "<tr data-dp=\"{}\" data-image=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
                esc(&d.dp.name),
                i.image_id,
                esc(&d.dp.name),
                esc(&d.dp.url),
                i.image_id,
                status_class(i.status.as_str()),
                esc(&i.state)
            ));
        }
    }
    body.push_str(&table("dps", &["Name", "URL", "Image", "State"], &rows));
    body.push_str("<h2>Catalog</h2>\n");
    let rows: Vec<String> = catalog::list(&site.db)?
        .iter()
        .map(|u| {
            format!(
                "<tr data-update=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td class=\"description\">{}</td><td>{}</td>\
                 <td>{}</td><td>{}</td><td>{}</td></tr>",
                u.id,
                u.id,
                opt(u.kb.as_ref()),
                esc(&u.title),
                opt(u.description.as_ref()),
                esc(u.kind_label()),
                opt(u.superseded_by),
                esc(&u.file_name),
                opt(u.problem_note())
            )
        })
        .collect();
    body.push_str(&table(
        "catalog",
        &["ID", "Article ID", "Title", "Description", "Type", "Superseded By", "File", "Note"],
        &rows,
    ));
    Ok(document("wimpatch site status", &body))
}

fn image_page(site: &Site, id: i64) -> Result<Page> {
    let d = images::show(site, id)?;
    let i = &d.image;
    let mut body = format!(
        "<p><a href=\"index.html\">All images</a></p>\n<h1>Image {}: {}</h1>\n<p>Version {} · {} · content version {} · {} bytes</p>\n",
        i.id,
        esc(&i.name),
        opt(i.version.as_ref()),
        opt(i.arch.as_ref()),
        i.content_version,
        i.size
    );
    body.push_str("<h2>Installed Updates</h2>\n");
    let rows: Vec<String> = d
        .installed_updates
        .iter()
        .map(|u| {
            format!(
                "<tr data-index=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                u.index,
                u.index,
                opt(u.kb.as_ref()),
                opt(u.release_type.as_ref()),
                esc(&u.state),
                opt(u.install_time.as_ref()),
                esc(&u.identity)
            )
        })
        .collect();
    body.push_str(&table("installed", &["Index", "Article ID", "Type", "State", "Installed", "Identity"], &rows));
    body.push_str(&schedules_section(&site.db, id)?);
    body.push_str(&runs_section(&jobs::jobs_of(&site.db, id)?));
    body.push_str(&distribution_section(&d));
    let history = version_history(&site.db, id)?;
    body.push_str("<h2>Content versions</h2>\n");
    body.push_str(&chart(&history));
    let rows: Vec<String> = history
        .iter()
        .map(|v| {
            format!(
                "<tr data-version=\"{}\"><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                v.version,
                v.version,
                esc(&v.created),
                v.size,
                v.updates
            )
        })
        .collect();
    body.push_str(&table("versions", &["Content Version", "Created", "Size (bytes)", "Installed updates"], &rows));
    Ok(Page { name: format!("image-{id}.html"), html: document(&format!("Image {id}: {}", i.name), &body) })
}

fn schedules_section(db: &Db, image: i64) -> Result<String> {
    let rows: Vec<String> = jobs::schedules_of(db, image)?
        .iter()
        .map(|s| {
            format!(
                "<tr data-schedule=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                s.id,
                s.id,
                esc(&s.when),
                esc(&s.selection.join(" ")),
                if s.continue_on_error { "yes" } else { "no" },
                if s.update_dps { "yes" } else { "no" },
                if s.active { "active" } else { "done" }
            )
        })
        .collect();
    Ok(format!(
        "<h2>Schedules</h2>\n{}",
        table("schedules", &["Schedule", "When", "Updates", "Continue on error", "Update DPs", "State"], &rows)
    ))
}

fn runs_section(runs: &[JobView]) -> String {
    let mut rows = Vec::new();
    for j in runs {
        let mut updates = String::from("<table class=\"run-updates\"><tbody>");
        for u in &j.updates {
            let _ = write!(
                updates,
                "<tr data-update=\"{}\"><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td></tr>",
                u.update_id,
                opt(u.kb.as_ref()),
                esc(&u.file_name),
                status_class(u.result.as_str()),
                esc(u.result.as_str()),
                opt(u.reason.as_ref())
            );
        }
        updates.push_str("</tbody></table>");
        rows.push(format!(
            "<tr data-run=\"{}\"><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            j.id,
            j.id,
            status_class(j.status.as_str()),
            esc(j.status.as_str()),
            esc(&j.run_at),
            opt(j.started.as_ref()),
            opt(j.finished.as_ref()),
            opt(j.message.as_ref()),
            updates
        ));
    }
    format!(
        "<h2>Run history</h2>\n{}",
        table("runs", &["Run", "Status", "Due", "Started", "Ended", "Message", "Updates"], &rows)
    )
}

fn distribution_section(d: &ImageDetail) -> String {
    let rows: Vec<String> = d
        .distribution
        .iter()
        .map(|p| {
            format!(
                "<tr data-dp=\"{}\"><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&p.dp),
                esc(&p.dp),
                status_class(p.status.as_str()),
                esc(&p.state),
                opt(p.content_version),
                p.site_content_version,
                opt(p.message.as_ref())
            )
        })
        .collect();
    format!(
        "<h2>Distribution points</h2>\n{}",
        table("distribution", &["DP", "State", "DP Content Version", "Site Content Version", "Message"], &rows)
    )
}

/// Image size and installed-update count over content versions, one point per version per series.
fn chart(history: &[VersionPoint]) -> String {
    const W: f64 = 640.0;
    const H: f64 = 240.0;
    const PAD: f64 = 48.0;
    let n = history.len();
    let x = |i: usize| if n <= 1 { W / 2.0 } else { PAD + (W - 2.0 * PAD) * i as f64 / (n - 1) as f64 };
    let max_size = history.iter().map(|v| v.size).max().unwrap_or(0).max(1) as f64;
    let max_updates = history.iter().map(|v| v.updates).max().unwrap_or(0).max(1) as f64;
    let y = |value: f64, max: f64| H - PAD - (H - 2.0 * PAD) * value / max;
    let mut s = format!(
        "<svg id=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" role=\"img\" \
         aria-label=\"Image size and installed updates per content version\">\n\
         <rect x=\"0\" y=\"0\" width=\"{W}\" height=\"{H}\" fill=\"#fff\" stroke=\"#bbb\"/>\n\
         <text x=\"{PAD}\" y=\"16\" fill=\"#036\">size (bytes, max {})</text>\
         <text x=\"{}\" y=\"16\" fill=\"#a60\" text-anchor=\"end\">installed updates (max {})</text>\n",
        max_size as u64,
        W - PAD,
        max_updates as i64
    );
    let line = |f: &dyn Fn(&VersionPoint) -> f64, max: f64| {
        history
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(f(v), max)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let _ = writeln!(
        s,
        "<polyline class=\"series-size\" fill=\"none\" stroke=\"#036\" stroke-width=\"2\" points=\"{}\"/>",
        line(&|v| v.size as f64, max_size)
    );
    let _ = writeln!(
        s,
        "<polyline class=\"series-updates\" fill=\"none\" stroke=\"#a60\" stroke-width=\"2\" stroke-dasharray=\"4 3\" points=\"{}\"/>",
        line(&|v| v.updates as f64, max_updates)
    );
    for (i, v) in history.iter().enumerate() {
        let _ = writeln!(
            s,
            "<circle class=\"point-size\" data-version=\"{ver}\" data-size=\"{size}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"#036\"><title>v{ver}: {size} bytes</title></circle>\
             <circle class=\"point-updates\" data-version=\"{ver}\" data-updates=\"{upd}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"#a60\"><title>v{ver}: {upd} installed update(s)</title></circle>\
             <text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">v{ver}</text>",
            x(i),
            y(v.size as f64, max_size),
            x(i),
            y(v.updates as f64, max_updates),
            x(i),
            H - PAD + 18.0,
            ver = v.version,
            size = v.size,
            upd = v.updates
        );
    }
    s.push_str("</svg>\n");
    s
}

/// Writes every page into `dir` (created if missing), each replaced atomically.
pub fn write_report(site: &Site, dir: &Path) -> Result<Vec<PathBuf>> {
    safe_fs::create_dir_all(dir).map_err(Error::io(dir, "cannot create the report folder"))?;
    let mut written = Vec::new();
    for p in pages(site)? {
        let path = dir.join(&p.name);
        safe_fs::write_atomic(&path, p.html.as_bytes()).map_err(Error::io(&path, "cannot write the report page"))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn markup_from_a_package_is_escaped() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }
}
