//! Confirmation: `--yes` applies; on a terminal the user is asked; with neither, nothing is
//! applied.

use aoai_doctor_checks::fix::Plan;
use std::io::{BufRead, IsTerminal, Write};

pub enum Answer {
    Yes,
    No,
    NoTerminal,
}

pub async fn confirm(plan: &Plan, yes: bool) -> Answer {
    let text = super::text::plan_text(plan);
    if yes {
        eprint!("{text}");
        return Answer::Yes;
    }
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Answer::NoTerminal;
    }
    let asked = tokio::task::spawn_blocking(move || {
        let mut err = std::io::stderr();
        let _ = write!(err, "{text}Create this role assignment? [y/N] ");
        let _ = err.flush();
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map(|_| line)
    })
    .await;
    match asked {
        Ok(Ok(line)) if matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes") => Answer::Yes,
        _ => Answer::No,
    }
}
