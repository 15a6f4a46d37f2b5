//! End-to-end tests of the `rmmc` binary: exit codes, diagnostic locations, and the promise
//! that a failed or no-op build never touches the output folder.
//!
//! Every bad-input test starts from the shipped `rules/supremo.yaml`, applies one string
//! replacement, and derives the expected `LINE:COL` from the text it generated (a `‸` in a
//! pattern marks the exact character the diagnostic must point at).

use assert_cmd::Command;
use predicates::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use tempfile::TempDir;

/// Exit codes documented in `rmmc --help`.
const OK: i32 = 0;
const DENIED: i32 = 1;
const ERROR: i32 = 2;

/// Marks the expected caret position inside a location pattern.
const CARET: char = '‸';

fn rmmc() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rmmc"));
    c.env("NO_COLOR", "1");
    c
}

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn shipped_rules() -> PathBuf {
    manifest_dir().join("rules")
}

fn supremo_text() -> String {
    std::fs::read_to_string(shipped_rules().join("supremo.yaml")).expect("read rules/supremo.yaml")
}

/// `text` with the single occurrence of `from` replaced by `to`.
fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "the replacement source {from:?} must occur exactly once in the spec"
    );
    text.replacen(from, to, 1)
}

/// 1-based (line, column in characters) of the `‸` in `pattern`, where `pattern` with the
/// `‸` removed occurs exactly once in `text`.
fn loc(text: &str, pattern: &str) -> (usize, usize) {
    let (pre, post) = pattern
        .split_once(CARET)
        .unwrap_or_else(|| panic!("pattern {pattern:?} has no {CARET}"));
    let needle = format!("{pre}{post}");
    let hits: Vec<usize> = text.match_indices(&needle).map(|(i, _)| i).collect();
    assert_eq!(
        hits.len(),
        1,
        "pattern {needle:?} must occur exactly once in the generated spec:\n{text}"
    );
    let at = hits[0] + pre.len();
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = text[..at].matches('\n').count() + 1;
    let col = text[line_start..at].chars().count() + 1;
    (line, col)
}

/// A spec folder in a fresh temp dir.
struct Rules {
    dir: TempDir,
    files: Vec<(PathBuf, String)>,
}

impl Rules {
    fn path(&self) -> &Path {
        self.dir.path()
    }
    /// The only file (most tests).
    fn file(&self) -> &Path {
        &self.files[0].0
    }
    fn text(&self) -> &str {
        &self.files[0].1
    }
    /// Expected location in the only file.
    fn at(&self, pattern: &str) -> Expected {
        let (line, col) = loc(self.text(), pattern);
        Expected {
            file: self.file().to_path_buf(),
            line,
            col,
        }
    }
}

fn write_rules(files: &[(&str, String)]) -> Rules {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = files
        .iter()
        .map(|(name, text)| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).expect("write spec");
            (p, text.clone())
        })
        .collect();
    Rules { dir, files }
}

/// supremo.yaml with one replacement, as the only spec of a fresh folder.
fn bad_supremo(from: &str, to: &str) -> Rules {
    write_rules(&[("supremo.yaml", replace_once(&supremo_text(), from, to))])
}

#[derive(Debug)]
struct Expected {
    file: PathBuf,
    line: usize,
    col: usize,
}

