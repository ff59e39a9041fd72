//! The lab's command line: `aoai-doctor lab serve|scenarios|az` and `aoai-doctor demo`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};

#[derive(Subcommand, Debug)]
pub enum LabCommand {
    /// run the lab until Ctrl-C for a scenario, write a client env file
    Serve(ServeArgs),
    /// list scenarios with one-line descriptions and expected verdicts
    Scenarios,
    /// the Azure CLI emulator the lab's `az` shim calls (hidden)
    #[command(hide = true, disable_help_flag = true, disable_version_flag = true)]
    Az(AzArgs),
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Scenario name (see `lab scenarios`) or a scenario .toml file
    #[arg(long, short, default_value = "healthy-cli")]
    pub scenario: String,
    /// Write the client environment (`export` lines) here instead of stdout
    #[arg(long)]
    pub env_file: Option<PathBuf>,
    /// Exit by itself after this long (e.g. 90s, 10m)
    #[arg(long, value_parser = humantime::parse_duration)]
    pub ttl: Option<Duration>,
    /// Override the scenario's role propagation delay (e.g. 2s)
    #[arg(long, value_parser = humantime::parse_duration)]
    pub propagation_delay: Option<Duration>,
    /// Log one line per request to stderr (never tokens or secrets)
    #[arg(long)]
    pub log: bool,
    /// Make one service misbehave (repeatable): NAME[@SERVICE], SERVICE one of entra, arm,
    /// aoai, imds, identity, az (default: where the app's token comes from). Faults: refused,
    /// hang, garbage, untrusted-cert, reset-mid-body, http-500|502|503[-empty], html-200,
    /// html-502, truncated-json, huge-body, not-a-token, opaque-token, bogus-exp, exp-string,
    /// empty (az), aadsts-N (entra: every token request refused with AADSTS<N>)
    #[arg(long = "fault", value_name = "NAME[@SERVICE]")]
    pub faults: Vec<String>,
    /// Round trips as far-away Azure charges them (README → Speed), e.g.
    /// mi=10ms,entra=150ms,arm=120ms,dataplane=40ms,az=700ms; over the scenario's [latency]
    #[arg(long, value_name = "SERVICE=DURATION,…")]
    pub latency: Option<String>,
    /// Time the model takes for a completion (e.g. 350ms), on top of the data plane's RTT
    #[arg(long, value_parser = humantime::parse_duration)]
    pub model_time: Option<Duration>,
    /// Subscriptions the caller sees in all (the account's listed last; the others empty)
    #[arg(long, value_name = "N")]
    pub subscriptions: Option<usize>,
    /// Append every request, connection and az call to FILE as JSON lines (for scripts/bench)
    #[arg(long, value_name = "FILE")]
    pub stats: Option<PathBuf>,
    /// Answer as the real host names (NAME.openai.azure.com, login.microsoftonline.com,
    /// management.azure.com) through a CONNECT proxy on 127.0.0.1; the env file sets
    /// HTTPS_PROXY, so unmodified apps and SDKs reach the lab (and only the lab)
    #[arg(long)]
    pub real_names: bool,
}

#[derive(Args, Debug)]
pub struct AzArgs {
    /// Arguments as the Azure CLI gets them
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Show this scenario's report in full (several: comma-separated); without one, a
    /// one-line summary of every scenario
    #[arg(value_name = "SCENARIO", conflicts_with = "scenario_flag")]
    pub scenario: Option<String>,
    /// The same as SCENARIO; `all` is the summary
    #[arg(long = "scenario", short = 's', value_name = "SCENARIO")]
    pub scenario_flag: Option<String>,
    /// Report format: the doctor's, or the summary as a JSON array
    #[arg(long, value_enum, default_value_t = DemoFormat::Table)]
    pub format: DemoFormat,
    /// Color for the doctor's table reports
    #[arg(long, value_enum, default_value_t = DemoColor::Auto)]
    pub color: DemoColor,
    /// Point the doctor at the lab's loopback URLs instead of the real host names (which it
    /// reaches through the lab's CONNECT proxy on 127.0.0.1)
    #[arg(long)]
    pub loopback: bool,
}

impl DemoArgs {
    /// The scenarios asked for, positional or flag: a comma-separated list, or `all`.
    pub fn chosen(&self) -> &str {
        self.scenario
            .as_deref()
            .or(self.scenario_flag.as_deref())
            .unwrap_or("all")
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DemoFormat {
    Table,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DemoColor {
    Auto,
    Always,
    Never,
}

impl DemoColor {
    pub fn as_str(self) -> &'static str {
        match self {
            DemoColor::Auto => "auto",
            DemoColor::Always => "always",
            DemoColor::Never => "never",
        }
    }
}

/// `aoai-doctor lab …`; returns the exit code.
pub async fn run_lab(cmd: LabCommand) -> anyhow::Result<i32> {
    match cmd {
        LabCommand::Serve(a) => super::serve::serve(a).await,
        LabCommand::Scenarios => {
            let all = super::scenarios();
            let width = all.iter().map(|s| s.name.len()).max().unwrap_or(0);
            let text: String = all
                .iter()
                .map(|s| {
                    format!(
                        "{:width$}  {:5}  {}\n",
                        s.name,
                        s.expected_verdict.as_str(),
                        s.description
                    )
                })
                .collect();
            super::util::print_out(&text);
            Ok(0)
        }
        LabCommand::Az(a) => Ok(super::az::run(&a.args).await),
    }
}

/// `aoai-doctor demo`; returns the exit code.
pub async fn run_demo(args: DemoArgs) -> anyhow::Result<i32> {
    super::demo::run(args).await
}
