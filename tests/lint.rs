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
        out.contains("1 checked (Sentinel analytic rules and hunting queries, KQL, SPL, savedsearches.conf, EQL, Kibana rules), 0 violations"),
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

/// SPL: a `NOT` in a `where` over a value that can be null drops the event. Splunk's where:
/// "The where command returns only the results for which the eval expression returns true"
/// (help.splunk.com, Search Reference, where); a comparison or function of a field the event
/// does not have is null and `NOT null` is null (rmmc's SPL evaluator, `eval::spl::interp`);
/// a search-command `NOT` keeps events without the field ("This includes events that do not
/// have a value in the field", Search Manual, "Difference between != and NOT"). Each row is
/// a hand edit of a real emitted search.
#[test]
fn spl_not_over_a_value_that_can_be_null_is_refused() {
    const SPL: &str = include_str!("../examples/deployed/splunk/netsupport-ioc-endpoint.spl");
    const COALESCED: &str = "| eval DestinationIp=coalesce(DestinationIp, \"\"), SourceIp=coalesce(SourceIp, \"\"), Image=coalesce(Image, \"\"), Computer=coalesce(Computer, \"\"), User=coalesce(User, \"\")\n";
    assert!(SPL.contains(COALESCED));
    let after_eval = |line: &str| SPL.replacen(COALESCED, &format!("{COALESCED}{line}\n"), 1);
    let hazards = |text: &str| {
        let s = rmmc::eval::spl::parse(text).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
        rmmc::lint::spl::null_hazards(text, &s.commands)
    };
    // (edited search, the field the hazard names, or None when the edit is safe)
    let rows: Vec<(String, Option<&str>)> = vec![
        // as emitted: every field the where stages read is coalesced first
        (SPL.to_string(), None),
        // the coalesce of Image removed: the exclusion's NOT match(Image, …) is null for an
        // event without Image, and the event is dropped
        (SPL.replacen("Image=coalesce(Image, \"\"), ", "", 1), Some("Image")),
        // a hand-added IPv4 range exclusion over a field that was never coalesced
        (
            after_eval("| where NOT cidrmatch(\"10.20.0.0/16\", src_ip)"),
            Some("src_ip"),
        ),
        // the same over a coalesced field: cidrmatch of "" is false, never null
        (after_eval("| where NOT cidrmatch(\"10.20.0.0/16\", SourceIp)"), None),
        // inside AND / OR the null still reaches the NOT
        (
            after_eval("| where Image!=\"\" AND NOT (SourceIp==\"1.2.3.4\" OR match(ParentImage, \"x\"))"),
            Some("ParentImage"),
        ),
        // null-safe functions: isnull, coalesce with a literal, if with non-null branches
        (
            after_eval("| where NOT isnull(ParentImage) AND NOT (coalesce(ParentImage, \"\")==\"x\") AND NOT (if(match(ParentImage, \"x\"), \"a\", \"b\")==\"a\")"),
            None,
        ),
        // a search-command NOT keeps events without the field (Search Manual)
        (
            SPL.replacen("EventCode=3", "EventCode=3 NOT ParentImage=\"*x*\"", 1),
            None,
        ),
    ];
    for (text, want) in &rows {
        let got = hazards(text);
        match want {
            None => assert!(got.is_empty(), "{got:?}\n{text}"),
            Some(field) => {
                assert_eq!(got.len(), 1, "{got:?}\n{text}");
                assert!(got[0].message.contains(&format!("`{field}`")), "{got:?}");
                // located at the NOT of the where stage
                let line = text.lines().nth(got[0].line - 1).unwrap();
                let at: String = line.chars().skip(got[0].col - 1).take(3).collect();
                assert_eq!(at, "NOT", "{line}");
            }
        }
    }
}

