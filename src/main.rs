//! aoai-doctor: parse → build the run context → run checks → render → exit code.

mod cli;
mod config;
mod crash_hook;
mod fix;

mod render;
mod tools;
mod url_secrets;

use aoai_doctor_checks::context::{Cloud, Endpoints, RunContext, SystemEnvironment, Timeouts, system_clock};
use aoai_doctor_checks::model::Report;
use aoai_doctor_checks::{azure, checks, codes, runner};
use aoai_doctor_lab as lab;
use clap::{CommandFactory, FromArgMatches};
use cli::{Cli, Command, RunArgs, UsageError};
use std::sync::Arc;

fn main() {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let code = match cli.command {
        Some(Command::Completions { shell }) => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "aoai-doctor", &mut out);
            let _ = render::write_stdout(&String::from_utf8_lossy(&out));
            0
        }
        Some(Command::Man) => {
            let mut out = Vec::new();
            match clap_mangen::Man::new(Cli::command()).render(&mut out) {
                Ok(()) => {
                    let _ = render::write_stdout(&String::from_utf8_lossy(&out));
                    0
                }
                Err(e) => {
                    eprintln!("aoai-doctor: error: {e}");
                    3
                }
            }
        }
        Some(Command::Checks) => list_checks(),
        Some(Command::Codes) => list_codes(),
        Some(Command::Explain(args)) => usage_or(tools::explain(args)),
        Some(Command::Token(args)) => usage_or(tools::token(args)),
        Some(Command::Fix(args)) => usage_or(fix::run(*args, matches.subcommand_matches("fix"))),
        Some(Command::Demo(args)) => block_on(lab::run_demo(args)),
        Some(Command::Lab(cmd)) => block_on(lab::run_lab(cmd)),
        None => usage_or(with_config(cli.run, &matches).and_then(doctor)),
    };
    std::process::exit(code);
}

/// A usage error is one clear line on stderr and exit 2.
fn usage_or(result: Result<i32, UsageError>) -> i32 {
    match result {
        Ok(code) => code,
        Err(UsageError(msg)) => {
            eprintln!("aoai-doctor: error: {msg}");
            2
        }
    }
}

/// How long the end of a run waits for blocking work still under way (none is needed).
const BLOCKING_GRACE: std::time::Duration = std::time::Duration::from_millis(200);

/// Runs `fut` to its end on a fresh runtime, then shuts the runtime down without waiting on
/// blocking work left behind: a DNS lookup the endpoint check stopped caring about (behind a
/// proxy) can sit in the system resolver for seconds, and a plain drop of the runtime would
/// hold the exit until it returns. Async tasks are still dropped, so `az` children die.
pub(crate) fn run_to_end<F: std::future::Future>(fut: F) -> F::Output {
    let rt = runtime();
    let out = rt.block_on(fut);
    rt.shutdown_timeout(BLOCKING_GRACE);
    out
}

fn runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("aoai-doctor: error: cannot start the async runtime: {e}");
            std::process::exit(3);
        }
    }
}

fn block_on(fut: impl std::future::Future<Output = anyhow::Result<i32>>) -> i32 {
    match run_to_end(fut) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("aoai-doctor: error: {e:#}");
            3
        }
    }
}

/// Fills options from the config file where no flag or variable set them.
pub(crate) fn with_config(mut args: RunArgs, matches: &clap::ArgMatches) -> Result<RunArgs, UsageError> {
    if let Some((_, config)) = config::load(args.config.as_deref())? {
        config::apply(config, &mut args, matches)?;
    }
    Ok(args)
}

/// The main job: validate, run the checks, render, and return the exit code.
fn doctor(args: RunArgs) -> Result<i32, UsageError> {
    let prepared = prepare(&args, false)?;
    let mut report = run_checks(&prepared, &args);
    if args.redact {
        render::redact::redact(&mut report);
    }
    render::deliver(&report, &prepared.delivery)?;
    Ok(report.verdict.exit_code())
}

