//! `rmmc verify` and `rmmc eval` from the command line: exit codes and what they print.

use assert_cmd::Command;
use predicates::prelude::*;

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
        .stdout(predicate::str::contains("pass (declared gaps)"));
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
    rmmc()
        .args(["verify", "rules", "--artifacts"])
        .arg(&out)
        .assert()
        .code(0);
    let f = out.join("kql/supremo-netconn.kql");
    let text = std::fs::read_to_string(&f).unwrap();
    std::fs::write(&f, text.replace("has 'NanoSystems'", "has 'NanoSystem'")).unwrap();
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
    assert_eq!(v["cells"].as_array().unwrap().len(), 6);
    assert!(v["cells"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["mismatched"] == 0));
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
