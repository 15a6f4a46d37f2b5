//! Runs a parsed KQL query over in-memory tables, with Kusto's semantics written out here
//! independently of the IR (so agreeing with the IR means something):
//! - strings are never null: a missing string column reads as "";
//! - `==` between null and a value is false, `!=` true, ordering with null is null, and
//!   `where` keeps only rows whose predicate is true (learn.microsoft.com/kusto/query/
//!   scalar-data-types/null-values);
//! - `has` matches whole terms: maximal runs of letters and digits, Unicode ones included
//!   (learn.microsoft.com/kusto/query/datatypes-string-operators, "What is a term?");
//! - case-insensitive operators fold ASCII letters only ("Case-insensitive operators are
//!   currently supported only for ASCII-text", same page): `Ä` and `ä` differ under `=~`.
//!
//! Stays whole (just over 600 lines): values, the streaming pipeline and the expression walk
//! are one evaluator (`ops.rs` holds the scalar operators, `bound.rs` the filters bound to a
//! query once for streaming, `tests.rs` the tests); splitting
//! the walk from the values it returns would spread each rule above over two files.

use super::ast::*;
use crate::eval::syntax::Loc;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Str(String),
    Long(i64),
    Real(f64),
    Bool(bool),
    /// Nanoseconds since the Unix epoch.
    DateTime(i128),
    /// Nanoseconds.
    Timespan(i128),
    Dynamic(Vec<Value>),
}

impl Value {
    /// The value as a string operand ("" for null, like Kusto's string columns).
    fn text(&self) -> Cow<'_, str> {
        match self {
            Value::Null => Cow::Borrowed(""),
            Value::Str(s) => Cow::Borrowed(s),
            Value::Long(n) => Cow::Owned(n.to_string()),
            Value::Real(x) => Cow::Owned(x.to_string()),
            Value::Bool(b) => Cow::Owned(b.to_string()),
            Value::DateTime(t) | Value::Timespan(t) => Cow::Owned(t.to_string()),
            Value::Dynamic(v) => Cow::Owned(format!("{v:?}")),
        }
    }
    fn truth(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

impl From<&Lit> for Value {
    fn from(l: &Lit) -> Value {
        match l {
            Lit::Str(s) => Value::Str(s.clone()),
            Lit::Long(n) => Value::Long(*n),
            Lit::Real(x) => Value::Real(*x),
            Lit::Bool(b) => Value::Bool(*b),
            Lit::Timespan(t) => Value::Timespan(*t),
        }
    }
}

/// A row: column → value. Absent columns read as null (strings as "").
pub type Row = BTreeMap<String, Value>;

/// A failure while running a query, with the pipeline stage it happened in when known (the
/// parser's location of that operator), so a reader of `rmmc eval`'s error finds the line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvalError {
    pub message: String,
    pub at: Option<Loc>,
}

impl EvalError {
    /// The same error, placed at `stage` unless an inner stage already placed it.
    fn in_stage(mut self, stage: Option<&Loc>) -> EvalError {
        if self.at.is_none() {
            self.at = stage.copied();
        }
        self
    }
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&Loc::place(self.at.as_ref(), &self.message))
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, EvalError> {
    Err(EvalError {
        message: msg.into(),
        at: None,
    })
}

/// Evaluation context: the `let` bindings and the clock (`now()`), injectable for tests.
pub struct Env {
    pub now: i128,
    lets: BTreeMap<String, Value>,
    /// The query table's columns and types (`backends/kql-schema.json`), when it is known.
    schema: Option<&'static super::bind::Columns>,
}

const EMPTY: &Value = &Value::Str(String::new());

/// Run `q` over `rows` (the rows of the query's table). `now` is `now()` in ns since epoch.
pub fn run(q: &Query, rows: &[Row], now: i128) -> Result<Vec<Row>, EvalError> {
    let mut s = Stream::new(q, now)?;
    for r in rows {
        if s.keep(r)? {
            s.push(r)?;
        }
    }
    s.finish()
}

