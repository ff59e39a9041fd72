//! Keeping secrets out of messages and evidence.
//!
//! Any text that is echoed back to the user (an error message, a stderr line) goes
//! through [`redact`]; any single value about to become evidence is checked with
//! [`looks_like_secret`] and dropped when it matches.

use regex::{Captures, Regex};
use std::sync::LazyLock;

/// A JWT or JWE (or a leading part of one): base64url JSON starting with `{"`.
static JWT_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"eyJ[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*){0,4}").unwrap());

/// `"access_token": "…"`, `client_secret=…`, `api-key: …` and friends.
static KEY_VALUE_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)(["']?(?:access_?token|refresh_?token|id_?token|client_?secret|client_?assertion|api[-_]?key|ocp-apim-subscription-key|password|x-identity-header|identity_header|msi_secret)["']?\s*[:=]\s*)("[^"]*"|'[^']*'|[^\s,;&"'}\]]+)"#,
    )
    .unwrap()
});

/// `Bearer <credential>`.
static BEARER_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#"(?i)\b(bearer)\s+([^\s"',]+)"#).unwrap());

/// A parameter name such as `authorization_uri=` (as in `WWW-Authenticate: Bearer authorization_uri="…"`).
static PARAM_NAME_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Za-z_]+=$").unwrap());

/// Candidate base64 / base64url runs.
static LONG_RUN_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[A-Za-z0-9+/_=-]{32,}").unwrap());

/// An Azure OpenAI / Cognitive Services API key (32 hex characters).
static HEX_KEY_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[0-9a-fA-F]{32}$").unwrap());

fn mixed_classes(s: &str) -> bool {
    s.bytes().any(|b| b.is_ascii_uppercase())
        && s.bytes().any(|b| b.is_ascii_lowercase())
        && s.bytes().any(|b| b.is_ascii_digit())
}

/// Is this run of base64-alphabet characters a secret rather than a path or an id?
fn long_run_is_secret(run: &str) -> bool {
    if HEX_KEY_RE.is_match(run) {
        return true;
    }
    if run.len() < 40 {
        return false;
    }
    // Standard base64 with padding or '+' (storage keys, secrets) never appears in paths.
    if (run.contains('+') || run.ends_with('=')) && mixed_classes(run) {
        return true;
    }
    // Otherwise judge the '/'-separated pieces: an ARM scope is many short words.
    run.split('/').any(|piece| piece.len() >= 40 && mixed_classes(piece))
}

/// True when `value` as a whole looks like a credential: a JWT/JWE, an API key
/// (32 hex characters), a `Bearer …` value or a long mixed base64 run.
pub fn looks_like_secret(value: &str) -> bool {
    let v = value.trim();
    if v.is_empty() {
        return false;
    }
    if v.get(..7).is_some_and(|p| p.eq_ignore_ascii_case("bearer ")) {
        return true;
    }
    if JWT_RE.is_match(v) {
        return true;
    }
    if HEX_KEY_RE.is_match(v) {
        return true;
    }
    LONG_RUN_RE.find_iter(v).any(|m| long_run_is_secret(m.as_str()))
}

/// Returns `text` with every token-, key- or secret-looking part replaced by a marker.
pub fn redact(text: &str) -> String {
    let step1 = KEY_VALUE_RE.replace_all(text, |c: &Captures<'_>| {
        let value = &c[2];
        let quoted = value.starts_with('"') || value.starts_with('\'');
        if quoted {
            let q = &value[..1];
            format!("{}{q}<redacted>{q}", &c[1])
        } else {
            format!("{}<redacted>", &c[1])
        }
    });
    let step2 = JWT_RE.replace_all(&step1, "<redacted-jwt>");
    let step3 = BEARER_RE.replace_all(&step2, |c: &Captures<'_>| {
        let cred = &c[2];
        // Prose ("a bearer token") and challenge parameters are not credentials.
        if cred.len() < 12 || PARAM_NAME_RE.is_match(cred) || cred.starts_with('<') {
            c[0].to_string()
        } else {
            format!("{} <redacted>", &c[1])
        }
    });
    let step4 = LONG_RUN_RE.replace_all(&step3, |c: &Captures<'_>| {
        if long_run_is_secret(&c[0]) {
            "<redacted>".to_string()
        } else {
            c[0].to_string()
        }
    });
    // Stand-alone 32-hex words (API keys) inside a longer text.
    static HEX_WORD_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b[0-9a-fA-F]{32}\b").unwrap());
    HEX_WORD_RE.replace_all(&step4, "<redacted-key>").into_owned()
}

/// Redacts and cuts `text` to at most `max` characters (on a char boundary).
pub(crate) fn redact_truncated(text: &str, max: usize) -> String {
    let r = redact(text.trim());
    if r.chars().count() <= max {
        r
    } else {
        let mut s: String = r.chars().take(max).collect();
        s.push('…');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWT: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL2NvZ25pdGl2ZXNlcnZpY2VzLmF6dXJlLmNvbSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ";

    #[test]
    fn jwt_is_secret_and_redacted() {
        assert!(looks_like_secret(JWT));
        let out = redact(&format!("token was {JWT} here"));
        assert!(!out.contains("eyJ"), "{out}");
        assert!(out.contains("<redacted-jwt>"));
    }

    #[test]
    fn api_key_and_bearer() {
        let key = "0123456789abcdef0123456789ABCDEF";
        assert!(looks_like_secret(key));
        assert!(looks_like_secret("Bearer abc.def"));
        assert_eq!(
            redact("Azure OpenAI rejected the bearer token"),
            "Azure OpenAI rejected the bearer token"
        );
        let out = redact(&format!("api-key: {key} and Authorization: Bearer opaque-value-123"));
        assert!(!out.contains(key), "{out}");
        assert!(!out.contains("opaque-value-123"), "{out}");
    }

    #[test]
    fn token_fields_in_json_are_redacted_whatever_their_shape() {
        let out = redact(r#"{"accessToken": "your access token", "tenant": "t"}"#);
        assert!(!out.contains("your access token"), "{out}");
        assert!(out.contains(r#""tenant": "t""#));
        let out = redact("{'access_token': 'blablablablabla'}");
        assert!(!out.contains("blablabla"), "{out}");
    }

    #[test]
    fn ids_paths_and_urls_survive() {
        let keep = [
            "0b5fe924-9a61-425c-96af-cfe6e287ca2d",
            "/subscriptions/ddd3338d-bc5a-416d-8247-1db1f5b5ff43/resourceGroups/rg-aoc-akv/providers/Microsoft.Authorization/roleDefinitions/21090545-7ca7-4776-b22c-e363652d74d2",
            "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action",
            "https://cognitiveservices.azure.com/.default",
            "system:serviceaccount:default:workload-identity-sa",
        ];
        for k in keep {
            assert!(!looks_like_secret(k), "{k}");
            assert_eq!(redact(k), k);
        }
        let www = r#"Bearer authorization_uri="https://login.windows.net/", error="invalid_token""#;
        assert_eq!(redact(www), www);
    }

    #[test]
    fn storage_style_key_is_secret() {
        let k = "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9v+YmFy/YmF6cXV4MTIzNDU2Nzg5MA==";
        assert!(looks_like_secret(k));
        assert!(!redact(k).contains("Zm9v"));
    }

    #[test]
    fn truncation_is_char_safe() {
        let s = "é".repeat(50);
        let t = redact_truncated(&s, 10);
        assert_eq!(t.chars().count(), 11);
    }
}
