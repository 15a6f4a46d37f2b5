//! The Microsoft Sentinel wrappers of a KQL query: a hunting query and a scheduled analytic
//! rule (`sentinel/hunting/<stem>.yaml`, `sentinel/analytic/<stem>.yaml`), from
//! `templates/sentinel/`. Sentinel's published limits are enforced: a rule over one is a build
//! error, never a silently truncated rule.

use super::{data, KqlQuery};
use crate::backend::driver::{rule_name, Description, Rule};
use crate::backend::text::Text;
use crate::diag::{Diag, DiagKind};
use crate::ir::{IrDetection, IrSpec};
use crate::render;
use serde::Serialize;

pub const TEMPLATES: &[(&str, &str)] = &[
    (
        "sentinel/analytic.yaml.j2",
        include_str!("../../../templates/sentinel/analytic.yaml.j2"),
    ),
    (
        "sentinel/hunting.yaml.j2",
        include_str!("../../../templates/sentinel/hunting.yaml.j2"),
    ),
];

/// Sentinel's published limits for analytic rules.
pub mod limits {
    pub const NAME: usize = 256;
    pub const DESCRIPTION: usize = 5000;
    pub const QUERY: usize = 10_000;
    pub const ENTITY_MAPPINGS: usize = 5;
    pub const FIELD_MAPPINGS: usize = 3;
    /// Custom details: at most 20, keys of at most 20 characters (Azure-Sentinel
    /// `ScheduledTemplateInternalModel.CustomDetails`: DictionaryLength(20),
    /// DictionaryMaxKeyAndValueLengths(maxKeyLength: 20)).
    pub const CUSTOM_DETAILS: usize = 20;
    pub const CUSTOM_DETAIL_KEY: usize = 20;
    /// The longest incident-grouping look-back rmmc writes: 7 days. An assumed bound: the
    /// SecurityInsights API documents no range for `lookbackDuration`, and rmmc stays within
    /// the time frames the Sentinel portal offers for "Limit the group to alerts created
    /// within" (not confirmed against a published limit).
    pub const GROUPING_LOOKBACK_MINUTES: u64 = 7 * 1440;
}

/// One custom detail: the key an incident is grouped by, and the result column it reads.
#[derive(Serialize)]
struct Detail {
    key: String,
    column: String,
}

/// The incident grouping of an analytic rule: one incident per finding.
#[derive(Serialize)]
struct Grouping {
    details: Vec<Detail>,
    lookback: String,
}

/// An ISO 8601 duration (what `lookbackDuration` takes) of whole minutes.
pub fn iso_duration(minutes: u64) -> String {
    if minutes % 1440 == 0 {
        format!("P{}D", minutes / 1440)
    } else if minutes % 60 == 0 {
        format!("PT{}H", minutes / 60)
    } else {
        format!("PT{minutes}M")
    }
}

/// The custom-detail key of a column: the column name cut to Sentinel's key length, made
/// unique by a numeric suffix when two cut names collide. `None` when the column is not an
/// identifier Sentinel takes (`^[a-zA-Z]+\w*$` for keys, `^[a-zA-Z_]+\w*$` for columns).
fn detail_key(column: &str, taken: &[Detail]) -> Option<String> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    if !column.starts_with(|c: char| c.is_ascii_alphabetic()) || !column.chars().all(word) {
        return None;
    }
    let cut: String = column.chars().take(limits::CUSTOM_DETAIL_KEY).collect();
    if !taken.iter().any(|d| d.key == cut) {
        return Some(cut);
    }
    (2..100).find_map(|i| {
        let suffix = i.to_string();
        let head: String = column
            .chars()
            .take(limits::CUSTOM_DETAIL_KEY - suffix.len())
            .collect();
        let key = format!("{head}{suffix}");
        (!taken.iter().any(|d| d.key == key)).then_some(key)
    })
}

#[derive(Serialize)]
struct SentinelCtx<'a> {
    id: String,
    name: String,
    description: String,
    severity: &'static str,
    connectors: &'a [serde_json::Value],
    /// `tags:` of the rule: the table's `meta.tags` (ASIM rules tag their schema and version).
    tags: &'a [serde_json::Value],
    frequency: String,
    period: String,
    tactics: Vec<String>,
    techniques: &'a [String],
    query: &'a str,
    entities: Vec<serde_json::Value>,
    /// Only in the analytic rule (a hunting query is run by hand over its look-back window).
    grouping: Option<Grouping>,
}

