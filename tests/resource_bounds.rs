//! Hostile input ends with a clear error (exit 2) in bounded time and memory: YAML alias
//! bombs, 10,000-level nesting, a 50 MB spec, a 1 MB value, and 10,000-deep parentheses in an
//! artifact given to `rmmc eval` and `rmmc verify --artifacts`, in every language.

use assert_cmd::Command;
use std::path::Path;
use std::time::Duration;

/// "Bounded time" here means not exponential: an alias bomb or deep nesting that were expanded
/// would run for hours, so a generous guard tells the two apart without asserting a speed (a
/// debug binary on a loaded 2-core machine is slow).
const BLOWUP_GUARD: Duration = Duration::from_secs(120);

fn rmmc() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rmmc"));
    c.env("NO_COLOR", "1").timeout(BLOWUP_GUARD);
    c
}

fn check_spec(text: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("x.yaml"), text).unwrap();
    let out = rmmc().arg("check").arg(dir.path()).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const BOMB: &str = r#"id: bomb
vendor: Bomb
description: &d0 "lol"
references: &r1 [*d0, *d0, *d0, *d0, *d0, *d0, *d0, *d0, *d0, *d0]
author: &r2 [*r1, *r1, *r1, *r1, *r1, *r1, *r1, *r1, *r1, *r1]
date: &r3 [*r2, *r2, *r2, *r2, *r2, *r2, *r2, *r2, *r2, *r2]
severity: &r4 [*r3, *r3, *r3, *r3, *r3, *r3, *r3, *r3, *r3, *r3]
attack: &r5 [*r4, *r4, *r4, *r4, *r4, *r4, *r4, *r4, *r4, *r4]
window: &r6 [*r5, *r5, *r5, *r5, *r5, *r5, *r5, *r5, *r5, *r5]
detections: &r7 [*r6, *r6, *r6, *r6, *r6, *r6, *r6, *r6, *r6, *r6]
exclusions: [*r7, *r7, *r7, *r7, *r7, *r7, *r7, *r7, *r7, *r7]
"#;

#[test]
fn hostile_specs_are_refused_quickly() {
    let supremo = std::fs::read_to_string("rules/supremo.yaml").unwrap();
    let cases: Vec<(&str, String, &str)> = vec![
        ("alias bomb", BOMB.to_string(), "x.yaml:"),
        (
            "10,000-level nesting",
            format!("a: {}{}\n", "[".repeat(10_000), "]".repeat(10_000)),
            "x.yaml:",
        ),
        (
            "50 MB spec",
            format!("{supremo}\n# {}\n", "x".repeat(50_000_000)),
            "split the tool into several specs",
        ),
        (
            "1 MB value",
            supremo.replace("NanoSystems", &format!("N{}", "a".repeat(1_000_000))),
            "x.yaml:",
        ),
    ];
    for (what, text, want) in cases {
        let (code, err) = check_spec(&text);
        assert_eq!(code, 2, "{what}: {err}");
        assert!(err.contains(want), "{what}: {err}");
    }
}

#[test]
fn deep_artifacts_are_parse_errors_in_every_language() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let deployed = Path::new("examples/deployed");
    let read = |p: &str| std::fs::read_to_string(deployed.join(p)).unwrap();
    let open = "(".repeat(10_000);
    let close = ")".repeat(10_000);
    let artifacts = [
        (
            "deep.kql",
            read("kql/supremo-netconn.kql").replacen(
                "| where RemoteUrl",
                &format!("| where {open}RemoteUrl"),
                1,
            ),
        ),
        ("deep.eql", format!("network where {open}a == 1{close}")),
        ("deep.spl", format!("index=x {open}a=1{close}")),
        (
            "deep.yml",
            read("sigma/supremo-netconn.yml").replace(
                "condition: selection",
                &format!("condition: {open}selection{close}"),
            ),
        ),
    ];
    std::fs::write(d.join("ev.jsonl"), "{\"a\": 1}\n").unwrap();
    for (name, text) in artifacts {
        std::fs::write(d.join(name), text).unwrap();
        let out = rmmc()
            .args(["eval"])
            .arg(d.join(name))
            .arg("--events")
            .arg(d.join("ev.jsonl"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains("deeper than 128"), "{name}: {err}");
    }
}

#[test]
fn deep_artifacts_on_disk_fail_verify_without_crashing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    rmmc()
        .args(["build", "rules", "--out"])
        .arg(&out)
        .assert()
        .code(0);
    let open = "(".repeat(10_000);
    for rel in [
        "kql/supremo-netconn.kql",
        "splunk/supremo-netconn.spl",
        "elastic/supremo-netconn.eql",
        "sigma/supremo-netconn.yml",
    ] {
        let p = out.join(rel);
        let before = std::fs::read_to_string(&p).unwrap();
        std::fs::write(&p, format!("{before}{open}")).unwrap();
        let res = rmmc()
            .args(["verify", "rules", "--artifacts"])
            .arg(&out)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&res.stdout);
        assert_eq!(res.status.code(), Some(1), "{rel}: {text}");
        assert!(text.contains("ERROR"), "{rel}: {text}");
        std::fs::write(&p, before).unwrap();
    }
}

