//! `--mapping [BACKEND=]NAME|FILE` and `[mapping]` in rmmc.toml: the data model each backend
//! reads in this run (`crate::mappings`); `rmmc list targets|mappings`.

use super::output::{exit, report, Format};
use crate::mappings::{self, Mapping, Shipped};
use std::path::{Path, PathBuf};

/// Load the mappings chosen for this run and make them the backends' tables: the project's
/// `[mapping]` (the rmmc.toml `config` names, else the one found from `rules`), then each
/// `--mapping`, which overrides the project's for its backend. Errors are reported (exit 2).
pub(super) fn choose(
    values: &[String],
    rules: Option<&[PathBuf]>,
    config: Option<&Path>,
    format: Format,
) -> Result<(), i32> {
    let fail = |d: crate::diag::Diag| {
        report(&[d], &[], format);
        exit::ERROR
    };
    let mut chosen: Vec<Mapping> = Vec::new();
    let file = match (config, rules) {
        (Some(c), _) => Some(c.to_path_buf()),
        (None, Some(rules)) => crate::ack::find(rules).map_err(fail)?,
        (None, None) => None,
    };
    if let Some(file) = file.filter(|f| f.is_file()) {
        let project = crate::ack::load(&file).map_err(fail)?;
        let dir = file.parent().unwrap_or(Path::new(""));
        for (backend, value, span) in project.mapping {
            let m = mappings::parse_choice(&value, Some(backend), Some(dir)).map_err(|mut d| {
                if d.file.is_none() {
                    d = d.at(&file, Some(span));
                }
                fail(d)
            })?;
            chosen.push(m);
        }
    }
    let mut from_cli: Vec<Mapping> = Vec::new();
    for v in values {
        let m = mappings::parse_choice(v, None, None).map_err(fail)?;
        if let Some(twice) = from_cli.iter().find(|o| o.backend == m.backend) {
            return Err(fail(crate::diag::Diag::error(
                crate::diag::DiagKind::Value,
                format!(
                    "two mappings for {}: {} and {}",
                    m.backend, twice.name, m.name
                ),
            )));
        }
        from_cli.push(m);
    }
    chosen.retain(|p| !from_cli.iter().any(|c| c.backend == p.backend));
    chosen.extend(from_cli);
    if chosen.is_empty() {
        return Ok(());
    }
    mappings::choose(chosen).map_err(|_| exit::ERROR)
}

/// What `rmmc list` lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Listing {
    /// What `--target` takes: each target, its backend and what it writes.
    Targets,
    /// What `--mapping` takes: each shipped mapping, its backend, whether it is the default,
    /// what it is and the data sources (tables) it reads.
    Mappings,
}

pub(super) fn list(what: Listing, format: Format) -> i32 {
    match what {
        Listing::Targets => {
            let rows: Vec<serde_json::Value> = crate::backend::BACKENDS
                .iter()
                .flat_map(|b| {
                    b.targets.iter().map(move |t| {
                        serde_json::json!({"target": t.name, "backend": b.name.name(), "description": t.help})
                    })
                })
                .collect();
            match format {
                Format::Json => outln!("{}", serde_json::Value::Array(rows)),
                Format::Text => {
                    for r in &rows {
                        outln!(
                            "{:<10} {:<8} {}",
                            r["target"].as_str().unwrap_or_default(),
                            r["backend"].as_str().unwrap_or_default(),
                            r["description"].as_str().unwrap_or_default()
                        );
                    }
                }
            }
            exit::OK
        }
        Listing::Mappings => {
            let mut rows = Vec::new();
            for s in mappings::SHIPPED {
                let m = match s.load() {
                    Ok(m) => m,
                    Err(d) => {
                        report(&[d], &[], format);
                        return exit::ERROR;
                    }
                };
                rows.push(row(s, &m));
            }
            match format {
                Format::Json => outln!("{}", serde_json::Value::Array(rows)),
                Format::Text => {
                    for r in &rows {
                        let default = if r["default"] == true { "default" } else { "" };
                        outln!(
                            "{:<8} {:<16} {:<8} {}",
                            r["backend"].as_str().unwrap_or_default(),
                            r["name"].as_str().unwrap_or_default(),
                            default,
                            r["description"].as_str().unwrap_or_default()
                        );
                        for t in r["tables"].as_array().into_iter().flatten() {
                            outln!("{:36}- {}", "", t.as_str().unwrap_or_default());
                        }
                    }
                    outln!("\nChoose with `--mapping [BACKEND=]NAME|FILE` or `[mapping]` in rmmc.toml; a FILE may `extends:` one of these (docs/backends.md).");
                }
            }
            exit::OK
        }
    }
}

fn row(s: &Shipped, m: &Mapping) -> serde_json::Value {
    let tables: Vec<String> = m
        .tables
        .iter()
        .map(|t| format!("{} {}: {}", t.category, t.source, t.name))
        .collect();
    serde_json::json!({
        "backend": s.backend,
        "name": s.name,
        "default": s.is_default(),
        "description": m.description,
        "file": s.path,
        "tables": tables,
    })
}
