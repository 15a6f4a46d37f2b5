//! One runner per backend: parse the artifact text with that language's evaluator, render
//! each case into the backend's native event shape, and give per-event verdicts (plus a
//! result-row comparison where the language aggregates or projects).
//!
//! Runners read artifact text and the backends' *mapping data* (`backends/*.yaml`: table
//! names, field names); never the IR's predicates. The detection is passed only for its
//! category, source and declared output (to know which rows the spec implies).

use super::{native, Case, Ctx, Run};
use crate::eval::engine::{self, Engine, ParseFailure};
use crate::eval::kql::interp;
use crate::eval::time::parse_rfc3339;
use crate::ir::IrOutput;
use crate::mapping::{table_for, TableMap};
use crate::spec::Field;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

fn text<'a>(ctx: &Ctx<'a>) -> Result<&'a String, String> {
    ctx.files
        .get(ctx.path)
        .ok_or_else(|| "artifact missing".to_string())
}

/// A parse failure as verify reports it: `does not parse: line:col: message`. A Sigma
/// failure, which has no location, already says `does not parse` (engine::sigma_rule).
fn unparsable(f: ParseFailure) -> String {
    match f.at {
        Some(_) => format!("does not parse: {f}"),
        None => f.message,
    }
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
    let q = engine::Kql::parse(text).map_err(unparsable)?;
    let table = table(
        crate::mappings::tables(crate::spec::BackendName::Kql),
        ctx,
        "KQL",
    )?;
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
            engine::Kql::matches(&q, row, ctx.now)
                .map(Some)
                .map_err(|e| format!("fails at run time: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let got =
        engine::Kql::run(&q, &rows, ctx.now).map_err(|e| format!("fails at run time: {e}"))?;
    let inputs: Vec<Map<String, Value>> = rows.iter().map(engine::json_row).collect();
    let outputs: Vec<Map<String, Value>> = got.iter().map(engine::json_row).collect();
    Ok(Run {
        rows: compare_rows(ctx, table, &inputs, &verdicts, &outputs),
        verdicts,
        window: "query text".into(),
    })
}

// ---------------------------------------------------------------------------------------
// Sigma
// ---------------------------------------------------------------------------------------

/// The Sigma rule, parsed and evaluated by the `sigma-rust` engine (not reimplemented), on
/// Sysmon / firewall-taxonomy events. The rule's `logsource` must be the table's.
/// Sigma rules carry no time range: the window is the scheduler's, so verdicts are judged
/// without it.
pub(super) fn sigma(ctx: &Ctx) -> Result<Run, String> {
    let q = engine::Sigma::parse(text(ctx)?).map_err(unparsable)?;
    let doc = &q.doc;
    let table = table(
        crate::mappings::tables(crate::spec::BackendName::Sigma),
        ctx,
        "Sigma",
    )?;
    if let Some(want) = table.meta.get("logsource").and_then(Value::as_object) {
        for (k, v) in want {
            let got = doc
                .get("logsource")
                .and_then(|l| l.get(k.as_str()))
                .and_then(serde_yaml::Value::as_str);
            if got != v.as_str() {
                return Err(format!(
                    "logsource {k} is {} but {} are {v}",
                    got.unwrap_or("missing"),
                    events_of(ctx)
                ));
            }
        }
    }
    let verdicts = verdicts(
        ctx,
        |c| native::sigma_event(table, &c.event),
        |_, ev| {
            // the rule runs on its log source's events only (`meta.event`), as `rmmc eval` does
            if let Some(want) = table.meta.get("event").and_then(Value::as_object) {
                if !native::in_logsource(want, &ev) {
                    return Ok(false);
                }
            }
            let ev = sigma_rust::event_from_json(&Value::Object(ev).to_string())
                .map_err(|e| format!("sigma-rust refuses the event: {e}"))?;
            engine::Sigma::matches(&q, &ev, ctx.now)
        },
    )?;
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
    let q = engine::Spl::parse(text(ctx)?).map_err(unparsable)?;
    let table = table(
        crate::mappings::tables(crate::spec::BackendName::Splunk),
        ctx,
        "SPL",
    )?;
    let events: Vec<Option<Map<String, Value>>> = ctx
        .cases
        .iter()
        .map(|c| native::spl_event(table, &c.event).ok())
        .collect();
    let verdicts = events
        .iter()
        .map(|e| match e {
            None => Ok(None),
            Some(e) => engine::Spl::matches(&q, e, ctx.now)
                .map(Some)
                .map_err(|e| format!("fails at run time: {e}")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let inputs: Vec<Map<String, Value>> = events.iter().flatten().cloned().collect();
    let judged: Vec<Option<bool>> = verdicts.iter().filter(|v| v.is_some()).copied().collect();
    let outputs =
        engine::Spl::run(&q, &inputs, ctx.now).map_err(|e| format!("fails at run time: {e}"))?;
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
    let text = text(ctx)?;
    // the Kibana rule's window (its query is checked against this file in forms.rs)
    let (from, to, window) = kibana_window(ctx)?;
    let q = engine::Eql::parse(text).map_err(unparsable)?;
    let table = table(
        crate::mappings::tables(crate::spec::BackendName::Elastic),
        ctx,
        "EQL",
    )?;
    let want_cat = table
        .meta
        .get("event_category")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if q.category() != want_cat && q.category() != "any" {
        return Err(format!(
            "selects {} events but {} are {want_cat}",
            q.category(),
            events_of(ctx)
        ));
    }
    let verdicts = verdicts(
        ctx,
        |c| native::ecs_event(table, &c.event),
        |c, doc| {
            let in_range = c
                .event
                .0
                .get("timestamp")
                .and_then(Value::as_str)
                .and_then(parse_rfc3339)
                .is_some_and(|t| from <= t && t <= to);
            Ok(in_range
                && engine::Eql::matches(&q, &doc, ctx.now)
                    .map_err(|e| format!("fails at run time: {e}"))?)
        },
    )?;
    Ok(Run {
        verdicts,
        rows: None,
        window,
    })
}

/// `<category> events from `<source>``: what the rule's table holds, as a refusal names it.
fn events_of(ctx: &Ctx) -> String {
    format!("{} events from `{}`", ctx.det.category, ctx.source)
}

/// Each case's verdict, run one event at a time: `None` where `event` cannot give the case's
/// event in the backend's shape, else `judge`'s verdict on it.
fn verdicts<E, X>(
    ctx: &Ctx,
    event: impl Fn(&Case) -> Result<E, X>,
    judge: impl Fn(&Case, E) -> Result<bool, String>,
) -> Result<Vec<Option<bool>>, String> {
    ctx.cases
        .iter()
        .map(|c| match event(c) {
            Ok(ev) => judge(c, ev).map(Some),
            Err(_) => Ok(None),
        })
        .collect()
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
}
