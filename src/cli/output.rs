//! What every command shares at the edge: the exit codes, the diagnostics format and the
//! `--deny` policy, printing to stdout without panicking, and rendering diagnostics (human
//! text with source excerpts, or JSON). Commands import from here; this file imports no
//! other CLI file.

use crate::build;
use crate::diag::{Diag, DiagKind, Fidelity, Severity};
use crate::spec::{self, LoadedSpec};
use clap::ValueEnum;
use std::io::IsTerminal;
use std::path::PathBuf;

/// Exit codes: 0 success; 1 a check failed (a `--deny` policy, `verify` found a mismatch,
/// `diff` found drift); 2 bad input or an I/O error (nothing was written), including a failed
/// write of the output to stdout (e.g. a full disk). A reader that closes the pipe early
/// (`rmmc explain | head -1`) is not an error: the process stops writing and exits 0, as
/// `head`-style pipelines expect (see `write_stdout`).
pub mod exit {
    pub const OK: i32 = 0;
    pub const CHECK_FAILED: i32 = 1;
    pub const ERROR: i32 = 2;
}

/// Set once from `--all-warnings` before any diagnostics are printed.
static ALL_WARNINGS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Warnings printed in full when there are too many to read (see `Cli::all_warnings`).
const WARNINGS_SHOWN: usize = 20;
const WARNINGS_MANY: usize = 50;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// Fidelity classes a policy can refuse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Deny {
    /// A backend matches more than the spec says (false positives).
    Wider,
    /// A backend matches less than the spec says (missed detections).
    Narrower,
}

/// Set `--all-warnings` (before any diagnostics are printed).
pub(super) fn all_warnings(all: bool) {
    ALL_WARNINGS.store(all, std::sync::atomic::Ordering::Relaxed);
}

/// The end of every command: warnings of loading that no later report carried (JSON: see
/// `load`), then stdout's last buffered line.
pub(super) fn finish(format: Format) {
    let left = std::mem::take(&mut *DEFERRED.lock().unwrap_or_else(|e| e.into_inner()));
    if !left.is_empty() {
        report(&left, &[], format);
    }
    // `out!` writes through stdout's line buffer: a last line without a newline is written
    // here, and a failure to write it must not be lost.
    if let Err(e) = std::io::Write::flush(&mut std::io::stdout()) {
        stdout_failed(&e);
    }
}

/// The one way command output reaches stdout (through `out!` / `outln!`): a failed write
/// ends the process instead of panicking as `print!` does.
pub fn write_stdout(args: std::fmt::Arguments) {
    if let Err(e) = std::io::Write::write_fmt(&mut std::io::stdout().lock(), args) {
        stdout_failed(&e);
    }
}

/// The folder a build or import has replaced, once it has: from then on exit 2 ("nothing
/// written") would be false.
static WRITTEN_TO: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Record that `out` now holds the new output (see `stdout_failed`).
pub(crate) fn written_to(out: &std::path::Path) {
    let _ = WRITTEN_TO.set(out.to_path_buf());
}

/// EPIPE: the reader went away (`| head`), nobody is left to tell: exit 0 quietly. Any
/// other error (ENOSPC on /dev/full, EIO): one line on stderr, exit 2 — unless a build or
/// import has already replaced its output, which is then said, with exit 0: the work is
/// done, only its summary is lost (stdout on the disk that just filled up).
fn stdout_failed(e: &std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(exit::OK);
    }
    if let Some(out) = WRITTEN_TO.get() {
        eprintln!(
            "warning: cannot write the summary to stdout ({e}); the new output is in place in {}",
            crate::input::escape_control(&out.display().to_string())
        );
        std::process::exit(exit::OK);
    }
    eprintln!("error: cannot write the output to stdout: {e}");
    std::process::exit(exit::ERROR);
}

/// `--out -` means stdout for `build`; a command that writes a folder refuses it rather than
/// make a folder named `-`.
pub(super) fn no_stdout_folder(
    out: &std::path::Path,
    command: &str,
    format: Format,
) -> Option<i32> {
    (out.as_os_str() == "-").then(|| {
        report(
            &[Diag::error(
                DiagKind::Io,
                format!("`{command} --out -`: {command} writes a folder, not stdout"),
            )
            .help(
                "pass a folder to --out (`rmmc build --out -` and `rmmc convert` print to stdout)",
            )],
            &[],
            format,
        );
        exit::ERROR
    })
}

/// The warnings of a finished write (the new output is in place), as diagnostics.
pub(crate) fn write_warnings(out: &std::path::Path, stats: &build::WriteStats) -> Vec<Diag> {
    stats
        .warnings
        .iter()
        .map(|w| Diag::warning(DiagKind::Io, w.clone()).at(out, None))
        .collect()
}

pub(crate) fn load(rules: &[PathBuf], format: Format) -> Option<Vec<LoadedSpec>> {
    match spec::load_dirs_warning(rules) {
        Ok((s, warnings)) => {
            // in JSON, the warnings join the command's own diagnostics (one array on stdout)
            match format {
                Format::Json => DEFERRED
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend(warnings),
                Format::Text => report(&warnings, &[], format),
            }
            Some(s)
        }
        Err(diags) => {
            report(&diags, &[], format);
            None
        }
    }
}

