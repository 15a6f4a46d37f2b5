//! `rmmc eval` over exports as they come: events are read one line at a time (JSON lines,
//! gzip'd or not), only the top-level fields some rule reads are decoded, and every rule runs
//! on each event before the next is read. Memory grows with the result (groups, result
//! rows), never with the number of events. The evaluators still read artifact text only.
//!
//! A rule's decision depends only on the fields it reads ([`Rule::fields`]), so it is made on
//! the projected event; when the result holds whole events (an EQL or Sigma match, a KQL
//! query without `summarize`/`project`, an SPL search without `stats`/`table`) the matching
//! line is decoded in full for the output, and the rule runs again on that (same decision).

use crate::eval::engine::{self, kql_value, Engine};
pub use crate::eval::engine::{json_value, Lang, ParseFailure};
use crate::eval::kql::interp as kinterp;
use crate::eval::spl;
use crate::eval::time::parse_rfc3339;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

pub type Event = Map<String, Value>;

/// A parsed artifact.
pub enum Query {
    Kql(<engine::Kql as Engine>::Query),
    Spl(<engine::Spl as Engine>::Query),
    Eql(<engine::Eql as Engine>::Query),
    Sigma(Box<<engine::Sigma as Engine>::Query>),
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
    /// Which events the rule judges, beyond what its text says.
    pub scope: Scope,
}

/// The events a rule judges where its text does not say it: a Sigma rule runs on its
/// logsource's events (issue 14: a process_creation rule never sees an EventID 3 record of a
/// mixed export), an EQL query within its Kibana rule's window.
pub enum Scope {
    /// Every event.
    All,
    /// Sigma: events with these fields and values (`backends/sigma.yaml` meta.event).
    Logsource(&'static serde_json::Map<String, Value>),
    /// EQL: events whose `@timestamp` is in `from..=to` (ns since epoch), and the Kibana
    /// rule's `from` as written.
    Window(i128, i128, String),
    /// Sigma: a logsource the mapping does not know; every event is judged.
    Unmapped(String),
}

impl Scope {
    /// The fields the scope reads (decoded for it, but not required of the export).
    fn fields(&self) -> Vec<&str> {
        match self {
            Scope::Logsource(want) => want.keys().map(String::as_str).collect(),
            Scope::Window(..) => vec!["@timestamp"],
            Scope::All | Scope::Unmapped(_) => Vec::new(),
        }
    }

