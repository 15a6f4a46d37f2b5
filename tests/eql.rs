//! The Elastic EQL backend: snapshots of every artifact of the shipped rules and of the
//! diagnostics, renderings of each match kind, hostile values, and property tests that run the
//! emitted EQL text — through a small, independent EQL/Lucene-regex interpreter written from
//! the Elasticsearch documentation — against the spec's reference interpreter.

use proptest::prelude::*;
use rmmc::backend::eql::{self, field_test, string_literal};
use rmmc::build::{self, BuildOptions, BuildResult, Target};
use rmmc::diag::{DiagKind, Fidelity};
use rmmc::ir::{self, Event, Match, Test, TextOp};
use rmmc::spec::{Field, Source};
use serde_json::{json, Map, Value};
use std::net::IpAddr;
use std::path::Path;

// ---------------------------------------------------------------------------------------------
// A test-only EQL interpreter for the subset the backend emits. Semantics from the EQL syntax
// reference and Elasticsearch's query translation: `==`/`in`/`like`/`regex` case-sensitive,
// `in~`/`:` fold ASCII letters only, `:`/`like` take `*`/`?` wildcards with no escape, `regex`
// is a whole-value Lucene regular expression, a missing field makes a comparison false and
// `not` of it true, ip fields compare parsed addresses (IPv4-mapped IPv6 = IPv4).

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(u64),
    Sym(&'static str),
}

fn unescape_hex(s: &[char], i: &mut usize) -> char {
    assert_eq!(s.get(*i), Some(&'{'), "\\u needs {{");
    *i += 1;
    let start = *i;
    while s[*i] != '}' {
        *i += 1;
    }
    let hex: String = s[start..*i].iter().collect();
    assert!((2..=8).contains(&hex.len()), "\\u{{{hex}}}: 2-8 hex digits");
    *i += 1;
    char::from_u32(u32::from_str_radix(&hex, 16).expect("hex")).expect("scalar value")
}

