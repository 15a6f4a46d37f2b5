//! Checks of emitted artifacts against the target products' published rule schemas
//! (`rmmc check --artifacts DIR`). They read artifact files, never specs or the IR, so they
//! also catch a hand-edited rule or one produced by another tool.

pub mod sentinel;

use crate::diag::{Diag, DiagKind};
use std::path::Path;

/// A KQL query file: it parses, and binds against the real table schemas
/// (`backends/kql-schema.json`).
pub fn kql_query(file: &Path, text: &str) -> Vec<Diag> {
    use crate::eval::kql::{bind, parser};
    match parser::parse(text) {
        Err(e) => vec![
            Diag::error(DiagKind::Syntax, format!("KQL query: {}", e.message))
                .at(
                    file,
                    Some(crate::diag::Span::from_line_col(
                        text,
                        e.span.line,
                        e.span.col,
                    )),
                )
                .help("regenerate it with `rmmc build`"),
        ],
        Ok(q) => bind::check(&q)
            .into_iter()
            .map(|m| {
                Diag::error(DiagKind::Schema, format!("KQL query: {m}"))
                    .at(file, None)
                    .help("use the table's column names (backends/kql-schema.json)")
            })
            .chain(bind::null_hazards(&q).into_iter().map(|m| {
                Diag::error(DiagKind::Schema, format!("KQL query: {m}")).at(file, None).help(
                    "compare the test with `== true` inside the `not` (null == true is false), as `rmmc build` writes it",
                )
            }))
            .collect(),
    }
}

/// Lint every artifact under `dir` that a checker exists for, and compare every deployable
/// form (Sentinel YAML, savedsearches.conf stanza, Kibana rule) of the rules of `specs` with
/// its twin, as `rmmc verify` does (`verify::forms`). Returns the number of files checked
/// and the diagnostics; an unreadable folder is an I/O error.
pub fn artifacts(dir: &Path, specs: &[crate::ir::IrSpec]) -> Result<(usize, Vec<Diag>), Diag> {
    let files = crate::build::read_artifacts(dir).map_err(|e| {
        Diag::error(DiagKind::Io, format!("cannot read artifacts: {e}"))
            .at(dir, None)
            .help("pass an `rmmc build --out` folder")
    })?;
    let mut checked = 0;
    let mut diags = Vec::new();
    for (rel, text) in &files {
        if rel.starts_with("sentinel/analytic/") && rel.ends_with(".yaml") {
            checked += 1;
            diags.extend(sentinel::analytic_rule(&dir.join(rel), text));
        } else if rel.starts_with("kql/") && rel.ends_with(".kql") {
            checked += 1;
            diags.extend(kql_query(&dir.join(rel), text));
        }
    }
    for e in crate::verify::forms::check(specs, &files) {
        diags.push(
            Diag::error(DiagKind::Semantics, e.message)
                .at(&dir.join(&e.file), None)
                .help("a deployable form must carry its twin's query: regenerate both with `rmmc build`"),
        );
    }
    Ok((checked, diags))
}