    fn admits(&self, ev: &Event) -> bool {
        match self {
            Scope::All | Scope::Unmapped(_) => true,
            Scope::Logsource(want) => crate::verify::native::in_logsource(want, ev),
            Scope::Window(lo, hi, _) => ev
                .get("@timestamp")
                .and_then(Value::as_str)
                .and_then(crate::eval::time::parse_rfc3339)
                .is_some_and(|t| *lo <= t && t <= *hi),
        }
    }
}

impl Rule {
    /// Parse `text` as the artifact at `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Rule, ParseFailure> {
        let lang = Lang::of(path).ok_or_else(|| ParseFailure {
            message: "rmmc eval runs .kql, .yml (Sigma), .spl and .eql artifacts".into(),
            at: None,
        })?;
        let (fields, query, reads_all, scope) = match lang {
            Lang::Kql => {
                let q = engine::Kql::parse(text)?;
                (
                    engine::Kql::input_fields(&q),
                    Query::Kql(q),
                    false,
                    Scope::All,
                )
            }
            Lang::Spl => {
                let q = engine::Spl::parse(text)?;
                let all = spl_reads_all(&q.search.commands);
                (
                    engine::Spl::input_fields(&q),
                    Query::Spl(q),
                    all,
                    Scope::All,
                )
            }
            Lang::Eql => {
                let q = engine::Eql::parse(text)?;
                (
                    engine::Eql::input_fields(&q),
                    Query::Eql(q),
                    false,
                    Scope::All,
                )
            }
            Lang::Sigma => {
                let q = engine::Sigma::parse(text)?;
                let keywords = q.has_keywords();
                let logsource = q.doc.get("logsource").cloned().unwrap_or_default();
                let scope = match crate::verify::native::sigma_logsource_event(&logsource) {
                    Some(want) => Scope::Logsource(want),
                    None => Scope::Unmapped(serde_json::to_string(&logsource).unwrap_or_default()),
                };
                let fields = engine::Sigma::input_fields(&q);
                (fields, Query::Sigma(Box::new(q)), keywords, scope)
            }
        };
        Ok(Rule {
            path: path.to_path_buf(),
            lang,
            query,
            fields,
            reads_all,
            scope,
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

/// The top-level keys to decode: every key that is one of the fields, or a leading run of
/// its dotted segments (`process.pe.company` may sit under `process`, `process.pe` or as
/// the flat key itself).
#[derive(Clone, Debug, Default)]
pub struct Projection {
    pub all: bool,
    /// Each key, with `None` when its whole value is read, or the projection of an object
    /// value when only paths below it are (`destination` for `destination.domain`).
    keys: Vec<(String, Option<Projection>)>,
}

impl Projection {
    pub fn new<'a>(fields: impl IntoIterator<Item = &'a str>, all: bool) -> Projection {
        let fields: Vec<&str> = fields.into_iter().collect();
        let mut p = Projection::below(&fields);
        p.all = all;
        p
    }

    fn below(fields: &[&str]) -> Projection {
        let mut at: std::collections::BTreeMap<&str, (bool, Vec<&str>)> = Default::default();
        for f in fields {
            at.entry(f).or_default().0 = true;
            for (i, _) in f.match_indices('.') {
                at.entry(&f[..i]).or_default().1.push(&f[i + 1..]);
            }
        }
        Projection {
            all: false,
            keys: at
                .into_iter()
                .map(|(k, (whole, rest))| {
                    (k.to_string(), (!whole).then(|| Projection::below(&rest)))
                })
                .collect(),
        }
    }

    /// How to read `key`: `None` skip it, `Some(None)` whole, `Some(Some(p))` projected. A
    /// scan comparing lengths first: the keys are few, and most differ in length.
    fn get(&self, key: &str) -> Option<Option<&Projection>> {
        if self.all {
            return Some(None);
        }
        let b = key.as_bytes();
        self.keys
            .iter()
            .find(|(k, _)| {
                let k = k.as_bytes();
                k.len() == b.len() && k.last() == b.last() && k == b
            })
            .map(|(_, p)| p.as_ref())
    }

    fn wants(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
}

/// A value below a projected key: an object is projected; anything else is read whole.
struct Below<'p>(&'p Projection);

impl<'de> DeserializeSeed<'de> for Below<'_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Below<'_> {
    type Value = Value;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::from(n))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::from(n))
    }
    fn visit_f64<E>(self, x: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_string()))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = a.next_element::<Value>()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<Value, A::Error> {
        Projected(self.0).visit_map(m).map(Value::Object)
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
            match self.0.get(&k) {
                None => {
                    m.next_value::<IgnoredAny>()?;
                }
                Some(None) => {
                    let v: Value = m.next_value()?;
                    out.insert(k.into_owned(), v);
                }
                Some(Some(p)) => {
                    let v = m.next_value_seed(Below(p))?;
                    out.insert(k.into_owned(), v);
                }
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

/// Decodes one JSON object straight into a KQL row with the projection's keys: what
/// `kql_value` makes of each value, without building JSON values first.
struct KqlProjected<'p>(&'p Projection);

impl<'de> DeserializeSeed<'de> for KqlProjected<'_> {
    type Value = kinterp::Row;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<kinterp::Row, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for KqlProjected<'_> {
    type Value = kinterp::Row;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("one JSON object (an event)")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<kinterp::Row, A::Error> {
        let mut out = kinterp::Row::new();
        while let Some(Key(k)) = m.next_key()? {
            if self.0.wants(&k) {
                let KqlValue(v) = m.next_value()?;
                out.insert(k.into_owned(), v);
            } else {
                m.next_value::<IgnoredAny>()?;
            }
        }
        Ok(out)
    }
}

/// A JSON value read as `kql_value` reads it.
struct KqlValue(kinterp::Value);

