//! The search command: field=value, IN, bare terms, time bounds.

use super::expr::Ctx;
use super::value::*;
use crate::eval::spl::ast::*;
use crate::eval::spl::parser::number;
use std::cmp::Ordering;

pub(super) fn cmp_text(a: &str, b: &str) -> Ordering {
    match (number(a), number(b)) {
        (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        _ => a.cmp(b),
    }
}

pub fn search_match(e: &SExpr, row: &Row, ctx: &Ctx) -> bool {
    matches(e, row, ctx, &std::cell::OnceCell::new())
}

/// `time` holds the row's `_time` once read (`earliest` and `latest` both need it).
fn matches(e: &SExpr, row: &Row, ctx: &Ctx, time: &std::cell::OnceCell<Option<i128>>) -> bool {
    match e {
        SExpr::And(xs) => xs.iter().all(|x| matches(x, row, ctx, time)),
        SExpr::Or(xs) => xs.iter().any(|x| matches(x, row, ctx, time)),
        SExpr::Not(x) => !matches(x, row, ctx, time),
        SExpr::Cmp { field, op, value } => match op {
            CmpOp::Eq => any_value(row, field, |v| value.is_match(v)) == Some(true),
            CmpOp::Ne => any_value(row, field, |v| value.is_match(v)) == Some(false),
            _ => {
                any_value(row, field, |v| {
                    let o = cmp_text(v, &value.text);
                    match op {
                        CmpOp::Lt => o == Ordering::Less,
                        CmpOp::Gt => o == Ordering::Greater,
                        CmpOp::Le => o != Ordering::Greater,
                        _ => o != Ordering::Less,
                    }
                }) == Some(true)
            }
        },
        SExpr::In { field, values } => {
            any_value(row, field, |v| values.iter().any(|w| w.is_match(v))) == Some(true)
        }
        SExpr::Term { raw, .. } => raw.0.is_match(&raw_text(row)),
        SExpr::Time { latest, at } => {
            let bound = match at {
                TimeSpec::Relative(d) => ctx.now_ns.saturating_add(*d),
                TimeSpec::Epoch(t) => *t,
            };
            match *time.get_or_init(|| time_ns(row)) {
                Some(t) if *latest => t < bound,
                Some(t) => t >= bound,
                None => false,
            }
        }
    }
}
