//! The shipped rules reproduce the five seed hunting queries (../shared/seeds/) in meaning:
//! with exclusions off, each emitted KQL query equals the seed's query token for token
//! (whitespace and comments aside; string literals compared by value, so `'x'` equals `"x"`).
//! With exclusions on, the only difference is the added `| where not(...)` stages.

use rmmc::build::{self, BuildOptions, Files, Target};
use rmmc::eval::kql::lexer::{lex, Tok};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn seed(name: &str) -> String {
    let p = root().join("../shared/seeds").join(name);
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{}: {e} (../shared must sit beside the repo)", p.display()))
}

/// The text between the line starting with `start` (inclusive when `keep_start`) and the
/// first following line starting with `end` (exclusive).
fn between(text: &str, start: &str, keep_start: bool, end: &str) -> String {
    let mut out = Vec::new();
    let mut on = false;
    for line in text.lines() {
        if !on && line.trim_start().starts_with(start) {
            on = true;
            if !keep_start {
                continue;
            }
        } else if on && line.trim_start().starts_with(end) {
            break;
        }
        if on {
            out.push(line);
        }
    }
    assert!(on, "marker {start:?} not found");
    out.join("\n")
}

fn compile(exclusions: bool) -> Files {
    let specs = rmmc::spec::load_dir(&root().join("rules")).expect("shipped rules load");
    let res = build::compile(
        &specs,
        &BuildOptions {
            targets: vec![Target::Kql],
            exclusions,
        },
    );
    assert!(!res.diags.iter().any(|d| d.is_error()), "{:?}", res.diags);
    res.files
}

fn tokens(kql: &str) -> Vec<Tok> {
    lex(kql)
        .unwrap_or_else(|e| panic!("{e}\n{kql}"))
        .into_iter()
        .map(|t| t.tok)
        .collect()
}

/// (seed file, how to cut its query out, emitted artifact)
fn cases() -> Vec<(&'static str, String, &'static str)> {
    let s1 = seed("1-netsupport-netconn.txt");
    let s2 = seed("2-netsupport-createproc.txt");
    let s3 = seed("3-netsupport-threatfox-ioc.txt");
    let s4 = seed("4-action1-netconn.txt");
    let s5 = seed("5-supremo-netconn.txt");
    vec![
        (
            "1-netsupport-netconn",
            between(&s1, "KQL Query", false, "Analytic Rule Definition"),
            "kql/netsupport-netconn.kql",
        ),
        (
            "2-netsupport-createproc",
            between(&s2, "KQL Query", false, "id:"),
            "kql/netsupport-createproc.kql",
        ),
        (
            "3-netsupport-threatfox-ioc (CommonSecurityLog)",
            between(
                &s3,
                "// Hunt for network connections",
                true,
                "// Hunt in Defender",
            ),
            "kql/netsupport-ioc-firewall.kql",
        ),
        (
            "3-netsupport-threatfox-ioc (DeviceNetworkEvents)",
            between(&s3, "// Hunt in Defender", true, "| Sentinel Table"),
            "kql/netsupport-ioc-endpoint.kql",
        ),
        (
            "4-action1-netconn",
            between(&s4, "KQL Query", false, "id:"),
            "kql/action1-netconn.kql",
        ),
        (
            "5-supremo-netconn",
            between(&s5, "KQL Query", false, "id:"),
            "kql/supremo-netconn.kql",
        ),
    ]
}

#[test]
fn emitted_kql_equals_each_seed_query() {
    let files = compile(false);
    for (name, seed_query, artifact) in cases() {
        let ours = files
            .get(artifact)
            .unwrap_or_else(|| panic!("{artifact} not emitted"));
        assert_eq!(
            tokens(ours),
            tokens(&seed_query),
            "{name}: emitted\n{ours}\nseed\n{seed_query}"
        );
    }
}

#[test]
fn the_seed_token_comparison_can_fail() {
    // Guard against a comparison that accepts anything: change one value, one operator.
    let seed_query = between(
        &seed("1-netsupport-netconn.txt"),
        "KQL Query",
        false,
        "Analytic Rule Definition",
    );
    assert_ne!(
        tokens(&seed_query),
        tokens(&seed_query.replace("'netsupport'", "'netsupportx'"))
    );
    assert_ne!(
        tokens(&seed_query),
        tokens(&seed_query.replace("RemoteUrl has", "RemoteUrl contains"))
    );
}

/// Remove every `| where not( ... )` stage (balanced parentheses), counting them.
fn strip_exclusions(toks: &[Tok]) -> (Vec<Tok>, usize) {
    let mut out = Vec::new();
    let mut i = 0;
    let mut removed = 0;
    while i < toks.len() {
        let is_stage = toks[i] == Tok::Punct("|")
            && toks.get(i + 1) == Some(&Tok::Ident("where".into()))
            && toks.get(i + 2) == Some(&Tok::Ident("not".into()))
            && toks.get(i + 3) == Some(&Tok::Punct("("));
        if !is_stage {
            out.push(toks[i].clone());
            i += 1;
            continue;
        }
        let mut depth = 0;
        i += 3;
        loop {
            match &toks[i] {
                Tok::Punct("(") => depth += 1,
                Tok::Punct(")") => depth -= 1,
                _ => {}
            }
            i += 1;
            if depth == 0 {
                break;
            }
        }
        removed += 1;
    }
    (out, removed)
}

#[test]
fn exclusions_only_add_where_not_stages() {
    let bare = compile(false);
    let full = compile(true);
    assert_eq!(
        bare.keys().collect::<Vec<_>>(),
        full.keys().collect::<Vec<_>>()
    );
    let mut total = 0;
    for (path, with) in &full {
        let (stripped, removed) = strip_exclusions(&tokens(with));
        assert_eq!(stripped, tokens(&bare[path]), "{path}");
        total += removed;
    }
    // netsupport: 4 createproc + 4 ioc (endpoint only); action1: 5; supremo: none.
    assert_eq!(total, 13);
}

#[test]
fn sentinel_yaml_carries_the_same_query() {
    let specs = rmmc::spec::load_dir(Path::new(&root().join("rules"))).unwrap();
    let res = build::compile(
        &specs,
        &BuildOptions::only(&[Target::Kql, Target::Sentinel]),
    );
    for (path, text) in &res.files {
        let Some(stem) = path
            .strip_prefix("kql/")
            .and_then(|p| p.strip_suffix(".kql"))
        else {
            continue;
        };
        for kind in ["analytic", "hunting"] {
            let yaml_path = format!("sentinel/{kind}/{stem}.yaml");
            let doc: serde_yaml::Value = serde_yaml::from_str(&res.files[&yaml_path]).unwrap();
            assert_eq!(doc["query"].as_str(), Some(text.as_str()), "{yaml_path}");
        }
    }
}
