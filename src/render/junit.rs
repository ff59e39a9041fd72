//! `--format junit`: one testcase per check, so GitLab, Azure Pipelines and Jenkins show the
//! doctor's verdict in their test tabs. A failed check is a `<failure>` with the findings and
//! their fixes, a check that could not run an `<error>`, a skipped one `<skipped>`.

use aoai_doctor_checks::{CheckResult, Report, Status};

pub fn render(report: &Report) -> String {
    let count = |s: Status| report.checks.iter().filter(|c| c.status == s).count();
    let (tests, failures, errors, skipped) = (
        report.checks.len(),
        count(Status::Fail),
        count(Status::Error),
        count(Status::Skip),
    );
    let secs = |ms: u64| format!("{:.3}", ms as f64 / 1000.0);
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(&format!(
        "<testsuites name=\"aoai-doctor\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{}\">\n",
        secs(report.duration_ms)
    ));
    x.push_str(&format!(
        "  <testsuite name=\"aoai-doctor\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{}\" timestamp=\"{}\">\n",
        secs(report.duration_ms),
        esc(report.started_at.trim_end_matches('Z'))
    ));
    x.push_str("    <properties>\n");
    x.push_str(&format!(
        "      <property name=\"tool.version\" value=\"{}\"/>\n",
        esc(&report.tool.version)
    ));
    x.push_str(&format!(
        "      <property name=\"verdict\" value=\"{}\"/>\n",
        report.verdict.as_str()
    ));
    if let Some(e) = report.target.get("endpoint").and_then(|e| e.as_str()) {
        x.push_str(&format!("      <property name=\"endpoint\" value=\"{}\"/>\n", esc(e)));
    }
    x.push_str("    </properties>\n");
    for c in &report.checks {
        testcase(&mut x, c, &secs(c.duration_ms));
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}

fn testcase(x: &mut String, c: &CheckResult, time: &str) {
    x.push_str(&format!(
        "    <testcase name=\"{}\" classname=\"aoai-doctor.{}\" time=\"{time}\"",
        esc(&c.title),
        esc(&c.id)
    ));
    let code = c.findings.first().map(|f| f.code.id).unwrap_or(c.status.as_str());
    let details = findings_text(c);
    match c.status {
        Status::Fail => x.push_str(&format!(
            ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
            esc(&c.summary),
            esc(code),
            esc(&details)
        )),
        Status::Error => x.push_str(&format!(
            ">\n      <error message=\"{}\" type=\"{}\">{}</error>\n    </testcase>\n",
            esc(&c.summary),
            esc(code),
            esc(&details)
        )),
        Status::Skip => x.push_str(&format!(
            ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
            esc(&c.summary)
        )),
        Status::Pass | Status::Warn if details.is_empty() => x.push_str("/>\n"),
        Status::Pass | Status::Warn => x.push_str(&format!(
            ">\n      <system-out>{}</system-out>\n    </testcase>\n",
            esc(&format!("{}: {}\n{details}", c.status.as_str(), c.summary))
        )),
    }
}

/// The findings with their fixes, as plain text.
pub fn findings_text(c: &CheckResult) -> String {
    let mut s = String::new();
    for f in &c.findings {
        s.push_str(&format!("[{}] {}\n", f.code.id, f.message));
        if !f.remediation.text.is_empty() {
            s.push_str(&format!("fix: {}\n", f.remediation.text));
        }
        for cmd in &f.remediation.commands {
            s.push_str(&format!("  $ {cmd}\n"));
        }
    }
    s
}

/// XML escaping for text and attributes; characters XML 1.0 cannot carry are dropped.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' | '\r' => out.push(ch),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escaping() {
        assert_eq!(super::esc("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot;");
    }
}
