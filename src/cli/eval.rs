//! The command-line edge of `rmmc eval`: one artifact, or every rule of a build folder, run
//! over an export in one read (`eval::stream`); result rows, or a hit table per rule.

use super::output::{exit, report, usage, Format};
use super::verify::{clock, now_or};
use crate::diag::{Diag, DiagKind};
use crate::eval::stream::{self, Lang, Rule, RunError};
use std::path::{Path, PathBuf};

/// `rmmc eval`'s arguments.
pub struct EvalArgs<'a> {
    pub artifacts: &'a [PathBuf],
    pub events: &'a Path,
    pub backend: Option<&'a str>,
    pub now: Option<&'a str>,
    /// `None`: the default (rows as JSON lines for one artifact, only the hit table for
    /// several); `Some(true)` rows as a table.
    pub rows: Option<bool>,
    /// Threads decoding events (default: the machine's cores); 1 reads and evaluates on one.
    pub threads: Option<usize>,
    pub format: Format,
}

/// The artifacts to run: files as given; in a folder (a build output), every `.kql`,
/// `.yml`, `.spl` and `.eql` file below it, sorted (Sentinel's `.yaml` wrappers are not
/// rules of their own).
fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found = Vec::new();
            let mut stack = vec![p.clone()];
            while let Some(d) = stack.pop() {
                let entries = std::fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))?;
                for e in entries {
                    let path = e.map_err(|e| format!("{}: {e}", d.display()))?.path();
                    if path.is_dir() {
                        stack.push(path);
                    } else if matches!(
                        path.extension().and_then(|e| e.to_str()),
                        Some("kql" | "yml" | "spl" | "eql")
                    ) {
                        found.push(path);
                    }
                }
            }
            found.sort();
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

pub fn eval(a: &EvalArgs) -> i32 {
    let format = a.format;
    let now = match now_or(a.now, clock) {
        Ok(n) => n,
        Err(e) => return usage(e, format),
    };
    let single = a.artifacts.len() == 1 && !a.artifacts[0].is_dir();
    let paths = match expand(a.artifacts) {
        Ok(p) => p,
        Err(e) => return usage(e, format),
    };
    let want = match a.backend {
        None => None,
        Some(b) => match [Lang::Kql, Lang::Sigma, Lang::Spl, Lang::Eql]
            .into_iter()
            .find(|l| l.name() == b)
        {
            Some(l) => Some(l),
            None => {
                return usage(
                    format!("--backend {b:?}: choose kql, sigma, splunk or elastic"),
                    format,
                )
            }
        },
    };
    let paths: Vec<PathBuf> = paths
        .into_iter()
        .filter(|p| want.is_none() || Lang::of(p) == want)
        .collect();
    if paths.is_empty() {
        return usage(
            format!(
                "no artifact to run in {}{}",
                a.artifacts
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                want.map_or(String::new(), |l| format!(" for --backend {}", l.name()))
            ),
            format,
        );
    }
    let mut langs: Vec<Lang> = paths.iter().filter_map(|p| Lang::of(p)).collect();
    langs.sort();
    langs.dedup();
    if langs.len() > 1 {
        return usage(
            format!(
                "the artifacts are of several backends ({}); an export is in one backend's event shape: pass --backend {}",
                langs.iter().map(|l| l.name()).collect::<Vec<_>>().join(", "),
                langs.iter().map(|l| l.name()).collect::<Vec<_>>().join("|")
            ),
            format,
        );
    }
    let mut rules = Vec::new();
    for p in &paths {
        let text = match std::fs::read_to_string(p) {
            Ok(t) => t,
            Err(e) => return usage(format!("{}: {e}", p.display()), format),
        };
        match Rule::parse(p, &text) {
            Ok(mut r) => {
                // EQL text has no time range: the window is the Kibana rule's `from`..`to`
                if r.lang == Lang::Eql {
                    match kibana_window_beside(p, &text, now) {
                        Ok(Some((lo, hi, from))) => r.scope = stream::Scope::Window(lo, hi, from),
                        Ok(None) => {}
                        Err(e) => return usage(e, format),
                    }
                }
                rules.push(r)
            }
            Err(f) => {
                if let Some(what) = other_yaml(&text) {
                    return usage(format!("{}: {what}", p.display()), format);
                }
                let d = match f.at {
                    Some((line, col)) => Diag::error(
                        DiagKind::Syntax,
                        format!("cannot parse the query: {}", f.message),
                    )
                    .at(p, Some(crate::diag::Span::from_line_col(&text, line, col))),
                    None => Diag::error(DiagKind::Io, format!("{}: {}", p.display(), f.message)),
                };
                report(&[d], &[], format);
                return exit::ERROR;
            }
        }
    }
    let size = std::fs::metadata(a.events).map_or(0, |m| m.len());
    let bar = crate::import::progress(size as usize, "events");
    let bar2 = bar.clone();
    let typing = if rules.iter().all(|r| r.lang == Lang::Kql) {
        let mut tables: Vec<String> = rules
            .iter()
            .filter_map(|r| match &r.query {
                stream::Query::Kql(q) => Some(q.table.clone()),
                _ => None,
            })
            .collect();
        tables.dedup();
        stream::CsvTyping::Kql(tables)
    } else {
        stream::CsvTyping::Text
    };
    let columns = stream::columns(&rules);
    let input = match stream::open(
        a.events,
        move |n| bar2.set_position(n),
        typing,
        columns.as_deref(),
    ) {
        Ok(i) => i,
        Err(e) => return usage(e, format),
    };
    let threads = a.threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let result = stream::run(&rules, input, now, threads);
    bar.finish_and_clear();
    let run = match result {
        Ok(r) => r,
        Err(RunError::Io(e)) => return usage(format!("{}: {e}", a.events.display()), format),
        Err(RunError::Line(b)) => {
            let d = Diag::error(DiagKind::Syntax, b.message).at(
                a.events,
                Some(crate::diag::Span {
                    line: b.line,
                    col: b.col,
                    offset: b.offset + b.col - 1,
                }),
            );
            report(&[d], &[], format);
            return exit::ERROR;
        }
    };
    if single {
        return one(&rules[0], run, a, now);
    }
    table(&rules, run, a, now)
}

