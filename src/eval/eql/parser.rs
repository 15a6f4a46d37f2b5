//! Recursive-descent parser for EQL event queries (`<category> where <condition>`), after the
//! EQL syntax reference (elastic/elasticsearch `docs/reference/eql/syntax.asciidoc`).
//! Precedence, loosest first: `or` < `and` < `not` < comparison / function / `( … )`.
//! Keywords are lowercase, as in Elasticsearch's grammar. Errors name what was found and
//! what was expected, with line and column; nesting is capped at [`MAX_DEPTH`] so hostile
//! text cannot overflow the stack.

use super::ast::*;
use super::lexer::{lex, Tok};
use super::lucene::Regex;
use crate::diag::Span;
pub use crate::eval::syntax::{ParseError, MAX_DEPTH};
use crate::eval::syntax::{TokenStream, Wording};
use std::net::IpAddr;

const KEYWORDS: &[&str] = &[
    "and", "or", "not", "where", "in", "in~", "like", "like~", "regex", "regex~", "true", "false",
    "null", "any", "sequence", "sample", "join", "until", "by", "with",
];

/// Parse a whole query.
pub fn parse(src: &str) -> Result<Query, ParseError> {
    let mut p = Parser::new(src)?;
    let category = match p.ts.bump() {
        Some(Tok::Ident(w)) if w == "sequence" || w == "sample" || w == "join" => {
            p.ts.pos -= 1;
            return p.ts.fail(format!(
                "`{w}` queries are not supported; only event queries (`<category> where …`)"
            ));
        }
        Some(Tok::Ident(w)) if !w.contains('.') && !w.ends_with('~') && w != "where" => w,
        Some(Tok::Str(s)) => s,
        _ => {
            p.ts.pos = p.ts.pos.saturating_sub(1);
            return p
                .ts
                .err("an event category (`process`, `network`, `any`, …)");
        }
    };
    if !p.ts.eat_word("where") {
        return p.ts.err("`where`");
    }
    let condition = p.expr()?;
    p.finish()?;
    Ok(Query {
        category,
        condition,
    })
}

/// Parse a bare condition (what follows `where`).
pub fn parse_condition(src: &str) -> Result<Expr, ParseError> {
    let mut p = Parser::new(src)?;
    let e = p.expr()?;
    p.finish()?;
    Ok(e)
}

struct Parser {
    ts: TokenStream<Tok>,
}

