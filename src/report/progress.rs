//! Progress on stderr while a run goes: an indicatif bar on a terminal; on
//! CI (not a terminal) a plain line at most every few seconds, since a bar
//! redrawn into a log file is noise.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::log;

/// How often the plain progress line may be printed.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

enum Output {
    Bar(ProgressBar),
    Plain { last: Mutex<Instant> },
    Silent,
}

/// The run's progress display.
pub struct Progress {
    output: Output,
    started: Instant,
    total: AtomicU64,
    done: AtomicU64,
}

impl Progress {
    /// A bar on a terminal, plain lines otherwise, nothing when `quiet`.
    pub fn new(quiet: bool) -> Progress {
        let output = if quiet {
            Output::Silent
        } else if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {pos}/{len} cases {wide_bar} {per_sec} · ETA {eta} {msg}",
                )
                .expect("the progress template is valid"),
            );
            Output::Bar(bar)
        } else {
            Output::Plain {
                last: Mutex::new(Instant::now()),
            }
        };
        Progress {
            output,
            started: Instant::now(),
            total: AtomicU64::new(0),
            done: AtomicU64::new(0),
        }
    }

    /// Sets the expected number of cases, once counted.
    pub fn set_total(&self, total: u64) {
        self.total.store(total, Ordering::Relaxed);
        if let Output::Bar(bar) = &self.output {
            bar.set_length(total);
        }
    }

    /// Notes `n` more finished cases; `throttled` is the run's total throttle wait so far.
    pub fn advance(&self, n: u64, throttled: Duration) {
        let done = self.done.fetch_add(n, Ordering::Relaxed) + n;
        match &self.output {
            Output::Silent => {}
            Output::Bar(bar) => {
                bar.set_position(done);
                if !throttled.is_zero() {
                    bar.set_message(format!("· throttled {:.1} s", throttled.as_secs_f64()));
                }
            }
            Output::Plain { last } => {
                let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
                if last.elapsed() < PLAIN_EVERY {
                    return;
                }
                *last = Instant::now();
                log::note(&line(
                    done,
                    self.total.load(Ordering::Relaxed),
                    self.started.elapsed(),
                    throttled,
                ));
            }
        }
    }

    /// Clears the bar, so the report starts on a clean line.
    pub fn finish(&self) {
        if let Output::Bar(bar) = &self.output {
            bar.finish_and_clear();
        }
    }
}

/// `progress: 420/1000 cases (42%) · 38.2 cases/s · throttled 12.3 s · ETA 15 s`
fn line(done: u64, total: u64, elapsed: Duration, throttled: Duration) -> String {
    let rate = done as f64 / elapsed.as_secs_f64().max(1e-9);
    let mut text = if total > 0 {
        format!(
            "progress: {done}/{total} cases ({:.0}%)",
            done as f64 * 100.0 / total as f64
        )
    } else {
        format!("progress: {done} cases")
    };
    text.push_str(&format!(" · {rate:.1} cases/s"));
    if !throttled.is_zero() {
        text.push_str(&format!(" · throttled {:.1} s", throttled.as_secs_f64()));
    }
    if total > done && rate > 0.0 {
        text.push_str(&format!(" · ETA {:.0} s", (total - done) as f64 / rate));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_line_has_counts_rate_throttle_and_eta() {
        assert_eq!(
            line(
                420,
                1000,
                Duration::from_secs(10),
                Duration::from_millis(12_300)
            ),
            "progress: 420/1000 cases (42%) · 42.0 cases/s · throttled 12.3 s · ETA 14 s"
        );
        assert_eq!(
            line(5, 0, Duration::from_secs(1), Duration::ZERO),
            "progress: 5 cases · 5.0 cases/s"
        );
    }
}
