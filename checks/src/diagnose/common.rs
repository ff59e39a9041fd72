//! Shared, tolerant parsing of error bodies, headers and status lines.

use super::Explanation;
use super::redact::redact_truncated;
use regex::Regex;
use serde_json::Value;
use std::sync::LazyLock;

/// The shape an HTTP error body came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyShape {
    /// No body at all.
    Empty,
    /// `{"error":{"code":…,"message":…}}` (Azure OpenAI, ARM).
    ErrorObject,
    /// `{"statusCode":…,"message":…}` (APIM front door, App Service MI endpoint).
    StatusCodeMessage,
    /// `{"code":…,"message":…}` without a wrapper.
    BareCodeMessage,
    /// OAuth-style `{"error":"…","error_description":"…"}` (Entra, IMDS).
    OAuth,
    /// JSON that is none of the above (success bodies, lists…).
    OtherJson,
    /// Server-sent events (`data: {…}`).
    Sse,
    /// An HTML page.
    Html,
    /// Anything else (plain text, truncated JSON that yielded no fields).
    Text,
}

/// The fields of an error body, whatever its shape.
#[derive(Debug, Clone)]
pub(crate) struct ParsedBody {
    pub shape: BodyShape,
    /// `error.code`, bare `code`, or OAuth `error`.
    pub code: Option<String>,
    /// `error.message`, `message`, or OAuth `error_description`.
    pub message: Option<String>,
    /// `error.inner_error.code` / `innererror.code`.
    pub inner_code: Option<String>,
    /// `statusCode` (or a numeric `status`) inside the body.
    pub status_in_body: Option<u16>,
    /// The parsed JSON when the body (or the `{…}` part of a text) was valid JSON.
    pub json: Option<Value>,
}

