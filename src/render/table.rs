//! The table for people: one row per check, then each finding with its fix, then the verdict.

use aoai_doctor_checks::model::{Severity, Verdict};
use aoai_doctor_checks::{Report, Status};
use comfy_table::{Cell, Color, ContentArrangement, Table, presets};
use owo_colors::OwoColorize;

pub struct Options {
    pub color: bool,
    pub quiet: bool,
    /// Terminal width when known.
    pub width: Option<u16>,
}

fn status_cell(status: Status, color: bool) -> Cell {
    let (symbol, c) = match status {
        Status::Pass => ("✓ pass", Color::Green),
        Status::Warn => ("! warn", Color::Yellow),
        Status::Fail => ("✗ fail", Color::Red),
        Status::Skip => ("- skip", Color::DarkGrey),
        Status::Error => ("? error", Color::Magenta),
    };
    let cell = Cell::new(symbol);
    if color { cell.fg(c) } else { cell }
}

pub fn render(report: &Report, opts: &Options) -> String {
    let mut out = String::new();
    if !opts.quiet {
        let mut table = Table::new();
        table
            .load_style(presets::UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic)
            // Never trust comfy-table's own tty check: the color decision is made once, by us.
            .force_no_tty()
            .set_width(opts.width.unwrap_or(110))
            .set_header(vec!["status", "check", "summary"]);
        if opts.color {
            table.enforce_styling();
        }
        for c in &report.checks {
            table.add_row(vec![
                status_cell(c.status, opts.color),
                Cell::new(&c.id),
                Cell::new(&c.summary),
            ]);
        }
        out.push_str(&table.to_string());
        out.push('\n');
    }

    let findings: Vec<_> = report
        .checks
        .iter()
        .flat_map(|c| c.findings.iter().map(move |f| (c, f)))
        .filter(|(c, f)| {
            !opts.quiet || matches!(c.status, Status::Fail | Status::Error) && f.severity == Severity::Error
        })
        .collect();
    if !findings.is_empty() {
        out.push('\n');
        for (check, f) in findings {
            let label = match f.severity {
                Severity::Error => paint(opts.color, "error", |s| s.red().bold().to_string()),
                Severity::Warning => paint(opts.color, "warning", |s| s.yellow().bold().to_string()),
                Severity::Info => paint(opts.color, "info", |s| s.cyan().to_string()),
            };
            out.push_str(&format!("{label}[{}] {}: {}\n", f.code.id, check.id, f.message));
            if !f.remediation.text.is_empty() {
                out.push_str(&format!("  fix: {}\n", f.remediation.text));
            }
            for cmd in &f.remediation.commands {
                out.push_str(&format!("    $ {}\n", paint(opts.color, cmd, |s| s.bold().to_string())));
            }
            if let Some(url) = &f.docs_url {
                out.push_str(&format!("  docs: {url}\n"));
            }
        }
    }

    let counts = |s: Status| report.checks.iter().filter(|c| c.status == s).count();
    let tally = format!(
        "{} passed, {} warned, {} failed, {} skipped, {} errored in {} ms",
        counts(Status::Pass),
        counts(Status::Warn),
        counts(Status::Fail),
        counts(Status::Skip),
        counts(Status::Error),
        report.duration_ms
    );
    let verdict = match report.verdict {
        Verdict::Pass => paint(opts.color, "PASS: keyless access looks healthy", |s| {
            s.green().bold().to_string()
        }),
        Verdict::Warn => paint(opts.color, "PASS with warnings", |s| s.yellow().bold().to_string()),
        Verdict::Fail => paint(opts.color, "FAIL: fix the errors above", |s| s.red().bold().to_string()),
        Verdict::Error => paint(opts.color, "ERROR: some checks could not run", |s| {
            s.magenta().bold().to_string()
        }),
    };
    out.push_str(&format!("\n{verdict} ({tally})\n"));
    out
}

fn paint(color: bool, text: &str, style: impl Fn(&str) -> String) -> String {
    if color { style(text) } else { text.to_string() }
}
