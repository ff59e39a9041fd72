//! Property tests for the parsers that read outside input and had none that reach their
//! insides: endpoint URLs (`judge_shape`), the expiry formats of `az` and the managed-identity
//! endpoints, ARM error bodies, and RBAC action patterns. Inputs are built in the shape the
//! parsers expect (dates with out-of-range fields, ARM bodies with real codes, URLs of every
//! scheme), where arbitrary strings would stop at the first regex. No input may panic, and every
//! property checks an answer: the date parsers against the `time` crate, the RBAC matcher against
//! a plain dynamic-programming matcher, `redact` for idempotence and for never echoing a secret.

use super::arm::{ArmErrorKind, classify_arm_response};
use super::cli::parse_expires_on_local;
use super::managed_identity::parse_mi_expires_on;
use super::rbac::pattern_matches;
use super::redact::redact;
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

    /// `az`'s `expiresOn` (local time, no zone): fields mostly in range (so most cases reach the
    /// field checks), sometimes out of range.
    #[test]
    fn az_local_times_parse_exactly_when_they_are_dates(
        y in 0u32..10_000, mo in field(1..13, 100), d in field(1..32, 100), h in field(0..24, 100),
        mi in field(0..60, 100), s in field(0..60, 100),
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

    /// Digit runs of every width in every field: exactly what the `time` crate's own parser
    /// reads with the same description (4-digit year, 2-digit fields, 1–9 fraction digits).
    #[test]
    fn az_local_times_agree_with_the_time_crate(
        fields in (field(1..13, 100), field(1..32, 100), field(0..24, 100), field(0..60, 100), field(0..60, 100))
            .prop_map(|(mo, d, h, mi, s)| [mo, d, h, mi, s].map(|n| format!("{n:02}"))),
        odd_width in prop::option::of((0usize..5, "[0-9]{1,3}")),
        year in prop_oneof![8 => "[12][0-9]{3}", 1 => "[0-9]{1,5}"],
        sep in prop_oneof![4 => Just(" "), 4 => Just("T"), 1 => Just("  "), 1 => Just("t"), 1 => Just("")],
        frac in prop::option::of("[0-9]{1,9}"),
    ) {
        let mut fields = fields;
        if let Some((i, digits)) = odd_width {
            fields[i] = digits; // one field of another width
        }
        let text = format!(
            "{year}-{}-{}{sep}{}:{}:{}{}",
            fields[0], fields[1], fields[2], fields[3], fields[4],
            frac.as_ref().map(|f| format!(".{f}")).unwrap_or_default()
        );
        let description = time::macros::format_description!(
            version = 2,
            "[year padding:zero repr:full sign:automatic]-[month]-[day][first [ ][T]][hour]:[minute]:[second][optional [.[subsecond digits:1+]]]"
        );
        let oracle = time::PrimitiveDateTime::parse(&text, description).ok();
        prop_assert_eq!(parse_expires_on_local(&text), oracle, "{}", text);
    }

    /// Managed-identity `expires_on`: epoch seconds as number or string, exactly.
    #[test]
    fn mi_epoch_seconds_round_trip(n in any::<i64>()) {
        prop_assert_eq!(parse_mi_expires_on(&json!(n)), Some(n));
        prop_assert_eq!(parse_mi_expires_on(&json!(n.to_string())), Some(n));
        prop_assert_eq!(parse_mi_expires_on(&json!(format!(" {n} "))), Some(n));
    }

    /// Numbers of any size: integers exactly (saturating past i64), floats truncated, and a
    /// float's text only when it is an integer.
    #[test]
    fn mi_numbers_of_any_size(f in any::<f64>(), u in any::<u64>()) {
        if let Some(n) = serde_json::Number::from_f64(f) {
            prop_assert_eq!(parse_mi_expires_on(&Value::Number(n)), Some(f as i64));
        }
        prop_assert_eq!(parse_mi_expires_on(&json!(u)), Some(i64::try_from(u).unwrap_or(i64::MAX)));
        let text = f.to_string();
        prop_assert_eq!(parse_mi_expires_on(&json!(text)), text.parse::<i64>().ok(), "{}", text);
    }

    /// The 2017-09-01 form, `M/D/YYYY h:mm:ss [AM|PM] [+hh:mm]`: fields mostly in range, so
    /// most cases are real dates, compared with the instant the `time` crate computes.
    #[test]
    fn mi_date_times_agree_with_the_time_crate(
        mo in field(1..13, 100), d in field(1..32, 100), y in field(1970..2200, 10_000),
        h in field(0..24, 100), mi in field(0..60, 100), s in field(0..60, 100),
        ampm in prop::option::of(prop_oneof![Just("AM"), Just("PM"), Just("am"), Just("pM")]),
        offset in prop::option::of((prop_oneof![Just('+'), Just('-')], field(0..15, 100), field(0..60, 100), any::<bool>())),
    ) {
        let mut text = format!("{mo}/{d}/{y:04} {h}:{mi:02}:{s:02}");
        if let Some(p) = ampm {
            text.push_str(&format!(" {p}"));
        }
        if let Some((sign, oh, om, colon)) = offset {
            text.push_str(&format!(" {sign}{oh:02}{}{om:02}", if colon { ":" } else { "" }));
        }
        let hour = match ampm.map(str::to_ascii_uppercase).as_deref() {
            Some("PM") if h < 12 => h + 12,
            Some("AM") if h == 12 => 0,
            _ => h,
        };
        let utc_offset = match offset {
            None => Some(time::UtcOffset::UTC),
            Some((sign, oh, om, _)) => {
                let sign = if sign == '-' { -1 } else { 1 };
                time::UtcOffset::from_hms(sign * oh as i8, sign * om as i8, 0).ok()
            }
        };
        let expected = (|| {
            let date = time::Date::from_calendar_date(y as i32, time::Month::try_from(mo as u8).ok()?, d as u8).ok()?;
            let clock = time::Time::from_hms(hour as u8, mi as u8, s as u8).ok()?;
            Some(time::PrimitiveDateTime::new(date, clock).assume_offset(utc_offset?).unix_timestamp())
        })();
        prop_assert_eq!(parse_mi_expires_on(&json!(text)), expected, "{}", text);
    }

    /// Any JSON: only numbers and strings can be an expiry; a number is read as above.
    #[test]
    fn mi_any_json_is_read_only_from_numbers_and_strings(v in json_value()) {
        let parsed = parse_mi_expires_on(&v);
        match &v {
            Value::Number(n) => prop_assert_eq!(parsed, n.as_i64().or(n.as_f64().map(|f| f as i64))),
            Value::String(_) => {}
            _ => prop_assert_eq!(parsed, None, "{}", v),
        }
    }
}

