//! Property tests: the fast interpreter (`interp`, and `Wild::is_match`) agrees with the
//! reference one (`reference`, the evaluator as it was before its speed work) on random
//! events, for the shipped artifacts and hand-written searches that use every command and
//! function; and the search-value fast path agrees with its regex on random patterns.
//!
//! The reference stays as a test oracle rather than giving way to verify's IR check: that
//! check runs only what rmmc emits (search, where, eval, stats, sort, table with match,
//! replace and coalesce) over events built from the spec, while `rmmc eval` also runs
//! hand-written searches, and only this test drives `fields`, `head`, `like`, `lower`,
//! `upper`, `len`, `cidrmatch`, `isnull`, `if`, `null()` and multivalue, numeric and null
//! field values through the fast interpreter.

mod reference;

use proptest::prelude::*;
use rmmc::eval::spl::{interp, parse, parser};
use serde_json::json;
use serde_json::{Map, Value};

const NOW: i128 = 1_780_315_200 * 1_000_000_000;

/// Searches: the shipped artifacts plus hand-written ones over the same field names.
fn searches() -> Vec<String> {
    let mut out: Vec<String> = [
        include_str!("../../examples/deployed/splunk/action1-netconn.spl"),
        include_str!("../../examples/deployed/splunk/netsupport-netconn.spl"),
        include_str!("../../examples/deployed/splunk/supremo-netconn.spl"),
        include_str!("../../examples/deployed/splunk/netsupport-createproc.spl"),
        include_str!("../../examples/deployed/splunk/netsupport-ioc-endpoint.spl"),
        include_str!("../../examples/deployed/splunk/netsupport-ioc-firewall.spl"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    out.extend(
        [
            "index=* a=k* b!=s c<5 NOT d>=1.5",
            "a IN (k, \"S*\", 1) OR b=* | search c=\"x y\" OR NOT a=*",
            "k s* earliest=-1d latest=now",
            "\"x y\" OR 1",
            "a=* | eval a=coalesce(a, \"\"), b=coalesce(b, 0), c=if(isnull(c), \"n\", c), d=null()",
            "* | eval e=lower(a), f=upper(b), g=len(c), h=replace(a, \"(k)\", \"<\\\\1>$\"), i=a",
            "* | where like(a, \"k%\") OR like(b, \"_\") OR match(c, \"(?i)\\\\As\") OR cidrmatch(\"10.0.0.0/8\", d)",
            "* | where a==b OR a!=c AND NOT a<\"k\" OR b>=1 | eval a=b",
            "* | where match(a, b) | eval z=replace(b, a, c)",
            "* | where isnotnull(a) | stats count count(b) min(b) max(b) values(c) dc(c) by a",
            "* | stats count as n values(a) as va min(_time) as t0 max(_time) as t1 by b c",
            "* | stats count min(a) max(c)",
            "* | sort 3 -a, +b | head 4",
            "* | sort b | table a b* _time",
            "* | fields - a, b* | fields + c, d, _time",
            "* | eval a=b, b=a | eval c=a | sort c",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    out
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (-20i64..20).prop_map(Value::from),
        prop_oneof![Just(1.5f64), Just(-0.25), Just(2.0), Just(1e20)].prop_map(Value::from),
        "[kKsSſK* .x1\\\\/é]{0,5}".prop_map(Value::from),
        prop_oneof![
            Just("10.1.2.3"),
            Just("server.action1.com"),
            Just("geo.netsupportsoftware.com"),
            Just("XmlWinEventLog:Microsoft-Windows-Sysmon/Operational"),
            Just("C:\\Program Files\\SCCMClient"),
            Just("2026-06-01T11:00:00Z"),
            Just("3"),
            Just("-4.5"),
            Just("main"),
        ]
        .prop_map(Value::from),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => scalar(),
        1 => proptest::collection::vec(scalar(), 0..3).prop_map(Value::Array),
    ]
}

const NAMES: &[&str] = &[
    "a",
    "b",
    "c",
    "d",
    "_time",
    "_raw",
    "index",
    "sourcetype",
    "EventCode",
    "DestinationHostname",
    "DestinationIp",
    "SourceIp",
    "Image",
    "host",
    "Computer",
    "RecordID",
];

fn event() -> impl Strategy<Value = Map<String, Value>> {
    proptest::collection::vec((proptest::sample::select(NAMES), value()), 0..10).prop_map(|kv| {
        let mut m = Map::new();
        for (k, v) in kv {
            m.insert(k.to_string(), v);
        }
        m
    })
}

/// A plausible matching event for the shipped netconn artifacts, so their later pipeline
/// stages are reached often.
fn netconn() -> impl Strategy<Value = Map<String, Value>> {
    (
        proptest::sample::select(
            &[
                "server.action1.com",
                "geo.netsupportsoftware.com",
                "xnetsupportsoftware.com",
                "update.nanosystems.it",
                "SUPREMOCONTROL.COM",
            ][..],
        ),
        proptest::sample::select(&["C:\\x\\setup.exe", "C:\\x\\client32.exe", "ncc.exe"][..]),
        proptest::sample::select(&["10.10.10.10", "95.1.2.3"][..]),
        0u32..4,
        0i64..3,
        event(),
    )
        .prop_map(|(d, img, ip, host, t, extra)| {
            let mut m = json!({
                "index": "main",
                "sourcetype": "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational",
                "EventCode": 3,
                "_time": 1_780_315_000 - t * 60,
                "host": format!("dev-{host}"),
                "Computer": format!("ws-{host}"),
                "RecordID": t,
                "DestinationHostname": d,
                "Image": img,
                "DestinationIp": ip,
                "SourceIp": "10.0.0.5",
            })
            .as_object()
            .cloned()
            .unwrap_or_default();
            // a few random fields overwrite the plausible ones
            for (k, v) in extra.into_iter().take(2) {
                m.insert(k, v);
            }
            m
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn fast_interpreter_agrees_with_reference(
        random in proptest::collection::vec(event(), 0..6),
        plausible in proptest::collection::vec(netconn(), 0..6),
    ) {
        let events: Vec<Map<String, Value>> = random.into_iter().chain(plausible).collect();
        for q in searches() {
            let s = parse(&q).unwrap_or_else(|e| panic!("{q}: {e}"));
            let fast = interp::run(&s.commands, &events, NOW);
            let slow = reference::run(&s.commands, &events, NOW);
            prop_assert_eq!(fast, slow, "{}", q);
        }
    }

    #[test]
    fn search_value_fast_path_agrees_with_its_regex(
        pattern in "[aAkKsSſK*.é1]{0,5}",
        subjects in proptest::collection::vec("[aAkKsSſK*.éÉ1]{0,6}", 1..8),
    ) {
        let w = parser::wild(&pattern).unwrap();
        for s in subjects.iter().chain([pattern.clone(), pattern.to_uppercase()].iter()) {
            prop_assert_eq!(w.is_match(s), w.whole.is_match(s), "{:?} on {:?}", pattern, s);
        }
    }
}
