//! The evaluator before its speed work (commit f55cb29), kept only as the reference the
//! property tests in `main.rs` compare the fast interpreter with. Not used at run time.
//!
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

#![allow(dead_code)]

use regex::Regex;
use rmmc::eval::spl::ast::*;
use rmmc::eval::spl::parser::number;
use rmmc::eval::spl::pcre;
use rmmc::eval::time::parse_rfc3339;
use serde_json::{Map, Value};
use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

pub type Row = Map<String, Value>;

/// An eval value.
#[derive(Clone, Debug, PartialEq)]
pub enum V {
    Null,
    Bool(bool),
    Str(String),
    /// A number with its text; `json` = written back as a JSON number (literals, counts,
    /// JSON numbers), else as the original text.
    Num {
        n: f64,
        text: String,
        json: bool,
    },
    Multi(Vec<String>),
}

impl V {
    fn num(n: f64) -> V {
        V::Num {
            n,
            text: fmt_num(n),
            json: true,
        }
    }
    fn text(&self) -> Result<Option<String>, String> {
        match self {
            V::Null => Ok(None),
            V::Bool(b) => Err(format!("a boolean ({b}) used as a value")),
            V::Str(s) => Ok(Some(s.clone())),
            V::Num { text, .. } => Ok(Some(text.clone())),
            V::Multi(_) => Err("multivalue fields are not supported in eval expressions".into()),
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

/// Read a field as an eval value.
pub fn field(row: &Row, name: &str) -> V {
    match row.get(name) {
        None | Some(Value::Null) => V::Null,
        Some(Value::Array(xs)) => V::Multi(xs.iter().filter_map(scalar_text).collect()),
        Some(Value::Number(n)) => V::Num {
            n: n.as_f64().unwrap_or(f64::NAN),
            text: n.to_string(),
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
                    text: s.clone(),
                    json: false,
                },
                None => V::Str(s.clone()),
            }
        }
        Some(other) => V::Str(scalar_text(other).unwrap_or_default()),
    }
}

fn to_json(v: V) -> Option<Value> {
    match v {
        V::Null => None,
        V::Bool(b) => Some(Value::Bool(b)),
        V::Str(s) => Some(Value::String(s)),
        V::Num { n, json: true, .. } => Some(json_num(n)),
        V::Num { text, .. } => Some(Value::String(text)),
        V::Multi(xs) => Some(Value::Array(xs.into_iter().map(Value::String).collect())),
    }
}

/// The string values of a field for search-command matching (none when missing).
fn values_of(row: &Row, name: &str) -> Vec<String> {
    if name == "_time" {
        if let Some(ns) = time_ns(row) {
            return vec![fmt_num(ns as f64 / 1e9)];
        }
    }
    match row.get(name) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(xs)) => xs.iter().filter_map(scalar_text).collect(),
        Some(v) => scalar_text(v).into_iter().collect(),
    }
}

/// The event's time in epoch nanoseconds.
fn time_ns(row: &Row) -> Option<i128> {
    match row.get("_time")? {
        Value::String(s) => parse_rfc3339(s).or_else(|| number(s).map(|n| (n * 1e9) as i128)),
        Value::Number(n) => n.as_f64().map(|n| (n * 1e9) as i128),
        _ => None,
    }
}

fn raw_text(row: &Row) -> String {
    if let Some(Value::String(s)) = row.get("_raw") {
        return s.clone();
    }
    let mut parts = Vec::new();
    for v in row.values() {
        match v {
            Value::Array(xs) => parts.extend(xs.iter().filter_map(scalar_text)),
            v => parts.extend(scalar_text(v)),
        }
    }
    parts.join(" ")
}

pub struct Ctx {
    pub now_ns: i128,
    cache: HashMap<String, Regex>,
}

