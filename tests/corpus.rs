//! rmmc's KQL parser and binder over the real-world Sentinel RMM hunting corpus
//! (../shared/corpus/sentinel-rmm-hunting/RMM), judged against Kusto.Language's verdicts
//! (tests/engines/kusto/corpus-verdicts.json, regenerated and compared by .ci/run): every
//! query Kusto refuses, rmmc refuses with a message naming the problem; every query Kusto
//! accepts, rmmc accepts.

use rmmc::eval::kql::{bind, parser};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/sentinel-rmm-hunting/RMM")
}

/// The `query: |` block, by indentation (most corpus files are not valid YAML).
fn query_block(text: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let at = lines.iter().position(|l| {
        let t = l.trim_end();
        t == "query: |" || t == "query: |-" || t == "query: >"
    })?;
    let body: Vec<&str> = lines[at + 1..]
        .iter()
        .take_while(|l| l.trim().is_empty() || l.starts_with([' ', '\t']))
        .copied()
        .collect();
    let indent = body
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let q: Vec<&str> = body.iter().map(|l| l.get(indent..).unwrap_or("")).collect();
    Some(format!("{}\n", q.join("\n").trim_end()))
}

/// rmmc's verdict: None when the query parses and binds, else the first problem.
fn rmmc_verdict(q: &str) -> Option<String> {
    match parser::parse(q) {
        Err(e) => Some(format!("syntax: {e}")),
        Ok(parsed) => bind::check(&parsed).into_iter().next(),
    }
}

#[test]
fn rmmc_agrees_with_kusto_language_on_the_corpus() {
    let kusto: BTreeMap<String, Option<serde_json::Value>> = serde_json::from_str(
        &std::fs::read_to_string("tests/engines/kusto/corpus-verdicts.json").unwrap(),
    )
    .unwrap();
    assert!(kusto.len() >= 150, "{} verdicts", kusto.len());
    let mut disagreements = Vec::new();
    let (mut valid, mut invalid) = (0, 0);
    let mut beyond = Vec::new();
    for (rel, verdict) in &kusto {
        let text = std::fs::read_to_string(corpus().join(rel))
            .unwrap_or_else(|e| panic!("{rel}: {e} (../shared must sit beside the repo)"));
        let q = query_block(&text).unwrap_or_else(|| panic!("{rel}: no query block"));
        let ours = rmmc_verdict(&q);
        match (verdict, &ours) {
            (None, None) => valid += 1,
            (Some(k), Some(r)) => {
                invalid += 1;
                // the message must name what Kusto names (a column) or be a syntax error where
                // Kusto reports one
                let k = k["error"].as_str().unwrap_or_default();
                let named = k
                    .split('\'')
                    .nth(1)
                    .is_none_or(|name| r.contains(&format!("`{name}`")));
                let syntax_both = !k.starts_with("KS142") && r.starts_with("syntax");
                // a query outside rmmc's subset is refused as such, never judged valid
                let outside_subset = r.contains("outside rmmc's KQL subset");
                if outside_subset {
                    beyond.push(rel.clone());
                } else if !(named || syntax_both) {
                    disagreements.push(format!("{rel}: Kusto says {k}; rmmc says {r}"));
                }
            }
            (None, Some(r)) => {
                disagreements.push(format!("{rel}: Kusto accepts; rmmc refuses: {r}"))
            }
            (Some(k), None) => {
                disagreements.push(format!("{rel}: Kusto refuses ({k}); rmmc accepts"))
            }
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} disagreements:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
    println!(
        "corpus: {valid} valid and {invalid} invalid queries; rmmc agrees on every one ({} of the invalid ones rmmc refuses as outside its subset: {beyond:?})",
        beyond.len()
    );
    // only the two DWService queries use a tabular let
    assert!(beyond.len() <= 2, "{beyond:?}");
    assert!(
        valid > 90 && invalid > 50,
        "valid {valid}, invalid {invalid}"
    );
}