/// A validated run, ready to go (shared with `fix`).
pub(crate) struct Prepared {
    pub ctx: Arc<RunContext>,
    pub deadline: std::time::Duration,
    pub only: Vec<String>,
    pub skip: Vec<String>,
    /// What to render, where (the format, the output file, extra reports, CI annotations).
    pub delivery: render::Delivery,
    /// Hears each check finish (`-v`: one line per check with its time and requests).
    pub observer: Arc<dyn runner::Observer>,
    pub verbose: u8,
}

/// Everything that can be wrong with the input is found here, before any network call.
/// `no_wait`: the data-plane probe does not wait for propagation (`fix` waits itself).
pub(crate) fn prepare(args: &RunArgs, no_wait: bool) -> Result<Prepared, UsageError> {
    let mut target = args.target()?;
    let check_timeout = args.check_timeout()?;
    let deadline = args.deadline(target.wait_for_propagation)?;
    if no_wait {
        target.wait_for_propagation = std::time::Duration::ZERO;
    }
    let ids = checks::ids();
    let (only, skip) = args.selection(&ids)?;
    let selected_ids: Vec<&str> = checks::select(&only, &skip).iter().map(|c| c.id()).collect();
    let resolves = args.resolves()?;
    let extra_reports = args.extra_reports()?;
    let cloud = target.cloud;
    let endpoints = endpoints(args, cloud)?;
    let roots = extra_roots(args)?;
    let color = render::color_enabled(args.color, args.output.is_some());
    let delivery = render::Delivery {
        format: args.format,
        output: args.output.clone(),
        extra: extra_reports,
        ci_annotations: args.ci_annotations,
        color,
        quiet: args.quiet,
        width: terminal_width(),
    };
    init_logging(args.verbose, args.color);

    let defaults = Timeouts::default();
    // A subprocess must give up before its check does, so a hanging `az` is reported as such.
    let subprocess = defaults.subprocess.min(check_timeout.mul_f64(0.8));
    let timeouts = Timeouts {
        check: check_timeout,
        subprocess,
        ..defaults
    };
    let http = azure::http::client(roots.as_deref(), &resolves, &timeouts).map_err(UsageError)?;
    let progress = render::progress::for_stderr(args.quiet);
    let observer = render::progress::observer(args.verbose, progress.clone());
    let ctx = Arc::new(RunContext {
        target,
        endpoints,
        timeouts,
        http,
        env: Arc::new(SystemEnvironment),
        clock: system_clock(),
        resolves,
        extra_roots_pem: roots,
        progress: progress.clone(),
        // The role check is the one that wants an ARM token.
        az_tokens: azure::az_tokens::AzTokens::new(
            selected_ids.contains(&"role-assignment").then(|| cloud.arm_scope()),
        ),
        early: Default::default(),
        imds_http: Default::default(),
    });
    Ok(Prepared {
        ctx,
        deadline,
        only,
        skip,
        delivery,
        observer,
        verbose: args.verbose,
    })
}

/// Runs the selected checks once and puts the report together.
pub(crate) fn run_checks(p: &Prepared, args: &RunArgs) -> Report {
    run_to_end(check_run(p, args.strict)).0
}

/// One run of the selected checks on the caller's runtime; also returns what they learned.
pub(crate) async fn check_run(p: &Prepared, strict: bool) -> (Report, aoai_doctor_checks::facts::Facts) {
    let started_at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let started = std::time::Instant::now();
    let selected = crash_hook::apply(checks::select(&p.only, &p.skip));
    // Ctrl-C ends the run early and still prints the report so far; if the handler cannot be
    // installed, the run just goes on. The whole run also has a hard ceiling (--deadline).
    let stop = stop_signal(p.deadline);
    let (results, facts) = runner::run_until(p.ctx.clone(), selected, p.observer.clone(), stop).await;
    let report = Report::assemble(
        started_at,
        started.elapsed().as_millis() as u64,
        p.ctx.target.to_json(),
        &facts,
        results,
        strict,
    );
    if p.verbose > 0 {
        let total = format!(
            "{} ms; {}",
            report.duration_ms,
            render::progress::requests_text(&report.requests)
        );
        p.ctx.progress.done("run", &total);
    }
    (report, facts)
}

