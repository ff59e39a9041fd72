//! The Azure CLI: classifying `az` output and parsing its JSON.

use super::common::{self, strip_bom};
use super::redact::redact_truncated;
use super::{Diagnosis, Explanation, arm, entra};
use crate::codes;
use regex::Regex;
use serde_json::Value;
use std::sync::LazyLock;
use time::{Date, Month, PrimitiveDateTime, Time, UtcOffset};

const LOGIN_AOAI: &str = "az login --tenant <tenant-id> --scope https://cognitiveservices.azure.com/.default";

/// Why `az` JSON output could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AzParseError {
    #[error("az printed nothing")]
    Empty,
    #[error("az output is not JSON")]
    NotJson,
    #[error("az output is JSON of an unexpected shape")]
    UnexpectedShape,
    #[error("az output lacks the field `{0}`")]
    MissingField(&'static str),
}

/// `expiresOn` of `az account get-access-token`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AzExpiresOn {
    /// Naive local time of the machine that ran `az` ("2024-05-01 12:34:56.000000").
    Local(PrimitiveDateTime),
    /// `"N/A"` (older CLIs, managed identity sessions).
    NotAvailable,
    /// Absent or `null`.
    Missing,
    /// Present but in no known format (kept, it is not a secret).
    Unparsed(String),
}

/// The parsed output of `az account get-access-token -o json`.
///
/// `access_token` is a plain `String` for the caller to move into its secret holder;
/// `Debug` never shows it, and the type is deliberately not `Serialize`.
#[derive(Clone, PartialEq, Eq)]
pub struct AzAccessToken {
    pub access_token: String,
    pub expires_on_local: AzExpiresOn,
    /// `expires_on` (POSIX seconds), present since Azure CLI 2.54.
    pub expires_on: Option<i64>,
    pub subscription: Option<String>,
    pub tenant: Option<String>,
    pub token_type: Option<String>,
}

impl std::fmt::Debug for AzAccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzAccessToken")
            .field("access_token", &"<redacted>")
            .field("expires_on_local", &self.expires_on_local)
            .field("expires_on", &self.expires_on)
            .field("subscription", &self.subscription)
            .field("tenant", &self.tenant)
            .field("token_type", &self.token_type)
            .finish()
    }
}

impl AzAccessToken {
    /// Expiry in unix seconds: `expires_on` when present, else `expiresOn` read in the
    /// given local offset (the caller knows the machine's offset; this stays pure).
    pub fn expires_unix(&self, local_offset: UtcOffset) -> Option<i64> {
        if let Some(e) = self.expires_on {
            return Some(e);
        }
        match &self.expires_on_local {
            AzExpiresOn::Local(dt) => Some(dt.assume_offset(local_offset).unix_timestamp()),
            _ => None,
        }
    }
}

static LOCAL_TIME_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$").unwrap());

/// Parses az's naive local `expiresOn` ("2024-05-01 12:34:56.000000", fraction optional).
pub fn parse_expires_on_local(s: &str) -> Option<PrimitiveDateTime> {
    let c = LOCAL_TIME_RE.captures(s.trim())?;
    let num = |i: usize| c[i].parse::<u32>().ok();
    let year = i32::try_from(num(1)?).ok()?;
    let month = Month::try_from(u8::try_from(num(2)?).ok()?).ok()?;
    let date = Date::from_calendar_date(year, month, u8::try_from(num(3)?).ok()?).ok()?;
    let nanos = match c.get(7) {
        Some(f) => {
            let digits = f.as_str();
            let n: u32 = digits.parse().ok()?;
            n.checked_mul(10u32.pow(9 - u32::try_from(digits.len()).ok()?))?
        }
        None => 0,
    };
    let t = Time::from_hms_nano(
        u8::try_from(num(4)?).ok()?,
        u8::try_from(num(5)?).ok()?,
        u8::try_from(num(6)?).ok()?,
        nanos,
    )
    .ok()?;
    Some(PrimitiveDateTime::new(date, t))
}

