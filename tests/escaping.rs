//! Property tests: no value can break out of the literal it is written into.

use proptest::prelude::*;
use rmmc::backend::kql::string_literal;
use rmmc::eval::kql::lexer::{lex, Tok};
use rmmc::render::{yaml_block, yaml_str};

/// Printable text including the characters that matter for quoting.
fn hostile() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just('\''),
            Just('"'),
            Just('\\'),
            Just('/'),
            Just('|'),
            Just('*'),
            Just(':'),
            Just('#'),
            Just('-'),
            Just(' '),
            Just('\u{2028}'),
            Just('\u{85}'),
            any::<char>().prop_filter("printable", |c| !c.is_control()),
        ],
        0..40,
    )
    .prop_map(|v| v.into_iter().collect())
}

proptest! {
    #[test]
    fn kql_literal_lexes_back_to_the_value(s in hostile()) {
        let lit = string_literal(&s);
        let toks = lex(&format!("T | where X has {lit} | take 1")).expect("lexes");
        let strs: Vec<Tok> = toks.iter().map(|t| t.tok.clone()).filter(|t| matches!(t, Tok::Str(_))).collect();
        prop_assert_eq!(strs, vec![Tok::Str(s.clone())]);
        // the structure around the literal is intact: 8 tokens, the pipe stages unchanged
        prop_assert_eq!(toks.len(), 9);
    }

    #[test]
    fn yaml_scalar_round_trips(s in hostile(), t in any::<String>()) {
        for v in [&s, &t] {
            let doc = format!("a: {}\nb: 1\n", yaml_str(v));
            let parsed: serde_yaml::Mapping = serde_yaml::from_str(&doc).expect("valid YAML");
            prop_assert_eq!(parsed.len(), 2);
            prop_assert_eq!(parsed["a"].as_str(), Some(v.as_str()));
        }
    }

    #[test]
    fn yaml_block_round_trips(lines in proptest::collection::vec(hostile(), 1..6)) {
        let s = lines.join("\n") + "\n";
        let doc = format!("a: {}\nb: 1\n", yaml_block(&s, 2));
        let parsed: serde_yaml::Mapping = serde_yaml::from_str(&doc).expect("valid YAML");
        prop_assert_eq!(parsed.len(), 2);
        prop_assert_eq!(parsed["a"].as_str(), Some(s.as_str()));
    }
}

/// A hostile value travels the whole pipeline (spec → IR → KQL → Sentinel YAML) intact.
#[test]
fn hostile_spec_values_survive_the_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let value = r#"it's "quoted" \ back\slash | pipe // not a comment */ ünï"#;
    let reason = "line one\nkey: injected\n---\n- item";
    let spec = std::fs::read_to_string("rules/supremo.yaml")
        .unwrap()
        .replace("{ term: [NanoSystems] }", &format!("{{ contains: [{}] }}", serde_json::to_string(value).unwrap()))
        + &format!(
            "exclusions:\n  odd:\n    reason: {}\n    where: {{ initiating_command_line: {{ contains: [{}] }} }}\n",
            serde_json::to_string(reason).unwrap(),
            serde_json::to_string(value).unwrap()
        );
    std::fs::write(dir.path().join("s.yaml"), spec).unwrap();
    let specs = rmmc::spec::load_dir(dir.path()).unwrap_or_else(|d| panic!("{d:?}"));
    let res = rmmc::build::compile(
        &specs,
        &rmmc::build::BuildOptions::only(&[
            rmmc::build::Target::Kql,
            rmmc::build::Target::Sentinel,
        ]),
    );
    let kql = &res.files["kql/supremo-netconn.kql"];
    let strs: Vec<Tok> = lex(kql)
        .unwrap()
        .into_iter()
        .map(|t| t.tok)
        .filter(|t| matches!(t, Tok::Str(_)))
        .collect();
    assert_eq!(
        strs.iter()
            .filter(|t| **t == Tok::Str(value.into()))
            .count(),
        2,
        "{kql}"
    );
    let yaml: serde_yaml::Mapping =
        serde_yaml::from_str(&res.files["sentinel/analytic/supremo-netconn.yaml"]).unwrap();
    assert_eq!(yaml["query"].as_str(), Some(kql.as_str()));
    assert!(yaml["description"].as_str().unwrap().contains(reason));
    assert!(!yaml.contains_key("key"));
}
