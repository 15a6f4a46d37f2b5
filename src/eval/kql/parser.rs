//! Recursive-descent parser for the KQL subset in `ast`. One function per precedence level
//! (`or` < `and` < comparison < unary < primary); errors say what was found and what was
//! expected, with the line and column; nesting is capped so hostile text cannot overflow the
//! stack.

use super::ast::*;
use super::lexer::{lex, Tok};
pub use crate::eval::syntax::{ParseError, MAX_DEPTH};
use crate::eval::syntax::{TokenStream, Wording};

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

pub fn parse(src: &str) -> Result<Query, ParseError> {
    let ts = TokenStream::new(lex(src)?, src, WORDING);
    Parser { ts }.query()
}

const WORDING: Wording = Wording {
    end: "end of query",
    nesting: "expression nested",
};

struct Parser {
    ts: TokenStream<Tok>,
}

fn ident(t: Option<&Tok>) -> Option<&str> {
    match t {
        Some(Tok::Ident(s)) => Some(s),
        _ => None,
    }
}

impl Parser {
    fn name(&mut self, what: &str) -> Result<String, ParseError> {
        match self.ts.peek() {
            Some(Tok::Ident(s)) => {
                let s = s.clone();
                self.ts.pos += 1;
                Ok(s)
            }
            _ => self.ts.err(what),
        }
    }

    fn query(&mut self) -> Result<Query, ParseError> {
        let mut lets = Vec::new();
        while self.ts.eat_word("let") {
            let name = self.name("a name after `let`")?;
            self.ts.expect_punct("=")?;
            let e = self.expr()?;
            if self.ts.peek() == Some(&Tok::Punct("|")) {
                return self.ts.fail(format!(
                    "`let {name} = <table> | …` binds a tabular expression, which is outside rmmc's KQL subset (scalar and dynamic lets only)"
                ));
            }
            self.ts.expect_punct(";")?;
            lets.push((name, e));
        }
        let table = self.name("a table name")?;
        let mut ops = Vec::new();
        let mut spans = Vec::new();
        while self.ts.eat_punct("|") {
            let start = self.ts.span();
            ops.push(self.op()?);
            spans.push(self.ts.loc_from(start));
        }
        self.ts.eat_punct(";");
        if self.ts.peek().is_some() {
            return self.ts.err("`|` or the end of the query");
        }
        Ok(Query {
            lets,
            table,
            ops,
            spans,
        })
    }

    fn op(&mut self) -> Result<Op, ParseError> {
        let kw = self.name("an operator (where, summarize, project, order by, take)")?;
        match kw.as_str() {
            "where" | "filter" => Ok(Op::Where(self.expr()?)),
            "summarize" => {
                let mut aggs = Vec::new();
                loop {
                    let explicit = if matches!(self.ts.peek_at(1), Some(Tok::Punct("="))) {
                        let name = self.name("a column name")?;
                        self.ts.expect_punct("=")?;
                        Some(name)
                    } else {
                        None
                    };
                    let f = self.name("an aggregation (count, min, max, make_set, dcount)")?;
                    self.ts.expect_punct("(")?;
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
                            self.ts.pos -= 2;
                            return self
                                .ts
                                .err("an aggregation (count, min, max, make_set, dcount)");
                        }
                    };
                    self.ts.expect_punct(")")?;
                    // Kusto's default column names: count_, min_X, max_X, set_X, dcount_X.
                    let name = explicit.unwrap_or_else(|| match &agg {
                        Agg::Count => "count_".into(),
                        Agg::Min(e) => format!("min_{e}"),
                        Agg::Max(e) => format!("max_{e}"),
                        Agg::MakeSet(e) => format!("set_{e}"),
                        Agg::DCount(e) => format!("dcount_{e}"),
                    });
                    aggs.push((name, agg));
                    if !self.ts.eat_punct(",") {
                        break;
                    }
                }
                let mut by = Vec::new();
                if self.ts.eat_word("by") {
                    loop {
                        by.push(self.name("a column to group by")?);
                        if !self.ts.eat_punct(",") {
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
                    if self.ts.eat_punct("=") {
                        cols.push((name, self.expr()?));
                    } else {
                        cols.push((name.clone(), Expr::Name(name)));
                    }
                    if !self.ts.eat_punct(",") {
                        break;
                    }
                }
                Ok(Op::Project(cols))
            }
            "order" | "sort" => {
                if !self.ts.eat_word("by") {
                    return self.ts.err("`by`");
                }
                let mut keys = Vec::new();
                loop {
                    let col = self.name("a column to sort by")?;
                    let desc = if self.ts.eat_word("asc") {
                        false
                    } else {
                        self.ts.eat_word("desc");
                        true
                    };
                    keys.push((col, desc));
                    if !self.ts.eat_punct(",") {
                        break;
                    }
                }
                Ok(Op::OrderBy(keys))
            }
            "take" | "limit" => match self.ts.bump() {
                Some(Tok::Number(n)) => n.parse().map(Op::Take).or_else(|_| {
                    self.ts.pos -= 1;
                    self.ts.err("a row count")
                }),
                _ => {
                    self.ts.pos -= 1;
                    self.ts.err("a row count")
                }
            },
            _ => {
                self.ts.pos -= 1;
                self.ts
                    .err("an operator (where, summarize, project, order by, take)")
            }
        }
    }

