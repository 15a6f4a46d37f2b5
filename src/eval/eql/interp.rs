//! Evaluating a parsed EQL condition against one event (a nested ECS JSON document, or a
//! flat object whose keys are dotted paths).
//!
//! Semantics are Elasticsearch's, which runs an event query as a Query DSL filter
//! (x-pack/plugin/eql `planner/QueryTranslator` over ql `ExpressionTranslators`):
//! - A missing or `null` field has no value, so every comparison on it is false — a `term`,
//!   `wildcard`, `regexp`, `range` or `prefix` query matches only documents that hold a value.
//! - `not` is `bool.must_not`, so `not <false comparison>` is true; `!=` is built as
//!   `NotEquals`, translated to `NotQuery(TermQuery)`, so `missing != "x"` is TRUE, and
//!   `not in` is `Not(In)` (EQL `ExpressionBuilder`). `== null` / `!= null` test whether the
//!   field has a value (EQL syntax reference, "Check if a field exists").
//! - Multi-valued fields (arrays) match when any value matches (Lucene term semantics).
//! - `==`, `!=`, `in`, `like`, `regex`, `startsWith`, `endsWith`, `stringContains` and string
//!   `<`…`>=` are case-sensitive; `:`, `in~`, `like~`, `regex~` and the `~` functions fold
//!   ASCII letters only: Elasticsearch's AutomatonQueries.toCaseInsensitiveChar leaves every
//!   code point above 128 as it is, so `É` ≠ `é` and the Kelvin sign ≠ `k`.
//! - `:` and `like` patterns: `*` any run, `?` one character, `\` escapes the next
//!   character (Lucene WildcardQuery; a trailing `\` is literal).
//! - `*.ip` fields are ECS `ip` fields: `==`, `in`, `:` and the order operators compare
//!   parsed addresses, an IPv4-mapped IPv6 address being its IPv4 form; `cidrmatch` tests
//!   membership of the parsed address (a `terms` query of CIDR blocks on the ip field).
//! - The query's category must be one of the event's `event.category` values (a term query
//!   on `event.category`); `any` matches every event, with or without a category.

use super::ast::*;
use super::parser::normalize_ip;
use serde_json::Value;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::net::IpAddr;

/// The values a dotted path reaches: nested objects, flat dotted keys, or any mix of them;
/// arrays are flattened; `null`s and objects are not values.
pub fn lookup<'a>(event: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut out = Vec::new();
    any_value(event, path, &mut |v| {
        out.push(v);
        false
    });
    out
}

/// A small stack that lives on the call stack until it outgrows it.
struct Stack<T: Copy, const N: usize> {
    inline: [Option<T>; N],
    len: usize,
    spill: Vec<T>,
}

impl<T: Copy, const N: usize> Stack<T, N> {
    fn new() -> Self {
        Stack {
            inline: [None; N],
            len: 0,
            spill: Vec::new(),
        }
    }
    fn push(&mut self, x: T) {
        if self.len < N {
            self.inline[self.len] = Some(x);
            self.len += 1;
        } else {
            self.spill.push(x);
        }
    }
    fn pop(&mut self) -> Option<T> {
        if let Some(x) = self.spill.pop() {
            return Some(x);
        }
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        self.inline[self.len]
    }
}

/// Objects up to this many keys are scanned rather than probed.
const SCAN: usize = 8;