fn json_of(stdout: &str) -> Result<Value, AzParseError> {
    let t = strip_bom(stdout).trim();
    if t.is_empty() {
        return Err(AzParseError::Empty);
    }
    common::parse_json_lenient(t).ok_or(AzParseError::NotJson)
}

fn opt_str(o: &serde_json::Map<String, Value>, k: &str) -> Option<String> {
    o.get(k).and_then(Value::as_str).map(str::to_string)
}

/// Parses `az account get-access-token -o json`.
pub fn parse_get_access_token(stdout: &str) -> Result<AzAccessToken, AzParseError> {
    let v = json_of(stdout)?;
    let o = v.as_object().ok_or(AzParseError::UnexpectedShape)?;
    let access_token = o
        .get("accessToken")
        .and_then(Value::as_str)
        .ok_or(AzParseError::MissingField("accessToken"))?
        .to_string();
    let expires_on_local = match o.get("expiresOn") {
        None | Some(Value::Null) => AzExpiresOn::Missing,
        Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("n/a") => AzExpiresOn::NotAvailable,
        Some(Value::String(s)) => match parse_expires_on_local(s) {
            Some(dt) => AzExpiresOn::Local(dt),
            None => AzExpiresOn::Unparsed(redact_truncated(s, 64)),
        },
        Some(other) => AzExpiresOn::Unparsed(redact_truncated(&other.to_string(), 64)),
    };
    let expires_on = match o.get("expires_on") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    Ok(AzAccessToken {
        access_token,
        expires_on_local,
        expires_on,
        subscription: opt_str(o, "subscription"),
        tenant: opt_str(o, "tenant"),
        token_type: opt_str(o, "tokenType"),
    })
}

/// `user.type` of an az account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AzUserType {
    User,
    ServicePrincipal,
    Other(String),
}

/// The parsed output of `az account show -o json` (or the default entry of `az login` /
/// `az account list`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzAccount {
    /// `id`: the subscription id.
    pub subscription_id: Option<String>,
    /// `name`: the subscription name.
    pub subscription_name: Option<String>,
    pub tenant_id: Option<String>,
    pub home_tenant_id: Option<String>,
    pub environment_name: Option<String>,
    pub is_default: Option<bool>,
    pub state: Option<String>,
    /// `user.name`: a UPN, an app id, or `systemAssignedIdentity` / `userAssignedIdentity`.
    pub user_name: Option<String>,
    pub user_type: Option<AzUserType>,
    /// `user.assignedIdentityInfo` (`MSI`, `MSIClient-<id>`…) for managed identities.
    pub assigned_identity_info: Option<String>,
}

impl AzAccount {
    /// Logged in with `az login --identity`.
    pub fn is_managed_identity(&self) -> bool {
        self.assigned_identity_info
            .as_deref()
            .is_some_and(|i| i.starts_with("MSI"))
            || matches!(
                self.user_name.as_deref(),
                Some("systemAssignedIdentity" | "userAssignedIdentity")
            )
    }
}

/// Parses `az account show -o json`; a list (from `az login` / `az account list`) gives
/// its `isDefault` entry, else its first.
pub fn parse_account_show(stdout: &str) -> Result<AzAccount, AzParseError> {
    let v = json_of(stdout)?;
    let obj = match &v {
        Value::Object(o) => o,
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_object)
            .find(|o| o.get("isDefault").and_then(Value::as_bool) == Some(true))
            .or_else(|| a.iter().find_map(Value::as_object))
            .ok_or(AzParseError::UnexpectedShape)?,
        _ => return Err(AzParseError::UnexpectedShape),
    };
    if !obj.contains_key("tenantId") && !obj.contains_key("user") {
        return Err(AzParseError::MissingField("tenantId"));
    }
    let user = obj.get("user").and_then(Value::as_object);
    Ok(AzAccount {
        subscription_id: opt_str(obj, "id"),
        subscription_name: opt_str(obj, "name"),
        tenant_id: opt_str(obj, "tenantId"),
        home_tenant_id: opt_str(obj, "homeTenantId"),
        environment_name: opt_str(obj, "environmentName"),
        is_default: obj.get("isDefault").and_then(Value::as_bool),
        state: opt_str(obj, "state"),
        user_name: user.and_then(|u| opt_str(u, "name")),
        user_type: user.and_then(|u| opt_str(u, "type")).map(|t| match t.as_str() {
            "user" => AzUserType::User,
            "servicePrincipal" => AzUserType::ServicePrincipal,
            _ => AzUserType::Other(t),
        }),
        assigned_identity_info: user.and_then(|u| opt_str(u, "assignedIdentityInfo")),
    })
}

