//! `rmmc verify`: run every emitted artifact, as text, over fixture and generated events
//! rendered into the backend's native shape, and compare each verdict with the IR's.
//!
//! The artifact side never sees the IR: it gets the artifact text and native rows. The IR
//! side gives the reference verdict, and the backend's own fidelity declarations (what it
//! rendered wider or narrower, and why) are the only accepted excuse for a difference.
//!
//! Stays whole (just over 600 lines): the verify run itself; its parts live in the modules below.

pub mod cases;
mod declared;
pub(crate) mod forms;
pub(crate) mod mcdc;
pub mod mutate;
pub(crate) mod native;
pub(crate) mod runners;

use crate::backend::common::Rendering;
use crate::backend::RuleId;
use crate::build::Files;
use crate::diag::Fidelity;
use crate::eval::time::parse_rfc3339;
use crate::ir::{Event, Expr, IrDetection, IrSpec, Match};
use crate::mapping::{table_for, TableMap};
use crate::spec::{BackendName, Field, Source};
use cases::Case;
use declared::{explain, note_of, rendered_rule, unexercised, Notes};
use serde::Serialize;
use std::collections::HashMap;

/// The reference verdict from the IR's match verdict (with exclusions): inside the spec's
/// window when the detection filters on time (KQL `between` includes both ends).
fn in_time(det: &IrDetection, matched: bool, ev: &Event, now: i128, window_ns: i128) -> bool {
    matched && (!det.time_filter || in_window(ev, now, window_ns))
}

/// `now - window <= timestamp <= now` (KQL `between` includes both ends).
fn in_window(ev: &Event, now: i128, window_ns: i128) -> bool {
    ev.0.get("timestamp")
        .and_then(|t| t.as_str())
        .and_then(parse_rfc3339)
        .is_some_and(|t| now - window_ns <= t && t <= now)
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
    /// Cases that cannot be written in this backend's native event shape (e.g. a process
    /// name that is not the last component of the process path, where Sysmon holds one
    /// `Image` for both): not judged.
    pub skipped: usize,
    /// Where the time window the verdicts were judged with comes from: the query text, the
    /// Kibana rule's `from`, or none (Sigma: the scheduler's).
    pub window: String,
    /// Conditions of the rule (each value of each match, detection and exclusions).
    pub conditions: usize,
    /// Conditions whose MC/DC pair was judged here and flipped this backend's verdict.
    pub covered: usize,
    /// Conditions without a judged pair here that the backend declares it renders
    /// inexactly (a gap, a wider or narrower rendering): excused, and counted.
    pub declared: usize,
    /// Conditions no event can make decide the verdict (a value implied by another one):
    /// a fact of the spec, the same in every backend.
    pub masked: usize,
    /// Conditions without a judged, flipping pair and without a declaration: verify fails.
    pub uncovered: usize,
    /// The artifact could not be run at all (missing, unparsable, wrong table).
    pub error: Option<String>,
}

/// At most this share of a cell's cases may be skipped (the native shape cannot hold them);
/// past it the cell fails, whatever the judged cases say: a pass must rest on judged cases.
/// (The whole corpus skips at most 8% in any cell, 2% overall.)
pub const MAX_SKIPPED_SHARE: f64 = 0.25;

impl Cell {
    /// The artifact did not run, or some case's verdict differs from the spec's unexplained.
    pub fn disagrees(&self) -> bool {
        self.mismatched > 0 || self.error.is_some()
    }

    /// It ran, agrees with the spec, covers its conditions and judged enough cases.
    pub fn ok(&self) -> bool {
        !self.disagrees() && self.uncovered == 0 && self.judged()
    }

