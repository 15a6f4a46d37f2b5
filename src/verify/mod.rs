//! `rmmc verify`: run every emitted artifact, as text, over fixture and generated events
//! rendered into the backend's native shape, and compare each verdict with the IR's.
//!
//! The artifact side never sees the IR: it gets the artifact text and native rows. The IR
//! side gives the reference verdict, and the backend's own fidelity declarations (what it
//! rendered wider or narrower, and why) are the only accepted excuse for a difference.

pub mod cases;
pub mod forms;
pub mod mcdc;
pub mod mutate;
pub mod native;

use crate::backend::common::Rendering;
use crate::backend::RuleId;
use crate::build::Files;
use crate::diag::Fidelity;
use crate::eval::time::parse_rfc3339;
use crate::ir::{Event, Expr, IrDetection, IrSpec, Match};
use crate::mapping::{table_for, TableMap};
use crate::spec::{BackendName, Field, Source};
use cases::Case;
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
        self.fixture_disagreements.is_empty()
            && self
                .cells
                .iter()
                .all(|c| c.error.is_none() && c.mismatched == 0 && c.uncovered == 0 && c.judged())
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
    /// no time range; the window is the scheduler's (README, "Proving the artifacts mean the
    /// spec").
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
        tables: || &crate::backend::kql::data().tables,
    },
    BackendRunner {
        name: BackendName::Sigma,
        dir: "sigma",
        ext: "yml",
        windowed: false,
        run: runners::sigma,
        tables: || &crate::backend::sigma::data().tables,
    },
    BackendRunner {
        name: BackendName::Splunk,
        dir: "splunk",
        ext: "spl",
        windowed: true,
        run: runners::spl,
        tables: || &crate::backend::spl::data().tables,
    },
    BackendRunner {
        name: BackendName::Elastic,
        dir: "elastic",
        ext: "eql",
        windowed: true,
        run: runners::eql,
        tables: || &crate::backend::eql::data().tables,
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
                                report.mismatches.push(Mismatch {
                                    rule: rule.clone(),
                                    backend: b.name,
                                    case: c.name.clone(),
                                    event: c.event.0.clone(),
                                    expected: d,
                                    actual: got,
                                    explained_by: None,
                                    against: Against::Declared,
                                });
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
                    report.mismatches.push(Mismatch {
                        rule: rule.clone(),
                        backend: b.name,
                        case: c.name.clone(),
                        event: c.event.0.clone(),
                        expected: *want,
                        actual: got,
                        explained_by,
                        against: Against::Spec,
                    });
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

/// A narrower declaration that comes from the table's column (`remote_domain` is matched on
/// `DestinationHostname` only, so an inbound connection's `SourceHostname` is missed) is
/// about data the native events never hold: they put each canonical field on the column
/// the artifact matches. It cannot excuse a missed match on them, so it is not offered.
fn unexercised(table: Option<&TableMap>, r: &Rendering) -> bool {
    let Some(field) = r.predicate.split(' ').next().and_then(Field::lookup) else {
        return false;
    };
    let Some(col) = table.and_then(|t| t.column(field)) else {
        return false;
    };
    r.fidelity == Fidelity::Narrower
        && col.fidelity.0 == Fidelity::Narrower
        && col.fidelity.1 == r.note.as_deref()
        && col.match_on.contains(&col.project)
}

/// The declared renderings of one rule in one backend, by (part, predicate).
type Notes<'a> = [&'a Rendering];

/// The declared inexact rendering of `m` in `part`, if any.
fn note_of<'r>(notes: &Notes<'r>, part: &str, m: &Match) -> Option<&'r Rendering> {
    let pred = m.to_string();
    notes
        .iter()
        .copied()
        .find(|r| r.part == part && r.predicate == pred && r.fidelity != Fidelity::Exact)
}

