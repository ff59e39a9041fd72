//! Property tests for the parsers that read outside input and had none that reach their
//! insides: endpoint URLs (`judge_shape`), the expiry formats of `az` and the managed-identity
//! endpoints, ARM error bodies, and RBAC action patterns. Inputs are built in the shape the
//! parsers expect (dates with out-of-range fields, ARM bodies with real codes, URLs of every
//! scheme), where arbitrary strings would stop at the first regex. No input may panic; where a
//! parser has a checkable answer, the answer is checked too.

use super::arm::{ArmErrorKind, classify_arm_response};
use super::cli::parse_expires_on_local;
use super::managed_identity::parse_mi_expires_on;
use super::rbac::pattern_matches;
use crate::checks::endpoint::{HostKind, judge_shape};
use crate::context::Cloud;
use proptest::prelude::*;
use serde_json::{Value, json};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---- endpoint URLs ----------------------------------------------------------------------

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,20}".prop_map(|n| format!("{n}.openai.azure.com")),
        "[a-z][a-z0-9-]{0,20}".prop_map(|n| format!("{n}.cognitiveservices.azure.com")),
        "[a-z][a-z0-9-]{0,20}".prop_map(|n| format!("{n}.openai.azure.us")),
        "[a-z][a-z0-9-]{0,20}".prop_map(|n| format!("{n}.openai.azure.cn")),
        "[a-z]{2,12}[0-9]?".prop_map(|r| format!("{r}.api.cognitive.microsoft.com")),
        Just("api.openai.com".to_string()),
        Just(".api.cognitive.microsoft.com".to_string()),
        Just("openai.azure.com".to_string()),
        Just("localhost".to_string()),
        Just("127.0.0.1".to_string()),
        Just("[::1]".to_string()),
        Just("[fe80::1%25eth0]".to_string()),
        Just("xn--nxasmq6b.openai.azure.com".to_string()),
        "[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}",
        "\\PC{0,24}",
        "[A-Za-z0-9._~%-]{0,40}",
    ]
}

fn url_text() -> impl Strategy<Value = String> {
    (
        prop_oneof![
            Just("https"),
            Just("http"),
            Just("HTTPS"),
            Just("ftp"),
            Just("file"),
            Just("mailto"),
            Just("data"),
            Just("x-custom")
        ],
        prop_oneof![Just("://"), Just(":"), Just(":///"), Just("://user:pw@")],
        host(),
        prop::option::of(0u32..70_000),
        prop_oneof![
            Just(String::new()),
            Just("/".to_string()),
            Just("/openai/deployments/gpt-4o/chat/completions".to_string()),
            "(/[\\PC&&[^?#]]{0,10}){0,4}"
        ],
        prop::option::of("[\\PC]{0,20}"),
        prop::option::of("[\\PC]{0,10}"),
    )
        .prop_map(|(scheme, sep, host, port, path, query, fragment)| {
            let mut s = format!("{scheme}{sep}{host}");
            if let Some(p) = port {
                s.push_str(&format!(":{p}"));
            }
            s.push_str(&path);
            if let Some(q) = query {
                s.push_str(&format!("?{q}"));
            }
            if let Some(f) = fragment {
                s.push_str(&format!("#{f}"));
            }
            s
        })
}

fn cloud() -> impl Strategy<Value = Cloud> {
    prop::sample::select(vec![
        Cloud::AzureCloud,
        Cloud::AzureUsGovernment,
        Cloud::AzureChinaCloud,
    ])
}

fn has(shape: &crate::checks::endpoint::Shape, code: &str) -> bool {
    shape.findings.iter().any(|f| f.code.id == code)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_url_gets_a_shape(text in prop_oneof![url_text().boxed(), any::<String>().boxed()], cloud in cloud()) {
        let Ok(url) = url::Url::parse(&text) else { return Ok(()); };
        let shape = judge_shape(&url, cloud);
        prop_assert!(shape.base.query().is_none() && shape.base.fragment().is_none());
        prop_assert!(shape.base.password().is_none());
        prop_assert_eq!(&shape.host, &shape.host.to_ascii_lowercase());
        for f in &shape.findings {
            prop_assert!(!f.message.is_empty());
            serde_json::to_string(f).unwrap();
        }
        let pathy = !url.path().trim_end_matches('/').is_empty() || url.query().is_some();
        prop_assert_eq!(has(&shape, "endpoint-has-path"), pathy, "{}", url);
        if url.scheme() == "http" && shape.kind != HostKind::Loopback {
            prop_assert!(has(&shape, "endpoint-insecure-http"), "{}", url);
        }
    }

    #[test]
    fn a_bare_custom_subdomain_is_clean(name in "[a-z][a-z0-9-]{0,20}[a-z0-9]") {
        let url = url::Url::parse(&format!("https://{name}.openai.azure.com/")).unwrap();
        let shape = judge_shape(&url, Cloud::AzureCloud);
        prop_assert_eq!(shape.kind, HostKind::CustomSubdomain);
        prop_assert_eq!(shape.subdomain.as_deref(), Some(name.as_str()));
        prop_assert!(shape.findings.is_empty(), "{:?}", shape.findings);
    }
}

