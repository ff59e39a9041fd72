//! Fault injection: one switch per fault, on one service of the lab.
//!
//! `aoai-doctor lab serve --fault NAME[@SERVICE]` (repeatable) or a scenario's
//! `[faults] SERVICE = "NAME"` table make one emulated service misbehave the way networks,
//! proxies and broken services do, so the doctor's answer to each can be tested end to end:
//!
//! - connection faults replace the service's server: `refused` (its port closed), `hang`
//!   (accepts, never answers), `garbage` (another protocol instead of TLS / HTTP),
//!   `untrusted-cert` (TLS with a leaf from another CA);
//! - answer faults wrap the real service: `reset-mid-body`, `http-500|502|503` with a
//!   service-shaped error body and `…-empty` without one, `html-200` / `html-502` (a proxy's
//!   page), `truncated-json`, `huge-body` (30 MB);
//! - token faults change a successful token answer of Entra, IMDS or the App Service
//!   identity endpoint: `not-a-token`, `opaque-token`, `bogus-exp`, `exp-string`;
//! - `az` faults change the CLI stand-in: `garbage`, `empty`, `hang`.
//!
//! Without `@SERVICE` a fault goes to the service the app's token comes from (Entra for a
//! service principal or workload identity, then the identity endpoint or IMDS of a managed
//! identity host, then `az`).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::Response;
use futures::StreamExt as _;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::task::JoinHandle;

use super::scenario::{AppCredential, CliState, Scenario};
use super::state::LabState;
use super::util::{guid, random_chars};

/// The services a fault can be put on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    Entra,
    Arm,
    Aoai,
    Imds,
    /// The App Service / Container Apps managed-identity endpoint (`IDENTITY_ENDPOINT`).
    Identity,
    Az,
}

impl Service {
    pub const ALL: [Service; 6] = [
        Service::Entra,
        Service::Arm,
        Service::Aoai,
        Service::Imds,
        Service::Identity,
        Service::Az,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Service::Entra => "entra",
            Service::Arm => "arm",
            Service::Aoai => "aoai",
            Service::Imds => "imds",
            Service::Identity => "identity",
            Service::Az => "az",
        }
    }

    pub fn parse(s: &str) -> Result<Service> {
        Service::ALL
            .into_iter()
            .find(|x| x.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                anyhow!(
                    "unknown service '{s}'; services: {}",
                    Service::ALL.map(Service::name).join(", ")
                )
            })
    }

    /// Served over HTTPS by the lab.
    pub fn is_tls(self) -> bool {
        matches!(self, Service::Entra | Service::Arm | Service::Aoai)
    }

    /// Issues tokens.
    pub fn issues_tokens(self) -> bool {
        matches!(self, Service::Entra | Service::Imds | Service::Identity)
    }
}

/// One way a service misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Refused,
    Hang,
    Garbage,
    UntrustedCert,
    ResetMidBody,
    ServerError {
        status: u16,
        body: bool,
    },
    Html {
        status: u16,
    },
    TruncatedJson,
    HugeBody,
    NotAToken,
    OpaqueToken,
    BogusExp,
    ExpString,
    /// `az` only: exit 0 with nothing on stdout.
    Empty,
    /// Entra only: every token request refused with this AADSTS number (Conditional Access,
    /// a disabled app, an issuer mismatch… whatever the number says).
    Aadsts {
        code: u32,
    },
}

/// Every fault name with what it does (for errors, `--help` and the README).
pub const CATALOGUE: &[(&str, &str)] = &[
    ("refused", "the service's port is closed: connections are refused"),
    ("hang", "accepts connections and never answers (az: never exits)"),
    (
        "garbage",
        "speaks another protocol: not TLS on entra/arm/aoai, not HTTP on imds/identity, not JSON from az",
    ),
    (
        "untrusted-cert",
        "TLS with a certificate from another CA (entra, arm, aoai)",
    ),
    (
        "reset-mid-body",
        "sends the headers and half the body, then drops the connection",
    ),
    ("http-500", "500 with an error body shaped like the service's"),
    ("http-502", "502 with an error body shaped like the service's"),
    ("http-503", "503 with an error body shaped like the service's"),
    ("http-500-empty", "500 with an empty body"),
    ("http-502-empty", "502 with an empty body"),
    ("http-503-empty", "503 with an empty body"),
    ("html-200", "200 with a proxy's / captive portal's HTML page"),
    ("html-502", "502 with a proxy's HTML error page"),
    ("truncated-json", "the real answer, its JSON cut off in the middle"),
    ("huge-body", "200 with a 30 MB body"),
    (
        "not-a-token",
        "a successful token answer replaced by 200 JSON that is not a token",
    ),
    (
        "opaque-token",
        "a successful token answer whose access_token is an opaque string, not a JWT",
    ),
    (
        "bogus-exp",
        "a successful token answer whose JWT has exp = 99999999999999",
    ),
    (
        "exp-string",
        "a successful token answer whose JWT has exp = \"tomorrow\"",
    ),
    ("empty", "az only: exits 0 with empty output"),
    (
        "aadsts-53003",
        "entra only: every token request refused (400) with that AADSTS number (any: aadsts-N)",
    ),
];

