//! Importers: detections a team already has (Sentinel hunting queries) and public catalogues
//! (LOLRMM) → specs.
//!
//! An importer reads its source files into `Draft`s plus one `FileReport` per file (imported,
//! imported with notes, or rejected with the reason and location). This module does the rest
//! once for all importers: a hand-written spec for the same tool wins; every detection is
//! proven to load and compile on every backend before it is kept (a detection that does not is
//! rejected, never written broken); dates of earlier imports are kept, so re-importing an
//! unchanged source changes no file; the folder is written atomically, with a report.
//!
//! Stays whole (just over 600 lines): the pipeline every importer shares (proof by round
//! trip, hand-written specs win, the report); its tests are in `tests.rs`.

pub mod draft;
pub mod lolrmm;
pub mod sentinel;

use crate::build::{self, BuildOptions, Files};
use crate::diag::{Diag, DiagKind};
use crate::spec::LoadedSpec;
use draft::Draft;
use serde::Serialize;
use std::path::Path;

/// Where in a source file something was found (1-based; 0 when the whole file is meant).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Note {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl Note {
    pub fn at(line: usize, col: usize, message: impl Into<String>) -> Note {
        Note {
            line,
            col,
            message: message.into(),
        }
    }
    pub fn file(message: impl Into<String>) -> Note {
        Note::at(0, 0, message)
    }
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Imported,
    ImportedWithNotes,
    /// Read and lifted, but a hand-written spec for the same tool wins.
    KeptHandWritten,
    Rejected,
}

impl Outcome {
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Imported => "imported",
            Outcome::ImportedWithNotes => "imported with notes",
            Outcome::KeptHandWritten => "kept hand-written",
            Outcome::Rejected => "rejected",
        }
    }
}

/// What happened to one source file.
#[derive(Clone, Debug, Serialize)]
pub struct FileReport {
    /// Path relative to the imported folder, `/`-separated.
    pub file: String,
    /// The spec id it went into (or would have).
    pub spec: String,
    /// Repairs, recoveries and skipped entries, each at its place in the source.
    pub notes: Vec<Note>,
    /// Why nothing of this file was imported.
    pub rejected: Option<Note>,
    /// The hand-written spec that won over this import.
    pub kept: Option<String>,
    /// How the imported detection compiles back to the source's language, when the importer
    /// checks it (e.g. `token-equal`, `equal after normalization`, `differs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub round_trip: Option<String>,
}

impl FileReport {
    pub fn new(file: impl Into<String>, spec: impl Into<String>) -> FileReport {
        FileReport {
            file: file.into(),
            spec: spec.into(),
            notes: Vec::new(),
            rejected: None,
            kept: None,
            round_trip: None,
        }
    }
    pub fn outcome(&self) -> Outcome {
        if self.rejected.is_some() {
            Outcome::Rejected
        } else if self.kept.is_some() {
            Outcome::KeptHandWritten
        } else if self.notes.is_empty() {
            Outcome::Imported
        } else {
            Outcome::ImportedWithNotes
        }
    }
}

/// An importer: the source folder → drafts and per-file reports (ticking the progress bar).
pub type Importer = fn(&Path, &indicatif::ProgressBar) -> Result<Import, Diag>;

/// An importer's result, before `finish`.
#[derive(Debug, Default)]
pub struct Import {
    pub drafts: Vec<Draft>,
    pub files: Vec<FileReport>,
}

/// The outcome of `finish`: spec files to write (`<id>.yaml` plus the report) and the report.
#[derive(Debug)]
pub struct Finished {
    pub files: Files,
    pub reports: Vec<FileReport>,
    pub specs: usize,
}

/// The report file written beside the imported specs (not a spec: the loader reads *.yaml).
pub const REPORT_FILE: &str = "IMPORT-REPORT.md";

/// Lowercase letters and digits only: how tool names are compared across sources.
pub fn normalize(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The hand-written spec that covers the tool `vendor` / `id`, if any: same id, or the same
/// vendor name up to case and punctuation, or a vendor name that is the tool name's first
/// word(s) (`NetSupport` covers LOLRMM's `NetSupport Manager`).
pub fn hand_written<'a>(hand: &'a [LoadedSpec], id: &str, vendor: &str) -> Option<&'a LoadedSpec> {
    let v = normalize(vendor);
    hand.iter().find(|s| {
        let hv = normalize(s.spec.vendor.as_str());
        s.spec.id.as_str() == id
            || hv == v
            || vendor
                .to_lowercase()
                .strip_prefix(&s.spec.vendor.as_str().to_lowercase())
                .is_some_and(|rest| rest.starts_with([' ', '(', '-', '_']))
    })
}

