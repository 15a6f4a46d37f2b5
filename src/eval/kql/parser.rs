//! Recursive-descent parser for the KQL subset in `ast`. One function per precedence level
//! (`or` < `and` < comparison < unary < primary); errors say what was found and what was
//! expected, with the line and column; nesting is capped so hostile text cannot overflow the
//! stack.

use super::ast::*;
use super::lexer::{lex, Tok, Token};
use crate::diag::Span;
use std::fmt;

/// Deepest expression nesting accepted (emitted queries nest a handful of levels).
pub const MAX_DEPTH: usize = 128;

/// A flat chain `t0 op t1 op … tn` (and / or: associative, evaluated left to right with
/// short-circuit) as a balanced tree of depth log2(n) rather than a left-deep one of depth
/// n, so that a generated 20,000-term `or` chain cannot overflow the stack of the
/// evaluator, the binder or the importer, which all recurse on the tree. The terms keep their
/// order, so evaluation order (and hence short-circuit and errors) is unchanged; chains of up
/// to three terms keep the left-deep shape `(t0 op t1) op t2`.
fn balanced(mut terms: Vec<Expr>, op: fn(Box<Expr>, Box<Expr>) -> Expr) -> Expr {
    if terms.len() == 1 {
        return terms.pop().expect("one term");
    }
    let right = terms.split_off(terms.len().div_ceil(2));
    op(Box::new(balanced(terms, op)), Box::new(balanced(right, op)))
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub message: String,
    pub span: Span,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.span.line, self.span.col, self.message)
    }
}

pub fn parse(src: &str) -> Result<Query, ParseError> {
    let toks = lex(src).map_err(|e| ParseError {
        message: e.message,
        span: e.span,
    })?;
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
        end: end_span(src),
    };
    let q = p.query()?;
    Ok(q)
}

fn end_span(src: &str) -> Span {
    let line = src.lines().count().max(1);
    let col = src.lines().last().map_or(0, |l| l.chars().count()) + 1;
    Span {
        line,
        col,
        offset: src.len(),
    }
}

struct Parser {
    toks: Vec<Token>,
    pos: usize,
    depth: usize,
    end: Span,
}

