//! The command line's conventions (issue: the front door): `rmmc convert` printing one
//! target to stdout, spec files as well as folders, `build --out -`, shell completions, and
//! `--version` naming the commit.

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

const OK: i32 = 0;
const ERROR: i32 = 2;

fn rmmc() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rmmc"));
    c.env("NO_COLOR", "1");
    c
}

fn rules() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")
}

fn stdout_of(c: &mut Command) -> String {
    let out = c.output().expect("run rmmc");
    assert_eq!(
        out.status.code(),
        Some(OK),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

/// The files a build writes, by relative path.
fn built(specs: &[PathBuf]) -> std::collections::BTreeMap<String, String> {
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("out");
    let mut c = rmmc();
    c.arg("build").args(specs).arg("--out").arg(&out);
    stdout_of(&mut c);
    let mut files = std::collections::BTreeMap::new();
    for entry in walk(&out) {
        let rel = entry
            .strip_prefix(&out)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if !rel.starts_with('.') {
            files.insert(rel, std::fs::read_to_string(&entry).unwrap());
        }
    }
    files
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// `convert -t T` prints exactly the artifacts `build` writes for T (the queries and rules a
/// SIEM runs, not savedsearches.conf or rules.ndjson), in file-name order, YAML documents
/// separated by `---`.
#[test]
fn convert_prints_the_built_artifacts_of_one_target() {
    let files = built(&[rules()]);
    for (target, prefix, ext, sep) in [
        ("kql", "kql/", ".kql", "\n"),
        ("sentinel", "sentinel/analytic/", ".yaml", "---\n"),
        ("sigma", "sigma/", ".yml", "---\n"),
        ("splunk", "splunk/", ".spl", "\n"),
        ("elastic", "elastic/", ".eql", "\n"),
    ] {
        let expected: Vec<&String> = files
            .iter()
            .filter(|(p, _)| p.starts_with(prefix) && p.ends_with(ext))
            .map(|(_, t)| t)
            .collect();
        assert!(
            expected.len() >= 3,
            "{target}: the shipped rules build several"
        );
        let mut want = String::new();
        for t in &expected {
            if !want.is_empty() {
                want.push_str(sep);
            }
            want.push_str(t);
            if !t.ends_with('\n') {
                want.push('\n');
            }
        }
        let got = stdout_of(rmmc().args(["convert", "-t", target]).arg(rules()));
        assert_eq!(got, want, "convert -t {target}");
    }
}

/// Spec files can be named as well as folders; a file reached twice (named, and inside a
/// named folder) is loaded once, so its id is not reported as a duplicate.
#[test]
fn spec_files_and_folders_mix_and_a_file_named_twice_loads_once() {
    let one = stdout_of(
        rmmc()
            .args(["convert", "-t", "kql"])
            .arg(rules().join("netsupport.yaml")),
    );
    assert!(one.contains("rmmc: netsupport/netconn"), "{one}");
    assert!(
        !one.contains("rmmc: supremo/"),
        "only the named spec: {one}"
    );
    let both = stdout_of(
        rmmc()
            .args(["convert", "-t", "kql"])
            .arg(rules().join("netsupport.yaml"))
            .arg(rules()),
    );
    let all = stdout_of(rmmc().args(["convert", "-t", "kql"]).arg(rules()));
    assert_eq!(both, all);
}

#[test]
fn a_missing_spec_path_or_a_non_yaml_file_is_bad_input() {
    let out = rmmc()
        .args(["check", "rules/no-such-spec.yaml"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(ERROR));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("rules/no-such-spec.yaml") && err.contains("no such spec file or folder"),
        "{err}"
    );
    let out = rmmc()
        .args(["check", "README.md"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(ERROR));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a spec file"));
}

/// `--out -` prints every artifact after a `==> PATH <==` line and creates no folder named
/// `-`; commands that write folders refuse `-` (exit 2) instead of creating one.
#[test]
fn out_dash_is_stdout_for_build_and_refused_elsewhere() {
    let cwd = TempDir::new().unwrap();
    let files = built(&[rules()]);
    let text = stdout_of(
        rmmc()
            .current_dir(cwd.path())
            .args(["build", "--out", "-"])
            .arg(rules()),
    );
    let mut want = String::new();
    for (path, t) in &files {
        if !want.is_empty() {
            want.push('\n');
        }
        want.push_str(&format!("==> {path} <==\n{t}"));
        if !t.ends_with('\n') {
            want.push('\n');
        }
    }
    assert_eq!(text, want);
    assert!(!cwd.path().join("-").exists(), "no folder named -");

    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let out = rmmc()
        .current_dir(cwd.path())
        .args(["fixtures", "--out", "-", "--fixtures"])
        .arg(&fixtures)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(ERROR));
    let out = rmmc()
        .current_dir(cwd.path())
        .args(["import", "lolrmm", ".", "--out", "-"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(ERROR));
    assert!(String::from_utf8_lossy(&out.stderr).contains("writes a folder"));
    assert_eq!(
        std::fs::read_dir(cwd.path()).unwrap().count(),
        0,
        "nothing written"
    );
}

/// Each shell's script names the subcommands (clap_complete generates it from the parser, so
/// a new command is completed without editing anything).
#[test]
fn completions_for_each_shell_name_the_subcommands() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let script = stdout_of(rmmc().args(["completions", shell]));
        for sub in ["build", "convert", "verify", "import"] {
            assert!(script.contains(sub), "{shell} script lacks {sub}");
        }
    }
    let out = rmmc().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(ERROR),
        "an unknown shell is a usage error"
    );
}

/// `--version` names the commit the binary was built from, as `git` reports it (when the
/// source is a git checkout, as in CI).
#[test]
fn version_names_the_commit() {
    // The commit is the one build.rs recorded when this test and the binary were compiled (both
    // from the same build), not `git rev-parse HEAD` now: HEAD may move while the tests run.
    let commit = env!("RMMC_COMMIT");
    assert!(
        commit == "unknown"
            || (commit.len() == 12 && commit.bytes().all(|b| b.is_ascii_hexdigit())),
        "build.rs records a 12-digit commit or `unknown`, got {commit:?}"
    );
    let text = stdout_of(rmmc().arg("--version"));
    assert_eq!(
        text.trim(),
        format!("rmmc {} (commit {commit})", env!("CARGO_PKG_VERSION"))
    );
}

/// Load `rules/supremo.yaml` with one replacement applied; (exit code, stderr).
fn check_supremo_with(from: &str, to: &str) -> (Option<i32>, String) {
    let text = std::fs::read_to_string(rules().join("supremo.yaml")).unwrap();
    assert_eq!(text.matches(from).count(), 1, "{from:?} occurs once");
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("supremo.yaml"), text.replacen(from, to, 1)).unwrap();
    let out = rmmc().arg("check").arg(dir.path()).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Misspelt keys and values name the closest known one; Sigma habits name the rmmc form;
/// serde's jargon is said in plain words.
#[test]
fn errors_say_what_to_write_instead() {
    for (from, to, want) in [
        ("references:", "refernces:", "help: did you mean `references`?"),
        ("title: Network", "titel: Network", "help: did you mean `title`?"),
        (
            "category: network",
            "category: process_creation",
            "`process_creation` is Sigma's log-source name; rmmc calls it process",
        ),
        ("category: network", "category: netwrk", "help: did you mean `network`?"),
        (
            "remote_domain: {",
            "remote_domain|endswith: {",
            "`remote_domain: { suffix: [...] }`",
        ),
        (
            "initiating_company: { term: [NanoSystems] }",
            "process_name: { exact: [supremo.exe] }",
            "in network events the acting process is the initiating one: use `initiating_process_name`",
        ),
        (
            "severity: medium",
            "severity: [medium]",
            "severity: expected one value (not a list or a map), found a list",
        ),
        (
            "window: 5d",
            "window: [5d]",
            "window: expected",
        ),
    ] {
        let (code, err) = check_supremo_with(from, to);
        assert_eq!(code, Some(ERROR), "{to}: {err}");
        assert!(err.contains(want), "{to}: want {want:?} in\n{err}");
        assert!(!err.contains("sequence"), "no serde jargon: {err}");
    }
}

/// `domain` reads the value as a DNS name: only host fields (remote_domain) take it; before,
/// `initiating_company: {domain: …}` compiled to a rule nobody meant.
#[test]
fn the_domain_kind_is_only_for_host_fields() {
    let (code, err) = check_supremo_with(
        "initiating_company: { term: [NanoSystems] }",
        "initiating_company: { domain: [nanosystems.it] }",
    );
    assert_eq!(code, Some(ERROR), "{err}");
    assert!(
        err.contains("match kind `domain` does not apply to field `initiating_company`"),
        "{err}"
    );
    assert!(err.contains("supremo.yaml:"), "located: {err}");
}

/// A scalar where a list is meant is the one-item list its writer meant.
#[test]
fn a_scalar_is_a_one_item_list() {
    let dir = TempDir::new().unwrap();
    let text = std::fs::read_to_string(rules().join("supremo.yaml"))
        .unwrap()
        .replacen(
            "tactics: [CommandAndControl]",
            "tactics: CommandAndControl",
            1,
        )
        .replacen("techniques: [T1219]", "techniques: T1219", 1);
    std::fs::write(dir.path().join("supremo.yaml"), &text).unwrap();
    let scalar = stdout_of(rmmc().args(["convert", "-t", "sentinel"]).arg(dir.path()));
    let list = stdout_of(
        rmmc()
            .args(["convert", "-t", "sentinel"])
            .arg(rules().join("supremo.yaml")),
    );
    assert_eq!(scalar, list);
}

/// `on:` (a YAML 1.1 boolean key: PyYAML and yamllint read it as `true`) is now `category:`;
/// the old key is still read, with a located warning naming the new one; both at once are an
/// error.
#[test]
fn on_is_read_as_category_with_a_warning() {
    let (code, err) = check_supremo_with("category: network", "on: network");
    assert_eq!(code, Some(OK), "{err}");
    assert!(
        err.contains("`on:` is now `category:`") && err.contains("write `category: network`"),
        "{err}"
    );
    assert!(
        err.contains("supremo.yaml:25:5"),
        "located at the key: {err}"
    );
    let (code, err) = check_supremo_with("category: network", "category: network\n    on: network");
    assert_eq!(code, Some(ERROR), "{err}");
    assert!(err.contains("duplicate field `category`"), "{err}");
}

/// A draft with eight structural mistakes: one run reports all eight, each at its own line, and
/// none of the follow-on errors that deleting a bad value would cause (an emptied list, a
/// predicate left without its match kind).
#[test]
fn every_structural_error_is_reported_in_one_run() {
    let dir = TempDir::new().unwrap();
    let draft = "\
id: draft
titel: Draft
vendor: Example
description: A draft with many mistakes.
refernces:
  - https://example.com
author: me
date: 2026-12-01
severity: urgent
attack:
  tactics: [CommandAndControl]
  techniques: [T1219]
window: 5d
detections:
  netconn:
    title: Network
    category: network
    where:
      all:
        - remote_domain: { term: [example.com] }
        - remote_ip: { ip: [10.0.0.300, 10.0.0.1] }
        - remote_port: { port: [70000] }
    output:
      summarize: [device_id, device_nme]
  proc:
    title: Process
    category: process_creation
    where:
      process_name: { exact: [x.exe] }
exclusions:
  b:
    reason: r
    applies_to: [netconn]
    where:
      remote_ip: { ip: [not-an-ip] }
";
    std::fs::write(dir.path().join("draft.yaml"), draft).unwrap();
    let out = rmmc().arg("check").arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(ERROR));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error")).collect();
    let lines: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("--> "))
        .map(|l| l.rsplit_once("draft.yaml:").map_or(l, |(_, at)| at))
        .collect();
    assert_eq!(
        lines,
        ["2:1", "5:1", "9:11", "21:29", "22:33", "24:30", "27:15", "35:25"],
        "{stderr}"
    );
    for (error, says) in errors.iter().zip([
        "unknown field `titel`",
        "unknown field `refernces`",
        "unknown value `urgent`",
        "invalid IP address \"10.0.0.300\"",
        "invalid port \"70000\"",
        "unknown canonical field `device_nme`",
        "unknown value `process_creation`",
        "invalid IP address \"not-an-ip\"",
    ]) {
        assert!(error.contains(says), "{error} should say {says}");
    }
    assert!(
        stderr.contains("exclusions.b.where.remote_ip.ip[0]"),
        "an error in a list item names its place in the file: {stderr}"
    );
}

