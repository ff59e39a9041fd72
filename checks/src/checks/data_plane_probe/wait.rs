//! Waiting for a new role assignment to reach the data plane: repeat an attempt while its
//! answer is still "denied", with backoff (5 s growing to 30 s, or the server's Retry-After,
//! capped), within a bounded number of attempts and a time limit, reporting progress to an
//! observer, and stopping early when cancelled.
//!
//! The loop knows nothing of HTTP or of Azure: the caller's attempt returns its answer and an
//! [`Assessment`] of it, so the probe uses it today and a `fix` command can reuse it after it
//! assigns a role. Time comes from a [`Pacer`], so tests run it on a fake clock.

use async_trait::async_trait;
use std::future::Future;
use std::time::Duration;

/// How long and how often to wait.
#[derive(Debug, Clone)]
pub struct WaitPolicy {
    /// How long to keep trying after the first denied answer; 0 = never wait.
    pub max_wait: Duration,
    /// The first pause; each next one doubles, up to `max_delay`.
    pub first_delay: Duration,
    pub max_delay: Duration,
    /// A bound on the number of attempts, whatever the clock says.
    pub max_attempts: u32,
    /// The limit of one attempt (the loop shortens it near the deadline).
    pub attempt_limit: Duration,
    /// Everything, attempts and pauses, ends within this from the start.
    pub deadline: Duration,
}

impl WaitPolicy {
    /// 5 s growing to 30 s, for `max_wait`; one attempt is limited to 30 s.
    pub fn standard(max_wait: Duration) -> Self {
        let attempt_limit = Duration::from_secs(30);
        WaitPolicy {
            max_wait,
            first_delay: Duration::from_secs(5),
            max_delay: Duration::from_secs(30),
            // Every pause is at least a second (a Retry-After of 0 is read as 1 s), so this
            // never cuts a wait short; it bounds the loop if a clock misbehaves.
            max_attempts: u32::try_from(max_wait.as_secs()).unwrap_or(u32::MAX).saturating_add(2),
            attempt_limit,
            deadline: max_wait + attempt_limit,
        }
    }

    /// Limits each attempt to `attempt_limit` and the whole wait to `deadline`.
    pub fn with_limits(mut self, attempt_limit: Duration, deadline: Duration) -> Self {
        self.attempt_limit = attempt_limit;
        self.deadline = deadline;
        self
    }

    /// The pause before the next attempt: the backoff step, or the server's Retry-After hint
    /// when it gave one — capped at `max_delay` either way (a 429 may ask for 86400 s) and
    /// never beyond what is left of the wait.
    pub fn next_delay(&self, step: Duration, hint_secs: Option<u64>, remaining: Duration) -> Duration {
        let wanted = match hint_secs {
            Some(s) => Duration::from_secs(s.max(1)),
            None => step,
        };
        wanted.min(self.max_delay).min(remaining)
    }
}

/// What one answer means for the wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assessment {
    /// Final: a success, or a failure that waiting cannot fix.
    Settled,
    /// Still denied while the grant propagates: wait and try again.
    Denied { why: String, retry_after_secs: Option<u64> },
    /// A passing failure (a 5xx, a timeout): tried again only once the wait has begun.
    Transient { why: String, retry_after_secs: Option<u64> },
}

/// The attempt the loop repeats: one call, and what its answer means for the wait.
pub trait Attempts: Send {
    type Answer: Send;
    /// Makes one attempt, which must end within `limit`.
    fn attempt(&mut self, limit: Duration) -> impl Future<Output = (Self::Answer, Assessment)> + Send;
}

/// The clock and the pause of the loop.
#[async_trait]
pub trait Pacer: Send + Sync {
    /// Monotonic time since an arbitrary origin.
    fn now(&self) -> Duration;
    async fn sleep(&self, d: Duration);
}

/// The real clock (tokio's, so a paused test runtime also pauses it).
pub struct RealTime {
    origin: tokio::time::Instant,
}

impl Default for RealTime {
    fn default() -> Self {
        RealTime {
            origin: tokio::time::Instant::now(),
        }
    }
}

#[async_trait]
impl Pacer for RealTime {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
    async fn sleep(&self, d: Duration) {
        tokio::time::sleep(d).await
    }
}

