//! `rmmc eval` over exports as they come: events are read one line at a time (JSON lines,
//! gzip'd or not), only the top-level fields some rule reads are decoded, and every rule runs
//! on each event before the next is read. Memory grows with the result (groups, result
//! rows), never with the number of events. The evaluators still read artifact text only.
//!
//! A rule's decision depends only on the fields it reads ([`Rule::fields`]), so it is made on
//! the projected event; when the result holds whole events (an EQL or Sigma match, a KQL
//! query without `summarize`/`project`, an SPL search without `stats`/`table`) the matching
//! line is decoded in full for the output, and the rule runs again on that (same decision).

use crate::eval::kql::{self, interp as kinterp};
use crate::eval::spl;
use crate::eval::time::{format_rfc3339, parse_rfc3339};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

pub type Event = Map<String, Value>;

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

/// A parsed artifact.
pub enum Query {
    Kql(kql::ast::Query),
    Spl(spl::Search, spl::interp::Literals),
    Eql(crate::eval::eql::Query),
    /// The rule, and whether it holds keyword searches (values matched in any field).
    Sigma(Box<sigma_rust::Rule>, bool),
}

/// Why an artifact could not be parsed: a message, at a line and column when the parser
/// knows them.
pub struct ParseFailure {
    pub message: String,
    pub at: Option<(usize, usize)>,
}

/// One artifact, parsed, with the fields it reads from events.
pub struct Rule {
    pub path: PathBuf,
    pub lang: Lang,
    pub query: Query,
    /// The fields the rule reads (dotted paths for EQL and Sigma).
    pub fields: Vec<String>,
    /// It reads fields that cannot be named beforehand (SPL bare terms or field-name
    /// wildcards, Sigma keywords): events are decoded in full.
    pub reads_all: bool,
}

impl Rule {
    /// Parse `text` as the artifact at `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Rule, ParseFailure> {
        let lang = Lang::of(path).ok_or_else(|| ParseFailure {
            message: "rmmc eval runs .kql, .yml (Sigma), .spl and .eql artifacts".into(),
            at: None,
        })?;
        let located = |e: kql::parser::ParseError| ParseFailure {
            message: e.message,
            at: Some((e.span.line, e.span.col)),
        };
        let (query, fields, reads_all) = match lang {
            Lang::Kql => {
                let q = kql::parser::parse(text).map_err(located)?;
                let cols = q.input_columns().into_iter().collect();
                (Query::Kql(q), cols, false)
            }
            Lang::Spl => {
                let s = spl::parse(text).map_err(located)?;
                let all = spl_reads_all(&s.commands);
                let fields = s.input_fields();
                let lits = spl::interp::precompile(&s.commands);
                (Query::Spl(s, lits), fields, all)
            }
            Lang::Eql => {
                let q = crate::eval::eql::parse(text).map_err(located)?;
                let fields = q.input_fields();
                (Query::Eql(q), fields, false)
            }
            Lang::Sigma => {
                let (rule, fields) =
                    crate::verify::runners::sigma_rule(text).map_err(|e| ParseFailure {
                        message: e,
                        at: None,
                    })?;
                let keywords = sigma_has_keywords(text);
                (Query::Sigma(Box::new(rule), keywords), fields, keywords)
            }
        };
        Ok(Rule {
            path: path.to_path_buf(),
            lang,
            query,
            fields,
            reads_all,
        })
    }

    /// The rule's name: the artifact's file name without its extension.
    pub fn name(&self) -> String {
        self.path
            .file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
    }
}

/// Does the SPL pipeline read fields it does not name (bare terms read `_raw` or every
/// field; `table`/`fields` with `*` pick names from the event)?
fn spl_reads_all(cmds: &[spl::Command]) -> bool {
    use spl::ast::SExpr;
    fn term(e: &SExpr) -> bool {
        match e {
            SExpr::Term { .. } => true,
            SExpr::And(xs) | SExpr::Or(xs) => xs.iter().any(term),
            SExpr::Not(x) => term(x),
            _ => false,
        }
    }
    cmds.iter().any(|c| match c {
        spl::Command::Search(e) => term(e),
        spl::Command::Table(fs) | spl::Command::Fields { fields: fs, .. } => {
            fs.iter().any(|f| f.contains('*'))
        }
        _ => false,
    })
}

/// Does a Sigma rule's detection hold keyword searches: a search identifier that is a
/// value or a list of values instead of a map of fields (Sigma specification, "Detection":
/// "Lists of values … are matched against the whole event")?
fn sigma_has_keywords(text: &str) -> bool {
    let Ok(doc) = serde_yaml::from_str::<serde_yaml::Value>(text) else {
        return true;
    };
    let Some(serde_yaml::Value::Mapping(det)) = doc.get("detection") else {
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

/// The top-level keys to decode: every key that is one of the fields, or a leading run of
/// its dotted segments (`process.pe.company` may sit under `process`, `process.pe` or as
/// the flat key itself).
#[derive(Clone, Debug, Default)]
pub struct Projection {
    pub all: bool,
    keys: BTreeSet<String>,
}

impl Projection {
    pub fn new<'a>(fields: impl IntoIterator<Item = &'a str>, all: bool) -> Projection {
        let mut keys = BTreeSet::new();
        for f in fields {
            for (i, _) in f.match_indices('.') {
                keys.insert(f[..i].to_string());
            }
            keys.insert(f.to_string());
        }
        Projection { all, keys }
    }
    fn wants(&self, key: &str) -> bool {
        self.all || self.keys.contains(key)
    }
}

/// A JSON object key, borrowed from the line when it holds no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

/// Decodes one JSON object, keeping only the keys the projection wants; the other values
/// are skipped without being built.
struct Projected<'p>(&'p Projection);

