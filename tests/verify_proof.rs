//! verify as a proof (issue 13): one-value edits in later `any:` branches and in the Sigma
//! and SPL renderings of a rule with declared gaps are caught; every condition is shown to
//! matter in every backend; the Sysmon shapes judge (almost) every case.

use assert_cmd::Command;
use std::path::Path;

fn rmmc() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rmmc"));
    c.env("NO_COLOR", "1");
    c
}

/// Build `rules` into a temp folder; return it.
fn build(rules: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    rmmc()
        .arg("build")
        .args(rules)
        .arg("--out")
        .arg(dir.path().join("out"))
        .assert()
        .code(0);
    // Only the queries that are run (and the Kibana rules, which hold the EQL window): an
    // edit must be caught by what the query does, not by its differing from the deployed
    // wrapper around it (tests/forms.rs proves that part). No test here edits an .eql.
    let out = dir.path().join("out");
    std::fs::remove_dir_all(out.join("sentinel")).unwrap();
    std::fs::remove_file(out.join("splunk/savedsearches.conf")).unwrap();
    dir
}

/// Replace `from` by `to` once in an artifact (the edit must apply).
fn edit(dir: &Path, file: &str, from: &str, to: &str) {
    let p = dir.join("out").join(file);
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.contains(from), "{file} has no {from:?}:\n{text}");
    std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
}

