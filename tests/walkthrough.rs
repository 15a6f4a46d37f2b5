//! The README's Quickstart, run line by line in a scratch folder the way a new user runs it (the
//! install, a spec written with a heredoc, check, build, verify, deploy, then the CI job's
//! commands and the editor set-up); docs/development.md's "Adding a tool" walk-through in a
//! scratch copy of the repository; and the CI examples' commands, which .ci/run must run too.
//!
//! Lines the test does not run as written, and why (everything else runs in bash, unchanged):
//! - `cargo install --locked --path .` and the CI job's `cargo install --locked --git …`: they
//!   would compile rmmc again (minutes; the second also needs the network). The binary cargo
//!   built for this test (`CARGO_BIN_EXE_rmmc`) stands in: it is on PATH as `rmmc`, as the
//!   install would put it.
//! - `cd DIR`: each step runs in its own bash, where a `cd` would not last; the test changes
//!   the folder the next steps run in.
//! - `curl … /api/detection_engine/rules/_import …`: it needs a live Kibana. The test checks
//!   instead that every file it uploads exists and holds one Kibana EQL rule per line.
//! - `$SPLUNK_HOME` points into the scratch folder, so the Splunk deployment lines run as written.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn read(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The text of the section that starts with the heading `start` (up to the next `## `).
fn section<'a>(doc: &'a str, start: &str) -> &'a str {
    let from = doc
        .find(&format!("\n{start}"))
        .unwrap_or_else(|| panic!("no section {start}"))
        + 1;
    let rest = &doc[from..];
    &rest[..rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3)]
}

/// The code blocks of `text` fenced as ```` ```lang ````, indented or not, with the fence's
/// indentation removed from each line.
fn blocks(text: &str, lang: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<(usize, Vec<String>)> = None;
    for line in text.lines() {
        let t = line.trim_start();
        let indent = line.len() - t.len();
        match &mut current {
            Some((_, lines)) if t == "```" => {
                out.push(lines.join("\n"));
                current = None;
            }
            Some((ind, lines)) => lines.push(line.get(*ind..).unwrap_or(t).to_string()),
            None if t == format!("```{lang}") => current = Some((indent, Vec::new())),
            None => {}
        }
    }
    assert!(current.is_none(), "an unclosed ```{lang} block");
    out
}

/// A shell block as steps: one per line, with `\` continuations joined and a heredoc kept with
/// its lines (up to its terminator) as one step; blank lines and whole-line comments dropped.
fn steps(block: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = block.lines();
    while let Some(line) = lines.next() {
        let mut step = line.to_string();
        while step.ends_with('\\') {
            step.push('\n');
            step.push_str(lines.next().expect("a continuation line"));
        }
        if let Some(at) = step.find("<<'") {
            let end = step[at + 3..].split('\'').next().unwrap().to_string();
            for more in lines.by_ref() {
                step.push('\n');
                step.push_str(more);
                if more == end {
                    break;
                }
            }
            assert!(step.ends_with(&format!("\n{end}")), "unterminated heredoc");
        }
        let t = step.trim();
        if !t.is_empty() && !t.starts_with('#') {
            out.push(step);
        }
    }
    out
}

/// A step without its trailing `# comment` (only for one-line steps).
fn command(step: &str) -> &str {
    step.split(" #").next().unwrap().trim()
}

/// The scratch machine: a folder standing for the rmmc checkout, `rmmc` on PATH.
struct Scratch {
    _root: tempfile::TempDir,
    root: PathBuf,
    bin: PathBuf,
    cwd: PathBuf,
}

impl Scratch {
    fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().to_path_buf();
        let bin = path.join("cargo-bin");
        std::fs::create_dir_all(&bin).unwrap();
        let checkout = path.join("rmmc");
        std::fs::create_dir_all(&checkout).unwrap();
        Scratch {
            _root: root,
            root: path,
            bin,
            cwd: checkout,
        }
    }

    /// What `cargo install` would do: put the binary under test on PATH as `rmmc`.
    fn install(&self) {
        let to = self.bin.join("rmmc");
        if !to.exists() {
            #[cfg(unix)]
            std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_rmmc"), to).unwrap();
            #[cfg(not(unix))]
            std::fs::copy(env!("CARGO_BIN_EXE_rmmc"), to).unwrap();
        }
    }

    /// Run one step in bash in the current folder; it must succeed. Returns stdout.
    fn run(&self, step: &str, env: &[(String, String)]) -> String {
        let path = format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let out = Command::new("bash")
            .args(["-eo", "pipefail", "-c", step])
            .current_dir(&self.cwd)
            .env("PATH", path)
            .env("SPLUNK_HOME", self.root.join("splunk"))
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "README step failed in {}:\n{step}\n--- stdout\n{stdout}\n--- stderr\n{}",
            self.cwd.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }
}

