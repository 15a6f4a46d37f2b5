//! The README's field table is the one `rmmc fields` prints (so the docs cannot drift), and its
//! first screen has the two set-up commands CI relies on.

#[test]
fn readme_embeds_the_field_table() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    assert!(
        readme.contains(&rmmc::spec::fields::markdown_table()),
        "regenerate the table with `rmmc fields`"
    );
}

#[test]
fn readme_first_screen_has_the_two_commands() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let first: String = readme.lines().take(8).collect::<Vec<_>>().join("\n");
    assert!(first.contains("cargo run --release -- build"));
    assert!(first.contains("cargo test"));
    let ci = std::fs::read_to_string(".ci/run").unwrap();
    assert!(
        ci.lines().any(|l| l.trim() == "cargo test"),
        ".ci/run must run the README's test command"
    );
}

/// Every test the README's Guarantees table names exists: `tests/<file>.rs` `test_name`.
#[test]
fn readme_guarantees_name_tests_that_exist() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let start = readme.find("## Guarantees").expect("a Guarantees section");
    let section = &readme[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let mut named = 0;
    for row in section.lines().filter(|l| l.starts_with("| ")) {
        let proved_by = row.rsplit(" | ").next().unwrap_or_default();
        for part in proved_by.split("tests/").skip(1) {
            let Some((file, rest)) = part.split_once(".rs") else {
                continue;
            };
            let source = std::fs::read_to_string(format!("tests/{file}.rs"))
                .unwrap_or_else(|_| panic!("README names tests/{file}.rs, which does not exist"));
            for name in rest.split('`').skip(2).step_by(2) {
                if !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                {
                    assert!(
                        source.contains(&format!("fn {name}()")),
                        "README names `{name}` in tests/{file}.rs, which has no such test"
                    );
                    named += 1;
                }
            }
        }
    }
    assert!(named >= 20, "only {named} tests named");
}
