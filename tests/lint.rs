//! `rmmc check --artifacts`: Sentinel analytic rules against the published constraints. Each
//! case breaks one constraint of a real emitted rule and expects exactly that key to be named,
//! at its line.

use assert_cmd::Command;
use rmmc::lint::sentinel::analytic_rule;
use std::path::Path;

const GOOD: &str =
    include_str!("../examples/deployed/sentinel/analytic/netsupport-ioc-endpoint.yaml");

fn replace(from: &str, to: &str) -> String {
    assert!(GOOD.contains(from), "fixture lacks {from:?}");
    GOOD.replacen(from, to, 1)
}

fn messages(text: &str) -> Vec<String> {
    analytic_rule(Path::new("rule.yaml"), text)
        .iter()
        .map(|d| {
            let at = d
                .span
                .map(|s| format!("{}:{}", s.line, s.col))
                .unwrap_or_default();
            format!("{at} {}", d.message)
        })
        .collect()
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .expect("needle in text")
        + 1
}

#[test]
fn emitted_rules_are_clean() {
    for entry in std::fs::read_dir("examples/deployed/sentinel/analytic").unwrap() {
        let p = entry.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(messages(&text), Vec::<String>::new(), "{}", p.display());
    }
}

#[test]
fn each_broken_constraint_is_named_at_its_line() {
    let long_name = format!("name: \"{}\"", "x".repeat(257));
    let cases: Vec<(&str, String, &str, &str)> = vec![
        // (what, broken rule, key named in the message, text on the reported line)
        (
            "id not a GUID",
            replace("id: ", "id: not-a-guid-"),
            "id:",
            "id:",
        ),
        (
            "kind",
            replace("kind: Scheduled", "kind: Hourly"),
            "kind:",
            "kind:",
        ),
        (
            "name too long",
            {
                let start = GOOD.find("name: ").unwrap();
                let end = start + GOOD[start..].find('\n').unwrap();
                format!("{}{}{}", &GOOD[..start], long_name, &GOOD[end..])
            },
            "name:",
            "name:",
        ),
        (
            "severity",
            replace("severity: Medium", "severity: Critical"),
            "severity:",
            "severity:",
        ),
        (
            "unknown connector",
            replace(
                "connectorId: \"MicrosoftThreatProtection\"",
                "connectorId: \"Nope\"",
            ),
            "requiredDataConnectors[0].connectorId",
            "connectorId",
        ),
        (
            "connector does not fill the type",
            replace("- \"DeviceNetworkEvents\"", "- \"CommonSecurityLog\""),
            "requiredDataConnectors[0].dataTypes[0]",
            "CommonSecurityLog",
        ),
        (
            "frequency out of range",
            replace("queryFrequency: 1h", "queryFrequency: 2m"),
            "queryFrequency",
            "queryFrequency",
        ),
        (
            "period shorter than frequency",
            replace("queryFrequency: 1h", "queryFrequency: 6d"),
            "queryPeriod",
            "queryPeriod",
        ),
        (
            "period over 14d",
            replace("queryPeriod: 5d", "queryPeriod: 15d"),
            "queryPeriod",
            "queryPeriod",
        ),
        (
            "trigger operator",
            replace("triggerOperator: gt", "triggerOperator: gte"),
            "triggerOperator",
            "triggerOperator",
        ),
        (
            "trigger threshold",
            replace("triggerThreshold: 0", "triggerThreshold: 10001"),
            "triggerThreshold",
            "triggerThreshold",
        ),
        (
            "technique outside the tactics",
            replace("  - CommandAndControl", "  - Execution"),
            "relevantTechniques[0]",
            "T1219",
        ),
        (
            "malformed technique",
            replace("  - T1219", "  - T12"),
            "relevantTechniques[0]",
            "T12",
        ),
        (
            "unknown entity type",
            replace("entityType: Host", "entityType: Hostname"),
            "entityMappings[0].entityType",
            "Hostname",
        ),
        (
            "identifier of another entity",
            replace("identifier: HostName", "identifier: Address"),
            "entityMappings[0].fieldMappings[0].identifier",
            "Address",
        ),
        (
            "version",
            replace("version: 1.0.0", "version: 1.0"),
            "version",
            "version",
        ),
        (
            "missing key",
            replace("triggerOperator: gt\n", ""),
            "missing key `triggerOperator`",
            "id:",
        ),
    ];
    for (what, text, key, line_text) in cases {
        let got = messages(&text);
        let line = line_of(&text, line_text);
        assert!(
            got.iter()
                .any(|m| m.contains(key) && m.starts_with(&format!("{line}:"))),
            "{what}: no violation naming {key} at line {line} in {got:#?}"
        );
        // One broken constraint, one message; a data type the connector does not fill also
        // leaves the query's table uncovered, which is a second real violation.
        let allowed = if what.starts_with("connector does not fill") {
            2
        } else {
            1
        };
        assert_eq!(got.len(), allowed, "{what}: {got:#?}");
    }
}

