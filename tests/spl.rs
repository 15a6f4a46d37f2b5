//! The Splunk backend: snapshots of every artifact of the shipped rules and of its diagnostics,
//! the rendering of each match kind, hostile values, and property tests that the escaping is
//! what Splunk reads back (eval string literals, PCRE, .conf continuation) and that each
//! emitted pattern accepts exactly what the IR interpreter accepts.

use proptest::prelude::*;
use rmmc::backend::spl::escape::{conf_value, eval_str, long_s_swap, port_pattern, IPV4, LONG_S};
use rmmc::backend::spl::{domain_pattern, text_pattern, BASENAME};
use rmmc::build::{self, BuildOptions, BuildResult, Target};
use rmmc::diag::{DiagKind, Fidelity};
use rmmc::ir::{Event, Expr, Match, Test, TextOp};
use rmmc::spec::Field;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;

fn splunk() -> BuildOptions {
    BuildOptions::only(&[Target::Splunk])
}

fn shipped() -> BuildResult {
    let specs = rmmc::spec::load_dir(Path::new("rules")).expect("shipped rules load");
    build::compile(&specs, &splunk())
}

fn build_yaml(yaml: &str) -> BuildResult {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.yaml"), yaml).unwrap();
    let specs = rmmc::spec::load_dir(dir.path()).unwrap_or_else(|d| panic!("{d:#?}"));
    build::compile(&specs, &splunk())
}

// ---------------------------------------------------------------------------------------
// A savedsearches.conf reader written from the .conf rules: `[stanza]` headers, `key = value`,
// `#` comment lines, and a line ending in `\` continuing the value on the next line (the line
// break is kept).

#[derive(Debug, PartialEq)]
struct Conf(Vec<(String, BTreeMap<String, String>)>);

fn parse_conf(text: &str) -> Conf {
    let mut stanzas: Vec<(String, BTreeMap<String, String>)> = Vec::new();
    let mut lines = text.split('\n').peekable();
    while let Some(line) = lines.next() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let name = rest.strip_suffix(']').expect("a header ends with ]");
            assert!(!name.contains(['[', ']']), "stanza name {name:?}");
            stanzas.push((name.to_string(), BTreeMap::new()));
            continue;
        }
        let (k, v) = line.split_once(" = ").expect("key = value");
        let mut value = v.to_string();
        while value.ends_with('\\') {
            value.pop();
            value.push('\n');
            value.push_str(lines.next().expect("a continued line follows"));
        }
        let (_, keys) = stanzas.last_mut().expect("a key inside a stanza");
        assert!(
            keys.insert(k.to_string(), value).is_none(),
            "duplicate key {k}"
        );
    }
    Conf(stanzas)
}

// ---------------------------------------------------------------------------------------
// Shipped rules

#[test]
fn splunk_artifacts_of_the_shipped_rules() {
    let res = shipped();
    assert!(res.diags.iter().all(|d| !d.is_error()), "{:#?}", res.diags);
    assert_eq!(
        res.files.keys().collect::<Vec<_>>(),
        [
            "splunk/action1-netconn.spl",
            "splunk/netsupport-createproc.spl",
            "splunk/netsupport-ioc-endpoint.spl",
            "splunk/netsupport-ioc-firewall.spl",
            "splunk/netsupport-netconn.spl",
            "splunk/savedsearches.conf",
            "splunk/supremo-netconn.spl",
        ]
    );
    for (path, content) in &res.files {
        insta::assert_snapshot!(path.replace('/', "__"), content);
    }
}

#[test]
fn splunk_diagnostics_on_the_shipped_rules() {
    let res = shipped();
    let diags: Vec<String> = res.diags.iter().map(|d| d.to_string()).collect();
    assert!(res.diags.iter().all(|d| !d.is_error()));
    // a wider address match inside an exclusion makes the rule narrower, and says so
    let d = res
        .diags
        .iter()
        .find(|d| d.message.contains("exclusion sccm-software-update"))
        .expect("the wider remote_ip in an exclusion is reported");
    assert_eq!(d.kind, DiagKind::Fidelity(Fidelity::Narrower), "{d}");
    insta::assert_snapshot!(diags.join("\n"));
}

#[test]
fn every_match_has_a_splunk_rendering() {
    let res = shipped();
    let rows: Vec<String> = res
        .renderings
        .iter()
        .map(|r| {
            format!(
                "{}/{} ({}) {}: {} -> {:?}{}",
                r.spec,
                r.detection,
                r.source,
                r.part,
                r.predicate,
                r.fidelity,
                r.note
                    .as_ref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default()
            )
        })
        .collect();
    assert!(rows.iter().all(|r| r.contains("-> ")));
    insta::assert_snapshot!(rows.join("\n"));
}

