//! The command line: argument parsing, the exit-code policy, and the only place that renders
//! diagnostics (human text with source excerpts, or JSON).

use crate::build::{self, BuildOptions, Target};
use crate::diag::{Diag, DiagKind, Fidelity, Severity};
use crate::spec::{self, LoadedSpec};
use clap::{Parser, Subcommand, ValueEnum};
use std::io::IsTerminal;
use std::path::PathBuf;

/// Exit codes: 0 success; 1 a check failed (a `--deny` policy, `verify` found a mismatch,
/// `diff` found drift); 2 bad input or an I/O error (nothing was written), including a failed
/// write of the output to stdout (e.g. a full disk). A reader that closes the pipe early
/// (`rmmc explain | head -1`) is not an error: the process stops writing and exits 0, as
/// `head`-style pipelines expect (see `write_stdout`).
pub mod exit {
    pub const OK: i32 = 0;
    pub const CHECK_FAILED: i32 = 1;
    pub const ERROR: i32 = 2;
}

/// `rmmc --version`: the package version and the commit it was built from (build.rs).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("RMMC_COMMIT"),
    ")"
);

#[derive(Parser, Debug)]
#[command(
    name = "rmmc",
    version = VERSION,
    about = "Compile RMM-tool detection specs into KQL and Microsoft Sentinel rules",
    after_help = "Examples:\n  rmmc build                      # rules/ → out/ (all targets)\n  rmmc build rules --out dist --target kql\n  rmmc convert rules/netsupport.yaml -t sigma   # print to stdout\n  rmmc build --no-exclusions      # the bare hunting queries\n  rmmc check rules --deny wider   # validate only; fail on widened predicates\n  rmmc schema > rmmc.schema.json  # JSON Schema for editor completion\n  rmmc fields                     # the canonical field names\n\nExit codes: 0 ok, 1 a check failed (--deny policy, verify mismatch, diff drift), 2 invalid input or I/O error."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// How to print diagnostics.
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Print every warning in full. By default a run with more than 50 warnings (e.g. a build
    /// of hundreds of imported specs) prints the first 20 and a count; errors are always all
    /// printed, and `--format json` always lists everything.
    #[arg(long, global = true)]
    pub all_warnings: bool,
}

/// Set once from `--all-warnings` before any diagnostics are printed.
static ALL_WARNINGS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Warnings printed in full when there are too many to read (see `Cli::all_warnings`).
const WARNINGS_SHOWN: usize = 20;
const WARNINGS_MANY: usize = 50;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// How `rmmc eval` prints result rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RowsFormat {
    Jsonl,
    Table,
}

