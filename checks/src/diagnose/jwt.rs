//! Reading (never verifying) the claims of an access token, and judging them against
//! what Azure OpenAI accepts. The signature is never kept; the token itself is never
//! copied into an error.

use super::{AOAI_APP_ID, AOAI_RESOURCE, Diagnosis};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::{Map, Value};

/// `aud`: one string or several.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub fn values(&self) -> Vec<&str> {
        match self {
            Audience::One(s) => vec![s.as_str()],
            Audience::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// The claims the doctor reads. Every field is optional; claims of an unexpected type
/// are left `None` and stay visible in `raw`, which also holds every other claim.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Claims {
    pub aud: Option<Audience>,
    pub iss: Option<String>,
    pub tid: Option<String>,
    pub oid: Option<String>,
    pub appid: Option<String>,
    pub azp: Option<String>,
    pub idtyp: Option<String>,
    pub upn: Option<String>,
    pub unique_name: Option<String>,
    pub preferred_username: Option<String>,
    pub scp: Option<String>,
    pub roles: Option<Vec<String>>,
    pub exp: Option<i64>,
    pub nbf: Option<i64>,
    pub iat: Option<i64>,
    pub ver: Option<String>,
    pub xms_mirid: Option<String>,
    pub sub: Option<String>,
    pub name: Option<String>,
    /// All claims not listed above (and listed ones whose type was unexpected).
    pub raw: Map<String, Value>,
}

/// What kind of principal a token was issued to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PrincipalKind {
    User,
    ServicePrincipal,
    /// A service principal that is a managed identity (the token carries `xms_mirid`).
    ManagedIdentity,
}

impl PrincipalKind {
    /// The `principalType` ARM uses in role assignments (a managed identity is a service
    /// principal there).
    pub fn arm_principal_type(self) -> &'static str {
        match self {
            PrincipalKind::User => "User",
            PrincipalKind::ServicePrincipal | PrincipalKind::ManagedIdentity => "ServicePrincipal",
        }
    }
}

impl Claims {
    /// Who the token is for: `idtyp` when present (`user` / `app`), else a user by `upn`,
    /// `preferred_username` or delegated scopes (`scp`), else an application by `appid`/`azp`.
    /// An application whose token names a managed-identity resource (`xms_mirid`) is a
    /// managed identity.
    pub fn principal_kind(&self) -> Option<PrincipalKind> {
        let set = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        let app = || {
            Some(if set(&self.xms_mirid) {
                PrincipalKind::ManagedIdentity
            } else {
                PrincipalKind::ServicePrincipal
            })
        };
        match self.idtyp.as_deref().map(str::trim) {
            Some("user") => Some(PrincipalKind::User),
            Some("app") => app(),
            _ if set(&self.upn) || set(&self.preferred_username) || set(&self.scp) => Some(PrincipalKind::User),
            _ if set(&self.appid) || set(&self.azp) => app(),
            _ => None,
        }
    }

    /// The claims a report may show (never the token or its signature); also the shape
    /// consumers that still read claims as JSON see.
    pub fn shown(&self) -> Value {
        serde_json::json!({
            "aud": self.aud, "iss": self.iss, "tid": self.tid, "oid": self.oid, "appid": self.appid,
            "azp": self.azp, "idtyp": self.idtyp,
            "upn": self.user_name(),
            "xms_mirid": self.xms_mirid, "scp": self.scp, "roles": self.roles, "ver": self.ver,
            "iat": self.iat, "nbf": self.nbf, "exp": self.exp,
        })
    }

    /// The user's sign-in name (`upn`, else `preferred_username`, else `unique_name`).
    pub fn user_name(&self) -> Option<&str> {
        self.upn
            .as_deref()
            .or(self.preferred_username.as_deref())
            .or(self.unique_name.as_deref())
    }

    /// The client application id (`appid` in v1 tokens, `azp` in v2).
    pub fn client_id(&self) -> Option<&str> {
        self.appid.as_deref().or(self.azp.as_deref())
    }

    /// Who the token is for, human-readable (`user alice@contoso.com`, `app <appid>`).
    pub fn principal_summary(&self) -> String {
        let user = self.user_name();
        let kind = match (self.idtyp.as_deref(), user) {
            (Some("app"), _) => "app",
            (_, Some(_)) => "user",
            (Some(other), None) => other,
            (None, None) => "principal",
        };
        let who = user
            .map(str::to_string)
            .or_else(|| self.client_id().map(|a| format!("appid {a}")))
            .unwrap_or_else(|| "unknown".to_string());
        match &self.oid {
            Some(oid) => format!("{kind} {who} (object id {oid})"),
            None => format!("{kind} {who}"),
        }
    }
}

