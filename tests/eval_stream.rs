//! `rmmc eval` reading exports as a stream: gzip'd JSON lines, every rule of a build folder in
//! one read with a hit table per rule, and bad lines named by number in a long file.

use assert_cmd::Command;
use predicates::prelude::*;
use std::io::Write;
use std::path::Path;

fn rmmc() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rmmc"));
    c.env("NO_COLOR", "1");
    c
}

const NOW: &str = "2026-05-31T11:00:00Z";

/// `rmmc fixtures` rows (native Defender tables) in a temp folder.
fn native() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    rmmc()
        .args(["fixtures", "--out"])
        .arg(dir.path().join("native"))
        .assert()
        .code(0);
    dir
}

fn run_one(artifact: &Path, events: &Path) -> (String, String) {
    let out = rmmc()
        .arg("eval")
        .arg(artifact)
        .arg("--events")
        .arg(events)
        .args(["--now", NOW])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn gzipped_events_give_the_same_rows_as_plain_ones() {
    let dir = native();
    let plain = dir.path().join("native/DeviceNetworkEvents.jsonl");
    let gz = dir.path().join("events.jsonl.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::default(),
    );
    enc.write_all(&std::fs::read(&plain).unwrap()).unwrap();
    enc.finish().unwrap();
    let art = Path::new("examples/deployed/kql/netsupport-netconn.kql");
    let (a, _) = run_one(art, &plain);
    let (b, _) = run_one(art, &gz);
    assert!(a.contains("geo.netsupportsoftware.com"), "{a}");
    assert_eq!(a, b);
}

#[test]
fn a_build_folder_runs_every_rule_of_the_backend_in_one_read() {
    let dir = native();
    let events = dir.path().join("native/DeviceNetworkEvents.jsonl");
    let out = rmmc()
        .args(["eval", "examples/deployed", "--backend", "kql", "--events"])
        .arg(&events)
        .args(["--now", NOW, "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = table.iter().map(|r| r["rule"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "action1-netconn",
            "netsupport-createproc",
            "netsupport-ioc-endpoint",
            "netsupport-ioc-firewall",
            "netsupport-netconn",
            "supremo-netconn"
        ]
    );
    // each rule's groups are the rows it gives when run alone
    for r in &table {
        let art = Path::new(r["artifact"].as_str().unwrap());
        let missing = r["missing_fields"].as_array().unwrap();
        if !missing.is_empty() {
            // a rule of another table: flagged, not an error
            assert!(
                ["netsupport-createproc", "netsupport-ioc-firewall"]
                    .contains(&r["rule"].as_str().unwrap()),
                "{r}"
            );
            continue;
        }
        let (rows, _) = run_one(art, &events);
        assert_eq!(r["groups"], rows.lines().count(), "{r}");
        assert!(r["error"].is_null(), "{r}");
        assert_eq!(r["backend"], "kql");
    }
    let netconn = &table[4];
    assert!(netconn["matched"].as_u64().unwrap() >= netconn["groups"].as_u64().unwrap());
    assert!(netconn["groups"].as_u64().unwrap() > 0);

    // the text table, and rows per rule on request
    rmmc()
        .args(["eval", "examples/deployed/kql", "--events"])
        .arg(&events)
        .args(["--now", NOW])
        .assert()
        .code(0)
        .stdout(predicate::str::is_match(r"(?m)^rule +backend +matched +groups +note$").unwrap())
        .stdout(predicate::str::is_match(r"(?m)^netsupport-netconn +kql +\d+ +\d+$").unwrap())
        .stdout(predicate::str::contains("netsupport-createproc"))
        .stdout(predicate::str::contains("the export has no"));
    let out = rmmc()
        .args([
            "eval",
            "examples/deployed/kql/netsupport-netconn.kql",
            "examples/deployed/kql/supremo-netconn.kql",
            "--rows",
            "jsonl",
            "--events",
        ])
        .arg(&events)
        .args(["--now", NOW])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.iter().any(|l| l["rule"] == "supremo-netconn"));
    assert!(lines.iter().all(|l| l["row"].is_object()));
    // the hit table went to stderr, so stdout is JSON lines only
    assert!(String::from_utf8(out.stderr).unwrap().contains("rules"));
}