/// `run` one row at a time, for exports read as a stream: `keep` runs the leading `where`
/// stages on a row (only the columns the query reads need to be in it), `push` takes a kept
/// row on through the rest, `finish` returns the result. A `summarize` right after the
/// leading stages aggregates as rows come, so memory grows with the groups, not the rows;
/// other stages (`project`, `order by`, `take`, later `summarize`) hold the kept rows.
pub struct Stream<'q> {
    env: Env,
    filters: &'q [Op],
    /// The leading `where` stages' predicates, bound to the query once (`Env::bind`).
    bound: Vec<Bound<'q>>,
    rest: &'q [Op],
    agg: Option<Aggregator<'q>>,
    kept: Vec<Row>,
    /// The location of every operator, as `q.spans` (empty for a query built, not parsed).
    spans: &'q [Loc],
    /// Index in `q.ops` of the first of `rest`.
    rest_from: usize,
}

impl<'q> Stream<'q> {
    pub fn new(q: &'q Query, now: i128) -> Result<Stream<'q>, EvalError> {
        let mut env = Env {
            now,
            lets: BTreeMap::new(),
            schema: super::bind::schemas().get(&q.table),
        };
        let empty = Row::new();
        for (name, e) in &q.lets {
            let v = env.eval(e, &empty)?.into_owned();
            env.lets.insert(name.clone(), v);
        }
        let k = q
            .ops
            .iter()
            .take_while(|o| matches!(o, Op::Where(_)))
            .count();
        let (filters, mut rest) = q.ops.split_at(k);
        let bound = filters
            .iter()
            .filter_map(|o| match o {
                Op::Where(e) => Some(env.bind(e)),
                _ => None,
            })
            .collect();
        let agg = match rest.first() {
            Some(Op::Summarize { aggs, by }) => {
                rest = &rest[1..];
                Some(Aggregator::new(aggs, by))
            }
            _ => None,
        };
        Ok(Stream {
            env,
            filters,
            bound,
            rest_from: q.ops.len() - rest.len(),
            rest,
            agg,
            kept: Vec::new(),
            spans: &q.spans,
        })
    }

    /// Do the leading `where` stages keep this row?
    pub fn keep(&self, row: &Row) -> Result<bool, EvalError> {
        // every one of `filters` is a `where`, so `bound[i]` is `filters[i]`'s
        for (i, e) in self.bound.iter().enumerate() {
            let t = match self.env.quick(e, row) {
                Some(t) => t,
                None => self
                    .env
                    .walk(e, row)
                    .map_err(|e| e.in_stage(self.spans.get(i)))?
                    .truth(),
            };
            if t != Some(true) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Does the result hold whole input rows (no `summarize` or `project` reshapes them)?
    pub fn outputs_input_rows(&self) -> bool {
        self.agg.is_none()
            && !self
                .rest
                .iter()
                .any(|o| matches!(o, Op::Summarize { .. } | Op::Project(_)))
    }

    /// Take a row that `keep` kept on through the rest of the pipeline.
    pub fn push(&mut self, row: &Row) -> Result<(), EvalError> {
        match &mut self.agg {
            Some(a) => a
                .push(&self.env, row)
                .map_err(|e| e.in_stage(self.spans.get(self.filters.len()))),
            None => {
                self.kept.push(row.clone());
                Ok(())
            }
        }
    }

    pub fn finish(self) -> Result<Vec<Row>, EvalError> {
        let mut rows = match self.agg {
            Some(a) => a.finish(),
            None => self.kept,
        };
        for (i, op) in self.rest.iter().enumerate() {
            rows = self
                .env
                .apply(op, rows)
                .map_err(|e| e.in_stage(self.spans.get(self.rest_from + i)))?;
        }
        Ok(rows)
    }
}

/// `summarize` state: one entry per group, each aggregate folded in as rows arrive.
struct Aggregator<'q> {
    aggs: &'q [(String, Agg)],
    by: &'q [String],
    /// Each group's key (`GroupKey`), its `by` row and aggregates, in first-seen order; the
    /// result is in the order of the keys' `Debug` texts (`finish`).
    groups: indexmap::IndexMap<GroupKey, Group, foldhash::fast::FixedState>,
}

/// One `by` value of a group's key: a string as itself, any other value as its `Debug` text.
/// Two keys are equal exactly when their values' `Debug` texts are (a string's is `Str("…")`,
/// escaped one to one, and no other variant's text starts `Str(`), with no text built for a
/// string.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum KeyPart<'a> {
    Str(Cow<'a, str>),
    Other(String),
}

impl KeyPart<'_> {
    fn of(v: &Value) -> KeyPart<'_> {
        match v {
            Value::Str(s) => KeyPart::Str(Cow::Borrowed(s)),
            v => KeyPart::Other(format!("{v:?}")),
        }
    }
    /// The `Debug` text of the value.
    fn text(&self) -> String {
        match self {
            KeyPart::Str(s) => format!("{:?}", Value::Str(s.to_string())),
            KeyPart::Other(t) => t.clone(),
        }
    }
}

