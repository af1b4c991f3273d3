//! Issue 19: the site's status page. `site serve` on a loopback port, rendered by headless Chromium
//! (Debian's `chromium`, installed by scripts/install-deps.sh) for a site with three images, a
//! failed and a successful run and two DPs: a screenshot is produced, the DOM holds the expected
//! rows and statuses, the SVG chart has one point per content version, and a package description
//! holding `<script>` is shown as text. `site report --html` writes the same pages.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use fixtures::packages::{updates::cumulative_update, Compression, Lcu};
use fixtures::profile::Profile;

use crate::site::{Backend, Fixture, KB3};
use crate::util::*;

const SCRIPT_KB: &str = "Windows10.0-KB5000007-x64.cab";
const HOSTILE: &str = "<script>document.title='pwned';document.body.innerHTML=''</script><b id=\"injected\">bold</b>";
const CHROMIUM: &str = "/usr/bin/chromium";

/// Three images (image 1 serviced twice with its DPs updated, image 3 with a failed run), two DPs,
/// and a catalog entry whose description holds markup.
fn site_with_history(backend: Backend) -> Fixture {
    let f = Fixture::new(backend);
    let mut def = cumulative_update(&Profile::win10_amd64(), &Lcu::monthly(5_000_007, 250)).unwrap();
    def.description = HOSTILE.to_owned();
    std::fs::write(f.updates.join(SCRIPT_KB), def.cab(SCRIPT_KB, Compression::MsZip).unwrap()).unwrap();
    std::fs::copy(f.all.join(KB3), f.updates.join(KB3)).unwrap();
    f.ok(&["catalog", "sync", "--from", f.updates.to_str().unwrap()]);
    let wim = fixture_wim(&f.work, "win10", "win10-more.wim");
    for index in ["1", "3"] {
        f.ok(&["image", "import", wim.to_str().unwrap(), "--single-index", "--index", index]);
    }
    f.add_dps();
    f.schedule_now(&["KB5000002"], &["--update-dps"]);
    f.json(&["tick"]);
    f.schedule_now(&["KB5000003"], &["--update-dps"]);
    f.json(&["tick"]);
    // Image 3's run fails: its update's content-library blob is corrupt.
    let catalog = f.json(&["catalog", "list"]);
    let kb1 = catalog.as_array().unwrap().iter().find(|u| u["kb"] == "KB5000001").unwrap();
    let sha = kb1["sha256"].as_str().unwrap();
    let blob = f.site.join("content").join(&sha[..2]).join(sha);
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&blob, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut bytes = std::fs::read(&blob).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x40;
        std::fs::write(&blob, bytes).unwrap();
    }
    f.ok(&["schedule", "--image-id", "3", "--updates", "KB5000001", "--now"]);
    f.tick_fails("job");
    f
}

struct Serve {
    child: Child,
    addr: SocketAddr,
    stderr: BufReader<std::process::ChildStderr>,
}

impl Serve {
    fn start(f: &Fixture) -> Serve {
        let mut child = wimpatch()
            .args(f.args(&["serve", "--listen", "127.0.0.1:0"]))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        stderr.read_line(&mut line).unwrap();
        let url = line.split("http://").nth(1).unwrap_or_else(|| panic!("no URL in {line:?}"));
        let addr: SocketAddr = url.split('/').next().unwrap().parse().unwrap();
        assert!(addr.ip().is_loopback(), "{line}");
        Serve { child, addr, stderr }
    }

    fn url(&self, page: &str) -> String {
        format!("http://{}/{page}", self.addr)
    }

    /// A raw HTTP/1.0 exchange: (status line and headers, body).
    fn request(&self, method: &str, page: &str) -> (String, Vec<u8>) {
        let mut s = TcpStream::connect(self.addr).unwrap();
        write!(s, "{method} /{page} HTTP/1.0\r\nHost: {}\r\n\r\n", self.addr).unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("header end");
        (String::from_utf8_lossy(&raw[..split]).into_owned(), raw[split + 4..].to_vec())
    }