fn ident(t: Option<&Tok>) -> Option<&str> {
    match t {
        Some(Tok::Ident(s)) => Some(s),
        _ => None,
    }
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }
    fn peek_at(&self, n: usize) -> Option<&Tok> {
        self.toks.get(self.pos + n).map(|t| &t.tok)
    }
    fn span(&self) -> Span {
        self.toks.get(self.pos).map_or(self.end, |t| t.span)
    }
    fn err<T>(&self, expected: &str) -> Result<T, ParseError> {
        let found = self
            .peek()
            .map_or_else(|| "end of query".to_string(), |t| format!("`{t}`"));
        Err(ParseError {
            message: format!("unexpected {found}, expected {expected}"),
            span: self.span(),
        })
    }
    fn bump(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).map(|t| t.tok.clone());
        self.pos += 1;
        t
    }
    fn eat_punct(&mut self, p: &str) -> bool {
        if self.peek() == Some(&Tok::Punct(static_punct(p))) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn expect_punct(&mut self, p: &str) -> Result<(), ParseError> {
        if self.eat_punct(p) {
            Ok(())
        } else {
            self.err(&format!("`{p}`"))
        }
    }
    fn eat_kw(&mut self, kw: &str) -> bool {
        if ident(self.peek()) == Some(kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn name(&mut self, what: &str) -> Result<String, ParseError> {
        match self.peek() {
            Some(Tok::Ident(s)) => {
                let s = s.clone();
                self.pos += 1;
                Ok(s)
            }
            _ => self.err(what),
        }
    }

    fn query(&mut self) -> Result<Query, ParseError> {
        let mut lets = Vec::new();
        while self.eat_kw("let") {
            let name = self.name("a name after `let`")?;
            self.expect_punct("=")?;
            let e = self.expr()?;
            if self.peek() == Some(&Tok::Punct(static_punct("|"))) {
                return Err(ParseError {
                    message: format!(
                        "`let {name} = <table> | …` binds a tabular expression, which is outside rmmc's KQL subset (scalar and dynamic lets only)"
                    ),
                    span: self.span(),
                });
            }
            self.expect_punct(";")?;
            lets.push((name, e));
        }
        let table = self.name("a table name")?;
        let mut ops = Vec::new();
        while self.eat_punct("|") {
            ops.push(self.op()?);
        }
        self.eat_punct(";");
        if self.peek().is_some() {
            return self.err("`|` or the end of the query");
        }
        Ok(Query { lets, table, ops })
    }

    fn op(&mut self) -> Result<Op, ParseError> {
        let kw = self.name("an operator (where, summarize, project, order by, take)")?;
        match kw.as_str() {
            "where" | "filter" => Ok(Op::Where(self.expr()?)),
            "summarize" => {
                let mut aggs = Vec::new();
                loop {
                    let explicit = if matches!(self.peek_at(1), Some(Tok::Punct("="))) {
                        let name = self.name("a column name")?;
                        self.expect_punct("=")?;
                        Some(name)
                    } else {
                        None
                    };
                    let f = self.name("an aggregation (count, min, max, make_set, dcount)")?;
                    self.expect_punct("(")?;
                    let agg = match f.as_str() {
                        "count" => Agg::Count,
                        "min" | "max" | "make_set" | "dcount" => {
                            let e = self.expr()?;
                            match f.as_str() {
                                "min" => Agg::Min(e),
                                "max" => Agg::Max(e),
                                "make_set" => Agg::MakeSet(e),
                                _ => Agg::DCount(e),
                            }
                        }
                        _ => {
                            self.pos -= 2;
                            return self.err("an aggregation (count, min, max, make_set, dcount)");
                        }
                    };
                    self.expect_punct(")")?;
                    // Kusto's default column names: count_, min_X, max_X, set_X, dcount_X.
                    let name = explicit.unwrap_or_else(|| match &agg {
                        Agg::Count => "count_".into(),
                        Agg::Min(e) => format!("min_{e}"),
                        Agg::Max(e) => format!("max_{e}"),
                        Agg::MakeSet(e) => format!("set_{e}"),
                        Agg::DCount(e) => format!("dcount_{e}"),
                    });
                    aggs.push((name, agg));
                    if !self.eat_punct(",") {
                        break;
                    }
                }
                let mut by = Vec::new();
                if self.eat_kw("by") {
                    loop {
                        by.push(self.name("a column to group by")?);
                        if !self.eat_punct(",") {
                            break;
                        }
                    }
                }
                Ok(Op::Summarize { aggs, by })
            }
            "project" => {
                let mut cols = Vec::new();
                loop {
                    let name = self.name("a column")?;
                    if self.eat_punct("=") {
                        cols.push((name, self.expr()?));
                    } else {
                        cols.push((name.clone(), Expr::Name(name)));
                    }
                    if !self.eat_punct(",") {
                        break;
                    }
                }
                Ok(Op::Project(cols))
            }
            "order" | "sort" => {
                if !self.eat_kw("by") {
                    return self.err("`by`");
                }
                let mut keys = Vec::new();
                loop {
                    let col = self.name("a column to sort by")?;
                    let desc = if self.eat_kw("asc") {
                        false
                    } else {
                        self.eat_kw("desc");
                        true
                    };
                    keys.push((col, desc));
                    if !self.eat_punct(",") {
                        break;
                    }
                }
                Ok(Op::OrderBy(keys))
            }
            "take" | "limit" => match self.bump() {
                Some(Tok::Number(n)) => n.parse().map(Op::Take).or_else(|_| {
                    self.pos -= 1;
                    self.err("a row count")
                }),
                _ => {
                    self.pos -= 1;
                    self.err("a row count")
                }
            },
            _ => {
                self.pos -= 1;
                self.err("an operator (where, summarize, project, order by, take)")
            }
        }
    }

    fn expr(&mut self) -> Result<Expr, ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ParseError {
                message: format!("expression nested deeper than {MAX_DEPTH} levels"),
                span: self.span(),
            });
        }
        let r = self.or();
        self.depth -= 1;
        r
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut terms = vec![self.and()?];
        while self.eat_kw("or") {
            terms.push(self.and()?);
        }
        Ok(balanced(terms, Expr::Or))
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut terms = vec![self.cmp()?];
        while self.eat_kw("and") {
            terms.push(self.cmp()?);
        }
        Ok(balanced(terms, Expr::And))
    }

    /// Reads a comparison / string operator, if one is next: returns the operator kind.
    fn cmp_op(&mut self) -> Option<CmpKind> {
        let negated = self.peek() == Some(&Tok::Punct("!"));
        let at = usize::from(negated);
        let word = ident(self.peek_at(at)).map(str::to_string);
        if let Some(Tok::Punct(p)) = self.peek() {
            let op = match *p {
                "==" => Some(CmpOp::Eq),
                "!=" => Some(CmpOp::Ne),
                "=~" => Some(CmpOp::EqCi),
                "!~" => Some(CmpOp::NeCi),
                "<" => Some(CmpOp::Lt),
                "<=" => Some(CmpOp::Le),
                ">" => Some(CmpOp::Gt),
                ">=" => Some(CmpOp::Ge),
                _ => None,
            };
            if let Some(op) = op {
                self.pos += 1;
                return Some(CmpKind::Cmp(op));
            }
        }
        let word = word?;
        if word == "in" {
            let ci = self.peek_at(at + 1) == Some(&Tok::Punct("~"));
            self.pos += at + 1 + usize::from(ci);
            return Some(CmpKind::In { ci, negated });
        }
        if !negated && (word == "has_any" || word == "has_all") {
            self.pos += 1;
            return Some(CmpKind::HasAny(word == "has_all"));
        }
        if !negated && word == "between" {
            self.pos += 1;
            return Some(CmpKind::Between);
        }
        let (base, cs) = match word.strip_suffix("_cs") {
            Some(b) => (b, true),
            None => (word.as_str(), false),
        };
        let op = StrOp::from_name(base)?;
        self.pos += at + 1;
        Some(CmpKind::Cmp(CmpOp::Str { op, negated, cs }))
    }

    fn cmp(&mut self) -> Result<Expr, ParseError> {
        let l = self.unary()?;
        let Some(kind) = self.cmp_op() else {
            return Ok(l);
        };
        Ok(match kind {
            CmpKind::Cmp(op) => Expr::Cmp(op, Box::new(l), Box::new(self.unary()?)),
            CmpKind::In { ci, negated } => Expr::In {
                lhs: Box::new(l),
                items: self.paren_list()?,
                ci,
                negated,
            },
            CmpKind::HasAny(all) => Expr::HasAny {
                lhs: Box::new(l),
                items: self.paren_list()?,
                all,
            },
            CmpKind::Between => {
                self.expect_punct("(")?;
                let lo = self.unary()?;
                self.expect_punct("..")?;
                let hi = self.unary()?;
                self.expect_punct(")")?;
                Expr::Between(Box::new(l), Box::new(lo), Box::new(hi))
            }
        })
    }

    fn paren_list(&mut self) -> Result<Vec<Expr>, ParseError> {
        self.expect_punct("(")?;
        let mut items = Vec::new();
        if self.eat_punct(")") {
            return Ok(items);
        }
        loop {
            items.push(self.expr()?);
            if self.eat_punct(")") {
                return Ok(items);
            }
            if !self.eat_punct(",") {
                return self.err("`,` or `)`");
            }
            if self.peek() == Some(&Tok::Punct(")")) {
                // `('a', 'b',)`: Kusto rejects the trailing comma, and so do we.
                return self.err("a value after `,`");
            }
        }
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.eat_punct("-") {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return self.err("less nesting");
            }
            let e = self.unary();
            self.depth -= 1;
            return Ok(match e? {
                Expr::Lit(Lit::Long(n)) => Expr::Lit(Lit::Long(-n)),
                Expr::Lit(Lit::Timespan(n)) => Expr::Lit(Lit::Timespan(-n)),
                e => Expr::Neg(Box::new(e)),
            });
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let span = self.span();
        match self.bump() {
            Some(Tok::Str(s)) => Ok(Expr::Lit(Lit::Str(s))),
            Some(Tok::Number(n)) => number(&n).ok_or(ParseError {
                message: format!("invalid number or timespan `{n}`"),
                span,
            }),
            Some(Tok::Punct("(")) => {
                let e = self.expr()?;
                self.expect_punct(")")?;
                Ok(e)
            }
            Some(Tok::Ident(name)) => match name.as_str() {
                "true" => Ok(Expr::Lit(Lit::Bool(true))),
                "false" => Ok(Expr::Lit(Lit::Bool(false))),
                "dynamic" => {
                    self.expect_punct("(")?;
                    self.expect_punct("[")?;
                    let mut items = Vec::new();
                    if !self.eat_punct("]") {
                        loop {
                            match self.primary()? {
                                Expr::Lit(l) => items.push(l),
                                _ => {
                                    self.pos -= 1;
                                    return self.err("a literal in dynamic([...])");
                                }
                            }
                            if self.eat_punct("]") {
                                break;
                            }
                            self.expect_punct(",")?;
                        }
                    }
                    self.expect_punct(")")?;
                    Ok(Expr::Dynamic(items))
                }
                _ if self.peek() == Some(&Tok::Punct("(")) => {
                    let args = self.paren_list()?;
                    if name == "not" {
                        let [arg] = <[Expr; 1]>::try_from(args).map_err(|_| ParseError {
                            message: "not() takes exactly one argument".into(),
                            span,
                        })?;
                        return Ok(Expr::Not(Box::new(arg)));
                    }
                    Ok(Expr::Call(name, args))
                }
                _ => Ok(Expr::Name(name)),
            },
            _ => {
                self.pos -= 1;
                self.err("a value, a column or `(`")
            }
        }
    }
}

