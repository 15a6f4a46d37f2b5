//! Runs a parsed SPL pipeline over JSON events. Semantics, with the Splunk documentation they
//! follow (Search Reference / Search Manual on help.splunk.com):
//!
//! - Values: a missing field or JSON `null` is null. Field values that look like decimal
//!   numbers compare as numbers in eval (`where x<10`); everything else compares as text,
//!   case-sensitively (`where` "==" is case-sensitive; use lower()). `_time` may be an RFC 3339
//!   string or epoch seconds and is read as epoch seconds.
//! - search: `field=value` is a whole-value, case-insensitive match with `*` wildcards; on a
//!   missing field it is false, `NOT field=value` is then true, and `field!=value` is false
//!   ("Searching with the boolean NOT comparison operator is not the same as using the !=
//!   comparison … != returns events where the field exists", search command examples). A
//!   multivalue (JSON array) field matches when any value matches. Bare terms match at
//!   segment boundaries of `_raw` if present, else of all field values joined by spaces.
//!   `earliest` is inclusive and `latest` exclusive ("finds every event with a timestamp
//!   greater than or equal to earliest and less than latest", Time modifiers).
//! - where/eval: three-valued logic. A comparison or function with a null argument is null
//!   (except coalesce/isnull/isnotnull/if); `NOT null` is null; `where` keeps a row only when
//!   its expression is true. `eval` assigning null removes the field; assigning a boolean is
//!   an error, as in Splunk ("Fields cannot be assigned a boolean result").
//! - stats: rows missing a by-field are left out; groups come out sorted by the by-fields;
//!   `values` = distinct values in lexicographic (UTF-8 byte) order ("Multivalue stats and
//!   chart functions" / "Lexicographical order"); `min`/`max` compare as numbers when the
//!   values are numbers ("processes values as numbers if possible"), else lexicographically;
//!   without `by` and with no events, one row with `count` 0.
//! - sort: numbers before text, numbers numerically, text lexicographically; rows missing
//!   the field last in both directions ("Results missing a given field are treated as having
//!   the smallest or largest possible value … if the order is descending or ascending").
//!
//! Speed: events are borrowed, never copied, until a command changes one (`eval` writing a
//! value different from the one already there, `fields -`); eval values borrow their text
//! from the event or the search; regex literals of `match`/`replace`/`like` are compiled once
//! per run; search values are compared without building strings.

use super::ast::*;
use super::parser::number;
use super::pcre;
use crate::eval::time::parse_rfc3339;
use regex::Regex;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::net::IpAddr;

pub type Row = Map<String, Value>;

/// An eval value; text is borrowed from the event or the search where it can be.
#[derive(Clone, Debug, PartialEq)]
pub enum V<'a> {
    Null,
    Bool(bool),
    Str(Cow<'a, str>),
    /// A number with its text; `json` = written back as a JSON number (literals, counts,
    /// JSON numbers), else as the original text.
    Num {
        n: f64,
        text: Cow<'a, str>,
        json: bool,
    },
    Multi(Vec<String>),
}

impl<'a> V<'a> {
    fn num(n: f64) -> V<'a> {
        V::Num {
            n,
            text: Cow::Owned(fmt_num(n)),
            json: true,
        }
    }
    fn text(&self) -> Result<Option<Cow<'a, str>>, String> {
        match self {
            V::Null => Ok(None),
            V::Bool(b) => Err(format!("a boolean ({b}) used as a value")),
            V::Str(s) => Ok(Some(s.clone())),
            V::Num { text, .. } => Ok(Some(text.clone())),
            V::Multi(_) => Err("multivalue fields are not supported in eval expressions".into()),
        }
    }
    fn into_text(self) -> Result<Option<Cow<'a, str>>, String> {
        match self {
            V::Str(s) => Ok(Some(s)),
            V::Num { text, .. } => Ok(Some(text)),
            other => other.text(),
        }
    }
}

fn fmt_num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

fn json_num(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        other => Some(other.to_string()),
    }
}

/// A field of an event. Events are small maps: up to 32 fields a scan of the keys (length
/// first) is cheaper than hashing the name; the answer is the same, keys being unique.
#[inline]
fn get<'a>(row: &'a Row, name: &str) -> Option<&'a Value> {
    if row.len() <= 32 {
        row.iter().find(|(k, _)| k.as_str() == name).map(|(_, v)| v)
    } else {
        row.get(name)
    }
}

/// Read a field as an eval value.
pub fn field<'a>(row: &'a Row, name: &str) -> V<'a> {
    match get(row, name) {
        None | Some(Value::Null) => V::Null,
        Some(Value::Array(xs)) => V::Multi(xs.iter().filter_map(scalar_text).collect()),
        Some(Value::Number(n)) => V::Num {
            n: n.as_f64().unwrap_or(f64::NAN),
            text: Cow::Owned(n.to_string()),
            json: true,
        },
        Some(Value::String(s)) => {
            // Splunk keeps _time as epoch seconds; an RFC 3339 export reads as that number.
            if name == "_time" {
                if let Some(ns) = parse_rfc3339(s) {
                    return V::num(ns as f64 / 1e9);
                }
            }
            match number(s) {
                Some(n) => V::Num {
                    n,
                    text: Cow::Borrowed(s),
                    json: false,
                },
                None => V::Str(Cow::Borrowed(s)),
            }
        }
        Some(other) => V::Str(Cow::Owned(scalar_text(other).unwrap_or_default())),
    }
}