/// Does `f` hold for any value `path` reaches (the values of `lookup`, in its order)? Stops
/// at the first that does; allocates nothing for ordinary documents. A state is a value and
/// the byte offset where the rest of the path starts (`path.len() + 1`: the path is used
/// up); the keys tried at an object are the runs of whole segments from there, so the key
/// for segments `i..k` is the path's own slice, never a joined copy.
pub fn any_value<'a>(event: &'a Value, path: &str, f: &mut dyn FnMut(&'a Value) -> bool) -> bool {
    let done = path.len() + 1;
    let mut work: Stack<(&'a Value, usize), 8> = Stack::new();
    work.push((event, 0));
    while let Some((v, i)) = work.pop() {
        match v {
            Value::Array(items) => {
                for x in items.iter().rev() {
                    work.push((x, i));
                }
            }
            _ if i == done => match v {
                Value::Null | Value::Object(_) => {}
                leaf => {
                    if f(leaf) {
                        return true;
                    }
                }
            },
            Value::Object(m) => {
                // candidate keys longest first, so the shortest pops first
                let rest = &path[i..];
                if m.len() <= SCAN {
                    // a small object: one pass comparing its keys beats hashing each candidate
                    let mut hits: [(usize, Option<&'a Value>); SCAN] = [(0, None); SCAN];
                    let mut n = 0;
                    for (k, child) in m {
                        // length and boundary first: they read no key bytes (a cache miss
                        // each in a large batch of documents)
                        let l = k.len();
                        if (l == rest.len() || (l < rest.len() && rest.as_bytes()[l] == b'.'))
                            && rest.as_bytes()[..l] == *k.as_bytes()
                        {
                            // sorted by length, longest first (keys differ, so lengths do)
                            let mut at = n;
                            while at > 0 && hits[at - 1].0 < l {
                                hits[at] = hits[at - 1];
                                at -= 1;
                            }
                            hits[at] = (l, Some(child));
                            n += 1;
                        }
                    }
                    for &(l, child) in &hits[..n] {
                        if let Some(child) = child {
                            work.push((child, if l == rest.len() { done } else { i + l + 1 }));
                        }
                    }
                } else {
                    if let Some(child) = m.get(rest) {
                        work.push((child, done));
                    }
                    for (j, _) in rest.rmatch_indices('.') {
                        if let Some(child) = m.get(&rest[..j]) {
                            work.push((child, i + j + 1));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    false
}

/// ASCII-only case folding, as Elasticsearch's case-insensitive queries do.
pub fn ascii_fold(s: &str) -> String {
    s.chars().map(|c| c.to_ascii_lowercase()).collect()
}

pub fn parse_ip(s: &str) -> Option<IpAddr> {
    s.parse::<IpAddr>().ok().map(normalize_ip)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum G {
    Lit(char),
    One,
    Many,
}

fn glob_tokens(p: &str) -> Vec<G> {
    let mut out = Vec::new();
    let mut it = p.chars().peekable();
    while let Some(c) = it.next() {
        out.push(match c {
            '*' => G::Many,
            '?' => G::One,
            '\\' => G::Lit(it.next().unwrap_or('\\')),
            c => G::Lit(c),
        });
    }
    out
}

/// Wildcard match of the whole value; iterative (greedy with backtrack to the last `*`).
pub fn glob(pattern: &str, value: &str, ci: bool) -> bool {
    let (p, s): (Cow<str>, Cow<str>) = if ci {
        (ascii_fold(pattern).into(), ascii_fold(value).into())
    } else {
        (pattern.into(), value.into())
    };
    // folding before tokenizing is safe: `*`, `?` and `\` have no case
    let p = glob_tokens(&p);
    let s: Vec<char> = s.chars().collect();
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        match p.get(pi) {
            Some(G::One) => {
                pi += 1;
                si += 1;
            }
            Some(G::Lit(c)) if *c == s[si] => {
                pi += 1;
                si += 1;
            }
            Some(G::Many) => {
                star = Some((pi, si));
                pi += 1;
            }
            _ => match star {
                Some((sp, ss)) => {
                    pi = sp + 1;
                    si = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|g| *g == G::Many)
}

fn num_text(n: &serde_json::Number) -> String {
    n.to_string()
}

/// `value == lit` with the field's type in mind; `ci` folds ASCII letters (strings only).
fn equals(field: &Field, v: &Value, lit: &Lit, ci: bool) -> bool {
    match (v, lit) {
        (Value::String(s), Lit::Str(l)) => {
            if field.is_ip() {
                parse_ip(s).is_some_and(|a| parse_ip(l) == Some(a))
            } else if ci {
                s.eq_ignore_ascii_case(l)
            } else {
                s == l
            }
        }
        (Value::Number(n), Lit::Num(_, x)) => n.as_f64() == Some(*x),
        // a numeric field queried with a string: Elasticsearch parses the string
        (Value::Number(n), Lit::Str(l)) => l.trim().parse::<f64>().ok() == n.as_f64(),
        // a keyword field queried with a number: the term is the number's text
        (Value::String(s), Lit::Num(t, _)) => s == t,
        (Value::Bool(b), Lit::Bool(x)) => b == x,
        (Value::Bool(b), Lit::Str(l)) => l == if *b { "true" } else { "false" },
        (Value::String(s), Lit::Bool(x)) => s == if *x { "true" } else { "false" },
        _ => false,
    }
}

fn order(field: &Field, v: &Value, lit: &Lit) -> Option<Ordering> {
    match (v, lit) {
        (Value::Number(n), Lit::Num(_, x)) => n.as_f64()?.partial_cmp(x),
        (Value::Number(n), Lit::Str(l)) => n.as_f64()?.partial_cmp(&l.trim().parse::<f64>().ok()?),
        (Value::String(s), Lit::Str(l)) if field.is_ip() => {
            let key = |ip: IpAddr| match ip {
                IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
                IpAddr::V6(a) => a.octets(),
            };
            Some(key(parse_ip(s)?).cmp(&key(parse_ip(l)?)))
        }
        // keyword order: UTF-8 bytes, i.e. code points, case-sensitive
        (Value::String(s), Lit::Str(l)) => Some(s.as_str().cmp(l.as_str())),
        (Value::String(s), Lit::Num(t, _)) => Some(s.as_str().cmp(t.as_str())),
        _ => None,
    }
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(num_text(n)),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn cmp_matches(c: &Cmp, event: &Value) -> bool {
    let path = c.field.name.as_str();
    let any = |f: &dyn Fn(&Value) -> bool| any_value(event, path, &mut |v| f(v));
    match c.op {
        Op::Eq | Op::Ne => {
            let hit = match &c.values[..] {
                [Lit::Null] => !any(&|_| true),
                [lit] => any(&|v| equals(&c.field, v, lit, false)),
                _ => false,
            };
            hit == (c.op == Op::Eq)
        }
        Op::Lt | Op::Le | Op::Gt | Op::Ge => {
            let Some(lit) = c.values.first() else {
                return false;
            };
            any(&|v| {
                order(&c.field, v, lit).is_some_and(|o| match c.op {
                    Op::Lt => o == Ordering::Less,
                    Op::Le => o != Ordering::Greater,
                    Op::Gt => o == Ordering::Greater,
                    _ => o != Ordering::Less,
                })
            })
        }
        Op::Colon => any(&|v| {
            c.values.iter().any(|lit| match lit {
                Lit::Str(p) if c.field.is_ip() && !p.contains(['*', '?']) => {
                    equals(&c.field, v, lit, false)
                }
                Lit::Str(p) => text_of(v).is_some_and(|s| glob(p, &s, true)),
                _ => false,
            })
        }),
        Op::In { ci, negated } => {
            let hit = any(&|v| c.values.iter().any(|lit| equals(&c.field, v, lit, ci)));
            hit != negated
        }
        Op::Like { ci } => any(&|v| {
            c.values.iter().any(|lit| match (v, lit) {
                (Value::String(s), Lit::Str(p)) => glob(p, s, ci),
                _ => false,
            })
        }),
        Op::Regex { .. } => any(&|v| match v {
            Value::String(s) => c.regexes.iter().any(|r| r.is_match(s)),
            _ => false,
        }),
    }
}

fn in_cidr(ip: IpAddr, (net, len): (IpAddr, u8)) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let m = if len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(len))
            };
            u32::from(a) & m == u32::from(b) & m
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let m = if len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(len))
            };
            u128::from(a) & m == u128::from(b) & m
        }
        _ => false,
    }
}

fn func_matches(f: &Func, event: &Value) -> bool {
    any_value(event, &f.field.name, &mut |v| match (&f.args, v) {
        (FuncArgs::Cidrs(nets), Value::String(s)) => {
            parse_ip(s).is_some_and(|ip| nets.iter().any(|n| in_cidr(ip, *n)))
        }
        (FuncArgs::Text(t), Value::String(s)) => {
            let (s, t): (Cow<str>, Cow<str>) = if f.ci {
                (ascii_fold(s).into(), ascii_fold(t).into())
            } else {
                (s.as_str().into(), t.as_str().into())
            };
            match f.kind {
                FuncKind::StartsWith => s.starts_with(&*t),
                FuncKind::EndsWith => s.ends_with(&*t),
                _ => s.contains(&*t),
            }
        }
        _ => false,
    })
}

/// Evaluate a condition. Iterative over `and`/`or` lists; recursion only through `not`,
/// whose depth the parser caps.
pub fn eval(e: &Expr, event: &Value) -> bool {
    match e {
        Expr::And(v) => v.iter().all(|x| eval(x, event)),
        Expr::Or(v) => v.iter().any(|x| eval(x, event)),
        Expr::Not(x) => !eval(x, event),
        Expr::Bool(b) => *b,
        Expr::Cmp(c) => cmp_matches(c, event),
        Expr::Func(f) => func_matches(f, event),
    }
}

/// Does the event belong to the category? `any` matches everything.
pub fn in_category(category: &str, event: &Value) -> bool {
    category == "any"
        || any_value(event, "event.category", &mut |v| {
            v.as_str() == Some(category)
        })
}