/// One artifact: its result rows, as before the hit table existed.
fn one(rule: &Rule, run: stream::Run, a: &EvalArgs, now: i128) -> i32 {
    let o = &run.outcomes[0];
    if let Some(e) = &o.error {
        return usage(format!("{}: {e}", rule.path.display()), a.format);
    }
    if !o.missing.is_empty() {
        let what = match rule.lang {
            Lang::Kql => "query reads column(s)",
            Lang::Sigma => "rule reads field(s)",
            Lang::Spl => "search reads field(s)",
            Lang::Eql => "query reads field(s)",
        };
        let fix = match rule.lang {
            Lang::Kql => "check the table",
            _ => "check the event shape",
        };
        return usage(
            format!(
                "the {what} {} that no event in {} has; export them, or {fix}",
                o.missing.join(", "),
                a.events.display()
            ),
            a.format,
        );
    }
    if a.rows == Some(true) {
        print_rows(&o.maps(), true);
    } else {
        // one buffer for every line: stdout flushes each line of a terminal or a pipe by
        // itself (a write per matching event: 200,000 for Sigma over 1M Sysmon events)
        super::output::write_stdout_with(|w| {
            for l in o.lines() {
                writeln!(w, "{l}")?;
            }
            Ok(())
        });
    }
    for n in scope_notes(rule, o, now) {
        eprintln!("note: {n}");
    }
    if o.is_empty() && run.events > 0 {
        if let Some(n) = stale_clock_note(rule.lang, a, run.events, now) {
            eprintln!("note: {n}");
        }
    }
    if a.format == Format::Text {
        eprintln!(
            "{} → {}",
            super::output::counted(run.events, "event"),
            super::output::counted(o.len() as u64, "row")
        );
    }
    exit::OK
}

