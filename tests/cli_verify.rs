//! `rmmc verify` and `rmmc eval` from the command line: exit codes and what they print.

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::Path;

fn rmmc() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rmmc"));
    c.env("NO_COLOR", "1");
    c
}

#[test]
fn verify_shipped_rules_passes() {
    rmmc()
        .args(["verify", "rules"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("all agree with the spec"))
        .stdout(predicate::str::contains("netsupport/ioc (firewall)"))
        .stdout(predicate::str::contains("pass (declared gaps)"))
        .stdout(predicate::str::contains("24 rules"))
        .stdout(predicate::str::contains("Kibana rule from: now-5d"))
        .stdout(predicate::str::contains(
            "a Sigma rule carries no time range; the window is the scheduler's",
        ));
}

/// The build with only the KQL and Sigma artifacts (the backends whose evaluators are on
/// this branch): verify runs the backends that have artifacts.
fn kql_and_sigma_build() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    rmmc()
        .args(["build", "rules", "--out"])
        .arg(dir.path())
        .assert()
        .code(0);
    for d in ["splunk", "elastic"] {
        std::fs::remove_dir_all(dir.path().join(d)).unwrap();
    }
    dir
}

#[test]
fn verify_kql_and_sigma_artifacts_pass() {
    let dir = kql_and_sigma_build();
    let out = rmmc()
        .args(["verify", "rules", "--artifacts"])
        .arg(dir.path())
        .assert()
        .code(0)
        .stdout(predicate::str::contains("all agree with the spec"))
        .stdout(predicate::str::contains("12 rules"))
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    // every rule in both backends, Sigma without a window and saying so
    for rule in ["action1/netconn (endpoint)", "netsupport/ioc (firewall)"] {
        for backend in ["kql", "sigma"] {
            assert!(
                text.lines()
                    .any(|l| l.starts_with(rule) && l.contains(&format!(" {backend} "))),
                "{text}"
            );
        }
    }
    assert!(text.contains("none (the scheduler's)"), "{text}");
    assert!(
        text.contains("Sigma verdicts are judged without it"),
        "{text}"
    );
}

#[test]
fn verify_catches_a_hand_edited_artifact_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    rmmc()
        .args(["build", "rules", "--out"])
        .arg(&out)
        .assert()
        .code(0);
    for d in ["splunk", "elastic"] {
        std::fs::remove_dir_all(out.join(d)).unwrap();
    }
    rmmc()
        .args(["verify", "rules", "--artifacts"])
        .arg(&out)
        .assert()
        .code(0);
    // the same edit in the query and in its deployable forms (a .kql edited alone would
    // also differ from the Sentinel YAML: tests/forms.rs)
    for rel in [
        "kql/supremo-netconn.kql",
        "sentinel/hunting/supremo-netconn.yaml",
        "sentinel/analytic/supremo-netconn.yaml",
    ] {
        let f = out.join(rel);
        let text = std::fs::read_to_string(&f).unwrap();
        std::fs::write(&f, text.replace("has 'NanoSystems'", "has 'NanoSystem'")).unwrap();
    }
    rmmc()
        .args(["verify", "rules", "--artifacts"])
        .arg(&out)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("supremo/netconn (endpoint)"))
        .stdout(predicate::str::contains("MISMATCH kql/supremo-netconn.kql"))
        .stdout(predicate::str::contains(
            "the spec says match, the artifact says no match",
        ));
}

