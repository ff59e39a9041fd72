//! `--format json`: the versioned report (see `schema/report.schema.json`).

use aoai_doctor_checks::Report;

pub fn render(report: &Report) -> String {
    // Serializing plain data cannot fail; fall back to a minimal valid document just in case.
    let mut s = serde_json::to_string_pretty(report)
        .unwrap_or_else(|e| format!("{{\"schema_version\":1,\"error\":\"cannot serialize the report: {e}\"}}"));
    s.push('\n');
    s
}
