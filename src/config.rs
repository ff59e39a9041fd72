//! `aoai-doctor.toml`: a repository pins its endpoint, deployment, expected principal and
//! limits for every developer and pipeline. Flags win over environment variables, which win
//! over the file. Unknown keys are an error naming the key and its line.

use crate::cli::{RunArgs, UsageError};
use clap::ValueEnum;
use clap::parser::{ArgMatches, ValueSource};
use serde::Deserialize;
use std::path::{Path, PathBuf};

pub const DEFAULT_FILE: &str = "aoai-doctor.toml";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    endpoint: Option<String>,
    deployment: Option<String>,
    api_version: Option<String>,
    resource_id: Option<String>,
    scope: Option<String>,
    credential: Option<String>,
    sdk: Option<String>,
    cloud: Option<String>,
    arm_endpoint: Option<String>,
    authority_host: Option<String>,
    assignee: Option<String>,
    /// The principal (object id) the app must authenticate as.
    expect_principal: Option<String>,
    container: Option<String>,
    ca_cert: Option<PathBuf>,
    probe: Option<String>,
    wait_for_propagation: Option<String>,
    timeout: Option<String>,
    deadline: Option<String>,
    strict: Option<bool>,
    only: Option<Vec<String>>,
    skip: Option<Vec<String>>,
    format: Option<String>,
    redact: Option<bool>,
    ci_annotations: Option<String>,
}

/// Loads `--config FILE`, or `aoai-doctor.toml` in the current directory if there is one.
pub fn load(explicit: Option<&Path>) -> Result<Option<(PathBuf, Config)>, UsageError> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => {
            let p = PathBuf::from(DEFAULT_FILE);
            if !p.is_file() {
                return Ok(None);
            }
            p
        }
    };
    let text = std::fs::read_to_string(&path).map_err(|e| UsageError(format!("--config {}: {e}", path.display())))?;
    let config: Config = toml::from_str(&text).map_err(|e| UsageError(describe(&path, &text, &e)))?;
    Ok(Some((path, config)))
}

/// "aoai-doctor.toml line 3: unknown key `endpont` (known: …)" on one line.
fn describe(path: &Path, text: &str, e: &toml::de::Error) -> String {
    let line = e
        .span()
        .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
    let msg = e.message().replace('\n', " ");
    let msg = msg.replace("unknown field", "unknown key");
    match line {
        Some(l) => format!("{} line {l}: {msg}", path.display()),
        None => format!("{}: {msg}", path.display()),
    }
}

fn from_flag_or_env(m: &ArgMatches, id: &str) -> bool {
    matches!(
        m.value_source(id),
        Some(ValueSource::CommandLine) | Some(ValueSource::EnvVariable)
    )
}

fn enum_value<T: ValueEnum>(key: &str, raw: &str) -> Result<T, UsageError> {
    T::from_str(raw, true).map_err(|_| {
        let known: Vec<String> = T::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value())
            .map(|p| p.get_name().to_string())
            .collect();
        UsageError(format!("config key {key} = '{raw}' is not one of {}", known.join(", ")))
    })
}

/// Fills every option that neither a flag nor an environment variable set.
pub fn apply(c: Config, args: &mut RunArgs, m: &ArgMatches) -> Result<(), UsageError> {
    macro_rules! text {
        ($field:ident) => {
            if let Some(v) = c.$field.clone()
                && !from_flag_or_env(m, stringify!($field))
            {
                args.$field = v.into();
            }
        };
    }
    macro_rules! choice {
        ($field:ident) => {
            if let Some(v) = c.$field.as_deref()
                && !from_flag_or_env(m, stringify!($field))
            {
                args.$field = enum_value(stringify!($field), v)?;
            }
        };
    }
    // The endpoint and the api-version read their variables in code (a chain of names, and
    // OPENAI_API_VERSION only on the classic route): a set variable still beats the file.
    if crate::cli::endpoint_from_env().is_none() {
        text!(endpoint);
        args.endpoint_from_config = c.endpoint.is_some() && !from_flag_or_env(m, "endpoint");
    }
    if !std::env::var("OPENAI_API_VERSION").is_ok_and(|v| !v.trim().is_empty()) {
        text!(api_version);
    }
    text!(resource_id);
    text!(scope);
    text!(arm_endpoint);
    text!(authority_host);
    text!(assignee);
    text!(expect_principal);
    text!(ca_cert);
    text!(wait_for_propagation);
    text!(timeout);
    text!(deadline);
    choice!(credential);
    choice!(sdk);
    choice!(cloud);
    choice!(probe);
    choice!(format);
    choice!(ci_annotations);
    if let Some(v) = c.container.as_deref()
        && !from_flag_or_env(m, "container")
    {
        args.container = Some(enum_value("container", v)?);
    }
    // The deployment has three environment names of its own.
    let deployment_env = [
        "AZURE_OPENAI_DEPLOYMENT",
        "AZURE_OPENAI_DEPLOYMENT_NAME",
        "AZURE_OPENAI_CHAT_DEPLOYMENT_NAME",
    ]
    .iter()
    .any(|k| std::env::var(k).is_ok_and(|v| !v.trim().is_empty()));
    if let Some(d) = c.deployment
        && !from_flag_or_env(m, "deployment")
        && !deployment_env
    {
        args.deployment = Some(d);
    }
    if let Some(b) = c.strict
        && !from_flag_or_env(m, "strict")
    {
        args.strict = b;
    }
    if let Some(b) = c.redact
        && !from_flag_or_env(m, "redact")
    {
        args.redact = b;
    }
    if let Some(v) = c.only
        && !from_flag_or_env(m, "only")
    {
        args.only = v;
    }
    if let Some(v) = c.skip
        && !from_flag_or_env(m, "skip")
    {
        args.skip = v;
    }
    Ok(())
}
