//! The KQL subset rmmc emits and the seed hunting queries use. `Display` prints the
//! canonical form of each node, so `parse → print → parse` is the identity (tested).

use std::fmt;

/// A whole query: `let` statements, then one tabular pipeline.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    pub lets: Vec<(String, Expr)>,
    pub table: String,
    pub ops: Vec<Op>,
    /// Where each of `ops` stands in the text (`spans[i]` is `ops[i]`'s; empty for a query
    /// built rather than parsed). Always equal (`Loc`): queries compare by meaning.
    pub spans: Vec<crate::eval::syntax::Loc>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    Where(Expr),
    /// `summarize Name=agg(arg), … by col, …`
    Summarize {
        aggs: Vec<(String, Agg)>,
        by: Vec<String>,
    },
    /// `project col, Name=expr, …`
    Project(Vec<(String, Expr)>),
    /// `order by col [asc|desc], …` (KQL defaults to desc)
    OrderBy(Vec<(String, bool)>),
    Take(u64),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Agg {
    Count,
    Min(Expr),
    Max(Expr),
    MakeSet(Expr),
    DCount(Expr),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A column or a `let` name.
    Name(String),
    Lit(Lit),
    /// `dynamic([...])`
    Dynamic(Vec<Lit>),
    Call(String, Vec<Expr>),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    /// `lhs op rhs` for comparison and string operators (`==`, `has`, `!contains`, …).
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    /// `lhs [!]in[~] (items)`; an item may name a dynamic array.
    In {
        lhs: Box<Expr>,
        items: Vec<Expr>,
        ci: bool,
        negated: bool,
    },
    /// `lhs has_any (items)` / `has_all`
    HasAny {
        lhs: Box<Expr>,
        items: Vec<Expr>,
        all: bool,
    },
    /// `lhs between (lo .. hi)`
    Between(Box<Expr>, Box<Expr>, Box<Expr>),
    Neg(Box<Expr>),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Lit {
    Str(String),
    Long(i64),
    Real(f64),
    Bool(bool),
    /// A timespan in nanoseconds (`5d`, `1h`, `30m`, `10s`).
    Timespan(i128),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    EqCi,
    NeCi,
    Lt,
    Le,
    Gt,
    Ge,
    /// A string operator; `negated` for the `!` forms, `cs` for `_cs`.
    Str {
        op: StrOp,
        negated: bool,
        cs: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrOp {
    Has,
    Contains,
    StartsWith,
    EndsWith,
    HasPrefix,
    HasSuffix,
}

impl StrOp {
    pub fn name(self) -> &'static str {
        match self {
            StrOp::Has => "has",
            StrOp::Contains => "contains",
            StrOp::StartsWith => "startswith",
            StrOp::EndsWith => "endswith",
            StrOp::HasPrefix => "hasprefix",
            StrOp::HasSuffix => "hassuffix",
        }
    }
    pub fn from_name(s: &str) -> Option<StrOp> {
        [
            StrOp::Has,
            StrOp::Contains,
            StrOp::StartsWith,
            StrOp::EndsWith,
            StrOp::HasPrefix,
            StrOp::HasSuffix,
        ]
        .into_iter()
        .find(|o| o.name() == s)
    }
}

impl fmt::Display for CmpOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CmpOp::Eq => f.write_str("=="),
            CmpOp::Ne => f.write_str("!="),
            CmpOp::EqCi => f.write_str("=~"),
            CmpOp::NeCi => f.write_str("!~"),
            CmpOp::Lt => f.write_str("<"),
            CmpOp::Le => f.write_str("<="),
            CmpOp::Gt => f.write_str(">"),
            CmpOp::Ge => f.write_str(">="),
            CmpOp::Str { op, negated, cs } => write!(
                f,
                "{}{}{}",
                if *negated { "!" } else { "" },
                op.name(),
                if *cs { "_cs" } else { "" }
            ),
        }
    }
}

fn quote(s: &str) -> String {
    crate::backend::kql::string_literal(s)
}

impl fmt::Display for Lit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lit::Str(s) => f.write_str(&quote(s)),
            Lit::Long(n) => write!(f, "{n}"),
            // Display never uses an exponent (`3e18` is not a KQL real literal to our lexer);
            // a trailing `.0` keeps it a real when it reads back (found by fuzzing)
            Lit::Real(x) => {
                let t = x.to_string();
                if t.contains(['.', 'N', 'i']) {
                    f.write_str(&t)
                } else {
                    write!(f, "{t}.0")
                }
            }
            Lit::Bool(b) => write!(f, "{b}"),
            Lit::Timespan(ns) => {
                const UNITS: [(i128, &str); 5] = [
                    (86_400_000_000_000, "d"),
                    (3_600_000_000_000, "h"),
                    (60_000_000_000, "m"),
                    (1_000_000_000, "s"),
                    (1_000_000, "ms"),
                ];
                for (n, u) in UNITS {
                    if ns % n == 0 {
                        return write!(f, "{}{u}", ns / n);
                    }
                }
                write!(f, "{}tick", ns / 100)
            }
        }
    }
}

