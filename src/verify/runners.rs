//! One runner per backend: parse the artifact text with that language's evaluator, render
//! each case into the backend's native event shape, and give per-event verdicts (plus a
//! result-row comparison where the language aggregates or projects).
//!
//! Runners read artifact text and the backends' *mapping data* (`backends/*.yaml`: table
//! names, field names); never the IR's predicates. The detection is passed only for its
//! category, source and declared output (to know which rows the spec implies).

use super::{native, Ctx, Run};
use crate::eval::kql::{interp, parser};
use crate::eval::time::parse_rfc3339;
use crate::ir::IrOutput;
use crate::mapping::{table_for, TableMap};
use crate::spec::Field;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Nesting cap for Sigma conditions (parentheses and `not`), as the KQL parser's.
pub const MAX_DEPTH: usize = parser::MAX_DEPTH;

/// Most `and` / `or` operators one Sigma condition may hold. sigma-rust's condition parser
/// recurses once per operator of a flat chain (`s0 or s1 or …` builds a right-deep tree that
/// its evaluator recurses on as well), so a generated chain of 50,000 selections overflows
/// the stack however shallow its parentheses; real rules use a handful (ours at most one).
pub const MAX_CONDITION_OPERATORS: usize = 1000;

fn text<'a>(ctx: &Ctx<'a>) -> Result<&'a String, String> {
    ctx.files
        .get(ctx.path)
        .ok_or_else(|| "artifact missing".to_string())
}

fn table<'t>(tables: &'t [TableMap], ctx: &Ctx, lang: &str) -> Result<&'t TableMap, String> {
    table_for(tables, ctx.det.category, ctx.source).ok_or_else(|| {
        format!(
            "no {lang} table for {} events from `{}`",
            ctx.det.category, ctx.source
        )
    })
}

// ---------------------------------------------------------------------------------------
// KQL
// ---------------------------------------------------------------------------------------

fn kql_query(ctx: &Ctx) -> Result<(crate::eval::kql::ast::Query, &'static TableMap), String> {
    let text = text(ctx)?;
    let q = parser::parse(text).map_err(|e| format!("does not parse: {e}"))?;
    let table = table(&crate::backend::kql::data().tables, ctx, "KQL")?;
    if q.table != table.name {
        return Err(format!(
            "reads table {} but {} events from `{}` are in {}",
            q.table, ctx.det.category, ctx.source, table.name
        ));
    }
    Ok((q, table))
}

