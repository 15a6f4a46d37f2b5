//! Evaluator throughput: the shipped KQL, EQL, SPL and Sigma artifacts over 100,000 generated
//! events (Defender rows, ECS documents, Sysmon objects).
//! `cargo bench --bench eval`; events per second = 100,000 / time per iteration.

use rmmc::build::{self, BuildOptions, Target};
use rmmc::eval::kql::{interp, parser};
use std::path::Path;

const EVENTS: usize = 100_000;

fn main() {
    divan::main();
}

fn rows() -> Vec<interp::Row> {
    let now = 1_780_000_000_000_000_000i128;
    let domains = [
        "geo.netsupportsoftware.com",
        "server.action1.com",
        "www.microsoft.com",
        "xnetsupportsoftware.com",
        "update.nanosystems.it",
    ];
    let companies = [
        "NetSupport Ltd",
        "Action1 Corporation",
        "Microsoft Corporation",
        "NanoSystems S.r.l.",
    ];
    (0..EVENTS)
        .map(|i| {
            let mut r = interp::Row::new();
            r.insert(
                "Timestamp".into(),
                interp::Value::DateTime(now - (i as i128 % 600) * 1_000_000_000 * 60 * 60 / 50),
            );
            r.insert(
                "DeviceId".into(),
                interp::Value::Str(format!("dev-{}", i % 500)),
            );
            r.insert(
                "DeviceName".into(),
                interp::Value::Str(format!("ws-{}", i % 500)),
            );
            r.insert("ReportId".into(), interp::Value::Long(i as i64));
            r.insert(
                "RemoteUrl".into(),
                interp::Value::Str(domains[i % domains.len()].into()),
            );
            r.insert(
                "RemoteIP".into(),
                interp::Value::Str(format!("95.85.{}.{}", i % 256, (i / 256) % 256)),
            );
            r.insert("RemotePort".into(), interp::Value::Long(443));
            r.insert(
                "InitiatingProcessVersionInfoCompanyName".into(),
                interp::Value::Str(companies[i % companies.len()].into()),
            );
            r.insert(
                "InitiatingProcessVersionInfoProductName".into(),
                interp::Value::Str("Action1 RMM".into()),
            );
            r.insert(
                "InitiatingProcessFileName".into(),
                interp::Value::Str("client32.exe".into()),
            );
            r.insert(
                "InitiatingProcessCommandLine".into(),
                interp::Value::Str("client32.exe /silent".into()),
            );
            r
        })
        .collect()
}

/// The network-connection queries of the shipped rules (3-predicate Action1 among them).
fn queries() -> Vec<(String, rmmc::eval::kql::ast::Query)> {
    let specs = rmmc::spec::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")).unwrap();
    let res = build::compile(&specs, &BuildOptions::only(&[Target::Kql]));
    res.files
        .iter()
        .filter(|(p, t)| p.ends_with(".kql") && t.contains("DeviceNetworkEvents"))
        .map(|(p, t)| (p.clone(), parser::parse(t).unwrap()))
        .collect()
}

#[divan::bench(sample_count = 5, args = ["kql/action1-netconn.kql", "kql/netsupport-netconn.kql", "kql/supremo-netconn.kql", "kql/netsupport-ioc-endpoint.kql"])]
fn kql_100k_events(bencher: divan::Bencher, artifact: &str) {
    let rows = rows();
    let (_, q) = queries().into_iter().find(|(p, _)| p == artifact).unwrap();
    let now = 1_780_000_000_000_000_000i128;
    bencher
        .counter(divan::counter::ItemsCount::new(EVENTS))
        .bench(|| interp::run(&q, &rows, now).unwrap().len());
}

#[divan::bench(sample_count = 5)]
fn parse_all_shipped_kql(bencher: divan::Bencher) {
    let specs = rmmc::spec::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")).unwrap();
    let res = build::compile(&specs, &BuildOptions::only(&[Target::Kql]));
    bencher.bench(|| {
        res.files
            .values()
            .map(|t| parser::parse(t).unwrap().ops.len())
            .sum::<usize>()
    });
}

// ---------------------------------------------------------------------------------------
// The other languages, over the same 100,000 events in their native shapes.
// ---------------------------------------------------------------------------------------