impl Parser {
    fn new(src: &str) -> Result<Parser, ParseError> {
        let wording = Wording {
            end: "end of query",
            nesting: "expression nested",
        };
        Ok(Parser {
            ts: TokenStream::new(lex(src)?, src, wording),
        })
    }
    fn finish(&self) -> Result<(), ParseError> {
        if !self.ts.at_end() {
            if self.ts.peek() == Some(&Tok::Punct("|")) {
                return self.ts.fail("pipes are not supported".into());
            }
            return self.ts.err("`and`, `or` or the end of the query");
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Expr, ParseError> {
        self.ts.enter()?;
        let r = self.or();
        self.ts.leave();
        r
    }
    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut v = vec![self.and()?];
        while self.ts.eat_word("or") {
            v.push(self.and()?);
        }
        Ok(if v.len() == 1 {
            v.pop().unwrap_or(Expr::Bool(false))
        } else {
            Expr::Or(v)
        })
    }
    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut v = vec![self.not()?];
        while self.ts.eat_word("and") {
            v.push(self.not()?);
        }
        Ok(if v.len() == 1 {
            v.pop().unwrap_or(Expr::Bool(true))
        } else {
            Expr::And(v)
        })
    }
    fn not(&mut self) -> Result<Expr, ParseError> {
        if self.ts.eat_word("not") {
            self.ts.enter()?;
            let inner = self.not();
            self.ts.leave();
            return Ok(Expr::Not(Box::new(inner?)));
        }
        self.primary()
    }
    fn primary(&mut self) -> Result<Expr, ParseError> {
        if self.ts.eat_punct("(") {
            let e = self.expr()?;
            self.ts.expect_punct(")")?;
            return Ok(e);
        }
        if self.ts.eat_word("true") {
            return Ok(Expr::Bool(true));
        }
        if self.ts.eat_word("false") {
            return Ok(Expr::Bool(false));
        }
        if let (Some(Tok::Ident(_)), Some(Tok::Punct("("))) = (self.ts.peek(), self.ts.peek_at(1)) {
            return self.func();
        }
        self.comparison()
    }
    fn field(&mut self) -> Result<Field, ParseError> {
        let span = self.ts.span();
        match self.ts.peek() {
            Some(Tok::Ident(w)) if !KEYWORDS.contains(&w.as_str()) && !w.ends_with('~') => {
                let name = w.clone();
                self.ts.pos += 1;
                Ok(Field { name, span })
            }
            Some(Tok::Field(w)) => {
                let name = w.clone();
                self.ts.pos += 1;
                Ok(Field { name, span })
            }
            _ => self.ts.err("a field name"),
        }
    }
    fn literal(&mut self) -> Result<(Lit, Span), ParseError> {
        let span = self.ts.span();
        let lit = match self.ts.peek() {
            Some(Tok::Str(s)) => Lit::Str(s.clone()),
            Some(Tok::Num(n)) => match n.parse::<f64>() {
                Ok(v) if v.is_finite() => Lit::Num(n.clone(), v),
                _ => return self.ts.fail(format!("number {n} is out of range")),
            },
            Some(Tok::Ident(w)) if w == "true" => Lit::Bool(true),
            Some(Tok::Ident(w)) if w == "false" => Lit::Bool(false),
            Some(Tok::Ident(w)) if w == "null" => Lit::Null,
            Some(Tok::Ident(_) | Tok::Field(_)) => {
                return self.ts.fail(
                    "a field cannot be compared to another field; compare it to a literal".into(),
                )
            }
            _ => return self.ts.err("a string, number, `true`, `false` or `null`"),
        };
        self.ts.pos += 1;
        Ok((lit, span))
    }
    /// One literal, or a parenthesized list of them.
    fn values(&mut self, list_ok: bool) -> Result<Vec<(Lit, Span)>, ParseError> {
        if self.ts.peek() == Some(&Tok::Punct("(")) {
            if !list_ok {
                return self
                    .ts
                    .err("a single value (lists need `in`, `:`, `like` or `regex`)");
            }
            self.ts.pos += 1;
            let mut v = vec![self.literal()?];
            while self.ts.eat_punct(",") {
                v.push(self.literal()?);
            }
            self.ts.expect_punct(")")?;
            Ok(v)
        } else {
            Ok(vec![self.literal()?])
        }
    }
    fn comparison(&mut self) -> Result<Expr, ParseError> {
        let field = self.field()?;
        let span = self.ts.span();
        let op = match self.ts.bump() {
            Some(Tok::Punct("==")) => Op::Eq,
            Some(Tok::Punct("!=")) => Op::Ne,
            Some(Tok::Punct("<")) => Op::Lt,
            Some(Tok::Punct("<=")) => Op::Le,
            Some(Tok::Punct(">")) => Op::Gt,
            Some(Tok::Punct(">=")) => Op::Ge,
            Some(Tok::Punct(":")) => Op::Colon,
            Some(Tok::Ident(w)) => match w.as_str() {
                "in" => Op::In {
                    ci: false,
                    negated: false,
                },
                "in~" => Op::In {
                    ci: true,
                    negated: false,
                },
                "not" => match self.ts.bump() {
                    Some(Tok::Ident(w)) if w == "in" || w == "in~" => Op::In {
                        ci: w == "in~",
                        negated: true,
                    },
                    _ => {
                        self.ts.pos -= 1;
                        return self.ts.err("`in` or `in~` after `not`");
                    }
                },
                "like" => Op::Like { ci: false },
                "like~" => Op::Like { ci: true },
                "regex" => Op::Regex { ci: false },
                "regex~" => Op::Regex { ci: true },
                _ => {
                    self.ts.pos -= 1;
                    return self.ts.err("a comparison operator");
                }
            },
            _ => {
                self.ts.pos -= 1;
                return self.ts.err("a comparison operator");
            }
        };
        if matches!(op, Op::In { .. }) && self.ts.peek() != Some(&Tok::Punct("(")) {
            return self.ts.err(&format!("`(` after `{}`", op.text()));
        }
        let list_ok = matches!(
            op,
            Op::In { .. } | Op::Colon | Op::Like { .. } | Op::Regex { .. }
        );
        let values = self.values(list_ok)?;
        let strings_only = matches!(op, Op::Colon | Op::Like { .. } | Op::Regex { .. });
        let ordered = matches!(op, Op::Lt | Op::Le | Op::Gt | Op::Ge);
        for (v, at) in &values {
            let bad = match v {
                Lit::Str(_) => None,
                Lit::Null if matches!(op, Op::Eq | Op::Ne) => None,
                Lit::Null => Some("`null` can only be compared with `==` or `!=`"),
                _ if strings_only => Some("this operator only compares strings"),
                Lit::Bool(_) if ordered => Some("booleans have no order"),
                _ => None,
            };
            if let Some(m) = bad {
                return Err(ParseError {
                    too_deep: false,
                    message: format!("{m} (`{}`)", op.text()),
                    span: *at,
                });
            }
        }
        let mut regexes = Vec::new();
        if let Op::Regex { ci } = op {
            for (v, at) in &values {
                if let Lit::Str(p) = v {
                    regexes.push(Regex::new(p, ci).map_err(|e| ParseError {
                        too_deep: false,
                        message: format!("bad regular expression {p:?}: {e}"),
                        span: *at,
                    })?);
                }
            }
        }
        Ok(Expr::Cmp(Cmp {
            field,
            op,
            values: values.into_iter().map(|(v, _)| v).collect(),
            regexes,
            span,
        }))
    }
    fn func(&mut self) -> Result<Expr, ParseError> {
        let span = self.ts.span();
        let Some(Tok::Ident(name)) = self.ts.bump() else {
            self.ts.pos -= 1;
            return self.ts.err("a function name");
        };
        let (base, ci) = match name.strip_suffix('~') {
            Some(b) => (b.to_string(), true),
            None => (name.clone(), false),
        };
        // Function names resolve case-insensitively (Elasticsearch's FunctionRegistry
        // normalizes them), so `startswith` is `startsWith`.
        let kind = match base.to_ascii_lowercase().as_str() {
            "startswith" => FuncKind::StartsWith,
            "endswith" => FuncKind::EndsWith,
            "stringcontains" => FuncKind::StringContains,
            "cidrmatch" => FuncKind::CidrMatch,
            _ => {
                self.ts.pos -= 1;
                return self.ts.fail(format!(
                    "unsupported function `{name}` (supported: cidrmatch, startsWith, endsWith, stringContains, each with a `~` form but cidrmatch)"
                ));
            }
        };
        if ci && kind == FuncKind::CidrMatch {
            self.ts.pos -= 1;
            return self.ts.fail("cidrmatch has no `~` form".into());
        }
        self.ts.expect_punct("(")?;
        let field = self.field()?;
        let mut args = Vec::new();
        while self.ts.eat_punct(",") {
            args.push(self.literal()?);
        }
        let close = self.ts.span();
        self.ts.expect_punct(")")?;
        let args = if kind == FuncKind::CidrMatch {
            if args.is_empty() {
                return Err(ParseError {
                    too_deep: false,
                    message: "cidrmatch needs at least one CIDR block".into(),
                    span: close,
                });
            }
            let mut nets = Vec::new();
            for (v, at) in args {
                let parsed = match &v {
                    Lit::Str(s) => parse_cidr(s),
                    _ => None,
                };
                match parsed {
                    Some(n) => nets.push(n),
                    None => {
                        return Err(ParseError {
                            too_deep: false,
                            message: format!(
                                "cidrmatch takes CIDR strings such as \"10.0.0.0/8\"; got {v:?}"
                            ),
                            span: at,
                        })
                    }
                }
            }
            FuncArgs::Cidrs(nets)
        } else {
            // Elasticsearch's startsWith/endsWith/stringContains take (source, substring).
            match <[_; 1]>::try_from(args) {
                Ok([(Lit::Str(s), _)]) => FuncArgs::Text(s),
                Ok([(_, at)]) => {
                    return Err(ParseError {
                        too_deep: false,
                        message: format!(
                            "{base} compares strings; the second argument must be a string"
                        ),
                        span: at,
                    })
                }
                Err(_) => {
                    return Err(ParseError {
                        too_deep: false,
                        message: format!("{base} takes two arguments: a field and a string"),
                        span,
                    })
                }
            }
        };
        Ok(Expr::Func(Func {
            kind,
            ci,
            field,
            args,
            span,
        }))
    }
}

/// An IP address as Elasticsearch's `ip` type holds it: an IPv4-mapped IPv6 address
/// (`::ffff:a.b.c.d`) is the IPv4 address `a.b.c.d` (InetAddresses / InetAddressPoint store
/// every address as 16 bytes, IPv4 as mapped IPv6, and render it back as IPv4).
pub fn normalize_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// `a.b.c.d/n` or `v6/n`; a mapped IPv6 block with a prefix of 96 or more is its IPv4 block.
pub fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (base, len) = s.split_once('/')?;
    let ip: IpAddr = base.parse().ok()?;
    if !len.chars().all(|c| c.is_ascii_digit()) || len.is_empty() || len.len() > 3 {
        return None;
    }
    let len: u8 = len.parse().ok()?;
    match ip {
        IpAddr::V4(_) if len <= 32 => Some((ip, len)),
        IpAddr::V6(v6) if len <= 128 => match v6.to_ipv4_mapped() {
            Some(v4) if len >= 96 => Some((IpAddr::V4(v4), len - 96)),
            _ => Some((ip, len)),
        },
        _ => None,
    }
}