/// Entra, ARM and IMDS: the cloud's, or the overrides (`AZURE_AUTHORITY_HOST`,
/// `--arm-endpoint`, `AZURE_POD_IDENTITY_AUTHORITY_HOST`).
fn endpoints(args: &RunArgs, cloud: Cloud) -> Result<Endpoints, UsageError> {
    let authority_host = cli::parse_http_url(
        "AZURE_AUTHORITY_HOST",
        args.authority_host.as_deref().unwrap_or(cloud.authority_host()),
        "https://login.microsoftonline.com/",
    )?;
    let arm = cli::parse_http_url(
        "--arm-endpoint",
        args.arm_endpoint.as_deref().unwrap_or(cloud.arm_endpoint()),
        "https://management.azure.com/",
    )?;
    // The SDKs' IMDS override; the default is the real link-local address.
    let imds_raw = std::env::var("AZURE_POD_IDENTITY_AUTHORITY_HOST")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let imds = cli::parse_http_url(
        "AZURE_POD_IDENTITY_AUTHORITY_HOST",
        imds_raw.as_deref().unwrap_or("http://169.254.169.254"),
        "http://169.254.169.254",
    )?;
    Ok(Endpoints {
        authority_host,
        arm,
        imds,
    })
}

/// Completes on Ctrl-C or at the run's deadline, saying which.
async fn stop_signal(deadline: std::time::Duration) -> runner::Stopped {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        _ = ctrl_c => runner::Stopped::interrupted(),
        _ = tokio::time::sleep(deadline) => runner::Stopped::deadline(deadline),
    }
}

/// `--ca-cert FILE`, else `SSL_CERT_FILE` (read ourselves too, so it also adds to the
/// platform roots where the platform verifier would ignore it).
fn extra_roots(args: &RunArgs) -> Result<Option<Vec<u8>>, UsageError> {
    let (path, flag) = match (&args.ca_cert, std::env::var_os("SSL_CERT_FILE")) {
        (Some(p), _) => (p.clone(), "--ca-cert"),
        (None, Some(p)) if !p.is_empty() => (std::path::PathBuf::from(p), "SSL_CERT_FILE"),
        _ => return Ok(None),
    };
    let pem = std::fs::read(&path).map_err(|e| UsageError(format!("{flag} {}: {e}", path.display())))?;
    if reqwest::Certificate::from_pem_bundle(&pem)
        .map(|c| c.is_empty())
        .unwrap_or(true)
    {
        return Err(UsageError(format!(
            "{flag} {}: no PEM certificate in it",
            path.display()
        )));
    }
    Ok(Some(pem))
}

pub(crate) fn terminal_width() -> Option<u16> {
    if let Some(cols) = std::env::var("COLUMNS").ok().and_then(|c| c.parse::<u16>().ok()) {
        return Some(cols);
    }
    // comfy-table reads the terminal size when stdout is one.
    comfy_table::Table::new().width()
}

fn init_logging(verbose: u8, color: cli::ColorWhen) {
    use std::io::IsTerminal;
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let ansi = match color {
        cli::ColorWhen::Always => true,
        cli::ColorWhen::Never => false,
        cli::ColorWhen::Auto => std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    // The TLS verifier logs its own ERROR line for an untrusted certificate; the endpoint and
    // token checks already explain that as a finding, so it only shows with -vv.
    let quiet_crates = if verbose >= 2 {
        ""
    } else {
        ",rustls_platform_verifier=off"
    };
    let filter =
        tracing_subscriber::EnvFilter::try_new(format!("{level},hyper=warn,rustls=warn,reqwest=warn{quiet_crates}"))
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false)
        .try_init();
}

fn list_checks() -> i32 {
    let mut out = String::new();
    for c in checks::all() {
        out.push_str(&format!("{:<24} {}\n", c.id(), c.title()));
    }
    let _ = render::write_stdout(&out);
    0
}

fn list_codes() -> i32 {
    let mut out = String::new();
    for c in codes::all() {
        out.push_str(&format!("{:<32} {}\n", c.id, c.description));
    }
    let _ = render::write_stdout(&out);
    0
}