#[test]
fn savedsearches_conf_reads_back_as_the_stanzas_meant() {
    let res = shipped();
    let conf = parse_conf(&res.files["splunk/savedsearches.conf"]);
    let names: Vec<&str> = conf.0.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "Remote Management and Monitoring tool - Action1 - Network Connection",
            "Remote Management and Monitoring tool - NetSupport - Create Process",
            "Remote Management and Monitoring tool - NetSupport - ThreatFox NetSupportManager RAT IOC (endpoint)",
            "Remote Management and Monitoring tool - NetSupport - ThreatFox NetSupportManager RAT IOC (firewall)",
            "Remote Management and Monitoring tool - NetSupport - Network Connection",
            "Remote Management and Monitoring tool - SupRemo - Network Connection",
        ]
    );
    let stems = [
        "action1-netconn",
        "netsupport-createproc",
        "netsupport-ioc-endpoint",
        "netsupport-ioc-firewall",
        "netsupport-netconn",
        "supremo-netconn",
    ];
    for ((_, keys), stem) in conf.0.iter().zip(stems) {
        let spl = &res.files[&format!("splunk/{stem}.spl")];
        assert_eq!(&keys["search"], spl.trim_end_matches('\n'), "{stem}");
        assert_eq!(keys["dispatch.earliest_time"], "-5d");
        assert_eq!(keys["dispatch.latest_time"], "now");
        assert_eq!(keys["cron_schedule"], "0 * * * *");
        assert_eq!(keys["enableSched"], "1");
        assert_eq!(keys["alert.severity"], "4");
        assert_eq!(
            (&*keys["counttype"], &*keys["relation"], &*keys["quantity"]),
            ("number of events", "greater than", "0")
        );
        assert!(keys["description"].starts_with("Remote Monitoring and Management (RMM)"));
    }
    let ioc = &conf.0[2].1["description"];
    assert!(ioc.contains("- sanctioned-install-path: IT's own NetSupport Manager, installed under C:\\Program Files\\NetSupport\\, is used"));
    assert!(ioc.contains("Known gap (Splunk matches more than the spec): Sysmon network connection events (EventCode 3) carry no command line"));
}

// ---------------------------------------------------------------------------------------
// Match kinds

