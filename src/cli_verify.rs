//! The command-line edge of `rmmc verify` and `rmmc eval`: reading files, choosing the clock,
//! printing the matrix and the result rows.

use crate::build::{self, BuildOptions, Target};
use crate::cli::{exit, load, report, Format};
use crate::diag::{Diag, DiagKind};
use crate::eval::kql::{interp, parser};
use crate::eval::time::{format_rfc3339, parse_rfc3339};
use crate::verify::{self, cases, VerifyOptions};
use std::path::{Path, PathBuf};

fn now_or(now: Option<&str>, default: impl FnOnce() -> i128) -> Result<i128, String> {
    match now {
        Some(s) => parse_rfc3339(s).ok_or_else(|| {
            format!("--now {s:?} is not an RFC 3339 time (e.g. 2026-05-31T11:00:00Z)")
        }),
        None => Ok(default()),
    }
}

fn clock() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

fn usage(msg: String, format: Format) -> i32 {
    report(&[Diag::error(DiagKind::Io, msg)], &[], format);
    exit::ERROR
}

/// `rmmc verify --mutate`'s options (README: Mutation testing).
pub struct MutateArgs {
    pub sample: Option<usize>,
    pub seed: u64,
    pub survivors: Option<PathBuf>,
    pub min_kill_rate: Vec<String>,
}

#[allow(clippy::too_many_arguments)]
pub fn verify(
    rules: &[PathBuf],
    artifacts: Option<&Path>,
    fixtures: Option<&Path>,
    now: Option<&str>,
    no_exclusions: bool,
    mutate: Option<&MutateArgs>,
    format: Format,
) -> i32 {
    let bar = match mutate.map(|m| verify::mutate::Bar::parse(&m.min_kill_rate)) {
        Some(Err(e)) => return usage(e, format),
        Some(Ok(b)) => Some(b),
        None => None,
    };
    let Some(specs) = load(rules, format) else {
        return exit::ERROR;
    };
    let fixture_dir = fixtures.map(Path::to_path_buf).or_else(|| {
        let d = Path::new("tests/fixtures");
        d.is_dir().then(|| d.to_path_buf())
    });
    let fixture_cases = match &fixture_dir {
        Some(d) => match cases::load_fixtures(d) {
            Ok(c) => c,
            Err(diags) => {
                report(&diags, &[], format);
                return exit::ERROR;
            }
        },
        None => Vec::new(),
    };
    let newest = fixture_cases
        .iter()
        .filter_map(|c| {
            c.event
                .0
                .get("timestamp")
                .and_then(|t| t.as_str())
                .and_then(parse_rfc3339)
        })
        .max();
    let now = match now_or(now, || newest.map_or_else(clock, |t| t + 3_600_000_000_000)) {
        Ok(n) => n,
        Err(e) => return usage(e, format),
    };
    let opts = BuildOptions {
        targets: Target::ALL.to_vec(),
        exclusions: !no_exclusions,
    };
    let built = build::compile(&specs, &opts);
    if built.diags.iter().any(Diag::is_error) {
        report(&built.diags, &[], format);
        return exit::ERROR;
    }
    let files = match artifacts {
        None => built.files.clone(),
        Some(dir) if dir.is_dir() => match build::read_artifacts(dir) {
            Ok(f) => f,
            Err(e) => return usage(format!("cannot read {}: {e}", dir.display()), format),
        },
        Some(dir) => {
            return usage(
                format!("--artifacts {}: no such folder", dir.display()),
                format,
            )
        }
    };
    let vopts = VerifyOptions {
        now,
        exclusions: !no_exclusions,
    };
    if let (Some(m), Some(bar)) = (mutate, bar) {
        return mutation(
            &specs,
            &files,
            &fixture_cases,
            &built.renderings,
            &vopts,
            m,
            &bar,
            format,
        );
    }
    let irs: Vec<_> = specs.iter().map(crate::ir::lower).collect();
    let result = verify::verify(&irs, &files, &fixture_cases, &built.renderings, &vopts);
    match format {
        Format::Json => outln!(
            "{}",
            serde_json::to_string_pretty(&result).expect("report serializes")
        ),
        Format::Text => out!("{}", matrix(&result, now)),
    }
    if result.ok() {
        exit::OK
    } else {
        exit::CHECK_FAILED
    }
}

