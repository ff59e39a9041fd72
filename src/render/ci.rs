//! CI annotations: GitHub Actions workflow commands (and the step summary), Azure Pipelines
//! logging commands. Written to stderr, so a JSON report on stdout stays parseable; both
//! runners read commands from either stream.

use aoai_doctor_checks::model::Severity;
use aoai_doctor_checks::{Report, Status};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ci {
    GitHubActions,
    AzurePipelines,
}

/// Which CI we are in, from the variables those runners set.
pub fn detect(var: impl Fn(&str) -> Option<String>) -> Option<Ci> {
    if var("GITHUB_ACTIONS").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        Some(Ci::GitHubActions)
    } else if var("TF_BUILD").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        Some(Ci::AzurePipelines)
    } else {
        None
    }
}

/// GitHub: `%`, CR and LF in data; also `:` and `,` in properties.
fn gh_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}
fn gh_prop(s: &str) -> String {
    gh_data(s).replace(':', "%3A").replace(',', "%2C")
}
/// Azure Pipelines: `;`, `]`, CR and LF.
fn ado(s: &str) -> String {
    s.replace('%', "%AZP25")
        .replace(';', "%3B")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
        .replace(']', "%5D")
}

/// One annotation per error or warning finding of a check that did not pass.
pub fn annotations(report: &Report, ci: Ci) -> String {
    let mut out = String::new();
    for c in report
        .checks
        .iter()
        .filter(|c| matches!(c.status, Status::Fail | Status::Error | Status::Warn))
    {
        for f in c.findings.iter().filter(|f| f.severity != Severity::Info) {
            let level = if f.severity == Severity::Error && c.status != Status::Warn {
                "error"
            } else {
                "warning"
            };
            let mut text = format!("{}: {}", c.id, f.message);
            if !f.remediation.text.is_empty() {
                text.push_str(&format!(" Fix: {}", f.remediation.text));
            }
            if let Some(cmd) = f.remediation.commands.first() {
                text.push_str(&format!(" $ {cmd}"));
            }
            match ci {
                Ci::GitHubActions => out.push_str(&format!(
                    "::{level} title={}::{}\n",
                    gh_prop(&format!("aoai-doctor {}", f.code.id)),
                    gh_data(&text)
                )),
                Ci::AzurePipelines => out.push_str(&format!(
                    "##vso[task.logissue type={level};code={}]{}\n",
                    ado(f.code.id),
                    ado(&text)
                )),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_keeps_one_command_per_line() {
        assert_eq!(gh_data("50% a\nb"), "50%25 a%0Ab");
        assert_eq!(gh_prop("a:b,c"), "a%3Ab%2Cc");
        assert_eq!(ado("a;b]\nc"), "a%3Bb%5D%0Ac");
    }

    #[test]
    fn detection() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        assert_eq!(detect(env(&[("GITHUB_ACTIONS", "true")])), Some(Ci::GitHubActions));
        assert_eq!(detect(env(&[("TF_BUILD", "True")])), Some(Ci::AzurePipelines));
        assert_eq!(detect(env(&[("CI", "true")])), None);
    }
}
