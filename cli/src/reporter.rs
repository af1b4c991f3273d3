//! The terminal side of engine progress: an indicatif bar per phase, hidden when not wanted.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use servicing::progress::{Event, Phase, Reporter};
use std::sync::Mutex;

/// Draws byte progress on stderr. Hidden with `--no-progress`, `--json`, `-q`, or when stderr is not a
/// terminal (indicatif's stderr target hides itself then).
pub struct BarReporter {
    enabled: bool,
    bar: Mutex<Option<(Phase, ProgressBar)>>,
}

impl BarReporter {
    pub fn new(enabled: bool) -> BarReporter {
        BarReporter { enabled, bar: Mutex::new(None) }
    }

    /// Clears any bar still drawn (call before printing the result).
    pub fn finish(&self) {
        if let Ok(mut guard) = self.bar.lock() {
            if let Some((_, bar)) = guard.take() {
                bar.finish_and_clear();
            }
        }
    }
}

impl Reporter for BarReporter {
    fn report(&self, event: &Event) {
        if !self.enabled {
            return;
        }
        let Ok(mut guard) = self.bar.lock() else { return };
        match event {
            Event::Bytes { phase, done, total } => {
                let same = matches!(&*guard, Some((p, _)) if p == phase);
                if !same {
                    if let Some((_, old)) = guard.take() {
                        old.finish_and_clear();
                    }
                    let bar = ProgressBar::with_draw_target(Some(*total), ProgressDrawTarget::stderr());
                    let style = ProgressStyle::with_template(
                        "{msg:>18} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> ");
                    bar.set_style(style);
                    bar.set_message(phase.label());
                    *guard = Some((*phase, bar));
                }
                if let Some((_, bar)) = &*guard {
                    bar.set_length(*total);
                    bar.set_position(*done);
                }
            }
            Event::End(phase) => {
                if matches!(&*guard, Some((p, _)) if p == phase) {
                    if let Some((_, bar)) = guard.take() {
                        bar.finish_and_clear();
                    }
                }
            }
            Event::Begin(_) => {}
        }
    }
}
