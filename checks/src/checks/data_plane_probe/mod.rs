//! `data-plane-probe`: one real call with the token — by default the smallest chat completion
//! (`max_tokens: 1`) — judged by status, body shape and headers. A 401 PermissionDenied while
//! a new role assignment propagates is retried with backoff (reported through
//! `ctx.progress`) up to `--wait-for-propagation`; a role that is plainly missing fails at
//! once with the `az role assignment create` fix.
//!
//! The shape: [`gather`] does the I/O (through `crate::azure::dataplane`) and the wait
//! ([`wait`], a loop of its own), [`outcome`] types what the call answered, classified once
//! per attempt, and [`findings`] turns each outcome into wording, fixes and commands.

mod denied;
pub mod findings;
pub mod gather;
pub mod input;
pub mod outcome;
pub mod wait;

#[cfg(test)]
mod beside_roles_tests;
#[cfg(test)]
mod tests;

pub use findings::judge;
pub use gather::{ProbeRun, worth_waiting};
pub use input::{Input, ResourceNames, parse_http_date};
pub use wait::{WaitPolicy, short_duration};

use super::Check;
use crate::azure::dataplane::{self, ProbeRequest};
use crate::azure::net::is_loopback;
use crate::checks::Outcome;
use crate::context::{ProbeKind, RunContext};
use crate::diagnose::jwt;
use crate::facts::{Fact, Facts, RoleFacts, RoleVerdict, TokenInfo};
use crate::surface::Surface;
use async_trait::async_trait;
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use outcome::NotSent;
use std::future::Future;
use std::time::Duration;

pub struct DataPlaneProbeCheck;

const ID: &str = "data-plane-probe";

#[async_trait]
impl Check for DataPlaneProbeCheck {
    fn id(&self) -> &'static str {
        ID
    }
    fn title(&self) -> &'static str {
        "A real call to the data plane"
    }
    fn needs(&self) -> &'static [Fact] {
        &[Fact::AccessToken]
    }
    /// Not the role check: the probe runs beside it and awaits its facts only when an answer
    /// needs them (see [`RoleFactsLater`]). Not the endpoint check either: the call's URL comes
    /// from the endpoint itself (what that check would compute), so the probe does not wait
    /// for that check's own request to the data plane; its facts are awaited for the wording.
    fn after(&self) -> &'static [Fact] {
        &[Fact::Claims]
    }
    fn awaits(&self) -> &'static [Fact] {
        &[Fact::Roles, Fact::Endpoint]
    }
    /// The propagation wait comes on top of the usual limit, so the runner does not stop a
    /// probe that is patiently waiting.
    fn timeout(&self, ctx: &RunContext) -> Duration {
        ctx.target.wait_for_propagation + ctx.timeouts.check
    }
    async fn run(&self, ctx: &RunContext, facts: &Facts) -> Outcome {
        let plan = match plan(ctx, facts) {
            Ok(plan) => plan,
            Err(why) => return Outcome::new(findings::not_sent(&why)),
        };
        // The role check runs beside the probe; its verdict is awaited only on a 401
        // PermissionDenied (wait for propagation, or fail now), and its other facts only when
        // the answer is a refusal whose wording names the resource, its tenant or the principal.
        // Never past most of this check's own limit: a role check that hangs (ARM not
        // answering) must not take the probe's answer down with it.
        let deadline = tokio::time::Instant::now() + self.timeout(ctx).mul_f64(0.9);
        let later = RoleFactsLater::new(facts, deadline);
        let role_verdict = later.verdict();
        let policy = gather::policy(ctx);
        let token = &plan.token.token;
        let run = gather::gather(ctx, &plan.request, token, &policy, role_verdict).await;
        let role_facts = if run.role_verdict.is_some() || wording_needs_roles(&run.attempt.outcome) {
            later.facts().await
        } else {
            None
        };
        let mut with_roles = facts.clone();
        with_roles.roles = role_facts;
        if with_roles.endpoint.is_none() {
            // The endpoint check ran beside the call; its facts name the resource.
            let done = tokio::time::timeout_at(deadline, facts.await_fact(Fact::Endpoint)).await;
            with_roles.endpoint = done.ok().and_then(|f| f.endpoint);
        }
        let decoded = jwt::decode_claims(token.expose());
        let token_audiences: Vec<String> = decoded
            .as_ref()
            .ok()
            .and_then(|c| c.aud.as_ref())
            .map(|a| a.values().into_iter().map(str::to_string).collect())
            .unwrap_or_default();
        let input = Input {
            request: &plan.request,
            kind: plan.kind,
            deployment: plan.deployment,
            run: &run,
            decoded: decoded.as_ref(),
            roles: with_roles.roles.as_ref(),
            resource: ResourceNames::find(ctx, &with_roles),
            audience_resource: plan.surface.audience_for(ctx.target.cloud, &token_audiences),
            surface: &plan.surface,
            scope: &ctx.target.scope,
            now: ctx.now(),
            wait: ctx.target.wait_for_propagation,
        };
        Outcome::new(judge(&input))
    }
}