impl<'de> DeserializeSeed<'de> for Projected<'_> {
    type Value = Event;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Event, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Projected<'_> {
    type Value = Event;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("one JSON object (an event)")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Event, A::Error> {
        let mut out = Event::new();
        while let Some(Key(k)) = m.next_key()? {
            if self.0.wants(&k) {
                let v: Value = m.next_value()?;
                out.insert(k.into_owned(), v);
            } else {
                m.next_value::<IgnoredAny>()?;
            }
        }
        Ok(out)
    }
}

/// Decode `line` as one JSON object with the projection's keys.
pub fn decode(line: &[u8], p: &Projection) -> Result<Event, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(line);
    let ev = Projected(p).deserialize(&mut de)?;
    de.end()?;
    Ok(ev)
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

fn kql_row(e: &Event) -> kinterp::Row {
    e.iter().map(|(k, v)| (k.clone(), kql_value(v))).collect()
}

/// Is the dotted `path` present in a nested JSON document (or as a flat key)?
pub fn has_path(doc: &Event, path: &str) -> bool {
    if doc.contains_key(path) {
        return true;
    }
    let mut cur = doc;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, p) in parts.iter().enumerate() {
        match cur.get(*p) {
            Some(Value::Object(m)) if i + 1 < parts.len() => cur = m,
            Some(_) if i + 1 == parts.len() => return true,
            _ => return false,
        }
    }
    false
}

/// What one rule did over the export.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Events its filter kept (for EQL and Sigma: the matches).
    pub matched: u64,
    /// The result rows (groups of a `summarize`/`stats`, projected rows, or events).
    pub rows: Vec<Event>,
    /// The first evaluation error; the rule stops there.
    pub error: Option<String>,
    /// Fields it reads that no event had (sorted), when there were events.
    pub missing: Vec<String>,
}

