//! `token-claims`: decode the token's payload (never verifying, never showing the token or
//! its signature) and judge it: audience, expiry against our clock, tenant. A wrong audience
//! is the classic cause of a 401; which audiences are right depends on the endpoint's surface
//! (a Foundry project takes only `https://ai.azure.com`, see [`crate::surface`]).

use super::Check;
use super::Outcome;
use super::token::ScopeRule;
use crate::codes;
use crate::diagnose::jwt::{self, ClaimExpectations, ClaimProblem, Claims, JwtError};
use crate::facts::{Fact, Facts};
use crate::model::{Finding, Judgement, Status};
use crate::surface::app_id_of;
use async_trait::async_trait;

pub struct TokenClaimsCheck;

#[async_trait]
impl Check for TokenClaimsCheck {
    fn id(&self) -> &'static str {
        "token-claims"
    }
    fn title(&self) -> &'static str {
        "Token claims fit the resource"
    }
    fn provides(&self) -> &'static [Fact] {
        &[Fact::Claims]
    }
    fn needs(&self) -> &'static [Fact] {
        &[Fact::AccessToken]
    }
    async fn run(&self, ctx: &crate::RunContext, facts: &Facts) -> Outcome {
        let Some(token) = &facts.token else {
            return Outcome::new(Judgement::new(Status::Skip, "no token"));
        };
        let decoded = jwt::decode_claims(token.token.expose());
        let rule = ScopeRule::of_target(&ctx.target);
        let (mut judgement, claims) = judge_for(decoded, ctx.now(), &rule, None);
        if let (Some(want), Some(c)) = (&ctx.target.expected_principal, &claims) {
            let found = c.oid.as_deref().unwrap_or("");
            if !found.eq_ignore_ascii_case(want) {
                judgement.findings.push(
                    Finding::error(
                        &codes::CLAIMS_UNEXPECTED_PRINCIPAL,
                        format!("The token is for principal {} (object id {}), but the app must run as {want}.", c.user_name().or(c.appid.as_deref()).unwrap_or("?"), if found.is_empty() { "?" } else { found }),
                    )
                    .fix("Another credential won the chain (see credential-chain): often a developer's az login or a leftover AZURE_CLIENT_* variable. Remove it, or select the intended credential with --credential / AZURE_TOKEN_CREDENTIALS."),
                );
                judgement.status = Status::Fail;
                judgement.summary = format!("unexpected principal {found}");
            }
        }
        Outcome::with_facts(
            judgement,
            Facts {
                claims,
                ..Default::default()
            },
        )
    }
}

/// [`judge`] against what the endpoint's surface accepts (`tenant`: the resource's, when known).
pub fn judge_for(
    decoded: Result<Claims, JwtError>,
    now: i64,
    rule: &ScopeRule,
    tenant: Option<String>,
) -> (Judgement, Option<Claims>) {
    let mut expected = expectations_for(rule, decoded.as_ref().ok());
    expected.expected_tenant = tenant;
    let (mut judgement, claims) = judge(decoded, now, &expected);
    note_surface(&mut judgement, rule, &expected);
    (judgement, claims)
}

/// What a token for the target's surface must carry: the accepted audience the token has
/// (so `ai.azure.com` and `cognitiveservices` tokens both pass where both are accepted), else
/// the one to recommend.
pub fn expectations_for(rule: &ScopeRule, claims: Option<&Claims>) -> ClaimExpectations {
    let audiences: Vec<String> = claims
        .and_then(|c| c.aud.as_ref())
        .map(|a| a.values().into_iter().map(str::to_string).collect())
        .unwrap_or_default();
    let mut expected = ClaimExpectations::azure_openai();
    expected.audience_resource = rule.surface.audience_for(rule.cloud, &audiences).to_string();
    if let Some(id) = app_id_of(&expected.audience_resource) {
        expected.audience_app_id = id.to_string();
    }
    expected
}

