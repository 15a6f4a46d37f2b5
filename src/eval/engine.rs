//! One evaluator interface over the four artifact languages: parse the text, name the
//! fields it reads from events, run it over events in the language's native shape. `rmmc
//! eval` (`eval::stream`) and `rmmc verify` (`verify::runners`) both read an artifact
//! through it, so the two cannot parse or convert one differently. The streaming run of
//! `rmmc eval` uses the languages' `Stream`s instead of `run` (a run over a slice holds
//! every event), on the query parsed here.

use crate::eval::kql::{self, interp as kinterp};
use crate::eval::spl;
use crate::eval::time::{format_rfc3339, parse_rfc3339};
use serde_json::{Map, Value};
use std::path::Path;

/// The language of an artifact, from its file extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Lang {
    Kql,
    Sigma,
    Spl,
    Eql,
}

impl Lang {
    /// `.kql`, `.yml`/`.yaml` (Sigma), `.spl`, `.eql`.
    pub fn of(path: &Path) -> Option<Lang> {
        match path.extension().and_then(|e| e.to_str())? {
            "kql" => Some(Lang::Kql),
            "yml" | "yaml" => Some(Lang::Sigma),
            "spl" => Some(Lang::Spl),
            "eql" => Some(Lang::Eql),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Lang::Kql => "kql",
            Lang::Sigma => "sigma",
            Lang::Spl => "splunk",
            Lang::Eql => "elastic",
        }
    }
}

/// Why an artifact could not be parsed: a message, at a line and column when the parser
/// knows them.
pub struct ParseFailure {
    pub message: String,
    pub at: Option<(usize, usize)>,
}

