//! The command line: the clap definitions and the dispatch to one file per command. What the
//! commands share (exit codes, the diagnostics format, rendering, stdout) is in `output`.

mod build;
mod check;
mod convert;
mod diff;
mod eval;
mod explain;
mod fixtures;
mod import;
mod mapping;
pub(crate) mod output;
mod verify;

use crate::build::Target;
use clap::{Parser, Subcommand, ValueEnum};
use output::{exit, Deny, Format};
use std::path::PathBuf;

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
    about = "Compile RMM-tool detection specs into KQL (with Microsoft Sentinel rules), Sigma, Splunk SPL and Elastic EQL rules",
    after_help = "Examples:\n  rmmc build                      # rules/ → out/ (all targets)\n  rmmc build rules --out dist --target kql\n  rmmc convert rules/netsupport.yaml -t sigma   # print to stdout\n  rmmc build --no-exclusions      # the bare hunting queries\n  rmmc check rules --deny wider   # validate only; fail on widened predicates\n  rmmc schema > rmmc.schema.json  # JSON Schema for editor completion\n  rmmc fields                     # the canonical field names\n\nExit codes: 0 ok, 1 a check failed (--deny policy, verify mismatch, diff drift), 2 invalid input or I/O error."
)]
pub(crate) struct Cli {
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
    /// The data model a backend reads (repeatable): a shipped mapping (`rmmc list mappings`),
    /// `BACKEND=NAME`, or a mapping file (`[BACKEND=]FILE`, docs/backends.md). Overrides
    /// `[mapping]` in rmmc.toml; default: each backend's default mapping.
    #[arg(long, global = true, value_name = "[BACKEND=]NAME|FILE")]
    pub mapping: Vec<String>,
}

