//! A Sigma rule's filter in a stream: sigma-rust's `Event` built from references to the
//! decoded values the rule can read (no clone of the decoded event).
//!
//! A field selection reads the
//! event only through `Event::get(name)`, which looks at the top-level key `name` and, for a
//! dotted name, at the key before its first dot (then below it): the rule's own projection
//! ([`Projection::new`] of its fields) names every such key. Keyword selections read every
//! value and `fieldref` reads fields named by values: such rules get every decoded key.

use super::project::Projection;
use super::rule::Rule;
use super::Event;
use serde_json::Value;

/// The filter side of one Sigma rule in one worker.
pub(super) struct SigmaFilter<'q> {
    rule: &'q sigma_rust::Rule,
    /// The top-level keys sigma-rust can read, or `None` for every key (keywords, fieldref).
    keys: Option<Vec<String>>,
}

impl<'q> SigmaFilter<'q> {
    pub(super) fn new(rule: &'q Rule, sigma: &'q sigma_rust::Rule) -> SigmaFilter<'q> {
        let reads_any = rule.reads_all || uses_fieldref(rule);
        let keys = (!reads_any).then(|| {
            Projection::new(rule.fields.iter().map(String::as_str), false)
                .keys
                .into_iter()
                .map(|(k, _)| k)
                .collect()
        });
        SigmaFilter { rule: sigma, keys }
    }

    /// Does sigma-rust find the rule's detection in `ev` (the decoded event)?
    pub(super) fn is_match(&self, ev: &Event) -> Result<bool, String> {
        let Some(keys) = &self.keys else {
            return Ok(self.rule.is_match(&sigma_event(ev.iter())?));
        };
        let e = sigma_event(keys.iter().filter_map(|k| ev.get_key_value(k)))?;
        Ok(self.rule.is_match(&e))
    }
}

/// Does a detection key of the rule carry the `fieldref` modifier (its value names another
/// field, which sigma-rust reads from the event)? sigma-rust reads modifiers case-insensitively.
fn uses_fieldref(rule: &Rule) -> bool {
    let super::rule::Query::Sigma(q) = &rule.query else {
        return false;
    };
    fn walk(v: &serde_yaml::Value) -> bool {
        match v {
            serde_yaml::Value::Mapping(m) => m.iter().any(|(k, v)| {
                k.as_str().is_some_and(|k| {
                    k.split('|')
                        .skip(1)
                        .any(|m| m.eq_ignore_ascii_case("fieldref"))
                }) || walk(v)
            }),
            serde_yaml::Value::Sequence(s) => s.iter().any(walk),
            _ => false,
        }
    }
    q.doc.get("detection").is_some_and(walk)
}

/// sigma-rust's event of these keys and values: what `sigma_rust::Event::try_from` gives for
/// a JSON object of them. Scalars are inserted from references; sigma-rust does not export
/// its `EventValue`, so an event with an array or object value is converted from a JSON
/// object of clones as before.
pub(super) fn sigma_event<'a>(
    kvs: impl Iterator<Item = (&'a String, &'a Value)> + Clone,
) -> Result<sigma_rust::Event, String> {
    let mut e = sigma_rust::Event::new();
    for (k, v) in kvs.clone() {
        let k = k.as_str();
        match v {
            // `EventValue::try_from` of each: `BaseValue::try_from`, whose numbers are an
            // i64 if they fit, else a u64, else an f64
            Value::Null => e.insert(k, None::<i32>),
            Value::Bool(b) => e.insert(k, *b),
            Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => e.insert(k, i),
                (None, Some(u), _) => e.insert(k, u),
                (None, None, Some(x)) => e.insert(k, x),
                (None, None, None) => return whole(kvs),
            },
            Value::String(s) => e.insert(k, s.as_str()),
            Value::Array(_) | Value::Object(_) => return whole(kvs),
        }
    }
    Ok(e)
}

