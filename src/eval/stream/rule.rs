//! The artifacts `rmmc eval` runs: each parsed through its language's engine, with the
//! fields it reads and the events it judges (its scope).

use super::Event;
use crate::eval::engine::{self, Engine, Lang, ParseFailure};
use crate::eval::spl;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A parsed artifact.
pub enum Query {
    Kql(<engine::Kql as Engine>::Query),
    Spl(<engine::Spl as Engine>::Query),
    Eql(<engine::Eql as Engine>::Query),
    Sigma(Box<<engine::Sigma as Engine>::Query>),
}

/// One artifact, parsed, with the fields it reads from events.
pub struct Rule {
    pub path: PathBuf,
    pub lang: Lang,
    pub query: Query,
    /// The fields the rule reads (dotted paths for EQL and Sigma).
    pub fields: Vec<String>,
    /// It reads fields that cannot be named beforehand (SPL bare terms or field-name
    /// wildcards, Sigma keywords): events are decoded in full.
    pub reads_all: bool,
    /// Which events the rule judges, beyond what its text says.
    pub scope: Scope,
}

/// The events a rule judges where its text does not say it: a Sigma rule runs on its
/// logsource's events (issue 14: a process_creation rule never sees an EventID 3 record of a
/// mixed export), an EQL query within its Kibana rule's window.
pub enum Scope {
    /// Every event.
    All,
    /// Sigma: events with these fields and values (`backends/sigma.yaml` meta.event).
    Logsource(&'static serde_json::Map<String, Value>),
    /// EQL: events whose `@timestamp` is in `from..=to` (ns since epoch), and the Kibana
    /// rule's `from` as written.
    Window(i128, i128, String),
    /// Sigma: a logsource the mapping does not know; every event is judged.
    Unmapped(String),
}

impl Scope {
    /// The fields the scope reads (decoded for it, but not required of the export).
    pub(super) fn fields(&self) -> Vec<&str> {
        match self {
            Scope::Logsource(want) => want.keys().map(String::as_str).collect(),
            Scope::Window(..) => vec!["@timestamp"],
            Scope::All | Scope::Unmapped(_) => Vec::new(),
        }
    }

    pub(super) fn admits(&self, ev: &Event) -> bool {
        match self {
            Scope::All | Scope::Unmapped(_) => true,
            Scope::Logsource(want) => crate::verify::native::in_logsource(want, ev),
            Scope::Window(lo, hi, _) => crate::eval::keys::get(ev, "@timestamp")
                .and_then(Value::as_str)
                .and_then(crate::eval::time::parse_rfc3339)
                .is_some_and(|t| *lo <= t && t <= *hi),
        }
    }
}

impl Rule {
    /// Parse `text` as the artifact at `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Rule, ParseFailure> {
        let lang = Lang::of(path).ok_or_else(|| ParseFailure {
            message: "rmmc eval runs .kql, .yml (Sigma), .spl and .eql artifacts".into(),
            at: None,
        })?;
        let (fields, query, reads_all, scope) = match lang {
            Lang::Kql => {
                let q = engine::Kql::parse(text)?;
                (
                    engine::Kql::input_fields(&q),
                    Query::Kql(q),
                    false,
                    Scope::All,
                )
            }
            Lang::Spl => {
                let q = engine::Spl::parse(text)?;
                let all = spl_reads_all(&q.search.commands);
                (
                    engine::Spl::input_fields(&q),
                    Query::Spl(q),
                    all,
                    Scope::All,
                )
            }
            Lang::Eql => {
                let q = engine::Eql::parse(text)?;
                (
                    engine::Eql::input_fields(&q),
                    Query::Eql(q),
                    false,
                    Scope::All,
                )
            }
            Lang::Sigma => {
                let q = engine::Sigma::parse(text)?;
                let keywords = q.has_keywords();
                let logsource = q.doc.get("logsource").cloned().unwrap_or_default();
                let scope = match crate::verify::native::sigma_logsource_event(&logsource) {
                    Some(want) => Scope::Logsource(want),
                    None => Scope::Unmapped(serde_json::to_string(&logsource).unwrap_or_default()),
                };
                let fields = engine::Sigma::input_fields(&q);
                (fields, Query::Sigma(Box::new(q)), keywords, scope)
            }
        };
        Ok(Rule {
            path: path.to_path_buf(),
            lang,
            query,
            fields,
            reads_all,
            scope,
        })
    }

    /// The rule's name: the artifact's file name without its extension.
    pub fn name(&self) -> String {
        self.path
            .file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
    }
}

/// Does the SPL pipeline read fields it does not name (bare terms read `_raw` or every
/// field; `table`/`fields` with `*` pick names from the event)?
fn spl_reads_all(cmds: &[spl::Command]) -> bool {
    use spl::ast::SExpr;
    fn term(e: &SExpr) -> bool {
        match e {
            SExpr::Term { .. } => true,
            SExpr::And(xs) | SExpr::Or(xs) => xs.iter().any(term),
            SExpr::Not(x) => term(x),
            _ => false,
        }
    }
    cmds.iter().any(|c| match c {
        spl::Command::Search(e) => term(e),
        spl::Command::Table(fs) | spl::Command::Fields { fields: fs, .. } => {
            fs.iter().any(|f| f.contains('*'))
        }
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_window_reads_the_top_level_timestamp_string_only() {
        let t = |s: &str| crate::eval::time::parse_rfc3339(s).unwrap();
        let w = Scope::Window(
            t("2026-05-31T00:00:00Z"),
            t("2026-05-31T12:00:00Z"),
            "now-12h".into(),
        );
        let admits = |v: Value| w.admits(v.as_object().unwrap());
        assert!(admits(
            json!({"a": 1, "@timestamp": "2026-05-31T06:00:00Z"})
        ));
        assert!(admits(json!({"@timestamp": "2026-05-31T12:00:00Z"})));
        assert!(!admits(json!({"@timestamp": "2026-05-31T12:00:01Z"})));
        // absent, null, not a string, not a time, or nested: not in the window
        assert!(!admits(json!({"timestamp": "2026-05-31T06:00:00Z"})));
        assert!(!admits(json!({"@timestamp": null})));
        assert!(!admits(json!({"@timestamp": 1_780_207_200})));
        assert!(!admits(json!({"@timestamp": "yesterday"})));
        assert!(!admits(
            json!({"event": {"@timestamp": "2026-05-31T06:00:00Z"}})
        ));
        assert!(!admits(json!({"@Timestamp": "2026-05-31T06:00:00Z"})));
        // more keys than a scan reads: the map is asked
        let mut big: serde_json::Map<String, Value> =
            (0..40).map(|i| (format!("k{i}"), json!(i))).collect();
        big.insert("@timestamp".into(), json!("2026-05-31T06:00:00Z"));
        assert!(w.admits(&big));
    }
}