/// Whether `stderr` names `file:line:col` exactly (not e.g. `:33:170`).
fn names_location(stderr: &str, e: &Expected) -> bool {
    let needle = format!("{}:{}:{}", e.file.display(), e.line, e.col);
    stderr.match_indices(&needle).any(|(i, _)| {
        !stderr[i + needle.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
    })
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(cmd: &mut Command) -> Run {
    let out = cmd.output().expect("run rmmc");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
    }
}

fn check(dir: &Path) -> Run {
    run(rmmc().arg("check").arg(dir))
}

fn build(rules: &Path, out: &Path) -> Run {
    run(rmmc().arg("build").arg(rules).arg("--out").arg(out))
}

#[derive(Debug, PartialEq, Eq)]
struct Entry {
    is_dir: bool,
    bytes: Vec<u8>,
    mtime: SystemTime,
    #[cfg(unix)]
    inode: u64,
}

/// Every file and folder under `root` (relative path → kind, bytes, mtime, inode).
fn snapshot(root: &Path) -> BTreeMap<String, Entry> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Entry>) {
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let path = entry.expect("dir entry").path();
            let meta = std::fs::symlink_metadata(&path).expect("metadata");
            let rel = path
                .strip_prefix(root)
                .expect("under root")
                .to_string_lossy()
                .into_owned();
            let bytes = if meta.is_file() {
                std::fs::read(&path).expect("read file")
            } else {
                Vec::new()
            };
            out.insert(
                rel,
                Entry {
                    is_dir: meta.is_dir(),
                    bytes,
                    mtime: meta.modified().expect("mtime"),
                    #[cfg(unix)]
                    inode: std::os::unix::fs::MetadataExt::ino(&meta),
                },
            );
            if meta.is_dir() {
                walk(root, &path, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// A folder holding `out/`, the result of a successful build of the shipped rules.
fn previous_build() -> (TempDir, PathBuf) {
    let work = tempfile::tempdir().expect("tempdir");
    let out = work.path().join("out");
    let r = build(&shipped_rules(), &out);
    assert_eq!(
        r.code,
        Some(OK),
        "building the shipped rules failed:\n{}",
        r.stderr
    );
    assert!(out.join(".rmmc-output").is_file());
    (work, out)
}

/// The common contract for bad input: `check` exits 2 naming every expected location and
/// the message phrase; `build` into an existing output exits 2 and touches nothing.
fn assert_rejected(rules: &Rules, expected: &[Expected], phrase: &str) -> Run {
    let r = check(rules.path());
    assert_eq!(
        r.code,
        Some(ERROR),
        "check should exit 2; stderr:\n{}",
        r.stderr
    );
    for e in expected {
        assert!(
            names_location(&r.stderr, e),
            "stderr should point at {}:{}:{}; got:\n{}",
            e.file.display(),
            e.line,
            e.col,
            r.stderr
        );
    }
    assert!(
        r.stderr.contains(phrase),
        "stderr should contain {phrase:?}; got:\n{}",
        r.stderr
    );

    let (work, out) = previous_build();
    let before = snapshot(work.path());
    assert!(!before.is_empty());
    let b = build(rules.path(), &out);
    assert_eq!(
        b.code,
        Some(ERROR),
        "build should exit 2; stderr:\n{}",
        b.stderr
    );
    assert!(b.stderr.contains(phrase), "build stderr:\n{}", b.stderr);
    assert!(
        snapshot(work.path()) == before,
        "a failed build changed the output folder (or left files next to it)"
    );
    r
}

/// Stderr with the temp folder replaced by `[DIR]`, for snapshots.
fn redact(stderr: &str, dir: &Path) -> String {
    stderr.replace(&dir.display().to_string(), "[DIR]")
}

// ---------------------------------------------------------------------------------------
// Bad input, one class per test.
// ---------------------------------------------------------------------------------------

#[test]
fn yaml_syntax_error() {
    let rules = bad_supremo("severity: medium\n", "severity: medium: high\n");
    let e = rules.at("severity: medium‸: high");
    let r = assert_rejected(&rules, &[e], "YAML syntax error");
    insta::assert_snapshot!("syntax_error", redact(&r.stderr, rules.path()));
}

#[test]
fn unknown_top_level_field() {
    let rules = bad_supremo("severity: medium\n", "severity: medium\ncolour: red\n");
    let e = rules.at("\n‸colour: red");
    let r = assert_rejected(&rules, &[e], "unknown field `colour`");
    insta::assert_snapshot!("unknown_field", redact(&r.stderr, rules.path()));
}

#[test]
fn unknown_field_in_detection() {
    let rules = bad_supremo(
        "    category: network\n",
        "    category: network\n    note: x\n",
    );
    let e = rules.at("    ‸note: x");
    assert_rejected(&rules, &[e], "unknown field `note`");
}

/// Two kinds in one match used to compile only the last one, silently (issue 14): refused,
/// at the second kind.
#[test]
fn two_match_kinds_in_one_match() {
    let rules = bad_supremo(
        "initiating_company: { term: [NanoSystems] }",
        "initiating_company: { term: [NanoSystems], contains: [Nano] }",
    );
    let e = rules.at("{ term: [NanoSystems], ‸contains: [Nano] }");
    assert_rejected(
        &rules,
        &[e],
        "a field match has one kind, found `term` and `contains`",
    );
}

#[test]
fn wrong_type() {
    let rules = bad_supremo("window: 5d\n", "window: [5d]\n");
    let e = rules.at("window: ‸[5d]");
    assert_rejected(&rules, &[e], "window: expected text, found a list");
}

#[test]
fn empty_value_list() {
    let rules = bad_supremo("term: [NanoSystems]", "term: []");
    let e = rules.at("initiating_company: { term: ‸[] }");
    assert_rejected(&rules, &[e], "empty value list");
}

const OUTPUT_LINE: &str = "      summarize: [device_id, device_name, remote_domain]\n";

#[test]
fn duplicate_detection_id() {
    let rules = bad_supremo(
        OUTPUT_LINE,
        &format!(
            "{OUTPUT_LINE}  netconn:\n    title: Again\n    category: network\n    where:\n      remote_domain: {{ term: [example.com] }}\n    output:\n      summarize: [device_id]\n"
        ),
    );
    let e = rules.at("\n  ‸netconn:\n    title: Again");
    let r = assert_rejected(&rules, &[e], "duplicate key `netconn`");
    insta::assert_snapshot!("duplicate_detection", redact(&r.stderr, rules.path()));
}

#[test]
fn duplicate_exclusion_id() {
    let rules = bad_supremo(
        OUTPUT_LINE,
        &format!(
            "{OUTPUT_LINE}\nexclusions:\n  lab:\n    reason: Lab machine.\n    where:\n      device_name: {{ exact: [lab1] }}\n  lab:\n    reason: Another lab machine.\n    where:\n      device_name: {{ exact: [lab2] }}\n"
        ),
    );
    let e = rules.at("  ‸lab:\n    reason: Another");
    assert_rejected(&rules, &[e], "duplicate key `lab`");
}

#[test]
fn duplicate_spec_id_across_files() {
    let good = supremo_text();
    // The second file (by name) has its `id` on another line than the first, so the
    // location can only come from the second file.
    let second = replace_once(
        &good,
        "id: supremo\n",
        "# A copy under another file name.\n\nid: supremo\n",
    );
    let rules = write_rules(&[("a-supremo.yaml", good), ("b-supremo.yaml", second)]);
    let (line, col) = loc(&rules.files[1].1, "\nid: ‸supremo\n");
    assert_ne!(line, loc(&rules.files[0].1, "\nid: ‸supremo\n").0);
    let e = Expected {
        file: rules.files[1].0.clone(),
        line,
        col,
    };
    assert_rejected(&rules, &[e], "duplicate spec id `supremo`");
}

#[test]
fn unknown_canonical_field() {
    let rules = bad_supremo("initiating_company:", "initiating_compnay:");
    let e = rules.at("- ‸initiating_compnay:");
    assert_rejected(&rules, &[e], "unknown canonical field `initiating_compnay`");
}

#[test]
fn field_not_in_category() {
    let rules = bad_supremo("initiating_company:", "process_company:");
    let e = rules.at("- ‸process_company:");
    assert_rejected(&rules, &[e], "does not exist in network events");
}

const COMPANY_LINE: &str = "        - initiating_company: { term: [NanoSystems] }\n";

/// supremo.yaml with one more `all` item: `field:` / `kind:` and a block list of two values.
fn with_block_list(field: &str, kind: &str, first: &str, second: &str) -> Rules {
    bad_supremo(
        COMPANY_LINE,
        &format!(
            "{COMPANY_LINE}        - {field}:\n            {kind}:\n              - {first}\n              - {second}\n"
        ),
    )
}

fn bad_second_item(field: &str, kind: &str, first: &str, second: &str, phrase: &str) -> String {
    let rules = with_block_list(field, kind, first, second);
    // The item's own line, not the list's (or the field's) first line.
    let e = rules.at(&format!("              - {CARET}{second}\n"));
    let r = assert_rejected(&rules, &[e], phrase);
    let list = rules.at(&format!("            {CARET}{kind}:\n"));
    assert!(
        !names_location(&r.stderr, &list),
        "points at the list, not the item:\n{}",
        r.stderr
    );
    redact(&r.stderr, rules.path())
}

#[test]
fn invalid_ip_leading_zero_in_second_item() {
    let stderr = bad_second_item(
        "remote_ip",
        "ip",
        "95.85.246.53",
        "095.85.246.53",
        "invalid IP address \"095.85.246.53\"",
    );
    insta::assert_snapshot!("bad_ip_in_list", stderr);
}

#[test]
fn invalid_ip_out_of_range_in_second_item() {
    bad_second_item(
        "remote_ip",
        "ip",
        "95.85.246.53",
        "300.1.1.1",
        "invalid IP address \"300.1.1.1\"",
    );
}

#[test]
fn port_zero() {
    bad_second_item("remote_port", "port", "443", "0", "invalid port \"0\"");
}

#[test]
fn port_too_large() {
    bad_second_item(
        "remote_port",
        "port",
        "443",
        "70000",
        "invalid port \"70000\"",
    );
}

const MD5: &str = "d41d8cd98f00b204e9800998ecf8427e";

#[test]
fn hash_not_hex() {
    bad_second_item(
        "initiating_hash",
        "hash",
        MD5,
        "zz1d8cd98f00b204e9800998ecf8427e",
        "is not hexadecimal",
    );
}

#[test]
fn hash_wrong_length() {
    bad_second_item(
        "initiating_hash",
        "hash",
        MD5,
        &MD5[..31],
        "has 31 hex digits",
    );
}

#[test]
fn technique_too_long() {
    let rules = bad_supremo("techniques: [T1219]", "techniques: [T12190]");
    let e = rules.at("techniques: [‸T12190]");
    assert_rejected(&rules, &[e], "invalid technique \"T12190\"");
}

#[test]
fn technique_lower_case() {
    let rules = bad_supremo("techniques: [T1219]", "techniques: [t1219]");
    let e = rules.at("techniques: [‸t1219]");
    assert_rejected(&rules, &[e], "invalid technique \"t1219\"");
}

#[test]
fn tactic_not_matching_technique() {
    let rules = bad_supremo("tactics: [CommandAndControl]", "tactics: [Execution]");
    let technique = rules.at("techniques: [‸T1219]");
    let tactic = rules.at("tactics: [‸Execution]");
    let r = assert_rejected(
        &rules,
        &[technique, tactic],
        "technique T1219 belongs to CommandAndControl, which is not among the listed tactics",
    );
    assert!(r
        .stderr
        .contains("tactic Execution matches none of the listed techniques"));
    insta::assert_snapshot!("tactic_mismatch", redact(&r.stderr, rules.path()));
}

#[test]
fn window_too_long() {
    let rules = bad_supremo("window: 5d\n", "window: 30d\n");
    let e = rules.at("window: ‸30d");
    assert_rejected(&rules, &[e], "window 30d is outside 5m-14d");
}

#[test]
fn window_too_short() {
    let rules = bad_supremo("window: 5d\n", "window: 1m\n");
    let e = rules.at("window: ‸1m");
    assert_rejected(&rules, &[e], "window 1m is outside 5m-14d");
}

#[test]
fn wildcard_in_exact() {
    let rules = bad_supremo(
        "initiating_company: { term: [NanoSystems] }",
        "initiating_company: { exact: [NanoSystems, Nano*] }",
    );
    let e = rules.at("[NanoSystems, ‸Nano*]");
    assert_rejected(&rules, &[e], "contains a wildcard");
}

#[test]
fn cased_on_domain() {
    let rules = bad_supremo(
        "        - remote_domain: { term: [supremocontrol.com, nanosystems.it] }\n",
        "        - remote_domain:\n            domain: [supremocontrol.com, nanosystems.it]\n            cased: true\n",
    );
    // The offending node is the `cased: true` entry (its key), not the `domain:` line.
    let e = rules.at("            ‸cased: true\n");
    assert_rejected(&rules, &[e], "`cased` applies to text kinds only");
}

#[test]
fn predicate_with_two_keys() {
    let rules = bad_supremo(
        COMPANY_LINE,
        &format!("{COMPANY_LINE}          initiating_product: {{ term: [SupRemo] }}\n"),
    );
    // The offending node is the second, extra key (as for duplicate and unknown keys).
    let e = rules.at("          ‸initiating_product:");
    assert_rejected(&rules, &[e], "a predicate has exactly one key");
}

#[test]
fn json_diagnostics() {
    let rules = with_block_list("remote_ip", "ip", "95.85.246.53", "095.85.246.53");
    let e = rules.at("              - ‸095.85.246.53\n");
    let r = run(rmmc().args(["--format", "json", "check"]).arg(rules.path()));
    assert_eq!(r.code, Some(ERROR), "stderr:\n{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|err| panic!("stdout is not JSON ({err}):\n{}", r.stdout));
    let first = &v.as_array().expect("a JSON array")[0];
    assert_eq!(first["severity"], "error", "{first}");
    assert_eq!(first["span"]["line"], e.line, "{first}");
    assert_eq!(first["span"]["col"], e.col, "{first}");
    assert_eq!(first["file"], rules.file().display().to_string(), "{first}");
}

// ---------------------------------------------------------------------------------------
// Good input, builds and the command line.
// ---------------------------------------------------------------------------------------

#[test]
fn check_shipped_rules() {
    rmmc()
        .arg("check")
        .arg(shipped_rules())
        .assert()
        .code(OK)
        .stdout(predicate::str::starts_with("ok: "));
}

#[test]
fn build_twice_is_byte_identical_and_touches_nothing() {
    let (work, out) = previous_build();
    let first = snapshot(work.path());
    assert!(first.contains_key("out/.rmmc-output"));
    assert!(
        first.keys().any(|k| k.ends_with(".kql")),
        "no KQL written: {:?}",
        first.keys().collect::<Vec<_>>()
    );
    std::thread::sleep(Duration::from_millis(1100));
    let r = build(&shipped_rules(), &out);
    assert_eq!(r.code, Some(OK), "stderr:\n{}", r.stderr);
    let second = snapshot(work.path());
    assert_eq!(
        first.keys().collect::<Vec<_>>(),
        second.keys().collect::<Vec<_>>()
    );
    for (path, a) in &first {
        let b = &second[path];
        assert_eq!(a.bytes, b.bytes, "{path} changed");
        assert_eq!(a.mtime, b.mtime, "{path}: mtime changed on a no-op build");
    }
    assert!(first == second);
}

#[test]
fn build_refuses_foreign_folder() {
    let work = tempfile::tempdir().expect("tempdir");
    let out = work.path().join("mine");
    std::fs::create_dir_all(out.join("sub")).unwrap();
    std::fs::write(out.join("notes.txt"), "keep me\n").unwrap();
    std::fs::write(out.join("sub/data.kql"), "keep me too\n").unwrap();
    let before = snapshot(work.path());
    let r = build(&shipped_rules(), &out);
    assert_eq!(r.code, Some(ERROR), "stderr:\n{}", r.stderr);
    assert!(r.stderr.contains("not created by rmmc"), "{}", r.stderr);
    assert!(snapshot(work.path()) == before, "the folder was modified");
}

#[test]
fn deny_wider_writes_nothing() {
    // without the project's acknowledgements (rules/rmmc.toml): an empty configuration
    let none = tempfile::tempdir().expect("tempdir");
    let empty = none.path().join("rmmc.toml");
    std::fs::write(&empty, "").unwrap();
    // No output folder yet: none is created.
    let work = tempfile::tempdir().expect("tempdir");
    let out = work.path().join("out");
    let r = run(rmmc()
        .arg("build")
        .arg(shipped_rules())
        .arg("--out")
        .arg(&out)
        .args(["--deny", "wider", "--config"])
        .arg(&empty));
    assert_eq!(r.code, Some(DENIED), "stderr:\n{}", r.stderr);
    assert!(r.stderr.contains("CommonSecurityLog"), "{}", r.stderr);
    assert!(r.stderr.contains("wider"), "{}", r.stderr);
    assert!(snapshot(work.path()).is_empty(), "something was written");

    // An existing output stays as it was.
    let (work, out) = previous_build();
    let before = snapshot(work.path());
    let r = run(rmmc()
        .arg("build")
        .arg(shipped_rules())
        .arg("--out")
        .arg(&out)
        .args(["--deny", "wider", "--config"])
        .arg(&empty));
    assert_eq!(r.code, Some(DENIED), "stderr:\n{}", r.stderr);
    assert!(snapshot(work.path()) == before, "the output was modified");
}

#[test]
fn help_mentions_examples() {
    rmmc()
        .arg("--help")
        .assert()
        .code(OK)
        .stdout(predicate::str::contains("Examples"));
    rmmc()
        .args(["build", "--help"])
        .assert()
        .code(OK)
        .stdout(predicate::str::contains("Examples"));
}

#[test]
fn unknown_subcommand() {
    rmmc()
        .arg("frobnicate")
        .assert()
        .code(ERROR)
        .stderr(predicate::str::contains("frobnicate"));
}

#[test]
fn schema_is_json() {
    let r = run(rmmc().arg("schema"));
    assert_eq!(r.code, Some(OK), "stderr:\n{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("schema is JSON");
    assert_eq!(v["title"], "rmmc spec");
}
