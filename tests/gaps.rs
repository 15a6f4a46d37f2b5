//! A backend that cannot express part of a detection fails the build, unless the detection
//! declares the gap; then the part is dropped soundly (the rule gets wider, never narrower)
//! and the artifact says so.

use rmmc::build::{self, BuildOptions, BuildResult, Target};
use rmmc::diag::{DiagKind, Fidelity};

const SPEC: &str = r#"
id: gapdemo
vendor: GapDemo
description: Firewall logs lack process metadata.
date: 2026-11-25
severity: low
attack: { tactics: [CommandAndControl], techniques: [T1219] }
window: 1d
detections:
  net:
    title: Network Connection
    category: network
    sources: [endpoint, firewall]
    where:
      all:
        - remote_domain: { domain: [gapdemo.example] }
        - initiating_company: { term: [GapDemo] }
    output:
      project:
        endpoint: [timestamp, device_name, remote_domain]
        firewall: [timestamp, device_name, remote_domain]
    GAPS
exclusions:
  updater:
    reason: The vendor's updater talks to the same domain.
    where:
      any:
        - initiating_process_name: { exact: [updater.exe] }
        - initiating_command_line: { contains: [--update] }
"#;

fn build(gaps: &str) -> BuildResult {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("g.yaml"), SPEC.replace("GAPS", gaps)).unwrap();
    let specs = rmmc::spec::load_dir(dir.path()).unwrap_or_else(|d| panic!("{d:?}"));
    build::compile(
        &specs,
        &BuildOptions::only(&[Target::Kql, Target::Sentinel]),
    )
}

#[test]
fn undeclared_gap_fails_for_that_source_only() {
    let res = build("");
    let errors: Vec<_> = res.diags.iter().filter(|d| d.is_error()).collect();
    // the predicate and the exclusion each need a column CommonSecurityLog lacks
    assert_eq!(errors.len(), 2, "{errors:#?}");
    for e in &errors {
        assert_eq!(e.kind, DiagKind::Fidelity(Fidelity::Inexpressible));
        assert!(e.message.contains("CommonSecurityLog"), "{}", e.message);
        assert!(e
            .help
            .as_deref()
            .unwrap()
            .contains("gaps: { kql: <reason> }"));
    }
    assert!(
        errors[0]
            .message
            .contains("initiating_company term [GapDemo]"),
        "{}",
        errors[0].message
    );
    // the endpoint rule is still built; the firewall one is not
    assert!(res.files.contains_key("kql/gapdemo-net-endpoint.kql"));
    assert!(!res.files.contains_key("kql/gapdemo-net-firewall.kql"));
}

#[test]
fn declared_gap_widens_soundly_and_is_reported() {
    let res = build("gaps: { kql: CEF has no process metadata; the domain alone is matched }");
    assert!(!res.diags.iter().any(|d| d.is_error()), "{:#?}", res.diags);
    let kql = &res.files["kql/gapdemo-net-firewall.kql"];
    assert!(kql.contains("| where DestinationHostName =~ 'gapdemo.example' or DestinationHostName endswith '.gapdemo.example'\n"), "{kql}");
    assert!(
        !kql.contains("GapDemo'"),
        "the company match is dropped: {kql}"
    );
    // exclusion any(name, cmdline): CEF has SourceProcessName but no command line, so only the
    // name part is kept: excluding less keeps the rule wider.
    assert!(
        kql.contains("| where not(SourceProcessName =~ 'updater.exe')\n"),
        "{kql}"
    );
    let wider: Vec<_> = res
        .diags
        .iter()
        .filter(|d| {
            d.kind == DiagKind::Fidelity(Fidelity::Wider) && d.message.contains("declared gap")
        })
        .collect();
    assert_eq!(wider.len(), 2, "{wider:#?}");
    let analytic = &res.files["sentinel/analytic/gapdemo-net-firewall.yaml"];
    assert!(
        analytic
            .contains("Known gap (KQL matches more than the spec): CEF has no process metadata"),
        "{analytic}"
    );
    // the endpoint rule can express everything: untouched, no gap in its description
    let endpoint = &res.files["kql/gapdemo-net-endpoint.kql"];
    assert!(endpoint.contains("InitiatingProcessVersionInfoCompanyName has 'GapDemo'"));
    assert!(!res.files["sentinel/analytic/gapdemo-net-endpoint.yaml"].contains("Known gap"));
}

#[test]
fn explain_lists_dropped_matches_as_inexpressible() {
    let res = build("gaps: { kql: CEF has no process metadata }");
    let dropped: Vec<_> = res
        .renderings
        .iter()
        .filter(|r| r.fidelity == Fidelity::Inexpressible)
        .map(|r| (r.part.as_str(), r.predicate.as_str()))
        .collect();
    assert_eq!(
        dropped,
        vec![
            ("detection", "initiating_company term [GapDemo]"),
            (
                "exclusion updater",
                "initiating_command_line contains [--update]"
            ),
        ]
    );
}
