//! Filters bound to their query once, so a streamed event pays no name lookups: each name of
//! a leading `where` is resolved when the stream starts, as `Env::eval` would resolve it on
//! every row (a `let` first, else a column, typed string or not by the table's schema).
//! The walk (`Env::walk`) is one body for both forms, through [`Node::shape`].

use super::*;

/// One level of an expression as the walk sees it; `N` is the node type of its children.
pub(super) enum Shape<'a, N> {
    /// A name still to resolve: a `let`, else a column (an [`Expr`]).
    Name(&'a str),
    /// A `let`'s value, resolved.
    Let(&'a Value),
    /// A column, resolved: `string` when the table's schema types it string, so that absent
    /// or null it reads as "".
    Col {
        name: &'a str,
        string: bool,
    },
    /// `Cmp(op, Col, Lit(Str(lit)))`: a column against a string literal.
    ColCmpStr {
        name: &'a str,
        string: bool,
        op: CmpOp,
        lit: &'a str,
    },
    /// `Between(Col, lo, hi)` with `lo` and `hi` known values (`let`s or literals).
    ColBetween {
        name: &'a str,
        string: bool,
        lo: &'a Value,
        hi: &'a Value,
    },
    Lit(&'a Lit),
    Dynamic(&'a [Lit]),
    Call(&'a str, &'a [N]),
    Not(&'a N),
    And(&'a N, &'a N),
    Or(&'a N, &'a N),
    Cmp(CmpOp, &'a N, &'a N),
    In {
        lhs: &'a N,
        items: &'a [N],
        ci: bool,
        negated: bool,
    },
    HasAny {
        lhs: &'a N,
        items: &'a [N],
        all: bool,
    },
    Between(&'a N, &'a N, &'a N),
    Neg(&'a N),
}

/// An expression the walk can evaluate.
pub(super) trait Node: Sized {
    fn shape(&self) -> Shape<'_, Self>;
}

impl Node for Expr {
    fn shape(&self) -> Shape<'_, Expr> {
        match self {
            Expr::Name(n) => Shape::Name(n),
            Expr::Lit(l) => Shape::Lit(l),
            Expr::Dynamic(v) => Shape::Dynamic(v),
            Expr::Call(f, args) => Shape::Call(f, args),
            Expr::Not(x) => Shape::Not(x),
            Expr::And(a, b) => Shape::And(a, b),
            Expr::Or(a, b) => Shape::Or(a, b),
            Expr::Cmp(op, a, b) => Shape::Cmp(*op, a, b),
            Expr::In {
                lhs,
                items,
                ci,
                negated,
            } => Shape::In {
                lhs,
                items,
                ci: *ci,
                negated: *negated,
            },
            Expr::HasAny { lhs, items, all } => Shape::HasAny {
                lhs,
                items,
                all: *all,
            },
            Expr::Between(x, lo, hi) => Shape::Between(x, lo, hi),
            Expr::Neg(x) => Shape::Neg(x),
        }
    }
}

/// An [`Expr`] with its names resolved against one query's `let`s and table.
#[derive(Debug)]
pub(super) enum Bound<'q> {
    Let(Value),
    Col {
        name: &'q str,
        string: bool,
    },
    ColCmpStr {
        name: &'q str,
        string: bool,
        op: CmpOp,
        lit: &'q str,
    },
    ColBetween {
        name: &'q str,
        string: bool,
        lo: Value,
        hi: Value,
    },
    Lit(&'q Lit),
    Dynamic(&'q [Lit]),
    Call(&'q str, Vec<Bound<'q>>),
    Not(Box<Bound<'q>>),
    And(Box<Bound<'q>>, Box<Bound<'q>>),
    Or(Box<Bound<'q>>, Box<Bound<'q>>),
    Cmp(CmpOp, Box<Bound<'q>>, Box<Bound<'q>>),
    In {
        lhs: Box<Bound<'q>>,
        items: Vec<Bound<'q>>,
        ci: bool,
        negated: bool,
    },
    HasAny {
        lhs: Box<Bound<'q>>,
        items: Vec<Bound<'q>>,
        all: bool,
    },
    Between(Box<Bound<'q>>, Box<Bound<'q>>, Box<Bound<'q>>),
    Neg(Box<Bound<'q>>),
}

impl Node for Bound<'_> {
    fn shape(&self) -> Shape<'_, Self> {
        match self {
            Bound::Let(v) => Shape::Let(v),
            Bound::Col { name, string } => Shape::Col {
                name,
                string: *string,
            },
            Bound::ColCmpStr {
                name,
                string,
                op,
                lit,
            } => Shape::ColCmpStr {
                name,
                string: *string,
                op: *op,
                lit,
            },
            Bound::ColBetween {
                name,
                string,
                lo,
                hi,
            } => Shape::ColBetween {
                name,
                string: *string,
                lo,
                hi,
            },
            Bound::Lit(l) => Shape::Lit(l),
            Bound::Dynamic(v) => Shape::Dynamic(v),
            Bound::Call(f, args) => Shape::Call(f, args),
            Bound::Not(x) => Shape::Not(x),
            Bound::And(a, b) => Shape::And(a, b),
            Bound::Or(a, b) => Shape::Or(a, b),
            Bound::Cmp(op, a, b) => Shape::Cmp(*op, a, b),
            Bound::In {
                lhs,
                items,
                ci,
                negated,
            } => Shape::In {
                lhs,
                items,
                ci: *ci,
                negated: *negated,
            },
            Bound::HasAny { lhs, items, all } => Shape::HasAny {
                lhs,
                items,
                all: *all,
            },
            Bound::Between(x, lo, hi) => Shape::Between(x, lo, hi),
            Bound::Neg(x) => Shape::Neg(x),
        }
    }
}

impl Env {
    /// `e` with every name resolved as `eval` resolves it: a `let` (its value), else a column.
    /// The two commonest filters of a column, a string operator against a literal and a
    /// time window, are bound as one node each.
    pub(super) fn bind<'q>(&self, e: &'q Expr) -> Bound<'q> {
        let b = |x: &'q Expr| Box::new(self.bind(x));
        let all = |xs: &'q [Expr]| xs.iter().map(|x| self.bind(x)).collect();
        // a known value: a `let` or a literal
        let known = |x: &'q Expr| match self.bind(x) {
            Bound::Let(v) => Some(v),
            Bound::Lit(l) => Some(Value::from(l)),
            _ => None,
        };
        match e {
            Expr::Name(n) => match self.lets.get(n) {
                Some(v) => Bound::Let(v.clone()),
                None => Bound::Col {
                    name: n,
                    string: self.is_string(n),
                },
            },
            Expr::Lit(l) => Bound::Lit(l),
            Expr::Dynamic(v) => Bound::Dynamic(v),
            Expr::Call(f, args) => Bound::Call(f, all(args)),
            Expr::Not(x) => Bound::Not(b(x)),
            Expr::And(x, y) => Bound::And(b(x), b(y)),
            Expr::Or(x, y) => Bound::Or(b(x), b(y)),
            Expr::Cmp(op, x, y) => match (self.bind(x), &**y) {
                (Bound::Col { name, string }, Expr::Lit(Lit::Str(lit))) => Bound::ColCmpStr {
                    name,
                    string,
                    op: *op,
                    lit,
                },
                (x, _) => Bound::Cmp(*op, Box::new(x), b(y)),
            },
            Expr::In {
                lhs,
                items,
                ci,
                negated,
            } => Bound::In {
                lhs: b(lhs),
                items: all(items),
                ci: *ci,
                negated: *negated,
            },
            Expr::HasAny { lhs, items, all: a } => Bound::HasAny {
                lhs: b(lhs),
                items: all(items),
                all: *a,
            },
            Expr::Between(x, lo, hi) => match (self.bind(x), known(lo), known(hi)) {
                (Bound::Col { name, string }, Some(lo), Some(hi)) => Bound::ColBetween {
                    name,
                    string,
                    lo,
                    hi,
                },
                (x, _, _) => Bound::Between(Box::new(x), b(lo), b(hi)),
            },
            Expr::Neg(x) => Bound::Neg(b(x)),
        }
    }
}

impl Env {
    /// `walk(e, row)?.truth()` without building values, when `e` is made only of nodes that
    /// cannot fail and whose value is a bool or null: a column against a string literal or
    /// between known bounds, under `and`, `or` and `not` (the same three-valued logic as the
    /// walk; a null's truth is `None`). `None` when `e` is not: the walk decides.
    pub(super) fn quick(&self, e: &Bound<'_>, row: &Row) -> Option<Option<bool>> {
        Some(match e {
            Bound::ColCmpStr {
                name,
                string,
                op,
                lit,
            } => compare_str_lit(*op, column_as(row, name, || *string), lit).truth(),
            Bound::ColBetween {
                name,
                string,
                lo,
                hi,
            } => between(column_as(row, name, || *string), lo, hi).truth(),
            Bound::And(a, b) => match self.quick(a, row)? {
                Some(false) => Some(false),
                a => match (a, self.quick(b, row)?) {
                    (_, Some(false)) => Some(false),
                    (Some(true), Some(true)) => Some(true),
                    _ => None,
                },
            },
            Bound::Or(a, b) => match self.quick(a, row)? {
                Some(true) => Some(true),
                a => match (a, self.quick(b, row)?) {
                    (_, Some(true)) => Some(true),
                    (Some(false), Some(false)) => Some(false),
                    _ => None,
                },
            },
            Bound::Not(x) => self.quick(x, row)?.map(|b| !b),
            _ => return None,
        })
    }
}
