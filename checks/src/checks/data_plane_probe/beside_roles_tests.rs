//! The probe runs beside the role check: it starts once the token exists and waits for the
//! role check only when a 401 PermissionDenied needs its verdict.

use super::DataPlaneProbeCheck;
use crate::checks::{Check, Outcome};
use crate::context::RunContext;
use crate::facts::{Fact, Facts, RoleFacts, RoleOutcomeKind, RoleVerdict, TokenInfo};
use crate::model::{CheckResult, Judgement, Status};
use crate::runner::{self, Observer, Silent};
use async_trait::async_trait;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const RESOURCE: &str =
    "/subscriptions/s/resourceGroups/rg-late/providers/Microsoft.CognitiveServices/accounts/late-aoai";

/// Provides a token at once.
struct Token;

#[async_trait]
impl Check for Token {
    fn id(&self) -> &'static str {
        "token"
    }
    fn title(&self) -> &'static str {
        "token"
    }
    fn provides(&self) -> &'static [Fact] {
        &[Fact::AccessToken]
    }
    async fn run(&self, _ctx: &RunContext, _facts: &Facts) -> Outcome {
        let token = TokenInfo {
            token: crate::secret::Secret::new("not-a-jwt"),
            expires_on: None,
            source: "test".into(),
        };
        Outcome::with_facts(
            Judgement::new(Status::Pass, "token"),
            Facts {
                token: Some(token),
                ..Default::default()
            },
        )
    }
}

/// A role check that finishes only once `release` is notified, then says the role is missing.
struct LateRoles(Arc<tokio::sync::Notify>);

#[async_trait]
impl Check for LateRoles {
    fn id(&self) -> &'static str {
        "role-assignment"
    }
    fn title(&self) -> &'static str {
        "roles"
    }
    fn provides(&self) -> &'static [Fact] {
        &[Fact::Roles]
    }
    fn timeout(&self, _ctx: &RunContext) -> Duration {
        Duration::from_secs(5)
    }
    async fn run(&self, _ctx: &RunContext, _facts: &Facts) -> Outcome {
        self.0.notified().await;
        let roles = RoleFacts {
            verdict: RoleVerdict::Missing,
            outcome: RoleOutcomeKind::NoRole,
            resource_id: Some(RESOURCE.into()),
            resource_tenant: None,
            principal_id: Some("11111111-2222-3333-4444-555555555555".into()),
            data_action: String::new(),
            newest_grant_age_secs: None,
        };
        Outcome::with_facts(
            Judgement::new(Status::Fail, "no role"),
            Facts {
                roles: Some(roles),
                ..Default::default()
            },
        )
    }
}

/// Lets the role check go when the probe has finished.
struct ReleaseAfterProbe(Arc<tokio::sync::Notify>);

impl Observer for ReleaseAfterProbe {
    fn finished(&self, result: &CheckResult) {
        if result.id == super::ID {
            self.0.notify_one();
        }
    }
}

/// Answers every connection with `status`/`body`; `release` is notified after each request.
async fn data_plane(status: u16, body: &'static str, release: Arc<tokio::sync::Notify>) -> (url::Url, Arc<AtomicU32>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = url::Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    let seen = Arc::new(AtomicU32::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = vec![0u8; 8192];
            let _ = s.read(&mut buf).await;
            let reply = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = s.write_all(reply.as_bytes()).await;
            let _ = s.shutdown().await;
            counter.fetch_add(1, Ordering::SeqCst);
            release.notify_one();
        }
    });
    (url, seen)
}

fn checks(release: &Arc<tokio::sync::Notify>) -> Vec<Arc<dyn Check>> {
    vec![
        Arc::new(Token),
        Arc::new(LateRoles(release.clone())),
        Arc::new(DataPlaneProbeCheck),
    ]
}

#[tokio::test]
async fn a_healthy_probe_finishes_before_the_role_check_it_does_not_wait_for() {
    let release = Arc::new(tokio::sync::Notify::new());
    // The data plane does not release the role check: only the probe's end does.
    let (url, seen) = data_plane(200, r#"{"choices":[]}"#, Arc::new(tokio::sync::Notify::new())).await;
    let ctx = crate::checks::test_support::context_with(Default::default(), Some(url.as_str()));
    let observer = Arc::new(ReleaseAfterProbe(release.clone()));
    let (results, _) = runner::run(Arc::new(ctx), checks(&release), observer).await;
    // Had the probe waited for the role check, the two would wait for each other until the
    // probe's time limit.
    assert_eq!(results[2].status, Status::Pass, "{results:?}");
    assert_eq!(results[1].status, Status::Fail, "{results:?}");
    assert_eq!(seen.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_permission_denied_waits_for_the_role_verdict_and_names_the_resource_it_found() {
    let release = Arc::new(tokio::sync::Notify::new());
    // The role check finishes only after the data plane has answered 401.
    let denied =
        r#"{"error":{"code":"PermissionDenied","message":"Principal does not have access to API/Operation."}}"#;
    let (url, seen) = data_plane(401, denied, release.clone()).await;
    let mut ctx = crate::checks::test_support::context_with(Default::default(), Some(url.as_str()));
    // A wait is allowed: only the role verdict (missing) makes the probe fail at once.
    ctx.target.wait_for_propagation = Duration::from_secs(30);
    let (results, _) = runner::run(Arc::new(ctx), checks(&release), Arc::new(Silent)).await;
    let probe = &results[2];
    assert_eq!(probe.status, Status::Fail, "{probe:?}");
    assert_eq!(seen.load(Ordering::SeqCst), 1, "a missing role is not retried");
    let text = serde_json::to_string(&probe.findings).unwrap();
    assert!(text.contains("rg-late") && text.contains("late-aoai"), "{text}");
}

#[tokio::test]
async fn without_a_role_check_the_probe_runs_alone() {
    let (url, _) = data_plane(200, r#"{"choices":[]}"#, Arc::new(tokio::sync::Notify::new())).await;
    let ctx = crate::checks::test_support::context_with(Default::default(), Some(url.as_str()));
    let checks: Vec<Arc<dyn Check>> = vec![Arc::new(Token), Arc::new(DataPlaneProbeCheck)];
    let (results, _) = runner::run(Arc::new(ctx), checks, Arc::new(Silent)).await;
    assert_eq!(results[1].status, Status::Pass, "{results:?}");
}

#[tokio::test]
async fn a_role_check_that_never_finishes_does_not_take_the_probe_down() {
    // The role check is never released; the data plane refuses with a 403 network rule, whose
    // wording would use the role check's facts.
    let never = Arc::new(tokio::sync::Notify::new());
    let blocked = r#"{"error":{"code":"403","message":"Access denied due to Virtual Network/Firewall rules."}}"#;
    let (url, _) = data_plane(403, blocked, Arc::new(tokio::sync::Notify::new())).await;
    let mut ctx = crate::checks::test_support::context_with(Default::default(), Some(url.as_str()));
    ctx.timeouts.check = Duration::from_millis(800);
    let (results, _) = runner::run(Arc::new(ctx), checks(&never), Arc::new(Silent)).await;
    // The probe judged without the role facts before its own limit; the role check timed out.
    assert_eq!(results[2].status, Status::Fail, "{:?}", results[2]);
    assert_eq!(results[1].status, Status::Error, "{:?}", results[1]);
}