/// `curl … --form "file=@PATH"`: each uploaded file exists and holds Kibana EQL rules.
fn check_kibana_upload(scratch: &Scratch, step: &str) {
    assert!(
        step.contains("/api/detection_engine/rules/_import"),
        "{step}"
    );
    let mut files = 0;
    for part in step.split("file=@").skip(1) {
        let file = part.split(['"', '\'', ' ']).next().unwrap();
        let text = read(scratch.cwd.join(file));
        for line in text.lines() {
            let rule: serde_json::Value = serde_json::from_str(line).expect("NDJSON");
            assert_eq!(rule["type"], "eql", "{line}");
            assert!(rule["rule_id"].is_string(), "{line}");
        }
        assert!(text.lines().count() >= 2, "{file}: {text}");
        files += 1;
    }
    assert_eq!(files, 1, "{step}");
}

#[test]
fn the_quickstart_runs_line_by_line() {
    let readme = read("README.md");
    let quickstart = section(&readme, "## Quickstart");
    let mut scratch = Scratch::new();
    let mut seen = Vec::new();
    let mut verify_out = String::new();
    for block in blocks(quickstart, "sh") {
        for step in steps(&block) {
            let cmd = command(&step);
            if cmd == "cargo install --locked --path ." {
                scratch.install();
            } else if let Some(dir) = cmd.strip_prefix("cd ") {
                scratch.cwd = scratch.cwd.join(dir).canonicalize().unwrap();
            } else if cmd.starts_with("curl ") {
                check_kibana_upload(&scratch, &step);
            } else {
                let out = scratch.run(&step, &[]);
                if cmd.starts_with("rmmc verify") {
                    verify_out = out;
                }
            }
            seen.push(cmd.to_string());
        }
    }
    // the Quickstart is what the README promises: install, a new spec, check, build, verify, deploy
    for expected in [
        "cargo install --locked --path .",
        "cat > rules/rustdesk.yaml <<'EOF'",
        "rmmc check",
        "rmmc build",
        "rmmc verify --artifacts out",
        "rmmc list mappings",
        "printf '[mapping]",
        "cp out/splunk/savedsearches.conf \"$SPLUNK_HOME/etc/apps/rmm_detections/local/\"",
    ] {
        assert!(
            seen.iter().any(|s| s.starts_with(expected)),
            "the Quickstart no longer runs `{expected}`: {seen:#?}"
        );
    }
    assert!(seen.len() >= 12, "{seen:#?}");
    let detections = scratch.cwd.clone();
    assert!(
        detections.ends_with("rmm-detections"),
        "{}",
        detections.display()
    );
    for f in [
        "out/kql/rustdesk-netconn.kql",
        "out/sentinel/analytic/rustdesk-createproc.yaml",
        "out/sigma/rustdesk-netconn.yml",
        "out/elastic/rules.ndjson",
    ] {
        assert!(detections.join(f).is_file(), "{f}");
    }
    assert!(
        verify_out.contains("8 rules") && verify_out.contains("all agree with the spec"),
        "{verify_out}"
    );
    // deployed as built through the project's mapping: the classic Sysmon sourcetype
    let conf = read(
        scratch
            .root
            .join("splunk/etc/apps/rmm_detections/local/savedsearches.conf"),
    );
    assert!(
        conf.contains(r#"sourcetype="WinEventLog:Microsoft-Windows-Sysmon/Operational""#)
            && !conf.contains("XmlWinEventLog"),
        "{conf}"
    );

    // 6. the CI job, in the same detections repository: every `run:` of the workflow
    let workflows = blocks(quickstart, "yaml");
    assert_eq!(workflows.len(), 1, "one CI workflow in the Quickstart");
    let gha: serde_yaml::Value = serde_yaml::from_str(&workflows[0]).unwrap();
    let env: Vec<(String, String)> = gha["env"]
        .as_mapping()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let k = k.as_str().unwrap().to_string();
                    (k, v.as_str().unwrap().to_string())
                })
                .collect()
        })
        .unwrap_or_default();
    let mut runs = Vec::new();
    for step in gha["jobs"]["rmmc"]["steps"].as_sequence().unwrap() {
        let Some(run) = step["run"].as_str() else {
            continue;
        };
        if run.starts_with("cargo install --locked --git ") {
            // stands in for the install: the binary under test is already on PATH
            scratch.install();
            runs.push("install".to_string());
            continue;
        }
        let out = scratch.run(run, &env);
        if run.starts_with("rmmc diff") {
            assert!(out.starts_with("no drift"), "{out}");
        }
        runs.push(run.split_whitespace().take(2).collect::<Vec<_>>().join(" "));
    }
    assert_eq!(
        runs,
        ["install", "rmmc check", "rmmc verify", "rmmc diff"],
        "the CI job installs rmmc, then checks, verifies and diffs"
    );
    // and it fails on drift: a hand edit of a committed rule
    let kql = detections.join("out/kql/rustdesk-netconn.kql");
    std::fs::write(&kql, read(&kql).replace("rustdesk.com", "rustdesk.org")).unwrap();
    let diff = gha["jobs"]["rmmc"]["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|s| s["run"].as_str())
        .find(|r| r.starts_with("rmmc diff"))
        .unwrap();
    let drift = Command::new(env!("CARGO_BIN_EXE_rmmc"))
        .current_dir(&detections)
        .args(diff.split_whitespace().skip(1))
        .output()
        .unwrap();
    assert_eq!(drift.status.code(), Some(1), "a hand edit is drift");

    // the editor set-up: the schema file, the VS Code mapping and the modeline all resolve, and
    // the Quickstart's spec is valid under the schema
    let editor = section(&readme, "## Editor completion");
    for block in blocks(editor, "sh") {
        for step in steps(&block) {
            scratch.run(&step, &[]);
        }
    }
    let schema: serde_json::Value =
        serde_json::from_str(&read(detections.join("rmmc.schema.json"))).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let spec: serde_json::Value =
        serde_yaml::from_str(&read(detections.join("rules/rustdesk.yaml"))).unwrap();
    assert!(validator.is_valid(&spec), "the Quickstart's spec is valid");
    let settings: serde_json::Value =
        serde_json::from_str(&blocks(editor, "json").concat()).expect("settings.json is JSON");
    let schemas = settings["yaml.schemas"].as_object().unwrap();
    for (file, globs) in schemas {
        assert!(detections.join(file).is_file(), "{file}");
        assert!(globs
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == "rules/**/*.yaml"));
    }
    let modeline = blocks(editor, "yaml").concat();
    let path = modeline
        .trim()
        .strip_prefix("# yaml-language-server: $schema=")
        .expect("a yaml-language-server modeline");
    assert!(
        detections.join("rules").join(path).is_file(),
        "the modeline's path is relative to a spec in rules/"
    );
}

