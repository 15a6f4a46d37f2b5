//! The README's "Adding a tool" walk-through, run line by line in a scratch copy of the repo,
//! and the CI examples' commands, which .ci/run must run too.

use assert_cmd::Command;
use std::path::Path;

fn walkthrough() -> Vec<String> {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let section = readme
        .split("## Adding a tool")
        .nth(1)
        .expect("walk-through section");
    let block = section
        .split("```sh\n")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    block
        .lines()
        .map(|l| l.split('#').next().unwrap().trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn every_walkthrough_command_succeeds() {
    let lines = walkthrough();
    assert_eq!(lines.len(), 6, "{lines:?}");
    let dir = tempfile::tempdir().unwrap();
    for d in ["rules", "examples/specs", "examples/deployed"] {
        copy_dir(Path::new(d), &dir.path().join(d));
    }
    for line in &lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words[0] {
            "cp" => {
                let (from, to) = (dir.path().join(words[1]), dir.path().join(words[2]));
                std::fs::copy(&from, to.join(from.file_name().unwrap())).unwrap();
            }
            "rmmc" => {
                let out = Command::new(env!("CARGO_BIN_EXE_rmmc"))
                    .current_dir(dir.path())
                    .args(&words[1..])
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{line}\n{}\n{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                if words[1] == "diff" {
                    assert!(String::from_utf8_lossy(&out.stdout).starts_with("no drift"));
                }
            }
            other => panic!("unexpected command {other} in the walk-through"),
        }
    }
    assert!(dir
        .path()
        .join("examples/deployed/kql/anydesk-netconn.kql")
        .is_file());
}

/// `rmmc …` invocations of the CI examples, as argument strings.
fn example_commands() -> Vec<String> {
    let mut out = Vec::new();
    let gha: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string("examples/ci/github-actions.yml").unwrap())
            .unwrap();
    for step in gha["jobs"]["rmmc"]["steps"].as_sequence().unwrap() {
        for line in step["run"].as_str().unwrap_or_default().lines() {
            for part in line.split("./target/release/rmmc ").skip(1) {
                out.push(
                    part.split(['>', ';', '|', '}'])
                        .next()
                        .unwrap()
                        .trim()
                        .to_string(),
                );
            }
        }
    }
    let pc: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string("examples/ci/pre-commit-config.yaml").unwrap(),
    )
    .unwrap();
    for hook in pc["repos"][0]["hooks"].as_sequence().unwrap() {
        out.push(
            hook["entry"]
                .as_str()
                .unwrap()
                .trim_start_matches("rmmc ")
                .to_string(),
        );
    }
    out
}

#[test]
fn ci_examples_run_only_commands_that_ci_runs() {
    let ci = std::fs::read_to_string(".ci/run").unwrap();
    let cmds = example_commands();
    assert!(cmds.len() >= 5, "{cmds:?}");
    for c in cmds {
        // `rmmc build rules --out rmmc-out` writes to a scratch folder; .ci/run builds too
        let c = c.replace("--out rmmc-out", "--out");
        assert!(
            ci.contains(&format!("-- {c}")),
            ".ci/run does not run `rmmc {c}`"
        );
    }
}
