//! Eval expressions (`where`, `eval`): three-valued logic, comparisons and the function
//! calls, with the regexes of literal patterns compiled once.

use super::value::*;
use crate::eval::spl::ast::*;
use crate::eval::spl::pcre;
use regex::Regex;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::net::IpAddr;

pub struct Ctx<'p> {
    pub now_ns: i128,
    /// The last `replace()` replacement text and its regex-crate form (`replacement`): the
    /// same literal each event.
    rep: Option<(String, String)>,
    cache: HashMap<String, Regex>,
    /// Regexes of the `match`/`replace`/`like` calls whose pattern is a string literal,
    /// compiled before the run.
    literal: &'p Literals,
}

pub use crate::eval::spl::pcre::Literals;

impl<'p> Ctx<'p> {
    pub fn new(now_ns: i128, literal: &'p Literals) -> Ctx<'p> {
        Ctx {
            now_ns,
            rep: None,
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

pub(super) fn truth(v: V, what: &str) -> Result<Option<bool>, String> {
    match v {
        V::Bool(b) => Ok(Some(b)),
        V::Null => Ok(None),
        other => Err(format!("{what} needs a boolean, got {other:?}")),
    }
}

pub(super) fn compare(op: CmpOp, a: V, b: V) -> Result<V<'static>, String> {
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
pub(super) fn replacement(r: &str) -> String {
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

pub(super) fn cidr_match(cidr: &str, ip: &str) -> Result<bool, String> {
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

pub(super) fn call<'a>(
    f: Func,
    args: &'a [Expr],
    row: &'a Row,
    ctx: &mut Ctx,
) -> Result<V<'a>, String> {
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
        // "returns the time that the search was started" (Search Reference, Date and Time
        // functions: now()), in epoch seconds as `_time`
        Func::Now => V::num(ctx.now_ns as f64 / 1e9),
        // relative_time(X, Y): "Y is a relative time specifier … adjusts the time X" (Date
        // and Time functions); the offsets of `earliest=` (`-5d`), without snap-to units
        Func::RelativeTime => {
            let t = match eval(&args[0], row, ctx)? {
                V::Null => return Ok(V::Null),
                V::Num { n, .. } => n,
                other => return Err(format!("relative_time(): {other:?} is not a time")),
            };
            let Some(spec) = arg(1, ctx)? else {
                return Ok(V::Null);
            };
            match crate::eval::spl::values::time_spec(&spec)
                .map_err(|e| format!("relative_time(): {e}"))?
            {
                TimeSpec::Relative(ns) => V::num(t + ns as f64 / 1e9),
                TimeSpec::Epoch(_) => {
                    return Err(format!(
                        "relative_time(): {spec:?} is no relative time specifier"
                    ))
                }
            }
        }
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
                let rep = match ctx.rep.take() {
                    Some((from, to)) if *from == *r => (from, to),
                    _ => (r.to_string(), replacement(&r)),
                };
                let re = ctx
                    .call_regex(&p, false)
                    .map_err(|e| format!("replace(): {e}"))?;
                let out = V::Str(match s {
                    Cow::Borrowed(b) => re.replace_all(b, rep.1.as_str()),
                    Cow::Owned(o) => Cow::Owned(re.replace_all(&o, rep.1.as_str()).into_owned()),
                });
                ctx.rep = Some(rep);
                out
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
