//! `rmmc import sentinel` over the real Azure-Sentinel RMM hunting corpus
//! (../shared/corpus/sentinel-rmm-hunting/RMM): what is imported, what is repaired where, what
//! is rejected and why, that the result checks and verifies, and that a re-import writes nothing.

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/sentinel-rmm-hunting/RMM")
}

fn rmmc() -> Command {
    let mut c = Command::cargo_bin("rmmc").expect("binary builds");
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

/// Import into `out` (JSON report) with the given hand-written folder.
fn import(out: &Path, hand: &Path) -> Value {
    let o = rmmc()
        .args(["--format", "json", "import", "sentinel"])
        .arg(corpus())
        .arg("--out")
        .arg(out)
        .args(["--date", "2026-12-01", "--hand-written"])
        .arg(hand)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("JSON report")
}

fn file<'a>(report: &'a Value, rel: &str) -> &'a Value {
    report["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file"] == rel)
        .unwrap_or_else(|| panic!("{rel} not in the report"))
}

/// The note of `rel` whose message contains `needle`, as (line, col).
fn note_at(report: &Value, rel: &str, needle: &str) -> (u64, u64) {
    let f = file(report, rel);
    let n = f["notes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["message"].as_str().unwrap().contains(needle))
        .unwrap_or_else(|| panic!("{rel}: no note containing {needle:?}: {f:#}"));
    (n["line"].as_u64().unwrap(), n["col"].as_u64().unwrap())
}

fn outcome(report: &Value, rel: &str) -> String {
    let f = file(report, rel);
    if !f["rejected"].is_null() {
        "rejected".into()
    } else if !f["kept"].is_null() {
        "kept".into()
    } else {
        "imported".into()
    }
}

#[test]
fn imports_the_corpus_with_located_repairs_and_reasons() {
    let tmp = TempDir::new().unwrap();
    let hand = tmp.path().join("no-specs");
    std::fs::create_dir(&hand).unwrap();
    let out = tmp.path().join("imported");
    let r = import(&out, &hand);
    let files = r["files"].as_array().unwrap();
    assert_eq!(files.len(), 167);

    // counts, per outcome and per rejection reason
    let imported = files.iter().filter(|f| f["rejected"].is_null()).count();
    let rejected: Vec<&str> = files
        .iter()
        .filter_map(|f| f["rejected"]["message"].as_str())
        .collect();
    // certificate events (filesig) have no Sigma/Splunk/Elastic source at all, and a
    // predicate only on PE fields leaves nothing for Sysmon EID 3: those backends are
    // declared unsupported for that detection (a note), not a reason to reject the file
    let unsupported = |needle: &str| {
        files
            .iter()
            .filter(|f| {
                f["notes"].as_array().unwrap().iter().any(|n| {
                    let m = n["message"].as_str().unwrap();
                    m.starts_with("declared unsupported on sigma") && m.contains(needle)
                })
            })
            .count()
    };
    assert_eq!(unsupported("no log source for certificate events"), 51);
    assert_eq!(unsupported("nothing of the predicate can be expressed"), 5);
    // what is left: 3 isempty(), 2 joins, 1 term ending in a non-ASCII letter
    assert_eq!(rejected.len(), 6, "{rejected:#?}");
    assert!(imported * 100 >= 167 * 95, "{imported} of 167 imported");
    assert_eq!(imported, 161);
    assert_eq!(rejected.iter().filter(|m| m.contains("isempty")).count(), 3);
    // every imported detection reads back as the original query, token for token
    let token_equal = files
        .iter()
        .filter(|f| f["round_trip"] == "token-equal")
        .count();
    assert_eq!(token_equal, imported);

    // the repairs, at their place in the YAML file
    let anydesk = "AnyDesk/rmm_AnyDesk_netconn.yaml";
    assert_eq!(
        note_at(&r, anydesk, "`AccountUpn` is not a column"),
        (25, 7)
    );
    assert_eq!(note_at(&r, anydesk, "not valid YAML"), (8, 5));
    let zoho = "ZohoAssist/rmm_ZohoAssist_netconn.yaml";
    assert_eq!(note_at(&r, zoho, "trailing comma"), (36, 26));
    assert_eq!(outcome(&r, zoho), "imported");
    let level = "Level/rmm_Level_createproc.yaml";
    assert_eq!(note_at(&r, level, "`has_all has_any (`"), (19, 22));
    // … and the file is still rejected, for what the spec cannot say
    let why = &file(&r, level)["rejected"];
    assert!(
        why["message"].as_str().unwrap().contains("isempty"),
        "{why}"
    );
    assert_eq!(
        (why["line"].as_u64(), why["col"].as_u64()),
        (Some(23), Some(11))
    );
    let dw = file(&r, "DWService/rmm_DWService_netconn.yaml");
    assert!(
        dw["rejected"]["message"]
            .as_str()
            .unwrap()
            .contains("the spec has no joins"),
        "{dw}"
    );
    assert_eq!(dw["rejected"]["line"], 19);

    // the result checks (it verifies too: see `hand_written_specs_win`; the shipped fixtures
    // expect the hand-written Action1/NetSupport/SupRemo exclusions, which an import lacks)
    rmmc().arg("check").arg(&out).assert().success();

    // snapshots of two specs and the report
    let read = |n: &str| std::fs::read_to_string(out.join(n)).unwrap();
    insta::assert_snapshot!("sentinel_anydesk", read("anydesk.yaml"));
    insta::assert_snapshot!("sentinel_dameware", read("dameware.yaml"));
    insta::assert_snapshot!("sentinel_report", read("IMPORT-REPORT.md"));

    // importing the same corpus again changes no file
    let o = rmmc()
        .args(["import", "sentinel"])
        .arg(corpus())
        .arg("--out")
        .arg(&out)
        .args(["--date", "2027-01-01", "--hand-written"])
        .arg(&hand)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains(" 0 written,"), "{text}");
    assert!(read("anydesk.yaml").contains("date: 2026-12-01"));
}