// ---- expiry formats ---------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    /// `az`'s `expiresOn` (local time, no zone): every field out of range somewhere.
    #[test]
    fn az_local_times_parse_exactly_when_they_are_dates(
        y in 0u32..10_000, mo in 0u32..100, d in 0u32..100, h in 0u32..100, mi in 0u32..100, s in 0u32..100,
        frac in prop::option::of("[0-9]{1,9}"), sep in prop_oneof![Just(' '), Just('T')],
    ) {
        let text = format!("{y:04}-{mo:02}-{d:02}{sep}{h:02}:{mi:02}:{s:02}{}", frac.as_ref().map(|f| format!(".{f}")).unwrap_or_default());
        let parsed = parse_expires_on_local(&text);
        let date = time::Month::try_from(mo as u8)
            .ok()
            .and_then(|m| time::Date::from_calendar_date(y as i32, m, d as u8).ok());
        let clock = time::Time::from_hms(h as u8, mi as u8, s as u8).ok();
        prop_assert_eq!(parsed.is_some(), date.is_some() && clock.is_some(), "{}", text);
        if let Some(dt) = parsed {
            prop_assert_eq!((dt.year() as u32, dt.month() as u32, dt.day() as u32), (y, mo, d));
            prop_assert_eq!((dt.hour() as u32, dt.minute() as u32, dt.second() as u32), (h, mi, s));
            if let Some(f) = &frac {
                let want: u32 = format!("{f:0<9}").parse().unwrap();
                prop_assert_eq!(dt.nanosecond(), want);
            }
        }
    }

    #[test]
    fn az_local_times_never_panic(s in "[0-9: T.-]{0,40}") {
        let _ = parse_expires_on_local(&s);
    }

    /// Managed-identity `expires_on`: epoch seconds as number or string, exactly.
    #[test]
    fn mi_epoch_seconds_round_trip(n in any::<i64>()) {
        prop_assert_eq!(parse_mi_expires_on(&json!(n)), Some(n));
        prop_assert_eq!(parse_mi_expires_on(&json!(n.to_string())), Some(n));
        prop_assert_eq!(parse_mi_expires_on(&json!(format!(" {n} "))), Some(n));
    }

    #[test]
    fn mi_numbers_of_any_size_never_panic(f in any::<f64>(), u in any::<u64>()) {
        if let Some(n) = serde_json::Number::from_f64(f) {
            let _ = parse_mi_expires_on(&Value::Number(n));
        }
        let _ = parse_mi_expires_on(&json!(u));
        let _ = parse_mi_expires_on(&json!(f.to_string()));
    }

    /// The 2017-09-01 form, `M/D/YYYY h:mm:ss [AM|PM] [+hh:mm]`, with fields out of range.
    #[test]
    fn mi_date_times_never_panic(
        mo in 0u32..100, d in 0u32..100, y in 0u32..10_000, h in 0u32..100, mi in 0u32..100, s in 0u32..100,
        ampm in prop::option::of(prop_oneof![Just("AM"), Just("PM"), Just("am"), Just("pM")]),
        offset in prop::option::of((prop_oneof![Just('+'), Just('-')], 0u32..100, 0u32..100, any::<bool>())),
    ) {
        let mut text = format!("{mo}/{d}/{y:04} {h}:{mi:02}:{s:02}");
        if let Some(p) = ampm {
            text.push_str(&format!(" {p}"));
        }
        if let Some((sign, oh, om, colon)) = offset {
            text.push_str(&format!(" {sign}{oh:02}{}{om:02}", if colon { ":" } else { "" }));
        }
        if let Some(t) = parse_mi_expires_on(&json!(text)) {
            // Within the years the format can name, give or take the offset.
            prop_assert!((-62_200_000_000..=253_500_000_000).contains(&t), "{} → {}", text, t);
        }
    }

    #[test]
    fn mi_any_json_never_panics(v in json_value()) {
        let _ = parse_mi_expires_on(&v);
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)),
        "\\PC{0,30}".prop_map(Value::String),
        "[0-9/: .APM+-]{0,30}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

// ---- ARM error bodies -------------------------------------------------------------------

