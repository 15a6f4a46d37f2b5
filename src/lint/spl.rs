//! Null hazards in SPL `where` stages (issue 14, item 3): a `NOT` over a test that is null on
//! some event drops that event, where the spec (a missing text field reads as "") keeps it.
//!
//! What Splunk documents, and what rmmc follows:
//! - `where`: "The where command returns only the results for which the eval expression
//!   returns true" (Search Reference, where: help.splunk.com/splunk-enterprise/
//!   spl-search-reference/9.2/search-commands/where), so a null result drops the row.
//! - An eval comparison or function given a null value (a field the event does not have) is
//!   null, except `coalesce`, `isnull`, `isnotnull` and `if`, and `NOT null` is null: the
//!   three-valued logic of rmmc's SPL evaluator (`eval::spl::interp`, module docs); the
//!   Search Reference states no per-function null rule, so this follows the evaluator.
//! - In the *search* command `NOT field=value` keeps an event without the field: "If you
//!   search with the NOT operator, every event is returned except the events that contain the
//!   value you specify. This includes events that do not have a value in the field" (Search
//!   Manual, "Difference between != and NOT"), so search-level `NOT` is no hazard and is not
//!   checked here.
//!
//! `rmmc build` writes every field a `where` reads through `| eval F=coalesce(F, "")` first, so
//! its `NOT`s are of a true or false value, never of a null; a hand edit that drops the
//! coalesce, or adds a `NOT` over a field that was not coalesced, is refused.

use crate::eval::spl::ast::{Command, Expr, Func};
use crate::eval::spl::lexer::{lex, Tok};
use std::collections::HashSet;

/// One hazard: the 1-based line and column of its `NOT` in the search text, and why.
#[derive(Debug, PartialEq)]
pub struct Hazard {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

/// The hazards of a parsed search, located in `text` (the search it was parsed from).
pub fn null_hazards(text: &str, commands: &[Command]) -> Vec<Hazard> {
    // `NOT` keywords of `where` stages, in source order: the walk below numbers the `Not`
    // nodes of `where` expressions in the same (pre-)order.
    let mut nots = Vec::new();
    if let Ok(toks) = lex(text) {
        let mut command: Option<String> = None;
        let mut at_start = true;
        for t in &toks {
            match &t.tok {
                Tok::Punct("|") => at_start = true,
                Tok::Word(w) if at_start => {
                    command = Some(w.clone());
                    at_start = false;
                }
                Tok::Word(w) if w == "NOT" && command.as_deref() == Some("where") => {
                    nots.push(t.span)
                }
                _ => at_start = false,
            }
        }
    }
    let mut known: HashSet<String> = HashSet::new();
    let mut index = 0;
    let mut out = Vec::new();
    for c in commands {
        match c {
            Command::Search(_) | Command::Sort { .. } | Command::Head(_) => {}
            Command::Eval(assignments) => {
                for (name, e) in assignments {
                    if never_null(e, &known) {
                        known.insert(name.clone());
                    } else {
                        known.remove(name);
                    }
                }
            }
            Command::Where(e) => {
                let mut found = Vec::new();
                walk(e, true, &known, &mut index, &mut found);
                for (i, message) in found {
                    let (line, col) = nots.get(i).map_or((1, 1), |s| (s.line, s.col));
                    out.push(Hazard { line, col, message });
                }
            }
            // later stages read other columns; the emitted searches filter before them
            Command::Stats { .. } | Command::Table(_) | Command::Fields { .. } => break,
        }
    }
    out
}

/// Pre-order walk numbering every `Not`; a `Not` in a boolean position (reached through
/// `and` / `or` / `not` from the root) whose operand can be null is a hazard.
fn walk(
    e: &Expr,
    boolean: bool,
    known: &HashSet<String>,
    index: &mut usize,
    found: &mut Vec<(usize, String)>,
) {
    match e {
        Expr::Not(x) => {
            let i = *index;
            *index += 1;
            if boolean && !never_null(x, known) {
                let mut fields = Vec::new();
                nullable_fields(x, known, &mut fields);
                fields.dedup();
                let names = fields
                    .iter()
                    .map(|f| format!("`{f}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                found.push((
                    i,
                    format!(
                        "`NOT` over a test of {names}, which is null for an event without that field: `NOT` of null is null and `where` keeps only true results, so the event is dropped where the spec keeps it"
                    ),
                ));
            }
            walk(x, boolean, known, index, found);
        }
        Expr::And(xs) | Expr::Or(xs) => {
            for x in xs {
                walk(x, boolean, known, index, found);
            }
        }
        Expr::Cmp(_, a, b) => {
            walk(a, false, known, index, found);
            walk(b, false, known, index, found);
        }
        Expr::Call(_, args) => {
            for a in args {
                walk(a, false, known, index, found);
            }
        }
        Expr::Field(_) | Expr::Str(_) | Expr::Num(..) => {}
    }
}

/// Whether `e` is never null, given the fields known to hold a value.
fn never_null(e: &Expr, known: &HashSet<String>) -> bool {
    match e {
        Expr::Str(_) | Expr::Num(..) => true,
        Expr::Field(f) => known.contains(f),
        Expr::Not(x) => never_null(x, known),
        Expr::And(xs) | Expr::Or(xs) => xs.iter().all(|x| never_null(x, known)),
        Expr::Cmp(_, a, b) => never_null(a, known) && never_null(b, known),
        Expr::Call(f, args) => match f {
            Func::IsNull | Func::IsNotNull => true,
            Func::Null => false,
            Func::Now => true,
            Func::Coalesce => args.iter().any(|a| never_null(a, known)),
            // a null condition takes the else branch
            Func::If => args[1..].iter().all(|a| never_null(a, known)),
            Func::Match
            | Func::Like
            | Func::Lower
            | Func::Upper
            | Func::Replace
            | Func::CidrMatch
            | Func::Len
            | Func::RelativeTime => args.iter().all(|a| never_null(a, known)),
        },
    }
}

/// The fields (and `null()` calls) that make `e` possibly null, for the message.
fn nullable_fields(e: &Expr, known: &HashSet<String>, out: &mut Vec<String>) {
    if never_null(e, known) {
        return;
    }
    match e {
        Expr::Field(f) => out.push(f.clone()),
        Expr::Not(x) => nullable_fields(x, known, out),
        Expr::And(xs) | Expr::Or(xs) => xs.iter().for_each(|x| nullable_fields(x, known, out)),
        Expr::Cmp(_, a, b) => {
            nullable_fields(a, known, out);
            nullable_fields(b, known, out);
        }
        Expr::Call(Func::Null, _) => out.push("null()".into()),
        Expr::Call(_, args) => args.iter().for_each(|a| nullable_fields(a, known, out)),
        Expr::Str(_) | Expr::Num(..) => {}
    }
}