/// `t0 op t1 op … tn-1` from `term(i)`.
fn chain(n: usize, op: &str, term: impl Fn(usize) -> String) -> String {
    (0..n).map(term).collect::<Vec<_>>().join(op)
}

fn eval(artifact: &Path, events: &Path) -> (Option<i32>, String, String) {
    let out = rmmc()
        .arg("eval")
        .arg(artifact)
        .arg("--events")
        .arg(events)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn long_flat_chains_evaluate_or_are_refused_without_crashing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // KQL: a flat 20,000-term chain is evaluated (the tree it parses into is balanced).
    let ev = d.join("net.jsonl");
    std::fs::write(
        &ev,
        "{\"Timestamp\":\"2026-05-31T10:00:00Z\",\"DeviceName\":\"d1\",\"RemoteUrl\":\"x.a19999.com\"}\n\
         {\"Timestamp\":\"2026-05-31T10:00:00Z\",\"DeviceName\":\"d2\",\"RemoteUrl\":\"x.b.com\"}\n",
    )
    .unwrap();
    let cases = [
        (" or ", "RemoteUrl has 'a", vec!["d1"]),
        (" and ", "RemoteUrl !has 'z", vec!["d1", "d2"]),
    ];
    for (op, term, want) in cases {
        let kql = format!(
            "DeviceNetworkEvents\n| where {}\n",
            chain(20_000, op, |i| format!("{term}{i}'"))
        );
        let p = d.join("chain.kql");
        std::fs::write(&p, kql).unwrap();
        let (code, out, err) = eval(&p, &ev);
        assert_eq!(code, Some(0), "{op}: {err}");
        let got: Vec<String> = out
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["DeviceName"].to_string()
            })
            .collect();
        let want: Vec<String> = want.iter().map(|w| format!("\"{w}\"")).collect();
        assert_eq!(got, want, "{op}: {err}");
    }
    // Sigma: sigma-rust recurses once per operator, so a chain past the documented bound is
    // refused; one at the bound still runs.
    let sigma = std::fs::read_to_string("examples/deployed/sigma/supremo-netconn.yml").unwrap();
    let sev = d.join("sysmon.jsonl");
    std::fs::write(
        &sev,
        "{\"DestinationHostname\":\"supremocontrol.com\",\"Image\":\"C:\\\\supremo.exe\",\"Computer\":\"c\",\"User\":\"u\",\"DestinationIp\":\"1.2.3.4\",\"DestinationPort\":443}\n",
    )
    .unwrap();
    let p = d.join("chain.yml");
    let with = |n: usize| {
        sigma.replace(
            "condition: selection",
            &format!("condition: {}", chain(n, " or ", |_| "selection".into())),
        )
    };
    std::fs::write(&p, with(50_000)).unwrap();
    let (code, _, err) = eval(&p, &sev);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("and/or operators, more than 1000"), "{err}");
    std::fs::write(&p, with(1001)).unwrap();
    let (code, _, err) = eval(&p, &sev);
    assert!(matches!(code, Some(0 | 1)), "{err}");
    assert!(!err.contains("more than 1000"), "{err}");
}

#[test]
fn long_flat_chains_on_disk_fail_verify_without_crashing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    rmmc()
        .args(["build", "rules", "--out"])
        .arg(&out)
        .assert()
        .code(0);
    let kql = chain(20_000, " or ", |i| format!("RemoteUrl has 'a{i}'"));
    let sigma = chain(50_000, " or ", |_| "selection".into());
    for (rel, from, to, refused) in [
        (
            "kql/supremo-netconn.kql",
            "| where RemoteUrl",
            format!("| where ({kql}) and RemoteUrl"),
            false,
        ),
        (
            "sigma/supremo-netconn.yml",
            "condition: selection",
            format!("condition: {sigma}"),
            true,
        ),
    ] {
        let p = out.join(rel);
        let before = std::fs::read_to_string(&p).unwrap();
        assert!(before.contains(from), "{rel}");
        std::fs::write(&p, before.replacen(from, &to, 1)).unwrap();
        let res = rmmc()
            .args(["verify", "rules", "--artifacts"])
            .arg(&out)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&res.stdout);
        let err = String::from_utf8_lossy(&res.stderr);
        // The KQL chain is run (it narrows the rule to URLs no case has, so cases mismatch);
        // the Sigma one is refused, an ERROR cell.
        assert_eq!(res.status.code(), Some(1), "{rel}: {text}{err}");
        assert_eq!(text.contains("more than 1000"), refused, "{rel}: {text}");
        assert!(
            !text.contains("does not parse: expression"),
            "{rel}: {text}"
        );
        std::fs::write(&p, before).unwrap();
    }
}