fn to_json(v: V) -> Option<Value> {
    match v {
        V::Null => None,
        V::Bool(b) => Some(Value::Bool(b)),
        V::Str(s) => Some(Value::String(s.into_owned())),
        V::Num { n, json: true, .. } => Some(json_num(n)),
        V::Num { text, .. } => Some(Value::String(text.into_owned())),
        V::Multi(xs) => Some(Value::Array(xs.into_iter().map(Value::String).collect())),
    }
}

/// Whether writing `v` to a field whose current value is `cur` leaves the row as it is
/// (`to_json(v)` equals `cur`, or both mean "absent"), computed without building the value.
fn unchanged(v: &V, cur: Option<&Value>) -> bool {
    match (v, cur) {
        (V::Null, None) => true,
        (V::Str(s), Some(Value::String(t))) => s == t,
        (
            V::Num {
                json: false, text, ..
            },
            Some(Value::String(t)),
        ) => text == t,
        (V::Num { n, json: true, .. }, Some(c)) => json_num(*n) == *c,
        (V::Multi(_), Some(Value::Array(_))) => to_json(v.clone()).as_ref() == cur,
        _ => false,
    }
}

/// A number's JSON text in a stack buffer (what `Number::to_string` gives).
struct NumBuf {
    b: [u8; 64],
    len: usize,
}

impl std::fmt::Write for NumBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.b.len() {
            return Err(std::fmt::Error);
        }
        self.b[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// `f` on the search-matching text of one scalar JSON value (not null).
fn with_text(v: &Value, f: &mut impl FnMut(&str) -> bool) -> bool {
    match v {
        Value::String(s) => f(s),
        Value::Number(n) => {
            let mut buf = NumBuf { b: [0; 64], len: 0 };
            if write!(buf, "{n}").is_ok() {
                // only whole UTF-8 strings were copied in
                f(std::str::from_utf8(&buf.b[..buf.len]).unwrap_or_default())
            } else {
                f(&n.to_string())
            }
        }
        other => f(&scalar_text(other).unwrap_or_default()),
    }
}

/// The string values of a field for search-command matching: `None` when there are none,
/// else whether `f` holds for any of them (stopping at the first that does).
fn any_value(row: &Row, name: &str, mut f: impl FnMut(&str) -> bool) -> Option<bool> {
    if name == "_time" {
        if let Some(ns) = time_ns(row) {
            return Some(f(&fmt_num(ns as f64 / 1e9)));
        }
    }
    match get(row, name) {
        None | Some(Value::Null) => None,
        Some(Value::Array(xs)) => {
            let mut seen = false;
            for x in xs.iter().filter(|x| !x.is_null()) {
                seen = true;
                if with_text(x, &mut f) {
                    return Some(true);
                }
            }
            seen.then_some(false)
        }
        Some(v) => Some(with_text(v, &mut f)),
    }
}

/// The event's time in epoch nanoseconds.
fn time_ns(row: &Row) -> Option<i128> {
    match get(row, "_time")? {
        Value::String(s) => parse_rfc3339(s).or_else(|| number(s).map(|n| (n * 1e9) as i128)),
        Value::Number(n) => n.as_f64().map(|n| (n * 1e9) as i128),
        _ => None,
    }
}

fn raw_text(row: &Row) -> Cow<'_, str> {
    if let Some(Value::String(s)) = get(row, "_raw") {
        return Cow::Borrowed(s);
    }
    let mut parts = Vec::new();
    for v in row.values() {
        match v {
            Value::Array(xs) => parts.extend(xs.iter().filter_map(scalar_text)),
            v => parts.extend(scalar_text(v)),
        }
    }
    Cow::Owned(parts.join(" "))
}

pub struct Ctx<'p> {
    pub now_ns: i128,
    cache: HashMap<String, Regex>,
    /// Regexes of the `match`/`replace`/`like` calls whose pattern is a string literal,
    /// compiled before the run.
    literal: &'p Literals,
}

pub use super::pcre::Literals;

