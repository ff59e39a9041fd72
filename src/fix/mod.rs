//! `aoai-doctor fix`: run the doctor, plan ONE least-privilege role assignment for a missing
//! data-action role, check the caller may write it, write it (idempotently), wait until the
//! live call passes, and end with the doctor's full report — every change recorded in it.

mod apply;
mod args;
mod principal;
mod prompt;
mod text;
mod wait;

pub use args::FixArgs;

use crate::cli::UsageError;
use aoai_doctor_checks::azure::http::{RequestCounts, counting};
use aoai_doctor_checks::codes::{self, Code};
use aoai_doctor_checks::facts::{Facts, RoleVerdict};
use aoai_doctor_checks::fix::{Plan, Surface, plan};
use aoai_doctor_checks::model::{Change, CheckResult, Finding, Judgement, Report, Verdict};

/// What the `fix` row of the report says, and the changes made.
#[derive(Default)]
pub(crate) struct FixRow {
    findings: Vec<Finding>,
    evidence: serde_json::Map<String, serde_json::Value>,
    changes: Vec<Change>,
    /// Text for the user besides the report (the plan, an owner's commands): stderr.
    notes: Vec<String>,
    duration_ms: u64,
    /// The row's own requests (ARM token, permissions, the PUT, the read-back), counted as
    /// the runner counts a check's; the checks' re-runs count in their own rows.
    requests: std::sync::Arc<RequestCounts>,
}

impl FixRow {
    fn add(&mut self, f: Finding) -> &mut Self {
        self.findings.push(f);
        self
    }
    fn note(&mut self, key: &str, v: serde_json::Value) {
        self.evidence.insert(key.into(), v);
    }
}

/// How the run ends.
pub(crate) enum Ending {
    /// The final report (with the `fix` row added) and an exit code floor.
    Report { report: Box<Report>, row: FixRow },
    /// `--dry-run`: the plan as JSON, exit 0.
    DryRun(String),
    /// Not confirmed: the plan on stdout, exit 1.
    NotConfirmed(String),
}

pub fn run(args: FixArgs, matches: Option<&clap::ArgMatches>) -> Result<i32, UsageError> {
    let run_args = match matches {
        Some(m) => crate::with_config(args.run.clone(), m)?,
        None => args.run.clone(),
    };
    let prepared = crate::prepare(&run_args, true)?;
    let started = std::time::Instant::now();
    let args = FixArgs {
        run: run_args.clone(),
        ..args
    };
    let max_wait = run_args.target()?.wait_for_propagation;
    let ending = crate::run_to_end(flow(&prepared, &args, run_args.strict, max_wait));
    match ending {
        Ending::DryRun(json) => {
            let _ = crate::render::write_stdout(&json);
            Ok(0)
        }
        Ending::NotConfirmed(plan) => {
            let _ = crate::render::write_stdout(&plan);
            eprintln!(
                "aoai-doctor fix: not applied (no terminal to confirm on): rerun with --yes to apply, or --dry-run for JSON"
            );
            Ok(1)
        }
        Ending::Report { report, mut row } => {
            row.duration_ms = started.elapsed().as_millis() as u64;
            finish(*report, row, &run_args, &prepared)
        }
    }
}

fn finish(
    mut report: Report,
    row: FixRow,
    run_args: &crate::cli::RunArgs,
    prepared: &crate::Prepared,
) -> Result<i32, UsageError> {
    for n in &row.notes {
        eprintln!("{n}");
    }
    let status = Judgement::status_from(&row.findings);
    let summary = summary(&row);
    let result = CheckResult {
        id: "fix".into(),
        title: "Fix: one least-privilege role assignment".into(),
        status,
        summary,
        duration_ms: row.duration_ms,
        requests: row.requests.snapshot(),
        findings: row.findings,
        evidence: serde_json::Value::Object(row.evidence),
    };
    // Like a check's: its -v line, and its requests in the run's total.
    prepared.observer.finished(&result);
    for (service, n) in &result.requests {
        *report.requests.entry(service.clone()).or_insert(0) += n;
    }
    report.checks.push(result);
    report.verdict = Verdict::of(&report.checks, run_args.strict);
    report.changes = row.changes;
    if run_args.redact {
        crate::render::redact::redact(&mut report);
    }
    crate::render::deliver(&report, &prepared.delivery)?;
    let code = report.verdict.exit_code();
    // Exit 0 only when the live call passes.
    Ok(if code == 0 && !wait::probe_passed(&report) {
        1
    } else {
        code
    })
}

