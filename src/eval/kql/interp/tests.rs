//! Tests of the KQL interpreter: Kusto's null, string, term and IPv4 semantics over small tables.

use super::*;
use crate::eval::kql::parser::parse;

fn row(pairs: &[(&str, Value)]) -> Row {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}
fn s(v: &str) -> Value {
    Value::Str(v.into())
}
fn matches(pred: &str, r: &Row) -> bool {
    let q = parse(&format!("T | where {pred}")).unwrap();
    !run(&q, std::slice::from_ref(r), 0).unwrap().is_empty()
}

/// Golden cases from the Kusto string-operator documentation.
#[test]
fn string_operators_follow_the_docs() {
    let r = row(&[
        ("x", s("KustoExplorerQueryRun")),
        (
            "k",
            s("Kusto: ad67d136-c1db-4f9f-88ef-d94f3b6b0b5a;KustoExplorerQueryRun"),
        ),
    ]);
    assert!(!matches("x has 'Explorer'", &r));
    assert!(matches("x contains 'Explorer'", &r));
    assert!(matches("k has 'c1db'", &r));
    assert!(matches("k has 'kusto'", &r));
    assert!(!matches("k has_cs 'kusto'", &r));
    assert!(matches("k hasprefix 'KustoExp'", &r));
    assert!(matches("k hassuffix 'QueryRun'", &r));
    let f = row(&[("f", s("FabriKam"))]);
    assert!(matches("f contains 'BRik'", &f));
    assert!(!matches("f contains_cs 'BRik'", &f));
    assert!(matches("f =~ 'fabrikam'", &f));
    assert!(!matches("f == 'fabrikam'", &f));
    assert!(matches("f !~ 'xyz'", &f));
    assert!(matches("f startswith 'fab' and f endswith 'KAM'", &f));
}

/// Kusto's text rules, one row per case (learn.microsoft.com/kusto/query/
/// datatypes-string-operators): "Case-insensitive operators are currently supported only
/// for ASCII-text. For non-ASCII comparison, use the tolower() function", and "each string
/// value is broken into maximal sequences of alphanumeric characters" — letters and digits
/// of any script, so `é` or `٣` continues a term.
#[test]
fn case_folding_is_ascii_and_terms_are_unicode_runs() {
    let rows: &[(&str, &str, bool)] = &[
        // ASCII letters fold under every case-insensitive operator
        ("NETSUPPORT", "x =~ 'netsupport'", true),
        ("NETSUPPORT", "x in~ ('netsupport')", true),
        ("NETSUPPORT Manager", "x has 'netsupport'", true),
        ("NETSUPPORT", "x contains 'tsup'", true),
        // non-ASCII letters do not
        (
            "KRÄMER IT SOLUTIONS GMBH",
            "x has 'Krämer IT Solutions GmbH'",
            false,
        ),
        (
            "KRÄMER IT SOLUTIONS GMBH",
            "x =~ 'Krämer IT Solutions GmbH'",
            false,
        ),
        (
            "KRäMER IT SOLUTIONS GMBH",
            "x =~ 'Krämer IT Solutions GmbH'",
            true,
        ),
        ("ÉCOLE", "x startswith 'éc'", false),
        ("ÉCOLE", "x endswith 'OLE'", true),
        // the Kelvin sign is not the letter k
        ("\u{212A}aseya", "x in~ ('kaseya')", false),
        ("\u{212A}aseya", "x contains 'kaseya'", false),
        ("\u{212A}aseya", "x contains 'aseya'", true),
        // a Unicode letter or digit next to the value continues its term
        (
            "énetsupportsoftware.com",
            "x has 'netsupportsoftware.com'",
            false,
        ),
        (
            "netsupportsoftware.comé",
            "x has 'netsupportsoftware.com'",
            false,
        ),
        ("٣netsupport", "x has 'netsupport'", false),
        (
            "é.netsupportsoftware.com",
            "x has 'netsupportsoftware.com'",
            true,
        ),
        ("日本 netsupport", "x has 'netsupport'", true),
        ("énetsupport", "x hasprefix 'netsup'", false),
        ("netsupporté", "x hassuffix 'support'", false),
        // punctuation and symbols are boundaries, as in the docs' example
        ("Kusto: ad67d136-c1db;x", "x has 'c1db'", true),
        ("a—netsupport", "x has 'netsupport'", true),
    ];
    for (value, pred, want) in rows {
        let r = row(&[("x", s(value))]);
        assert_eq!(matches(pred, &r), *want, "{value:?} | where {pred}");
    }
}

