//! Table-driven tests over EVERY case of the real-world corpus in `fixtures/corpus/`,
//! plus property tests that no parser panics on arbitrary input.

mod troubleshooting;

use super::jwt::{ClaimExpectations, decode_claims, judge_claims};
use super::*;
use proptest::prelude::*;
use regex::Regex;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Deserialize)]
struct Case {
    id: String,
    source_url: String,
    kind: String,
    status: Option<u16>,
    headers: Option<BTreeMap<String, String>>,
    body: Option<String>,
    stdout: Option<String>,
    stderr: Option<String>,
    exit_code: Option<i32>,
    expected_diagnosis: String,
    note: Option<String>,
}

impl Case {
    fn headers(&self) -> Vec<(String, String)> {
        self.headers.clone().unwrap_or_default().into_iter().collect()
    }
    fn body(&self) -> &str {
        self.body.as_deref().unwrap_or("")
    }
    fn stdout(&self) -> &str {
        self.stdout.as_deref().unwrap_or("")
    }
    fn stderr(&self) -> &str {
        self.stderr.as_deref().unwrap_or("")
    }
    /// What a user would paste: the body, or stderr then stdout.
    fn text(&self) -> String {
        if self.kind == "http" {
            self.body().to_string()
        } else {
            format!("{}\n{}", self.stderr(), self.stdout())
        }
    }
}

const FAMILIES: [(&str, &str); 5] = [
    (
        "aoai-dataplane",
        include_str!("../../../fixtures/corpus/aoai-dataplane.json"),
    ),
    ("entra-token", include_str!("../../../fixtures/corpus/entra-token.json")),
    ("azure-cli", include_str!("../../../fixtures/corpus/azure-cli.json")),
    (
        "managed-identity",
        include_str!("../../../fixtures/corpus/managed-identity.json"),
    ),
    ("arm", include_str!("../../../fixtures/corpus/arm.json")),
];

fn all_cases() -> Vec<(&'static str, Case)> {
    let mut out = Vec::new();
    for (family, json) in FAMILIES {
        let cases: Vec<Case> = serde_json::from_str(json).unwrap_or_else(|e| panic!("{family}.json: {e}"));
        assert!(!cases.is_empty(), "{family}.json is empty");
        out.extend(cases.into_iter().map(|c| (family, c)));
    }
    out
}

/// The corpus label → our diagnosis. `None` for `other` (see [`OTHER`]).
fn map_label(label: &str) -> Option<Diagnosis> {
    match label {
        "other" => None,
        // Propagation and a truly missing role look the same on the wire.
        "missing_data_action_role" | "propagation_or_missing_role" => Some(Diagnosis::RoleMissingOrPropagating),
        other => Some(
            serde_json::from_value(serde_json::Value::String(other.replace('_', "-")))
                .unwrap_or_else(|_| panic!("corpus label {other:?} has no Diagnosis")),
        ),
    }
}

/// `expected_diagnosis: "other"`: what the classifier must answer, a phrase its summary
/// must contain (so "recognised" is told apart from "ignored"), and why.
const OTHER: &[(&str, Diagnosis, &str, &str)] = &[
    (
        "aoai-401-invalid-key-or-wrong-endpoint",
        Diagnosis::Unknown,
        "API key was sent",
        // Key authentication rejected an api-key: nothing about Entra, and no diagnosis code
        // fits "wrong key"; recognised as DataPlaneKind::ApiKeyRejected.
        "key auth rejection",
    ),
    (
        "aoai-401-token-rejected-key-sent-as-bearer",
        Diagnosis::TokenExpired,
        "cannot tell",
        // Byte-for-byte the generic 401 of aoai-401-token-rejected-hourly-expiry (expected
        // token_expired): the body cannot tell them apart. It is a token problem
        // (DataPlaneKind::TokenRejected); the caller refines it by decoding the token it sent
        // (a key is not a JWT → dataplane::explain_token_rejection says so).
        "same body as a token_expired case",
    ),
    (
        "aoai-400-content-filter-2025-headers",
        Diagnosis::Unknown,
        "does not recognise",
        // The body was not recorded; a 400 without a body is never guessed from status/headers.
        "no body",
    ),
    (
        "aoai-400-token-on-regional-endpoint",
        Diagnosis::BadApiVersionOrPath,
        "regional endpoint",
        // The endpoint URL is wrong (regional host instead of the custom subdomain): the fix
        // is a URL change, the bad-api-version-or-path family (DataPlaneKind::RegionalEndpoint).
        "wrong endpoint URL",
    ),
    (
        "mi-container-apps-405-legacy-client",
        Diagnosis::Unknown,
        "405",
        // An old client POSTing to a GET-only identity endpoint: not an identity problem and
        // no diagnosis code fits; recognised with a precise summary.
        "old client",
    ),
    (
        "arm-401-no-token-www-authenticate",
        Diagnosis::Unknown,
        "header is missing",
        // No token was sent at all (a caller bug); evidence keeps the tenant a challenge names.
        "no token sent",
    ),
    (
        "arm-401-authenticationfailed-generic",
        Diagnosis::Unknown,
        "without saying why",
        // ARM gives no detail; decoding the token is the next step, not a guess.
        "no detail",
    ),
];