const KINDS: &str = r#"
id: kinds
vendor: Kinds
description: Every match kind.
date: 2026-11-25
severity: high
attack: { tactics: [CommandAndControl], techniques: [T1219] }
window: 1d
frequency: 15m
detections:
  term:
    title: Term
    category: process
    where: { process_company: { term: [NetSupport, Nano Systems] } }
    output: { summarize: [device_name] }
  term-cased:
    title: Term cased
    category: process
    where: { process_company: { term: [Action1], cased: true } }
    output: { summarize: [device_name] }
  exact:
    title: Exact basename
    category: process
    where: { process_name: { exact: [client32.exe, "a b.exe"] } }
    output: { summarize: [device_name] }
  substrings:
    title: Substrings
    category: process
    where:
      any:
        - process_command_line: { contains: [" -x "] }
        - process_folder_path: { prefix: ['C:\Tools\'], cased: true }
        - process_original_file_name: { suffix: [.EXE] }
    output: { summarize: [device_name] }
  nested:
    title: Nested
    category: process
    where:
      all:
        - any:
            - process_company: { term: [a1] }
            - process_product: { term: [b2] }
        - not:
            all:
              - parent_process_name: { exact: [x.exe] }
              - parent_command_line: { contains: [y] }
        - not: { process_command_line: { contains: [z] } }
    output:
      project: { endpoint: [timestamp, device_name, process_name] }
      order_by: { field: timestamp, direction: asc }
  domain:
    title: Domain
    category: network
    where: { remote_domain: { domain: [example.com, b-c.example.org] } }
    output: { summarize: [device_name, remote_domain] }
  addresses:
    title: Addresses
    category: network
    sources: [firewall]
    time_filter: false
    where:
      any:
        - remote_ip: { ip: [192.0.2.1, "2001:db8::1"] }
        - remote_ip: { cidr: [10.0.0.0/8, "2001:db8::/32"] }
        - remote_endpoint: { ip_port: ["198.51.100.7:8443"] }
        - remote_port: { port: [5938] }
    output:
      project: { firewall: [timestamp, remote_ip, remote_port] }
"#;

fn where_lines(res: &BuildResult) -> String {
    res.files
        .iter()
        .filter(|(p, _)| p.ends_with(".spl"))
        .map(|(p, c)| {
            let body: Vec<&str> = c
                .lines()
                .filter(|l| {
                    // a long `where` continues on lines starting with its connector
                    ["| where", "| eval", "| sort", "OR ", "AND "]
                        .iter()
                        .any(|p| l.starts_with(p))
                })
                .collect();
            format!("==> {p}\n{}\n", body.join("\n"))
        })
        .collect()
}

#[test]
fn each_match_kind_renders() {
    let res = build_yaml(KINDS);
    let diags: Vec<String> = res.diags.iter().map(|d| d.to_string()).collect();
    assert!(res.diags.iter().all(|d| !d.is_error()), "{diags:#?}");
    insta::assert_snapshot!(where_lines(&res));
    // IPv6 compares narrower, addresses on either end wider: both said
    assert!(diags.iter().any(|d| d.contains("IPv6")), "{diags:#?}");
    let conf = parse_conf(&res.files["splunk/savedsearches.conf"]);
    for (_, keys) in &conf.0 {
        assert_eq!(keys["cron_schedule"], "*/15 * * * *");
        assert_eq!(keys["alert.severity"], "5");
        assert_eq!(keys["dispatch.earliest_time"], "-1d");
    }
    let fidelity: Vec<String> = res
        .renderings
        .iter()
        .map(|r| format!("{}: {} -> {:?}", r.detection, r.predicate, r.fidelity))
        .collect();
    insta::assert_snapshot!("each_match_kind_fidelity", fidelity.join("\n"));
    assert!(!res.files["splunk/kinds-addresses.spl"].contains("earliest="));
    assert!(res.files["splunk/kinds-term.spl"].contains("earliest=-1d latest=now"));
}

#[test]
fn a_field_sysmon_lacks_is_an_error_without_a_gap() {
    let spec = KINDS.replace(
        "where: { remote_domain: { domain: [example.com, b-c.example.org] } }",
        "where: { all: [ { remote_domain: { domain: [example.com] } }, { initiating_hash: { hash: [e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855] } } ] }",
    );
    let res = build_yaml(&spec);
    let errors: Vec<_> = res.diags.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].kind, DiagKind::Fidelity(Fidelity::Inexpressible));
    assert!(
        errors[0].message.contains("initiating_sha256"),
        "{}",
        errors[0].message
    );
    assert!(errors[0].message.contains("Sysmon EventCode 3"));
    assert!(!res.files.contains_key("splunk/kinds-domain.spl"));

    let gapped = spec.replace(
        "    output: { summarize: [device_name, remote_domain] }",
        "    output: { summarize: [device_name, remote_domain] }\n    gaps: { splunk: Sysmon writes hashes only into the combined Hashes field }",
    );
    let res = build_yaml(&gapped);
    assert!(res.diags.iter().all(|d| !d.is_error()));
    let spl = &res.files["splunk/kinds-domain.spl"];
    assert!(!spl.contains("e3b0c442"), "{spl}");
    let conf = parse_conf(&res.files["splunk/savedsearches.conf"]);
    let (_, keys) = conf
        .0
        .iter()
        .find(|(n, _)| n.ends_with("- Domain"))
        .unwrap();
    assert!(keys["description"].contains(
        "Known gap (Splunk matches more than the spec): Sysmon writes hashes only into the combined Hashes field"
    ));
}

// ---------------------------------------------------------------------------------------
// Hostile values

const HOSTILE: &str = r#"
id: hostile
vendor: 'Ev[il] "Corp"'
description: |
  First line with "quotes" and a \ backslash.
  Second line: 100% | pipes * stars ? marks.
date: 2026-11-25
severity: low
attack: { tactics: [CommandAndControl], techniques: [T1219] }
window: 90m
detections:
  values:
    title: 'Title [with] brackets'
    category: process
    where:
      any:
        - process_command_line: { contains: ['say "hi" \\srv\share\ *.* 50% a|b (x)+[y]{2}^$', ' lead and trail '] }
        - process_company: { term: ["Cödé Ünï GmbH", 'O''Brien'] }
        - process_product: { exact: [日本語 — ſ K σς] }
    output: { summarize: [device_name] }
