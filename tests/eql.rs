//! The Elastic EQL backend: snapshots of every artifact of the shipped rules and of the
//! diagnostics, renderings of each match kind, hostile values, and property tests that run the
//! emitted EQL text — through the library's EQL evaluator (`rmmc::eval::eql`, written from the
//! Elasticsearch documentation and reading the text only) — against the spec's reference
//! interpreter; and every deployed `.eql` example on hand-written ECS events.

use proptest::prelude::*;
use rmmc::backend::eql::{self, field_test, string_literal};
use rmmc::build::{self, BuildOptions, BuildResult, Target};
use rmmc::diag::{DiagKind, Fidelity};
use rmmc::eval::eql::{self as eql_eval, lexer::lex as eql_lex, lexer::Tok, Query as EqlQuery};
use rmmc::ir::{self, Event, Match, Test, TextOp};
use rmmc::spec::{Field, Source};
use serde_json::{json, Map, Value};
use std::path::Path;

// ---------------------------------------------------------------------------------------------
// The emitted text runs through the library's EQL evaluator (`rmmc::eval::eql`: lexer, parser,
// interpreter and Lucene regular expressions written from the Elasticsearch documentation),
// which reads the artifact text only.

fn lex(src: &str) -> Vec<Tok> {
    eql_lex(src)
        .unwrap_or_else(|e| panic!("{e} in {src}"))
        .into_iter()
        .map(|t| t.tok)
        .collect()
}

/// A bare condition, as `field_test` renders it.
fn parse_cond(src: &str) -> EqlQuery {
    eql_eval::parse(&format!("any where {src}")).unwrap_or_else(|e| panic!("{e} in {src}"))
}

/// A whole query `category where condition`.
fn parse_query(src: &str) -> (String, EqlQuery) {
    let q = eql_eval::parse(src).unwrap_or_else(|e| panic!("{e} in {src}"));
    (q.category().to_string(), q)
}