/// The running state of one rule.
enum Runner<'q> {
    Kql(Box<kinterp::Stream<'q>>),
    Spl(Box<spl::interp::Stream<'q>>),
    Eql(&'q crate::eval::eql::Query),
    Sigma(&'q sigma_rust::Rule),
}

/// A bad event line: its number (1-based), byte offset, column and what is wrong.
#[derive(Debug)]
pub struct BadLine {
    pub line: usize,
    pub offset: usize,
    pub col: usize,
    pub message: String,
}

pub enum RunError {
    Io(String),
    Line(BadLine),
}

/// The totals of a run.
pub struct Run {
    pub events: u64,
    pub outcomes: Vec<Outcome>,
}

/// Open an export for reading, decompressing gzip (recognized by its magic bytes, so
/// `events.jsonl.gz` and a renamed file both work). `progress` is told how many bytes of
/// the file (compressed bytes for gzip) have been read.
pub fn open(path: &Path, progress: impl FnMut(u64) + 'static) -> Result<Box<dyn BufRead>, String> {
    let mut f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut magic = [0u8; 2];
    let n = f
        .read(&mut magic)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    use std::io::Seek;
    f.seek(std::io::SeekFrom::Start(0))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let counted = Counted {
        inner: f,
        read: 0,
        report: Box::new(progress),
    };
    const BUF: usize = 1 << 20;
    Ok(if n == 2 && magic == [0x1f, 0x8b] {
        Box::new(BufReader::with_capacity(
            BUF,
            flate2::read::MultiGzDecoder::new(BufReader::with_capacity(BUF, counted)),
        ))
    } else {
        Box::new(BufReader::with_capacity(BUF, counted))
    })
}

/// A reader that reports how far it has read.
struct Counted<R> {
    inner: R,
    read: u64,
    report: Box<dyn FnMut(u64)>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        (self.report)(self.read);
        Ok(n)
    }
}

/// Run every rule over the events of `input` (JSON lines) in one read.
pub fn run(rules: &[Rule], input: &mut dyn BufRead, now: i128) -> Result<Run, RunError> {
    let all = rules.iter().any(|r| r.reads_all);
    let proj = Projection::new(
        rules
            .iter()
            .flat_map(|r| r.fields.iter().map(String::as_str)),
        all,
    );
    let mut runners: Vec<Option<Runner>> = Vec::with_capacity(rules.len());
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(rules.len());
    for r in rules {
        let mut o = Outcome::default();
        let runner = match &r.query {
            Query::Kql(q) => match kinterp::Stream::new(q, now) {
                Ok(s) => Some(Runner::Kql(Box::new(s))),
                Err(e) => {
                    o.error = Some(e.to_string());
                    None
                }
            },
            Query::Spl(s, lits) => Some(Runner::Spl(Box::new(spl::interp::Stream::new(
                &s.commands,
                lits,
                now,
            )))),
            Query::Eql(q) => Some(Runner::Eql(q)),
            Query::Sigma(rule, _) => Some(Runner::Sigma(rule)),
        };
        runners.push(runner);
        outcomes.push(o);
    }
    // which fields some event has, per rule (checked until each is seen)
    let mut unseen: Vec<Vec<&str>> = rules
        .iter()
        .map(|r| r.fields.iter().map(String::as_str).collect())
        .collect();
    let mut line = Vec::with_capacity(4096);
    let (mut number, mut offset, mut events) = (0usize, 0usize, 0u64);
    loop {
        line.clear();
        let n = input
            .read_until(b'\n', &mut line)
            .map_err(|e| RunError::Io(e.to_string()))?;
        if n == 0 {
            break;
        }
        number += 1;
        let start = offset;
        offset += n;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let bad = |e: serde_json::Error| {
            RunError::Line(BadLine {
                line: number,
                offset: start,
                col: e.column().max(1),
                message: format!("each line must be one JSON object (an event): {e}"),
            })
        };
        let ev = decode(&line, &proj).map_err(bad)?;
        events += 1;
        for (u, rule) in unseen.iter_mut().zip(rules) {
            if !u.is_empty() {
                u.retain(|f| match rule.lang {
                    Lang::Kql => !ev.contains_key(*f),
                    _ => !has_path(&ev, f),
                });
            }
        }
        // the whole event, decoded once when some rule's result needs it
        let mut full: Option<Event> = None;
        let mut full_event = || -> Result<Event, RunError> {
            if proj.all {
                return Ok(ev.clone());
            }
            if full.is_none() {
                let whole = Projection {
                    all: true,
                    keys: BTreeSet::new(),
                };
                full = Some(decode(&line, &whole).map_err(bad)?);
            }
            Ok(full.clone().unwrap_or_default())
        };
        let mut kql: Option<kinterp::Row> = None;
        let mut eql: Option<Value> = None;
        let mut sigma: Option<Result<sigma_rust::Event, String>> = None;
        for (slot, o) in runners.iter_mut().zip(outcomes.iter_mut()) {
            let Some(runner) = slot else { continue };
            let res: Result<(), String> = (|| {
                match runner {
                    Runner::Kql(s) => {
                        let row = kql.get_or_insert_with(|| kql_row(&ev));
                        if s.keep(row).map_err(|e| e.to_string())? {
                            o.matched += 1;
                            if s.outputs_input_rows() {
                                let whole = kql_row(&full_event().map_err(line_msg)?);
                                s.push(&whole).map_err(|e| e.to_string())?;
                            } else {
                                s.push(row).map_err(|e| e.to_string())?;
                            }
                        }
                    }
                    Runner::Spl(s) => {
                        if let Some(kept) = s.keep(&ev)? {
                            o.matched += 1;
                            if s.outputs_input_rows() && !proj.all {
                                let whole = full_event().map_err(line_msg)?;
                                if let Some(k) = s.keep(&whole)? {
                                    s.push(k);
                                }
                            } else {
                                s.push(kept);
                            }
                        }
                    }
                    Runner::Eql(q) => {
                        let doc = eql.get_or_insert_with(|| Value::Object(ev.clone()));
                        if q.matches(doc)? {
                            o.matched += 1;
                            o.rows.push(full_event().map_err(line_msg)?);
                        }
                    }
                    Runner::Sigma(rule) => {
                        let e = sigma.get_or_insert_with(|| {
                            sigma_rust::Event::try_from(Value::Object(ev.clone()))
                                .map_err(|e| format!("sigma-rust refuses an event: {e}"))
                        });
                        let e = e.as_ref().map_err(Clone::clone)?;
                        if rule.is_match(e) {
                            o.matched += 1;
                            o.rows.push(full_event().map_err(line_msg)?);
                        }
                    }
                }
                Ok(())
            })();
            if let Err(e) = res {
                o.error = Some(e);
                *slot = None;
            }
        }
    }
    for ((slot, o), u) in runners.into_iter().zip(&mut outcomes).zip(unseen) {
        if events > 0 {
            let mut m: Vec<String> = u.into_iter().map(String::from).collect();
            m.sort();
            o.missing = m;
        }
        match slot {
            Some(Runner::Kql(s)) => match s.finish() {
                Ok(rows) => {
                    o.rows = rows
                        .iter()
                        .map(|r| r.iter().map(|(k, v)| (k.clone(), json_value(v))).collect())
                        .collect()
                }
                Err(e) => o.error = Some(e.to_string()),
            },
            Some(Runner::Spl(s)) => match s.finish() {
                Ok(rows) => o.rows = rows,
                Err(e) => o.error = Some(e),
            },
            _ => {}
        }
    }
    Ok(Run { events, outcomes })
}

fn line_msg(e: RunError) -> String {
    match e {
        RunError::Io(m) => m,
        RunError::Line(b) => format!("line {}: {}", b.line, b.message),
    }
}
