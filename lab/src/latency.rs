//! The latency model: what a region-away Azure charges, so a benchmark against the lab
//! measures what a user would wait (README → Speed). Off by default: every delay is zero.
//!
//! Per service (`mi`, `entra`, `arm`, `dataplane`) one round-trip time (RTT) is charged:
//! - per new TCP connection, 1 RTT for the connect, and for HTTPS 1 more for the TLS 1.3
//!   handshake, as a delay before the server reads the connection's first byte
//!   ([`LatencyAcceptor`]);
//! - per request, 1 RTT before the handler runs ([`layer`]);
//! - per successful completion (POST …/chat/completions, …/completions, …/responses on the
//!   data plane), `model_time` more after the handler;
//! - per `az` invocation, `az` in total (the stand-in pads its own run up to it: a real
//!   `az` spends that much starting Python and reading its token cache).
//!
//! Set by `lab serve --latency mi=10ms,entra=150ms,arm=120ms,dataplane=40ms,az=700ms
//! --model-time 350ms` or a scenario's `[latency]` table (same keys, `model_time`).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::Response;
use axum_server::accept::Accept;
use serde::{Deserialize, Deserializer};
use tokio::net::TcpStream;

use super::faults::Service;
use super::stats::{ConnId, Stats};

/// A scenario's `[latency]` table; every field a duration string such as `120ms`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Latency {
    #[serde(default, deserialize_with = "duration")]
    pub mi: Duration,
    #[serde(default, deserialize_with = "duration")]
    pub entra: Duration,
    #[serde(default, deserialize_with = "duration")]
    pub arm: Duration,
    #[serde(default, deserialize_with = "duration")]
    pub dataplane: Duration,
    #[serde(default, deserialize_with = "duration")]
    pub az: Duration,
    #[serde(default, deserialize_with = "duration")]
    pub model_time: Duration,
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    humantime::parse_duration(s.trim()).map_err(|e| serde::de::Error::custom(format!("'{s}': {e}")))
}

/// The stats and latency name of a lab service: IMDS and the App Service endpoint are both
/// "mi" (one managed-identity round trip, whichever the client uses).
pub fn service_key(s: Service) -> &'static str {
    match s {
        Service::Entra => "entra",
        Service::Arm => "arm",
        Service::Aoai => "dataplane",
        Service::Imds | Service::Identity => "mi",
        Service::Az => "az",
    }
}

/// The services a latency spec may name (`aoai` is accepted for `dataplane`).
pub const KEYS: [&str; 5] = ["mi", "entra", "arm", "dataplane", "az"];