/// Why a windowed query may give no rows over an old export: its window counts back from
/// `--now` (the clock when not given), and every event is older than a day before it. Read
/// from the export again, the time field alone, only when the run gave no rows (standard input
/// cannot be read twice, so it gets no note).
fn stale_clock_note(lang: Lang, a: &EvalArgs, events: u64, now: i128) -> Option<String> {
    const DAY: i128 = 86_400 * 1_000_000_000;
    let fields: &[&str] = match lang {
        Lang::Kql => &["Timestamp", "TimeGenerated"],
        Lang::Spl => &["_time"],
        Lang::Eql => &["@timestamp"],
        // a Sigma rule has no window: the scheduler's
        Lang::Sigma => return None,
    };
    if a.events == Path::new("-") {
        return None;
    }
    let columns: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
    let input = stream::open(a.events, |_| {}, stream::CsvTyping::Text, Some(&columns))
        .ok()?
        .into_reader();
    let mut newest: Option<i128> = None;
    for line in std::io::BufRead::lines(input) {
        let Ok(serde_json::Value::Object(ev)) = serde_json::from_str(&line.ok()?) else {
            continue;
        };
        for f in fields {
            let t = match ev.get(*f) {
                Some(serde_json::Value::String(s)) => crate::eval::time::parse_rfc3339(s),
                // Splunk's _time may be epoch seconds
                Some(serde_json::Value::Number(n)) => n.as_f64().map(|s| (s * 1e9) as i128),
                _ => None,
            };
            newest = newest.max(t);
        }
    }
    let newest = newest?;
    if newest >= now - DAY {
        return None;
    }
    let fmt = crate::eval::time::format_rfc3339;
    let newest_text = fmt(newest);
    Some(format!(
        "0 rows, and the newest of the {events} events ({newest_text}) is {} days before now ({}): a query's time window counts back from now, so pass --now {newest_text} (or the export's own time) to evaluate the export as of then",
        (now - newest) / DAY,
        fmt(now - now.rem_euclid(1_000_000_000))
    ))
}

/// What the artifact's text does not say about the events it judged, for stderr.
fn scope_notes(rule: &Rule, o: &stream::Outcome, now: i128) -> Vec<String> {
    use stream::Scope;
    let mut notes = Vec::new();
    match &rule.scope {
        Scope::Logsource(want) if o.skipped > 0 => notes.push(format!(
            "{} event(s) of other log sources skipped (this rule's logsource selects {})",
            o.skipped,
            serde_json::Value::Object((*want).clone())
        )),
        Scope::Unmapped(logsource) => notes.push(format!(
            "the rule's logsource {logsource} is not one backends/sigma.yaml maps, so every event is judged"
        )),
        Scope::Window(_, _, from) => notes.push(format!(
            "window: the Kibana rule's from: {from} (elastic/rules.ndjson beside the query), to now = {}; {} event(s) outside it skipped",
            crate::eval::time::format_rfc3339(now),
            o.skipped
        )),
        Scope::All if rule.lang == Lang::Eql => notes.push(
            "no time window applied: an EQL query carries none (it is the Kibana rule's `from`), and no rules.ndjson beside the query holds this query, so --now is not used"
                .into(),
        ),
        _ => {}
    }
    notes
}

/// The Kibana rule window of an `.eql` file: the rule in `rules.ndjson` beside it whose
/// `query` is this file's body (as `rmmc build` writes them), its `from`..`to` resolved
/// against `now`. `None` when there is no such file or rule.
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

