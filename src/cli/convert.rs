//! `rmmc convert`: compile for one target and print the artifacts a SIEM runs.

use super::output::{acknowledge, exit, load, report, verdict, Deny, Format};
use crate::build::{self, BuildOptions, Target};
use std::path::PathBuf;

pub(super) fn run(
    paths: &[PathBuf],
    target: Target,
    no_exclusions: bool,
    (deny, config): (&[Deny], Option<&std::path::Path>),
    format: Format,
) -> i32 {
    let Some(specs) = load(paths, format) else {
        return exit::ERROR;
    };
    let opts = BuildOptions {
        targets: vec![target],
        exclusions: !no_exclusions,
    };
    let mut res = build::compile(&specs, &opts);
    if let Err(code) = acknowledge(paths, config, &specs, &mut res.diags, false, format) {
        return code;
    }
    let code = verdict(&res.diags, deny);
    report(&res.diags, deny, format);
    if code != exit::OK {
        return code;
    }
    out!("{}", converted(&res.files, target));
    exit::OK
}

/// The files `convert -t TARGET` prints (the artifact a SIEM runs, not the build's
/// aggregate files such as savedsearches.conf) and how they are separated.
fn converted(files: &build::Files, target: Target) -> String {
    let (prefix, ext, separator) = (target.dir, target.ext, target.separator);
    let mut out = String::new();
    for (_, text) in files.iter().filter(|(p, _)| {
        p.starts_with(prefix) && p.ends_with(ext) && !p[prefix.len()..].contains('/')
    }) {
        if !out.is_empty() {
            out.push_str(separator);
        }
        out.push_str(text);
        if !text.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}