#[test]
fn has_is_whole_term() {
    for (url, want) in [
        ("netsupportsoftware.com", true),
        ("www.NetSupportSoftware.com", true),
        ("a.netsupportsoftware.com.evil.net", true),
        ("xnetsupportsoftware.com", false),
        ("netsupportsoftware.community", false),
        ("", false),
    ] {
        let r = row(&[("RemoteUrl", s(url))]);
        assert_eq!(
            matches("RemoteUrl has 'netsupportsoftware.com'", &r),
            want,
            "{url}"
        );
        assert_eq!(
            matches("RemoteUrl has_any ('netsupportsoftware.com', 'nope')", &r),
            want,
            "{url}"
        );
        assert_eq!(
            matches("RemoteUrl !has 'netsupportsoftware.com'", &r),
            !want,
            "{url}"
        );
    }
}

#[test]
fn nulls_follow_the_docs() {
    let r = row(&[]);
    assert!(!matches("RemotePort == 443", &r));
    assert!(matches("RemotePort != 443", &r));
    assert!(matches("not(RemotePort == 443)", &r));
    assert!(!matches("RemotePort > 3", &r));
    assert!(!matches("not(RemotePort > 3)", &r));
    // strings are never null
    assert!(matches("Name == ''", &r));
    assert!(matches("not(Name has 'x')", &r));
    assert!(matches("isempty(Name)", &r));
}

/// "The string data type doesn't support null values" (learn.microsoft.com/kusto/query/
/// scalar-data-types/null-values): an absent, a null and an empty `DeviceName` (a string
/// column of DeviceNetworkEvents) are one group; an absent and a null `RemotePort` (int)
/// are null, and one group of their own.
#[test]
fn missing_and_null_strings_are_one_empty_group() {
    let q = parse("DeviceNetworkEvents | summarize Count=count() by DeviceName").unwrap();
    let rows = vec![
        row(&[]),
        row(&[("DeviceName", Value::Null)]),
        row(&[("DeviceName", s(""))]),
        row(&[("DeviceName", s("a"))]),
    ];
    let out = run(&q, &rows, 0).unwrap();
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[0]["DeviceName"], s(""));
    assert_eq!(out[0]["Count"], Value::Long(3));
    let q = parse("DeviceNetworkEvents | summarize Count=count() by RemotePort").unwrap();
    let rows = vec![
        row(&[]),
        row(&[("RemotePort", Value::Null)]),
        row(&[("RemotePort", Value::Long(443))]),
    ];
    let out = run(&q, &rows, 0).unwrap();
    assert_eq!(out.len(), 2, "{out:?}");
    assert!(out
        .iter()
        .any(|r| r["RemotePort"] == Value::Null && r["Count"] == Value::Long(2)));
    // where and project read the same value
    let q = parse(
        "DeviceNetworkEvents | where DeviceName == '' and isempty(DeviceName) | project DeviceName",
    )
    .unwrap();
    let out = run(&q, &[row(&[("DeviceName", Value::Null)])], 0).unwrap();
    assert_eq!(out, vec![row(&[("DeviceName", s(""))])]);
}