fn denied(d: &Diag, deny: &[Deny]) -> bool {
    matches!(
        (
            d.kind,
            deny.contains(&Deny::Wider),
            deny.contains(&Deny::Narrower)
        ),
        (DiagKind::Fidelity(Fidelity::Wider), true, _)
            | (DiagKind::Fidelity(Fidelity::Narrower), _, true)
    )
}

/// The exit code the diagnostics call for.
pub(super) fn verdict(diags: &[Diag], deny: &[Deny]) -> i32 {
    if diags.iter().any(Diag::is_error) {
        exit::ERROR
    } else if diags.iter().any(|d| denied(d, deny)) {
        exit::CHECK_FAILED
    } else {
        exit::OK
    }
}

/// Diagnostics of loading kept for the next `report` (JSON mode), so stdout holds one array.
static DEFERRED: std::sync::Mutex<Vec<Diag>> = std::sync::Mutex::new(Vec::new());

/// Print diagnostics to stderr (text) or stdout (JSON array), after any deferred ones.
pub fn report(diags: &[Diag], deny: &[Deny], format: Format) {
    let deferred = std::mem::take(&mut *DEFERRED.lock().unwrap_or_else(|e| e.into_inner()));
    let diags: Vec<Diag> = deferred
        .iter()
        .chain(diags)
        .map(|d| {
            let mut d = d.clone();
            if denied(&d, deny) {
                d.severity = Severity::Error;
            }
            d
        })
        .collect();
    match format {
        Format::Json => {
            if !diags.is_empty() {
                outln!(
                    "{}",
                    serde_json::to_string_pretty(&diags).expect("diags serialize")
                );
            }
        }
        Format::Text => {
            let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            let warnings = diags.iter().filter(|d| !d.is_error()).count();
            let cap = if warnings > WARNINGS_MANY
                && !ALL_WARNINGS.load(std::sync::atomic::Ordering::Relaxed)
            {
                WARNINGS_SHOWN
            } else {
                usize::MAX
            };
            let mut shown = 0;
            for d in &diags {
                if !d.is_error() {
                    shown += 1;
                    if shown > cap {
                        continue;
                    }
                }
                eprintln!("{}", render_diag(d, color));
            }
            if shown > cap {
                eprintln!(
                    "warning: {} more warnings not shown ({warnings} in all); `--all-warnings` prints each, `--format json` lists them as data",
                    shown - cap
                );
            }
        }
    }
}

/// One diagnostic as text: a header, then the source line with a caret when the location is
/// known. Source text is re-read here: the library keeps diagnostics free of file contents.
/// Only the line of the location is shown, read from a regular file of at most
/// `input::MAX_INPUT_BYTES`, and every control character in it, in the message and in the
/// file name is escaped (`input::escape_control`): an error about a hostile file prints
/// neither the rest of the file nor its terminal escapes.
pub fn render_diag(d: &Diag, color: bool) -> String {
    use crate::input::escape_control;
    use annotate_snippets::{Level, Renderer, Snippet};
    let level = match d.severity {
        Severity::Error => Level::Error,
        Severity::Warning => Level::Warning,
    };
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let source = d
        .file
        .as_ref()
        .filter(|_| d.span.is_some())
        .and_then(|f| crate::input::read_bounded(f, crate::input::MAX_INPUT_BYTES).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let origin = d
        .file
        .as_ref()
        .map(|f| escape_control(&f.display().to_string()).into_owned());
    let message = escape_control(&d.message);
    let help = d.help.as_deref().map(escape_control);
    match (source, d.span, &origin) {
        (Some(src), Some(span), Some(origin))
            if span.offset <= src.len() && src.is_char_boundary(span.offset) =>
        {
            let start = src[..span.offset].rfind('\n').map_or(0, |i| i + 1);
            let end = src[span.offset..]
                .find('\n')
                .map_or(src.len(), |i| span.offset + i);
            let line = &src[start..end];
            let line = line.strip_suffix('\r').unwrap_or(line);
            let at = span.offset.min(start + line.len());
            let before = escape_control(&src[start..at]).len();
            let shown = escape_control(line);
            let caret_end = shown[before..]
                .char_indices()
                .nth(1)
                .map_or(shown.len(), |(i, _)| before + i);
            let mut msg = level.title(&message).snippet(
                Snippet::source(&shown)
                    .line_start(span.line)
                    .origin(origin)
                    .annotation(level.span(before..caret_end).label("here")),
            );
            if let Some(h) = &help {
                msg = msg.footer(Level::Help.title(h));
            }
            let text = renderer.render(msg).to_string();
            text
        }
        _ => escape_control(&d.to_string()).into_owned(),
    }
}

/// A usage or input error as one diagnostic, and the exit code for it.
pub(crate) fn usage(msg: String, format: Format) -> i32 {
    report(&[Diag::error(DiagKind::Io, msg)], &[], format);
    exit::ERROR
}
