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

use super::ast::*;
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

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvalError(pub String);

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, EvalError> {
    Err(EvalError(msg.into()))
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
    rest: &'q [Op],
    agg: Option<Aggregator<'q>>,
    kept: Vec<Row>,
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
            rest,
            agg,
            kept: Vec::new(),
        })
    }

    /// Do the leading `where` stages keep this row?
    pub fn keep(&self, row: &Row) -> Result<bool, EvalError> {
        for op in self.filters {
            if let Op::Where(e) = op {
                if self.env.eval(e, row)?.truth() != Some(true) {
                    return Ok(false);
                }
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
            Some(a) => a.push(&self.env, row),
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
        for op in self.rest {
            rows = self.env.apply(op, rows)?;
        }
        Ok(rows)
    }
}

/// `summarize` state: one entry per group, each aggregate folded in as rows arrive.
struct Aggregator<'q> {
    aggs: &'q [(String, Agg)],
    by: &'q [String],
    groups: BTreeMap<Vec<String>, (Row, Vec<Acc>)>,
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
    keyed: std::collections::HashSet<String>,
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

/// A text key equal for two values exactly when `==` holds, for the variants where that is
/// easy to say; reals and arrays (`0.0 == -0.0`, NaN) are compared with `==` instead.
fn set_key(v: &Value) -> Option<String> {
    match v {
        Value::Real(_) | Value::Dynamic(_) => None,
        v => Some(format!("{v:?}")),
    }
}

impl<'q> Aggregator<'q> {
    fn new(aggs: &'q [(String, Agg)], by: &'q [String]) -> Aggregator<'q> {
        Aggregator {
            aggs,
            by,
            groups: BTreeMap::new(),
        }
    }

    fn push(&mut self, env: &Env, r: &Row) -> Result<(), EvalError> {
        // a group key is the column as the query reads it (`Env::column`: a missing or null
        // string column is ""); with no schema, an absent and a null value are one (empty)
        // key, as for strings
        let key_vals: Vec<Value> = self
            .by
            .iter()
            .map(|c| match env.column(r, c) {
                Value::Null if env.schema.is_none() => EMPTY.clone(),
                v => v.clone(),
            })
            .collect();
        let key: Vec<String> = key_vals.iter().map(|v| format!("{v:?}")).collect();
        let aggs = self.aggs;
        let entry = self.groups.entry(key).or_insert_with(|| {
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
            (self.by.iter().cloned().zip(key_vals).collect(), accs)
        });
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
        self.groups
            .into_values()
            .map(|(mut row, accs)| {
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
        const NULL: &Value = &Value::Null;
        match row.get(name) {
            Some(v) if *v != Value::Null => v,
            _ if self
                .schema
                .and_then(|c| c.get(name))
                .is_some_and(|t| t == "string") =>
            {
                EMPTY
            }
            v => v.unwrap_or(NULL),
        }
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
        let v = match e {
            Expr::Name(n) => {
                return Ok(Cow::Borrowed(match self.lets.get(n) {
                    Some(v) => v,
                    None => self.column(row, n),
                }))
            }
            Expr::Lit(l) => l.into(),
            Expr::Dynamic(v) => Value::Dynamic(v.iter().map(Value::from).collect()),
            Expr::Neg(x) => match &*self.eval(x, row)? {
                Value::Long(n) => Value::Long(-n),
                Value::Real(x) => Value::Real(-x),
                Value::Timespan(t) => Value::Timespan(-t),
                Value::Null => Value::Null,
                v => return err(format!("cannot negate {v:?}")),
            },
            Expr::Not(x) => match &*self.eval(x, row)? {
                Value::Bool(b) => Value::Bool(!b),
                Value::Null => Value::Null,
                v => return err(format!("not() needs a bool, got {v:?}")),
            },
            // three-valued logic; the right side is skipped once the left decides
            Expr::And(a, b) => match self.eval(a, row)?.truth() {
                Some(false) => Value::Bool(false),
                a => match (a, self.eval(b, row)?.truth()) {
                    (_, Some(false)) => Value::Bool(false),
                    (Some(true), Some(true)) => Value::Bool(true),
                    _ => Value::Null,
                },
            },
            Expr::Or(a, b) => match self.eval(a, row)?.truth() {
                Some(true) => Value::Bool(true),
                a => match (a, self.eval(b, row)?.truth()) {
                    (_, Some(true)) => Value::Bool(true),
                    (Some(false), Some(false)) => Value::Bool(false),
                    _ => Value::Null,
                },
            },
            Expr::Cmp(op, a, b) => {
                let l = self.eval(a, row)?;
                match &**b {
                    // a string column against a string literal: compared in place
                    Expr::Lit(Lit::Str(r)) if matches!(l.as_ref(), Value::Str(_) | Value::Null) => {
                        compare_text(*op, &l.text(), r, &l)
                    }
                    _ => compare(*op, &l, &*self.eval(b, row)?),
                }
            }
            Expr::In {
                lhs,
                items,
                ci,
                negated,
            } => {
                let l = self.eval(lhs, row)?;
                let lt = l.text();
                let mut hit = false;
                self.each_item(items, row, &mut |v: &Value| {
                    hit = hit
                        || if *ci {
                            eq_ci(&lt, &v.text())
                        } else {
                            equal(&l, v) == Some(true)
                        };
                })?;
                Value::Bool(hit != *negated)
            }
            Expr::HasAny { lhs, items, all } => {
                let l = self.eval(lhs, row)?;
                let l = l.text();
                let (mut any, mut every) = (false, true);
                self.each_item(items, row, &mut |v: &Value| {
                    let h = has(&l, &v.text(), false);
                    any |= h;
                    every &= h;
                })?;
                Value::Bool(if *all { every } else { any })
            }
            Expr::Between(x, lo, hi) => {
                let (x, lo, hi) = (self.eval(x, row)?, self.eval(lo, row)?, self.eval(hi, row)?);
                if [&x, &lo, &hi].iter().any(|v| ***v == Value::Null) {
                    Value::Null
                } else {
                    Value::Bool(
                        order(&lo, &x) != Ordering::Greater && order(&x, &hi) != Ordering::Greater,
                    )
                }
            }
            Expr::Call(f, args) => self.call(f, args, row)?,
        };
        Ok(Cow::Owned(v))
    }

    /// Visit every value of an `in (...)` list, flattening dynamic arrays, without copying
    /// column values or let-bound lists.
    fn each_item(
        &self,
        items: &[Expr],
        row: &Row,
        f: &mut dyn FnMut(&Value),
    ) -> Result<(), EvalError> {
        for it in items {
            let v = self.eval(it, row)?;
            match v.as_ref() {
                Value::Dynamic(vs) => vs.iter().for_each(&mut *f),
                v => f(v),
            }
        }
        Ok(())
    }

    fn call(&self, f: &str, args: &[Expr], row: &Row) -> Result<Value, EvalError> {
        let vals: Vec<Value> = args
            .iter()
            .map(|a| self.eval(a, row).map(Cow::into_owned))
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

/// Dotted-quad IPv4 (each part 0-255). `ipv4_is_in_range` returns "`null`: If conversion for
/// one of the two IPv4 strings wasn't successful" (learn.microsoft.com/kusto/query/
/// ipv4-is-in-range-function); the docs do not say whether `010.20.0.1` converts, and .NET's
/// own parser would read `010` as octal 8. This evaluator takes the strict reading, the spec's
/// (a part with a leading zero is no address, so null), and claims no match Kusto might not make.
fn ipv4(s: &str) -> Option<u32> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut out = 0u32;
    for p in parts {
        if p.is_empty()
            || p.len() > 3
            || !p.bytes().all(|b| b.is_ascii_digit())
            || (p.len() > 1 && p.starts_with('0'))
        {
            return None;
        }
        let n: u32 = p.parse().ok()?;
        if n > 255 {
            return None;
        }
        out = out << 8 | n;
    }
    Some(out)
}

fn ipv4_range(s: &str) -> Option<(u32, u32)> {
    match s.split_once('/') {
        Some((ip, bits)) => {
            let bits: u32 = bits.parse().ok()?;
            (bits <= 32).then_some((ipv4(ip)?, bits))
        }
        None => Some((ipv4(s)?, 32)),
    }
}

fn order(a: &Value, b: &Value) -> Ordering {
    use Value::*;
    match (a, b) {
        (Long(x), Long(y)) => x.cmp(y),
        (Real(x), Real(y)) => x.total_cmp(y),
        (Long(x), Real(y)) => (*x as f64).total_cmp(y),
        (Real(x), Long(y)) => x.total_cmp(&(*y as f64)),
        (DateTime(x), DateTime(y)) | (Timespan(x), Timespan(y)) => x.cmp(y),
        (Null, Null) => Ordering::Equal,
        // nulls sort first (ascending)
        (Null, _) => Ordering::Less,
        (_, Null) => Ordering::Greater,
        _ => a.text().cmp(&b.text()),
    }
}

/// `==` with Kusto's null rules: null vs value is false, null vs null is null.
fn equal(a: &Value, b: &Value) -> Option<bool> {
    use Value::*;
    match (a, b) {
        (Null, Null) => None,
        (Null, Str(s)) | (Str(s), Null) => Some(s.is_empty()),
        (Null, _) | (_, Null) => Some(false),
        (Str(x), Str(y)) => Some(x == y),
        (Str(_), _) | (_, Str(_)) => Some(false),
        _ => Some(order(a, b) == Ordering::Equal),
    }
}

/// `compare` for a string column against a string literal, without building values.
fn compare_text(op: CmpOp, l: &str, r: &str, lv: &Value) -> Value {
    match op {
        CmpOp::Eq => Value::Bool(l == r),
        CmpOp::Ne => Value::Bool(l != r),
        CmpOp::EqCi => Value::Bool(eq_ci(l, r)),
        CmpOp::NeCi => Value::Bool(!eq_ci(l, r)),
        CmpOp::Str { op, negated, cs } => Value::Bool(str_op(op, l, r, cs) != negated),
        _ => compare(op, lv, &Value::Str(r.to_string())),
    }
}

/// `=~`: "Case-insensitive operators are currently supported only for ASCII-text"
/// (learn.microsoft.com/kusto/query/equals-operator and every case-insensitive operator's page).
fn eq_ci(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

fn str_op(op: StrOp, l: &str, r: &str, cs: bool) -> bool {
    match op {
        StrOp::Has => has(l, r, cs),
        StrOp::HasPrefix => has_affix(l, r, cs, true),
        StrOp::HasSuffix => has_affix(l, r, cs, false),
        StrOp::Contains | StrOp::StartsWith | StrOp::EndsWith => {
            let (l, r): (Cow<str>, Cow<str>) = if cs {
                (l.into(), r.into())
            } else {
                (l.to_ascii_lowercase().into(), r.to_ascii_lowercase().into())
            };
            match op {
                StrOp::Contains => l.contains(r.as_ref()),
                StrOp::StartsWith => l.starts_with(r.as_ref()),
                _ => l.ends_with(r.as_ref()),
            }
        }
    }
}

fn compare(op: CmpOp, a: &Value, b: &Value) -> Value {
    let flip = |v: Option<bool>| v.map_or(Value::Null, |b| Value::Bool(!b));
    let opt = |v: Option<bool>| v.map_or(Value::Null, Value::Bool);
    let ordered = |f: fn(Ordering) -> bool| {
        if *a == Value::Null || *b == Value::Null {
            Value::Null
        } else {
            Value::Bool(f(order(a, b)))
        }
    };
    match op {
        CmpOp::Eq => opt(equal(a, b)),
        CmpOp::Ne => flip(equal(a, b)),
        CmpOp::EqCi => Value::Bool(eq_ci(&a.text(), &b.text())),
        CmpOp::NeCi => Value::Bool(!eq_ci(&a.text(), &b.text())),
        CmpOp::Lt => ordered(|o| o == Ordering::Less),
        CmpOp::Le => ordered(|o| o != Ordering::Greater),
        CmpOp::Gt => ordered(|o| o == Ordering::Greater),
        CmpOp::Ge => ordered(|o| o != Ordering::Less),
        CmpOp::Str { op, negated, cs } => {
            Value::Bool(str_op(op, &a.text(), &b.text(), cs) != negated)
        }
    }
}

/// A term character: "each string value is broken into maximal sequences of alphanumeric
/// characters" (learn.microsoft.com/kusto/query/datatypes-string-operators, "What is a term?"),
/// Unicode letters and digits included.
fn word(c: char) -> bool {
    c.is_alphanumeric()
}

/// Every position where `needle` occurs in `hay` (ASCII case-folded unless `cs`), as
/// (character before, character after) pairs. Byte windows are exact for UTF-8: ASCII folding
/// changes only bytes below 0x80, and a needle's first byte never equals a continuation byte,
/// so every window that matches starts and ends on a character boundary.
fn occurrences(hay: &str, needle: &str, cs: bool) -> Vec<(Option<char>, Option<char>)> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    if n.is_empty() || n.len() > h.len() {
        return Vec::new();
    }
    (0..=h.len() - n.len())
        .filter(|&i| {
            let w = &h[i..i + n.len()];
            if cs {
                w == n
            } else {
                w.eq_ignore_ascii_case(n)
            }
        })
        .map(|i| {
            (
                hay[..i].chars().next_back(),
                hay[i + n.len()..].chars().next(),
            )
        })
        .collect()
}

/// KQL `has`: the needle is whole terms of the haystack. A needle that starts (ends) with a
/// non-alphanumeric character needs no boundary on that side.
fn has(hay: &str, needle: &str, cs: bool) -> bool {
    let first_word = needle.chars().next().is_some_and(word);
    let last_word = needle.chars().last().is_some_and(word);
    occurrences(hay, needle, cs)
        .into_iter()
        .any(|(before, after)| {
            (!first_word || !before.is_some_and(word)) && (!last_word || !after.is_some_and(word))
        })
}

/// `hasprefix` / `hassuffix`: the needle starts (ends) a term.
fn has_affix(hay: &str, needle: &str, cs: bool, prefix: bool) -> bool {
    occurrences(hay, needle, cs)
        .into_iter()
        .any(|(before, after)| {
            if prefix {
                !before.is_some_and(word)
            } else {
                !after.is_some_and(word)
            }
        })
}

#[cfg(test)]
mod tests {
    use super::super::parser::parse;
    use super::*;

    fn row(pairs: &[(&str, Value)]) -> Row {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }
    fn s(v: &str) -> Value {
        Value::Str(v.into())
    }
    fn matches(pred: &str, r: &Row) -> bool {
        let q = parse(&format!("T | where {pred}")).unwrap();
        !run(&q, std::slice::from_ref(r), 0).unwrap().is_empty()
    }

    /// Golden cases from the Kusto string-operator documentation.
    #[test]
    fn string_operators_follow_the_docs() {
        let r = row(&[
            ("x", s("KustoExplorerQueryRun")),
            (
                "k",
                s("Kusto: ad67d136-c1db-4f9f-88ef-d94f3b6b0b5a;KustoExplorerQueryRun"),
            ),
        ]);
        assert!(!matches("x has 'Explorer'", &r));
        assert!(matches("x contains 'Explorer'", &r));
        assert!(matches("k has 'c1db'", &r));
        assert!(matches("k has 'kusto'", &r));
        assert!(!matches("k has_cs 'kusto'", &r));
        assert!(matches("k hasprefix 'KustoExp'", &r));
        assert!(matches("k hassuffix 'QueryRun'", &r));
        let f = row(&[("f", s("FabriKam"))]);
        assert!(matches("f contains 'BRik'", &f));
        assert!(!matches("f contains_cs 'BRik'", &f));
        assert!(matches("f =~ 'fabrikam'", &f));
        assert!(!matches("f == 'fabrikam'", &f));
        assert!(matches("f !~ 'xyz'", &f));
        assert!(matches("f startswith 'fab' and f endswith 'KAM'", &f));
    }

    /// Kusto's text rules, one row per case (learn.microsoft.com/kusto/query/
    /// datatypes-string-operators): "Case-insensitive operators are currently supported only
    /// for ASCII-text. For non-ASCII comparison, use the tolower() function", and "each string
    /// value is broken into maximal sequences of alphanumeric characters" — letters and digits
    /// of any script, so `é` or `٣` continues a term.
    #[test]
    fn case_folding_is_ascii_and_terms_are_unicode_runs() {
        let rows: &[(&str, &str, bool)] = &[
            // ASCII letters fold under every case-insensitive operator
            ("NETSUPPORT", "x =~ 'netsupport'", true),
            ("NETSUPPORT", "x in~ ('netsupport')", true),
            ("NETSUPPORT Manager", "x has 'netsupport'", true),
            ("NETSUPPORT", "x contains 'tsup'", true),
            // non-ASCII letters do not
            (
                "KRÄMER IT SOLUTIONS GMBH",
                "x has 'Krämer IT Solutions GmbH'",
                false,
            ),
            (
                "KRÄMER IT SOLUTIONS GMBH",
                "x =~ 'Krämer IT Solutions GmbH'",
                false,
            ),
            (
                "KRäMER IT SOLUTIONS GMBH",
                "x =~ 'Krämer IT Solutions GmbH'",
                true,
            ),
            ("ÉCOLE", "x startswith 'éc'", false),
            ("ÉCOLE", "x endswith 'OLE'", true),
            // the Kelvin sign is not the letter k
            ("\u{212A}aseya", "x in~ ('kaseya')", false),
            ("\u{212A}aseya", "x contains 'kaseya'", false),
            ("\u{212A}aseya", "x contains 'aseya'", true),
            // a Unicode letter or digit next to the value continues its term
            (
                "énetsupportsoftware.com",
                "x has 'netsupportsoftware.com'",
                false,
            ),
            (
                "netsupportsoftware.comé",
                "x has 'netsupportsoftware.com'",
                false,
            ),
            ("٣netsupport", "x has 'netsupport'", false),
            (
                "é.netsupportsoftware.com",
                "x has 'netsupportsoftware.com'",
                true,
            ),
            ("日本 netsupport", "x has 'netsupport'", true),
            ("énetsupport", "x hasprefix 'netsup'", false),
            ("netsupporté", "x hassuffix 'support'", false),
            // punctuation and symbols are boundaries, as in the docs' example
            ("Kusto: ad67d136-c1db;x", "x has 'c1db'", true),
            ("a—netsupport", "x has 'netsupport'", true),
        ];
        for (value, pred, want) in rows {
            let r = row(&[("x", s(value))]);
            assert_eq!(matches(pred, &r), *want, "{value:?} | where {pred}");
        }
    }

    #[test]
    fn has_is_whole_term() {
        for (url, want) in [
            ("netsupportsoftware.com", true),
            ("www.NetSupportSoftware.com", true),
            ("a.netsupportsoftware.com.evil.net", true),
            ("xnetsupportsoftware.com", false),
            ("netsupportsoftware.community", false),
            ("", false),
        ] {
            let r = row(&[("RemoteUrl", s(url))]);
            assert_eq!(
                matches("RemoteUrl has 'netsupportsoftware.com'", &r),
                want,
                "{url}"
            );
            assert_eq!(
                matches("RemoteUrl has_any ('netsupportsoftware.com', 'nope')", &r),
                want,
                "{url}"
            );
            assert_eq!(
                matches("RemoteUrl !has 'netsupportsoftware.com'", &r),
                !want,
                "{url}"
            );
        }
    }

    #[test]
    fn nulls_follow_the_docs() {
        let r = row(&[]);
        assert!(!matches("RemotePort == 443", &r));
        assert!(matches("RemotePort != 443", &r));
        assert!(matches("not(RemotePort == 443)", &r));
        assert!(!matches("RemotePort > 3", &r));
        assert!(!matches("not(RemotePort > 3)", &r));
        // strings are never null
        assert!(matches("Name == ''", &r));
        assert!(matches("not(Name has 'x')", &r));
        assert!(matches("isempty(Name)", &r));
    }

    /// "The string data type doesn't support null values" (learn.microsoft.com/kusto/query/
    /// scalar-data-types/null-values): an absent, a null and an empty `DeviceName` (a string
    /// column of DeviceNetworkEvents) are one group; an absent and a null `RemotePort` (int)
    /// are null, and one group of their own.
    #[test]
    fn missing_and_null_strings_are_one_empty_group() {
        let q = parse("DeviceNetworkEvents | summarize Count=count() by DeviceName").unwrap();
        let rows = vec![
            row(&[]),
            row(&[("DeviceName", Value::Null)]),
            row(&[("DeviceName", s(""))]),
            row(&[("DeviceName", s("a"))]),
        ];
        let out = run(&q, &rows, 0).unwrap();
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!(out[0]["DeviceName"], s(""));
        assert_eq!(out[0]["Count"], Value::Long(3));
        let q = parse("DeviceNetworkEvents | summarize Count=count() by RemotePort").unwrap();
        let rows = vec![
            row(&[]),
            row(&[("RemotePort", Value::Null)]),
            row(&[("RemotePort", Value::Long(443))]),
        ];
        let out = run(&q, &rows, 0).unwrap();
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(out
            .iter()
            .any(|r| r["RemotePort"] == Value::Null && r["Count"] == Value::Long(2)));
        // where and project read the same value
        let q = parse("DeviceNetworkEvents | where DeviceName == '' and isempty(DeviceName) | project DeviceName").unwrap();
        let out = run(&q, &[row(&[("DeviceName", Value::Null)])], 0).unwrap();
        assert_eq!(out, vec![row(&[("DeviceName", s(""))])]);
    }

    /// `ipv4_is_in_range`: "`null`: If conversion for one of the two IPv4 strings wasn't
    /// successful" (learn.microsoft.com/kusto/query/ipv4-is-in-range-function); null == true
    /// is false ("Applying the equality operator to a null value and a non-null value yields
    /// bool(false)", scalar-data-types/null-values), so `not(… == true)` keeps the row.
    #[test]
    fn ipv4_ranges_and_their_nulls() {
        let rows: &[(&str, Value, bool)] = &[
            // (address, ipv4_is_in_range(x, '10.20.0.0/16'), not(… == true) keeps the row)
            ("10.20.0.1", Value::Bool(true), false),
            ("10.20.255.255", Value::Bool(true), false),
            ("10.21.0.0", Value::Bool(false), true),
            // not convertible: an IPv6 address, no address, a leading zero (undocumented;
            // the strict reading, see `ipv4`)
            ("2001:db8::1", Value::Null, true),
            ("", Value::Null, true),
            ("010.20.0.1", Value::Null, true),
            ("10.20.0.01", Value::Null, true),
            ("10.20.0.256", Value::Null, true),
        ];
        for (ip, want, kept) in rows {
            let r = row(&[("x", s(ip))]);
            let q = parse("T | project v = ipv4_is_in_range(x, '10.20.0.0/16')").unwrap();
            let out = run(&q, std::slice::from_ref(&r), 0).unwrap();
            assert_eq!(&out[0]["v"], want, "{ip}");
            assert_eq!(
                matches("not(ipv4_is_in_range(x, '10.20.0.0/16') == true)", &r),
                *kept,
                "{ip}"
            );
            // without `== true` the null drops the row: what the backend must not emit
            if *want == Value::Null {
                assert!(
                    !matches("not(ipv4_is_in_range(x, '10.20.0.0/16'))", &r),
                    "{ip}"
                );
            }
        }
    }

    #[test]
    fn lists_lets_and_ranges() {
        let q = parse("let ips = dynamic(['95.85.246.53']);\nT | where RemoteIP in (ips) or ipv4_is_in_range(RemoteIP, '10.0.0.0/8')").unwrap();
        let rows = vec![
            row(&[("RemoteIP", s("95.85.246.53"))]),
            row(&[("RemoteIP", s("10.9.8.7"))]),
            row(&[("RemoteIP", s("11.0.0.1"))]),
            row(&[("RemoteIP", s("095.85.246.53"))]),
        ];
        assert_eq!(run(&q, &rows, 0).unwrap().len(), 2);
        let r = row(&[("a", s("SchTasks.exe"))]);
        assert!(matches("a in~ ('schtasks.exe')", &r));
        assert!(!matches("a in ('schtasks.exe')", &r));
        assert!(matches("a !in ('schtasks.exe')", &r));
    }

    /// The incremental summarize keeps what folding the group's rows at once gave:
    /// `min` the first of equal values and `max` the last (`Iterator::min_by` / `max_by`),
    /// `make_set` first-seen order with `==` as equality, nulls skipped (counted by count()).
    #[test]
    fn summarize_folds_like_the_whole_group() {
        let q =
            parse("T | summarize Lo=min(x), Hi=max(x), S=make_set(x), D=dcount(x), C=count() by k")
                .unwrap();
        let rows: Vec<Row> = [
            Value::Long(0),
            Value::Long(1),
            Value::Null,
            Value::Real(0.0),
            Value::Real(1.0),
            Value::Real(0.0),
        ]
        .into_iter()
        .map(|x| row(&[("k", s("a")), ("x", x)]))
        .collect();
        let out = run(&q, &rows, 0).unwrap();
        assert_eq!(out.len(), 1);
        // Long(0) and Real(0.0) order as equal: the first is the min; likewise the last 1 the max
        assert_eq!(out[0]["Lo"], Value::Long(0));
        assert_eq!(out[0]["Hi"], Value::Real(1.0));
        assert_eq!(
            out[0]["S"],
            Value::Dynamic(vec![
                Value::Long(0),
                Value::Long(1),
                Value::Real(0.0),
                Value::Real(1.0)
            ])
        );
        assert_eq!(out[0]["D"], Value::Long(4));
        assert_eq!(out[0]["C"], Value::Long(6));
    }

    #[test]
    fn time_window_and_summarize() {
        const DAY: i128 = 86_400_000_000_000;
        let now = 100 * DAY;
        let q = parse(
            "let Time_start = now(-5d);\nlet Time_end = now();\nT\n| where Timestamp between (Time_start..Time_end)\n| summarize FirstSeen=min(Timestamp), LastSeen=max(Timestamp), Report=make_set(ReportId), Count=count() by DeviceName",
        )
        .unwrap();
        let ev = |d: i128, dev: &str, id: i64| {
            row(&[
                ("Timestamp", Value::DateTime(now - d * DAY)),
                ("DeviceName", s(dev)),
                ("ReportId", Value::Long(id)),
            ])
        };
        let rows = vec![
            ev(1, "a", 1),
            ev(2, "a", 2),
            ev(2, "a", 2),
            ev(6, "a", 3),
            ev(1, "b", 4),
        ];
        let out = run(&q, &rows, now).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0]["DeviceName"], s("a"));
        assert_eq!(out[0]["Count"], Value::Long(3));
        assert_eq!(out[0]["FirstSeen"], Value::DateTime(now - 2 * DAY));
        assert_eq!(
            out[0]["Report"],
            Value::Dynamic(vec![Value::Long(1), Value::Long(2)])
        );
    }
}
