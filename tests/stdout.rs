//! Command output that cannot be written never panics: a reader that goes away (`| head`)
//! ends the run quietly, a full disk is an I/O error (exit 2) with one line saying so.

#![cfg(unix)]

use std::process::{Command, Stdio};

fn rmmc() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rmmc"));
    c.env("NO_COLOR", "1");
    c
}

#[test]
fn a_full_disk_is_an_io_error_not_a_panic() {
    let full = std::fs::File::create("/dev/full").expect("/dev/full");
    let out = rmmc()
        .arg("schema")
        .stdout(full)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains("cannot write the output") && err.contains("No space left"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn a_reader_that_goes_away_ends_the_run_quietly() {
    // The pipe is closed before rmmc has compiled anything, so its first write meets EPIPE.
    let mut child = rmmc()
        .args(["explain", "rules"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(0), "stderr: {err}");
}

/// `rmmc eval` writes its result lines through one buffer: a full disk is still exit 2 with
/// one line, a reader gone still a quiet exit 0.
#[test]
fn eval_results_that_cannot_be_written_end_the_run_as_any_output() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let line = r#"{"process":{"name":"a","pid":1}}"#;
    std::fs::write(&events, format!("{line}\n").repeat(20_000)).unwrap();
    let rule = dir.path().join("r.eql");
    std::fs::write(&rule, r#"any where process.name == "a""#).unwrap();
    let eval = || {
        let mut c = rmmc();
        c.arg("eval").arg(&rule).arg("--events").arg(&events);
        c
    };
    let full = std::fs::File::create("/dev/full").expect("/dev/full");
    let out = eval().stdout(full).stderr(Stdio::piped()).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(
        err.contains("cannot write the output") && !err.contains("panicked"),
        "{err}"
    );
    let mut child = eval()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(0), "stderr: {err}");
}