/// Which part of the token failed to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtPart {
    Header,
    Payload,
}

impl std::fmt::Display for JwtPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            JwtPart::Header => "header",
            JwtPart::Payload => "payload",
        })
    }
}

/// Why a string is not a readable JWT. Messages never contain the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("the token is empty")]
    Empty,
    #[error(
        "not a JWT: this looks like an Azure OpenAI API key (32 hex characters), not a Microsoft Entra access token"
    )]
    LooksLikeApiKey,
    #[error("not a JWT: an opaque string with {parts} dot-separated part(s), a JWT has exactly 3")]
    NotAJwt { parts: usize },
    #[error("an encrypted token (JWE, 5 parts): its claims cannot be read by the client")]
    Encrypted,
    #[error("the JWT {part} is not valid base64url ({detail})")]
    BadBase64 { part: JwtPart, detail: String },
    #[error("the JWT {part} is not a JSON object")]
    NotJson { part: JwtPart },
}

fn b64url_decode(part: &str, which: JwtPart) -> Result<Vec<u8>, JwtError> {
    // Tolerate padding and the standard alphabet.
    let cleaned: String = part
        .trim()
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    URL_SAFE_NO_PAD
        .decode(cleaned.as_bytes())
        .map_err(|e| JwtError::BadBase64 {
            part: which,
            detail: e.to_string(),
        })
}

fn json_object(bytes: &[u8], which: JwtPart) -> Result<Map<String, Value>, JwtError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(JwtError::NotJson { part: which }),
    }
}

/// A numeric date claim: integer, float (saturating) or numeric string.
fn lenient_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_u64().map(|_| i64::MAX))
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)),
        Value::String(s) => s
            .trim()
            .parse::<i64>()
            .ok()
            .or_else(|| s.trim().parse::<f64>().ok().filter(|f| f.is_finite()).map(|f| f as i64)),
        _ => None,
    }
}

/// Splits, base64url-decodes and parses the token's claims. Accepts a leading `Bearer `.
pub fn decode_claims(token: &str) -> Result<Claims, JwtError> {
    let mut t = token.trim();
    if t.len() >= 7 && t.is_char_boundary(7) && t[..7].eq_ignore_ascii_case("bearer ") {
        t = t[7..].trim();
    }
    if t.is_empty() {
        return Err(JwtError::Empty);
    }
    let parts: Vec<&str> = t.split('.').collect();
    match parts.len() {
        3 => {}
        5 => return Err(JwtError::Encrypted),
        1 if t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit()) => {
            return Err(JwtError::LooksLikeApiKey);
        }
        n => return Err(JwtError::NotAJwt { parts: n }),
    }
    json_object(&b64url_decode(parts[0], JwtPart::Header)?, JwtPart::Header)?;
    let payload = json_object(&b64url_decode(parts[1], JwtPart::Payload)?, JwtPart::Payload)?;
    Ok(claims_from_map(payload))
}

fn claims_from_map(mut m: Map<String, Value>) -> Claims {
    fn take_str(m: &mut Map<String, Value>, k: &str) -> Option<String> {
        match m.get(k) {
            Some(Value::String(s)) => {
                let s = s.clone();
                m.remove(k);
                Some(s)
            }
            _ => None,
        }
    }
    fn take_num(m: &mut Map<String, Value>, k: &str) -> Option<i64> {
        let v = m.get(k).and_then(lenient_i64)?;
        m.remove(k);
        Some(v)
    }
    let aud = match m.get("aud") {
        Some(Value::String(s)) => Some(Audience::One(s.clone())),
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => Some(Audience::Many(
            a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        )),
        _ => None,
    };
    if aud.is_some() {
        m.remove("aud");
    }
    let roles = match m.get("roles") {
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => {
            Some(a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        }
        _ => None,
    };
    if roles.is_some() {
        m.remove("roles");
    }
    Claims {
        aud,
        iss: take_str(&mut m, "iss"),
        tid: take_str(&mut m, "tid"),
        oid: take_str(&mut m, "oid"),
        appid: take_str(&mut m, "appid"),
        azp: take_str(&mut m, "azp"),
        idtyp: take_str(&mut m, "idtyp"),
        upn: take_str(&mut m, "upn"),
        unique_name: take_str(&mut m, "unique_name"),
        preferred_username: take_str(&mut m, "preferred_username"),
        scp: take_str(&mut m, "scp"),
        roles,
        exp: take_num(&mut m, "exp"),
        nbf: take_num(&mut m, "nbf"),
        iat: take_num(&mut m, "iat"),
        ver: take_str(&mut m, "ver"),
        xms_mirid: take_str(&mut m, "xms_mirid"),
        sub: take_str(&mut m, "sub"),
        name: take_str(&mut m, "name"),
        raw: m,
    }
}

/// What a token for the target must look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimExpectations {
    /// `https://cognitiveservices.azure.com` (with or without a trailing slash is accepted).
    pub audience_resource: String,
    /// The resource app id, also accepted as `aud`.
    pub audience_app_id: String,
    /// The tenant of the resource, when known.
    pub expected_tenant: Option<String>,
    /// The server's `Date` (unix seconds), when known: expiry is judged on the server's
    /// clock and the difference to `now` is reported as skew.
    pub server_date_unix: Option<i64>,
}