const MISSING_SIGNATURES: [&str; 10] = [
    "'az' is not recognized",
    "the term 'az' is not recognized",
    "az: not found",
    "az: command not found",
    "azure cli not found",
    "azure cli not installed",
    "azure cli could not be found",
    "az not found on path",
    "azure cli is not installed",
    "no such file or directory: 'az'",
];

pub(crate) fn is_cli_missing_text(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    MISSING_SIGNATURES.iter().any(|s| t.contains(s))
}

fn cli_missing() -> Explanation {
    Explanation::new(
        Diagnosis::CliMissing,
        "The Azure CLI (`az`) is not installed or not on PATH here.",
        "Install the Azure CLI (https://aka.ms/installazurecli), or in a container use another \
         credential (managed identity, workload identity, or a service principal via AZURE_CLIENT_ID/\
         AZURE_TENANT_ID/AZURE_CLIENT_SECRET): mounting ~/.azure alone is not enough.",
    )
    .with_commands(["az version"])
    .with_code(&codes::CLI_NOT_INSTALLED)
}

fn not_logged_in() -> Explanation {
    Explanation::new(
        Diagnosis::NotLoggedIn,
        "The Azure CLI is installed but no account is signed in.",
        "Sign in (in CI, run the login step before this one).",
    )
    .with_commands([LOGIN_AOAI, "az account show -o table"])
    .with_code(&codes::CLI_NOT_LOGGED_IN)
}

/// Recognises CLI-only signatures (no AADSTS): missing CLI, CAE challenge, wrong cloud,
/// not logged in. `None` when none matches.
pub(crate) fn recognise_cli_text(text: &str) -> Option<Explanation> {
    let t = text.to_ascii_lowercase();
    if is_cli_missing_text(text) {
        return Some(cli_missing());
    }
    if t.contains("tokenissuedbeforerevocationtimestamp")
        || t.contains("continuous access evaluation")
        || t.contains("token was issued before revocation")
        || t.contains("claims challenge")
    {
        return Some(
            Explanation::new(
                Diagnosis::TokenExpired,
                "Continuous access evaluation revoked the session (password change, account disabled or policy); a fresh sign-in is needed.",
                "Sign out and sign in again; `az login` alone may reuse the revoked session. \
                 Newer CLIs accept the challenge with `az login --claims-challenge`.",
            )
            .with_commands(["az logout", LOGIN_AOAI])
            .with_code(&codes::CLI_LOGIN_EXPIRED),
        );
    }
    if t.contains("unable to get authority configuration") {
        return Some(
            Explanation::new(
                Diagnosis::WrongTenant,
                "The CLI could not find the tenant at this authority (wrong tenant id or wrong cloud).",
                "Use the right cloud (AzureCloud unless you are in a sovereign cloud) and a real tenant id.",
            )
            .with_commands([
                "az cloud show --query name -o tsv",
                "az cloud set --name AzureCloud",
                LOGIN_AOAI,
            ])
            .with_code(&codes::AUTHORITY_UNRESOLVED),
        );
    }
    if t.contains("az login") || t.contains("az account set") {
        return Some(not_logged_in());
    }
    None
}