/// What one backend's rendering of a match computes on a canonical event, where a declared
/// inexact rendering makes it differ from the spec's match. Each effect is modeled exactly
/// from the mapping data, never guessed from the declaration's direction:
/// - a column matched on several native columns (`remote_ip` on `DestinationIp` or
///   `SourceIp`): the value tested on every canonical field those columns hold;
/// - a narrower column (`DestinationHostname` only): exact on verify's native events, which
///   put each field on the column that is checked;
/// - Elasticsearch `ip` fields index an IPv4-mapped IPv6 address as its IPv4 address
///   (`kinds` in `backends/elastic.yaml`);
/// - KQL and SPL compare IPv6 addresses as text in their compressed lower-case form;
/// - KQL's text operators fold ASCII letters only and end terms at Unicode letters and digits
///   (`ir::KUSTO`, `kinds` in `backends/kql.yaml`).
///
/// `None` where the declaration's effect is not modeled (a base name holding `\`, matched
/// on the whole path): such a declaration explains nothing.
fn rendered_eval(
    m: &Match,
    backend: BackendName,
    table: Option<&TableMap>,
    ev: &Event,
) -> Option<bool> {
    use crate::ir::Test;
    let col = table.and_then(|t| t.column(m.field));
    if let (Some(c), Test::Text { values, .. }) = (&col, &m.test) {
        if c.basename && values.iter().any(|v| v.contains('\\')) {
            return None;
        }
    }
    let mut fields = vec![m.field];
    if let (Some(t), Some(c)) = (table, &col) {
        if c.fidelity.0 == Fidelity::Wider && c.match_on.len() > 1 {
            // the canonical fields whose own column is one of the others matched on
            for (name, _) in &t.columns {
                let Some(f) = Field::lookup(name) else {
                    continue;
                };
                let holds = t.column(f).is_some_and(|o| c.match_on.contains(&o.project));
                if f != m.field && holds {
                    fields.push(f);
                }
            }
        }
    }
    let mapped_v4 = backend == BackendName::Elastic
        && matches!(m.test, Test::Ip(_) | Test::Cidr(_))
        && crate::backend::eql::data()
            .kinds
            .get(if matches!(m.test, Test::Ip(_)) {
                "ip"
            } else {
                "cidr"
            })
            .is_some_and(|k| k.fidelity == Fidelity::Wider);
    let v6_text = matches!(backend, BackendName::Kql | BackendName::Splunk);
    Some(fields.into_iter().any(|f| {
        let at = Match {
            field: f,
            ..m.clone()
        };
        let raw = ev.0.get(f.name()).and_then(|v| v.as_str()).unwrap_or("");
        match &m.test {
            Test::Ip(ips) if v6_text && ips.iter().any(std::net::IpAddr::is_ipv6) => {
                ips.iter().any(|ip| match ip {
                    std::net::IpAddr::V6(_) => raw == ip.to_string(),
                    std::net::IpAddr::V4(_) => raw.parse::<std::net::IpAddr>() == Ok(*ip),
                })
            }
            Test::Ip(_) | Test::Cidr(_) if mapped_v4 => {
                let ip = match raw.parse::<std::net::IpAddr>() {
                    Ok(std::net::IpAddr::V6(v6)) => v6
                        .to_ipv4_mapped()
                        .map_or(std::net::IpAddr::V6(v6), std::net::IpAddr::V4),
                    Ok(ip) => ip,
                    Err(_) => return false,
                };
                let mut one = ev.clone();
                one.0.insert(f.name().into(), ip.to_string().into());
                at.eval(&one)
            }
            // Kusto folds ASCII only and counts Unicode letters and digits as term characters
            _ if backend == BackendName::Kql => at.eval_in(&crate::ir::KUSTO, ev),
            _ => at.eval(ev),
        }
    }))
}

