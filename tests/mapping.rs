//! Data models chosen at run time (issue 18.1): `rmmc list targets|mappings`, `--mapping` by
//! name, by file and with `extends`, `[mapping]` in rmmc.toml and its override by the command
//! line, the errors (exit 2, file:line:col), and verify proving artifacts through the chosen
//! mapping. A snapshot per shipped alternative records the shipped rules built with it.
//!
//! The classic Sysmon sourcetype: Splunk's "Monitor Windows event log data" (classic vs XML
//! rendering, `renderXml`), docs.splunk.com/Documentation/Splunk/latest/Data/MonitorWindowseventlogdata;
//! backends/mappings/splunk/sysmon-classic.yaml cites the field names. Winlogbeat's Sysmon
//! module: github.com/elastic/beats x-pack/winlogbeat/module/sysmon/config/winlogbeat-sysmon.js
//! (backends/mappings/elastic/winlogbeat-sysmon.yaml cites each field).

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

const OK: i32 = 0;
const MISMATCH: i32 = 1;
const ERROR: i32 = 2;

const CLASSIC: &str = r#"sourcetype="WinEventLog:Microsoft-Windows-Sysmon/Operational""#;
const XML: &str = r#"sourcetype="XmlWinEventLog:Microsoft-Windows-Sysmon/Operational""#;

fn rmmc() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rmmc"));
    c.env("NO_COLOR", "1");
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Every file below `dir`, by relative path, with its text.
fn tree(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.push((rel, read(&p)));
            }
        }
    }
    out.sort();
    out
}

/// Build `rules` with `args` into a fresh folder; the folder.
fn build(tmp: &TempDir, name: &str, rules: &[&Path], args: &[&str]) -> PathBuf {
    let out = tmp.path().join(name);
    rmmc()
        .arg("build")
        .args(rules)
        .arg("--out")
        .arg(&out)
        .args(args)
        .assert()
        .code(OK);
    out
}

fn splunk_searches(out: &Path) -> String {
    let mut all = String::new();
    for (p, text) in tree(&out.join("splunk")) {
        if p.ends_with(".spl") {
            all.push_str(&text);
        }
    }
    all
}

/// Artifacts built through `mapping` verify through it (all agree with the spec) and `check`
/// passes them, and only through it: the default build verified through `mapping`, or these
/// verified through the default mapping, disagree (exit 1). The verify run's assertion, for
/// more checks of its output.
fn assert_verified_only_through(
    mapping: &str,
    built: &Path,
    default: &Path,
) -> assert_cmd::assert::Assert {
    let through = |artifacts: &Path| {
        let mut c = rmmc();
        c.args(["verify", "rules", "--mapping", mapping, "--artifacts"])
            .arg(artifacts);
        c
    };
    let verified = through(built)
        .assert()
        .code(OK)
        .stdout(predicate::str::contains("all agree with the spec"));
    rmmc()
        .args(["check", "rules", "--mapping", mapping, "--artifacts"])
        .arg(built)
        .assert()
        .code(OK);
    through(default).assert().code(MISMATCH);
    rmmc()
        .args(["verify", "rules", "--artifacts"])
        .arg(built)
        .assert()
        .code(MISMATCH);
    verified
}

#[test]
fn list_targets_names_each_target_and_its_backend() {
    let out = rmmc().args(["list", "targets"]).assert().code(OK);
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    for (target, backend) in [
        ("kql", "kql"),
        ("sentinel", "kql"),
        ("sigma", "sigma"),
        ("splunk", "splunk"),
        ("elastic", "elastic"),
    ] {
        assert!(
            text.lines().any(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                w.len() > 2 && w[0] == target && w[1] == backend
            }),
            "{target} ({backend}) not listed:\n{text}"
        );
    }
}