/// `rmmc verify --mutate`: run the mutants, print the report, write the survivors; exit 0
/// when every kind reaches its bar, 1 when one does not.
#[allow(clippy::too_many_arguments)]
fn mutation(
    specs: &[crate::spec::LoadedSpec],
    files: &build::Files,
    fixtures: &[cases::Case],
    renderings: &[crate::backend::common::Rendering],
    vopts: &VerifyOptions,
    m: &MutateArgs,
    bar: &verify::mutate::Bar,
    format: Format,
) -> i32 {
    use verify::mutate::{self, Status};
    let started = std::time::Instant::now();
    let opts = mutate::MutateOptions {
        sample: m.sample,
        seed: m.seed,
    };
    let r = mutate::run(specs, files, fixtures, renderings, vopts, &opts);
    let seconds = started.elapsed().as_secs_f64();
    if let Some(path) = &m.survivors {
        let lines: String = r
            .mutants
            .iter()
            .filter(|x| matches!(x.status, Status::Survived | Status::Equivalent))
            .map(|x| serde_json::to_string(x).expect("a mutant serializes") + "\n")
            .collect();
        if let Err(e) = std::fs::write(path, lines) {
            return usage(format!("{}: {e}", path.display()), format);
        }
    }
    match format {
        Format::Json => {
            let mut v = serde_json::to_value(&r).expect("the report serializes");
            v["seconds"] = serde_json::json!(seconds);
            v["below_bar"] = bar
                .failing(&r)
                .iter()
                .map(|k| serde_json::Value::from(k.kind.clone()))
                .collect();
            outln!("{}", serde_json::to_string_pretty(&v).expect("json"));
        }
        Format::Text => out!("{}", mutate::text(&r, bar, seconds)),
    }
    if bar.failing(&r).is_empty() {
        exit::OK
    } else {
        exit::CHECK_FAILED
    }
}

