//! `rmmc diff` against a committed artifact folder: every kind of drift is caught, named and
//! shown as a unified diff; exit codes 0 / 1 / 2.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn rmmc() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rmmc"));
    c.env("NO_COLOR", "1");
    c
}

/// A copy of the shipped rules and a deployed folder built from them.
struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    fn new() -> Repo {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("rules")).unwrap();
        for f in ["netsupport.yaml", "action1.yaml", "supremo.yaml"] {
            std::fs::copy(Path::new("rules").join(f), dir.path().join("rules").join(f)).unwrap();
        }
        let repo = Repo { dir };
        rmmc()
            .current_dir(repo.path())
            .args([
                "build",
                "rules",
                "--out",
                "deployed",
                "--target",
                "kql,sentinel",
            ])
            .assert()
            .code(0);
        repo
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    fn file(&self, rel: &str) -> PathBuf {
        self.path().join(rel)
    }
    fn edit(&self, rel: &str, from: &str, to: &str) {
        let text = std::fs::read_to_string(self.file(rel)).unwrap();
        assert!(text.contains(from), "{rel} lacks {from:?}");
        std::fs::write(self.file(rel), text.replacen(from, to, 1)).unwrap();
    }
    /// `rmmc diff` → (exit code, stdout)
    fn diff(&self, extra: &[&str]) -> (i32, String) {
        let out = rmmc()
            .current_dir(self.path())
            .args([
                "diff",
                "rules",
                "--against",
                "deployed",
                "--target",
                "kql,sentinel",
            ])
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8(out.stdout).unwrap(),
        )
    }
}

#[test]
fn identical_is_exit_0() {
    let repo = Repo::new();
    let (code, out) = repo.diff(&[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out,
        "no drift: 0 changed, 0 added, 0 removed, 18 unchanged\n"
    );
}

#[test]
fn spec_change_without_regenerating() {
    let repo = Repo::new();
    repo.edit("rules/supremo.yaml", "nanosystems.it", "nanosystems.eu");
    let (code, out) = repo.diff(&[]);
    assert_eq!(code, 1);
    insta::assert_snapshot!(out);
}

#[test]
fn hand_edited_artifact() {
    let repo = Repo::new();
    repo.edit(
        "deployed/kql/netsupport-createproc.kql",
        "has 'netsupport'",
        "has 'NetSupport'",
    );
    let (code, out) = repo.diff(&[]);
    assert_eq!(code, 1);
    insta::assert_snapshot!(out);
}

#[test]
fn added_and_removed_detection() {
    let repo = Repo::new();
    // rename a detection: its old artifacts are gone, new ones appear
    repo.edit("rules/action1.yaml", "  netconn:\n", "  agent-netconn:\n");
    let (code, out) = repo.diff(&[]);
    assert_eq!(code, 1);
    let summary = out.lines().last().unwrap();
    assert_eq!(
        summary,
        "drift: 0 changed, 3 added, 3 removed, 15 unchanged"
    );
    assert!(out.contains("--- /dev/null\n+++ fresh/kql/action1-agent-netconn.kql\n"));
    assert!(out.contains("--- committed/kql/action1-netconn.kql\n+++ /dev/null\n"));
}

#[test]
fn whitespace_only_change_is_drift() {
    let repo = Repo::new();
    // a trailing space, and a YAML file that lost its final newline
    repo.edit(
        "deployed/kql/supremo-netconn.kql",
        "\n| where",
        " \n| where",
    );
    let yaml = repo.file("deployed/sentinel/hunting/supremo-netconn.yaml");
    let text = std::fs::read_to_string(&yaml).unwrap();
    std::fs::write(&yaml, text.trim_end_matches('\n')).unwrap();
    let (code, out) = repo.diff(&[]);
    assert_eq!(code, 1);
    insta::assert_snapshot!(out);
}

#[test]
fn json_for_bots() {
    let repo = Repo::new();
    repo.edit(
        "deployed/kql/supremo-netconn.kql",
        "NanoSystems",
        "NanoSystem",
    );
    let out = rmmc()
        .current_dir(repo.path())
        .args([
            "diff",
            "rules",
            "--against",
            "deployed",
            "--target",
            "kql,sentinel",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["clean"], false);
    assert_eq!(v["files"][0]["path"], "kql/supremo-netconn.kql");
    assert_eq!(v["files"][0]["status"], "changed");
    let hunk = v["files"][0]["hunks"][0].as_str().unwrap();
    assert!(
        hunk.starts_with("@@ ")
            && hunk.contains("-    and InitiatingProcessVersionInfoCompanyName has 'NanoSystem'\n"),
        "{hunk}"
    );
}

#[test]
fn errors_exit_2_and_diff_writes_nothing() {
    let repo = Repo::new();
    let before = std::fs::read_dir(repo.path()).unwrap().count();
    rmmc()
        .current_dir(repo.path())
        .args(["diff", "rules", "--against", "nowhere"])
        .assert()
        .code(2);
    repo.edit("rules/supremo.yaml", "window: 5d", "window: 50d");
    rmmc()
        .current_dir(repo.path())
        .args(["diff", "rules", "--against", "deployed"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("supremo.yaml:"));
    assert_eq!(std::fs::read_dir(repo.path()).unwrap().count(), before);
}