/// 30 MiB.
pub const HUGE_BODY_BYTES: usize = 30 * 1024 * 1024;

impl Fault {
    pub fn parse(s: &str) -> Result<Fault> {
        let s = s.trim().to_ascii_lowercase();
        Ok(match s.as_str() {
            "refused" => Fault::Refused,
            "hang" => Fault::Hang,
            "garbage" => Fault::Garbage,
            "untrusted-cert" => Fault::UntrustedCert,
            "reset-mid-body" => Fault::ResetMidBody,
            "html-200" => Fault::Html { status: 200 },
            "html-502" => Fault::Html { status: 502 },
            "truncated-json" => Fault::TruncatedJson,
            "huge-body" => Fault::HugeBody,
            "not-a-token" => Fault::NotAToken,
            "opaque-token" => Fault::OpaqueToken,
            "bogus-exp" => Fault::BogusExp,
            "exp-string" => Fault::ExpString,
            "empty" => Fault::Empty,
            other if other.starts_with("aadsts-") => match other["aadsts-".len()..].parse::<u32>() {
                Ok(code) if code >= 10 => Fault::Aadsts { code },
                _ => bail!("fault '{other}': aadsts-N takes an AADSTS number (aadsts-53003)"),
            },
            other => {
                let status = other
                    .strip_prefix("http-")
                    .map(|r| r.strip_suffix("-empty").map_or((r, true), |r| (r, false)))
                    .and_then(|(code, body)| code.parse::<u16>().ok().map(|c| (c, body)))
                    .filter(|(c, _)| (500..600).contains(c));
                match status {
                    Some((status, body)) => Fault::ServerError { status, body },
                    None => bail!(
                        "unknown fault '{other}'; faults: {}",
                        CATALOGUE.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                    ),
                }
            }
        })
    }

    pub fn name(self) -> String {
        match self {
            Fault::Refused => "refused".into(),
            Fault::Hang => "hang".into(),
            Fault::Garbage => "garbage".into(),
            Fault::UntrustedCert => "untrusted-cert".into(),
            Fault::ResetMidBody => "reset-mid-body".into(),
            Fault::ServerError { status, body: true } => format!("http-{status}"),
            Fault::ServerError { status, body: false } => format!("http-{status}-empty"),
            Fault::Html { status } => format!("html-{status}"),
            Fault::TruncatedJson => "truncated-json".into(),
            Fault::HugeBody => "huge-body".into(),
            Fault::NotAToken => "not-a-token".into(),
            Fault::OpaqueToken => "opaque-token".into(),
            Fault::BogusExp => "bogus-exp".into(),
            Fault::ExpString => "exp-string".into(),
            Fault::Empty => "empty".into(),
            Fault::Aadsts { code } => format!("aadsts-{code}"),
        }
    }

    /// Replaces the server itself (no HTTP at all).
    pub fn is_connection(self) -> bool {
        matches!(self, Fault::Refused | Fault::Hang | Fault::Garbage)
    }

    fn is_token_fault(self) -> bool {
        matches!(
            self,
            Fault::NotAToken | Fault::OpaqueToken | Fault::BogusExp | Fault::ExpString
        )
    }

    /// Can this fault be put on `service`?
    pub fn check(self, service: Service) -> Result<()> {
        let ok = match service {
            Service::Az => matches!(self, Fault::Garbage | Fault::Empty | Fault::Hang),
            _ if self == Fault::Empty => false,
            _ if matches!(self, Fault::Aadsts { .. }) => service == Service::Entra,
            _ if self == Fault::UntrustedCert => service.is_tls(),
            _ if self.is_token_fault() => service.issues_tokens(),
            _ => true,
        };
        if ok {
            Ok(())
        } else {
            let why = match self {
                Fault::UntrustedCert => "it needs TLS (entra, arm, aoai)",
                Fault::Empty => "it is for az only",
                Fault::Aadsts { .. } => "it is for entra only",
                f if f.is_token_fault() => "it changes token answers (entra, imds, identity)",
                _ => "az faults are garbage, empty and hang",
            };
            bail!("fault {} cannot be put on {}: {why}", self.name(), service.name())
        }
    }
}