exclusions:
  odd:
    reason: 'Reason with "quotes", C:\path\ and [brackets]'
    where: { process_command_line: { suffix: ['\'] } }
"#;

#[test]
fn hostile_values_are_escaped() {
    let res = build_yaml(HOSTILE);
    assert!(res.diags.iter().all(|d| !d.is_error()), "{:#?}", res.diags);
    insta::assert_snapshot!(res.files["splunk/hostile-values.spl"]);
    let conf = parse_conf(&res.files["splunk/savedsearches.conf"]);
    assert_eq!(conf.0.len(), 1);
    let (name, keys) = &conf.0[0];
    assert_eq!(
        name,
        "Remote Management and Monitoring tool - Ev(il) \"Corp\" - Title (with) brackets"
    );
    assert_eq!(
        keys["description"],
        "First line with \"quotes\" and a \\ backslash.\nSecond line: 100% | pipes * stars ? marks.\n\nExcluded as benign:\n- odd: Reason with \"quotes\", C:\\path\\ and [brackets]"
    );
    assert_eq!(
        keys["search"],
        res.files["splunk/hostile-values.spl"].trim_end_matches('\n')
    );
}

#[test]
fn two_saved_searches_with_one_name_are_refused() {
    let spec = KINDS.replace("title: Term cased", "title: Term");
    let res = build_yaml(&spec);
    let errors: Vec<_> = res.diags.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].kind, DiagKind::Duplicate);
    assert!(
        errors[0]
            .message
            .contains("kinds-term-cased and kinds-term"),
        "{}",
        errors[0].message
    );
}

#[test]
fn a_description_line_ending_in_a_backslash_is_refused() {
    let res = build_yaml(&HOSTILE.replace("a \\ backslash.", "a backslash \\"));
    let errors: Vec<_> = res.diags.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].message.contains("line continuation"),
        "{}",
        errors[0].message
    );
    assert!(!res.files.contains_key("splunk/savedsearches.conf"));
}

// ---------------------------------------------------------------------------------------
// Properties: escaping is inverse to Splunk's reading, patterns mean what the IR means.

/// Splunk's reading of a double-quoted eval string: `\\` → `\`, `\"` → `"`.
fn eval_unescape(lit: &str) -> Option<String> {
    let inner = lit.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::new();
    let mut cs = inner.chars();
    while let Some(c) = cs.next() {
        match c {
            '\\' => match cs.next()? {
                e @ ('\\' | '"') => out.push(e),
                _ => return None,
            },
            '"' => return None, // an unescaped quote would end the literal
            c => out.push(c),
        }
    }
    Some(out)
}

/// How Splunk's PCRE runs a pattern: in UTF mode, where `(?i)` folds by Unicode simple case
/// folding (pcre2api, PCRE2_CASELESS: "If either PCRE2_UTF or PCRE2_UCP is set, Unicode
/// properties are used for all characters with more than one other case … K and S … are
/// case-equivalent with U+212A (Kelvin sign) and U+017F (long S)"), as the `regex` crate
/// does; the emitted `\x{212A}` needs that mode (PCRE2 refuses code points above 255
/// without it).
fn pcre_utf(pattern: &str, hay: &str) -> bool {
    regex::Regex::new(pattern)
        .unwrap_or_else(|e| panic!("{pattern}: {e}"))
        .is_match(hay)
}

fn text_match(field: &str, test: Test, hay: &str) -> bool {
    let m = Match {
        field: Field::lookup(field).expect("canonical field"),
        test,
        list: None,
        span: None,
    };
    Expr::Match(m).eval(&Event::from_json(json!({ field: hay })).unwrap())
}

/// Characters that break naive escaping or case folding.
fn hostile_char() -> impl Strategy<Value = char> {
    prop::sample::select(vec![
        'a', 'A', 'b', 's', 'S', 'k', 'K', '\u{212A}', '\u{17F}', 'σ', 'ς', 'Σ', 'é', 'É', 'İ',
        'i', 'ß', '\u{1E9E}', '日', '0', '9', '.', '-', '_', ' ', '\\', '"', '\'', '*', '?', '%',
        '|', '(', ')', '[', ']', '{', '}', '^', '$', '+', '/', ':', '#', '\n',
    ])
}

fn hostile_string(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(hostile_char(), 0..max).prop_map(|v| v.into_iter().collect())
}

fn needle() -> impl Strategy<Value = String> {
    prop::collection::vec(
        hostile_char().prop_filter("no line breaks", |c| *c != '\n'),
        1..5,
    )
    .prop_map(|v| v.into_iter().collect())
}