impl ClaimExpectations {
    pub fn azure_openai() -> Self {
        ClaimExpectations {
            audience_resource: AOAI_RESOURCE.to_string(),
            audience_app_id: AOAI_APP_ID.to_string(),
            expected_tenant: None,
            server_date_unix: None,
        }
    }
}

impl Default for ClaimExpectations {
    fn default() -> Self {
        ClaimExpectations::azure_openai()
    }
}

/// Above this difference between our clock and the server's, skew is reported.
pub const CLOCK_SKEW_TOLERANCE_SECS: i64 = 300;

/// Something wrong with a token's claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "kebab-case")]
pub enum ClaimProblem {
    /// `found` is empty when the token has no `aud` claim.
    WrongAudience {
        found: Vec<String>,
    },
    Expired {
        ago_secs: i64,
    },
    NotYetValid {
        in_secs: i64,
    },
    /// Local clock minus server clock, in seconds.
    ClockSkew {
        secs: i64,
    },
    WrongTenant {
        found: Option<String>,
        expected: String,
    },
    MissingExp,
}

impl ClaimProblem {
    pub fn diagnosis(&self) -> Diagnosis {
        match self {
            ClaimProblem::WrongAudience { .. } => Diagnosis::WrongScopeOrAudience,
            ClaimProblem::Expired { .. }
            | ClaimProblem::NotYetValid { .. }
            | ClaimProblem::ClockSkew { .. }
            | ClaimProblem::MissingExp => Diagnosis::TokenExpired,
            ClaimProblem::WrongTenant { .. } => Diagnosis::WrongTenant,
        }
    }

    /// One line for a human.
    pub fn describe(&self) -> String {
        match self {
            ClaimProblem::WrongAudience { found } if found.is_empty() => {
                "The token has no audience (aud) claim; it was not issued for Azure OpenAI.".to_string()
            }
            ClaimProblem::WrongAudience { found } => format!(
                "The token's audience is {} but Azure OpenAI needs https://cognitiveservices.azure.com (request the scope https://cognitiveservices.azure.com/.default).",
                found.join(", ")
            ),
            ClaimProblem::Expired { ago_secs } => {
                format!("The token expired {} ago.", human_duration(*ago_secs))
            }
            ClaimProblem::NotYetValid { in_secs } => format!(
                "The token is not valid yet (nbf is {} in the future); the clock is probably off.",
                human_duration(*in_secs)
            ),
            ClaimProblem::ClockSkew { secs } => format!(
                "This machine's clock is {} {} the server's; sync the clock (NTP).",
                human_duration(secs.saturating_abs()),
                if *secs > 0 { "ahead of" } else { "behind" }
            ),
            ClaimProblem::WrongTenant { found, expected } => format!(
                "The token is from tenant {} but the resource is in tenant {expected}.",
                found.as_deref().unwrap_or("(none: no tid claim)")
            ),
            ClaimProblem::MissingExp => "The token has no expiry (exp) claim.".to_string(),
        }
    }
}

/// `3h 2m`, `45s`, `12d 3h`.
pub fn human_duration(secs: i64) -> String {
    let s = secs.saturating_abs();
    let (d, h, m, sec) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60, s % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {sec}s")
    } else {
        format!("{sec}s")
    }
}

fn same_audience(a: &str, b: &str) -> bool {
    a.trim()
        .trim_end_matches('/')
        .eq_ignore_ascii_case(b.trim().trim_end_matches('/'))
}

