//! The probe's I/O, through `crate::azure::dataplane`: the call, repeated by the wait loop
//! while a role propagates, and after a 404 DeploymentNotFound the list of deployments that
//! do exist.
//!
//! The role check's verdict is asked for only when the data plane answers 401
//! PermissionDenied — the one answer where it decides between waiting and failing at once —
//! so the probe can later run beside the role check and wait for it only then.

use super::ID;
use super::outcome::{Attempt, CallOutcome};
use super::wait::{self, Assessment, Pacer, WaitEnd, WaitObserver, WaitPolicy, short_duration};
use crate::azure::dataplane::{self, Deployment, ProbeRequest};
use crate::context::{Progress, RunContext};
use crate::facts::RoleVerdict;
use crate::secret::Secret;
use std::future::Future;
use std::time::Duration;

/// What the probe saw, over all its attempts.
#[derive(Debug, Clone)]
pub struct ProbeRun {
    /// The answer judged: the last one, except that a broken connection while waiting does
    /// not hide the PermissionDenied that made us wait.
    pub attempt: Attempt,
    pub attempts: u32,
    /// Time spent waiting for propagation (from the start to the last attempt); `None` when
    /// no answer was worth waiting on.
    pub waited: Option<Duration>,
    /// The wait ran out while the answer was still PermissionDenied.
    pub gave_up: bool,
    /// The role check's verdict, asked for on a 401 PermissionDenied (else `None`).
    pub role_verdict: Option<RoleVerdict>,
    /// The deployments the data plane listed after a 404 DeploymentNotFound.
    pub deployments: Option<Vec<Deployment>>,
}

/// Would waiting help? Only for PermissionDenied, only when allowed, and only when the role
/// check says the role is propagating or could not tell.
pub fn worth_waiting(outcome: &CallOutcome, verdict: Option<RoleVerdict>, max_wait: Duration) -> bool {
    matches!(outcome, CallOutcome::PermissionDenied { .. })
        && !max_wait.is_zero()
        && matches!(verdict, Some(RoleVerdict::Propagating | RoleVerdict::Unknown))
}

/// What an attempt's answer means for the wait.
fn assess(attempt: &Attempt, verdict: Option<RoleVerdict>, max_wait: Duration) -> Assessment {
    let retry_after_secs = attempt.retry_after_secs();
    if worth_waiting(&attempt.outcome, verdict, max_wait) {
        let why = if verdict == Some(RoleVerdict::Propagating) {
            "401 PermissionDenied, role still propagating"
        } else {
            "401 PermissionDenied, waiting for the role to take effect"
        };
        return Assessment::Denied {
            why: why.to_string(),
            retry_after_secs,
        };
    }
    if attempt.transient() {
        return Assessment::Transient {
            why: format!("{} while waiting for the role, retrying", attempt.status_text()),
            retry_after_secs,
        };
    }
    Assessment::Settled
}

/// One request's limit: the HTTP limit, and never most of the check's own.
pub fn request_limit(ctx: &RunContext) -> Duration {
    ctx.timeouts
        .http
        .min(ctx.timeouts.check.mul_f64(0.8))
        .max(Duration::from_millis(200))
}

/// The probe's wait: `--wait-for-propagation`, and whatever happens inside the limit the
/// runner gives this check.
pub fn policy(ctx: &RunContext) -> WaitPolicy {
    let max_wait = ctx.target.wait_for_propagation;
    WaitPolicy::standard(max_wait).with_limits(request_limit(ctx), max_wait + ctx.timeouts.check.mul_f64(0.9))
}

/// The probe's call, repeated by the wait loop.
struct Calls<'a, V> {
    ctx: &'a RunContext,
    request: &'a ProbeRequest,
    token: &'a Secret,
    max_wait: Duration,
    /// Not yet asked for; taken on the first PermissionDenied.
    role_verdict: Option<std::pin::Pin<Box<V>>>,
    consulted: Option<RoleVerdict>,
}

impl<V: Future<Output = Option<RoleVerdict>> + Send> wait::Attempts for Calls<'_, V> {
    type Answer = Attempt;
    async fn attempt(&mut self, limit: Duration) -> (Attempt, Assessment) {
        let answer = dataplane::call(&self.ctx.http, self.request, self.token, limit).await;
        let attempt = Attempt::of(answer);
        if matches!(attempt.outcome, CallOutcome::PermissionDenied { .. })
            && let Some(verdict) = self.role_verdict.take()
        {
            self.consulted = verdict.await;
        }
        let assessment = assess(&attempt, self.consulted, self.max_wait);
        (attempt, assessment)
    }
}

/// Reports the wait on the run's progress line.
struct ProgressLine<'a>(&'a dyn Progress);

impl WaitObserver<Attempt> for ProgressLine<'_> {
    fn retrying(&self, why: &str, elapsed: Duration, next_in: Duration) {
        self.0.waiting(ID, why, elapsed, Some(next_in));
    }
    fn settled(&self, answer: &Attempt, elapsed: Duration) {
        let text = format!(
            "answered HTTP {} after {}",
            answer.status_text(),
            short_duration(elapsed)
        );
        self.0.done(ID, &text);
    }
    fn gave_up(&self, _answer: &Attempt, elapsed: Duration) {
        self.0.done(
            ID,
            &format!("still 401 PermissionDenied after {}", short_duration(elapsed)),
        );
    }
}

/// Makes the call, repeats it while a role propagates, and lists the deployments after a
/// 404 DeploymentNotFound. `role_verdict` is awaited at most once, on the first 401
/// PermissionDenied.
pub async fn gather(
    ctx: &RunContext,
    request: &ProbeRequest,
    token: &Secret,
    policy: &WaitPolicy,
    role_verdict: impl Future<Output = Option<RoleVerdict>> + Send,
) -> ProbeRun {
    let mut calls = Calls {
        ctx,
        request,
        token,
        max_wait: policy.max_wait,
        role_verdict: Some(Box::pin(role_verdict)),
        consulted: None,
    };
    let run = wait::retry_while_denied(
        policy,
        &wait::RealTime::default() as &dyn Pacer,
        &ProgressLine(ctx.progress.as_ref()),
        std::future::pending::<()>(),
        &mut calls,
    )
    .await;
    let gave_up = run.end != WaitEnd::Settled;
    let attempt = match (gave_up, run.last, run.last_denied) {
        (true, last, Some(denied)) if last.response.is_none() => denied,
        (_, last, _) => last,
    };
    let deployments = if attempt.outcome == CallOutcome::DeploymentNotFound {
        list_deployments(ctx, request, token).await
    } else {
        None
    };
    ProbeRun {
        attempt,
        attempts: run.attempts,
        waited: run.waited,
        gave_up,
        role_verdict: calls.consulted,
        deployments,
    }
}

/// The deployments that do exist (best effort: `None` when they cannot be listed).
async fn list_deployments(ctx: &RunContext, request: &ProbeRequest, token: &Secret) -> Option<Vec<Deployment>> {
    let list = dataplane::deployments_request(&request.url)?;
    let r = dataplane::call(&ctx.http, &list, token, request_limit(ctx))
        .await
        .ok()?;
    if r.status != 200 {
        return None;
    }
    dataplane::parse_deployments(&r.body)
}
