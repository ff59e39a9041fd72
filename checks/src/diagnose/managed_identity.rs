//! Managed-identity endpoints (IMDS, App Service / Functions / Container Apps) and the
//! SDK exception texts about them.
//!
//! Two questions matter: did the identity endpoint itself answer (then: is an identity
//! assigned?), or did nothing / something else answer (a proxy, Docker Desktop, a
//! captive portal, a black-holed link-local address on WSL2)?

use super::common::{self, BodyShape, add_basic_evidence, collect_ids, header};
use super::redact::redact_truncated;
use super::{Diagnosis, Explanation, entra};
use crate::codes;
use regex::Regex;
use serde_json::Value;
use std::sync::LazyLock;
use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// A token response of a managed-identity endpoint. `Debug` never shows the token.
#[derive(Clone, PartialEq, Eq)]
pub struct MiToken {
    pub access_token: String,
    /// Unix seconds, from a number, a numeric string or a date-time string.
    pub expires_on: Option<i64>,
    pub expires_in: Option<i64>,
    pub not_before: Option<i64>,
    pub resource: Option<String>,
    pub token_type: Option<String>,
    pub client_id: Option<String>,
}

impl std::fmt::Debug for MiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MiToken")
            .field("access_token", &"<redacted>")
            .field("expires_on", &self.expires_on)
            .field("expires_in", &self.expires_in)
            .field("not_before", &self.not_before)
            .field("resource", &self.resource)
            .field("token_type", &self.token_type)
            .field("client_id", &self.client_id)
            .finish()
    }
}

static MI_DATETIME_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{2}):(\d{2})(?:\s*([AaPp][Mm]))?\s*(?:([+-])(\d{2}):?(\d{2}))?$",
    )
    .unwrap()
});

/// `expires_on` of a managed-identity response: epoch seconds as number or string (IMDS,
/// App Service 2019-08-01), or the 2017-09-01 date-time string
/// ("09/14/2017 00:00:00 PM +00:00"), or RFC 3339.
pub fn parse_mi_expires_on(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)),
        Value::String(s) => parse_mi_expires_on_str(s),
        _ => None,
    }
}

fn parse_mi_expires_on_str(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        return Some(n);
    }
    if let Ok(dt) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(dt.unix_timestamp());
    }
    let c = MI_DATETIME_RE.captures(s)?;
    let n = |i: usize| c[i].parse::<u32>().ok();
    let month = Month::try_from(u8::try_from(n(1)?).ok()?).ok()?;
    let date = Date::from_calendar_date(i32::try_from(n(3)?).ok()?, month, u8::try_from(n(2)?).ok()?).ok()?;
    let mut hour = n(4)?;
    match c.get(7).map(|m| m.as_str().to_ascii_uppercase()) {
        Some(ref p) if p == "PM" && hour < 12 => hour += 12,
        Some(ref p) if p == "AM" && hour == 12 => hour = 0,
        _ => {}
    }
    let time = Time::from_hms(
        u8::try_from(hour).ok()?,
        u8::try_from(n(5)?).ok()?,
        u8::try_from(n(6)?).ok()?,
    )
    .ok()?;
    let offset = match (c.get(8), c.get(9), c.get(10)) {
        (Some(sign), Some(h), Some(m)) => {
            let sign: i8 = if sign.as_str() == "-" { -1 } else { 1 };
            let h: i8 = h.as_str().parse().ok()?;
            let m: i8 = m.as_str().parse().ok()?;
            UtcOffset::from_hms(sign * h, sign * m, 0).ok()?
        }
        _ => UtcOffset::UTC,
    };
    Some(
        PrimitiveDateTime::new(date, time)
            .assume_offset(offset)
            .unix_timestamp(),
    )
}

fn num_or_str(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Parses a managed-identity token body. `None` when it has no `access_token`.
pub fn parse_mi_token(body: &str) -> Option<MiToken> {
    let v = common::parse_json_lenient(body)?;
    let o = v.as_object()?;
    let access_token = o.get("access_token")?.as_str()?.to_string();
    let s = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_string);
    Some(MiToken {
        access_token,
        expires_on: o.get("expires_on").and_then(parse_mi_expires_on),
        expires_in: num_or_str(o.get("expires_in")),
        not_before: num_or_str(o.get("not_before")),
        resource: s("resource"),
        token_type: s("token_type"),
        client_id: s("client_id"),
    })
}

