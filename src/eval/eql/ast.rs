//! The EQL event-query AST: `<category> where <condition>`. `and`/`or` are n-ary so long
//! chains stay shallow (no deep recursion when evaluating or dropping them).

use super::lucene::Regex;
use crate::diag::Span;
use std::net::IpAddr;

#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    /// `any` or the event category (`process`, `network`, …).
    pub category: String,
    pub condition: Expr,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    /// `where true` / `where false`.
    Bool(bool),
    Cmp(Cmp),
    Func(Func),
}

/// A dotted field path as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub span: Span,
}

impl Field {
    pub fn segments(&self) -> Vec<&str> {
        self.name.split('.').collect()
    }
    /// ECS types `*.ip` fields (`source.ip`, `destination.ip`, `host.ip`, `client.ip`, …) as
    /// `ip`; their comparisons run on parsed addresses.
    pub fn is_ip(&self) -> bool {
        self.name == "ip" || self.name.ends_with(".ip")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `:` — case-insensitive equality with `*`/`?` wildcards.
    Colon,
    In {
        ci: bool,
        negated: bool,
    },
    Like {
        ci: bool,
    },
    Regex {
        ci: bool,
    },
}

impl Op {
    pub fn text(&self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Colon => ":",
            Op::In {
                ci: false,
                negated: false,
            } => "in",
            Op::In {
                ci: true,
                negated: false,
            } => "in~",
            Op::In {
                ci: false,
                negated: true,
            } => "not in",
            Op::In {
                ci: true,
                negated: true,
            } => "not in~",
            Op::Like { ci: false } => "like",
            Op::Like { ci: true } => "like~",
            Op::Regex { ci: false } => "regex",
            Op::Regex { ci: true } => "regex~",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Lit {
    Str(String),
    /// The number as written and its value.
    Num(String, f64),
    Bool(bool),
    Null,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Cmp {
    pub field: Field,
    pub op: Op,
    /// One value, or the list of a lookup (`in`, `:`, `like`, `regex` with `( … )`).
    pub values: Vec<Lit>,
    /// For `regex`/`regex~`: the compiled patterns, one per value.
    pub regexes: Vec<Regex>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FuncKind {
    StartsWith,
    EndsWith,
    StringContains,
    CidrMatch,
}

#[derive(Clone, Debug, PartialEq)]
pub enum FuncArgs {
    /// startsWith / endsWith / stringContains: the one search string.
    Text(String),
    /// cidrmatch: the networks (address, prefix length), addresses normalized like values.
    Cidrs(Vec<(IpAddr, u8)>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Func {
    pub kind: FuncKind,
    /// The `~` form (ASCII case-insensitive).
    pub ci: bool,
    pub field: Field,
    pub args: FuncArgs,
    pub span: Span,
}

impl Expr {
    /// Every field the expression reads, in order of appearance (with repeats).
    pub fn fields<'a>(&'a self, out: &mut Vec<&'a str>) {
        let mut stack = vec![self];
        while let Some(e) = stack.pop() {
            match e {
                Expr::And(v) | Expr::Or(v) => stack.extend(v.iter().rev()),
                Expr::Not(x) => stack.push(x),
                Expr::Bool(_) => {}
                Expr::Cmp(c) => out.push(&c.field.name),
                Expr::Func(f) => out.push(&f.field.name),
            }
        }
    }
}
