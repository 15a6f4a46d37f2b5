//! `rmmc fixtures`: canonical fixture events rendered as a backend's native rows.

use super::output::{exit, no_stdout_folder, report, Format};
use crate::build;
use crate::verify::cases;
use std::path::Path;

/// `rmmc fixtures`: canonical fixtures → `<Table>.jsonl` native KQL rows, through the same
/// mapping the KQL backend and `rmmc verify` use.
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
    for c in &cases {
        let Some(table) =
            crate::mapping::table_for(&crate::backend::kql::data().tables, c.category, c.source)
        else {
            continue;
        };
        let row = crate::verify::native::kql_row(table, &c.event);
        let obj: serde_json::Map<String, serde_json::Value> = row
            .iter()
            .map(|(k, v)| (k.clone(), crate::eval::engine::json_value(v)))
            .collect();
        let file = files.entry(format!("{}.jsonl", table.name)).or_default();
        file.push_str(&serde_json::Value::Object(obj).to_string());
        file.push('\n');
    }
    match build::write_output(out, &files) {
        Ok(_) => {
            if format == Format::Text {
                for (path, text) in &files {
                    eprintln!(
                        "{}: {} rows",
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