fn list(items: &[Expr]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Canonical text: every compound operand is parenthesized, so printing never depends on
/// precedence and re-parsing gives the same tree.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Name(n) => f.write_str(n),
            Expr::Lit(l) => write!(f, "{l}"),
            Expr::Dynamic(v) => write!(
                f,
                "dynamic([{}])",
                v.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Expr::Call(n, args) => write!(f, "{n}({})", list(args)),
            Expr::Not(e) => write!(f, "not({e})"),
            Expr::And(a, b) => write!(f, "({a} and {b})"),
            Expr::Or(a, b) => write!(f, "({a} or {b})"),
            Expr::Cmp(op, a, b) => write!(f, "({a} {op} {b})"),
            Expr::In {
                lhs,
                items,
                ci,
                negated,
            } => write!(
                f,
                "({lhs} {}in{} ({}))",
                if *negated { "!" } else { "" },
                if *ci { "~" } else { "" },
                list(items)
            ),
            Expr::HasAny { lhs, items, all } => {
                write!(
                    f,
                    "({lhs} {} ({}))",
                    if *all { "has_all" } else { "has_any" },
                    list(items)
                )
            }
            Expr::Between(e, lo, hi) => write!(f, "({e} between ({lo} .. {hi}))"),
            Expr::Neg(e) => write!(f, "-({e})"),
        }
    }
}

impl fmt::Display for Agg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Agg::Count => f.write_str("count()"),
            Agg::Min(e) => write!(f, "min({e})"),
            Agg::Max(e) => write!(f, "max({e})"),
            Agg::MakeSet(e) => write!(f, "make_set({e})"),
            Agg::DCount(e) => write!(f, "dcount({e})"),
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Where(e) => write!(f, "| where {e}"),
            Op::Summarize { aggs, by } => {
                let a: Vec<String> = aggs.iter().map(|(n, a)| format!("{n}={a}")).collect();
                write!(f, "| summarize {}", a.join(", "))?;
                if !by.is_empty() {
                    write!(f, " by {}", by.join(", "))?;
                }
                Ok(())
            }
            Op::Project(cols) => {
                let c: Vec<String> = cols
                    .iter()
                    .map(|(n, e)| match e {
                        Expr::Name(m) if m == n => n.clone(),
                        e => format!("{n}={e}"),
                    })
                    .collect();
                write!(f, "| project {}", c.join(", "))
            }
            Op::OrderBy(keys) => {
                let k: Vec<String> = keys
                    .iter()
                    .map(|(n, desc)| format!("{n} {}", if *desc { "desc" } else { "asc" }))
                    .collect();
                write!(f, "| order by {}", k.join(", "))
            }
            Op::Take(n) => write!(f, "| take {n}"),
        }
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, e) in &self.lets {
            writeln!(f, "let {n} = {e};")?;
        }
        write!(f, "{}", self.table)?;
        for op in &self.ops {
            write!(f, "\n{op}")?;
        }
        Ok(())
    }
}

impl Query {
    /// Every column the query reads from its table (names that are not `let` bindings),
    /// before any `project` or `summarize` renames them.
    pub fn input_columns(&self) -> std::collections::BTreeSet<String> {
        fn walk(e: &Expr, out: &mut std::collections::BTreeSet<String>) {
            match e {
                Expr::Name(n) => {
                    out.insert(n.clone());
                }
                Expr::Lit(_) | Expr::Dynamic(_) => {}
                Expr::Call(_, args) => args.iter().for_each(|a| walk(a, out)),
                Expr::Not(x) | Expr::Neg(x) => walk(x, out),
                Expr::And(a, b) | Expr::Or(a, b) | Expr::Cmp(_, a, b) => {
                    walk(a, out);
                    walk(b, out);
                }
                Expr::In { lhs, items, .. } | Expr::HasAny { lhs, items, .. } => {
                    walk(lhs, out);
                    items.iter().for_each(|i| walk(i, out));
                }
                Expr::Between(a, b, c) => [a, b, c].iter().for_each(|x| walk(x, out)),
            }
        }
        let mut out = std::collections::BTreeSet::new();
        for op in &self.ops {
            match op {
                Op::Where(e) => walk(e, &mut out),
                Op::Summarize { aggs, by } => {
                    for (_, a) in aggs {
                        if let Agg::Min(e) | Agg::Max(e) | Agg::MakeSet(e) | Agg::DCount(e) = a {
                            walk(e, &mut out);
                        }
                    }
                    out.extend(by.iter().cloned());
                    // later stages read the summarize output, not the table
                    break;
                }
                Op::Project(cols) => {
                    cols.iter().for_each(|(_, e)| walk(e, &mut out));
                    break;
                }
                Op::OrderBy(keys) => out.extend(keys.iter().map(|(k, _)| k.clone())),
                Op::Take(_) => {}
            }
        }
        for (name, _) in &self.lets {
            out.remove(name);
        }
        out
    }
}
