//! Microsoft Sentinel scheduled analytic rules (the Azure-Sentinel repository's YAML format)
//! against the published constraints in `backends/sentinel.yaml`. Each violation names the
//! key, its line and column in the artifact, the rule and the fix.
//!
//! Stays whole (just over 600 lines): one product's published constraints, checked key by key.

use crate::diag::{Diag, DiagKind, Span};
use crate::spec::attack;
use crate::spec::spans::{SpanIndex, YamlPath};
use crate::spec::values::Duration;
use indexmap::IndexMap;
use serde::Deserialize;
use serde_yaml::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::OnceLock;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentinelSchema {
    pub connectors: IndexMap<String, Vec<String>>,
    pub severities: Vec<String>,
    pub kinds: Vec<String>,
    pub trigger_operators: Vec<String>,
    pub trigger_threshold: Range,
    pub limits: Limits,
    pub entities: IndexMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    pub min: i64,
    pub max: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub name: usize,
    pub description: usize,
    pub query: usize,
    pub entity_mappings: usize,
    pub field_mappings: usize,
}

pub fn schema() -> &'static SentinelSchema {
    static S: OnceLock<SentinelSchema> = OnceLock::new();
    S.get_or_init(|| {
        serde_yaml::from_str(include_str!("../../backends/sentinel.yaml"))
            .unwrap_or_else(|e| panic!("backends/sentinel.yaml: {e}"))
    })
}

/// Keys every scheduled rule must have.
const REQUIRED: &[&str] = &[
    "id",
    "name",
    "description",
    "severity",
    "requiredDataConnectors",
    "queryFrequency",
    "queryPeriod",
    "triggerOperator",
    "triggerThreshold",
    "tactics",
    "relevantTechniques",
    "query",
    "version",
    "kind",
];

struct Linter<'a> {
    file: &'a Path,
    spans: Option<SpanIndex>,
    diags: Vec<Diag>,
}

impl Linter<'_> {
    fn at(&self, key: &YamlPath) -> Option<Span> {
        self.spans.as_ref().and_then(|s| s.nearest(key))
    }

    fn err(&mut self, key: &YamlPath, message: String, help: &str) {
        let d = Diag::error(
            DiagKind::Schema,
            format!("Sentinel analytic rule: {key}: {message}"),
        )
        .at(self.file, self.at(key))
        .help(help);
        self.diags.push(d);
    }
}

fn path(segments: &[&str]) -> YamlPath {
    let mut p = YamlPath::default();
    for s in segments {
        p = p.key(*s);
    }
    p
}

/// The first non-ASCII character of a Sentinel YAML file (analytic rule or hunting query), if
/// any: the Azure-Sentinel repository takes ASCII files only, so a non-ASCII value must be
/// written as a `\uXXXX` escape in a double-quoted scalar (what `rmmc build` does). One
/// error per file, at the character's line and column.
pub fn non_ascii(file: &Path, text: &str) -> Option<Diag> {
    let (line_no, line) = text.split('\n').enumerate().find(|(_, l)| !l.is_ascii())?;
    let (col, c) = line.chars().enumerate().find(|(_, c)| !c.is_ascii())?;
    Some(
        Diag::error(
            DiagKind::Schema,
            format!(
                "Sentinel YAML: non-ASCII character {c:?} (U+{:04X}); Sentinel rule files are ASCII only",
                c as u32
            ),
        )
        .at(file, Some(Span::from_line_col(text, line_no + 1, col + 1)))
        .help("write it as a \\uXXXX escape in a double-quoted string, or regenerate the rule with `rmmc build`"),
    )
}

/// Is `name` an ASIM unifying parser (`_Im_NetworkSession`, `_Im_ProcessCreate` …), the
/// built-in functions learn.microsoft.com/azure/sentinel/normalization-parsers-overview names?
pub fn is_asim_parser(name: &str) -> bool {
    name.starts_with("_Im_")
}