/// Fidelity classes a policy can refuse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Deny {
    /// A backend matches more than the spec says (false positives).
    Wider,
    /// A backend matches less than the spec says (missed detections).
    Narrower,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Compile specs and write the artifacts (atomically replacing the output folder).
    #[command(
        after_help = "Output layout:\n  OUT/kql/<spec>-<detection>[-<source>].kql\n  OUT/sentinel/hunting/<spec>-<detection>[-<source>].yaml\n  OUT/sentinel/analytic/<spec>-<detection>[-<source>].yaml\n\nExamples:\n  rmmc build\n  rmmc build rules --out dist --target kql,sentinel"
    )]
    Build {
        /// Folders of *.yaml specs, or spec files (ids must be unique across all of them).
        #[arg(default_value = "rules", num_args = 1..)]
        rules: Vec<PathBuf>,
        /// Output folder; replaced as a whole on every build. `-` prints every artifact to
        /// stdout instead, each after a `==> PATH <==` line, and writes nothing.
        #[arg(long, default_value = "out")]
        out: PathBuf,
        /// Targets to emit (comma-separated).
        #[arg(long, value_enum, value_delimiter = ',', default_values_t = Target::ALL.to_vec())]
        target: Vec<Target>,
        /// Leave out the spec's false-positive exclusions.
        #[arg(long)]
        no_exclusions: bool,
        /// Fail (exit 1, nothing written) when a backend renders a predicate wider / narrower.
        #[arg(long, value_enum, value_delimiter = ',')]
        deny: Vec<Deny>,
    },
    /// Validate specs and compile them in memory; write nothing.
    #[command(
        after_help = "With --artifacts, also checks the emitted rules in DIR against the products' published rule schemas (Sentinel analytic rules: id, kind, name/description/query limits, severity, data connectors and the tables the query reads, schedule 5m-14d, trigger, tactics vs techniques, entity mappings, version), and every deployable form (Sentinel YAML query, savedsearches.conf search, Kibana rule query) against its twin .kql / .spl / .eql, as `rmmc verify` reads them; a violation exits 1.\n\nExamples:\n  rmmc check\n  rmmc check rules --deny wider,narrower\n  rmmc check rules --artifacts examples/deployed"
    )]
    Check {
        /// Folders of *.yaml specs, or spec files (ids must be unique across all of them).
        #[arg(default_value = "rules", num_args = 1..)]
        rules: Vec<PathBuf>,
        /// Fail (exit 1) when a backend renders a predicate wider / narrower.
        #[arg(long, value_enum, value_delimiter = ',')]
        deny: Vec<Deny>,
        /// Also lint the artifacts in this folder (an `rmmc build --out` folder) against the
        /// targets' published rule schemas.
        #[arg(long, value_name = "DIR")]
        artifacts: Option<PathBuf>,
    },
    /// Compare freshly compiled artifacts with a folder of committed ones (writes nothing).
    #[command(
        after_help = "Exit codes: 0 identical, 1 drift (a spec changed without regenerating, or an artifact was edited), 2 bad input or a missing folder.\n\nExamples:\n  rmmc diff rules --against examples/deployed\n  rmmc diff --against deployed --target kql,sentinel --format json"
    )]
    Diff {
        /// Folders of *.yaml specs, or spec files (ids must be unique across all of them).
        #[arg(default_value = "rules", num_args = 1..)]
        rules: Vec<PathBuf>,
        /// The folder of committed artifacts (an `rmmc build --out` folder).
        #[arg(long)]
        against: PathBuf,
        /// Compare only these targets (their folders); default: all.
        #[arg(long, value_enum, value_delimiter = ',', default_values_t = Target::ALL.to_vec())]
        target: Vec<Target>,
        /// The committed artifacts were built with --no-exclusions.
        #[arg(long)]
        no_exclusions: bool,
    },
    /// Compile specs for one target and print the artifacts to stdout (as `sigma convert`
    /// does); warnings go to stderr. `rmmc build` writes every target with its wrappers.
    #[command(
        after_help = "What each target prints (one artifact after another):\n  kql       the KQL queries\n  sentinel  the Sentinel scheduled analytic rules (YAML documents, separated by ---)\n  sigma     the Sigma rules (YAML documents, separated by ---)\n  splunk    the SPL searches\n  elastic   the EQL queries\n\nExit codes: 0 printed, 1 a --deny policy refused a rendering (nothing printed), 2 bad input.\n\nExamples:\n  rmmc convert rules/netsupport.yaml -t kql\n  rmmc convert rules -t sigma > netsupport-sigma.yml"
    )]
    Convert {
        /// Spec files or folders of *.yaml specs.
        #[arg(required = true, num_args = 1..)]
        specs: Vec<PathBuf>,
        /// The target to print.
        #[arg(short = 't', long, value_enum)]
        target: Target,
        /// Leave out the spec's false-positive exclusions.
        #[arg(long)]
        no_exclusions: bool,
        /// Fail (exit 1, nothing printed) when a backend renders a predicate wider / narrower.
        #[arg(long, value_enum, value_delimiter = ',')]
        deny: Vec<Deny>,
    },
    /// Print a shell completion script (e.g. `rmmc completions bash > ~/.local/share/bash-completion/completions/rmmc`).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the JSON Schema of the spec format.
    Schema,
    /// Print the canonical fields a spec can use (Markdown table).
    Fields,
    /// Run every emitted artifact, as text, over fixtures and generated boundary cases, and
    /// compare each verdict with the spec's meaning (the IR).
    #[command(
        after_help = "Exit codes: 0 everything agrees (or differs only where a backend declared it), 1 an unexplained mismatch or an artifact that cannot run, 2 bad input.\n\nExamples:\n  rmmc verify\n  rmmc verify rules --artifacts out      # check the files on disk (catches hand edits)\n  rmmc verify --format json"
    )]
    Verify {
        /// Folders of *.yaml specs, or spec files (ids must be unique across all of them).
        #[arg(default_value = "rules", num_args = 1..)]
        rules: Vec<PathBuf>,
        /// Verify the artifacts in this folder (an `rmmc build` output) instead of compiling.
        #[arg(long)]
        artifacts: Option<PathBuf>,
        /// Folder of canonical *.jsonl fixture events. Default: tests/fixtures if it exists.
        #[arg(long)]
        fixtures: Option<PathBuf>,
        /// The clock for now() and time windows (RFC 3339). Default: the newest fixture
        /// timestamp plus one hour, else the current time.
        #[arg(long)]
        now: Option<String>,
        /// The artifacts were built with --no-exclusions.
        #[arg(long)]
        no_exclusions: bool,
        /// Mutation testing: change each artifact's query in small ways (README: Mutation
        /// testing) and report, per artifact kind, how many mutants verify kills.
        #[arg(long)]
        mutate: bool,
        /// With --mutate: run a stratified sample of N mutants, spread over the kinds.
        #[arg(long, requires = "mutate", value_parser = clap::value_parser!(u64).range(1..))]
        sample: Option<u64>,
        /// With --mutate --sample: the sample's seed.
        #[arg(long, requires = "mutate", default_value_t = 0)]
        seed: u64,
        /// With --mutate: write every survivor and equivalent mutant here (JSON lines).
        #[arg(long, requires = "mutate")]
        survivors: Option<PathBuf>,
        /// With --mutate: the kill rate each kind must reach (default 0.99): `R` for every
        /// kind, `KIND=R` for one (repeatable), e.g. `--min-kill-rate 0.5 --min-kill-rate kql=0.9`.
        #[arg(long, requires = "mutate")]
        min_kill_rate: Vec<String>,
    },
    /// Render canonical fixture events into a backend's native rows: one JSON-lines file per
    /// table, in the shape `rmmc eval` (and the SIEM) reads. For trying rules on sample data
    /// and for feeding the same events to other engines.
    #[command(
        after_help = "Examples:\n  rmmc fixtures --out native            # tests/fixtures → native/DeviceNetworkEvents.jsonl, …\n  rmmc eval out/kql/netsupport-netconn.kql --events native/DeviceNetworkEvents.jsonl"
    )]
    Fixtures {
        /// Folder of canonical *.jsonl fixture events.
        #[arg(long, default_value = "tests/fixtures")]
        fixtures: PathBuf,
        /// Output folder (replaced atomically, like `rmmc build --out`).
        #[arg(long)]
        out: PathBuf,
    },
    /// Run one artifact over events in its backend's native schema (JSON lines).
    #[command(
        after_help = "Supported artifacts (by extension), and the events each reads:\n  .kql  Defender XDR / Sentinel columns of the table the query reads; prints result rows\n  .yml  Sigma rule (run by sigma-rust): flat Sysmon-shaped events (Image, DestinationHostname, …); prints matching events\n  .spl  Splunk search: flat Sysmon / CIM events, _time as RFC 3339 or epoch seconds; prints result rows\n  .eql  Elastic EQL query: nested ECS documents with event.category; prints matching events\nA field the artifact reads that no event has is an error naming it.\n\nExamples:\n  rmmc eval out/kql/netsupport-netconn.kql --events sample.jsonl --now 2026-05-31T11:00:00Z\n  rmmc eval out/sigma/netsupport-netconn.yml --events sysmon.jsonl"
    )]
    Eval {
        /// The artifact file(s), or build folders: every .kql, .yml, .spl and .eql file
        /// below a folder is a rule.
        #[arg(required = true, num_args = 1..)]
        artifacts: Vec<PathBuf>,
        /// Events, one JSON object per line (gzip'd or not).
        #[arg(long)]
        events: PathBuf,
        /// With a folder or several artifacts: run only this backend's (kql, sigma, splunk,
        /// elastic); needed when they are of several.
        #[arg(long)]
        backend: Option<String>,
        /// The clock for now() (RFC 3339). Default: the current time.
        #[arg(long)]
        now: Option<String>,
        /// How to print the result rows: JSON lines, or an aligned table for reading. One
        /// artifact: default jsonl. Several: only the hit table unless this is given.
        #[arg(long, value_enum)]
        rows: Option<RowsFormat>,
        /// Threads decoding events while one evaluates them (default: one per core); with
        /// 1, one thread reads, decodes and evaluates. The result is the same.
        #[arg(long, value_parser = clap::value_parser!(usize))]
        threads: Option<usize>,
    },
    /// Import existing detections or a tool catalogue into specs (one spec per tool).
    #[command(
        subcommand,
        after_help = "Each source file is reported as imported, imported with notes (recoveries and repairs, at their line:col), kept hand-written (a spec in --hand-written covers the tool) or rejected (with the reason). Every written spec loads and compiles on every backend. The folder is replaced atomically; re-importing an unchanged source changes no file. IMPORT-REPORT.md in the folder lists every note.\n\nExit codes: 0 imported (rejections are reported, not fatal unless --strict), 1 --strict and a file was rejected, 2 bad input or I/O error.\n\nExamples:\n  rmmc import sentinel ../shared/corpus/sentinel-rmm-hunting/RMM --out rules/imported/sentinel\n  rmmc import lolrmm ../shared/corpus/lolrmm/yaml --out rules/imported/lolrmm"
    )]
    Import(ImportSource),
    /// Show how every backend renders every match of the specs, and how faithfully.
    #[command(
        after_help = "Examples:\n  rmmc explain\n  rmmc explain rules --spec netsupport\n  rmmc explain --format json"
    )]
    Explain {
        /// Folders of *.yaml specs, or spec files (ids must be unique across all of them).
        #[arg(default_value = "rules", num_args = 1..)]
        rules: Vec<PathBuf>,
        /// Only this spec id.
        #[arg(long)]
        spec: Option<String>,
    },
}

