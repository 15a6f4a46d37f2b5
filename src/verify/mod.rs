//! `rmmc verify`: run every emitted artifact, as text, over fixture and generated events
//! rendered into the backend's native shape, and compare each verdict with the IR's.
//!
//! The artifact side never sees the IR: it gets the artifact text and native rows. The IR
//! side gives the reference verdict, and the backend's own fidelity declarations (what it
//! rendered wider or narrower, and why) are the only accepted excuse for a difference.

pub mod cases;
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
    /// Rule × backend pairs the spec declares `unsupported` (no artifact, nothing to run).
    pub not_built: Vec<String>,
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
    }
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
    let mut all: Vec<Case> = cases::generate(det, source, opts.now, window_ns);
    let generated = all.len();
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
                    .filter(|r| !unexercised(table, r))
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
                for ((c, want), got) in all.iter().zip(want).zip(&run.verdicts) {
                    let Some(got) = *got else {
                        cell.skipped += 1;
                        continue;
                    };
                    if *want == got {
                        cell.passed += 1;
                        continue;
                    }
                    // declarations excuse predicates, never the window
                    let window_ok =
                        !b.windowed || !det.time_filter || in_window(&c.event, opts.now, window_ns);
                    let explained_by = window_ok
                        .then(|| explain(&notes, det, &c.event, source, opts.exclusions, got))
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
                    });
                }
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
                    });
                }
            }
        }
        report.cells.push(cell);
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

fn note_of(notes: &Notes, part: &str, m: &Match) -> Option<Fidelity> {
    let pred = m.to_string();
    notes
        .iter()
        .find(|r| r.part == part && r.predicate == pred)
        .map(|r| r.fidelity)
        .filter(|f| *f != Fidelity::Exact)
}

/// The verdict of `e` on `ev` pushed as far as the declared renderings allow, towards a
/// match (`upper`) or away from one. Each declaration is local to its match: `wider` lets
/// the backend's match be true where the spec's is false, `narrower` the reverse, and
/// `inexpressible` (dropped, per the gap policy) is the constant that widens the rule.
/// `positive` is the polarity (false under an odd number of `not`s, e.g. in an exclusion).
fn bound(
    e: &Expr,
    ev: &Event,
    positive: bool,
    upper: bool,
    note: &dyn Fn(&Match) -> Option<Fidelity>,
) -> bool {
    match e {
        Expr::All(v) => v.iter().all(|x| bound(x, ev, positive, upper, note)),
        Expr::Any(v) => v.iter().any(|x| bound(x, ev, positive, upper, note)),
        Expr::Not(x) => !bound(x, ev, !positive, upper, note),
        Expr::Match(m) => match note(m) {
            Some(Fidelity::Inexpressible) => positive,
            Some(Fidelity::Wider) if upper == positive => true,
            Some(Fidelity::Narrower) if upper != positive => false,
            _ => m.eval(ev),
        },
    }
}

/// The rule's verdict at that bound: the detection, minus the exclusions of this source.
fn rule_bound(
    det: &IrDetection,
    ev: &Event,
    source: Source,
    exclusions: bool,
    upper: bool,
    notes: &Notes,
) -> bool {
    bound(&det.expr, ev, true, upper, &|m| {
        note_of(notes, "detection", m)
    }) && !(exclusions
        && det
            .exclusions
            .iter()
            .filter(|x| x.sources.contains(&source))
            .any(|x| {
                let part = format!("exclusion {}", x.id);
                bound(&x.expr, ev, false, upper, &|m| note_of(notes, &part, m))
            }))
}

/// Does what the backend declared explain `actual` where the spec says `expected`? Only if
/// the declared renderings, pushed in the artifact's direction, reach its verdict on this
/// very event (so a wider IP column does not excuse a dropped exclusion). Returns the
/// declarations that do it (each alone if one suffices, else all of them).
fn explain(
    notes: &Notes,
    det: &IrDetection,
    ev: &Event,
    source: Source,
    exclusions: bool,
    actual: bool,
) -> Option<String> {
    let reaches = |ns: &Notes| rule_bound(det, ev, source, exclusions, actual, ns) == actual;
    let lossy: Vec<&Rendering> = notes
        .iter()
        .copied()
        .filter(|r| r.fidelity != Fidelity::Exact)
        .collect();
    if lossy.is_empty() || !reaches(&lossy) {
        return None;
    }
    let single: Vec<&Rendering> = lossy.iter().copied().filter(|r| reaches(&[*r])).collect();
    let why = if single.is_empty() { &lossy } else { &single };
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
        detections:\n  d:\n    title: D\n    on: network\n    where:\n      remote_ip: { ip: [1.2.3.4] }\n    output:\n      summarize: [device_name]\n\
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

    /// (declarations, event, the artifact's verdict, explained?)
    #[test]
    fn declarations_explain_only_what_they_reach() {
        let spec = crate::spec::load_str(std::path::Path::new("t.yaml"), SPEC).unwrap();
        let ir = crate::ir::lower(&spec);
        let det = &ir.detections[0];
        let ip = "remote_ip ip [1.2.3.4]";
        let cmd = "initiating_command_line contains [maint]";
        let wider_ip = note("detection", ip, Fidelity::Wider);
        let narrower_ip = note("detection", ip, Fidelity::Narrower);
        let dropped = note("exclusion x", cmd, Fidelity::Inexpressible);
        let narrower_cmd = note("exclusion x", cmd, Fidelity::Narrower);
        let wider_cmd = note("exclusion x", cmd, Fidelity::Wider);
        let other = json!({"remote_ip": "9.9.9.9"});
        let hit = json!({"remote_ip": "1.2.3.4"});
        let excluded = json!({"remote_ip": "1.2.3.4", "initiating_command_line": "run maint"});
        let cases: Vec<(Vec<&Rendering>, serde_json::Value, bool, bool)> = vec![
            (vec![&wider_ip], other.clone(), true, true),
            (vec![&wider_ip], excluded.clone(), true, false), // a wider IP is no dropped exclusion
            (vec![&wider_ip], hit.clone(), false, false),     // nor a missed match
            (vec![&dropped], excluded.clone(), true, true),
            (vec![&dropped], other.clone(), true, false),
            (vec![&narrower_ip], hit.clone(), false, true),
            (vec![&narrower_ip], other.clone(), true, false),
            (vec![&narrower_cmd], excluded.clone(), true, true), // narrower under `not`: wider rule
            (vec![&narrower_cmd], hit.clone(), false, false),
            (vec![&wider_cmd], hit.clone(), false, true), // wider under `not`: narrower rule
            (vec![&wider_cmd], excluded.clone(), true, false),
            (vec![&wider_ip, &dropped], excluded.clone(), true, true),
            (vec![], other, true, false),
        ];
        for (notes, ev, actual, want) in cases {
            let ev = Event(ev.as_object().unwrap().clone());
            let got = explain(&notes, det, &ev, Source::Endpoint, true, actual);
            assert_eq!(got.is_some(), want, "{notes:?} {ev:?} {actual}: {got:?}");
        }
        // nothing declared explains nothing; with exclusions off a dropped exclusion cannot
        // excuse a missed match
        let ev = Event(excluded.as_object().unwrap().clone());
        assert!(explain(&[], det, &ev, Source::Endpoint, true, true).is_none());
        assert!(explain(&[&dropped], det, &ev, Source::Endpoint, false, false).is_none());
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