fn ok_from_stdout(stdout: &str) -> Explanation {
    if let Ok(tok) = parse_get_access_token(stdout) {
        let mut ex = Explanation::new(
            Diagnosis::Ok,
            "The Azure CLI issued an access token.",
            "Nothing to fix.",
        );
        if let Some(t) = &tok.tenant {
            ex.add_evidence("tenant", t.clone());
        }
        if let Some(s) = &tok.subscription {
            ex.add_evidence("subscription", s.clone());
        }
        if let Some(e) = tok.expires_on {
            ex.add_evidence("expires_on", e);
        }
        match &tok.expires_on_local {
            AzExpiresOn::Local(dt) => ex.add_evidence("expiresOn_local", dt.to_string()),
            AzExpiresOn::NotAvailable => ex.add_evidence("expiresOn_local", "N/A"),
            AzExpiresOn::Unparsed(s) => ex.add_evidence("expiresOn_local", s.clone()),
            AzExpiresOn::Missing => {}
        }
        return ex;
    }
    if let Ok(acct) = parse_account_show(stdout) {
        let who = match (&acct.user_type, acct.is_managed_identity()) {
            (_, true) => "a managed identity",
            (Some(AzUserType::ServicePrincipal), _) => "a service principal",
            (Some(AzUserType::User), _) => "a user",
            _ => "an account",
        };
        let mut ex = Explanation::new(
            Diagnosis::Ok,
            format!("The Azure CLI is signed in as {who}."),
            "Nothing to fix.",
        );
        for (k, v) in [
            ("user_name", &acct.user_name),
            ("tenant_id", &acct.tenant_id),
            ("subscription_id", &acct.subscription_id),
            ("environment_name", &acct.environment_name),
        ] {
            if let Some(v) = v {
                ex.add_evidence(k, v.clone());
            }
        }
        return ex;
    }
    Explanation::new(Diagnosis::Ok, "The az command succeeded.", "Nothing to fix.")
}