impl<'p> Ctx<'p> {
    pub fn new(now_ns: i128, literal: &'p Literals) -> Ctx<'p> {
        Ctx {
            now_ns,
            cache: HashMap::new(),
            literal,
        }
    }
    /// The regex for pattern `p` (`like` = a `like()` pattern): the precompiled one when `p`
    /// is a literal pattern of the pipeline, else compiled once per run.
    fn call_regex(&mut self, p: &str, like: bool) -> Result<&Regex, String> {
        if let Some(re) = self.literal.get(p, like) {
            return Ok(re);
        }
        let key = if like {
            pcre::like_regex(p)
        } else {
            p.to_string()
        };
        if !self.cache.contains_key(&key) {
            let re = pcre::compile(&key)?;
            self.cache.insert(key.clone(), re);
        }
        Ok(&self.cache[&key])
    }
}

/// Compile the literal patterns of every `match`/`replace`/`like` call in the pipeline.
/// Those that fail are left out: the call reports the error when (and if) it runs.
pub fn precompile(cmds: &[Command]) -> Literals {
    fn walk(e: &Expr, out: &mut Literals) {
        match e {
            Expr::Field(_) | Expr::Str(_) | Expr::Num(..) => {}
            Expr::Not(x) => walk(x, out),
            Expr::And(xs) | Expr::Or(xs) => xs.iter().for_each(|x| walk(x, out)),
            Expr::Cmp(_, a, b) => {
                walk(a, out);
                walk(b, out);
            }
            Expr::Call(f, args) => {
                if let (Func::Match | Func::Replace | Func::Like, Some(Expr::Str(p))) =
                    (f, args.get(1))
                {
                    if let Ok(re) = pcre::compile_call(p, *f == Func::Like) {
                        out.add(p, *f == Func::Like, re);
                    }
                }
                args.iter().for_each(|a| walk(a, out));
            }
        }
    }
    let mut out = Literals::default();
    for c in cmds {
        match c {
            Command::Where(e) => walk(e, &mut out),
            Command::Eval(sets) => sets.iter().for_each(|(_, e)| walk(e, &mut out)),
            _ => {}
        }
    }
    out
}

// ---- search command ----

fn cmp_text(a: &str, b: &str) -> Ordering {
    match (number(a), number(b)) {
        (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        _ => a.cmp(b),
    }
}

pub fn search_match(e: &SExpr, row: &Row, ctx: &Ctx) -> bool {
    match e {
        SExpr::And(xs) => xs.iter().all(|x| search_match(x, row, ctx)),
        SExpr::Or(xs) => xs.iter().any(|x| search_match(x, row, ctx)),
        SExpr::Not(x) => !search_match(x, row, ctx),
        SExpr::Cmp { field, op, value } => match op {
            CmpOp::Eq => any_value(row, field, |v| value.is_match(v)) == Some(true),
            CmpOp::Ne => any_value(row, field, |v| value.is_match(v)) == Some(false),
            _ => {
                any_value(row, field, |v| {
                    let o = cmp_text(v, &value.text);
                    match op {
                        CmpOp::Lt => o == Ordering::Less,
                        CmpOp::Gt => o == Ordering::Greater,
                        CmpOp::Le => o != Ordering::Greater,
                        _ => o != Ordering::Less,
                    }
                }) == Some(true)
            }
        },
        SExpr::In { field, values } => {
            any_value(row, field, |v| values.iter().any(|w| w.is_match(v))) == Some(true)
        }
        SExpr::Term { raw, .. } => raw.0.is_match(&raw_text(row)),
        SExpr::Time { latest, at } => {
            let bound = match at {
                TimeSpec::Relative(d) => ctx.now_ns.saturating_add(*d),
                TimeSpec::Epoch(t) => *t,
            };
            match time_ns(row) {
                Some(t) if *latest => t < bound,
                Some(t) => t >= bound,
                None => false,
            }
        }
    }
}

// ---- eval expressions ----

fn truth(v: V, what: &str) -> Result<Option<bool>, String> {
    match v {
        V::Bool(b) => Ok(Some(b)),
        V::Null => Ok(None),
        other => Err(format!("{what} needs a boolean, got {other:?}")),
    }
}

fn compare(op: CmpOp, a: V, b: V) -> Result<V<'static>, String> {
    let o = match (&a, &b) {
        (V::Null, _) | (_, V::Null) => return Ok(V::Null),
        (V::Bool(x), V::Bool(y)) if matches!(op, CmpOp::Eq | CmpOp::Ne) => x.cmp(y),
        (V::Num { n: x, .. }, V::Num { n: y, .. }) => match x.partial_cmp(y) {
            Some(o) => o,
            None => return Ok(V::Bool(op == CmpOp::Ne)),
        },
        _ => {
            let (x, y) = (a.text()?, b.text()?);
            x.cmp(&y)
        }
    };
    Ok(V::Bool(match op {
        CmpOp::Eq => o == Ordering::Equal,
        CmpOp::Ne => o != Ordering::Equal,
        CmpOp::Lt => o == Ordering::Less,
        CmpOp::Gt => o == Ordering::Greater,
        CmpOp::Le => o != Ordering::Greater,
        CmpOp::Ge => o != Ordering::Less,
    }))
}

/// PCRE-style replacement (`\1` … `\9` refer to groups) → the regex crate's syntax.
fn replacement(r: &str) -> String {
    let mut out = String::new();
    let mut it = r.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\\' if it.peek().is_some_and(char::is_ascii_digit) => {
                out.push_str(&format!("${{{}}}", it.next().unwrap_or('0')));
            }
            '$' => out.push_str("$$"),
            c => out.push(c),
        }
    }
    out
}

