//! Work started ahead of need, so what the role check waits for is under way (or done) when
//! it asks — within this run only, nothing is kept across runs:
//! - the managed-identity ARM token, started by the token check beside the data-plane token
//!   (two requests to the identity endpoint at once instead of one after the other; the same
//!   two requests as before);
//! - the ARM connection (TCP + TLS, two round trips a region away), opened by the
//!   credential-chain check while the tokens are fetched, without a request (see
//!   [`super::preconnect`]).
//!
//! The `az` token calls have their own [`super::az_tokens`].

use super::credentials::{self, Acquired};
use super::http;
use super::preconnect::Preconnect;
use crate::chain::MiSource;
use crate::context::RunContext;
use crate::facts::CredentialConfig;
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// One token call under way (or done), awaitable by every check that wants its answer.
type Call = Shared<BoxFuture<'static, Acquired>>;
/// A managed-identity token call: (source, client id, scope).
type Key = (String, Option<String>, String);

#[derive(Default)]
pub struct EarlyCalls {
    /// Managed-identity token calls started early, by (source, client id, scope).
    managed_identity: Mutex<HashMap<Key, Call>>,
    /// The client ARM calls go through, with the layer that lets its connection open early.
    arm: OnceLock<Option<reqwest::Client>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

impl EarlyCalls {
    /// Starts the ARM token on a task of its own when the credential is a managed identity and
    /// a check of this run needs ARM; its requests count for the check that calls this.
    pub fn start_arm_token(&self, ctx: &RunContext, config: &CredentialConfig) {
        let (Some(scope), CredentialConfig::ManagedIdentity { source, client_id }) =
            (ctx.az_tokens.arm_scope(), config)
        else {
            return;
        };
        let key: Key = (source.name().to_string(), client_id.clone(), scope.to_string());
        let mut started = lock(&self.managed_identity);
        if started.contains_key(&key) {
            return;
        }
        let Some(call) = credentials::managed_identity_call(ctx, *source, client_id.as_deref(), scope) else {
            return;
        };
        let counts = http::current_counts();
        let task = tokio::spawn(async move {
            match counts {
                Some(c) => http::counting(c, call).await,
                None => call.await,
            }
        });
        let shared = async move {
            task.await.unwrap_or_else(|e| {
                Err(credentials::AcquireFailure::Setup(format!(
                    "the token request was cancelled: {e}"
                )))
            })
        }
        .boxed()
        .shared();
        started.insert(key, shared);
    }

    /// The managed-identity token for `scope`: the call under way if one was started, else a
    /// new one; `None` for a source the doctor does not examine.
    pub fn managed_identity_token(
        &self,
        ctx: &RunContext,
        source: MiSource,
        client_id: Option<&str>,
        scope: &str,
    ) -> Option<BoxFuture<'static, Acquired>> {
        let key = (
            source.name().to_string(),
            client_id.map(str::to_string),
            scope.to_string(),
        );
        if let Some(call) = lock(&self.managed_identity).get(&key) {
            return Some(call.clone().boxed());
        }
        credentials::managed_identity_call(ctx, source, client_id, scope)
    }

    /// Opens the ARM connection now, when a check of this run needs ARM; no request is sent.
    pub fn start_arm_connection(&self, ctx: &RunContext) {
        if ctx.az_tokens.arm_scope().is_none() {
            return;
        }
        // Nothing happens if the client exists already (built by the first ARM call).
        self.arm.get_or_init(|| build_arm_client(ctx, true));
    }

    /// The client for ARM calls (the run's shared client if the ARM one cannot be built).
    pub fn arm_client(&self, ctx: &RunContext) -> reqwest::Client {
        match self.arm.get_or_init(|| build_arm_client(ctx, false)) {
            Some(client) => client.clone(),
            None => ctx.http.clone(),
        }
    }
}

/// The ARM client; with `warm_up`, its connection starts opening before anyone else can hold
/// the client (a warm-up is sound only on a client nobody has used: see `Preconnect::warm_up`).
fn build_arm_client(ctx: &RunContext, warm_up: bool) -> Option<reqwest::Client> {
    let preconnect = Preconnect::new(ctx.timeouts.connect);
    let client = http::client_with(
        ctx.extra_roots_pem.as_deref(),
        &ctx.resolves,
        &ctx.timeouts,
        preconnect.clone(),
    )
    .ok()?;
    if warm_up {
        let started = preconnect.warm_up(&client, ctx.endpoints.arm.clone());
        tracing::debug!(started, "ARM connection opening ahead of its first request");
    }
    Some(client)
}

#[cfg(test)]
mod tests;
