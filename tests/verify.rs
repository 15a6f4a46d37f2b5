//! `verify` agrees with itself on the shipped rules, and catches every mutation of an
//! emitted artifact (so a pass means something).

use rmmc::build::{self, BuildOptions, BuildResult, Target};
use rmmc::eval::time::parse_rfc3339;
use rmmc::ir::IrSpec;
use rmmc::spec::BackendName;
use rmmc::verify::{self, Report, VerifyOptions};
use std::path::Path;

fn shipped() -> (Vec<IrSpec>, BuildResult) {
    let specs = rmmc::spec::load_dir(Path::new("rules")).unwrap();
    let res = build::compile(&specs, &BuildOptions::only(Target::all()));
    (specs.iter().map(rmmc::ir::lower).collect(), res)
}

/// Only the artifacts under these folders (`kql/`, `sigma/` …): verify runs the backends that
/// have artifacts. Some tests keep to KQL and Sigma (`READY`); the `*spl_and_eql*` tests and
/// `shipped_artifacts_agree_with_the_ir_in_every_backend` cover the other two.
fn only(files: &build::Files, dirs: &[&str]) -> build::Files {
    files
        .iter()
        .filter(|(k, _)| dirs.iter().any(|d| k.starts_with(&format!("{d}/"))))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

const READY: &[&str] = &["kql", "sigma"];

fn print(report: &Report) {
    for c in &report.cells {
        eprintln!(
            "{:45} {:8} cases {:4} pass {:4} explained {:3} mismatch {:3} skipped {:3} {:?}",
            c.rule,
            c.backend.name(),
            c.cases,
            c.passed,
            c.explained,
            c.mismatched,
            c.skipped,
            c.error
        );
    }
    for m in report
        .mismatches
        .iter()
        .filter(|m| m.explained_by.is_none())
        .take(20)
    {
        eprintln!(
            "MISMATCH {} [{}] {}: expected {} got {} {:?}",
            m.rule,
            m.backend.name(),
            m.case,
            m.expected,
            m.actual,
            m.event
        );
    }
}

fn opts() -> VerifyOptions {
    VerifyOptions {
        now: parse_rfc3339("2026-05-31T11:00:00Z").unwrap(),
        exclusions: true,
    }
}

fn run(irs: &[IrSpec], res: &BuildResult, files: &build::Files) -> Report {
    let fixtures = verify::cases::load_fixtures(Path::new("tests/fixtures"))
        .unwrap_or_else(|d| panic!("{d:?}"));
    assert!(fixtures.len() >= 30);
    verify::verify(irs, files, &fixtures, &res.renderings, &opts())
}

#[test]
fn shipped_kql_and_sigma_agree_with_the_ir() {
    let (irs, res) = shipped();
    let report = run(&irs, &res, &only(&res.files, READY));
    print(&report);
    assert!(report.ok(), "{:#?}", report.fixture_disagreements);
    assert_eq!(report.cells.len(), 12);
    assert!(report.cells.iter().all(|c| c.cases >= 10));
    // CommonSecurityLog matches the address on either end: declared wider, so the event with
    // each IOC address only on the local end (one per address) is explained.
    let fw = report
        .cells
        .iter()
        .find(|c| c.rule == "netsupport/ioc (firewall)" && c.backend == BackendName::Kql)
        .unwrap();
    assert_eq!((fw.explained, fw.mismatched), (2, 0));
    // Sigma: the domain-only rule of netconn is a declared gap (no company in Sysmon EID 3),
    // so its extra matches are explained by the Sigma rendering, not the KQL one.
    let nc = report
        .cells
        .iter()
        .find(|c| c.rule == "netsupport/netconn (endpoint)" && c.backend == BackendName::Sigma)
        .unwrap();
    assert!(nc.explained > 0 && nc.mismatched == 0, "{nc:?}");
    assert!(report
        .mismatches
        .iter()
        .filter(|m| m.backend == BackendName::Sigma)
        .all(|m| m.explained_by.as_deref().is_some_and(|e| !e.is_empty())));
    // a Sigma rule has no window: an event older than the spec's window still matches it
    assert_eq!(nc.window, "none (the scheduler's)");
    let old = report
        .mismatches
        .iter()
        .any(|m| m.backend == BackendName::Sigma && m.case.contains("older than the window"));
    assert!(!old, "Sigma verdicts are judged without the window");
}

#[test]
fn shipped_artifacts_agree_with_the_ir_in_every_backend() {
    let (irs, res) = shipped();
    let report = run(&irs, &res, &res.files);
    print(&report);
    assert!(report.ok(), "{:#?}", report.fixture_disagreements);
    assert_eq!(report.cells.len(), 24);
    for b in [
        BackendName::Kql,
        BackendName::Sigma,
        BackendName::Splunk,
        BackendName::Elastic,
    ] {
        assert_eq!(report.cells.iter().filter(|c| c.backend == b).count(), 6);
    }
    let eql = report
        .cells
        .iter()
        .find(|c| c.backend == BackendName::Elastic)
        .unwrap();
    assert_eq!(eql.window, "Kibana rule from: now-5d");
}

/// (artifact, text to replace, replacement, why it must be caught)
const MUTATIONS: &[(&str, &str, &str)] = &[
    ("kql/netsupport-netconn.kql", "RemoteUrl has 'netsupportsoftware.com'", "RemoteUrl contains 'netsupportsoftware.com'"),
    ("kql/supremo-netconn.kql", "has_any ('supremocontrol.com', 'nanosystems.it')", "has_any ('supremocontrol.com')"),
    ("kql/netsupport-createproc.kql", "has 'netsupport'", "has 'netsupporx'"),
    ("kql/action1-netconn.kql", "\n    and InitiatingProcessVersionInfoCompanyName", "\n    or InitiatingProcessVersionInfoCompanyName"),
    ("kql/netsupport-createproc.kql", "| where not(InitiatingProcessFileName =~ 'schtasks.exe' or ProcessCommandLine contains 'schtasks')\n", ""),
    ("kql/netsupport-createproc.kql", "InitiatingProcessFileName =~ 'gpupdate.exe'", "InitiatingProcessFileName == 'gpupdate.exe'"),
    ("kql/netsupport-ioc-endpoint.kql", "'101.109.237.93'", "'101.109.237.94'"),
    ("kql/netsupport-ioc-firewall.kql", " or SourceIP in (malicious_ips)", " and SourceIP in (malicious_ips)"),
    ("kql/netsupport-netconn.kql", "now(-5d)", "now(-50d)"),
    ("kql/action1-netconn.kql", "RemoteIP == '10.10.10.10'", "RemoteIP == '10.10.10.11'"),
    ("kql/netsupport-netconn.kql", "by DeviceId, DeviceName, RemoteUrl", "by DeviceId, DeviceName"),
    ("sigma/netsupport-createproc.yml", "CommandLine|contains: RemoteSupport", "CommandLine|endswith: RemoteSupport"),
    ("sigma/netsupport-ioc-endpoint.yml", "  - Computer: Training_VM_01\n", ""),
    ("sigma/netsupport-ioc-firewall.yml", "  - dst_ip:\n    - 95.85.246.53", "  - dst_ip:\n    - 95.85.246.52"),
    ("sigma/supremo-netconn.yml", "[Nn][Aa][Nn][Oo]", "[Nn][Aa][Nn]"),
    ("sigma/action1-netconn.yml", "condition: selection and not 1 of filter_*", "condition: selection"),
];

/// SPL and EQL mutations: (artifact, from, to). EQL edits are applied to the `.eql` file and
/// to the same query in `elastic/rules.ndjson` (the Kibana rule must carry the same query).
const MUTATIONS_SPL_EQL: &[(&str, &str, &str)] = &[
    (
        "splunk/netsupport-ioc-endpoint.spl",
        "| where NOT (match(Computer",
        "| where (match(Computer",
    ),
    (
        "splunk/netsupport-netconn.spl",
        "earliest=-5d",
        "earliest=-50d",
    ),
    (
        "splunk/supremo-netconn.spl",
        "count as Count by host Computer DestinationHostname",
        "count as Count by host Computer",
    ),
    (
        "splunk/netsupport-ioc-firewall.spl",
        "dest_ip==\"95.85.246.53\"",
        "dest_ip==\"95.85.246.54\"",
    ),
    (
        "elastic/netsupport-createproc.eql",
        "user.name : \"*ITSupportUser*\"",
        "user.name == \"*ITSupportUser*\"",
    ),
    (
        "elastic/netsupport-ioc-endpoint.eql",
        "\n  and not (process.command_line : \"*NetSupportMaintenanceJob*\")",
        "",
    ),
    (
        "elastic/action1-netconn.eql",
        "\n  and not (process.name in~ (\"setup.exe\"",
        "\n  or not (process.name in~ (\"setup.exe\"",
    ),
];

/// Apply one mutation in memory (and, for `.eql`, to the query of the Kibana rule that holds
/// this file's query: the same text can occur in several rules).
fn mutate(files: &mut build::Files, path: &str, from: &str, to: &str) {
    let body = |t: &str| {
        t.lines()
            .filter(|l| !l.starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n")
            .trim()
            .to_string()
    };
    let before_spl = files[path].clone();
    let text = files.get_mut(path).unwrap();
    assert!(text.contains(from), "{path} lacks {from:?}:\n{text}");
    let original = body(text);
    *text = text.replacen(from, to, 1);
    if path.ends_with(".eql") {
        let nd = files.get_mut("elastic/rules.ndjson").unwrap();
        let mut hit = false;
        let lines: Vec<String> = nd
            .lines()
            .map(|l| {
                let mut rule: serde_json::Value = serde_json::from_str(l).unwrap();
                if !hit && rule["query"].as_str().map(str::trim) == Some(original.as_str()) {
                    hit = true;
                    let q = rule["query"].as_str().unwrap().replacen(from, to, 1);
                    rule["query"] = q.into();
                    serde_json::to_string(&rule).unwrap()
                } else {
                    l.to_string()
                }
            })
            .collect();
        assert!(hit, "rules.ndjson has no rule with the query of {path}");
        *nd = lines.join("\n") + "\n";
    }
    // and, for `.spl`, to the search of its savedsearches.conf stanza (continuation lines
    // joined), whose dispatch window follows the search's `earliest=` as the backend writes
    // both: the deployed forms must equal the file that runs (src/verify/forms.rs)
    if let (true, Some(conf)) = (
        path.ends_with(".spl"),
        files.get("splunk/savedsearches.conf").cloned(),
    ) {
        let spl = &before_spl;
        let search = format!(
            "search = {}",
            spl.trim_end_matches('\n').replace('\n', "\\\n")
        );
        let at = conf.find(&search).unwrap_or_else(|| {
            panic!("savedsearches.conf has no stanza with the search of {path}")
        });
        let start = conf[..at].rfind("\n[").unwrap();
        let mut head = conf[start..at].to_string();
        if let (Some(old), Some(new)) =
            (from.strip_prefix("earliest="), to.strip_prefix("earliest="))
        {
            head = head.replacen(
                &format!("dispatch.earliest_time = {old}\n"),
                &format!("dispatch.earliest_time = {new}\n"),
                1,
            );
        }
        let edited = format!(
            "{}{head}{}{}",
            &conf[..start],
            search.replacen(from, to, 1),
            &conf[at + search.len()..]
        );
        files.insert("splunk/savedsearches.conf".into(), edited);
    }
}

fn assert_caught(
    irs: &[IrSpec],
    res: &BuildResult,
    files: &build::Files,
    path: &str,
    from: &str,
    to: &str,
) {
    let report = run(irs, res, files);
    assert!(
        !report.ok(),
        "mutation not caught: {path}: {from:?} → {to:?}"
    );
    let bad = report.disagreeing_artifacts();
    assert_eq!(bad, vec![path], "{from:?} → {to:?}");
}

#[test]
fn every_spl_and_eql_mutation_is_caught_and_named() {
    let (irs, res) = shipped();
    for (path, from, to) in MUTATIONS_SPL_EQL {
        let mut files = res.files.clone();
        mutate(&mut files, path, from, to);
        assert_caught(&irs, &res, &files, path, from, to);
    }
}

#[test]
fn an_eql_query_that_differs_from_its_kibana_rule_is_an_error() {
    let (irs, res) = shipped();
    let mut files = only(&res.files, &["elastic"]);
    let path = "elastic/action1-netconn.eql";
    let text = files.get_mut(path).unwrap();
    *text = text.replace(
        "\n  and not (process.name in~ (\"setup.exe\"",
        "\n  or not (process.name in~ (\"setup.exe\"",
    );
    let report = run(&irs, &res, &files);
    let cell = report.cells.iter().find(|c| c.artifact == path).unwrap();
    assert_eq!(
        cell.error.as_deref(),
        Some("elastic/rules.ndjson:1: the Kibana rule's query differs from its twin elastic/action1-netconn.eql at line 2 col 3"),
        "{cell:?}"
    );
    // and a missing Kibana export is named
    files.remove("elastic/rules.ndjson");
    let report = run(&irs, &res, &files);
    assert!(report.cells.iter().all(|c| c
        .error
        .as_deref()
        .is_some_and(|e| e.contains("elastic/rules.ndjson missing"))));
}

#[test]
fn every_mutation_is_caught_and_named() {
    let (irs, res) = shipped();
    let ready = only(&res.files, READY);
    for (path, from, to) in MUTATIONS {
        let mut files = ready.clone();
        mutate(&mut files, path, from, to);
        assert_caught(&irs, &res, &files, path, from, to);
    }
}

#[test]
fn unparsable_or_missing_artifacts_are_errors() {
    let (irs, res) = shipped();
    let mut files = only(&res.files, &["kql"]);
    files.insert(
        "kql/supremo-netconn.kql".into(),
        "DeviceNetworkEvents\n| where RemoteUrl has_any ('a',)".into(),
    );
    files.remove("kql/action1-netconn.kql");
    let report = run(&irs, &res, &files);
    let errors: Vec<(String, String)> = report
        .cells
        .iter()
        .filter_map(|c| c.error.clone().map(|e| (c.artifact.clone(), e)))
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors
        .iter()
        .any(|(a, e)| a == "kql/action1-netconn.kql" && e == "artifact missing"));
    assert!(
        errors
            .iter()
            .any(|(a, e)| a == "kql/supremo-netconn.kql" && e.contains("2:")),
        "{errors:?}"
    );
}

#[test]
fn a_fixture_expectation_the_spec_does_not_meet_is_reported() {
    let (irs, res) = shipped();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("wrong.jsonl"),
        r#"{"case": "browser, claimed to fire", "category": "network", "expect": ["netsupport/netconn"], "timestamp": "2026-05-31T09:13:00Z", "remote_domain": "www.netsupportsoftware.com", "initiating_company": "Microsoft Corporation"}"#,
    )
    .unwrap();
    let fixtures = verify::cases::load_fixtures(dir.path()).unwrap();
    let report = verify::verify(&irs, &res.files, &fixtures, &res.renderings, &opts());
    assert!(!report.ok());
    assert_eq!(
        report.fixture_disagreements.len(),
        1,
        "{:?}",
        report.fixture_disagreements
    );
    assert!(report.fixture_disagreements[0].contains("wrong.jsonl:1 (browser, claimed to fire)"));
}