fn matrix(r: &verify::Report, now: i128) -> String {
    let mut out = format!("now = {}\n", format_rfc3339(now));
    out.push_str(&format!(
        "{:<40} {:<8} {:>6} {:>6} {:>9} {:>8} {:>7} {:>11}  {:<24} status\n",
        "rule",
        "backend",
        "cases",
        "pass",
        "explained",
        "mismatch",
        "skipped",
        "conditions",
        "window"
    ));
    for c in &r.cells {
        let status = match (&c.error, c.mismatched, c.uncovered) {
            (Some(e), _, _) => format!("ERROR {}: {e}", c.artifact),
            (None, 0, 0) if !c.judged() => format!(
                "UNJUDGED {} of {} cases skipped (more than {:.0}%) {}",
                c.skipped,
                c.cases,
                verify::MAX_SKIPPED_SHARE * 100.0,
                c.artifact
            ),
            (None, 0, 0) if c.explained + c.declared > 0 => "pass (declared gaps)".to_string(),
            (None, 0, 0) => "pass".to_string(),
            (None, 0, n) => format!("UNCOVERED {n} condition(s) {}", c.artifact),
            (None, _, _) => format!("MISMATCH {}", c.artifact),
        };
        // covered / conditions that can matter, then `+N` declared where some are excused
        let mut conds = format!("{}/{}", c.covered, c.conditions - c.masked);
        if c.declared > 0 {
            conds.push_str(&format!("+{}d", c.declared));
        }
        out.push_str(&format!(
            "{:<40} {:<8} {:>6} {:>6} {:>9} {:>8} {:>7} {:>11}  {:<24} {status}\n",
            c.rule,
            c.backend.name(),
            c.cases,
            c.passed,
            c.explained,
            c.mismatched,
            c.skipped,
            conds,
            c.window
        ));
    }
    let unexplained: Vec<_> = r
        .mismatches
        .iter()
        .filter(|m| m.explained_by.is_none())
        .collect();
    if !unexplained.is_empty() {
        out.push_str("\nmismatches:\n");
        for m in unexplained {
            out.push_str(&format!(
                "- {} [{}] {}: {} says {}, the artifact says {}\n  event: {}\n",
                m.rule,
                m.backend.name(),
                m.case,
                match m.against {
                    verify::Against::Spec => "the spec",
                    verify::Against::Declared => "its declared rendering",
                },
                verdict(m.expected),
                verdict(m.actual),
                serde_json::Value::Object(m.event.clone())
            ));
        }
    }
    if !r.uncovered.is_empty() {
        out.push_str("\nuncovered conditions (no judged pair flips the artifact's verdict, and nothing declared excuses it):\n");
        for u in &r.uncovered {
            out.push_str(&format!(
                "- {} [{}] {}: {}\n",
                u.rule,
                u.backend.map_or("", |b| b.name()),
                u.condition,
                u.why
            ));
        }
    }
    if !r.masked.is_empty() {
        out.push_str(&format!(
            "\nmasked conditions (the spec gives them no event where they decide the verdict; drop or fix the value): {}\n",
            r.masked.len()
        ));
        for u in r.masked.iter().take(20) {
            out.push_str(&format!("- {} {}: {}\n", u.rule, u.condition, u.why));
        }
        if r.masked.len() > 20 {
            out.push_str(&format!(
                "- … and {} more (--format json lists all)\n",
                r.masked.len() - 20
            ));
        }
    }
    for d in &r.fixture_disagreements {
        out.push_str(&format!("fixture: {d}\n"));
    }
    if !r.not_built.is_empty() {
        out.push_str(&format!(
            "\nnot built (declared `unsupported` in the spec): {}\n",
            r.not_built.len()
        ));
        for n in &r.not_built {
            out.push_str(&format!("- {n}\n"));
        }
    }
    if r.cells
        .iter()
        .any(|c| c.backend == crate::spec::BackendName::Sigma)
    {
        out.push_str(
            "\nsigma: a Sigma rule carries no time range; the window is the scheduler's, so Sigma verdicts are judged without it\n",
        );
    }
    if r.cells.iter().any(|c| c.skipped > 0) {
        out.push_str("skipped: cases the backend's native event cannot hold (e.g. a boundary value holding `\\` for a process name, which Sysmon keeps as the last component of one Image path); not judged\n");
    }
    let total: usize = r.cells.iter().map(|c| c.cases - c.skipped).sum();
    let bad = r
        .cells
        .iter()
        .filter(|c| c.mismatched > 0 || c.uncovered > 0 || !c.judged() || c.error.is_some())
        .count();
    let (covered, declared, conds): (usize, usize, usize) =
        r.cells.iter().fold((0, 0, 0), |a, c| {
            (
                a.0 + c.covered,
                a.1 + c.declared,
                a.2 + c.conditions - c.masked,
            )
        });
    let skipped: usize = r.cells.iter().map(|c| c.skipped).sum();
    let cases: usize = r.cells.iter().map(|c| c.cases).sum();
    out.push_str(&format!(
        "\ncoverage: {covered} of {conds} condition pairs judged and flipped ({:.1}%), {declared} declared, {} masked in the spec; {skipped} of {cases} cases skipped ({:.1}%)",
        pct(covered, conds),
        r.masked.len(),
        pct(skipped, cases)
    ));
    out.push_str(&format!(
        "\n{} rules, {total} verdicts: {}\n",
        r.cells.len(),
        if r.ok() {
            "all agree with the spec".to_string()
        } else {
            format!("{bad} rules disagree")
        }
    ));
    out
}