impl std::fmt::Display for ParseFailure {
    /// `line:col: message` when located (as the parsers print their errors), else the message.
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self.at {
            Some((line, col)) => write!(f, "{line}:{col}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// A query language's evaluator, as `rmmc eval` and `rmmc verify` use it.
pub trait Engine {
    /// The parsed artifact.
    type Query;
    /// One event in the language's native shape.
    type Event;
    /// One result of `run`: a result row (KQL, SPL), or the position of a matching event in
    /// the input (EQL, Sigma: a filter's result is the events it keeps).
    type Row;
    /// Parse the artifact text.
    fn parse(text: &str) -> Result<Self::Query, ParseFailure>;
    /// The fields the query reads from events (dotted paths for EQL and Sigma).
    fn input_fields(q: &Self::Query) -> Vec<String>;
    /// Run the query over `events` with `now` as the clock (ns since the epoch).
    fn run(q: &Self::Query, events: &[Self::Event], now: i128) -> Result<Vec<Self::Row>, String>;
    /// Does the query return anything for this one event?
    fn matches(q: &Self::Query, event: &Self::Event, now: i128) -> Result<bool, String> {
        Ok(!Self::run(q, std::slice::from_ref(event), now)?.is_empty())
    }
}

/// A parse error of the KQL, SPL or EQL parser, with its line and column.
fn located(e: kql::parser::ParseError) -> ParseFailure {
    ParseFailure {
        message: e.message,
        at: Some((e.span.line, e.span.col)),
    }
}

/// KQL (`eval::kql`) over typed rows.
pub struct Kql;

impl Engine for Kql {
    type Query = kql::ast::Query;
    type Event = kinterp::Row;
    type Row = kinterp::Row;
    fn parse(text: &str) -> Result<Self::Query, ParseFailure> {
        kql::parser::parse(text).map_err(located)
    }
    fn input_fields(q: &Self::Query) -> Vec<String> {
        q.input_columns().into_iter().collect()
    }
    fn run(q: &Self::Query, events: &[Self::Event], now: i128) -> Result<Vec<Self::Row>, String> {
        kinterp::run(q, events, now).map_err(|e| e.to_string())
    }
}

/// An SPL search with its literal patterns compiled once (`spl::interp::precompile`).
pub struct SplQuery {
    pub search: spl::Search,
    pub literals: spl::interp::Literals,
}

/// Splunk SPL (`eval::spl`) over flat JSON events.
pub struct Spl;

impl Engine for Spl {
    type Query = SplQuery;
    type Event = Map<String, Value>;
    type Row = Map<String, Value>;
    fn parse(text: &str) -> Result<Self::Query, ParseFailure> {
        let search = spl::parse(text).map_err(located)?;
        let literals = spl::interp::precompile(&search.commands);
        Ok(SplQuery { search, literals })
    }
    fn input_fields(q: &Self::Query) -> Vec<String> {
        q.search.input_fields()
    }
    fn run(q: &Self::Query, events: &[Self::Event], now: i128) -> Result<Vec<Self::Row>, String> {
        spl::interp::run_with(
            &q.search.commands,
            &q.search.spans,
            &q.literals,
            events,
            now,
        )
    }
}

/// Elastic EQL (`eval::eql`) over nested ECS documents.
pub struct Eql;

impl Engine for Eql {
    type Query = crate::eval::eql::Query;
    type Event = Value;
    type Row = usize;
    fn parse(text: &str) -> Result<Self::Query, ParseFailure> {
        crate::eval::eql::parse(text).map_err(located)
    }
    fn input_fields(q: &Self::Query) -> Vec<String> {
        q.input_fields()
    }
    fn run(q: &Self::Query, events: &[Self::Event], _now: i128) -> Result<Vec<Self::Row>, String> {
        let mut hits = Vec::new();
        for (i, e) in events.iter().enumerate() {
            if q.matches(e)? {
                hits.push(i);
            }
        }
        Ok(hits)
    }
}

/// A Sigma rule as the `sigma-rust` engine reads it, with its YAML document (for the
/// `logsource` and the detection's shape) and the event fields its selections read.
pub struct SigmaQuery {
    pub rule: sigma_rust::Rule,
    pub doc: serde_yaml::Value,
    pub fields: Vec<String>,
    /// Does a detection key carry the `fieldref` modifier? Its values name fields read from
    /// the event (they are in `fields` when they are strings).
    pub fieldref: bool,
}

impl SigmaQuery {
    /// Does the detection hold keyword searches: a search identifier that is a value or a
    /// list of values instead of a map of fields (Sigma specification, "Detection": "Lists
    /// of values … are matched against the whole event")?
    pub fn has_keywords(&self) -> bool {
        let Some(serde_yaml::Value::Mapping(det)) = self.doc.get("detection") else {
            return false;
        };
        det.iter()
            .filter(|(k, _)| !matches!(k.as_str(), Some("condition" | "timeframe")))
            .any(|(_, v)| match v {
                serde_yaml::Value::Mapping(_) => false,
                serde_yaml::Value::Sequence(items) => items
                    .iter()
                    .any(|i| !matches!(i, serde_yaml::Value::Mapping(_))),
                _ => true,
            })
    }
}

/// Sigma, run by the `sigma-rust` engine (not reimplemented), over flat events.
pub struct Sigma;

impl Engine for Sigma {
    type Query = SigmaQuery;
    type Event = sigma_rust::Event;
    type Row = usize;
    /// The message of a failure says `does not parse` itself (it may be sigma-rust's own).
    fn parse(text: &str) -> Result<Self::Query, ParseFailure> {
        sigma_rule(text).map_err(|message| ParseFailure { message, at: None })
    }
    fn input_fields(q: &Self::Query) -> Vec<String> {
        q.fields.clone()
    }
    fn run(q: &Self::Query, events: &[Self::Event], _now: i128) -> Result<Vec<Self::Row>, String> {
        Ok(events
            .iter()
            .enumerate()
            .filter(|(_, e)| q.rule.is_match(e))
            .map(|(i, _)| i)
            .collect())
    }
}

/// Nesting cap for Sigma conditions (parentheses and `not`), as the KQL parser's.
pub const MAX_DEPTH: usize = kql::parser::MAX_DEPTH;

/// Most `and` / `or` operators one Sigma condition may hold. sigma-rust's condition parser
/// recurses once per operator of a flat chain (`s0 or s1 or …` builds a right-deep tree that
/// its evaluator recurses on as well), so a generated chain of 50,000 selections overflows
/// the stack however shallow its parentheses; real rules use a handful (ours at most one).
pub const MAX_CONDITION_OPERATORS: usize = 1000;

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

/// A Sigma rule text as sigma-rust's rule (after the nesting check), with the event fields
/// its selections read (`Image|endswith` → `Image`; keyword lists read none).
pub fn sigma_rule(text: &str) -> Result<SigmaQuery, String> {
    let doc = sigma_precheck(text)?;
    let rule = sigma_rust::rule_from_yaml(text).map_err(|e| format!("does not parse: {e}"))?;
    let mut fields = Vec::new();
    let mut fieldref = false;
    fn walk(v: &serde_yaml::Value, out: &mut Vec<String>, fieldref: &mut bool) {
        match v {
            serde_yaml::Value::Mapping(m) => {
                for (k, v) in m.iter().filter_map(|(k, v)| Some((k.as_str()?, v))) {
                    let mut parts = k.split('|');
                    out.push(parts.next().unwrap_or(k).to_string());
                    // `A|fieldref: B` compares A with the event's field B: B is read too
                    // (sigmahq.io/docs/basics/modifiers: "fieldref"), so it must be decoded;
                    // sigma-rust reads modifiers case-insensitively
                    if parts.any(|m| m.eq_ignore_ascii_case("fieldref")) {
                        *fieldref = true;
                        let refs = match v {
                            serde_yaml::Value::Sequence(s) => s.iter().collect(),
                            v => vec![v],
                        };
                        out.extend(
                            refs.into_iter()
                                .filter_map(|r| r.as_str())
                                .map(String::from),
                        );
                    }
                }
            }
            serde_yaml::Value::Sequence(s) => s.iter().for_each(|x| walk(x, out, fieldref)),
            _ => {}
        }
    }
    if let Some(serde_yaml::Value::Mapping(det)) = doc.get("detection") {
        for (k, v) in det {
            if k.as_str() != Some("condition") && k.as_str() != Some("timeframe") {
                walk(v, &mut fields, &mut fieldref);
            }
        }
    }
    fields.sort();
    fields.dedup();
    Ok(SigmaQuery {
        rule,
        doc,
        fields,
        fieldref,
    })
}

/// A JSON value from exported logs as a KQL value: strings that are RFC 3339 times become
/// datetimes (Defender and Sentinel export them that way).
pub fn kql_value(v: &Value) -> kinterp::Value {
    match v {
        Value::Null => kinterp::Value::Null,
        Value::Bool(b) => kinterp::Value::Bool(*b),
        Value::Number(n) => n.as_i64().map_or_else(
            || kinterp::Value::Real(n.as_f64().unwrap_or(f64::NAN)),
            kinterp::Value::Long,
        ),
        Value::String(s) => parse_rfc3339(s)
            .map_or_else(|| kinterp::Value::Str(s.clone()), kinterp::Value::DateTime),
        Value::Array(a) => kinterp::Value::Dynamic(a.iter().map(kql_value).collect()),
        Value::Object(_) => kinterp::Value::Str(v.to_string()),
    }
}

/// A KQL value as JSON: datetimes as RFC 3339 text, timespans in KQL's literal form.
pub fn json_value(v: &kinterp::Value) -> Value {
    use kinterp::Value as V;
    match v {
        V::Null => Value::Null,
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

/// A KQL row as a JSON object (`json_value` of each value).
pub fn json_row(r: &kinterp::Row) -> Map<String, Value> {
    r.iter().map(|(k, v)| (k.clone(), json_value(v))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn sigma_rule_fields_table() {
        let cases: &[(&str, &[&str])] = &[
            ("  sel: {Image|endswith: a.exe, User: b}\n  condition: sel", &["Image", "User"]),
            ("  sel:\n    - {A|contains|all: [x]}\n    - {B: y}\n  f: {C|re: z}\n  condition: sel or f", &["A", "B", "C"]),
            ("  kw: [evil]\n  condition: kw", &[]),
            ("  sel: {SourceHostname|fieldref: DestinationHostname}\n  condition: sel", &["DestinationHostname", "SourceHostname"]),
            ("  sel: {A|fieldref|endswith: [B, C]}\n  condition: sel", &["A", "B", "C"]),
            ("  sel: {A|FieldRef: 4688}\n  condition: sel", &["A"]),
        ];
        for (det, want) in cases {
            let text = format!("title: t\nlogsource: {{category: c}}\ndetection:\n{det}\n");
            let q = sigma_rule(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(q.fields, *want, "{text}");
            // a number named by fieldref is no field name here: the flag covers it
            let fieldref = det.to_ascii_lowercase().contains("|fieldref");
            assert_eq!(q.fieldref, fieldref, "{text}");
        }
    }
}
