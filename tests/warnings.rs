//! A build of hundreds of specs (the imported corpus) prints the first warnings in full and
//! a count of the rest (identical fidelity warnings grouped, acknowledged ones counted in one
//! line); `--all-warnings` prints each; JSON always lists every one.

use assert_cmd::Command;

fn build(extra: &[&str]) -> (String, String) {
    let out = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_rmmc"))
        .env("NO_COLOR", "1")
        .args(["build", "rules/imported/sentinel", "--out"])
        .arg(out.path().join("o"))
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success());
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn many_warnings_are_counted_not_all_printed() {
    let (_, err) = build(&[]);
    let full = err.lines().filter(|l| l.starts_with("warning: ")).count();
    assert_eq!(full, 21, "20 in full plus the count line:\n{err}");
    let count = err
        .lines()
        .find(|l| l.contains("more warnings not shown ("))
        .unwrap();
    let total: usize = count
        .split(" in all")
        .next()
        .and_then(|s| s.rsplit('(').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    // the acknowledged ones (declared gaps, the project's rmmc.toml) are one line at the end
    let last = err.lines().last().unwrap();
    assert!(
        last.starts_with("note: ") && last.contains(" acknowledged warnings not shown (by "),
        "{last}"
    );

    let (_, all) = build(&["--all-warnings"]);
    assert!(!all.contains("more warnings not shown"));
    assert!(!all.contains("acknowledged warnings not shown"));
    let each = all.lines().filter(|l| l.starts_with("warning: ")).count();
    assert!(each > total, "{each} > {total}");

    let (json, _) = build(&["--format", "json"]);
    let diags: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    assert_eq!(diags.len(), each);
}