/// `ipv4_is_in_range`: "`null`: If conversion for one of the two IPv4 strings wasn't
/// successful" (learn.microsoft.com/kusto/query/ipv4-is-in-range-function); null == true
/// is false ("Applying the equality operator to a null value and a non-null value yields
/// bool(false)", scalar-data-types/null-values), so `not(… == true)` keeps the row.
#[test]
fn ipv4_ranges_and_their_nulls() {
    let rows: &[(&str, Value, bool)] = &[
        // (address, ipv4_is_in_range(x, '10.20.0.0/16'), not(… == true) keeps the row)
        ("10.20.0.1", Value::Bool(true), false),
        ("10.20.255.255", Value::Bool(true), false),
        ("10.21.0.0", Value::Bool(false), true),
        // not convertible: an IPv6 address, no address, a leading zero (undocumented;
        // the strict reading, see `ipv4`)
        ("2001:db8::1", Value::Null, true),
        ("", Value::Null, true),
        ("010.20.0.1", Value::Null, true),
        ("10.20.0.01", Value::Null, true),
        ("10.20.0.256", Value::Null, true),
    ];
    for (ip, want, kept) in rows {
        let r = row(&[("x", s(ip))]);
        let q = parse("T | project v = ipv4_is_in_range(x, '10.20.0.0/16')").unwrap();
        let out = run(&q, std::slice::from_ref(&r), 0).unwrap();
        assert_eq!(&out[0]["v"], want, "{ip}");
        assert_eq!(
            matches("not(ipv4_is_in_range(x, '10.20.0.0/16') == true)", &r),
            *kept,
            "{ip}"
        );
        // without `== true` the null drops the row: what the backend must not emit
        if *want == Value::Null {
            assert!(
                !matches("not(ipv4_is_in_range(x, '10.20.0.0/16'))", &r),
                "{ip}"
            );
        }
    }
}

#[test]
fn lists_lets_and_ranges() {
    let q = parse("let ips = dynamic(['95.85.246.53']);\nT | where RemoteIP in (ips) or ipv4_is_in_range(RemoteIP, '10.0.0.0/8')").unwrap();
    let rows = vec![
        row(&[("RemoteIP", s("95.85.246.53"))]),
        row(&[("RemoteIP", s("10.9.8.7"))]),
        row(&[("RemoteIP", s("11.0.0.1"))]),
        row(&[("RemoteIP", s("095.85.246.53"))]),
    ];
    assert_eq!(run(&q, &rows, 0).unwrap().len(), 2);
    let r = row(&[("a", s("SchTasks.exe"))]);
    assert!(matches("a in~ ('schtasks.exe')", &r));
    assert!(!matches("a in ('schtasks.exe')", &r));
    assert!(matches("a !in ('schtasks.exe')", &r));
}

/// The incremental summarize keeps what folding the group's rows at once gave:
/// `min` the first of equal values and `max` the last (`Iterator::min_by` / `max_by`),
/// `make_set` first-seen order with `==` as equality, nulls skipped (counted by count()).
#[test]
fn summarize_folds_like_the_whole_group() {
    let q = parse("T | summarize Lo=min(x), Hi=max(x), S=make_set(x), D=dcount(x), C=count() by k")
        .unwrap();
    let rows: Vec<Row> = [
        Value::Long(0),
        Value::Long(1),
        Value::Null,
        Value::Real(0.0),
        Value::Real(1.0),
        Value::Real(0.0),
    ]
    .into_iter()
    .map(|x| row(&[("k", s("a")), ("x", x)]))
    .collect();
    let out = run(&q, &rows, 0).unwrap();
    assert_eq!(out.len(), 1);
    // Long(0) and Real(0.0) order as equal: the first is the min; likewise the last 1 the max
    assert_eq!(out[0]["Lo"], Value::Long(0));
    assert_eq!(out[0]["Hi"], Value::Real(1.0));
    assert_eq!(
        out[0]["S"],
        Value::Dynamic(vec![
            Value::Long(0),
            Value::Long(1),
            Value::Real(0.0),
            Value::Real(1.0)
        ])
    );
    assert_eq!(out[0]["D"], Value::Long(4));
    assert_eq!(out[0]["C"], Value::Long(6));
}