impl Latency {
    /// Apply `KEY=DURATION[,KEY=DURATION…]` over this model.
    pub fn apply_spec(&mut self, spec: &str) -> Result<()> {
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| anyhow!("'{part}': expected SERVICE=DURATION, e.g. arm=120ms"))?;
            let d = humantime::parse_duration(v.trim()).map_err(|e| anyhow!("'{part}': {e}"))?;
            match k.trim().to_ascii_lowercase().as_str() {
                "mi" => self.mi = d,
                "entra" => self.entra = d,
                "arm" => self.arm = d,
                "dataplane" | "aoai" => self.dataplane = d,
                "az" => self.az = d,
                "model" | "model_time" | "model-time" => self.model_time = d,
                other => bail!("'{part}': unknown service '{other}'; services: {}", KEYS.join(", ")),
            }
        }
        Ok(())
    }

    /// One round trip to `service`.
    pub fn rtt(&self, service: Service) -> Duration {
        match service {
            Service::Entra => self.entra,
            Service::Arm => self.arm,
            Service::Aoai => self.dataplane,
            Service::Imds | Service::Identity => self.mi,
            Service::Az => self.az,
        }
    }

    pub fn is_zero(&self) -> bool {
        *self == Latency::default()
    }

    /// `mi=10ms,…` for the ready line (non-zero entries only).
    pub fn describe(&self) -> String {
        let items = [
            ("mi", self.mi),
            ("entra", self.entra),
            ("arm", self.arm),
            ("dataplane", self.dataplane),
            ("az", self.az),
            ("model-time", self.model_time),
        ];
        items
            .iter()
            .filter(|(_, d)| !d.is_zero())
            .map(|(k, d)| format!("{k}={}ms", d.as_millis()))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// `lab serve --latency SPEC --model-time D --subscriptions N` over the scenario's own.
pub fn apply_serve_args(
    s: &mut super::scenario::Scenario,
    spec: Option<&str>,
    model_time: Option<Duration>,
    subscriptions: Option<usize>,
) -> Result<()> {
    if let Some(spec) = spec {
        s.latency
            .apply_spec(spec)
            .map_err(|e| anyhow!("--latency {spec}: {e}"))?;
    }
    if let Some(d) = model_time {
        s.latency.model_time = d;
    }
    if let Some(n) = subscriptions {
        if n == 0 {
            bail!("--subscriptions 0: the account's own subscription is always there (N ≥ 1)");
        }
        s.arm.subscriptions = Some(n);
    }
    Ok(())
}

/// Does this data-plane request wait for the model?
fn is_completion(method: &axum::http::Method, path: &str) -> bool {
    let p = path.trim_end_matches('/').to_ascii_lowercase();
    method == axum::http::Method::POST
        && (p.ends_with("/chat/completions") || p.ends_with("/completions") || p.ends_with("/responses"))
}

struct Hook {
    service: Service,
    latency: Latency,
    stats: Arc<Stats>,
}

/// Charge each request its round trip (and a completion its model time) and record it.
pub fn layer(router: Router, service: Service, latency: Latency, stats: Arc<Stats>) -> Router {
    let hook = Arc::new(Hook {
        service,
        latency,
        stats,
    });
    router.layer(from_fn_with_state(hook, charge))
}

async fn charge(State(h): State<Arc<Hook>>, req: Request, next: Next) -> Response {
    let start = super::stats::now_ms();
    let conn = req.extensions().get::<ConnId>().copied();
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    sleep(h.latency.rtt(h.service)).await;
    let resp = next.run(req).await;
    if h.service == Service::Aoai && resp.status().is_success() && is_completion(&method, &path) {
        sleep(h.latency.model_time).await;
    }
    let key = service_key(h.service);
    h.stats
        .request(key, conn, method.as_str(), &path, resp.status().as_u16(), start);
    resp
}

async fn sleep(d: Duration) {
    if !d.is_zero() {
        tokio::time::sleep(d).await;
    }
}

/// Sets TCP_NODELAY (as Azure's front ends: without it a response split over two segments
/// waits for the client's delayed ACK), counts the connection, delays its first byte by the
/// connect (and TLS handshake) round trips, and tags each request with the connection's id.
#[derive(Clone)]
pub struct LatencyAcceptor {
    service: Service,
    delay: Duration,
    stats: Arc<Stats>,
}

impl LatencyAcceptor {
    pub fn new(service: Service, latency: &Latency, stats: Arc<Stats>) -> Self {
        let rtt = latency.rtt(service);
        let trips = if service.is_tls() { 2 } else { 1 };
        LatencyAcceptor {
            service,
            delay: rtt * trips,
            stats,
        }
    }
}

impl<S: Send + 'static> Accept<TcpStream, S> for LatencyAcceptor {
    type Stream = TcpStream;
    type Service = super::stats::Tagged<S>;
    type Future = Pin<Box<dyn Future<Output = io::Result<(TcpStream, Self::Service)>> + Send>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let (delay, stats, key) = (self.delay, self.stats.clone(), service_key(self.service));
        Box::pin(async move {
            stream.set_nodelay(true)?;
            let accepted = super::stats::now_ms();
            let t = Instant::now();
            sleep(delay).await;
            let id = stats.connection(key, accepted, accepted + t.elapsed().as_secs_f64() * 1000.0);
            Ok((stream, super::stats::Tagged::new(service, id)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_bad_ones_are_refused() {
        let mut l = Latency::default();
        l.apply_spec("mi=10ms, entra=150ms,arm=120ms,dataplane=40ms,az=700ms")
            .unwrap();
        assert_eq!(l.mi, Duration::from_millis(10));
        assert_eq!(l.entra, Duration::from_millis(150));
        assert_eq!(l.rtt(Service::Arm), Duration::from_millis(120));
        assert_eq!(l.rtt(Service::Imds), Duration::from_millis(10));
        assert_eq!(l.az, Duration::from_millis(700));
        l.apply_spec("aoai=1s").unwrap();
        assert_eq!(l.dataplane, Duration::from_secs(1));
        assert!(l.apply_spec("graph=10ms").is_err());
        assert!(l.apply_spec("arm").is_err());
        assert!(l.apply_spec("arm=fast").is_err());
        assert!(Latency::default().is_zero());
        assert_eq!(l.describe(), "mi=10ms,entra=150ms,arm=120ms,dataplane=1000ms,az=700ms");
    }

    #[test]
    fn only_completions_wait_for_the_model() {
        use axum::http::Method;
        assert!(is_completion(&Method::POST, "/openai/deployments/d/chat/completions"));
        assert!(is_completion(&Method::POST, "/openai/v1/responses"));
        assert!(!is_completion(&Method::GET, "/openai/v1/responses"));
        assert!(!is_completion(&Method::POST, "/openai/deployments/d/embeddings"));
    }
}