#[test]
fn fixture_errors_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.jsonl"), "{\"case\": \"ok\", \"category\": \"network\"}\n{\"case\": \"x\", \"category\": \"network\", \"remote_domian\": \"a\"}\n").unwrap();
    let errs = verify::cases::load_fixtures(dir.path()).unwrap_err();
    assert_eq!(errs.len(), 1);
    let e = errs[0].to_string();
    assert!(
        e.contains("bad.jsonl:2:1") && e.contains("did you mean `remote_domain`"),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------
// On disk, through the command line: `rmmc build --out`, edit one file, `rmmc verify
// --artifacts` exits 1 and names that rule and backend.
// ---------------------------------------------------------------------------------------

/// (rule, backend, artifact, from, to)
const ON_DISK: &[(&str, &str, &str, &str, &str)] = &[
    (
        "netsupport/netconn (endpoint)",
        "kql",
        "kql/netsupport-netconn.kql",
        "RemoteUrl has 'netsupportsoftware.com'",
        "RemoteUrl contains 'netsupportsoftware.com'",
    ),
    (
        "supremo/netconn (endpoint)",
        "kql",
        "kql/supremo-netconn.kql",
        "has_any ('supremocontrol.com', 'nanosystems.it')",
        "has_any ('supremocontrol.com')",
    ),
    (
        "netsupport/createproc (endpoint)",
        "kql",
        "kql/netsupport-createproc.kql",
        "has 'netsupport'",
        "has 'netsupporx'",
    ),
    (
        "action1/netconn (endpoint)",
        "kql",
        "kql/action1-netconn.kql",
        "\n    and InitiatingProcessVersionInfoCompanyName",
        "\n    or InitiatingProcessVersionInfoCompanyName",
    ),
    (
        "netsupport/createproc (endpoint)",
        "sigma",
        "sigma/netsupport-createproc.yml",
        "CommandLine|contains: RemoteSupport",
        "CommandLine|endswith: RemoteSupport",
    ),
    (
        "netsupport/ioc (endpoint)",
        "sigma",
        "sigma/netsupport-ioc-endpoint.yml",
        "  - Computer: Training_VM_01\n",
        "",
    ),
    (
        "netsupport/ioc (firewall)",
        "sigma",
        "sigma/netsupport-ioc-firewall.yml",
        "  - dst_ip:\n    - 95.85.246.53",
        "  - dst_ip:\n    - 95.85.246.52",
    ),
    (
        "supremo/netconn (endpoint)",
        "sigma",
        "sigma/supremo-netconn.yml",
        "[Nn][Aa][Nn][Oo]",
        "[Nn][Aa][Nn]",
    ),
    (
        "action1/netconn (endpoint)",
        "sigma",
        "sigma/action1-netconn.yml",
        "condition: selection and not 1 of filter_*",
        "condition: selection",
    ),
];

const ON_DISK_SPL_EQL: &[(&str, &str, &str, &str, &str)] = &[
    (
        "netsupport/ioc (endpoint)",
        "splunk",
        "splunk/netsupport-ioc-endpoint.spl",
        "| where NOT (match(Computer",
        "| where (match(Computer",
    ),
    (
        "netsupport/netconn (endpoint)",
        "splunk",
        "splunk/netsupport-netconn.spl",
        "earliest=-5d",
        "earliest=-50d",
    ),
    (
        "supremo/netconn (endpoint)",
        "splunk",
        "splunk/supremo-netconn.spl",
        "count as Count by host Computer DestinationHostname",
        "count as Count by host Computer",
    ),
    (
        "netsupport/createproc (endpoint)",
        "elastic",
        "elastic/netsupport-createproc.eql",
        "user.name : \"*ITSupportUser*\"",
        "user.name == \"*ITSupportUser*\"",
    ),
    (
        "netsupport/ioc (endpoint)",
        "elastic",
        "elastic/netsupport-ioc-endpoint.eql",
        "\n  and not (process.command_line : \"*NetSupportMaintenanceJob*\")",
        "",
    ),
    (
        "action1/netconn (endpoint)",
        "elastic",
        "elastic/action1-netconn.eql",
        "\n  and not (process.name in~ (\"setup.exe\"",
        "\n  or not (process.name in~ (\"setup.exe\"",
    ),
];

fn rmmc() -> assert_cmd::Command {
    let mut c = assert_cmd::Command::new(env!("CARGO_BIN_EXE_rmmc"));
    c.env("NO_COLOR", "1");
    c
}

/// Build into a temp folder; keep only the artifacts of `keep` backends (verify runs the
/// backends that have artifacts).
fn built_on_disk(keep: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    rmmc()
        .args(["build", "rules", "--out"])
        .arg(dir.path())
        .assert()
        .code(0);
    for d in ["kql", "sentinel", "sigma", "splunk", "elastic"] {
        if !keep.contains(&d) {
            std::fs::remove_dir_all(dir.path().join(d)).unwrap();
        }
    }
    dir
}

fn edit_on_disk(dir: &Path, path: &str, from: &str, to: &str) -> Vec<(String, String)> {
    let mut files = build::Files::new();
    let read = |p: &str| std::fs::read_to_string(dir.join(p)).unwrap();
    files.insert(path.into(), read(path));
    if path.ends_with(".eql") {
        files.insert("elastic/rules.ndjson".into(), read("elastic/rules.ndjson"));
    }
    let conf = "splunk/savedsearches.conf";
    if path.ends_with(".spl") && dir.join(conf).exists() {
        files.insert(conf.into(), read(conf));
    }
    let before: Vec<(String, String)> = files.clone().into_iter().collect();
    mutate(&mut files, path, from, to);
    for (p, t) in &files {
        std::fs::write(dir.join(p), t).unwrap();
    }
    before
}

fn verify_on_disk(dir: &Path) -> (i32, serde_json::Value, String) {
    let json = rmmc()
        .args([
            "verify",
            "rules",
            "--format",
            "json",
            "--now",
            "2026-05-31T10:14:00Z",
            "--artifacts",
        ])
        .arg(dir)
        .output()
        .unwrap();
    let text = rmmc()
        .args([
            "verify",
            "rules",
            "--now",
            "2026-05-31T10:14:00Z",
            "--artifacts",
        ])
        .arg(dir)
        .output()
        .unwrap();
    (
        json.status.code().unwrap_or(-1),
        serde_json::from_slice(&json.stdout).unwrap(),
        String::from_utf8_lossy(&text.stdout).into_owned(),
    )
}

fn all_caught_on_disk(keep: &[&str], mutations: &[(&str, &str, &str, &str, &str)]) {
    let dir = built_on_disk(keep);
    let (code, _, text) = verify_on_disk(dir.path());
    assert_eq!(code, 0, "the unedited build must pass:\n{text}");
    for (rule, backend, path, from, to) in mutations {
        let before = edit_on_disk(dir.path(), path, from, to);
        let (code, report, text) = verify_on_disk(dir.path());
        assert_eq!(code, 1, "{path}: {from:?} → {to:?} not caught:\n{text}");
        let bad: Vec<(String, String)> = report["cells"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["mismatched"] != 0 || !c["error"].is_null())
            .map(|c| {
                (
                    c["rule"].as_str().unwrap().to_string(),
                    c["backend"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            bad,
            vec![(rule.to_string(), backend.to_string())],
            "{path}: {from:?} → {to:?}"
        );
        assert!(
            text.contains(&format!("MISMATCH {path}"))
                && text.contains(&format!("{rule} [{backend}]")),
            "{text}"
        );
        for (p, t) in before {
            std::fs::write(dir.path().join(p), t).unwrap();
        }
    }
}

#[test]
fn edits_on_disk_fail_verify_naming_rule_and_backend() {
    all_caught_on_disk(READY, ON_DISK);
}

#[test]
fn spl_and_eql_edits_on_disk_fail_verify_naming_rule_and_backend() {
    all_caught_on_disk(
        &["kql", "sentinel", "sigma", "splunk", "elastic"],
        ON_DISK_SPL_EQL,
    );
}
