//! Table-driven tests of the SPL evaluator's semantic edges. Each row is (query, event,
//! expected verdict); the expectations come from the Splunk documentation cited in
//! `interp` / `parser`, not from rmmc's emitter. One table, so it stays one file.

use super::*;
use serde_json::json;

/// 2026-06-01T12:00:00Z.
const NOW: i128 = 1_780_315_200 * 1_000_000_000;

fn ev(v: Value) -> Map<String, Value> {
    v.as_object().expect("object").clone()
}

fn run(q: &str, events: &[Value]) -> Result<Vec<Map<String, Value>>, String> {
    let s = parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
    let evs: Vec<_> = events.iter().cloned().map(ev).collect();
    s.run(&evs, NOW)
}

fn hits(q: &str, e: &Value) -> bool {
    run(q, std::slice::from_ref(e))
        .unwrap_or_else(|err| panic!("{q}: {err}"))
        .len()
        == 1
}

#[test]
fn search_precedence_is_not_or_and() {
    for (q, want) in [
        ("a OR b c", r#"search (("a" OR "b") AND "c")"#),
        ("a b OR c", r#"search ("a" AND ("b" OR "c"))"#),
        ("a AND b OR c d", r#"search ("a" AND ("b" OR "c") AND "d")"#),
        ("NOT a OR b", r#"search (NOT "a" OR "b")"#),
        ("NOT (a OR b) c", r#"search (NOT ("a" OR "b") AND "c")"#),
        ("x=1 OR y!=2", r#"search (x="1" OR y!="2")"#),
        ("a IN (b, \"c d\", e*)", r#"search a IN ("b", "c d", "e*")"#),
    ] {
        assert_eq!(parse(q).unwrap().to_string(), want, "{q}");
    }
}

#[test]
fn eval_precedence_is_not_and_or() {
    for (q, want) in [
        (
            "* | where a==1 OR b==2 AND c==3",
            r#"search "*" | where (('a'==1) OR (('b'==2) AND ('c'==3)))"#,
        ),
        (
            "* | where NOT a=1 AND b!=\"x\"",
            r#"search "*" | where ((NOT ('a'==1)) AND ('b'!="x"))"#,
        ),
        (
            "* | where NOT (a<1 OR b>=2)",
            r#"search "*" | where (NOT (('a'<1) OR ('b'>=2)))"#,
        ),
    ] {
        assert_eq!(parse(q).unwrap().to_string(), want, "{q}");
    }
}

#[test]
fn search_command_verdicts() {
    let t = |d: i64| {
        json!(crate::eval::time::format_rfc3339(
            NOW + i128::from(d) * 1_000_000_000
        ))
    };
    let cases: Vec<(&str, Value, bool)> = vec![
        // missing field: = false, NOT = true, != false
        ("x=1", json!({}), false),
        ("NOT x=1", json!({}), true),
        ("x!=1", json!({}), false),
        ("x!=1", json!({"x": "2"}), true),
        ("x!=1", json!({"x": 1}), false),
        ("NOT x=1", json!({"x": "1"}), false),
        ("x!=*", json!({"x": "a"}), false),
        ("x=*", json!({"x": ""}), true),
        ("x=*", json!({}), false),
        // whole value, case-insensitive, `*` only
        (
            "Image=*CLIENT32.exe",
            json!({"Image": "C:\\x\\client32.EXE"}),
            true,
        ),
        ("a=foo", json!({"a": "foobar"}), false),
        ("a=f*r", json!({"a": "FooBar"}), true),
        ("a=f*r", json!({"a": "foobaz"}), false),
        ("a=f?o", json!({"a": "foo"}), false),
        ("a=\"x y\"", json!({"a": "X Y"}), true),
        ("a=\"x*\"", json!({"a": "xyz"}), true),
        // `\\` is one backslash in search values and terms; `\*` is not an escape
        ("a=c:\\\\tmp", json!({"a": "c:\\tmp"}), true),
        ("a=c:\\\\tmp", json!({"a": "c:\\\\tmp"}), false),
        ("a=\"c:\\\\tmp\"", json!({"a": "c:\\tmp"}), true),
        ("a=x\\*", json!({"a": "x\\yz"}), true),
        (
            "D:\\\\Digital\\\\RTFM",
            json!({"_raw": "open D:\\Digital\\RTFM now"}),
            true,
        ),
        ("EventCode=3", json!({"EventCode": 3}), true),
        ("EventCode=3", json!({"EventCode": "30"}), false),
        ("index=*", json!({"index": "main"}), true),
        ("index=*", json!({}), false),
        // IN lists
        ("a IN (b, \"c d\", e*)", json!({"a": "C D"}), true),
        ("a IN (b, \"c d\", e*)", json!({"a": "ef"}), true),
        ("a IN (b, \"c d\", e*)", json!({"a": "z"}), false),
        ("NOT a IN (b)", json!({}), true),
        // multivalue fields: any value
        (
            "tag=network tag=communicate",
            json!({"tag": ["network", "communicate"]}),
            true,
        ),
        (
            "tag=network tag=communicate",
            json!({"tag": ["network"]}),
            false,
        ),
        ("tag!=web", json!({"tag": ["network", "web"]}), false),
        // bare terms: segment boundaries in _raw, else in the joined values
        ("error", json!({"_raw": "an ERROR occurred"}), true),
        ("error", json!({"_raw": "errors everywhere"}), false),
        ("err*", json!({"_raw": "errors everywhere"}), true),
        (
            "\"access denied\"",
            json!({"_raw": "x: Access Denied."}),
            true,
        ),
        (
            "client32",
            json!({"Image": "C:\\tools\\client32.exe"}),
            true,
        ),
        (
            "lient32",
            json!({"Image": "C:\\tools\\client32.exe"}),
            false,
        ),
        ("error", json!({"_raw": "fine", "msg": "error"}), false),
        // segments end at Splunk's default breakers only (segmenters.conf MAJOR / MINOR):
        // `~` and non-ASCII letters glue, `&` `;` `'` `.` `\\` `_` `>` cut
        ("remote", json!({"_raw": "a~remote~b"}), false),
        ("remote", json!({"_raw": "éremote.exe"}), false),
        ("remote", json!({"_raw": "x&amp;remote&lt;"}), true),
        ("remote", json!({"_raw": "C:\\x\\REMOTE_y.exe"}), true),
        (
            "remote",
            json!({"_raw": "<Data Name='Image'>remote</Data>"}),
            true,
        ),
        // case-insensitive over ASCII only: the KELVIN SIGN is not read as `k`
        ("kaseya", json!({"_raw": "KASEYA"}), true),
        ("kaseya", json!({"_raw": "\u{212A}aseya"}), false),
        // OR binds tighter than AND; NOT tightest
        ("a=1 OR b=1 c=1", json!({"a": 1}), false),
        ("a=1 OR b=1 c=1", json!({"b": 1, "c": 1}), true),
        ("a=1 OR (b=1 c=1)", json!({"a": 1}), true),
        ("NOT a=1 OR b=1", json!({"a": 1, "b": 1}), true),
        ("NOT a=1 OR b=1", json!({"a": 1}), false),
        ("a=1 AND NOT b=1", json!({"a": 1}), true),
        // lowercase `or` is a term, not an operator
        ("a=1 or b=1", json!({"a": 1, "b": 1}), false),
        // comparisons: numeric when both sides are numbers
        ("n>5", json!({"n": "10"}), true),
        ("n<5", json!({"n": "10"}), false),
        ("n>=10", json!({"n": 10}), true),
        // comments
        (
            "a=1 ```b=2 is not checked``` c=3",
            json!({"a": 1, "c": 3}),
            true,
        ),
        // time range: earliest inclusive, latest exclusive
        ("earliest=-5d latest=now", json!({"_time": t(-3600)}), true),
        (
            "earliest=-5d latest=now",
            json!({"_time": t(-6 * 86_400)}),
            false,
        ),
        (
            "earliest=-5d latest=now",
            json!({"_time": t(-5 * 86_400)}),
            true,
        ),
        ("earliest=-5d latest=now", json!({"_time": t(0)}), false),
        ("earliest=-5d", json!({}), false),
        (
            "earliest=-90m",
            json!({"_time": 1_780_315_200 - 5000}),
            true,
        ),
        (
            "earliest=-90m",
            json!({"_time": 1_780_315_200 - 6000}),
            false,
        ),
        ("earliest=-h", json!({"_time": 1_780_315_200 - 3599}), true),
        (
            "latest=-1w",
            json!({"_time": 1_780_315_200 - 8 * 86_400}),
            true,
        ),
        (
            "earliest=1780315100",
            json!({"_time": "2026-06-01T11:58:20Z"}),
            true,
        ),
    ];
    for (q, e, want) in cases {
        assert_eq!(hits(q, &e), want, "{q} on {e}");
    }
}

#[test]
fn where_verdicts() {
    let cases: Vec<(&str, Value, bool)> = vec![
        // where == is case-sensitive (unlike search)
        ("x==\"abc\"", json!({"x": "ABC"}), false),
        ("x=\"abc\"", json!({"x": "abc"}), true),
        ("x!=\"abc\"", json!({"x": "ABC"}), true),
        // nulls: comparisons are null, NOT null is null, where drops null
        ("x==1", json!({}), false),
        ("NOT x==1", json!({}), false),
        ("x!=1", json!({}), false),
        ("isnull(x)", json!({}), true),
        ("isnull(x)", json!({"x": null}), true),
        ("isnotnull(x)", json!({"x": ""}), true),
        ("NOT isnull(x)", json!({"x": 1}), true),
        ("x==1 OR y==1", json!({"y": 1}), true),
        ("x==1 AND y==1", json!({"y": 1}), false),
        ("NOT (x==1 AND y==1)", json!({"y": 2}), true),
        ("NOT (x==1 OR y==2)", json!({"y": 1}), false),
        ("NOT match(x, \"a\")", json!({}), false),
        // AND binds tighter than OR in eval
        ("a==1 OR b==1 AND c==1", json!({"a": 1}), true),
        ("(a==1 OR b==1) AND c==1", json!({"a": 1}), false),
        // match: PCRE semantics, case-sensitive unless (?i)
        ("match(x, \"(?i)^net\")", json!({"x": "NETSUPPORT"}), true),
        ("match(x, \"^net\")", json!({"x": "NETSUPPORT"}), false),
        ("match(x, \"sup\")", json!({"x": "netsupport"}), true),
        (
            "match(x, \"(?i)(?-i:[Ss])upport\")",
            json!({"x": "SUPPORT"}),
            true,
        ),
        (
            "match(x, \"(?i)\\\\Aa\\\\.exe\\\\z\")",
            json!({"x": "A.EXE"}),
            true,
        ),
        (
            "match(x, \"(?i)\\\\Aa\\\\.exe\\\\z\")",
            json!({"x": "A.EXE\n"}),
            false,
        ),
        (
            "match(x, \"C:\\\\\\\\Tools\")",
            json!({"x": "C:\\Tools\\a"}),
            true,
        ),
        (
            "match(n, \"\\\\A\\\\+?0*8443\\\\z\")",
            json!({"n": 8443}),
            true,
        ),
        // like: % and _, whole value, case-sensitive
        ("like(x, \"a%c_\")", json!({"x": "abbcd"}), true),
        ("like(x, \"a%c_\")", json!({"x": "ABBCD"}), false),
        ("like(x, \"a_\")", json!({"x": "abc"}), false),
        ("like(x, \"a.%\")", json!({"x": "abc"}), false),
        // string functions
        ("lower(x)==\"abc\"", json!({"x": "AbC"}), true),
        ("upper(x)==\"ÄBC\"", json!({"x": "äbc"}), true),
        (
            "replace(x, \"(?s)^.*\\\\\\\\\", \"\")==\"b.exe\"",
            json!({"x": "C:\\a\\b.exe"}),
            true,
        ),
        (
            "replace(x, \"(a)(b)\", \"\\\\2\\\\1\")==\"baba\"",
            json!({"x": "abab"}),
            true,
        ),
        (
            "replace(x, \"a\", \"$1\")==\"$1b\"",
            json!({"x": "ab"}),
            true,
        ),
        ("coalesce(y, x)==\"v\"", json!({"x": "v"}), true),
        ("coalesce(y, z)==\"v\"", json!({}), false),
        ("len(x)==3", json!({"x": "日本語"}), true),
        ("len(x)>2", json!({"x": "ab"}), false),
        ("if(x==1, \"a\", \"b\")==\"b\"", json!({}), true),
        ("isnull(null())", json!({}), true),
        // cidrmatch
        (
            "cidrmatch(\"10.0.0.0/8\", ip)",
            json!({"ip": "10.2.3.4"}),
            true,
        ),
        (
            "cidrmatch(\"10.0.0.0/8\", ip)",
            json!({"ip": "11.0.0.1"}),
            false,
        ),
        (
            "cidrmatch(\"10.0.0.0/8\", ip)",
            json!({"ip": "not an ip"}),
            false,
        ),
        (
            "cidrmatch(\"0.0.0.0/0\", ip)",
            json!({"ip": "8.8.8.8"}),
            true,
        ),
        (
            "cidrmatch(\"2001:db8::/32\", ip)",
            json!({"ip": "2001:DB8::1"}),
            true,
        ),
        (
            "cidrmatch(\"2001:db8::/32\", ip)",
            json!({"ip": "10.0.0.1"}),
            false,
        ),
        // numbers vs strings
        ("n<10", json!({"n": "9"}), true),
        ("n<10", json!({"n": "10.5"}), false),
        ("n<\"10\"", json!({"n": "9"}), false),
        ("x==\"3\"", json!({"x": 3}), true),
        ("x==3", json!({"x": "3.0"}), true),
        ("x==\"3\"", json!({"x": "3.0"}), false),
        ("ip==\"10.10.10.10\"", json!({"ip": "10.10.10.10"}), true),
        // string escapes
        (
            r#"x=="say \"hi\" \\ ok""#,
            json!({"x": "say \"hi\" \\ ok"}),
            true,
        ),
        ("'odd name'==\"v\"", json!({"odd name": "v"}), true),
        // _time reads as epoch seconds
        (
            "_time==1780315200",
            json!({"_time": "2026-06-01T12:00:00Z"}),
            true,
        ),
        ("_time>1780315200", json!({"_time": 1_780_315_201}), true),
        (
            "_time==\"2026-06-01T12:00:00Z\"",
            json!({"_time": "2026-06-01T12:00:00Z"}),
            false,
        ),
    ];
    for (w, e, want) in cases {
        let q = format!("* | where {w}");
        assert_eq!(hits(&q, &e), want, "{q} on {e}");
    }
}

#[test]
fn runtime_errors_are_errors() {
    for (q, e, msg) in [
        ("* | where x", json!({"x": "a"}), "not a boolean"),
        ("* | eval y=x==1", json!({"x": 1}), "boolean"),
        ("* | where match(x, y)", json!({"x": "a", "y": "a$"}), "`$`"),
        (
            "* | where lower(x)==\"a\"",
            json!({"x": ["a", "b"]}),
            "multivalue",
        ),
        ("* | where NOT x", json!({"x": "a"}), "NOT needs a boolean"),
        (
            "* | where cidrmatch(\"10.0.0.0/33\", x)",
            json!({"x": "10.0.0.1"}),
            "prefix length",
        ),
        (
            "* | where cidrmatch(\"nope\", x)",
            json!({"x": "10.0.0.1"}),
            "not a CIDR",
        ),
    ] {
        let err = run(q, &[e]).unwrap_err();
        assert!(err.contains(msg), "{q}: {err}");
    }
}

#[test]
fn eval_assigns_in_order_and_null_removes() {
    let rows = run(
        "* | eval y=coalesce(y, \"\"), z=lower(x), w=null(), a=\"1\", b=a, x=len(x), t=_time",
        &[json!({"x": "AbC", "w": "gone", "_time": "2026-06-01T12:00:00.5Z"})],
    )
    .unwrap();
    assert_eq!(
        Value::Object(rows[0].clone()),
        json!({"x": 3, "y": "", "z": "abc", "a": "1", "b": "1", "_time": "2026-06-01T12:00:00.5Z", "t": 1_780_315_200.5})
    );
}

#[test]
fn stats_groups_sorted_values_distinct_and_times_in_epoch_seconds() {
    let events = [
        json!({"h": "b", "R": 9, "_time": "2026-06-01T10:00:00Z"}),
        json!({"h": "a", "R": 10, "_time": "2026-06-01T09:00:00Z"}),
        json!({"h": "a", "R": 9, "_time": "2026-06-01T11:00:00.5Z"}),
        json!({"h": "a", "R": 9, "_time": 1_780_300_000}),
        json!({"R": 1, "_time": "2026-06-01T10:00:00Z"}),
        json!({"h": "b", "_time": "2026-06-01T10:30:00Z"}),
    ];
    let rows = run(
        "* | stats min(_time) as F max(_time) as L values(R) as Rep count as C dc(R) count(R) by h",
        &events,
    )
    .unwrap();
    let got: Vec<Value> = rows.into_iter().map(Value::Object).collect();
    assert_eq!(
        got,
        vec![
            json!({"h": "a", "F": 1_780_300_000, "L": 1_780_311_600.5, "Rep": ["10", "9"], "C": 3, "dc(R)": 2, "count(R)": 3}),
            json!({"h": "b", "F": 1_780_308_000, "L": 1_780_309_800, "Rep": ["9"], "C": 2, "dc(R)": 1, "count(R)": 1}),
        ]
    );
    // Without `by`, and no events: one row, count 0 (min/max/values absent).
    let rows = run("* | stats count min(x) values(x) dc(x)", &[]).unwrap();
    assert_eq!(
        rows.into_iter().map(Value::Object).collect::<Vec<_>>(),
        vec![json!({"count": 0, "dc(x)": 0})]
    );
    // Two by-fields; group order numeric before text; min/max numeric vs lexicographic.
    let rows = run(
        "* | stats max(v) as M min(s) as S by g k",
        &[
            json!({"g": "10", "k": "x", "v": "9", "s": "b"}),
            json!({"g": "9", "k": "x", "v": "10", "s": "B"}),
            json!({"g": "9", "k": "x", "v": "2", "s": "a"}),
            json!({"g": "z", "k": "x", "v": "1"}),
        ],
    )
    .unwrap();
    let got: Vec<Value> = rows.into_iter().map(Value::Object).collect();
    assert_eq!(
        got,
        vec![
            json!({"g": "9", "k": "x", "M": 10, "S": "B"}),
            json!({"g": "10", "k": "x", "M": 9, "S": "b"}),
            json!({"g": "z", "k": "x", "M": 1}),
        ]
    );
}

#[test]
fn sort_table_fields_head() {
    let events = [
        json!({"t": "10", "x": "a", "y": 1}),
        json!({"x": "m", "y": 2}),
        json!({"t": "9", "x": "b", "y": 3}),
        json!({"t": "abc", "x": "c", "y": 4}),
    ];
    let xs = |q: &str| -> Vec<Value> {
        run(q, &events)
            .unwrap()
            .into_iter()
            .map(|r| r.get("x").cloned().unwrap_or(Value::Null))
            .collect()
    };
    assert_eq!(
        xs("* | sort t"),
        vec![json!("b"), json!("a"), json!("c"), json!("m")]
    );
    assert_eq!(
        xs("* | sort 0 - t"),
        vec![json!("c"), json!("a"), json!("b"), json!("m")]
    );
    assert_eq!(xs("* | sort -t"), xs("* | sort 0 - t"));
    assert_eq!(xs("* | sort t desc"), xs("* | sort 0 - t"));
    assert_eq!(xs("* | sort -t d"), xs("* | sort t"));
    assert_eq!(xs("* | sort 2 +t"), vec![json!("b"), json!("a")]);
    assert_eq!(xs("* | sort - y | head 1"), vec![json!("c")]);
    assert_eq!(xs("* | head"), xs("*"));
    let rows = run("* | table y x nope | head 1", &events).unwrap();
    assert_eq!(Value::Object(rows[0].clone()), json!({"y": 1, "x": "a"}));
    assert_eq!(rows[0].keys().collect::<Vec<_>>(), vec!["y", "x"]);
    let rows = run("* | fields - t, y | head 1", &events).unwrap();
    assert_eq!(Value::Object(rows[0].clone()), json!({"x": "a"}));
    let rows = run("* | table *y | head 1", &events).unwrap();
    assert_eq!(Value::Object(rows[0].clone()), json!({"y": 1}));
    let rows = run("* | search x=b OR x=C | table x", &events).unwrap();
    assert_eq!(rows.len(), 2);
}

#[test]
fn parse_errors_carry_line_and_column() {
    let cases: &[(&str, usize, usize, &str)] = &[
        ("", 1, 1, "expected a search"),
        ("a=1 | bogus x", 1, 7, "unsupported command `bogus`"),
        ("a=1\n| where match(x, \"a$\")", 2, 9, "`$`"),
        ("a=1\n| where match(x, \"(?<=a)b\")", 2, 9, "look-around"),
        ("a=1 | where x==", 1, 16, "expected a value"),
        ("a=", 1, 3, "expected a value"),
        ("a=1 | stats min", 1, 13, "needs a field"),
        ("a=1 | stats avg(x)", 1, 13, "unsupported stats function"),
        ("a=1 | where (x==1", 1, 18, "expected `)`"),
        ("a OR", 1, 5, "expected a search term"),
        ("a ) b", 1, 3, "unexpected `)`"),
        ("earliest=-5mon", 1, 10, "unsupported time unit"),
        ("earliest=-1d@d", 1, 10, "snap-to"),
        ("(earliest=-5d OR a)", 1, 20, "top-level"),
        ("| stats count", 1, 1, "generating command"),
        (
            "a=1 | where foo(x)",
            1,
            13,
            "unsupported eval function `foo`",
        ),
        ("a=1 | where lower(x, y)", 1, 13, "takes 1 argument"),
        ("a=1 | where x==\"open", 1, 16, "unterminated string"),
        ("a ```open", 1, 3, "unterminated ``` comment"),
        ("a | sort", 1, 9, "a field to sort by"),
        ("a | eval x", 1, 11, "expected `=`"),
        ("a | where x==1 y", 1, 16, "expected `|` or the end"),
        ("a==1", 1, 2, "not `==`"),
        ("a | table", 1, 10, "a field name"),
        ("a | where AND", 1, 11, "expected a value"),
        ("`macro(x)`", 1, 1, "macros"),
    ];
    for (src, line, col, msg) in cases {
        let e = parse(src).expect_err(src);
        assert_eq!(
            (e.span.line, e.span.col),
            (*line, *col),
            "{src}: {}",
            e.message
        );
        assert!(e.message.contains(msg), "{src}: {}", e.message);
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let n = 10_000;
    for src in [
        format!("{}a{}", "(".repeat(n), ")".repeat(n)),
        format!("{}a", "NOT ".repeat(n)),
        format!("* | where {}x==1{}", "(".repeat(n), ")".repeat(n)),
        format!("* | where {}x==1", "NOT ".repeat(n)),
        format!("* | where {}x{}==\"a\"", "lower(".repeat(n), ")".repeat(n)),
    ] {
        let e = parse(&src).expect_err("too deep");
        assert!(e.message.contains("nesting deeper than"), "{}", e.message);
    }
    // Just under the cap still parses and runs.
    let ok = format!("{}a=1{}", "(".repeat(100), ")".repeat(100));
    assert!(hits(&ok, &json!({"a": "1"})));
}

#[test]
fn input_fields_are_what_the_search_reads() {
    let s = parse(
        "index=* EventCode=3 earliest=-5d | eval D=coalesce(D, \"\"), E=\"x\" | where match(D, \"a\") AND E==\"x\" | stats count by host | table host count",
    )
    .unwrap();
    assert_eq!(
        s.input_fields(),
        vec!["D", "EventCode", "_time", "host", "index"]
    );
}

#[test]
fn hostile_text_gets_errors_or_answers_never_panics() {
    // A 50,000-term chain is flat (n-ary), so it neither nests nor overflows the stack.
    let chain = vec!["x==1"; 50_000].join(" OR ");
    assert!(hits(
        &format!("* | where {chain} OR x==2"),
        &json!({"x": 2})
    ));
    let chain = vec!["a=1"; 50_000].join(" OR ");
    assert!(hits(&chain, &json!({"a": "1"})));
    // Huge literals: an error with a position, or a working matcher; never a panic.
    let big = "x".repeat(100_000);
    for src in [
        format!("a={big}"),
        format!("a \"{big}\""),
        format!("a IN ({big})"),
    ] {
        match parse(&src) {
            Ok(s) => {
                s.run(&[ev(json!({"a": "x"}))], NOW).unwrap();
            }
            Err(e) => assert!(e.message.contains("too long"), "{}", e.message),
        }
    }
    for (src, msg) in [
        ("earliest=999999999999999999999999999999999", "too large"),
        ("earliest=-99999999999999999999999d", "too large"),
        ("a=1 | head 99999999999999999999999999", ""),
    ] {
        if let Err(e) = parse(src) {
            assert!(e.message.contains(msg), "{src}: {}", e.message);
        }
    }
    // Extreme clocks saturate instead of overflowing.
    let s = parse("earliest=-5d latest=+5d").unwrap();
    for now in [i128::MIN, i128::MAX] {
        s.run(&[ev(json!({"_time": 0}))], now).unwrap();
    }
    // Odd bytes and control characters lex as words or fail cleanly.
    for src in ["\u{0}", "a=\u{202e}", "💥=1", "a | where '💥'==\"\u{7f}\""] {
        let _ = parse(src);
    }
}

#[test]
fn table_wildcards_match_field_names() {
    let rows = run(
        "* | table Dest* *Port x*z",
        &[json!({"DestIp": 1, "SrcPort": 2, "DestPort": 3, "xz": 4, "xaz": 5, "xa": 6, "dest": 7})],
    )
    .unwrap();
    assert_eq!(
        rows[0].keys().collect::<Vec<_>>(),
        vec!["DestIp", "DestPort", "SrcPort", "xz", "xaz"]
    );
}

/// The parser compiles each literal `match`/`replace`/`like` pattern once, and the table is
/// found by pattern text, so it serves a clone of the search as well.
#[test]
fn literal_patterns_are_compiled_at_parse_time() {
    let s = parse(r#"* | where match(a, "^x+") OR like(b, "k%") | eval c=replace(a, "^x+", "y")"#)
        .unwrap();
    assert!(s.literals.get("^x+", false).is_some());
    assert!(s.literals.get("k%", true).is_some());
    assert!(s.literals.get("k%", false).is_none());
    let copy = s.clone();
    assert!(copy.literals.get("^x+", false).is_some());
    let e = parse(r#"* | where match(a, "(")"#).unwrap_err();
    assert_eq!(e.span.col, 11, "{e}");
}

#[test]
fn stats_min_max_prefer_numbers_in_any_order_and_read_a_field_once_for_several_aggregates() {
    let events = [
        json!({"g": "n", "v": "b"}),
        json!({"g": "n", "v": "3"}),
        json!({"g": "n", "v": "a"}),
        json!({"g": "n", "v": 10}),
        json!({"g": "n", "v": "zz"}),
        json!({"g": "t", "v": "b"}),
        json!({"g": "t", "v": "a"}),
        json!({"g": "t", "v": null}),
        json!({"g": "m", "v": ["5", "x"]}),
        json!({"g": "m", "v": 7}),
        json!({"g": "m", "v": ["y", "-2"]}),
    ];
    let rows = run(
        "* | stats min(v) as lo max(v) as hi values(v) as vs count(v) as n min(v) as lo2 by g",
        &events,
    )
    .unwrap();
    let got: Vec<Value> = rows.into_iter().map(Value::Object).collect();
    assert_eq!(
        got,
        vec![
            json!({"g": "m", "lo": -2, "hi": 7, "vs": ["-2", "5", "7", "x", "y"], "n": 5, "lo2": -2}),
            json!({"g": "n", "lo": 3, "hi": 10, "vs": ["10", "3", "a", "b", "zz"], "n": 5, "lo2": 3}),
            json!({"g": "t", "lo": "a", "hi": "b", "vs": ["a", "b"], "n": 2, "lo2": "a"}),
        ]
    );
}

#[test]
fn replace_texts_alternating_or_read_from_events_are_each_their_own() {
    let events = [
        json!({"s": "a-b", "r": "<\\1>"}),
        json!({"s": "c-d", "r": "$"}),
        json!({"s": "e-f", "r": "x"}),
        json!({"s": "g-h"}),
    ];
    let rows = run(
        r#"* | eval p=replace(s, "(-)", "[\1]"), q=replace(s, "-", r), t=replace(s, "(-)", "\1\1")"#,
        &events,
    )
    .unwrap();
    let got: Vec<Value> = rows
        .into_iter()
        .map(|r| json!([r.get("p"), r.get("q"), r.get("t")]))
        .collect();
    assert_eq!(
        got,
        vec![
            json!(["a[-]b", "a<>b", "a--b"]),
            json!(["c[-]d", "c$d", "c--d"]),
            json!(["e[-]f", "exf", "e--f"]),
            json!(["g[-]h", null, "g--h"]),
        ]
    );
}

#[test]
fn search_wildcards_known_once_match_as_the_regex_does() {
    use crate::eval::spl::ast::WildKind;
    for (text, kind) in [
        ("*", WildKind::Any),
        ("**", WildKind::Any),
        ("", WildKind::Ascii),
        ("abc", WildKind::Ascii),
        ("a*c", WildKind::Other),
        ("é", WildKind::Other),
    ] {
        assert_eq!(WildKind::of(text), kind, "{text:?}");
        let w = crate::eval::spl::values::wild(text).unwrap();
        for s in ["", "abc", "ABC", "aXc", "é", "É", "abcd", "\u{212A}"] {
            assert_eq!(w.is_match(s), w.whole.is_match(s), "{text:?} on {s:?}");
        }
    }
}