#[test]
fn a_folder_of_several_backends_needs_one_chosen() {
    let dir = native();
    rmmc()
        .args(["eval", "examples/deployed", "--events"])
        .arg(dir.path().join("native/DeviceNetworkEvents.jsonl"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("several backends"))
        .stderr(predicate::str::contains("--backend"));
    rmmc()
        .args([
            "eval",
            "examples/deployed",
            "--backend",
            "cobol",
            "--events",
        ])
        .arg(dir.path().join("native/DeviceNetworkEvents.jsonl"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "choose kql, sigma, splunk or elastic",
        ));
}

#[test]
fn a_bad_line_deep_in_a_stream_is_named_by_number() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for i in 0..5000 {
        text.push_str(&format!(
            "{{\"Timestamp\": \"2026-05-31T09:00:00Z\", \"DeviceName\": \"ws-{i}\", \"RemoteUrl\": \"x\"}}\n"
        ));
    }
    text.push_str("{\"Timestamp\": \"2026-05-31T09:00:00Z\", \"DeviceName\": \n");
    std::fs::write(dir.path().join("ev.jsonl"), text).unwrap();
    rmmc()
        .args([
            "eval",
            "examples/deployed/kql/netsupport-netconn.kql",
            "--events",
        ])
        .arg(dir.path().join("ev.jsonl"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("ev.jsonl:5001"))
        .stderr(predicate::str::contains("one JSON object"));
}

/// Only the fields the rule reads are decoded, but a matching event is printed whole.
#[test]
fn matching_events_are_printed_whole() {
    let dir = tempfile::tempdir().unwrap();
    let ev = r#"{"@timestamp": "2026-05-31T09:00:00Z", "event": {"category": ["network"]}, "host": {"name": "ws-1"}, "destination": {"domain": "geo.netsupportsoftware.com"}, "process": {"pe": {"company": "NetSupport Ltd"}}, "extra": [1, {"a": null}]}"#;
    std::fs::write(dir.path().join("ev.jsonl"), ev).unwrap();
    let (rows, _) = run_one(
        Path::new("examples/deployed/elastic/netsupport-netconn.eql"),
        &dir.path().join("ev.jsonl"),
    );
    let got: serde_json::Value = serde_json::from_str(rows.trim()).unwrap();
    let want: serde_json::Value = serde_json::from_str(ev).unwrap();
    assert_eq!(got, want);
}

/// `A|fieldref: B` compares field A with field B of the same event
/// (sigmahq.io/docs/basics/modifiers, "fieldref"): B is read although the rule never names it
/// as a key, so it must be decoded too. Before, only keys were decoded and such a rule matched
/// nothing.
#[test]
fn a_fieldref_rule_reads_the_field_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let rule = "title: same host\nlogsource: {product: windows, category: network_connection}\ndetection:\n  sel: {SourceHostname|fieldref: DestinationHostname}\n  condition: sel\n";
    std::fs::write(dir.path().join("r.yml"), rule).unwrap();
    let same = r#"{"EventID":3,"SourceHostname":"a","DestinationHostname":"a"}"#;
    let other = r#"{"EventID":3,"SourceHostname":"a","DestinationHostname":"b"}"#;
    std::fs::write(dir.path().join("ev.jsonl"), format!("{same}\n{other}\n")).unwrap();
    let (rows, _) = run_one(&dir.path().join("r.yml"), &dir.path().join("ev.jsonl"));
    let got: Vec<serde_json::Value> = rows
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let want: serde_json::Value = serde_json::from_str(same).unwrap();
    assert_eq!(got, vec![want]);
}

/// One thread or several decoding: the same rows, hit table and errors.
#[test]
fn threads_do_not_change_the_result() {
    let dir = native();
    let events = dir.path().join("native/DeviceNetworkEvents.jsonl");
    let run = |threads: &str| {
        rmmc()
            .args([
                "eval",
                "examples/deployed/kql",
                "--rows",
                "jsonl",
                "--events",
            ])
            .arg(&events)
            .args(["--now", NOW, "--threads", threads])
            .output()
            .unwrap()
    };
    let one = run("1");
    assert_eq!(one.status.code(), Some(0));
    assert!(!one.stdout.is_empty());
    for t in ["2", "5"] {
        let other = run(t);
        assert_eq!(other.stdout, one.stdout, "--threads {t}");
        assert_eq!(other.stderr, one.stderr, "--threads {t}");
    }
}