#[test]
fn hand_written_specs_win() {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("imported");
    let r = import(&out, Path::new("rules"));
    for tool in ["Action1", "NetSupport", "SupRemo"] {
        let rel = format!("{tool}/rmm_{tool}_netconn.yaml");
        assert_eq!(outcome(&r, &rel), "kept", "{rel}");
        assert!(!out.join(format!("{}.yaml", tool.to_lowercase())).exists());
    }
    assert!(out.join("anydesk.yaml").exists());
    rmmc().arg("check").arg(&out).assert().success();
    rmmc().arg("verify").arg(&out).assert().success();
}

#[test]
fn output_is_deterministic() {
    let tmp = TempDir::new().unwrap();
    let hand = tmp.path().join("none");
    std::fs::create_dir(&hand).unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    import(&a, &hand);
    import(&b, &hand);
    let list = |d: &Path| {
        let mut v: Vec<(String, String)> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| {
                (
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    std::fs::read_to_string(&p).unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(list(&a), list(&b));
}

/// The text report: a line per file with its outcome and note count, rejection reasons, the
/// summary table; every note only with --verbose; --strict exits 1 on a rejection.
#[test]
fn text_report_lists_every_file_and_notes_on_request() {
    let tmp = TempDir::new().unwrap();
    let run = |extra: &[&str]| {
        rmmc()
            .args(["import", "sentinel"])
            .arg(corpus())
            .arg("--out")
            .arg(tmp.path().join("out"))
            .args(["--date", "2026-12-01", "--hand-written", "rules"])
            .args(extra)
            .output()
            .unwrap()
    };
    let o = run(&[]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let per_file = text
        .lines()
        .filter(|l| l.contains(".yaml") && !l.starts_with(' '))
        .count();
    assert_eq!(per_file, 167, "{text}");
    assert!(text.contains("rejected             Addigy/rmm_Addigy_netconn.yaml (1 note)\n    Addigy/rmm_Addigy_netconn.yaml:32:11: `isempty()`"), "{text}");
    assert!(
        text.contains("kept hand-written    Action1/rmm_Action1_netconn.yaml"),
        "{text}"
    );
    assert!(text.contains("\nimported with notes    152\nkept hand-written        9\nrejected                 6\ntotal                  167\n"), "{text}");
    assert!(
        !text.contains("not valid YAML"),
        "notes only with --verbose"
    );

    let verbose = String::from_utf8_lossy(&run(&["--verbose"]).stdout).into_owned();
    assert!(verbose.contains("AnyDesk/rmm_AnyDesk_netconn.yaml:8:5: the file is not valid YAML"));

    assert_eq!(run(&["--strict"]).status.code(), Some(1));
}