/// Several artifacts: a hit table (rule, backend, events matched, result rows), then the
/// rows of each rule when `--rows` asks. A rule that reads fields no event has is run all
/// the same and flagged; a rule that fails is reported and makes the exit code 2.
fn table(rules: &[Rule], run: stream::Run, a: &EvalArgs, now: i128) -> i32 {
    let failed = run.outcomes.iter().any(|o| o.error.is_some());
    let note = |o: &stream::Outcome| -> String {
        match (&o.error, o.missing.is_empty()) {
            (Some(e), _) => format!("ERROR {e}"),
            (None, false) => format!(
                "the export has no {} (another table or event shape?)",
                o.missing.join(", ")
            ),
            (None, true) => String::new(),
        }
    };
    match a.format {
        Format::Json => {
            let v: Vec<serde_json::Value> = rules
                .iter()
                .zip(&run.outcomes)
                .map(|(r, o)| {
                    let mut m = serde_json::json!({
                        "rule": r.name(),
                        "artifact": r.path.display().to_string(),
                        "backend": r.lang.name(),
                        "events": run.events,
                        "matched": o.matched,
                        "groups": o.len(),
                        "missing_fields": o.missing,
                        "error": o.error,
                    });
                    if a.rows.is_some() {
                        m["rows"] = o
                            .maps()
                            .into_iter()
                            .map(serde_json::Value::Object)
                            .collect();
                    }
                    m
                })
                .collect();
            outln!(
                "{}",
                serde_json::to_string_pretty(&v).expect("the hit table serializes")
            );
        }
        Format::Text => {
            let width = rules
                .iter()
                .map(|r| r.name().chars().count())
                .max()
                .unwrap_or(0)
                .max(4);
            let mut out = format!(
                "{:<width$}  {:<8} {:>10} {:>8}  note\n",
                "rule", "backend", "matched", "groups"
            );
            for (r, o) in rules.iter().zip(&run.outcomes) {
                let line = format!(
                    "{:<width$}  {:<8} {:>10} {:>8}  {}",
                    r.name(),
                    r.lang.name(),
                    o.matched,
                    o.len(),
                    note(o)
                );
                out.push_str(line.trim_end());
                out.push('\n');
            }
            let hit = run.outcomes.iter().filter(|o| o.matched > 0).count();
            out.push_str(&format!(
                "\n{}, {}, {hit} with matches\n",
                super::output::counted(run.events, "event"),
                super::output::counted(rules.len() as u64, "rule")
            ));
            // with rows as JSON lines, stdout holds only those
            if a.rows == Some(false) {
                eprint!("{out}");
            } else {
                out!("{out}");
            }
            if let Some(table) = a.rows {
                for (r, o) in rules.iter().zip(&run.outcomes) {
                    if o.is_empty() {
                        continue;
                    }
                    if table {
                        out!("\n== {} ==\n{}", r.name(), rows_table(&o.maps()));
                    } else {
                        super::output::write_stdout_with(|w| {
                            for row in o.maps() {
                                let line = serde_json::json!({"rule": r.name(), "row": row});
                                writeln!(w, "{line}")?;
                            }
                            Ok(())
                        });
                    }
                }
            }
        }
    }
    // which events each rule judged, where its text does not say (log source, window)
    for (r, o) in rules.iter().zip(&run.outcomes) {
        for n in scope_notes(r, o, now) {
            eprintln!("note: {}: {n}", r.name());
        }
    }
    if failed {
        exit::ERROR
    } else {
        exit::OK
    }
}

/// Result rows as JSON lines, or (`table`) as an aligned text table with the columns in
/// first-seen order, for reading in a terminal.
fn print_rows(rows: &[serde_json::Map<String, serde_json::Value>], table: bool) {
    if !table {
        super::output::write_stdout_with(|w| {
            for r in rows {
                writeln!(w, "{}", serde_json::Value::Object(r.clone()))?;
            }
            Ok(())
        });
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

/// What a YAML file given as a Sigma rule is instead, when it is one of the other YAML files a
/// user has at hand: a Sentinel rule (its query is the `.kql` of the same name) or an rmmc spec
/// (it is compiled first). Told by their required keys.
fn other_yaml(text: &str) -> Option<&'static str> {
    let doc: serde_yaml::Value = serde_yaml::from_str(text).ok()?;
    let has = |k: &str| doc.get(k).is_some();
    if has("query") && (has("queryFrequency") || has("requiredDataConnectors")) {
        Some("a Microsoft Sentinel rule, not an artifact `rmmc eval` runs: give its query, the .kql of the same name in the build's kql/ folder (`rmmc verify` checks that the Sentinel rule holds exactly that query)")
    } else if has("detections") && has("vendor") {
        Some("an rmmc spec, not an artifact: build it first (`rmmc build SPEC --out DIR`), then eval the artifacts in DIR (or run `rmmc verify SPEC`, which evaluates them all)")
    } else {
        None
    }
}
