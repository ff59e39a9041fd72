//! `aoai-doctor lab az …`: the Azure CLI stand-in that the lab's `az` shim runs.
//!
//! It behaves like Azure CLI 2.91.0 for what credential chains and the doctor use:
//! `account get-access-token` (`--resource`/`--scope`/`--tenant`/`--subscription`,
//! `-o json|tsv`, `--query FIELD`), `account show`, `account list`, `version`/`--version`.
//! Tokens come from the lab's Entra exactly as the real CLI gets them: it redeems its
//! refresh token (or a service principal's secret) at the token endpoint, so expired
//! refresh tokens and Conditional Access blocks arrive as real AADSTS errors. Output
//! formats: fixtures/corpus/azure-cli.json.

use std::io::Write as _;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::scenario::CliState;
use super::util::{local_naive, print_out};

pub const STATE_ENV: &str = "AOAI_DOCTOR_LAB_AZ_STATE";
pub const CLI_VERSION: &str = "2.91.0";

/// Everything the stand-in knows, written by the lab next to the shim.
#[derive(Debug, Serialize, Deserialize)]
pub struct AzState {
    pub state: String,
    pub authority: String,
    pub ca_file: String,
    pub user_name: String,
    /// `user` | `servicePrincipal`
    pub user_type: String,
    pub client_id: String,
    /// Refresh token (users) or client secret (service principals).
    pub secret: String,
    /// `az account list` entries; the one with `isDefault` is the current subscription.
    pub subscriptions: Vec<Value>,
    /// A lab fault for `az account …`: `garbage`, `empty` or `hang`.
    #[serde(default)]
    pub fault: Option<String>,
    /// The latency model's `az` time: every invocation takes at least this long in all.
    #[serde(default)]
    pub delay_ms: u64,
    /// The lab's stats file (`stats.rs`): each invocation appends one `az` event.
    #[serde(default)]
    pub stats_file: Option<String>,
}

const NOT_LOGGED_IN: &str = "ERROR: Please run 'az login' to setup account.\n";

/// Run one `az` command line; returns the exit code.
pub async fn run(args: &[String]) -> i32 {
    let state = match std::env::var(STATE_ENV) {
        Ok(p) => match std::fs::read_to_string(&p)
            .ok()
            .and_then(|t| serde_json::from_str::<AzState>(&t).ok())
        {
            Some(s) => s,
            None => return fail(&format!("ERROR: cannot read the lab's az state file {p}\n"), 1),
        },
        Err(_) => {
            return fail(
                &format!("ERROR: this is the aoai-doctor lab's az stand-in; {STATE_ENV} is not set\n"),
                2,
            );
        }
    };
    let start = super::stats::now_ms();
    let started = std::time::Instant::now();
    let code = dispatch(&state, args).await;
    // A real `az` spends 0.5–1 s starting Python and reading its cache, whatever it does.
    if let Some(rest) = Duration::from_millis(state.delay_ms).checked_sub(started.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    if let Some(p) = &state.stats_file {
        let words: Vec<&str> = args.iter().take(2).map(String::as_str).collect();
        let event = json!({"ev": "az", "svc": "az", "args": words.join(" "), "exit": code,
                           "start": start, "end": super::stats::now_ms()});
        let _ = super::stats::append_line(std::path::Path::new(p), &event);
    }
    code
}

async fn dispatch(state: &AzState, args: &[String]) -> i32 {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    if let (Some(fault), ["account", ..]) = (state.fault.as_deref(), words.as_slice()) {
        return misbehave(fault).await;
    }
    match words.as_slice() {
        ["--version", ..] => version_text(),
        ["version", rest @ ..] => print_value(&version_json(), &Opts::parse(rest)),
        ["account", "get-access-token", rest @ ..] => get_access_token(state, &Opts::parse(rest)).await,
        ["account", "show", rest @ ..] => {
            if !logged_in(state) {
                return fail(NOT_LOGGED_IN, 1);
            }
            let sub = default_subscription(state).cloned().unwrap_or(Value::Null);
            print_value(&sub, &Opts::parse(rest))
        }
        ["account", "list", rest @ ..] => {
            if !logged_in(state) {
                // Logged out, `az account list` still succeeds (measured against the real CLI).
                eprintln!("Please run \"az login\" to access your accounts.");
                return print_value(&json!([]), &Opts::parse(rest));
            }
            print_value(&Value::Array(state.subscriptions.clone()), &Opts::parse(rest))
        }
        ["login", ..] => fail(
            "ERROR: Interactive login is not available in the aoai-doctor lab; the scenario decides who is logged in.\n",
            1,
        ),
        [] => {
            println!(
                "Welcome to Azure CLI!\n---------------------\nUse `az -h` to see available commands or go to https://aka.ms/cli."
            );
            0
        }
        [first, ..] => fail(
            &format!(
                "az: '{first}' is not in the 'az' command group. See 'az --help'. If the command is from an extension, please make sure the corresponding extension is installed. To learn more about extensions, please visit https://docs.microsoft.com/cli/azure/azure-cli-extensions-overview\n"
            ),
            2,
        ),
    }
}

/// The CLI broken the way a fault says: it prints garbage (exit 0), prints nothing (exit 0),
/// or never exits.
async fn misbehave(fault: &str) -> i32 {
    match fault {
        "garbage" => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(b"\x1b[0m\x00\xff\xfe\x07garbage, not JSON: {{[\n\x1b[93m%PDF-1.7\n");
            let _ = out.flush();
            0
        }
        "hang" => hang().await,
        _ => 0,
    }
}