/// The condition on a flat event (dotted keys); the category is not checked.
fn eval_cond(q: &EqlQuery, ev: &Map<String, Value>) -> bool {
    q.condition_matches(&Value::Object(ev.clone()))
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn shipped() -> Vec<rmmc::spec::LoadedSpec> {
    rmmc::spec::load_dir(Path::new("rules")).expect("shipped rules load")
}

fn elastic() -> BuildOptions {
    BuildOptions::only(&[Target::Elastic])
}

fn build_str(yaml: &str) -> BuildResult {
    let spec = rmmc::spec::load_str(Path::new("t.yaml"), yaml).unwrap_or_else(|d| panic!("{d:#?}"));
    build::compile(&[spec], &elastic())
}

fn text(op: TextOp, values: &[&str], cased: bool) -> Test {
    Test::Text {
        op,
        values: values.iter().map(|s| s.to_string()).collect(),
        cased,
    }
}

/// Does the rendered test on field `f` accept `hay` (None: field missing)?
fn eql_accepts(rendered: &str, hay: Option<&str>) -> bool {
    let mut ev = Map::new();
    if let Some(h) = hay {
        ev.insert("f".into(), json!(h));
    }
    eval_cond(&parse_cond(rendered), &ev)
}

fn spec_accepts(field: &str, test: &Test, hay: Option<&str>) -> bool {
    let m = Match {
        field: Field::lookup(field).unwrap(),
        test: test.clone(),
        list: None,
        span: None,
    };
    let mut ev = Map::new();
    if let Some(h) = hay {
        ev.insert(field.into(), json!(h));
    }
    m.eval(&Event(ev))
}

// ---------------------------------------------------------------------------------------------
// Shipped rules

#[test]
fn elastic_artifacts_of_the_shipped_rules() {
    let res = build::compile(&shipped(), &elastic());
    assert!(res.diags.iter().all(|d| !d.is_error()), "{:#?}", res.diags);
    assert_eq!(
        res.files.len(),
        7,
        "{:?}",
        res.files.keys().collect::<Vec<_>>()
    );
    for (path, content) in &res.files {
        assert!(path.starts_with("elastic/"), "{path}");
        insta::assert_snapshot!(path.replace('/', "__"), content);
    }
}

#[test]
fn elastic_diagnostics_on_the_shipped_rules() {
    let res = build::compile(&shipped(), &elastic());
    let diags: Vec<String> = res.diags.iter().map(|d| d.to_string()).collect();
    insta::assert_snapshot!(diags.join("\n"));
}

#[test]
fn every_match_has_a_rendering() {
    let specs = shipped();
    let res = build::compile(&specs, &elastic());
    let irs: Vec<_> = specs.iter().map(ir::lower).collect();
    for s in &irs {
        for d in &s.detections {
            for &src in &d.sources {
                let mut expected = d.expr.matches_iter().len();
                for x in d.exclusions.iter().filter(|x| x.sources.contains(&src)) {
                    expected += x.expr.matches_iter().len();
                }
                let got = res
                    .renderings
                    .iter()
                    .filter(|r| r.spec == s.id && r.detection == d.id && r.source == src)
                    .count();
                assert_eq!(got, expected, "{}/{} {src}", s.id, d.id);
            }
        }
    }
    let table: Vec<String> = res
        .renderings
        .iter()
        .map(|r| {
            format!(
                "{}/{} {} [{}] {} => {:?} {}",
                r.spec,
                r.detection,
                r.source,
                r.part,
                r.predicate,
                r.fidelity,
                r.note.clone().unwrap_or_default()
            )
        })
        .collect();
    insta::assert_snapshot!(table.join("\n"));
}

/// Every emitted query parses in the test interpreter, and the NDJSON wrapper round-trips.
#[test]
fn ndjson_export_is_sorted_json_holding_the_queries() {
    let res = build::compile(&shipped(), &elastic());
    let ndjson = &res.files["elastic/rules.ndjson"];
    let lines: Vec<&str> = ndjson.lines().collect();
    assert_eq!(lines.len(), 6);
    for line in lines {
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            serde_json::to_string(&eql::sorted(v.clone())).unwrap(),
            line,
            "keys sorted"
        );
        assert_eq!(v["type"], "eql");
        assert_eq!(v["language"], "eql");
        let q = v["query"].as_str().unwrap();
        parse_query(q);
        let file = res
            .files
            .iter()
            .find(|(p, c)| p.ends_with(".eql") && c.ends_with(q))
            .map(|(p, _)| p.clone());
        assert!(file.is_some(), "no .eql file holds {q}");
        assert_eq!(v["threat"][0]["tactic"]["id"], "TA0011");
        assert_eq!(v["threat"][0]["technique"][0]["id"], "T1219");
        assert_eq!(v["from"], "now-5d");
        uuid::Uuid::parse_str(v["rule_id"].as_str().unwrap()).unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// Rendering of each match kind

const KINDS: &str = r#"
id: kinds
vendor: Kinds "Q" \ Co
description: |
  Hostile "quotes", back\slashes\, a */? and ünïcödé — 日本.
references: ['https://example.invalid/a?b="c"&d=\e']
author: 'Tester "T" \ Lab'
date: 2026-05-31
severity: high
attack: { tactics: [CommandAndControl], techniques: [T1219] }
window: 90m
detections:
  net:
    title: Net "x"
    category: network
    where:
      all:
        - remote_domain: { domain: [example.com, kit.example] }
        - any:
            - remote_port: { port: [443, 8443] }
            - remote_ip: { cidr: [10.0.0.0/8, "fd00::/8"] }
        - not:
            remote_ip: { ip: [192.0.2.1, "2001:db8::1"] }
    output:
      summarize: [device_id, device_name]
  proc:
    title: Proc
    category: process
    where:
      any:
        - all:
            - process_name: { exact: [Tool.exe, "we\"ird \\ name"] }
            - process_command_line: { contains: ['a*b?c', ' lead', 'trail ', '50%|x'] }
        - all:
            - process_company: { term: [Acme, Abüc], cased: true }
            - not:
                any:
                  - parent_process_name: { prefix: ['C:\Temp\'] }
                  - parent_command_line: { suffix: [.ps1, 'Ké'] }
        - process_product: { exact: [Exact, Kase], cased: true }
        - process_original_file_name: { contains: [plain, 'star*'], cased: true }
        # hashes are on process events (Defend's network events have no process.hash.*)
        - process_hash: { hash: [d41d8cd98f00b204e9800998ecf8427e, DA39A3EE5E6B4B0D3255BFEF95601890AFD80709] }
    output:
      summarize: [device_id, device_name, process_name]
exclusions:
  quoted:
    reason: 'A reason with "quotes", \backslashes\ and ünï.'
    applies_to: [proc]
    where:
      any:
        - account_name: { exact: [svc_backup] }
        - parent_process_name: { term: ['a(x)|b'] }
"#;

#[test]
fn each_match_kind_renders() {
    let res = build_str(KINDS);
    assert!(res.diags.iter().all(|d| !d.is_error()), "{:#?}", res.diags);
    let eqls: String = res
        .files
        .iter()
        .filter(|(p, _)| p.ends_with(".eql"))
        .map(|(p, c)| format!("==> {p}\n{c}"))
        .collect();
    insta::assert_snapshot!(eqls);
    let diags: Vec<String> = res.diags.iter().map(|d| d.to_string()).collect();
    insta::assert_snapshot!(diags.join("\n"));
}

#[test]
fn hostile_strings_survive_the_ndjson_wrapper() {
    let res = build_str(KINDS);
    let ndjson = &res.files["elastic/rules.ndjson"];
    let rules: Vec<Value> = ndjson
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rules.len(), 2);
    let proc = rules
        .iter()
        .find(|r| r["name"].as_str().unwrap().ends_with("Proc"))
        .unwrap();
    assert_eq!(
        proc["name"],
        r#"Remote Management and Monitoring tool - Kinds "Q" \ Co - Proc"#
    );
    let desc = proc["description"].as_str().unwrap();
    assert!(desc.starts_with("Hostile \"quotes\", back\\slashes\\, a */? and ünïcödé — 日本."));
    assert!(desc.contains(r#"- quoted: A reason with "quotes", \backslashes\ and ünï."#));
    assert_eq!(proc["author"][0], r#"Tester "T" \ Lab"#);
    assert_eq!(
        proc["references"][0],
        r#"https://example.invalid/a?b="c"&d=\e"#
    );
    assert_eq!(
        proc["false_positives"][0],
        r#"A reason with "quotes", \backslashes\ and ünï."#
    );
    assert_eq!(proc["risk_score"], 73);
    assert_eq!(proc["severity"], "high");
    assert_eq!(proc["interval"], "1h");
    assert_eq!(proc["from"], "now-90m");
    assert_eq!(
        proc["alert_suppression"],
        json!({"group_by": ["host.id", "host.name", "process.name"], "duration": {"value": 90, "unit": "m"}, "missing_fields_strategy": "suppress"})
    );
    assert_eq!(proc["index"], json!(["logs-endpoint.events.process-*"]));
    // the query in the wrapper is the .eql file's query, and it parses
    let q = proc["query"].as_str().unwrap();
    assert!(res.files["elastic/kinds-proc.eql"].ends_with(q));
    parse_query(q);
}

/// The whole emitted `proc` query — nested any/all/not, cased and case-insensitive kinds,
/// hostile values, an exclusion — agrees with the spec on events made of the spec's values,
/// their case variants and near misses.
#[test]
fn nested_precedence_and_exclusions_agree_with_the_spec() {
    let spec = rmmc::spec::load_str(Path::new("t.yaml"), KINDS).unwrap();
    let ir = ir::lower(&spec);
    let res = build::compile(&[spec], &elastic());
    let det = ir.detections.iter().find(|d| d.id == "proc").unwrap();
    let (cat, cond) = parse_query(
        res.files["elastic/kinds-proc.eql"]
            .split_once('\n')
            .unwrap()
            .1,
    );
    assert_eq!(cat, "process");
    let table = rmmc::mappings::default_tables(rmmc::spec::BackendName::Elastic)
        .iter()
        .find(|t| t.name == "logs-endpoint.events.process")
        .unwrap();
    let pools: Vec<(&str, Vec<&str>)> = vec![
        (
            "process_name",
            vec!["Tool.exe", "TOOL.EXE", "we\"ird \\ name", "tool.ex", ""],
        ),
        (
            "process_command_line",
            vec![
                "xa*b?cx", "aXbYc", " lead", "lead", "trail  ", "50%|x", "50%x",
            ],
        ),
        (
            "process_company",
            vec!["Acme Inc", "ACME Inc", "Abüc GmbH", "ABÜC", "abüc", "xAcme"],
        ),
        (
            "parent_process_name",
            vec![
                "C:\\Temp\\x.exe",
                "c:\\temp\\y",
                "C:Tempx",
                "a(x)|b",
                "z a(X)|B y",
                "za(x)|b",
                "a(x)|b9",
            ],
        ),
        (
            "parent_command_line",
            vec!["run.PS1", "a.ps1x", "Ké", "KÉ", "\u{212A}é"],
        ),
        (
            "process_product",
            vec!["Exact", "exact", "Kase", "\u{212A}ase"],
        ),
        (
            "process_original_file_name",
            vec!["xplainx", "PLAIN", "star*", "starx"],
        ),
        (
            "account_name",
            vec!["svc_backup", "SVC_BACKUP", "svc_backupx"],
        ),
    ];
    let mut rng: u64 = 0x9E3779B97F4A7C15;
    let mut agree = 0;
    for _ in 0..3000 {
        let mut canon = Map::new();
        let mut native = Map::new();
        native.insert("event.type".into(), json!("start"));
        for (f, pool) in &pools {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let pick = (rng % (pool.len() as u64 + 1)) as usize;
            if let Some(v) = pool.get(pick) {
                canon.insert(f.to_string(), json!(v));
                let col = table.column(Field::lookup(f).unwrap()).unwrap();
                native.insert(col.match_on[0].to_string(), json!(v));
            }
        }
        // `event.type == "start"` holds; the rest must agree with the spec
        let want = det.matches(&Event(canon.clone()), Source::Endpoint, true);
        let got = eval_cond(&cond, &native);
        assert_eq!(got, want, "{canon:?}");
        agree += usize::from(want);
    }
    assert!(
        agree > 100,
        "the sample should fire often enough to mean something ({agree})"
    );
}

#[test]
fn kind_renderings() {
    let r = |t: &Test| field_test("f", t).text;
    let cases = vec![
        r(&text(TextOp::Term, &["netsupport"], false)),
        r(&text(TextOp::Term, &["Action1", "x.y"], true)),
        r(&text(TextOp::Exact, &["a.exe", "B.EXE"], false)),
        r(&text(TextOp::Exact, &["a.exe"], true)),
        r(&text(TextOp::Exact, &["a.exe", "b"], true)),
        r(&text(TextOp::Exact, &["kit.exe"], false)),
        r(&text(
            TextOp::Contains,
            &["schtasks", "a*b", "q\"uote", "back\\slash"],
            false,
        )),
        r(&text(TextOp::Prefix, &["C:\\Windows\\"], false)),
        r(&text(TextOp::Suffix, &[".ps1"], true)),
        r(&text(TextOp::Suffix, &["?.ps1"], true)),
        r(&text(TextOp::Contains, &["é", "日本", " lead"], false)),
        r(&Test::Domain(vec![
            "example.com".into(),
            "kit.example".into(),
        ])),
        r(&Test::Ip(vec![
            "95.85.246.53".parse().unwrap(),
            "2001:db8::1".parse().unwrap(),
        ])),
        r(&Test::Cidr(vec![
            "10.0.0.0/8".parse().unwrap(),
            "fd00::/8".parse().unwrap(),
        ])),
        r(&Test::Port(vec![443])),
        r(&Test::Port(vec![443, 7443])),
        r(&Test::Digest(vec![
            "d41d8cd98f00b204e9800998ecf8427e".into()
        ])),
    ];
    insta::assert_snapshot!(cases.join("\n"));
}

#[test]
fn string_literals_escape_hostile_text() {
    let cases = [
        "plain",
        "quote \" and \\ backslash",
        "C:\\Program Files\\NetSupport\\",
        "*?%|$^()[]{}.+#@&<>~",
        "  spaces  ",
        "ünï 日本 🚀 \u{212A}",
        "tab\tnl\ncr\r\u{1}",
        "\"\"\"",
    ];
    let out: Vec<String> = cases.iter().map(|s| string_literal(s)).collect();
    insta::assert_snapshot!(out.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Gaps

const GAPS: &str = r#"
id: gapdemo
vendor: GapDemo
description: Firewall logs carry no process command line.
date: 2026-11-25
severity: low
attack: { tactics: [CommandAndControl], techniques: [T1219] }
window: 1d
detections:
  net:
    title: Network Connection
    category: network
    sources: [endpoint, firewall]
    where:
      all:
        - remote_domain: { domain: [gapdemo.example] }
        - initiating_command_line: { term: [GapDemo] }
    output:
      project:
        endpoint: [timestamp, device_name, remote_domain]
        firewall: [timestamp, device_name, remote_domain]
    GAPS
exclusions:
  updater:
    reason: The vendor's updater talks to the same domain.
    where:
      initiating_command_line: { contains: [--update] }
"#;

#[test]
fn undeclared_gap_is_an_error_naming_match_and_target() {
    let res = build_str(&GAPS.replace("GAPS", ""));
    let errors: Vec<_> = res.diags.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    for e in &errors {
        assert_eq!(e.kind, DiagKind::Fidelity(Fidelity::Inexpressible));
        assert!(
            e.message.contains("elastic cannot express"),
            "{}",
            e.message
        );
        assert!(e.message.contains("logs-firewall (ECS)"), "{}", e.message);
        assert!(e
            .help
            .as_deref()
            .unwrap()
            .contains("gaps: { elastic: <reason> }"));
    }
    assert!(errors[0]
        .message
        .contains("initiating_command_line term [GapDemo]"));
    assert!(errors[1]
        .message
        .contains("initiating_command_line contains [--update]"));
}

#[test]
fn declared_gap_widens_soundly_and_says_so() {
    let reason = r#"firewalls log no "command line"; the domain alone is matched"#;
    let res = build_str(&GAPS.replace("GAPS", &format!("gaps: {{ elastic: '{reason}' }}")));
    assert!(res.diags.iter().all(|d| !d.is_error()), "{:#?}", res.diags);
    let fw = &res.files["elastic/gapdemo-net-firewall.eql"];
    assert!(!fw.contains("process.command_line"), "{fw}");
    assert!(fw.contains("destination.domain"), "{fw}");
    assert!(!fw.contains("and not"), "the exclusion cannot apply: {fw}");
    let endpoint = &res.files["elastic/gapdemo-net-endpoint.eql"];
    assert!(
        endpoint.contains("process.command_line regex"),
        "{endpoint}"
    );
    assert!(
        endpoint.contains("and not (process.command_line : \"*--update*\")"),
        "{endpoint}"
    );
    let rule: Value = res.files["elastic/rules.ndjson"]
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["name"].as_str().unwrap().ends_with("(firewall)"))
        .unwrap();
    let desc = rule["description"].as_str().unwrap();
    assert!(desc.contains(reason), "{desc}");
    assert!(desc.contains("Exclusion updater is not applied"), "{desc}");
    let warned: Vec<_> = res
        .diags
        .iter()
        .filter(|d| d.kind == DiagKind::Fidelity(Fidelity::Wider) && d.message.contains("drops"))
        .collect();
    assert_eq!(warned.len(), 2, "{warned:#?}");
    assert!(res
        .renderings
        .iter()
        .any(|r| r.fidelity == Fidelity::Inexpressible && r.source == Source::Firewall));
}

// ---------------------------------------------------------------------------------------------
// Properties

fn alphabet() -> Vec<char> {
    "akKsS1.-_*?\\\" éÉßİi([]^$|#@&~<>{}+:%'日\u{212A}\u{130}"
        .chars()
        .collect()
}

fn chars(max: usize, min: usize) -> impl Strategy<Value = String> {
    let a = alphabet();
    proptest::collection::vec(proptest::sample::select(a), min..max)
        .prop_map(|v| v.into_iter().collect())
}

/// The value with each character replaced by one of its case variants (or kept).
fn variant(v: &str, picks: &[u8]) -> String {
    v.chars()
        .zip(picks.iter().cycle())
        .map(|(c, p)| match p % 6 {
            0 => c.to_uppercase().next().unwrap(),
            1 => c.to_lowercase().next().unwrap(),
            2 => ir::fold(c),
            3 if ir::fold(c) == 'k' => '\u{212A}',
            4 => 'x',
            _ => c,
        })
        .collect()
}

fn op_strategy() -> impl Strategy<Value = TextOp> {
    prop_oneof![
        Just(TextOp::Term),
        Just(TextOp::Exact),
        Just(TextOp::Contains),
        Just(TextOp::Prefix),
        Just(TextOp::Suffix),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn string_literal_unescapes_to_the_value(s in any::<String>()) {
        let lit = string_literal(&s);
        prop_assert!(lit.is_ascii());
        prop_assert_eq!(lex(&lit), vec![Tok::Str(s.clone())]);
        // and in a comparison, the structure around it is intact
        prop_assert_eq!(lex(&format!("a : {lit} or b == \"x\"")).len(), 7);
    }

    /// Every text kind, cased or not, with hostile values: the emitted EQL accepts exactly
    /// the events the spec accepts (the value itself, case variants, Kelvin signs, near
    /// misses, surrounding text, a missing field).
    #[test]
    fn text_renderings_mean_what_the_spec_means(
        op in op_strategy(),
        cased in any::<bool>(),
        values in proptest::collection::vec(chars(5, 1), 1..3),
        picks in proptest::collection::vec(any::<u8>(), 1..6),
        pre in chars(3, 0),
        suf in chars(3, 0),
    ) {
        let vals: Vec<&str> = values.iter().map(String::as_str).collect();
        let test = text(op, &vals, cased);
        let rendered = field_test("f", &test).text;
        for v in &values {
            for hay in [
                v.clone(),
                variant(v, &picks),
                format!("{pre}{v}{suf}"),
                format!("{pre}{}{suf}", variant(v, &picks)),
                format!("{v}{suf}"),
                format!("{pre}{v}"),
                pre.clone(),
                // an unescaped `.` or `?` would accept any character in its place
                v.chars().map(|c| if c.is_alphanumeric() { c } else { 'x' }).collect(),
            ] {
                prop_assert_eq!(
                    eql_accepts(&rendered, Some(&hay)),
                    spec_accepts("process_command_line", &test, Some(&hay)),
                    "{} on {:?}", rendered, hay
                );
            }
        }
        prop_assert!(!eql_accepts(&rendered, None));
        prop_assert_eq!(
            eql_accepts(&format!("not ({rendered})"), None),
            !spec_accepts("process_command_line", &test, None)
        );
        // a literal `*`/`?`/`\` never reaches a wildcard pattern
        let mut wild = false;
        for t in lex(&rendered) {
            match t {
                Tok::Punct(":") => wild = true,
                Tok::Punct("==") => wild = false,
                Tok::Ident(w) if ["like", "regex", "regex~", "in", "in~", "or"].contains(&w.as_str()) => wild = w == "like",
                Tok::Str(p) if wild => {
                    let inner = p.strip_prefix('*').unwrap_or(&p);
                    let inner = inner.strip_suffix('*').unwrap_or(inner);
                    prop_assert!(!inner.contains(['*', '?', '\\']), "{}", rendered);
                }
                _ => {}
            }
        }
    }

    #[test]
    fn domain_renderings_mean_what_the_spec_means(
        labels in proptest::collection::vec("[a-z0-9k]{1,4}", 1..3),
        picks in proptest::collection::vec(any::<u8>(), 1..6),
        pre in prop_oneof![Just(""), Just("a."), Just("x"), Just("K."), Just("https://")],
        suf in prop_oneof![Just(""), Just("."), Just(".evil"), Just("/x"), Just("x")],
    ) {
        let d = labels.join(".");
        let test = Test::Domain(vec![d.clone()]);
        let rendered = field_test("f", &test).text;
        for hay in [d.clone(), variant(&d, &picks), format!("{pre}{d}{suf}"), format!("{pre}{}{suf}", variant(&d, &picks))] {
            prop_assert_eq!(
                eql_accepts(&rendered, Some(&hay)),
                spec_accepts("remote_domain", &test, Some(&hay)),
                "{} on {:?}", rendered, hay
            );
        }
    }

    #[test]
    fn port_and_hash_renderings_mean_what_the_spec_means(
        ports in proptest::collection::vec(1u16..20, 1..3),
        event_port in 0u64..22,
        hex in "[0-9a-f]{32}",
        upper in any::<bool>(),
    ) {
        let test = Test::Port(ports.clone());
        let rendered = field_test("f", &test).text;
        let mut ev = Map::new();
        ev.insert("f".into(), json!(event_port));
        let m = Match { field: Field::lookup("remote_port").unwrap(), test: test.clone(), list: None, span: None };
        let mut cev = Map::new();
        cev.insert("remote_port".into(), json!(event_port));
        prop_assert_eq!(eval_cond(&parse_cond(&rendered), &ev), m.eval(&Event(cev)), "{}", rendered);

        let test = Test::Digest(vec![hex.clone()]);
        let rendered = field_test("f", &test).text;
        let hay = if upper { hex.to_ascii_uppercase() } else { hex.clone() };
        prop_assert!(eql_accepts(&rendered, Some(&hay)));
        let longer = format!("{hay}0");
        prop_assert!(!eql_accepts(&rendered, Some(&longer)));
    }
}

#[test]
fn a_category_without_a_data_source_is_an_error() {
    let spec = GAPS.replace("GAPS", "").replace(
        "  net:\n    title: Network Connection\n    category: network\n    sources: [endpoint, firewall]\n    where:\n      all:\n        - remote_domain: { domain: [gapdemo.example] }\n        - initiating_command_line: { term: [GapDemo] }",
        "  net:\n    title: Signer\n    category: certificate\n    where:\n      signer: { term: [GapDemo] }",
    ).replace("        firewall: [timestamp, device_name, remote_domain]\n", "").replace("remote_domain]\n", "signer]\n");
    let spec = spec.replace("exclusions:\n  updater:\n    reason: The vendor's updater talks to the same domain.\n    where:\n      initiating_command_line: { contains: [--update] }\n", "");
    let res = build_str(&spec);
    let errors: Vec<String> = res
        .diags
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.to_string())
        .collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].contains("Elastic has no data source for certificate events"),
        "{}",
        errors[0]
    );
    assert!(res.files.is_empty());
}

// ---------------------------------------------------------------------------------------------
// The deployed examples, read from disk, on hand-written nested ECS events

/// (file, category, [(what, event, verdict)]); each verdict is reasoned from the query text.
/// (what the event is, the event, the verdict).
type Verdicts = Vec<(&'static str, Value, bool)>;

fn deployed_cases() -> Vec<(&'static str, &'static str, Verdicts)> {
    let a1 = |domain: &str, name: &str, dip: &str| {
        json!({"event": {"category": "network"},
               "destination": {"domain": domain, "ip": dip}, "source": {"ip": "192.168.1.2"},
               "process": {"name": name, "pe": {"company": "Action1 Corporation", "product": "Action1 RMM"}}})
    };
    let np = |ty: &str, cmd: &str, user: Option<&str>| {
        let mut v = json!({"event": {"category": ["process"], "type": ty},
                           "process": {"pe": {"company": "NetSupport Ltd"}, "parent": {"name": "explorer.exe"},
                                       "command_line": cmd}});
        if let Some(u) = user {
            v["user"] = json!({"name": u});
        }
        v
    };
    let ioc = |sip: &str, exe: &str, host: &str, cmd: &str| {
        json!({"event": {"category": "network"}, "source": {"ip": sip}, "destination": {"ip": "10.0.0.5"},
               "process": {"executable": exe, "command_line": cmd}, "host": {"name": host}})
    };
    let conn = |domain: &str, company: Option<&str>| {
        let mut v = json!({"event": {"category": "network"}, "destination": {"domain": domain}});
        if let Some(c) = company {
            v["process"] = json!({"pe": {"company": c}});
        }
        v
    };
    vec![
        ("action1-netconn.eql", "network", vec![
            ("hit: sub-domain after a delimiter, words of company and product", a1("a1-SERVER.Action1.com", "action1_agent.exe", "203.0.113.5"), true),
            ("near miss: the domain is glued to a letter", a1("notserver.action1.com", "action1_agent.exe", "203.0.113.5"), false),
            ("excluded: in~ folds ASCII case of the process name", a1("server.action1.com", "SETUP.EXE", "203.0.113.5"), false),
            ("excluded: an IPv4-mapped IPv6 address is the excluded IPv4", a1("server.action1.com", "x.exe", "::ffff:10.10.10.20"), false),
            ("excluded: the Kelvin sign is accepted where the regex lists it", a1("server.action1.com", "\u{212A}aseya", "203.0.113.5"), false),
            ("wrong category", json!({"event": {"category": "process"}, "destination": {"domain": "server.action1.com"}}), false),
        ]),
        ("netsupport-createproc.eql", "process", vec![
            ("hit: start event, company word, no user at all (not of a missing field is true)", np("start", "client32.exe /silent", None), true),
            ("near miss: == is case-sensitive", np("Start", "client32.exe /silent", None), false),
            ("near miss: not a start", np("end", "client32.exe /silent", None), false),
            ("excluded: schtasks anywhere in the command line, any case", np("start", "C:\\x\\SCHTASKS /run", None), false),
            ("excluded: `:` wildcard folds case", np("start", "client32.exe", Some("corp\\itsupportuser1")), false),
            ("excluded: GroupPolicy wildcard", np("start", "x grouppolicy y", Some("alice")), false),
            ("kept: é is not E for the regex classes", np("start", "tasksch\u{e9}duler", Some("alice")), true),
        ]),
        ("netsupport-ioc-endpoint.eql", "network", vec![
            ("hit: mapped IPv6 source address of an IOC", ioc("::ffff:101.109.237.93", "C:\\Users\\x\\client32.exe", "pc1", "client32"), true),
            ("near miss: a neighbouring address", ioc("101.109.237.94", "C:\\Users\\x\\client32.exe", "pc1", "client32"), false),
            ("excluded: the install path, lower case", ioc("95.85.246.53", "c:\\program files\\netsupport\\client32.exe", "pc1", "client32"), false),
            ("kept: a forward slash is not the backslash in the path", ioc("95.85.246.53", "c:/program files/netsupport/client32.exe", "pc1", "client32"), true),
            ("excluded: in~ host name", ioc("95.85.246.53", "C:\\x.exe", "TRAINING_vm_01", "client32"), false),
            ("excluded: one of the list patterns", ioc("95.85.246.53", "C:\\x.exe", "pc1", "client32 --Patch now"), false),
        ]),
        ("netsupport-ioc-firewall.eql", "network", vec![
            ("hit: flat dotted keys", json!({"event.category": "network", "destination.ip": "95.85.246.53"}), true),
            ("hit: one value of a multi-valued field", json!({"event": {"category": "network"}, "source": {"ip": ["1.1.1.1", "101.109.237.93"]}}), true),
            ("near miss: not an address", json!({"event": {"category": "network"}, "destination": {"ip": "95.85.246.530"}}), false),
            ("near miss: no address at all", json!({"event": {"category": "network"}}), false),
        ]),
        ("netsupport-netconn.eql", "network", vec![
            ("hit", conn("activate.NetSupportSoftware.com", Some("NetSupport Ltd")), true),
            ("hit: term semantics accept a domain followed by a delimiter", conn("netsupportsoftware.com.evil", Some("NetSupport Ltd")), true),
            ("near miss: glued prefix", conn("mynetsupportsoftware.com", Some("NetSupport Ltd")), false),
            // Defend's network events carry no process.pe.company: the company is a declared
            // gap, dropped, so the domain alone decides
            ("hit: no company at all (the declared gap)", conn("netsupportsoftware.com", None), true),
            ("hit: another company (the declared gap)", conn("netsupportsoftware.com", Some("NetSupportX")), true),
            ("near miss: glued suffix", conn("netsupportsoftware.community", None), false),
        ]),
        ("supremo-netconn.eql", "network", vec![
            ("hit: second pattern of the list", conn("www.nanosystems.it", Some("NanoSystems S.r.l.")), true),
            ("hit: first pattern of the list", conn("SupremoControl.com", Some("nanosystems")), true),
            ("near miss: truncated domain", conn("supremocontrol.co", Some("NanoSystems")), false),
            ("hit: another company (the declared gap)", conn("supremocontrol.com", Some("NanoSystemsX")), true),
            ("near miss: the domain continues", conn("supremocontrol.comx", None), false),
        ]),
    ]
}

#[test]
fn deployed_examples_parse_and_decide_hand_written_events() {
    let dir = Path::new("examples/deployed/elastic");
    let cases = deployed_cases();
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".eql"))
        .collect();
    on_disk.sort();
    let mut covered: Vec<String> = cases.iter().map(|c| c.0.to_string()).collect();
    covered.sort();
    assert_eq!(
        on_disk, covered,
        "every deployed .eql file has hand-written events"
    );
    for (file, category, events) in cases {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let q = eql_eval::parse(&text).unwrap_or_else(|e| panic!("{file}:{e}"));
        assert_eq!(q.category(), category, "{file}");
        assert!(q
            .input_fields()
            .iter()
            .all(|f| f == "event.category" || text.contains(f.as_str())));
        let (mut hits, mut misses) = (0, 0);
        for (what, ev, want) in events {
            assert_eq!(q.matches(&ev), Ok(want), "{file}: {what}: {ev}");
            if want {
                hits += 1;
            } else {
                misses += 1;
            }
        }
        assert!(
            hits > 0 && misses > 0,
            "{file}: both verdicts are exercised"
        );
    }
}

/// Every ECS field the Elastic Defend tables of `backends/elastic.yaml` match, project or
/// filter on is in that data stream's published field list (`backends/elastic-endpoint-fields.json`,
/// the leaf names of elastic/endpoint-package `package/endpoint/data_stream/<stream>/fields/
/// fields.yml`): a field the stream does not carry fails in Elasticsearch at run time
/// (issue 14: 55 `network where` rules read process.pe.company, which only process events have).
#[test]
fn elastic_defend_columns_exist_in_the_endpoint_package_field_lists() {
    let lists: serde_json::Map<String, Value> = serde_json::from_str(
        &std::fs::read_to_string("backends/elastic-endpoint-fields.json").unwrap(),
    )
    .unwrap();
    let mut checked = 0;
    for t in rmmc::mappings::default_tables(rmmc::spec::BackendName::Elastic) {
        let Some(stream) = t.name.strip_prefix("logs-endpoint.events.") else {
            continue;
        };
        let known: Vec<&str> = lists[stream]
            .as_array()
            .unwrap_or_else(|| panic!("no field list for {stream}"))
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let mut fields: Vec<String> = vec!["event.category".into()];
        for (_, col) in &t.columns {
            match col {
                rmmc::mapping::ColumnSpec::Plain(f) => fields.push(f.clone()),
                rmmc::mapping::ColumnSpec::Detailed(d) => {
                    fields.extend(d.match_any.iter().cloned());
                    fields.extend(d.project.iter().cloned());
                }
            }
        }
        if let Some(cond) = t.meta.get("condition").and_then(Value::as_str) {
            fields.push(cond.split_whitespace().next().unwrap().to_string());
        }
        for f in fields {
            assert!(
                known.contains(&f.as_str()),
                "{}: `{f}` is not in the {stream} data stream's fields",
                t.name
            );
            checked += 1;
        }
    }
    assert!(checked > 40, "{checked}");
    // and the list is the real one: process events have the PE metadata, network events do not
    let has = |s: &str, f: &str| lists[s].as_array().unwrap().iter().any(|v| v == f);
    assert!(has("process", "process.pe.company"));
    assert!(!has("network", "process.pe.company"));
    assert!(!has("file", "process.hash.sha256"));
    assert!(has("network", "destination.domain"));
}

/// Every ECS field the firewall table of `backends/elastic.yaml` matches, projects or filters
/// on is declared by the integrations its index patterns name (`backends/elastic-firewall-fields.json`:
/// the ECS fields of elastic/integrations `packages/<pkg>/data_stream/<ds>/fields/{base-fields,
/// ecs}.yml` for CEF, PAN-OS, FortiGate, Cisco ASA and Check Point, at the commits it records),
/// or the column is marked narrower and its note names each integration that lacks the field:
/// the rule then reads the field on the others and never matches those events on it.
#[test]
fn elastic_firewall_columns_are_declared_by_the_integrations_the_index_patterns_name() {
    let lists: Value = serde_json::from_str(
        &std::fs::read_to_string("backends/elastic-firewall-fields.json").unwrap(),
    )
    .unwrap();
    let integrations = lists["integrations"].as_object().unwrap();
    let t = rmmc::mappings::default_tables(rmmc::spec::BackendName::Elastic)
        .iter()
        .find(|t| t.source == Source::Firewall)
        .expect("a firewall table");
    let patterns: Vec<&str> = t.meta["index"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    // every index pattern is either a recorded integration or Filebeat's template, which
    // Filebeat generates from the whole ECS schema (one index for all its modules)
    for p in &patterns {
        assert!(
            integrations.contains_key(*p) || *p == "filebeat-*",
            "{p}: no field list recorded for this index pattern"
        );
    }
    let carried = |p: &str, f: &str| {
        integrations[p]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == f)
    };
    let mut checked = 0;
    let mut declared = 0;
    // the event category every `network where` query filters on
    for p in patterns.iter().filter(|p| integrations.contains_key(**p)) {
        assert!(carried(p, "event.category"), "{p}: event.category");
    }
    for (canonical, col) in &t.columns {
        let (fields, fidelity, note) = match col {
            rmmc::mapping::ColumnSpec::Plain(f) => (vec![f.clone()], Fidelity::Exact, ""),
            rmmc::mapping::ColumnSpec::Detailed(d) => {
                let mut fs = d.match_any.clone();
                fs.extend(d.project.iter().cloned());
                (fs, d.fidelity, d.note.as_deref().unwrap_or(""))
            }
        };
        for f in &fields {
            let mut anywhere = false;
            for p in patterns.iter().filter(|p| integrations.contains_key(**p)) {
                checked += 1;
                if carried(p, f) {
                    anywhere = true;
                    continue;
                }
                let name = integrations[*p]["name"].as_str().unwrap();
                assert!(
                    fidelity == Fidelity::Narrower && note.contains(name),
                    "{canonical} → `{f}`: the {name} integration ({p}) does not declare it; \
                     mark the column narrower and name {name} in its note, or drop the column"
                );
                declared += 1;
            }
            assert!(anywhere, "{canonical} → `{f}`: no integration declares it");
        }
    }
    assert!(checked >= 50, "{checked}");
    // the lists are the real ones: what the note of each narrowed column says
    assert!(!carried("logs-panw.panos-*", "destination.domain"));
    assert!(carried("logs-checkpoint.firewall-*", "process.name"));
    assert!(!carried("logs-cef.log-*", "observer.name"));
    assert!(carried("logs-cef.log-*", "observer.hostname"));
    assert!(!carried("logs-cisco_asa.log-*", "event.action"));
    assert_eq!(declared, 8, "fields some integration lacks");
}
