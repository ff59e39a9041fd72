//! `--format markdown`: a summary table plus the fixes, for a pull-request comment or
//! GitHub's step summary.

use aoai_doctor_checks::model::Verdict;
use aoai_doctor_checks::{Report, Status};

fn icon(s: Status) -> &'static str {
    match s {
        Status::Pass => "✅ pass",
        Status::Warn => "⚠️ warn",
        Status::Fail => "❌ fail",
        Status::Skip => "⏭️ skip",
        Status::Error => "❗ error",
    }
}

/// Table cells must not break the table.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn render(report: &Report) -> String {
    let verdict = match report.verdict {
        Verdict::Pass => "✅ **PASS**: keyless access looks healthy",
        Verdict::Warn => "⚠️ **PASS with warnings**",
        Verdict::Fail => "❌ **FAIL**: fix the findings below",
        Verdict::Error => "❗ **ERROR**: some checks could not run",
    };
    let mut md = format!("## aoai-doctor {}\n\n{verdict}\n\n", report.tool.version);
    if let Some(e) = report.target.get("endpoint").and_then(|e| e.as_str()) {
        md.push_str(&format!("Endpoint: `{e}`\n\n"));
    }
    md.push_str("| status | check | summary |\n|---|---|---|\n");
    for c in &report.checks {
        md.push_str(&format!("| {} | `{}` | {} |\n", icon(c.status), c.id, cell(&c.summary)));
    }
    let with_findings: Vec<_> = report
        .checks
        .iter()
        .flat_map(|c| c.findings.iter().map(move |f| (c, f)))
        .filter(|(_, f)| f.severity != aoai_doctor_checks::model::Severity::Info)
        .collect();
    if !with_findings.is_empty() {
        md.push_str("\n### Findings\n");
        for (c, f) in with_findings {
            md.push_str(&format!("\n**`{}`** ({}): {}\n", f.code.id, c.id, f.message));
            if !f.remediation.text.is_empty() {
                md.push_str(&format!("\n{}\n", f.remediation.text));
            }
            if !f.remediation.commands.is_empty() {
                md.push_str("\n```sh\n");
                for cmd in &f.remediation.commands {
                    md.push_str(cmd);
                    md.push('\n');
                }
                md.push_str("```\n");
            }
            if let Some(url) = &f.docs_url {
                md.push_str(&format!("\n[docs]({url})\n"));
            }
        }
    }
    md
}