/// Judges the claims against the expectations at `now_unix` (our clock).
pub fn judge_claims(claims: &Claims, now_unix: i64, expected: &ClaimExpectations) -> Vec<ClaimProblem> {
    let mut problems = Vec::new();
    let found: Vec<String> = claims
        .aud
        .as_ref()
        .map(|a| a.values().into_iter().map(str::to_string).collect())
        .unwrap_or_default();
    let aud_ok = found
        .iter()
        .any(|a| same_audience(a, &expected.audience_resource) || same_audience(a, &expected.audience_app_id));
    if !aud_ok {
        problems.push(ClaimProblem::WrongAudience { found });
    }
    let reference = expected.server_date_unix.unwrap_or(now_unix);
    match claims.exp {
        None => problems.push(ClaimProblem::MissingExp),
        Some(exp) if exp <= reference => problems.push(ClaimProblem::Expired {
            ago_secs: reference.saturating_sub(exp),
        }),
        Some(_) => {}
    }
    if let Some(nbf) = claims.nbf
        && nbf > reference
    {
        problems.push(ClaimProblem::NotYetValid {
            in_secs: nbf.saturating_sub(reference),
        });
    }
    if let Some(server) = expected.server_date_unix {
        let skew = now_unix.saturating_sub(server);
        if skew.saturating_abs() > CLOCK_SKEW_TOLERANCE_SECS {
            problems.push(ClaimProblem::ClockSkew { secs: skew });
        }
    }
    if let Some(want) = &expected.expected_tenant {
        let ok = claims
            .tid
            .as_deref()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case(want.trim()));
        if !ok {
            problems.push(ClaimProblem::WrongTenant {
                found: claims.tid.clone(),
                expected: want.clone(),
            });
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn enc(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    }

    fn token(payload: Value) -> String {
        format!(
            "{}.{}.c2lnbmF0dXJl",
            enc(&json!({"typ":"JWT","alg":"RS256"})),
            enc(&payload)
        )
    }

    #[test]
    fn principal_kinds_from_the_claims() {
        let kind = |v: Value| decode_claims(&token(v)).unwrap().principal_kind();
        assert_eq!(kind(json!({"idtyp": "user", "appid": "a"})), Some(PrincipalKind::User));
        assert_eq!(
            kind(json!({"idtyp": "app", "appid": "a"})),
            Some(PrincipalKind::ServicePrincipal)
        );
        assert_eq!(
            kind(
                json!({"idtyp": "app", "xms_mirid": "/subscriptions/s/resourcegroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id"})
            ),
            Some(PrincipalKind::ManagedIdentity)
        );
        // No idtyp (v1 tokens of some flows): a user by upn or delegated scopes, else an app.
        assert_eq!(kind(json!({"upn": "a@b.c", "appid": "a"})), Some(PrincipalKind::User));
        assert_eq!(kind(json!({"scp": "user_impersonation"})), Some(PrincipalKind::User));
        assert_eq!(kind(json!({"azp": "a"})), Some(PrincipalKind::ServicePrincipal));
        assert_eq!(kind(json!({"oid": "o"})), None);
        assert_eq!(PrincipalKind::ManagedIdentity.arm_principal_type(), "ServicePrincipal");
    }

    #[test]
    fn decodes_a_v1_token() {
        let t = token(json!({
            "aud": "https://cognitiveservices.azure.com", "iss": "https://sts.windows.net/t1/",
            "tid": "t1", "oid": "o1", "appid": "04b07795-8ddb-461a-bbee-02f9e1bf7b46", "idtyp": "user",
            "upn": "a@b.c", "scp": "user_impersonation", "exp": 2000, "nbf": 1000, "iat": 1000,
            "ver": "1.0", "xms_cc": ["CP1"]
        }));
        let c = decode_claims(&t).unwrap();
        assert_eq!(c.aud, Some(Audience::One("https://cognitiveservices.azure.com".into())));
        assert_eq!(c.tid.as_deref(), Some("t1"));
        assert_eq!(c.exp, Some(2000));
        assert_eq!(c.raw.get("xms_cc"), Some(&json!(["CP1"])));
        assert!(!c.raw.contains_key("tid"));
        assert!(c.principal_summary().contains("a@b.c"));
        // A leading "Bearer " and padding are tolerated.
        let padded = t.replacen('.', "==.", 1);
        assert!(decode_claims(&format!("Bearer {padded}")).is_ok());
        assert!(judge_claims(&c, 1500, &ClaimExpectations::azure_openai()).is_empty());
    }

    #[test]
    fn garbage_and_shapes() {
        assert_eq!(decode_claims(""), Err(JwtError::Empty));
        assert_eq!(decode_claims("   "), Err(JwtError::Empty));
        assert_eq!(
            decode_claims("0123456789abcdef0123456789abcdef"),
            Err(JwtError::LooksLikeApiKey)
        );
        assert_eq!(decode_claims("your access token"), Err(JwtError::NotAJwt { parts: 1 }));
        assert_eq!(decode_claims("abc.def"), Err(JwtError::NotAJwt { parts: 2 }));
        assert_eq!(decode_claims("a.b.c.d"), Err(JwtError::NotAJwt { parts: 4 }));
        assert_eq!(decode_claims("a.b.c.d.e"), Err(JwtError::Encrypted));
        let h = enc(&json!({"alg":"RS256"}));
        assert!(matches!(
            decode_claims(&format!("{h}.@@@!.sig")),
            Err(JwtError::BadBase64 {
                part: JwtPart::Payload,
                ..
            })
        ));
        assert!(matches!(
            decode_claims("!!.e30.sig"),
            Err(JwtError::BadBase64 {
                part: JwtPart::Header,
                ..
            })
        ));
        let not_json = URL_SAFE_NO_PAD.encode(b"hello world");
        assert_eq!(
            decode_claims(&format!("{h}.{not_json}.sig")),
            Err(JwtError::NotJson { part: JwtPart::Payload })
        );
        let array = URL_SAFE_NO_PAD.encode(b"[1,2]");
        assert_eq!(
            decode_claims(&format!("{h}.{array}.sig")),
            Err(JwtError::NotJson { part: JwtPart::Payload })
        );
        // The error text never echoes the input.
        let secret = "0123456789abcdef0123456789abcdef";
        assert!(!decode_claims(secret).unwrap_err().to_string().contains(secret));
    }

    #[test]
    fn audience_array_and_odd_numbers() {
        let c = decode_claims(&token(
            json!({"aud": ["api://x", "https://cognitiveservices.azure.com/"], "exp": 1e30}),
        ))
        .unwrap();
        assert_eq!(c.aud.as_ref().unwrap().values().len(), 2);
        assert_eq!(c.exp, Some(i64::MAX));
        assert!(judge_claims(&c, 0, &ClaimExpectations::azure_openai()).is_empty());

        let c = decode_claims(&token(
            json!({"aud": "7d312290-28c8-473c-a0ed-8e53749b6d6d", "exp": 18446744073709551615u64}),
        ))
        .unwrap();
        assert_eq!(c.exp, Some(i64::MAX));
        assert!(judge_claims(&c, i64::MAX - 1, &ClaimExpectations::azure_openai()).is_empty());

        let c = decode_claims(&token(json!({"aud": "https://cognitiveservices.azure.com", "exp": -5}))).unwrap();
        assert_eq!(c.exp, Some(-5));
        let p = judge_claims(&c, i64::MAX, &ClaimExpectations::azure_openai());
        assert_eq!(p, vec![ClaimProblem::Expired { ago_secs: i64::MAX }]);

        let c = decode_claims(&token(json!({"aud": 5, "exp": "1700000000", "roles": "notalist"}))).unwrap();
        assert_eq!(c.aud, None);
        assert_eq!(c.exp, Some(1_700_000_000));
        assert_eq!(c.raw.get("aud"), Some(&json!(5)));
        assert_eq!(c.raw.get("roles"), Some(&json!("notalist")));
    }

    #[test]
    fn judge_finds_each_problem() {
        let c = decode_claims(&token(json!({
            "aud": "https://management.azure.com/", "tid": "other", "exp": 1000, "nbf": 5000
        })))
        .unwrap();
        let exp = ClaimExpectations {
            expected_tenant: Some("mine".into()),
            server_date_unix: Some(4000),
            ..ClaimExpectations::azure_openai()
        };
        let p = judge_claims(&c, 4000 + 3600, &exp);
        assert!(p.contains(&ClaimProblem::WrongAudience {
            found: vec!["https://management.azure.com/".into()]
        }));
        assert!(p.contains(&ClaimProblem::Expired { ago_secs: 3000 }));
        assert!(p.contains(&ClaimProblem::NotYetValid { in_secs: 1000 }));
        assert!(p.contains(&ClaimProblem::ClockSkew { secs: 3600 }));
        assert!(p.contains(&ClaimProblem::WrongTenant {
            found: Some("other".into()),
            expected: "mine".into()
        }));
        for problem in &p {
            assert!(!problem.describe().is_empty());
            assert_ne!(problem.diagnosis(), Diagnosis::Unknown);
        }
        let c = decode_claims(&token(json!({}))).unwrap();
        let p = judge_claims(&c, 0, &ClaimExpectations::azure_openai());
        assert_eq!(
            p,
            vec![ClaimProblem::WrongAudience { found: vec![] }, ClaimProblem::MissingExp]
        );
    }

    #[test]
    fn durations() {
        assert_eq!(human_duration(45), "45s");
        assert_eq!(human_duration(3 * 3600 + 120), "3h 2m");
        assert_eq!(human_duration(i64::MIN), human_duration(i64::MAX));
    }
}
