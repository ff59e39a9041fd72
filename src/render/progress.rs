//! Where a long wait shows (the probe waiting for a role to propagate). Checks report through
//! [`Progress`] and never touch the screen; this decides how it looks: on a terminal (and not
//! in CI) a spinner on stderr with a live countdown to the next attempt, otherwise one plain
//! line on stderr per attempt, which logs and CI consoles keep.

use aoai_doctor_checks::checks::data_plane_probe::short_duration;
use aoai_doctor_checks::context::{NoProgress, Progress};
use aoai_doctor_checks::model::CheckResult;
use aoai_doctor_checks::runner::{Observer, Silent};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use std::collections::BTreeMap;
use std::io::{IsTerminal as _, Write as _};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The progress reporter for this run: nothing with `-q`, a spinner when stderr is a terminal
/// and `CI` is unset, plain lines otherwise.
pub fn for_stderr(quiet: bool) -> Arc<dyn Progress> {
    if quiet {
        Arc::new(NoProgress)
    } else if std::io::stderr().is_terminal() && std::env::var_os("CI").is_none() {
        Arc::new(Spinner::default())
    } else {
        Arc::new(Lines)
    }
}

/// `aoai-doctor: CHECK: MESSAGE; next attempt in 20s (elapsed 1m05s)`.
pub fn waiting_line(check: &str, message: &str, elapsed: Duration, next: Option<Duration>) -> String {
    match next {
        Some(n) => format!(
            "aoai-doctor: {check}: {message}; next attempt in {} (elapsed {})",
            short_duration(n),
            short_duration(elapsed)
        ),
        None => format!("aoai-doctor: {check}: {message} (elapsed {})", short_duration(elapsed)),
    }
}

pub fn done_line(check: &str, message: &str) -> String {
    format!("aoai-doctor: {check}: {message}")
}

/// `pass in 120 ms; requests: arm 3, entra 1`: a finished check's line with `-v`.
pub fn timing_text(status: &str, duration_ms: u64, requests: &BTreeMap<String, u32>) -> String {
    format!("{status} in {duration_ms} ms; {}", requests_text(requests))
}

/// `requests: arm 3, entra 1`, or `no requests`.
pub fn requests_text(requests: &BTreeMap<String, u32>) -> String {
    if requests.is_empty() {
        return "no requests".into();
    }
    let per_service: Vec<String> = requests.iter().map(|(s, n)| format!("{s} {n}")).collect();
    format!("requests: {}", per_service.join(", "))
}

/// With `-v`, one line per check as it finishes (its status, time and requests per service),
/// written through the run's progress reporter so lines never interleave with a wait's.
pub fn observer(verbose: u8, progress: Arc<dyn Progress>) -> Arc<dyn Observer> {
    if verbose == 0 {
        Arc::new(Silent)
    } else {
        Arc::new(Timings(progress))
    }
}

struct Timings(Arc<dyn Progress>);

impl Observer for Timings {
    fn finished(&self, r: &CheckResult) {
        self.0
            .done(&r.id, &timing_text(r.status.as_str(), r.duration_ms, &r.requests));
    }
}

