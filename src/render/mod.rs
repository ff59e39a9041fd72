//! Renderers: the report is built once and rendered in the format the user chose.

pub mod json;
pub mod progress;
pub mod table;

use crate::cli::ColorWhen;

/// One color decision for everything we print (tables, text, logs): `--color always|never`
/// win; `auto` follows anstream (NO_COLOR > CLICOLOR_FORCE > CLICOLOR=0 > a terminal).
pub fn color_enabled(when: ColorWhen, writing_to_file: bool) -> bool {
    match when {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => {
            !writing_to_file && anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never
        }
    }
}

/// Writes to stdout; a closed pipe (`aoai-doctor | head`) is not an error worth a panic.
pub fn write_stdout(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

pub mod ci;
pub mod junit;
pub mod markdown;
pub mod redact;

use crate::cli::{Annotations, Format, UsageError};
use aoai_doctor_checks::Report;
use std::path::PathBuf;

/// What to deliver and where, decided once from the options before the run starts.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The main format: stdout, or `output` when given.
    pub format: Format,
    pub output: Option<PathBuf>,
    /// Extra report files (`--report FORMAT=PATH`, `--output-json` …), never colored.
    pub extra: Vec<(Format, PathBuf)>,
    /// Whether to annotate in GitHub Actions / Azure Pipelines when one is detected.
    pub ci_annotations: Annotations,
    pub color: bool,
    pub quiet: bool,
    pub width: Option<u16>,
}

/// Renders the report in one format.
pub fn render(report: &Report, format: Format, color: bool, quiet: bool, width: Option<u16>) -> String {
    match format {
        Format::Json => json::render(report),
        Format::Junit => junit::render(report),
        Format::Markdown => markdown::render(report),
        Format::Table => table::render(report, &table::Options { color, quiet, width }),
    }
}

/// Writes every output the user asked for: the main format (stdout or `--output`), the extra
/// report files, and — in GitHub Actions or Azure Pipelines — annotations and the step summary.
pub fn deliver(report: &Report, to: &Delivery) -> Result<(), UsageError> {
    let write = |path: &std::path::Path, text: &str| {
        std::fs::write(path, text).map_err(|e| UsageError(format!("cannot write {}: {e}", path.display())))
    };
    let main = render(report, to.format, to.color, to.quiet, to.width);
    match &to.output {
        Some(path) => write(path, &main)?,
        None => write_stdout(&main).map_err(|e| UsageError(format!("cannot write the report: {e}")))?,
    }
    for (format, path) in &to.extra {
        // Files never get colors.
        write(path, &render(report, *format, false, false, None))?;
    }
    if to.ci_annotations == Annotations::Auto
        && let Some(ci) = ci::detect(|k| std::env::var(k).ok())
    {
        eprint!("{}", ci::annotations(report, ci));
        if ci == ci::Ci::GitHubActions
            && let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|s| !s.is_empty())
        {
            use std::io::Write;
            let appended = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&summary)
                .and_then(|mut f| f.write_all(markdown::render(report).as_bytes()));
            if let Err(e) = appended {
                eprintln!("aoai-doctor: warning: cannot append to GITHUB_STEP_SUMMARY: {e}");
            }
        }
    }
    if let Some(path) = &to.output
        && !to.quiet
    {
        // The verdict still shows in the log when the report goes to a file.
        eprintln!(
            "aoai-doctor: {} (report written to {})",
            report.verdict.as_str(),
            path.display()
        );
    }
    Ok(())
}
