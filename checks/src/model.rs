//! The report model: what every check returns and what every renderer reads.
//! Its JSON form is a published contract (`schema/report.schema.json`, `schema_version`).

use crate::codes::Code;
use schemars::JsonSchema;
use serde::Serialize;
use std::collections::BTreeMap;

/// Bump when a field is removed or changes meaning; adding fields keeps the version.
pub const SCHEMA_VERSION: u32 = 1;

/// How one check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The check ran and found nothing wrong.
    Pass,
    /// Something will probably bite later, or could not be verified.
    Warn,
    /// Something is wrong; the finding says what and how to fix it.
    Fail,
    /// Not run: an input it needs is missing (the summary names the check that should have provided it).
    Skip,
    /// The doctor could not run the check (timeout, crash, unexpected answer). Never a pass.
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Skip => "skip",
            Status::Error => "error",
        }
    }
}

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; changes nothing.
    Info,
    /// A likely problem, or something that could not be verified.
    Warning,
    /// The cause of a failure.
    Error,
}

/// What to do about a finding: prose plus the exact commands to run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, JsonSchema)]
pub struct Remediation {
    pub text: String,
    pub commands: Vec<String>,
}

impl Remediation {
    pub fn new(text: impl Into<String>) -> Self {
        Remediation {
            text: text.into(),
            commands: Vec::new(),
        }
    }
    pub fn command(mut self, cmd: impl Into<String>) -> Self {
        self.commands.push(cmd.into());
        self
    }
}

/// One diagnosis, named by a stable code from the catalogue (`crate::codes`).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Finding {
    #[serde(serialize_with = "serialize_code")]
    #[schemars(with = "String")]
    pub code: &'static Code,
    pub severity: Severity,
    pub message: String,
    pub remediation: Remediation,
    pub docs_url: Option<String>,
}

fn serialize_code<S: serde::Serializer>(code: &&'static Code, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(code.id)
}

impl Finding {
    pub fn new(code: &'static Code, severity: Severity, message: impl Into<String>) -> Self {
        Finding {
            code,
            severity,
            message: message.into(),
            remediation: Remediation::default(),
            docs_url: (!code.docs_url.is_empty()).then(|| code.docs_url.to_string()),
        }
    }
    pub fn error(code: &'static Code, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Error, message)
    }
    pub fn warning(code: &'static Code, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Warning, message)
    }
    pub fn info(code: &'static Code, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Info, message)
    }
    pub fn fix(mut self, text: impl Into<String>) -> Self {
        self.remediation.text = text.into();
        self
    }
    pub fn command(mut self, cmd: impl Into<String>) -> Self {
        self.remediation.commands.push(cmd.into());
        self
    }
    pub fn commands(mut self, cmds: impl IntoIterator<Item = String>) -> Self {
        self.remediation.commands.extend(cmds);
        self
    }
}

/// What a check's judge decides; the runner adds id, title and duration.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    pub status: Status,
    pub summary: String,
    pub findings: Vec<Finding>,
    pub evidence: serde_json::Value,
}

impl Judgement {
    pub fn new(status: Status, summary: impl Into<String>) -> Self {
        Judgement {
            status,
            summary: summary.into(),
            findings: Vec::new(),
            evidence: serde_json::Value::Object(Default::default()),
        }
    }
    pub fn with_findings(mut self, findings: Vec<Finding>) -> Self {
        self.findings = findings;
        self
    }
    pub fn finding(mut self, f: Finding) -> Self {
        self.findings.push(f);
        self
    }
    pub fn evidence(mut self, evidence: serde_json::Value) -> Self {
        self.evidence = evidence;
        self
    }
    /// The status the findings imply: any error → fail, any warning → warn, else pass.
    pub fn status_from(findings: &[Finding]) -> Status {
        if findings.iter().any(|f| f.severity == Severity::Error) {
            Status::Fail
        } else if findings.iter().any(|f| f.severity == Severity::Warning) {
            Status::Warn
        } else {
            Status::Pass
        }
    }
}

/// One row of the report.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct CheckResult {
    /// Stable kebab-case id (`endpoint`, `token-claims`, …); usable with `--only` / `--skip`.
    pub id: String,
    pub title: String,
    pub status: Status,
    /// One line for the table.
    pub summary: String,
    pub duration_ms: u64,
    /// Requests this check sent, per service (`entra`, `mi`, `arm`, `dataplane`); a service it did not call is left out.
    pub requests: BTreeMap<String, u32>,
    pub findings: Vec<Finding>,
    /// What the check saw (never a token or secret).
    pub evidence: serde_json::Value,
}

/// The whole run: the support-ticket attachment.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Report {
    pub schema_version: u32,
    pub tool: Tool,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub duration_ms: u64,
    pub target: serde_json::Value,
    pub environment: serde_json::Value,
    /// Who the app is, as far as the checks found out (tenant id, object id, principal type…).
    pub identity: serde_json::Value,
    pub checks: Vec<CheckResult>,
    /// Every request id a service returned during the run: what a support engineer asks for
    /// first (`apim-request-id`, `x-ms-request-id`, `x-request-id`, Entra `trace_id` / `correlation_id`).
    pub request_ids: Vec<RequestId>,
    /// Requests the whole run sent, per service (the sum of the checks' `requests`).
    pub requests: BTreeMap<String, u32>,
    pub verdict: Verdict,
    /// What `aoai-doctor fix` changed in Azure (absent when nothing was changed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
}

