//! `--redact`: hide personal data (UPNs and e-mail addresses, display names, IP addresses,
//! subscription names) while keeping the ids support needs (tenant, object, app, subscription,
//! request ids). Tokens and secrets are never in a report, redacted or not.

use aoai_doctor_checks::Report;
use regex::Regex;
use serde_json::Value;
use std::sync::LazyLock;

static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+").expect("email regex"));
static IPV4: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}\b").expect("ip regex")
});
/// IPv6 candidates; each is confirmed by the standard parser (so `12:34:56` stays).
static IPV6: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[0-9A-Fa-f:]*:[0-9A-Fa-f:]*:[0-9A-Fa-f]*").expect("ipv6 regex"));

/// Keys whose whole value is personal.
const PERSONAL_KEYS: &[&str] = &[
    "upn",
    "unique_name",
    "preferred_username",
    "email",
    "name",
    "display_name",
    "displayName",
    "given_name",
    "family_name",
    "cli_user",
    "user",
    "username",
    "principal",
    "subscription_name",
    "subscriptionName",
];

/// Loopback addresses are the doctor's own lab, not personal data.
fn redact_text(s: &str) -> String {
    let s = EMAIL.replace_all(s, "<redacted-email>");
    let s = IPV4.replace_all(&s, |c: &regex::Captures| {
        if c[0].starts_with("127.") {
            c[0].to_string()
        } else {
            "<redacted-ip>".to_string()
        }
    });
    IPV6.replace_all(&s, |c: &regex::Captures| match c[0].parse::<std::net::Ipv6Addr>() {
        Ok(ip) if !ip.is_loopback() => "<redacted-ip>".to_string(),
        _ => c[0].to_string(),
    })
    .into_owned()
}

fn redact_value(v: &mut Value) {
    match v {
        Value::String(s) => *s = redact_text(s),
        Value::Array(a) => a.iter_mut().for_each(redact_value),
        Value::Object(o) => {
            for (k, val) in o.iter_mut() {
                if PERSONAL_KEYS.contains(&k.as_str()) && !val.is_null() {
                    *val = Value::String("<redacted>".into());
                } else {
                    redact_value(val);
                }
            }
        }
        _ => {}
    }
}

pub fn redact(report: &mut Report) {
    redact_value(&mut report.target);
    redact_value(&mut report.environment);
    redact_value(&mut report.identity);
    for c in &mut report.checks {
        c.summary = redact_text(&c.summary);
        redact_value(&mut c.evidence);
        for f in &mut c.findings {
            f.message = redact_text(&f.message);
            f.remediation.text = redact_text(&f.remediation.text);
            for cmd in &mut f.remediation.commands {
                *cmd = redact_text(cmd);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_data_goes_ids_stay() {
        let t = redact_text(
            "logged in as ann.lee@contoso.com from 20.1.2.3 (object id 0f8e2d4c-6b1a-4c9e-8d7f-3a5b2c1e9f70) via 127.0.0.1",
        );
        assert!(!t.contains("ann.lee") && !t.contains("20.1.2.3"), "{t}");
        assert!(
            t.contains("0f8e2d4c-6b1a-4c9e-8d7f-3a5b2c1e9f70") && t.contains("127.0.0.1"),
            "{t}"
        );
        assert_eq!(
            redact_text("at 12:34:56 from 2001:db8::7 and ::1"),
            "at 12:34:56 from <redacted-ip> and ::1"
        );
        let mut v = serde_json::json!({"upn": "x@y.com", "tid": "t", "nested": {"display_name": "Ann"}});
        redact_value(&mut v);
        assert_eq!(v["upn"], "<redacted>");
        assert_eq!(v["tid"], "t");
        assert_eq!(v["nested"]["display_name"], "<redacted>");
    }
}
