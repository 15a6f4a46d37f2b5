//! A Sigma rule's filter in a stream: sigma-rust's `Event` built from references to the
//! decoded values the rule can read (no clone of the decoded event), and sigma-rust's verdict
//! remembered for each distinct set of those values, so that a line whose values were seen
//! before is not matched again (exports repeat the few values a rule reads: hostnames,
//! images, event codes).
//!
//! sigma-rust's `Rule::is_match` is a function of the event alone (no clock, no state kept
//! between calls), so the same values give the same verdict. A field selection reads the
//! event only through `Event::get(name)`, which looks at the top-level key `name` and, for a
//! dotted name, at the key before its first dot (then below it): the rule's own projection
//! ([`Projection::new`] of its fields) names every such key. Keyword selections read every
//! value and `fieldref` reads fields named by values: such rules get every decoded key and
//! no memo.

use super::project::Projection;
use super::rule::Rule;
use super::Event;
use crate::eval::keys::get;
use serde_json::Value;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};

/// How many bytes of remembered values one rule's memo may hold before it is emptied.
const MEMO_BYTES: usize = 64 * 1024;
/// Values longer than this (in bytes, all of a line's together) are matched, not remembered.
const MEMO_KEY_BYTES: usize = 1024;
/// What an entry costs besides its strings (its slot, vector and `Value`s), for the budget.
const ENTRY_BYTES: usize = 96;
/// The memo's hit rate is judged over this many lines: under a quarter, remembering costs
/// more than it saves (hashing and keeping each line's values), and the memo rests for
/// [`MEMO_REST`] lines (then starts empty).
const MEMO_WINDOW: u32 = 4096;
const MEMO_REST: u32 = 61440;

/// The filter side of one Sigma rule in one worker.
pub(super) struct SigmaFilter<'q> {
    rule: &'q sigma_rust::Rule,
    /// The top-level keys sigma-rust can read, or `None` for every key (keywords, fieldref).
    keys: Option<Vec<String>>,
    memo: Memo,
    /// sigma-rust's event of the last line matched, filled again for the next.
    last: Reused,
}

impl<'q> SigmaFilter<'q> {
    pub(super) fn new(rule: &'q Rule, sigma: &'q sigma_rust::Rule) -> SigmaFilter<'q> {
        // a fieldref value may be a number, which `rule.fields` does not hold as a name
        let reads_any =
            rule.reads_all || matches!(&rule.query, super::rule::Query::Sigma(q) if q.fieldref);
        let keys = (!reads_any).then(|| {
            Projection::new(rule.fields.iter().map(String::as_str), false)
                .keys
                .into_iter()
                .map(|(k, _)| k)
                .collect()
        });
        SigmaFilter {
            rule: sigma,
            keys,
            memo: Memo::default(),
            last: Reused::default(),
        }
    }

    /// Does sigma-rust find the rule's detection in `ev` (the decoded event)?
    pub(super) fn is_match(&mut self, ev: &Event) -> Result<bool, String> {
        let Some(keys) = &self.keys else {
            return Ok(self.rule.is_match(&sigma_event(ev.iter())?));
        };
        // the event's few keys are scanned, not hashed (SipHash) per rule key
        if !self.memo.open() {
            let e = self.last.fill(keys.iter().map(|k| (k, get(ev, k))))?;
            return Ok(self.rule.is_match(e));
        }
        let vals: Vec<Option<&Value>> = keys.iter().map(|k| get(ev, k)).collect();
        let hash = self.memo.hash(&vals);
        if let Some(hit) = self.memo.get(hash, &vals) {
            self.memo.hits += 1;
            return Ok(hit);
        }
        let e = self.last.fill(keys.iter().zip(vals.iter().copied()))?;
        let hit = self.rule.is_match(e);
        self.memo.insert(hash, &vals, hit);
        Ok(hit)
    }
}

/// sigma-rust's event of the previous line, kept so that the next line with the same keys
/// present only replaces its values: sigma-rust's `Event` has no way to remove a key or to
/// be sized up front, so a new one per line cost a table allocated, grown and freed.
#[derive(Default)]
struct Reused {
    event: Option<sigma_rust::Event>,
    /// Which of the rule's keys `event` holds (all it holds).
    held: Vec<bool>,
}