/// docs/development.md's walk-through for the shipped rules (cp and rmmc lines).
fn walkthrough() -> Vec<String> {
    let doc = read("docs/development.md");
    let section = section(&doc, "## Adding a tool");
    let block = &blocks(section, "sh")[0];
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
        serde_yaml::from_str(&read("examples/ci/github-actions.yml")).unwrap();
    for step in gha["jobs"]["rmmc"]["steps"].as_sequence().unwrap() {
        for line in step["run"].as_str().unwrap_or_default().lines() {
            // `rmmc …` as a command: at the start of the line or after a space (not `rmmc-diff`)
            for part in format!(" {line}").split(" rmmc ").skip(1) {
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
    let pc: serde_yaml::Value =
        serde_yaml::from_str(&read("examples/ci/pre-commit-config.yaml")).unwrap();
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
    let ci = read(".ci/run");
    let cmds = example_commands();
    assert!(cmds.len() >= 7, "{cmds:?}");
    // a detections repository is not rmmc's: the workflow installs rmmc, it cannot build it there
    let gha = read("examples/ci/github-actions.yml");
    assert!(gha.contains("run: cargo install --locked --git "), "{gha}");
    assert!(
        !gha.contains("cargo build") && !gha.contains("target/release"),
        "{gha}"
    );
    for c in cmds {
        // `rmmc build rules --out rmmc-out` writes to a scratch folder; .ci/run builds too
        let c = c.replace("--out rmmc-out", "--out");
        assert!(
            ci.contains(&format!("-- {c}")),
            ".ci/run does not run `rmmc {c}`"
        );
    }
}