/// The credential behind a token-endpoint case, as the check that made the request knows
/// it. Only cases where the context changes the meaning are listed.
fn entra_context(id: &str) -> entra::EntraContext {
    match id {
        // The request was a workload-identity client-assertion exchange (FromAssertion in a
        // pod, per the case's `seen`/`note`).
        "entra-400-aadsts700016-workload-identity-client-id" => entra::EntraContext::WorkloadIdentity,
        _ => entra::EntraContext::Unknown,
    }
}

/// HTTP cases whose body was not recorded; the client's rendering quoted in the note is
/// what the doctor (and a user) gets instead. The regex extracts it from the note.
const BODY_NOT_RECORDED: &[(&str, &str)] = &[(
    "entra-400-aadsts70043-token-endpoint-headers",
    r"reported: (Azure Active Directory error '.*?\.')",
)];

/// Where `explain` (which knows no credential context and no endpoint) legitimately
/// differs from the family classifier, and what it must say instead.
const EXPLAIN_DIFFERS: &[(&str, Diagnosis, &str)] = &[
    (
        "entra-400-aadsts700016-workload-identity-client-id",
        Diagnosis::InvalidClientCredentials,
        "the body names no workload identity; explain's fix text points at the service-account annotation",
    ),
    (
        "entra-400-aadsts70043-token-endpoint-headers",
        Diagnosis::Unknown,
        "no body to paste",
    ),
    (
        "mi-corporate-proxy-imds-400",
        Diagnosis::Unknown,
        "an empty 400 is only meaningful knowing it came from the IMDS address, which explain does not",
    ),
];

fn run_family(family: &str, c: &Case) -> Explanation {
    let h = c.headers();
    match (family, c.kind.as_str()) {
        ("aoai-dataplane", "http") => dataplane::classify_response(c.status.unwrap(), &h, c.body()).explanation,
        ("entra-token", "http") => entra::explain_token_response(c.status.unwrap(), &h, c.body(), entra_context(&c.id)),
        ("entra-token", "cli") => explain(None, &[], &c.text()),
        ("azure-cli", "cli") | ("arm", "cli") => cli::classify_az(c.stdout(), c.stderr(), c.exit_code),
        ("managed-identity", "http") => {
            managed_identity::classify_mi_response(c.status.unwrap(), &h, c.body()).explanation
        }
        ("managed-identity", "cli") => managed_identity::classify_mi_text(&c.text(), c.exit_code),
        ("arm", "http") => arm::classify_arm_response(c.status.unwrap(), &h, c.body()).explanation,
        (f, k) => panic!("{}: no classifier for family {f} kind {k}", c.id),
    }
}

fn expected_for(c: &Case) -> Diagnosis {
    match map_label(&c.expected_diagnosis) {
        Some(d) => d,
        None => {
            OTHER
                .iter()
                .find(|(id, ..)| *id == c.id)
                .unwrap_or_else(|| panic!("{}: expected 'other' but not in the OTHER table", c.id))
                .1
        }
    }
}