fn lex(src: &str) -> Vec<Tok> {
    let s: Vec<char> = src.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < s.len() {
        let c = s[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && s.get(i + 1) == Some(&'/') {
            while i < s.len() && s[i] != '\n' {
                i += 1;
            }
        } else if c == '"' {
            assert!(
                !(s.get(i + 1) == Some(&'"') && s.get(i + 2) == Some(&'"')),
                "raw strings are not emitted"
            );
            i += 1;
            let mut v = String::new();
            loop {
                let c = *s.get(i).expect("unterminated string");
                i += 1;
                match c {
                    '"' => break,
                    '\\' => {
                        let e = s[i];
                        i += 1;
                        v.push(match e {
                            '\\' => '\\',
                            '"' => '"',
                            'n' => '\n',
                            'r' => '\r',
                            't' => '\t',
                            'u' => unescape_hex(&s, &mut i),
                            other => panic!("unknown escape \\{other}"),
                        });
                    }
                    c if c.is_control() => panic!("raw control character in a string"),
                    c => v.push(c),
                }
            }
            out.push(Tok::Str(v));
        } else if c.is_ascii_digit() {
            let start = i;
            while i < s.len() && s[i].is_ascii_digit() {
                i += 1;
            }
            out.push(Tok::Num(
                s[start..i].iter().collect::<String>().parse().unwrap(),
            ));
        } else if c.is_ascii_alphabetic() || c == '_' || c == '@' {
            let start = i;
            while i < s.len() && (s[i].is_ascii_alphanumeric() || "_.@".contains(s[i])) {
                i += 1;
            }
            let w: String = s[start..i].iter().collect();
            if s.get(i) == Some(&'~') && ["in", "like", "regex"].contains(&w.as_str()) {
                i += 1;
                out.push(Tok::Ident(format!("{w}~")));
            } else {
                out.push(Tok::Ident(w));
            }
        } else {
            let two: String = s[i..(i + 2).min(s.len())].iter().collect();
            let sym = if two == "==" {
                "=="
            } else {
                match c {
                    ':' => ":",
                    '(' => "(",
                    ')' => ")",
                    ',' => ",",
                    other => panic!("unexpected character {other:?} in {src}"),
                }
            };
            i += sym.len();
            out.push(Tok::Sym(sym));
        }
    }
    out
}

#[derive(Debug)]
enum Cond {
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
    Cmp(String, String, Vec<Tok>),
    Cidr(String, Vec<String>),
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Tok {
        self.pos += 1;
        self.toks[self.pos - 1].clone()
    }
    fn eat_word(&mut self, w: &str) -> bool {
        if self.peek() == Some(&Tok::Ident(w.into())) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn expect_sym(&mut self, s: &str) {
        assert_eq!(
            self.next(),
            Tok::Sym(match s {
                "(" => "(",
                ")" => ")",
                _ => unreachable!(),
            })
        );
    }
    // precedence: or < and < not
    fn or(&mut self) -> Cond {
        let mut l = self.and();
        while self.eat_word("or") {
            l = Cond::Or(Box::new(l), Box::new(self.and()));
        }
        l
    }
    fn and(&mut self) -> Cond {
        let mut l = self.not();
        while self.eat_word("and") {
            l = Cond::And(Box::new(l), Box::new(self.not()));
        }
        l
    }
    fn not(&mut self) -> Cond {
        if self.eat_word("not") {
            return Cond::Not(Box::new(self.not()));
        }
        if self.peek() == Some(&Tok::Sym("(")) {
            self.pos += 1;
            let c = self.or();
            self.expect_sym(")");
            return c;
        }
        self.cmp()
    }
    fn values(&mut self) -> Vec<Tok> {
        if self.peek() == Some(&Tok::Sym("(")) {
            self.pos += 1;
            let mut v = vec![self.next()];
            while self.peek() == Some(&Tok::Sym(",")) {
                self.pos += 1;
                v.push(self.next());
            }
            self.expect_sym(")");
            v
        } else {
            vec![self.next()]
        }
    }
    fn cmp(&mut self) -> Cond {
        let Tok::Ident(field) = self.next() else {
            panic!("expected a field at {}", self.pos)
        };
        if field == "cidrmatch" {
            self.expect_sym("(");
            let Tok::Ident(f) = self.next() else {
                panic!("cidrmatch field")
            };
            let mut nets = Vec::new();
            while self.peek() == Some(&Tok::Sym(",")) {
                self.pos += 1;
                let Tok::Str(n) = self.next() else {
                    panic!("cidr string")
                };
                nets.push(n);
            }
            self.expect_sym(")");
            return Cond::Cidr(f, nets);
        }
        let op = match self.next() {
            Tok::Sym(s) => s.to_string(),
            Tok::Ident(w) => w,
            t => panic!("operator expected, got {t:?}"),
        };
        let values = self.values();
        if ["==", "in"].contains(&op.as_str()) {
            assert!(op == "in" || values.len() == 1);
        }
        assert!(
            ["==", "in", "in~", ":", "like", "regex"].contains(&op.as_str()),
            "operator {op} is not in the emitted subset"
        );
        Cond::Cmp(field, op, values)
    }
}

fn parse_cond(src: &str) -> Cond {
    let mut p = Parser {
        toks: lex(src),
        pos: 0,
    };
    let c = p.or();
    assert_eq!(p.pos, p.toks.len(), "trailing tokens in {src}");
    c
}

/// A whole query `category where condition`.
fn parse_query(src: &str) -> (String, Cond) {
    let mut p = Parser {
        toks: lex(src),
        pos: 0,
    };
    let Tok::Ident(cat) = p.next() else {
        panic!("category")
    };
    assert!(p.eat_word("where"));
    let c = p.or();
    assert_eq!(p.pos, p.toks.len(), "trailing tokens in {src}");
    (cat, c)
}

/// Elasticsearch's ASCII-only case folding (AutomatonQueries.toCaseInsensitiveChar).
fn ascii_ci_eq(pattern: char, event: char) -> bool {
    pattern == event
        || (pattern.is_ascii() && event.is_ascii() && pattern.eq_ignore_ascii_case(&event))
}

fn glob(p: &[char], s: &[char], eq: &dyn Fn(char, char) -> bool) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some(('*', rest)) => (0..=s.len()).any(|i| glob(rest, &s[i..], eq)),
        Some(('?', rest)) => !s.is_empty() && glob(rest, &s[1..], eq),
        Some((c, rest)) => !s.is_empty() && eq(*c, s[0]) && glob(rest, &s[1..], eq),
    }
}

fn ip(s: &str) -> Option<IpAddr> {
    let ip: IpAddr = s.parse().ok()?;
    Some(match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    })
}