/// What `rmmc import` reads.
#[derive(Subcommand, Debug)]
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

pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::ERROR
            } else {
                exit::OK
            };
            let _ = e.print();
            return code;
        }
    };
    let format = cli.format;
    let code = run(cli);
    // warnings of loading that no later report carried (JSON: see `load`)
    let left = std::mem::take(&mut *DEFERRED.lock().unwrap_or_else(|e| e.into_inner()));
    if !left.is_empty() {
        report(&left, &[], format);
    }
    // `out!` writes through stdout's line buffer: a last line without a newline is written
    // here, and a failure to write it must not be lost.
    if let Err(e) = std::io::Write::flush(&mut std::io::stdout()) {
        stdout_failed(&e);
    }
    code
}

/// The one way command output reaches stdout (through `out!` / `outln!`): a failed write
/// ends the process instead of panicking as `print!` does.
pub fn write_stdout(args: std::fmt::Arguments) {
    if let Err(e) = std::io::Write::write_fmt(&mut std::io::stdout().lock(), args) {
        stdout_failed(&e);
    }
}

/// The folder a build or import has replaced, once it has: from then on exit 2 ("nothing
/// written") would be false.
static WRITTEN_TO: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Record that `out` now holds the new output (see `stdout_failed`).
pub(crate) fn written_to(out: &std::path::Path) {
    let _ = WRITTEN_TO.set(out.to_path_buf());
}