/// What a managed-identity response means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MiOutcome {
    Ok,
    /// The endpoint answered: no (matching) identity is assigned.
    IdentityNotFound,
    /// Something other than the identity endpoint answered (proxy, HTML, Docker Desktop).
    NotTheIdentityEndpoint,
    /// An Entra error passed through (e.g. AADSTS500011 for a malformed resource).
    EntraError,
    /// 405: the client used a method the endpoint does not support (old POST clients).
    MethodNotAllowed,
    Throttled,
    ServerError,
    Unrecognized,
}

/// The verdict on one managed-identity response.
#[derive(Debug, Clone, PartialEq)]
pub struct MiVerdict {
    pub outcome: MiOutcome,
    /// The token, when the endpoint issued one.
    pub token: Option<MiToken>,
    pub explanation: Explanation,
}

const IDENTITY_NOT_FOUND: [&str; 8] = [
    "identity not found",
    "requested identity hasn't been assigned",
    "no azure identity found for request",
    "unable to load the proper managed identity",
    "no available identity",
    "requested identity has not been assigned",
    "no managed identity found",
    "no user assigned or delegated managed identity found",
];

fn identity_not_found() -> Explanation {
    Explanation::new(
        Diagnosis::MiIdentityNotFound,
        "The managed-identity endpoint answered, but no identity (or not the requested one) is assigned to this host.",
        "Assign a managed identity to the VM / App Service / Container App / job, and when only \
         user-assigned identities exist pass its client id (AZURE_CLIENT_ID or the credential's \
         managed_identity_client_id).",
    )
    .with_commands([
        "az vm identity show --resource-group <resource-group> --name <vm>",
        "az webapp identity show --resource-group <resource-group> --name <app>",
        "az containerapp identity show --resource-group <resource-group> --name <app>",
    ])
    .with_code(&codes::TOKEN_MI_IDENTITY_NOT_FOUND)
}

fn mi_unavailable(summary: &str) -> Explanation {
    Explanation::new(
        Diagnosis::MiUnavailable,
        summary,
        "Managed identity only works on an Azure host. Locally or in a local container use \
         another credential (az login, or a service principal via AZURE_CLIENT_ID/AZURE_TENANT_ID/\
         AZURE_CLIENT_SECRET). If this IS an Azure host, make sure no proxy intercepts \
         169.254.169.254 (add it and localhost to NO_PROXY).",
    )
    .with_commands([
        "curl -s -m 2 -H Metadata:true \"http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://cognitiveservices.azure.com\" -o /dev/null -w '%{http_code}\\n'",
    ])
    .with_code(&codes::MI_UNAVAILABLE)
}

fn method_not_allowed() -> Explanation {
    Explanation::unknown(
        "The managed-identity endpoint answered 405: the client uses an unsupported method (old MSI clients POST; the 2019-08-01 protocol is GET with X-IDENTITY-HEADER). Not an identity problem.",
    )
}

/// Recognises "the endpoint answered: no identity" in a body or an SDK text.
pub(crate) fn recognise_identity_not_found(text: &str) -> Option<Explanation> {
    let t = super::sdk_messages::normalise(text);
    IDENTITY_NOT_FOUND
        .iter()
        .any(|s| t.contains(s))
        .then(identity_not_found)
}

static IMDS_NET_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)169\.254\.169\.254.{0,80}(timed out|i/o timeout|couldn't connect|could not connect|failed to connect|connection refused|no route to host|unreachable)|(?i)(timed out|failed to connect|connection refused|unreachable).{0,80}169\.254\.169\.254").unwrap()
});