/// How `rmmc eval` prints result rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum RowsFormat {
    Jsonl,
    Table,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Compile specs and write the artifacts (atomically replacing the output folder).
    #[command(
        after_help = "Output layout (STEM: <spec>-<detection>, plus -<source> when the detection reads several sources):\n  OUT/.rmmc-output                marker: a build replaces only folders that carry it\n  OUT/kql/STEM.kql\n  OUT/sentinel/hunting/STEM.yaml\n  OUT/sentinel/analytic/STEM.yaml\n  OUT/sigma/STEM.yml\n  OUT/splunk/STEM.spl\n  OUT/splunk/savedsearches.conf   one scheduled-alert stanza per search\n  OUT/elastic/STEM.eql\n  OUT/elastic/rules.ndjson        Kibana detection rules (type eql), one per line\n\nExamples:\n  rmmc build\n  rmmc build rules --out dist --target kql,sentinel"
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
        #[arg(long, value_enum, value_delimiter = ',', default_values_t = Target::all().to_vec())]
        target: Vec<Target>,
        /// Leave out the spec's false-positive exclusions.
        #[arg(long)]
        no_exclusions: bool,
        /// Fail (exit 1, nothing written) when a backend renders a predicate wider / narrower.
        #[arg(long, value_enum, value_delimiter = ',')]
        deny: Vec<Deny>,
        /// The project configuration: acknowledged fidelity losses (docs/commands.md). Default:
        /// the `rmmc.toml` found walking up from the rules to the repository root.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
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
        /// The project configuration: acknowledged fidelity losses (docs/commands.md). Default:
        /// the `rmmc.toml` found walking up from the rules to the repository root.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
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
        #[arg(long, value_enum, value_delimiter = ',', default_values_t = Target::all().to_vec())]
        target: Vec<Target>,
        /// The committed artifacts were built with --no-exclusions.
        #[arg(long)]
        no_exclusions: bool,
    },
    /// Compile specs for one target and print the artifacts to stdout (as `sigma convert`
    /// does); warnings go to stderr. `rmmc build` writes every target with its wrappers.
    #[command(
        after_help = format!("{}\n\nExit codes: 0 printed, 1 a --deny policy refused a rendering (nothing printed), 2 bad input.\n\nExamples:\n  rmmc convert rules/netsupport.yaml -t kql\n  rmmc convert rules -t sigma > netsupport-sigma.yml", crate::backend::convert_help())
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
        /// The project configuration: acknowledged fidelity losses (docs/commands.md). Default:
        /// the `rmmc.toml` found walking up from the rules to the repository root.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Print a shell completion script (e.g. `rmmc completions bash > ~/.local/share/bash-completion/completions/rmmc`).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// List the targets (`--target`) or the shipped mappings (`--mapping`).
    #[command(
        after_help = "Examples:\n  rmmc list targets\n  rmmc list mappings\n  rmmc list mappings --format json"
    )]
    List {
        /// What to list.
        #[arg(value_enum)]
        what: mapping::Listing,
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
        /// Mutation testing: change each artifact's query in small ways (docs/verify.md: Mutation
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
    /// Render canonical fixture events into each backend's native events, one JSON-lines file
    /// per table, in the shape `rmmc eval` (and the SIEM) reads: KQL rows (Defender XDR /
    /// Sentinel columns) as <Table>.jsonl, flat Sysmon events in sigma/, Splunk events in
    /// splunk/, nested ECS documents in elastic/. For trying rules on sample data and for
    /// feeding the same events to other engines.
    #[command(
        after_help = "Examples:\n  rmmc fixtures --out native            # tests/fixtures → native/DeviceNetworkEvents.jsonl, native/sigma/network-endpoint.jsonl, …\n  rmmc eval out/kql/netsupport-netconn.kql --events native/DeviceNetworkEvents.jsonl\n  rmmc eval out/elastic --events native/elastic/network-endpoint.jsonl"
    )]
    Fixtures {
        /// Folder of canonical *.jsonl fixture events.
        #[arg(long, default_value = "tests/fixtures")]
        fixtures: PathBuf,
        /// Output folder (replaced atomically, like `rmmc build --out`).
        #[arg(long)]
        out: PathBuf,
    },
    /// Run artifacts (files, or every rule of a build folder) over an export of events in
    /// their backend's native schema (JSON lines or CSV, gzip'd or not, or Parquet).
    #[command(
        after_help = "Supported artifacts (by extension), and the events each reads:\n  .kql  Defender XDR / Sentinel columns of the table the query reads; prints result rows\n  .yml  Sigma rule (run by sigma-rust): flat Sysmon-shaped events (Image, DestinationHostname, …); prints matching events\n  .spl  Splunk search: flat Sysmon / CIM events, _time as RFC 3339 or epoch seconds; prints result rows\n  .eql  Elastic EQL query: nested ECS documents with event.category; prints matching events\nA field the artifact reads that no event has is an error naming it.\n\nOne event of each shape, one JSON object a line (`rmmc fixtures --out DIR` writes samples):\n  .kql\n    {\"Timestamp\":\"2026-05-31T09:12:00Z\",\"DeviceName\":\"ws-001\",\"RemoteUrl\":\"x.netsupport.com\"}\n  .yml\n    {\"EventID\":3,\"Computer\":\"ws-001\",\"DestinationHostname\":\"x.netsupport.com\"}\n  .spl\n    {\"_time\":1780218720,\"sourcetype\":\"XmlWinEventLog:Microsoft-Windows-Sysmon/Operational\",\"EventCode\":\"3\",\"Computer\":\"ws-001\",\"DestinationHostname\":\"x.netsupport.com\"}\n  .eql\n    {\"@timestamp\":\"2026-05-31T09:12:00Z\",\"event\":{\"category\":[\"network\"]},\"destination\":{\"domain\":\"x.netsupport.com\"}}\nThe export may also be a JSON array of such objects, CSV with a header row, or Parquet; gzip'd or not; `-` reads standard input.\n\nExamples:\n  rmmc eval out/kql/netsupport-netconn.kql --events sample.jsonl --now 2026-05-31T11:00:00Z\n  rmmc eval out/sigma/netsupport-netconn.yml --events sysmon.jsonl\n  zcat export.json.gz | rmmc eval out/kql --events - --now 2026-05-31T11:00:00Z"
    )]
    Eval {
        /// The artifact file(s), or build folders: every .kql, .yml, .spl and .eql file
        /// below a folder is a rule.
        #[arg(required = true, num_args = 1..)]
        artifacts: Vec<PathBuf>,
        /// The export: one JSON object per line or a JSON array of them, or a .csv file with a
        /// header row (gzip'd or not), or a Parquet file (any codec: snappy, gzip, zstd, lz4);
        /// `-` reads standard input (JSON, gzip'd or not). A plain JSON-lines file is mapped
        /// into memory, not copied: do not truncate or rewrite it during the run (pipe an
        /// export that is still being written through `-`).
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
    Import(import::ImportSource),
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
    output::finish(format);
    code
}

