//! `rmmc explain`: how every backend renders every match of the specs, and how faithfully.

use super::output::{exit, load, verdict, Format};
use crate::build::{self, BuildOptions};
use crate::spec::LoadedSpec;
use std::path::PathBuf;

pub(super) fn run(rules: &[PathBuf], only: Option<String>, format: Format) -> i32 {
    let Some(specs) = load(rules, format) else {
        return exit::ERROR;
    };
    let specs: Vec<LoadedSpec> = specs
        .into_iter()
        .filter(|s| only.as_deref().is_none_or(|id| s.spec.id.as_str() == id))
        .collect();
    if specs.is_empty() {
        eprintln!(
            "error: no spec with id `{}` in {}",
            only.unwrap_or_default(),
            rules
                .iter()
                .map(|r| r.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return exit::ERROR;
    }
    let res = build::compile(&specs, &BuildOptions::default());
    match format {
        Format::Json => outln!(
            "{}",
            serde_json::to_string_pretty(&res.renderings).expect("renderings serialize")
        ),
        Format::Text => out!("{}", explain_text(&res.renderings)),
    }
    verdict(&res.diags, &[])
}

/// The explain table as text: per rule and part, each match with every backend's rendering
/// (rows of all backends grouped under the match, in order of first appearance).
fn explain_text(rows: &[crate::backend::common::Rendering]) -> String {
    let mut rules: indexmap::IndexMap<
        String,
        indexmap::IndexMap<String, Vec<&crate::backend::common::Rendering>>,
    > = indexmap::IndexMap::new();
    for r in rows {
        rules
            .entry(format!("{}/{} ({})", r.spec, r.detection, r.source))
            .or_default()
            .entry(format!("{}: {}", r.part, r.predicate))
            .or_default()
            .push(r);
    }
    let mut out = String::new();
    for (rule, preds) in rules {
        out.push_str(&format!("\n{rule}\n"));
        for (pred, rows) in preds {
            out.push_str(&format!("  {pred}\n"));
            for r in rows {
                let fidelity = serde_json::to_value(r.fidelity).expect("fidelity serializes");
                out.push_str(&format!(
                    "    {:<8} {:<13} {}\n",
                    r.backend.name(),
                    fidelity.as_str().unwrap_or_default(),
                    if r.rendered.is_empty() {
                        "-"
                    } else {
                        &r.rendered
                    }
                ));
                if let Some(note) = &r.note {
                    out.push_str(&format!("{:<27}{note}\n", ""));
                }
            }
        }
    }
    out
}
