//! JSON Schema of the spec format (`rmmc schema`), for editor completion and checking.
//! Derived from the serde types; hand-written only where the types deserialize by hand
//! (predicates) or validate strings (ids, durations, techniques).

use super::fields::{FieldType, FIELDS};
use super::{Predicate, Spec, MATCH_KINDS};
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use std::borrow::Cow;

macro_rules! string_schema {
    ($name:ident, $pattern:literal, $desc:literal) => {
        pub struct $name;
        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).trim_end_matches("Schema").into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({ "type": "string", "pattern": $pattern, "description": $desc })
            }
        }
    };
}

string_schema!(
    SlugSchema,
    "^[a-z0-9][a-z0-9_-]{0,63}$",
    "Id: a-z, 0-9, `-`, `_`; becomes file names and rule ids."
);
string_schema!(
    DateSchema,
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
    "Date, YYYY-MM-DD."
);
string_schema!(
    DurationSchema,
    "^[0-9]+[mhd]$",
    "Duration: minutes (m), hours (h) or days (d); 5m-14d."
);
string_schema!(
    TechniqueSchema,
    "^T[0-9]{4}(\\.[0-9]{3})?$",
    "MITRE ATT&CK technique id."
);

impl JsonSchema for Predicate {
    fn schema_name() -> Cow<'static, str> {
        "Predicate".into()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let this = g.subschema_for::<Predicate>();
        let field_names: Vec<&str> = FIELDS
            .iter()
            .filter(|f| !matches!(f.ty, FieldType::Time | FieldType::Id | FieldType::Digest))
            .map(|f| f.name)
            .collect();
        let mut kinds = serde_json::Map::new();
        for k in MATCH_KINDS {
            kinds.insert(
                (*k).to_string(),
                serde_json::json!({
                    "oneOf": [
                        { "type": ["string", "integer"] },
                        { "type": "array", "minItems": 1, "items": { "type": ["string", "integer"] } }
                    ]
                }),
            );
        }
        kinds.insert("cased".into(), serde_json::json!({ "type": "boolean", "description": "Case-sensitive comparison (text kinds only)." }));
        kinds.insert("name".into(), serde_json::json!({ "type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$", "description": "Name a backend may bind the value list to (KQL let)." }));
        let field_docs: serde_json::Map<String, serde_json::Value> = FIELDS
            .iter()
            .filter(|f| field_names.contains(&f.name))
            .map(|f| {
                let cats: Vec<&str> = f.categories.iter().map(|c| c.name()).collect();
                (
                    f.name.to_string(),
                    serde_json::json!({ "$ref": "#/$defs/Match", "description": format!("{} Categories: {}.", f.doc, cats.join(", ")) }),
                )
            })
            .collect();
        g.definitions_mut().insert(
            "Match".into(),
            serde_json::json!({
                "type": "object",
                "description": "One match kind with its values, e.g. {term: [netsupport]}.",
                "properties": kinds,
                "additionalProperties": false,
                "minProperties": 1
            }),
        );
        let this = serde_json::to_value(&this).expect("schema is JSON");
        let mut props = serde_json::Map::new();
        props.insert(
            "all".into(),
            serde_json::json!({ "type": "array", "minItems": 1, "items": this }),
        );
        props.insert(
            "any".into(),
            serde_json::json!({ "type": "array", "minItems": 1, "items": this }),
        );
        props.insert("not".into(), this);
        props.extend(field_docs);
        Schema::try_from(serde_json::json!({
            "description": "A predicate: all / any / not, or one canonical field with a match.",
            "type": "object",
            "minProperties": 1,
            "maxProperties": 1,
            "properties": props,
            "additionalProperties": false
        }))
        .expect("an object is a schema")
    }
}

/// The JSON Schema (draft 2020-12) of a spec file, pretty-printed with a trailing newline.
pub fn json_schema() -> String {
    let mut schema = schemars::schema_for!(Spec);
    schema.insert("$id".into(), "https://rmmc.invalid/spec.schema.json".into());
    schema.insert("title".into(), "rmmc spec".into());
    let mut s = serde_json::to_string_pretty(&schema).expect("schema serializes");
    s.push('\n');
    s
}
