//! `rmmc build`: compile specs and write the artifacts (or print them with `--out -`).

use super::output::{
    acknowledge, exit, load, report, verdict, write_warnings, written_to, Deny, Format,
};
use crate::build::{self, BuildOptions, Target};
use std::path::{Path, PathBuf};

pub(super) fn run(
    rules: &[PathBuf],
    out: &Path,
    target: Vec<Target>,
    no_exclusions: bool,
    (deny, config): (&[Deny], Option<&Path>),
    format: Format,
) -> i32 {
    let Some(specs) = load(rules, format) else {
        return exit::ERROR;
    };
    let opts = BuildOptions {
        targets: target,
        exclusions: !no_exclusions,
    };
    let mut res = build::compile(&specs, &opts);
    // stale entries are `check`'s to report: a build of some targets makes only some warnings
    if let Err(code) = acknowledge(rules, config, &specs, &mut res.diags, false, format) {
        return code;
    }
    let code = verdict(&res.diags, deny);
    report(&res.diags, deny, format);
    if code != exit::OK {
        eprintln!("nothing written: {}", out.display());
        return code;
    }
    if out.as_os_str() == "-" {
        super::output::write_stdout_with(|w| to_stdout(w, &res.files));
        return exit::OK;
    }
    let bar = crate::import::progress(res.files.len(), "writing");
    let written = build::write_tree(out, &res.files, build::OutputKind::Build, &|| bar.inc(1));
    bar.finish_and_clear();
    match written {
        Ok(stats) => {
            written_to(out);
            report(&write_warnings(out, &stats), deny, format);
            if format == Format::Text {
                out!("{}", build_summary(&res.files));
                outln!(
                    "built {} from {} into {}: {} written, {} unchanged, {} removed",
                    super::output::counted(res.files.len() as u64, "file"),
                    super::output::counted(specs.len() as u64, "spec"),
                    out.display(),
                    stats.written,
                    stats.unchanged,
                    stats.removed
                );
            }
            exit::OK
        }
        Err(d) => {
            report(&[d], deny, format);
            exit::ERROR
        }
    }
}

/// `build --out -`: every artifact after a `==> PATH <==` line (as `head` and `tail` introduce
/// several files), in path order, an empty line between two.
fn to_stdout(w: &mut dyn std::io::Write, files: &build::Files) -> std::io::Result<()> {
    for (i, (path, text)) in files.iter().enumerate() {
        if i > 0 {
            w.write_all(b"\n")?;
        }
        writeln!(w, "==> {path} <==")?;
        w.write_all(text.as_bytes())?;
        if !text.ends_with('\n') {
            w.write_all(b"\n")?;
        }
    }
    Ok(())
}

/// Files per target folder, as a table (printed before the build's last line).
fn build_summary(files: &build::Files) -> String {
    let mut per: indexmap::IndexMap<&str, usize> = indexmap::IndexMap::new();
    for path in files.keys() {
        let top = path.split('/').next().unwrap_or_default();
        *per.entry(top).or_default() += 1;
    }
    let mut out = format!("{:<10} {:>6}\n", "target", "files");
    for (t, n) in per {
        out.push_str(&format!("{t:<10} {n:>6}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_stdout_separates_files_and_ends_each_with_a_newline() {
        let files: build::Files = [
            ("a/x.kql", "one\n"),
            ("a/y.kql", "two"),
            ("b/empty.yml", ""),
            ("b/z.yml", "three\nfour\n"),
        ]
        .into_iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect();
        let mut out = Vec::new();
        to_stdout(&mut out, &files).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "==> a/x.kql <==\none\n\n==> a/y.kql <==\ntwo\n\n==> b/empty.yml <==\n\n\n\
             ==> b/z.yml <==\nthree\nfour\n"
        );
        let mut none = Vec::new();
        to_stdout(&mut none, &build::Files::new()).unwrap();
        assert!(none.is_empty());
    }
}