#[test]
fn corpus_every_case_is_classified_as_expected() {
    let cases = all_cases();
    assert_eq!(cases.len(), 92, "the corpus has 92 cases");
    let ids: BTreeSet<&str> = cases.iter().map(|(_, c)| c.id.as_str()).collect();
    assert_eq!(ids.len(), cases.len(), "case ids are unique");
    let mut failures = Vec::new();
    let mut other_seen = BTreeSet::new();
    for (family, c) in &cases {
        assert!(!c.source_url.trim().is_empty(), "{}: provenance kept", c.id);
        let expected = expected_for(c);
        let not_recorded = BODY_NOT_RECORDED.iter().find(|(id, _)| *id == c.id);
        let got = if let Some((_, re)) = not_recorded {
            // Without the body nothing may be guessed…
            let bare = run_family(family, c);
            if bare.diagnosis != Diagnosis::Unknown {
                failures.push(format!("{}: guessed {} from a bodiless response", c.id, bare.diagnosis));
            }
            // …and the rendering the client printed gives the diagnosis.
            let note = c.note.as_deref().unwrap_or("");
            let rendering = Regex::new(re)
                .unwrap()
                .captures(note)
                .unwrap_or_else(|| panic!("{}: rendering not in note", c.id))[1]
                .to_string();
            explain(c.status, &c.headers(), &rendering)
        } else {
            run_family(family, c)
        };
        if c.expected_diagnosis == "other" {
            other_seen.insert(c.id.clone());
            let (_, _, phrase, _) = OTHER.iter().find(|(id, ..)| *id == c.id).unwrap();
            if !got.summary.contains(phrase) {
                failures.push(format!("{}: summary {:?} lacks {:?}", c.id, got.summary, phrase));
            }
        }
        if got.diagnosis != expected {
            failures.push(format!(
                "{} [{family}]: expected {expected}, got {} ({})",
                c.id, got.diagnosis, got.summary
            ));
        }
        assert!(!got.summary.contains('\n'), "{}: summary is one line", c.id);
        assert!(!got.fix.is_empty(), "{}: a fix is given", c.id);
    }
    for (id, ..) in OTHER {
        assert!(
            other_seen.contains(*id),
            "OTHER lists {id}, which is not an 'other' case of the corpus"
        );
    }
    assert!(
        failures.is_empty(),
        "{} corpus case(s) misclassified:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn corpus_explain_agrees_with_family_classifiers() {
    let mut failures = Vec::new();
    for (_, c) in all_cases() {
        let status = if c.kind == "http" { c.status } else { None };
        let got = explain(status, &c.headers(), &c.text());
        let want = match EXPLAIN_DIFFERS.iter().find(|(id, ..)| *id == c.id) {
            Some((_, d, _)) => *d,
            None => expected_for(&c),
        };
        if got.diagnosis != want {
            failures.push(format!(
                "{}: explain said {}, expected {want} ({})",
                c.id, got.diagnosis, got.summary
            ));
        }
    }
    for (id, ..) in EXPLAIN_DIFFERS {
        assert!(
            all_cases().iter().any(|(_, c)| c.id == *id),
            "EXPLAIN_DIFFERS lists unknown case {id}"
        );
    }
    assert!(failures.is_empty(), "{}:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn corpus_evidence_is_extracted() {
    let find = |id: &str| {
        all_cases()
            .into_iter()
            .find(|(_, c)| c.id == id)
            .unwrap_or_else(|| panic!("{id}"))
    };
    let ev = |id: &str| {
        let (f, c) = find(id);
        run_family(f, &c).evidence
    };
    let e = ev("aoai-401-lacks-data-action-foundry-agents");
    assert_eq!(e["principal_id"], "XXXXXXXXXXXXXXXX");
    assert_eq!(
        e["data_action"],
        "Microsoft.CognitiveServices/accounts/AIServices/agents/read"
    );
    assert_eq!(
        e["operation"],
        "GET /api/projects/{projectName}/assistants/{assistantId}"
    );
    let (f, c) = find("aoai-401-lacks-data-action-foundry-agents");
    assert!(
        run_family(f, &c)
            .commands
            .iter()
            .any(|c| c.contains(ROLE_AZURE_AI_USER)),
        "agents need Azure AI User"
    );

    assert_eq!(
        ev("aoai-403-public-access-disabled-accessdenied-code")["policy-id"],
        "ThrowExceptionDueToTrafficDenied"
    );
    assert_eq!(
        ev("aoai-429-rate-limit-with-headers")["retry_after_seconds_from_message"],
        2
    );
    assert!(!ev("aoai-429-rate-limit-with-headers").contains_key("retry_after_seconds"));
    assert_eq!(
        ev("aoai-429-rate-limit-with-headers")["apim-request-id"],
        "3d37de60-f6c3-4ced-a637-92bc9d16d8b5"
    );
    assert_eq!(
        ev("aoai-429-legacy-operation-name-message-only")["retry_after_seconds_from_message"],
        7
    );

    let e = ev("entra-400-aadsts90002-tenant-placeholder-not-found");
    assert_eq!(e["tenant_requested"], "tenant_id");
    assert_eq!(e["trace_id"], "e9a899ac-eed7-4828-a580-2c0b8ffb2100");
    assert_eq!(e["correlation_id"], "22a58ae7-fe96-44eb-8610-5eeb970d5089");
    assert_eq!(e["aadsts"], serde_json::json!([90002]));
    let e = ev("entra-400-aadsts70021-no-federated-identity-record");
    assert_eq!(e["assertion_issuer"], "https://kubernetes.default.svc.cluster.local");
    assert_eq!(
        e["assertion_subject"],
        "system:serviceaccount:default:workload-identity-sa"
    );
    assert_eq!(
        ev("entra-aadsts700211-issuer-mismatch-python")["assertion_issuer"],
        "https://oidc.prod-aks.azure.com/879-...-a6425/"
    );
    assert_eq!(
        ev("entra-400-aadsts700016-app-not-found")["client_id"],
        "8060e3ec-cbe3-4174-94cf-80065f998444"
    );
    assert_eq!(
        ev("entra-400-aadsts70043-sign-in-frequency")["max_lifetime_seconds"],
        "28800"
    );
    assert_eq!(
        ev("cli-aadsts53003-wam-one-tenant-blocked-during-login")["tenant"],
        "1a092f68-5741-455a-8057-2acdb897a850"
    );

    let e = ev("arm-cli-authorizationfailed-role-assignment-list");
    assert_eq!(e["principal_id"], "053a0abe-0b3e-40a3-85c8-83f2af887382");
    assert_eq!(e["action"], "Microsoft.Authorization/roleAssignments/read");
    let e = ev("arm-401-wrong-tenant-evolved-sts-wording");
    assert_eq!(e["token_tenant"], "f8cdef31-a31e-4b4a-93e4-5f571e91255a");
    assert_eq!(e["expected_tenant"], "6a5706f6-94a9-4f39-b715-20dafbbb3b76");
    let e = ev("arm-401-wrong-audience");
    assert_eq!(e["audience_found"], "https://datalake.azure.net/");
    assert_eq!(e["audiences_allowed"].as_array().unwrap().len(), 4);
    assert_eq!(
        ev("mi-imds-400-identity-not-found-with-headers")["server"],
        "IMDS/150.870.65.1015"
    );
    assert_eq!(
        ev("mi-appservice-400-unable-to-load-identity")["correlation_id"],
        "bf68136a-73f7-4ca4-9903-9ee8af3ab2ee"
    );
}

#[test]
fn corpus_no_token_ever_reaches_an_explanation() {
    let token_re = Regex::new(r#"["'](?:accessToken|access_token)["']\s*:\s*"([^"]+)""#).unwrap();
    let mut checked = 0;
    for (family, c) in all_cases() {
        let text = c.text();
        let secrets: Vec<String> = token_re
            .captures_iter(&text)
            .map(|m| m[1].to_string())
            .filter(|s| s.len() >= 8)
            .collect();
        let outputs = [
            serde_json::to_string(&run_family(family, &c)).unwrap(),
            serde_json::to_string(&explain(c.status, &c.headers(), &text)).unwrap(),
        ];
        for out in &outputs {
            assert!(!out.contains("eyJ0eXAi"), "{}: a JWT fragment leaked: {out}", c.id);
            for s in &secrets {
                checked += 1;
                assert!(!out.contains(s.as_str()), "{}: token value leaked", c.id);
            }
        }
    }
    assert!(
        checked >= 8,
        "the corpus token values were actually checked ({checked})"
    );
}

#[test]
fn corpus_az_and_mi_parsers() {
    for (_, c) in all_cases() {
        match c.id.as_str() {
            "cli-get-access-token-cognitiveservices-ok" => {
                let t = cli::parse_get_access_token(c.stdout()).unwrap();
                assert_eq!(t.expires_on, Some(1_700_005_846));
                assert!(matches!(t.expires_on_local, cli::AzExpiresOn::Local(_)));
                assert_eq!(t.token_type.as_deref(), Some("Bearer"));
                assert!(!format!("{t:?}").contains("eyJ"));
            }
            "cli-get-access-token-managed-identity-expireson-na" => {
                let t = cli::parse_get_access_token(c.stdout()).unwrap();
                assert_eq!(t.expires_on_local, cli::AzExpiresOn::NotAvailable);
                assert_eq!(t.expires_on, None);
            }
            "cli-account-show-user-ok" => {
                let a = cli::parse_account_show(c.stdout()).unwrap();
                assert_eq!(a.user_type, Some(cli::AzUserType::User));
                assert_eq!(a.tenant_id.as_deref(), Some("69c13822-3598-4d4d-aae2-f1420ad786ab"));
                assert_eq!(a.environment_name.as_deref(), Some("AzureCloud"));
                assert!(!a.is_managed_identity());
            }
            "cli-login-identity-account-ok" => {
                let a = cli::parse_account_show(c.stdout()).unwrap();
                assert_eq!(a.user_type, Some(cli::AzUserType::ServicePrincipal));
                assert!(a.is_managed_identity());
            }
            "mi-imds-200-doc-sample" => {
                let t = managed_identity::parse_mi_token(c.body()).unwrap();
                assert_eq!(
                    (t.expires_on, t.expires_in, t.not_before),
                    (Some(1_506_484_173), Some(3599), Some(1_506_480_273))
                );
            }
            "mi-appservice-2019-08-01-200" => {
                let t = managed_identity::parse_mi_token(c.body()).unwrap();
                assert_eq!((t.expires_on, t.expires_in), (Some(1_597_772_135), None));
            }
            _ => {}
        }
    }
}

#[test]
fn diagnosis_names_are_unique_kebab_and_serde_consistent() {
    let mut seen = BTreeSet::new();
    for d in Diagnosis::ALL {
        assert!(seen.insert(d.as_str()), "duplicate {d}");
        assert_eq!(
            serde_json::to_value(d).unwrap(),
            serde_json::Value::String(d.as_str().into())
        );
        assert!(d.as_str().chars().all(|c| c.is_ascii_lowercase() || c == '-'));
        assert!(!d.description().is_empty() && !d.description().contains('\n'));
    }
    assert_eq!(seen.len(), 21);
}

// ---------------------------------------------------------------------------------------
// Property tests: nothing panics on arbitrary input; outputs stay one-line and secret-free.

/// Fragments of real inputs, so random combinations reach deep code paths.
const FRAGMENTS: &[&str] = &[
    "AADSTS",
    "AADSTS700016",
    "AADSTS9999999999",
    "{\"error\":",
    "{\"error\":{\"code\":",
    "\"message\":",
    "'code': 'PermissionDenied'",
    "lacks the required data action",
    "The principal `",
    "` to perform `",
    "Error code: 401 - ",
    "Status: 4",
    "(AuthorizationFailed) ",
    "Code: ",
    "InvalidAuthenticationTokenTenant",
    "wrong issuer 'https://sts.windows.net/",
    "must match the tenant '",
    "az login",
    "'az' is not recognized",
    "Identity not found",
    "169.254.169.254",
    "timed out",
    "retry after 99999999999999999999 seconds",
    "Token tenant ",
    " does not match resource tenant",
    "\"accessToken\": \"",
    "\"expiresOn\": \"2024-02-30 ",
    "\"expires_on\": \"09/14/2017 00:00:00 PM +99:99\"",
    "data: ",
    "<html>",
    "\u{feff}",
    "\\r\\n",
    "é",
    "\"",
    "'",
    "}",
    "]",
    "error_codes\":[",
    "4294967296",
    "-1",
    "Trace ID: ",
    "allowed audiences '",
    "Retry-After",
];

fn fuzz_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![prop::sample::select(FRAGMENTS).prop_map(str::to_string), ".{0,12}"],
        0..12,
    )
    .prop_map(|parts| parts.concat())
}

fn fuzz_headers() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(
        (
            prop_oneof![
                Just("retry-after".to_string()),
                Just("retry-after-ms".to_string()),
                Just("policy-id".to_string()),
                Just("WWW-Authenticate".to_string()),
                Just("Server".to_string()),
                Just("content-type".to_string()),
                Just("apim-request-id".to_string()),
                ".{0,8}"
            ],
            prop_oneof![".{0,20}".boxed(), fuzz_text().boxed()],
        ),
        0..4,
    )
}

