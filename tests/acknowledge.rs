//! Warnings a team can triage (issue 18, point 4), end to end through the CLI: identical
//! fidelity warnings are grouped, a project's `rmmc.toml` or a detection's `accepted:`
//! acknowledges a known loss with a reason, `--deny` then passes on the shipped rules and
//! still fails on a new loss, and a stale or malformed acknowledgement is reported.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn rmmc(dir: &Path, args: &[&str]) -> Out {
    let o = Command::new(env!("CARGO_BIN_EXE_rmmc"))
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .unwrap();
    Out {
        code: o.status.code().unwrap(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// A project in a temporary folder (its own repository root, so no `rmmc.toml` above it is
/// found): `rules/` with the three shipped specs, and the shipped `rules/rmmc.toml` if asked.
fn project(with_config: bool) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join(".git")).unwrap();
    let rules = tmp.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    for spec in ["action1", "netsupport", "supremo"] {
        let from = manifest().join(format!("rules/{spec}.yaml"));
        std::fs::copy(from, rules.join(format!("{spec}.yaml"))).unwrap();
    }
    if with_config {
        std::fs::copy(manifest().join("rules/rmmc.toml"), rules.join("rmmc.toml")).unwrap();
    }
    (tmp, rules)
}

/// A new spec with a new kind of loss: an IPv6 address, which KQL and SPL compare as text
/// (narrower: `ipv6-text`), a note no shipped rule has.
fn ipv6_spec(id: &str, accepted: &str) -> String {
    std::fs::read_to_string(manifest().join("rules/supremo.yaml"))
        .unwrap()
        .replace("id: supremo", &format!("id: {id}"))
        .replace("vendor: SupRemo", &format!("vendor: {id}"))
        .replace(
            "        - initiating_company: { term: [NanoSystems] }\n",
            &format!("        - remote_ip: {{ ip: [\"2001:db8::7\"] }}\n{accepted}"),
        )
}

fn warnings(stderr: &str) -> usize {
    stderr
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .count()
}

#[test]
fn identical_warnings_are_grouped_with_a_count() {
    let (tmp, _) = project(false);
    let grouped = rmmc(tmp.path(), &["check", "rules"]);
    assert_eq!(grouped.code, 0, "{}", grouped.stderr);
    // KQL's term boundaries: one line for every `term` match of the three specs
    assert!(
        grouped.stderr.contains(
            "warning: kql: 8 matches make the rule narrower (kind:term): Kusto's terms are"
        ),
        "{}",
        grouped.stderr
    );
    assert!(grouped.stderr.contains("… and 5 more places"));
    assert!(grouped
        .stderr
        .contains("under `[accepted.kql.narrower]` in rmmc.toml"));
    let each = rmmc(tmp.path(), &["check", "rules", "--all-warnings"]);
    let json = rmmc(tmp.path(), &["check", "rules", "--format", "json"]);
    let diags: Vec<serde_json::Value> = serde_json::from_str(&json.stdout).unwrap();
    // --all-warnings prints every one, acknowledged (declared gaps) included
    assert_eq!(warnings(&each.stderr), diags.len());
    assert!(warnings(&grouped.stderr) * 3 < diags.len());
    // JSON keeps one record each, with the key a tool groups by
    let term = diags
        .iter()
        .filter(|d| {
            d["key"]
                == serde_json::json!({"backend": "kql", "effect": "narrower", "note": "kind:term"})
        })
        .count();
    assert_eq!(term, 8);
    // a declared gap is acknowledged by the spec's own `gaps:`
    let gap = diags
        .iter()
        .find(|d| d["message"].as_str().unwrap().contains("(declared gap: "))
        .unwrap();
    assert_eq!(gap["acknowledged"]["by"], gap["file"], "{gap}");
    assert!(gap.get("key").is_none(), "{gap}");
}

#[test]
fn the_shipped_rules_pass_deny_and_a_new_loss_fails_it() {
    let shipped = rmmc(manifest(), &["check", "rules", "--deny", "wider,narrower"]);
    assert_eq!(shipped.code, 0, "{}", shipped.stderr);
    assert!(shipped
        .stderr
        .contains("acknowledged warnings not shown (by"));
    assert!(shipped.stderr.contains("rules/rmmc.toml: "));
    assert!(!shipped.stderr.contains("stale"), "{}", shipped.stderr);

    // without the project's acknowledgements the same rules fail
    let (bare, _) = project(false);
    let refused = rmmc(bare.path(), &["check", "rules", "--deny", "narrower"]);
    assert_eq!(refused.code, 1);

    // a new spec with a loss nobody acknowledged fails, naming it
    let (tmp, rules) = project(true);
    assert_eq!(
        rmmc(tmp.path(), &["check", "rules", "--deny", "wider,narrower"]).code,
        0
    );
    std::fs::write(rules.join("ipv6tool.yaml"), ipv6_spec("ipv6tool", "")).unwrap();
    let new = rmmc(tmp.path(), &["check", "rules", "--deny", "wider,narrower"]);
    assert_eq!(new.code, 1, "{}", new.stderr);
    assert!(
        new.stderr.contains("--> rules/ipv6tool.yaml:"),
        "{}",
        new.stderr
    );
    assert!(new.stderr.contains("IPv6 addresses"), "{}", new.stderr);
    // and says how to acknowledge it
    assert!(
        new.stderr
            .contains("`\"ipv6-text\" = \"<why>\"` under `[accepted.kql.narrower]`"),
        "{}",
        new.stderr
    );
    // build refuses it the same way, and writes nothing
    let out = tmp.path().join("out");
    let build = rmmc(
        tmp.path(),
        &[
            "build",
            "rules",
            "--out",
            out.to_str().unwrap(),
            "--deny",
            "narrower",
        ],
    );
    assert_eq!(build.code, 1);
    assert!(!out.exists());
}