fn verify(rules: &[&str], dir: &Path) -> (i32, String) {
    let out = rmmc()
        .arg("verify")
        .args(rules)
        .arg("--artifacts")
        .arg(dir.join("out"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

/// The AnyDesk example (examples/specs/anydesk.yaml, docs/development.md): the original file
/// name is the second branch of an `any:` whose first branch (the process name) used to be true in every boundary case, so a
/// broken second branch passed.
#[test]
fn a_broken_later_branch_of_any_is_caught() {
    let specs = tempfile::tempdir().unwrap();
    std::fs::copy(
        "examples/specs/anydesk.yaml",
        specs.path().join("anydesk.yaml"),
    )
    .unwrap();
    let rules = [specs.path().to_str().unwrap()];
    let dir = build(&rules);
    assert_eq!(verify(&rules, dir.path()).0, 0);
    edit(
        dir.path(),
        "kql/anydesk-createproc.kql",
        "ProcessVersionInfoOriginalFileName =~ 'AnyDesk.exe'",
        "ProcessVersionInfoOriginalFileName =~ 'NOT-AnyDesk.exe'",
    );
    let (code, out) = verify(&rules, dir.path());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("MISMATCH kql/anydesk-createproc.kql"), "{out}");
    assert!(
        out.contains("process_original_file_name exact [AnyDesk.exe] value AnyDesk.exe: true: the spec says match, the artifact says no match"),
        "{out}"
    );
}

/// The action1 shape: the Sigma and SPL rules drop the company and product (declared gaps)
/// and match the exclusions' addresses on either end (declared wider). A wrong domain in
/// them used to pass, every miss "explained" by those declarations.
#[test]
fn declarations_do_not_excuse_a_wrong_domain() {
    let rules = ["rules"];
    let dir = build(&rules);
    for (file, from, to) in [
        ("sigma/action1-netconn.yml", "[Nn]1", "[Nn]2"),
        (
            "splunk/action1-netconn.spl",
            "action1\\\\.com",
            "action2\\\\.com",
        ),
    ] {
        let dir = build(&rules);
        edit(dir.path(), file, from, to);
        let (code, out) = verify(&rules, dir.path());
        assert_eq!(code, 1, "{file}: {out}");
        assert!(out.contains(&format!("MISMATCH {file}")), "{file}: {out}");
    }
    // unedited, the same declarations explain the gaps' real differences
    let (code, out) = verify(&rules, dir.path());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("pass (declared gaps)"));
}

/// Every condition of the shipped rules is shown to matter in every backend (or excused by a
/// declaration), and the matrix and its footer say so with the figures.
#[test]
fn shipped_rules_cover_every_condition() {
    let out = rmmc()
        .args(["verify", "rules", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut conditions = 0;
    for c in r["cells"].as_array().unwrap() {
        let n = |k: &str| c[k].as_u64().unwrap();
        assert_eq!(n("uncovered"), 0, "{c}");
        assert_eq!(
            n("covered") + n("declared") + n("masked"),
            n("conditions"),
            "{c}"
        );
        // the Sysmon shapes hold the cases: no cell skips more than a tenth
        assert!(n("skipped") * 10 <= n("cases"), "{c}");
        conditions += n("conditions");
    }
    assert!(conditions > 150, "{conditions}");
    let text = rmmc().args(["verify", "rules"]).output().unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("conditions"), "{text}");
    assert!(text.contains("coverage: "), "{text}");
    assert!(text.contains("19/19"), "action1 netconn in KQL: {text}");
}

/// A backend whose rendering ignores a condition (here: a Sigma filter value replaced, so
/// its pair gets one verdict) fails as uncovered or mismatched, never passes.
#[test]
fn an_ignored_exclusion_value_fails() {
    let rules = ["rules"];
    let dir = build(&rules);
    edit(
        dir.path(),
        "sigma/action1-netconn.yml",
        "- \\ncc.exe",
        "- \\nxx.exe",
    );
    let (code, out) = verify(&rules, dir.path());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("value ncc.exe"), "{out}");
}

/// An IPv6 hit under an IPv4 range exclusion (issue 14): `ipv4_is_in_range` is null for an
/// IPv6 address, and `not(null)` drops the row, so the KQL rule silently lost every IPv6 hit.
/// The exclusion is rendered `== true` (Kusto docs, "Null values": equality of a null and a
/// non-null value yields false), and verify's MC/DC pair for the IPv6 value catches the old
/// rendering.
#[test]
fn ipv6_hits_survive_an_ipv4_range_exclusion() {
    let specs = tempfile::tempdir().unwrap();
    std::fs::write(
        specs.path().join("v6.yaml"),
        "id: v6\nvendor: V6\ndescription: d\nreferences: [https://example.invalid/]\ndate: 2026-05-31\n\
         severity: low\nattack: { tactics: [CommandAndControl], techniques: [T1219] }\nwindow: 1d\n\
         detections:\n  ioc:\n    title: IOC\n    category: network\n    where:\n      remote_ip: { ip: [2001:db8::5, 203.0.113.9] }\n\
         \x20   output:\n      summarize: [device_name]\n\
         exclusions:\n  lab:\n    reason: the lab\n    where:\n      remote_ip: { cidr: [10.20.0.0/16] }\n",
    )
    .unwrap();
    let rules = [specs.path().to_str().unwrap()];
    let dir = build(&rules);
    let kql = std::fs::read_to_string(dir.path().join("out/kql/v6-ioc.kql")).unwrap();
    assert!(
        kql.contains("| where not(ipv4_is_in_range(RemoteIP, '10.20.0.0/16') == true)"),
        "{kql}"
    );
    // SPL: every field read is coalesced to "" first, and an IPv4 range is tested only on a
    // strict IPv4 text, so neither an IPv6 address nor a missing field reaches `cidrmatch`
    // (the NOT is of a false, never of a null). EQL: `cidrmatch` on an ip field (Elastic's EQL
    // function reference: "Supports IPv4 and IPv6 addresses") is false for the other family,
    // and a missing field is kept by the `not` (Elasticsearch runs the filter as a bool query,
    // `not` is must_not). verify's pair for the IPv6 value judges all four (exit 0 above).
    let spl = std::fs::read_to_string(dir.path().join("out/splunk/v6-ioc.spl")).unwrap();
    assert!(spl.contains("SourceIp=coalesce(SourceIp, \"\")"), "{spl}");
    assert!(
        spl.contains("| where NOT ((match(DestinationIp, \"\\\\A(?:"),
        "{spl}"
    );
    let eql = std::fs::read_to_string(dir.path().join("out/elastic/v6-ioc.eql")).unwrap();
    assert!(
        eql.contains("and not (cidrmatch(destination.ip, \"10.20.0.0/16\")"),
        "{eql}"
    );
    assert_eq!(verify(&rules, dir.path()).0, 0);
    edit(
        dir.path(),
        "kql/v6-ioc.kql",
        "'10.20.0.0/16') == true",
        "'10.20.0.0/16')",
    );
    let (code, out) = verify(&rules, dir.path());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("value 2001:db8::5: true: the spec says match, the artifact says no match"),
        "{out}"
    );
    // `check --artifacts` refuses the construct itself, whatever the events
    let check = rmmc()
        .arg("check")
        .args(rules)
        .arg("--artifacts")
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    let err = String::from_utf8(check.stderr).unwrap();
    assert_eq!(check.status.code(), Some(1), "{err}");
    assert!(err.contains("kql/v6-ioc.kql"), "{err}");
    assert!(
        err.contains("`not(...)` over `ipv4_is_in_range(...)`"),
        "{err}"
    );
}