/// The role check's facts, once it has finished: at once when it already has (or is not part
/// of this run), else when it does, but no later than `deadline` (then none). Awaited at most
/// once and shared by the verdict and the wording.
struct RoleFactsLater(Shared<BoxFuture<'static, Option<RoleFacts>>>);

impl RoleFactsLater {
    fn new(facts: &Facts, deadline: tokio::time::Instant) -> Self {
        let facts = facts.clone();
        let roles = async move {
            tokio::time::timeout_at(deadline, facts.await_fact(Fact::Roles))
                .await
                .ok()
                .and_then(|f| f.roles)
        };
        RoleFactsLater(roles.boxed().shared())
    }
    fn verdict(&self) -> impl Future<Output = Option<RoleVerdict>> + Send + 'static {
        self.0.clone().map(|roles| roles.map(|r| r.verdict))
    }
    fn facts(&self) -> Shared<BoxFuture<'static, Option<RoleFacts>>> {
        self.0.clone()
    }
}

/// Answers whose findings are the same whatever the role check learned: a success, or a
/// refusal that comes only after authorisation. Every other answer's wording may name the
/// resource (a 429's quota command does), its tenant or the principal, which the role check
/// found.
fn wording_needs_roles(outcome: &outcome::CallOutcome) -> bool {
    use outcome::CallOutcome as C;
    !matches!(outcome, C::Ok | C::AuthPassed(_) | C::OperationNotSupported { .. })
}

/// The call to make, once every reason not to make it is ruled out.
struct Plan<'a> {
    token: &'a TokenInfo,
    kind: ProbeKind,
    deployment: Option<&'a str>,
    surface: Surface,
    request: ProbeRequest,
}

fn plan<'a>(ctx: &'a RunContext, facts: &'a Facts) -> Result<Plan<'a>, NotSent> {
    let token = facts.token.as_ref().ok_or(NotSent::NoToken)?;
    let kind = ctx.target.probe;
    if kind == ProbeKind::None {
        return Err(NotSent::Disabled);
    }
    let (surface, base) = call_base(ctx, facts).ok_or(NotSent::NoEndpoint)?;
    if base.scheme() != "https" && !is_loopback(&base) {
        return Err(NotSent::InsecureHttp {
            base: crate::surface::resource_root(&base),
        });
    }
    let deployment = ctx
        .target
        .deployment
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty());
    let request = dataplane::request(&base, &surface, kind, deployment, &ctx.target.api_version)
        .ok_or(NotSent::NoDeployment { kind })?;
    Ok(Plan {
        token,
        kind,
        deployment,
        surface,
        request,
    })
}

/// The surface and the URL the call hangs off, as the `endpoint` check understood them if it
/// has finished, else read from the target the same way (a path no client uses counts as the
/// resource root).
fn call_base(ctx: &RunContext, facts: &Facts) -> Option<(Surface, url::Url)> {
    if let Some(e) = &facts.endpoint {
        return Some((e.surface.clone(), e.call_base.clone()));
    }
    // `call_base` drops any user:password@ as the endpoint check's does.
    let url = ctx.target.endpoint.as_ref()?;
    let surface = Surface::of(url).unwrap_or(Surface::ResourceRoot);
    let base = surface.call_base(url);
    Some((surface, base))
}
