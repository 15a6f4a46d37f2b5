//! Table-driven tests of the EQL evaluator: each operator's case, null and wildcard edges,
//! precedence, escapes, field access, categories and parse errors.

use super::*;
use serde_json::json;

/// (condition, event, expected) — the condition runs under `any where`.
fn run(cases: &[(&str, Value, bool)]) {
    for (cond, ev, want) in cases {
        let q = parse(&format!("any where {cond}")).unwrap_or_else(|e| panic!("{cond}: {e}"));
        assert_eq!(q.matches(ev), Ok(*want), "{cond} on {ev}");
    }
}

#[test]
fn equality_is_case_sensitive_and_null_is_false() {
    run(&[
        (r#"f == "Abc""#, json!({"f": "Abc"}), true),
        (r#"f == "Abc""#, json!({"f": "abc"}), false),
        (r#"f == "Abc""#, json!({"f": "Abcd"}), false),
        (r#"f == "Abc""#, json!({}), false),
        (r#"f == "Abc""#, json!({"f": null}), false),
        (r#"f == "a*""#, json!({"f": "abc"}), false),
        (r#"f == "a*""#, json!({"f": "a*"}), true),
        (r#"not f == "Abc""#, json!({}), true),
        (r#"f == 443"#, json!({"f": 443}), true),
        (r#"f == 443"#, json!({"f": "443"}), true),
        (r#"f == 443"#, json!({"f": 444}), false),
        (r#"f == 0.5"#, json!({"f": 0.5}), true),
        (r#"f == -1"#, json!({"f": -1}), true),
        (r#"f == "443""#, json!({"f": 443}), true),
        (r#"f == true"#, json!({"f": true}), true),
        (r#"f == false"#, json!({"f": true}), false),
        (r#"f == "x""#, json!({"f": ["a", "x"]}), true),
        (r#"f == "x""#, json!({"f": []}), false),
    ]);
}

#[test]
fn not_equal_is_must_not_so_a_missing_field_passes() {
    run(&[
        (r#"f != "x""#, json!({"f": "x"}), false),
        (r#"f != "x""#, json!({"f": "X"}), true),
        (r#"f != "x""#, json!({}), true),
        (r#"f != "x""#, json!({"f": null}), true),
        (r#"f != "x""#, json!({"f": ["a", "x"]}), false),
        (r#"f != 1"#, json!({"f": 2}), true),
        (r#"f == null"#, json!({}), true),
        (r#"f == null"#, json!({"f": null}), true),
        (r#"f == null"#, json!({"f": ""}), false),
        (r#"f != null"#, json!({"f": ""}), true),
        (r#"f != null"#, json!({}), false),
    ]);
}

#[test]
fn colon_folds_ascii_only_and_takes_wildcards() {
    run(&[
        (r#"f : "abc""#, json!({"f": "ABC"}), true),
        (r#"f : "abc""#, json!({"f": "abcd"}), false),
        (r#"f : "é""#, json!({"f": "É"}), false),
        (r#"f : "é""#, json!({"f": "é"}), true),
        (r#"f : "k""#, json!({"f": "\u{212A}"}), false),
        (r#"f : "ß""#, json!({"f": "SS"}), false),
        (r#"f : "i""#, json!({"f": "\u{130}"}), false),
        (r#"f : "a*c""#, json!({"f": "AxyC"}), true),
        (r#"f : "a*c""#, json!({"f": "AC"}), true),
        (r#"f : "a*c""#, json!({"f": "ACx"}), false),
        (r#"f : "a?c""#, json!({"f": "abc"}), true),
        (r#"f : "a?c""#, json!({"f": "ac"}), false),
        (r#"f : "a?c""#, json!({"f": "a日c"}), true),
        (r#"f : "*""#, json!({"f": ""}), true),
        (r#"f : "*""#, json!({}), false),
        (r#"f : "*x*y*""#, json!({"f": "aXbYc"}), true),
        (r#"f : "*x*y*""#, json!({"f": "aYbXc"}), false),
        (r#"f : "a\\*""#, json!({"f": "a*"}), true),
        (r#"f : "a\\*""#, json!({"f": "ab"}), false),
        (r#"f : "a\\""#, json!({"f": "a\\"}), true),
        (r#"f : ("x", "b*")"#, json!({"f": "BOO"}), true),
        (r#"f : ("x", "b*")"#, json!({"f": "y"}), false),
        (r#"f : "x""#, json!({}), false),
        (r#"not f : "x""#, json!({}), true),
        (r#"not f : "x""#, json!({"f": "X"}), false),
    ]);
}

#[test]
fn like_and_like_tilde() {
    run(&[
        (r#"f like "DOC*""#, json!({"f": "DOCUMENT"}), true),
        (r#"f like "DOC*""#, json!({"f": "document"}), false),
        (r#"f like~ "DOC*""#, json!({"f": "document"}), true),
        (r#"f like~ "é*""#, json!({"f": "Éa"}), false),
        (r#"f like "D?C""#, json!({"f": "DOC"}), true),
        (r#"f like "D?C""#, json!({"f": "DISC"}), false),
        (r#"f like ("a", "b?")"#, json!({"f": "bx"}), true),
        (r#"f like "*""#, json!({"f": 5}), false),
        (r#"f like "x""#, json!({}), false),
    ]);
}

#[test]
fn in_lookups() {
    run(&[
        (r#"f in ("a", "B")"#, json!({"f": "B"}), true),
        (r#"f in ("a", "B")"#, json!({"f": "b"}), false),
        (r#"f in~ ("a", "B")"#, json!({"f": "b"}), true),
        (r#"f in~ ("é")"#, json!({"f": "É"}), false),
        (r#"f in~ ("kit")"#, json!({"f": "\u{212A}IT"}), false),
        (r#"f in ("a*")"#, json!({"f": "abc"}), false),
        (r#"f in (443, 8443)"#, json!({"f": 8443}), true),
        (r#"f in (443, 8443)"#, json!({"f": 80}), false),
        (r#"f in ("a")"#, json!({}), false),
        (r#"f not in ("a", "B")"#, json!({"f": "b"}), true),
        (r#"f not in ("a", "B")"#, json!({"f": "B"}), false),
        (r#"f not in~ ("a", "B")"#, json!({"f": "b"}), false),
        (r#"f not in ("a")"#, json!({}), true),
    ]);
}

#[test]
fn regex_is_anchored_lucene() {
    run(&[
        (r#"f regex "a.c""#, json!({"f": "abc"}), true),
        (r#"f regex "a.c""#, json!({"f": "xabcx"}), false),
        (r#"f regex "a.c""#, json!({"f": "ABC"}), false),
        (r#"f regex~ "a.c""#, json!({"f": "ABC"}), true),
        (r#"f regex~ "é""#, json!({"f": "É"}), false),
        (
            r#"f regex ".*[Kk\u{212A}].*""#,
            json!({"f": "x\u{212A}x"}),
            true,
        ),
        (r#"f regex "[0-9]+\\.exe""#, json!({"f": "12.exe"}), true),
        (r#"f regex "[0-9]+\\.exe""#, json!({"f": "12xexe"}), false),
        (r#"f regex ("x", "y+")"#, json!({"f": "yyy"}), true),
        (r#"f regex ".*""#, json!({}), false),
        (r#"not f regex ".*""#, json!({}), true),
        (r#"f regex ".*""#, json!({"f": 1}), false),
    ]);
}

#[test]
fn ordering_operators() {
    run(&[
        ("f < 10", json!({"f": 9}), true),
        ("f < 10", json!({"f": 10}), false),
        ("f <= 10", json!({"f": 10}), true),
        ("f > 10", json!({"f": 10.5}), true),
        ("f >= 10", json!({"f": 9}), false),
        ("f < 10", json!({}), false),
        ("not f < 10", json!({}), true),
        (r#"f < "b""#, json!({"f": "a"}), true),
        (r#"f < "b""#, json!({"f": "B"}), true),
        (r#"f > "b""#, json!({"f": "ba"}), true),
        (
            r#"source.ip < "10.0.0.10""#,
            json!({"source": {"ip": "10.0.0.9"}}),
            true,
        ),
        (
            r#"source.ip < "10.0.0.10""#,
            json!({"source": {"ip": "10.0.0.10"}}),
            false,
        ),
    ]);
}

#[test]
fn functions() {
    run(&[
        (r#"startsWith(f, "ab")"#, json!({"f": "abc"}), true),
        (r#"startsWith(f, "ab")"#, json!({"f": "ABc"}), false),
        (r#"startsWith~(f, "ab")"#, json!({"f": "ABc"}), true),
        (r#"startswith~(f, "é")"#, json!({"f": "Éa"}), false),
        (r#"endsWith(f, ".exe")"#, json!({"f": "a.exe"}), true),
        (r#"endsWith(f, ".exe")"#, json!({"f": "a.EXE"}), false),
        (r#"endsWith~(f, ".exe")"#, json!({"f": "a.EXE"}), true),
        (r#"stringContains(f, "b*")"#, json!({"f": "ab*c"}), true),
        (r#"stringContains(f, "b*")"#, json!({"f": "abc"}), false),
        (r#"stringContains~(f, "B")"#, json!({"f": "abc"}), true),
        (r#"startsWith(f, "")"#, json!({}), false),
        (r#"not startsWith(f, "a")"#, json!({}), true),
        (
            r#"cidrmatch(source.ip, "10.0.0.0/8")"#,
            json!({"source.ip": "10.9.8.7"}),
            true,
        ),
        (
            r#"cidrmatch(source.ip, "10.0.0.0/8")"#,
            json!({"source.ip": "11.0.0.1"}),
            false,
        ),
        (
            r#"cidrmatch(source.ip, "10.0.0.0/8")"#,
            json!({"source.ip": "::ffff:10.1.1.1"}),
            true,
        ),
        (
            r#"cidrmatch(source.ip, "10.0.0.0/8", "fd00::/8")"#,
            json!({"source.ip": "fd12::1"}),
            true,
        ),
        (
            r#"cidrmatch(source.ip, "fd00::/8")"#,
            json!({"source.ip": "10.1.1.1"}),
            false,
        ),
        (
            r#"cidrmatch(source.ip, "::ffff:10.0.0.0/104")"#,
            json!({"source.ip": "10.2.3.4"}),
            true,
        ),
        (
            r#"cidrmatch(source.ip, "0.0.0.0/0")"#,
            json!({"source.ip": "1.2.3.4"}),
            true,
        ),
        (
            r#"cidrmatch(source.ip, "10.0.0.0/8")"#,
            json!({"source.ip": "not an ip"}),
            false,
        ),
        (r#"cidrmatch(source.ip, "10.0.0.0/8")"#, json!({}), false),
    ]);
}

#[test]
fn ip_fields_compare_parsed_addresses() {
    run(&[
        (
            r#"destination.ip == "10.1.2.3""#,
            json!({"destination": {"ip": "::ffff:10.1.2.3"}}),
            true,
        ),
        (
            r#"destination.ip == "::ffff:10.1.2.3""#,
            json!({"destination": {"ip": "10.1.2.3"}}),
            true,
        ),
        (
            r#"destination.ip in ("2001:db8::1")"#,
            json!({"destination": {"ip": "2001:DB8:0::1"}}),
            true,
        ),
        (
            r#"destination.ip == "10.1.2.3""#,
            json!({"destination": {"ip": "10.1.2.4"}}),
            false,
        ),
        (
            r#"destination.ip == "10.1.2.3""#,
            json!({"destination": {"ip": "010.1.2.3"}}),
            false,
        ),
        (
            r#"destination.ip != "10.1.2.3""#,
            json!({"destination": {"ip": "::ffff:10.1.2.3"}}),
            false,
        ),
        // not an ip field: plain strings
        (r#"f == "10.1.2.3""#, json!({"f": "::ffff:10.1.2.3"}), false),
    ]);
}

#[test]
fn precedence_not_over_and_over_or() {
    let ev = |a: i64, b: i64, c: i64| json!({"a": a, "b": b, "c": c});
    run(&[
        // or < and: a or (b and c)
        ("a == 1 or b == 1 and c == 1", ev(1, 0, 0), true),
        ("(a == 1 or b == 1) and c == 1", ev(1, 0, 0), false),
        ("a == 1 and b == 1 or c == 1", ev(0, 0, 1), true),
        // not binds tighter than and: (not a) and b
        ("not a == 1 and b == 1", ev(1, 0, 0), false),
        ("not (a == 1 and b == 1)", ev(1, 0, 0), true),
        ("not a == 1 and b == 1", ev(2, 1, 0), true),
        ("not not a == 1", ev(1, 0, 0), true),
        ("not a == 1 or b == 1", ev(1, 1, 0), true),
        ("true", ev(0, 0, 0), true),
        ("false or a == 0", ev(0, 0, 0), true),
        ("not true", ev(0, 0, 0), false),
    ]);
}

#[test]
fn string_escapes_in_conditions() {
    run(&[
        (r#"f == "a\"b""#, json!({"f": "a\"b"}), true),
        (r#"f == "C:\\Temp\\""#, json!({"f": "C:\\Temp\\"}), true),
        (r#"f == "x\ty\nz\r""#, json!({"f": "x\ty\nz\r"}), true),
        (r#"f == "\u{212A}""#, json!({"f": "\u{212A}"}), true),
        (r#"f == "\u{212A}""#, json!({"f": "K"}), false),
        (r##"f == """C:\Temp\""""##, json!({"f": "C:\\Temp\\"}), true),
        (
            r##"f == """say "hi" \n""""##,
            json!({"f": "say \"hi\" \\n"}),
            true,
        ),
    ]);
}

#[test]
fn fields_nested_flat_mixed_and_arrays() {
    run(&[
        (
            r#"process.pe.company == "X""#,
            json!({"process": {"pe": {"company": "X"}}}),
            true,
        ),
        (
            r#"process.pe.company == "X""#,
            json!({"process.pe.company": "X"}),
            true,
        ),
        (
            r#"process.pe.company == "X""#,
            json!({"process": {"pe.company": "X"}}),
            true,
        ),
        (
            r#"process.pe.company == "X""#,
            json!({"process.pe": {"company": "X"}}),
            true,
        ),
        (
            r#"process.pe.company == "X""#,
            json!({"process": {"pe": "X"}}),
            false,
        ),
        (
            r#"process.pe == "X""#,
            json!({"process": {"pe": {"company": "X"}}}),
            false,
        ),
        (
            r#"a.b == "X""#,
            json!({"a": [{"b": "Y"}, {"b": "X"}]}),
            true,
        ),
        (r#"`my-field` == "X""#, json!({"my-field": "X"}), true),
        (r#"@timestamp > 5"#, json!({"@timestamp": 6}), true),
    ]);
}

#[test]
fn categories() {
    let q = parse(r#"process where true"#).unwrap();
    assert_eq!(q.category(), "process");
    let cases = [
        (json!({"event": {"category": "process"}}), true),
        (json!({"event": {"category": ["network", "process"]}}), true),
        (json!({"event.category": "process"}), true),
        (json!({"event": {"category": "Process"}}), false),
        (json!({"event": {"category": "network"}}), false),
        (json!({}), false),
    ];
    for (ev, want) in cases {
        assert_eq!(q.matches(&ev), Ok(want), "{ev}");
    }
    let any = parse("any where true").unwrap();
    assert_eq!(any.matches(&json!({})), Ok(true));
    let quoted = parse(r#""my-cat" where true"#).unwrap();
    assert_eq!(quoted.category(), "my-cat");
    assert!(q.matches(&json!([1])).is_err());
}

#[test]
fn parse_errors_carry_line_and_column() {
    let cases: &[(&str, (usize, usize), &str)] = &[
        ("", (1, 1), "event category"),
        ("process", (1, 8), "`where`"),
        ("process where", (1, 14), "a field name"),
        ("process where a ==", (1, 19), "a string"),
        ("process where a == \"x\" b", (1, 24), "`and`, `or`"),
        (
            "process\nwhere a === \"x\"",
            (2, 11),
            "`=` is not an EQL operator",
        ),
        ("process where a in \"x\"", (1, 20), "`(` after `in`"),
        (
            "process where a == (\"x\", \"y\")",
            (1, 20),
            "a single value",
        ),
        ("process where a : 1", (1, 19), "only compares strings"),
        ("process where a < null", (1, 19), "`null`"),
        ("process where a == b", (1, 20), "another field"),
        (
            "process where a regex \"(x\"",
            (1, 23),
            "bad regular expression",
        ),
        ("process where a.b ~ 1", (1, 19), "a comparison operator"),
        ("process where (a == 1", (1, 22), "`)`"),
        (
            "process where a not like \"x\"",
            (1, 21),
            "`in` or `in~` after `not`",
        ),
        (
            "process where foo(a, \"x\")",
            (1, 15),
            "unsupported function",
        ),
        ("process where startsWith(a)", (1, 15), "two arguments"),
        (
            "process where cidrmatch(a, \"10.0.0.0/33\")",
            (1, 28),
            "CIDR",
        ),
        ("process where cidrmatch(a)", (1, 26), "at least one"),
        ("sequence [process where true]", (1, 1), "not supported"),
        ("process where a == 1 | head 5", (1, 22), "pipes"),
        ("// c\n  process where\n a == 'x'", (3, 7), "single-quoted"),
        ("process where AND == 1 and", (1, 27), "a field name"),
    ];
    for (src, (line, col), msg) in cases {
        let e = parse(src).unwrap_err();
        assert_eq!((e.span.line, e.span.col), (*line, *col), "{src}: {e}");
        assert!(e.message.contains(msg), "{src}: {e}");
        assert!(e.to_string().starts_with(&format!("{line}:{col}: ")));
    }
}

#[test]
fn hostile_nesting_is_an_error_not_a_crash() {
    let deep = format!(
        "any where {}a == 1{}",
        "(".repeat(10_000),
        ")".repeat(10_000)
    );
    let e = parse(&deep).unwrap_err();
    assert!(e.message.contains("nested deeper"), "{e}");
    let nots = format!("any where {}a == 1", "not ".repeat(10_000));
    assert!(parse(&nots).unwrap_err().message.contains("nested deeper"));
    let ok = format!("any where {}a == 1{}", "(".repeat(100), ")".repeat(100));
    assert!(parse(&ok).is_ok());
    // a long flat chain is fine (n-ary, no recursion)
    let chain = vec!["a == 1"; 20_000].join(" or ");
    let q = parse(&format!("any where {chain} or b == 2")).unwrap();
    assert_eq!(q.matches(&json!({"b": 2})), Ok(true));
    let deep_re = format!("any where a regex \"{}\"", "(".repeat(10_000));
    assert!(parse(&deep_re).is_err());
}

#[test]
fn input_fields_are_listed() {
    let q = parse(r#"network where b.c == 1 and not (a : "x" or cidrmatch(b.c, "10.0.0.0/8"))"#)
        .unwrap();
    assert_eq!(q.input_fields(), vec!["a", "b.c", "event.category"]);
    assert_eq!(
        parse("any where true").unwrap().input_fields(),
        Vec::<String>::new()
    );
}

/// The lookup before it stopped allocating (split + join per key): the reference.
fn lookup_reference<'a>(event: &'a Value, path: &str) -> Vec<&'a Value> {
    let segs: Vec<&str> = path.split('.').collect();
    let mut out = Vec::new();
    let mut work: Vec<(&Value, usize)> = vec![(event, 0)];
    while let Some((v, i)) = work.pop() {
        match v {
            Value::Array(items) => work.extend(items.iter().rev().map(|x| (x, i))),
            _ if i == segs.len() => match v {
                Value::Null | Value::Object(_) => {}
                leaf => out.push(leaf),
            },
            Value::Object(m) => {
                for k in (i + 1..=segs.len()).rev() {
                    if let Some(child) = m.get(&segs[i..k].join(".")) {
                        work.push((child, k));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

mod lookup_equivalence {
    use super::*;
    use proptest::prelude::*;

    fn doc() -> impl Strategy<Value = Value> {
        let key = proptest::sample::select(vec!["a", "b", "a.b", "b.a", "", "a.b.a", "."]);
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            (0i64..3).prop_map(Value::from),
            proptest::sample::select(vec!["x", "y"]).prop_map(Value::from),
        ];
        leaf.prop_recursive(5, 48, 4, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                proptest::collection::vec((key.clone(), inner), 0..4).prop_map(|kv| {
                    Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
                }),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn lookup_agrees_with_the_reference(
            d in doc(),
            path in proptest::sample::select(vec![
                "a", "b", "a.b", "a.b.a", "b.a.b", "", "a..b", ".", "a.", ".a", "a.b.a.b",
            ]),
        ) {
            let new: Vec<*const Value> = interp::lookup(&d, path).into_iter().map(|v| v as *const Value).collect();
            let old: Vec<*const Value> = lookup_reference(&d, path).into_iter().map(|v| v as *const Value).collect();
            prop_assert_eq!(new, old, "{} on {}", path, d);
        }
    }
}
