//! Opening a connection (TCP + TLS, through the proxy if one is configured) before its first
//! request, without sending any request: ARM is a region away, and its connection costs two
//! round trips the role check would otherwise wait for after its token arrives.
//!
//! A reqwest connector layer ([`Preconnect`]) sits in front of the client's own connector.
//! [`Preconnect::warm_up`] makes a request future on a client nobody has used yet, polls it
//! exactly once and drops it. In that poll the client finds no pooled connection and asks the
//! connector for one; the layer recognises the warm-up, starts the real connect on a task of
//! its own and answers the warm-up with a future that never completes, so the request never
//! gets a connection and not one byte of it is written. The next connect call for the same
//! destination takes the connection that task made (or its error) instead of opening another.
//!
//! Sound by construction: a request can only be written on a connection the pool hands out,
//! and a fresh client's pool is empty, so the dropped warm-up sends nothing whatever reqwest
//! does inside that poll; a destination that does not match (another host) connects as usual.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// A finished connect: when it finished, and its `Result<Conn, BoxError>` (type-erased:
/// reqwest does not name `Conn`).
type Parked = oneshot::Receiver<(Instant, Box<dyn Any + Send>)>;

/// A connection that waited longer than this for its first request is not used: a server or
/// proxy may close a connection that sends nothing (some after a few seconds), and a request
/// written on a closed connection fails where a fresh one would not. In the doctor the wait is
/// one token request or one `az` call, well under it.
pub const MAX_IDLE: Duration = Duration::from_secs(5);

#[derive(Default)]
struct State {
    /// The connect call made now is a warm-up's (set only around the warm-up's one poll).
    warming: bool,
    /// Connects under way (or done) that no request has taken yet, by destination.
    parked: HashMap<String, Parked>,
}

/// The layer, and the handle that starts warm-ups; clones share their state.
#[derive(Clone)]
pub struct Preconnect {
    state: Arc<Mutex<State>>,
    /// The limit of a connect run ahead (the client's own connect limit applies only to the
    /// call that waits for it).
    limit: Duration,
    max_idle: Duration,
}

impl Preconnect {
    pub fn new(limit: Duration) -> Self {
        Preconnect {
            state: Arc::default(),
            limit,
            max_idle: MAX_IDLE,
        }
    }

    /// The same, with another [`MAX_IDLE`] (tests).
    pub fn with_max_idle(limit: Duration, max_idle: Duration) -> Self {
        Preconnect {
            max_idle,
            ..Preconnect::new(limit)
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Starts opening a connection to `url`'s host through `client`, which must be fresh
    /// (built with this layer and not used yet). True when a connect was started; false when
    /// the client did not ask for one in the warm-up's poll (then nothing happened at all).
    /// Must run inside a Tokio runtime.
    pub fn warm_up(&self, client: &reqwest::Client, url: url::Url) -> bool {
        self.lock().warming = true;
        let mut request = Box::pin(client.get(url).send());
        let waker = futures::task::noop_waker();
        // One poll: far enough for the client to ask the connector, which answers "never".
        let _ = request.as_mut().poll(&mut Context::from_waker(&waker));
        drop(request);
        let mut state = self.lock();
        let started = !state.warming;
        state.warming = false;
        started
    }
}

impl<S> tower_layer::Layer<S> for Preconnect {
    type Service = PreconnectService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        PreconnectService {
            inner,
            shared: self.clone(),
        }
    }
}

#[derive(Clone)]
pub struct PreconnectService<S> {
    inner: S,
    shared: Preconnect,
}

/// The destination of a connect call. reqwest's request type is opaque but prints its URI,
/// which names scheme, host and port; if that ever changed, nothing would match and every
/// request would connect as it would without this layer.
fn destination<R: std::fmt::Debug>(request: &R) -> String {
    format!("{request:?}")
}

impl<S, R> tower_service::Service<R> for PreconnectService<S>
where
    S: tower_service::Service<R> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
    S::Error: Into<BoxError>,
    R: std::fmt::Debug + Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // Readiness is awaited on the clone that makes the call (below).
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: R) -> Self::Future {
        let key = destination(&request);
        let inner = self.inner.clone();
        let mut state = self.shared.lock();
        if state.warming {
            state.warming = false;
            let (tx, rx) = oneshot::channel();
            let limit = self.shared.limit;
            tokio::spawn(async move {
                let connected = match tokio::time::timeout(limit, connect(inner, request)).await {
                    Ok(r) => r,
                    Err(_) => Err(format!("the connection was not set up within {limit:?}").into()),
                };
                let _ = tx.send((Instant::now(), Box::new(connected) as Box<dyn Any + Send>));
            });
            state.parked.insert(key, rx);
            // The warm-up's request never gets this connection: it is dropped before it does.
            return Box::pin(std::future::pending());
        }
        if let Some(parked) = state.parked.remove(&key) {
            let max_idle = self.shared.max_idle;
            return Box::pin(async move {
                let (finished_at, finished) = parked
                    .await
                    .map_err(|_| BoxError::from("the connect started early was cancelled"))?;
                let early = match finished.downcast::<Result<S::Response, BoxError>>() {
                    Ok(result) => *result,
                    Err(_) => Err("the connect started early answered with another type".into()),
                };
                if early.is_ok() && finished_at.elapsed() > max_idle {
                    // Too long unused: it may have been closed by now; connect afresh.
                    drop(early);
                    return connect(inner, request).await;
                }
                early
            });
        }
        drop(state);
        Box::pin(connect(inner, request))
    }
}

async fn connect<S, R>(mut inner: S, request: R) -> Result<S::Response, BoxError>
where
    S: tower_service::Service<R>,
    S::Error: Into<BoxError>,
{
    std::future::poll_fn(|cx| inner.poll_ready(cx))
        .await
        .map_err(Into::into)?;
    inner.call(request).await.map_err(Into::into)
}

#[cfg(test)]
mod tests;
