//! Waiting out propagation after `fix` wrote the assignment: the doctor runs again while the
//! live call is denied, through the probe's own propagation loop
//! ([`retry_while_denied`]: backoff, a bound on attempts, a time limit, Ctrl-C during a
//! pause), with visible progress (the doctor's spinner on a terminal, one line per attempt
//! otherwise).

use aoai_doctor_checks::checks::data_plane_probe::wait::{
    Assessment, Attempts, Pacer, RealTime, WaitEnd, WaitObserver, WaitPolicy, retry_while_denied,
};
use aoai_doctor_checks::codes;
use aoai_doctor_checks::context::Progress;
use aoai_doctor_checks::facts::Facts;
use aoai_doctor_checks::model::{Report, Status};
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

const FIRST_DELAY: Duration = Duration::from_secs(2);
const MAX_DELAY: Duration = Duration::from_secs(30);
/// However long the wait, never more attempts than this.
const MAX_ATTEMPTS: u32 = 60;

pub struct Waited {
    pub report: Report,
    pub facts: Facts,
    pub attempts: u32,
    pub elapsed: Duration,
    pub live: bool,
    /// The last live call was 401 PermissionDenied (what propagation explains).
    pub denied: bool,
    /// Ctrl-C ended the wait.
    pub interrupted: bool,
}

pub fn probe_passed(report: &Report) -> bool {
    report
        .checks
        .iter()
        .any(|c| c.id == "data-plane-probe" && c.status == Status::Pass)
}

fn probe_codes(report: &Report) -> impl Iterator<Item = &'static str> + '_ {
    report
        .checks
        .iter()
        .filter(|c| c.id == "data-plane-probe")
        .flat_map(|c| c.findings.iter().map(|f| f.code.id))
}

/// 401 PermissionDenied: the role has not reached the data plane yet.
pub fn denied(report: &Report) -> bool {
    probe_codes(report).any(|c| c == codes::PROBE_PERMISSION_DENIED.id)
}

/// What one doctor run means for the wait: denied is what propagation explains; a timeout,
/// 5xx or 429 is tried again once the wait has begun (the loop's rule); anything else —
/// the pass included — ends it.
fn assess(report: &Report) -> Assessment {
    const WHY: &str = "the live call still fails, waiting for the role to propagate";
    let transient = [
        codes::PROBE_TIMED_OUT.id,
        codes::PROBE_SERVER_ERROR.id,
        codes::PROBE_RATE_LIMITED.id,
    ];
    if probe_passed(report) {
        Assessment::Settled
    } else if denied(report) {
        Assessment::Denied {
            why: WHY.into(),
            retry_after_secs: None,
        }
    } else if probe_codes(report).any(|c| transient.contains(&c)) {
        Assessment::Transient {
            why: WHY.into(),
            retry_after_secs: None,
        }
    } else {
        Assessment::Settled
    }
}

/// One attempt is one whole doctor run.
struct DoctorRuns<F>(F);

impl<F, Fut> Attempts for DoctorRuns<F>
where
    F: FnMut() -> Fut + Send,
    Fut: Future<Output = (Report, Facts)> + Send,
{
    type Answer = (Report, Facts);
    /// `_limit` needs no timer here: a run ends within the run's own deadline, which is the
    /// policy's attempt limit.
    fn attempt(&mut self, _limit: Duration) -> impl Future<Output = (Self::Answer, Assessment)> + Send {
        let run = (self.0)();
        async move {
            let answer = run.await;
            let assessment = assess(&answer.0);
            (answer, assessment)
        }
    }
}

/// Shows each pause as the fix row's progress, numbered by attempt.
struct Shown<'a> {
    progress: &'a dyn Progress,
    retries: AtomicU32,
}

impl WaitObserver<(Report, Facts)> for Shown<'_> {
    fn retrying(&self, why: &str, elapsed: Duration, next_in: Duration) {
        let attempt = self.retries.fetch_add(1, Ordering::Relaxed) + 1;
        self.progress
            .waiting("fix", &format!("attempt {attempt}: {why}"), elapsed, Some(next_in));
    }
    // How it ended is said once, below, whichever way it ended.
    fn settled(&self, _: &(Report, Facts), _: Duration) {}
    fn gave_up(&self, _: &(Report, Facts), _: Duration) {}
}

/// Runs `attempt` until the probe passes, fails for a reason waiting cannot cure, the wait is
/// spent, [`MAX_ATTEMPTS`] or Ctrl-C. `run_limit` bounds one run (the run's `--deadline`).
pub async fn until_live<F, Fut>(max_wait: Duration, run_limit: Duration, progress: &dyn Progress, attempt: F) -> Waited
where
    F: FnMut() -> Fut + Send,
    Fut: Future<Output = (Report, Facts)> + Send,
{
    let policy = WaitPolicy {
        max_wait,
        first_delay: FIRST_DELAY,
        max_delay: MAX_DELAY,
        max_attempts: MAX_ATTEMPTS,
        attempt_limit: run_limit,
        deadline: max_wait.saturating_add(run_limit),
    };
    let shown = Shown {
        progress,
        retries: AtomicU32::new(0),
    };
    // If the Ctrl-C handler cannot be installed, only the wait's own limits end it.
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let clock = RealTime::default();
    let run = retry_while_denied(&policy, &clock, &shown, ctrl_c, &mut DoctorRuns(attempt)).await;
    let (report, facts) = run.last;
    let live = probe_passed(&report);
    let attempts = run.attempts;
    let interrupted = run.end == WaitEnd::Cancelled;
    let message = if interrupted {
        format!("interrupted (Ctrl-C) after {attempts} attempts")
    } else if live {
        format!("the live call passed (attempt {attempts})")
    } else {
        format!("the live call still fails after {attempts} attempts")
    };
    if attempts > 1 || !live {
        progress.done("fix", &message);
    }
    Waited {
        interrupted,
        denied: denied(&report),
        report,
        facts,
        attempts,
        elapsed: clock.now(),
        live,
    }
}