#[test]
fn list_mappings_names_each_shipped_mapping_with_its_default_and_tables() {
    let out = rmmc()
        .args(["list", "mappings", "--format", "json"])
        .assert()
        .code(OK);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let find = |b: &str, n: &str| {
        rows.iter()
            .find(|r| r["backend"] == b && r["name"] == n)
            .unwrap_or_else(|| panic!("{b}/{n} not listed: {rows:?}"))
    };
    assert_eq!(find("splunk", "sysmon-xml")["default"], true);
    let classic = find("splunk", "sysmon-classic");
    assert_eq!(classic["default"], false);
    assert!(classic["description"]
        .as_str()
        .unwrap()
        .contains("WinEventLog:Microsoft-Windows-Sysmon/Operational"));
    assert_eq!(classic["tables"].as_array().unwrap().len(), 4);
    for (b, n) in [
        ("kql", "defender-xdr"),
        ("sigma", "sysmon"),
        ("elastic", "elastic-defend"),
    ] {
        assert_eq!(find(b, n)["default"], true, "{b}/{n}");
    }
    assert_eq!(find("elastic", "winlogbeat-sysmon")["default"], false);
    // one default per backend
    for b in ["kql", "sigma", "splunk", "elastic"] {
        let n = rows
            .iter()
            .filter(|r| r["backend"] == b && r["default"] == true)
            .count();
        assert_eq!(n, 1, "{b}");
    }
    // the text listing says which is the default
    let out = rmmc().args(["list", "mappings"]).assert().code(OK);
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()[..3]
                == ["splunk", "sysmon-xml", "default"]),
        "{text}"
    );
}

#[test]
fn a_shipped_mapping_by_name_changes_only_its_backend() {
    let tmp = TempDir::new().unwrap();
    let rules = Path::new("rules");
    let default = build(&tmp, "default", &[rules], &[]);
    let classic = build(&tmp, "classic", &[rules], &["--mapping", "sysmon-classic"]);
    let spl = splunk_searches(&classic);
    assert!(spl.contains(CLASSIC), "{spl}");
    assert!(!spl.contains(XML));
    // the classic header names the host ComputerName
    assert!(spl.contains("ComputerName"));
    assert!(splunk_searches(&default).contains(XML));
    // every other target is byte-identical
    for t in ["kql", "sentinel", "sigma", "elastic"] {
        assert_eq!(
            tree(&default.join(t)),
            tree(&classic.join(t)),
            "{t} changed"
        );
    }
    // BACKEND=NAME is the same choice
    let named = build(
        &tmp,
        "named",
        &[rules],
        &["--mapping", "splunk=sysmon-classic"],
    );
    assert_eq!(tree(&named), tree(&classic));
}

#[test]
fn a_mapping_file_extends_a_shipped_one_with_its_index() {
    let tmp = TempDir::new().unwrap();
    let file = tmp.path().join("site.yaml");
    std::fs::write(
        &file,
        "extends: sysmon-classic\nparams: { index: sysmon }\n",
    )
    .unwrap();
    let out = build(
        &tmp,
        "site",
        &[Path::new("rules")],
        &["--mapping", file.to_str().unwrap()],
    );
    let spl = splunk_searches(&out);
    assert!(
        spl.contains(&format!("index=sysmon {CLASSIC} EventCode=")),
        "{spl}"
    );
    assert!(!spl.contains("index=*"));
    // savedsearches.conf carries the same search
    let conf = read(&out.join("splunk/savedsearches.conf"));
    assert!(conf.contains(&format!("index=sysmon {CLASSIC}")), "{conf}");
}

#[test]
fn an_unknown_mapping_name_exits_2_listing_the_names() {
    rmmc()
        .args(["check", "rules", "--mapping", "sysmon-clasic"])
        .assert()
        .code(ERROR)
        .stderr(predicate::str::contains(
            "no mapping is named `sysmon-clasic`",
        ))
        .stderr(predicate::str::contains("splunk/sysmon-classic"))
        .stderr(predicate::str::contains("kql/defender-xdr"));
    rmmc()
        .args([
            "build",
            "rules",
            "--out",
            "-",
            "--mapping",
            "kql=sysmon-classic",
        ])
        .assert()
        .code(ERROR)
        .stderr(predicate::str::contains("kql/defender-xdr"));
    rmmc()
        .args([
            "verify",
            "rules",
            "--mapping",
            "sysmon-classic",
            "--mapping",
            "splunk=sysmon-xml",
        ])
        .assert()
        .code(ERROR)
        .stderr(predicate::str::contains("two mappings for splunk"));
    // where it would change nothing, it is refused rather than ignored
    rmmc()
        .args(["list", "targets", "--mapping", "sysmon-classic"])
        .assert()
        .code(ERROR)
        .stderr(predicate::str::contains("--mapping has no effect"));
}