type GroupKey = Vec<KeyPart<'static>>;

/// A group's `by` row and aggregates.
type Group = (Row, Vec<Acc>);

/// A key looked up by its borrowed parts; hashed as `GroupKey` (a `Vec` hashes as its slice).
#[derive(Hash)]
struct KeyProbe<'a>(&'a [KeyPart<'a>]);

impl indexmap::Equivalent<GroupKey> for KeyProbe<'_> {
    fn equivalent(&self, key: &GroupKey) -> bool {
        self.0 == key.as_slice()
    }
}

/// One aggregate's running value. `min` keeps the first of equal values and `max` the last
/// (as `Iterator::min_by` / `max_by` over the group's rows would); `make_set` keeps values
/// in first-seen order; nulls are skipped by all but `count`.
enum Acc {
    Count(i64),
    Min(Option<Value>),
    Max(Option<Value>),
    Set(ValueSet),
    DCount(ValueSet),
}

/// Distinct values in first-seen order, with `==` as equality.
#[derive(Default)]
struct ValueSet {
    items: Vec<Value>,
    /// Keys of the items that have one (`set_key`), for a constant-time test.
    keyed: std::collections::HashSet<SetKey, foldhash::fast::FixedState>,
}

impl ValueSet {
    fn insert(&mut self, v: Value) {
        match set_key(&v) {
            Some(k) => {
                if self.keyed.insert(k) {
                    self.items.push(v);
                }
            }
            None => {
                if !self.items.contains(&v) {
                    self.items.push(v);
                }
            }
        }
    }
}

/// A key equal for two values exactly when `==` holds, for the variants where that is easy
/// to say; reals and arrays (`0.0 == -0.0`, NaN) are compared with `==` instead.
#[derive(PartialEq, Eq, Hash)]
enum SetKey {
    Long(i64),
    Str(String),
    /// Any other value's `Debug` text (`Null`, `Bool(…)`, `DateTime(…)`, `Timespan(…)`),
    /// which never equals a long's or a string's.
    Other(String),
}

fn set_key(v: &Value) -> Option<SetKey> {
    match v {
        Value::Real(_) | Value::Dynamic(_) => None,
        Value::Long(n) => Some(SetKey::Long(*n)),
        Value::Str(s) => Some(SetKey::Str(s.clone())),
        v => Some(SetKey::Other(format!("{v:?}"))),
    }
}

