//! Evaluator throughput: the shipped KQL artifacts over 100,000 generated Defender rows.
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
