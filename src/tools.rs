//! The two offline helpers: `explain` (diagnose an error text you already have) and `token`
//! (judge a token an app captured). Neither makes a network call; neither prints a token.

use crate::cli::UsageError;
use aoai_doctor_checks::checks::token::ScopeRule;
use aoai_doctor_checks::checks::token_claims;
use aoai_doctor_checks::diagnose::{self, Diagnosis, jwt};
use aoai_doctor_checks::surface::Surface;
use clap::{Args, ValueEnum};
use serde_json::json;
use std::io::Read;
use std::path::PathBuf;

const MAX_INPUT: u64 = 4 << 20;

/// The offline helpers print text or JSON.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  aoai-doctor explain error.txt
  az account get-access-token 2>&1 | aoai-doctor explain
  aoai-doctor explain --status 401 -H 'apim-request-id: 1234' body.json

Exit codes: 0 a diagnosis was made, 1 the text was not recognised (unknown), 2 usage error.")]
pub struct ExplainArgs {
    /// The file holding the error (raw HTTP body, SDK exception text, az stderr); - or nothing reads standard input.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// The HTTP status the body came with, when known.
    #[arg(long, value_name = "N")]
    pub status: Option<u16>,
    /// A response header, 'Name: value' (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Args, Debug)]
#[command(after_help = "\
Examples:
  aoai-doctor token token.txt
  az account get-access-token --scope https://cognitiveservices.azure.com/.default | aoai-doctor token
  echo \"$TOKEN\" | aoai-doctor token --tenant 72f988bf-86f1-41af-91ab-2d7cd011db47
  aoai-doctor token --endpoint https://contoso.services.ai.azure.com/api/projects/p token.txt

Accepts a bare JWT, 'Bearer <jwt>', or JSON with accessToken / access_token.
Prints the decoded claims and what is wrong with them; never the token or its signature.
The audience is judged against what --endpoint accepts (a Foundry project: only https://ai.azure.com;
resource paths: https://cognitiveservices.azure.com, and https://ai.azure.com in the public cloud).
Exit codes: 0 the claims fit Azure OpenAI, 1 they do not, 2 usage error.")]
pub struct TokenArgs {
    /// The file holding the token; - or nothing reads standard input.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// The tenant the resource lives in, to check `tid` against.
    #[arg(long, value_name = "TENANT_ID")]
    pub tenant: Option<String>,
    /// The endpoint the token is for, as the app is configured with it: decides the audiences accepted [default: a resource root]
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// The Azure cloud.
    #[arg(long, value_enum, default_value_t = aoai_doctor_checks::context::Cloud::AzureCloud)]
    pub cloud: aoai_doctor_checks::context::Cloud,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

fn read_input(file: &Option<PathBuf>) -> Result<String, UsageError> {
    let mut buf = Vec::new();
    let res = match file.as_deref() {
        Some(p) if p.as_os_str() != "-" => std::fs::File::open(p)
            .and_then(|f| f.take(MAX_INPUT).read_to_end(&mut buf))
            .map_err(|e| UsageError(format!("cannot read {}: {e}", p.display()))),
        _ => std::io::stdin()
            .take(MAX_INPUT)
            .read_to_end(&mut buf)
            .map_err(|e| UsageError(format!("cannot read standard input: {e}"))),
    };
    res?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

fn parse_headers(raw: &[String]) -> Result<Vec<(String, String)>, UsageError> {
    raw.iter()
        .map(|h| {
            h.split_once(':')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| UsageError(format!("-H '{h}' is not 'Name: value'")))
        })
        .collect()
}

pub fn explain(args: ExplainArgs) -> Result<i32, UsageError> {
    let headers = parse_headers(&args.headers)?;
    let text = read_input(&args.file)?;
    let ex = diagnose::explain(args.status, &headers, &text);
    // One vocabulary: the finding's code is a catalogue code (`aoai-doctor codes`).
    let code = diagnose::explain::finding_code(&ex, &text).id;
    let out = match args.format {
        Format::Json => {
            let doc = json!({
                "diagnosis": ex.diagnosis,
                "findings": [{
                    "code": code,
                    "severity": if ex.diagnosis == Diagnosis::Ok { "info" } else { "error" },
                    "message": ex.summary,
                    "detail": ex.detail,
                    "remediation": { "text": ex.fix, "commands": ex.commands },
                    "evidence": ex.evidence,
                }],
            });
            serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
        }
        Format::Table => {
            let mut s = format!("diagnosis: {} (code {code})\n{}\n", ex.diagnosis.as_str(), ex.summary);
            if let Some(d) = &ex.detail {
                s.push_str(&format!("\n  detail: {d}\n"));
            }
            s.push_str(&format!("\n  fix: {}\n", ex.fix));
            for c in &ex.commands {
                s.push_str(&format!("    $ {c}\n"));
            }
            if !ex.evidence.is_empty() {
                s.push_str("\n  evidence:\n");
                for (k, v) in &ex.evidence {
                    s.push_str(&format!(
                        "    {k}: {}\n",
                        v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())
                    ));
                }
            }
            s
        }
    };
    let _ = crate::render::write_stdout(&out);
    Ok(if ex.diagnosis == Diagnosis::Unknown { 1 } else { 0 })
}

/// A bare JWT, `Bearer <jwt>`, or `az`/MSAL JSON holding one.
fn extract_token(input: &str) -> String {
    let t = input.trim();
    if t.starts_with('{')
        && let Ok(v) = serde_json::from_str::<serde_json::Value>(t)
    {
        for key in ["accessToken", "access_token", "token"] {
            if let Some(s) = v.get(key).and_then(|x| x.as_str()) {
                return s.trim().to_string();
            }
        }
    }
    let t = t.strip_prefix("Authorization:").map(str::trim).unwrap_or(t);
    let t = t
        .strip_prefix("Bearer ")
        .or_else(|| t.strip_prefix("bearer "))
        .unwrap_or(t);
    t.trim().to_string()
}

pub fn token(args: TokenArgs) -> Result<i32, UsageError> {
    let input = read_input(&args.file)?;
    let token = extract_token(&input);
    if token.is_empty() {
        return Err(UsageError("no token in the input".into()));
    }
    let surface = match args.endpoint.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        None => Surface::ResourceRoot,
        Some(raw) => {
            let url = crate::cli::parse_http_url("--endpoint", raw, "https://NAME.openai.azure.com/")?;
            Surface::of(&url).unwrap_or(Surface::ResourceRoot)
        }
    };
    let rule = ScopeRule {
        surface,
        cloud: args.cloud,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (mut judgement, _) = token_claims::judge_for(jwt::decode_claims(&token), now, &rule, args.tenant.clone());
    // The note is about the endpoint, not a claim: shown apart from the claims.
    let note = judgement
        .evidence
        .as_object_mut()
        .and_then(|o| o.remove("audience_note"));
    drop(token);
    let failed = judgement.status == aoai_doctor_checks::Status::Fail;
    let out = match args.format {
        Format::Json => {
            let doc = json!({
                "status": judgement.status,
                "summary": judgement.summary,
                "claims": judgement.evidence,
                "surface": rule.surface,
                "audience_note": note,
                "findings": judgement.findings,
            });
            serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
        }
        Format::Table => {
            let mut s = format!("{}: {}\n", judgement.status.as_str(), judgement.summary);
            if let Some(n) = note.as_ref().and_then(|n| n.as_str()) {
                s.push_str(&format!("note: {n}\n"));
            }
            if let Some(o) = judgement.evidence.as_object() {
                s.push_str("\nclaims (decoded, signature not shown):\n");
                for (k, v) in o.iter().filter(|(_, v)| !v.is_null()) {
                    s.push_str(&format!(
                        "  {k:<10} {}\n",
                        v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())
                    ));
                }
            }
            for f in &judgement.findings {
                s.push_str(&format!(
                    "\n{}: {}\n  fix: {}\n",
                    f.code.id, f.message, f.remediation.text
                ));
                for c in &f.remediation.commands {
                    s.push_str(&format!("    $ {c}\n"));
                }
            }
            s
        }
    };
    let _ = crate::render::write_stdout(&out);
    Ok(if failed { 1 } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_extraction() {
        assert_eq!(extract_token("  Bearer abc.def.ghi\n"), "abc.def.ghi");
        assert_eq!(extract_token("Authorization: Bearer a.b.c"), "a.b.c");
        assert_eq!(extract_token(r#"{"accessToken":"x.y.z","expiresOn":"N/A"}"#), "x.y.z");
        assert_eq!(extract_token(r#"{"access_token":"x.y.z"}"#), "x.y.z");
    }
}