/// `date:` of an earlier import of the same spec, so re-imports change no file.
fn earlier_date(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("date: "))
        .map(|d| d.trim().to_string())
        .filter(|d| d.len() == 10)
}

/// Load and compile one rendered spec; the first error, if any.
fn proves(file: &Path, text: &str) -> Result<(), String> {
    let loaded = crate::spec::load_str(file, text).map_err(|d| first_error(&d))?;
    let res = build::compile(std::slice::from_ref(&loaded), &BuildOptions::default());
    if res.diags.iter().any(Diag::is_error) {
        return Err(first_error(&res.diags));
    }
    Ok(())
}

fn first_error(diags: &[Diag]) -> String {
    diags
        .iter()
        .find(|d| d.is_error())
        .map(|d| d.message.clone())
        .unwrap_or_else(|| "invalid".into())
}

/// Turn an importer's drafts into spec files: drop tools a hand-written spec covers, keep
/// only detections that load and compile on every backend (rejecting the others' source
/// files with the reason), keep earlier import dates, and add the report.
pub fn finish(
    mut import: Import,
    hand: &[LoadedSpec],
    existing: &Files,
    today: &str,
    title: &str,
) -> Finished {
    let mut files = Files::new();
    let mut specs = 0;
    for draft in &mut import.drafts {
        let name = format!("{}.yaml", draft.id);
        if let Some(h) = hand_written(hand, &draft.id, &draft.vendor) {
            let kept = h.file.display().to_string();
            for d in &draft.detections {
                let r = &mut import.files[d.source];
                if r.rejected.is_none() {
                    r.kept = Some(kept.clone());
                }
            }
            continue;
        }
        let date = draft
            .date
            .clone()
            .or_else(|| existing.get(&name).and_then(|t| earlier_date(t)))
            .unwrap_or_else(|| today.to_string());
        // The whole spec first: when it compiles, so does each of its detections alone (their
        // checks are per detection, or need several). Otherwise each detection on its own, so
        // a failure rejects exactly its source file.
        let whole = draft.render(&date);
        if proves(Path::new(&name), &whole).is_ok() {
            files.insert(name, whole);
            specs += 1;
            continue;
        }
        let mut kept = Vec::new();
        for d in &draft.detections {
            let mut one = draft.clone();
            one.detections = vec![d.clone()];
            match proves(Path::new(&name), &one.render(&date)) {
                Ok(()) => kept.push(d.clone()),
                Err(why) => {
                    import.files[d.source].rejected = Some(Note::file(format!(
                        "the imported detection `{}` does not compile: {why}",
                        d.key
                    )))
                }
            }
        }
        if kept.is_empty() {
            continue;
        }
        draft.detections = kept;
        let text = draft.render(&date);
        if let Err(why) = proves(Path::new(&name), &text) {
            for d in &draft.detections {
                import.files[d.source].rejected = Some(Note::file(format!(
                    "the imported spec does not compile: {why}"
                )));
            }
            continue;
        }
        files.insert(name, text);
        specs += 1;
    }
    import.files.sort_by(|a, b| a.file.cmp(&b.file));
    files.insert(
        REPORT_FILE.into(),
        report_markdown(title, &import.files, specs),
    );
    Finished {
        files,
        reports: import.files,
        specs,
    }
}

/// Per-outcome counts, in `Outcome` order.
pub fn counts(reports: &[FileReport]) -> Vec<(Outcome, usize)> {
    let mut c: std::collections::BTreeMap<Outcome, usize> = Default::default();
    for r in reports {
        *c.entry(r.outcome()).or_default() += 1;
    }
    c.into_iter().collect()
}

fn location(file: &str, n: &Note) -> String {
    if n.line == 0 {
        file.to_string()
    } else {
        format!("{file}:{}:{}", n.line, n.col)
    }
}