fn to_stderr(line: &str) {
    // A closed stderr is no reason to stop (eprintln! would panic).
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// One line per report.
pub struct Lines;

impl Progress for Lines {
    fn waiting(&self, check: &str, message: &str, elapsed: Duration, next: Option<Duration>) {
        to_stderr(&waiting_line(check, message, elapsed, next));
    }
    fn done(&self, check: &str, message: &str) {
        to_stderr(&done_line(check, message));
    }
}

/// What the spinner shows; its template reads it on every tick, so the countdown and the
/// elapsed time move between two reports.
#[derive(Clone)]
struct Shown {
    check: String,
    message: String,
    elapsed_at_report: Duration,
    reported: Instant,
    next_at: Option<Instant>,
}

impl Shown {
    fn render(&self, now: Instant) -> String {
        let elapsed = self.elapsed_at_report + now.saturating_duration_since(self.reported);
        let next = self.next_at.map(|t| t.saturating_duration_since(now));
        match next {
            Some(n) if n.is_zero() => format!(
                "{}: {} — trying again (waiting {})",
                self.check,
                self.message,
                short_duration(elapsed)
            ),
            Some(n) => format!(
                "{}: {} — next attempt in {} (waiting {})",
                self.check,
                self.message,
                // Round up: "next attempt in 0s" would be a lie while there is time left.
                short_duration(Duration::from_secs(n.as_secs() + u64::from(n.subsec_nanos() > 0))),
                short_duration(Duration::from_secs(elapsed.as_secs()))
            ),
            None => format!("{}: {} (waiting {})", self.check, self.message, short_duration(elapsed)),
        }
    }
}

/// An indicatif spinner on stderr.
#[derive(Default)]
pub struct Spinner {
    bar: Mutex<Option<ProgressBar>>,
    shown: Arc<Mutex<Option<Shown>>>,
}

impl Spinner {
    fn bar(&self) -> Option<ProgressBar> {
        let mut slot = self.bar.lock().ok()?;
        if slot.is_none() {
            let shown = self.shown.clone();
            let style = ProgressStyle::with_template("{spinner} {wait}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner())
                .with_key("wait", move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
                    if let Some(s) = shown.lock().ok().and_then(|s| s.clone()) {
                        let _ = w.write_str(&s.render(Instant::now()));
                    }
                });
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(style);
            bar.enable_steady_tick(Duration::from_millis(120));
            *slot = Some(bar);
        }
        slot.clone()
    }

    fn clear(&self) {
        if let Some(bar) = self.bar.lock().ok().and_then(|mut b| b.take()) {
            bar.finish_and_clear();
        }
    }
}

impl Progress for Spinner {
    fn waiting(&self, check: &str, message: &str, elapsed: Duration, next: Option<Duration>) {
        let now = Instant::now();
        if let Ok(mut s) = self.shown.lock() {
            *s = Some(Shown {
                check: check.to_string(),
                message: message.to_string(),
                elapsed_at_report: elapsed,
                reported: now,
                next_at: next.map(|n| now + n),
            });
        }
        if let Some(bar) = self.bar() {
            bar.tick();
        }
    }
    fn done(&self, check: &str, message: &str) {
        self.clear();
        to_stderr(&done_line(check, message));
    }
}

impl Drop for Spinner {
    /// An interrupted run (Ctrl-C) leaves no half-drawn spinner above the report.
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_say_what_when_and_how_long() {
        assert_eq!(
            waiting_line(
                "data-plane-probe",
                "401 PermissionDenied, role still propagating",
                Duration::from_secs(65),
                Some(Duration::from_secs(20))
            ),
            "aoai-doctor: data-plane-probe: 401 PermissionDenied, role still propagating; next attempt in 20s (elapsed 1m05s)"
        );
        assert_eq!(
            done_line("data-plane-probe", "answered HTTP 200 after 3m12s"),
            "aoai-doctor: data-plane-probe: answered HTTP 200 after 3m12s"
        );
    }

    #[test]
    fn timing_lines_name_each_service_called() {
        let requests: BTreeMap<String, u32> = [("arm".to_string(), 3), ("entra".to_string(), 1)].into();
        assert_eq!(
            timing_text("pass", 120, &requests),
            "pass in 120 ms; requests: arm 3, entra 1"
        );
        assert_eq!(timing_text("skip", 0, &BTreeMap::new()), "skip in 0 ms; no requests");
    }

    #[test]
    fn the_spinner_counts_down_between_reports() {
        let t0 = Instant::now();
        let s = Shown {
            check: "data-plane-probe".into(),
            message: "401 PermissionDenied, role still propagating".into(),
            elapsed_at_report: Duration::from_secs(60),
            reported: t0,
            next_at: Some(t0 + Duration::from_secs(20)),
        };
        assert!(
            s.render(t0).ends_with("next attempt in 20s (waiting 1m00s)"),
            "{}",
            s.render(t0)
        );
        let later = t0 + Duration::from_millis(5200);
        assert!(
            s.render(later).ends_with("next attempt in 15s (waiting 1m05s)"),
            "{}",
            s.render(later)
        );
        let almost = t0 + Duration::from_millis(19_900);
        assert!(s.render(almost).contains("next attempt in 1s"), "{}", s.render(almost));
        assert!(s.render(t0 + Duration::from_secs(30)).contains("trying again"));
    }
}