fn cidr_match(cidr: &str, ip: &str) -> Result<bool, String> {
    let (net, bits) = cidr
        .split_once('/')
        .ok_or_else(|| format!("cidrmatch: {cidr:?} is not a CIDR block"))?;
    let net: IpAddr = net
        .parse()
        .map_err(|_| format!("cidrmatch: {cidr:?} is not a CIDR block"))?;
    let bits: u32 = bits
        .parse()
        .map_err(|_| format!("cidrmatch: {cidr:?} is not a CIDR block"))?;
    let max = if net.is_ipv4() { 32 } else { 128 };
    if bits > max {
        return Err(format!("cidrmatch: {cidr:?} has an invalid prefix length"));
    }
    let Ok(ip) = ip.parse::<IpAddr>() else {
        return Ok(false);
    };
    Ok(match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    })
}

pub fn eval<'a>(e: &'a Expr, row: &'a Row, ctx: &mut Ctx) -> Result<V<'a>, String> {
    Ok(match e {
        Expr::Field(n) => field(row, n),
        Expr::Str(s) => V::Str(Cow::Borrowed(s)),
        Expr::Num(n, t) => V::Num {
            n: *n,
            text: Cow::Borrowed(t),
            json: true,
        },
        Expr::Not(x) => match truth(eval(x, row, ctx)?, "NOT")? {
            Some(b) => V::Bool(!b),
            None => V::Null,
        },
        // Kleene logic: AND is false if any operand is false, else null if any is null;
        // OR is true if any operand is true, else null if any is null. Evaluation stops at
        // the first deciding operand.
        Expr::And(xs) | Expr::Or(xs) => {
            let (what, decide) = match e {
                Expr::And(_) => ("AND", false),
                _ => ("OR", true),
            };
            let mut null = false;
            for x in xs {
                match truth(eval(x, row, ctx)?, what)? {
                    Some(b) if b == decide => return Ok(V::Bool(decide)),
                    Some(_) => {}
                    None => null = true,
                }
            }
            if null {
                V::Null
            } else {
                V::Bool(!decide)
            }
        }
        Expr::Cmp(op, a, b) => {
            let (a, b) = (eval(a, row, ctx)?, eval(b, row, ctx)?);
            compare(*op, a, b)?
        }
        Expr::Call(f, args) => call(*f, args, row, ctx)?,
    })
}

fn call<'a>(f: Func, args: &'a [Expr], row: &'a Row, ctx: &mut Ctx) -> Result<V<'a>, String> {
    let name = f.name();
    let arg = |i: usize, ctx: &mut Ctx| -> Result<Option<Cow<'a, str>>, String> {
        eval(&args[i], row, ctx)?
            .into_text()
            .map_err(|e| format!("{name}(): {e}"))
    };
    Ok(match f {
        Func::Coalesce => {
            for a in args {
                let v = eval(a, row, ctx)?;
                if v != V::Null {
                    return Ok(v);
                }
            }
            V::Null
        }
        Func::IsNull => V::Bool(eval(&args[0], row, ctx)? == V::Null),
        Func::IsNotNull => V::Bool(eval(&args[0], row, ctx)? != V::Null),
        Func::Null => V::Null,
        Func::If => match truth(eval(&args[0], row, ctx)?, "if()")? {
            Some(true) => eval(&args[1], row, ctx)?,
            _ => eval(&args[2], row, ctx)?,
        },
        Func::Match | Func::Replace => {
            let (Some(s), Some(p)) = (arg(0, ctx)?, arg(1, ctx)?) else {
                return Ok(V::Null);
            };
            if f == Func::Match {
                V::Bool(
                    ctx.call_regex(&p, false)
                        .map_err(|e| format!("match(): {e}"))?
                        .is_match(&s),
                )
            } else {
                let Some(r) = arg(2, ctx)? else {
                    return Ok(V::Null);
                };
                let re = ctx
                    .call_regex(&p, false)
                    .map_err(|e| format!("replace(): {e}"))?;
                let rep = replacement(&r);
                V::Str(match s {
                    Cow::Borrowed(b) => re.replace_all(b, rep.as_str()),
                    Cow::Owned(o) => Cow::Owned(re.replace_all(&o, rep.as_str()).into_owned()),
                })
            }
        }
        Func::Like => {
            let (Some(s), Some(p)) = (arg(0, ctx)?, arg(1, ctx)?) else {
                return Ok(V::Null);
            };
            let re = ctx.call_regex(&p, true)?;
            V::Bool(re.is_match(&s))
        }
        Func::Lower | Func::Upper | Func::Len => {
            let Some(s) = arg(0, ctx)? else {
                return Ok(V::Null);
            };
            match f {
                Func::Lower => V::Str(Cow::Owned(s.to_lowercase())),
                Func::Upper => V::Str(Cow::Owned(s.to_uppercase())),
                _ => V::num(s.chars().count() as f64),
            }
        }
        Func::CidrMatch => {
            let (Some(c), Some(ip)) = (arg(0, ctx)?, arg(1, ctx)?) else {
                return Ok(V::Null);
            };
            V::Bool(cidr_match(&c, &ip)?)
        }
    })
}

