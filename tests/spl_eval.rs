//! The SPL evaluator on the deployed Splunk artifacts: every `examples/deployed/splunk/*.spl`
//! is parsed from its text and run over hand-written Sysmon / CIM shaped events — for each,
//! hits, near misses and excluded events — and the result rows are the ones reasoned out by
//! hand from the search text (not from the spec or the IR).

use rmmc::eval::spl;
use rmmc::eval::time::parse_rfc3339;
use serde_json::{json, Map, Value};
use std::path::Path;

const SYSMON: &str = "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational";

fn now() -> i128 {
    parse_rfc3339("2026-06-01T12:00:00Z").unwrap()
}

/// Epoch seconds of `2026-06-01T12:00:00Z` minus `h` hours.
fn secs_ago(h: i64) -> i64 {
    1_780_315_200 - h * 3600
}

fn at(h: i64) -> Value {
    json!(rmmc::eval::time::format_rfc3339(
        i128::from(secs_ago(h)) * 1_000_000_000
    ))
}

/// A Sysmon event with the base-search fields set, plus `extra`.
fn sysmon(code: u32, hours_ago: i64, extra: Value) -> Value {
    let mut e = json!({
        "index": "wineventlog",
        "sourcetype": SYSMON,
        "EventCode": code,
        "_time": at(hours_ago),
        "host": "ws1",
        "Computer": "WS1.corp.example",
    });
    for (k, v) in extra.as_object().unwrap() {
        e[k] = v.clone();
    }
    e
}

fn run(file: &str, events: &[Value]) -> Vec<Value> {
    let text = std::fs::read_to_string(file).unwrap();
    let s = spl::parse(&text).unwrap_or_else(|e| panic!("{file}:{e}"));
    let evs: Vec<Map<String, Value>> = events
        .iter()
        .map(|e| e.as_object().unwrap().clone())
        .collect();
    s.run(&evs, now())
        .unwrap_or_else(|e| panic!("{file}: {e}"))
        .into_iter()
        .map(Value::Object)
        .collect()
}

fn action1() -> Vec<Value> {
    let conn = |h: i64, dest: &str, image: &str, ip: &str, rec: u32| {
        sysmon(
            3,
            h,
            json!({"DestinationHostname": dest, "Image": image, "DestinationIp": ip,
                   "SourceIp": "10.1.1.5", "RecordID": rec}),
        )
    };
    let agent = "C:\\Program Files\\Action1\\action1_agent.exe";
    vec![
        // hits (the term is case-insensitive except that the emitter pins `s`; S/s both pass)
        conn(2, "server.action1.com", agent, "52.1.1.1", 11),
        conn(1, "Server.Action1.COM", agent, "52.1.1.1", 12),
        conn(3, "server.action1.com", agent, "52.1.1.1", 13),
        // near misses: not a whole term / other domain / other EventCode / too old
        conn(1, "xserver.action1.com", agent, "52.1.1.1", 20),
        conn(1, "server.action1.co", agent, "52.1.1.1", 21),
        sysmon(
            1,
            1,
            json!({"DestinationHostname": "server.action1.com", "RecordID": 22}),
        ),
        conn(6 * 24, "server.action1.com", agent, "52.1.1.1", 23),
        // excluded: sccm basename, solarwinds address, kaseya basename
        conn(
            1,
            "server.action1.com",
            "C:\\Windows\\CCM\\SETUP.EXE",
            "52.1.1.1",
            30,
        ),
        conn(1, "server.action1.com", agent, "10.10.10.20", 31),
        conn(1, "server.action1.com", "D:\\kaseya", "52.1.1.1", 32),
    ]
}

