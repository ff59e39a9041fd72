//! `explain` against every row of the five azure-identity TROUBLESHOOTING.md tables
//! (`fixtures/corpus/sdk-troubleshooting.md`), each row's error text embedded in the exception
//! text its SDK really prints. A row counts only when `explain` names a specific catalogue code
//! (not a catch-all); at least 95% must, and the misses are listed.

use crate::codes;
use crate::diagnose::explain;
use regex::Regex;
use std::sync::LazyLock;

const FIXTURE: &str = include_str!("../../../../fixtures/corpus/sdk-troubleshooting.md");

/// Codes that say "recognised the family, not the cause": they do not count as a diagnosis.
const CATCH_ALL: [&str; 4] = [
    "token-entra-error",
    "token-mi-failed",
    "cli-failed",
    "probe-unrecognized",
];

/// The chain's own aggregate message is a diagnosis only for the rows that ARE that message;
/// for any other row it means the row's own message went unrecognised.
const AGGREGATE: &str = "chain-no-credential";

fn is_aggregate_row(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("failed to retrieve a token from the included credentials") || t.contains("failed to acquire a token")
}

#[derive(Debug, Clone)]
struct Row {
    sdk: &'static str,
    /// e.g. "Python 12" or "Go legacy".
    id: String,
    /// The credential class the section is about, in the SDK's spelling.
    credential: String,
    /// The error text as the doc prints it (markdown and annotations stripped).
    text: String,
}

const SDKS: [(&str, &str); 5] = [
    ("## Python", "Python"),
    ("## JavaScript", "JavaScript"),
    ("## .NET", ".NET"),
    ("## Java ", "Java"),
    ("## Go ", "Go"),
];

static CRED_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"([A-Z][A-Za-z]*Credential)\b").unwrap());
static ROW_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(?:(\d+)\.|-)\s+(.*)$").unwrap());
static ANNOTATION_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\s{2,}\(.*\)\s*$").unwrap());
static LEAD_PAREN_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\([^)]*\)\s*").unwrap());
static RAISED_WITH_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"raised with message\.?\s*"(.+)"\s*$"#).unwrap());
static AADSTS_ROW_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^AADSTS(\d+)\s+—\s+(.*)$").unwrap());

/// The credential a section heading is about, when it names one by class or by words.
fn credential_of(heading: &str, sdk: &str) -> String {
    if let Some(c) = CRED_RE.captures(heading) {
        return c[1].to_string();
    }
    let h = heading.to_ascii_lowercase();
    let by_words = [
        ("managed identity", "ManagedIdentityCredential"),
        ("azure cli", "AzureCliCredential"),
        ("azure powershell", "AzurePowerShellCredential"),
        ("visual studio code", "VisualStudioCodeCredential"),
        ("environment credential", "EnvironmentCredential"),
        ("client secret", "ClientSecretCredential"),
        ("client certificate", "ClientCertificateCredential"),
        ("client assertion", "ClientAssertionCredential"),
        ("service principal", "ClientSecretCredential"),
        ("web account manager", "InteractiveBrowserCredential"),
    ];
    let c = by_words
        .iter()
        .find(|(w, _)| h.contains(w))
        .map(|(_, c)| *c)
        .unwrap_or("DefaultAzureCredential");
    // Go spells the CLI credentials with upper-case CLI.
    if sdk == "Go" {
        c.replace("Cli", "CLI")
    } else {
        c.to_string()
    }
}