    fn stop(mut self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let status = self.child.wait().unwrap();
        let mut rest = String::new();
        self.stderr.read_to_string(&mut rest).unwrap();
        assert!(status.success(), "site serve exited with {status}: {rest}");
        assert!(rest.contains("status page stopped"), "{rest}");
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chromium(profile: &Path, extra: &[&str], url: &str) -> std::process::Output {
    assert!(
        Path::new(CHROMIUM).is_file(),
        "{CHROMIUM} is missing: run scripts/install-deps.sh (Debian package chromium)"
    );
    let out = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .output()
        .unwrap();
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn dump_dom(f: &Fixture, url: &str) -> String {
    let profile = tempfile::tempdir_in(f.work.path("")).unwrap();
    String::from_utf8(chromium(profile.path(), &["--dump-dom"], url).stdout).unwrap()
}

/// The top-level rows (`<tr …>…</tr>`) of the table with this id in the dumped DOM (a nested
/// table, a run's updates, stays inside its row).
fn rows<'a>(dom: &'a str, table: &str) -> Vec<&'a str> {
    let start = dom.find(&format!("<table id=\"{table}\"")).unwrap_or_else(|| panic!("no table {table}"));
    let body = &dom[start..];
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut row_start = None;
    let mut i = 0;
    while i < body.len() {
        let rest = &body[i..];
        if rest.starts_with("<table") {
            depth += 1;
        } else if rest.starts_with("</table>") {
            depth -= 1;
            if depth == 0 {
                break;
            }
        } else if depth == 1 && rest.starts_with("<tr") && !rest.starts_with("<track") {
            row_start = Some(i);
        } else if depth == 1 && rest.starts_with("</tr>") {
            out.push(&body[row_start.take().unwrap()..i + 5]);
        }
        i += rest.chars().next().map_or(1, char::len_utf8);
    }
    // The header row is not data.
    out.retain(|r| !r.contains("<th>"));
    out
}

fn status_page_in_headless_chromium_shows_images_runs_dps_and_a_chart_and_escapes_package_text(backend: Backend) {
    let f = site_with_history(backend);
    let serve = Serve::start(&f);

    // The headers: HTML, no cookie, a policy that forbids script; POST is refused.
    let (head, _) = serve.request("GET", "index.html");
    assert!(head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"), "{head}");
    let lower = head.to_ascii_lowercase();
    assert!(!lower.contains("set-cookie"), "{head}");
    assert!(lower.contains("content-security-policy: default-src 'none'"), "{head}");
    assert!(serve.request("POST", "index.html").0.contains(" 405"));
    assert!(serve.request("GET", "image-99.html").0.contains(" 404"));

    // A screenshot of the index, made in this run.
    let shot = f.work.path("status.png");
    let profile = tempfile::tempdir_in(f.work.path("")).unwrap();
    let arg = format!("--screenshot={}", shot.display());
    chromium(profile.path(), &[&arg, "--window-size=1280,1600", "--hide-scrollbars"], &serve.url(""));
    let png = std::fs::read(&shot).expect("no screenshot");
    assert!(png.len() > 1000 && png.starts_with(b"\x89PNG"), "{} bytes", png.len());

    let index = dump_dom(&f, &serve.url(""));
    let images = rows(&index, "images");
    assert_eq!(images.len(), 3, "{index}");
    assert!(images[0].contains("Successful") && images[0].contains("10.0.19041.300"), "{}", images[0]);
    assert!(images[1].contains("<td>-</td>"), "image 2 has no run: {}", images[1]);
    assert!(images[2].contains("status-failed") && images[2].contains("Failed"), "{}", images[2]);
    let dps = rows(&index, "dps");
    assert_eq!(dps.len(), 2, "{index}");
    assert!(dps.iter().all(|r| r.contains("current (v3)")), "{dps:?}");
    // The hostile description is text: escaped in the DOM, no element injected, the title intact.
    let hostile = rows(&index, "catalog").into_iter().find(|r| r.contains("KB5000007")).unwrap();
    assert!(hostile.contains("&lt;script&gt;document.title="), "{hostile}");
    assert!(!index.contains("<script") && !index.contains("<b id=\"injected\""), "{index}");
    assert!(index.contains("<title>wimpatch site status</title>"), "{index}");

    let image1 = dump_dom(&f, &serve.url("image-1.html"));
    let runs = rows(&image1, "runs");
    assert_eq!(runs.len(), 2, "{image1}");
    assert!(runs.iter().all(|r| r.contains("status-successful")), "{runs:?}");
    assert!(runs.iter().any(|r| r.contains("KB5000002") && r.contains("Applied")), "{runs:?}");
    let installed = rows(&image1, "installed");
    assert!(installed.iter().any(|r| r.contains("data-index=\"1\"") && r.contains("KB5000003")), "{installed:?}");
    let dist = rows(&image1, "distribution");
    assert_eq!(dist.len(), 2);
    assert!(dist.iter().all(|r| r.contains("current (v3)")), "{dist:?}");
    // One point per content version (1, 2, 3) in each series of the chart.
    assert_eq!(rows(&image1, "versions").len(), 3);
    for series in ["point-size", "point-updates"] {
        let points: Vec<&str> =
            image1.match_indices(&format!("class=\"{series}\"")).map(|(i, _)| &image1[i..]).collect();
        assert_eq!(points.len(), 3, "{series}: {image1}");
        for (n, p) in points.iter().enumerate() {
            assert!(p.contains(&format!("data-version=\"{}\"", n + 1)), "{p}");
        }
    }
    assert!(image1.contains("<svg id=\"chart\""), "{image1}");

    let image3 = dump_dom(&f, &serve.url("image-3.html"));
    let runs = rows(&image3, "runs");
    assert_eq!(runs.len(), 1, "{image3}");
    assert!(runs[0].contains("status-failed") && runs[0].contains("is corrupt"), "{}", runs[0]);
    assert_eq!(rows(&image3, "versions").len(), 1);

    // The static report: the same pages, byte for byte.
    let report = f.work.path("report");
    f.ok(&["report", "--html", report.to_str().unwrap()]);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&report).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let names: Vec<String> = files.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["image-1.html", "image-2.html", "image-3.html", "index.html"]);
    for (path, name) in files.iter().zip(&names) {
        let (_, served) = serve.request("GET", name);
        assert_eq!(std::fs::read(path).unwrap(), served, "{name} differs from the served page");
    }
    serve.stop();
}

on_both_backends!(status_page_in_headless_chromium_shows_images_runs_dps_and_a_chart_and_escapes_package_text,);