/// `rmmc check --artifacts` refuses the hand edit in the .spl file and in its
/// savedsearches.conf twin, exit 1, each located at the `NOT` (file:line:col).
#[test]
fn cli_refuses_an_spl_null_hazard_in_the_search_and_in_savedsearches() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let build = Command::cargo_bin("rmmc")
        .unwrap()
        .args(["build", "rules", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(build.status.success());
    let check = || {
        let o = Command::cargo_bin("rmmc")
            .unwrap()
            .args(["check", "rules", "--artifacts"])
            .arg(&out)
            .output()
            .unwrap();
        (
            o.status.code().unwrap(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    assert_eq!(check().0, 0, "{}", check().1);
    let drop = "Image=coalesce(Image, \"\"), ";
    let spl = out.join("splunk/netsupport-ioc-endpoint.spl");
    let conf = out.join("splunk/savedsearches.conf");
    let spl_text = std::fs::read_to_string(&spl).unwrap().replacen(drop, "", 1);
    std::fs::write(&spl, &spl_text).unwrap();
    // the same stanza's search (the twins stay equal, so only the lint speaks)
    let conf_text = std::fs::read_to_string(&conf).unwrap();
    let at = conf_text.find("[Remote Management and Monitoring tool - NetSupport - ThreatFox NetSupportManager RAT IOC (endpoint)]").unwrap();
    let edited = format!(
        "{}{}",
        &conf_text[..at],
        conf_text[at..].replacen(drop, "", 1)
    );
    std::fs::write(&conf, &edited).unwrap();
    let (code, err) = check();
    assert_eq!(code, 1, "{err}");
    let spl_line = line_of(&spl_text, "| where NOT (match(replace(Image");
    let conf_line = edited[at..]
        .lines()
        .position(|l| l.starts_with("| where NOT (match(replace(Image"))
        .unwrap()
        + edited[..at].lines().count()
        + 1;
    assert!(
        err.contains(&format!("netsupport-ioc-endpoint.spl:{spl_line}:9")),
        "{err}"
    );
    assert!(
        err.contains(&format!("savedsearches.conf:{conf_line}:9")),
        "{err}"
    );
    assert!(err.contains("`NOT` over a test of `Image`"), "{err}");
}

/// EQL: Elasticsearch runs an EQL filter as Query DSL (x-pack/plugin/eql
/// `planner/QueryTranslator`, ql `ExpressionTranslators`): a field tested against literals is a
/// term / wildcard / terms query and `not` of it is `must_not`, which keeps an event without the
/// field, and `cidrMatch` (a terms query of CIDR blocks) is false for an address of the other
/// family, so `not cidrMatch(...)` keeps both where the spec does. A test Elasticsearch must run
/// as a script (a function of a function, a field compared with a field) turns the whole `not`
/// into a script (`Nots`: "wrappedQuery instanceof ScriptQuery ? new ScriptQuery(not.source(),
/// not.asScript())"), where a function of a missing field is null (EQL function reference,
/// "null handling") and the event is dropped: rmmc cannot judge it and refuses it, located.
#[test]
fn eql_not_keeps_missing_fields_and_script_forms_are_refused() {
    const EQL: &str = include_str!("../examples/deployed/elastic/netsupport-ioc-endpoint.eql");
    let edit = |line: &str| format!("{EQL}  and {line}\n");
    // accepted, and the evaluator (which models the query translation) keeps the events the
    // spec keeps: an IPv6 destination and no destination at all, under an IPv4 range exclusion
    let safe = edit("not cidrmatch(destination.ip, \"10.20.0.0/16\")");
    assert!(rmmc::lint::eql_query(Path::new("q.eql"), &safe).is_empty());
    let q = rmmc::eval::eql::parse(&safe).unwrap();
    for ev in [
        serde_json::json!({"event": {"category": ["network"]}, "source": {"ip": "95.85.246.53"}, "destination": {"ip": "fe80::1"}}),
        serde_json::json!({"event": {"category": ["network"]}, "source": {"ip": "95.85.246.53"}}),
    ] {
        assert_eq!(q.matches(&ev), Ok(true), "{ev}");
    }
    let inside = serde_json::json!({"event": {"category": ["network"]}, "source": {"ip": "95.85.246.53"}, "destination": {"ip": "10.20.1.1"}});
    assert_eq!(q.matches(&inside), Ok(false));
    // refused: forms Elasticsearch runs as scripts, located at the offending token
    for (line, col_of) in [
        (
            "not endsWith(string(destination.ip), \".5\")",
            "(destination.ip), \".5\")",
        ),
        ("not cidrmatch(destination.ip, source.ip)", "source.ip)"),
    ] {
        let text = edit(line);
        let d = rmmc::lint::eql_query(Path::new("q.eql"), &text);
        assert_eq!(d.len(), 1, "{d:?}");
        let s = d[0].span.unwrap();
        let last = text.lines().count();
        assert_eq!(s.line, last, "{d:?}");
        let want_col = text.lines().last().unwrap().find(col_of).unwrap() + 1;
        assert_eq!(s.col, want_col, "{d:?}");
        assert!(d[0].help.as_deref().unwrap().contains("must_not"), "{d:?}");
    }
}

/// The same hand edit in a Kibana rule's query (and its .eql twin): exit 1, at the rule's line.
#[test]
fn cli_refuses_an_eql_script_form_in_the_query_and_in_the_kibana_rule() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    assert!(Command::cargo_bin("rmmc")
        .unwrap()
        .args(["build", "rules", "--out"])
        .arg(&out)
        .output()
        .unwrap()
        .status
        .success());
    let eql = out.join("elastic/netsupport-ioc-endpoint.eql");
    let ndjson = out.join("elastic/rules.ndjson");
    let from = "and not (process.command_line : (\"*--inventory*\", \"*--patch*\"))";
    let to = "and not endsWith(string(process.command_line), \"--patch\")";
    let text = std::fs::read_to_string(&eql).unwrap();
    assert!(text.contains(from));
    std::fs::write(&eql, text.replacen(from, to, 1)).unwrap();
    let rules = std::fs::read_to_string(&ndjson).unwrap();
    let json_from = serde_json::to_string(from).unwrap();
    let json_to = serde_json::to_string(to).unwrap();
    let (json_from, json_to) = (
        &json_from[1..json_from.len() - 1],
        &json_to[1..json_to.len() - 1],
    );
    let rule_line = rules.lines().position(|l| l.contains(json_from)).unwrap() + 1;
    std::fs::write(&ndjson, rules.replacen(json_from, json_to, 1)).unwrap();
    let o = Command::cargo_bin("rmmc")
        .unwrap()
        .args(["check", "rules", "--artifacts"])
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let eql_line = text.lines().position(|l| l.contains(from)).unwrap() + 1;
    assert!(
        err.contains(&format!("netsupport-ioc-endpoint.eql:{eql_line}:")),
        "{err}"
    );
    assert!(
        err.contains(&format!("rules.ndjson:{rule_line}:1")),
        "{err}"
    );
    // the twins still agree: only the lint speaks
    assert!(!err.contains("twin"), "{err}");
}

/// Azure-Sentinel's rule files are ASCII: a non-ASCII character anywhere (here the mojibake
/// LOLRMM's Parsec entry once carried) is named at its line and column; its `\u` escape in a
/// double-quoted scalar, the same value, is accepted.
#[test]
fn non_ascii_bytes_are_refused_at_their_place() {
    let raw = replace(
        "description: |\n  ",
        "description: |\n  Remote desktop reimagined \u{E2}\u{20AC}\u{201C} a ",
    );
    let line = line_of(&raw, "reimagined");
    assert_eq!(
        messages(&raw),
        vec![format!(
            "{line}:29 Sentinel YAML: non-ASCII character '\u{E2}' (U+00E2); Sentinel rule files are ASCII only"
        )]
    );
    let escaped = replace("name: \"", "name: \"Parsec \\u2013 ");
    assert!(escaped.is_ascii());
    assert_eq!(messages(&escaped), Vec::<String>::new());
    // hunting queries are checked too, through `check --artifacts`
    assert!(rmmc::lint::sentinel::non_ascii(Path::new("h.yaml"), "name: \"\u{E9}\"\n").is_some());
    assert!(rmmc::lint::sentinel::non_ascii(Path::new("h.yaml"), "name: \"\\u00E9\"\n").is_none());
}

/// Incident grouping (issue 19): a grouping key that is no custom detail, a look-back that is
/// not ISO 8601 and a custom-detail key over 20 characters are each named.
#[test]
fn incident_grouping_is_checked() {
    let cases = [
        (
            replace(
                "    groupByCustomDetails:\n      - ",
                "    groupByCustomDetails:\n      - X",
            ),
            "groupByCustomDetails",
            "is no key of customDetails",
        ),
        (
            replace("lookbackDuration: P7D", "lookbackDuration: 7d"),
            "lookbackDuration",
            "is not an ISO 8601 duration",
        ),
        (
            replace(
                "customDetails:\n  ",
                "customDetails:\n  AVeryLongCustomDetailKey: DeviceId\n  ",
            ),
            "AVeryLongCustomDetailKey",
            "is not a name of at most 20",
        ),
    ];
    for (text, key, why) in cases {
        let got = messages(&text);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].contains(key) && got[0].contains(why), "{got:?}");
    }
}

/// A query on an ASIM unifying parser lists no connector, as the Azure-Sentinel ASIM rules do
/// (`requiredDataConnectors: []`, Solutions/Network Session Essentials/Analytic Rules/"Remote
/// Desktop Network Bruteforce (ASIM Network Session schema).yaml"; the repository's template
/// test requires the key, not a length: ScheduledTemplateInternalModel `Required.Always`), and
/// binds against the parser's columns; an empty list for a table, or a Defender column on the
/// parser, is still refused.
#[test]
fn an_asim_parser_query_takes_an_empty_connector_list() {
    let connectors = "requiredDataConnectors:\n  - connectorId: \"MicrosoftThreatProtection\"\n    dataTypes:\n      - \"DeviceNetworkEvents\"\n";
    let asim = replace(connectors, "requiredDataConnectors: []\n")
        .replace("  DeviceNetworkEvents\n", "  _Im_NetworkSession\n")
        .replace("Timestamp", "TimeGenerated")
        .replace("DeviceName", "DvcHostname")
        .replace("RemoteIP", "DstIpAddr")
        .replace("RemotePort", "DstPortNumber")
        .replace("InitiatingProcessFileName", "SrcProcessName")
        .replace("ActionType", "DvcAction")
        .replace("InitiatingProcessFolderPath", "SrcProcessName")
        .replace("InitiatingProcessCommandLine", "SrcProcessName")
        .replace("InitiatingProcessAccountName", "SrcUsername");
    assert_eq!(messages(&asim), Vec::<String>::new(), "{asim}");
    let table = replace(connectors, "requiredDataConnectors: []\n");
    let got = messages(&table);
    assert!(
        got.iter()
            .any(|m| m.contains("requiredDataConnectors") && m.contains("is not a non-empty list")),
        "{got:?}"
    );
    let defender_column = asim.replacen("DstIpAddr", "RemoteIP", 1);
    let got = messages(&defender_column);
    assert!(
        got.iter()
            .any(|m| m.contains("`RemoteIP` is not a column of _Im_NetworkSession")),
        "{got:?}"
    );
}
