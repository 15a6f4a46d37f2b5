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
    // identical warnings are one block each: `warning: <backend>: <count> <what>`; a warning
    // with nothing like it is printed alone
    let group = regex::Regex::new(r"^warning: (kql|sigma|splunk|elastic): (\d+) ").unwrap();
    let heads: Vec<&str> = err.lines().filter(|l| l.starts_with("warning: ")).collect();
    assert!(
        heads.len() <= 10,
        "the imported corpus's warnings fit on a screen:\n{err}"
    );
    assert!(!err.contains("more warnings not shown"), "{err}");
    let total: usize = heads
        .iter()
        .map(|l| group.captures(l).map_or(1, |c| c[2].parse().unwrap()))
        .sum();
    assert!(
        heads.len() < total,
        "{} blocks for {total} warnings",
        heads.len()
    );
    // the acknowledged ones (declared gaps, the project's rmmc.toml) are one line at the end
    let last = err.lines().last().unwrap();
    assert!(
        last.starts_with("note: ") && last.contains(" acknowledged warnings not shown (by "),
        "{last}"
    );
    let acknowledged: usize = last["note: ".len()..]
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap();

    let (_, all) = build(&["--all-warnings"]);
    assert!(!all.contains("more warnings not shown"));
    assert!(!all.contains("acknowledged warnings not shown"));
    let each = all.lines().filter(|l| l.starts_with("warning: ")).count();
    // every warning is in a block, and every block's count is its warnings
    assert_eq!(
        each,
        total + acknowledged,
        "{each} = {total} + {acknowledged}"
    );

    let (json, _) = build(&["--format", "json"]);
    let diags: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    assert_eq!(diags.len(), each);
}

/// Warnings that are all different (here: 60 symlinked folders, each its own warning) are not
/// grouped; past 50 the first 20 are printed and the rest counted in one line.
#[cfg(unix)]
#[test]
fn many_different_warnings_are_capped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy("rules/supremo.yaml", dir.path().join("supremo.yaml")).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    for i in 0..60 {
        std::os::unix::fs::symlink(elsewhere.path(), dir.path().join(format!("link{i:02}")))
            .unwrap();
    }
    let o = Command::new(env!("CARGO_BIN_EXE_rmmc"))
        .env("NO_COLOR", "1")
        .arg("check")
        .arg(dir.path())
        .args(["--config", "rules/rmmc.toml"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let links = err.matches("a symlink to a folder: not followed").count();
    assert_eq!(links, 20, "{err}");
    let count = err
        .lines()
        .find(|l| l.contains("more warnings not shown ("))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(count.contains(" in all)"), "{count}");
}
