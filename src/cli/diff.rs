//! `rmmc diff`: compare freshly compiled artifacts with a folder of committed ones.

use super::output::{exit, load, report, Format};
use crate::build::{self, BuildOptions, Target};
use crate::diag::{Diag, DiagKind};
use clap::ValueEnum;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

pub(super) fn run(
    rules: &[PathBuf],
    against: &Path,
    target: &[Target],
    no_exclusions: bool,
    format: Format,
) -> i32 {
    let Some(specs) = load(rules, format) else {
        return exit::ERROR;
    };
    if !against.is_dir() {
        report(
            &[Diag::error(
                DiagKind::Io,
                format!("--against {}: no such folder", against.display()),
            )
            .help("pass the folder your CI deploys from (an `rmmc build --out` folder)")],
            &[],
            format,
        );
        return exit::ERROR;
    }
    let opts = BuildOptions {
        targets: target.to_vec(),
        exclusions: !no_exclusions,
    };
    let res = build::compile(&specs, &opts);
    if res.diags.iter().any(Diag::is_error) {
        report(&res.diags, &[], format);
        return exit::ERROR;
    }
    let committed = match build::read_artifacts(against) {
        Ok(f) => f,
        Err(e) => {
            report(
                &[Diag::error(
                    DiagKind::Io,
                    format!("cannot read {}: {e}", against.display()),
                )],
                &[],
                format,
            );
            return exit::ERROR;
        }
    };
    // Only the folders of the compared targets count.
    let folders: Vec<String> = target
        .iter()
        .filter_map(|t| t.to_possible_value().map(|v| format!("{}/", v.get_name())))
        .collect();
    let committed = committed
        .into_iter()
        .filter(|(p, _)| folders.iter().any(|f| p.starts_with(f)))
        .collect();
    let d = crate::diff::diff(&committed, &res.files);
    match format {
        Format::Json => outln!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "clean": d.is_clean(),
                "summary": d.summary(),
                "files": d.files,
            }))
            .expect("diff serializes")
        ),
        Format::Text => {
            let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            out!("{}", crate::diff::render(&d, color));
            outln!(
                "{}: {}",
                if d.is_clean() { "no drift" } else { "drift" },
                d.summary()
            );
        }
    }
    if d.is_clean() {
        exit::OK
    } else {
        exit::CHECK_FAILED
    }
}