/// Recognises "no identity endpoint here / something else answered" texts, and the 405
/// of old clients. `None` otherwise.
pub(crate) fn recognise_mi_unavailable(text: &str) -> Option<Explanation> {
    let t = text.to_ascii_lowercase();
    if (t.contains("msi") || t.contains("managed identity"))
        && (t.contains("<response [405]>") || t.contains("405 (method not allowed)"))
    {
        return Some(method_not_allowed());
    }
    if t.contains("unexpected content type") && t.contains("html") {
        return Some(mi_unavailable(
            "Something other than the managed-identity endpoint answered (an HTML page: a proxy or captive portal).",
        ));
    }
    if t.contains("unreachable network") || t.contains("unreachable host") {
        return Some(mi_unavailable(
            "The IMDS address is unreachable from here (Docker Desktop answers for it with 403 'unreachable network').",
        ));
    }
    const SIGNATURES: [&str; 9] = [
        "no response from the imds endpoint",
        "no response received from the managed identity endpoint",
        "managed identity timed out",
        "no managed identity endpoint found",
        "multiple attempts failed to obtain a token from the managed identity endpoint",
        "imds token request timed out",
        "managedidentitycredential authentication unavailable",
        "managed identity endpoint is not available",
        "managedidentitycredential: imds",
    ];
    if SIGNATURES.iter().any(|s| t.contains(s)) || IMDS_NET_RE.is_match(text) {
        return Some(mi_unavailable(
            "No managed-identity endpoint answered from here (not an Azure host, or it is unreachable / timed out).",
        ));
    }
    None
}

/// Classifies an SDK exception text, curl output or log line about managed identity.
pub fn classify_mi_text(text: &str, exit_code: Option<i32>) -> Explanation {
    let mut ex = if let Some(ex) = entra::explain_entra(None, &[], text, entra::EntraContext::ManagedIdentity) {
        ex
    } else if let Some(ex) = recognise_identity_not_found(text) {
        ex
    } else if let Some(ex) = recognise_mi_unavailable(text) {
        ex
    } else if matches!(exit_code, Some(7 | 28)) && text.contains("169.254.169.254") {
        mi_unavailable("curl could not reach the IMDS address (refused or timed out).")
    } else {
        Explanation::unknown("The managed-identity error was not recognised.").with_detail(redact_truncated(text, 600))
    };
    if let Some(c) = exit_code {
        ex.add_evidence("exit_code", c);
    }
    ex
}

