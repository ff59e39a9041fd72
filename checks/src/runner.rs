//! Runs checks in their fixed order: each starts as soon as the checks that provide its
//! inputs have finished, so independent checks overlap. A check gets a time limit, and a
//! panic or timeout becomes `error` for that check while the run goes on.

use crate::azure::http::{RequestCounts, counting};
use crate::checks::{Check, ProducedBy};
use crate::codes;
use crate::context::RunContext;
use crate::facts::{Fact, FactWaiter, Facts};
use crate::model::{CheckResult, Finding, Judgement, Status};
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Something that wants to hear about finished checks as they finish (progress on a TTY).
pub trait Observer: Send + Sync {
    fn started(&self, _id: &str) {}
    fn finished(&self, _result: &CheckResult) {}
}

/// Observes nothing.
pub struct Silent;
impl Observer for Silent {}

/// Runs `checks` (already filtered and ordered) and returns one result per check, in order,
/// together with every fact learned.
pub async fn run(
    ctx: Arc<RunContext>,
    checks: Vec<Arc<dyn Check>>,
    observer: Arc<dyn Observer>,
) -> (Vec<CheckResult>, Facts) {
    run_until(ctx, checks, observer, std::future::pending::<Stopped>()).await
}

/// What an unfinished check says when the run is stopped (Ctrl-C).
pub const INTERRUPTED: &str = "interrupted (Ctrl-C) before it finished";

/// Why a run was stopped early: the summary and the finding of every unfinished check.
#[derive(Debug, Clone)]
pub struct Stopped {
    pub summary: String,
    pub message: String,
    pub fix: String,
}

impl Stopped {
    /// Ctrl-C.
    pub fn interrupted() -> Self {
        Stopped {
            summary: INTERRUPTED.into(),
            message: "The run was interrupted (Ctrl-C) before this check finished.".into(),
            fix: "Run again and let it finish; the checks that did finish are in this report.".into(),
        }
    }
    /// `--deadline`.
    pub fn deadline(limit: std::time::Duration) -> Self {
        Stopped {
            summary: format!(
                "stopped at the run's deadline ({})",
                crate::diagnose::duration::time_limit(limit)
            ),
            message: format!(
                "The whole run may take at most {}; this check had not finished.",
                crate::diagnose::duration::time_limit(limit)
            ),
            fix: "Raise --deadline, or look at the check that waits (run with -v).".into(),
        }
    }
}

/// [`run`], until `stop` completes (Ctrl-C in the binary): the checks that finished keep their
/// results, every other one becomes an `error` result saying it was interrupted, and the
/// checks still running are cancelled.
pub async fn run_until(
    ctx: Arc<RunContext>,
    checks: Vec<Arc<dyn Check>>,
    observer: Arc<dyn Observer>,
    stop: impl std::future::Future<Output = Stopped>,
) -> (Vec<CheckResult>, Facts) {
    let names: Vec<(String, String)> = checks
        .iter()
        .map(|c| (c.id().to_string(), c.title().to_string()))
        .collect();
    let facts = Arc::new(Mutex::new(Facts::default()));
    let results: Arc<Mutex<Vec<Option<CheckResult>>>> = Arc::new(Mutex::new(vec![None; checks.len()]));
    // Each fact's producer among the checks of this run, from their `provides()`.
    let mut done: HashMap<Fact, Shared<BoxFuture<'static, ()>>> = HashMap::new();
    // The same, for checks that await a fact on some paths only (`Facts::await_fact`); filled
    // before any check is polled.
    let board = FactWaiter::new(facts.clone());
    let mut all = Vec::new();

    for (index, check) in checks.into_iter().enumerate() {
        // Wait only for the producers that are part of this run; a producer that was not
        // selected leaves the fact missing, and the check is skipped with that reason.
        let waits: Vec<_> = check
            .needs()
            .iter()
            .chain(check.after())
            .filter_map(|f| done.get(f).cloned())
            .collect();
        let provides = check.provides();
        let (ctx, facts, results, observer, pending) = (
            ctx.clone(),
            facts.clone(),
            results.clone(),
            observer.clone(),
            board.clone(),
        );
        let task = async move {
            futures::future::join_all(waits).await;
            let mut snapshot = facts.lock().map(|f| f.clone()).unwrap_or_default();
            snapshot.pending = pending;
            observer.started(check.id());
            let started = Instant::now();
            let requests = Arc::new(RequestCounts::default());
            let (judgement, learned) = match missing_input(check.as_ref(), &snapshot) {
                Some(j) => (j, Facts::default()),
                None => run_isolated(check.clone(), ctx, snapshot, requests.clone()).await,
            };
            if let Ok(mut f) = facts.lock() {
                f.merge(learned);
            }
            let result = CheckResult {
                id: check.id().to_string(),
                title: check.title().to_string(),
                status: judgement.status,
                summary: judgement.summary,
                duration_ms: started.elapsed().as_millis() as u64,
                requests: requests.snapshot(),
                findings: judgement.findings,
                evidence: judgement.evidence,
            };
            observer.finished(&result);
            if let Ok(mut r) = results.lock() {
                r[index] = Some(result);
            }
        }
        .boxed()
        .shared();
        for fact in provides {
            done.insert(*fact, task.clone());
            board.produced_by(*fact, task.clone());
        }
        all.push(task);
    }
    let started = Instant::now();
    let stopped = tokio::select! {
        _ = futures::future::join_all(all) => None,
        why = stop => Some(why),
    };

    let results = results.lock().map(|r| r.clone()).unwrap_or_default();
    let facts = facts.lock().map(|f| f.clone()).unwrap_or_default();
    let results = results
        .into_iter()
        .zip(names)
        .map(|(r, (id, title))| r.unwrap_or_else(|| unfinished(id, title, stopped.clone(), started)))
        .collect();
    (results, facts)
}