/// The service the app's token comes from, as DefaultAzureCredential would pick it.
pub fn token_service(s: &Scenario) -> Service {
    if matches!(
        s.app.credential,
        AppCredential::ServicePrincipal | AppCredential::WorkloadIdentity
    ) {
        Service::Entra
    } else if s.host.kind.has_identity_endpoint() && !s.host.managed_identities.is_empty() {
        Service::Identity
    } else if s.host.kind.has_imds() && !s.host.managed_identities.is_empty() {
        Service::Imds
    } else if s.cli.state != CliState::Missing {
        Service::Az
    } else {
        Service::Entra
    }
}

/// `NAME[@SERVICE]` for a scenario: the service named, or the one its token comes from.
pub fn parse_switch(spec: &str, s: &Scenario) -> Result<(Service, Fault)> {
    let (name, service) = match spec.split_once('@') {
        Some((n, svc)) => (n, Service::parse(svc)?),
        None => {
            let f = Fault::parse(spec)?;
            let svc = if f == Fault::Empty {
                Service::Az
            } else {
                token_service(s)
            };
            (spec, svc)
        }
    };
    let fault = Fault::parse(name)?;
    fault.check(service)?;
    Ok((service, fault))
}

/// A scenario's `[faults]` table, parsed and checked.
pub fn table(raw: &BTreeMap<String, String>) -> Result<BTreeMap<Service, Fault>> {
    let mut out = BTreeMap::new();
    for (svc, name) in raw {
        let service = Service::parse(svc).map_err(|e| anyhow!("faults: {e}"))?;
        let fault = Fault::parse(name).map_err(|e| anyhow!("faults.{svc}: {e}"))?;
        fault.check(service).map_err(|e| anyhow!("faults.{svc}: {e}"))?;
        out.insert(service, fault);
    }
    Ok(out)
}

/// A leaf for 127.0.0.1 from a throw-away CA nobody trusts, named like a TLS-inspecting
/// proxy's.
pub fn untrusted_pems() -> Result<(String, String)> {
    let other = super::tls::generate_with("Contoso Proxy TLS Inspection CA", "Contoso IT")?;
    Ok((other.cert_pem, other.key_pem))
}

/// Serve a connection fault (`hang`, `garbage`) on `listener` instead of the service; any
/// other fault (`refused`) closes the port, so connections are refused.
pub fn serve_connection_fault(
    listener: TcpListener,
    fault: Fault,
    service: Service,
    st: Arc<LabState>,
) -> Result<JoinHandle<()>> {
    match fault {
        Fault::Hang => {
            let l = tokio::net::TcpListener::from_std(listener)?;
            Ok(tokio::spawn(async move {
                // Held open, never read or written, until the lab stops.
                let mut held = Vec::new();
                while let Ok((sock, _)) = l.accept().await {
                    st.log(service.name(), "fault hang: connection accepted, never answered");
                    held.push(sock);
                }
            }))
        }
        Fault::Garbage => {
            let l = tokio::net::TcpListener::from_std(listener)?;
            Ok(tokio::spawn(async move {
                while let Ok((sock, _)) = l.accept().await {
                    st.log(service.name(), "fault garbage: answered with another protocol");
                    tokio::spawn(speak_garbage(sock));
                }
            }))
        }
        _ => {
            drop(listener);
            Ok(tokio::spawn(async {}))
        }
    }
}

/// Read what the client sends first (a TLS ClientHello, an HTTP request), answer with an
/// SSH banner and some binary, then close once the client gives up.
async fn speak_garbage(mut sock: tokio::net::TcpStream) {
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(2), sock.read(&mut buf)).await;
    let _ = sock
        .write_all(b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n\x00\x00\x04\x3c\x0a\x14\xde\xad\xbe\xef")
        .await;
    let _ = sock.flush().await;
    let _ = sock.shutdown().await;
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while matches!(sock.read(&mut buf).await, Ok(n) if n > 0) {}
    })
    .await;
}

struct Ctx {
    fault: Fault,
    service: Service,
    st: Arc<LabState>,
}

/// Wrap a service's router with an answer or token fault.
pub fn wrap(router: Router, fault: Fault, service: Service, st: Arc<LabState>) -> Router {
    router.layer(from_fn_with_state(Arc::new(Ctx { fault, service, st }), answer_fault))
}