#[test]
fn a_bad_mapping_file_exits_2_at_its_line_and_column() {
    let tmp = TempDir::new().unwrap();
    let cases = [
        (
            "extends: sysmon-xml\ntables:\n  - category: process\n    source: endpoint\n    columns:\n      proces_name: Image\n",
            "6:7",
            "unknown canonical field `proces_name`",
        ),
        ("extends: sysmon-xml\nparams: { idx: a }\n", "2:9", "`idx` is not a parameter"),
        ("extends: sysmon-xml\ntabels: []\n", "2:1", "unknown field"),
        (
            "backend: splunk\ntables:\n  - name: t\n    category: file\n    source: endpoint\n    meta: { base_search: \"index=${nope}\" }\n    columns: { file_name: TargetFilename }\n",
            "6:11",
            "`${nope}` is no parameter",
        ),
    ];
    for (i, (text, at, msg)) in cases.into_iter().enumerate() {
        let file = tmp.path().join(format!("bad{i}.yaml"));
        std::fs::write(&file, text).unwrap();
        rmmc()
            .args(["check", "rules", "--mapping"])
            .arg(&file)
            .assert()
            .code(ERROR)
            .stderr(predicate::str::contains(format!("{}:{at}", file.display())))
            .stderr(predicate::str::contains(msg));
    }
}

/// A project of one spec with `[mapping]` in its rmmc.toml.
fn project(toml: &str) -> TempDir {
    let tmp = TempDir::new().unwrap();
    let rules = tmp.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::copy("rules/supremo.yaml", rules.join("supremo.yaml")).unwrap();
    std::fs::write(rules.join("rmmc.toml"), toml).unwrap();
    tmp
}

#[test]
fn the_projects_mapping_is_used_and_the_command_line_overrides_it() {
    let tmp = project("[mapping]\nsplunk = \"sysmon-classic\"\n");
    let rules = tmp.path().join("rules");
    let chosen = build(&tmp, "chosen", &[&rules], &[]);
    assert!(splunk_searches(&chosen).contains(CLASSIC));
    let overridden = build(&tmp, "cli", &[&rules], &["--mapping", "splunk=sysmon-xml"]);
    let spl = splunk_searches(&overridden);
    assert!(spl.contains(XML) && !spl.contains(CLASSIC), "{spl}");
    // a file named in rmmc.toml is relative to it
    std::fs::create_dir(tmp.path().join("mappings")).unwrap();
    std::fs::write(
        tmp.path().join("mappings/site.yaml"),
        "extends: sysmon-xml\nparams: { index: edr }\n",
    )
    .unwrap();
    std::fs::write(
        rules.join("rmmc.toml"),
        "[mapping]\nsplunk = \"../mappings/site.yaml\"\n",
    )
    .unwrap();
    let site = build(&tmp, "site", &[&rules], &[]);
    assert!(splunk_searches(&site).contains(&format!("index=edr {XML}")));
    // verify reads the same choice: the project's artifacts agree
    rmmc()
        .arg("verify")
        .arg(&rules)
        .arg("--artifacts")
        .arg(&site)
        .assert()
        .code(OK);
}