/// The result of a check the run stopped (Ctrl-C, `--deadline`) before it finished.
fn unfinished(id: String, title: String, stopped: Option<Stopped>, run_started: Instant) -> CheckResult {
    let why = stopped.unwrap_or_else(Stopped::interrupted);
    CheckResult {
        id,
        title,
        status: Status::Error,
        summary: why.summary,
        duration_ms: run_started.elapsed().as_millis() as u64,
        requests: Default::default(),
        findings: vec![Finding::error(&codes::RUN_STOPPED, why.message).fix(why.fix)],
        evidence: serde_json::Value::Object(Default::default()),
    }
}

/// `skip` when an input is missing, naming the check that should have provided it.
fn missing_input(check: &dyn Check, facts: &Facts) -> Option<Judgement> {
    let missing = check.needs().iter().find(|f| !facts.has(**f))?;
    let (what, producer) = (missing.describe(), missing.producer());
    // The finding carries the skip into every format (JUnit, annotations), not only the summary.
    Some(
        Judgement::new(Status::Skip, format!("skipped: needs {what} from `{producer}`")).finding(
            Finding::info(
                &codes::CHECK_INPUT_MISSING,
                format!("`{}` needs {what}, which `{producer}` did not provide", check.id()),
            )
            .fix(format!(
                "Fix what `{producer}` reports first; this check runs once it succeeds."
            )),
        ),
    )
}

/// Runs one check on its own task with its time limit; a panic or timeout becomes `error`.
/// Every request the check sends is counted in `requests`.
async fn run_isolated(
    check: Arc<dyn Check>,
    ctx: Arc<RunContext>,
    facts: Facts,
    requests: Arc<RequestCounts>,
) -> (Judgement, Facts) {
    let limit = check.timeout(&ctx);
    let c = check.clone();
    let handle = tokio::spawn(counting(requests, async move { c.run(&ctx, &facts).await }));
    let abort = handle.abort_handle();
    // If the run is stopped (Ctrl-C), this future is dropped: stop the check's task too.
    let _cancel = AbortOnDrop(handle.abort_handle());
    match tokio::time::timeout(limit, handle).await {
        Ok(Ok(outcome)) => (outcome.judgement, outcome.facts),
        Ok(Err(join)) => {
            let why = if join.is_panic() {
                panic_text(join.into_panic())
            } else {
                "cancelled".to_string()
            };
            let j = Judgement::new(Status::Error, format!("the check crashed: {why}")).finding(
                Finding::error(&codes::CHECK_CRASHED, format!("`{}` crashed inside the doctor: {why}", check.id()))
                    .fix("This is a bug in aoai-doctor. The other checks still ran; please report it with the JSON report (--format json)."),
            );
            (j, Facts::default())
        }
        Err(_) => {
            abort.abort();
            let secs = limit.as_secs_f64();
            let within = crate::diagnose::duration::time_limit(limit);
            let j = Judgement::new(Status::Error, format!("did not finish within {within}")).finding(
                Finding::error(
                    &codes::CHECK_TIMED_OUT,
                    format!("`{}` did not finish within {within}", check.id()),
                )
                .fix("Raise the limit with --timeout, or run with -v to see which call hangs.")
                .command(format!(
                    "aoai-doctor --only {} --timeout {}s -v",
                    check.id(),
                    (secs * 2.0).ceil() as u64
                )),
            );
            (j, Facts::default())
        }
    }
}