/// A CSV export (header row; cells typed by the KQL table schema for KQL rules) gives the
/// rows its JSON-lines twin gives.
#[test]
fn csv_exports_give_the_rows_of_their_json_twins() {
    let dir = native();
    let jsonl = dir.path().join("native/DeviceNetworkEvents.jsonl");
    let events: Vec<serde_json::Map<String, serde_json::Value>> = std::fs::read_to_string(&jsonl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut cols: Vec<String> = Vec::new();
    for e in &events {
        for k in e.keys() {
            if !cols.contains(k) {
                cols.push(k.clone());
            }
        }
    }
    let csv_path = dir.path().join("DeviceNetworkEvents.csv");
    let mut w = csv::Writer::from_path(&csv_path).unwrap();
    w.write_record(&cols).unwrap();
    for e in &events {
        w.write_record(cols.iter().map(|c| match e.get(c) {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        }))
        .unwrap();
    }
    w.flush().unwrap();
    for art in [
        "examples/deployed/kql/netsupport-netconn.kql",
        "examples/deployed/kql/netsupport-ioc-endpoint.kql",
        "examples/deployed/kql/supremo-netconn.kql",
    ] {
        let (a, _) = run_one(Path::new(art), &jsonl);
        let (b, _) = run_one(Path::new(art), &csv_path);
        assert!(!a.is_empty(), "{art}");
        assert_eq!(a, b, "{art}");
    }
}

/// A Parquet export (zstd-compressed, as data lakes write it) gives the rows its JSON-lines twin
/// gives, for one artifact and for a build folder's every rule in one read (where only the
/// columns the rules read are decoded).
#[test]
fn parquet_exports_give_the_rows_of_their_json_twins() {
    use parquet::arrow::ArrowWriter;
    use parquet::basic::{Compression, ZstdLevel};
    use parquet::file::properties::WriterProperties;
    let dir = native();
    let jsonl = dir.path().join("native/DeviceNetworkEvents.jsonl");
    let text = std::fs::read_to_string(&jsonl).unwrap();
    let (schema, _) =
        arrow_json::reader::infer_json_schema(std::io::Cursor::new(text.as_bytes()), None).unwrap();
    let schema = std::sync::Arc::new(schema);
    let reader = arrow_json::ReaderBuilder::new(schema.clone())
        .build(std::io::Cursor::new(text.as_bytes()))
        .unwrap();
    let pq_path = dir.path().join("DeviceNetworkEvents.parquet");
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    let mut w = ArrowWriter::try_new(
        std::fs::File::create(&pq_path).unwrap(),
        schema,
        Some(props),
    )
    .unwrap();
    for batch in reader {
        w.write(&batch.unwrap()).unwrap();
    }
    w.close().unwrap();
    for art in [
        "examples/deployed/kql/netsupport-netconn.kql",
        "examples/deployed/kql/netsupport-ioc-endpoint.kql",
        "examples/deployed/kql/supremo-netconn.kql",
        "examples/deployed/kql",
    ] {
        let (a, _) = run_one(Path::new(art), &jsonl);
        let (b, _) = run_one(Path::new(art), &pq_path);
        assert!(!a.is_empty(), "{art}");
        assert_eq!(a, b, "{art}");
    }
}

/// `--events -` reads standard input (gzip'd or not), and a JSON array of events (pretty-printed,
/// as a portal's "export as JSON" gives it) reads as its events: the same rows as the JSON lines.
#[test]
fn stdin_and_json_arrays_give_the_rows_of_the_json_lines() {
    let dir = native();
    let jsonl = dir.path().join("native/DeviceNetworkEvents.jsonl");
    let text = std::fs::read_to_string(&jsonl).unwrap();
    let art = "examples/deployed/kql/netsupport-netconn.kql";
    let (expected, _) = run_one(Path::new(art), &jsonl);
    assert!(!expected.is_empty());
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let array = serde_json::to_string_pretty(&events).unwrap();
    let array_path = dir.path().join("export.json");
    std::fs::write(&array_path, &array).unwrap();
    assert_eq!(run_one(Path::new(art), &array_path).0, expected);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    for input in [text.into_bytes(), array.into_bytes(), gz.finish().unwrap()] {
        let out = rmmc()
            .args(["eval", art, "--events", "-", "--now", NOW])
            .write_stdin(input)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
    }
    // a cut-off array is bad input, named as such
    rmmc()
        .args(["eval", art, "--events", "-", "--now", NOW])
        .write_stdin("[{\"a\": 1},")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("closing ]"));
}