#[test]
fn a_detection_acknowledges_its_own_loss() {
    let (tmp, rules) = project(true);
    let accepted = "    accepted:\n      kql: { narrower: { ipv6-text: the documentation range is spelled compressed by every sensor we ingest } }\n      splunk:\n        narrower:\n          ipv6-text: the documentation range is spelled compressed by every sensor we ingest\n";
    let spec = ipv6_spec("ipv6tool", "").replace("    gaps:\n", &format!("{accepted}    gaps:\n"));
    std::fs::write(rules.join("ipv6tool.yaml"), spec).unwrap();
    let ok = rmmc(tmp.path(), &["check", "rules", "--deny", "wider,narrower"]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(ok.stderr.contains("rules/ipv6tool.yaml: "), "{}", ok.stderr);
    // --all-warnings shows it with its reason
    let each = rmmc(tmp.path(), &["check", "rules", "--all-warnings"]);
    assert!(each
        .stderr
        .contains("acknowledged in rules/ipv6tool.yaml: the documentation range"));
    // the other specs' detections are not covered by it: a second IPv6 spec still fails
    let other = ipv6_spec("other", "");
    std::fs::write(rules.join("other.yaml"), other).unwrap();
    assert_eq!(
        rmmc(tmp.path(), &["check", "rules", "--deny", "narrower"]).code,
        1
    );
}

#[test]
fn a_stale_acknowledgement_is_a_warning() {
    let (tmp, rules) = project(true);
    // a loss no shipped rule has: KQL's term boundaries never widen a rule here
    let toml = std::fs::read_to_string(rules.join("rmmc.toml"))
        .unwrap()
        .replace(
            "[accepted.kql.wider]\n",
            "[accepted.kql.wider]\n\"kind:term\" = \"no kql rule is wider by term boundaries\"\n",
        );
    std::fs::write(rules.join("rmmc.toml"), &toml).unwrap();
    let line = toml
        .lines()
        .position(|l| l.starts_with("\"kind:term\" = \"no kql"))
        .unwrap()
        + 1;
    let run = rmmc(tmp.path(), &["check", "rules", "--deny", "wider,narrower"]);
    assert_eq!(run.code, 0, "a stale entry is a warning: {}", run.stderr);
    assert!(
        run.stderr.contains(
            "warning: stale acknowledgement: no warning of the rules is `kql wider kind:term`"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!("rules/rmmc.toml:{line}:1")),
        "{}",
        run.stderr
    );
    // checking part of the project does not call the project's entries stale
    let part = rmmc(tmp.path(), &["check", "rules/supremo.yaml"]);
    assert!(!part.stderr.contains("stale"), "{}", part.stderr);
}

#[test]
fn a_bad_acknowledgement_names_its_place() {
    let (tmp, rules) = project(true);
    let toml = std::fs::read_to_string(rules.join("rmmc.toml")).unwrap();
    let bad = toml.replace("\"kind:term\" = ", "\"kind:trem\" = ");
    std::fs::write(rules.join("rmmc.toml"), &bad).unwrap();
    let line = bad
        .lines()
        .position(|l| l.starts_with("\"kind:trem\""))
        .unwrap()
        + 1;
    let run = rmmc(tmp.path(), &["check", "rules"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("(did you mean `term`?)"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!("rules/rmmc.toml:{line}:1")),
        "{}",
        run.stderr
    );

    let bad = toml.replace("[accepted.splunk.wider]", "[accepted.splnk.wider]");
    std::fs::write(rules.join("rmmc.toml"), &bad).unwrap();
    let run = rmmc(tmp.path(), &["check", "rules"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("unknown variant `splnk`"),
        "{}",
        run.stderr
    );

    let bad = toml.replace(
        "\"kind:fold\" = \"Kusto folds",
        "\"kind:fold\" = \" \"\n\"x\" = \"",
    );
    std::fs::write(rules.join("rmmc.toml"), &bad).unwrap();
    assert_eq!(rmmc(tmp.path(), &["check", "rules"]).code, 2);

    // in a spec: the loader's file:line:col
    std::fs::write(rules.join("rmmc.toml"), &toml).unwrap();
    let spec = ipv6_spec("ipv6tool", "").replace(
        "    gaps:\n",
        "    accepted:\n      kql: { narrower: { ipv6-txt: reason } }\n    gaps:\n",
    );
    std::fs::write(rules.join("ipv6tool.yaml"), &spec).unwrap();
    let run = rmmc(tmp.path(), &["check", "rules"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("rules/ipv6tool.yaml:"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("did you mean `ipv6-text`?"),
        "{}",
        run.stderr
    );

    // --config names another file; a missing one is an error
    std::fs::remove_file(rules.join("ipv6tool.yaml")).unwrap();
    let run = rmmc(tmp.path(), &["check", "rules", "--config", "nope.toml"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("nope.toml"), "{}", run.stderr);
}

/// An entry under `[accepted."kql/sentinel-asim".…]` is a loss of that mapping's columns: it
/// acknowledges in a run that reads the mapping, is never called stale by a run on the default
/// tables (which cannot make its warning), and is stale in a run on the mapping that makes no
/// such warning; a mapping the backend does not ship is an error at its line.
#[test]
fn a_mapping_scoped_acknowledgement_applies_with_its_mapping_only() {
    let (tmp, rules) = project(true);
    let asim = ["--mapping", "kql=sentinel-asim"];
    let deny = ["check", "rules", "--deny", "wider,narrower"];
    let with = |extra: &[&str]| -> Vec<String> {
        deny.iter().chain(extra).map(|s| s.to_string()).collect()
    };
    let run = |args: &[String]| {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        rmmc(tmp.path(), &a)
    };
    // (the project's other entries serve the imported specs, which this copy lacks: those
    // are stale here whatever the mapping; the mapping's own are `column:endpoint.…`)
    let stale_asim = |stderr: &str| {
        stderr
            .lines()
            .any(|l| l.contains("stale acknowledgement") && l.contains("column:endpoint."))
    };
    let default = run(&with(&[]));
    assert_eq!(default.code, 0, "{}", default.stderr);
    assert!(!stale_asim(&default.stderr), "{}", default.stderr);
    let mapped = run(&with(&asim));
    assert_eq!(mapped.code, 0, "{}", mapped.stderr);
    assert!(!stale_asim(&mapped.stderr), "{}", mapped.stderr);

    // without the mapping's section its losses fail --deny
    let toml = std::fs::read_to_string(rules.join("rmmc.toml")).unwrap();
    let start = toml
        .find("[accepted.\"kql/sentinel-asim\"")
        .expect("the shipped section");
    let end = toml[start..]
        .find("\n# ----")
        .map_or(toml.len(), |i| start + i + 1);
    let without = format!("{}{}", &toml[..start], &toml[end..]);
    std::fs::write(rules.join("rmmc.toml"), &without).unwrap();
    let refused = run(&with(&asim));
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("under `[accepted.\"kql/sentinel-asim\".narrower]`"),
        "{}",
        refused.stderr
    );
    // and the default tables never needed it
    assert_eq!(run(&with(&[])).code, 0);

    // an entry of the mapping that no warning of it matches is stale, with the mapping only
    let stale = toml.replace(
        "[accepted.\"kql/sentinel-asim\".narrower]\n",
        "[accepted.\"kql/sentinel-asim\".narrower]\n\"kind:ip\" = \"no ASIM rule compares addresses by kind\"\n",
    );
    std::fs::write(rules.join("rmmc.toml"), &stale).unwrap();
    let mapped = run(&with(&asim));
    assert!(
        mapped
            .stderr
            .contains("stale acknowledgement: no warning of the rules is `kql narrower kind:ip`"),
        "{}",
        mapped.stderr
    );
    assert!(!run(&with(&[])).stderr.contains("`kql narrower kind:ip`"));

    // a mapping kql does not ship
    let bad = toml.replace(
        "[accepted.\"kql/sentinel-asim\".",
        "[accepted.\"kql/sentinel-asm\".",
    );
    std::fs::write(rules.join("rmmc.toml"), &bad).unwrap();
    let line = bad
        .lines()
        .position(|l| l.starts_with("[accepted.\"kql/sentinel-asm\""))
        .unwrap()
        + 1;
    let run_bad = run(&with(&[]));
    assert_eq!(run_bad.code, 2, "{}", run_bad.stderr);
    assert!(
        run_bad
            .stderr
            .contains("`sentinel-asm` is no shipped mapping of kql"),
        "{}",
        run_bad.stderr
    );
    assert!(
        run_bad.stderr.contains(&format!("rules/rmmc.toml:{line}:")),
        "{}",
        run_bad.stderr
    );
}