const ARM_CODES: &[&str] = &[
    "AuthorizationFailed",
    "InvalidAuthenticationTokenTenant",
    "InvalidAuthenticationTokenAudience",
    "InvalidAuthenticationToken",
    "ExpiredAuthenticationToken",
    "AuthenticationFailed",
    "MissingApiVersionParameter",
    "ResourceNotFound",
    "SubscriptionNotFound",
    "TooManyRequests",
];

/// Fragments of real ARM messages, so the regexes inside get exercised.
fn arm_message() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("The client 'alice@contoso.com' with object id '053a0abe-0b3e-40a3-85c8-83f2af887382' ".to_string()),
            Just("does not have authorization to perform action 'Microsoft.Authorization/roleAssignments/read' ".to_string()),
            Just("over scope '/subscriptions/s/providers/Microsoft.Authorization' ".to_string()),
            Just("The access token is from the wrong issuer 'https://sts.windows.net/t1/'. ".to_string()),
            Just("It must match the tenant 'https://sts.windows.net/t2/' ".to_string()),
            Just("The access token has been obtained for wrong audience or resource 'x'. ".to_string()),
            Just("It should exactly match with one of the allowed audiences 'https://management.core.windows.net/','https://management.azure.com/'.".to_string()),
            Just("header is missing".to_string()),
            "\\PC{0,20}",
            "['/ ]{0,6}",
        ],
        0..6,
    )
    .prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arm_bodies_with_known_codes(
        status in prop_oneof![Just(400u16), Just(401), Just(403), Just(404), Just(429), 100u16..600],
        code in prop::sample::select(ARM_CODES),
        upper in any::<bool>(),
        message in arm_message(),
        www in prop::option::of("\\PC{0,40}"),
    ) {
        let code_text = if upper { code.to_ascii_uppercase() } else { code.to_string() };
        let body = json!({"error": {"code": code_text, "message": message}}).to_string();
        let headers: Vec<(String, String)> = www.into_iter().map(|w| ("WWW-Authenticate".to_string(), w)).collect();
        let v = classify_arm_response(status, &headers, &body);
        prop_assert!(!v.explanation.summary.contains('\n'));
        serde_json::to_string(&v.explanation).unwrap();
        prop_assert!(v.kind != ArmErrorKind::Unrecognized && v.kind != ArmErrorKind::Ok, "{:?}", v.kind);
        if code == "AuthorizationFailed" {
            let is_authz = matches!(v.kind, ArmErrorKind::AuthorizationFailed { .. });
            prop_assert!(is_authz, "{:?}", v.kind);
        }
    }

    #[test]
    fn arm_bodies_of_any_shape(status in any::<u16>(), body in json_value(), raw in "\\PC{0,60}") {
        for text in [body.to_string(), json!({"error": body}).to_string(), raw] {
            let v = classify_arm_response(status, &[], &text);
            prop_assert!(!v.explanation.summary.contains('\n'));
        }
    }
}

// ---- RBAC action patterns ---------------------------------------------------------------

fn action() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action".to_string()),
        Just("Microsoft.CognitiveServices/accounts/OpenAI/*".to_string()),
        "[A-Za-z0-9./_-]{0,40}",
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn patterns_without_wildcards_match_themselves_only(a in action(), b in action()) {
        prop_assume!(!a.contains('*') && !b.contains('*'));
        prop_assert!(pattern_matches(&a, &a));
        prop_assert!(pattern_matches(&a.to_ascii_uppercase(), &a));
        prop_assert_eq!(pattern_matches(&a, &b), a.eq_ignore_ascii_case(&b));
    }

    #[test]
    fn a_trailing_star_matches_every_continuation(prefix in "[A-Za-z0-9./_-]{0,30}", rest in "[A-Za-z0-9./_*-]{0,30}") {
        let action = format!("{prefix}{rest}");
        let (head, tail) = (format!("{prefix}*"), format!("*{rest}"));
        prop_assert!(pattern_matches("*", &action));
        prop_assert!(pattern_matches(&head, &action), "{} vs {}", head, action);
        prop_assert!(pattern_matches(&tail, &action), "{} vs {}", tail, action);
    }

    /// Many stars against a long action: the matcher backtracks linearly, not exponentially.
    #[test]
    fn star_heavy_patterns_finish(stars in "(a?\\*){1,40}b?", n in 0usize..400) {
        let action = "a".repeat(n);
        let started = std::time::Instant::now();
        let _ = pattern_matches(&stars, &action);
        prop_assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn any_text_never_panics(p in "\\PC{0,40}", a in "\\PC{0,60}") {
        let _ = pattern_matches(&p, &a);
        let _ = pattern_matches(&p, &p);
    }
}
