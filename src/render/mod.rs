//! Renderers: the report is built once and rendered in the format the user chose.

pub mod json;
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