/// Aborts a spawned check when the future waiting for it is dropped.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A panic payload as text, cut short: panic messages are ours, but stay brief.
fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    text.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::Outcome;
    use crate::checks::test_support::context;
    use crate::facts::{EnvironmentFacts, Fact};
    use async_trait::async_trait;
    use std::time::Duration;

    struct Fake {
        id: &'static str,
        needs: &'static [Fact],
        behaviour: Behaviour,
    }
    enum Behaviour {
        Pass,
        ProvideEnvironment,
        Panic,
        Hang,
        /// Passes only if another check reaches the same barrier while this one waits.
        Rendezvous(Arc<tokio::sync::Barrier>),
        /// Lets the producer go, then awaits the environment fact it did not declare: passes
        /// only if the fact is there once the await returns.
        AwaitEnvironment(Arc<tokio::sync::Notify>),
        /// Provides the environment fact, but only once told to.
        ProvideEnvironmentWhenTold(Arc<tokio::sync::Notify>),
        /// Awaits the role verdict, which no check of the run provides.
        AwaitRoles,
    }

    #[async_trait]
    impl Check for Fake {
        fn id(&self) -> &'static str {
            self.id
        }
        fn title(&self) -> &'static str {
            "fake"
        }
        fn needs(&self) -> &'static [Fact] {
            self.needs
        }
        fn provides(&self) -> &'static [Fact] {
            match self.id {
                "environment" => &[Fact::Environment],
                _ => &[],
            }
        }
        fn timeout(&self, _ctx: &RunContext) -> Duration {
            Duration::from_millis(300)
        }
        async fn run(&self, _ctx: &RunContext, _facts: &Facts) -> Outcome {
            match self.behaviour {
                Behaviour::Pass => Outcome::new(Judgement::new(Status::Pass, "ok")),
                Behaviour::ProvideEnvironment => Outcome::with_facts(
                    Judgement::new(Status::Pass, "env"),
                    Facts {
                        environment: Some(EnvironmentFacts::default()),
                        ..Default::default()
                    },
                ),
                Behaviour::Panic => panic!("boom in {}", self.id),
                Behaviour::Hang => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    unreachable!()
                }
                Behaviour::Rendezvous(ref barrier) => {
                    barrier.wait().await;
                    Outcome::new(Judgement::new(Status::Pass, "met"))
                }
                Behaviour::AwaitEnvironment(ref go) => {
                    assert!(_facts.environment.is_none(), "the producer had not been let go yet");
                    go.notify_one();
                    let later = _facts.await_fact(Fact::Environment).await;
                    let status = if later.environment.is_some() {
                        Status::Pass
                    } else {
                        Status::Fail
                    };
                    Outcome::new(Judgement::new(status, "awaited"))
                }
                Behaviour::ProvideEnvironmentWhenTold(ref go) => {
                    go.notified().await;
                    Outcome::with_facts(
                        Judgement::new(Status::Pass, "env"),
                        Facts {
                            environment: Some(EnvironmentFacts::default()),
                            ..Default::default()
                        },
                    )
                }
                Behaviour::AwaitRoles => {
                    let later = _facts.await_fact(Fact::Roles).await;
                    let status = if later.roles.is_none() {
                        Status::Pass
                    } else {
                        Status::Fail
                    };
                    Outcome::new(Judgement::new(status, "no roles"))
                }
            }
        }
    }

    fn fake(id: &'static str, needs: &'static [Fact], behaviour: Behaviour) -> Arc<dyn Check> {
        Arc::new(Fake { id, needs, behaviour })
    }

    #[tokio::test]
    async fn a_panicking_check_is_an_error_and_the_others_still_report() {
        let checks = vec![
            fake("endpoint", &[], Behaviour::Pass),
            fake("azure-cli", &[], Behaviour::Panic),
            fake("environment", &[], Behaviour::ProvideEnvironment),
            fake("container-credentials", &[Fact::Environment], Behaviour::Pass),
        ];
        let (results, _) = run(Arc::new(context()), checks, Arc::new(Silent)).await;
        let status: Vec<_> = results.iter().map(|r| (r.id.as_str(), r.status)).collect();
        assert_eq!(
            status,
            vec![
                ("endpoint", Status::Pass),
                ("azure-cli", Status::Error),
                ("environment", Status::Pass),
                ("container-credentials", Status::Pass),
            ]
        );
        let crashed = &results[1];
        assert_eq!(crashed.findings[0].code.id, "check-crashed");
        assert!(crashed.summary.contains("boom in azure-cli"), "{}", crashed.summary);
    }

    #[tokio::test]
    async fn a_hanging_check_times_out_as_error() {
        let checks = vec![
            fake("token", &[], Behaviour::Hang),
            fake("endpoint", &[], Behaviour::Pass),
        ];
        let started = Instant::now();
        let (results, _) = run(Arc::new(context()), checks, Arc::new(Silent)).await;
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(results[0].status, Status::Error);
        assert_eq!(results[0].findings[0].code.id, "check-timed-out");
        assert_eq!(results[1].status, Status::Pass);
    }

    #[tokio::test]
    async fn a_stopped_run_keeps_what_finished_and_marks_the_rest_interrupted() {
        let checks = vec![
            fake("endpoint", &[], Behaviour::Pass),
            fake("environment", &[], Behaviour::ProvideEnvironment),
            fake("token", &[], Behaviour::Hang),
            fake("container-credentials", &[Fact::Environment], Behaviour::Pass),
        ];
        // Stop as soon as the last quick check has finished, while `token` still hangs.
        struct StopAfter(Arc<tokio::sync::Notify>);
        impl Observer for StopAfter {
            fn finished(&self, result: &CheckResult) {
                if result.id == "container-credentials" {
                    self.0.notify_one();
                }
            }
        }
        let notify = Arc::new(tokio::sync::Notify::new());
        let stop = {
            let n = notify.clone();
            async move {
                n.notified().await;
                Stopped::interrupted()
            }
        };
        let (results, facts) = run_until(Arc::new(context()), checks, Arc::new(StopAfter(notify)), stop).await;
        let status: Vec<_> = results.iter().map(|r| (r.id.as_str(), r.status)).collect();
        assert_eq!(
            status,
            vec![
                ("endpoint", Status::Pass),
                ("environment", Status::Pass),
                ("token", Status::Error),
                ("container-credentials", Status::Pass),
            ]
        );
        assert_eq!(results[2].summary, INTERRUPTED);
        assert_eq!(results[2].title, "fake");
        assert!(facts.environment.is_some());
    }

    #[tokio::test]
    async fn a_missing_input_skips_and_names_its_producer() {
        // `environment` fails to provide its fact (it passes but learns nothing).
        let checks = vec![
            fake("environment", &[], Behaviour::Pass),
            fake("container-credentials", &[Fact::Environment], Behaviour::Pass),
        ];
        let (results, _) = run(Arc::new(context()), checks, Arc::new(Silent)).await;
        assert_eq!(results[1].status, Status::Skip);
        assert!(results[1].summary.contains("`environment`"), "{}", results[1].summary);
    }

    #[tokio::test]
    async fn independent_checks_run_concurrently_and_dependents_wait() {
        // Two checks that can only finish together: run one after the other, the first would
        // wait at the barrier until its time limit and end as `error`.
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let checks = vec![
            fake("a", &[], Behaviour::Rendezvous(barrier.clone())),
            fake("b", &[], Behaviour::Rendezvous(barrier)),
            fake("environment", &[], Behaviour::ProvideEnvironment),
            fake("container-credentials", &[Fact::Environment], Behaviour::Pass),
        ];
        let (results, facts) = run(Arc::new(context()), checks, Arc::new(Silent)).await;
        assert!(results.iter().all(|r| r.status == Status::Pass), "{results:?}");
        assert!(facts.environment.is_some());
    }

    #[tokio::test]
    async fn a_check_can_await_a_fact_it_did_not_declare() {
        // The awaiting check comes first and declares nothing, so it starts at once; the
        // producer starts beside it and provides only after the awaiting check let it go.
        let go = Arc::new(tokio::sync::Notify::new());
        let checks = vec![
            fake("data-plane-probe", &[], Behaviour::AwaitEnvironment(go.clone())),
            fake("environment", &[], Behaviour::ProvideEnvironmentWhenTold(go)),
        ];
        let (results, facts) = run(Arc::new(context()), checks, Arc::new(Silent)).await;
        assert_eq!(results[0].status, Status::Pass, "{results:?}");
        assert_eq!(results[1].status, Status::Pass, "{results:?}");
        assert!(facts.environment.is_some());
    }

    #[tokio::test]
    async fn awaiting_a_fact_no_check_of_the_run_provides_returns_without_it() {
        let checks = vec![fake("data-plane-probe", &[], Behaviour::AwaitRoles)];
        let (results, _) = run(Arc::new(context()), checks, Arc::new(Silent)).await;
        assert_eq!(results[0].status, Status::Pass, "{results:?}");
        // Outside a run (a judge's test), nothing is pending either.
        assert!(Facts::default().await_fact(Fact::Roles).await.roles.is_none());
    }
}