#[test]
fn verify_usage_errors_exit_2() {
    rmmc()
        .args(["verify", "rules", "--artifacts", "/nonexistent/rmmc"])
        .assert()
        .code(2);
    rmmc()
        .args(["verify", "rules", "--now", "yesterday"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("RFC 3339"));
}

#[test]
fn verify_json_lists_cells() {
    let out = rmmc()
        .args(["verify", "rules", "--format", "json"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["cells"].as_array().unwrap().len(), 24);
    assert!(v["cells"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["mismatched"] == 0 && c["error"].is_null()));
}

const QUERY: &str = "let Time_start = now(-5d);\nlet Time_end = now();\nDeviceNetworkEvents\n| where Timestamp between (Time_start..Time_end)\n| where RemoteUrl has 'netsupportsoftware.com'\n| summarize FirstSeen=min(Timestamp), Count=count() by DeviceName\n";

#[test]
fn eval_runs_an_artifact_on_exported_events() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("q.kql"), QUERY).unwrap();
    std::fs::write(
        dir.path().join("ev.jsonl"),
        [
            r#"{"Timestamp": "2026-05-31T09:00:00Z", "DeviceName": "ws-1", "RemoteUrl": "geo.netsupportsoftware.com"}"#,
            r#"{"Timestamp": "2026-05-31T09:30:00Z", "DeviceName": "ws-1", "RemoteUrl": "www.NetSupportSoftware.com"}"#,
            r#"{"Timestamp": "2026-05-31T09:40:00Z", "DeviceName": "ws-2", "RemoteUrl": "xnetsupportsoftware.com"}"#,
            r#"{"Timestamp": "2026-05-01T09:00:00Z", "DeviceName": "ws-3", "RemoteUrl": "netsupportsoftware.com"}"#,
        ]
        .join("\n"),
    )
    .unwrap();
    rmmc()
        .arg("eval")
        .arg(dir.path().join("q.kql"))
        .arg("--events")
        .arg(dir.path().join("ev.jsonl"))
        .args(["--now", "2026-05-31T11:00:00Z"])
        .assert()
        .code(0)
        .stdout("{\"Count\":2,\"DeviceName\":\"ws-1\",\"FirstSeen\":\"2026-05-31T09:00:00Z\"}\n");
}

#[test]
fn eval_errors_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("q.kql"), QUERY).unwrap();
    std::fs::write(
        dir.path().join("bad.kql"),
        "DeviceNetworkEvents\n| where RemoteUrl has_any ('a',)\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("ev.jsonl"),
        r#"{"Timestamp": "2026-05-31T09:00:00Z", "RemoteUrl": "x"}"#,
    )
    .unwrap();
    let run = |q: &str| {
        rmmc()
            .arg("eval")
            .arg(dir.path().join(q))
            .arg("--events")
            .arg(dir.path().join("ev.jsonl"))
            .assert()
    };
    run("q.kql")
        .code(2)
        .stderr(predicate::str::contains("reads column(s) DeviceName"));
    run("bad.kql")
        .code(2)
        .stderr(predicate::str::contains("bad.kql:2:32"))
        .stderr(predicate::str::contains("unexpected `)`"));
}

#[test]
fn fixtures_render_native_rows_that_eval_reads() {
    let dir = tempfile::tempdir().unwrap();
    let native = dir.path().join("native");
    rmmc()
        .args(["fixtures", "--out"])
        .arg(&native)
        .assert()
        .code(0)
        .stderr(predicate::str::contains("DeviceNetworkEvents.jsonl"));
    let rows = std::fs::read_to_string(native.join("DeviceNetworkEvents.jsonl")).unwrap();
    // canonical fields under Defender column names, typed as the table types them
    let first: serde_json::Value = serde_json::from_str(rows.lines().next().unwrap()).unwrap();
    assert_eq!(first["RemoteUrl"], "geo.netsupportsoftware.com");
    assert_eq!(first["RemotePort"], 443);
    assert_eq!(first["Timestamp"], "2026-05-31T09:12:00Z");
    assert!(first.get("remote_domain").is_none() && first.get("expect").is_none());
    // CEF rows keep their own column names
    let cef = std::fs::read_to_string(native.join("CommonSecurityLog.jsonl")).unwrap();
    assert!(cef.contains("\"DestinationIP\""), "{cef}");
    // and rmmc eval runs a shipped query on them
    rmmc()
        .args([
            "eval",
            "examples/deployed/kql/netsupport-netconn.kql",
            "--events",
        ])
        .arg(native.join("DeviceNetworkEvents.jsonl"))
        .args(["--now", "2026-05-31T11:00:00Z"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "\"RemoteUrl\":\"geo.netsupportsoftware.com\"",
        ));
}