// ---- commands ----

/// Sort order of two present values: numbers first (numerically), then text.
fn order(a: &V, b: &V) -> Ordering {
    fn key<'b>(v: &'b V) -> (Option<f64>, Cow<'b, str>) {
        match v {
            V::Num { n, text, .. } => (Some(*n), Cow::Borrowed(text)),
            V::Multi(xs) => {
                let t = xs.first().map_or("", String::as_str);
                (number(t), Cow::Borrowed(t))
            }
            V::Str(s) => (None, Cow::Borrowed(s)),
            V::Bool(b) => (None, Cow::Owned(b.to_string())),
            V::Null => (None, Cow::Borrowed("")),
        }
    }
    match (key(a), key(b)) {
        ((Some(x), _), (Some(y), _)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        ((Some(_), _), (None, _)) => Ordering::Less,
        ((None, _), (Some(_), _)) => Ordering::Greater,
        ((None, x), (None, y)) => x.cmp(&y),
    }
}

fn wild_names(pat: &str, row: &Row) -> Vec<String> {
    if !pat.contains('*') {
        return vec![pat.to_string()];
    }
    row.keys().filter(|k| glob(pat, k)).cloned().collect()
}

/// `*`-only wildcard match of a field name (case-sensitive, as field names are).
fn glob(pat: &str, s: &str) -> bool {
    let (p, s): (Vec<char>, Vec<char>) = (pat.chars().collect(), s.chars().collect());
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < s.len() {
        if i < p.len() && p[i] != '*' && p[i] == s[j] {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(st) = star {
            i = st + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

/// Append a group key's part to `key` so that distinct key lists give distinct strings.
fn push_key(key: &mut String, part: &str) {
    let _ = write!(key, "{}:", part.len());
    key.push_str(part);
}

/// A value that owns its text, to outlive the event it was read from.
fn owned(v: V) -> V<'static> {
    match v {
        V::Null => V::Null,
        V::Bool(b) => V::Bool(b),
        V::Str(s) => V::Str(Cow::Owned(s.into_owned())),
        V::Num { n, text, json } => V::Num {
            n,
            text: Cow::Owned(text.into_owned()),
            json,
        },
        V::Multi(xs) => V::Multi(xs),
    }
}

fn stats(rows: &[Cow<'_, Row>], aggs: &[(String, Agg)], by: &[String]) -> Vec<Row> {
    let mut s = Stats::new(aggs, by);
    for row in rows {
        s.push(row);
    }
    s.finish()
}

/// `stats` state, folded in one event at a time: per group the by-field values, the event
/// count and, per aggregate, what its result needs (a count, the distinct texts, the least
/// and greatest number and text), so memory grows with the groups and their distinct values,
/// not with the events.
pub struct Stats<'p> {
    aggs: &'p [(String, Agg)],
    by: &'p [String],
    groups: Vec<Group>,
    index: HashMap<String, usize>,
    key: String,
}

struct Group {
    keys: Vec<V<'static>>,
    count: usize,
    accs: Vec<StatAcc>,
}

/// One aggregate of one group: `n` values seen; `texts` their distinct texts (`values`,
/// `dc`); the least and greatest number (NaN left out) and text (`min`, `max`).
#[derive(Clone, Default)]
struct StatAcc {
    n: usize,
    texts: BTreeSet<String>,
    num: Option<(f64, f64)>,
    text: Option<(String, String)>,
}

impl StatAcc {
    fn add(&mut self, agg: &Agg, v: &V) {
        self.n += 1;
        let text = || v.text().ok().flatten().unwrap_or_default();
        match agg {
            Agg::Values(_) | Agg::Dc(_) => {
                let t = text();
                if !self.texts.contains(t.as_ref()) {
                    self.texts.insert(t.into_owned());
                }
            }
            Agg::Min(_) | Agg::Max(_) => {
                if let V::Num { n, .. } = v {
                    if !n.is_nan() {
                        self.num = Some(match self.num {
                            Some((lo, hi)) => (lo.min(*n), hi.max(*n)),
                            None => (*n, *n),
                        });
                    }
                }
                let t = text();
                match &mut self.text {
                    Some((lo, hi)) => {
                        if t.as_ref() < lo.as_str() {
                            *lo = t.to_string();
                        }
                        if t.as_ref() > hi.as_str() {
                            *hi = t.into_owned();
                        }
                    }
                    None => self.text = Some((t.to_string(), t.into_owned())),
                }
            }
            Agg::Count | Agg::CountOf(_) => {}
        }
    }

    fn result(self, agg: &Agg, count: usize) -> Option<Value> {
        match agg {
            Agg::Count => Some(Value::from(count)),
            Agg::CountOf(_) => Some(Value::from(self.n)),
            Agg::Dc(_) => Some(Value::from(self.texts.len())),
            Agg::Values(_) => (!self.texts.is_empty())
                .then(|| Value::Array(self.texts.into_iter().map(Value::String).collect())),
            Agg::Min(_) | Agg::Max(_) => {
                let min = matches!(agg, Agg::Min(_));
                match (self.num, self.text) {
                    (Some((lo, hi)), _) => Some(json_num(if min { lo } else { hi })),
                    (None, Some((lo, hi))) => Some(Value::String(if min { lo } else { hi })),
                    (None, None) => None,
                }
            }
        }
    }
}

impl<'p> Stats<'p> {
    pub fn new(aggs: &'p [(String, Agg)], by: &'p [String]) -> Stats<'p> {
        let mut s = Stats {
            aggs,
            by,
            groups: Vec::new(),
            index: HashMap::new(),
            key: String::new(),
        };
        if by.is_empty() {
            s.groups.push(Group {
                keys: Vec::new(),
                count: 0,
                accs: vec![StatAcc::default(); aggs.len()],
            });
            s.index.insert(String::new(), 0);
        }
        s
    }

    pub fn push(&mut self, row: &Row) {
        fn agg_field(a: &Agg) -> Option<&str> {
            match a {
                Agg::Count => None,
                Agg::CountOf(f) | Agg::Min(f) | Agg::Max(f) | Agg::Values(f) | Agg::Dc(f) => {
                    Some(f.as_str())
                }
            }
        }
        // Each by-field value (every value of a multivalue field) makes a group key.
        let single: Vec<V> = self.by.iter().map(|b| field(row, b)).collect();
        let combos: Vec<Vec<V>> = if single.iter().all(|v| !matches!(v, V::Null | V::Multi(_))) {
            vec![single]
        } else {
            let mut combos: Vec<Vec<V>> = vec![Vec::new()];
            for v in single {
                let opts: Vec<V> = match v {
                    V::Null => Vec::new(),
                    V::Multi(xs) => xs.into_iter().map(|x| V::Str(Cow::Owned(x))).collect(),
                    v => vec![v],
                };
                combos = combos
                    .into_iter()
                    .flat_map(|c| {
                        opts.iter().map(move |o| {
                            let mut c = c.clone();
                            c.push(o.clone());
                            c
                        })
                    })
                    .collect();
            }
            combos
        };
        for keys in combos {
            self.key.clear();
            for k in &keys {
                push_key(&mut self.key, &k.text().ok().flatten().unwrap_or_default());
            }
            let gi = match self.index.get(self.key.as_str()) {
                Some(gi) => *gi,
                None => {
                    self.groups.push(Group {
                        keys: keys.into_iter().map(owned).collect(),
                        count: 0,
                        accs: vec![StatAcc::default(); self.aggs.len()],
                    });
                    self.index.insert(self.key.clone(), self.groups.len() - 1);
                    self.groups.len() - 1
                }
            };
            let g = &mut self.groups[gi];
            g.count += 1;
            for ((_, a), acc) in self.aggs.iter().zip(&mut g.accs) {
                if let Some(f) = agg_field(a) {
                    match field(row, f) {
                        V::Null => {}
                        V::Multi(xs) => {
                            for s in xs {
                                let v = match number(&s) {
                                    Some(n) => V::Num {
                                        n,
                                        text: Cow::Owned(s),
                                        json: false,
                                    },
                                    None => V::Str(Cow::Owned(s)),
                                };
                                acc.add(a, &v);
                            }
                        }
                        v => acc.add(a, &v),
                    }
                }
            }
        }
    }

    pub fn finish(mut self) -> Vec<Row> {
        self.groups.sort_by(|a, b| {
            a.keys
                .iter()
                .zip(&b.keys)
                .map(|(x, y)| order(x, y))
                .find(|o| *o != Ordering::Equal)
                .unwrap_or(Ordering::Equal)
        });
        self.groups
            .into_iter()
            .map(|g| {
                let mut out = Row::new();
                for (b, k) in self.by.iter().zip(g.keys) {
                    if let Some(v) = to_json(k) {
                        out.insert(b.clone(), v);
                    }
                }
                for ((name, a), acc) in self.aggs.iter().zip(g.accs) {
                    if let Some(v) = acc.result(a, g.count) {
                        out.insert(name.clone(), v);
                    }
                }
                out
            })
            .collect()
    }
}

/// One row through one streaming command (`search`, `where`, `eval`): `None` = dropped.
fn step<'a>(
    cmd: &Command,
    mut r: Cow<'a, Row>,
    ctx: &mut Ctx,
) -> Result<Option<Cow<'a, Row>>, String> {
    match cmd {
        Command::Search(e) => Ok(search_match(e, &r, ctx).then_some(r)),
        Command::Where(e) => {
            let keep = match eval(e, &r, ctx)? {
                V::Bool(b) => b,
                V::Null => false,
                other => {
                    return Err(format!(
                        "where: the expression {e} is not a boolean (got {other:?})"
                    ))
                }
            };
            Ok(keep.then_some(r))
        }
        Command::Eval(sets) => {
            for (f, e) in sets {
                // `f=coalesce(f, …)` over a text value leaves it as it is.
                if let Expr::Call(Func::Coalesce, args) = e {
                    if let Some(Expr::Field(g)) = args.first() {
                        if g == f && f != "_time" && matches!(get(&r, f), Some(Value::String(_))) {
                            continue;
                        }
                    }
                }
                let v = eval(e, &r, ctx)?;
                if let V::Bool(_) = v {
                    return Err(format!(
                        "eval {f}: fields cannot be assigned a boolean result; use if(…)"
                    ));
                }
                if unchanged(&v, get(&r, f)) {
                    continue;
                }
                match to_json(v) {
                    Some(j) => {
                        r.to_mut().insert(f.clone(), j);
                    }
                    None => {
                        r.to_mut().remove(f);
                    }
                }
            }
            Ok(Some(r))
        }
        _ => Ok(Some(r)),
    }
}