/// The rule's verdict on `ev` as the backend computes it, given its declared renderings:
/// an inexpressible match is dropped (per the gap policy, the constant that widens the
/// rule: true unless under `not`), an inexact one evaluated as `rendered_eval` models it.
/// `None` when a declaration that matters here is not modeled.
fn rendered_rule(
    det: &IrDetection,
    ev: &Event,
    source: Source,
    exclusions: bool,
    notes: &Notes,
    backend: BackendName,
    table: Option<&TableMap>,
) -> Option<bool> {
    fn walk(
        e: &Expr,
        ev: &Event,
        positive: bool,
        note: &dyn Fn(&Match) -> Option<Fidelity>,
        leaf: &dyn Fn(&Match) -> Option<bool>,
    ) -> Option<bool> {
        Some(match e {
            Expr::All(v) => {
                let mut all = true;
                for x in v {
                    all &= walk(x, ev, positive, note, leaf)?;
                }
                all
            }
            Expr::Any(v) => {
                let mut any = false;
                for x in v {
                    any |= walk(x, ev, positive, note, leaf)?;
                }
                any
            }
            Expr::Not(x) => !walk(x, ev, !positive, note, leaf)?,
            Expr::Match(m) => match note(m) {
                Some(Fidelity::Inexpressible) => positive,
                Some(_) => leaf(m)?,
                None => m.eval(ev),
            },
        })
    }
    let leaf = |m: &Match| rendered_eval(m, backend, table, ev);
    let part_note = |part: String| move |m: &Match| note_of(notes, &part, m).map(|r| r.fidelity);
    let hit = walk(&det.expr, ev, true, &part_note("detection".into()), &leaf)?;
    if !(hit && exclusions) {
        return Some(hit);
    }
    for x in det
        .exclusions
        .iter()
        .filter(|x| x.sources.contains(&source))
    {
        if walk(
            &x.expr,
            ev,
            false,
            &part_note(format!("exclusion {}", x.id)),
            &leaf,
        )? {
            return Some(false);
        }
    }
    Some(true)
}

