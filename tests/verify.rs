//! `verify` agrees with itself on the shipped rules, and catches every mutation of an
//! emitted artifact (so a pass means something).

use rmmc::build::{self, BuildOptions, BuildResult, Target};
use rmmc::eval::time::parse_rfc3339;
use rmmc::ir::IrSpec;
use rmmc::verify::{self, Report, VerifyOptions};
use std::path::Path;

fn shipped() -> (Vec<IrSpec>, BuildResult) {
    let specs = rmmc::spec::load_dir(Path::new("rules")).unwrap();
    let res = build::compile(&specs, &BuildOptions::only(&[Target::Kql]));
    (specs.iter().map(rmmc::ir::lower).collect(), res)
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
fn shipped_kql_agrees_with_the_ir() {
    let (irs, res) = shipped();
    let report = run(&irs, &res, &res.files);
    for c in &report.cells {
        eprintln!(
            "{:45} {:8} cases {:4} pass {:4} explained {:3} mismatch {:3} {:?}",
            c.rule,
            c.backend.name(),
            c.cases,
            c.passed,
            c.explained,
            c.mismatched,
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
            "MISMATCH {} {}: expected {} got {} {:?}",
            m.rule, m.case, m.expected, m.actual, m.event
        );
    }
    assert!(report.ok(), "{:#?}", report.fixture_disagreements);
    assert_eq!(report.cells.len(), 6);
    assert!(report.cells.iter().all(|c| c.cases >= 10));
    // CommonSecurityLog matches the address on either end: declared wider, so explained.
    let fw = report
        .cells
        .iter()
        .find(|c| c.rule == "netsupport/ioc (firewall)")
        .unwrap();
    assert_eq!((fw.explained, fw.mismatched), (1, 0));
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
];

#[test]
fn every_mutation_is_caught_and_named() {
    let (irs, res) = shipped();
    for (path, from, to) in MUTATIONS {
        let mut files = res.files.clone();
        let text = files.get_mut(*path).unwrap();
        assert!(text.contains(from), "{path} lacks {from:?}:\n{text}");
        *text = text.replacen(from, to, 1);
        let report = run(&irs, &res, &files);
        assert!(
            !report.ok(),
            "mutation not caught: {path}: {from:?} → {to:?}"
        );
        let bad: Vec<&str> = report
            .cells
            .iter()
            .filter(|c| c.mismatched > 0 || c.error.is_some())
            .map(|c| c.artifact.as_str())
            .collect();
        assert_eq!(bad, vec![*path], "{from:?} → {to:?}");
    }
}

#[test]
fn unparsable_or_missing_artifacts_are_errors() {
    let (irs, res) = shipped();
    let mut files = res.files.clone();
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
