//! Sentinel's published analytic-rule limits are build errors, never silent truncation.

use rmmc::build::{self, BuildOptions, Target};
use rmmc::diag::DiagKind;

fn build_with(edit: impl Fn(String) -> String) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let spec = edit(std::fs::read_to_string("rules/supremo.yaml").unwrap());
    std::fs::write(dir.path().join("s.yaml"), spec).unwrap();
    let specs = rmmc::spec::load_dir(dir.path()).unwrap_or_else(|d| panic!("{d:?}"));
    let res = build::compile(
        &specs,
        &BuildOptions::only(&[Target::Kql, Target::Sentinel]),
    );
    res.diags
        .iter()
        .filter(|d| d.is_error())
        .inspect(|d| assert_eq!(d.kind, DiagKind::Limit, "{d}"))
        .map(|d| d.to_string())
        .collect()
}

#[test]
fn within_limits_builds() {
    assert!(build_with(|s| s).is_empty());
}

#[test]
fn name_over_256_characters() {
    let errs =
        build_with(|s| s.replace("vendor: SupRemo", &format!("vendor: {}", "S".repeat(250))));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].contains("name is 311 long; Sentinel allows at most 256"),
        "{errs:?}"
    );
    assert!(errs[0].contains("s.yaml:"), "points at the spec: {errs:?}");
}

#[test]
fn query_over_10000_characters() {
    let ips: Vec<String> = (0..1000)
        .map(|i| format!("10.{}.{}.1", i / 250, i % 250))
        .collect();
    let errs = build_with(|s| {
        s.replace(
            "- initiating_company: { term: [NanoSystems] }",
            &format!("- initiating_company: {{ term: [NanoSystems] }}\n        - remote_ip: {{ ip: [{}] }}", ips.join(", ")),
        )
    });
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].contains("query is") && errs[0].contains("at most 10000"),
        "{errs:?}"
    );
}

#[test]
fn description_over_5000_characters() {
    // The spec's own description is capped at 5000 at load; references and exclusion reasons
    // are appended to the rule's description and can push it over.
    let mut extra = String::from("exclusions:\n");
    for i in 0..4 {
        extra.push_str(&format!(
            "  x{i}:\n    reason: {}\n    where: {{ initiating_process_name: {{ exact: [a{i}.exe] }} }}\n",
            "r".repeat(1500)
        ));
    }
    let errs = build_with(|s| s + &extra);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].contains("description is") && errs[0].contains("at most 5000"),
        "{errs:?}"
    );
}

#[test]
fn more_than_five_entity_mappings() {
    let errs = build_with(|s| {
        s.replace(
            "summarize: [device_id, device_name, remote_domain]",
            "project: { endpoint: [device_name, remote_ip, local_ip, remote_domain, account_name, initiating_command_line] }",
        )
    });
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].contains("entity mapping list is 6 long; Sentinel allows at most 5"),
        "{errs:?}"
    );
}
