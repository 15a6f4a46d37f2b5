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