/// Names the surface where it changes the verdict: "unverified" in the evidence for an
/// accepted-but-unconfirmed audience; the project's audience rule in a wrong-audience finding.
fn note_surface(judgement: &mut Judgement, rule: &ScopeRule, expected: &ClaimExpectations) {
    if let Some(note) = rule.note(&expected.audience_resource)
        && let Some(evidence) = judgement.evidence.as_object_mut()
    {
        evidence.insert("audience_note".into(), serde_json::json!(note));
    }
    if !rule.surface.is_project() {
        return;
    }
    for f in judgement
        .findings
        .iter_mut()
        .filter(|f| f.code == &codes::CLAIMS_WRONG_AUDIENCE)
    {
        f.message = f.message.replace(
            ", Azure OpenAI needs ",
            &format!(", and the {} accepts only ", rule.surface.describe()),
        );
        f.remediation.text.push_str(
            " azure-ai-projects 1.x and 2.0.0b2 requested https://cognitiveservices.azure.com/.default: upgrade to >= 2.0.0b3 and use project.get_openai_client().",
        );
    }
}

/// The evidence a report may show: decoded claims, never the token or its signature.
pub fn shown_claims(c: &Claims) -> serde_json::Value {
    c.shown()
}

/// The pure judge: decoded claims (or why not) → findings, plus the claims fact.
pub fn judge(decoded: Result<Claims, JwtError>, now: i64, expected: &ClaimExpectations) -> (Judgement, Option<Claims>) {
    let claims = match decoded {
        Ok(c) => c,
        Err(e) => {
            let f = Finding::error(&codes::CLAIMS_NOT_A_JWT, format!("The token is not a readable JWT: {e}."))
                .fix("Azure OpenAI needs a Microsoft Entra access token (three base64url parts). An API key or opaque string sent as `Authorization: Bearer` gets a bare 401: send keys as the `api-key` header, or use a credential.");
            return (Judgement::new(Status::Fail, "not a JWT").finding(f), None);
        }
    };
    let problems = jwt::judge_claims(&claims, now, expected);
    let implausible = implausible_expiry(&claims, now);
    let mut findings: Vec<Finding> = problems
        .iter()
        // An exp that is there but unreadable is not "missing".
        .filter(|p| !(implausible.is_some() && **p == ClaimProblem::MissingExp))
        .map(|p| finding(p, expected))
        .collect();
    if let Some(why) = implausible {
        findings.push(
            Finding::error(&codes::CLAIMS_IMPLAUSIBLE_EXPIRY, format!("Implausible expiry: {why}."))
                .fix("Entra ID access tokens carry exp as seconds since 1970, 1 to 28 hours after iat. Whatever issued or rewrote this token (a proxy, a token cache, a hand-made token) is not Entra ID; get the token from a credential."),
        );
    }
    let shown = shown_claims(&claims);
    let status = Judgement::status_from(&findings);
    let summary = if findings.is_empty() {
        let left = claims
            .exp
            .map(|e| format!(", valid for {}", jwt::human_duration(e.saturating_sub(now))))
            .unwrap_or_default();
        format!(
            "aud {} for {}{left}",
            expected.audience_resource,
            claims.principal_summary()
        )
    } else {
        findings
            .iter()
            .map(|f| f.message.split(':').next().unwrap_or("").to_string())
            .collect::<Vec<_>>()
            .join("; ")
    };
    (
        Judgement::new(status, summary).with_findings(findings).evidence(shown),
        Some(claims),
    )
}

/// Entra access tokens live 60–90 minutes, managed-identity ones up to 24 hours, CAE ones up
/// to 28 hours: a week is beyond any of them.
const MAX_PLAUSIBLE_LIFETIME_SECS: i64 = 7 * 24 * 3600;

/// Why `exp` is no expiry Entra ID would issue: not a number, or too far after the token's
/// issue time (`iat`, else `nbf`, else now).
fn implausible_expiry(claims: &Claims, now: i64) -> Option<String> {
    match (claims.exp, claims.raw.get("exp")) {
        (None, Some(raw)) => {
            let shown: String = raw.to_string().chars().take(40).collect();
            Some(format!(
                "the exp claim is {}, not a number of seconds",
                crate::diagnose::redact::redact(&shown)
            ))
        }
        (Some(exp), _) => {
            let from = claims.iat.or(claims.nbf).unwrap_or(now);
            let lifetime = exp.saturating_sub(from);
            (lifetime > MAX_PLAUSIBLE_LIFETIME_SECS).then(|| {
                let years = lifetime / 31_557_600;
                let span = if years >= 1 {
                    format!("about {years} years")
                } else {
                    jwt::human_duration(lifetime)
                };
                format!("exp = {exp} is {span} after the token was issued; Entra ID tokens expire within about a day")
            })
        }
        _ => None,
    }
}