#[test]
fn query_must_be_covered_by_a_connector() {
    // The query reads CommonSecurityLog but the connector lists DeviceNetworkEvents.
    let text = replace("  DeviceNetworkEvents\n", "  CommonSecurityLog\n");
    let got = messages(&text);
    assert!(
        got.iter().any(|m| m.contains("reads CommonSecurityLog")),
        "{got:?}"
    );
}

#[test]
fn too_many_entity_mappings() {
    let extra = "  - entityType: IP\n    fieldMappings:\n      - identifier: Address\n        columnName: RemoteIP\n".repeat(5);
    let text = replace("entityMappings:\n", &format!("entityMappings:\n{extra}"));
    let got = messages(&text);
    assert!(
        got.iter().any(|m| m.contains("Sentinel allows 1 to 5")),
        "{got:?}"
    );
}

#[test]
fn cli_exit_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    std::fs::create_dir_all(dir.join("sentinel/analytic")).unwrap();
    let rule = dir.join("sentinel/analytic/x.yaml");
    std::fs::write(&rule, GOOD).unwrap();
    let run = |d: &Path| {
        let o = Command::cargo_bin("rmmc")
            .unwrap()
            .args(["check", "rules", "--artifacts"])
            .arg(d)
            .output()
            .unwrap();
        (
            o.status.code().unwrap(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )
    };
    let (code, _, out) = run(&dir);
    assert_eq!(code, 0);
    assert!(
        out.contains("1 checked (Sentinel analytic rules, KQL queries), 0 violations"),
        "{out}"
    );

    std::fs::write(
        &rule,
        GOOD.replacen("severity: Medium", "severity: Critical", 1),
    )
    .unwrap();
    let (code, err, _) = run(&dir);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("severity") && err.contains("x.yaml:"), "{err}");

    let (code, err, _) = run(&tmp.path().join("missing"));
    assert_eq!(code, 2, "{err}");
}

#[test]
fn kql_files_bind_against_the_table_schemas() {
    use rmmc::lint::kql_query;
    let good = std::fs::read_to_string("examples/deployed/kql/netsupport-netconn.kql").unwrap();
    assert!(kql_query(Path::new("q.kql"), &good).is_empty());
    let bad = good.replace("DeviceName, RemoteUrl", "DeviceName, AccountUpn");
    let got: Vec<String> = kql_query(Path::new("q.kql"), &bad)
        .iter()
        .map(|d| d.message.clone())
        .collect();
    assert!(
        got.iter()
            .any(|m| m.contains("AccountUpn") && m.contains("InitiatingProcessAccountUpn")),
        "{got:?}"
    );
    let broken = good.replace("| where", "| wher");
    let d = kql_query(Path::new("q.kql"), &broken);
    assert!(d[0].span.is_some_and(|s| s.line > 1), "{d:?}");
}