/// Stuck on a proxy or a prompt. Bounded so an orphaned process cannot live forever.
async fn hang() -> i32 {
    tokio::time::sleep(Duration::from_secs(15 * 60)).await;
    fail("ERROR: The operation timed out.\n", 1)
}

fn logged_in(s: &AzState) -> bool {
    !matches!(s.state.as_str(), "not-logged-in" | "missing")
}

fn default_subscription(s: &AzState) -> Option<&Value> {
    s.subscriptions
        .iter()
        .find(|x| x.get("isDefault").and_then(Value::as_bool) == Some(true))
        .or(s.subscriptions.first())
}

fn fail(msg: &str, code: i32) -> i32 {
    let _ = std::io::stderr().write_all(msg.as_bytes());
    code
}

#[derive(Default)]
struct Opts {
    output: String,
    query: Option<String>,
    resource: Option<String>,
    scope: Option<String>,
    tenant: Option<String>,
    subscription: Option<String>,
}

impl Opts {
    fn parse(args: &[&str]) -> Opts {
        let mut o = Opts {
            output: "json".into(),
            ..Default::default()
        };
        let mut i = 0;
        while i < args.len() {
            let (flag, inline) = match args[i].split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
                _ => (args[i], None),
            };
            let mut value = || {
                inline.clone().or_else(|| {
                    i += 1;
                    args.get(i).map(|s| s.trim_matches('"').to_string())
                })
            };
            match flag {
                "-o" | "--output" => o.output = value().unwrap_or_default(),
                "--query" => o.query = value(),
                "--resource" => o.resource = value(),
                "--scope" | "--scopes" => o.scope = value(),
                "-t" | "--tenant" => o.tenant = value(),
                "-s" | "--subscription" | "--name" | "-n" => o.subscription = value(),
                _ => {}
            }
            i += 1;
        }
        o
    }
}

fn print_value(v: &Value, o: &Opts) -> i32 {
    let v = match &o.query {
        None => v.clone(),
        Some(q) => match v.get(q.trim()) {
            Some(x) => x.clone(),
            None if q.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => Value::Null,
            None => {
                return fail(
                    &format!("ERROR: argument --query: invalid jmespath_type value: '{q}'\n"),
                    2,
                );
            }
        },
    };
    let text = match o.output.as_str() {
        "tsv" | "none" => match &v {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            Value::Object(m) => m.values().map(scalar).collect::<Vec<_>>().join("\t"),
            other => scalar(other),
        },
        _ => serde_json::to_string_pretty(&v).unwrap_or_default(),
    };
    if o.output != "none" {
        print_out(&format!("{text}\n"));
    }
    0
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn version_json() -> Value {
    json!({
        "azure-cli": CLI_VERSION,
        "azure-cli-core": CLI_VERSION,
        "azure-cli-telemetry": "1.1.0",
        "extensions": {}
    })
}

fn version_text() -> i32 {
    print_out(&format!(
        "azure-cli                         {CLI_VERSION}\n\ncore                              {CLI_VERSION}\ntelemetry                          1.1.0\n\nDependencies:\nmsal                              1.34.0\nazure-mgmt-resource               24.0.0\n\nPython location '/opt/az/bin/python3'\nConfig directory '~/.azure'\nExtensions directory '~/.azure/cliextensions'\n\nPython (Linux) 3.13.9\n\nLegal docs and information: aka.ms/AzureCliLegal\n\n\nYour CLI is up-to-date.\n"
    ));
    0
}

async fn get_access_token(s: &AzState, o: &Opts) -> i32 {
    if !logged_in(s) {
        return fail(NOT_LOGGED_IN, 1);
    }
    if s.state == "hang" {
        return hang().await;
    }
    let sub = match &o.subscription {
        Some(want) => s.subscriptions.iter().find(|x| {
            [x.get("id"), x.get("name")]
                .iter()
                .flatten()
                .any(|v| v.as_str().is_some_and(|v| v.eq_ignore_ascii_case(want)))
        }),
        None => default_subscription(s),
    };
    let Some(sub) = sub else {
        let want = o.subscription.clone().unwrap_or_default();
        return fail(
            &format!("ERROR: Subscription '{want}' not found. Check the spelling and casing and try again.\n"),
            1,
        );
    };
    let tenant = o
        .tenant
        .clone()
        .or_else(|| sub.get("tenantId").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_default();
    // az turns a resource into a scope by appending "/.default" (hence "…windows.net//.default").
    let scope = o
        .scope
        .clone()
        .or_else(|| o.resource.as_ref().map(|r| format!("{r}/.default")))
        .unwrap_or_else(|| "https://management.core.windows.net//.default".into());
    match redeem(s, &tenant, &scope).await {
        Err(e) => fail(&format!("ERROR: {e:#}\n"), 1),
        Ok(Err(body)) => fail(&entra_error_text(&body, o.tenant.as_deref(), &scope), 1),
        Ok(Ok(token)) => {
            let Some(access) = token.get("access_token").and_then(Value::as_str) else {
                return fail("ERROR: The token endpoint answered without an access token.\n", 1);
            };
            let exp = super::jwt::decode_unverified(access)
                .and_then(|(_, c)| c.get("exp").and_then(Value::as_i64))
                .unwrap_or_else(|| super::util::now_unix() + 3600);
            let mut m = Map::new();
            m.insert("accessToken".into(), json!(access));
            m.insert("expiresOn".into(), json!(local_naive(exp)));
            m.insert("expires_on".into(), json!(exp));
            if o.tenant.is_none() {
                m.insert("subscription".into(), sub.get("id").cloned().unwrap_or(Value::Null));
            }
            m.insert("tenant".into(), json!(tenant));
            m.insert("tokenType".into(), json!("Bearer"));
            print_value(&Value::Object(m), o)
        }
    }
}

/// One token request to the lab's Entra: `Ok(Ok(body))` on 200, `Ok(Err(body))` on an
/// Entra error, `Err` when Entra could not be reached.
async fn redeem(s: &AzState, tenant: &str, scope: &str) -> Result<Result<Value, Value>> {
    let ca = std::fs::read(&s.ca_file).with_context(|| format!("reading {}", s.ca_file))?;
    let http = reqwest::Client::builder()
        .tls_certs_only(reqwest::Certificate::from_pem_bundle(&ca)?)
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()?;
    let url = format!("{}/{tenant}/oauth2/v2.0/token", s.authority.trim_end_matches('/'));
    let form: Vec<(&str, &str)> = if s.user_type == "servicePrincipal" {
        vec![
            ("grant_type", "client_credentials"),
            ("client_id", &s.client_id),
            ("client_secret", &s.secret),
            ("scope", scope),
        ]
    } else {
        let scopes = format!("{scope} offline_access openid profile");
        return post(
            &http,
            &url,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", &s.client_id),
                ("refresh_token", &s.secret),
                ("scope", &scopes),
                ("client_info", "1"),
            ],
        )
        .await;
    };
    post(&http, &url, &form).await
}

async fn post(http: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> Result<Result<Value, Value>> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form.iter())
        .finish();
    let rsp = http
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .context("HTTPSConnectionPool: Max retries exceeded (the lab's Entra did not answer)")?;
    let ok = rsp.status().is_success();
    let v: Value = rsp.json().await.unwrap_or(Value::Null);
    Ok(if ok { Ok(v) } else { Err(v) })
}

