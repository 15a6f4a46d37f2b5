//! EQL: lexer → parser → AST → interpreter for Elasticsearch event queries
//! (`<category> where <condition>`), the subset rmmc emits plus the common operators and
//! functions. Reads the artifact text only. Semantics and sources: `interp` (matching),
//! `lucene` (regular expressions), `lexer` (strings), `parser` (grammar).

pub mod ast;
pub mod interp;
pub mod lexer;
pub mod lucene;
pub mod parser;

pub use crate::eval::syntax::ParseError;
pub use ast::{Expr, Query};
use serde_json::Value;

/// Parse an EQL query as rmmc emits it (`//` comment lines allowed). Errors carry line and
/// column.
pub fn parse(text: &str) -> Result<Query, ParseError> {
    parser::parse(text)
}

/// Parse a bare condition (the part after `where`).
pub fn parse_condition(text: &str) -> Result<Expr, ParseError> {
    parser::parse_condition(text)
}

impl Query {
    /// The event category the query selects (`network`, `process`, `file`, or `any`).
    pub fn category(&self) -> &str {
        &self.category
    }

    /// Does this event match? `event` is a nested ECS document (`{"destination": {"domain":
    /// …}, "event": {"category": "network"}, …}`) or a flat object with dotted keys; the
    /// query's category must be in the event's `event.category` (a string or an array).
    /// Semantics as Elasticsearch's EQL (see `interp`).
    pub fn matches(&self, event: &Value) -> Result<bool, String> {
        if !event.is_object() {
            return Err(format!(
                "an event must be a JSON object, not {}",
                match event {
                    Value::Null => "null",
                    Value::Bool(_) => "a boolean",
                    Value::Number(_) => "a number",
                    Value::String(_) => "a string",
                    Value::Array(_) => "an array",
                    Value::Object(_) => "an object",
                }
            ));
        }
        Ok(interp::in_category(&self.category, event) && interp::eval(&self.condition, event))
    }

    /// Does the condition alone hold (the category is not checked)?
    pub fn condition_matches(&self, event: &Value) -> bool {
        interp::eval(&self.condition, event)
    }

    /// Dotted ECS fields the query reads, sorted and without repeats (`event.category` is
    /// included unless the category is `any`).
    pub fn input_fields(&self) -> Vec<String> {
        let mut v = Vec::new();
        self.condition.fields(&mut v);
        let mut out: Vec<String> = v.into_iter().map(String::from).collect();
        if self.category != "any" {
            out.push("event.category".into());
        }
        out.sort();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests;