/// A haystack that often contains a needle, in some case spelling, among hostile text.
fn hay_around(n: &str) -> impl Strategy<Value = String> {
    let n = n.to_string();
    (hostile_string(4), hostile_string(4), any::<u8>()).prop_map(move |(a, b, flip)| {
        let mid: String = n
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if flip & (1 << (i % 8)) != 0 {
                    c.to_uppercase().next().unwrap_or(c)
                } else {
                    c
                }
            })
            .collect();
        format!("{a}{mid}{b}")
    })
}

fn op() -> impl Strategy<Value = TextOp> {
    prop::sample::select(vec![
        TextOp::Term,
        TextOp::Exact,
        TextOp::Contains,
        TextOp::Prefix,
        TextOp::Suffix,
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn eval_literals_read_back(s in hostile_string(12)) {
        prop_assert_eq!(eval_unescape(&eval_str(&s)), Some(s));
    }

    #[test]
    fn text_patterns_match_exactly_what_the_ir_matches(
        (values, hay) in prop::collection::vec(needle(), 1..3)
            .prop_flat_map(|v| { let h = hay_around(&v[0]); (Just(v), h) }),
        op in op(),
        cased in any::<bool>(),
    ) {
        // term values start and end with a letter or digit (checked at load)
        let values: Vec<String> = if op == TextOp::Term {
            values.into_iter().map(|v| format!("a{v}0")).collect()
        } else {
            values
        };
        let pattern = text_pattern(op, &values, cased, false);
        // what Splunk hands to PCRE is the pattern itself
        let read = eval_unescape(&eval_str(&pattern));
        prop_assert_eq!(read.as_deref(), Some(pattern.as_str()));
        let want = text_match(
            "process_command_line",
            Test::Text { op, values: values.clone(), cased },
            &hay,
        );
        prop_assert_eq!(pcre_utf(&pattern, &hay), want, "{} on {:?}", pattern, hay);
        prop_assert!(pattern.is_ascii(), "{}", pattern);
    }

    /// The plain-`s` form, matched against the value with its ſ swapped out as the emitted
    /// `replace(F, "\x{17F}", "?")` does it: every operator, on haystacks with ſ for some s,
    /// for every s, or beside the value (where a guard refusing any ſ would be narrower).
    #[test]
    fn swapped_plain_s_patterns_match_exactly_what_the_ir_matches(
        (values, hay) in prop::collection::vec(
            needle().prop_map(|v| format!("{}s", v.replace('\u{17F}', "x"))),
            1..3,
        )
        .prop_flat_map(|v| { let h = hay_around(&v[0]); (Just(v), h) }),
        op in op(),
        long_s in 0u8..4,
    ) {
        let values: Vec<String> = if op == TextOp::Term {
            values.into_iter().map(|v| format!("a{v}0")).collect()
        } else {
            values
        };
        let hay = match long_s {
            0 => hay,
            1 => hay.replacen(['s', 'S'], "\u{17F}", 1),
            2 => hay.replace(['s', 'S'], "\u{17F}"),
            _ => format!("\u{17F}{hay}\u{17F}"),
        };
        // every value has an s and no ſ, and `~` is no hostile character: a swap is free
        let r = long_s_swap(&values).expect("a swap character");
        let pattern = text_pattern(op, &values, false, true);
        prop_assert!(pattern.is_ascii() && !pattern.contains("[Ss]"), "{}", pattern);
        let want = text_match(
            "process_command_line",
            Test::Text { op, values: values.clone(), cased: false },
            &hay,
        );
        let swapped = regex::Regex::new(LONG_S).unwrap().replace_all(&hay, r.to_string().as_str());
        prop_assert_eq!(pcre_utf(&pattern, &swapped), want, "{} on {:?}", pattern, hay);
    }

    #[test]
    fn domain_patterns_match_exactly_what_the_ir_matches(
        labels in prop::collection::vec("[a-z0-9s]{1,3}", 1..3),
        prefix in prop::sample::select(vec!["", "x.", "X.", "x", "a.b.", ".", "x-", "\u{17F}."]),
        suffix in prop::sample::select(vec!["", ".", "x", "/", ".evil"]),
        upper in any::<bool>(),
        kelvin in any::<bool>(),
        long_s in any::<bool>(),
    ) {
        let d = labels.join(".");
        let mut hay = format!("{prefix}{d}{suffix}");
        if upper { hay = hay.to_uppercase(); }
        if kelvin { hay = hay.replace('k', "\u{212A}"); }
        if long_s { hay = hay.replace('s', "\u{17F}"); }
        let ds = std::slice::from_ref(&d);
        let want = text_match("remote_domain", Test::Domain(vec![d.clone()]), &hay);
        // the classed form on the value itself; the plain-`s` form on the swapped value
        let pattern = domain_pattern(ds, false);
        prop_assert_eq!(pcre_utf(&pattern, &hay), want, "{} on {:?}", pattern, hay);
        if let Some(r) = long_s_swap(ds) {
            let pattern = domain_pattern(ds, true);
            let swapped = hay.replace('\u{17F}', &r.to_string());
            prop_assert_eq!(pcre_utf(&pattern, &swapped), want, "{} on {:?}", pattern, swapped);
        }
    }

    #[test]
    fn port_patterns_match_exactly_what_the_ir_matches(
        hay in "[+ 0-9x.-]{0,7}",
        ports in prop::collection::vec(1u16..=65535, 1..3),
        pick in any::<bool>(),
    ) {
        let hay = if pick { format!("0{}", ports[0]) } else { hay };
        let pattern = port_pattern(&ports);
        let want = text_match("remote_port", Test::Port(ports.clone()), &hay);
        prop_assert_eq!(pcre_utf(&pattern, &hay), want, "{} on {:?}", pattern, hay);
    }

    #[test]
    fn the_ipv4_guard_accepts_what_the_ir_parses(hay in "[0-9.: a]{0,16}", ip in any::<[u8; 4]>()) {
        for h in [hay, std::net::Ipv4Addr::from(ip).to_string()] {
            let want = h.parse::<std::net::Ipv4Addr>().is_ok();
            prop_assert_eq!(pcre_utf(IPV4, &h), want, "{:?}", h);
        }
    }

    #[test]
    fn basename_cuts_after_the_last_backslash(dirs in prop::collection::vec("[^\\\\]{0,4}", 0..3), name in "[^\\\\]{0,6}") {
        let mut path = String::new();
        for d in &dirs { path.push_str(d); path.push('\\'); }
        path.push_str(&name);
        let re = regex::Regex::new(BASENAME).unwrap();
        prop_assert_eq!(re.replace(&path, ""), name.as_str());
    }

    #[test]
    fn conf_values_read_back(lines in prop::collection::vec("[^\\s\\\\]([^\\r\\n]{0,8}[^\\s\\\\])?|", 1..4)) {
        let v = lines.join("\n");
        let enc = conf_value(&v).expect("no edge whitespace, no final backslash");
        let conf = parse_conf(&format!("[s]\nk = {enc}\nnext = 1\n"));
        prop_assert_eq!(&conf.0[0].1["k"], &v);
        prop_assert_eq!(&conf.0[0].1["next"], "1");
    }

    #[test]
    fn conf_values_that_cannot_read_back_are_refused(a in "[a-z]{0,4}", b in "[a-z]{0,4}") {
        let refused = [format!("{a}\\\n{b}"), format!("{a}\\"), format!(" {a}"), format!("{a}\r{b}")];
        for v in refused {
            prop_assert!(conf_value(&v).is_err(), "{:?}", v);
        }
    }
}

// ---------------------------------------------------------------------------------------
// The search-term prefilter (issue 19.3, src/backend/spl/terms.rs): words Splunk looks up in
// its index ahead of the exact `where`. Splunk finds a term as a whole segment of `_raw`, cut
// at its default major and minor breakers (Search Manual, "Event segmentation and
// searching"; segmenters.conf), case-insensitively ("Use CASE() and TERM() to match phrases":
// "By default, searches are case-insensitive"). A term must be wider than the `where`: each
// case below is a danger that would make it narrower, and verify runs every boundary event
// (KELVIN SIGN, `&` written `&amp;` in the Sysmon XML `_raw`, upper case, glued non-ASCII
// letters) through the emitted search.

const PREFILTER: &str = r#"
id: pre
vendor: Pre
description: Search terms.
date: 2026-12-04
severity: high
attack: { tactics: [CommandAndControl], techniques: [T1219] }
window: 1d
frequency: 15m
detections:
  basename:
    title: Exact basename
    category: process
    where: { process_name: { exact: [client32.exe] } }
    output: { summarize: [device_name] }
  term:
    title: Term edges glue
    category: process
    where: { process_company: { term: [NetSupport] } }
    output: { summarize: [device_name] }
  domain:
    title: Domain
    category: network
    where: { remote_domain: { domain: [example.com, b-c.example.org] } }
    output: { summarize: [device_name] }
  or-all:
    title: Or of terms
    category: process
    where:
      any:
        - process_command_line: { contains: [.remote-tools.] }
        - process_name: { exact: [agent.exe] }
    output: { summarize: [device_name] }
  or-one-missing:
    title: Or with a part without a term
    category: process
    where:
      any:
        - process_command_line: { contains: [.remote-tools.] }
        - process_company: { term: [NetSupport] }
    output: { summarize: [device_name] }
  not:
    title: Not
    category: process
    where:
      all:
        - process_name: { exact: [client32.exe] }
        - not: { process_command_line: { contains: [.secret.] } }
    output: { summarize: [device_name] }
  kelvin:
    title: Kelvin
    category: process
    where: { process_name: { exact: [kaseya.exe] } }
    output: { summarize: [device_name] }
  kelvin-cased:
    title: Kelvin cased
    category: process
    where: { process_name: { exact: [kaseya.exe], cased: true } }
    output: { summarize: [device_name] }
  amp:
    title: Ampersand
    category: process
    where: { process_command_line: { contains: [a&remote&b] } }
    output: { summarize: [device_name] }
  wildcard:
    title: Star is a literal
    category: process
    where: { process_command_line: { contains: ["*remote*"] } }
    output: { summarize: [device_name] }
  host:
    title: Host is no raw text
    category: process
    where: { device_id: { exact: [ws-042.contoso.local] } }
    output: { summarize: [device_name] }
  computer:
    title: Computer is
    category: process
    where: { device_name: { exact: [ws-042.contoso.local] } }
    output: { summarize: [device_name] }
"#;

fn search_lines(res: &BuildResult) -> BTreeMap<String, String> {
    res.files
        .iter()
        .filter(|(p, _)| p.ends_with(".spl"))
        .map(|(p, c)| (p.clone(), c.lines().nth(1).unwrap().to_string()))
        .collect()
}

#[test]
fn search_terms_are_wider_than_the_where() {
    let res = build_yaml(PREFILTER);
    assert!(res.diags.iter().all(|d| !d.is_error()), "{:#?}", res.diags);
    let lines = search_lines(&res);
    let terms = |stem: &str| {
        let l = &lines[&format!("splunk/pre-{stem}.spl")];
        let rest = l
            .strip_prefix(
                r#"index=* sourcetype="XmlWinEventLog:Microsoft-Windows-Sysmon/Operational" "#,
            )
            .unwrap();
        let rest = rest.split_once(' ').unwrap().1; // EventCode=…
        rest.trim_end_matches("earliest=-1d latest=now")
            .trim()
            .to_string()
    };
    // a pinned edge (exact: the field's text sits between `>` and `<`) is a segment edge
    assert_eq!(terms("basename"), r#""client32""#);
    // a `term` test's boundary can be `~` or `é`, which Splunk does not break at
    assert_eq!(terms("term"), "");
    // a domain starts at `.` or the field's start; one lookup per distinct word
    assert_eq!(terms("domain"), r#""example""#);
    // an `any` is an OR of terms, or nothing when one part has none
    assert_eq!(terms("or-all"), r#"("remote" OR "agent")"#);
    assert_eq!(terms("or-one-missing"), "");
    // nothing under `not`
    assert_eq!(terms("not"), r#""client32""#);
    // `k` folds with the KELVIN SIGN in the spec, not in Splunk's lookup; `exe` selects nothing
    assert_eq!(terms("kelvin"), "");
    assert_eq!(terms("kelvin-cased"), r#""kaseya""#);
    // `&` is a breaker, and `&amp;` keeps it one; `*` is a spec literal and a breaker
    assert_eq!(terms("amp"), r#""remote""#);
    assert_eq!(terms("wildcard"), r#""remote""#);
    // `host` is Splunk's, not text of `_raw`; `Computer` is
    assert_eq!(terms("host"), "");
    assert_eq!(terms("computer"), r#""contoso""#);
    // the saved search runs the same search
    let conf = parse_conf(&res.files["splunk/savedsearches.conf"]);
    for (_, keys) in &conf.0 {
        let first = keys["search"].lines().nth(1).unwrap();
        assert!(lines.values().any(|l| l == first), "{first}");
    }
    insta::assert_snapshot!(lines
        .iter()
        .map(|(p, l)| format!("{p}: {l}"))
        .collect::<Vec<_>>()
        .join("\n"));

    // verify runs each boundary event through the emitted text: all agree …
    let specs = {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("t.yaml"), PREFILTER).unwrap();
        rmmc::spec::load_dir(dir.path()).unwrap()
    };
    let irs: Vec<_> = specs.iter().map(rmmc::ir::lower).collect();
    let opts = rmmc::verify::VerifyOptions {
        now: rmmc::eval::time::parse_rfc3339("2026-12-04T11:00:00Z").unwrap(),
        exclusions: true,
    };
    let report = rmmc::verify::verify(&irs, &res.files, &[], &res.renderings, &opts);
    assert!(report.ok(), "{:#?}", report.mismatches);
    // … and a term too narrow by one edge, one letter or a dropped breaker is caught
    for (stem, from, to) in [
        ("basename", r#""client32""#, r#""client3""#),
        (
            "or-all",
            r#""remote" OR "agent""#,
            r#""remotes" OR "agent""#,
        ),
        // the other branch's word: the pair's false filler of `.remote-tools.` is a near miss
        // that keeps the word `remote`, so only the `agent` branch's true event with the other
        // fields emptied lacks it
        (
            "or-all",
            r#""remote" OR "agent""#,
            r#""remote" OR "agents""#,
        ),
        // what a term that ignored the KELVIN SIGN would be
        (
            "kelvin",
            "EventCode=1 earliest",
            r#"EventCode=1 "kaseya" earliest"#,
        ),
        ("amp", r#""remote""#, r#""a&remote""#),
        ("computer", r#""contoso""#, r#""contosos""#),
    ] {
        let mut files = res.files.clone();
        let path = format!("splunk/pre-{stem}.spl");
        let text = files.get_mut(&path).unwrap();
        // the id line and the search line: the same edit in the saved search's stanza
        let head: Vec<&str> = text.lines().take(2).collect();
        assert!(head[1].contains(from), "{path} lacks {from}");
        let edited = head[1].replacen(from, to, 1);
        let (old_conf, new_conf) = (
            format!("{}\\\n{}\\\n", head[0], head[1]),
            format!("{}\\\n{edited}\\\n", head[0]),
        );
        *text = text.replacen(head[1], &edited, 1);
        let conf = files.get_mut("splunk/savedsearches.conf").unwrap();
        assert!(conf.contains(&old_conf), "{old_conf}");
        *conf = conf.replacen(&old_conf, &new_conf, 1);
        let report = rmmc::verify::verify(&irs, &files, &[], &res.renderings, &opts);
        assert!(!report.ok(), "{path}: {from} → {to} not caught");
    }
}

/// A hand-broken long-s swap fails `verify` on that one artifact: with the `replace` dropped,
/// or with ſ swapped for `s`, `(?i)…netsupport…` takes the ſ of the fixtures' `Netſupport`
/// cases, which the spec refuses (its fold keeps ſ apart from s).
#[test]
fn verify_catches_a_broken_long_s_swap() {
    use rmmc::verify::{self, VerifyOptions};
    let specs = rmmc::spec::load_dir(Path::new("rules")).expect("shipped rules load");
    let res = build::compile(&specs, &splunk());
    let irs: Vec<_> = specs.iter().map(rmmc::ir::lower).collect();
    let fixtures = verify::cases::load_fixtures(Path::new("tests/fixtures")).expect("fixtures");
    let opts = VerifyOptions {
        now: rmmc::eval::time::parse_rfc3339("2026-05-31T11:00:00Z").unwrap(),
        exclusions: true,
    };
    let run = |files: &build::Files| verify::verify(&irs, files, &fixtures, &res.renderings, &opts);
    assert!(run(&res.files).ok(), "the unedited build passes");

    let path = "splunk/netsupport-createproc.spl";
    let swap = r#"replace(Company, "\\x{17F}", "?")"#;
    let spl = res.files[path].clone();
    assert!(spl.contains(swap), "{spl}");
    let search = format!(
        "search = {}",
        spl.trim_end_matches('\n').replace('\n', "\\\n")
    );
    for broken in ["Company", r#"replace(Company, "\\x{17F}", "s")"#] {
        let mut files = res.files.clone();
        files.insert(path.into(), spl.replacen(swap, broken, 1));
        // the saved search runs the same text (verify compares the two forms)
        let conf = &files["splunk/savedsearches.conf"];
        assert!(conf.contains(&search));
        let conf = conf.replacen(&search, &search.replacen(swap, broken, 1), 1);
        files.insert("splunk/savedsearches.conf".into(), conf);
        let report = run(&files);
        let bad = report.disagreeing_artifacts();
        assert_eq!(bad, vec![path], "{broken}");
        assert!(
            report
                .mismatches
                .iter()
                .any(|m| m.case.contains("LONG S") && m.actual && !m.expected),
            "{broken}: {:#?}",
            report.mismatches
        );
    }
}