/// Text from a source (a file name, a note quoting the source) made inert for a Markdown
/// line: control characters escaped (`input::escape_control`: no line break can start a
/// heading, table or HTML block) and, outside inline code spans, `<`, `>` written as
/// entities (no raw HTML: CommonMark §6.6) and `[`, `]` backslash-escaped (no link or image:
/// §6.3, §2.4). Inside a code span everything is literal already (§6.1), so the notes' own
/// `` `value` `` spans stay as they are; text with an odd number of backticks has them all
/// escaped, so a source value cannot open a span the report did not.
fn md_inline(text: &str) -> String {
    let text = crate::input::escape_control(text);
    let balanced = text.matches('`').count() % 2 == 0;
    let mut out = String::with_capacity(text.len());
    let mut in_code = false;
    for c in text.chars() {
        match c {
            '`' if balanced => {
                in_code = !in_code;
                out.push(c);
            }
            '`' => out.push_str("\\`"),
            _ if in_code => out.push(c),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '[' | ']' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// The committed report: counts, then every file that is not a plain import, with its notes.
fn report_markdown(title: &str, reports: &[FileReport], specs: usize) -> String {
    let mut out = format!(
        "# {title}\n\nGenerated by `rmmc import`; regenerated (and replaced) on every import.\n\n| outcome | files |\n|---|---|\n"
    );
    for (o, n) in counts(reports) {
        out.push_str(&format!("| {} | {n} |\n", o.label()));
    }
    out.push_str(&format!(
        "| **total** | {} |\n\n{specs} specs written.\n",
        reports.len()
    ));
    let mut trips: std::collections::BTreeMap<&str, usize> = Default::default();
    for r in reports.iter().filter(|r| r.outcome() != Outcome::Rejected) {
        if let Some(t) = &r.round_trip {
            *trips.entry(t.as_str()).or_default() += 1;
        }
    }
    if !trips.is_empty() {
        out.push_str("\n| round trip (imported query compiled back, compared with the repaired original) | files |\n|---|---|\n");
        for (t, n) in trips {
            out.push_str(&format!("| {t} | {n} |\n"));
        }
    }
    let notable: Vec<&FileReport> = reports
        .iter()
        .filter(|r| r.outcome() != Outcome::Imported)
        .collect();
    if !notable.is_empty() {
        out.push_str("\n## Files with notes\n");
    }
    for r in notable {
        out.push_str(&format!(
            "\n### {} — {} ({})\n\n",
            md_inline(&r.file),
            r.outcome().label(),
            md_inline(&format!("`{}`", r.spec))
        ));
        if let Some(k) = &r.kept {
            out.push_str(&format!(
                "- hand-written {} covers this tool; not written\n",
                md_inline(k)
            ));
        }
        if let Some(n) = &r.rejected {
            out.push_str(&format!(
                "- rejected at {}: {}\n",
                md_inline(&location(&r.file, n)),
                md_inline(&n.message)
            ));
        }
        for n in &r.notes {
            out.push_str(&format!(
                "- {}: {}\n",
                md_inline(&location(&r.file, n)),
                md_inline(&n.message)
            ));
        }
    }
    out
}

/// The per-file lines printed by `rmmc import`: one line per file with its outcome (and the
/// number of notes), the reason of a rejection, the hand-written spec that won; with
/// `verbose`, every note too (IMPORT-REPORT.md always has them all).
pub fn report_lines(reports: &[FileReport], verbose: bool) -> Vec<String> {
    report_lines_raw(reports, verbose)
        .into_iter()
        .map(|l| crate::input::escape_control(&l).into_owned())
        .collect()
}

/// `report_lines` before control characters from the sources are escaped.
fn report_lines_raw(reports: &[FileReport], verbose: bool) -> Vec<String> {
    let mut out = Vec::new();
    for r in reports {
        let o = r.outcome();
        let notes = match r.notes.len() {
            0 => String::new(),
            1 => " (1 note)".to_string(),
            n => format!(" ({n} notes)"),
        };
        out.push(format!("{:<20} {}{notes}", o.label(), r.file));
        if let Some(k) = &r.kept {
            out.push(format!("    hand-written {k} covers `{}`", r.spec));
        }
        if let Some(n) = &r.rejected {
            out.push(format!("    {}: {}", location(&r.file, n), n.message));
        }
        if verbose {
            for n in &r.notes {
                out.push(format!("    {}: {}", location(&r.file, n), n.message));
            }
        }
    }
    out
}

/// A source file's text without a leading UTF-8 byte order mark, which editors on Windows
/// write and YAML parsers read as content (serde_yaml: "more than one document"). Only a
/// regular file of at most `input::MAX_INPUT_BYTES` is read (`input::read_bounded`): a FIFO
/// named `*.yaml` or a link to `/dev/zero` is an error, not a hang.
pub fn read_source(path: &Path) -> Result<String, crate::input::ReadError> {
    let bytes = crate::input::read_bounded(path, crate::input::MAX_INPUT_BYTES)?;
    let text = String::from_utf8(bytes).map_err(|_| {
        crate::input::ReadError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the file is not UTF-8 text",
        ))
    })?;
    Ok(match text.strip_prefix('\u{FEFF}') {
        Some(rest) => rest.to_string(),
        None => text,
    })
}

/// A report for each entry of a source folder that was named like a source file but not
/// read (`input::files_in`), so no file is left out without a word.
pub fn skipped_reports(dir: &Path, skipped: Vec<crate::input::Skipped>) -> Vec<FileReport> {
    skipped
        .into_iter()
        .map(|s| {
            let name = s
                .path
                .strip_prefix(dir)
                .unwrap_or(&s.path)
                .to_string_lossy()
                .into_owned();
            let mut r = FileReport::new(name, "");
            r.rejected = Some(Note::file(s.why));
            r
        })
        .collect()
}

/// An error reading the source folder, for the CLI.
pub fn io_error(path: &Path, what: &str, e: std::io::Error) -> Diag {
    Diag::error(DiagKind::Io, format!("{what}: {e}")).at(path, None)
}

/// A progress bar on stderr when it is a terminal; hidden otherwise (CI logs, pipes).
pub fn progress(len: usize, what: &str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len as u64);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{prefix:>10} [{bar:30}] {pos}/{len} {wide_msg}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(what.to_string());
    bar
}