/// The README's "my index is sysmon" file may lie among the rules: named in rmmc.toml it is
/// passed over by the spec loader; found there but not chosen it is a warning, not a pile of
/// "unknown field" errors; named on the command line as a spec it is an error (exit 2).
#[test]
fn a_mapping_file_among_the_rules_is_not_read_as_a_spec() {
    let tmp = project("[mapping]\nsplunk = \"site.yaml\"\n");
    let rules = tmp.path().join("rules");
    let site = rules.join("site.yaml");
    std::fs::write(&site, "extends: sysmon-xml\nparams: { index: edr }\n").unwrap();
    let out = build(&tmp, "site", &[&rules], &[]);
    assert!(splunk_searches(&out).contains(&format!("index=edr {XML}")));
    rmmc()
        .arg("check")
        .arg(&rules)
        .assert()
        .code(OK)
        .stderr(predicate::str::contains("site.yaml").not());
    // another mapping chosen on the command line: site.yaml is no longer chosen
    rmmc()
        .arg("check")
        .arg(&rules)
        .args(["--mapping", "splunk=sysmon-classic"])
        .assert()
        .code(OK)
        .stderr(
            predicate::str::contains("site.yaml").and(predicate::str::contains(
                "a mapping file (top-level `extends:` or `tables:`) not chosen for this run",
            )),
        );
    rmmc()
        .arg("check")
        .arg(&site)
        .args(["--mapping", "splunk=sysmon-classic"])
        .assert()
        .code(ERROR)
        .stderr(predicate::str::contains(
            "a mapping file (top-level `extends:` or `tables:`), not a spec",
        ));
}

#[test]
fn a_bad_name_in_rmmc_toml_is_shown_at_its_line() {
    let tmp = project("# site\n[mapping]\nsplunk = \"nope\"\n");
    let rules = tmp.path().join("rules");
    rmmc()
        .arg("check")
        .arg(&rules)
        .assert()
        .code(ERROR)
        .stderr(predicate::str::contains("rmmc.toml:3:10"))
        .stderr(predicate::str::contains("no mapping is named `nope`"));
    let tmp = project("[mapping]\nsplonk = \"sysmon-xml\"\n");
    rmmc()
        .arg("check")
        .arg(tmp.path().join("rules"))
        .assert()
        .code(ERROR)
        .stderr(predicate::str::contains("rmmc.toml:2:1"));
}

/// Verify renders the native events through the chosen mapping: artifacts built with it agree,
/// and the default artifacts, which search the XML sourcetype, find none of the classic
/// events (a mapping verify did not use could not tell them apart).
#[test]
fn verify_proves_artifacts_through_the_chosen_mapping() {
    let tmp = TempDir::new().unwrap();
    let rules = Path::new("rules");
    let default = build(&tmp, "default", &[rules], &[]);
    let classic = build(&tmp, "classic", &[rules], &["--mapping", "sysmon-classic"]);
    // the spec's own cases, without artifacts, through the mapping
    rmmc()
        .args(["verify", "rules", "--mapping", "sysmon-classic"])
        .assert()
        .code(OK);
    assert_verified_only_through("sysmon-classic", &classic, &default);
}

/// The shipped rules built through each shipped alternative mapping: a snapshot of every
/// artifact of the backend it changes.
#[test]
fn shipped_rules_through_each_alternative_mapping() {
    let tmp = TempDir::new().unwrap();
    for (name, dir) in [
        ("sysmon-classic", "splunk"),
        ("winlogbeat-sysmon", "elastic"),
    ] {
        let out = build(&tmp, name, &[Path::new("rules")], &["--mapping", name]);
        let mut all = String::new();
        for (p, text) in tree(&out.join(dir)) {
            all.push_str(&format!("==> {dir}/{p} <==\n{text}\n"));
        }
        insta::assert_snapshot!(format!("mapping_{name}"), all);
    }
}