#[test]
fn time_window_and_summarize() {
    const DAY: i128 = 86_400_000_000_000;
    let now = 100 * DAY;
    let q = parse(
        "let Time_start = now(-5d);\nlet Time_end = now();\nT\n| where Timestamp between (Time_start..Time_end)\n| summarize FirstSeen=min(Timestamp), LastSeen=max(Timestamp), Report=make_set(ReportId), Count=count() by DeviceName",
    )
    .unwrap();
    let ev = |d: i128, dev: &str, id: i64| {
        row(&[
            ("Timestamp", Value::DateTime(now - d * DAY)),
            ("DeviceName", s(dev)),
            ("ReportId", Value::Long(id)),
        ])
    };
    let rows = vec![
        ev(1, "a", 1),
        ev(2, "a", 2),
        ev(2, "a", 2),
        ev(6, "a", 3),
        ev(1, "b", 4),
    ];
    let out = run(&q, &rows, now).unwrap();
    assert_eq!(out.len(), 2);
    assert_eq!(out[0]["DeviceName"], s("a"));
    assert_eq!(out[0]["Count"], Value::Long(3));
    assert_eq!(out[0]["FirstSeen"], Value::DateTime(now - 2 * DAY));
    assert_eq!(
        out[0]["Report"],
        Value::Dynamic(vec![Value::Long(1), Value::Long(2)])
    );
}

/// What the leading `where` stages decide for `row`, bound once (`Stream::keep`), and what the
/// unbound walk (`Env::eval`, names looked up per row) decides: the same, or the test fails.
fn keep_bound_and_unbound(query: &str, r: &Row) -> bool {
    let q = parse(query).unwrap();
    let s = Stream::new(&q, 0).unwrap();
    let bound = s.keep(r).unwrap();
    let unbound = q
        .ops
        .iter()
        .take_while(|o| matches!(o, Op::Where(_)))
        .all(|o| match o {
            Op::Where(e) => s.env.eval(e, r).unwrap().truth() == Some(true),
            _ => unreachable!(),
        });
    assert_eq!(bound, unbound, "{query} over {r:?}");
    bound
}

