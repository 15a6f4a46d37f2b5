//! `rmmc import lolrmm` over the real catalogue (../shared/corpus/lolrmm/yaml, 319 tools):
//! coverage, the normalized AnyDesk domains, addresses and ports from the real data,
//! hand-written specs winning, idempotent re-import, and the output passing check/verify.

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use tempfile::TempDir;

const TOOLS: usize = 319;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn catalogue() -> PathBuf {
    root().join("../shared/corpus/lolrmm/yaml")
}

fn rmmc() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rmmc"));
    c.env("NO_COLOR", "1").current_dir(root());
    c
}

struct Imported {
    _tmp: TempDir,
    out: PathBuf,
    stdout: String,
}

impl Imported {
    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.out.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }
    fn report(&self) -> String {
        self.read("IMPORT-REPORT.md")
    }
    fn specs(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.out)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".yaml"))
            .collect();
        v.sort();
        v
    }
}

/// Import the catalogue with `hand` as the hand-written folder (relative to the repo root,
/// so the report names `rules/…` as a reader would).
fn import(hand: &str) -> Imported {
    let tmp = TempDir::new().unwrap();
    let out = tmp.path().join("lolrmm");
    let r = rmmc()
        .args(["import", "lolrmm"])
        .arg(catalogue())
        .arg("--out")
        .arg(&out)
        .args(["--date", "2026-12-01", "--hand-written", hand])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&r.stdout).into_owned();
    assert!(
        r.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&r.stderr)
    );
    Imported {
        _tmp: tmp,
        out,
        stdout,
    }
}

fn without_hand() -> &'static Imported {
    static I: OnceLock<Imported> = OnceLock::new();
    I.get_or_init(|| {
        // an empty hand-written folder: every tool with data is imported
        let tmp = TempDir::new().unwrap();
        let i = import(tmp.path().to_str().unwrap());
        drop(tmp);
        i
    })
}

fn with_hand() -> &'static Imported {
    static I: OnceLock<Imported> = OnceLock::new();
    I.get_or_init(|| import("rules"))
}

#[test]
fn almost_every_tool_with_data_becomes_a_spec() {
    let i = without_hand();
    let specs = i.specs().len();
    let report = i.report();
    let rejected: Vec<&str> = report
        .lines()
        .filter(|l| l.starts_with("- rejected at "))
        .collect();
    // the 18 rejected tools are LOLRMM placeholder files: every list and name is empty
    assert!(
        rejected
            .iter()
            .all(|l| l.contains("no usable detection data")),
        "{rejected:#?}"
    );
    assert_eq!(specs + rejected.len(), TOOLS, "{}", i.stdout);
    assert!(specs >= 300, "{specs} specs of {TOOLS} tools");
    assert!(rejected.len() <= 18, "{rejected:#?}");
}

#[test]
fn anydesk_domains_are_normalized() {
    let i = without_hand();
    let spec = i.read("lolrmm-anydesk.yaml");
    assert!(
        spec.contains("remote_domain: { domain: [anydesk.com] }"),
        "{spec}"
    );
    assert!(!spec.contains("*."), "{spec}");
    assert!(!spec.contains(":443"), "{spec}");
    assert!(!spec.contains("relay-"), "{spec}");
    let report = i.report();
    let section = report
        .split("\n### ")
        .find(|s| s.starts_with("anydesk.yaml "))
        .expect("anydesk in the report");
    // the regex entry, reduced to its literal suffix, located at its line
    assert!(
        section.contains("anydesk.yaml:143:17: domain `relay-[a-f0-9]{8}.net.anydesk.com:443`: pattern reduced to the literal domain after it, `net.anydesk.com` (wider"),
        "{section}"
    );
    assert!(
        section.contains("ports 443 written after hosts are not matched"),
        "{section}"
    );
    assert!(
        section.contains("`*.` dropped from 1 domain(s)"),
        "{section}"
    );
}

#[test]
fn addresses_from_the_real_data() {
    let i = without_hand();
    let simplehelp = i.read("lolrmm-simplehelp.yaml");
    assert!(simplehelp.contains("remote_ip:"), "{simplehelp}");
    assert!(simplehelp.contains("- 51.255.19.178"), "{simplehelp}");
    assert!(simplehelp.contains("remote_domain:"), "{simplehelp}");
    assert!(simplehelp.contains("  any:"), "{simplehelp}");
    // private and placeholder entries are reported, never matched
    let report = i.report();
    assert!(report.contains("domain `<internal-customer-ranges>` skipped: a placeholder"));
    assert!(report.contains("domain `user_managed` skipped: names no host"));
    assert!(report.contains("is shared by many unrelated services"));
}

#[test]
fn hand_written_specs_win_and_are_named() {
    let i = with_hand();
    let specs = i.specs();
    for gone in [
        "lolrmm-action1.yaml",
        "lolrmm-netsupport-manager.yaml",
        "lolrmm-supremo.yaml",
    ] {
        assert!(!specs.contains(&gone.to_string()), "{gone} written");
        assert!(without_hand().specs().contains(&gone.to_string()), "{gone}");
    }
    assert_eq!(specs.len() + 3, without_hand().specs().len());
    let report = i.report();
    for (file, hand) in [
        ("action1.yaml", "rules/action1.yaml"),
        ("netsupport_manager.yaml", "rules/netsupport.yaml"),
        ("supremo.yaml", "rules/supremo.yaml"),
    ] {
        let section = report
            .split("\n### ")
            .find(|s| s.starts_with(&format!("{file} ")))
            .unwrap_or_else(|| panic!("{file} in the report"));
        assert!(section.contains("kept hand-written"), "{section}");
        assert!(
            section.contains(&format!("- hand-written {hand} covers this tool")),
            "{section}"
        );
    }
    assert!(report.contains("| kept hand-written | 3 |"), "{report}");
}