fn run(cli: Cli) -> i32 {
    let format = cli.format;
    output::all_warnings(cli.all_warnings);
    // the mappings are chosen before anything compiles; the project's `[mapping]` is that of
    // the rmmc.toml of the rules (or `--config`)
    let (rules, config): (Option<&[PathBuf]>, Option<&std::path::Path>) = match &cli.command {
        Command::Build { rules, config, .. } | Command::Check { rules, config, .. } => {
            (Some(rules), config.as_deref())
        }
        Command::Convert { specs, config, .. } => (Some(specs), config.as_deref()),
        Command::Diff { rules, .. }
        | Command::Verify { rules, .. }
        | Command::Explain { rules, .. } => (Some(rules), None),
        _ => (None, None),
    };
    let reads_tables = !matches!(
        cli.command,
        Command::Import(_) | Command::List { .. } | Command::Completions { .. }
    );
    if reads_tables {
        if let Err(code) = mapping::choose(&cli.mapping, rules, config, format) {
            return code;
        }
    } else if !cli.mapping.is_empty() {
        // importers read the default mappings (the specs they write are backend-neutral)
        output::report(
            &[crate::diag::Diag::error(
                crate::diag::DiagKind::Value,
                "--mapping has no effect on this command",
            )
            .help("choose a mapping where rules are compiled or verified (build, convert, check, verify, explain, diff, fixtures)")],
            &[],
            format,
        );
        return exit::ERROR;
    }
    match cli.command {
        Command::List { what } => mapping::list(what, format),
        // the three printing commands are one call each: no file of their own
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
        Command::Schema => {
            out!("{}", crate::spec::json_schema());
            exit::OK
        }
        Command::Fields => {
            out!("{}", crate::spec::fields::markdown_table());
            exit::OK
        }
        Command::Convert {
            specs,
            target,
            no_exclusions,
            deny,
            config,
        } => convert::run(
            &specs,
            target,
            no_exclusions,
            (&deny, config.as_deref()),
            format,
        ),
        Command::Diff {
            rules,
            against,
            target,
            no_exclusions,
        } => diff::run(&rules, &against, &target, no_exclusions, format),
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
        } => verify::verify(
            &rules,
            artifacts.as_deref(),
            fixtures.as_deref(),
            now.as_deref(),
            no_exclusions,
            mutate
                .then_some(verify::MutateArgs {
                    sample: sample.map(|n| n as usize),
                    seed,
                    survivors,
                    min_kill_rate,
                })
                .as_ref(),
            format,
        ),
        Command::Fixtures { fixtures, out } => fixtures::run(&fixtures, &out, format),
        Command::Eval {
            artifacts,
            events,
            backend,
            now,
            rows,
            threads,
        } => eval::eval(&eval::EvalArgs {
            artifacts: &artifacts,
            events: &events,
            backend: backend.as_deref(),
            now: now.as_deref(),
            rows: rows.map(|r| r == RowsFormat::Table),
            threads,
            format,
        }),
        Command::Import(source) => import::run(source, format),
        Command::Explain { rules, spec } => explain::run(&rules, spec, format),
        Command::Check {
            rules,
            deny,
            config,
            artifacts,
        } => check::run(
            &rules,
            (&deny, config.as_deref()),
            artifacts.as_deref(),
            format,
        ),
        Command::Build {
            rules,
            out,
            target,
            no_exclusions,
            deny,
            config,
        } => build::run(
            &rules,
            &out,
            target,
            no_exclusions,
            (&deny, config.as_deref()),
            format,
        ),
    }
}
