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
}

#[derive(Serialize)]
struct SentinelCtx<'a> {
    id: String,
    name: String,
    description: String,
    severity: &'static str,
    connectors: &'a [serde_json::Value],
    frequency: String,
    period: String,
    tactics: Vec<String>,
    techniques: &'a [String],
    query: &'a str,
    entities: Vec<serde_json::Value>,
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
        frequency: spec.frequency.kql(),
        period: spec.window.kql(),
        tactics,
        techniques: &spec.techniques,
        query: &q.text,
        entities,
    };
    let render_err =
        |e: minijinja::Error| Diag::error(DiagKind::Io, format!("template error: {e:#}"));
    let hunting = render::render("sentinel/hunting.yaml.j2", &ctx).map_err(render_err)?;
    ctx.id = q.id.uuid("sentinel-analytic").to_string();
    let analytic = render::render("sentinel/analytic.yaml.j2", &ctx).map_err(render_err)?;
    Ok((hunting, analytic))
}