impl<'de> de::Deserialize<'de> for KqlValue {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = KqlValue;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E>(self) -> Result<KqlValue, E> {
                Ok(KqlValue(kinterp::Value::Null))
            }
            fn visit_bool<E>(self, b: bool) -> Result<KqlValue, E> {
                Ok(KqlValue(kinterp::Value::Bool(b)))
            }
            fn visit_i64<E>(self, n: i64) -> Result<KqlValue, E> {
                Ok(KqlValue(kinterp::Value::Long(n)))
            }
            fn visit_u64<E>(self, n: u64) -> Result<KqlValue, E> {
                // as `Number::as_i64`, then `as_f64`
                Ok(KqlValue(i64::try_from(n).map_or(
                    kinterp::Value::Real(n as f64),
                    kinterp::Value::Long,
                )))
            }
            fn visit_f64<E>(self, x: f64) -> Result<KqlValue, E> {
                Ok(KqlValue(kinterp::Value::Real(x)))
            }
            fn visit_str<E>(self, s: &str) -> Result<KqlValue, E> {
                Ok(KqlValue(parse_rfc3339(s).map_or_else(
                    || kinterp::Value::Str(s.to_string()),
                    kinterp::Value::DateTime,
                )))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<KqlValue, A::Error> {
                let mut out = Vec::new();
                while let Some(KqlValue(v)) = a.next_element()? {
                    out.push(v);
                }
                Ok(KqlValue(kinterp::Value::Dynamic(out)))
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<KqlValue, A::Error> {
                let v: Value =
                    de::Deserialize::deserialize(de::value::MapAccessDeserializer::new(m))?;
                Ok(KqlValue(kql_value(&v)))
            }
        }
        d.deserialize_any(V)
    }
}

/// Decode `line` as one JSON object, straight into a KQL row with the projection's keys.
pub fn decode_kql(line: &[u8], p: &Projection) -> Result<kinterp::Row, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(line);
    let row = KqlProjected(p).deserialize(&mut de)?;
    de.end()?;
    Ok(row)
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
    /// Matching events (EQL, Sigma) as compact JSON text, in the export's order.
    pub texts: Vec<Box<str>>,
    /// The first evaluation error; the rule stops there.
    pub error: Option<String>,
    /// Fields it reads that no event had (sorted), when there were events.
    pub missing: Vec<String>,
    /// Events outside the rule's scope (another log source, outside the window).
    pub skipped: u64,
}

impl Outcome {
    /// How many result rows.
    pub fn len(&self) -> usize {
        self.rows.len() + self.texts.len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Every result row as a JSON object (the matching events decoded again).
    pub fn maps(&self) -> Vec<Event> {
        let mut out = self.rows.clone();
        out.extend(
            self.texts
                .iter()
                .filter_map(|t| serde_json::from_str::<Event>(t).ok()),
        );
        out
    }
    /// Every result row as one line of compact JSON.
    pub fn lines(&self) -> impl Iterator<Item = Cow<'_, str>> {
        self.rows
            .iter()
            .map(|r| Cow::Owned(Value::Object(r.clone()).to_string()))
            .chain(self.texts.iter().map(|t| Cow::Borrowed(&**t)))
    }
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

/// How CSV cells become JSON values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CsvTyping {
    /// Every cell is text (Splunk, Sigma and EQL compare the text; Splunk reads numbers
    /// from it).
    Text,
    /// Cells take the type of their column in these KQL tables (the ones the queries read;
    /// `backends/kql-schema.json`): `int`/`long` numbers, `real`, `bool`, `dynamic` JSON;
    /// the rest text (RFC 3339 text is then read as a datetime, as in JSON exports).
    Kql(Vec<String>),
}

/// Open an export for reading, decompressing gzip (recognized by its magic bytes, so
/// `events.jsonl.gz` and a renamed file both work). `progress` is told how many bytes of
/// the file (compressed bytes for gzip) have been read. A `.csv` / `.csv.gz` file (header
/// row, then one event per record; an empty cell is an absent field) is read as JSON lines,
/// its cells typed by `csv`.
pub fn open(
    path: &Path,
    progress: impl FnMut(u64) + Send + 'static,
    csv: CsvTyping,
) -> Result<Box<dyn BufRead + Send>, String> {
    let name = path.to_string_lossy().to_ascii_lowercase();
    let raw = open_raw(path, progress)?;
    if name.ends_with(".csv") || name.ends_with(".csv.gz") {
        let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(raw);
        let headers: Vec<String> = reader
            .headers()
            .map_err(|e| format!("{}: {e}", path.display()))?
            .iter()
            .map(String::from)
            .collect();
        let types: Vec<String> = headers
            .iter()
            .map(|h| match &csv {
                CsvTyping::Text => "string".to_string(),
                CsvTyping::Kql(tables) => tables
                    .iter()
                    .filter_map(|t| crate::eval::kql::bind::schemas().get(t))
                    .find_map(|cols| cols.get(h).cloned())
                    .unwrap_or_else(|| "string".to_string()),
            })
            .collect();
        return Ok(Box::new(BufReader::with_capacity(
            1 << 16,
            CsvLines {
                reader,
                headers,
                types,
                record: csv::StringRecord::new(),
                buf: Vec::new(),
                pos: 0,
            },
        )));
    }
    Ok(raw)
}

