//! The terminal side of the site's progress: a line per servicing run showing its phase, and a
//! byte bar per distribution point. Drawn only when stderr is a terminal (and not with
//! `--no-progress`, `--json` or `-q`); the engine reports through [`SiteProgress`] and never prints.

use std::collections::HashMap;
use std::io::IsTerminal as _;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use servicing::site::progress::{SiteEvent, SiteProgress};

pub struct SiteBars {
    multi: Option<MultiProgress>,
    jobs: Mutex<HashMap<i64, (String, ProgressBar)>>,
    dps: Mutex<HashMap<String, ProgressBar>>,
}

impl SiteBars {
    /// `wanted`: no `--no-progress`, `--json` or `-q`. Bars are drawn only when stderr is a terminal.
    pub fn new(wanted: bool) -> SiteBars {
        let multi = (wanted && std::io::stderr().is_terminal())
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        SiteBars { multi, jobs: Mutex::new(HashMap::new()), dps: Mutex::new(HashMap::new()) }
    }

    /// Clears whatever is still drawn (before printing a report).
    pub fn clear(&self) {
        if let Ok(mut jobs) = self.jobs.lock() {
            for (_, (_, bar)) in jobs.drain() {
                bar.finish_and_clear();
            }
        }
        if let Ok(mut dps) = self.dps.lock() {
            for (_, bar) in dps.drain() {
                bar.finish_and_clear();
            }
        }
    }
}

impl SiteProgress for SiteBars {
    fn site_event(&self, event: &SiteEvent<'_>) {
        let Some(multi) = &self.multi else { return };
        match event {
            SiteEvent::JobStarted { job, image, name } => {
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {prefix}: {msg} [{elapsed}]")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                let prefix = format!("Job {job} (image {image}, {name})");
                bar.set_prefix(prefix.clone());
                bar.set_message("starting");
                bar.enable_steady_tick(Duration::from_millis(120));
                if let Ok(mut jobs) = self.jobs.lock() {
                    jobs.insert(*job, (prefix, bar));
                }
            }
            SiteEvent::JobPhase { job, phase } => {
                if let Some((_, bar)) = self.jobs.lock().ok().as_ref().and_then(|j| j.get(job)) {
                    bar.set_message(phase.label());
                }
            }
            SiteEvent::JobEnded { job, status } => {
                if let Some((prefix, bar)) = self.jobs.lock().ok().and_then(|mut j| j.remove(job)) {
                    bar.finish_and_clear();
                    let _ = multi.println(format!("{prefix}: {status}"));
                }
            }
            SiteEvent::DpStarted { dp, image, total } => {
                let bar = multi.add(ProgressBar::new(*total));
                bar.set_style(
                    ProgressStyle::with_template("{prefix:>18} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                );
                bar.set_prefix(format!("{dp} image {image}"));
                if let Ok(mut dps) = self.dps.lock() {
                    dps.insert((*dp).to_owned(), bar);
                }
            }
            SiteEvent::DpBytes { dp, done, total } => {
                if let Some(bar) = self.dps.lock().ok().as_ref().and_then(|d| d.get(*dp)) {
                    bar.set_length(*total);
                    bar.set_position(*done);
                }
            }
            SiteEvent::DpEnded { dp, status } => {
                if let Some(bar) = self.dps.lock().ok().and_then(|mut d| d.remove(*dp)) {
                    let prefix = bar.prefix();
                    bar.finish_and_clear();
                    let _ = multi.println(format!("{prefix}: {status}"));
                }
            }
        }
    }
}