/// Every violation of Sentinel's constraints in one analytic-rule file.
pub fn analytic_rule(file: &Path, text: &str) -> Vec<Diag> {
    let mut l = Linter {
        file,
        spans: SpanIndex::build(text).ok(),
        diags: non_ascii(file, text).into_iter().collect(),
    };
    let doc: Value = match serde_yaml::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            let span = e
                .location()
                .map(|loc| Span::from_line_col(text, loc.line(), loc.column()));
            return vec![
                Diag::error(DiagKind::Syntax, format!("not valid YAML: {e}"))
                    .at(file, span)
                    .help("regenerate the rule with `rmmc build`"),
            ];
        }
    };
    let Some(map) = doc.as_mapping() else {
        l.err(
            &YamlPath::default(),
            "the rule is not a YAML mapping".into(),
            "regenerate it with `rmmc build`",
        );
        return l.diags;
    };
    let s = schema();
    let get = |k: &str| map.get(k);
    for k in REQUIRED {
        if get(k).is_none() {
            l.err(
                &YamlPath::default(),
                format!("missing key `{k}`"),
                "add the key (see backends/sentinel.yaml)",
            );
        }
    }
    let text_of = |k: &str| get(k).and_then(Value::as_str);

    if let Some(v) = get("id") {
        let ok = v
            .as_str()
            .and_then(|s| {
                uuid::Uuid::try_parse(s)
                    .ok()
                    .map(|u| u.hyphenated().to_string() == s.to_ascii_lowercase())
            })
            .unwrap_or(false);
        if !ok {
            l.err(
                &path(&["id"]),
                format!("{} is not a GUID", show(v)),
                "use a GUID such as 0107e9be-fd92-5050-ad82-8d752a9a8284",
            );
        }
    }
    if let Some(v) = get("kind") {
        one_of(&mut l, "kind", v, &s.kinds);
    }
    if let Some(v) = get("severity") {
        one_of(&mut l, "severity", v, &s.severities);
    }
    if let Some(v) = get("triggerOperator") {
        one_of(&mut l, "triggerOperator", v, &s.trigger_operators);
    }
    for (key, max) in [
        ("name", s.limits.name),
        ("description", s.limits.description),
        ("query", s.limits.query),
    ] {
        match get(key) {
            None => {}
            Some(Value::String(t)) if t.trim().is_empty() => {
                l.err(&path(&[key]), "is empty".into(), "write a value");
            }
            Some(Value::String(t)) if t.chars().count() > max => l.err(
                &path(&[key]),
                format!(
                    "is {} characters long; Sentinel allows at most {max}",
                    t.chars().count()
                ),
                "shorten it",
            ),
            Some(Value::String(_)) => {}
            Some(v) => l.err(
                &path(&[key]),
                format!("{} is not a string", show(v)),
                "write a string",
            ),
        }
    }
    if let Some(v) = get("triggerThreshold") {
        let r = &s.trigger_threshold;
        if !v.as_i64().is_some_and(|n| n >= r.min && n <= r.max) {
            l.err(
                &path(&["triggerThreshold"]),
                format!(
                    "{} is not a whole number from {} to {}",
                    show(v),
                    r.min,
                    r.max
                ),
                "use e.g. 0 (alert on any result)",
            );
        }
    }
    if let Some(v) = get("version") {
        let ok = v.as_str().is_some_and(|t| {
            let parts: Vec<&str> = t.split('.').collect();
            parts.len() == 3
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        });
        if !ok {
            l.err(
                &path(&["version"]),
                format!("{} is not a version like 1.0.0", show(v)),
                "use major.minor.patch",
            );
        }
    }

    // Schedule: both durations within 5m–14d, and the period covers the frequency.
    let duration = |l: &mut Linter, key: &str| -> Option<Duration> {
        let v = get(key)?;
        match v.as_str().and_then(|t| t.parse::<Duration>().ok()) {
            Some(d) if d >= Duration::MIN && d <= Duration::MAX => Some(d),
            Some(d) => {
                l.err(
                    &path(&[key]),
                    format!("{d} is outside Sentinel's range 5m–14d"),
                    "use a value from 5m to 14d",
                );
                None
            }
            None => {
                l.err(
                    &path(&[key]),
                    format!("{} is not a duration like 5m, 1h or 14d", show(v)),
                    "write a whole number followed by m, h or d",
                );
                None
            }
        }
    };
    let freq = duration(&mut l, "queryFrequency");
    let period = duration(&mut l, "queryPeriod");
    if let (Some(f), Some(p)) = (freq, period) {
        if p < f {
            l.err(&path(&["queryPeriod"]), format!("{p} is shorter than queryFrequency {f}: events between runs would never be looked at"), "make queryPeriod at least queryFrequency");
        }
    }

    grouping(&mut l, map);

    // ATT&CK: known tactics, well-formed techniques, each technique under one of the tactics.
    let tactics: Vec<String> = strings(&mut l, map, "tactics");
    let known: Vec<attack::Tactic> = tactics
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            let parsed: Option<attack::Tactic> =
                serde_yaml::from_value(Value::String(t.clone())).ok();
            if parsed.is_none() {
                l.err(
                    &path(&["tactics"]).index(i),
                    format!("unknown tactic {t:?}"),
                    "use a Sentinel tactic name such as CommandAndControl",
                );
            }
            parsed
        })
        .collect();
    for (i, t) in strings(&mut l, map, "relevantTechniques")
        .iter()
        .enumerate()
    {
        let at = path(&["relevantTechniques"]).index(i);
        let shaped = t.parse::<crate::spec::values::Technique>().is_ok();
        if !shaped {
            l.err(
                &at,
                format!("{t:?} is not an ATT&CK technique id like T1219 or T1219.002"),
                "fix the id",
            );
        } else if let Some(of) = attack::tactics_of(t) {
            if !of.iter().any(|x| known.contains(x)) {
                let names: Vec<String> = of.iter().map(|x| format!("{x:?}")).collect();
                l.err(
                    &at,
                    format!(
                        "{t} belongs to {}, none of which is in `tactics`",
                        names.join(", ")
                    ),
                    "add the technique's tactic to `tactics`",
                );
            }
        }
    }

    // Data connectors: known ids, their data types, and every table the query reads.
    let mut declared: BTreeSet<String> = BTreeSet::new();
    // With an unknown or malformed connector, coverage cannot be judged: one error is enough.
    let mut coverage_known = true;
    // An ASIM unifying parser (`_Im_NetworkSession`) reads whichever sources the workspace
    // normalizes: the ASIM rules of the Azure-Sentinel repository list no connector for it
    // (`requiredDataConnectors: []`, e.g. Solutions/Network Session Essentials/Analytic Rules/
    // "Remote Desktop Network Bruteforce (ASIM Network Session schema).yaml"), and the
    // repository's template test takes an empty list (ScheduledTemplateInternalModel:
    // `Required.Always`, no minimum length).
    let reads_parser = text_of("query")
        .and_then(|q| crate::eval::kql::parser::parse(q).ok())
        .is_some_and(|p| is_asim_parser(&p.table));
    match get("requiredDataConnectors") {
        None => {}
        Some(Value::Sequence(items)) if items.is_empty() && reads_parser => {
            coverage_known = false;
        }
        Some(Value::Sequence(items)) if !items.is_empty() => {
            for (i, c) in items.iter().enumerate() {
                let at = path(&["requiredDataConnectors"]).index(i);
                let id = c.get("connectorId").and_then(Value::as_str);
                let types = c.get("dataTypes").and_then(Value::as_sequence);
                let (Some(id), Some(types)) = (id, types) else {
                    coverage_known = false;
                    l.err(
                        &at,
                        "needs `connectorId` (string) and `dataTypes` (list)".into(),
                        "see backends/sentinel.yaml for known connectors",
                    );
                    continue;
                };
                let Some(fills) = s.connectors.get(id) else {
                    coverage_known = false;
                    l.err(
                        &at.key("connectorId"),
                        format!("unknown data connector {id:?}"),
                        "use a known connector id (backends/sentinel.yaml lists them)",
                    );
                    continue;
                };
                for (j, t) in types.iter().enumerate() {
                    match t.as_str() {
                        Some(t) if fills.iter().any(|f| f == t) => {
                            declared.insert(t.to_string());
                        }
                        _ => l.err(
                            &at.key("dataTypes").index(j),
                            format!("connector {id} does not fill {}", show(t)),
                            "list the tables this connector fills",
                        ),
                    }
                }
            }
        }
        Some(v) => l.err(
            &path(&["requiredDataConnectors"]),
            format!("{} is not a non-empty list", show(v)),
            "list the connectors that fill the tables the query reads (an empty list only for a query on an ASIM parser such as _Im_NetworkSession)",
        ),
    }
    if let Some(q) = text_of("query") {
        match crate::eval::kql::parser::parse(q) {
            Ok(parsed) => {
                for m in crate::eval::kql::bind::check(&parsed) {
                    l.err(
                        &path(&["query"]),
                        m,
                        "use the table's column names (backends/kql-schema.json)",
                    );
                }
                for m in crate::eval::kql::bind::null_hazards(&parsed) {
                    l.err(
                        &path(&["query"]),
                        m,
                        "compare the test with `== true` inside the `not` (null == true is false), as `rmmc build` writes it",
                    );
                }
                if coverage_known
                    && !declared.contains(&parsed.table)
                    && get("requiredDataConnectors").is_some()
                {
                    l.err(
                        &path(&["requiredDataConnectors"]),
                        format!(
                            "the query reads {} but no connector lists it in dataTypes",
                            parsed.table
                        ),
                        "add the connector that fills this table",
                    );
                }
            }
            Err(e) => l.err(
                &path(&["query"]),
                format!("the query does not parse: {e}"),
                "regenerate the rule with `rmmc build`",
            ),
        }
    }

    // Entity mappings: 1–5, each of a known type with 1–3 field mappings of its identifiers.
    match get("entityMappings") {
        None => {}
        Some(Value::Sequence(items)) => {
            let lim = &s.limits;
            if items.is_empty() || items.len() > lim.entity_mappings {
                l.err(
                    &path(&["entityMappings"]),
                    format!(
                        "has {} entries; Sentinel allows 1 to {}",
                        items.len(),
                        lim.entity_mappings
                    ),
                    "map at most 5 entities (or drop the key)",
                );
            }
            for (i, e) in items.iter().enumerate() {
                let at = path(&["entityMappings"]).index(i);
                let Some(ty) = e.get("entityType").and_then(Value::as_str) else {
                    l.err(
                        &at,
                        "needs an `entityType`".into(),
                        "name the entity type, e.g. Host",
                    );
                    continue;
                };
                let Some(ids) = s.entities.get(ty) else {
                    l.err(
                        &at.key("entityType"),
                        format!("unknown entity type {ty:?}"),
                        "use a Sentinel entity type such as Host, IP, URL, Account",
                    );
                    continue;
                };
                let fms = e
                    .get("fieldMappings")
                    .and_then(Value::as_sequence)
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                if fms.is_empty() || fms.len() > lim.field_mappings {
                    l.err(
                        &at.key("fieldMappings"),
                        format!(
                            "has {} field mappings; Sentinel allows 1 to {}",
                            fms.len(),
                            lim.field_mappings
                        ),
                        "map 1 to 3 columns",
                    );
                }
                for (j, fm) in fms.iter().enumerate() {
                    let fat = at.key("fieldMappings").index(j);
                    let id = fm.get("identifier").and_then(Value::as_str);
                    let col = fm.get("columnName").and_then(Value::as_str);
                    match (id, col) {
                        (Some(id), Some(c)) if ids.iter().any(|x| x == id) && !c.is_empty() => {}
                        (Some(id), Some(_)) if !ids.iter().any(|x| x == id) => l.err(
                            &fat.key("identifier"),
                            format!("{ty} has no identifier {id:?} (it has {})", ids.join(", ")),
                            "use one of the listed identifiers",
                        ),
                        _ => l.err(
                            &fat,
                            "needs `identifier` and a non-empty `columnName`".into(),
                            "name the identifier and the query column",
                        ),
                    }
                }
            }
        }
        Some(v) => l.err(
            &path(&["entityMappings"]),
            format!("{} is not a list", show(v)),
            "write a list of entity mappings",
        ),
    }
    l.diags
}