/// CSV records as JSON lines, one object per record.
struct CsvLines {
    reader: csv::Reader<Box<dyn BufRead + Send>>,
    headers: Vec<String>,
    types: Vec<String>,
    record: csv::StringRecord,
    buf: Vec<u8>,
    pos: usize,
}

/// A CSV cell as the JSON value its column type makes of it (text when it does not parse).
fn csv_cell(cell: &str, ty: &str) -> Value {
    let typed = match ty {
        "int" | "long" => cell.parse::<i64>().ok().map(Value::from),
        "real" => cell
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number),
        "bool" => match cell.to_ascii_lowercase().as_str() {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => None,
        },
        "dynamic" => serde_json::from_str(cell).ok(),
        _ => None,
    };
    typed.unwrap_or_else(|| Value::String(cell.to_string()))
}

impl Read for CsvLines {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
            let more = self
                .reader
                .read_record(&mut self.record)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            if !more {
                return Ok(0);
            }
            let mut ev = Event::new();
            for ((h, ty), cell) in self.headers.iter().zip(&self.types).zip(self.record.iter()) {
                if !cell.is_empty() {
                    ev.insert(h.clone(), csv_cell(cell, ty));
                }
            }
            serde_json::to_writer(&mut self.buf, &ev).map_err(std::io::Error::other)?;
            self.buf.push(b'\n');
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn open_raw(
    path: &Path,
    progress: impl FnMut(u64) + Send + 'static,
) -> Result<Box<dyn BufRead + Send>, String> {
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
    report: Box<dyn FnMut(u64) + Send>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        (self.report)(self.read);
        Ok(n)
    }
}

/// What one rule keeps of an event, as a worker hands it on: the row for the rest of the
/// pipeline (a KQL row, an SPL row after its streaming commands, a whole EQL or Sigma
/// event), or the error the rule met there.
enum Hit {
    Kql(kinterp::Row),
    Row(Event),
    /// A matching event as compact JSON text (a third of its decoded size).
    Text(Box<str>),
    /// The event is outside the rule's scope.
    Skipped,
    Error(String),
}

/// The compact JSON text of an event (what printing `Value::Object` of it gives).
fn compact(e: &Event) -> Box<str> {
    serde_json::to_string(e)
        .unwrap_or_else(|_| Value::Object(e.clone()).to_string())
        .into_boxed_str()
}

