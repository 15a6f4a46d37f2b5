//! Snapshots of every artifact built from the shipped rules, and of the diagnostics the build
//! reports. A snapshot is a reviewed claim that the output is right: read the diff before
//! accepting a change (`cargo insta review`).

use rmmc::build::{self, BuildOptions, Target};
use std::path::Path;

fn shipped() -> Vec<rmmc::spec::LoadedSpec> {
    // Relative (cargo runs tests from the package root) so diagnostics in snapshots read
    // `rules/…` on every machine.
    rmmc::spec::load_dir(Path::new("rules")).expect("shipped rules load")
}

#[test]
fn kql_and_sentinel_artifacts_of_the_shipped_rules() {
    let res = build::compile(
        &shipped(),
        &BuildOptions::only(&[Target::Kql, Target::Sentinel]),
    );
    assert_eq!(
        res.files.len(),
        18,
        "{:?}",
        res.files.keys().collect::<Vec<_>>()
    );
    for (path, content) in &res.files {
        let name = path.replace('/', "__");
        insta::assert_snapshot!(name, content);
    }
}

#[test]
fn bare_hunting_queries_without_exclusions() {
    let opts = BuildOptions {
        targets: vec![Target::Kql],
        exclusions: false,
    };
    let res = build::compile(&shipped(), &opts);
    let all: String = res
        .files
        .iter()
        .map(|(p, c)| format!("==> {p}\n{c}"))
        .collect();
    insta::assert_snapshot!(all);
}

#[test]
fn kql_reports_only_the_declared_gaps() {
    let res = build::compile(
        &shipped(),
        &BuildOptions::only(&[Target::Kql, Target::Sentinel]),
    );
    let diags: Vec<String> = res.diags.iter().map(|d| d.to_string()).collect();
    insta::assert_snapshot!(diags.join("\n"));
}

#[test]
fn building_twice_is_byte_identical() {
    let a = build::compile(&shipped(), &BuildOptions::default());
    let b = build::compile(&shipped(), &BuildOptions::default());
    assert_eq!(a.files, b.files);
}
