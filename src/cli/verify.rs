//! The command-line edge of `rmmc verify` and `rmmc eval`: reading files, choosing the clock,
//! printing the matrix and the result rows.

use super::output::{exit, load, report, usage, Format};
use crate::build::{self, BuildOptions, Target};
use crate::diag::Diag;
use crate::eval::time::{format_rfc3339, parse_rfc3339};
use crate::verify::{self, cases, VerifyOptions};
use std::path::{Path, PathBuf};

pub(super) fn now_or(now: Option<&str>, default: impl FnOnce() -> i128) -> Result<i128, String> {
    match now {
        Some(s) => parse_rfc3339(s).ok_or_else(|| {
            format!("--now {s:?} is not an RFC 3339 time (e.g. 2026-05-31T11:00:00Z)")
        }),
        None => Ok(default()),
    }
}

pub(super) fn clock() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

/// `rmmc verify --mutate`'s options (docs/verify.md: Mutation testing).
pub struct MutateArgs {
    pub sample: Option<usize>,
    pub seed: u64,
    pub survivors: Option<PathBuf>,
    pub min_kill_rate: Vec<String>,
}

#[allow(clippy::too_many_arguments)]
pub fn verify(
    rules: &[PathBuf],
    artifacts: Option<&Path>,
    fixtures: Option<&Path>,
    now: Option<&str>,
    no_exclusions: bool,
    mutate: Option<&MutateArgs>,
    format: Format,
) -> i32 {
    let bar = match mutate.map(|m| verify::mutate::Bar::parse(&m.min_kill_rate)) {
        Some(Err(e)) => return usage(e, format),
        Some(Ok(b)) => Some(b),
        None => None,
    };
    let Some(specs) = load(rules, format) else {
        return exit::ERROR;
    };
    let fixture_dir = fixtures.map(Path::to_path_buf).or_else(|| {
        let d = Path::new("tests/fixtures");
        d.is_dir().then(|| d.to_path_buf())
    });
    let fixture_cases = match &fixture_dir {
        Some(d) => match cases::load_fixtures(d) {
            Ok(c) => c,
            Err(diags) => {
                report(&diags, &[], format);
                return exit::ERROR;
            }
        },
        None => Vec::new(),
    };
    let newest = fixture_cases
        .iter()
        .filter_map(|c| {
            c.event
                .0
                .get("timestamp")
                .and_then(|t| t.as_str())
                .and_then(parse_rfc3339)
        })
        .max();
    let now = match now_or(now, || newest.map_or_else(clock, |t| t + 3_600_000_000_000)) {
        Ok(n) => n,
        Err(e) => return usage(e, format),
    };
    let opts = BuildOptions {
        targets: Target::all().to_vec(),
        exclusions: !no_exclusions,
    };
    let built = build::compile(&specs, &opts);
    if built.diags.iter().any(Diag::is_error) {
        report(&built.diags, &[], format);
        return exit::ERROR;
    }
    let files = match artifacts {
        None => built.files.clone(),
        Some(dir) if dir.is_dir() => match build::read_artifacts(dir) {
            Ok(f) => f,
            Err(e) => return usage(format!("cannot read {}: {e}", dir.display()), format),
        },
        Some(dir) => {
            return usage(
                format!("--artifacts {}: no such folder", dir.display()),
                format,
            )
        }
    };
    let vopts = VerifyOptions {
        now,
        exclusions: !no_exclusions,
    };
    if let (Some(m), Some(bar)) = (mutate, bar) {
        return mutation(
            &specs,
            &files,
            &fixture_cases,
            &built.renderings,
            &vopts,
            m,
            &bar,
            format,
        );
    }
    let irs: Vec<_> = specs.iter().map(crate::ir::lower).collect();
    let result = verify::verify(&irs, &files, &fixture_cases, &built.renderings, &vopts);
    match format {
        Format::Json => outln!(
            "{}",
            serde_json::to_string_pretty(&result).expect("report serializes")
        ),
        Format::Text => out!("{}", matrix(&result, now)),
    }
    if result.ok() {
        exit::OK
    } else {
        exit::CHECK_FAILED
    }
}

