//! EQL evaluator — API placeholder for parallel work; replaced by the real parser and
//! interpreter before this lands.

use crate::eval::kql::parser::ParseError;
use serde_json::Value;

/// A parsed EQL event query: `<category> where <condition>`.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {}

/// Parse an EQL query as rmmc emits it (`//` comment lines allowed). Errors carry line and
/// column.
pub fn parse(_text: &str) -> Result<Query, ParseError> {
    Err(ParseError {
        message: "the EQL evaluator is not built yet".into(),
        span: Default::default(),
    })
}

impl Query {
    /// The event category the query selects (`network`, `process`, `file`, or `any`).
    pub fn category(&self) -> &str {
        "any"
    }

    /// Does this event match? `event` is a nested ECS document (`{"destination": {"domain":
    /// …}, "event": {"category": "network"}, …}`); the query's category must be in the
    /// event's `event.category` (a string or an array). Semantics as Elasticsearch's EQL.
    pub fn matches(&self, _event: &Value) -> Result<bool, String> {
        Err("the EQL evaluator is not built yet".into())
    }

    /// Dotted ECS fields the query reads.
    pub fn input_fields(&self) -> Vec<String> {
        Vec::new()
    }
}
