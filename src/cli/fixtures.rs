//! `rmmc fixtures`: canonical fixture events rendered as each backend's native events.

use super::output::{exit, no_stdout_folder, report, Format};
use crate::build;
use crate::mapping::{table_for, TableMap};
use crate::verify::{cases, native};
use serde_json::Value;
use std::path::Path;

/// One backend's native events: the folder they go in (none: the top, where the KQL tables
/// have always been), its tables, and how a canonical event becomes one of its events.
struct Shape {
    folder: &'static str,
    tables: fn() -> &'static [TableMap],
    render: fn(&TableMap, &crate::ir::Event) -> Result<Value, String>,
}

/// The shapes `rmmc eval` reads, rendered through the same mappings `rmmc verify` uses.
const SHAPES: &[Shape] = &[
    Shape {
        folder: "",
        tables: || crate::mappings::tables(crate::spec::BackendName::Kql),
        render: |t, e| {
            Ok(Value::Object(
                native::kql_row(t, e)
                    .iter()
                    .map(|(k, v)| (k.clone(), crate::eval::engine::json_value(v)))
                    .collect(),
            ))
        },
    },
    Shape {
        folder: "sigma",
        tables: || crate::mappings::tables(crate::spec::BackendName::Sigma),
        render: |t, e| native::sigma_event(t, e).map(Value::Object),
    },
    Shape {
        folder: "splunk",
        tables: || crate::mappings::tables(crate::spec::BackendName::Splunk),
        render: |t, e| native::spl_event(t, e).map(Value::Object),
    },
    Shape {
        folder: "elastic",
        tables: || crate::mappings::tables(crate::spec::BackendName::Elastic),
        render: native::ecs_event,
    },
];

/// `rmmc fixtures`: canonical fixtures → native events for every backend, through the same
/// mappings the backends and `rmmc verify` use: `<Table>.jsonl` (KQL rows, named by table),
/// and `sigma/`, `splunk/` and `elastic/<category>-<source>.jsonl` (flat Sysmon-shaped events,
/// Splunk events with `_time` and the base search's fields, nested ECS documents). A fixture
/// a backend has no table or field for is left out of that backend's files.
pub(super) fn run(dir: &Path, out: &Path, format: Format) -> i32 {
    if let Some(code) = no_stdout_folder(out, "fixtures", format) {
        return code;
    }
    let cases = match cases::load_fixtures(dir) {
        Ok(c) => c,
        Err(diags) => {
            report(&diags, &[], format);
            return exit::ERROR;
        }
    };
    let mut files = build::Files::new();
    for shape in SHAPES {
        for c in &cases {
            let Some(table) = table_for((shape.tables)(), c.category, c.source) else {
                continue;
            };
            let Ok(event) = (shape.render)(table, &c.event) else {
                continue;
            };
            let path = if shape.folder.is_empty() {
                format!("{}.jsonl", table.name)
            } else {
                format!(
                    "{}/{}-{}.jsonl",
                    shape.folder,
                    table.category.name(),
                    table.source.name()
                )
            };
            let file = files.entry(path).or_default();
            file.push_str(&event.to_string());
            file.push('\n');
        }
    }
    match build::write_output(out, &files) {
        Ok(_) => {
            if format == Format::Text {
                for (path, text) in &files {
                    eprintln!(
                        "{}: {} events",
                        out.join(path).display(),
                        text.lines().count()
                    );
                }
            }
            exit::OK
        }
        Err(d) => {
            report(&[d], &[], format);
            exit::ERROR
        }
    }
}