/// The filter side of one rule, one per worker thread: decides and shapes, holds no result.
enum Filter<'q> {
    Kql(Box<kinterp::Stream<'q>>),
    Spl(Box<spl::interp::Stream<'q>>),
    Eql(&'q crate::eval::eql::Query),
    Sigma(&'q sigma_rust::Rule),
    /// The rule could not start (its error is in its outcome).
    Off,
}

/// The result side of one rule, on the thread that keeps the results.
enum Sink<'q> {
    Kql(Box<kinterp::Stream<'q>>),
    Spl(Box<spl::interp::Stream<'q>>),
    Rows,
    Off,
}

/// Decodes the lines of a batch and runs every rule's filter on each event.
struct Worker<'q> {
    rules: &'q [Rule],
    filters: Vec<Filter<'q>>,
    proj: &'q Projection,
    kql_only: bool,
}

/// A batch after a worker: how many events, which of each rule's fields some event had,
/// and per event with hits its line number and the hits (rule index, hit).
struct Checked {
    events: u64,
    seen: Vec<Vec<bool>>,
    hits: Vec<(usize, Vec<(usize, Hit)>)>,
}

impl<'q> Worker<'q> {
    fn new(rules: &'q [Rule], proj: &'q Projection, now: i128) -> Worker<'q> {
        let filters = rules
            .iter()
            .map(|r| match &r.query {
                Query::Kql(q) => {
                    kinterp::Stream::new(q, now).map_or(Filter::Off, |s| Filter::Kql(Box::new(s)))
                }
                Query::Spl(q) => Filter::Spl(Box::new(spl::interp::Stream::new(
                    &q.search.commands,
                    &q.literals,
                    now,
                ))),
                Query::Eql(q) => Filter::Eql(q),
                Query::Sigma(q) => Filter::Sigma(&q.rule),
            })
            .collect();
        Worker {
            rules,
            filters,
            proj,
            kql_only: rules.iter().all(|r| r.lang == Lang::Kql),
        }
    }

    /// Every line of `batch`, in order; the first bad line ends the batch with its error.
    fn batch(&mut self, batch: &Batch) -> Result<Checked, RunError> {
        let mut out = Checked {
            events: 0,
            seen: self
                .rules
                .iter()
                .map(|r| vec![false; r.fields.len()])
                .collect(),
            hits: Vec::new(),
        };
        let mut start = 0;
        for (i, line) in batch.bytes.split_inclusive(|b| *b == b'\n').enumerate() {
            let at = start;
            start += line.len();
            if is_blank(line) {
                continue;
            }
            let (number, offset) = (batch.first_line + i, batch.offset + at);
            let hits = self.event(line, number, offset, &mut out.seen)?;
            out.events += 1;
            if !hits.is_empty() {
                out.hits.push((number, hits));
            }
        }
        Ok(out)
    }

    /// One event through every rule's filter.
    fn event(
        &mut self,
        line: &[u8],
        number: usize,
        offset: usize,
        seen: &mut [Vec<bool>],
    ) -> Result<Vec<(usize, Hit)>, RunError> {
        let bad = |e| bad_line(number, offset, e);
        let (doc, mut kql): (Event, Option<kinterp::Row>) = if self.kql_only {
            (
                Event::new(),
                Some(decode_kql(line, self.proj).map_err(bad)?),
            )
        } else {
            (decode(line, self.proj).map_err(bad)?, None)
        };
        // one JSON document: EQL reads it as a value, the others as its map
        let doc = Value::Object(doc);
        let ev: &Event = match &doc {
            Value::Object(m) => m,
            _ => unreachable!("built as an object above"),
        };
        for ((s, rule), f) in seen.iter_mut().zip(self.rules).zip(&self.filters) {
            if matches!(f, Filter::Off) {
                continue;
            }
            for (flag, field) in s.iter_mut().zip(&rule.fields) {
                if !*flag {
                    *flag = match (&kql, rule.lang) {
                        (Some(r), _) => r.contains_key(field),
                        (None, Lang::Kql) => ev.contains_key(field),
                        (None, _) => has_path(ev, field),
                    };
                }
            }
        }
        let all = self.proj.all;
        let kql_only = self.kql_only;
        // the whole event, decoded once when some rule's result needs it
        let mut full: Option<Event> = None;
        let mut full_event = || -> Result<Event, String> {
            if all && !kql_only {
                return Ok(ev.clone());
            }
            if full.is_none() {
                let whole = Projection {
                    all: true,
                    keys: Vec::new(),
                };
                full = Some(decode(line, &whole).map_err(|e| line_msg(bad(e)))?);
            }
            Ok(full.clone().unwrap_or_default())
        };
        let mut sigma: Option<Result<sigma_rust::Event, String>> = None;
        let mut hits = Vec::new();
        for (i, f) in self.filters.iter_mut().enumerate() {
            if !matches!(f, Filter::Off) && !self.rules[i].scope.admits(ev) {
                hits.push((i, Hit::Skipped));
                continue;
            }
            let hit: Result<Option<Hit>, String> = (|| {
                Ok(match f {
                    Filter::Off => None,
                    Filter::Kql(s) => {
                        let row = kql.get_or_insert_with(|| kql_row(ev));
                        if !s.keep(row).map_err(|e| e.to_string())? {
                            None
                        } else if s.outputs_input_rows() {
                            Some(Hit::Kql(kql_row(&full_event()?)))
                        } else {
                            Some(Hit::Kql(row.clone()))
                        }
                    }
                    Filter::Spl(s) => match s.keep(ev)? {
                        None => None,
                        Some(_) if s.outputs_input_rows() && !all => {
                            let whole = full_event()?;
                            s.keep(&whole)?.map(|k| Hit::Row(k.into_owned()))
                        }
                        Some(k) => Some(Hit::Row(k.into_owned())),
                    },
                    Filter::Eql(q) => {
                        if q.matches(&doc)? {
                            Some(Hit::Text(compact(&full_event()?)))
                        } else {
                            None
                        }
                    }
                    Filter::Sigma(rule) => {
                        let e = sigma.get_or_insert_with(|| {
                            sigma_rust::Event::try_from(Value::Object(ev.clone()))
                                .map_err(|e| format!("sigma-rust refuses an event: {e}"))
                        });
                        let e = e.as_ref().map_err(Clone::clone)?;
                        if rule.is_match(e) {
                            Some(Hit::Text(compact(&full_event()?)))
                        } else {
                            None
                        }
                    }
                })
            })();
            match hit {
                Ok(Some(h)) => hits.push((i, h)),
                Ok(None) => {}
                Err(e) => {
                    // the rule stops here, as the results side will see in order
                    hits.push((i, Hit::Error(e)));
                    *f = Filter::Off;
                }
            }
        }
        Ok(hits)
    }
}

/// The results of every rule, folded in the export's order.
struct Results<'q> {
    rules: &'q [Rule],
    sinks: Vec<Sink<'q>>,
    outcomes: Vec<Outcome>,
    seen: Vec<Vec<bool>>,
    events: u64,
}

impl<'q> Results<'q> {
    fn new(rules: &'q [Rule], now: i128) -> Results<'q> {
        let mut sinks = Vec::with_capacity(rules.len());
        let mut outcomes = Vec::with_capacity(rules.len());
        for r in rules {
            let mut o = Outcome::default();
            sinks.push(match &r.query {
                Query::Kql(q) => match kinterp::Stream::new(q, now) {
                    Ok(s) => Sink::Kql(Box::new(s)),
                    Err(e) => {
                        o.error = Some(e.to_string());
                        Sink::Off
                    }
                },
                Query::Spl(q) => Sink::Spl(Box::new(spl::interp::Stream::new(
                    &q.search.commands,
                    &q.literals,
                    now,
                ))),
                Query::Eql(_) | Query::Sigma(..) => Sink::Rows,
            });
            outcomes.push(o);
        }
        Results {
            rules,
            sinks,
            outcomes,
            seen: rules.iter().map(|r| vec![false; r.fields.len()]).collect(),
            events: 0,
        }
    }

    fn add(&mut self, c: Checked) {
        self.events += c.events;
        for (mine, theirs) in self.seen.iter_mut().zip(c.seen) {
            for (a, b) in mine.iter_mut().zip(theirs) {
                *a |= b;
            }
        }
        for (_, hits) in c.hits {
            self.hits(hits);
        }
    }

    /// The hits of one event.
    fn hits(&mut self, hits: Vec<(usize, Hit)>) {
        {
            for (i, hit) in hits {
                let (sink, o) = (&mut self.sinks[i], &mut self.outcomes[i]);
                let res = match (hit, &mut *sink) {
                    (_, Sink::Off) => continue,
                    (Hit::Skipped, _) => {
                        o.skipped += 1;
                        continue;
                    }
                    (Hit::Error(e), _) => Err(e),
                    (Hit::Kql(row), Sink::Kql(s)) => s.push(&row).map_err(|e| e.to_string()),
                    (Hit::Row(row), Sink::Spl(s)) => {
                        s.push(Cow::Owned(row));
                        Ok(())
                    }
                    (Hit::Text(t), Sink::Rows) => {
                        o.texts.push(t);
                        Ok(())
                    }
                    _ => Err("internal: a hit of the wrong kind".to_string()),
                };
                match res {
                    Ok(()) => o.matched += 1,
                    Err(e) => {
                        o.error = Some(e);
                        *sink = Sink::Off;
                    }
                }
            }
        }
    }

    fn finish(self) -> Run {
        let mut outcomes = self.outcomes;
        for (((sink, o), seen), rule) in self
            .sinks
            .into_iter()
            .zip(&mut outcomes)
            .zip(self.seen)
            .zip(self.rules)
        {
            if self.events > 0 {
                let mut m: Vec<String> = rule
                    .fields
                    .iter()
                    .zip(seen)
                    .filter(|(_, s)| !s)
                    .map(|(f, _)| f.clone())
                    .collect();
                m.sort();
                m.dedup();
                o.missing = m;
            }
            match sink {
                Sink::Kql(s) => match s.finish() {
                    Ok(rows) => {
                        o.rows = rows
                            .iter()
                            .map(|r| r.iter().map(|(k, v)| (k.clone(), json_value(v))).collect())
                            .collect()
                    }
                    Err(e) => o.error = Some(e.to_string()),
                },
                Sink::Spl(s) => match s.finish() {
                    Ok(rows) => o.rows = rows,
                    Err(e) => o.error = Some(e),
                },
                Sink::Rows | Sink::Off => {}
            }
        }
        Run {
            events: self.events,
            outcomes,
        }
    }
}

fn bad_line(number: usize, offset: usize, e: serde_json::Error) -> RunError {
    RunError::Line(BadLine {
        line: number,
        offset,
        col: e.column().max(1),
        message: format!("each line must be one JSON object (an event): {e}"),
    })
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// Whole lines read in one go: the bytes, the number and offset of the first line.
struct Batch {
    seq: u64,
    bytes: Vec<u8>,
    first_line: usize,
    offset: usize,
}

const BATCH: usize = 1 << 20;

/// Cuts the input into batches of whole lines.
struct Batches {
    input: Box<dyn BufRead + Send>,
    carry: Vec<u8>,
    seq: u64,
    line: usize,
    offset: usize,
    eof: bool,
    /// Bytes per batch (about: whole lines).
    size: usize,
}

impl Batches {
    fn next(&mut self) -> Result<Option<Batch>, RunError> {
        while !self.eof || !self.carry.is_empty() {
            let mut bytes = std::mem::take(&mut self.carry);
            while bytes.len() < self.size && !self.eof {
                // read straight into the batch (a large read bypasses the reader's buffer)
                let len = bytes.len();
                bytes.resize(self.size.max(len + self.size / 4), 0);
                let n = loop {
                    match self.input.read(&mut bytes[len..]) {
                        Ok(n) => break n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(RunError::Io(e.to_string())),
                    }
                };
                bytes.truncate(len + n);
                self.eof = n == 0;
            }
            if !self.eof {
                // keep the partial last line for the next batch
                let cut = memchr::memrchr(b'\n', &bytes).map_or(0, |i| i + 1);
                self.carry = bytes.split_off(cut);
            }
            if bytes.is_empty() {
                continue;
            }
            let lines = memchr::memchr_iter(b'\n', &bytes).count()
                + usize::from(bytes.last() != Some(&b'\n'));
            let b = Batch {
                seq: self.seq,
                first_line: self.line,
                offset: self.offset,
                bytes,
            };
            self.seq += 1;
            self.line += lines;
            self.offset += b.bytes.len();
            return Ok(Some(b));
        }
        Ok(None)
    }
}

/// Run every rule over the events of `input` (JSON lines) in one read. With `threads` > 1,
/// that many threads decode events and run the rules' filters on them while this one folds
/// the hits into the results in the export's order: the result is the same as with one.
pub fn run(
    rules: &[Rule],
    input: Box<dyn BufRead + Send>,
    now: i128,
    threads: usize,
) -> Result<Run, RunError> {
    let proj = Projection::new(
        rules
            .iter()
            .flat_map(|r| r.fields.iter().map(String::as_str).chain(r.scope.fields())),
        rules.iter().any(|r| r.reads_all),
    );
    let mut results = Results::new(rules, now);
    let batches = Batches {
        input,
        carry: Vec::new(),
        seq: 0,
        line: 1,
        offset: 0,
        eof: false,
        size: BATCH,
    };
    if threads <= 1 {
        // line by line: no batch to copy the bytes into
        let mut w = Worker::new(rules, &proj, now);
        let mut input = batches.input;
        let mut line = Vec::with_capacity(4096);
        let (mut number, mut offset) = (0usize, 0usize);
        let mut seen = std::mem::take(&mut results.seen);
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
            if is_blank(&line) {
                continue;
            }
            let hits = w.event(&line, number, start, &mut seen)?;
            results.events += 1;
            if !hits.is_empty() {
                results.hits(hits);
            }
        }
        results.seen = seen;
    } else {
        parallel(rules, &proj, now, &mut results, batches, threads)?;
    }
    Ok(results.finish())
}

fn parallel(
    rules: &[Rule],
    proj: &Projection,
    now: i128,
    results: &mut Results,
    mut batches: Batches,
    threads: usize,
) -> Result<(), RunError> {
    use std::sync::mpsc::{sync_channel, Receiver};
    use std::sync::{Arc, Mutex};
    type Done = (u64, Result<Checked, RunError>);
    std::thread::scope(|scope| -> Result<(), RunError> {
        let (work_tx, work_rx) = sync_channel::<Batch>(threads);
        let (done_tx, done_rx) = sync_channel::<Done>(threads * 2);
        let work_rx: Arc<Mutex<Receiver<Batch>>> = Arc::new(Mutex::new(work_rx));
        let reader = scope.spawn(move || -> Result<(), RunError> {
            while let Some(b) = batches.next()? {
                if work_tx.send(b).is_err() {
                    break;
                }
            }
            Ok(())
        });
        for _ in 0..threads {
            let work_rx = Arc::clone(&work_rx);
            let done_tx = done_tx.clone();
            scope.spawn(move || {
                let mut w = Worker::new(rules, proj, now);
                loop {
                    let batch = {
                        let Ok(rx) = work_rx.lock() else { return };
                        match rx.recv() {
                            Ok(b) => b,
                            Err(_) => return,
                        }
                    };
                    if done_tx.send((batch.seq, w.batch(&batch))).is_err() {
                        return;
                    }
                }
            });
        }
        drop(done_tx);
        // fold in the export's order
        let mut next = 0u64;
        let mut waiting: std::collections::BTreeMap<u64, Result<Checked, RunError>> =
            Default::default();
        let mut result = Ok(());
        'recv: for (seq, checked) in done_rx.iter() {
            waiting.insert(seq, checked);
            while let Some(c) = waiting.remove(&next) {
                next += 1;
                match c {
                    Ok(c) => results.add(c),
                    Err(e) => {
                        result = Err(e);
                        break 'recv;
                    }
                }
            }
        }
        // stop the reader and the workers: their sends fail once the receiver is gone
        drop(done_rx);
        let read = reader.join().unwrap_or(Ok(()));
        result.and(read)
    })
}

fn line_msg(e: RunError) -> String {
    match e {
        RunError::Io(m) => m,
        RunError::Line(b) => format!("line {}: {}", b.line, b.message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Batches cut at line ends, and number lines and offsets as reading line by line does.
    #[test]
    fn batches_keep_line_numbers_and_offsets() {
        let text: String = (0..200)
            .map(|i| format!("{{\"n\": {i}, \"pad\": \"{}\"}}\n", "x".repeat(i % 37)))
            .collect::<String>()
            + "{\"last\": true}";
        let mut b = Batches {
            input: Box::new(std::io::Cursor::new(text.clone().into_bytes())),
            carry: Vec::new(),
            seq: 0,
            line: 1,
            offset: 0,
            eof: false,
            size: 100,
        };
        let mut got = Vec::new();
        let mut seqs = Vec::new();
        while let Ok(Some(batch)) = b.next() {
            seqs.push(batch.seq);
            let mut at = batch.offset;
            for (i, l) in batch.bytes.split_inclusive(|c| *c == b'\n').enumerate() {
                got.push((batch.first_line + i, at, l.to_vec()));
                at += l.len();
            }
        }
        let mut want = Vec::new();
        let mut at = 0;
        for (i, l) in text.split_inclusive('\n').enumerate() {
            want.push((i + 1, at, l.as_bytes().to_vec()));
            at += l.len();
        }
        assert_eq!(got, want);
        assert!(seqs.len() > 10 && seqs.iter().enumerate().all(|(i, s)| *s == i as u64));
    }

    #[test]
    fn projection_keeps_the_keys_a_dotted_path_may_sit_under() {
        let p = Projection::new(["process.pe.company", "RemoteUrl"], false);
        let ev = decode(
            br#"{"process": {"pe": {"company": "x"}}, "process.pe": 1, "RemoteUrl": "u", "Other": [1, {"a": "b"}], "processX": 2}"#,
            &p,
        )
        .unwrap();
        let keys: Vec<&str> = ev.keys().map(String::as_str).collect();
        assert_eq!(keys, ["process", "process.pe", "RemoteUrl"]);
        // below a key, only the paths read are kept
        let ev = decode(
            br#"{"process": {"pe": {"company": "x", "product": "y"}, "pe.company": "z", "name": "n", "pid": 1}}"#,
            &p,
        )
        .unwrap();
        assert_eq!(
            Value::Object(ev),
            serde_json::json!({"process": {"pe": {"company": "x"}, "pe.company": "z"}})
        );
        // a row decoded straight for KQL is what kql_value makes of the JSON values
        let line = br#"{"T": "2026-05-31T09:00:00Z", "N": 18446744073709551615, "R": 1.0, "L": -3, "A": [1, "x"], "O": {"k": null}, "S": "s", "Z": null, "B": true}"#;
        let all = Projection::new(["T", "N", "R", "L", "A", "O", "S", "Z", "B"], false);
        let direct = decode_kql(line, &all).unwrap();
        let via = kql_row(&decode(line, &all).unwrap());
        assert_eq!(direct, via);
    }
}