/// The error text of one row: markdown, the doc's own notes, and "raised with message" stripped.
fn row_text(raw: &str) -> Vec<String> {
    let t = raw.replace('`', "");
    let t = ANNOTATION_RE.replace(&t, "").to_string();
    let t = LEAD_PAREN_RE.replace(&t, "").trim().to_string();
    let t = match RAISED_WITH_RE.captures(&t) {
        Some(c) => c[1].to_string(),
        None => t,
    };
    let t = match AADSTS_ROW_RE.captures(&t) {
        Some(c) => format!("AADSTS{}: {}", &c[1], &c[2]),
        None => t,
    };
    t.split("  OR  ")
        .map(|s| s.trim().trim_matches('"').to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn parse_rows() -> Vec<Row> {
    let mut rows = Vec::new();
    let (mut sdk, mut heading) = (None::<&'static str>, String::new());
    for line in FIXTURE.lines() {
        if line.starts_with("## ") {
            sdk = SDKS.iter().find(|(p, _)| line.starts_with(p)).map(|(_, s)| *s);
            continue;
        }
        if let Some(h) = line.strip_prefix("### ") {
            heading = h.to_string();
            continue;
        }
        let (Some(sdk), Some(c)) = (sdk, ROW_RE.captures(line)) else {
            continue;
        };
        let number = c.get(1).map(|m| m.as_str().to_string()).unwrap_or_else(|| "-".into());
        for (i, text) in row_text(&c[2]).into_iter().enumerate() {
            rows.push(Row {
                sdk,
                id: format!("{sdk} {number}{} [{}]", if i > 0 { "b" } else { "" }, heading),
                credential: credential_of(&heading, sdk),
                text,
            });
        }
    }
    rows
}

/// The exception texts each SDK really prints around a credential's message.
fn wrappers(row: &Row) -> Vec<String> {
    let (c, m) = (&row.credential, &row.text);
    match row.sdk {
        "Python" => vec![
            format!("azure.identity.CredentialUnavailableError: {m}"),
            format!(
                "azure.core.exceptions.ClientAuthenticationError: DefaultAzureCredential failed to retrieve a token \
                 from the included credentials.\nAttempted credentials:\n\t{c}: {m}\nTo mitigate this issue, please \
                 refer to the troubleshooting guidelines here at https://aka.ms/azsdk/python/identity/defaultazurecredential/troubleshoot."
            ),
        ],
        "JavaScript" => vec![
            format!("CredentialUnavailableError: {m}"),
            format!(
                "AggregateAuthenticationError: ChainedTokenCredential authentication failed.\nCredentialUnavailableError: {c}: {m}"
            ),
        ],
        ".NET" => vec![
            format!("Azure.Identity.AuthenticationFailedException: {c} authentication failed: {m}"),
            format!(
                "Azure.Identity.CredentialUnavailableException: DefaultAzureCredential failed to retrieve a token from \
                 the included credentials. See the troubleshooting guide for more information. https://aka.ms/azsdk/net/identity/defaultazurecredential/troubleshoot\n- {c}: {m}"
            ),
        ],
        "Java" => vec![
            format!("com.azure.identity.CredentialUnavailableException: {m}"),
            format!(
                "com.azure.core.exception.ClientAuthenticationException: {c} authentication failed. Error Details: {m}"
            ),
        ],
        _ => vec![
            format!("{c}: {m}"),
            format!("DefaultAzureCredential: failed to acquire a token.\nAttempted credentials:\n\t{c}: {m}"),
        ],
    }
}

fn specific_code(row: &Row, text: &str) -> Option<&'static str> {
    let ex = explain(None, &[], text);
    let code = ex.code?;
    let specific = !CATCH_ALL.contains(&code)
        && ex.diagnosis != crate::diagnose::Diagnosis::Unknown
        && (code != AGGREGATE || is_aggregate_row(&row.text));
    if std::env::var_os("SHOW_ROWS").is_some() {
        eprintln!("{code:32} {} | {}", row.id, row.text);
    }
    specific.then_some(code)
}

#[test]
fn the_fixture_parses_into_every_sdks_rows() {
    let rows = parse_rows();
    for sdk in ["Python", "JavaScript", ".NET", "Java", "Go"] {
        let n = rows.iter().filter(|r| r.sdk == sdk).count();
        assert!(n >= 30, "{sdk}: only {n} rows parsed");
    }
    assert!(rows.iter().all(|r| !r.text.contains('`') && !r.text.is_empty()));
    assert!(rows.iter().any(|r| r.text.starts_with("AADSTS7000215: ")));
}

#[test]
fn explain_names_a_specific_code_for_95_percent_of_the_troubleshooting_rows() {
    let rows = parse_rows();
    let mut total = 0;
    let mut misses = Vec::new();
    for row in &rows {
        for text in wrappers(row) {
            total += 1;
            match specific_code(row, &text) {
                Some(code) => assert!(codes::find(code).is_some(), "{code} is not in the catalogue"),
                None => misses.push(format!("{}: {}", row.id, row.text)),
            }
        }
    }
    let hit = total - misses.len();
    let listing = misses.join("\n  ");
    assert!(hit * 100 >= total * 95, "{hit}/{total} specific; misses:\n  {listing}");
    eprintln!("{hit}/{total} rows×wrappers named a specific code; misses:\n  {listing}");
}

#[test]
fn the_same_condition_gets_the_same_code_in_every_sdk() {
    for (texts, want) in [
        (
            &[
                "azure.identity.CredentialUnavailableError: Azure CLI not installed",
                "AzureCLICredential: Azure CLI not found on path",
            ][..],
            "cli-not-installed",
        ),
        (
            &[
                "CredentialUnavailableError: Please run 'azd auth login' to set up account",
                "Azure.Identity.CredentialUnavailableException: Please run 'azd login' to set up account",
                "AzureDeveloperCLICredential: Please run \"azd auth login\"",
            ][..],
            "azd-not-logged-in",
        ),
        (
            &[
                "ClientSecretCredential: AADSTS7000215: Invalid client secret provided.",
                "Azure.Identity.AuthenticationFailedException: ClientSecretCredential authentication failed: AADSTS7000215: Invalid client secret provided.",
            ][..],
            "aadsts-7000215",
        ),
        (
            &[
                "The requested identity hasn't been assigned to this resource.",
                "ManagedIdentityCredential: The requested identity hasn’t been assigned to this resource.",
            ][..],
            "token-mi-identity-not-found",
        ),
    ] {
        for t in texts {
            assert_eq!(explain(None, &[], t).code, Some(want), "{t}");
        }
    }
}
