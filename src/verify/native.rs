//! Canonical events → each backend's native event shape, through the same `backends/*.yaml`
//! mappings the emitters use (so a mapping mistake shows up as a verdict difference only if
//! the emitter and the renderer disagree; the fixtures' hand-checked `expect` lists and the
//! independent engines of CI cover the mapping itself).

use crate::eval::kql::interp::{Row, Value};
use crate::eval::time::parse_rfc3339;
use crate::ir::Event;
use crate::mapping::TableMap;
use crate::spec::{Field, FieldType};

/// A KQL row of `table`: each canonical field under its projected column, typed as the
/// column is (ports and ids as long, the timestamp as datetime, the rest as string).
pub fn kql_row(table: &TableMap, ev: &Event) -> Row {
    let mut row = Row::new();
    for (k, v) in &ev.0 {
        let (Some(field), Some(col)) = (
            Field::lookup(k),
            Field::lookup(k).and_then(|f| table.column(f)),
        ) else {
            continue;
        };
        let text = match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let value = match field.ty() {
            FieldType::Port | FieldType::Id => {
                text.parse::<i64>().map_or(Value::Str(text), Value::Long)
            }
            FieldType::Time => parse_rfc3339(&text).map_or(Value::Null, Value::DateTime),
            _ => Value::Str(text),
        };
        row.insert(col.project.to_string(), value);
    }
    row
}