/// Classifies one `az` invocation from its stdout, stderr and exit code (`None` when the
/// code is not known, e.g. a pasted log).
pub fn classify_az(stdout: &str, stderr: &str, exit_code: Option<i32>) -> Explanation {
    let combined = format!("{stderr}\n{stdout}");
    let mut ex = if exit_code == Some(0) {
        ok_from_stdout(stdout)
    } else if exit_code == Some(127) || is_cli_missing_text(&combined) {
        cli_missing()
    } else if let Some(ex) = entra::explain_entra(None, &[], &combined, entra::EntraContext::AzureCli) {
        ex
    } else if let Some(v) = arm::classify_arm_parts(None, &[], stderr.trim()) {
        v.explanation
    } else if let Some(ex) = recognise_cli_text(&combined) {
        ex
    } else if exit_code.is_none() && (parse_get_access_token(stdout).is_ok() || parse_account_show(stdout).is_ok()) {
        ok_from_stdout(stdout)
    } else {
        Explanation::unknown("The az command failed with an error the doctor does not recognise.")
            .with_detail(redact_truncated(&combined, 600))
    };
    if let Some(c) = exit_code {
        ex.add_evidence("exit_code", c);
    }
    ex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_on_local_formats() {
        let dt = parse_expires_on_local("2024-05-01 12:34:56.000000").unwrap();
        assert_eq!(dt.to_string(), "2024-05-01 12:34:56.0");
        assert!(parse_expires_on_local("2024-05-01 12:34:56").is_some());
        assert!(parse_expires_on_local("2024-05-01T12:34:56.123").is_some());
        assert!(parse_expires_on_local("N/A").is_none());
        assert!(parse_expires_on_local("2024-13-01 12:34:56").is_none());
        assert!(parse_expires_on_local("2024-02-30 12:34:56").is_none());
        assert!(parse_expires_on_local("2024-01-01 25:00:00").is_none());
    }

    #[test]
    fn access_token_debug_is_redacted() {
        let t = parse_get_access_token(
            "{\"accessToken\":\"secret-value-123\",\"expiresOn\":\"2023-11-14 15:50:46.000000\",\"tokenType\":\"Bearer\"}",
        )
        .unwrap();
        assert_eq!(t.access_token, "secret-value-123");
        assert!(!format!("{t:?}").contains("secret-value-123"));
        // Without expires_on the local time is read in the caller's offset.
        let utc = t.expires_unix(UtcOffset::UTC).unwrap();
        let plus2 = t.expires_unix(UtcOffset::from_hms(2, 0, 0).unwrap()).unwrap();
        assert_eq!(utc - plus2, 7200);
    }

    #[test]
    fn expires_on_int_wins_and_na_null() {
        let t = parse_get_access_token(
            r#"{"accessToken":"x","expiresOn":"2023-11-14 15:50:46.000000","expires_on":1700005846}"#,
        )
        .unwrap();
        assert_eq!(t.expires_unix(UtcOffset::UTC), Some(1_700_005_846));
        let t = parse_get_access_token(r#"{"accessToken":"x","expiresOn":"N/A"}"#).unwrap();
        assert_eq!(
            (t.expires_on_local.clone(), t.expires_unix(UtcOffset::UTC)),
            (AzExpiresOn::NotAvailable, None)
        );
        let t = parse_get_access_token(r#"{"accessToken":"x","expiresOn":null}"#).unwrap();
        assert_eq!(t.expires_on_local, AzExpiresOn::Missing);
        assert_eq!(
            parse_get_access_token("{}"),
            Err(AzParseError::MissingField("accessToken"))
        );
        assert_eq!(parse_get_access_token(""), Err(AzParseError::Empty));
        assert_eq!(parse_get_access_token("ERROR: x"), Err(AzParseError::NotJson));
    }

    #[test]
    fn account_show_with_bom_and_list() {
        let a = parse_account_show(
            "\u{feff}{\"id\":\"s\",\"tenantId\":\"t\",\"user\":{\"name\":\"a@b\",\"type\":\"user\"}}",
        )
        .unwrap();
        assert_eq!(
            (a.tenant_id.as_deref(), a.user_type),
            (Some("t"), Some(AzUserType::User))
        );
        let a = parse_account_show(r#"[{"id":"1","tenantId":"t1","isDefault":false},{"id":"2","tenantId":"t2","isDefault":true,"user":{"name":"systemAssignedIdentity","type":"servicePrincipal","assignedIdentityInfo":"MSI"}}]"#).unwrap();
        assert_eq!(a.subscription_id.as_deref(), Some("2"));
        assert!(a.is_managed_identity());
        assert_eq!(parse_account_show("[]"), Err(AzParseError::UnexpectedShape));
    }

    #[test]
    fn az_login_mention_is_not_always_not_logged_in() {
        let ex = classify_az(
            "",
            "AADSTS53003: Access has been blocked by Conditional Access policies.\nInteractive authentication is needed. Please run:\naz login --scope https://storage.azure.com/.default",
            Some(1),
        );
        assert_eq!(ex.diagnosis, Diagnosis::MfaOrConditionalAccess);
        let ex = classify_az("", "ERROR: Please run 'az login' to setup account.", Some(1));
        assert_eq!(ex.diagnosis, Diagnosis::NotLoggedIn);
        assert_eq!(
            classify_az("", "sh: 1: az: not found", Some(127)).diagnosis,
            Diagnosis::CliMissing
        );
        assert_eq!(classify_az("", "", Some(127)).diagnosis, Diagnosis::CliMissing);
        assert_eq!(classify_az("", "something odd", Some(2)).diagnosis, Diagnosis::Unknown);
    }

    #[test]
    fn ok_output_never_leaks_the_token() {
        let out = r#"{"accessToken":"eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ4In0.c2ln","expiresOn":"2023-11-14 15:50:46.000000","expires_on":1700005846,"tenant":"t","tokenType":"Bearer"}"#;
        let ex = classify_az(out, "", Some(0));
        assert_eq!(ex.diagnosis, Diagnosis::Ok);
        let s = serde_json::to_string(&ex).unwrap();
        assert!(!s.contains("eyJ"), "{s}");
    }
}
