//! Waiting out propagation after `fix` wrote the assignment: the doctor runs again, with
//! backoff, until the live call passes or `--wait-for-propagation` is spent, with visible
//! progress (the doctor's spinner on a terminal, one line per attempt otherwise).
//!
//! A stand-in for the shared wait loop the data-plane probe is getting
//! (`checks/src/checks/data_plane_probe/wait.rs`): swap [`until_live`] for it once it lands.

use aoai_doctor_checks::codes;
use aoai_doctor_checks::context::Progress;
use aoai_doctor_checks::facts::Facts;
use aoai_doctor_checks::model::{Report, Status};
use std::future::Future;
use std::time::{Duration, Instant};

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

/// Worth another attempt: still denied, or a passing failure (timeout, 5xx, 429) on the way.
fn worth_retrying(report: &Report) -> bool {
    let transient = [
        codes::PROBE_PERMISSION_DENIED.id,
        codes::PROBE_TIMED_OUT.id,
        codes::PROBE_SERVER_ERROR.id,
        codes::PROBE_RATE_LIMITED.id,
    ];
    probe_codes(report).any(|c| transient.contains(&c))
}

/// Runs `attempt` until the probe passes, fails for a reason waiting cannot cure, the wait is
/// spent, or [`MAX_ATTEMPTS`].
pub async fn until_live<F, Fut>(max_wait: Duration, progress: &dyn Progress, mut attempt: F) -> Waited
where
    F: FnMut() -> Fut,
    Fut: Future<Output = (Report, Facts)>,
{
    let started = Instant::now();
    let mut delay = FIRST_DELAY;
    let mut attempts = 0;
    loop {
        let (report, facts) = attempt().await;
        attempts += 1;
        let live = probe_passed(&report);
        let remaining = max_wait.saturating_sub(started.elapsed());
        let stop = live || remaining.is_zero() || attempts >= MAX_ATTEMPTS || !worth_retrying(&report);
        let pause = delay.min(remaining);
        if !stop {
            progress.waiting(
                "fix",
                &format!("attempt {attempts}: the live call still fails, waiting for the role to propagate"),
                started.elapsed(),
                Some(pause),
            );
        }
        // Ctrl-C ends the wait (the report so far is still printed).
        let ctrl_c = async {
            // If the handler cannot be installed, only the sleep ends the pause.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        let interrupted = !stop
            && tokio::select! {
                _ = tokio::time::sleep(pause) => false,
                _ = ctrl_c => true,
            };
        if stop || interrupted {
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
            return Waited {
                interrupted,
                denied: denied(&report),
                report,
                facts,
                attempts,
                elapsed: started.elapsed(),
                live,
            };
        }
        delay = (delay * 2).min(MAX_DELAY);
    }
}