impl<'q> Aggregator<'q> {
    fn new(aggs: &'q [(String, Agg)], by: &'q [String]) -> Aggregator<'q> {
        Aggregator {
            aggs,
            by,
            groups: Default::default(),
        }
    }

    fn push(&mut self, env: &Env, r: &Row) -> Result<(), EvalError> {
        // a group key is the column as the query reads it (`Env::column`: a missing or null
        // string column is ""); with no schema, an absent and a null value are one (empty)
        // key, as for strings
        let key_vals: Vec<&Value> = self
            .by
            .iter()
            .map(|c| match env.column(r, c) {
                Value::Null if env.schema.is_none() => EMPTY,
                v => v,
            })
            .collect();
        let key: Vec<KeyPart<'_>> = key_vals.iter().map(|v| KeyPart::of(v)).collect();
        let aggs = self.aggs;
        let at = match self.groups.get_index_of(&KeyProbe(&key)) {
            Some(at) => at,
            None => {
                let key = key
                    .into_iter()
                    .map(|p| match p {
                        KeyPart::Str(s) => KeyPart::Str(Cow::Owned(s.into_owned())),
                        KeyPart::Other(t) => KeyPart::Other(t),
                    })
                    .collect();
                let accs = aggs
                    .iter()
                    .map(|(_, a)| match a {
                        Agg::Count => Acc::Count(0),
                        Agg::Min(_) => Acc::Min(None),
                        Agg::Max(_) => Acc::Max(None),
                        Agg::MakeSet(_) => Acc::Set(ValueSet::default()),
                        Agg::DCount(_) => Acc::DCount(ValueSet::default()),
                    })
                    .collect();
                let row = self.by.iter().cloned().zip(key_vals.into_iter().cloned());
                self.groups.insert_full(key, (row.collect(), accs)).0
            }
        };
        let entry = &mut self.groups[at];
        for ((_, agg), acc) in aggs.iter().zip(entry.1.iter_mut()) {
            if let Acc::Count(n) = acc {
                *n += 1;
                continue;
            }
            let (Agg::Min(e) | Agg::Max(e) | Agg::MakeSet(e) | Agg::DCount(e)) = agg else {
                continue;
            };
            let v = env.eval(e, r)?;
            if *v == Value::Null {
                continue;
            }
            match acc {
                Acc::Min(cur) => {
                    if cur.as_ref().is_none_or(|c| order(&v, c) == Ordering::Less) {
                        *cur = Some(v.into_owned());
                    }
                }
                Acc::Max(cur) => {
                    if cur.as_ref().is_none_or(|c| order(&v, c) != Ordering::Less) {
                        *cur = Some(v.into_owned());
                    }
                }
                Acc::Set(s) | Acc::DCount(s) => s.insert(v.into_owned()),
                Acc::Count(_) => {}
            }
        }
        Ok(())
    }

    fn finish(self) -> Vec<Row> {
        // in the order of the keys' `Debug` texts, as a map keyed by them would hold them
        let mut groups: Vec<(Vec<String>, Group)> = self
            .groups
            .into_iter()
            .map(|(k, g)| (k.iter().map(KeyPart::text).collect(), g))
            .collect();
        groups.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        groups
            .into_iter()
            .map(|(_, (mut row, accs))| {
                for ((name, _), acc) in self.aggs.iter().zip(accs) {
                    let v = match acc {
                        Acc::Count(n) => Value::Long(n),
                        Acc::Min(v) | Acc::Max(v) => v.unwrap_or(Value::Null),
                        Acc::Set(s) => Value::Dynamic(s.items),
                        Acc::DCount(s) => Value::Long(s.items.len() as i64),
                    };
                    row.insert(name.clone(), v);
                }
                row
            })
            .collect()
    }
}

