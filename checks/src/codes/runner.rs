//! Codes the engine itself emits when a check could not run.
use super::{codes, docs};

codes! {
    list = RUNNER_CODES;
    CHECK_TIMED_OUT = ("check-timed-out", docs::README,
        "The check did not finish within its time limit; raise --timeout or look at the service it waits on.");
    CHECK_CRASHED = ("check-crashed", docs::README,
        "The check crashed inside the doctor (a bug); the other checks still ran. Please report it with the JSON report.");
    RUN_STOPPED = ("run-stopped", docs::README,
        "The run was stopped (Ctrl-C or --deadline) before the check finished; the other checks' results stand.");
    CHECK_INPUT_MISSING = ("check-input-missing", docs::README,
        "The check needs a fact that an earlier check could not provide; fix that check first.");
}
