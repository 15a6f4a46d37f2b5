//! Property test across all four languages: a spec whose match values are random hostile
//! text (quotes, backslashes, wildcards, regex metacharacters, SPL pipes, non-ASCII, spaces)
//! compiles to KQL, Sigma, SPL and EQL, and every artifact — evaluated from its TEXT by rmmc's
//! evaluators (sigma-rust for Sigma) — agrees with the spec on the boundary cases `verify`
//! generates from those values: the exact value, case variants, look-alike prefixes and
//! suffixes, the value inside longer text, an empty field, each exclusion triggered.

use proptest::prelude::*;
use rmmc::build::{self, BuildOptions, Target};
use rmmc::verify::{self, VerifyOptions};
use std::path::Path;

/// Characters that break naive quoting in at least one of the four languages.
const HOSTILE: &[&str] = &[
    "'", "\"", "\\", "*", "?", "%", "|", "(", ")", "[", "]", "{", "}", ".", "+", "^", "$", "#",
    "@", "&", "<", ">", "~", "/", "//", "*/", "```", ",", ";", ":", "=", " ", "é", "Ω", "日本",
    "a", "B", "7", "x",
];

fn value() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(HOSTILE), 1..8)
        .prop_map(|parts| parts.concat())
        // spec values are trimmed-free printable text; a term must start and end alphanumeric
        .prop_filter("non-blank", |s| !s.trim().is_empty() && s.trim() == s)
}

fn spec(exact: &str, contains: &str, term: &str, excluded: &str) -> String {
    let q = |s: &str| serde_json::to_string(s).unwrap();
    format!(
        "id: hostile
vendor: Hostile
description: property test
references: [https://example.invalid/]
date: 2026-05-31
severity: low
attack: {{ tactics: [CommandAndControl], techniques: [T1219] }}
window: 1d
detections:
  createproc:
    title: Create Process
    category: process
    where:
      any:
        - process_original_file_name: {{ exact: [{exact}] }}
        - process_command_line: {{ contains: [{contains}] }}
        - process_company: {{ term: [{term}] }}
    output:
      summarize: [device_name]
exclusions:
  admin:
    reason: the admin's own tool
    where:
      parent_command_line: {{ contains: [{excluded}] }}
",
        exact = q(exact),
        contains = q(contains),
        term = q(&format!("a{term}z")),
        excluded = q(excluded),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn four_languages_agree_with_the_spec_on_hostile_values(
        exact in value(), contains in value(), term in value(), excluded in value()
    ) {
        let text = spec(&exact, &contains, &term, &excluded);
        let loaded = rmmc::spec::load_str(Path::new("hostile.yaml"), &text)
            .map_err(|d| TestCaseError::reject(format!("spec refused: {}", d[0])))?;
        let res = build::compile(std::slice::from_ref(&loaded), &BuildOptions::only(Target::all()));
        let errors: Vec<String> = res.diags.iter().filter(|d| d.is_error()).map(|d| d.to_string()).collect();
        prop_assert!(errors.is_empty(), "{errors:?}\n{text}");
        let ir = rmmc::ir::lower(&loaded);
        let report = verify::verify(
            std::slice::from_ref(&ir),
            &res.files,
            &[],
            &res.renderings,
            &VerifyOptions { now: 1_780_000_000_000_000_000, exclusions: true },
        );
        let backends: Vec<&str> = report.cells.iter().map(|c| c.backend.name()).collect();
        prop_assert_eq!(backends, vec!["kql", "sigma", "splunk", "elastic"]);
        for c in &report.cells {
            prop_assert!(c.error.is_none(), "{}: {:?}\n{text}", c.backend.name(), c.error);
            prop_assert!(c.passed > 10, "{}: only {} cases agreed", c.backend.name(), c.passed);
            // every condition that can matter was shown to matter in this backend too
            prop_assert_eq!(c.uncovered, 0, "{}: uncovered {:?}\n{}", c.backend.name(), report.uncovered, text);
            prop_assert!(c.covered + c.declared + c.masked == c.conditions, "{}: coverage {:?}", c.backend.name(), c);
        }
        let bad: Vec<String> = report
            .mismatches
            .iter()
            .filter(|m| m.explained_by.is_none())
            .map(|m| format!("{} {}: expected {} got {} on {:?}", m.backend.name(), m.case, m.expected, m.actual, m.event))
            .collect();
        prop_assert!(bad.is_empty(), "{}\n{text}", bad.join("\n"));
    }
}