fn pct(a: usize, b: usize) -> f64 {
    if b == 0 {
        100.0
    } else {
        a as f64 * 100.0 / b as f64
    }
}

fn verdict(b: bool) -> &'static str {
    if b {
        "match"
    } else {
        "no match"
    }
}

/// A JSON value from exported logs as a KQL value: strings that are RFC 3339 times become
/// datetimes (Defender and Sentinel export them that way).
fn kql_value(v: &serde_json::Value) -> interp::Value {
    use serde_json::Value as J;
    match v {
        J::Null => interp::Value::Null,
        J::Bool(b) => interp::Value::Bool(*b),
        J::Number(n) => n.as_i64().map_or_else(
            || interp::Value::Real(n.as_f64().unwrap_or(f64::NAN)),
            interp::Value::Long,
        ),
        J::String(s) => {
            parse_rfc3339(s).map_or_else(|| interp::Value::Str(s.clone()), interp::Value::DateTime)
        }
        J::Array(a) => interp::Value::Dynamic(a.iter().map(kql_value).collect()),
        J::Object(_) => interp::Value::Str(v.to_string()),
    }
}

fn json_value(v: &interp::Value) -> serde_json::Value {
    use interp::Value as V;
    match v {
        V::Null => serde_json::Value::Null,
        V::Str(s) => s.clone().into(),
        V::Long(n) => (*n).into(),
        V::Real(x) => serde_json::json!(x),
        V::Bool(b) => (*b).into(),
        V::DateTime(t) => format_rfc3339(*t).into(),
        V::Timespan(t) => {
            serde_json::json!(format!("{}", crate::eval::kql::ast::Lit::Timespan(*t)))
        }
        V::Dynamic(v) => v.iter().map(json_value).collect(),
    }
}

/// `rmmc fixtures`: canonical fixtures → `<Table>.jsonl` native KQL rows, through the same
/// mapping the KQL backend and `rmmc verify` use.
pub fn fixtures(dir: &Path, out: &Path, format: Format) -> i32 {
    let cases = match cases::load_fixtures(dir) {
        Ok(c) => c,
        Err(diags) => {
            report(&diags, &[], format);
            return exit::ERROR;
        }
    };
    let mut files = build::Files::new();
    for c in &cases {
        let Some(table) =
            crate::mapping::table_for(&crate::backend::kql::data().tables, c.category, c.source)
        else {
            continue;
        };
        let row = crate::verify::native::kql_row(table, &c.event);
        let obj: serde_json::Map<String, serde_json::Value> = row
            .iter()
            .map(|(k, v)| (k.clone(), json_value(v)))
            .collect();
        let file = files.entry(format!("{}.jsonl", table.name)).or_default();
        file.push_str(&serde_json::Value::Object(obj).to_string());
        file.push('\n');
    }
    match build::write_output(out, &files) {
        Ok(_) => {
            if format == Format::Text {
                for (path, text) in &files {
                    eprintln!(
                        "{}: {} rows",
                        out.join(path).display(),
                        text.lines().count()
                    );
                }
            }
            exit::OK
        }
        Err(d) => {
            report(&[d], &[], format);
            exit::ERROR
        }
    }
}

/// Read `events` as JSON lines of objects; a bad line is an error naming file and line.
fn read_events(
    events: &Path,
    format: Format,
) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, i32> {
    let lines = match std::fs::read_to_string(events) {
        Ok(t) => t,
        Err(e) => return Err(usage(format!("{}: {e}", events.display()), format)),
    };
    let mut out = Vec::new();
    for (i, line) in lines
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(serde_json::Value::Object(m)) => out.push(m),
            _ => {
                let d = Diag::error(
                    DiagKind::Syntax,
                    "each line must be one JSON object (an event)",
                )
                .at(
                    events,
                    Some(crate::diag::Span::from_line_col(&lines, i + 1, 1)),
                );
                report(&[d], &[], format);
                return Err(exit::ERROR);
            }
        }
    }
    Ok(out)
}