fn streaming(c: &Command) -> bool {
    matches!(c, Command::Search(_) | Command::Where(_) | Command::Eval(_))
}

pub fn run(cmds: &[Command], events: &[Row], now_ns: i128) -> Result<Vec<Row>, String> {
    run_with(cmds, &precompile(cmds), events, now_ns)
}

/// `run` with the pipeline's literal patterns compiled beforehand (`precompile(cmds)`).
pub fn run_with(
    cmds: &[Command],
    literals: &Literals,
    events: &[Row],
    now_ns: i128,
) -> Result<Vec<Row>, String> {
    let mut ctx = Ctx::new(now_ns, literals);
    // The leading streaming commands take each event through in turn, with no row lists in
    // between. Should one fail, they run again command by command over all rows, so that
    // the error reported is the one a command-at-a-time run meets first.
    let k = cmds.iter().take_while(|c| streaming(c)).count();
    let mut rows: Vec<Cow<Row>> = Vec::new();
    let mut failed = false;
    'events: for ev in events {
        let mut r = Cow::Borrowed(ev);
        for c in &cmds[..k] {
            match step(c, r, &mut ctx) {
                Ok(Some(next)) => r = next,
                Ok(None) => continue 'events,
                Err(_) => {
                    failed = true;
                    break 'events;
                }
            }
        }
        rows.push(r);
    }
    if failed {
        rows = events.iter().map(Cow::Borrowed).collect();
        for c in &cmds[..k] {
            let mut out = Vec::new();
            for r in rows {
                out.extend(step(c, r, &mut ctx)?);
            }
            rows = out;
        }
    }
    run_rest(&cmds[k..], &mut ctx, rows)
}