    /// Were enough of its cases judged for a verdict to mean anything?
    pub fn judged(&self) -> bool {
        self.skipped as f64 <= self.cases as f64 * MAX_SKIPPED_SHARE
    }
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
    /// What `expected` comes from: the spec, or the backend's own declared rendering (the
    /// artifact agrees with the spec where its declaration says it must not).
    pub against: Against,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Against {
    Spec,
    Declared,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub cells: Vec<Cell>,
    pub mismatches: Vec<Mismatch>,
    /// Fixture lines whose `expect` disagrees with the IR (the spec does not mean what the
    /// fixture's author thinks).
    pub fixture_disagreements: Vec<String>,
    /// Rule × backend pairs the spec declares `unsupported` (no artifact, nothing to run).
    pub not_built: Vec<String>,
    /// Conditions without a judged pair in some backend and no declaration excusing it.
    pub uncovered: Vec<Uncovered>,
    /// Conditions no event can make decide the verdict, once per rule.
    pub masked: Vec<Uncovered>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Uncovered {
    pub rule: String,
    /// Empty for masked conditions (a fact of the spec, not of a backend).
    pub backend: Option<BackendName>,
    pub condition: String,
    pub why: String,
}

impl Report {
    /// True when every artifact ran and every difference is explained.
    pub fn ok(&self) -> bool {
        self.fixture_disagreements.is_empty() && self.cells.iter().all(Cell::ok)
    }

    /// The artifacts that did not run or disagree with the spec on some case, in order.
    pub fn disagreeing_artifacts(&self) -> Vec<&str> {
        self.cells
            .iter()
            .filter(|c| c.disagrees())
            .map(|c| c.artifact.as_str())
            .collect()
    }
}

pub struct VerifyOptions {
    /// `now()` for queries and windows, ns since the epoch.
    pub now: i128,
    /// Whether the artifacts were built with exclusions.
    pub exclusions: bool,
}

/// What running one backend's artifact of one rule gave.
struct Run {
    /// Per case: the artifact's verdict, or `None` when the case cannot be written in the
    /// backend's native shape (the reason is counted as skipped, never judged).
    verdicts: Vec<Option<bool>>,
    /// A difference in result rows (aggregations, projections), when the backend has any.
    rows: Option<String>,
    /// Where this backend's time window comes from (for the matrix).
    window: String,
}

/// Everything a runner may read: the artifact texts and the rule's identity, the
/// detection's category and source (to pick the mapping table), and the events.
struct Ctx<'a> {
    files: &'a Files,
    path: &'a str,
    id: &'a RuleId,
    det: &'a IrDetection,
    source: Source,
    cases: &'a [Case],
    now: i128,
}

/// One backend: where its artifact lives, whether the spec's window is judged (the artifact
/// carries it), and how to run it.
struct BackendRunner {
    name: BackendName,
    /// Folder and extension of its artifacts: `kql/<stem>.kql`.
    dir: &'static str,
    ext: &'static str,
    /// The reference verdict includes the spec's window. False for Sigma: a Sigma rule has
    /// no time range; the window is the scheduler's (docs/verify.md).
    windowed: bool,
    run: fn(&Ctx) -> Result<Run, String>,
    /// The backend's mapping tables (`backends/*.yaml`), to tell column declarations apart.
    tables: fn() -> &'static [TableMap],
}

const RUNNERS: &[BackendRunner] = &[
    BackendRunner {
        name: BackendName::Kql,
        dir: "kql",
        ext: "kql",
        windowed: true,
        run: runners::kql,
        tables: || crate::mappings::tables(crate::spec::BackendName::Kql),
    },
    BackendRunner {
        name: BackendName::Sigma,
        dir: "sigma",
        ext: "yml",
        windowed: false,
        run: runners::sigma,
        tables: || crate::mappings::tables(crate::spec::BackendName::Sigma),
    },
    BackendRunner {
        name: BackendName::Splunk,
        dir: "splunk",
        ext: "spl",
        windowed: true,
        run: runners::spl,
        tables: || crate::mappings::tables(crate::spec::BackendName::Splunk),
    },
    BackendRunner {
        name: BackendName::Elastic,
        dir: "elastic",
        ext: "eql",
        windowed: true,
        run: runners::eql,
        tables: || crate::mappings::tables(crate::spec::BackendName::Elastic),
    },
];

/// Verify `files` (artifacts by relative path) against the IR of `specs`, on `fixtures` plus
/// generated cases, for every backend that has artifacts in `files`. `renderings` are the
/// backends' fidelity declarations.
pub fn verify(
    specs: &[IrSpec],
    files: &Files,
    fixtures: &[Case],
    renderings: &[Rendering],
    opts: &VerifyOptions,
) -> Report {
    let mut report = Report::default();
    let present: Vec<&BackendRunner> = RUNNERS
        .iter()
        .filter(|b| {
            let prefix = format!("{}/", b.dir);
            let ext = format!(".{}", b.ext);
            files
                .keys()
                .any(|k| k.starts_with(&prefix) && k.ends_with(&ext))
                // a deployable wrapper (Sentinel YAML, savedsearches.conf, Kibana NDJSON)
                // needs its twins, which are run
                || forms::wraps(files, b.name)
        })
        .collect();
    // Renderings by rule and backend: looked up once per cell, not searched.
    let mut by_rule: HashMap<RuleKey, Vec<&Rendering>> = HashMap::new();
    for r in renderings {
        by_rule
            .entry((r.spec.as_str(), r.detection.as_str(), r.source, r.backend))
            .or_default()
            .push(r);
    }
    let rules: Vec<(&IrSpec, &IrDetection, Source)> = specs
        .iter()
        .flat_map(|spec| {
            spec.detections
                .iter()
                .flat_map(move |det| det.sources.iter().map(move |&source| (spec, det, source)))
        })
        .collect();
    // Rules are independent: split them into contiguous chunks, one per core, and join the
    // partial reports in order, so the report is the same as a sequential run's.
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let chunk = rules.len().div_ceil(threads).max(1);
    let parts: Vec<Report> = std::thread::scope(|scope| {
        let handles: Vec<_> = rules
            .chunks(chunk)
            .map(|rules| {
                let (present, by_rule) = (&present, &by_rule);
                scope.spawn(move || {
                    let mut part = Report::default();
                    for &(spec, det, source) in rules {
                        verify_rule(
                            spec, det, source, files, fixtures, by_rule, present, opts, &mut part,
                        );
                    }
                    part
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a verify worker panicked"))
            .collect()
    });
    for part in parts {
        report.cells.extend(part.cells);
        report.mismatches.extend(part.mismatches);
        report
            .fixture_disagreements
            .extend(part.fixture_disagreements);
        report.not_built.extend(part.not_built);
        report.uncovered.extend(part.uncovered);
        report.masked.extend(part.masked);
    }
    // Every deployable form must equal its twin, the artifact that was just run: a
    // difference is an error on that rule's cell (forms.rs).
    forms::apply(forms::check(specs, files), &mut report.cells);
    report
}

/// (spec, detection, source, backend): the renderings of one verify cell.
type RuleKey<'a> = (&'a str, &'a str, Source, BackendName);

/// Verify one rule (detection × source) on every backend present, into `report`.
#[allow(clippy::too_many_arguments)]
fn verify_rule(
    spec: &IrSpec,
    det: &IrDetection,
    source: Source,
    files: &Files,
    fixtures: &[Case],
    renderings: &HashMap<RuleKey, Vec<&Rendering>>,
    present: &[&BackendRunner],
    opts: &VerifyOptions,
    report: &mut Report,
) {
    let window_ns = i128::from(spec.window.minutes) * 60_000_000_000;
    let id = RuleId::new(spec, det, source);
    let rule = format!("{}/{} ({source})", spec.id, det.id);
    let cases::Generated {
        cases: mut all,
        conditions,
    } = cases::generate(det, source, opts.now, window_ns, opts.exclusions);
    let generated = all.len();
    for c in &conditions {
        if let Err(Some(why)) = &c.pair {
            report.masked.push(Uncovered {
                rule: rule.clone(),
                backend: None,
                condition: c.condition.label.clone(),
                why: why.clone(),
            });
        }
    }
    all.extend(
        fixtures
            .iter()
            .filter(|c| c.category == det.category && c.source == source)
            .cloned(),
    );
    // The spec's verdicts, once per rule: without the window (for backends whose artifact
    // carries none) and with it.
    let unwindowed: Vec<bool> = all
        .iter()
        .map(|c| det.matches(&c.event, source, opts.exclusions))
        .collect();
    let windowed: Vec<bool> = all
        .iter()
        .zip(&unwindowed)
        .map(|(c, &m)| in_time(det, m, &c.event, opts.now, window_ns))
        .collect();
    // the fixtures are the cases after the generated ones
    for (c, &got) in all[generated..].iter().zip(&windowed[generated..]) {
        let want = c
            .expect
            .as_ref()
            .map(|e| e.contains(&format!("{}/{}", spec.id, det.id)));
        if want.is_some_and(|w| w != got) {
            report.fixture_disagreements.push(format!(
                "{}: expects {rule} to {}fire, but the spec says it does {}",
                c.name,
                if got { "not " } else { "" },
                if got { "" } else { "not" }
            ));
        }
    }
    for (backend, reason) in &det.unsupported {
        report
            .not_built
            .push(format!("{rule} [{}]: {reason}", backend.name()));
    }
    for b in present {
        if det.unsupported.contains_key(&b.name) {
            continue;
        }
        let want = if b.windowed { &windowed } else { &unwindowed };
        let table = table_for((b.tables)(), det.category, source);
        let notes: Vec<&Rendering> = renderings
            .get(&(spec.id.as_str(), det.id.as_str(), source, b.name))
            .map(|rs| {
                rs.iter()
                    .copied()
                    .filter(|r| r.fidelity != Fidelity::Exact && !unexercised(table, r))
                    .collect()
            })
            .unwrap_or_default();
        let path = format!("{}/{}.{}", b.dir, id.stem, b.ext);
        let mut cell = Cell {
            rule: rule.clone(),
            backend: b.name,
            artifact: path.clone(),
            cases: all.len(),
            passed: 0,
            explained: 0,
            mismatched: 0,
            skipped: 0,
            window: String::new(),
            conditions: conditions.len(),
            covered: 0,
            declared: 0,
            masked: conditions
                .iter()
                .filter(|c| matches!(c.pair, Err(Some(_))))
                .count(),
            uncovered: 0,
            error: None,
        };
        let ctx = Ctx {
            files,
            path: &path,
            id: &id,
            det,
            source,
            cases: &all,
            now: opts.now,
        };
        match (b.run)(&ctx) {
            Err(e) => cell.error = Some(e),
            Ok(run) => {
                cell.window = run.window;
                // each case's verdict as the declared renderings compute it, once (`None`:
                // nothing declared, or a declaration verify has no model of)
                let modeled: Vec<Option<bool>> = all
                    .iter()
                    .map(|c| {
                        (!notes.is_empty())
                            .then(|| {
                                rendered_rule(
                                    det,
                                    &c.event,
                                    source,
                                    opts.exclusions,
                                    &notes,
                                    b.name,
                                    table,
                                )
                            })
                            .flatten()
                    })
                    .collect();
                for (((c, want), got), model) in
                    all.iter().zip(want).zip(&run.verdicts).zip(&modeled)
                {
                    let Some(got) = *got else {
                        cell.skipped += 1;
                        continue;
                    };
                    let mismatch = |expected, explained_by, against| Mismatch {
                        rule: rule.clone(),
                        backend: b.name,
                        case: c.name.clone(),
                        event: c.event.0.clone(),
                        expected,
                        actual: got,
                        explained_by,
                        against,
                    };
                    if *want == got {
                        // Agreeing with the spec is not enough where the backend declared an
                        // inexact rendering verify can model: the artifact must do what it
                        // declares (a dropped "either end" alternative of a wider IP column
                        // is a broken artifact, not a better one).
                        let declared = model.map(|m| {
                            if b.windowed {
                                in_time(det, m, &c.event, opts.now, window_ns)
                            } else {
                                m
                            }
                        });
                        match declared {
                            Some(d) if d != got => {
                                cell.mismatched += 1;
                                report.mismatches.push(mismatch(d, None, Against::Declared));
                            }
                            _ => cell.passed += 1,
                        }
                        continue;
                    }
                    // declarations excuse predicates, never the window
                    let window_ok =
                        !b.windowed || !det.time_filter || in_window(&c.event, opts.now, window_ns);
                    let explained_by = window_ok
                        .then(|| {
                            explain(
                                &notes,
                                det,
                                &c.event,
                                source,
                                opts.exclusions,
                                got,
                                b.name,
                                table,
                            )
                        })
                        .flatten();
                    if explained_by.is_some() {
                        cell.explained += 1;
                    } else {
                        cell.mismatched += 1;
                    }
                    report
                        .mismatches
                        .push(mismatch(*want, explained_by, Against::Spec));
                }
                // what the declared renderings predict for the pair, as the backend computes
                // them (`None`: a declaration verify has no model of)
                let predicted = |i: usize| modeled[i];
                coverage(
                    &mut cell,
                    &conditions,
                    &run.verdicts,
                    &notes,
                    &predicted,
                    report,
                );
                // Per-event differences are judged above; the output shape is
                // checked on the events the artifact itself matched.
                if let Some(e) = run.rows {
                    cell.mismatched += 1;
                    report.mismatches.push(Mismatch {
                        rule: rule.clone(),
                        backend: b.name,
                        case: format!("result rows of all {} cases: {e}", all.len()),
                        event: Default::default(),
                        expected: true,
                        actual: false,
                        explained_by: None,
                        against: Against::Spec,
                    });
                }
            }
        }
        report.cells.push(cell);
    }
}

/// Count, for one cell, the conditions whose pair was judged and flipped the artifact's
/// verdict; a condition without one is excused only by a declared inexact rendering of its
/// match in this backend that predicts it (see below), else it is uncovered (and verify
/// fails).
fn coverage(
    cell: &mut Cell,
    conditions: &[cases::Covered],
    verdicts: &[Option<bool>],
    notes: &Notes,
    predicted: &dyn Fn(usize) -> Option<bool>,
    report: &mut Report,
) {
    for c in conditions {
        let (on, off) = match c.pair {
            Ok(pair) => pair,
            Err(Some(_)) => continue, // masked: a fact of the spec, reported once per rule
            Err(None) => {
                cell.uncovered += 1;
                report.uncovered.push(Uncovered {
                    rule: cell.rule.clone(),
                    backend: Some(cell.backend),
                    condition: c.condition.label.clone(),
                    why: "the search for its pair ran out of steps".into(),
                });
                continue;
            }
        };
        let why = match (verdicts[on], verdicts[off]) {
            (Some(a), Some(b)) if a != b => {
                cell.covered += 1;
                continue;
            }
            (Some(_), Some(_)) => "the artifact gives both events of its pair the same verdict",
            _ => "the backend's native event cannot hold its pair (skipped)",
        };
        // Excused only when the condition's own rendering is declared inexact and the
        // declarations themselves say the pair cannot flip here (a dropped company: both
        // events fire), or verify has no model of them; a wider IP column still flips the
        // pair, so it excuses nothing.
        let declared = note_of(notes, &c.condition.part, &c.condition.leaf).is_some()
            && match (predicted(on), predicted(off)) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            };
        if declared {
            cell.declared += 1;
        } else {
            cell.uncovered += 1;
            report.uncovered.push(Uncovered {
                rule: cell.rule.clone(),
                backend: Some(cell.backend),
                condition: c.condition.label.clone(),
                why: why.to_string(),
            });
        }
    }
}