/// One line for the table: the worst finding, or what was done.
fn summary(row: &FixRow) -> String {
    use aoai_doctor_checks::model::Severity;
    if let Some(c) = row.changes.first() {
        let first = c.role.clone();
        if !row.findings.iter().any(|f| f.severity >= Severity::Warning) {
            return format!(
                "created {first} for {} {}; the live call passes",
                c.principal_type, c.principal_id
            );
        }
    }
    let worst = row
        .findings
        .iter()
        .max_by_key(|f| f.severity)
        .map(|f| f.message.as_str());
    let line: String = worst.unwrap_or_default().chars().take(160).collect();
    line
}

fn finding(code: &'static Code, severity: aoai_doctor_checks::model::Severity, msg: impl Into<String>) -> Finding {
    Finding::new(code, severity, msg)
}

async fn flow(p: &crate::Prepared, args: &FixArgs, strict: bool, max_wait: std::time::Duration) -> Ending {
    use aoai_doctor_checks::model::Severity::*;
    let (first, facts) = crate::check_run(p, strict).await;
    let mut row = FixRow::default();
    let Some(roles) = facts.roles.clone() else {
        row.add(finding(
            &codes::FIX_CANNOT_PLAN,
            Error,
            "the role check did not run to the end (see its row), so there is no role to plan",
        ));
        return Ending::Report {
            report: Box::new(first),
            row,
        };
    };
    row.note("role_verdict", serde_json::json!(roles.verdict));
    match roles.verdict {
        RoleVerdict::Missing => {}
        RoleVerdict::Propagating => {
            row.add(finding(
                &codes::FIX_ALREADY_DONE,
                Info,
                "a role that grants the data action was assigned minutes ago: nothing to write, waiting for it to propagate",
            ));
            return wait_then_report(p, strict, max_wait, row).await;
        }
        other => {
            not_missing(other, &mut row);
            return Ending::Report {
                report: Box::new(first),
                row,
            };
        }
    }
    if has_code(&first, "role-assignment", codes::ROLE_DENIED.id) {
        row.add(finding(&codes::FIX_DENY_ASSIGNMENT, Error, "a deny assignment blocks the data action for this principal: another role assignment would not help, and fix does not work around a deny assignment. Its owner (often a managed application or a deployment stack) must exclude the principal; the role-assignment row names it."));
        return Ending::Report {
            report: Box::new(first),
            row,
        };
    }
    let mut chosen = principal::choose(&facts, p.ctx.target.assignee.as_deref(), args.assignee_type);
    if args.run.redact
        && let Ok(c) = &mut chosen
    {
        // --redact: ids only, no UPN, in the plan as in the report.
        c.display = None;
    }
    let project = principal::project_of(p.ctx.target.endpoint.as_ref());
    let surface = Surface {
        project: project.as_deref(),
        live_call_on_project: live_call_on_project(&first),
    };
    let plan = match plan(roles.resource_id.as_deref(), &roles.data_action, surface, chosen) {
        Ok(plan) => plan,
        Err(e) => {
            row.add(finding(
                &codes::FIX_CANNOT_PLAN,
                Error,
                format!("no plan: {}", e.describe()),
            ));
            return Ending::Report {
                report: Box::new(first),
                row,
            };
        }
    };
    row.note("plan", serde_json::to_value(&plan).unwrap_or_default());
    row.add(finding(
        &codes::FIX_PLANNED,
        Info,
        format!(
            "planned: {} for {} {} on {}",
            plan.role, plan.principal_type, plan.principal_id, plan.scope
        ),
    ));
    if args.dry_run {
        return dry_run(p, &facts, &plan, &mut row).await;
    }
    match prompt::confirm(&plan, args.yes).await {
        prompt::Answer::Yes => {}
        prompt::Answer::NoTerminal => return Ending::NotConfirmed(text::plan_text(&plan)),
        prompt::Answer::No => {
            row.add(
                finding(
                    &codes::FIX_NOT_CONFIRMED,
                    Error,
                    "the plan was not confirmed: nothing was written",
                )
                .command(plan.az_command()),
            );
            return Ending::Report {
                report: Box::new(first),
                row,
            };
        }
    }
    apply_and_report(p, &facts, plan, first, row, strict, max_wait).await
}

