//! The documentation cannot drift from the code: docs/spec.md's field table is the one `rmmc
//! fields` prints, the README's first screen has the two set-up commands CI relies on, every test
//! docs/guarantees.md names exists, and every relative link and `#anchor` in README.md and
//! docs/*.md resolves to a file and a heading.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn read(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn spec_doc_embeds_the_field_table() {
    assert!(
        read("docs/spec.md").contains(&rmmc::spec::fields::markdown_table()),
        "docs/spec.md: regenerate the Canonical fields table with `rmmc fields`"
    );
}

#[test]
fn readme_first_screen_has_the_two_commands() {
    let readme = read("README.md");
    let first: String = readme.lines().take(8).collect::<Vec<_>>().join("\n");
    assert!(first.contains("cargo run --release -- build"));
    assert!(first.contains("cargo test"));
    let ci = read(".ci/run");
    assert!(
        ci.lines().any(|l| l.trim() == "cargo test"),
        ".ci/run must run the README's test command"
    );
}

/// Every test the Guarantees table names exists: `tests/<file>.rs` `test_name`.
#[test]
fn guarantees_name_tests_that_exist() {
    let doc = read("docs/guarantees.md");
    let start = doc.find("# Guarantees").expect("a Guarantees section");
    let section = &doc[start..];
    let section = &section[..section[3..].find("\n# ").map_or(section.len(), |i| i + 3)];
    let mut named = 0;
    for row in section.lines().filter(|l| l.starts_with("| ")) {
        let proved_by = row.rsplit(" | ").next().unwrap_or_default();
        for part in proved_by.split("tests/").skip(1) {
            let Some((file, rest)) = part.split_once(".rs") else {
                continue;
            };
            let source = std::fs::read_to_string(format!("tests/{file}.rs")).unwrap_or_else(|_| {
                panic!("docs/guarantees.md names tests/{file}.rs, which does not exist")
            });
            for name in rest.split('`').skip(2).step_by(2) {
                if !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                {
                    assert!(
                        source.contains(&format!("fn {name}()")),
                        "docs/guarantees.md names `{name}` in tests/{file}.rs, which has no such test"
                    );
                    named += 1;
                }
            }
        }
    }
    assert!(named >= 20, "only {named} tests named");
}

/// README.md and every docs/*.md.
fn documents() -> Vec<PathBuf> {
    let mut docs: Vec<PathBuf> = std::fs::read_dir("docs")
        .expect("a docs/ folder")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    docs.insert(0, PathBuf::from("README.md"));
    docs
}

/// The lines of a Markdown text outside fenced code blocks (``` or ~~~, indented or not).
fn prose_lines(text: &str) -> Vec<&str> {
    let mut fence: Option<&str> = None;
    let mut out = Vec::new();
    for line in text.lines() {
        let t = line.trim_start();
        match fence {
            Some(f) if t.starts_with(f) => fence = None,
            Some(_) => {}
            None if t.starts_with("```") => fence = Some("```"),
            None if t.starts_with("~~~") => fence = Some("~~~"),
            None => out.push(line),
        }
    }
    out
}

/// A line without its inline code spans (`…`), whose brackets are not links.
fn without_code_spans(line: &str) -> String {
    line.split('`').step_by(2).collect::<Vec<_>>().join(" ")
}

/// GitHub's anchor for a heading: lower case; letters, digits, `-` and `_` kept, spaces become
/// `-`, other punctuation (and the backticks of code) dropped.
fn github_anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a document's headings; a repeated one gets `-1`, `-2`, … as on GitHub.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for line in prose_lines(text) {
        let hashes = line.chars().take_while(|&c| c == '#').count();
        if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let base = github_anchor(&line[hashes..]);
        let mut anchor = base.clone();
        let mut n = 0;
        while seen.contains(&anchor) {
            n += 1;
            anchor = format!("{base}-{n}");
        }
        seen.insert(anchor);
    }
    seen
}

/// `[text](target)` link targets of a document, outside code.
fn link_targets(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in prose_lines(text) {
        let line = without_code_spans(line);
        for part in line.split("](").skip(1) {
            if let Some(end) = part.find(')') {
                out.push(part[..end].trim().to_string());
            }
        }
    }
    out
}

#[test]
fn github_anchor_follows_githubs_rules() {
    assert_eq!(
        github_anchor(
            "Mutation testing: does verify notice a wrong artifact? (`rmmc verify --mutate`)"
        ),
        "mutation-testing-does-verify-notice-a-wrong-artifact-rmmc-verify---mutate"
    );
    assert_eq!(
        github_anchor("Editor completion: `rmmc schema`"),
        "editor-completion-rmmc-schema"
    );
    assert_eq!(
        github_anchor("`../shared`: seeds and corpora"),
        "shared-seeds-and-corpora"
    );
    let twice = anchors("# A\n## A\n```\n# not a heading\n```\n#hashtag\n");
    assert_eq!(twice, BTreeSet::from(["a".to_string(), "a-1".to_string()]));
}

#[test]
fn every_relative_link_and_anchor_resolves() {
    let mut checked = 0;
    let mut broken = Vec::new();
    for doc in documents() {
        let text = read(&doc);
        let dir = doc.parent().unwrap_or(Path::new(""));
        for target in link_targets(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = target.split_once('#').unwrap_or((&target, ""));
            let file = if path.is_empty() {
                doc.clone()
            } else {
                dir.join(path)
            };
            checked += 1;
            if !file.exists() {
                broken.push(format!(
                    "{}: [..]({target}): no file {}",
                    doc.display(),
                    file.display()
                ));
            } else if !anchor.is_empty() {
                if file.extension().is_none_or(|x| x != "md") {
                    broken.push(format!(
                        "{}: [..]({target}): an anchor into a file that is not Markdown",
                        doc.display()
                    ));
                } else if !anchors(&read(&file)).contains(anchor) {
                    broken.push(format!(
                        "{}: [..]({target}): {} has no heading with anchor #{anchor}",
                        doc.display(),
                        file.display()
                    ));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    assert!(checked >= 20, "only {checked} relative links checked");
}

/// The README's documentation index links every page of docs/.
#[test]
fn readme_indexes_every_doc() {
    let readme = read("README.md");
    for doc in documents().into_iter().skip(1) {
        let name = doc.to_string_lossy().replace('\\', "/");
        assert!(
            readme.contains(&format!("]({name})")),
            "README.md's Documentation index does not link {name}"
        );
    }
}
