//! Building responses byte for byte: bodies are kept as strings so the lab can reproduce
//! the services' exact spacing (several Azure OpenAI bodies have a space after
//! `"message":`, which their recorded Content-Length proves).

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};

pub type Resp = Response<Body>;

pub fn respond(status: u16, content_type: &str, body: String, headers: &[(&str, String)]) -> Resp {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    if !content_type.is_empty() {
        h.insert(
            "content-type",
            HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static("application/json")),
        );
    }
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(v)) {
            h.append(k, v);
        }
    }
    r
}

pub fn json(status: u16, body: String, headers: &[(&str, String)]) -> Resp {
    respond(status, "application/json; charset=utf-8", body, headers)
}

/// A JSON string literal (with quotes) for hand-assembled bodies.
pub fn q(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

pub fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// The bearer token of an `Authorization` header, if that is what it carries.
pub fn bearer(h: &HeaderMap) -> Option<&str> {
    let v = header(h, "authorization")?.trim();
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}
