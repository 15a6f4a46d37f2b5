//! The SPL subset as a tree: a pipeline of commands, the search-command expression language
//! (terms, wildcards, `OR` tighter than `AND`) and the eval expression language (`where`,
//! `eval`). `Display` prints a canonical form (fully parenthesized), used by the tests to pin
//! precedence.

use regex::Regex;
use std::fmt;

/// A `*`-wildcard pattern of the search command, compiled once.
#[derive(Clone, Debug)]
pub struct Wild {
    pub text: String,
    /// Whole-value, case-insensitive matcher (`field=value`).
    pub whole: Regex,
    /// What `text` is, known once: only `*`s (matches every value), or ASCII without `*`.
    pub kind: WildKind,
}

/// What a `*`-wildcard pattern's text is, for `Wild::is_match`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WildKind {
    /// One or more `*` and nothing else.
    Any,
    /// ASCII text without `*`.
    Ascii,
    Other,
}

impl WildKind {
    pub fn of(text: &str) -> WildKind {
        let t = text.as_bytes();
        if !t.is_empty() && t.iter().all(|&b| b == b'*') {
            WildKind::Any
        } else if t.is_ascii() && !t.contains(&b'*') {
            WildKind::Ascii
        } else {
            WildKind::Other
        }
    }
}

impl Wild {
    /// `whole.is_match(s)`, without running the regex where the answer is certain: a
    /// pattern of only `*` matches every value (`(?s)\A.*\z`); a `*`-free ASCII pattern
    /// against an ASCII value is an ASCII case-insensitive comparison (simple case folding
    /// pairs an ASCII letter with a non-ASCII one only for `k`/`s`, K U+212A and ſ U+017F,
    /// which an ASCII value cannot contain). Anything else goes to the regex.
    #[inline]
    pub fn is_match(&self, s: &str) -> bool {
        match self.kind {
            WildKind::Any => true,
            WildKind::Ascii if s.is_ascii() => self.text.eq_ignore_ascii_case(s),
            _ => self.whole.is_match(s),
        }
    }
}

impl PartialEq for Wild {
    fn eq(&self, o: &Self) -> bool {
        self.text == o.text
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

impl CmpOp {
    pub fn token(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Gt => ">",
            CmpOp::Le => "<=",
            CmpOp::Ge => ">=",
        }
    }
}

/// A time bound (`earliest=` / `latest=`), as an offset from `now` or an epoch second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeSpec {
    /// Nanoseconds relative to the run's `now` (`-5d` → −5·86400·10⁹; `now` → 0).
    Relative(i128),
    /// Absolute epoch nanoseconds (`earliest=1700000000`).
    Epoch(i128),
}

#[derive(Clone, Debug, PartialEq)]
pub enum SExpr {
    And(Vec<SExpr>),
    Or(Vec<SExpr>),
    Not(Box<SExpr>),
    /// `field=value`, `field!=value`, `field<value` …
    Cmp {
        field: String,
        op: CmpOp,
        value: Wild,
    },
    /// `field IN (a, b)`.
    In {
        field: String,
        values: Vec<Wild>,
    },
    /// A bare keyword or quoted phrase, matched against the raw event.
    Term {
        wild: Wild,
        raw: Rx,
    },
    /// `earliest=…` (`latest == false`) or `latest=…`; always a top-level conjunct.
    Time {
        latest: bool,
        at: TimeSpec,
    },
}

/// A compiled regex compared by its source.
#[derive(Clone, Debug)]
pub struct Rx(pub Regex);