fn createproc() -> Vec<Value> {
    let proc_ = |rec: u32, company: &str, parent: &str, cmd: &str, user: &str| {
        sysmon(
            1,
            i64::from(rec % 5) + 1,
            json!({"Company": company, "ParentImage": parent, "CommandLine": cmd,
                   "User": user, "RecordID": rec}),
        )
    };
    let explorer = "C:\\Windows\\explorer.exe";
    vec![
        // hits
        proc_(
            1,
            "NetSupport Ltd",
            explorer,
            "client32.exe /s",
            "CORP\\alice",
        ),
        proc_(2, "netsupport", explorer, "client32.exe", "CORP\\bob"),
        // near misses: `netsupportive` is not the term; company missing; wrong EventCode
        proc_(3, "NetSupportive Inc", explorer, "x", "CORP\\carol"),
        sysmon(1, 1, json!({"ParentImage": explorer, "RecordID": 4})),
        sysmon(3, 1, json!({"Company": "NetSupport Ltd", "RecordID": 5})),
        // excluded: scheduled task parent, IT support user (basename), GroupPolicy command line
        proc_(
            6,
            "NetSupport Ltd",
            "C:\\Windows\\System32\\SchTasks.exe",
            "x",
            "CORP\\dave",
        ),
        proc_(7, "NetSupport Ltd", explorer, "x", "CORP\\ITSupportUser"),
        proc_(
            8,
            "NetSupport Ltd",
            explorer,
            "gpo GroupPolicy run",
            "CORP\\erin",
        ),
    ]
}

fn ioc_endpoint() -> Vec<Value> {
    let conn = |h: i64, extra: Value| sysmon(3, h, extra);
    vec![
        // hits: destination match (older) and source match without an Image (newest)
        conn(
            5,
            json!({"DestinationIp": "95.85.246.53", "DestinationPort": 443, "Initiated": "true",
                   "Image": "C:\\Users\\bob\\AppData\\Roaming\\client32.exe", "User": "CORP\\bob"}),
        ),
        conn(
            1,
            json!({"SourceIp": "101.109.237.93", "DestinationPort": 51000}),
        ),
        // near misses: look-alike address; wrong EventCode
        conn(2, json!({"DestinationIp": "95.85.246.530"})),
        sysmon(1, 2, json!({"DestinationIp": "95.85.246.53"})),
        // excluded: sanctioned install path (case-insensitive), training machine, training user
        conn(
            3,
            json!({"DestinationIp": "95.85.246.53", "Image": "c:\\program files\\netsupport\\client32.exe"}),
        ),
        conn(
            3,
            json!({"DestinationIp": "101.109.237.93", "Computer": "training_vm_01"}),
        ),
        conn(
            3,
            json!({"DestinationIp": "101.109.237.93", "User": "LAB\\Training_Admin"}),
        ),
    ]
}

fn ioc_firewall() -> Vec<Value> {
    vec![
        // hit
        json!({"index": "fw", "tag": ["network", "communicate"], "_time": at(2),
               "src_ip": "10.0.0.5", "dest_ip": "95.85.246.53", "dest_port": 443, "action": "allowed"}),
        // hit on the source side, newer
        json!({"index": "fw", "tag": ["communicate", "network", "firewall"], "_time": at(1),
               "src_ip": "101.109.237.93", "dest_ip": "10.0.0.9", "dest_port": 5405,
               "action": "blocked", "vendor_action": "deny"}),
        // near misses: only one of the two tags; look-alike address; no index
        json!({"index": "fw", "tag": ["network"], "_time": at(1), "dest_ip": "95.85.246.53"}),
        json!({"index": "fw", "tag": ["network", "communicate"], "_time": at(1), "dest_ip": "95.85.246.5"}),
        json!({"tag": ["network", "communicate"], "_time": at(1), "dest_ip": "95.85.246.53"}),
    ]
}

fn netconn(hits: &[&str], misses: &[&str]) -> Vec<Value> {
    let mut out = Vec::new();
    for (i, d) in hits.iter().chain(misses).enumerate() {
        out.push(sysmon(
            3,
            i as i64 + 1,
            json!({"DestinationHostname": d, "RecordID": 100 + i}),
        ));
    }
    out
}

