//! `rmmc import`: run an importer, prove and write its specs, print the report.

use super::output::{exit, load, no_stdout_folder, report, write_warnings, written_to, Format};
use crate::build;
use crate::diag::{Diag, DiagKind};
use crate::import;
use std::path::PathBuf;

/// What `rmmc import` reads.
#[derive(clap::Subcommand, Debug)]
pub enum ImportSource {
    /// Sentinel hunting-query YAMLs (<DIR>/<Tool>/*_netconn|createproc|filesig.yaml), lifted
    /// with rmmc's own KQL parser; each emitted query is checked against the original.
    Sentinel(ImportArgs),
    /// LOLRMM tool YAMLs (<DIR>/*.yaml): domains, PE metadata, signers, paths, hashes.
    Lolrmm(ImportArgs),
}

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// The source folder.
    pub dir: PathBuf,
    /// The spec folder to write (replaced as a whole; keep hand-written specs elsewhere).
    #[arg(long)]
    pub out: PathBuf,
    /// Hand-written specs: a tool they cover is not imported (the hand-written spec wins).
    /// Ignored when the folder does not exist.
    #[arg(long, default_value = "rules", value_name = "DIR")]
    pub hand_written: PathBuf,
    /// Date for specs whose source carries none and that no earlier import dated
    /// (YYYY-MM-DD). Default: today.
    #[arg(long)]
    pub date: Option<String>,
    /// Exit 1 when a file is rejected.
    #[arg(long)]
    pub strict: bool,
    /// Print every note under its file (IMPORT-REPORT.md always lists them all).
    #[arg(long)]
    pub verbose: bool,
}

pub(super) fn run(source: ImportSource, format: Format) -> i32 {
    let (ImportSource::Sentinel(args) | ImportSource::Lolrmm(args)) = &source;
    if let Some(code) = no_stdout_folder(&args.out, "import", format) {
        return code;
    }
    let (args, title, importer): (_, _, import::Importer) = match source {
        ImportSource::Sentinel(a) => (
            a,
            "Import of Sentinel hunting queries",
            import::sentinel::import,
        ),
        ImportSource::Lolrmm(a) => (a, "Import of the LOLRMM catalogue", import::lolrmm::import),
    };
    let fail = |d: Diag| {
        report(&[d], &[], format);
        exit::ERROR
    };
    let today = match &args.date {
        Some(d) => {
            let ok = d.len() == 10
                && crate::eval::time::parse_rfc3339(&format!("{d}T00:00:00Z")).is_some();
            if !ok {
                return fail(
                    Diag::error(DiagKind::Value, format!("--date `{d}` is not YYYY-MM-DD"))
                        .help("e.g. --date 2026-12-01"),
                );
            }
            d.clone()
        }
        None => today(),
    };
    // an empty folder (or one without specs) is "no hand-written specs", like a missing one
    let has_specs = crate::spec::spec_files(&args.hand_written).is_ok();
    let hand = if has_specs {
        match load(std::slice::from_ref(&args.hand_written), format) {
            Some(s) => s,
            None => {
                eprintln!(
                    "nothing written: the hand-written specs in {} must load first",
                    args.hand_written.display()
                );
                return exit::ERROR;
            }
        }
    } else {
        Vec::new()
    };
    let bar = import::progress(0, "importing");
    let imported = match importer(&args.dir, &bar) {
        Ok(i) => i,
        Err(d) => {
            bar.finish_and_clear();
            return fail(d);
        }
    };
    bar.finish_and_clear();
    let existing = if args.out.is_dir() {
        build::read_tree(&args.out).unwrap_or_default()
    } else {
        Default::default()
    };
    let done = import::finish(imported, &hand, &existing, &today, title);
    let stats = match build::write_tree(&args.out, &done.files, build::OutputKind::Import, &|| {}) {
        Ok(s) => s,
        Err(d) => return fail(d),
    };
    written_to(&args.out);
    report(&write_warnings(&args.out, &stats), &[], format);
    let counts = import::counts(&done.reports);
    if format == Format::Json {
        let json = serde_json::json!({
            "files": done.reports,
            "counts": counts.iter().map(|(o, n)| (o.label(), n)).collect::<indexmap::IndexMap<_, _>>(),
            "specs": done.specs,
            "written": stats.written, "unchanged": stats.unchanged, "removed": stats.removed,
        });
        outln!(
            "{}",
            serde_json::to_string_pretty(&json).expect("report serializes")
        );
    } else {
        for line in import::report_lines(&done.reports, args.verbose) {
            outln!("{line}");
        }
        outln!();
        outln!("{:<20} {:>5}", "outcome", "files");
        for (o, n) in &counts {
            outln!("{:<20} {n:>5}", o.label());
        }
        outln!("{:<20} {:>5}", "total", done.reports.len());
        outln!(
            "\n{} into {}: {} written, {} unchanged, {} removed (report: {})",
            super::output::counted(done.specs as u64, "spec"),
            args.out.display(),
            stats.written,
            stats.unchanged,
            stats.removed,
            import::REPORT_FILE
        );
    }
    let rejected = done
        .reports
        .iter()
        .any(|r| r.outcome() == import::Outcome::Rejected);
    if args.strict && rejected {
        exit::CHECK_FAILED
    } else {
        exit::OK
    }
}

/// Today's date (UTC), for specs whose source carries none.
fn today() -> String {
    let ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128);
    crate::eval::time::format_rfc3339(ns)[..10].to_string()
}