impl PartialEq for Rx {
    fn eq(&self, o: &Self) -> bool {
        self.0.as_str() == o.0.as_str()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Field(String),
    Str(String),
    /// A number literal, with its spelling.
    Num(f64, String),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    Call(Func, Vec<Expr>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Func {
    Match,
    Like,
    Lower,
    Upper,
    Replace,
    Coalesce,
    IsNull,
    IsNotNull,
    CidrMatch,
    Len,
    If,
    Null,
    Now,
    RelativeTime,
}

impl Func {
    /// Name, minimum and maximum argument count.
    pub const ALL: &'static [(Func, &'static str, usize, usize)] = &[
        (Func::Match, "match", 2, 2),
        (Func::Like, "like", 2, 2),
        (Func::Lower, "lower", 1, 1),
        (Func::Upper, "upper", 1, 1),
        (Func::Replace, "replace", 3, 3),
        (Func::Coalesce, "coalesce", 1, usize::MAX),
        (Func::IsNull, "isnull", 1, 1),
        (Func::IsNotNull, "isnotnull", 1, 1),
        (Func::CidrMatch, "cidrmatch", 2, 2),
        (Func::Len, "len", 1, 1),
        (Func::If, "if", 3, 3),
        (Func::Null, "null", 0, 0),
        (Func::Now, "now", 0, 0),
        (Func::RelativeTime, "relative_time", 2, 2),
    ];
    pub fn name(self) -> &'static str {
        Func::ALL.iter().find(|f| f.0 == self).map_or("?", |f| f.1)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Agg {
    Count,
    CountOf(String),
    Min(String),
    Max(String),
    Values(String),
    Dc(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct SortKey {
    pub field: String,
    pub desc: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    Search(SExpr),
    Where(Expr),
    Eval(Vec<(String, Expr)>),
    Stats {
        aggs: Vec<(String, Agg)>,
        by: Vec<String>,
    },
    /// `limit` 0 = all rows (Splunk's default is 10000).
    Sort {
        limit: usize,
        keys: Vec<SortKey>,
    },
    Table(Vec<String>),
    Fields {
        remove: bool,
        fields: Vec<String>,
    },
    Head(usize),
}

impl fmt::Display for SExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, xs: &[SExpr], sep: &str| -> fmt::Result {
            f.write_str("(")?;
            for (i, x) in xs.iter().enumerate() {
                if i > 0 {
                    f.write_str(sep)?;
                }
                write!(f, "{x}")?;
            }
            f.write_str(")")
        };
        match self {
            SExpr::And(xs) => list(f, xs, " AND "),
            SExpr::Or(xs) => list(f, xs, " OR "),
            SExpr::Not(x) => write!(f, "NOT {x}"),
            SExpr::Cmp { field, op, value } => {
                write!(f, "{field}{}{:?}", op.token(), value.text)
            }
            SExpr::In { field, values } => {
                let v: Vec<String> = values.iter().map(|w| format!("{:?}", w.text)).collect();
                write!(f, "{field} IN ({})", v.join(", "))
            }
            SExpr::Term { wild, .. } => write!(f, "{:?}", wild.text),
            SExpr::Time { latest, at } => {
                let name = if *latest { "latest" } else { "earliest" };
                match at {
                    TimeSpec::Relative(ns) => write!(f, "{name}=now{ns:+}ns"),
                    TimeSpec::Epoch(ns) => write!(f, "{name}={ns}ns"),
                }
            }
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Field(n) => write!(f, "'{n}'"),
            Expr::Str(s) => write!(f, "{s:?}"),
            Expr::Num(_, t) => f.write_str(t),
            Expr::Not(x) => write!(f, "(NOT {x})"),
            Expr::And(xs) | Expr::Or(xs) => {
                let sep = if matches!(self, Expr::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                let parts: Vec<String> = xs.iter().map(ToString::to_string).collect();
                write!(f, "({})", parts.join(sep))
            }
            Expr::Cmp(op, a, b) => {
                let t = if *op == CmpOp::Eq { "==" } else { op.token() };
                write!(f, "({a}{t}{b})")
            }
            Expr::Call(func, args) => {
                let a: Vec<String> = args.iter().map(ToString::to_string).collect();
                write!(f, "{}({})", func.name(), a.join(", "))
            }
        }
    }
}