#[test]
fn re_import_writes_nothing() {
    let i = with_hand();
    let r = rmmc()
        .args(["import", "lolrmm"])
        .arg(catalogue())
        .arg("--out")
        .arg(&i.out)
        .args(["--date", "2027-01-01", "--hand-written", "rules"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert!(r.status.success());
    assert!(
        stdout.contains(": 0 written, 299 unchanged, 0 removed"),
        "{stdout}"
    );
}

#[test]
fn imported_specs_check_with_the_hand_written_ones() {
    let i = with_hand();
    let r = rmmc()
        .arg("check")
        .arg(&i.out)
        .arg("rules")
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
}

/// verify over all 300 specs takes long in a debug build: a fixed subset of 20 here (the
/// full folder is verified in release by hand / CI).
#[test]
fn a_subset_of_imported_specs_verifies() {
    // with the hand-written specs winning, as committed: the shipped fixtures list which of
    // the hand-written rules fire, so an imported NetSupport rule would contradict them
    let i = with_hand();
    let tmp = TempDir::new().unwrap();
    let specs = i.specs();
    let step = specs.len() / 20;
    let mut picked: Vec<&String> = specs.iter().step_by(step).take(20).collect();
    for must in ["lolrmm-anydesk.yaml", "lolrmm-simplehelp.yaml"] {
        if !picked.iter().any(|s| *s == must) {
            picked.push(specs.iter().find(|s| *s == must).unwrap());
        }
    }
    for s in &picked {
        std::fs::copy(i.out.join(s), tmp.path().join(s)).unwrap();
    }
    let r = rmmc().arg("verify").arg(tmp.path()).output().unwrap();
    assert!(
        r.status.success(),
        "{}{}",
        String::from_utf8_lossy(&r.stdout),
        String::from_utf8_lossy(&r.stderr)
    );
}

#[test]
fn snapshots() {
    let i = without_hand();
    for name in [
        "lolrmm-anydesk.yaml",
        "lolrmm-simplehelp.yaml",
        "lolrmm-jump-cloud.yaml",
    ] {
        insta::assert_snapshot!(name, i.read(name));
    }
    insta::assert_snapshot!("import-report", with_hand().report());
}

/// Import one catalogue file, as is or with a UTF-8 byte order mark in front (as Windows
/// editors save it); the spec files written.
fn import_one(name: &str, bom: bool) -> Vec<(String, String)> {
    let tmp = TempDir::new().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let mut bytes = if bom {
        b"\xEF\xBB\xBF".to_vec()
    } else {
        Vec::new()
    };
    bytes.extend(std::fs::read(catalogue().join(name)).unwrap());
    std::fs::write(src.join(name), bytes).unwrap();
    let out = tmp.path().join("out");
    let r = rmmc()
        .args(["import", "lolrmm", "--strict"])
        .arg(&src)
        .arg("--out")
        .arg(&out)
        .arg("--hand-written")
        .arg(tmp.path().join("none"))
        .args(["--date", "2026-12-01"])
        .output()
        .unwrap();
    assert!(
        r.status.success(),
        "bom={bom}: {}{}",
        String::from_utf8_lossy(&r.stdout),
        String::from_utf8_lossy(&r.stderr)
    );
    let mut files: Vec<(String, String)> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p.file_name().unwrap().to_string_lossy().into_owned(), text)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn a_source_file_with_a_byte_order_mark_imports_like_the_original() {
    let plain = import_one("anydesk.yaml", false);
    assert_eq!(plain.len(), 1, "{plain:?}");
    assert_eq!(import_one("anydesk.yaml", true), plain);
}

/// A tool with more values in one detection than the redundancy search takes (1,000) is
/// imported whole, with a note saying it was not checked (the search is quadratic in them);
/// one under the bound gets no such note. (What the search drops: `import::tests`.)
#[test]
fn the_redundancy_search_is_bounded() {
    let src = tempfile::tempdir().unwrap();
    let run = |n: usize| {
        let doms: String = (0..n)
            .map(|i| format!("              - h{i}.example{i}.com\n"))
            .collect();
        std::fs::write(
            src.path().join("bigtool.yaml"),
            format!(
                "Name: BigTool\nCategory: RMM\nDescription: big\nAuthor: x\nCreated: '2023-09-29'\n\
                 LastModified: '2023-09-29'\nDetails:\n    Website: https://bigtool.example\n\
                 Artifacts:\n    Network:\n        - Description: N/A\n          Domains:\n{doms}"
            ),
        )
        .unwrap();
        let out = tempfile::tempdir().unwrap();
        rmmc()
            .args(["import", "lolrmm"])
            .arg(src.path())
            .arg("--out")
            .arg(out.path())
            .args(["--hand-written", "/nonexistent"])
            .assert()
            .code(0);
        std::fs::read_to_string(out.path().join("IMPORT-REPORT.md")).unwrap()
    };
    let report = run(1001);
    assert!(
        report.contains("not checked for values implied by others: 1001 values (more than 1000)"),
        "{report}"
    );
    let report = run(999);
    assert!(!report.contains("not checked"), "{report}");
}