/// The Winlogbeat mapping reads the `winlogbeat-*` indices, selects each Sysmon event by its
/// `event.code`, and its `index` parameter takes a site's pattern.
#[test]
fn winlogbeat_reads_sysmon_events_by_event_code() {
    let tmp = TempDir::new().unwrap();
    let out = build(
        &tmp,
        "wlb",
        &[Path::new("rules")],
        &["--mapping", "elastic=winlogbeat-sysmon"],
    );
    let ndjson = read(&out.join("elastic/rules.ndjson"));
    for line in ndjson.lines() {
        let rule: serde_json::Value = serde_json::from_str(line).unwrap();
        let index = rule["index"].as_array().unwrap();
        let query = rule["query"].as_str().unwrap();
        if query.starts_with("network where") && !index.iter().any(|i| i == "winlogbeat-*") {
            continue; // the firewall rules keep the firewall integrations' indices
        }
        assert_eq!(index, &[serde_json::json!("winlogbeat-*")], "{line}");
        assert!(query.contains("event.code == \""), "{query}");
    }
    let file = tmp.path().join("wlb.yaml");
    std::fs::write(
        &file,
        "extends: winlogbeat-sysmon\nparams: { index: \"logs-windows.sysmon_operational-*\" }\n",
    )
    .unwrap();
    let site = build(
        &tmp,
        "site",
        &[Path::new("rules")],
        &["--mapping", file.to_str().unwrap()],
    );
    assert!(read(&site.join("elastic/rules.ndjson")).contains("logs-windows.sysmon_operational-*"));
    rmmc()
        .args([
            "verify",
            "rules",
            "--mapping",
            "winlogbeat-sysmon",
            "--artifacts",
        ])
        .arg(&out)
        .assert()
        .code(OK)
        .stdout(predicate::str::contains("all agree with the spec"));
}

// ---- Sentinel ASIM (kql/sentinel-asim) ----
//
// ASIM unifying parsers called bare, as the Azure-Sentinel ASIM analytic rules call them
// (Solutions/Network Session Essentials/Analytic Rules/PortScan.yaml: the query starts
// `_Im_NetworkSession`), with `requiredDataConnectors: []` and the schema tag those rules carry
// (`Schema: ASimNetworkSessions`, `SchemaVersion: 0.2.4`; Detections/ASimProcess/
// imProcess_AdFind_Usage.yaml: `Schema: ASIMProcessEvent`, `SchemaVersion: 0.1.0`).
// backends/mappings/kql/sentinel-asim.yaml cites each column (ASIM/dev/ASimTester/ASimTester.csv).

/// The text of every file below `out/<dir>` whose name ends with `ext`.
fn texts(out: &Path, dir: &str, ext: &str) -> Vec<(String, String)> {
    tree(&out.join(dir))
        .into_iter()
        .filter(|(p, _)| p.ends_with(ext))
        .collect()
}

#[test]
fn sentinel_asim_reads_the_asim_parsers() {
    let tmp = TempDir::new().unwrap();
    let rules = Path::new("rules");
    let default = build(&tmp, "default", &[rules], &[]);
    let asim = build(&tmp, "asim", &[rules], &["--mapping", "kql=sentinel-asim"]);
    // each query starts on its parser, or (firewall) keeps the CEF table
    let kql = texts(&asim, "kql", ".kql");
    assert!(!kql.is_empty());
    for (p, q) in &kql {
        let source = q
            .lines()
            .find(|l| !l.starts_with("//") && !l.starts_with("let "))
            .unwrap();
        let want = if p.contains("createproc") {
            "_Im_ProcessCreate"
        } else if p.contains("firewall") {
            "CommonSecurityLog"
        } else {
            "_Im_NetworkSession"
        };
        assert_eq!(source, want, "{p}:\n{q}");
        assert!(!q.contains("DeviceNetworkEvents") && !q.contains("DeviceProcessEvents"));
    }
    // the ASIM rules name no connector and tag their schema
    let analytic = texts(&asim, "sentinel/analytic", ".yaml");
    let netconn = &analytic
        .iter()
        .find(|(p, _)| p.contains("netsupport") && p.contains("netconn"))
        .unwrap()
        .1;
    assert!(
        netconn.contains("requiredDataConnectors: []\n"),
        "{netconn}"
    );
    assert!(
        netconn
            .contains("tags:\n  - Schema: \"ASimNetworkSessions\"\n    SchemaVersion: \"0.2.4\"\n"),
        "{netconn}"
    );
    let createproc = &analytic
        .iter()
        .find(|(p, _)| p.contains("createproc"))
        .unwrap()
        .1;
    assert!(
        createproc.contains("Schema: \"ASIMProcessEvent\""),
        "{createproc}"
    );
    // the declared gaps name the mapping in the rule's description
    assert!(netconn.contains("sentinel-asim mapping"), "{netconn}");
    // every other target is byte-identical
    for t in ["sigma", "splunk", "elastic"] {
        assert_eq!(tree(&default.join(t)), tree(&asim.join(t)), "{t} changed");
    }
    // convert prints the same queries
    let out = rmmc()
        .args([
            "convert",
            "rules",
            "--target",
            "kql",
            "--mapping",
            "kql=sentinel-asim",
        ])
        .assert()
        .code(OK);
    let printed = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    for (_, q) in &kql {
        assert!(printed.contains(q.as_str()), "{printed}");
    }
}

