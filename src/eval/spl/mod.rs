//! SPL evaluator: lexer → parser → AST → interpreter, for the subset rmmc's Splunk backend
//! emits plus the hand-written subset people use in hunting searches. It reads the artifact
//! TEXT only (never the IR or the backend), and follows Splunk's documented semantics; the
//! module docs of `parser` (syntax, precedence), `interp` (values, nulls, stats, sort) and
//! `pcre` (which regex constructs are refused) cite the pages they follow.
//!
//! Supported:
//! - ```` ```comments``` ```` anywhere;
//! - the (implied) search command: `field=value`, `field="quoted value"`, `field!=value`,
//!   `field<…` `>` `<=` `>=`, bare terms and quoted phrases, `*` wildcards, `field IN (a, b)`,
//!   `AND`/`OR`/`NOT` with search precedence (NOT > OR > AND, AND implied), parentheses,
//!   `earliest=`/`latest=` with `-N<s|m|h|d|w>`, `now` or epoch seconds;
//! - `| from datamodel <Model>.<Dataset>` as the generating command, read as the search for
//!   the CIM dataset's constraint (`datamodel.rs`: `tag=process tag=report` for
//!   Endpoint.Processes);
//! - `| search`, `| where <eval>`, `| eval a=<eval>, b=<eval>`,
//!   `| stats count [as X] count(x) min(x) max(x) values(x) dc(x) … [by f1 f2]`,
//!   `| sort [N] [-|+]f, …`, `| table f1 f2*`, `| fields [+|-] f1, f2`, `| head [N]`;
//! - eval: `==`/`=`, `!=`, `<`, `>`, `<=`, `>=`, `AND`/`OR`/`NOT` (NOT > AND > OR), string
//!   literals (`\"`, `\\`), numbers, `'quoted field'`, and `match`, `like`, `lower`, `upper`,
//!   `replace`, `coalesce`, `isnull`, `isnotnull`, `cidrmatch`, `len`, `if`, `null`, `now`,
//!   `relative_time` (offsets without snap-to).
//!
//! Everything else (macros, subsearches, other commands and functions, arithmetic, snap-to
//! times) is a parse error with its line and column, never a silent guess.

pub mod ast;
mod datamodel;
pub mod interp;
pub mod lexer;
pub mod parser;
pub mod pcre;
mod values;

pub use ast::Command;

use crate::eval::syntax::{Loc, ParseError};
use serde_json::{Map, Value};
use std::fmt;

/// A parsed SPL search (base search terms + pipeline).
#[derive(Clone, Debug, PartialEq)]
pub struct Search {
    pub commands: Vec<Command>,
    /// Where each of `commands` stands in the text (`spans[i]` is `commands[i]`'s). Always
    /// equal (`Loc`): searches compare by meaning.
    pub spans: Vec<Loc>,
    /// The regexes of the literal patterns in `commands`, compiled by the parser.
    literals: interp::Literals,
}

/// Parse an SPL search as rmmc emits it (and the hand-written subset documented in the
/// module docs). Errors carry line and column.
pub fn parse(text: &str) -> Result<Search, ParseError> {
    let (commands, spans, literals) = parser::parse_with_literals(text)?;
    Ok(Search {
        commands,
        spans,
        literals,
    })
}

impl Search {
    /// Run the search over events: flat JSON objects with Splunk field names (Sysmon / CIM);
    /// `_time` is an RFC 3339 string or epoch seconds. Returns the result rows, in the order
    /// the pipeline produces (events that pass for a search without `stats`/`table`).
    pub fn run(
        &self,
        events: &[Map<String, Value>],
        now_ns: i128,
    ) -> Result<Vec<Map<String, Value>>, String> {
        interp::run_with(&self.commands, &self.spans, &self.literals, events, now_ns)
    }

    /// A runner for the same search over many small batches (one per verify case).
    pub fn runner(&self) -> Runner<'_> {
        Runner { search: self }
    }

    /// Fields the search reads from events (so `rmmc eval` can say which ones an export lacks).
    pub fn input_fields(&self) -> Vec<String> {
        interp::input_fields(&self.commands)
    }
}

/// `Search::run` for one search over many batches.
pub struct Runner<'s> {
    search: &'s Search,
}

impl Runner<'_> {
    pub fn run(
        &self,
        events: &[Map<String, Value>],
        now_ns: i128,
    ) -> Result<Vec<Map<String, Value>>, String> {
        self.search.run(events, now_ns)
    }
}

impl fmt::Display for Search {
    /// A canonical, fully parenthesized rendering of the search expressions (for tests and
    /// debugging; not valid SPL for every command).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.commands.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            match c {
                Command::Search(e) => write!(f, "search {e}")?,
                Command::Where(e) => write!(f, "where {e}")?,
                Command::Eval(sets) => {
                    let s: Vec<String> = sets.iter().map(|(n, e)| format!("{n}={e}")).collect();
                    write!(f, "eval {}", s.join(", "))?
                }
                other => write!(f, "{other:?}")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