/// EPIPE: the reader went away (`| head`), nobody is left to tell: exit 0 quietly. Any
/// other error (ENOSPC on /dev/full, EIO): one line on stderr, exit 2 — unless a build or
/// import has already replaced its output, which is then said, with exit 0: the work is
/// done, only its summary is lost (stdout on the disk that just filled up).
fn stdout_failed(e: &std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(exit::OK);
    }
    if let Some(out) = WRITTEN_TO.get() {
        eprintln!(
            "warning: cannot write the summary to stdout ({e}); the new output is in place in {}",
            crate::input::escape_control(&out.display().to_string())
        );
        std::process::exit(exit::OK);
    }
    eprintln!("error: cannot write the output to stdout: {e}");
    std::process::exit(exit::ERROR);
}

pub fn run(cli: Cli) -> i32 {
    let format = cli.format;
    ALL_WARNINGS.store(cli.all_warnings, std::sync::atomic::Ordering::Relaxed);
    match cli.command {
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(
                shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "rmmc",
                &mut script,
            );
            out!("{}", String::from_utf8_lossy(&script));
            exit::OK
        }
        Command::Convert {
            specs: paths,
            target,
            no_exclusions,
            deny,
        } => {
            let Some(specs) = load(&paths, format) else {
                return exit::ERROR;
            };
            let opts = BuildOptions {
                targets: vec![target],
                exclusions: !no_exclusions,
            };
            let res = build::compile(&specs, &opts);
            let code = verdict(&res.diags, &deny);
            report(&res.diags, &deny, format);
            if code != exit::OK {
                return code;
            }
            out!("{}", converted(&res.files, target));
            exit::OK
        }
        Command::Schema => {
            out!("{}", spec::json_schema());
            exit::OK
        }
        Command::Diff {
            rules,
            against,
            target,
            no_exclusions,
        } => {
            let Some(specs) = load(&rules, format) else {
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
                targets: target.clone(),
                exclusions: !no_exclusions,
            };
            let res = build::compile(&specs, &opts);
            if res.diags.iter().any(Diag::is_error) {
                report(&res.diags, &[], format);
                return exit::ERROR;
            }
            let committed = match build::read_artifacts(&against) {
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
                    let color =
                        std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
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
        Command::Fields => {
            out!("{}", spec::fields::markdown_table());
            exit::OK
        }
        Command::Verify {
            rules,
            artifacts,
            fixtures,
            now,
            no_exclusions,
            mutate,
            sample,
            seed,
            survivors,
            min_kill_rate,
        } => crate::cli_verify::verify(
            &rules,
            artifacts.as_deref(),
            fixtures.as_deref(),
            now.as_deref(),
            no_exclusions,
            mutate
                .then_some(crate::cli_verify::MutateArgs {
                    sample: sample.map(|n| n as usize),
                    seed,
                    survivors,
                    min_kill_rate,
                })
                .as_ref(),
            format,
        ),
        Command::Fixtures { fixtures, out } => {
            if let Some(code) = no_stdout_folder(&out, "fixtures", format) {
                return code;
            }
            crate::cli_verify::fixtures(&fixtures, &out, format)
        }
        Command::Eval {
            artifacts,
            events,
            backend,
            now,
            rows,
            threads,
        } => crate::cli_eval::eval(&crate::cli_eval::EvalArgs {
            artifacts: &artifacts,
            events: &events,
            backend: backend.as_deref(),
            now: now.as_deref(),
            rows: rows.map(|r| r == RowsFormat::Table),
            threads,
            format,
        }),
        Command::Import(source) => {
            let (ImportSource::Sentinel(args) | ImportSource::Lolrmm(args)) = &source;
            if let Some(code) = no_stdout_folder(&args.out, "import", format) {
                return code;
            }
            crate::cli_import::run(source, format)
        }
        Command::Explain { rules, spec: only } => {
            let Some(specs) = load(&rules, format) else {
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
        Command::Check {
            rules,
            deny,
            artifacts,
        } => {
            let Some(specs) = load(&rules, format) else {
                return exit::ERROR;
            };
            let mut res = build::compile(&specs, &BuildOptions::default());
            // A spec error is bad input (2); a published-schema violation in an artifact is a
            // failed check (1), like a --deny policy.
            let mut code = verdict(&res.diags, &deny);
            let mut linted = None;
            if let Some(dir) = &artifacts {
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
                        report(&[d], &deny, format);
                        return exit::ERROR;
                    }
                }
            }
            report(&res.diags, &deny, format);
            if let (Some((n, errors)), Format::Text) = (linted, format) {
                outln!("artifacts: {n} checked (Sentinel analytic rules, KQL, SPL, savedsearches.conf, EQL, Kibana rules), {errors} violations");
            }
            if code == exit::OK && format == Format::Text {
                let dets: usize = specs.iter().map(|s| s.spec.detections.len()).sum();
                outln!(
                    "ok: {} specs, {dets} detections, {} artifacts",
                    specs.len(),
                    res.files.len()
                );
            }
            code
        }
        Command::Build {
            rules,
            out,
            target,
            no_exclusions,
            deny,
        } => {
            let Some(specs) = load(&rules, format) else {
                return exit::ERROR;
            };
            let opts = BuildOptions {
                targets: target,
                exclusions: !no_exclusions,
            };
            let res = build::compile(&specs, &opts);
            let code = verdict(&res.diags, &deny);
            report(&res.diags, &deny, format);
            if code != exit::OK {
                eprintln!("nothing written: {}", out.display());
                return code;
            }
            if out.as_os_str() == "-" {
                out!("{}", to_stdout(&res.files));
                return exit::OK;
            }
            let bar = crate::import::progress(res.files.len(), "writing");
            let written =
                build::write_tree(&out, &res.files, build::OutputKind::Build, &|| bar.inc(1));
            bar.finish_and_clear();
            match written {
                Ok(stats) => {
                    written_to(&out);
                    report(&write_warnings(&out, &stats), &deny, format);
                    if format == Format::Text {
                        out!("{}", build_summary(&res.files));
                        outln!(
                            "built {} files from {} specs into {}: {} written, {} unchanged, {} removed",
                            res.files.len(),
                            specs.len(),
                            out.display(),
                            stats.written,
                            stats.unchanged,
                            stats.removed
                        );
                    }
                    exit::OK
                }
                Err(d) => {
                    report(&[d], &deny, format);
                    exit::ERROR
                }
            }
        }
    }
}

/// `build --out -`: every artifact after a `==> PATH <==` line (as `head` and `tail` introduce
/// several files), in path order.
fn to_stdout(files: &build::Files) -> String {
    let mut out = String::new();
    for (path, text) in files {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!("==> {path} <==\n{text}"));
        if !text.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// The files `convert -t TARGET` prints (the artifact a SIEM runs, not the build's
/// aggregate files such as savedsearches.conf) and how they are separated.
fn converted(files: &build::Files, target: Target) -> String {
    let (prefix, ext, separator) = match target {
        Target::Kql => ("kql/", ".kql", "\n"),
        Target::Sentinel => ("sentinel/analytic/", ".yaml", "---\n"),
        Target::Sigma => ("sigma/", ".yml", "---\n"),
        Target::Splunk => ("splunk/", ".spl", "\n"),
        Target::Elastic => ("elastic/", ".eql", "\n"),
    };
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

/// `--out -` means stdout for `build`; a command that writes a folder refuses it rather than
/// make a folder named `-`.
fn no_stdout_folder(out: &std::path::Path, command: &str, format: Format) -> Option<i32> {
    (out.as_os_str() == "-").then(|| {
        report(
            &[Diag::error(
                DiagKind::Io,
                format!("`{command} --out -`: {command} writes a folder, not stdout"),
            )
            .help(
                "pass a folder to --out (`rmmc build --out -` and `rmmc convert` print to stdout)",
            )],
            &[],
            format,
        );
        exit::ERROR
    })
}

/// The warnings of a finished write (the new output is in place), as diagnostics.
pub(crate) fn write_warnings(out: &std::path::Path, stats: &build::WriteStats) -> Vec<Diag> {
    stats
        .warnings
        .iter()
        .map(|w| Diag::warning(DiagKind::Io, w.clone()).at(out, None))
        .collect()
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

pub(crate) fn load(rules: &[PathBuf], format: Format) -> Option<Vec<LoadedSpec>> {
    match spec::load_dirs_warning(rules) {
        Ok((s, warnings)) => {
            // in JSON, the warnings join the command's own diagnostics (one array on stdout)
            match format {
                Format::Json => DEFERRED
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend(warnings),
                Format::Text => report(&warnings, &[], format),
            }
            Some(s)
        }
        Err(diags) => {
            report(&diags, &[], format);
            None
        }
    }
}

fn denied(d: &Diag, deny: &[Deny]) -> bool {
    matches!(
        (
            d.kind,
            deny.contains(&Deny::Wider),
            deny.contains(&Deny::Narrower)
        ),
        (DiagKind::Fidelity(Fidelity::Wider), true, _)
            | (DiagKind::Fidelity(Fidelity::Narrower), _, true)
    )
}

/// The exit code the diagnostics call for.
fn verdict(diags: &[Diag], deny: &[Deny]) -> i32 {
    if diags.iter().any(Diag::is_error) {
        exit::ERROR
    } else if diags.iter().any(|d| denied(d, deny)) {
        exit::CHECK_FAILED
    } else {
        exit::OK
    }
}

/// Diagnostics of loading kept for the next `report` (JSON mode), so stdout holds one array.
static DEFERRED: std::sync::Mutex<Vec<Diag>> = std::sync::Mutex::new(Vec::new());

/// Print diagnostics to stderr (text) or stdout (JSON array), after any deferred ones.
pub fn report(diags: &[Diag], deny: &[Deny], format: Format) {
    let deferred = std::mem::take(&mut *DEFERRED.lock().unwrap_or_else(|e| e.into_inner()));
    let diags: Vec<Diag> = deferred
        .iter()
        .chain(diags)
        .map(|d| {
            let mut d = d.clone();
            if denied(&d, deny) {
                d.severity = Severity::Error;
            }
            d
        })
        .collect();
    match format {
        Format::Json => {
            if !diags.is_empty() {
                outln!(
                    "{}",
                    serde_json::to_string_pretty(&diags).expect("diags serialize")
                );
            }
        }
        Format::Text => {
            let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            let warnings = diags.iter().filter(|d| !d.is_error()).count();
            let cap = if warnings > WARNINGS_MANY
                && !ALL_WARNINGS.load(std::sync::atomic::Ordering::Relaxed)
            {
                WARNINGS_SHOWN
            } else {
                usize::MAX
            };
            let mut shown = 0;
            for d in &diags {
                if !d.is_error() {
                    shown += 1;
                    if shown > cap {
                        continue;
                    }
                }
                eprintln!("{}", render_diag(d, color));
            }
            if shown > cap {
                eprintln!(
                    "warning: {} more warnings not shown ({warnings} in all); `--all-warnings` prints each, `--format json` lists them as data",
                    shown - cap
                );
            }
        }
    }
}

/// One diagnostic as text: a header, then the source line with a caret when the location is
/// known. Source text is re-read here: the library keeps diagnostics free of file contents.
/// Only the line of the location is shown, read from a regular file of at most
/// `input::MAX_INPUT_BYTES`, and every control character in it, in the message and in the
/// file name is escaped (`input::escape_control`): an error about a hostile file prints
/// neither the rest of the file nor its terminal escapes.
pub fn render_diag(d: &Diag, color: bool) -> String {
    use crate::input::escape_control;
    use annotate_snippets::{Level, Renderer, Snippet};
    let level = match d.severity {
        Severity::Error => Level::Error,
        Severity::Warning => Level::Warning,
    };
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let source = d
        .file
        .as_ref()
        .filter(|_| d.span.is_some())
        .and_then(|f| crate::input::read_bounded(f, crate::input::MAX_INPUT_BYTES).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let origin = d
        .file
        .as_ref()
        .map(|f| escape_control(&f.display().to_string()).into_owned());
    let message = escape_control(&d.message);
    let help = d.help.as_deref().map(escape_control);
    match (source, d.span, &origin) {
        (Some(src), Some(span), Some(origin))
            if span.offset <= src.len() && src.is_char_boundary(span.offset) =>
        {
            let start = src[..span.offset].rfind('\n').map_or(0, |i| i + 1);
            let end = src[span.offset..]
                .find('\n')
                .map_or(src.len(), |i| span.offset + i);
            let line = &src[start..end];
            let line = line.strip_suffix('\r').unwrap_or(line);
            let at = span.offset.min(start + line.len());
            let before = escape_control(&src[start..at]).len();
            let shown = escape_control(line);
            let caret_end = shown[before..]
                .char_indices()
                .nth(1)
                .map_or(shown.len(), |(i, _)| before + i);
            let mut msg = level.title(&message).snippet(
                Snippet::source(&shown)
                    .line_start(span.line)
                    .origin(origin)
                    .annotation(level.span(before..caret_end).label("here")),
            );
            if let Some(h) = &help {
                msg = msg.footer(Level::Help.title(h));
            }
            let text = renderer.render(msg).to_string();
            text
        }
        _ => escape_control(&d.to_string()).into_owned(),
    }
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
