//! `rmmc check`: validate specs and compile them in memory; with `--artifacts`, lint a
//! build folder against the targets' published rule schemas.

use super::output::{acknowledge, exit, load, report, verdict, Deny, Format};
use crate::build::{self, BuildOptions};
use std::path::PathBuf;

pub(super) fn run(
    rules: &[PathBuf],
    (deny, config): (&[Deny], Option<&std::path::Path>),
    artifacts: Option<&std::path::Path>,
    format: Format,
) -> i32 {
    let Some(specs) = load(rules, format) else {
        return exit::ERROR;
    };
    let mut res = build::compile(&specs, &BuildOptions::default());
    if let Err(code) = acknowledge(rules, config, &specs, &mut res.diags, true, format) {
        return code;
    }
    // A spec error is bad input (2); a published-schema violation in an artifact is a
    // failed check (1), like a --deny policy.
    let mut code = verdict(&res.diags, deny);
    let mut linted = None;
    if let Some(dir) = artifacts {
        let irs: Vec<_> = specs.iter().map(crate::ir::lower).collect();
        match crate::lint::artifacts(dir, &irs) {
            Ok((n, diags)) => {
                let errors = diags.iter().filter(|d| d.is_error()).count();
                if errors > 0 && code == exit::OK {
                    code = exit::CHECK_FAILED;
                }
                linted = Some((n, errors));
                res.diags.extend(diags);
            }
            Err(d) => {
                report(&[d], deny, format);
                return exit::ERROR;
            }
        }
    }
    report(&res.diags, deny, format);
    if let (Some((n, errors)), Format::Text) = (linted, format) {
        outln!("artifacts: {n} checked (Sentinel analytic rules and hunting queries, KQL, SPL, savedsearches.conf, EQL, Kibana rules), {errors} violations");
    }
    if code == exit::OK && format == Format::Text {
        let dets: usize = specs.iter().map(|s| s.spec.detections.len()).sum();
        outln!(
            "ok: {}, {}, {}",
            super::output::counted(specs.len() as u64, "spec"),
            super::output::counted(dets as u64, "detection"),
            super::output::counted(res.files.len() as u64, "artifact")
        );
    }
    code
}