fn one_of(l: &mut Linter, key: &str, v: &Value, allowed: &[String]) {
    if !v.as_str().is_some_and(|t| allowed.iter().any(|a| a == t)) {
        l.err(
            &path(&[key]),
            format!("{} is not one of {}", show(v), allowed.join(", ")),
            "use one of the listed values",
        );
    }
}

/// A list of strings under `key` (reporting anything else).
/// Custom details and incident grouping: at most 20 details, keys of at most 20 characters
/// starting with a letter and columns that are identifiers (Azure-Sentinel
/// `ScheduledTemplateInternalModel.CustomDetails`), grouping only by defined keys when the
/// method is `Selected` (SecurityInsights `GroupingConfiguration`), a `lookbackDuration` in
/// ISO 8601 (`P5D`, `PT5H`).
fn grouping(l: &mut Linter, map: &serde_yaml::Mapping) {
    let ident = |t: &str, first: fn(char) -> bool| {
        t.starts_with(first) && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let mut keys: Vec<String> = Vec::new();
    if let Some(details) = map.get("customDetails") {
        let Some(m) = details.as_mapping() else {
            return l.err(
                &path(&["customDetails"]),
                format!("{} is not a mapping", show(details)),
                "map detail names to result columns",
            );
        };
        if m.len() > 20 {
            l.err(
                &path(&["customDetails"]),
                format!("has {} entries; Sentinel allows at most 20", m.len()),
                "keep at most 20",
            );
        }
        for (k, v) in m {
            let key = k.as_str().unwrap_or_default();
            let at = path(&["customDetails", key]);
            if key.chars().count() > 20 || !ident(key, |c| c.is_ascii_alphabetic()) {
                l.err(
                    &at,
                    format!("key {} is not a name of at most 20 letters, digits or _ starting with a letter", show(k)),
                    "rename the key",
                );
            }
            if !v
                .as_str()
                .is_some_and(|c| ident(c, |c| c.is_ascii_alphabetic() || c == '_'))
            {
                l.err(
                    &at,
                    format!("column {} is not a column name", show(v)),
                    "name a result column",
                );
            }
            keys.push(key.to_string());
        }
    }
    let g = map
        .get("incidentConfiguration")
        .and_then(|i| i.get("groupingConfiguration"));
    let Some(g) = g else { return };
    let at = |k: &str| path(&["incidentConfiguration", "groupingConfiguration", k]);
    if let Some(d) = g.get("lookbackDuration") {
        let iso = d.as_str().is_some_and(|t| {
            let body = t.strip_prefix("PT").or_else(|| t.strip_prefix('P'));
            body.is_some_and(|b| {
                b.len() > 1
                    && b[..b.len() - 1].chars().all(|c| c.is_ascii_digit())
                    && b.ends_with(['D', 'H', 'M'])
                    && (t.starts_with("PT") != b.ends_with('D'))
            })
        });
        if !iso {
            l.err(
                &at("lookbackDuration"),
                format!("{} is not an ISO 8601 duration like P5D or PT5H", show(d)),
                "write e.g. P5D",
            );
        }
    }
    if g.get("matchingMethod").and_then(Value::as_str) == Some("Selected") {
        let by = g.get("groupByCustomDetails").and_then(Value::as_sequence);
        for (i, k) in by.into_iter().flatten().enumerate() {
            if !k.as_str().is_some_and(|k| keys.iter().any(|x| x == k)) {
                l.err(
                    &at("groupByCustomDetails").index(i),
                    format!("{} is no key of customDetails", show(k)),
                    "group by a defined custom detail",
                );
            }
        }
    }
}

fn strings(l: &mut Linter, map: &serde_yaml::Mapping, key: &str) -> Vec<String> {
    match map.get(key) {
        None => Vec::new(),
        Some(Value::Sequence(items)) if !items.is_empty() => items
            .iter()
            .enumerate()
            .filter_map(|(i, v)| match v.as_str() {
                Some(t) => Some(t.to_string()),
                None => {
                    l.err(
                        &path(&[key]).index(i),
                        format!("{} is not a string", show(v)),
                        "write a string",
                    );
                    None
                }
            })
            .collect(),
        Some(v) => {
            l.err(
                &path(&[key]),
                format!("{} is not a non-empty list", show(v)),
                "write a list",
            );
            Vec::new()
        }
    }
}

/// A value as the user wrote it, for messages.
fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Null => "null".into(),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}
