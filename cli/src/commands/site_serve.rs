//! `wimpatch site serve`: the status pages over HTTP, read-only. GET and HEAD only; every page is
//! rendered from the database at request time; no cookies, no script (a Content-Security-Policy
//! forbids any, so text that came from a package can never run even if it were not escaped).

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{anyhow, Result};
use servicing::site::{status_page, Site};
use tiny_http::{Header, Method, Response, Server};

use super::Ctx;

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; form-action 'none'";

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("static header")
}

pub fn serve(ctx: &Ctx, dir: &Path, listen: SocketAddr) -> Result<()> {
    // Fail before listening when the site is not there.
    Site::open(dir)?;
    let server = Server::http(listen).map_err(|e| anyhow!("cannot listen on {listen}: {e}"))?;
    let bound = server.server_addr().to_ip().unwrap_or(listen);
    servicing::site::runner::stop_on_signals(&ctx.cancel)
        .map_err(|e| anyhow!("cannot install the SIGTERM handler: {e}"))?;
    if !bound.ip().is_loopback() {
        tracing::warn!(address = %bound, "the status page is reachable from other hosts (it is read-only)");
    }
    // Not eprintln!: a closed stderr must not stop the server.
    let _ = writeln!(
        std::io::stderr(),
        "wimpatch site status page on http://{bound}/ (read-only; Ctrl-C or SIGTERM stops it)"
    );
    while !ctx.cancel.load(Ordering::SeqCst) {
        let request = match server.recv_timeout(Duration::from_millis(200)) {
            Ok(Some(r)) => r,
            Ok(None) => continue,
            Err(e) => return Err(anyhow!("status page server on {bound}: {e}")),
        };
        let head = *request.method() == Method::Head;
        let (status, body) = if !matches!(request.method(), Method::Get | Method::Head) {
            (405, "only GET and HEAD: the status page is read-only\n".to_owned())
        } else {
            let path = request.url().split(['?', '#']).next().unwrap_or("/").trim_start_matches('/').to_owned();
            match Site::open(dir).and_then(|site| status_page::page(&site, &path)) {
                Ok(Some(page)) => (200, page.html),
                Ok(None) => (404, "no such page\n".to_owned()),
                Err(e) => {
                    tracing::error!(error = %e, "status page");
                    (500, format!("{e}\n"))
                }
            }
        };
        let kind = if status == 200 { "text/html; charset=utf-8" } else { "text/plain; charset=utf-8" };
        let mut response = Response::from_data(if head { Vec::new() } else { body.into_bytes() })
            .with_status_code(status)
            .with_header(header("Content-Type", kind))
            .with_header(header("Content-Security-Policy", CSP))
            .with_header(header("X-Content-Type-Options", "nosniff"))
            .with_header(header("Cache-Control", "no-store"));
        if status == 405 {
            response = response.with_header(header("Allow", "GET, HEAD"));
        }
        if let Err(e) = request.respond(response) {
            tracing::debug!(error = %e, "status page client went away");
        }
    }
    let _ = writeln!(std::io::stderr(), "wimpatch site status page stopped");
    Ok(())
}