impl Ctx {
    pub fn new(now_ns: i128) -> Ctx {
        Ctx {
            now_ns,
            cache: HashMap::new(),
        }
    }
    fn regex(&mut self, p: &str) -> Result<&Regex, String> {
        if !self.cache.contains_key(p) {
            let re = pcre::compile(p)?;
            self.cache.insert(p.to_string(), re);
        }
        Ok(&self.cache[p])
    }
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
        SExpr::Cmp { field, op, value } => {
            let vals = values_of(row, field);
            let hit = |v: &String| value.whole.is_match(v);
            match op {
                CmpOp::Eq => vals.iter().any(hit),
                CmpOp::Ne => !vals.is_empty() && !vals.iter().any(hit),
                _ => vals.iter().any(|v| {
                    let o = cmp_text(v, &value.text);
                    match op {
                        CmpOp::Lt => o == Ordering::Less,
                        CmpOp::Gt => o == Ordering::Greater,
                        CmpOp::Le => o != Ordering::Greater,
                        _ => o != Ordering::Less,
                    }
                }),
            }
        }
        SExpr::In { field, values } => values_of(row, field)
            .iter()
            .any(|v| values.iter().any(|w| w.whole.is_match(v))),
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

fn compare(op: CmpOp, a: V, b: V) -> Result<V, String> {
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

/// `like()` pattern: `%` any run, `_` one character, whole value, case-sensitive
/// (Search Reference: "Comparison and Conditional functions", like).
fn like_regex(p: &str) -> String {
    let mut out = String::from("(?s)\\A");
    for c in p.chars() {
        match c {
            '%' => out.push_str(".*"),
            '_' => out.push('.'),
            c => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    out.push_str("\\z");
    out
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

pub fn eval(e: &Expr, row: &Row, ctx: &mut Ctx) -> Result<V, String> {
    Ok(match e {
        Expr::Field(n) => field(row, n),
        Expr::Str(s) => V::Str(s.clone()),
        Expr::Num(n, t) => V::Num {
            n: *n,
            text: t.clone(),
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

fn call(f: Func, args: &[Expr], row: &Row, ctx: &mut Ctx) -> Result<V, String> {
    let name = f.name();
    let arg = |i: usize, ctx: &mut Ctx| -> Result<Option<String>, String> {
        eval(&args[i], row, ctx)?
            .text()
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
                    ctx.regex(&p)
                        .map_err(|e| format!("match(): {e}"))?
                        .is_match(&s),
                )
            } else {
                let Some(r) = arg(2, ctx)? else {
                    return Ok(V::Null);
                };
                let re = ctx.regex(&p).map_err(|e| format!("replace(): {e}"))?;
                V::Str(re.replace_all(&s, replacement(&r).as_str()).into_owned())
            }
        }
        Func::Like => {
            let (Some(s), Some(p)) = (arg(0, ctx)?, arg(1, ctx)?) else {
                return Ok(V::Null);
            };
            let re = ctx.regex(&like_regex(&p))?;
            V::Bool(re.is_match(&s))
        }
        Func::Lower | Func::Upper | Func::Len => {
            let Some(s) = arg(0, ctx)? else {
                return Ok(V::Null);
            };
            match f {
                Func::Lower => V::Str(s.to_lowercase()),
                Func::Upper => V::Str(s.to_uppercase()),
                _ => V::num(s.chars().count() as f64),
            }
        }
        Func::CidrMatch => {
            let (Some(c), Some(ip)) = (arg(0, ctx)?, arg(1, ctx)?) else {
                return Ok(V::Null);
            };
            V::Bool(cidr_match(&c, &ip)?)
        }
        // added after this reference was kept (the CIM mapping's time range); the property
        // tests generate neither
        Func::Now | Func::RelativeTime => {
            return Err(format!("{name}(): not in the reference evaluator"))
        }
    })
}

// ---- commands ----

/// Sort order of two present values: numbers first (numerically), then text.
fn order(a: &V, b: &V) -> Ordering {
    let key = |v: &V| -> (Option<f64>, String) {
        match v {
            V::Num { n, text, .. } => (Some(*n), text.clone()),
            V::Multi(xs) => {
                let t = xs.first().cloned().unwrap_or_default();
                (number(&t), t)
            }
            V::Str(s) => (None, s.clone()),
            V::Bool(b) => (None, b.to_string()),
            V::Null => (None, String::new()),
        }
    };
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

fn stats(rows: Vec<Row>, aggs: &[(String, Agg)], by: &[String]) -> Vec<Row> {
    struct Group {
        keys: Vec<V>,
        count: usize,
        vals: Vec<Vec<V>>,
    }
    let agg_field = |a: &Agg| -> Option<String> {
        match a {
            Agg::Count => None,
            Agg::CountOf(f) | Agg::Min(f) | Agg::Max(f) | Agg::Values(f) | Agg::Dc(f) => {
                Some(f.clone())
            }
        }
    };
    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<Vec<String>, usize> = HashMap::new();
    if by.is_empty() {
        groups.push(Group {
            keys: Vec::new(),
            count: 0,
            vals: vec![Vec::new(); aggs.len()],
        });
        index.insert(Vec::new(), 0);
    }
    for row in &rows {
        // Each by-field value (every value of a multivalue field) makes a group key.
        let mut combos: Vec<Vec<V>> = vec![Vec::new()];
        for b in by {
            let opts: Vec<V> = match field(row, b) {
                V::Null => Vec::new(),
                V::Multi(xs) => xs.into_iter().map(V::Str).collect(),
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
        for keys in combos {
            let kt: Vec<String> = keys
                .iter()
                .map(|k| k.text().ok().flatten().unwrap_or_default())
                .collect();
            let gi = *index.entry(kt).or_insert_with(|| {
                groups.push(Group {
                    keys: keys.clone(),
                    count: 0,
                    vals: vec![Vec::new(); aggs.len()],
                });
                groups.len() - 1
            });
            let g = &mut groups[gi];
            g.count += 1;
            for (i, (_, a)) in aggs.iter().enumerate() {
                if let Some(f) = agg_field(a) {
                    match field(row, &f) {
                        V::Null => {}
                        V::Multi(xs) => {
                            g.vals[i].extend(xs.into_iter().map(|s| match number(&s) {
                                Some(n) => V::Num {
                                    n,
                                    text: s,
                                    json: false,
                                },
                                None => V::Str(s),
                            }))
                        }
                        v => g.vals[i].push(v),
                    }
                }
            }
        }
    }
    groups.sort_by(|a, b| {
        a.keys
            .iter()
            .zip(&b.keys)
            .map(|(x, y)| order(x, y))
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal)
    });
    let text = |v: &V| v.text().ok().flatten().unwrap_or_default();
    groups
        .into_iter()
        .map(|g| {
            let mut out = Row::new();
            for (b, k) in by.iter().zip(g.keys) {
                if let Some(v) = to_json(k) {
                    out.insert(b.clone(), v);
                }
            }
            for ((name, a), vals) in aggs.iter().zip(g.vals) {
                let v = match a {
                    Agg::Count => Some(Value::from(g.count)),
                    Agg::CountOf(_) => Some(Value::from(vals.len())),
                    Agg::Dc(_) => Some(Value::from(
                        vals.iter().map(text).collect::<BTreeSet<_>>().len(),
                    )),
                    Agg::Values(_) => (!vals.is_empty()).then(|| {
                        Value::Array(
                            vals.iter()
                                .map(text)
                                .collect::<BTreeSet<_>>()
                                .into_iter()
                                .map(Value::String)
                                .collect(),
                        )
                    }),
                    Agg::Min(_) | Agg::Max(_) => {
                        let nums: Vec<f64> = vals
                            .iter()
                            .filter_map(|v| match v {
                                V::Num { n, .. } if !n.is_nan() => Some(*n),
                                _ => None,
                            })
                            .collect();
                        let min = matches!(a, Agg::Min(_));
                        if !nums.is_empty() {
                            let pick = if min { f64::min } else { f64::max };
                            nums.into_iter().reduce(pick).map(json_num)
                        } else {
                            let ts = vals.iter().map(text);
                            if min { ts.min() } else { ts.max() }.map(Value::String)
                        }
                    }
                };
                if let Some(v) = v {
                    out.insert(name.clone(), v);
                }
            }
            out
        })
        .collect()
}

pub fn run(cmds: &[Command], events: &[Row], now_ns: i128) -> Result<Vec<Row>, String> {
    let mut ctx = Ctx::new(now_ns);
    let mut rows: Vec<Row> = events.to_vec();
    for cmd in cmds {
        rows = match cmd {
            Command::Search(e) => rows
                .into_iter()
                .filter(|r| search_match(e, r, &ctx))
                .collect(),
            Command::Where(e) => {
                let mut out = Vec::new();
                for r in rows {
                    let keep = match eval(e, &r, &mut ctx)? {
                        V::Bool(b) => b,
                        V::Null => false,
                        other => {
                            return Err(format!(
                                "where: the expression {e} is not a boolean (got {other:?})"
                            ))
                        }
                    };
                    if keep {
                        out.push(r);
                    }
                }
                out
            }
            Command::Eval(sets) => {
                let mut out = Vec::with_capacity(rows.len());
                for mut r in rows {
                    for (f, e) in sets {
                        match eval(e, &r, &mut ctx)? {
                            V::Bool(_) => {
                                return Err(format!(
                                "eval {f}: fields cannot be assigned a boolean result; use if(…)"
                            ))
                            }
                            v => match to_json(v) {
                                Some(j) => {
                                    r.insert(f.clone(), j);
                                }
                                None => {
                                    r.remove(f);
                                }
                            },
                        }
                    }
                    out.push(r);
                }
                out
            }
            Command::Stats { aggs, by } => stats(rows, aggs, by),
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
                            if let Some(v) = r.get(&name) {
                                out.insert(name, v.clone());
                            }
                        }
                    }
                    out
                })
                .collect(),
            Command::Fields { remove, fields } => rows
                .into_iter()
                .map(|mut r| {
                    if *remove {
                        for f in fields {
                            for name in wild_names(f, &r) {
                                r.remove(&name);
                            }
                        }
                        r
                    } else {
                        let mut out = Row::new();
                        for f in fields {
                            for name in wild_names(f, &r) {
                                if let Some(v) = r.get(&name) {
                                    out.insert(name, v.clone());
                                }
                            }
                        }
                        out
                    }
                })
                .collect(),
            Command::Head(n) => {
                rows.truncate(*n);
                rows
            }
        };
    }
    Ok(rows)
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