async fn answer_fault(State(cx): State<Arc<Ctx>>, req: Request, next: Next) -> Response {
    cx.st.log(
        cx.service.name(),
        format!("fault {}: {} {}", cx.fault.name(), req.method(), req.uri().path()),
    );
    match cx.fault {
        Fault::ServerError { status, body } => server_error(cx.service, status, body),
        Fault::Html { status } => html(status),
        Fault::HugeBody => huge_body(),
        // Token requests are POSTs; discovery (GET) still answers.
        Fault::Aadsts { code } if req.method() == axum::http::Method::POST => super::entra::Aadsts::new(
            400,
            "invalid_request",
            code,
            "The token request was refused (the lab's aadsts fault).",
        )
        .response(),
        _ => {
            let resp = next.run(req).await;
            let (mut parts, body) = resp.into_parts();
            let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024 * 1024).await else {
                return plain(500, "text/plain", Bytes::from_static(b"lab: could not read the answer"));
            };
            parts.headers.remove(header::CONTENT_LENGTH);
            match cx.fault {
                Fault::ResetMidBody => reset_mid_body(parts, bytes),
                Fault::TruncatedJson => {
                    let cut = truncate(&bytes);
                    Response::from_parts(parts, Body::from(cut))
                }
                f if f.is_token_fault() => match token_fault(f, &cx.st, parts.status, &bytes) {
                    Some(body) => {
                        parts.status = StatusCode::OK;
                        parts.headers.insert(
                            header::CONTENT_TYPE,
                            HeaderValue::from_static("application/json; charset=utf-8"),
                        );
                        Response::from_parts(parts, Body::from(body))
                    }
                    None => Response::from_parts(parts, Body::from(bytes)),
                },
                _ => Response::from_parts(parts, Body::from(bytes)),
            }
        }
    }
}

fn plain(status: u16, content_type: &'static str, body: Bytes) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if !content_type.is_empty() {
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    r
}

/// The first half of a body (at least one byte short), never cut inside a UTF-8 character.
pub fn truncate(bytes: &[u8]) -> Bytes {
    let mut n = bytes.len() / 2;
    while n > 0 && std::str::from_utf8(&bytes[..n]).is_err() {
        n -= 1;
    }
    Bytes::copy_from_slice(&bytes[..n])
}

/// Headers promising the whole body, half of it, a pause so it reaches the client, then the
/// connection drops (hyper aborts a connection whose body stream fails).
fn reset_mid_body(mut parts: axum::http::response::Parts, bytes: Bytes) -> Response {
    let full = bytes.len().max(2);
    let half = truncate(&bytes);
    parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(full));
    let stream = futures::stream::iter([Ok::<Bytes, std::io::Error>(half)]).chain(futures::stream::once(async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "lab fault: reset mid-body",
        ))
    }));
    Response::from_parts(parts, Body::from_stream(stream))
}

/// 200 with a 30 MiB JSON body, streamed.
fn huge_body() -> Response {
    const CHUNK: usize = 64 * 1024;
    let (head, tail) = (&b"{\"padding\":\""[..], &b"\"}"[..]);
    let filler = HUGE_BODY_BYTES - head.len() - tail.len();
    let chunk = Bytes::from(vec![b'A'; CHUNK]);
    let mut sizes = vec![CHUNK; filler / CHUNK];
    if !filler.is_multiple_of(CHUNK) {
        sizes.push(filler % CHUNK);
    }
    let stream = futures::stream::iter(
        std::iter::once(Bytes::from_static(head))
            .chain(sizes.into_iter().map(move |n| chunk.slice(..n)))
            .chain(std::iter::once(Bytes::from_static(tail)))
            .map(Ok::<Bytes, Infallible>),
    );
    let mut r = Response::new(Body::from_stream(stream));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(HUGE_BODY_BYTES));
    r
}

/// A proxy's page: a captive-portal sign-in page with 200, nginx's error page with 502.
fn html(status: u16) -> Response {
    let body: &'static str = if status == 200 {
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Sign in to continue</title></head>\n<body><h1>Guest Wi-Fi</h1><p>Please accept the terms of use to access the Internet.</p>\n<form method=\"post\" action=\"/login\"><button>Accept and connect</button></form></body></html>\n"
    } else {
        "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    };
    plain(status, "text/html; charset=utf-8", Bytes::from_static(body.as_bytes()))
}