fn check_explanation(ex: &Explanation) {
    assert!(!ex.summary.contains('\n'));
    serde_json::to_string(ex).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn prop_parsers_never_panic(s in prop_oneof![any::<String>().boxed(), fuzz_text().boxed()]) {
        let _ = decode_claims(&s);
        let _ = entra::parse_entra_error(&s);
        let _ = entra::extract_aadsts(&s);
        let _ = cli::parse_get_access_token(&s);
        let _ = cli::parse_account_show(&s);
        let _ = cli::parse_expires_on_local(&s);
        let _ = managed_identity::parse_mi_token(&s);
        let _ = managed_identity::parse_mi_expires_on(&serde_json::Value::String(s.clone()));
        let once = redact(&s);
        prop_assert_eq!(redact(&once), once.clone(), "redacting twice changed {:?}", s);
        let _ = looks_like_secret(&s);
        check_explanation(&cli::classify_az(&s, &s, None));
        check_explanation(&managed_identity::classify_mi_text(&s, Some(7)));
    }

    #[test]
    fn prop_http_classifiers_never_panic(status in any::<u16>(), headers in fuzz_headers(), body in fuzz_text()) {
        check_explanation(&dataplane::classify_response(status, &headers, &body).explanation);
        check_explanation(&arm::classify_arm_response(status, &headers, &body).explanation);
        check_explanation(&managed_identity::classify_mi_response(status, &headers, &body).explanation);
        check_explanation(&entra::explain_token_response(status, &headers, &body, entra::EntraContext::Unknown));
        check_explanation(&explain(Some(status), &headers, &body));
        check_explanation(&explain(None, &headers, &body));
    }

    #[test]
    fn prop_jwt_payloads_never_panic(payload in prop::collection::vec(any::<u8>(), 0..64), json in fuzz_text(), now in any::<i64>(), server in any::<Option<i64>>()) {
        use base64::Engine;
        let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = e.encode(br#"{"alg":"none"}"#);
        for p in [e.encode(&payload), e.encode(json.as_bytes())] {
            if let Ok(c) = decode_claims(&format!("{header}.{p}.sig")) {
                let exp = ClaimExpectations { server_date_unix: server, expected_tenant: Some("t".into()), ..ClaimExpectations::azure_openai() };
                for problem in judge_claims(&c, now, &exp) {
                    let _ = problem.describe();
                }
            }
        }
        let numbers = format!(r#"{{"aud":"https://cognitiveservices.azure.com","exp":{now},"nbf":{},"iat":1e308}}"#, now.wrapping_neg());
        let c = decode_claims(&format!("{header}.{}.sig", e.encode(numbers.as_bytes()))).unwrap();
        prop_assert_eq!(c.exp, Some(now));
        let _ = judge_claims(&c, now, &ClaimExpectations { server_date_unix: server, ..ClaimExpectations::azure_openai() });
    }

    #[test]
    fn prop_a_pasted_jwt_never_comes_back(prefix in fuzz_text(), suffix in fuzz_text(), seed in "[A-Za-z0-9_-]{24,40}") {
        let jwt = format!("eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJ{seed}.{seed}sig");
        let text = format!("{prefix}{jwt}{suffix}");
        for ex in [explain(None, &[], &text), explain(Some(401), &[], &text), cli::classify_az(&text, &text, Some(1)), managed_identity::classify_mi_text(&text, None)] {
            let out = serde_json::to_string(&ex).unwrap();
            prop_assert!(!out.contains(&format!("eyJ{seed}")), "payload leaked: {}", out);
        }
    }
}
