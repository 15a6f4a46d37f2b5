//! `rmmc schema` describes the format the loader accepts: the shipped specs validate against
//! it, and typical mistakes that the loader rejects are rejected by the schema too.

use serde_json::Value;

fn validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(&rmmc::spec::json_schema()).expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("schema compiles")
}

fn spec_json(yaml: &str) -> Value {
    serde_yaml::from_str(yaml).expect("YAML")
}

#[test]
fn shipped_specs_validate() {
    let v = validator();
    // the hand-written specs and the imported ones under rules/imported/*/
    let mut files = Vec::new();
    let mut dirs = vec![std::path::PathBuf::from("rules")];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                files.push(path);
            }
        }
    }
    assert!(files.len() > 300, "{} specs", files.len());
    for path in files {
        let doc = spec_json(&std::fs::read_to_string(&path).unwrap());
        let errors: Vec<String> = v
            .iter_errors(&doc)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
    }
}

#[test]
fn schema_rejects_what_the_loader_rejects() {
    let v = validator();
    let base = std::fs::read_to_string("rules/supremo.yaml").unwrap();
    for (what, bad) in [
        ("unknown top-level field", base.replace("severity: medium", "severity: medium\nseverty: high")),
        ("unknown severity", base.replace("severity: medium", "severity: critical")),
        ("unknown canonical field", base.replace("initiating_company:", "initiating_compnay:")),
        ("unknown match kind", base.replace("{ term: [NanoSystems] }", "{ regex: [Nano] }")),
        ("empty value list", base.replace("[NanoSystems]", "[]")),
        ("bad id", base.replace("id: supremo", "id: ../x")),
        ("bad technique", base.replace("[T1219]", "[T12190]")),
        ("bad window", base.replace("window: 5d", "window: 5 days")),
        ("two keys in a predicate", base.replace("- initiating_company: { term: [NanoSystems] }", "- initiating_company: { term: [NanoSystems] }\n          remote_ip: { ip: [1.2.3.4] }")),
    ] {
        assert!(!v.is_valid(&spec_json(&bad)), "schema accepted: {what}");
    }
}