/// Verify renders native events as rows of the ASIM parsers' columns: artifacts built through
/// the mapping agree with the specs and pass the Sentinel lint; the default artifacts, which read
/// Defender's columns, do not agree with ASIM rows, nor the ASIM artifacts with Defender's.
#[test]
fn verify_proves_artifacts_through_sentinel_asim() {
    let tmp = TempDir::new().unwrap();
    let rules = Path::new("rules");
    let default = build(&tmp, "default", &[rules], &[]);
    let asim = build(&tmp, "asim", &[rules], &["--mapping", "sentinel-asim"]);
    assert_verified_only_through("kql=sentinel-asim", &asim, &default);
}

#[test]
fn a_misspelt_asim_mapping_exits_2_naming_it() {
    rmmc()
        .args([
            "build",
            "rules",
            "--out",
            "-",
            "--mapping",
            "kql=sentinel-asm",
        ])
        .assert()
        .code(ERROR)
        .stderr(predicate::str::contains(
            "no mapping is named `sentinel-asm`",
        ))
        .stderr(predicate::str::contains("kql/sentinel-asim"));
}

/// The shipped rules built through sentinel-asim: a snapshot of every KQL and Sentinel artifact.
#[test]
fn shipped_rules_through_sentinel_asim() {
    let tmp = TempDir::new().unwrap();
    let out = build(
        &tmp,
        "asim",
        &[Path::new("rules")],
        &["--mapping", "kql=sentinel-asim"],
    );
    let mut all = String::new();
    for dir in ["kql", "sentinel"] {
        for (p, text) in tree(&out.join(dir)) {
            all.push_str(&format!("==> {dir}/{p} <==\n{text}\n"));
        }
    }
    insta::assert_snapshot!("mapping_sentinel-asim", all);
}

// ---- Splunk CIM data models (`--mapping cim`) ----
//
// The form `| from datamodel <Model>.<Dataset>`: Search Reference, from
// (help.splunk.com/splunk-enterprise/spl-search-reference/9.4/search-commands/from); CIM field
// names and dataset tags: help.splunk.com/data-management/common-information-model/5.1/
// data-models/endpoint and …/network-traffic. backends/mappings/splunk/cim.yaml cites each.