/// One change `aoai-doctor fix` made, and how to undo it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Change {
    /// `role-assignment-created`.
    pub kind: String,
    pub assignment_id: String,
    /// The role's name.
    pub role: String,
    pub role_definition_id: String,
    pub scope: String,
    pub principal_id: String,
    pub principal_type: String,
    /// RFC 3339, UTC.
    pub time: String,
    /// The command that removes it.
    pub undo_command: String,
}

/// One id a service returned, and the check whose call got it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct RequestId {
    pub check: String,
    pub name: String,
    pub value: String,
}

/// Evidence keys that carry a service's request id.
const REQUEST_ID_KEYS: &[&str] = &[
    "apim-request-id",
    "x-ms-request-id",
    "x-request-id",
    "x-ms-correlation-request-id",
    "trace_id",
    "correlation_id",
];

fn collect_request_ids(check: &str, v: &serde_json::Value, out: &mut Vec<RequestId>) {
    match v {
        serde_json::Value::Object(o) => {
            for (k, val) in o {
                match (REQUEST_ID_KEYS.contains(&k.to_ascii_lowercase().as_str()), val.as_str()) {
                    (true, Some(s)) if !s.is_empty() => {
                        let id = RequestId {
                            check: check.to_string(),
                            name: k.to_ascii_lowercase(),
                            value: s.to_string(),
                        };
                        if !out.contains(&id) {
                            out.push(id);
                        }
                    }
                    _ => collect_request_ids(check, val, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_request_ids(check, x, out)),
        _ => {}
    }
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

/// The run's outcome, which the exit code follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
    Error,
}

impl Verdict {
    /// A failure outranks an error (it is a diagnosis); an error outranks a warning.
    /// With `strict`, warnings fail.
    pub fn of(checks: &[CheckResult], strict: bool) -> Verdict {
        let has = |s: Status| checks.iter().any(|c| c.status == s);
        if has(Status::Fail) || (strict && has(Status::Warn)) {
            Verdict::Fail
        } else if has(Status::Error) {
            Verdict::Error
        } else if has(Status::Warn) {
            Verdict::Warn
        } else {
            Verdict::Pass
        }
    }
    /// 0 pass (warnings allowed), 1 a check failed, 3 a check could not run.
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Pass | Verdict::Warn => 0,
            Verdict::Fail => 1,
            Verdict::Error => 3,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Warn => "warn",
            Verdict::Fail => "fail",
            Verdict::Error => "error",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(status: Status) -> CheckResult {
        CheckResult {
            id: "x".into(),
            title: "x".into(),
            status,
            summary: String::new(),
            duration_ms: 0,
            requests: Default::default(),
            findings: vec![],
            evidence: serde_json::Value::Null,
        }
    }

    #[test]
    fn verdict_and_exit_codes() {
        use Status::*;
        let v = |s: &[Status], strict| Verdict::of(&s.iter().map(|s| row(*s)).collect::<Vec<_>>(), strict);
        assert_eq!(v(&[Pass, Skip], false), Verdict::Pass);
        assert_eq!(v(&[Pass, Warn], false), Verdict::Warn);
        assert_eq!(v(&[Pass, Warn], false).exit_code(), 0);
        assert_eq!(v(&[Pass, Warn], true), Verdict::Fail);
        assert_eq!(v(&[Error, Warn], false), Verdict::Error);
        assert_eq!(v(&[Error, Warn], false).exit_code(), 3);
        assert_eq!(v(&[Error, Fail], false), Verdict::Fail);
        assert_eq!(v(&[Fail], false).exit_code(), 1);
    }
}

impl Report {
    /// Puts a run together. `identity` and `environment` come from the facts the checks learned.
    pub fn assemble(
        started_at: String,
        duration_ms: u64,
        target: serde_json::Value,
        facts: &crate::facts::Facts,
        mut checks: Vec<CheckResult>,
        strict: bool,
    ) -> Report {
        crate::reconcile::with_live_call(&mut checks);
        let environment = facts
            .environment
            .as_ref()
            .and_then(|e| serde_json::to_value(e).ok())
            .unwrap_or_else(|| serde_json::json!({ "os": std::env::consts::OS, "arch": std::env::consts::ARCH }));
        let identity = crate::facts::identity_json(facts);
        let verdict = Verdict::of(&checks, strict);
        let mut request_ids = Vec::new();
        let mut requests = BTreeMap::new();
        for c in &checks {
            collect_request_ids(&c.id, &c.evidence, &mut request_ids);
            for (service, n) in &c.requests {
                *requests.entry(service.clone()).or_insert(0) += n;
            }
        }
        Report {
            schema_version: SCHEMA_VERSION,
            tool: Tool {
                name: "aoai-doctor".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            started_at,
            duration_ms,
            target,
            environment,
            identity,
            checks,
            request_ids,
            requests,
            verdict,
            changes: Vec::new(),
        }
    }
}

/// The JSON Schema of the report, generated from these types (committed as
/// `schema/report.schema.json`; a test keeps the copy fresh).
pub fn report_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Report)).unwrap_or_default()
}

#[cfg(test)]
mod schema_tests {
    /// The committed schema must be what the types generate. Regenerate with
    /// `UPDATE_SCHEMA=1 cargo test -p aoai-doctor-checks committed_schema`.
    #[test]
    fn committed_schema_is_fresh() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../schema/report.schema.json");
        let generated = serde_json::to_string_pretty(&super::report_schema()).unwrap() + "\n";
        if std::env::var_os("UPDATE_SCHEMA").is_some() {
            std::fs::write(path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == generated,
            "schema/report.schema.json is stale: run UPDATE_SCHEMA=1 cargo test -p aoai-doctor-checks committed_schema"
        );
    }
}