/// Rounds of [`drop_masked`]: one value per round; a catalogue entry has far fewer.
const MAX_MASKED_DROPS: usize = 200;

/// Values of one detection past which [`drop_masked`] does not search (the largest LOLRMM
/// entry has well under 100; 1,000 takes about a second).
const MAX_MASKED_VALUES: usize = 1000;

/// Drop from `draft` the values no event can make decide their detection's verdict: the
/// conditions `rmmc verify` reports as masked (`verify::mcdc`), e.g. a path `prefix` already
/// implied by a `contains` of the same folder, or a name `prefix` whose every match a
/// shorter prefix beside it already matches. They change no verdict, but no test can tell an
/// artifact's rendering of them apart either.
///
/// A value is dropped as if it were false (out of its list; a match left with no value makes
/// its `all:` false, which then leaves its `any:`), never as if it were true (dropping
/// `prefix [Domotz Pro Desktop App Setup]` from `all: [prefix …, suffix .exe]` would leave
/// `suffix .exe`). Each drop is kept only if the detection before and after gives the same
/// verdict on every event verify generates for either; one value per round, re-checked, so
/// of two values that imply each other one stays. Returns a note per value dropped.
pub fn drop_masked(draft: &mut Draft) -> Vec<String> {
    use crate::ir::Event;
    use crate::verify::mcdc::{pairs, Outcome};
    let mut notes = Vec::new();
    // the search is quadratic in the values of a detection: a huge list is left as it is
    if let Some(ir) = lowered(draft) {
        for det in &ir.detections {
            let values: usize = det
                .expr
                .matches_iter()
                .iter()
                .map(|m| m.test.value_count())
                .sum();
            if values > MAX_MASKED_VALUES {
                notes.push(format!(
                    "{}: not checked for values implied by others: {values} values (more than {MAX_MASKED_VALUES})",
                    det.id
                ));
                return notes;
            }
        }
    }
    let mut refused: Vec<String> = Vec::new();
    for _ in 0..MAX_MASKED_DROPS {
        let Some(before) = lowered(draft) else { break };
        let found = before.detections.iter().find_map(|det| {
            det.sources.iter().find_map(|&source| {
                let verdict = |m: &serde_json::Map<String, serde_json::Value>| {
                    det.matches(&Event(m.clone()), source, true)
                };
                pairs(det, source, true, &verdict)
                    .into_iter()
                    .find_map(|(c, o)| match o {
                        Outcome::Masked(why)
                            if c.part == "detection"
                                && !refused.contains(&format!("{}/{}", det.id, c.label)) =>
                        {
                            Some((det.id.clone(), c, why))
                        }
                        _ => None,
                    })
            })
        });
        let Some((key, c, why)) = found else { break };
        let Some(i) = draft.detections.iter().position(|d| d.key == key) else {
            break;
        };
        let mut after = draft.clone();
        let ok = match set_false(&after.detections[i].predicate, &c.single) {
            Some(Some(p)) => {
                after.detections[i].predicate = p;
                lowered(&after).is_some_and(|a| same_verdicts(&before, &a, &key))
            }
            _ => false,
        };
        if !ok {
            refused.push(format!("{key}/{}", c.label));
            continue;
        }
        *draft = after;
        notes.push(format!(
            "{key}: dropped `{}` from `{}`: no event can make it decide the verdict ({why})",
            c.single.test.first_value(),
            c.leaf
        ));
    }
    notes
}

