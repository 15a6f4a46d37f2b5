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
use crate::eval::syntax::Loc;
use serde_json::Value;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BTreeSet;

mod expr;
mod search;
mod stats;
mod value;

pub use expr::{eval, precompile, Ctx, Literals};
pub use search::search_match;
use stats::stats;
pub use stats::Stats;
use value::*;
pub use value::{field, Row, V};

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

/// The row with only the named fields (`*` wildcards allowed), in the order named: what
/// `table` and `fields +` keep.
fn only(fields: &[String], r: &Row) -> Row {
    let mut out = Row::new();
    for f in fields {
        for name in wild_names(f, r) {
            if let Some(v) = get(r, &name) {
                out.insert(name, v.clone());
            }
        }
    }
    out
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
    // the length in decimal (what `write!` gives), without the formatting machinery
    key.push_str(itoa::Buffer::new().format(part.len()));
    key.push(':');
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
    run_with(cmds, &[], &precompile(cmds), events, now_ns)
}

/// `run` with the pipeline's literal patterns compiled beforehand (`precompile(cmds)`) and
/// the commands' locations (`Search::spans`, or none), which place a run-time error.
pub fn run_with(
    cmds: &[Command],
    spans: &[Loc],
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
        for (i, c) in cmds[..k].iter().enumerate() {
            let mut out = Vec::new();
            for r in rows {
                out.extend(step(c, r, &mut ctx).map_err(|e| Loc::place(spans.get(i), &e))?);
            }
            rows = out;
        }
    }
    run_rest(&cmds[k..], spans.get(k..).unwrap_or(&[]), &mut ctx, rows)
}

/// The commands after the leading streaming ones, over the rows those kept (`spans` are
/// these commands' locations, or none).
fn run_rest(
    cmds: &[Command],
    spans: &[Loc],
    ctx: &mut Ctx,
    mut rows: Vec<Cow<Row>>,
) -> Result<Vec<Row>, String> {
    for (i, cmd) in cmds.iter().enumerate() {
        rows = match cmd {
            Command::Search(_) | Command::Where(_) | Command::Eval(_) => {
                let mut out = Vec::new();
                for r in rows {
                    out.extend(step(cmd, r, ctx).map_err(|e| Loc::place(spans.get(i), &e))?);
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
                .map(|r| Cow::Owned(only(fields, &r)))
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
                        Cow::Owned(only(fields, &r))
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
    /// The commands' locations (`Search::spans`, or none), which place a run-time error.
    spans: &'p [Loc],
}

impl<'p> Stream<'p> {
    pub fn new(
        cmds: &'p [Command],
        spans: &'p [Loc],
        literals: &'p Literals,
        now_ns: i128,
    ) -> Stream<'p> {
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
            spans,
        }
    }

    /// The event after the leading streaming commands, or `None` when one drops it.
    pub fn keep<'a>(&mut self, ev: &'a Row) -> Result<Option<Cow<'a, Row>>, String> {
        let mut r = Cow::Borrowed(ev);
        for (i, c) in self.lead.iter().enumerate() {
            let next = step(c, r, &mut self.ctx).map_err(|e| Loc::place(self.spans.get(i), &e))?;
            match next {
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
        let from = self.spans.len().saturating_sub(self.rest.len());
        run_rest(
            self.rest,
            self.spans.get(from..).unwrap_or(&[]),
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

#[cfg(test)]
mod key_tests {
    /// A group key part is its length in decimal, `:` and the part, as `write!` wrote it.
    #[test]
    fn key_parts_are_length_prefixed() {
        for n in [0, 1, 9, 10, 99, 100, 12_345] {
            let part = "é".repeat(n / 2) + &"x".repeat(n % 2);
            let mut key = String::from("k");
            super::push_key(&mut key, &part);
            assert_eq!(key, format!("k{}:{part}", part.len()));
        }
    }
}
