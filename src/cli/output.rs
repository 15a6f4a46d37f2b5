//! What every command shares at the edge: the exit codes, the diagnostics format and the
//! `--deny` policy, printing to stdout without panicking, and rendering diagnostics (human
//! text with source excerpts, or JSON). Commands import from here; this file imports no
//! other CLI file.

use crate::build;
use crate::diag::{Diag, DiagKind, Fidelity, GroupKey, Severity};
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

/// `n` and `noun` in a summary line, plural but for one: "1 row", "2 rows".
pub(crate) fn counted(n: u64, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
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

/// `write_stdout` for a large output written in pieces (`build --out -`): through one 64 KiB
/// buffer, so it reaches stdout in a few large writes without first being built as one string
/// (5 MB for the LOLRMM corpus, grown by doubling: ~12 MiB of fresh memory for the kernel to
/// zero). A failed write ends the process as `write_stdout`'s does.
pub fn write_stdout_with(write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>) {
    let mut w = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    if let Err(e) = write(&mut w).and_then(|()| std::io::Write::flush(&mut w)) {
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

/// Acknowledge the known losses in `diags`: each detection's `accepted:`, then the project's
/// `rmmc.toml` (`config`, else the one found from the rules, see `ack::find`). With `stale`
/// (every warning was made: all targets, with exclusions), add a warning for each entry that
/// acknowledged nothing — for the project's entries only when the run covers the project
/// (every spec below the folder holding `rmmc.toml` was loaded, see `ack::covers`). A bad
/// configuration is reported: `Err(exit code)`.
pub(super) fn acknowledge(
    rules: &[PathBuf],
    config: Option<&std::path::Path>,
    specs: &[LoadedSpec],
    diags: &mut Vec<Diag>,
    stale: bool,
    format: Format,
) -> Result<(), i32> {
    use crate::ack;
    let file = match config {
        Some(c) => Some(c.to_path_buf()),
        None => ack::find(rules).map_err(|d| {
            report(&[d], &[], format);
            exit::ERROR
        })?,
    };
    let project = match &file {
        Some(f) => Some(ack::load(f).map_err(|d| {
            report(&[d], &[], format);
            exit::ERROR
        })?),
        None => None,
    };
    let covered = file.as_deref().is_some_and(|f| ack::covers(f, specs));
    let mut entries = ack::spec_entries(specs);
    entries.extend(project.into_iter().flat_map(|p| p.accepted));
    let stale_ones = ack::apply(diags, &entries, stale);
    diags.extend(
        stale_ones
            .into_iter()
            .filter(|d| covered || d.file.as_ref() != file.as_ref()),
    );
    Ok(())
}

/// A warning a `--deny` policy refuses: of a denied fidelity, and not acknowledged.
fn denied(d: &Diag, deny: &[Deny]) -> bool {
    d.acknowledged.is_none()
        && matches!(
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
            let all = ALL_WARNINGS.load(std::sync::atomic::Ordering::Relaxed);
            let blocks = if all {
                diags.iter().map(|d| block(d, color)).collect()
            } else {
                grouped(&diags, color)
            };
            let warnings = blocks.iter().filter(|b| !b.error).count();
            let cap = if warnings > WARNINGS_MANY && !all {
                WARNINGS_SHOWN
            } else {
                usize::MAX
            };
            let mut shown = 0;
            for b in &blocks {
                if !b.error {
                    shown += 1;
                    if shown > cap {
                        continue;
                    }
                }
                eprintln!("{}", b.text);
            }
            if shown > cap {
                eprintln!(
                    "warning: {} more warnings not shown ({warnings} in all); `--all-warnings` prints each, `--format json` lists them as data",
                    shown - cap
                );
            }
            if !all {
                if let Some(line) = acknowledged_summary(&diags) {
                    eprintln!("{line}");
                }
            }
        }
    }
}

/// One printed diagnostic, or one group of them.
struct Block {
    error: bool,
    text: String,
}

/// The default text form: errors and unkeyed warnings one by one; warnings of the same loss
/// (`Diag::key`: backend, effect, note) as one block with a count and a few locations, or in
/// full when there is only one; acknowledged warnings not at all (see `acknowledged_summary`).
/// In the order each first occurs.
fn grouped(diags: &[Diag], color: bool) -> Vec<Block> {
    let mut order: Vec<Result<&Diag, GroupKey>> = Vec::new();
    let mut groups: indexmap::IndexMap<GroupKey, Vec<&Diag>> = Default::default();
    for d in diags.iter().filter(|d| d.acknowledged.is_none()) {
        match d.group_key() {
            Some(k) => {
                let g = groups.entry(k.clone()).or_default();
                if g.is_empty() {
                    order.push(Err(k));
                }
                g.push(d);
            }
            None => order.push(Ok(d)),
        }
    }
    order
        .into_iter()
        .map(|o| match o {
            Ok(d) => block(d, color),
            Err(k) => match groups[&k].as_slice() {
                [one] => block(one, color),
                many => Block {
                    error: false,
                    text: match &k {
                        GroupKey::Loss(k) => render_group(k, many),
                        GroupKey::Other { backend, what } => {
                            let mut text = format!("warning: {backend}: {} {what}", many.len());
                            push_places(&mut text, many);
                            text
                        }
                    },
                },
            },
        })
        .collect()
}

/// One diagnostic in full; a fidelity warning not acknowledged says how to acknowledge it
/// (the group form does the same), so its note id is on screen.
fn block(d: &Diag, color: bool) -> Block {
    let text = match d.key() {
        // also when `--deny` made it an error: that is when the way out is needed
        Some(k) if d.acknowledged.is_none() && d.help.is_none() => {
            render_diag(&d.clone().help(acknowledge_help(&k)), color)
        }
        _ => render_diag(d, color),
    };
    Block {
        error: d.is_error(),
        text,
    }
}

/// How to acknowledge a loss with the key `k`. A column's loss read through a shipped
/// alternative mapping is that mapping's: it is acknowledged for the mapping alone
/// (`[accepted."kql/sentinel-asim".narrower]`, see `ack`).
fn acknowledge_help(k: &crate::diag::LossKey) -> String {
    let scope = match crate::mappings::chosen_name(k.backend) {
        Some(m)
            if k.note.starts_with("column:")
                && crate::mappings::Shipped::find(m, Some(k.backend))
                    .is_ok_and(|s| !s.is_default()) =>
        {
            format!("\"{}/{m}\"", k.backend)
        }
        _ => k.backend.to_string(),
    };
    format!(
        "if the loss is acceptable, acknowledge it with a reason: `\"{}\" = \"<why>\"` under `[accepted.{scope}.{}]` in rmmc.toml (or `accepted:` on the detection)",
        k.note,
        crate::diag::fidelity_word(k.effect)
    )
}

/// Locations listed under a group.
const GROUP_EXAMPLES: usize = 3;

/// `warning: kql: 7 matches narrower (kind:term): <why>`, then up to `GROUP_EXAMPLES`
/// locations with their field.
fn render_group(k: &crate::diag::LossKey, many: &[&Diag]) -> String {
    use crate::input::escape_control;
    let why = many[0].loss().map_or("", |l| l.why.as_str());
    let under_not = if many[0].loss().is_some_and(|l| l.negated) {
        " under `not` (an exclusion)"
    } else {
        ""
    };
    let mut text = format!(
        "warning: {}: {} matches{under_not} make the rule {} ({}): {}",
        k.backend,
        many.len(),
        crate::diag::fidelity_word(k.effect),
        k.note,
        escape_control(why)
    );
    push_places(&mut text, many);
    text.push_str(&format!("\n  = help: {}", acknowledge_help(k)));
    text
}

/// The first `GROUP_EXAMPLES` places of a group's warnings under its headline, and how many
/// more there are.
fn push_places(text: &mut String, many: &[&Diag]) {
    use crate::input::escape_control;
    // one match can be rendered on several tables (endpoint and firewall): each place once
    let mut places: Vec<String> = many
        .iter()
        .map(|d| match (&d.file, d.span) {
            (Some(f), Some(s)) => format!("{}:{}:{}", f.display(), s.line, s.col),
            (Some(f), None) => f.display().to_string(),
            _ => "(no location)".to_string(),
        })
        .collect();
    places.dedup();
    // "… and 1 more place" takes the room of the place itself: list it
    let shown = if places.len() == GROUP_EXAMPLES + 1 {
        places.len()
    } else {
        GROUP_EXAMPLES
    };
    for at in places.iter().take(shown) {
        text.push_str(&format!("\n  --> {}", escape_control(at)));
    }
    if places.len() > shown {
        text.push_str(&format!(
            "\n  … and {} more places (`--all-warnings` prints each warning)",
            places.len() - shown
        ));
    }
}

/// `N warnings acknowledged (by rules/rmmc.toml: X, …)`: the one line acknowledged warnings
/// get by default.
fn acknowledged_summary(diags: &[Diag]) -> Option<String> {
    let mut by: indexmap::IndexMap<String, usize> = Default::default();
    for d in diags {
        if let Some(a) = &d.acknowledged {
            *by.entry(a.by.display().to_string()).or_default() += 1;
        }
    }
    let n: usize = by.values().sum();
    if n == 0 {
        return None;
    }
    by.sort_keys();
    let mut parts: Vec<String> = by.iter().map(|(f, c)| format!("{f}: {c}")).collect();
    if parts.len() > 4 {
        let rest = parts.len() - 3;
        parts.truncate(3);
        parts.push(format!("{rest} more files"));
    }
    Some(crate::input::escape_control(&format!(
        "note: {n} acknowledged warnings not shown (by {}); `--all-warnings` prints each with its reason",
        parts.join(", ")
    ))
    .into_owned())
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
    let help = match (&d.help, &d.acknowledged) {
        (h, Some(a)) => Some(
            escape_control(&format!(
                "{}acknowledged in {}: {}",
                h.as_deref().map_or(String::new(), |h| format!("{h}; ")),
                a.by.display(),
                a.reason
            ))
            .into_owned(),
        ),
        (Some(h), None) => Some(escape_control(h).into_owned()),
        (None, None) => None,
    };
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