/// A 5xx with the error shape of the service (none of these bodies was captured; the shapes
/// are the services' documented ones), or an empty body.
fn server_error(service: Service, status: u16, with_body: bool) -> Response {
    if !with_body {
        return plain(status, "", Bytes::new());
    }
    let reason = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Server Error");
    let body = match service {
        Service::Entra => {
            super::entra::Aadsts::new(
                status,
                "temporarily_unavailable",
                90033,
                "A transient error has occurred. Please try again.",
            )
            .body()
            .0
        }
        Service::Arm => json!({"error": {
            "code": "InternalServerError",
            "message": format!("Encountered internal server error. Diagnostic information: timestamp '{}', tracking id '{}', request correlation id '{}'.", super::util::compact_utc(super::util::now_unix()), guid(), guid()),
        }})
        .to_string(),
        Service::Aoai => json!({"error": {
            "code": "InternalServerError",
            "message": "The server had an error while processing your request. Sorry about that!",
        }})
        .to_string(),
        Service::Imds => json!({"error": "unknown_error", "error_description": format!("{status} {reason}")}).to_string(),
        Service::Identity | Service::Az => {
            json!({"statusCode": status, "message": format!("{reason}: an unexpected error occurred."), "correlationId": guid()})
                .to_string()
        }
    };
    plain(status, "application/json; charset=utf-8", Bytes::from(body))
}

/// The new body of a successful token answer, or `None` to leave the answer alone.
fn token_fault(fault: Fault, st: &LabState, status: StatusCode, body: &[u8]) -> Option<Vec<u8>> {
    if status != StatusCode::OK {
        return None;
    }
    let mut v: Value = serde_json::from_slice(body).ok()?;
    let token = v.get("access_token")?.as_str()?.to_string();
    match fault {
        Fault::NotAToken => {
            return Some(br#"{"status":"ok","message":"Service is healthy."}"#.to_vec());
        }
        Fault::OpaqueToken => v["access_token"] = json!(format!("lab-opaque-{}", random_chars(48))),
        Fault::BogusExp | Fault::ExpString => {
            let (_, mut claims) = super::jwt::decode_unverified(&token)?;
            claims["exp"] = if fault == Fault::BogusExp {
                json!(99_999_999_999_999_i64)
            } else {
                json!("tomorrow")
            };
            v["access_token"] = json!(st.signer.sign(&claims).ok()?);
        }
        _ => return None,
    }
    Some(v.to_string().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalogued_name_parses_and_round_trips() {
        for (name, _) in CATALOGUE {
            assert_eq!(Fault::parse(name).unwrap().name(), *name);
        }
        assert_eq!(
            Fault::parse("http-504").unwrap(),
            Fault::ServerError {
                status: 504,
                body: true
            }
        );
        assert!(Fault::parse("http-404").is_err());
        assert!(Fault::parse("http-").is_err());
        assert!(Fault::parse("nope").unwrap_err().to_string().contains("reset-mid-body"));
    }

    #[test]
    fn faults_fit_their_services() {
        assert!(Fault::UntrustedCert.check(Service::Imds).is_err());
        assert!(Fault::OpaqueToken.check(Service::Arm).is_err());
        assert!(Fault::Empty.check(Service::Entra).is_err());
        assert!(Fault::HugeBody.check(Service::Az).is_err());
        assert!(Fault::Garbage.check(Service::Az).is_ok());
        assert!(Fault::BogusExp.check(Service::Identity).is_ok());
    }

    #[test]
    fn the_default_service_is_where_the_token_comes_from() {
        let s = |n| super::super::scenario(n).unwrap();
        assert_eq!(token_service(&s("healthy-service-principal")), Service::Entra);
        assert_eq!(token_service(&s("healthy-managed-identity")), Service::Identity);
        assert_eq!(token_service(&s("mi-unknown-client-id")), Service::Imds);
        assert_eq!(token_service(&s("healthy-cli")), Service::Az);
        let cli = s("healthy-cli");
        assert_eq!(parse_switch("hang", &cli).unwrap(), (Service::Az, Fault::Hang));
        assert!(parse_switch("http-503", &cli).is_err());
        assert_eq!(
            parse_switch("http-503@arm", &cli).unwrap(),
            (
                Service::Arm,
                Fault::ServerError {
                    status: 503,
                    body: true
                }
            )
        );
        assert!(parse_switch("hang@nowhere", &cli).is_err());
    }

    #[test]
    fn truncation_is_shorter_and_on_a_char_boundary() {
        assert_eq!(truncate(br#"{"a":"b"}"#).len(), 4);
        let t = truncate("{\"é\":\"é\"}".as_bytes());
        assert!(std::str::from_utf8(&t).is_ok());
        assert!(truncate(b"").is_empty());
    }
}