/// Mostly a value in `valid`, sometimes anything below `max` (out-of-range fields).
fn field(valid: std::ops::Range<u32>, max: u32) -> impl Strategy<Value = u32> {
    prop_oneof![9 => valid, 1 => 0..max]
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

/// Actions without a wildcard, generated so (no case is rejected or wasted).
fn literal_action() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action".to_string()),
        Just("microsoft.cognitiveservices/accounts/openai/deployments/embeddings/action".to_string()),
        "[A-Za-z0-9./_-]{0,40}",
    ]
}

/// The textbook matcher, for comparison: `*` matches any run (also empty), everything else
/// itself, case-insensitively, surrounding whitespace ignored — as ARM compares actions.
fn reference_matches(pattern: &str, action: &str) -> bool {
    let p: Vec<char> = pattern.trim().chars().flat_map(char::to_lowercase).collect();
    let a: Vec<char> = action.trim().chars().flat_map(char::to_lowercase).collect();
    // m[i][j]: the first i pattern characters match the first j action characters.
    let mut m = vec![vec![false; a.len() + 1]; p.len() + 1];
    m[0][0] = true;
    for i in 1..=p.len() {
        for j in 0..=a.len() {
            m[i][j] = if p[i - 1] == '*' {
                m[i - 1][j] || (j > 0 && m[i][j - 1])
            } else {
                j > 0 && m[i - 1][j - 1] && p[i - 1] == a[j - 1]
            };
        }
    }
    m[p.len()][a.len()]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn patterns_without_wildcards_match_themselves_only(a in literal_action(), b in literal_action()) {
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

    /// Many stars against a long action: the right answer, and linear backtracking (not
    /// exponential).
    #[test]
    fn star_heavy_patterns_finish(stars in "(a?\\*){1,40}b?", n in 0usize..400) {
        let action = "a".repeat(n);
        let started = std::time::Instant::now();
        let matched = pattern_matches(&stars, &action);
        prop_assert!(started.elapsed() < std::time::Duration::from_secs(1));
        prop_assert_eq!(matched, reference_matches(&stars, &action), "{} vs a×{}", stars, n);
    }

    /// Any text: every pattern matches itself, and the answer is the reference matcher's.
    #[test]
    fn any_text_matches_like_the_reference(
        p in prop_oneof!["\\PC{0,40}", "[ab*]{0,10}"],
        a in prop_oneof!["\\PC{0,60}", action(), "[ab*/]{0,12}"],
    ) {
        prop_assert!(pattern_matches(&p, &p), "{:?}", p);
        prop_assert_eq!(pattern_matches(&p, &a), reference_matches(&p, &a), "{:?} vs {:?}", p, a);
        let star_pattern: String = a.chars().map(|c| if c == '/' { '*' } else { c }).collect();
        prop_assert_eq!(pattern_matches(&star_pattern, &a), reference_matches(&star_pattern, &a));
    }
}

// ---- redaction --------------------------------------------------------------------------

/// Secrets of every shape `redact` promises to hide: JWTs, API keys, long base64 secrets,
/// bearer credentials and `key=value` / JSON credentials.
fn secret() -> impl Strategy<Value = (String, String)> {
    prop_oneof![
        ("[A-Za-z0-9_-]{10,60}", "[A-Za-z0-9_-]{0,40}", "[A-Za-z0-9_-]{20,60}").prop_map(|(h, p, s)| {
            let t = format!("eyJ{h}.{p}.{s}");
            (t.clone(), t)
        }),
        "[0-9a-f]{32}".prop_map(|k| (k.clone(), k)),
        ("[A-Za-z0-9]{40,60}", prop_oneof![Just("="), Just("=="), Just("+x")]).prop_map(|(b, end)| {
            let t = format!("Aa0{b}{end}");
            (t.clone(), t)
        }),
        "[A-Za-z0-9._~-]{12,40}".prop_map(|c| (format!("Bearer {c}"), c)),
        (
            prop::sample::select(vec![
                "access_token",
                "client_secret",
                "api-key",
                "password",
                "refresh_token"
            ]),
            prop_oneof![Just(": "), Just("="), Just("\":\"")],
            "[A-Za-z0-9._~-]{8,40}"
        )
            .prop_map(|(k, sep, v)| (format!("\"{k}{sep}{v}\""), v)),
    ]
}

proptest! {
    #![proptest_config(config())]

    /// A secret inside any text never comes back, and redacting twice changes nothing.
    #[test]
    fn redact_hides_secrets_and_is_idempotent(
        prefix in "\\PC{0,30}", (text, secret) in secret(), suffix in "\\PC{0,30}",
        pad in prop::sample::select(vec![" ", "\n", ", ", "\t", "-", "/", ":", "'", "\"", "="]),
    ) {
        let input = format!("{prefix}{pad}{text}{pad}{suffix}");
        let once = redact(&input);
        prop_assert!(!once.contains(&secret), "{:?} → {:?}", input, once);
        prop_assert_eq!(redact(&once), once.clone(), "{:?}", input);
    }

    #[test]
    fn redact_of_any_text_is_idempotent(s in "\\PC{0,80}") {
        let once = redact(&s);
        prop_assert_eq!(redact(&once), once);
    }
}
