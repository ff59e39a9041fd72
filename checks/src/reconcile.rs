//! After the run: the live call has the last word on what only it can settle. The role check
//! runs before (or beside) the probe and can only say a fresh assignment is *probably* still
//! propagating; when the probe then gets its answer, that warning is settled — it stays in
//! the report as information, and no longer makes the run `warn`.

use crate::codes;
use crate::model::{CheckResult, Severity, Status};

/// Settles the role check's `role-propagating` warning when the data-plane probe passed.
pub fn with_live_call(checks: &mut [CheckResult]) {
    let probe_passed = checks
        .iter()
        .any(|c| c.id == "data-plane-probe" && c.status == Status::Pass);
    if !probe_passed {
        return;
    }
    let Some(role) = checks.iter_mut().find(|c| c.id == "role-assignment") else {
        return;
    };
    let only_propagating = role.status == Status::Warn
        && role
            .findings
            .iter()
            .filter(|f| f.severity != Severity::Info)
            .all(|f| f.code.id == codes::ROLE_PROPAGATING.id);
    if !only_propagating {
        return;
    }
    for f in role
        .findings
        .iter_mut()
        .filter(|f| f.code.id == codes::ROLE_PROPAGATING.id)
    {
        f.severity = Severity::Info;
        f.message
            .push_str(" The live call has since passed: it has propagated.");
    }
    role.status = Status::Pass;
    role.summary.push_str("; the live call passed, so it has propagated");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Finding;

    fn check(id: &str, status: Status, findings: Vec<Finding>) -> CheckResult {
        CheckResult {
            id: id.into(),
            title: String::new(),
            status,
            summary: "s".into(),
            duration_ms: 0,
            requests: Default::default(),
            findings,
            evidence: serde_json::Value::Null,
        }
    }

    fn propagating() -> Finding {
        Finding::warning(&codes::ROLE_PROPAGATING, "assigned moments ago.")
    }

    #[test]
    fn a_passing_probe_settles_the_propagation_warning() {
        let mut c = vec![
            check("role-assignment", Status::Warn, vec![propagating()]),
            check("data-plane-probe", Status::Pass, vec![]),
        ];
        with_live_call(&mut c);
        assert_eq!(c[0].status, Status::Pass);
        assert_eq!(c[0].findings[0].severity, Severity::Info);
        assert!(c[0].findings[0].message.contains("has propagated"));
    }

    #[test]
    fn a_failing_or_missing_probe_or_another_warning_keeps_it() {
        for probe in [Some(Status::Fail), Some(Status::Skip), None] {
            let mut c = vec![check("role-assignment", Status::Warn, vec![propagating()])];
            if let Some(s) = probe {
                c.push(check("data-plane-probe", s, vec![]));
            }
            with_live_call(&mut c);
            assert_eq!(c[0].status, Status::Warn, "{probe:?}");
        }
        let other = Finding::warning(&codes::ROLE_CONDITION, "a condition");
        let mut c = vec![
            check("role-assignment", Status::Warn, vec![propagating(), other]),
            check("data-plane-probe", Status::Pass, vec![]),
        ];
        with_live_call(&mut c);
        assert_eq!(c[0].status, Status::Warn);
        assert_eq!(c[0].findings[0].severity, Severity::Warning);
    }
}