fn finding(p: &ClaimProblem, expected: &ClaimExpectations) -> Finding {
    let scope = format!("{}/.default", expected.audience_resource);
    match p {
        ClaimProblem::WrongAudience { found } => Finding::error(
            &codes::CLAIMS_WRONG_AUDIENCE,
            format!("Wrong audience: the token is for {}, Azure OpenAI needs {}.", if found.is_empty() { "no audience".to_string() } else { found.join(", ") }, expected.audience_resource),
        )
        .fix(format!("Request the token with the scope {scope}."))
        .command(format!("aoai-doctor --scope {scope}")),
        ClaimProblem::Expired { .. } => Finding::error(&codes::CLAIMS_EXPIRED, format!("Expired: {}.", p.describe()))
            .fix("Get a fresh token for each call (a token provider, not a token string cached at start-up); check this machine's clock.")
            .command("date -u"),
        ClaimProblem::NotYetValid { .. } => Finding::error(&codes::CLAIMS_NOT_YET_VALID, format!("Not yet valid: {}.", p.describe()))
            .fix("This machine's clock is probably behind; enable time sync.")
            .command("timedatectl status"),
        ClaimProblem::ClockSkew { .. } => Finding::warning(&codes::CLAIMS_CLOCK_SKEW, format!("Clock skew: {}.", p.describe()))
            .fix("Enable time synchronisation (NTP) on this machine.")
            .command("timedatectl set-ntp true"),
        ClaimProblem::WrongTenant { found, expected: want } => Finding::error(
            &codes::CLAIMS_WRONG_TENANT,
            format!("Wrong tenant: the token is from tenant {}, the resource is in {want}.", found.as_deref().unwrap_or("?")),
        )
        .fix("Sign in to the resource's tenant (or set AZURE_TENANT_ID to it).")
        .command(format!("az login --tenant {want} --scope {scope}")),
        ClaimProblem::MissingExp => Finding::error(&codes::CLAIMS_MISSING_EXPIRY, "Missing expiry: the token has no exp claim.".to_string())
            .fix("This is not an Entra ID access token; get one from a credential."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use serde_json::json;

    fn token(payload: serde_json::Value) -> String {
        let b = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        format!(
            "{}.{}.{}",
            b(br#"{"alg":"RS256","kid":"k"}"#),
            b(payload.to_string().as_bytes()),
            b(b"signature-bytes")
        )
    }
    const NOW: i64 = 1_767_225_600;

    #[test]
    fn a_good_token_passes_and_shows_claims_not_the_signature() {
        let t = token(
            json!({"aud":"https://cognitiveservices.azure.com","tid":"t","oid":"o","idtyp":"app","appid":"a","exp":NOW+3600,"nbf":NOW-60}),
        );
        let (j, claims) = judge(jwt::decode_claims(&t), NOW, &ClaimExpectations::azure_openai());
        assert_eq!(j.status, Status::Pass, "{j:?}");
        assert_eq!(claims.unwrap().shown()["oid"], "o");
        let shown = serde_json::to_string(&j.evidence).unwrap();
        assert!(!shown.contains("c2lnbmF0dXJl") && !shown.contains(&t));
    }

    #[test]
    fn wrong_audience_expired_and_garbage() {
        let t = token(json!({"aud":"https://management.azure.com/","exp":NOW-10}));
        let (j, _) = judge(jwt::decode_claims(&t), NOW, &ClaimExpectations::azure_openai());
        let codes: Vec<_> = j.findings.iter().map(|f| f.code.id).collect();
        assert!(
            codes.contains(&"claims-wrong-audience") && codes.contains(&"claims-expired"),
            "{codes:?}"
        );
        assert_eq!(j.status, Status::Fail);
        let (j, claims) = judge(
            jwt::decode_claims("0123456789abcdef0123456789abcdef"),
            NOW,
            &ClaimExpectations::azure_openai(),
        );
        assert_eq!((j.findings[0].code.id, claims), ("claims-not-a-jwt", None));
    }

    #[test]
    fn a_bogus_exp_is_implausible_not_missing() {
        let aud = "https://cognitiveservices.azure.com";
        let e = ClaimExpectations::azure_openai();
        let code = |payload| {
            let (j, _) = judge(jwt::decode_claims(&token(payload)), NOW, &e);
            (j.status, j.findings.iter().map(|f| f.code.id).collect::<Vec<_>>())
        };
        let far = code(json!({"aud": aud, "iat": NOW, "exp": 99_999_999_999_999_i64}));
        assert_eq!(far, (Status::Fail, vec!["claims-implausible-expiry"]));
        let text = code(json!({"aud": aud, "iat": NOW, "exp": "tomorrow"}));
        assert_eq!(text, (Status::Fail, vec!["claims-implausible-expiry"]));
        // Out of range for i64, and without iat: judged against now.
        let huge = code(json!({"aud": aud, "exp": 1e300}));
        assert_eq!(huge.1, vec!["claims-implausible-expiry"]);
        // A managed-identity token (24 h) is fine; a really missing exp stays missing.
        assert_eq!(
            code(json!({"aud": aud, "iat": NOW, "exp": NOW + 86_400})).0,
            Status::Pass
        );
        assert_eq!(code(json!({"aud": aud})).1, vec!["claims-missing-expiry"]);
        let (j, _) = judge(jwt::decode_claims(&token(json!({"aud": aud, "exp": "soon"}))), NOW, &e);
        assert!(
            j.findings[0].message.contains("\"soon\""),
            "{:?}",
            j.findings[0].message
        );
    }

    #[test]
    fn the_audience_follows_the_surface() {
        use crate::context::Cloud;
        use crate::surface::Surface;
        let rule = |surface| ScopeRule {
            surface,
            cloud: Cloud::AzureCloud,
        };
        let judged = |aud: &str, r: &ScopeRule| {
            let t = token(json!({"aud": aud, "exp": NOW + 600}));
            judge_for(jwt::decode_claims(&t), NOW, r, None).0
        };
        let project = rule(Surface::Project { project: "p".into() });
        for aud in ["https://ai.azure.com", "18a66f5f-dbdf-4c17-9dd7-1634712a9cbe"] {
            assert_eq!(judged(aud, &project).status, Status::Pass, "{aud}");
            assert_eq!(judged(aud, &rule(Surface::V1)).status, Status::Pass, "{aud}");
        }
        let classic = judged("https://ai.azure.com", &rule(Surface::ResourceRoot));
        assert_eq!(classic.status, Status::Pass);
        assert!(
            classic.evidence["audience_note"]
                .as_str()
                .unwrap()
                .starts_with("unverified")
        );
        let old = judged("https://cognitiveservices.azure.com", &project);
        assert_eq!(
            (old.status, old.findings[0].code.id),
            (Status::Fail, "claims-wrong-audience")
        );
        assert!(
            old.findings[0].message.contains("accepts only https://ai.azure.com"),
            "{}",
            old.findings[0].message
        );
        assert_eq!(
            old.findings[0].remediation.commands,
            ["aoai-doctor --scope https://ai.azure.com/.default"]
        );
        assert!(old.findings[0].remediation.text.contains("2.0.0b2"));
    }

    #[test]
    fn wrong_tenant_when_the_resource_tenant_is_known() {
        let t = token(json!({"aud":"https://cognitiveservices.azure.com","tid":"other","exp":NOW+600}));
        let mut e = ClaimExpectations::azure_openai();
        e.expected_tenant = Some("mine".into());
        let (j, _) = judge(jwt::decode_claims(&t), NOW, &e);
        assert_eq!(j.findings[0].code.id, "claims-wrong-tenant");
    }
}