fn eval_cond(c: &Cond, ev: &Map<String, Value>) -> bool {
    match c {
        Cond::And(a, b) => eval_cond(a, ev) && eval_cond(b, ev),
        Cond::Or(a, b) => eval_cond(a, ev) || eval_cond(b, ev),
        Cond::Not(a) => !eval_cond(a, ev),
        Cond::Cidr(f, nets) => {
            let Some(Value::String(v)) = ev.get(f) else {
                return false;
            };
            let Some(a) = ip(v) else { return false };
            nets.iter().any(|n| {
                let (base, len) = n.split_once('/').unwrap();
                let len: u32 = len.parse().unwrap();
                match (a, ip(base).unwrap()) {
                    (IpAddr::V4(x), IpAddr::V4(b)) => {
                        let m = if len == 0 { 0 } else { u32::MAX << (32 - len) };
                        u32::from(x) & m == u32::from(b) & m
                    }
                    (IpAddr::V6(x), IpAddr::V6(b)) => {
                        let m = if len == 0 {
                            0
                        } else {
                            u128::MAX << (128 - len)
                        };
                        u128::from(x) & m == u128::from(b) & m
                    }
                    _ => false,
                }
            })
        }
        Cond::Cmp(f, op, vals) => {
            let Some(v) = ev.get(f) else { return false };
            vals.iter().any(|t| match (v, t) {
                (Value::Number(n), Tok::Num(x)) => {
                    (op == "==" || op == "in") && n.as_u64() == Some(*x)
                }
                (Value::String(s), Tok::Str(p)) => {
                    let sc: Vec<char> = s.chars().collect();
                    let pc: Vec<char> = p.chars().collect();
                    match op.as_str() {
                        "==" | "in" if f.ends_with(".ip") => ip(s).is_some() && ip(s) == ip(p),
                        "==" | "in" => s == p,
                        "in~" => {
                            sc.len() == pc.len()
                                && pc.iter().zip(&sc).all(|(a, b)| ascii_ci_eq(*a, *b))
                        }
                        ":" => glob(&pc, &sc, &ascii_ci_eq),
                        "like" => glob(&pc, &sc, &|a, b| a == b),
                        "regex" => lucene::full_match(p, s),
                        _ => unreachable!(),
                    }
                }
                _ => false,
            })
        }
    }
}

/// Lucene regular expressions: the documented syntax (elasticsearch regexp-syntax), enough of
/// it to run what the backend writes. Reserved characters outside `\` escapes are refused,
/// so an unescaped operator in an emitted pattern fails the test.
mod lucene {
    #[derive(Debug)]
    enum Node {
        Set(bool, Vec<(char, char)>),
        Any,
        Group(Vec<Vec<Node>>),
        Star(Box<Node>),
        Opt(Box<Node>),
        Plus(Box<Node>),
    }
    const RESERVED: &str = ".?+*|{}[]()\"\\#@&<>~";

    struct P {
        s: Vec<char>,
        i: usize,
    }
    impl P {
        fn alt(&mut self) -> Vec<Vec<Node>> {
            let mut alts = vec![self.seq()];
            while self.s.get(self.i) == Some(&'|') {
                self.i += 1;
                alts.push(self.seq());
            }
            alts
        }
        fn seq(&mut self) -> Vec<Node> {
            let mut v = Vec::new();
            while let Some(&c) = self.s.get(self.i) {
                if c == '|' || c == ')' {
                    break;
                }
                let mut n = self.atom();
                while let Some(&q) = self.s.get(self.i) {
                    n = match q {
                        '*' => Node::Star(Box::new(n)),
                        '?' => Node::Opt(Box::new(n)),
                        '+' => Node::Plus(Box::new(n)),
                        _ => break,
                    };
                    self.i += 1;
                }
                v.push(n);
            }
            v
        }
        fn class_char(&mut self) -> char {
            let c = self.s[self.i];
            self.i += 1;
            if c == '\\' {
                let e = self.s[self.i];
                self.i += 1;
                assert!(
                    !e.is_ascii_alphanumeric(),
                    "\\{e} is a Lucene class shorthand"
                );
                e
            } else {
                assert!(!"[]".contains(c), "unescaped {c} in a class");
                c
            }
        }
        fn atom(&mut self) -> Node {
            let c = self.s[self.i];
            self.i += 1;
            match c {
                '(' => {
                    let a = self.alt();
                    assert_eq!(self.s[self.i], ')');
                    self.i += 1;
                    Node::Group(a)
                }
                '.' => Node::Any,
                '[' => {
                    let neg = self.s[self.i] == '^';
                    if neg {
                        self.i += 1;
                    }
                    let mut items = Vec::new();
                    while self.s[self.i] != ']' {
                        let a = self.class_char();
                        if self.s[self.i] == '-' && self.s[self.i + 1] != ']' {
                            self.i += 1;
                            let b = self.class_char();
                            items.push((a, b));
                        } else {
                            items.push((a, a));
                        }
                    }
                    self.i += 1;
                    Node::Set(neg, items)
                }
                '\\' => {
                    let e = self.s[self.i];
                    self.i += 1;
                    assert!(
                        !e.is_ascii_alphanumeric(),
                        "\\{e} is a Lucene shorthand, not a literal"
                    );
                    Node::Set(false, vec![(e, e)])
                }
                c => {
                    assert!(!RESERVED.contains(c), "unescaped reserved {c:?}");
                    Node::Set(false, vec![(c, c)])
                }
            }
        }
    }