fn value_to_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn value_to_status(v: &Value) -> Option<u16> {
    match v {
        Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub(crate) fn strip_bom(s: &str) -> &str {
    s.strip_prefix('\u{feff}').unwrap_or(s)
}

/// Parses `text` as JSON, or, failing that, the part from the first `{` or `[` on
/// (SDK renderings such as `Error code: 401 - {…}` or `Content:\n{…}`).
pub(crate) fn parse_json_lenient(text: &str) -> Option<Value> {
    let t = strip_bom(text).trim();
    if t.is_empty() {
        return None;
    }
    if let Ok(v) = serde_json::from_str::<Value>(t) {
        return Some(v);
    }
    for open in ['{', '['] {
        if let Some(i) = t.find(open)
            && i > 0
            && let Ok(v) = serde_json::from_str::<Value>(t[i..].trim())
        {
            return Some(v);
        }
    }
    None
}

fn lenient_field_re(key: &str) -> Regex {
    Regex::new(&format!(
        r#"["']{key}["']\s*:\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|(-?\d+))"#
    ))
    .unwrap()
}

static LENIENT: LazyLock<[(&'static str, Regex); 7]> = LazyLock::new(|| {
    [
        ("code", lenient_field_re("code")),
        ("message", lenient_field_re("message")),
        ("error", lenient_field_re("error")),
        ("error_description", lenient_field_re("error_description")),
        ("statusCode", lenient_field_re("statusCode")),
        ("status", lenient_field_re("status")),
        ("inner_code", lenient_field_re("innererror")),
    ]
});

/// A string field found by regex in a non-JSON rendering (JSON escapes or Python repr).
pub(crate) fn lenient_field(text: &str, key: &str) -> Option<String> {
    let re = &LENIENT.iter().find(|(k, _)| *k == key)?.1;
    let c = re.captures(text)?;
    let raw = c.get(1).or_else(|| c.get(2)).or_else(|| c.get(3))?.as_str();
    Some(
        raw.replace("\\\"", "\"")
            .replace("\\'", "'")
            .replace("\\r\\n", " ")
            .replace("\\n", " ")
            .replace("\\\\", "\\"),
    )
}

/// Parses an error body of any shape. Never fails: unknown input gives `Text`/`Empty`.
pub(crate) fn parse_body(body: &str) -> ParsedBody {
    let t = strip_bom(body).trim();
    let mut p = ParsedBody {
        shape: BodyShape::Empty,
        code: None,
        message: None,
        inner_code: None,
        status_in_body: None,
        json: None,
    };
    if t.is_empty() {
        return p;
    }
    if t.starts_with("data:") {
        p.shape = BodyShape::Sse;
        return p;
    }
    let lower_start: String = t.chars().take(200).collect::<String>().to_ascii_lowercase();
    if lower_start.starts_with("<!doctype") || lower_start.starts_with("<html") || lower_start.contains("<html") {
        p.shape = BodyShape::Html;
        return p;
    }
    if let Some(v) = parse_json_lenient(t) {
        fill_from_json(&mut p, &v);
        p.json = Some(v);
        return p;
    }
    // Not JSON: truncated bodies, Python dict reprs, plain text.
    let code = lenient_field(t, "code");
    let message = lenient_field(t, "message");
    let error = lenient_field(t, "error");
    let error_description = lenient_field(t, "error_description");
    let status = lenient_field(t, "statusCode").and_then(|s| s.parse().ok());
    p.inner_code = lenient_field(t, "inner_code");
    if error_description.is_some() || (error.is_some() && code.is_none()) {
        p.shape = BodyShape::OAuth;
        p.code = error;
        p.message = error_description;
    } else if code.is_some() && (t.contains("'error'") || t.contains("\"error\"")) {
        p.shape = BodyShape::ErrorObject;
        p.code = code;
        p.message = message;
    } else if status.is_some() && message.is_some() {
        p.shape = BodyShape::StatusCodeMessage;
        p.status_in_body = status;
        p.message = message;
    } else if code.is_some() {
        p.shape = BodyShape::BareCodeMessage;
        p.code = code;
        p.message = message;
    } else {
        p.shape = BodyShape::Text;
        p.message = message;
    }
    p
}

fn fill_from_json(p: &mut ParsedBody, v: &Value) {
    let Some(obj) = v.as_object() else {
        p.shape = BodyShape::OtherJson;
        return;
    };
    match obj.get("error") {
        Some(Value::Object(e)) => {
            p.shape = BodyShape::ErrorObject;
            p.code = e.get("code").and_then(value_to_string);
            p.message = e.get("message").and_then(value_to_string);
            p.inner_code = e
                .get("inner_error")
                .or_else(|| e.get("innererror"))
                .and_then(|i| i.get("code"))
                .and_then(value_to_string);
            p.status_in_body = e.get("status").and_then(value_to_status);
        }
        Some(Value::String(s)) => {
            p.shape = BodyShape::OAuth;
            p.code = Some(s.clone());
            p.message = obj.get("error_description").and_then(value_to_string);
        }
        _ => {
            if let Some(sc) = obj.get("statusCode") {
                p.shape = BodyShape::StatusCodeMessage;
                p.status_in_body = value_to_status(sc);
                p.message = obj.get("message").and_then(value_to_string);
                p.code = obj.get("code").and_then(value_to_string);
            } else if obj.contains_key("code") && obj.contains_key("message") {
                p.shape = BodyShape::BareCodeMessage;
                p.code = obj.get("code").and_then(value_to_string);
                p.message = obj.get("message").and_then(value_to_string);
            } else {
                p.shape = BodyShape::OtherJson;
                p.message = obj.get("message").and_then(value_to_string);
                p.status_in_body = obj.get("status").and_then(value_to_status);
            }
        }
    }
}

/// Case-insensitive header lookup.
pub(crate) fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

const REQUEST_ID_HEADERS: [&str; 6] = [
    "apim-request-id",
    "x-ms-request-id",
    "x-request-id",
    "request-id",
    "x-ms-correlation-request-id",
    "x-ms-client-request-id",
];

static TRACE_ID_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\bTrace ID:\s*([0-9a-f]{8}-[0-9a-f-]{27,})").unwrap());
static CORRELATION_ID_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\bCorrelation ID:\s*([0-9a-f]{8}-[0-9a-f-]{27,})").unwrap());

fn useful_id(v: &str) -> bool {
    let v = v.trim();
    !v.is_empty() && !v.eq_ignore_ascii_case("redacted") && !v.starts_with('<') && v.len() <= 128
}

/// Puts request ids (headers), Entra trace/correlation ids (JSON or text) and the
/// App Service `correlationId` into the evidence.
pub(crate) fn collect_ids(ex: &mut Explanation, headers: &[(String, String)], text: &str, json: Option<&Value>) {
    for h in REQUEST_ID_HEADERS {
        if let Some(v) = header(headers, h)
            && useful_id(v)
        {
            ex.add_evidence(h, v.to_string());
        }
    }
    if let Some(obj) = json.and_then(Value::as_object) {
        for (k, ev) in [
            ("trace_id", "trace_id"),
            ("correlation_id", "correlation_id"),
            ("correlationId", "correlation_id"),
        ] {
            if let Some(v) = obj.get(k).and_then(Value::as_str)
                && useful_id(v)
            {
                ex.add_evidence(ev, v.to_string());
            }
        }
    }
    if !ex.evidence.contains_key("trace_id")
        && let Some(c) = TRACE_ID_RE.captures(text)
    {
        ex.add_evidence("trace_id", c[1].to_string());
    }
    if !ex.evidence.contains_key("correlation_id")
        && let Some(c) = CORRELATION_ID_RE.captures(text)
    {
        ex.add_evidence("correlation_id", c[1].to_string());
    }
}

/// Adds `http_status`, `error_code` and a redacted, shortened `error_message`.
pub(crate) fn add_basic_evidence(ex: &mut Explanation, status: Option<u16>, body: &ParsedBody) {
    if let Some(s) = status {
        ex.add_evidence("http_status", u64::from(s));
    }
    if let Some(c) = &body.code {
        ex.add_evidence("error_code", redact_truncated(c, 200));
    }
    if let Some(m) = &body.message {
        ex.add_evidence("error_message", redact_truncated(m, 500));
    }
}

static STATUS_RES: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        r"(?i)\bError code:\s*(\d{3})\b",
        r"(?i)\bStatus(?:\s*code)?\s*[:=]?\s*(\d{3})\b",
        r"(?i)\bHTTP/\d(?:\.\d)?\s+(\d{3})\b",
        r"(?i)\bRESPONSE\s+(\d{3})\b",
        r"\((\d{3})\)",
        r"<Response \[(\d{3})\]>",
        r"(?i)\b(\d{3})\s+\((?:Unauthorized|Forbidden|Bad Request|Not Found|Too Many Requests|PermissionDenied|Method Not Allowed)\)",
        r"(?i)\bError:\s*(\d{3})\s",
    ]
    .iter()
    .map(|r| Regex::new(r).unwrap())
    .collect()
});

