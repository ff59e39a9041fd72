//! Debug builds only: `AOAI_DOCTOR_DEBUG_CRASH_CHECK=<check-id>` makes that check panic, so a
//! test can prove through the real binary that a crashing check becomes `error`
//! (`check-crashed`) while every other check still reports (flutter doctor's rule). Release
//! builds compile none of this: the variable means nothing to a user's binary.

use aoai_doctor_checks::checks::{Check, Outcome};
use aoai_doctor_checks::context::RunContext;
use aoai_doctor_checks::facts::{Fact, Facts};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

const VAR: &str = "AOAI_DOCTOR_DEBUG_CRASH_CHECK";

/// `checks` with the named one replaced by a check that panics (debug builds only).
pub fn apply(checks: Vec<Arc<dyn Check>>) -> Vec<Arc<dyn Check>> {
    if !cfg!(debug_assertions) {
        return checks;
    }
    let Ok(id) = std::env::var(VAR) else {
        return checks;
    };
    checks
        .into_iter()
        .map(|c| {
            if c.id() == id {
                Arc::new(Crashing(c)) as Arc<dyn Check>
            } else {
                c
            }
        })
        .collect()
}

struct Crashing(Arc<dyn Check>);

#[async_trait]
impl Check for Crashing {
    fn id(&self) -> &'static str {
        self.0.id()
    }
    fn title(&self) -> &'static str {
        self.0.title()
    }
    fn provides(&self) -> &'static [Fact] {
        self.0.provides()
    }
    fn needs(&self) -> &'static [Fact] {
        self.0.needs()
    }
    fn after(&self) -> &'static [Fact] {
        self.0.after()
    }
    fn timeout(&self, ctx: &RunContext) -> Duration {
        self.0.timeout(ctx)
    }
    async fn run(&self, _ctx: &RunContext, _facts: &Facts) -> Outcome {
        panic!("{VAR} asked this check to crash")
    }
}