/// A parse error of `artifact` as a diagnostic at its line and column.
fn parse_error(
    artifact: &Path,
    text: &str,
    line: usize,
    col: usize,
    msg: &str,
    format: Format,
) -> i32 {
    let d = Diag::error(DiagKind::Syntax, format!("cannot parse the query: {msg}")).at(
        artifact,
        Some(crate::diag::Span::from_line_col(text, line, col)),
    );
    report(&[d], &[], format);
    exit::ERROR
}

/// Is the dotted `path` present in a nested JSON document (or as a flat key)?
fn has_path(doc: &serde_json::Map<String, serde_json::Value>, path: &str) -> bool {
    if doc.contains_key(path) {
        return true;
    }
    let mut cur = doc;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, p) in parts.iter().enumerate() {
        match cur.get(*p) {
            Some(serde_json::Value::Object(m)) if i + 1 < parts.len() => cur = m,
            Some(_) if i + 1 == parts.len() => return true,
            _ => return false,
        }
    }
    false
}

/// The fields the artifact reads that no event has (only when there are events).
fn missing_fields(
    used: Vec<String>,
    events: &[serde_json::Map<String, serde_json::Value>],
) -> Vec<String> {
    if events.is_empty() {
        return Vec::new();
    }
    let mut out: Vec<String> = used
        .into_iter()
        .filter(|f| !events.iter().any(|e| has_path(e, f)))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Result rows as JSON lines, or (`table`) as an aligned text table with the columns in
/// first-seen order, for reading in a terminal.
fn print_rows(rows: &[serde_json::Map<String, serde_json::Value>], table: bool) {
    if !table {
        for r in rows {
            outln!("{}", serde_json::Value::Object(r.clone()));
        }
        return;
    }
    out!("{}", rows_table(rows));
}

pub fn rows_table(rows: &[serde_json::Map<String, serde_json::Value>]) -> String {
    let mut cols: Vec<&String> = Vec::new();
    for r in rows {
        for k in r.keys() {
            if !cols.contains(&k) {
                cols.push(k);
            }
        }
    }
    let cell = |v: Option<&serde_json::Value>| match v {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.replace(['\n', '\t'], " "),
        Some(other) => other.to_string(),
    };
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| cols.iter().map(|c| cell(r.get(*c))).collect())
        .collect();
    let widths: Vec<usize> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| {
            body.iter()
                .map(|r| r[i].chars().count())
                .chain([c.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<String>| -> String {
        let mut l = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ");
        l.truncate(l.trim_end().len());
        l + "\n"
    };
    let mut out = line(cols.iter().map(|c| c.to_string()).collect());
    for r in body {
        out.push_str(&line(r));
    }
    out
}

pub fn eval(artifact: &Path, events: &Path, now: Option<&str>, table: bool, format: Format) -> i32 {
    let now = match now_or(now, clock) {
        Ok(n) => n,
        Err(e) => return usage(e, format),
    };
    let ext = artifact
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_string();
    if !["kql", "yml", "yaml", "spl", "eql"].contains(&ext.as_str()) {
        return usage(
            format!(
                "{}: rmmc eval runs .kql, .yml (Sigma), .spl and .eql artifacts",
                artifact.display()
            ),
            format,
        );
    }
    let text = match crate::input::read_bounded(artifact, crate::input::MAX_ARTIFACT_BYTES) {
        Ok(b) => match String::from_utf8(b) {
            Ok(t) => t,
            Err(_) => {
                return usage(
                    format!("{}: the artifact is not UTF-8 text", artifact.display()),
                    format,
                )
            }
        },
        Err(e) => return usage(format!("{}: {e}", artifact.display()), format),
    };
    if ext == "kql" {
        return eval_kql(artifact, &text, events, now, table, format);
    }
    let evs = match read_events(events, format) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let missing_error = |missing: Vec<String>, what: &str| {
        usage(
            format!(
                "the {what} reads field(s) {} that no event in {} has; export them, or check the event shape",
                missing.join(", "),
                events.display()
            ),
            format,
        )
    };
    // what the artifact's text does not say about which events it judges, said on stderr
    let mut notes: Vec<String> = Vec::new();
    let out: Vec<serde_json::Map<String, serde_json::Value>> = match ext.as_str() {
        "yml" | "yaml" => {
            let (rule, fields) = match crate::verify::runners::sigma_rule(&text) {
                Ok(r) => r,
                Err(e) => return usage(format!("{}: {e}", artifact.display()), format),
            };
            let missing = missing_fields(fields, &evs);
            if !missing.is_empty() {
                return missing_error(missing, "rule");
            }
            // the rule's logsource selects the events it runs on, as backends/sigma.yaml maps
            // it (a process_creation rule never sees an EventID 3 record of a mixed export)
            let logsource = serde_yaml::from_str::<serde_yaml::Value>(&text)
                .ok()
                .and_then(|d| d.get("logsource").cloned())
                .unwrap_or_default();
            let selects = crate::verify::native::sigma_logsource_event(&logsource);
            match selects {
                Some(want) => {
                    let other = evs
                        .iter()
                        .filter(|e| !crate::verify::native::in_logsource(want, e))
                        .count();
                    if other > 0 {
                        notes.push(format!(
                            "{other} event(s) of other log sources skipped (this rule's logsource selects {})",
                            serde_json::Value::Object(want.clone())
                        ));
                    }
                }
                None => notes.push(format!(
                    "the rule's logsource {} is not one backends/sigma.yaml maps, so every event is judged",
                    serde_json::to_string(&logsource).unwrap_or_default()
                )),
            }
            let mut out = Vec::new();
            for e in evs
                .iter()
                .filter(|e| selects.is_none_or(|w| crate::verify::native::in_logsource(w, e)))
            {
                let ev = match sigma_rust::event_from_json(
                    &serde_json::Value::Object(e.clone()).to_string(),
                ) {
                    Ok(ev) => ev,
                    Err(err) => {
                        return usage(
                            format!("{}: sigma-rust refuses an event: {err}", events.display()),
                            format,
                        )
                    }
                };
                if rule.is_match(&ev) {
                    out.push(e.clone());
                }
            }
            out
        }
        "spl" => {
            let search = match crate::eval::spl::parse(&text) {
                Ok(s) => s,
                Err(e) => {
                    return parse_error(
                        artifact,
                        &text,
                        e.span.line,
                        e.span.col,
                        &e.message,
                        format,
                    )
                }
            };
            let missing = missing_fields(search.input_fields(), &evs);
            if !missing.is_empty() {
                return missing_error(missing, "search");
            }
            match search.run(&evs, now) {
                Ok(rows) => rows,
                Err(e) => return usage(format!("{}: {e}", artifact.display()), format),
            }
        }
        _ => {
            let q = match crate::eval::eql::parse(&text) {
                Ok(q) => q,
                Err(e) => {
                    return parse_error(
                        artifact,
                        &text,
                        e.span.line,
                        e.span.col,
                        &e.message,
                        format,
                    )
                }
            };
            let missing = missing_fields(q.input_fields(), &evs);
            if !missing.is_empty() {
                return missing_error(missing, "query");
            }
            // EQL text has no time range: the window is the Kibana rule's `from`..`to`
            let window = match kibana_window_beside(artifact, &text, now) {
                Ok(w) => w,
                Err(e) => return usage(e, format),
            };
            match &window {
                Some((_, _, from)) => notes.push(format!(
                    "window: the Kibana rule's from: {from} (elastic/rules.ndjson beside the query), to now = {}",
                    format_rfc3339(now)
                )),
                None => notes.push(
                    "no time window applied: an EQL query carries none (it is the Kibana rule's `from`), and no rules.ndjson beside the query holds this query, so --now is not used"
                        .into(),
                ),
            }
            let mut out = Vec::new();
            for e in &evs {
                if let Some((lo, hi, _)) = &window {
                    let t = e
                        .get("@timestamp")
                        .and_then(serde_json::Value::as_str)
                        .and_then(parse_rfc3339);
                    if !t.is_some_and(|t| lo <= &t && &t <= hi) {
                        continue;
                    }
                }
                match q.matches(&serde_json::Value::Object(e.clone())) {
                    Ok(true) => out.push(e.clone()),
                    Ok(false) => {}
                    Err(err) => return usage(format!("{}: {err}", artifact.display()), format),
                }
            }
            out
        }
    };
    print_rows(&out, table);
    for n in &notes {
        eprintln!("note: {n}");
    }
    if format == Format::Text {
        eprintln!("{} events → {} rows", evs.len(), out.len());
    }
    exit::OK
}

/// The Kibana rule window of an `.eql` file evaluated on its own: the rule in `rules.ndjson`
/// beside it whose `query` is this file's body (as `rmmc build` writes them), its `from`..`to`
/// resolved against `now`. `None` when there is no such file or rule.
fn kibana_window_beside(
    artifact: &Path,
    text: &str,
    now: i128,
) -> Result<Option<(i128, i128, String)>, String> {
    let Some(nd) = artifact.parent().map(|d| d.join("rules.ndjson")) else {
        return Ok(None);
    };
    let Ok(lines) = std::fs::read_to_string(&nd) else {
        return Ok(None);
    };
    let body = crate::verify::forms::eql_body(text);
    for (i, line) in lines.lines().enumerate() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if v.get("query").and_then(serde_json::Value::as_str) != Some(body.as_str()) {
            continue;
        }
        let at = |e: String| format!("{}:{}: {e}", nd.display(), i + 1);
        let from = v
            .get("from")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("now-6m");
        let to = v
            .get("to")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("now");
        let lo = crate::verify::runners::date_math(from, now).map_err(at)?;
        let hi = crate::verify::runners::date_math(to, now).map_err(at)?;
        return Ok(Some((lo, hi, from.to_string())));
    }
    Ok(None)
}

fn eval_kql(
    artifact: &Path,
    text: &str,
    events: &Path,
    now: i128,
    table: bool,
    format: Format,
) -> i32 {
    let query = match parser::parse(text) {
        Ok(q) => q,
        Err(e) => return parse_error(artifact, text, e.span.line, e.span.col, &e.message, format),
    };
    let evs = match read_events(events, format) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let mut seen_columns = std::collections::BTreeSet::new();
    let rows: Vec<interp::Row> = evs
        .iter()
        .map(|m| {
            seen_columns.extend(m.keys().cloned());
            m.iter()
                .map(|(k, v)| (k.clone(), kql_value(v)))
                .collect::<interp::Row>()
        })
        .collect();
    let missing: Vec<String> = query
        .input_columns()
        .into_iter()
        .filter(|c| !seen_columns.contains(c))
        .collect();
    if !missing.is_empty() && !rows.is_empty() {
        return usage(
            format!("the query reads column(s) {} that no event in {} has; export them, or check the table", missing.join(", "), events.display()),
            format,
        );
    }
    let out = match interp::run(&query, &rows, now) {
        Ok(o) => o,
        Err(e) => return usage(format!("{}: {e}", artifact.display()), format),
    };
    let objs: Vec<serde_json::Map<String, serde_json::Value>> = out
        .iter()
        .map(|row| {
            row.iter()
                .map(|(k, v)| (k.clone(), json_value(v)))
                .collect()
        })
        .collect();
    print_rows(&objs, table);
    if format == Format::Text {
        eprintln!("{} events → {} rows", rows.len(), out.len());
    }
    exit::OK
}