/// The hunting and analytic YAML of one query.
pub fn render(
    spec: &IrSpec,
    det: &IrDetection,
    q: &KqlQuery,
    rule: &Rule<Text>,
) -> Result<(String, String), Diag> {
    let limit = |what: &str, len: usize, max: usize| -> Result<(), Diag> {
        if len > max {
            Err(Diag::error(
                DiagKind::Limit,
                format!(
                    "{}: the Sentinel rule's {what} is {len} long; Sentinel allows at most {max}",
                    q.id.stem
                ),
            )
            .at(&spec.file, det.span)
            .help(format!("shorten the {what}")))
        } else {
            Ok(())
        }
    };
    let data = data();
    let name = rule_name(&data.rule_name, spec, det, &q.table.name)
        .map_err(|e| Diag::error(DiagKind::Io, format!("rule name template: {e}")))?;
    limit("name", name.chars().count(), limits::NAME)?;

    let mut description = Description::new(spec.description.clone()).references(spec);
    description.benign(&rule.exclusions);
    if let Some(g) = &q.gap {
        description.known_gap("KQL", g);
    }
    description.push_str("\n");
    let description = description.into_string();
    limit(
        "description",
        description.chars().count(),
        limits::DESCRIPTION,
    )?;
    limit("query", q.text.chars().count(), limits::QUERY)?;

    let mut entities: Vec<serde_json::Value> = Vec::new();
    for (column, field) in &q.columns {
        let Some(e) = field.and_then(|f| data.entities.get(f.name())) else {
            continue;
        };
        let v = serde_json::json!({
            "entityType": e.entity_type,
            "fieldMappings": [{ "identifier": e.identifier, "columnName": column }],
        });
        if !entities.contains(&v) {
            entities.push(v);
        }
    }
    limit(
        "entity mapping list",
        entities.len(),
        limits::ENTITY_MAPPINGS,
    )?;

    // One incident per finding: the key columns are the output columns that carry a field
    // (the summarize keys, or every projected column); aggregates are not keys.
    let mut details: Vec<Detail> = Vec::new();
    for (column, field) in &q.columns {
        if field.is_none() {
            continue;
        }
        let key = detail_key(column, &details).ok_or_else(|| {
            Diag::error(
                DiagKind::Value,
                format!(
                    "{}: the Sentinel rule cannot group incidents by column {column:?}: a custom detail needs a column name of letters, digits and _",
                    q.id.stem
                ),
            )
            .at(&spec.file, det.span)
        })?;
        details.push(Detail {
            key,
            column: column.clone(),
        });
    }
    limit(
        "custom detail list (the columns incidents are grouped by)",
        details.len(),
        limits::CUSTOM_DETAILS,
    )?;
    let grouping = (!details.is_empty()).then(|| Grouping {
        details,
        // From an incident's first alert, a finding whose events span up to one window stays
        // in the results for two (as for Splunk's throttle), within the longest look-back.
        lookback: iso_duration((2 * spec.window.minutes).min(limits::GROUPING_LOOKBACK_MINUTES)),
    });

    let tactics: Vec<String> = spec.tactics.iter().map(|t| format!("{t:?}")).collect();
    let mut ctx = SentinelCtx {
        id: q.id.uuid("sentinel-hunting").to_string(),
        name,
        description,
        severity: spec.severity.title(),
        connectors: q
            .table
            .meta
            .get("connectors")
            .and_then(|c| c.as_array())
            .map_or(&[], Vec::as_slice),
        tags: q
            .table
            .meta
            .get("tags")
            .and_then(|c| c.as_array())
            .map_or(&[], Vec::as_slice),
        frequency: spec.frequency.kql(),
        period: spec.window.kql(),
        tactics,
        techniques: &spec.techniques,
        query: &q.text,
        entities,
        grouping: None,
    };
    let render_err =
        |e: minijinja::Error| Diag::error(DiagKind::Io, format!("template error: {e:#}"));
    let hunting = render::render("sentinel/hunting.yaml.j2", &ctx).map_err(render_err)?;
    ctx.id = q.id.uuid("sentinel-analytic").to_string();
    ctx.grouping = grouping;
    let analytic = render::render("sentinel/analytic.yaml.j2", &ctx).map_err(render_err)?;
    Ok((hunting, analytic))
}