/// Binding a filter's names once per query reads every name as the per-row lookup did: a
/// `let` before a column of the same name, a string column absent or null as "", a column of
/// another type (or a name the schema lacks, or any name without a schema) absent or null as
/// null.
#[test]
fn filters_bound_once_read_names_as_each_row_would() {
    let absent = row(&[]);
    let nulls = row(&[
        ("RemoteUrl", Value::Null),
        ("ReportId", Value::Null),
        ("Nope", Value::Null),
    ]);
    let set = row(&[
        ("RemoteUrl", s("a.netsupportsoftware.com")),
        ("ReportId", Value::Long(7)),
        ("Nope", s("x")),
    ]);
    let t = "DeviceNetworkEvents | where ";
    let cases: &[(&str, [bool; 3])] = &[
        // (predicate, kept for [absent, nulls, set])
        // a string column absent or null reads as ""
        ("RemoteUrl == ''", [true, true, false]),
        (
            "isempty(RemoteUrl) and not(isnull(RemoteUrl))",
            [true, true, false],
        ),
        (
            "RemoteUrl has 'netsupportsoftware.com'",
            [false, false, true],
        ),
        (
            "RemoteUrl !has 'netsupportsoftware.com'",
            [true, true, false],
        ),
        // a long column absent or null reads as null
        ("isnull(ReportId)", [true, true, false]),
        ("ReportId == 7", [false, false, true]),
        ("ReportId != 7", [true, true, false]),
        ("ReportId > 3 or true", [true, true, true]),
        ("not(ReportId > 3)", [false, false, false]),
        // a name the schema lacks: its value as it is, null when absent
        ("isnull(Nope)", [true, true, false]),
        ("Nope == 'x'", [false, false, true]),
        // `in`, `has_any`, `between`, a call and negation over bound names
        (
            "RemoteUrl in~ ('A.NETSUPPORTSOFTWARE.COM', '')",
            [true, true, true],
        ),
        (
            "RemoteUrl has_any ('nope', 'netsupportsoftware.com')",
            [false, false, true],
        ),
        ("ReportId between (1 .. 10)", [false, false, true]),
        ("-ReportId < 0", [false, false, true]),
        ("tolower(RemoteUrl) endswith '.com'", [false, false, true]),
        // a column against a string literal, bound as one node: a long column's value is
        // compared as a value (never equal to a string), absent or null as ""
        ("ReportId == '7'", [false, false, false]),
        ("ReportId != '7'", [true, true, true]),
        ("ReportId has '7'", [false, false, true]),
        ("ReportId < '8'", [false, false, true]),
        ("Nope =~ 'X'", [false, false, true]),
        // a column between known bounds (literals, `let`s below), bound as one node
        ("RemoteUrl between ('a' .. 'b')", [false, false, true]),
        ("RemoteUrl between ('' .. 'b')", [true, true, true]),
        ("ReportId between (7 .. 7.0)", [false, false, true]),
        ("Nope between ('x' .. 'x')", [false, false, true]),
        // and, or, not over such nodes (decided without building values), with nulls
        ("not(ReportId < '8')", [false, false, false]),
        (
            "not(ReportId < '8') or RemoteUrl == ''",
            [true, true, false],
        ),
        (
            "ReportId < '8' or not(RemoteUrl has 'x')",
            [true, true, true],
        ),
        (
            "ReportId < '8' and RemoteUrl has 'netsupport'",
            [false, false, false],
        ),
        (
            "not(ReportId < '0' and RemoteUrl !has 'x') and not(Nope between ('a' .. 'b'))",
            [false, false, true],
        ),
        ("RemoteUrl has 'a' or ReportId == 7", [false, false, true]),
        (
            "not(RemoteUrl has 'b' or ReportId between (0 .. 1))",
            [false, false, true],
        ),
    ];
    for (pred, want) in cases {
        let query = format!("{t}{pred}");
        for (r, want) in [&absent, &nulls, &set].into_iter().zip(want) {
            assert_eq!(
                keep_bound_and_unbound(&query, r),
                *want,
                "{query} over {r:?}"
            );
        }
    }
    // a `let` shadows the column of its name, whatever the row holds, in every stage
    let q = "let RemoteUrl = 'x.netsupportsoftware.com';\nlet ReportId = 5;\nDeviceNetworkEvents | where RemoteUrl has 'netsupportsoftware.com' | where ReportId == 5";
    for r in [&absent, &nulls, &set] {
        assert!(keep_bound_and_unbound(q, r), "{r:?}");
    }
    // a window between `let`s, and a `let` against a string literal (not a column: no
    // single node)
    let q = "let lo = 5;\nlet hi = now();\nlet u = 'a.netsupportsoftware.com';\nDeviceNetworkEvents | where ReportId between (lo .. 9) and Timestamp between (ago(1d) .. hi) or u has 'x'";
    let mut r = set.clone();
    r.insert("Timestamp".into(), Value::DateTime(-5));
    assert!(keep_bound_and_unbound(q, &r));
    r.insert("Timestamp".into(), Value::DateTime(5));
    assert!(!keep_bound_and_unbound(q, &r));
    assert!(!keep_bound_and_unbound(q, &absent));
    // a `let` naming a list, read by `in`
    let q = "let urls = dynamic(['a.netsupportsoftware.com']);\nDeviceNetworkEvents | where RemoteUrl in (urls)";
    assert!(keep_bound_and_unbound(q, &set));
    assert!(!keep_bound_and_unbound(q, &absent));
    // without a schema (table T) no column is known to be a string: absent or null is null,
    // and null == '' holds only by `equal`'s rule for strings
    for (pred, want) in [
        ("isnull(RemoteUrl)", [true, true, false]),
        ("RemoteUrl == ''", [true, true, false]),
        ("isnotnull(ReportId)", [false, false, true]),
    ] {
        let query = format!("T | where {pred}");
        for (r, want) in [&absent, &nulls, &set].into_iter().zip(want) {
            assert_eq!(
                keep_bound_and_unbound(&query, r),
                want,
                "{query} over {r:?}"
            );
        }
    }
    // an error in a bound stage is placed at that stage, as before
    let q = parse("T\n| where x == 1\n| where unknown_fn(x)").unwrap();
    let s = Stream::new(&q, 0).unwrap();
    let e = s.keep(&row(&[("x", Value::Long(1))])).unwrap_err();
    assert_eq!(e.message, "unsupported function unknown_fn()");
    assert_eq!(e.at, q.spans.get(1).copied());
}