#[test]
fn fixtures_bad_input_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    rmmc()
        .args(["fixtures", "--fixtures"])
        .arg(dir.path().join("missing"))
        .args(["--out"])
        .arg(dir.path().join("o"))
        .assert()
        .code(2);
    std::fs::write(dir.path().join("bad.jsonl"), "not json\n").unwrap();
    rmmc()
        .args(["fixtures", "--fixtures"])
        .arg(dir.path())
        .args(["--out"])
        .arg(dir.path().join("o"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad.jsonl:1"));
}

const SYSMON: &[&str] = &[
    r#"{"UtcTime": "2026-05-31 09:00:00.000", "EventID": 3, "Computer": "ws-1", "Image": "C:\\x\\client32.exe", "DestinationHostname": "geo.netsupportsoftware.com"}"#,
    r#"{"UtcTime": "2026-05-31 09:10:00.000", "EventID": 3, "Computer": "ws-2", "Image": "C:\\x\\msedge.exe", "DestinationHostname": "xnetsupportsoftware.com"}"#,
    r#"{"UtcTime": "2026-05-31 09:20:00.000", "EventID": 3, "Computer": "ws-3", "Image": "C:\\x\\a.exe", "DestinationHostname": "www.NetSupportSoftware.com."}"#,
];

#[test]
fn eval_runs_a_sigma_rule_on_sysmon_events() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ev.jsonl"), SYSMON.join("\n")).unwrap();
    let out = rmmc()
        .args([
            "eval",
            "examples/deployed/sigma/netsupport-netconn.yml",
            "--events",
        ])
        .arg(dir.path().join("ev.jsonl"))
        .assert()
        .code(0)
        .stderr(predicate::str::contains("3 events → 2 rows"))
        .get_output()
        .stdout
        .clone();
    let lines: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let hosts: Vec<&str> = lines
        .iter()
        .map(|l| l["Computer"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["ws-1", "ws-3"]);
}

/// A rule runs on its logsource's events only, as backends/sigma.yaml maps them (Sigma
/// taxonomy: process_creation = Sysmon EventID 1, network_connection = 3, file_event = 11;
/// firewall records carry no EventID): in a mixed export, a process_creation rule never matches
/// an EventID 3 record that has the same fields (issue 14).
#[test]
fn eval_applies_the_sigma_logsource() {
    let ev = |eid: Option<u32>, host: &str| {
        let mut v = serde_json::json!({"Computer": host, "Company": "NetSupport Ltd",
            "Image": "C:\\x\\client32.exe", "ParentImage": "C:\\x\\explorer.exe", "CommandLine": "client32",
            "User": "CORP\\alice", "DestinationHostname": "geo.netsupportsoftware.com"});
        if let Some(e) = eid {
            v["EventID"] = e.into();
        }
        v.to_string()
    };
    let events = [
        ev(Some(1), "eid1"),
        ev(Some(3), "eid3"),
        ev(None, "no-eid"),
        // a string EventID, as some exports write it
        serde_json::json!({"EventID": "1", "Computer": "eid1-text", "Company": "NetSupport",
            "ParentImage": "C:\\x\\explorer.exe", "CommandLine": "c", "User": "CORP\\bob"})
        .to_string(),
    ];
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ev.jsonl"), events.join("\n")).unwrap();
    let rows: &[(&str, &[&str], &str)] = &[
        (
            "examples/deployed/sigma/netsupport-createproc.yml",
            &["eid1", "eid1-text"],
            "2 event(s) of other log sources skipped",
        ),
        (
            "examples/deployed/sigma/netsupport-netconn.yml",
            &["eid3"],
            "3 event(s) of other log sources skipped",
        ),
    ];
    for (rule, hosts, note) in rows {
        let out = rmmc()
            .args(["eval", rule, "--events"])
            .arg(dir.path().join("ev.jsonl"))
            .output()
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        );
        assert_eq!(out.status.code(), Some(0), "{rule}: {stderr}");
        let got: Vec<String> = stdout
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["Computer"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(got, *hosts, "{rule}: {stderr}");
        assert!(stderr.contains(note), "{rule}: {stderr}");
    }
    // a logsource the mapping does not know is judged on every event, and says so
    std::fs::write(
        dir.path().join("reg.yml"),
        "title: t\nlogsource: {category: registry_set, product: windows}\ndetection:\n  sel: {Computer: eid3}\n  condition: sel\n",
    )
    .unwrap();
    rmmc()
        .args(["eval"])
        .arg(dir.path().join("reg.yml"))
        .arg("--events")
        .arg(dir.path().join("ev.jsonl"))
        .assert()
        .code(0)
        .stdout(predicate::str::contains("\"eid3\""))
        .stderr(predicate::str::contains(
            "is not one backends/sigma.yaml maps, so every event is judged",
        ));
}

#[test]
fn eval_errors_for_sigma_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ev.jsonl"), r#"{"Image": "C:\\x\\a.exe"}"#).unwrap();
    std::fs::write(dir.path().join("bad.yml"), "title: [unclosed\n").unwrap();
    let deep = format!(
        "title: t\nlogsource: {{category: c}}\ndetection:\n  sel: {{Image: a}}\n  condition: '{}sel{}'\n",
        "(".repeat(500),
        ")".repeat(500)
    );
    std::fs::write(dir.path().join("deep.yml"), deep).unwrap();
    std::fs::write(dir.path().join("q.txt"), "x").unwrap();
    let run = |f: &str, events: &str| {
        rmmc()
            .arg("eval")
            .arg(if f.starts_with("examples") {
                Path::new(f).to_path_buf()
            } else {
                dir.path().join(f)
            })
            .arg("--events")
            .arg(dir.path().join(events))
            .assert()
    };
    run("examples/deployed/sigma/netsupport-netconn.yml", "ev.jsonl")
        .code(2)
        .stderr(predicate::str::contains(
            "reads field(s) DestinationHostname",
        ));
    run("bad.yml", "ev.jsonl")
        .code(2)
        .stderr(predicate::str::contains("does not parse: 2:1"));
    run("deep.yml", "ev.jsonl")
        .code(2)
        .stderr(predicate::str::contains("nested deeper than"));
    run("q.txt", "ev.jsonl")
        .code(2)
        .stderr(predicate::str::contains(
            ".kql, .yml (Sigma), .spl and .eql",
        ));
    std::fs::write(dir.path().join("bad.jsonl"), "{}\nnot json\n").unwrap();
    run(
        "examples/deployed/sigma/netsupport-netconn.yml",
        "bad.jsonl",
    )
    .code(2)
    .stderr(predicate::str::contains("bad.jsonl:2"));
}