/// Per-event verdicts: the query run on a table holding only that event; then all events at
/// once for the result rows. The window is in the query text (`between (now(-5d)..now())`).
pub(super) fn kql(ctx: &Ctx) -> Result<Run, String> {
    let (q, table) = kql_query(ctx)?;
    let rows: Vec<interp::Row> = ctx
        .cases
        .iter()
        .map(|c| native::kql_row(table, &c.event))
        .collect();
    let verdicts = rows
        .iter()
        .map(|row| {
            interp::run(&q, std::slice::from_ref(row), ctx.now)
                .map(|out| Some(!out.is_empty()))
                .map_err(|e| format!("fails at run time: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let got = interp::run(&q, &rows, ctx.now).map_err(|e| format!("fails at run time: {e}"))?;
    let to_json = |r: &interp::Row| -> Map<String, Value> {
        r.iter().map(|(k, v)| (k.clone(), kql_json(v))).collect()
    };
    let inputs: Vec<Map<String, Value>> = rows.iter().map(to_json).collect();
    let outputs: Vec<Map<String, Value>> = got.iter().map(to_json).collect();
    Ok(Run {
        rows: compare_rows(ctx, table, &inputs, &verdicts, &outputs),
        verdicts,
        window: "query text".into(),
    })
}

/// KQL values as JSON for row comparison: every value as its text (so a long and the same
/// number agree); null stays null.
fn kql_json(v: &interp::Value) -> Value {
    match v {
        interp::Value::Null => Value::Null,
        interp::Value::Str(s) => Value::String(s.clone()),
        interp::Value::Long(n) => Value::String(n.to_string()),
        other => Value::String(format!("{other:?}")),
    }
}

// ---------------------------------------------------------------------------------------
// Sigma
// ---------------------------------------------------------------------------------------

/// Refuse conditions nested deeper than [`MAX_DEPTH`] or with more than
/// [`MAX_CONDITION_OPERATORS`] operators before sigma-rust's recursive parser sees them (it
/// would overflow the stack), and YAML sigma-rust cannot read, with line:col.
fn sigma_precheck(text: &str) -> Result<serde_yaml::Value, String> {
    let doc: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| {
        let at = e
            .location()
            .map(|l| format!("{}:{}: ", l.line(), l.column()))
            .unwrap_or_default();
        format!("does not parse: {at}{e}")
    })?;
    let conds: Vec<String> = match doc.get("detection").and_then(|d| d.get("condition")) {
        Some(serde_yaml::Value::String(s)) => vec![s.clone()],
        Some(serde_yaml::Value::Sequence(v)) => v
            .iter()
            .filter_map(|c| c.as_str().map(str::to_string))
            .collect(),
        _ => return Err("does not parse: the rule has no detection.condition".into()),
    };
    for c in conds {
        let (mut depth, mut max, mut nots) = (0usize, 0usize, 0usize);
        for ch in c.chars() {
            match ch {
                '(' => {
                    depth += 1;
                    max = max.max(depth);
                }
                ')' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        nots += c
            .split(|ch: char| ch.is_whitespace() || ch == '(' || ch == ')')
            .filter(|w| w.eq_ignore_ascii_case("not"))
            .count();
        if max + nots > MAX_DEPTH {
            return Err(format!(
                "does not parse: condition nested deeper than {MAX_DEPTH} levels"
            ));
        }
        let ops = c
            .split(|ch: char| ch.is_whitespace() || ch == '(' || ch == ')')
            .filter(|w| w.eq_ignore_ascii_case("and") || w.eq_ignore_ascii_case("or"))
            .count();
        if ops > MAX_CONDITION_OPERATORS {
            return Err(format!(
                "does not parse: condition has {ops} and/or operators, more than {MAX_CONDITION_OPERATORS}; group the selections with `1 of sel*` instead"
            ));
        }
    }
    Ok(doc)
}

/// A Sigma rule text as sigma-rust's rule (after the nesting check), and the event fields
/// its selections read (`Image|endswith` → `Image`; keyword lists read none).
pub fn sigma_rule(text: &str) -> Result<(sigma_rust::Rule, Vec<String>), String> {
    let doc = sigma_precheck(text)?;
    let rule = sigma_rust::rule_from_yaml(text).map_err(|e| format!("does not parse: {e}"))?;
    let mut fields = Vec::new();
    fn walk(v: &serde_yaml::Value, out: &mut Vec<String>) {
        match v {
            serde_yaml::Value::Mapping(m) => {
                for k in m.keys().filter_map(serde_yaml::Value::as_str) {
                    out.push(k.split('|').next().unwrap_or(k).to_string());
                }
            }
            serde_yaml::Value::Sequence(s) => s.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    if let Some(serde_yaml::Value::Mapping(det)) = doc.get("detection") {
        for (k, v) in det {
            if k.as_str() != Some("condition") && k.as_str() != Some("timeframe") {
                walk(v, &mut fields);
            }
        }
    }
    fields.sort();
    fields.dedup();
    Ok((rule, fields))
}

/// The Sigma rule, parsed and evaluated by the `sigma-rust` engine (not reimplemented), on
/// Sysmon / firewall-taxonomy events. The rule's `logsource` must be the table's.
/// Sigma rules carry no time range: the window is the scheduler's, so verdicts are judged
/// without it.
pub(super) fn sigma(ctx: &Ctx) -> Result<Run, String> {
    let text = text(ctx)?;
    let (rule, _) = sigma_rule(text)?;
    let doc = sigma_precheck(text)?;
    let table = table(&crate::backend::sigma::data().tables, ctx, "Sigma")?;
    if let Some(want) = table.meta.get("logsource").and_then(Value::as_object) {
        for (k, v) in want {
            let got = doc
                .get("logsource")
                .and_then(|l| l.get(k.as_str()))
                .and_then(serde_yaml::Value::as_str);
            if got != v.as_str() {
                return Err(format!(
                    "logsource {k} is {} but {} events from `{}` are {v}",
                    got.unwrap_or("missing"),
                    ctx.det.category,
                    ctx.source
                ));
            }
        }
    }
    let verdicts = ctx
        .cases
        .iter()
        .map(|c| {
            let Ok(ev) = native::sigma_event(table, &c.event) else {
                return Ok(None);
            };
            // the rule runs on its log source's events only (`meta.event`), as `rmmc eval` does
            if let Some(want) = table.meta.get("event").and_then(Value::as_object) {
                if !native::in_logsource(want, &ev) {
                    return Ok(Some(false));
                }
            }
            let ev = sigma_rust::event_from_json(&Value::Object(ev).to_string())
                .map_err(|e| format!("sigma-rust refuses the event: {e}"))?;
            Ok(Some(rule.is_match(&ev)))
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Run {
        verdicts,
        rows: None,
        window: "none (the scheduler's)".into(),
    })
}

// ---------------------------------------------------------------------------------------
// SPL
// ---------------------------------------------------------------------------------------

/// The SPL search (`earliest=-5d latest=now` in its text) over Sysmon / CIM events; per event,
/// then all at once for the `stats` / `table` rows.
pub(super) fn spl(ctx: &Ctx) -> Result<Run, String> {
    use crate::eval::spl;
    let text = text(ctx)?;
    let search = spl::parse(text).map_err(|e| {
        format!(
            "does not parse: {}:{}: {}",
            e.span.line, e.span.col, e.message
        )
    })?;
    let table = table(&crate::backend::spl::data().tables, ctx, "SPL")?;
    let runner = search.runner();
    let events: Vec<Option<Map<String, Value>>> = ctx
        .cases
        .iter()
        .map(|c| native::spl_event(table, &c.event).ok())
        .collect();
    let verdicts = events
        .iter()
        .map(|e| match e {
            None => Ok(None),
            Some(e) => runner
                .run(std::slice::from_ref(e), ctx.now)
                .map(|rows| Some(!rows.is_empty()))
                .map_err(|e| format!("fails at run time: {e}")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let inputs: Vec<Map<String, Value>> = events.iter().flatten().cloned().collect();
    let judged: Vec<Option<bool>> = verdicts.iter().filter(|v| v.is_some()).copied().collect();
    let outputs = runner
        .run(&inputs, ctx.now)
        .map_err(|e| format!("fails at run time: {e}"))?;
    Ok(Run {
        rows: compare_rows(ctx, table, &inputs, &judged, &outputs),
        verdicts,
        window: "query text".into(),
    })
}

// ---------------------------------------------------------------------------------------
// EQL
// ---------------------------------------------------------------------------------------

/// A Kibana date-math time (`now`, `now-5d`, `now-4200s`) relative to `now`. Units as
/// Elasticsearch date math (elastic.co/guide/en/elasticsearch/reference/current/common-options.html#date-math):
/// s, m, h/H, d, w; months and years have no fixed length and are refused.
pub fn date_math(s: &str, now: i128) -> Result<i128, String> {
    let rest = s
        .strip_prefix("now")
        .ok_or_else(|| format!("{s:?} is not relative to now"))?;
    if rest.is_empty() {
        return Ok(now);
    }
    let (sign, num) = match rest.as_bytes()[0] {
        b'-' => (-1, &rest[1..]),
        b'+' => (1, &rest[1..]),
        _ => return Err(format!("{s:?}: expected now-<n><unit>")),
    };
    let split = num
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{s:?}: missing unit"))?;
    let n: i128 = num[..split]
        .parse()
        .map_err(|_| format!("{s:?}: expected a number"))?;
    let unit: i128 = match &num[split..] {
        "s" => 1,
        "m" => 60,
        "h" | "H" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        u => {
            return Err(format!(
                "{s:?}: unit {u:?} is not a fixed length (s, m, h, d, w)"
            ))
        }
    };
    Ok(now + sign * n * unit * 1_000_000_000)
}

/// The Kibana rule of this detection in `elastic/rules.ndjson` (by its `rule_id`): its time
/// range. Kibana's `from` is "Time from which data is analyzed each time the rule executes,
/// using a date math range", default `now-6m`; `to` defaults to `now`
/// (elastic.co/guide/en/siem/guide/7.6/rules-api-create.html).
fn kibana_window(ctx: &Ctx) -> Result<(i128, i128, String), String> {
    let ndjson = ctx
        .files
        .get("elastic/rules.ndjson")
        .ok_or("elastic/rules.ndjson missing (the Kibana rule holds the time window)")?;
    let want = ctx.id.uuid("elastic-rule").to_string();
    for (i, line) in ndjson.lines().enumerate() {
        // only the line naming the rule is parsed: the file holds every rule of the build,
        // so parsing them all for every cell would make verify quadratic
        if line.trim().is_empty() || !line.contains(want.as_str()) {
            continue;
        }
        let v: Value = serde_json::from_str(line)
            .map_err(|e| format!("elastic/rules.ndjson:{}: {e}", i + 1))?;
        if v.get("rule_id").and_then(Value::as_str) != Some(want.as_str()) {
            continue;
        }
        // its query is compared with the .eql by forms.rs, with every deployable form
        let from = v.get("from").and_then(Value::as_str).unwrap_or("now-6m");
        let to = v.get("to").and_then(Value::as_str).unwrap_or("now");
        let at = |e: String| format!("elastic/rules.ndjson:{}: {e}", i + 1);
        return Ok((
            date_math(from, ctx.now).map_err(at)?,
            date_math(to, ctx.now).map_err(at)?,
            format!("Kibana rule from: {from}"),
        ));
    }
    Err(format!(
        "elastic/rules.ndjson has no rule {want} for {}",
        ctx.path
    ))
}

/// The EQL query over nested ECS documents; an event outside the Kibana rule's `from`..`to`
/// is never searched, so it does not match.
pub(super) fn eql(ctx: &Ctx) -> Result<Run, String> {
    use crate::eval::eql;
    let text = text(ctx)?;
    // the Kibana rule's window (its query is checked against this file in forms.rs)
    let (from, to, window) = kibana_window(ctx)?;
    let q = eql::parse(text).map_err(|e| {
        format!(
            "does not parse: {}:{}: {}",
            e.span.line, e.span.col, e.message
        )
    })?;
    let table = table(&crate::backend::eql::data().tables, ctx, "EQL")?;
    let want_cat = table
        .meta
        .get("event_category")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if q.category() != want_cat && q.category() != "any" {
        return Err(format!(
            "selects {} events but {} events from `{}` are {want_cat}",
            q.category(),
            ctx.det.category,
            ctx.source
        ));
    }
    let verdicts = ctx
        .cases
        .iter()
        .map(|c| {
            let Ok(doc) = native::ecs_event(table, &c.event) else {
                return Ok(None);
            };
            let in_range = c
                .event
                .0
                .get("timestamp")
                .and_then(Value::as_str)
                .and_then(parse_rfc3339)
                .is_some_and(|t| from <= t && t <= to);
            Ok(Some(
                in_range
                    && q.matches(&doc)
                        .map_err(|e| format!("fails at run time: {e}"))?,
            ))
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Run {
        verdicts,
        rows: None,
        window,
    })
}

// ---------------------------------------------------------------------------------------
// Result rows
// ---------------------------------------------------------------------------------------

/// A value as grouping / projection text: an absent or null field is "" (KQL's absent
/// string column; the SPL artifacts `coalesce` group fields to ""), numbers as their digits.
fn cell_text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| cell_text(Some(x)))
            .collect::<Vec<_>>()
            .join("\n"),
        Some(other) => other.to_string(),
    }
}

/// Compare the rows the artifact returned for all `inputs` at once (`outputs`) with the rows
/// the spec's output implies for the inputs it matched one by one (`matched`, same order):
/// grouped `Count`s for `summarize` (KQL `summarize … by`, SPL `stats count as Count by`),
/// projected tuples for `project` (KQL `project`, SPL `table`). Columns are the table's
/// projected names of the spec's output fields.
fn compare_rows(
    ctx: &Ctx,
    table: &TableMap,
    inputs: &[Map<String, Value>],
    matched: &[Option<bool>],
    outputs: &[Map<String, Value>],
) -> Option<String> {
    let col = |f: Field| table.column(f).map(|c| c.project.to_string());
    let matching: Vec<&Map<String, Value>> = inputs
        .iter()
        .zip(matched)
        .filter(|(_, m)| **m == Some(true))
        .map(|(r, _)| r)
        .collect();
    let key = |r: &Map<String, Value>, cols: &[String]| -> Vec<String> {
        cols.iter().map(|c| cell_text(r.get(c))).collect()
    };
    match &ctx.det.output {
        IrOutput::Summarize(by) => {
            let cols: Vec<String> = by.iter().filter_map(|f| col(*f)).collect();
            let mut expected: BTreeMap<Vec<String>, i64> = BTreeMap::new();
            for r in &matching {
                *expected.entry(key(r, &cols)).or_default() += 1;
            }
            let actual: BTreeMap<Vec<String>, i64> = outputs
                .iter()
                .map(|r| {
                    let n = match r.get("Count") {
                        Some(Value::Number(n)) => n.as_i64().unwrap_or(-1),
                        Some(Value::String(s)) => s.parse().unwrap_or(-1),
                        _ => -1,
                    };
                    (key(r, &cols), n)
                })
                .collect();
            (expected != actual)
                .then(|| format!("groups and counts differ: expected {expected:?}, got {actual:?}"))
        }
        IrOutput::Project { columns, .. } => {
            let cols: Vec<String> = columns
                .get(&ctx.source)
                .map(|fs| fs.iter().filter_map(|f| col(*f)).collect())
                .unwrap_or_default();
            let mut expected: Vec<Vec<String>> = matching.iter().map(|r| key(r, &cols)).collect();
            let mut actual: Vec<Vec<String>> = outputs.iter().map(|r| key(r, &cols)).collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_math_table() {
        let now = 1_000_000 * 1_000_000_000i128;
        let s = 1_000_000_000i128;
        let cases: &[(&str, Result<i128, &str>)] = &[
            ("now", Ok(now)),
            ("now-5d", Ok(now - 5 * 86_400 * s)),
            ("now-4200s", Ok(now - 4200 * s)),
            ("now-6m", Ok(now - 360 * s)),
            ("now+1h", Ok(now + 3600 * s)),
            ("now-2w", Ok(now - 14 * 86_400 * s)),
            ("now-1M", Err("not a fixed length")),
            ("now-d", Err("expected a number")),
            ("now-5", Err("missing unit")),
            ("2026-05-31", Err("not relative to now")),
            ("now*5d", Err("expected now-")),
        ];
        for (text, want) in cases {
            match (want, date_math(text, now)) {
                (Ok(w), Ok(g)) => assert_eq!(*w, g, "{text}"),
                (Err(w), Err(g)) => assert!(g.contains(w), "{text}: {g}"),
                (w, g) => panic!("{text}: want {w:?}, got {g:?}"),
            }
        }
    }

    #[test]
    fn sigma_precheck_table() {
        let rule = |cond: &str| {
            format!("title: t\nlogsource: {{category: c}}\ndetection:\n  sel: {{a: b}}\n  condition: {cond}\n")
        };
        let deep = format!(
            "{}sel{}",
            "(".repeat(MAX_DEPTH + 1),
            ")".repeat(MAX_DEPTH + 1)
        );
        let nots = format!("{}sel", "not ".repeat(MAX_DEPTH + 1));
        // `ops` operators: alternately or / AND, as a flat chain
        let chain = |ops: usize| {
            (0..ops).fold("sel".to_string(), |c, i| {
                c + if i % 2 == 0 { " or sel" } else { " AND sel" }
            })
        };
        let cases: Vec<(String, Result<(), &str>)> = vec![
            (rule("sel"), Ok(())),
            (rule("not (sel or sel)"), Ok(())),
            (rule(&format!("'{deep}'")), Err("nested deeper")),
            (rule(&nots), Err("nested deeper")),
            (rule(&chain(MAX_CONDITION_OPERATORS)), Ok(())),
            (
                rule(&chain(MAX_CONDITION_OPERATORS + 1)),
                Err("more than 1000"),
            ),
            (
                "title: t\ndetection:\n  sel: {a: b}\n".into(),
                Err("no detection.condition"),
            ),
            ("title: [unclosed\n".into(), Err("does not parse: 2:1")),
        ];
        for (text, want) in cases {
            match (want, sigma_precheck(&text)) {
                (Ok(()), Ok(_)) => {}
                (Err(w), Err(g)) => assert!(g.contains(w), "{text}: {g}"),
                (w, g) => panic!("{text}: want {w:?}, got {g:?}"),
            }
        }
    }

    #[test]
    fn cell_text_table() {
        use serde_json::json;
        let cases: &[(Option<Value>, &str)] = &[
            (None, ""),
            (Some(Value::Null), ""),
            (Some(json!("a")), "a"),
            (Some(json!(443)), "443"),
            (Some(json!(["a", 1])), "a\n1"),
        ];
        for (v, want) in cases {
            assert_eq!(cell_text(v.as_ref()), *want, "{v:?}");
        }
    }

    #[test]
    fn sigma_rule_fields_table() {
        let cases: &[(&str, &[&str])] = &[
            ("  sel: {Image|endswith: a.exe, User: b}\n  condition: sel", &["Image", "User"]),
            ("  sel:\n    - {A|contains|all: [x]}\n    - {B: y}\n  f: {C|re: z}\n  condition: sel or f", &["A", "B", "C"]),
            ("  kw: [evil]\n  condition: kw", &[]),
        ];
        for (det, want) in cases {
            let text = format!("title: t\nlogsource: {{category: c}}\ndetection:\n{det}\n");
            let (_, got) = sigma_rule(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(got, *want, "{text}");
        }
    }
}
