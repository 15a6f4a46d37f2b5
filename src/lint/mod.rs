//! Checks of emitted artifacts against the target products' published rule schemas
//! (`rmmc check --artifacts DIR`). They read artifact files, never specs or the IR, so they
//! also catch a hand-edited rule or one produced by another tool.

pub mod sentinel;

use crate::diag::{Diag, DiagKind};
use std::path::Path;

/// Lint every artifact under `dir` that a checker exists for. Returns the number of files
/// checked and the diagnostics; an unreadable folder is an I/O error.
pub fn artifacts(dir: &Path) -> Result<(usize, Vec<Diag>), Diag> {
    let files = crate::build::read_tree(dir).map_err(|e| {
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
        }
    }
    Ok((checked, diags))
}