#[test]
fn eval_runs_an_spl_search_on_sysmon_events() {
    let dir = tempfile::tempdir().unwrap();
    let ev = [
        r#"{"_time": "2026-05-31T09:00:00Z", "index": "main", "sourcetype": "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational", "EventCode": "3", "host": "a1", "Computer": "ws-1", "DestinationHostname": "geo.netsupportsoftware.com", "RecordID": 1}"#,
        r#"{"_time": "2026-05-31T09:30:00Z", "index": "main", "sourcetype": "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational", "EventCode": "3", "host": "a1", "Computer": "ws-1", "DestinationHostname": "geo.netsupportsoftware.com", "RecordID": 2}"#,
        r#"{"_time": "2026-05-31T09:40:00Z", "index": "main", "sourcetype": "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational", "EventCode": "3", "host": "b2", "Computer": "ws-2", "DestinationHostname": "xnetsupportsoftware.com", "RecordID": 3}"#,
    ];
    std::fs::write(dir.path().join("ev.jsonl"), ev.join("\n")).unwrap();
    rmmc()
        .args([
            "eval",
            "examples/deployed/splunk/netsupport-netconn.spl",
            "--events",
        ])
        .arg(dir.path().join("ev.jsonl"))
        .args(["--now", "2026-05-31T11:00:00Z"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("\"Computer\":\"ws-1\""))
        .stdout(predicate::str::contains("ws-2").not())
        .stderr(predicate::str::contains("3 events → 1 row"));
}

#[test]
fn eval_runs_an_eql_query_on_ecs_documents() {
    let dir = tempfile::tempdir().unwrap();
    let ev = [
        r#"{"@timestamp": "2026-05-31T09:00:00Z", "event": {"category": ["network"]}, "host": {"name": "ws-1"}, "destination": {"domain": "geo.netsupportsoftware.com"}, "process": {"pe": {"company": "NetSupport Ltd"}}}"#,
        // not a whole term (the network rule matches the domain only: Defend's network events
        // carry no process.pe.company)
        r#"{"@timestamp": "2026-05-31T09:00:00Z", "event": {"category": ["network"]}, "host": {"name": "ws-2"}, "destination": {"domain": "netsupportsoftware.community"}}"#,
    ];
    std::fs::write(dir.path().join("ev.jsonl"), ev.join("\n")).unwrap();
    rmmc()
        .args([
            "eval",
            "examples/deployed/elastic/netsupport-netconn.eql",
            "--events",
        ])
        .arg(dir.path().join("ev.jsonl"))
        .args(["--now", "2026-05-31T11:00:00Z"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("\"name\":\"ws-1\""))
        .stdout(predicate::str::contains("ws-2").not())
        .stderr(predicate::str::contains(
            "window: the Kibana rule's from: now-5d",
        ));
    // the window is the Kibana rule's `from` (elastic/rules.ndjson beside the query): six days
    // later the same events are outside it
    rmmc()
        .args([
            "eval",
            "examples/deployed/elastic/netsupport-netconn.eql",
            "--events",
        ])
        .arg(dir.path().join("ev.jsonl"))
        .args(["--now", "2026-06-06T11:00:00Z"])
        .assert()
        .code(0)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("2 events → 0 rows"));
    // a query with no Kibana rule beside it says that no window is applied
    std::fs::copy(
        "examples/deployed/elastic/netsupport-netconn.eql",
        dir.path().join("alone.eql"),
    )
    .unwrap();
    rmmc()
        .arg("eval")
        .arg(dir.path().join("alone.eql"))
        .arg("--events")
        .arg(dir.path().join("ev.jsonl"))
        .args(["--now", "2026-06-06T11:00:00Z"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("\"name\":\"ws-1\""))
        .stderr(predicate::str::contains("no time window applied"));
    std::fs::write(
        dir.path().join("flat.jsonl"),
        r#"{"event": {"category": ["network"]}, "host": {"name": "ws-1"}}"#,
    )
    .unwrap();
    rmmc()
        .args([
            "eval",
            "examples/deployed/elastic/netsupport-netconn.eql",
            "--events",
        ])
        .arg(dir.path().join("flat.jsonl"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("destination.domain"));
}

#[test]
fn eval_prints_a_table_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let native = dir.path().join("native");
    rmmc()
        .args(["fixtures", "--out"])
        .arg(&native)
        .assert()
        .code(0);
    let out = rmmc()
        .args([
            "eval",
            "examples/deployed/kql/supremo-netconn.kql",
            "--events",
        ])
        .arg(native.join("DeviceNetworkEvents.jsonl"))
        .args(["--now", "2026-05-31T11:00:00Z", "--rows", "table"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with("Count") && lines[0].contains("RemoteUrl"),
        "{text}"
    );
    // columns line up: every row has RemoteUrl where the header has it
    let at = lines[0].find("RemoteUrl").unwrap();
    assert!(
        lines[1][at..].starts_with("https://id.supremocontrol.com/connect"),
        "{text}"
    );
    assert!(
        lines[2][at..].starts_with("update.nanosystems.it"),
        "{text}"
    );
}