/// `rmmc verify --mutate`: run the mutants, print the report, write the survivors; exit 0
/// when every kind reaches its bar, 1 when one does not.
#[allow(clippy::too_many_arguments)]
fn mutation(
    specs: &[crate::spec::LoadedSpec],
    files: &build::Files,
    fixtures: &[cases::Case],
    renderings: &[crate::backend::common::Rendering],
    vopts: &VerifyOptions,
    m: &MutateArgs,
    bar: &verify::mutate::Bar,
    format: Format,
) -> i32 {
    use verify::mutate::{self, Status};
    let started = std::time::Instant::now();
    let opts = mutate::MutateOptions {
        sample: m.sample,
        seed: m.seed,
    };
    let r = mutate::run(specs, files, fixtures, renderings, vopts, &opts);
    let seconds = started.elapsed().as_secs_f64();
    if let Some(path) = &m.survivors {
        let lines: String = r
            .mutants
            .iter()
            .filter(|x| matches!(x.status, Status::Survived | Status::Equivalent))
            .map(|x| serde_json::to_string(x).expect("a mutant serializes") + "\n")
            .collect();
        if let Err(e) = std::fs::write(path, lines) {
            return usage(format!("{}: {e}", path.display()), format);
        }
    }
    match format {
        Format::Json => {
            let mut v = serde_json::to_value(&r).expect("the report serializes");
            v["seconds"] = serde_json::json!(seconds);
            v["below_bar"] = bar
                .failing(&r)
                .iter()
                .map(|k| serde_json::Value::from(k.kind.clone()))
                .collect();
            outln!("{}", serde_json::to_string_pretty(&v).expect("json"));
        }
        Format::Text => out!("{}", mutate::text(&r, bar, seconds)),
    }
    if bar.failing(&r).is_empty() {
        exit::OK
    } else {
        exit::CHECK_FAILED
    }
}