/// The commands after the leading streaming ones, over the rows those kept.
fn run_rest(cmds: &[Command], ctx: &mut Ctx, mut rows: Vec<Cow<Row>>) -> Result<Vec<Row>, String> {
    for cmd in cmds {
        rows = match cmd {
            Command::Search(_) | Command::Where(_) | Command::Eval(_) => {
                let mut out = Vec::new();
                for r in rows {
                    out.extend(step(cmd, r, ctx)?);
                }
                out
            }
            Command::Stats { aggs, by } => {
                stats(&rows, aggs, by).into_iter().map(Cow::Owned).collect()
            }
            Command::Sort { limit, keys } => {
                rows.sort_by(|a, b| {
                    for k in keys {
                        let (x, y) = (field(a, &k.field), field(b, &k.field));
                        let o = match (&x, &y) {
                            (V::Null, V::Null) => Ordering::Equal,
                            (V::Null, _) => Ordering::Greater,
                            (_, V::Null) => Ordering::Less,
                            _ if k.desc => order(&y, &x),
                            _ => order(&x, &y),
                        };
                        if o != Ordering::Equal {
                            return o;
                        }
                    }
                    Ordering::Equal
                });
                if *limit > 0 {
                    rows.truncate(*limit);
                }
                rows
            }
            Command::Table(fields) => rows
                .into_iter()
                .map(|r| {
                    let mut out = Row::new();
                    for f in fields {
                        for name in wild_names(f, &r) {
                            if let Some(v) = get(&r, &name) {
                                out.insert(name, v.clone());
                            }
                        }
                    }
                    Cow::Owned(out)
                })
                .collect(),
            Command::Fields { remove, fields } => rows
                .into_iter()
                .map(|mut r| {
                    if *remove {
                        for f in fields {
                            for name in wild_names(f, &r) {
                                if r.contains_key(&name) {
                                    r.to_mut().remove(&name);
                                }
                            }
                        }
                        r
                    } else {
                        let mut out = Row::new();
                        for f in fields {
                            for name in wild_names(f, &r) {
                                if let Some(v) = get(&r, &name) {
                                    out.insert(name, v.clone());
                                }
                            }
                        }
                        Cow::Owned(out)
                    }
                })
                .collect(),
            Command::Head(n) => {
                rows.truncate(*n);
                rows
            }
        };
    }
    Ok(rows.into_iter().map(Cow::into_owned).collect())
}