/// Does what the backend declared explain `actual` where the spec says `expected`? Only if
/// the rule, with every declared rendering evaluated as the backend computes it on this very
/// event (`rendered_rule`), gives the artifact's verdict: a wider IP column explains a hit
/// only when the address is on the other end of this event's connection, and never a
/// dropped exclusion. Returns the declarations that matter (those whose removal changes the
/// modeled verdict, or all of them).
#[allow(clippy::too_many_arguments)]
fn explain(
    notes: &Notes,
    det: &IrDetection,
    ev: &Event,
    source: Source,
    exclusions: bool,
    actual: bool,
    backend: BackendName,
    table: Option<&TableMap>,
) -> Option<String> {
    let lossy: Vec<&Rendering> = notes
        .iter()
        .copied()
        .filter(|r| r.fidelity != Fidelity::Exact)
        .collect();
    let model = |ns: &Notes| rendered_rule(det, ev, source, exclusions, ns, backend, table);
    if lossy.is_empty() || model(&lossy) != Some(actual) {
        return None;
    }
    let needed: Vec<&Rendering> = lossy
        .iter()
        .copied()
        .filter(|r| {
            let without: Vec<&Rendering> = lossy
                .iter()
                .copied()
                .filter(|o| !std::ptr::eq(*o, *r))
                .collect();
            model(&without) != Some(actual)
        })
        .collect();
    let why = if needed.is_empty() { &lossy } else { &needed };
    Some(
        why.iter()
            .map(|r| {
                format!(
                    "{} rendering of `{}` ({}): {}",
                    crate::backend::common::fidelity_word(r.fidelity),
                    r.predicate,
                    r.part,
                    r.note.clone().unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
    )
}

pub mod runners;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SPEC: &str = "id: t\nvendor: T\ndescription: d\nreferences: []\nauthor: a\ndate: 2026-05-31\nseverity: low\n\
        attack: { tactics: [CommandAndControl], techniques: [T1219] }\nwindow: 1d\n\
        detections:\n  d:\n    title: D\n    category: network\n    where:\n      remote_ip: { ip: [1.2.3.4] }\n    output:\n      summarize: [device_name]\n\
        exclusions:\n  x:\n    reason: r\n    applies_to: [d]\n    where:\n      initiating_command_line: { contains: [maint] }\n";

    fn note(part: &str, predicate: &str, fidelity: Fidelity) -> Rendering {
        Rendering {
            spec: "t".into(),
            detection: "d".into(),
            source: Source::Endpoint,
            backend: BackendName::Sigma,
            part: part.into(),
            predicate: predicate.into(),
            rendered: String::new(),
            fidelity,
            note: Some("why".into()),
        }
    }

    /// (declarations, event, the artifact's verdict, explained?). Each declaration is
    /// evaluated as the backend computes it, on that very event: Sigma's `remote_ip` is
    /// matched on `DestinationIp` or `SourceIp` (backends/sigma.yaml), so a wider hit is
    /// explained only when the address is the event's `local_ip`.
    #[test]
    fn declarations_explain_only_what_they_compute() {
        let spec = crate::spec::load_str(std::path::Path::new("t.yaml"), SPEC).unwrap();
        let ir = crate::ir::lower(&spec);
        let det = &ir.detections[0];
        let ip = "remote_ip ip [1.2.3.4]";
        let cmd = "initiating_command_line contains [maint]";
        let wider_ip = note("detection", ip, Fidelity::Wider);
        let dropped = note("exclusion x", cmd, Fidelity::Inexpressible);
        let narrower_cmd = note("exclusion x", cmd, Fidelity::Narrower);
        let wider_cmd = note("exclusion x", cmd, Fidelity::Wider);
        let other = json!({"remote_ip": "9.9.9.9"});
        let local = json!({"remote_ip": "9.9.9.9", "local_ip": "1.2.3.4"});
        let hit = json!({"remote_ip": "1.2.3.4"});
        let excluded = json!({"remote_ip": "1.2.3.4", "initiating_command_line": "run maint"});
        let cases: Vec<(Vec<&Rendering>, serde_json::Value, bool, bool)> = vec![
            (vec![&wider_ip], local.clone(), true, true),
            // the wider column does not match an address on neither end
            (vec![&wider_ip], other.clone(), true, false),
            (vec![&wider_ip], excluded.clone(), true, false), // nor excuse a dropped exclusion
            (vec![&wider_ip], hit.clone(), false, false),     // nor a missed match
            (vec![&dropped], excluded.clone(), true, true),
            (vec![&dropped], other.clone(), true, false),
            (vec![&dropped], hit.clone(), false, false),
            // a value-level declaration rmmc has no model of explains nothing
            (vec![&narrower_cmd], excluded.clone(), true, false),
            (vec![&wider_cmd], hit.clone(), false, false),
            (vec![&wider_ip, &dropped], excluded.clone(), true, true),
            (
                vec![&wider_ip, &dropped],
                json!({"local_ip": "1.2.3.4", "initiating_command_line": "maint"}),
                true,
                true,
            ),
            (vec![], other, true, false),
        ];
        let table = table_for(
            &crate::backend::sigma::data().tables,
            crate::spec::Category::Network,
            Source::Endpoint,
        );
        let run = |notes: &[&Rendering], ev: &Event, exclusions: bool, actual: bool| {
            explain(
                notes,
                det,
                ev,
                Source::Endpoint,
                exclusions,
                actual,
                BackendName::Sigma,
                table,
            )
        };
        for (notes, ev, actual, want) in cases {
            let ev = Event(ev.as_object().unwrap().clone());
            let got = run(&notes, &ev, true, actual);
            assert_eq!(got.is_some(), want, "{notes:?} {ev:?} {actual}: {got:?}");
        }
        // nothing declared explains nothing; with exclusions off a dropped exclusion cannot
        // excuse a missed match
        let ev = Event(excluded.as_object().unwrap().clone());
        assert!(run(&[], &ev, true, true).is_none());
        assert!(run(&[&dropped], &ev, false, false).is_none());
    }

    /// The action1/netconn shape (issue 13): the company and product are dropped on Sysmon
    /// (declared gaps) and the exclusions' IPs are matched on either end (wider). An artifact
    /// whose domain was edited misses the spec's hits; nothing declared computes that miss,
    /// so nothing explains it. Before, a wider exclusion IP was taken as "could be true" and
    /// explained every such miss.
    #[test]
    fn gaps_and_wider_exclusion_columns_do_not_excuse_a_wrong_domain() {
        let spec = crate::spec::load_file(std::path::Path::new("rules/action1.yaml")).unwrap();
        let ir = crate::ir::lower(&spec);
        let det = &ir.detections[0];
        let opts = crate::build::BuildOptions {
            targets: vec![crate::build::Target::Sigma],
            exclusions: true,
        };
        let built = crate::build::compile(std::slice::from_ref(&spec), &opts);
        let notes: Vec<&Rendering> = built
            .renderings
            .iter()
            .filter(|r| r.backend == BackendName::Sigma && r.fidelity != Fidelity::Exact)
            .collect();
        assert!(notes.iter().any(|r| r.fidelity == Fidelity::Inexpressible));
        assert!(notes.iter().any(|r| r.fidelity == Fidelity::Wider));
        let table = table_for(
            &crate::backend::sigma::data().tables,
            crate::spec::Category::Network,
            Source::Endpoint,
        );
        let hit = Event(
            json!({"remote_domain": "server.action1.com", "initiating_company": "Action1",
                   "initiating_product": "Action1", "initiating_process_name": "agent.exe",
                   "remote_ip": "203.0.113.5", "local_ip": "192.168.1.20"})
            .as_object()
            .unwrap()
            .clone(),
        );
        assert!(det.matches(&hit, Source::Endpoint, true));
        let why = explain(
            &notes,
            det,
            &hit,
            Source::Endpoint,
            true,
            false,
            BackendName::Sigma,
            table,
        );
        assert!(why.is_none(), "{why:?}");
        // an exclusion address on the local end is what the wider column really explains
        let mut local = hit.clone();
        local.0.insert("local_ip".into(), json!("10.10.10.10"));
        let why = explain(
            &notes,
            det,
            &local,
            Source::Endpoint,
            true,
            false,
            BackendName::Sigma,
            table,
        );
        assert!(why.is_some_and(|w| w.contains("10.10.10.10")));
        // and the dropped company: an event of another company is a declared hit
        let mut other = hit.clone();
        other
            .0
            .insert("initiating_company".into(), json!("Contoso"));
        let why = explain(
            &notes,
            det,
            &other,
            Source::Endpoint,
            true,
            true,
            BackendName::Sigma,
            table,
        );
        assert!(why.is_some_and(|w| w.contains("initiating_company")));
    }

    #[test]
    fn narrower_column_declarations_are_not_offered() {
        let sigma = &crate::backend::sigma::data().tables;
        let t = table_for(sigma, crate::spec::Category::Network, Source::Endpoint);
        let col = t.unwrap().column(Field::known("remote_domain")).unwrap();
        let mut r = note(
            "detection",
            "remote_domain term [x.com]",
            Fidelity::Narrower,
        );
        r.note = col.fidelity.1.map(str::to_string);
        assert!(unexercised(t, &r));
        // a narrower rendering of the value itself (not the column's note) stays an excuse
        r.note = Some("the regex cannot fold this character".into());
        assert!(!unexercised(t, &r));
        // a wider column (either end of the connection) is exercised by local_ip
        let ipcol = t.unwrap().column(Field::known("remote_ip")).unwrap();
        let mut w = note("detection", "remote_ip ip [1.2.3.4]", Fidelity::Wider);
        w.note = ipcol.fidelity.1.map(str::to_string);
        assert!(!unexercised(t, &w));
    }
}