fn matrix(r: &verify::Report, now: i128) -> String {
    let mut out = format!("now = {}\n", format_rfc3339(now));
    out.push_str(&format!(
        "{:<40} {:<8} {:>6} {:>6} {:>9} {:>8} {:>7} {:>11}  {:<24} status\n",
        "rule",
        "backend",
        "cases",
        "pass",
        "explained",
        "mismatch",
        "skipped",
        "conditions",
        "window"
    ));
    for c in &r.cells {
        let status = match (&c.error, c.mismatched, c.uncovered) {
            (Some(e), _, _) => format!("ERROR {}: {e}", c.artifact),
            (None, 0, 0) if !c.judged() => format!(
                "UNJUDGED {} of {} cases skipped (more than {:.0}%) {}",
                c.skipped,
                c.cases,
                verify::MAX_SKIPPED_SHARE * 100.0,
                c.artifact
            ),
            (None, 0, 0) if c.explained + c.declared > 0 => "pass (declared gaps)".to_string(),
            (None, 0, 0) => "pass".to_string(),
            (None, 0, n) => format!("UNCOVERED {n} condition(s) {}", c.artifact),
            (None, _, _) => format!("MISMATCH {}", c.artifact),
        };
        // covered / conditions that can matter, then `+N` declared where some are excused
        let mut conds = format!("{}/{}", c.covered, c.conditions - c.masked);
        if c.declared > 0 {
            conds.push_str(&format!("+{}d", c.declared));
        }
        out.push_str(&format!(
            "{:<40} {:<8} {:>6} {:>6} {:>9} {:>8} {:>7} {:>11}  {:<24} {status}\n",
            c.rule,
            c.backend.name(),
            c.cases,
            c.passed,
            c.explained,
            c.mismatched,
            c.skipped,
            conds,
            c.window
        ));
    }
    let unexplained: Vec<_> = r
        .mismatches
        .iter()
        .filter(|m| m.explained_by.is_none())
        .collect();
    if !unexplained.is_empty() {
        out.push_str("\nmismatches:\n");
        for m in unexplained {
            out.push_str(&format!(
                "- {} [{}] {}: {} says {}, the artifact says {}\n  event: {}\n",
                m.rule,
                m.backend.name(),
                m.case,
                match m.against {
                    verify::Against::Spec => "the spec",
                    verify::Against::Declared => "its declared rendering",
                },
                verdict(m.expected),
                verdict(m.actual),
                serde_json::Value::Object(m.event.clone())
            ));
        }
    }
    if !r.uncovered.is_empty() {
        out.push_str("\nuncovered conditions (no judged pair flips the artifact's verdict, and nothing declared excuses it):\n");
        for u in &r.uncovered {
            out.push_str(&format!(
                "- {} [{}] {}: {}\n",
                u.rule,
                u.backend.map_or("", |b| b.name()),
                u.condition,
                u.why
            ));
        }
    }
    if !r.masked.is_empty() {
        out.push_str(&format!(
            "\nmasked conditions (the spec gives them no event where they decide the verdict; drop or fix the value): {}\n",
            r.masked.len()
        ));
        for u in r.masked.iter().take(20) {
            out.push_str(&format!("- {} {}: {}\n", u.rule, u.condition, u.why));
        }
        if r.masked.len() > 20 {
            out.push_str(&format!(
                "- … and {} more (--format json lists all)\n",
                r.masked.len() - 20
            ));
        }
    }
    for d in &r.fixture_disagreements {
        out.push_str(&format!("fixture: {d}\n"));
    }
    if !r.not_built.is_empty() {
        out.push_str(&format!(
            "\nnot built (declared `unsupported` in the spec): {}\n",
            r.not_built.len()
        ));
        for n in &r.not_built {
            out.push_str(&format!("- {n}\n"));
        }
    }
    if r.cells
        .iter()
        .any(|c| c.backend == crate::spec::BackendName::Sigma)
    {
        out.push_str(
            "\nsigma: a Sigma rule carries no time range; the window is the scheduler's, so Sigma verdicts are judged without it\n",
        );
    }
    if r.cells.iter().any(|c| c.skipped > 0) {
        out.push_str("skipped: cases the backend's native event cannot hold (e.g. a boundary value holding `\\` for a process name, which Sysmon keeps as the last component of one Image path); not judged\n");
    }
    let total: usize = r.cells.iter().map(|c| c.cases - c.skipped).sum();
    let bad = r.cells.iter().filter(|c| !c.ok()).count();
    let (covered, declared, conds): (usize, usize, usize) =
        r.cells.iter().fold((0, 0, 0), |a, c| {
            (
                a.0 + c.covered,
                a.1 + c.declared,
                a.2 + c.conditions - c.masked,
            )
        });
    let skipped: usize = r.cells.iter().map(|c| c.skipped).sum();
    let cases: usize = r.cells.iter().map(|c| c.cases).sum();
    out.push_str(&format!(
        "\ncoverage: {covered} of {conds} condition pairs judged and flipped ({:.1}%), {declared} declared, {} masked in the spec; {skipped} of {cases} cases skipped ({:.1}%)",
        pct(covered, conds),
        r.masked.len(),
        pct(skipped, cases)
    ));
    out.push_str(&format!(
        "\n{}, {}: {}\n",
        super::output::counted(r.cells.len() as u64, "rule"),
        super::output::counted(total as u64, "verdict"),
        if r.ok() {
            "all agree with the spec".to_string()
        } else {
            match bad {
                1 => "1 rule disagrees".to_string(),
                n => format!("{n} rules disagree"),
            }
        }
    ));
    out
}

fn pct(a: usize, b: usize) -> f64 {
    if b == 0 {
        100.0
    } else {
        a as f64 * 100.0 / b as f64
    }
}

fn verdict(b: bool) -> &'static str {
    if b {
        "match"
    } else {
        "no match"
    }
}
