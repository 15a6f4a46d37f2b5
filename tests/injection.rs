//! Hostile spec text (descriptions, exclusion reasons, vendor names, match values) cannot add a
//! key, a stanza, a pipe stage or a clause to any emitted artifact: each wrapper is parsed back
//! and compared, structure for structure, with the build of the same spec holding plain text,
//! and the hostile strings come back exactly.

use rmmc::build::{self, BuildOptions, Files, Target};
use std::collections::BTreeMap;

const VENDOR: &str = r#"Ev"il [x] | y // z */ ``` #: '"#;
const REASON: &str =
    "line one\nkey: injected\n---\n- item\n[stanza]\nsearch = | delete\n```\n\\ back\\slash";
const DESCRIPTION: &str = "first\n\n# not a comment\nid: 00000000-0000-0000-0000-000000000000\n| where true\n*/ // ``` [a] \\ x";
const VALUE: &str = r#"it's "q" \ | // */ [a] ``` ünï %_*?"#;

fn spec(vendor: &str, description: &str, reason: &str, value: &str) -> String {
    let q = |s: &str| serde_json::to_string(s).unwrap();
    format!(
        "id: inj
vendor: {vendor}
description: {description}
references: [https://example.invalid/a]
date: 2026-05-31
severity: high
attack: {{ tactics: [CommandAndControl], techniques: [T1219] }}
window: 5d
detections:
  netconn:
    title: Network Connection
    category: network
    where:
      all:
        - remote_domain: {{ domain: [example.com] }}
        - initiating_process_name: {{ contains: [{value}] }}
    output:
      summarize: [device_id, device_name, remote_domain]
exclusions:
  odd:
    reason: {reason}
    where:
      initiating_folder_path: {{ contains: [{value}] }}
    sources: [endpoint]
",
        vendor = q(vendor),
        description = q(description),
        reason = q(reason),
        value = q(value),
    )
}

fn build(text: &str) -> Files {
    let loaded = rmmc::spec::load_str(std::path::Path::new("inj.yaml"), text)
        .unwrap_or_else(|d| panic!("{}", d[0]));
    let res = build::compile(
        std::slice::from_ref(&loaded),
        &BuildOptions::only(Target::all()),
    );
    let errors: Vec<String> = res
        .diags
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    res.files
}

fn yaml_keys(text: &str) -> Vec<String> {
    let v: serde_yaml::Mapping =
        serde_yaml::from_str(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    v.keys().map(|k| k.as_str().unwrap().to_string()).collect()
}

/// savedsearches.conf: stanza → key → value, with `\` line continuations joined by newlines.
fn conf(text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut stanza = None;
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if line.starts_with('[') && line.ends_with(']') {
            stanza = Some(line[1..line.len() - 1].to_string());
            out.entry(stanza.clone().unwrap()).or_default();
            continue;
        }
        let (k, v) = line
            .split_once(" = ")
            .unwrap_or_else(|| panic!("not a key line: {line:?}"));
        let mut value = v.to_string();
        while value.ends_with('\\') {
            value.pop();
            value.push('\n');
            value.push_str(lines.next().expect("continuation"));
        }
        out.get_mut(stanza.as_ref().expect("key before any stanza"))
            .unwrap()
            .insert(k.to_string(), value);
    }
    out
}

fn stages(text: &str) -> usize {
    text.lines().filter(|l| l.starts_with('|')).count()
}

#[test]
fn hostile_text_cannot_change_any_artifact_structure() {
    let plain = build(&spec(
        "Plain",
        "plain description",
        "plain reason",
        "plainvalue",
    ));
    let evil = build(&spec(VENDOR, DESCRIPTION, REASON, VALUE));
    assert_eq!(
        plain.keys().collect::<Vec<_>>(),
        evil.keys().collect::<Vec<_>>(),
        "the same files"
    );
    for (path, text) in &evil {
        let base = &plain[path];
        match path.rsplit('.').next().unwrap() {
            "yaml" | "yml" => {
                assert_eq!(yaml_keys(text), yaml_keys(base), "{path}");
                let v: serde_yaml::Value = serde_yaml::from_str(text).unwrap();
                let all = serde_yaml::to_string(&v).unwrap();
                // the reason and vendor come back as whole strings somewhere in the document
                let doc: serde_json::Value = serde_json::to_value(&v).unwrap();
                let strings = collect_strings(&doc);
                assert!(
                    strings.iter().any(|s| s.contains(REASON)),
                    "{path}: reason lost\n{all}"
                );
                assert!(
                    strings.iter().any(|s| s.contains(VENDOR)),
                    "{path}: vendor lost\n{all}"
                );
            }
            "ndjson" => {
                assert_eq!(text.lines().count(), base.lines().count(), "{path}");
                for (l, b) in text.lines().zip(base.lines()) {
                    let l: serde_json::Value = serde_json::from_str(l).unwrap();
                    let b: serde_json::Value = serde_json::from_str(b).unwrap();
                    let keys = |v: &serde_json::Value| {
                        v.as_object().unwrap().keys().cloned().collect::<Vec<_>>()
                    };
                    assert_eq!(keys(&l), keys(&b), "{path}");
                    assert!(l["false_positives"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|f| f == REASON));
                    assert!(l["name"].as_str().unwrap().contains(VENDOR));
                    rmmc::eval::eql::parse(l["query"].as_str().unwrap()).unwrap();
                }
            }
            "conf" => {
                let (e, p) = (conf(text), conf(base));
                assert_eq!(e.len(), p.len(), "{path}: stanzas\n{text}");
                for ((_, ev), (_, pv)) in e.iter().zip(&p) {
                    assert_eq!(
                        ev.keys().collect::<Vec<_>>(),
                        pv.keys().collect::<Vec<_>>(),
                        "{path}"
                    );
                    assert!(
                        ev["description"].contains(REASON),
                        "{path}: {:?}",
                        ev["description"]
                    );
                    rmmc::eval::spl::parse(&ev["search"]).unwrap();
                }
            }
            "kql" => {
                assert_eq!(stages(text), stages(base), "{path}\n{text}");
                rmmc::eval::kql::parser::parse(text).unwrap();
            }
            "spl" => {
                assert_eq!(stages(text), stages(base), "{path}\n{text}");
                rmmc::eval::spl::parse(text).unwrap();
            }
            "eql" => {
                rmmc::eval::eql::parse(text).unwrap();
                assert_eq!(text.lines().count(), base.lines().count(), "{path}\n{text}");
            }
            other => panic!("no structure check for .{other} ({path})"),
        }
    }
}

fn collect_strings(v: &serde_json::Value) -> Vec<String> {
    match v {
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Array(a) => a.iter().flat_map(collect_strings).collect(),
        serde_json::Value::Object(o) => o.values().flat_map(collect_strings).collect(),
        _ => vec![],
    }
}

/// A line ending in `\` cannot be written to savedsearches.conf (it would continue onto the
/// next key): the build refuses it with a clear error at the spec, never a corrupted stanza.
#[test]
fn a_trailing_backslash_line_is_refused_not_written() {
    let text = spec(
        "Plain",
        "ends with a backslash \\\nnext: line",
        "plain reason",
        "plainvalue",
    );
    let loaded = rmmc::spec::load_str(std::path::Path::new("inj.yaml"), &text).unwrap();
    let res = build::compile(
        std::slice::from_ref(&loaded),
        &BuildOptions::only(Target::all()),
    );
    let errors: Vec<String> = res
        .diags
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.to_string())
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("inj.yaml:")
            && errors[0].contains("savedsearches.conf")
            && errors[0].contains("backslash"),
        "{errors:?}"
    );
}