/// A pipeline run one event at a time, for exports read as a stream: `keep` takes an event
/// through the leading streaming commands (`search`, `where`, `eval`), `push` hands what
/// survives to the rest, `finish` runs the rest. A `stats` right after the leading commands
/// folds events in as they come (memory grows with its groups); the other commands hold the
/// surviving rows. The first error met is the one reported.
pub struct Stream<'p> {
    ctx: Ctx<'p>,
    lead: &'p [Command],
    stats: Option<Stats<'p>>,
    rest: &'p [Command],
    kept: Vec<Row>,
}

impl<'p> Stream<'p> {
    pub fn new(cmds: &'p [Command], literals: &'p Literals, now_ns: i128) -> Stream<'p> {
        let k = cmds.iter().take_while(|c| streaming(c)).count();
        let (lead, mut rest) = cmds.split_at(k);
        let stats = match rest.first() {
            Some(Command::Stats { aggs, by }) => {
                rest = &rest[1..];
                Some(Stats::new(aggs, by))
            }
            _ => None,
        };
        Stream {
            ctx: Ctx::new(now_ns, literals),
            lead,
            stats,
            rest,
            kept: Vec::new(),
        }
    }

    /// The event after the leading streaming commands, or `None` when one drops it.
    pub fn keep<'a>(&mut self, ev: &'a Row) -> Result<Option<Cow<'a, Row>>, String> {
        let mut r = Cow::Borrowed(ev);
        for c in self.lead {
            match step(c, r, &mut self.ctx)? {
                Some(next) => r = next,
                None => return Ok(None),
            }
        }
        Ok(Some(r))
    }

    /// Does the result hold the events themselves (no `stats`, `table` or `fields` keeps
    /// a chosen set of fields)?
    pub fn outputs_input_rows(&self) -> bool {
        self.stats.is_none()
            && !self.rest.iter().any(|c| {
                matches!(
                    c,
                    Command::Stats { .. }
                        | Command::Table(_)
                        | Command::Fields { remove: false, .. }
                )
            })
    }

    /// Take an event that `keep` returned on through the rest of the pipeline.
    pub fn push(&mut self, row: Cow<'_, Row>) {
        match &mut self.stats {
            Some(s) => s.push(&row),
            None => self.kept.push(row.into_owned()),
        }
    }

    pub fn finish(mut self) -> Result<Vec<Row>, String> {
        let rows = match self.stats {
            Some(s) => s.finish(),
            None => self.kept,
        };
        if self.rest.is_empty() {
            return Ok(rows);
        }
        run_rest(
            self.rest,
            &mut self.ctx,
            rows.into_iter().map(Cow::Owned).collect(),
        )
    }
}

/// Fields read from events: every field referenced before the first `stats`, except those
/// an earlier `eval` assigned without reading them first.
pub fn input_fields(cmds: &[Command]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut defined = BTreeSet::new();
    fn sexpr(e: &SExpr, out: &mut Vec<String>) {
        match e {
            SExpr::And(xs) | SExpr::Or(xs) => xs.iter().for_each(|x| sexpr(x, out)),
            SExpr::Not(x) => sexpr(x, out),
            SExpr::Cmp { field, .. } | SExpr::In { field, .. } => out.push(field.clone()),
            SExpr::Term { .. } => out.push("_raw".into()),
            SExpr::Time { .. } => out.push("_time".into()),
        }
    }
    fn expr(e: &Expr, out: &mut Vec<String>) {
        match e {
            Expr::Field(f) => out.push(f.clone()),
            Expr::Str(_) | Expr::Num(..) => {}
            Expr::Not(x) => expr(x, out),
            Expr::And(xs) | Expr::Or(xs) => xs.iter().for_each(|x| expr(x, out)),
            Expr::Cmp(_, a, b) => {
                expr(a, out);
                expr(b, out);
            }
            Expr::Call(_, args) => args.iter().for_each(|a| expr(a, out)),
        }
    }
    for c in cmds {
        let mut used = Vec::new();
        match c {
            Command::Search(e) => sexpr(e, &mut used),
            Command::Where(e) => expr(e, &mut used),
            Command::Eval(sets) => {
                for (f, e) in sets {
                    let mut u = Vec::new();
                    expr(e, &mut u);
                    for x in u {
                        if !defined.contains(&x) {
                            seen.insert(x);
                        }
                    }
                    defined.insert(f.clone());
                }
            }
            Command::Stats { aggs, by } => {
                for (_, a) in aggs {
                    if let Agg::CountOf(f)
                    | Agg::Min(f)
                    | Agg::Max(f)
                    | Agg::Values(f)
                    | Agg::Dc(f) = a
                    {
                        used.push(f.clone());
                    }
                }
                used.extend(by.iter().cloned());
                seen.extend(used.into_iter().filter(|x| !defined.contains(x)));
                break;
            }
            Command::Sort { keys, .. } => used.extend(keys.iter().map(|k| k.field.clone())),
            Command::Table(fs) | Command::Fields { fields: fs, .. } => {
                used.extend(fs.iter().filter(|f| !f.contains('*')).cloned())
            }
            Command::Head(_) => {}
        }
        seen.extend(used.into_iter().filter(|x| !defined.contains(x)));
    }
    seen.into_iter().collect()
}
