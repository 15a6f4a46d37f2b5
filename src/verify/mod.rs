//! `rmmc verify`: run every emitted artifact, as text, over fixture and generated events
//! rendered into the backend's native shape, and compare each verdict with the IR's.
//!
//! The artifact side never sees the IR: it gets the artifact text and native rows. The IR
//! side gives the reference verdict, and the backend's own fidelity declarations (what it
//! rendered wider or narrower, and why) are the only accepted excuse for a difference.

pub mod cases;
pub mod native;

use crate::backend::common::Rendering;
use crate::backend::RuleId;
use crate::build::Files;
use crate::diag::Fidelity;
use crate::eval::kql::{interp, parser};
use crate::eval::time::parse_rfc3339;
use crate::ir::{Event, IrDetection, IrOutput, IrSpec};
use crate::spec::{BackendName, Source};
use cases::Case;
use serde::Serialize;
use std::collections::BTreeMap;

/// The reference verdict: the IR's meaning, with exclusions, inside the spec's window when
/// the detection filters on time (KQL `between` includes both ends).
pub fn expected(
    det: &IrDetection,
    ev: &Event,
    source: Source,
    now: i128,
    window_ns: i128,
    exclusions: bool,
) -> bool {
    let in_window = || {
        ev.0.get("timestamp")
            .and_then(|t| t.as_str())
            .and_then(parse_rfc3339)
            .is_some_and(|t| now - window_ns <= t && t <= now)
    };
    det.matches(ev, source, exclusions) && (!det.time_filter || in_window())
}