/// `has` finds candidate windows by the needle's first byte (either ASCII case) and stops at
/// the first whole term: the same answers as trying every window.
#[test]
fn has_by_first_byte_is_has_by_every_window() {
    use proptest::prelude::*;
    fn every_window(hay: &str, needle: &str, cs: bool) -> Vec<(Option<char>, Option<char>)> {
        let (h, n) = (hay.as_bytes(), needle.as_bytes());
        if n.is_empty() || n.len() > h.len() {
            return Vec::new();
        }
        (0..=h.len() - n.len())
            .filter(|&i| {
                let w = &h[i..i + n.len()];
                if cs {
                    w == n
                } else {
                    w.eq_ignore_ascii_case(n)
                }
            })
            .map(|i| {
                (
                    hay[..i].chars().next_back(),
                    hay[i + n.len()..].chars().next(),
                )
            })
            .collect()
    }
    let text = "[aAbB.é É٣ -]{0,12}";
    proptest!(ProptestConfig::with_cases(4000), |(hay in text, needle in "[aAbB.é É٣ -]{0,4}", cs: bool)| {
        let got: Vec<_> = occurrences(&hay, &needle, cs).collect();
        prop_assert_eq!(got, every_window(&hay, &needle, cs));
    });
}

/// Groups are told apart without their keys' `Debug` texts but come out in those texts' order,
/// as a map keyed by them held them; `make_set` tells values apart as `==` does.
#[test]
fn groups_and_sets_keep_their_debug_text_order_and_equality() {
    let q = parse("T | summarize C=count(), S=make_set(x), D=dcount(x) by k, j").unwrap();
    let keys = [
        s("b"),
        s("a\"q"),
        s("a\\q"),
        s(""),
        s("é"),
        s("Long(1)"),
        Value::Long(1),
        Value::Long(-1),
        Value::Null,
        Value::Bool(true),
        Value::DateTime(5),
        Value::Timespan(5),
        Value::Real(1.0),
        Value::Dynamic(vec![s("a")]),
    ];
    let xs = [
        Value::Long(1),
        s("1"),
        Value::DateTime(1),
        Value::Timespan(1),
        Value::Null,
        Value::Long(1),
        s("Long(1)"),
        Value::Bool(false),
    ];
    let mut rows = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        for (n, x) in xs.iter().enumerate().take(1 + i % xs.len()) {
            let mut r = row(&[("k", k.clone()), ("x", x.clone())]);
            if n % 2 == 1 {
                r.insert("j".into(), s("j"));
            }
            rows.push(r);
        }
    }
    let out = run(&q, &rows, 0).unwrap();
    // the reference: groups keyed by the `Debug` texts (absent `j` is null: no schema), sets
    // by `==`
    let mut want: BTreeMap<Vec<String>, (i64, Vec<Value>)> = BTreeMap::new();
    for r in &rows {
        let key = ["k", "j"].map(|c| {
            let v = r.get(c).cloned().unwrap_or(Value::Null);
            format!("{:?}", if v == Value::Null { s("") } else { v })
        });
        let g = want.entry(key.to_vec()).or_default();
        g.0 += 1;
        if r["x"] != Value::Null && !g.1.contains(&r["x"]) {
            g.1.push(r["x"].clone());
        }
    }
    let got: Vec<_> = out
        .iter()
        .map(|r| {
            let key = ["k", "j"].map(|c| format!("{:?}", r[c])).to_vec();
            let (Value::Long(c), Value::Dynamic(set), Value::Long(d)) = (&r["C"], &r["S"], &r["D"])
            else {
                panic!("{r:?}")
            };
            assert_eq!(*d as usize, set.len());
            (key, (*c, set.clone()))
        })
        .collect();
    assert_eq!(got, want.into_iter().collect::<Vec<_>>());
    assert!(got.len() > keys.len());
}