/// The shipped rules through `cim`: every Splunk search reads a CIM dataset with `from
/// datamodel`, with CIM field names and the time range as a `where`; the other targets are
/// byte-identical; the detection declared `unsupported: { splunk/cim: … }` is not built.
#[test]
fn cim_searches_read_the_cim_data_models() {
    let tmp = TempDir::new().unwrap();
    let rules = Path::new("rules");
    let default = build(&tmp, "default", &[rules], &[]);
    let cim = build(&tmp, "cim", &[rules], &["--mapping", "splunk=cim"]);
    let files = tree(&cim.join("splunk"));
    let searches: Vec<&(String, String)> =
        files.iter().filter(|(p, _)| p.ends_with(".spl")).collect();
    assert_eq!(searches.len(), 5, "{files:?}");
    for (p, text) in &searches {
        let second = text.lines().nth(1).unwrap();
        assert!(second.starts_with("| from datamodel "), "{p}: {second}");
        assert!(
            !text.contains("sourcetype=") && !text.contains("earliest="),
            "{p}"
        );
    }
    let all = splunk_searches(&cim);
    assert!(all.contains("| from datamodel Network_Traffic.All_Traffic\n| where _time>=relative_time(now(), \"-5d\") AND _time<now()\n"));
    assert!(all.contains("match(replace(dest, "), "{all}");
    assert!(all.contains("values(session_id) as Report"), "{all}");
    // Endpoint.Processes has no PE company: netsupport/createproc is not built with cim,
    // and is with the default mapping
    assert!(!cim.join("splunk/netsupport-createproc.spl").exists());
    assert!(default.join("splunk/netsupport-createproc.spl").exists());
    let conf = read(&cim.join("splunk/savedsearches.conf"));
    assert!(
        conf.contains("| from datamodel Network_Traffic.All_Traffic"),
        "{conf}"
    );
    assert!(!conf.contains("Create Process"), "{conf}");
    for t in ["kql", "sentinel", "sigma", "elastic"] {
        assert_eq!(tree(&default.join(t)), tree(&cim.join(t)), "{t} changed");
    }
    let out = rmmc()
        .args(["list", "mappings", "--format", "json"])
        .assert()
        .code(OK);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let row = rows
        .iter()
        .find(|r| r["backend"] == "splunk" && r["name"] == "cim")
        .expect("splunk/cim listed");
    assert_eq!(row["default"], false);
    assert_eq!(row["tables"].as_array().unwrap().len(), 4);
}

/// Verify renders the events through `cim` (CIM field names, the dataset's tags): the cim
/// artifacts agree, the default artifacts (Sysmon sourcetypes and fields) do not, and the
/// cim artifacts proven against the default mapping do not either.
#[test]
fn verify_proves_the_cim_searches_through_the_cim_mapping() {
    let tmp = TempDir::new().unwrap();
    let rules = Path::new("rules");
    let default = build(&tmp, "default", &[rules], &[]);
    let cim = build(&tmp, "cim", &[rules], &["--mapping", "cim"]);
    assert_verified_only_through("splunk=cim", &cim, &default).stdout(predicate::str::contains(
        "netsupport/createproc (endpoint) [splunk]",
    ));
    // the mapping's bare name names the same
    rmmc()
        .args(["verify", "rules", "--mapping", "cim", "--artifacts"])
        .arg(&default)
        .assert()
        .code(MISMATCH);
    // `rmmc convert` prints the same searches
    let out = rmmc()
        .args([
            "convert",
            "rules/action1.yaml",
            "--target",
            "splunk",
            "--mapping",
            "cim",
        ])
        .assert()
        .code(OK);
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(
        text.contains("| from datamodel Network_Traffic.All_Traffic"),
        "{text}"
    );
}

/// The shipped rules built through `cim`: a snapshot of every Splunk artifact.
#[test]
fn shipped_rules_through_cim() {
    let tmp = TempDir::new().unwrap();
    let out = build(&tmp, "cim", &[Path::new("rules")], &["--mapping", "cim"]);
    let mut all = String::new();
    for (p, text) in tree(&out.join("splunk")) {
        all.push_str(&format!("==> splunk/{p} <==\n{text}\n"));
    }
    insta::assert_snapshot!("mapping_cim", all);
}

/// `unsupported: { BACKEND/MAPPING: … }` names a shipped mapping; another is an error at its
/// key (exit 2).
#[test]
fn an_unsupported_key_names_a_shipped_mapping() {
    let tmp = TempDir::new().unwrap();
    let rules = tmp.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    let text = read(Path::new("rules/netsupport.yaml")).replace("splunk/cim:", "splunk/cmi:");
    assert!(text.contains("splunk/cmi:"));
    std::fs::write(rules.join("netsupport.yaml"), &text).unwrap();
    let line = text
        .lines()
        .position(|l| l.contains("splunk/cmi:"))
        .unwrap()
        + 1;
    rmmc()
        .arg("check")
        .arg(&rules)
        .assert()
        .code(ERROR)
        .stderr(predicate::str::contains(format!("netsupport.yaml:{line}:")))
        .stderr(predicate::str::contains(
            "`cmi` is no shipped mapping of splunk; one of: sysmon-xml, sysmon-classic, cim (`rmmc list mappings`)",
        ));
}