enum CmpKind {
    Cmp(CmpOp),
    In { ci: bool, negated: bool },
    HasAny(bool),
    Between,
}

fn static_punct(p: &str) -> &'static str {
    const ALL: &[&str] = &["(", ")", "[", "]", ",", ";", "=", "|", "..", "-", "~", "!"];
    ALL.iter().find(|x| **x == p).copied().unwrap_or("")
}

/// `42`, `1.5`, or a timespan `5d` / `12h` / `30m` / `10s` / `100ms`.
fn number(n: &str) -> Option<Expr> {
    let split = n.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(n.len());
    let (num, unit) = n.split_at(split);
    if unit.is_empty() {
        return if num.contains('.') {
            num.parse().ok().map(|x| Expr::Lit(Lit::Real(x)))
        } else {
            num.parse().ok().map(|x| Expr::Lit(Lit::Long(x)))
        };
    }
    let per: i128 = match unit {
        "d" | "day" | "days" => 86_400_000_000_000,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600_000_000_000,
        "m" | "min" | "minute" | "minutes" => 60_000_000_000,
        "s" | "sec" | "second" | "seconds" => 1_000_000_000,
        "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 1_000_000,
        "tick" | "ticks" => 100,
        _ => return None,
    };
    // Kusto timespans are a signed 64-bit count of 100 ns ticks: round to a tick, refuse what
    // does not fit (found by fuzzing: a huge value printed as ticks did not read back).
    let value: f64 = num.parse().ok()?;
    let ticks = (value * (per / 100) as f64).round();
    if !ticks.is_finite() || ticks.abs() > i64::MAX as f64 {
        return None;
    }
    Some(Expr::Lit(Lit::Timespan(ticks as i128 * 100)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parse, print canonically, parse again: the same tree.
    fn verified(src: &str) -> Query {
        let q = parse(src).unwrap_or_else(|e| panic!("{e}\n{src}"));
        let printed = q.to_string();
        let again = parse(&printed).unwrap_or_else(|e| panic!("{e}\n{printed}"));
        assert_eq!(q, again, "{printed}");
        q
    }

    #[test]
    fn timespans_round_to_ticks_and_print_back() {
        for src in [
            "T | where a < 5d",
            "T | where a < 1.5ms",
            "T | where a < 3tick",
            "T | where a < 0.25s",
        ] {
            verified(src);
        }
        // out of Kusto's 64-bit tick range, or no number at all: an error, not a wrapped value
        for bad in [
            "T | where a < 1701411834604692317316873037158841057tick",
            "T | where a < 99999999999999999999d",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.message.contains("invalid number or timespan"), "{e}");
        }
    }

    #[test]
    fn seed_shapes_parse_and_print_back() {
        verified(
            "let Time_start = now(-5d);\nlet Time_end = now();\n//\nDeviceNetworkEvents\n| where Timestamp between (Time_start..Time_end)\n| where RemoteUrl has 'netsupportsoftware.com'\n    and InitiatingProcessVersionInfoCompanyName has 'netsupport'\n| summarize FirstSeen=min(Timestamp), LastSeen=max(Timestamp),\n    Report=make_set(ReportId), Count=count() by DeviceId, DeviceName,\n    RemoteUrl",
        );
        let q = verified(
            "let malicious_ips = dynamic([\"95.85.246.53\", \"101.109.237.93\"]);\nCommonSecurityLog\n| where DestinationIP in (malicious_ips) or SourceIP in (malicious_ips)\n| project TimeGenerated, SourceIP, DestinationIP\n| order by TimeGenerated desc",
        );
        assert_eq!(q.lets.len(), 1);
        assert_eq!(q.ops.len(), 3);
    }

    #[test]
    fn operators() {
        let q = verified(
            "T | where a !has 'x' and b has_cs 'y' and c !contains_cs 'z' and d in~ ('p', 'q') and e !in ('r') and f =~ 'S' and not(g startswith 'h') and ipv4_is_in_range(ip, '10.0.0.0/8') and p == 443 and u has_any ('a', 'b')",
        );
        let Op::Where(e) = &q.ops[0] else { panic!() };
        let s = e.to_string();
        for op in [
            "!has",
            "has_cs",
            "!contains_cs",
            "in~",
            "!in",
            "=~",
            "not(",
            "==",
            "has_any",
        ] {
            assert!(s.contains(op), "{op} in {s}");
        }
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let q = verified("T | where a == 1 or b == 2 and c == 3");
        let Op::Where(Expr::Or(_, r)) = &q.ops[0] else {
            panic!("{:?}", q.ops[0])
        };
        assert!(matches!(**r, Expr::And(..)));
    }

    #[test]
    fn errors_name_what_and_where() {
        let e = parse("T\n| where a has_any ('x',)").unwrap_err();
        assert_eq!((e.span.line, e.span.col), (2, 24), "{e}");
        let e = parse("T | where Sha1 in ('x') | Sha1 in ('y')").unwrap_err();
        assert!(e.message.contains("unexpected `Sha1`"), "{e}");
        let e = parse("T | where a has_all has_any ('x')").unwrap_err();
        assert!(e.message.contains("expected `(`"), "{e}");
        let e = parse("T | where (a == 1").unwrap_err();
        assert!(e.message.contains("end of query"), "{e}");
        let e = parse("let s = T\n| distinct SHA1;\nU").unwrap_err();
        assert!(e.message.contains("outside rmmc's KQL subset"), "{e}");
        assert_eq!(e.span.line, 2, "{e}");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let src = format!(
            "T | where {}a == 1{}",
            "(".repeat(10_000),
            ")".repeat(10_000)
        );
        let e = parse(&src).unwrap_err();
        assert!(e.message.contains("nested deeper"), "{e}");
        let src = format!("T | where {}1", "-".repeat(10_000));
        assert!(parse(&src).is_err());
    }
}