/// Hears how the wait goes (a progress line on a terminal, a log).
pub trait WaitObserver<A>: Sync {
    /// Denied (or a passing failure while waiting): the next attempt comes in `next_in`.
    fn retrying(&self, why: &str, elapsed: Duration, next_in: Duration);
    /// The wait ended with a final answer.
    fn settled(&self, answer: &A, elapsed: Duration);
    /// The time or the attempts ran out while still denied.
    fn gave_up(&self, answer: &A, elapsed: Duration);
    /// Cancelled during a pause.
    fn cancelled(&self, _elapsed: Duration) {}
}

/// How the wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitEnd {
    /// A final answer came (it may be a failure other than "denied").
    Settled,
    /// Still denied (or failing) when the time or the attempts ran out.
    GaveUp,
    /// The caller cancelled it during a pause.
    Cancelled,
}

/// Everything the loop saw.
#[derive(Debug, Clone)]
pub struct WaitRun<A> {
    /// The last answer.
    pub last: A,
    /// The last answer assessed as denied, when there was one before `last` (a caller may
    /// prefer it to a passing failure that ended the wait).
    pub last_denied: Option<A>,
    pub attempts: u32,
    /// Time from the start to the end of the wait; `None` when nothing was ever denied.
    pub waited: Option<Duration>,
    pub end: WaitEnd,
}

/// Runs `attempt` (given its time limit), and runs it again while its answer is denied —
/// or failing in passing once the wait has begun — until it settles, `policy` runs out, or
/// `cancel` completes during a pause. An attempt in flight is not cancelled: its own limit
/// bounds it.
pub async fn retry_while_denied<T: Attempts>(
    policy: &WaitPolicy,
    pacer: &dyn Pacer,
    observer: &dyn WaitObserver<T::Answer>,
    cancel: impl Future<Output = ()>,
    attempts_of: &mut T,
) -> WaitRun<T::Answer> {
    let mut cancel = std::pin::pin!(cancel);
    let started = pacer.now();
    let elapsed = || pacer.now().saturating_sub(started);
    let mut attempts = 0u32;
    let mut first_denied: Option<Duration> = None;
    let mut last_denied: Option<T::Answer> = None;
    let mut step = policy.first_delay;
    loop {
        let this_limit = policy
            .attempt_limit
            .min(policy.deadline.saturating_sub(elapsed()))
            .max(Duration::from_millis(100));
        let (answer, assessment) = attempts_of.attempt(this_limit).await;
        attempts += 1;
        let waiting = first_denied.is_some();
        let (why, hint, denied) = match &assessment {
            Assessment::Settled => (String::new(), None, false),
            Assessment::Denied { why, retry_after_secs } => (why.clone(), *retry_after_secs, true),
            Assessment::Transient { why, retry_after_secs } => (why.clone(), *retry_after_secs, false),
        };
        if denied && first_denied.is_none() {
            first_denied = Some(elapsed());
        }
        let keep_going = denied || (waiting && matches!(assessment, Assessment::Transient { .. }));
        let waited = first_denied.map(|_| elapsed());
        let run = |last, last_denied, end| WaitRun {
            last,
            last_denied,
            attempts,
            waited,
            end,
        };
        if !keep_going {
            if waiting {
                observer.settled(&answer, elapsed());
            }
            return run(answer, last_denied, WaitEnd::Settled);
        }
        let since_denied = elapsed().saturating_sub(first_denied.unwrap_or_default());
        let remaining = policy.max_wait.saturating_sub(since_denied).min(
            policy
                .deadline
                .saturating_sub(elapsed())
                .saturating_sub(policy.attempt_limit),
        );
        let delay = policy.next_delay(step, hint, remaining);
        if delay.is_zero() || remaining < Duration::from_millis(50) || attempts >= policy.max_attempts {
            observer.gave_up(&answer, elapsed());
            return run(answer, last_denied, WaitEnd::GaveUp);
        }
        observer.retrying(&why, elapsed(), delay);
        let cancelled = tokio::select! {
            biased;
            _ = &mut cancel => true,
            _ = pacer.sleep(delay) => false,
        };
        if cancelled {
            observer.cancelled(elapsed());
            return run(answer, last_denied, WaitEnd::Cancelled);
        }
        if denied {
            last_denied = Some(answer);
        }
        step = (step * 2).min(policy.max_delay);
    }
}