/// Classifies a response of IMDS or an App Service-style identity endpoint.
pub fn classify_mi_response(status: u16, headers: &[(String, String)], body: &str) -> MiVerdict {
    let p = common::parse_body(body);
    let server_is_imds = header(headers, "server").is_some_and(|s| s.starts_with("IMDS/"));
    let content_type = header(headers, "content-type").unwrap_or("").to_ascii_lowercase();
    let mi_shaped = matches!(p.shape, BodyShape::OAuth | BodyShape::StatusCodeMessage);
    let mut token = None;
    let (outcome, mut ex) = if let Some(ex) =
        entra::explain_entra(Some(status), headers, body, entra::EntraContext::ManagedIdentity)
    {
        (MiOutcome::EntraError, ex)
    } else if (200..300).contains(&status) {
        match parse_mi_token(body) {
            Some(t) if !content_type.contains("html") => {
                let mut ex = Explanation::new(
                    Diagnosis::Ok,
                    "The managed-identity endpoint issued a token.",
                    "Nothing to fix.",
                );
                if let Some(e) = t.expires_on {
                    ex.add_evidence("expires_on", e);
                }
                if let Some(r) = &t.resource {
                    ex.add_evidence("resource", r.clone());
                }
                if let Some(c) = &t.client_id {
                    ex.add_evidence("client_id", c.clone());
                }
                token = Some(t);
                (MiOutcome::Ok, ex)
            }
            _ => (
                MiOutcome::NotTheIdentityEndpoint,
                mi_unavailable(
                    "Something answered 2xx at the identity address without a token (a proxy or portal, not IMDS).",
                ),
            ),
        }
    } else if let Some(ex) = recognise_identity_not_found(body).filter(|_| mi_shaped || server_is_imds) {
        (MiOutcome::IdentityNotFound, ex)
    } else if status == 403 && common::contains_ci(body, "unreachable") {
        (
            MiOutcome::NotTheIdentityEndpoint,
            mi_unavailable(
                "Docker Desktop answered for 169.254.169.254 (403 'unreachable network'): there is no IMDS here.",
            ),
        )
    } else if status == 405 {
        (MiOutcome::MethodNotAllowed, method_not_allowed())
    } else if status == 429 {
        (
            MiOutcome::Throttled,
            Explanation::new(
                Diagnosis::RateLimited,
                "The managed-identity endpoint throttled the request.",
                "Retry with backoff; cache tokens until shortly before expiry.",
            ),
        )
    } else if (500..600).contains(&status) && (mi_shaped || server_is_imds) {
        (
            MiOutcome::ServerError,
            Explanation::unknown(format!(
                "The managed-identity endpoint answered HTTP {status} (transient service error); retry."
            )),
        )
    } else if !mi_shaped && !server_is_imds {
        // The identity endpoints always answer with their JSON error shapes; an empty,
        // HTML or plain-text answer comes from something else on the path.
        (
            MiOutcome::NotTheIdentityEndpoint,
            mi_unavailable(
                "Something other than the managed-identity endpoint answered (no identity-endpoint body: a proxy or gateway).",
            ),
        )
    } else {
        (
            MiOutcome::Unrecognized,
            Explanation::unknown(format!(
                "The managed-identity endpoint answered HTTP {status} with an error the doctor does not recognise."
            )),
        )
    };
    add_basic_evidence(&mut ex, Some(status), &p);
    collect_ids(&mut ex, headers, body, p.json.as_ref());
    // Raw literals: in a plain one, the closing quote after an r looks like a raw string's
    // start to simple line counters (such as the one that keeps functions short).
    if let Some(s) = header(headers, r"server") {
        ex.add_evidence(r"server", s.to_string());
    }
    MiVerdict {
        outcome,
        token,
        explanation: ex,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expiry_formats() {
        assert_eq!(parse_mi_expires_on(&json!("1506484173")), Some(1_506_484_173));
        assert_eq!(parse_mi_expires_on(&json!(1506484173)), Some(1_506_484_173));
        assert_eq!(parse_mi_expires_on(&json!("2017-09-14T12:00:00Z")), Some(1_505_390_400));
        assert_eq!(
            parse_mi_expires_on(&json!("09/14/2017 00:00:00 PM +00:00")),
            Some(1_505_390_400)
        );
        assert_eq!(
            parse_mi_expires_on(&json!("09/14/2017 01:00:00 PM +01:00")),
            Some(1_505_390_400)
        );
        assert_eq!(
            parse_mi_expires_on(&json!("9/14/2017 12:00:00 AM +00:00")),
            Some(1_505_347_200)
        );
        assert_eq!(parse_mi_expires_on(&json!("not a date")), None);
        assert_eq!(parse_mi_expires_on(&json!("13/40/2017 00:00:00 PM +00:00")), None);
        assert_eq!(parse_mi_expires_on(&json!(null)), None);
    }

    #[test]
    fn token_debug_redacted() {
        let t =
            parse_mi_token(r#"{"access_token":"tok-secret","expires_on":"1586984735","expires_in":"3599"}"#).unwrap();
        assert_eq!(t.expires_in, Some(3599));
        assert!(!format!("{t:?}").contains("tok-secret"));
    }

    #[test]
    fn docker_desktop_and_html() {
        let v = classify_mi_response(
            403,
            &[],
            "connecting to 169.254.169.254:80: connect: A socket operation was attempted to an unreachable network.",
        );
        assert_eq!(
            (v.outcome, v.explanation.diagnosis),
            (MiOutcome::NotTheIdentityEndpoint, Diagnosis::MiUnavailable)
        );
        let v = classify_mi_response(
            200,
            &[("Content-Type".into(), "text/html".into())],
            "<html>login</html>",
        );
        assert_eq!(v.explanation.diagnosis, Diagnosis::MiUnavailable);
        // A genuine IMDS with an unknown error is not blamed on a proxy.
        let v = classify_mi_response(
            400,
            &[("Server".into(), "IMDS/150.870.65.1015".into())],
            r#"{"error":"invalid_request","error_description":"Something new"}"#,
        );
        assert_eq!(v.outcome, MiOutcome::Unrecognized);
    }

    #[test]
    fn identity_not_found_beats_unavailable_prefix() {
        let t = "ManagedIdentityCredential authentication unavailable, no response from the IMDS endpoint. Token request error: (invalid_request) Identity not found";
        assert_eq!(classify_mi_text(t, None).diagnosis, Diagnosis::MiIdentityNotFound);
    }
}