impl Reused {
    /// The event of these keys and values (`None`: absent), as [`sigma_event`] builds it:
    /// when the keys present are the ones held and every value is a scalar, each is inserted
    /// over the last line's (the same keys, all replaced); otherwise built anew.
    fn fill<'a>(
        &mut self,
        kvs: impl Iterator<Item = (&'a String, Option<&'a Value>)> + Clone,
    ) -> Result<&sigma_rust::Event, String> {
        let same = kvs
            .clone()
            .map(|(_, v)| v.is_some())
            .eq(self.held.iter().copied());
        let filled = match &mut self.event {
            Some(e) if same => kvs
                .clone()
                .all(|(k, v)| v.is_none_or(|v| insert_scalar(e, k, v))),
            _ => false,
        };
        if !filled {
            let e = sigma_event(kvs.clone().filter_map(|(k, v)| Some((k, v?))))?;
            self.held.clear();
            self.held.extend(kvs.map(|(_, v)| v.is_some()));
            self.event = Some(e);
        }
        self.event
            .as_ref()
            .ok_or_else(|| "sigma-rust's event was not built".to_string())
    }
}

/// Inserts `v` under `k` as `sigma_rust::Event::try_from` converts it (`EventValue::try_from`:
/// `BaseValue::try_from`, whose numbers are an i64 if they fit, else a u64, else an f64);
/// `false` (nothing inserted) for an array or object, which only sigma-rust can convert.
fn insert_scalar(e: &mut sigma_rust::Event, k: &str, v: &Value) -> bool {
    match v {
        Value::Null => e.insert(k, None::<i32>),
        Value::Bool(b) => e.insert(k, *b),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => e.insert(k, i),
            (None, Some(u), _) => e.insert(k, u),
            (None, None, Some(x)) => e.insert(k, x),
            (None, None, None) => return false,
        },
        Value::String(s) => e.insert(k, s.as_str()),
        Value::Array(_) | Value::Object(_) => return false,
    }
    true
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
        if !insert_scalar(&mut e, k, v) {
            return whole(kvs);
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

/// Are `a` and `b` the same to sigma-rust? serde_json's `==` holds `0.0` and `-0.0` equal,
/// which sigma-rust prints apart (`0`, `-0`): numbers are compared by kind and bits.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if x.is_f64() || y.is_f64() {
                x.is_f64()
                    && y.is_f64()
                    && x.as_f64().map(f64::to_bits) == y.as_f64().map(f64::to_bits)
            } else {
                x == y
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn same_vals(stored: &[Option<Value>], vals: &[Option<&Value>]) -> bool {
    stored.len() == vals.len()
        && stored.iter().zip(vals).all(|(s, v)| match (s, v) {
            (Some(s), Some(v)) => same(s, v),
            (None, None) => true,
            _ => false,
        })
}

/// About how many bytes a value holds (its strings, keys and nodes).
fn weight(v: &Value) -> usize {
    match v {
        Value::String(s) => s.len() + 24,
        Value::Array(a) => a.iter().map(weight).sum::<usize>() + 24,
        Value::Object(m) => m.iter().map(|(k, v)| k.len() + weight(v)).sum::<usize>() + 64,
        _ => 8,
    }
}

/// Values a rule read (one per key, `None` where the event has none) and its verdict on them.
type Entry = (Box<[Option<Value>]>, bool);

/// Verdicts by the values they were reached on, under a hash of them (random keys, so lines
/// cannot be written to collide); emptied when it holds [`MEMO_BYTES`].
#[derive(Default)]
struct Memo {
    state: RandomState,
    slots: HashMap<u64, Vec<Entry>, BuildHasherDefault<Passed>>,
    bytes: usize,
    /// Lines looked up and found in this window.
    tries: u32,
    hits: u32,
    /// Lines left to match without the memo.
    rest: u32,
}

impl Memo {
    /// Is the memo in use for this line? Counts the line in the window, or its rest.
    fn open(&mut self) -> bool {
        if self.rest > 0 {
            self.rest -= 1;
            return false;
        }
        if self.tries == MEMO_WINDOW {
            if self.hits < MEMO_WINDOW / 4 {
                self.rest = MEMO_REST;
                self.slots.clear();
                self.bytes = 0;
            }
            (self.tries, self.hits) = (0, 0);
            if self.rest > 0 {
                return self.open();
            }
        }
        self.tries += 1;
        true
    }

    fn hash(&self, vals: &[Option<&Value>]) -> u64 {
        self.state.hash_one(vals)
    }

    fn get(&self, hash: u64, vals: &[Option<&Value>]) -> Option<bool> {
        self.slots
            .get(&hash)?
            .iter()
            .find(|(stored, _)| same_vals(stored, vals))
            .map(|&(_, hit)| hit)
    }

    fn insert(&mut self, hash: u64, vals: &[Option<&Value>], hit: bool) {
        let size = vals.iter().flatten().map(|v| weight(v)).sum::<usize>() + ENTRY_BYTES;
        if size > MEMO_KEY_BYTES {
            return;
        }
        if self.bytes + size > MEMO_BYTES {
            self.slots.clear();
            self.bytes = 0;
        }
        self.bytes += size;
        let stored = vals.iter().map(|v| v.cloned()).collect();
        self.slots.entry(hash).or_default().push((stored, hit));
    }
}

/// A hasher for keys that are hashes already.
#[derive(Default)]
struct Passed(u64);

impl Hasher for Passed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
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

    /// Each event through one filter in turn (so repeats are answered by the memo), checked
    /// against sigma-rust on the whole event; the verdicts.
    fn run(r: &Rule, events: &[Value]) -> Vec<bool> {
        let mut f = SigmaFilter::new(r, sigma(r));
        events
            .iter()
            .map(|v| {
                let ev = event(v.clone());
                let got = f.is_match(&ev).unwrap();
                assert_eq!(got, reference(r, &ev), "{v}");
                // asked again: the memo's answer
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

    #[test]
    fn the_memo_stays_within_its_budget_and_rests_when_it_misses() {
        let r = rule("  sel:\n    DestinationHostname|endswith: 7.com\n  condition: sel\n");
        let mut f = SigmaFilter::new(&r, sigma(&r));
        // distinct values: the memo fills, is emptied, then rests after its window
        let window = MEMO_WINDOW as usize;
        for i in 0..window + 10 {
            let ev = event(json!({ "DestinationHostname": format!("host{i}.com") }));
            assert_eq!(f.is_match(&ev).unwrap(), i % 10 == 7);
            assert!(f.memo.bytes <= MEMO_BYTES);
            assert_eq!(f.memo.rest > 0, i >= window, "{i}");
        }
        assert_eq!(f.memo.bytes, 0);
        // resting, then open again: repeated values are remembered
        let rest = f.memo.rest as usize;
        for i in 0..rest + window + 10 {
            let ev = event(json!({ "DestinationHostname": format!("host{}.com", i % 10) }));
            assert_eq!(f.is_match(&ev).unwrap(), i % 10 == 7);
        }
        assert_eq!(f.memo.rest, 0);
        assert!(f.memo.hits > 0);
        assert!(f.memo.bytes > 0);
        // a value too long to remember is matched each time
        let long = "x".repeat(MEMO_KEY_BYTES);
        let ev = event(json!({ "DestinationHostname": format!("{long}7.com") }));
        let before = f.memo.bytes;
        assert!(f.is_match(&ev).unwrap());
        assert_eq!(f.memo.bytes, before);
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
        /// The event filled over the last line's is sigma-rust's own conversion of the line's
        /// keys, whichever keys were present before and whatever their values.
        #[test]
        fn a_reused_event_is_sigma_rusts_conversion(evs in events()) {
            let keys: Vec<String> = ["A", "B", "B.a", "C"].map(String::from).into();
            let mut last = Reused::default();
            for v in evs {
                let ev = event(v);
                let got = last.fill(keys.iter().map(|k| (k, ev.get(k)))).unwrap();
                let want: Event = keys
                    .iter()
                    .filter_map(|k| Some((k.clone(), ev.get(k)?.clone())))
                    .collect();
                assert_same(got, &sigma_rust::Event::try_from(Value::Object(want)).unwrap());
            }
        }

        /// Over streams with repeated values, every verdict is sigma-rust's on the whole event.
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