fn lowered(draft: &Draft) -> Option<crate::ir::IrSpec> {
    let text = draft.render("2000-01-01");
    let loaded = crate::spec::load_str(Path::new("draft.yaml"), &text).ok()?;
    Some(crate::ir::lower(&loaded))
}

/// Do detection `key` of `a` and of `b` give the same verdict on every event verify
/// generates for either?
fn same_verdicts(a: &crate::ir::IrSpec, b: &crate::ir::IrSpec, key: &str) -> bool {
    let (Some(da), Some(db)) = (
        a.detections.iter().find(|d| d.id == key),
        b.detections.iter().find(|d| d.id == key),
    ) else {
        return false;
    };
    da.sources.iter().all(|&source| {
        let events: Vec<crate::verify::cases::Case> = [da, db]
            .iter()
            .flat_map(|d| crate::verify::cases::generate(d, source, 0, 1, true).cases)
            .collect();
        // only events real telemetry can hold: a path ends with its process name (a boundary
        // value with a `\` in the name cannot be the last component of its path)
        let consistent = |e: &crate::ir::Event| {
            crate::verify::mcdc::PATH_NAME.iter().all(|(path, name)| {
                match (
                    e.0.get(*path).and_then(|v| v.as_str()),
                    e.0.get(*name).and_then(|v| v.as_str()),
                ) {
                    (Some(p), Some(n)) => crate::verify::mcdc::basename(p) == n,
                    _ => true,
                }
            })
        };
        events
            .iter()
            .filter(|c| consistent(&c.event))
            .all(|c| da.matches(&c.event, source, true) == db.matches(&c.event, source, true))
    })
}

/// `p` with the one value of `single` taken as false: `None` when no draft match holds it
/// (or it sits under `not`, where false would widen); `Some(None)` when `p` itself becomes
/// false.
fn set_false(p: &draft::Pred, single: &crate::ir::Match) -> Option<Option<draft::Pred>> {
    use draft::Pred;
    let want = single.test.first_value();
    let same = |v: &str| match (
        v.parse::<std::net::IpAddr>(),
        want.parse::<std::net::IpAddr>(),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => v == want,
    };
    match p {
        Pred::Match {
            field,
            kind,
            values,
            cased,
        } => {
            if field != single.field.name() || *kind != single.test.kind_name() {
                return None;
            }
            let i = values.iter().position(|v| same(v))?;
            let mut rest = values.clone();
            rest.remove(i);
            Some((!rest.is_empty()).then(|| Pred::Match {
                field: field.clone(),
                kind,
                values: rest,
                cased: *cased,
            }))
        }
        Pred::Not(_) => None,
        Pred::All(v) | Pred::Any(v) => {
            let all = matches!(p, Pred::All(_));
            for (i, child) in v.iter().enumerate() {
                let Some(new) = set_false(child, single) else {
                    continue;
                };
                let mut rest = v.clone();
                match new {
                    Some(c) => rest[i] = c,
                    // a false member makes an `all:` false; a false branch leaves an `any:`
                    None if all => return Some(None),
                    None => {
                        rest.remove(i);
                    }
                }
                return Some(match rest.len() {
                    0 => None,
                    1 => rest.pop(),
                    _ if all => Some(Pred::All(rest)),
                    _ => Some(Pred::Any(rest)),
                });
            }
            None
        }
    }
}

#[cfg(test)]
mod tests;
