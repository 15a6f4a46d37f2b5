//! `account_upn`, `process_description` and `initiating_description`: each compiles to its
//! native column on every backend that maps it, `rmmc verify` agrees with the spec, and a
//! backend without the field reports it the way it reports any unmapped field.

use assert_cmd::Command;
use std::path::Path;

fn rmmc(cwd: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rmmc"));
    c.env("NO_COLOR", "1").current_dir(cwd);
    c
}

const HEAD: &str = "id: newfields
vendor: NewFields
description: Exercise account_upn, process_description and initiating_description.
references: [https://example.invalid/]
author: rmmc tests
date: 2026-05-31
severity: low
attack: { tactics: [CommandAndControl], techniques: [T1219] }
window: 1d
detections:
";

const GAPS: &str = "    gaps:
      sigma: Sysmon carries no UPN, and no file description outside process creation
      splunk: Sysmon carries no UPN, and no file description outside process creation
      elastic: ECS has no UPN field, and Elastic Defend has no file description outside process events
";

/// One detection per category, each matching on the new fields it has, grouped by `summarize`.
fn spec(summarize: &str, gaps: &str) -> String {
    let out = format!("    output:\n      summarize: [{summarize}]\n{gaps}");
    format!(
        "{HEAD}  netconn:
    title: Network Connection
    category: network
    where:
      all:
        - remote_domain: {{ term: [relay.example.com] }}
        - initiating_description: {{ term: [Remote Agent] }}
        - account_upn: {{ suffix: [\"@corp.example.com\"] }}
{out}  createproc:
    title: Process Creation
    category: process
    where:
      all:
        - process_description: {{ term: [Remote Agent] }}
        - account_upn: {{ exact: [alice@corp.example.com] }}
{out}  filewrite:
    title: File Write
    category: file
    where:
      all:
        - file_name: {{ exact: [agent.cfg] }}
        - initiating_description: {{ term: [Remote Agent] }}
        - account_upn: {{ prefix: [alice@] }}
{out}"
    )
}

/// A temp dir holding `rules/newfields.yaml` (and no fixtures: verify uses generated cases).
fn project(spec: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("rules")).unwrap();
    std::fs::write(dir.path().join("rules/newfields.yaml"), spec).unwrap();
    dir
}

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn stderr_of(a: assert_cmd::assert::Assert) -> String {
    String::from_utf8(a.get_output().stderr.clone()).unwrap()
}

#[test]
fn new_fields_compile_to_their_native_columns_and_verify() {
    let p = project(&spec("device_name", GAPS));
    rmmc(p.path())
        .args(["build", "rules", "--out", "out"])
        .assert()
        .code(0);
    let out = p.path().join("out");

    let net = read(&out, "kql/newfields-netconn.kql");
    assert!(net.contains("InitiatingProcessVersionInfoFileDescription has 'Remote Agent'"));
    assert!(net.contains("InitiatingProcessAccountUpn endswith '@corp.example.com'"));
    let proc = read(&out, "kql/newfields-createproc.kql");
    assert!(proc.contains("ProcessVersionInfoFileDescription has 'Remote Agent'"));
    assert!(proc.contains("AccountUpn =~ 'alice@corp.example.com'"));
    assert!(!proc.contains("InitiatingProcessAccountUpn"), "{proc}");
    let file = read(&out, "kql/newfields-filewrite.kql");
    assert!(file.contains("InitiatingProcessVersionInfoFileDescription has 'Remote Agent'"));
    assert!(file.contains("InitiatingProcessAccountUpn startswith 'alice@'"));

    // Sysmon: only EID 1 has a Description; no event has a UPN (declared gaps)
    let sigma = read(&out, "sigma/newfields-createproc.yml");
    assert!(sigma.contains("    Description|re: "), "{sigma}");
    for d in ["netconn", "filewrite"] {
        let s = read(&out, &format!("sigma/newfields-{d}.yml"));
        assert!(!s.contains("Description|"), "{s}");
        assert!(s.contains("Known gap"), "{s}");
    }
    let spl = read(&out, "splunk/newfields-createproc.spl");
    assert!(spl.contains("match(Description, "), "{spl}");

    // ECS: the file description of the new process; Defend's network and file events carry no
    // process.pe.* (endpoint-package field lists), so there it is a declared gap, like the UPN
    let eql = read(&out, "elastic/newfields-createproc.eql");
    assert!(eql.contains("and process.pe.description regex~ "), "{eql}");
    for d in ["netconn", "filewrite"] {
        let eql = read(&out, &format!("elastic/newfields-{d}.eql"));
        assert!(!eql.contains("process.pe."), "{eql}");
    }

    for args in [
        &["verify", "rules"][..],
        &["verify", "rules", "--artifacts", "out"][..],
    ] {
        let a = rmmc(p.path()).args(args).assert().code(0);
        let text = String::from_utf8(a.get_output().stdout.clone()).unwrap();
        assert!(text.contains("all agree with the spec"), "{text}");
        assert!(text.contains("12 rules"), "{text}");
    }
}

#[test]
fn unmapped_new_fields_are_reported_like_any_unmapped_field() {
    let p = project(&spec("device_name", ""));
    let err = stderr_of(
        rmmc(p.path())
            .args(["build", "rules", "--out", "out"])
            .assert()
            .code(2),
    );
    for want in [
        "sigma cannot express matches in the detection on Sigma log source Sysmon network connection (EID 3): `initiating_description term [Remote Agent]` (Sysmon network connection (EID 3) has no field for it), `account_upn suffix [@corp.example.com]`",
        "sigma cannot express a match in the detection on Sigma log source Sysmon process creation (EID 1): `account_upn exact [alice@corp.example.com]` (Sysmon process creation (EID 1) has no field for it)",
        "splunk cannot express a match in the detection on Splunk source Sysmon EventCode 1 (ProcessCreate): `account_upn exact [alice@corp.example.com]`",
        "splunk cannot express matches in the detection on Splunk source Sysmon EventCode 11 (FileCreate): `initiating_description term [Remote Agent]`",
        "elastic cannot express a match in the detection on Elastic data source logs-endpoint.events.process: `account_upn exact [alice@corp.example.com]` (logs-endpoint.events.process has no ECS field for it)",
        "help: accept a wider sigma rule with `gaps: { sigma: <reason> }` on the detection",
    ] {
        assert!(err.contains(want), "missing {want:?} in\n{err}");
    }
    assert!(!err.contains("kql cannot express"), "{err}");
    // every backend maps the process description: no error names it (KQL's `has` warns
    // about Kusto's term characters on it, which is not an error)
    assert!(
        !err.lines()
            .any(|l| l.starts_with("error") && l.contains("process_description")),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    // CEF has no UPN column
    let fw = format!(
        "{HEAD}  fw:\n    title: Firewall\n    category: network\n    sources: [firewall]\n    where:\n      all:\n        - remote_ip: {{ ip: [1.2.3.4] }}\n        - account_upn: {{ exact: [a@b.c] }}\n    output:\n      summarize: [device_name]\n"
    );
    let p = project(&fw);
    let err = stderr_of(
        rmmc(p.path())
            .args(["build", "rules", "--out", "out", "--target", "kql"])
            .assert()
            .code(2),
    );
    assert!(
        err.contains("kql cannot express a match in the detection on KQL table CommonSecurityLog: `account_upn exact [a@b.c]` (CommonSecurityLog has no column for it)"),
        "{err}"
    );
}

#[test]
fn summarize_by_account_upn() {
    let p = project(&spec("device_name, account_upn", GAPS));
    rmmc(p.path())
        .args([
            "build",
            "rules",
            "--out",
            "out",
            "--target",
            "kql,sentinel,sigma",
        ])
        .assert()
        .code(0);
    let out = p.path().join("out");
    for (d, col) in [
        ("netconn", "InitiatingProcessAccountUpn"),
        ("createproc", "AccountUpn"),
        ("filewrite", "InitiatingProcessAccountUpn"),
    ] {
        let by = format!("Count=count() by DeviceName, {col}\n");
        let kql = read(&out, &format!("kql/newfields-{d}.kql"));
        assert!(kql.contains(&by), "{kql}");
        let sentinel = read(&out, &format!("sentinel/analytic/newfields-{d}.yaml"));
        assert!(sentinel.contains(&by), "{sentinel}");
        // Sigma has no aggregation: the fields it lacks are named, not dropped silently
        let sigma = read(&out, &format!("sigma/newfields-{d}.yml"));
        assert!(
            sigma.contains("Not in this log source, so not listed: account_upn."),
            "{sigma}"
        );
    }

    // With a declared gap, Splunk and Elastic group without the field they lack, and say so
    // (in one block per backend by default; each rule's warning with --all-warnings)
    let grouped = rmmc(p.path()).args(["check", "rules"]).assert().code(0);
    let err = stderr_of(grouped);
    assert!(
        err.contains(
            "warning: splunk: 3 rules whose summarize fields the table lacks (declared gaps)"
        ),
        "{err}"
    );
    let build = rmmc(p.path())
        .args(["build", "rules", "--out", "all", "--all-warnings"])
        .assert()
        .code(0);
    let err = stderr_of(build);
    assert!(
        err.contains("newfields/createproc (endpoint): Sysmon EventCode 1 (ProcessCreate) has no field for summarize `account_upn`, so the Splunk search groups results without it (declared gap: Sysmon carries no UPN"),
        "{err}"
    );
    assert!(
        err.contains("newfields/netconn: logs-endpoint.events.network has no field for summarize `account_upn`, so the Kibana rule suppresses alerts without it (declared gap: ECS has no UPN field, and Elastic Defend has no file description outside process events)"),
        "{err}"
    );
    let spl = read(&p.path().join("all"), "splunk/newfields-createproc.spl");
    assert!(spl.contains("count as Count by Computer\n"), "{spl}");
    let kibana = read(&p.path().join("all"), "elastic/rules.ndjson");
    assert!(
        kibana.contains("Known gap (alerts are grouped without account_upn): ECS has no UPN field"),
        "{kibana}"
    );
    rmmc(p.path())
        .args(["verify", "rules", "--artifacts", "all"])
        .assert()
        .code(0);

    // Without one, they refuse a grouping field they lack, as for any other output field
    let bare = project(&format!(
        "{HEAD}  createproc:\n    title: Create Process\n    category: process\n    where:\n      process_company: {{ term: [acme] }}\n    output:\n      summarize: [device_name, account_upn]\n"
    ));
    for (target, want) in [
        (
            "splunk",
            "newfields/createproc: stats by needs `account_upn`, which Sysmon EventCode 1 (ProcessCreate) does not have",
        ),
        (
            "elastic",
            "newfields/createproc: summarize needs `account_upn`, which logs-endpoint.events.process does not have",
        ),
    ] {
        let err = stderr_of(
            rmmc(bare.path())
                .args(["build", "rules", "--out", "o2", "--target", target])
                .assert()
                .code(2),
        );
        assert!(err.contains(want), "{target}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