/// How azure-cli prints an Entra failure (`aad_error_handler`): the description, then the
/// recommendation to log in again (cli-aadsts53003-ca-blocked-new-recommendation).
fn entra_error_text(body: &Value, tenant: Option<&str>, scope: &str) -> String {
    let desc = body
        .get("error_description")
        .and_then(Value::as_str)
        .unwrap_or("The token request failed.")
        .replace("\r\n", " ");
    let codes: Vec<i64> = body
        .get("error_codes")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default();
    if codes.contains(&7000215) {
        return format!(
            "ERROR: {desc}\nThe provided client secret is invalid. Please check the value of the secret, not its ID.\n"
        );
    }
    let mut login = "az login".to_string();
    if let Some(t) = tenant {
        login.push_str(&format!(" --tenant \"{t}\""));
    }
    login.push_str(&format!(" --scope \"{scope}\""));
    format!(
        "ERROR: {desc}\nRun the command below to authenticate interactively; additional arguments may be added as needed:\naz logout\n{login}\n"
    )
}

/// The stand-in state for a scenario's CLI section (used by the lab when it writes files).
pub fn state_name(s: CliState) -> &'static str {
    match s {
        CliState::LoggedIn => "logged-in",
        CliState::NotLoggedIn => "not-logged-in",
        CliState::RefreshExpired => "refresh-expired",
        CliState::ConditionalAccess => "conditional-access",
        CliState::Hang => "hang",
        CliState::Missing => "missing",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        let o = Opts::parse(&["--output", "json", "--resource", "https://x", "--tenant=t"]);
        assert_eq!(o.resource.as_deref(), Some("https://x"));
        assert_eq!(o.tenant.as_deref(), Some("t"));
        let o = Opts::parse(&["-o", "tsv", "--query", "accessToken", "--scope", "\"s\""]);
        assert_eq!(
            (o.output.as_str(), o.query.as_deref(), o.scope.as_deref()),
            ("tsv", Some("accessToken"), Some("s"))
        );
    }

    #[test]
    fn entra_errors_render_like_the_cli() {
        let b = json!({"error_description": "AADSTS700082: The refresh token has expired.", "error_codes": [700082]});
        let t = entra_error_text(&b, None, "https://cognitiveservices.azure.com/.default");
        assert!(t.starts_with("ERROR: AADSTS700082"));
        assert!(t.contains("az logout\naz login --scope"));
    }
}