/// `--dry-run`: the plan and whether the caller may write it (read-only).
async fn dry_run(p: &crate::Prepared, facts: &Facts, plan: &Plan, row: &mut FixRow) -> Ending {
    let counts = row.requests.clone();
    let access = counting(counts, apply::check_access(p, facts, plan, row))
        .await
        .map(|(_, a)| a);
    Ending::DryRun(text::plan_json(plan, access.as_ref()))
}

/// The role is there (or unreadable): nothing for fix to write.
fn not_missing(verdict: RoleVerdict, row: &mut FixRow) {
    use aoai_doctor_checks::model::Severity::*;
    if verdict == RoleVerdict::Granted {
        row.add(finding(
            &codes::FIX_NOTHING_TO_DO,
            Info,
            "a role that grants the data action is already assigned; any other failure stays manual (its row has the commands)",
        ));
    } else {
        row.add(finding(
            &codes::FIX_CANNOT_PLAN,
            Error,
            "the role assignments could not be read (see the role-assignment row), so fix cannot tell what is missing",
        ));
    }
}

/// Whether the doctor's live call went to a Foundry project route.
fn live_call_on_project(report: &Report) -> bool {
    report
        .checks
        .iter()
        .filter(|c| c.id == "data-plane-probe")
        .any(|c| c.evidence.to_string().contains("/api/projects/"))
}

fn has_code(report: &Report, check: &str, code: &str) -> bool {
    report
        .checks
        .iter()
        .filter(|c| c.id == check)
        .flat_map(|c| c.findings.iter())
        .any(|f| f.code.id == code)
}

async fn apply_and_report(
    p: &crate::Prepared,
    facts: &Facts,
    plan: Plan,
    first: Report,
    mut row: FixRow,
    strict: bool,
    max_wait: std::time::Duration,
) -> Ending {
    let counts = row.requests.clone();
    if !counting(counts.clone(), apply::apply(p, facts, &plan, &mut row)).await {
        return Ending::Report {
            report: Box::new(first),
            row,
        };
    }
    if !plan.principal_is_caller {
        counting(counts, apply::read_back(p, facts, &plan, &mut row)).await;
        let (report, _) = crate::check_run(p, strict).await;
        return Ending::Report {
            report: Box::new(report),
            row,
        };
    }
    wait_then_report(p, strict, max_wait, row).await
}

async fn wait_then_report(p: &crate::Prepared, strict: bool, max_wait: std::time::Duration, mut row: FixRow) -> Ending {
    let waited = wait::until_live(max_wait, p.deadline, p.ctx.progress.as_ref(), || {
        crate::check_run(p, strict)
    })
    .await;
    row.note(
        "propagation",
        serde_json::json!({"attempts": waited.attempts, "waited_ms": waited.elapsed.as_millis() as u64, "live": waited.live}),
    );
    if !waited.live && waited.denied {
        row.add(
            finding(
                &codes::FIX_PROPAGATION_TIMEOUT,
                aoai_doctor_checks::model::Severity::Error,
                format!(
                    "the role assignment exists, but the live call still answered 401 PermissionDenied after {} attempts over {}{}: the fix is not done yet (Azure RBAC can take up to 10 minutes, longer through groups)",
                    waited.attempts,
                    aoai_doctor_checks::checks::data_plane_probe::short_duration(waited.elapsed),
                    if waited.interrupted { " (the wait was interrupted)" } else { "" }
                ),
            )
            .fix("Run aoai-doctor fix again later (it will not create a second assignment), or raise --wait-for-propagation."),
        );
    } else if !waited.live {
        row.add(finding(
            &codes::FIX_LIVE_CALL_FAILS,
            aoai_doctor_checks::model::Severity::Error,
            "the role is in place, but the live call fails for another reason (see the data-plane-probe row and its commands); fix changes nothing else",
        ));
    }
    let _ = &waited.facts;
    Ending::Report {
        report: Box::new(waited.report),
        row,
    }
}