/// A Sentinel rule or an rmmc spec given to eval is named for what it is, with what to run.
#[test]
fn a_sentinel_rule_or_a_spec_is_not_an_artifact() {
    let dir = native();
    let events = dir.path().join("native/DeviceNetworkEvents.jsonl");
    for (file, says) in [
        (
            "examples/deployed/sentinel/analytic/netsupport-netconn.yaml",
            "a Microsoft Sentinel rule",
        ),
        ("rules/netsupport.yaml", "an rmmc spec"),
    ] {
        rmmc()
            .args(["eval", file, "--events"])
            .arg(&events)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(says));
    }
}

/// `rmmc fixtures` writes every backend's native shape, and each backend's rule finds the
/// NetSupport connection in its own shape.
#[test]
fn fixtures_write_each_backends_shape_and_its_rules_run_on_it() {
    let dir = native();
    for (art, events) in [
        (
            "examples/deployed/kql/netsupport-netconn.kql",
            "DeviceNetworkEvents.jsonl",
        ),
        (
            "examples/deployed/sigma/netsupport-netconn.yml",
            "sigma/network-endpoint.jsonl",
        ),
        (
            "examples/deployed/splunk/netsupport-netconn.spl",
            "splunk/network-endpoint.jsonl",
        ),
        (
            "examples/deployed/elastic/netsupport-netconn.eql",
            "elastic/network-endpoint.jsonl",
        ),
    ] {
        let (out, _) = run_one(Path::new(art), &dir.path().join("native").join(events));
        assert!(
            out.contains("geo.netsupportsoftware.com"),
            "{art} over {events}: {out}"
        );
    }
}

/// An old export run against the clock gives no rows, and the note says why and what to pass;
/// as of the export's own time (`--now`) there is no note.
#[test]
fn no_rows_over_an_old_export_says_to_pass_now() {
    let dir = native();
    let events = dir.path().join("native/DeviceNetworkEvents.jsonl");
    let art = "examples/deployed/kql/netsupport-netconn.kql";
    rmmc()
        .args(["eval", art, "--events"])
        .arg(&events)
        .assert()
        .code(0)
        .stderr(predicate::str::contains(
            "the newest of the 19 events (2026-05-31T09:14:00Z)",
        ))
        .stderr(predicate::str::contains("pass --now 2026-05-31T09:14:00Z"));
    let (_, stderr) = run_one(Path::new(art), &events);
    assert!(!stderr.contains("pass --now"), "{stderr}");
}

/// A query that parses but fails while running names the pipeline stage that failed by line
/// and column (the parser's location of each KQL operator and SPL command), for a leading
/// filter run event by event and for a stage after the aggregation alike.
#[test]
fn a_run_time_error_names_the_stage_by_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "lead.kql",
            "DeviceNetworkEvents\n| where Timestamp > ago(5d)\n| where not(RemotePort)\n",
            r#"{"Timestamp":"2026-05-31T10:00:00Z","RemotePort":443}"#,
            "lead.kql: in the stage at line 3, column 3: not() needs a bool",
        ),
        (
            "late.kql",
            "DeviceNetworkEvents\n| summarize n=count() by RemotePort\n| where not(n)\n",
            r#"{"Timestamp":"2026-05-31T10:00:00Z","RemotePort":443}"#,
            "late.kql: in the stage at line 3, column 3: not() needs a bool",
        ),
        (
            "lead.spl",
            "index=* sourcetype=x\n| eval y=1\n| where y\n",
            r#"{"_time":"2026-05-31T10:00:00Z","index":"a","sourcetype":"x"}"#,
            "lead.spl: in the stage at line 3, column 3: where: the expression 'y' is not a boolean",
        ),
        (
            "late.spl",
            "index=* sourcetype=x\n| stats count by a\n|   where a\n",
            r#"{"_time":"2026-05-31T10:00:00Z","index":"a","sourcetype":"x","a":"b"}"#,
            "late.spl: in the stage at line 3, column 5: where: the expression 'a' is not a boolean",
        ),
    ];
    for (name, query, event, expected) in cases {
        let q = dir.path().join(name);
        std::fs::write(&q, query).unwrap();
        rmmc()
            .arg("eval")
            .arg(&q)
            .args(["--events", "-", "--now", NOW])
            .write_stdin(format!("{event}\n"))
            .assert()
            .code(2)
            .stderr(predicate::str::contains(expected));
    }
}