    fn seq(nodes: &[Node], s: &[char], i: usize, k: &dyn Fn(usize) -> bool) -> bool {
        match nodes.split_first() {
            None => k(i),
            Some((n, rest)) => node(n, s, i, &|j| seq(rest, s, j, k)),
        }
    }
    fn node(n: &Node, s: &[char], i: usize, k: &dyn Fn(usize) -> bool) -> bool {
        match n {
            Node::Any => i < s.len() && k(i + 1),
            Node::Set(neg, items) => {
                i < s.len()
                    && (items.iter().any(|(a, b)| (*a..=*b).contains(&s[i])) != *neg)
                    && k(i + 1)
            }
            Node::Group(alts) => alts.iter().any(|a| seq(a, s, i, k)),
            Node::Opt(x) => node(x, s, i, k) || k(i),
            Node::Star(x) => k(i) || node(x, s, i, &|j| j > i && node(n, s, j, k)),
            Node::Plus(x) => node(x, s, i, &|j| k(j) || (j > i && node(n, s, j, k))),
        }
    }

    pub fn full_match(pattern: &str, s: &str) -> bool {
        let mut p = P {
            s: pattern.chars().collect(),
            i: 0,
        };
        let alts = p.alt();
        assert_eq!(p.i, p.s.len(), "unbalanced pattern {pattern}");
        let s: Vec<char> = s.chars().collect();
        alts.iter().any(|a| seq(a, &s, 0, &|j| j == s.len()))
    }
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
    on: network
    where:
      all:
        - remote_domain: { domain: [example.com, kit.example] }
        - any:
            - remote_port: { port: [443, 8443] }
            - remote_ip: { cidr: [10.0.0.0/8, "fd00::/8"] }
        - not:
            remote_ip: { ip: [192.0.2.1, "2001:db8::1"] }
        - initiating_hash: { hash: [d41d8cd98f00b204e9800998ecf8427e, DA39A3EE5E6B4B0D3255BFEF95601890AFD80709] }
    output:
      summarize: [device_id, device_name]
  proc:
    title: Proc
    on: process
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
    let table = eql::data()
        .tables
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
description: Firewall logs carry no PE metadata.
date: 2026-11-25
severity: low
attack: { tactics: [CommandAndControl], techniques: [T1219] }
window: 1d
detections:
  net:
    title: Network Connection
    on: network
    sources: [endpoint, firewall]
    where:
      all:
        - remote_domain: { domain: [gapdemo.example] }
        - initiating_company: { term: [GapDemo] }
    output:
      project:
        endpoint: [timestamp, device_name, remote_domain]
        firewall: [timestamp, device_name, remote_domain]
    GAPS
exclusions:
  updater:
    reason: The vendor's updater talks to the same domain.
    where:
      initiating_original_file_name: { exact: [updater.exe] }
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
        .contains("initiating_company term [GapDemo]"));
    assert!(errors[1]
        .message
        .contains("initiating_original_file_name exact [updater.exe]"));
}

#[test]
fn declared_gap_widens_soundly_and_says_so() {
    let reason = r#"firewalls log no PE "company"; the domain alone is matched"#;
    let res = build_str(&GAPS.replace("GAPS", &format!("gaps: {{ elastic: '{reason}' }}")));
    assert!(res.diags.iter().all(|d| !d.is_error()), "{:#?}", res.diags);
    let fw = &res.files["elastic/gapdemo-net-firewall.eql"];
    assert!(!fw.contains("process.pe"), "{fw}");
    assert!(fw.contains("destination.domain"), "{fw}");
    assert!(!fw.contains("and not"), "the exclusion cannot apply: {fw}");
    let endpoint = &res.files["elastic/gapdemo-net-endpoint.eql"];
    assert!(endpoint.contains("process.pe.company"));
    assert!(endpoint.contains("and not (process.pe.original_file_name in~ (\"updater.exe\"))"));
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
                Tok::Sym(":") => wild = true,
                Tok::Sym("==") => wild = false,
                Tok::Ident(w) if ["like", "regex", "in", "in~", "or"].contains(&w.as_str()) => wild = w == "like",
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
        "  net:\n    title: Network Connection\n    on: network\n    sources: [endpoint, firewall]\n    where:\n      all:\n        - remote_domain: { domain: [gapdemo.example] }\n        - initiating_company: { term: [GapDemo] }",
        "  net:\n    title: Signer\n    on: certificate\n    where:\n      signer: { term: [GapDemo] }",
    ).replace("        firewall: [timestamp, device_name, remote_domain]\n", "").replace("remote_domain]\n", "signer]\n");
    let spec = spec.replace("exclusions:\n  updater:\n    reason: The vendor's updater talks to the same domain.\n    where:\n      initiating_original_file_name: { exact: [updater.exe] }\n", "");
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