/// An HTTP status named in a pasted text ("Error code: 401", "Status code 401", "(401)", …).
pub(crate) fn parse_status_from_text(text: &str) -> Option<u16> {
    STATUS_RES.iter().find_map(|re| {
        re.captures(text)
            .and_then(|c| c[1].parse::<u16>().ok())
            .filter(|s| (100..=599).contains(s))
    })
}

/// Case-insensitive substring test.
pub(crate) fn contains_ci(haystack: &str, needle: &str) -> bool {
    haystack.to_ascii_lowercase().contains(&needle.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(parse_body("").shape, BodyShape::Empty);
        let p = parse_body(r#"{"error":{"code":"403","message": "x"}}"#);
        assert_eq!((p.shape, p.code.as_deref()), (BodyShape::ErrorObject, Some("403")));
        let p = parse_body(r#"{ "statusCode": 401, "message": "m" }"#);
        assert_eq!((p.shape, p.status_in_body), (BodyShape::StatusCodeMessage, Some(401)));
        let p = parse_body(r#"{"code":"403","message":"A Virtual Network"}"#);
        assert_eq!(p.shape, BodyShape::BareCodeMessage);
        let p = parse_body(r#"{"error":"invalid_scope","error_description":"AADSTS70011: x.\ (truncated...)"#);
        assert_eq!((p.shape, p.code.as_deref()), (BodyShape::OAuth, Some("invalid_scope")));
        let p = parse_body(
            "Error code: 401 - {'error': {'code': 'PermissionDenied', 'message': 'Principal does not have access to API/Operation.'}}",
        );
        assert_eq!(p.shape, BodyShape::ErrorObject);
        assert_eq!(p.code.as_deref(), Some("PermissionDenied"));
        assert_eq!(
            p.message.as_deref(),
            Some("Principal does not have access to API/Operation.")
        );
        assert_eq!(parse_body("data: {}\n\n").shape, BodyShape::Sse);
        assert_eq!(parse_body("<html><body>proxy</body></html>").shape, BodyShape::Html);
        assert_eq!(parse_body("just words").shape, BodyShape::Text);
    }

    #[test]
    fn status_from_text() {
        assert_eq!(parse_status_from_text("Error code: 401 - {}"), Some(401));
        assert_eq!(parse_status_from_text("Status: 400 (Bad Request)"), Some(400));
        assert_eq!(parse_status_from_text("Status code 429"), Some(429));
        assert_eq!(parse_status_from_text("failed (403)"), Some(403));
        assert_eq!(parse_status_from_text("returned: <Response [405]>"), Some(405));
        assert_eq!(parse_status_from_text("Error code: 3399614467, Tag: 558133255"), None);
        assert_eq!(parse_status_from_text("curl: (7) Failed"), None);
        assert_eq!(parse_status_from_text("nothing"), None);
    }
}