/// `45s`, `1m05s`, `3m12s`, `1h02m`.
pub fn short_duration(d: Duration) -> String {
    let s = d.as_secs();
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    if h > 0 {
        format!("{h}h{m:02}m")
    } else if m > 0 {
        format!("{m}m{sec:02}s")
    } else if s >= 10 || d.as_millis() < 100 || d.subsec_millis() == 0 {
        format!("{s}s")
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A clock that only moves when the loop pauses or an attempt takes time: no real waiting.
    #[derive(Default)]
    struct FakeClock(Mutex<Duration>);

    #[async_trait]
    impl Pacer for FakeClock {
        fn now(&self) -> Duration {
            *self.0.lock().unwrap()
        }
        async fn sleep(&self, d: Duration) {
            *self.0.lock().unwrap() += d;
        }
    }

    /// Answers from a script (the last one repeats), each taking a second of fake time.
    struct Script<'a> {
        clock: &'a FakeClock,
        answers: Vec<Assessment>,
        made: u32,
    }

    impl Attempts for Script<'_> {
        type Answer = u32;
        fn attempt(&mut self, _limit: Duration) -> impl Future<Output = (u32, Assessment)> + Send {
            let i = (self.made as usize).min(self.answers.len() - 1);
            self.made += 1;
            *self.clock.0.lock().unwrap() += Duration::from_secs(1);
            std::future::ready((self.made, self.answers[i].clone()))
        }
    }

    #[derive(Default)]
    struct Log(Mutex<Vec<String>>);

    impl WaitObserver<u32> for Log {
        fn retrying(&self, why: &str, _elapsed: Duration, next_in: Duration) {
            self.0.lock().unwrap().push(format!("{why} {}s", next_in.as_secs()));
        }
        fn settled(&self, answer: &u32, _elapsed: Duration) {
            self.0.lock().unwrap().push(format!("settled #{answer}"));
        }
        fn gave_up(&self, answer: &u32, _elapsed: Duration) {
            self.0.lock().unwrap().push(format!("gave up #{answer}"));
        }
        fn cancelled(&self, _elapsed: Duration) {
            self.0.lock().unwrap().push("cancelled".into());
        }
    }

    fn denied() -> Assessment {
        Assessment::Denied {
            why: "denied".into(),
            retry_after_secs: None,
        }
    }
    fn transient() -> Assessment {
        Assessment::Transient {
            why: "503".into(),
            retry_after_secs: None,
        }
    }

    async fn run_script(
        policy: &WaitPolicy,
        answers: Vec<Assessment>,
        cancel: impl Future<Output = ()>,
    ) -> (WaitRun<u32>, Vec<String>) {
        let clock = FakeClock::default();
        let log = Log::default();
        let mut script = Script {
            clock: &clock,
            answers,
            made: 0,
        };
        let run = retry_while_denied(policy, &clock, &log, cancel, &mut script).await;
        (run, log.0.into_inner().unwrap())
    }

    #[tokio::test]
    async fn backs_off_from_5_to_30_seconds_and_settles_on_the_first_final_answer() {
        let mut answers = vec![denied(); 6];
        answers.push(Assessment::Settled);
        let policy = WaitPolicy::standard(Duration::from_secs(600));
        let (run, log) = run_script(&policy, answers, std::future::pending()).await;
        assert_eq!(
            log,
            [
                "denied 5s",
                "denied 10s",
                "denied 20s",
                "denied 30s",
                "denied 30s",
                "denied 30s",
                "settled #7"
            ]
        );
        assert_eq!(
            (run.last, run.last_denied, run.attempts, run.end),
            (7, Some(6), 7, WaitEnd::Settled)
        );
        assert!(run.waited.is_some());
    }

    #[tokio::test]
    async fn a_first_answer_that_is_final_or_passing_ends_at_once() {
        let policy = WaitPolicy::standard(Duration::from_secs(600));
        for first in [Assessment::Settled, transient()] {
            let (run, log) = run_script(&policy, vec![first, denied()], std::future::pending()).await;
            assert_eq!((run.attempts, run.waited, run.end), (1, None, WaitEnd::Settled));
            assert!(log.is_empty(), "{log:?}");
        }
    }

    #[tokio::test]
    async fn passing_failures_are_retried_once_waiting_and_the_denied_answer_is_kept() {
        let policy = WaitPolicy::standard(Duration::from_secs(600));
        let answers = vec![denied(), transient(), Assessment::Settled];
        let (run, log) = run_script(&policy, answers, std::future::pending()).await;
        assert_eq!(log, ["denied 5s", "503 10s", "settled #3"]);
        assert_eq!((run.last, run.last_denied), (3, Some(1)));
    }

    #[tokio::test]
    async fn gives_up_when_the_wait_runs_out() {
        let policy = WaitPolicy::standard(Duration::from_secs(60));
        let (run, log) = run_script(&policy, vec![denied()], std::future::pending()).await;
        assert_eq!(run.end, WaitEnd::GaveUp);
        assert_eq!(
            log.last().map(String::as_str),
            Some(format!("gave up #{}", run.attempts).as_str())
        );
        // 5 + 10 + 20 + 30 s of pauses, then the rest of the minute, never beyond it.
        let paused: u64 = log
            .iter()
            .filter_map(|l| l.strip_prefix("denied ")?.strip_suffix('s')?.parse::<u64>().ok())
            .sum();
        assert!(paused <= 60, "{log:?}");
        assert!(run.attempts >= 4, "{log:?}");
    }

    #[tokio::test]
    async fn the_number_of_attempts_is_bounded() {
        let mut policy = WaitPolicy::standard(Duration::from_secs(3600));
        policy.max_attempts = 3;
        let (run, _) = run_script(&policy, vec![denied()], std::future::pending()).await;
        assert_eq!((run.attempts, run.end), (3, WaitEnd::GaveUp));
    }

    #[tokio::test]
    async fn a_cancelled_wait_stops_at_the_next_pause() {
        let policy = WaitPolicy::standard(Duration::from_secs(600));
        let (run, log) = run_script(&policy, vec![denied()], std::future::ready(())).await;
        assert_eq!((run.attempts, run.end, run.last), (1, WaitEnd::Cancelled, 1));
        assert_eq!(log, ["denied 5s", "cancelled"]);
    }

    #[tokio::test]
    async fn the_servers_hint_replaces_the_step_but_stays_capped() {
        let policy = WaitPolicy::standard(Duration::from_secs(600));
        let hinted = |s| Assessment::Denied {
            why: "denied".into(),
            retry_after_secs: Some(s),
        };
        let answers = vec![hinted(2), hinted(86400), Assessment::Settled];
        let (_, log) = run_script(&policy, answers, std::future::pending()).await;
        assert_eq!(log, ["denied 2s", "denied 30s", "settled #3"]);
    }

    #[test]
    fn delays_back_off_and_hints_are_capped() {
        let p = WaitPolicy::standard(Duration::from_secs(600));
        let plenty = Duration::from_secs(600);
        let secs = Duration::from_secs;
        assert_eq!(p.next_delay(secs(5), None, plenty), secs(5));
        assert_eq!(p.next_delay(secs(40), None, plenty), secs(30));
        assert_eq!(p.next_delay(secs(5), Some(86400), plenty), secs(30));
        assert_eq!(p.next_delay(secs(5), Some(2), plenty), secs(2));
        assert_eq!(p.next_delay(secs(20), Some(86400), secs(7)), secs(7));
    }

    #[test]
    fn durations_read_like_a_clock() {
        assert_eq!(short_duration(Duration::from_secs(192)), "3m12s");
        assert_eq!(short_duration(Duration::from_secs(65)), "1m05s");
        assert_eq!(short_duration(Duration::from_secs(45)), "45s");
        assert_eq!(short_duration(Duration::from_millis(2500)), "2.5s");
        assert_eq!(short_duration(Duration::from_millis(3)), "0s");
        assert_eq!(short_duration(Duration::from_secs(3720)), "1h02m");
    }
}