#[derive(Clone, Debug, Serialize)]
pub struct Cell {
    pub rule: String,
    pub backend: BackendName,
    pub artifact: String,
    pub cases: usize,
    pub passed: usize,
    /// Differences the backend declared (wider / narrower renderings, declared gaps).
    pub explained: usize,
    pub mismatched: usize,
    /// The artifact could not be run at all (missing, unparsable, wrong table).
    pub error: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Mismatch {
    pub rule: String,
    pub backend: BackendName,
    pub case: String,
    pub event: serde_json::Map<String, serde_json::Value>,
    pub expected: bool,
    pub actual: bool,
    /// The declared fidelity note that explains it, if any.
    pub explained_by: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub cells: Vec<Cell>,
    pub mismatches: Vec<Mismatch>,
    /// Fixture lines whose `expect` disagrees with the IR (the spec does not mean what the
    /// fixture's author thinks).
    pub fixture_disagreements: Vec<String>,
}

impl Report {
    /// True when every artifact ran and every difference is explained.
    pub fn ok(&self) -> bool {
        self.fixture_disagreements.is_empty()
            && self
                .cells
                .iter()
                .all(|c| c.error.is_none() && c.mismatched == 0)
    }
}

pub struct VerifyOptions {
    /// `now()` for queries and windows, ns since the epoch.
    pub now: i128,
    /// Whether the artifacts were built with exclusions.
    pub exclusions: bool,
}

/// Verify `files` (artifacts by relative path) against the IR of `specs`, on `fixtures` plus
/// generated cases. `renderings` are the backends' fidelity declarations.
pub fn verify(
    specs: &[IrSpec],
    files: &Files,
    fixtures: &[Case],
    renderings: &[Rendering],
    opts: &VerifyOptions,
) -> Report {
    let mut report = Report::default();
    for spec in specs {
        let window_ns = i128::from(spec.window.minutes) * 60_000_000_000;
        for det in &spec.detections {
            for &source in &det.sources {
                let id = RuleId::new(spec, det, source);
                let rule = format!("{}/{} ({source})", spec.id, det.id);
                let mut all: Vec<Case> = cases::generate(det, source, opts.now, window_ns);
                all.extend(
                    fixtures
                        .iter()
                        .filter(|c| c.category == det.category && c.source == source)
                        .cloned(),
                );
                for c in fixtures
                    .iter()
                    .filter(|c| c.category == det.category && c.source == source)
                {
                    let want = c
                        .expect
                        .as_ref()
                        .map(|e| e.contains(&format!("{}/{}", spec.id, det.id)));
                    let got = expected(det, &c.event, source, opts.now, window_ns, opts.exclusions);
                    if want.is_some_and(|w| w != got) {
                        report.fixture_disagreements.push(format!(
                            "{}: expects {rule} to {}fire, but the spec says it does {}",
                            c.name,
                            if got { "not " } else { "" },
                            if got { "" } else { "not" }
                        ));
                    }
                }
                let want: Vec<bool> = all
                    .iter()
                    .map(|c| expected(det, &c.event, source, opts.now, window_ns, opts.exclusions))
                    .collect();
                let notes: Vec<&Rendering> = renderings
                    .iter()
                    .filter(|r| {
                        r.spec == spec.id
                            && r.detection == det.id
                            && r.source == source
                            && r.backend == BackendName::Kql
                    })
                    .collect();
                let path = format!("kql/{}.kql", id.stem);
                let mut cell = Cell {
                    rule: rule.clone(),
                    backend: BackendName::Kql,
                    artifact: path.clone(),
                    cases: all.len(),
                    passed: 0,
                    explained: 0,
                    mismatched: 0,
                    error: None,
                };
                match run_kql(files.get(&path), det, source, &all, opts.now) {
                    Err(e) => cell.error = Some(e),
                    Ok(got) => {
                        for ((c, want), got) in all.iter().zip(&want).zip(got.iter().copied()) {
                            if *want == got {
                                cell.passed += 1;
                                continue;
                            }
                            let explained_by = explain(&notes, *want, got);
                            if explained_by.is_some() {
                                cell.explained += 1;
                            } else {
                                cell.mismatched += 1;
                            }
                            report.mismatches.push(Mismatch {
                                rule: rule.clone(),
                                backend: BackendName::Kql,
                                case: c.name.clone(),
                                event: c.event.0.clone(),
                                expected: *want,
                                actual: got,
                                explained_by,
                            });
                        }
                        // Per-event differences are judged above; here the output shape is
                        // checked on the events the artifact itself matched.
                        if let Some(e) =
                            compare_rows(files.get(&path), det, source, &all, &got, opts.now)
                        {
                            cell.mismatched += 1;
                            report.mismatches.push(Mismatch {
                                rule: rule.clone(),
                                backend: BackendName::Kql,
                                case: format!("result rows of all {} cases: {e}", all.len()),
                                event: Default::default(),
                                expected: true,
                                actual: false,
                                explained_by: None,
                            });
                        }
                    }
                }
                report.cells.push(cell);
            }
        }
    }
    report
}

/// A wider rendering explains an extra match; a narrower one a missed match.
fn explain(notes: &[&Rendering], expected: bool, actual: bool) -> Option<String> {
    let wanted = if actual && !expected {
        [Fidelity::Wider, Fidelity::Inexpressible]
    } else {
        [Fidelity::Narrower, Fidelity::Narrower]
    };
    notes
        .iter()
        .find(|r| wanted.contains(&r.fidelity))
        .map(|r| {
            format!(
                "{} rendering of `{}`: {}",
                serde_json::to_value(r.fidelity)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                r.predicate,
                r.note.clone().unwrap_or_default()
            )
        })
}

fn kql_query(
    text: Option<&String>,
    det: &IrDetection,
    source: Source,
) -> Result<
    (
        crate::eval::kql::ast::Query,
        &'static crate::mapping::TableMap,
    ),
    String,
> {
    let text = text.ok_or("artifact missing")?;
    let q = parser::parse(text).map_err(|e| format!("does not parse: {e}"))?;
    let table =
        crate::mapping::table_for(&crate::backend::kql::data().tables, det.category, source)
            .ok_or("no KQL table for this source")?;
    if q.table != table.name {
        return Err(format!(
            "reads table {} but {} events from `{source}` are in {}",
            q.table, det.category, table.name
        ));
    }
    Ok((q, table))
}

/// Per-event verdicts: the query run on a table holding only that event.
fn run_kql(
    text: Option<&String>,
    det: &IrDetection,
    source: Source,
    cases: &[Case],
    now: i128,
) -> Result<Vec<bool>, String> {
    let (q, table) = kql_query(text, det, source)?;
    cases
        .iter()
        .map(|c| {
            let row = native::kql_row(table, &c.event);
            interp::run(&q, &[row], now)
                .map(|rows| !rows.is_empty())
                .map_err(|e| format!("fails at run time: {e}"))
        })
        .collect()
}

/// Run the query over all cases at once and compare its result rows with the rows the spec's
/// output implies for the events that matched one by one (`matched`): grouped counts for
/// `summarize`, projected tuples for `project`.
fn compare_rows(
    text: Option<&String>,
    det: &IrDetection,
    source: Source,
    cases: &[Case],
    matched: &[bool],
    now: i128,
) -> Option<String> {
    let (q, table) = kql_query(text, det, source).ok()?;
    let rows: Vec<interp::Row> = cases
        .iter()
        .map(|c| native::kql_row(table, &c.event))
        .collect();
    let got = interp::run(&q, &rows, now).ok()?;
    let matching: Vec<&interp::Row> = rows
        .iter()
        .zip(matched)
        .filter(|(_, m)| **m)
        .map(|(r, _)| r)
        .collect();
    let col = |f: crate::spec::Field| {
        table
            .column(f)
            .map(|c| c.project.to_string())
            .unwrap_or_default()
    };
    // grouping keys: an absent string column is "" in Kusto
    let text_of = |r: &interp::Row, c: &str| match r.get(c) {
        None | Some(interp::Value::Null) => format!("{:?}", interp::Value::Str(String::new())),
        Some(v) => format!("{v:?}"),
    };
    match &det.output {
        IrOutput::Summarize(by) => {
            let cols: Vec<String> = by.iter().map(|f| col(*f)).collect();
            let mut expected: BTreeMap<Vec<String>, i64> = BTreeMap::new();
            for r in &matching {
                *expected
                    .entry(cols.iter().map(|c| text_of(r, c)).collect())
                    .or_default() += 1;
            }
            let actual: BTreeMap<Vec<String>, i64> = got
                .iter()
                .map(|r| {
                    let n = match r.get("Count") {
                        Some(interp::Value::Long(n)) => *n,
                        _ => -1,
                    };
                    (cols.iter().map(|c| text_of(r, c)).collect(), n)
                })
                .collect();
            (expected != actual)
                .then(|| format!("groups and counts differ: expected {expected:?}, got {actual:?}"))
        }
        IrOutput::Project { columns, .. } => {
            let cols: Vec<String> = columns
                .get(&source)
                .map(|fs| fs.iter().map(|f| col(*f)).collect())
                .unwrap_or_default();
            let mut expected: Vec<Vec<String>> = matching
                .iter()
                .map(|r| cols.iter().map(|c| text_of(r, c)).collect())
                .collect();
            let mut actual: Vec<Vec<String>> = got
                .iter()
                .map(|r| cols.iter().map(|c| text_of(r, c)).collect())
                .collect();
            expected.sort();
            actual.sort();
            (expected != actual).then(|| {
                format!(
                    "projected rows differ: expected {} rows, got {}",
                    expected.len(),
                    actual.len()
                )
            })
        }
    }
}
