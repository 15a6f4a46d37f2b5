//! SPL evaluator — API placeholder for parallel work; replaced by the real parser and
//! interpreter before this lands.

use crate::eval::kql::parser::ParseError;
use serde_json::{Map, Value};

/// A parsed SPL search (base search terms + pipeline).
#[derive(Clone, Debug, PartialEq)]
pub struct Search {}

/// Parse an SPL search as rmmc emits it (and the hand-written subset documented in the
/// module docs). Errors carry line and column.
pub fn parse(_text: &str) -> Result<Search, ParseError> {
    Err(ParseError {
        message: "the SPL evaluator is not built yet".into(),
        span: Default::default(),
    })
}

impl Search {
    /// Run the search over events: flat JSON objects with Splunk field names (Sysmon / CIM);
    /// `_time` is an RFC 3339 string or epoch seconds. Returns the result rows, in the order
    /// the pipeline produces (events that pass for a search without `stats`/`table`).
    pub fn run(
        &self,
        _events: &[Map<String, Value>],
        _now_ns: i128,
    ) -> Result<Vec<Map<String, Value>>, String> {
        Err("the SPL evaluator is not built yet".into())
    }

    /// Fields the search reads from events (so `rmmc eval` can say which ones an export lacks).
    pub fn input_fields(&self) -> Vec<String> {
        Vec::new()
    }
}