/// Once an item of a list is deleted, the errors after it still name the items as written.
#[test]
fn errors_after_a_bad_list_item_keep_their_indices() {
    let dir = TempDir::new().unwrap();
    let spec = std::fs::read_to_string(rules().join("supremo.yaml"))
        .unwrap()
        .replace(
            "      all:\n",
            "      all:\n        - remote_ip: { ip: [bad] }\n        - remote_ip: { ip: [1.2.3.4] }\n        - remote_port: { port: [0] }\n",
        );
    std::fs::write(dir.path().join("supremo.yaml"), spec).unwrap();
    let out = rmmc().arg("check").arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(ERROR));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("where.all[0].remote_ip.ip[0]"), "{stderr}");
    assert!(
        stderr.contains("where.all[2].remote_port.port[0]"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("\nerror").count() + 1, 2, "{stderr}");
}

/// Folders below a spec folder are read (`rules/vendors/x.yaml`); an import's drafts (read only
/// when named), a build's output (a warning: artifacts are not specs) and hidden folders are not.
#[test]
fn spec_folders_are_read_recursively_but_not_imports_or_outputs() {
    let dir = TempDir::new().unwrap();
    let root = dir.path().join("rules");
    let vendors = root.join("vendors").join("eu");
    std::fs::create_dir_all(&vendors).unwrap();
    std::fs::copy(rules().join("action1.yaml"), root.join("action1.yaml")).unwrap();
    std::fs::copy(rules().join("supremo.yaml"), vendors.join("supremo.yaml")).unwrap();
    let imported = root.join("imported");
    std::fs::create_dir_all(&imported).unwrap();
    std::fs::write(imported.join(".rmmc-import"), "").unwrap();
    std::fs::copy(
        rules().join("netsupport.yaml"),
        imported.join("netsupport.yaml"),
    )
    .unwrap();
    let hidden = root.join(".git");
    std::fs::create_dir_all(&hidden).unwrap();
    std::fs::write(hidden.join("junk.yaml"), "not: a spec").unwrap();
    let mut build = rmmc();
    build
        .arg("build")
        .arg(&root)
        .arg("--out")
        .arg(root.join("out"));
    stdout_of(&mut build);

    let out = rmmc().arg("check").arg(&root).output().unwrap();
    assert_eq!(out.status.code(), Some(OK));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("ok: 2 specs"), "{stdout}");
    assert!(
        stderr.contains("out: warning: a build's output folder"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(".git") && !stderr.contains("imported"),
        "{stderr}"
    );

    // named, the import folder is read
    let out = rmmc()
        .arg("check")
        .arg(&root)
        .arg(&imported)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(OK));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok: 3 specs"));
}
