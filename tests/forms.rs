//! Deployable forms (Sentinel YAML, savedsearches.conf, Kibana NDJSON) against their twins
//! (the .kql / .spl / .eql that `rmmc verify` runs): a one-character edit of the query in a
//! deployed file fails both `rmmc verify --artifacts` and `rmmc check --artifacts`.

use assert_cmd::Command;
use std::path::Path;

fn rmmc() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rmmc"));
    c.env("NO_COLOR", "1");
    c
}

fn build() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    rmmc()
        .args(["build", "rules", "--out"])
        .arg(dir.path())
        .assert()
        .code(0);
    dir
}

/// (exit code, stdout, stderr) of `rmmc <cmd> rules --artifacts DIR`.
fn run(cmd: &str, dir: &Path) -> (i32, String, String) {
    let o = rmmc()
        .args([cmd, "rules", "--artifacts"])
        .arg(dir)
        .output()
        .unwrap();
    (
        o.status.code().unwrap(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Replace the first `from` in the file with `to` (both must differ in one character).
fn edit(dir: &Path, rel: &str, from: &str, to: &str) {
    assert_eq!(from.len(), to.len());
    let f = dir.join(rel);
    let text = std::fs::read_to_string(&f).unwrap();
    assert!(text.contains(from), "{rel} has no {from:?}");
    std::fs::write(&f, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn an_unedited_build_passes_verify_and_check() {
    let dir = build();
    let (code, out, err) = run("verify", dir.path());
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("all agree with the spec"), "{out}");
    let (code, out, err) = run("check", dir.path());
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn a_one_character_edit_of_any_deployable_form_fails_verify_and_check() {
    // (deployed file, its twin, the edit: one letter of a value in the query)
    let cases = [
        (
            "sentinel/hunting/action1-netconn.yaml",
            "kql/action1-netconn.kql",
            "has 'Action1'",
            "has 'Bction1'",
            "the query differs from its twin kql/action1-netconn.kql at line 7 col 54",
        ),
        (
            "sentinel/analytic/action1-netconn.yaml",
            "kql/action1-netconn.kql",
            "has 'Action1'",
            "has 'Bction1'",
            "the query differs from its twin kql/action1-netconn.kql at line 7 col 54",
        ),
        (
            "splunk/savedsearches.conf",
            "splunk/action1-netconn.spl",
            "ccmclient)",
            "ccmclienx)",
            "the search differs from its twin splunk/action1-netconn.spl at line 6",
        ),
        (
            "elastic/rules.ndjson",
            "elastic/action1-netconn.eql",
            "?server",
            "?servex",
            "the Kibana rule's query differs from its twin elastic/action1-netconn.eql at line 1",
        ),
    ];
    for (file, twin, from, to, says) in cases {
        let dir = build();
        edit(dir.path(), file, from, to);
        let (code, out, err) = run("verify", dir.path());
        assert_eq!(code, 1, "{file}: {out}{err}");
        let line = out
            .lines()
            .find(|l| l.contains("ERROR"))
            .unwrap_or_else(|| panic!("{file}: no ERROR in\n{out}"));
        assert!(
            line.starts_with("action1/netconn (endpoint)") && line.contains(file),
            "{file}: {line}"
        );
        assert!(line.contains(says), "{file}: {line}");
        assert!(out.contains("1 rule disagrees"), "{file}: {out}");
        // the twin still runs and passes: only the deployed copy differs
        let (code, out, err) = run("check", dir.path());
        assert_eq!(code, 1, "{file}: {out}{err}");
        assert!(err.contains(file) && err.contains(twin), "{file}: {err}");
        assert!(err.contains(says), "{file}: {err}");
    }
}

#[test]
fn a_wrapper_whose_twin_is_missing_is_an_error() {
    let dir = build();
    std::fs::remove_dir_all(dir.path().join("kql")).unwrap();
    let (code, out, err) = run("verify", dir.path());
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains(
            "sentinel/analytic/supremo-netconn.yaml: its twin kql/supremo-netconn.kql is missing"
        ),
        "{out}"
    );
    let (code, _, err) = run("check", dir.path());
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("its twin kql/supremo-netconn.kql is missing"),
        "{err}"
    );

    // a .spl without its stanza
    let dir = build();
    let conf = dir.path().join("splunk/savedsearches.conf");
    let text = std::fs::read_to_string(&conf).unwrap();
    let renamed = text.replacen(
        "- Action1 - Network Connection]",
        "- Action1 - Network Connexion]",
        1,
    );
    std::fs::write(&conf, renamed).unwrap();
    let (code, out, _) = run("verify", dir.path());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("splunk/savedsearches.conf has no stanza [Remote Management and Monitoring tool - Action1 - Network Connection] for its twin splunk/action1-netconn.spl"),
        "{out}"
    );
}

#[test]
fn a_stanza_with_no_twin_and_a_wrong_dispatch_window_are_errors() {
    let dir = build();
    let conf = dir.path().join("splunk/savedsearches.conf");
    let mut text = std::fs::read_to_string(&conf).unwrap();
    text.push_str("\n[Hand-added]\nsearch = index=* EventCode=3\\\n| stats count by host\n");
    std::fs::write(&conf, &text).unwrap();
    let (code, out, _) = run("verify", dir.path());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("[Hand-added]: the search has no twin: it is no rule's of the specs and equals no splunk/*.spl"),
        "{out}"
    );

    let dir = build();
    edit(
        dir.path(),
        "splunk/savedsearches.conf",
        "dispatch.earliest_time = -5d",
        "dispatch.earliest_time = -4d",
    );
    let (code, out, _) = run("verify", dir.path());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("dispatch.earliest_time = -4d is not its twin splunk/action1-netconn.spl's earliest=-5d"),
        "{out}"
    );
}

#[test]
fn a_query_period_shorter_than_the_lookback_is_an_error() {
    let dir = build();
    edit(
        dir.path(),
        "sentinel/analytic/action1-netconn.yaml",
        "queryPeriod: 5d",
        "queryPeriod: 4d",
    );
    let (code, out, _) = run("verify", dir.path());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("sentinel/analytic/action1-netconn.yaml: queryPeriod 4d is shorter than the 5d its twin kql/action1-netconn.kql looks back over"),
        "{out}"
    );
}

#[test]
fn an_edit_of_the_twin_alone_differs_from_the_deployed_form() {
    let dir = build();
    edit(
        dir.path(),
        "splunk/supremo-netconn.spl",
        "EventCode=3",
        "EventCode=4",
    );
    let (code, out, _) = run("verify", dir.path());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("the search differs from its twin splunk/supremo-netconn.spl at line 2"),
        "{out}"
    );
}