#[test]
fn every_deployed_search_gives_the_hand_checked_rows() {
    let dir = Path::new("examples/deployed/splunk");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "spl"))
        .collect();
    files.sort();
    assert_eq!(
        files.len(),
        6,
        "a new deployed search needs its hand-checked case here"
    );
    for path in files {
        let file = path.to_str().unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        let (events, want) = match name {
            "action1-netconn.spl" => (
                action1(),
                vec![
                    // sorted by host, Computer, DestinationHostname: "Server…" < "server…"
                    json!({"host": "ws1", "Computer": "WS1.corp.example",
                           "DestinationHostname": "Server.Action1.COM",
                           "FirstSeen": secs_ago(1), "LastSeen": secs_ago(1), "Report": ["12"], "Count": 1}),
                    json!({"host": "ws1", "Computer": "WS1.corp.example",
                           "DestinationHostname": "server.action1.com",
                           "FirstSeen": secs_ago(3), "LastSeen": secs_ago(2), "Report": ["11", "13"], "Count": 2}),
                ],
            ),
            "netsupport-createproc.spl" => (
                createproc(),
                vec![json!({"host": "ws1", "Computer": "WS1.corp.example",
                            "FirstSeen": secs_ago(3), "LastSeen": secs_ago(2),
                            "Report": ["1", "2"], "Count": 2})],
            ),
            "netsupport-ioc-endpoint.spl" => (
                ioc_endpoint(),
                vec![
                    // newest first; the eval line made the missing DestinationIp and Image empty strings
                    json!({"_time": at(1), "Computer": "WS1.corp.example", "DestinationIp": "",
                           "DestinationPort": 51000, "Image": ""}),
                    json!({"_time": at(5), "Computer": "WS1.corp.example",
                           "DestinationIp": "95.85.246.53", "DestinationPort": 443,
                           "Image": "C:\\Users\\bob\\AppData\\Roaming\\client32.exe", "Initiated": "true"}),
                ],
            ),
            "netsupport-ioc-firewall.spl" => (
                ioc_firewall(),
                vec![
                    json!({"_time": at(1), "src_ip": "101.109.237.93", "dest_ip": "10.0.0.9",
                           "dest_port": 5405, "action": "blocked", "vendor_action": "deny"}),
                    json!({"_time": at(2), "src_ip": "10.0.0.5", "dest_ip": "95.85.246.53",
                           "dest_port": 443, "action": "allowed"}),
                ],
            ),
            "netsupport-netconn.spl" => (
                netconn(
                    &["netsupportsoftware.com", "geo.NetSupportSoftware.com"],
                    &["netsupportsoftware.co", "xnetsupportsoftware.com", ""],
                ),
                vec![
                    json!({"host": "ws1", "Computer": "WS1.corp.example",
                           "DestinationHostname": "geo.NetSupportSoftware.com",
                           "FirstSeen": secs_ago(2), "LastSeen": secs_ago(2), "Report": ["101"], "Count": 1}),
                    json!({"host": "ws1", "Computer": "WS1.corp.example",
                           "DestinationHostname": "netsupportsoftware.com",
                           "FirstSeen": secs_ago(1), "LastSeen": secs_ago(1), "Report": ["100"], "Count": 1}),
                ],
            ),
            "supremo-netconn.spl" => (
                netconn(
                    &["www.supremocontrol.com", "nanosystems.it"],
                    &["mysupremocontrol.com", "nanosystems.iterate.net"],
                ),
                vec![
                    json!({"host": "ws1", "Computer": "WS1.corp.example",
                           "DestinationHostname": "nanosystems.it",
                           "FirstSeen": secs_ago(2), "LastSeen": secs_ago(2), "Report": ["101"], "Count": 1}),
                    json!({"host": "ws1", "Computer": "WS1.corp.example",
                           "DestinationHostname": "www.supremocontrol.com",
                           "FirstSeen": secs_ago(1), "LastSeen": secs_ago(1), "Report": ["100"], "Count": 1}),
                ],
            ),
            other => panic!("no hand-checked case for {other}"),
        };
        assert_eq!(run(file, &events), want, "{name}");
    }
}

#[test]
fn deployed_searches_read_the_fields_they_name() {
    let text =
        std::fs::read_to_string("examples/deployed/splunk/netsupport-ioc-firewall.spl").unwrap();
    let s = spl::parse(&text).unwrap();
    assert_eq!(
        s.input_fields(),
        vec![
            "_time",
            "action",
            "dest_ip",
            "dest_port",
            "index",
            "src_ip",
            "tag",
            "vendor_action"
        ]
    );
}
