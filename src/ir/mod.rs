//! The canonical IR: normalized, typed predicates with exact semantics (see `interp`), and the
//! rule metadata every backend needs. Built from validated specs by `lower`; backends read only
//! this, never the spec.

mod interp;
mod lower;

pub use interp::{fold, fold_preimages, text_match, text_match_in, Event, Lexical, KUSTO, SPEC};
pub use lower::lower;

use crate::diag::Span;
use crate::spec::attack::Tactic;
use crate::spec::values::{CidrValue, Duration};
use crate::spec::{BackendName, Category, Direction, Field, Severity, Source};
use indexmap::IndexMap;
use std::net::IpAddr;
use std::path::PathBuf;

#[derive(Debug)]
pub struct IrSpec {
    pub id: String,
    pub vendor: String,
    pub description: String,
    pub references: Vec<String>,
    pub author: String,
    pub date: String,
    pub modified: Option<String>,
    pub severity: Severity,
    pub tactics: Vec<Tactic>,
    pub techniques: Vec<String>,
    pub window: Duration,
    pub frequency: Duration,
    /// The spec file, for diagnostics.
    pub file: PathBuf,
    pub detections: Vec<IrDetection>,
}

#[derive(Debug)]
pub struct IrDetection {
    pub id: String,
    pub title: String,
    pub category: Category,
    pub sources: Vec<Source>,
    pub expr: Expr,
    /// Exclusions that apply to this detection (on some or all of its sources), in spec order.
    pub exclusions: Vec<IrExclusion>,
    pub output: IrOutput,
    pub time_filter: bool,
    /// Backends allowed to widen this detection where they cannot express it, with the reason.
    pub gaps: IndexMap<BackendName, String>,
    /// Backends that build nothing for this detection, with the reason.
    pub unsupported: IndexMap<BackendName, String>,
    pub span: Option<Span>,
}

#[derive(Debug)]
pub struct IrExclusion {
    pub id: String,
    pub reason: String,
    /// The detection's sources this exclusion applies to.
    pub sources: Vec<Source>,
    pub expr: Expr,
    pub span: Option<Span>,
}

#[derive(Debug)]
pub enum IrOutput {
    /// Group by these fields; aggregates are first/last seen, event ids and a count.
    Summarize(Vec<Field>),
    Project {
        columns: IndexMap<Source, Vec<Field>>,
        order_by: Option<(Field, Direction)>,
    },
}

/// A predicate tree. `All`/`Any` are never empty.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    All(Vec<Expr>),
    Any(Vec<Expr>),
    Not(Box<Expr>),
    Match(Match),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Match {
    pub field: Field,
    pub test: Test,
    /// A name the spec gave this value list (KQL binds it with `let`).
    pub list: Option<String>,
    /// Where the match is written in the spec.
    pub span: Option<Span>,
}

/// What a match checks. Text comparisons are case-insensitive unless `cased`.
#[derive(Clone, Debug, PartialEq)]
pub enum Test {
    Text {
        op: TextOp,
        values: Vec<String>,
        cased: bool,
    },
    /// Field equals the domain or ends with `.` + domain (case-insensitive, no trailing-dot
    /// normalization: `x.com.` is not `x.com`).
    Domain(Vec<String>),
    /// Field parses as an IP address equal to one of these.
    Ip(Vec<IpAddr>),
    /// Field parses as an IP address inside one of these ranges.
    Cidr(Vec<CidrValue>),
    /// Field is one of these port numbers.
    Port(Vec<u16>),
    /// Field equals one of these lower-case hex digests, case-insensitively.
    Digest(Vec<String>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextOp {
    /// Value occurs as whole terms: bounded on both sides by a non-alphanumeric character or
    /// the end of the field (KQL `has`). `netsupportsoftware.com` matches
    /// `a.netsupportsoftware.com.evil.net`, not `xnetsupportsoftware.com`.
    Term,
    /// The whole field equals the value.
    Exact,
    Contains,
    Prefix,
    Suffix,
}

impl TextOp {
    pub fn name(self) -> &'static str {
        match self {
            TextOp::Term => "term",
            TextOp::Exact => "exact",
            TextOp::Contains => "contains",
            TextOp::Prefix => "prefix",
            TextOp::Suffix => "suffix",
        }
    }
}

impl Test {
    /// The spec's name of this kind of match (`term`, `domain`, `ip`, …).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Test::Text { op, .. } => op.name(),
            Test::Domain(_) => "domain",
            Test::Ip(_) => "ip",
            Test::Cidr(_) => "cidr",
            Test::Port(_) => "port",
            Test::Digest(_) => "hash",
        }
    }

    /// How many values the match lists.
    pub fn value_count(&self) -> usize {
        match self {
            Test::Text { values, .. } | Test::Domain(values) | Test::Digest(values) => values.len(),
            Test::Ip(v) => v.len(),
            Test::Cidr(v) => v.len(),
            Test::Port(v) => v.len(),
        }
    }

    /// The first value, as the spec writes it (an IP or range in its canonical form).
    pub fn first_value(&self) -> String {
        match self {
            Test::Text { values, .. } | Test::Domain(values) | Test::Digest(values) => {
                values[0].clone()
            }
            Test::Ip(v) => v[0].to_string(),
            Test::Cidr(v) => v[0].to_string(),
            Test::Port(v) => v[0].to_string(),
        }
    }
}

impl Expr {
    /// Every match in the tree, depth first.
    pub fn matches_iter(&self) -> Vec<&Match> {
        let mut out = Vec::new();
        fn walk<'a>(e: &'a Expr, out: &mut Vec<&'a Match>) {
            match e {
                Expr::All(v) | Expr::Any(v) => v.iter().for_each(|x| walk(x, out)),
                Expr::Not(x) => walk(x, out),
                Expr::Match(m) => out.push(m),
            }
        }
        walk(self, &mut out);
        out
    }
}

/// Canonical one-line text of a match, for diagnostics and `rmmc explain`:
/// `remote_domain term [netsupportsoftware.com]`.
impl std::fmt::Display for Match {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (kind, values): (String, Vec<String>) = match &self.test {
            Test::Text { op, values, cased } => (
                format!("{}{}", op.name(), if *cased { " (cased)" } else { "" }),
                values.clone(),
            ),
            Test::Domain(v) => ("domain".into(), v.clone()),
            Test::Ip(v) => ("ip".into(), v.iter().map(ToString::to_string).collect()),
            Test::Cidr(v) => ("cidr".into(), v.iter().map(ToString::to_string).collect()),
            Test::Port(v) => ("port".into(), v.iter().map(ToString::to_string).collect()),
            Test::Digest(v) => ("hash".into(), v.clone()),
        };
        write!(f, "{} {kind} [{}]", self.field, values.join(", "))
    }
}