/// sigma-rust's own conversion of a JSON object of clones of these keys and values.
fn whole<'a>(
    kvs: impl Iterator<Item = (&'a String, &'a Value)>,
) -> Result<sigma_rust::Event, String> {
    let obj: serde_json::Map<String, Value> = kvs.map(|(k, v)| (k.clone(), v.clone())).collect();
    sigma_rust::Event::try_from(Value::Object(obj))
        .map_err(|e| format!("sigma-rust refuses an event: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::stream::rule::Query;
    use proptest::prelude::*;
    use serde_json::json;
    use std::path::Path;

    fn rule(detection: &str) -> Rule {
        let text = format!(
            "title: t\nlogsource:\n  category: network_connection\n  product: windows\ndetection:\n{detection}"
        );
        Rule::parse(Path::new("t.yml"), &text).unwrap_or_else(|e| panic!("{}", e.message))
    }

    fn sigma(r: &Rule) -> &sigma_rust::Rule {
        match &r.query {
            Query::Sigma(q) => &q.rule,
            _ => unreachable!("a Sigma rule"),
        }
    }

    fn event(v: Value) -> Event {
        match v {
            Value::Object(m) => m,
            _ => panic!("an object"),
        }
    }

    /// sigma-rust's verdict on the event converted whole (what the worker did before).
    fn reference(r: &Rule, ev: &Event) -> bool {
        let e = sigma_rust::Event::try_from(Value::Object(ev.clone())).unwrap();
        sigma(r).is_match(&e)
    }

    /// Each event through one filter in turn, checked against sigma-rust on the whole
    /// event; the verdicts.
    fn run(r: &Rule, events: &[Value]) -> Vec<bool> {
        let f = SigmaFilter::new(r, sigma(r));
        events
            .iter()
            .map(|v| {
                let ev = event(v.clone());
                let got = f.is_match(&ev).unwrap();
                assert_eq!(got, reference(r, &ev), "{v}");
                assert_eq!(f.is_match(&ev).unwrap(), got, "{v} again");
                got
            })
            .collect()
    }

    /// The event's keys and values by key (values compare as sigma-rust's `EventValue`s).
    fn assert_same(a: &sigma_rust::Event, b: &sigma_rust::Event) {
        let mut a: Vec<_> = a.iter().collect();
        let mut b: Vec<_> = b.iter().collect();
        a.sort_by_key(|kv| kv.0);
        b.sort_by_key(|kv| kv.0);
        assert_eq!(a, b);
    }

    #[test]
    fn the_event_is_sigma_rusts_own_conversion() {
        let ev = event(json!({
            "s": "Text", "i": -3, "u": 18446744073709551615u64, "f": 2.5, "z": -0.0,
            "t": true, "n": null, "a": [1, "x", null], "o": {"p": {"q": "r"}, "l": [{}]}
        }));
        let want = sigma_rust::Event::try_from(Value::Object(ev.clone())).unwrap();
        assert_same(&sigma_event(ev.iter()).unwrap(), &want);
        // scalars alone are inserted from references
        let flat: Event = ev
            .iter()
            .filter(|(_, v)| !v.is_array() && !v.is_object())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let want = sigma_rust::Event::try_from(Value::Object(flat.clone())).unwrap();
        assert_same(&sigma_event(flat.iter()).unwrap(), &want);
    }

    #[test]
    fn keywords_search_every_value() {
        let r = rule("  keywords:\n    - '*netsupport*'\n  condition: keywords\n");
        assert!(r.reads_all);
        let f = SigmaFilter::new(&r, sigma(&r));
        assert!(f.keys.is_none());
        let got = run(
            &r,
            &[
                json!({"Other": "www.NetSupportSoftware.com"}),
                json!({"Other": "www.example.com"}),
                json!({"Other": "www.example.com", "More": "netsupport"}),
                json!({"Other": "www.NetSupportSoftware.com"}),
            ],
        );
        assert_eq!(got, [true, false, true, true]);
    }

    #[test]
    fn a_field_absent_or_null() {
        let r = rule("  sel:\n    DestinationHostname|exists: true\n  condition: sel\n");
        let got = run(
            &r,
            &[
                json!({"DestinationHostname": null}),
                json!({}),
                json!({"DestinationHostname": null, "Other": 1}),
                json!({"Other": 1}),
            ],
        );
        assert_eq!(got, [true, false, true, false]);
        let r = rule("  sel:\n    DestinationHostname: null\n  condition: sel\n");
        let got = run(
            &r,
            &[
                json!({"DestinationHostname": null}),
                json!({}),
                json!({"DestinationHostname": ""}),
                json!({"DestinationHostname": null}),
            ],
        );
        assert_eq!(got, [true, false, false, true]);
        let r =
            rule("  sel:\n    DestinationHostname|contains: netsupport\n  condition: not sel\n");
        let got = run(
            &r,
            &[
                json!({}),
                json!({"DestinationHostname": null}),
                json!({"DestinationHostname": "netsupport"}),
            ],
        );
        assert_eq!(got, [true, true, false]);
    }

    #[test]
    fn a_number_matched_as_string() {
        let r = rule("  sel:\n    DestinationPort: '443'\n  condition: sel\n");
        let got = run(
            &r,
            &[
                json!({"DestinationPort": 443}),
                json!({"DestinationPort": "443"}),
                json!({"DestinationPort": 443.0}),
                json!({"DestinationPort": 4430}),
                json!({"DestinationPort": 443}),
            ],
        );
        // sigma-rust prints 443.0 as 443
        assert_eq!(got, [true, true, true, false, true]);
        // a number in the rule is equal to a number only
        let r = rule("  sel:\n    DestinationPort: 443\n  condition: sel\n");
        let got = run(
            &r,
            &[
                json!({"DestinationPort": 443}),
                json!({"DestinationPort": "443"}),
                json!({"DestinationPort": 443}),
            ],
        );
        assert_eq!(got, [true, false, true]);
        // 0.0 and -0.0 are equal JSON numbers that sigma-rust prints apart
        let r = rule("  sel:\n    Value|startswith: '-'\n  condition: sel\n");
        let got = run(
            &r,
            &[
                json!({"Value": 0.0}),
                json!({"Value": -0.0}),
                json!({"Value": 0.0}),
            ],
        );
        assert_eq!(got, [false, true, false]);
    }

    #[test]
    fn case_insensitive_unless_cased() {
        let r = rule(
            "  sel:\n    DestinationHostname|contains: NetSupportSoftware.com\n  condition: sel\n",
        );
        let got = run(
            &r,
            &[
                json!({"DestinationHostname": "geo.netsupportsoftware.com"}),
                json!({"DestinationHostname": "GEO.NETSUPPORTSOFTWARE.COM"}),
                json!({"DestinationHostname": "netsupportsoftware.org"}),
                json!({"DestinationHostname": "geo.netsupportsoftware.com"}),
            ],
        );
        assert_eq!(got, [true, true, false, true]);
        let r =
            rule("  sel:\n    DestinationHostname|contains|cased: NetSupport\n  condition: sel\n");
        let got = run(
            &r,
            &[
                json!({"DestinationHostname": "geo.netsupport.com"}),
                json!({"DestinationHostname": "geo.NetSupport.com"}),
            ],
        );
        assert_eq!(got, [false, true]);
    }

    #[test]
    fn fieldref_reads_the_field_named() {
        let r =
            rule("  sel:\n    SourceHostname|FieldRef: DestinationHostname\n  condition: sel\n");
        let f = SigmaFilter::new(&r, sigma(&r));
        assert!(f.keys.is_none());
        let got = run(
            &r,
            &[
                json!({"SourceHostname": "a", "DestinationHostname": "a"}),
                json!({"SourceHostname": "a", "DestinationHostname": "b"}),
                json!({"SourceHostname": "a"}),
            ],
        );
        assert_eq!(got, [true, false, false]);
    }

    #[test]
    fn dotted_fields_flat_or_nested() {
        let r = rule("  sel:\n    destination.domain|endswith: .com\n  condition: sel\n");
        let got = run(
            &r,
            &[
                json!({"destination": {"domain": "a.com"}}),
                json!({"destination.domain": "a.com"}),
                json!({"destination": {"domain": "a.org"}}),
                json!({"destination": "a.com"}),
                json!({"destination": {"domain": "a.com"}}),
            ],
        );
        assert_eq!(got, [true, true, false, false, true]);
    }

    fn scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            (-3i64..300).prop_map(Value::from),
            prop_oneof![Just(0.0), Just(-0.0), Just(3.0), Just(443.5)].prop_map(|x| json!(x)),
            "[aAbB3.-]{0,4}".prop_map(Value::from),
            Just(json!("443")),
            Just(json!("B.a")),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        scalar().prop_recursive(2, 6, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                prop::collection::btree_map("[ab]", inner, 0..3)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn events() -> impl Strategy<Value = Vec<Value>> {
        let ev = prop::collection::btree_map(
            prop_oneof![Just("A"), Just("B"), Just("B.a"), Just("C")],
            value(),
            0..4,
        )
        .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()));
        prop::collection::vec(ev, 1..24)
    }

    proptest! {
        /// Over streams of events, every verdict is sigma-rust's on the whole event.
        #[test]
        fn verdicts_are_sigma_rusts(evs in events()) {
            for det in [
                "  sel:\n    A|contains: a\n  condition: sel\n",
                "  sel:\n    A: '443'\n    B.a|startswith: '-'\n  condition: sel\n",
                "  s1:\n    A: 3\n  s2:\n    B|exists: false\n  condition: s1 or not s2\n",
                "  sel:\n    - A|re: ^[a-z]+$\n    - C: null\n  condition: sel\n",
                "  sel:\n    B.a: B.a\n  condition: sel\n",
                "  k:\n    - 'b*'\n  condition: k\n",
                "  sel:\n    A|fieldref: C\n  condition: sel\n",
            ] {
                run(&rule(det), &evs);
            }
        }
    }
}