/// The same events as `rows()`, as flat Sysmon EID 3 objects (Sigma, SPL).
fn sysmon() -> Vec<serde_json::Map<String, serde_json::Value>> {
    rows()
        .into_iter()
        .map(|r| {
            let s = |k: &str| match r.get(k) {
                Some(interp::Value::Str(s)) => serde_json::Value::String(s.clone()),
                Some(interp::Value::Long(n)) => (*n).into(),
                _ => serde_json::Value::Null,
            };
            let t = match r.get("Timestamp") {
                Some(interp::Value::DateTime(t)) => (*t / 1_000_000_000) as i64,
                _ => 0,
            };
            let mut m = serde_json::Map::new();
            m.insert("EventCode".into(), 3.into());
            m.insert(
                "sourcetype".into(),
                "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational".into(),
            );
            m.insert("index".into(), "main".into());
            m.insert("_time".into(), t.into());
            m.insert("host".into(), s("DeviceId"));
            m.insert("Computer".into(), s("DeviceName"));
            m.insert("RecordID".into(), s("ReportId"));
            m.insert("DestinationHostname".into(), s("RemoteUrl"));
            m.insert("DestinationIp".into(), s("RemoteIP"));
            m.insert("DestinationPort".into(), s("RemotePort"));
            m.insert("SourceIp".into(), "10.0.0.5".into());
            m.insert("Image".into(), "C:\\Program Files\\client32.exe".into());
            m
        })
        .collect()
}

/// The same events as nested ECS documents (EQL).
fn ecs() -> Vec<serde_json::Value> {
    sysmon()
        .into_iter()
        .zip(rows())
        .map(|(m, r)| {
            let s = |k: &str| match r.get(k) {
                Some(interp::Value::Str(s)) => serde_json::Value::String(s.clone()),
                _ => serde_json::Value::Null,
            };
            serde_json::json!({
                "event": { "category": ["network"] },
                "host": { "id": m["host"], "name": m["Computer"] },
                "destination": { "domain": m["DestinationHostname"], "ip": m["DestinationIp"], "port": 443 },
                "source": { "ip": "10.0.0.5" },
                "process": { "name": "client32.exe", "pe": { "company": s("InitiatingProcessVersionInfoCompanyName"), "product": s("InitiatingProcessVersionInfoProductName") } },
            })
        })
        .collect()
}

fn shipped(target: Target, ext: &str) -> Vec<(String, String)> {
    let specs = rmmc::spec::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")).unwrap();
    let res = build::compile(&specs, &BuildOptions::only(&[target]));
    res.files
        .into_iter()
        .filter(|(p, _)| p.ends_with(ext) && p.contains("netconn"))
        .collect()
}

#[divan::bench(sample_count = 5, args = ["elastic/action1-netconn.eql", "elastic/netsupport-netconn.eql", "elastic/supremo-netconn.eql"])]
fn eql_100k_events(bencher: divan::Bencher, artifact: &str) {
    let events = ecs();
    let (_, text) = shipped(Target::Elastic, ".eql")
        .into_iter()
        .find(|(p, _)| p == artifact)
        .unwrap();
    let q = rmmc::eval::eql::parse(&text).unwrap();
    bencher
        .counter(divan::counter::ItemsCount::new(EVENTS))
        .bench(|| events.iter().filter(|e| q.matches(e).unwrap()).count());
}

#[divan::bench(sample_count = 5, args = ["splunk/action1-netconn.spl", "splunk/netsupport-netconn.spl", "splunk/supremo-netconn.spl"])]
fn spl_100k_events(bencher: divan::Bencher, artifact: &str) {
    let events = sysmon();
    let (_, text) = shipped(Target::Splunk, ".spl")
        .into_iter()
        .find(|(p, _)| p == artifact)
        .unwrap();
    let q = rmmc::eval::spl::parse(&text).unwrap();
    let now = 1_780_000_000_000_000_000i128;
    bencher
        .counter(divan::counter::ItemsCount::new(EVENTS))
        .bench(|| q.run(&events, now).unwrap().len());
}

#[divan::bench(sample_count = 5, args = ["sigma/action1-netconn.yml", "sigma/netsupport-netconn.yml", "sigma/supremo-netconn.yml"])]
fn sigma_rust_100k_events(bencher: divan::Bencher, artifact: &str) {
    // sigma-rust reads its own event type; converting is outside the timed region
    let events: Vec<sigma_rust::Event> = sysmon()
        .into_iter()
        .map(|m| sigma_rust::event_from_json(&serde_json::Value::Object(m).to_string()).unwrap())
        .collect();
    let (_, text) = shipped(Target::Sigma, ".yml")
        .into_iter()
        .find(|(p, _)| p == artifact)
        .unwrap();
    let rule = sigma_rust::rule_from_yaml(&text).unwrap();
    bencher
        .counter(divan::counter::ItemsCount::new(EVENTS))
        .bench(|| events.iter().filter(|e| rule.is_match(e)).count());
}