impl Env {
    /// A column's value in a row. "The string data type doesn't support null values"
    /// (learn.microsoft.com/kusto/query/scalar-data-types/null-values): a string column that is
    /// absent or null in the row reads as "", also as a `summarize … by` key. Other columns read as null. Without a schema for the table (a test's `T`),
    /// the type is unknown and the value is returned as it is.
    fn column<'a>(&self, row: &'a Row, name: &str) -> &'a Value {
        column_as(row, name, || self.is_string(name))
    }

    /// Does the schema type this column string?
    fn is_string(&self, name: &str) -> bool {
        self.schema
            .and_then(|c| c.get(name))
            .is_some_and(|t| t == "string")
    }

    fn apply(&self, op: &Op, rows: Vec<Row>) -> Result<Vec<Row>, EvalError> {
        match op {
            Op::Where(e) => {
                let mut out = Vec::new();
                for r in rows {
                    // null counts as false
                    if self.eval(e, &r)?.truth() == Some(true) {
                        out.push(r);
                    }
                }
                Ok(out)
            }
            Op::Project(cols) => rows
                .iter()
                .map(|r| {
                    cols.iter()
                        .map(|(n, e)| Ok((n.clone(), self.eval(e, r)?.into_owned())))
                        .collect::<Result<Row, EvalError>>()
                })
                .collect(),
            Op::OrderBy(keys) => {
                let mut rows = rows;
                rows.sort_by(|a, b| {
                    for (k, desc) in keys {
                        let x = a.get(k).unwrap_or(&Value::Null);
                        let y = b.get(k).unwrap_or(&Value::Null);
                        let o = order(x, y);
                        let o = if *desc { o.reverse() } else { o };
                        if o != Ordering::Equal {
                            return o;
                        }
                    }
                    Ordering::Equal
                });
                Ok(rows)
            }
            Op::Take(n) => Ok(rows.into_iter().take(*n as usize).collect()),
            Op::Summarize { aggs, by } => {
                let mut a = Aggregator::new(aggs, by);
                for r in &rows {
                    a.push(self, r)?;
                }
                Ok(a.finish())
            }
        }
    }

    pub fn eval<'a>(&'a self, e: &'a Expr, row: &'a Row) -> Result<Cow<'a, Value>, EvalError> {
        self.walk(e, row)
    }

    /// `eval` of an expression or of one bound to the query (`Bound`), by one body.
    fn walk<'a, N: Node>(&'a self, e: &'a N, row: &'a Row) -> Result<Cow<'a, Value>, EvalError> {
        let v = match e.shape() {
            Shape::Name(n) => {
                return Ok(Cow::Borrowed(match self.lets.get(n) {
                    Some(v) => v,
                    None => self.column(row, n),
                }))
            }
            Shape::Let(v) => return Ok(Cow::Borrowed(v)),
            Shape::Col { name, string } => {
                return Ok(Cow::Borrowed(column_as(row, name, || string)))
            }
            Shape::Lit(l) => l.into(),
            Shape::Dynamic(v) => Value::Dynamic(v.iter().map(Value::from).collect()),
            Shape::Neg(x) => match &*self.walk(x, row)? {
                Value::Long(n) => Value::Long(-n),
                Value::Real(x) => Value::Real(-x),
                Value::Timespan(t) => Value::Timespan(-t),
                Value::Null => Value::Null,
                v => return err(format!("cannot negate {v:?}")),
            },
            Shape::Not(x) => match &*self.walk(x, row)? {
                Value::Bool(b) => Value::Bool(!b),
                Value::Null => Value::Null,
                v => return err(format!("not() needs a bool, got {v:?}")),
            },
            // three-valued logic; the right side is skipped once the left decides
            Shape::And(a, b) => match self.walk(a, row)?.truth() {
                Some(false) => Value::Bool(false),
                a => match (a, self.walk(b, row)?.truth()) {
                    (_, Some(false)) => Value::Bool(false),
                    (Some(true), Some(true)) => Value::Bool(true),
                    _ => Value::Null,
                },
            },
            Shape::Or(a, b) => match self.walk(a, row)?.truth() {
                Some(true) => Value::Bool(true),
                a => match (a, self.walk(b, row)?.truth()) {
                    (_, Some(true)) => Value::Bool(true),
                    (Some(false), Some(false)) => Value::Bool(false),
                    _ => Value::Null,
                },
            },
            Shape::Cmp(op, a, b) => {
                let l = self.walk(a, row)?;
                match b.shape() {
                    Shape::Lit(Lit::Str(r)) => compare_str_lit(op, &l, r),
                    _ => compare(op, &l, &*self.walk(b, row)?),
                }
            }
            Shape::ColCmpStr {
                name,
                string,
                op,
                lit,
            } => compare_str_lit(op, column_as(row, name, || string), lit),
            Shape::In {
                lhs,
                items,
                ci,
                negated,
            } => {
                let l = self.walk(lhs, row)?;
                let lt = l.text();
                let mut hit = false;
                self.each_item(items, row, &mut |v: &Value| {
                    hit = hit
                        || if ci {
                            eq_ci(&lt, &v.text())
                        } else {
                            equal(&l, v) == Some(true)
                        };
                })?;
                Value::Bool(hit != negated)
            }
            Shape::HasAny { lhs, items, all } => {
                let l = self.walk(lhs, row)?;
                let l = l.text();
                let (mut any, mut every) = (false, true);
                self.each_item(items, row, &mut |v: &Value| {
                    let h = has(&l, &v.text(), false);
                    any |= h;
                    every &= h;
                })?;
                Value::Bool(if all { every } else { any })
            }
            Shape::Between(x, lo, hi) => {
                let (x, lo, hi) = (self.walk(x, row)?, self.walk(lo, row)?, self.walk(hi, row)?);
                between(&x, &lo, &hi)
            }
            Shape::ColBetween {
                name,
                string,
                lo,
                hi,
            } => between(column_as(row, name, || string), lo, hi),
            Shape::Call(f, args) => self.call(f, args, row)?,
        };
        Ok(Cow::Owned(v))
    }

    /// Visit every value of an `in (...)` list, flattening dynamic arrays, without copying
    /// column values or let-bound lists.
    fn each_item<N: Node>(
        &self,
        items: &[N],
        row: &Row,
        f: &mut dyn FnMut(&Value),
    ) -> Result<(), EvalError> {
        for it in items {
            let v = self.walk(it, row)?;
            match v.as_ref() {
                Value::Dynamic(vs) => vs.iter().for_each(&mut *f),
                v => f(v),
            }
        }
        Ok(())
    }

    fn call<N: Node>(&self, f: &str, args: &[N], row: &Row) -> Result<Value, EvalError> {
        let vals: Vec<Value> = args
            .iter()
            .map(|a| self.walk(a, row).map(Cow::into_owned))
            .collect::<Result<_, _>>()?;
        let arity = |n: usize| -> Result<(), EvalError> {
            if vals.len() == n {
                Ok(())
            } else {
                err(format!("{f}() takes {n} argument(s), got {}", vals.len()))
            }
        };
        Ok(match f {
            "now" => match vals.as_slice() {
                [] => Value::DateTime(self.now),
                [Value::Timespan(t)] => Value::DateTime(self.now + t),
                _ => return err("now() takes an optional timespan offset"),
            },
            "ago" => match vals.as_slice() {
                [Value::Timespan(t)] => Value::DateTime(self.now - t),
                _ => return err("ago() takes a timespan"),
            },
            "isempty" => {
                arity(1)?;
                Value::Bool(vals[0] == Value::Null || vals[0].text().is_empty())
            }
            "isnotempty" => {
                arity(1)?;
                Value::Bool(!(vals[0] == Value::Null || vals[0].text().is_empty()))
            }
            "isnull" => {
                arity(1)?;
                Value::Bool(vals[0] == Value::Null)
            }
            "isnotnull" => {
                arity(1)?;
                Value::Bool(vals[0] != Value::Null)
            }
            "tolower" => {
                arity(1)?;
                Value::Str(vals[0].text().to_lowercase())
            }
            "ipv4_is_in_range" => {
                arity(2)?;
                match (ipv4(&vals[0].text()), ipv4_range(&vals[1].text())) {
                    (Some(ip), Some((net, bits))) => {
                        let mask = if bits == 0 {
                            0
                        } else {
                            u32::MAX << (32 - bits)
                        };
                        Value::Bool(ip & mask == net & mask)
                    }
                    _ => Value::Null,
                }
            }
            "ipv6_is_in_range" => {
                arity(2)?;
                let ip: Option<std::net::Ipv6Addr> = vals[0].text().parse().ok();
                let range = vals[1].text();
                let net = range.split_once('/').and_then(|(a, b)| {
                    Some((
                        a.parse::<std::net::Ipv6Addr>().ok()?,
                        b.parse::<u32>().ok()?,
                    ))
                });
                match (ip, net) {
                    (Some(ip), Some((net, bits))) if bits <= 128 => {
                        let mask = if bits == 0 {
                            0
                        } else {
                            u128::MAX << (128 - bits)
                        };
                        Value::Bool(u128::from(ip) & mask == u128::from(net) & mask)
                    }
                    _ => Value::Null,
                }
            }
            _ => return err(format!("unsupported function {f}()")),
        })
    }
}

/// A column's value in a row (`Env::column`), `string` saying (when asked, only for an absent
/// or null value) whether the schema types it string.
fn column_as<'a>(row: &'a Row, name: &str, string: impl FnOnce() -> bool) -> &'a Value {
    const NULL: &Value = &Value::Null;
    match row.get(name) {
        Some(v) if !matches!(v, Value::Null) => v,
        _ if string() => EMPTY,
        v => v.unwrap_or(NULL),
    }
}

mod bound;
mod ops;
use bound::*;
use ops::*;

#[cfg(test)]
mod tests;