    fn expr(&mut self) -> Result<Expr, ParseError> {
        self.ts.enter()?;
        let r = self.or();
        self.ts.leave();
        r
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut terms = vec![self.and()?];
        while self.ts.eat_word("or") {
            terms.push(self.and()?);
        }
        Ok(balanced(terms, Expr::Or))
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut terms = vec![self.cmp()?];
        while self.ts.eat_word("and") {
            terms.push(self.cmp()?);
        }
        Ok(balanced(terms, Expr::And))
    }

    /// Reads a comparison / string operator, if one is next: returns the operator kind.
    fn cmp_op(&mut self) -> Option<CmpKind> {
        let negated = self.ts.peek() == Some(&Tok::Punct("!"));
        let at = usize::from(negated);
        let word = ident(self.ts.peek_at(at)).map(str::to_string);
        if let Some(Tok::Punct(p)) = self.ts.peek() {
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
                self.ts.pos += 1;
                return Some(CmpKind::Cmp(op));
            }
        }
        let word = word?;
        if word == "in" {
            let ci = self.ts.peek_at(at + 1) == Some(&Tok::Punct("~"));
            self.ts.pos += at + 1 + usize::from(ci);
            return Some(CmpKind::In { ci, negated });
        }
        if !negated && (word == "has_any" || word == "has_all") {
            self.ts.pos += 1;
            return Some(CmpKind::HasAny(word == "has_all"));
        }
        if !negated && word == "between" {
            self.ts.pos += 1;
            return Some(CmpKind::Between);
        }
        let (base, cs) = match word.strip_suffix("_cs") {
            Some(b) => (b, true),
            None => (word.as_str(), false),
        };
        let op = StrOp::from_name(base)?;
        self.ts.pos += at + 1;
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
                self.ts.expect_punct("(")?;
                let lo = self.unary()?;
                self.ts.expect_punct("..")?;
                let hi = self.unary()?;
                self.ts.expect_punct(")")?;
                Expr::Between(Box::new(l), Box::new(lo), Box::new(hi))
            }
        })
    }

    fn paren_list(&mut self) -> Result<Vec<Expr>, ParseError> {
        self.ts.expect_punct("(")?;
        let mut items = Vec::new();
        if self.ts.eat_punct(")") {
            return Ok(items);
        }
        loop {
            items.push(self.expr()?);
            if self.ts.eat_punct(")") {
                return Ok(items);
            }
            if !self.ts.eat_punct(",") {
                return self.ts.err("`,` or `)`");
            }
            if self.ts.peek() == Some(&Tok::Punct(")")) {
                // `('a', 'b',)`: Kusto rejects the trailing comma, and so do we.
                return self.ts.err("a value after `,`");
            }
        }
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.ts.eat_punct("-") {
            // A run of minus signs reports its depth as "expected less nesting".
            if self.ts.enter().is_err() {
                let e = self.ts.err::<Expr>("less nesting").unwrap_err();
                return Err(ParseError {
                    too_deep: true,
                    ..e
                });
            }
            let e = self.unary();
            self.ts.leave();
            return Ok(match e? {
                Expr::Lit(Lit::Long(n)) => Expr::Lit(Lit::Long(-n)),
                Expr::Lit(Lit::Timespan(n)) => Expr::Lit(Lit::Timespan(-n)),
                e => Expr::Neg(Box::new(e)),
            });
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let span = self.ts.span();
        match self.ts.bump() {
            Some(Tok::Str(s)) => Ok(Expr::Lit(Lit::Str(s))),
            Some(Tok::Number(n)) => number(&n).ok_or(ParseError {
                too_deep: false,
                message: format!("invalid number or timespan `{n}`"),
                span,
            }),
            Some(Tok::Punct("(")) => {
                let e = self.expr()?;
                self.ts.expect_punct(")")?;
                Ok(e)
            }
            Some(Tok::Ident(name)) => match name.as_str() {
                "true" => Ok(Expr::Lit(Lit::Bool(true))),
                "false" => Ok(Expr::Lit(Lit::Bool(false))),
                "dynamic" => {
                    self.ts.expect_punct("(")?;
                    self.ts.expect_punct("[")?;
                    let mut items = Vec::new();
                    if !self.ts.eat_punct("]") {
                        loop {
                            match self.primary()? {
                                Expr::Lit(l) => items.push(l),
                                _ => {
                                    self.ts.pos -= 1;
                                    return self.ts.err("a literal in dynamic([...])");
                                }
                            }
                            if self.ts.eat_punct("]") {
                                break;
                            }
                            self.ts.expect_punct(",")?;
                        }
                    }
                    self.ts.expect_punct(")")?;
                    Ok(Expr::Dynamic(items))
                }
                _ if self.ts.peek() == Some(&Tok::Punct("(")) => {
                    let args = self.paren_list()?;
                    if name == "not" {
                        let [arg] = <[Expr; 1]>::try_from(args).map_err(|_| ParseError {
                            too_deep: false,
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
                self.ts.pos -= 1;
                self.ts.err("a value, a column or `(`")
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
    use crate::diag::Span;

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

    /// A query that ends in a newline ends at the start of the next line, as in SPL and EQL.
    /// KQL used to place it at the end of the last non-empty line while its byte offset was
    /// already past the newline, so `rmmc check` and `rmmc eval` pointed at a different
    /// place than the offset the Sentinel importer repairs at.
    #[test]
    fn the_end_of_a_query_ending_in_a_newline_is_the_next_line() {
        for (src, at) in [
            ("T | where (a == 1\n", (2, 1)),
            ("T | where (a == 1\r\n", (2, 1)),
            ("T\n| where (a == 1", (2, 16)),
        ] {
            let e = parse(src).unwrap_err();
            assert!(e.message.contains("end of query"), "{e}");
            assert_eq!((e.span.line, e.span.col), at, "{src:?}");
            let located = Span::from_line_col(src, e.span.line, e.span.col);
            assert_eq!(located.offset, e.span.offset, "{src:?}");
        }
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
        assert!(e.too_deep, "the nesting cap marks its refusals");
        let src = format!("T | where {}1", "-".repeat(10_000));
        assert!(parse(&src).unwrap_err().too_deep);
        // a grammar error is not one of the cap's
        assert!(!parse("T | where (a == 1").unwrap_err().too_deep);
    }
}
