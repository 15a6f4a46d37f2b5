//! Decoding an event line: only the top-level keys some rule reads are built (the rest are
//! skipped unbuilt), as JSON or straight into a KQL row.

use super::Event;
use crate::eval::engine::kql_value;
use crate::eval::kql::interp as kinterp;
use crate::eval::time::parse_rfc3339;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use std::borrow::Cow;

/// The top-level keys to decode: every key that is one of the fields, or a leading run of
/// its dotted segments (`process.pe.company` may sit under `process`, `process.pe` or as
/// the flat key itself).
#[derive(Clone, Debug, Default)]
pub struct Projection {
    pub all: bool,
    /// Each key, with `None` when its whole value is read, or the projection of an object
    /// value when only paths below it are (`destination` for `destination.domain`).
    pub(super) keys: Vec<(String, Option<Projection>)>,
}

impl Projection {
    pub fn new<'a>(fields: impl IntoIterator<Item = &'a str>, all: bool) -> Projection {
        let fields: Vec<&str> = fields.into_iter().collect();
        let mut p = Projection::below(&fields);
        p.all = all;
        p
    }

    fn below(fields: &[&str]) -> Projection {
        let mut at: std::collections::BTreeMap<&str, (bool, Vec<&str>)> = Default::default();
        for f in fields {
            at.entry(f).or_default().0 = true;
            for (i, _) in f.match_indices('.') {
                at.entry(&f[..i]).or_default().1.push(&f[i + 1..]);
            }
        }
        Projection {
            all: false,
            keys: at
                .into_iter()
                .map(|(k, (whole, rest))| {
                    (k.to_string(), (!whole).then(|| Projection::below(&rest)))
                })
                .collect(),
        }
    }

    /// How to read `key`: `None` skip it, `Some(None)` whole, `Some(Some(p))` projected. A
    /// scan comparing lengths first: the keys are few, and most differ in length.
    fn get(&self, key: &str) -> Option<Option<&Projection>> {
        if self.all {
            return Some(None);
        }
        let b = key.as_bytes();
        self.keys
            .iter()
            .find(|(k, _)| {
                let k = k.as_bytes();
                k.len() == b.len() && k.last() == b.last() && k == b
            })
            .map(|(_, p)| p.as_ref())
    }

    fn wants(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
}

/// A value below a projected key: an object is projected; anything else is read whole.
struct Below<'p>(&'p Projection);

impl<'de> DeserializeSeed<'de> for Below<'_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Below<'_> {
    type Value = Value;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::from(n))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::from(n))
    }
    fn visit_f64<E>(self, x: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_string()))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = a.next_element::<Value>()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<Value, A::Error> {
        Projected(self.0).visit_map(m).map(Value::Object)
    }
}

/// A JSON object key, borrowed from the line when it holds no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

/// Decodes one JSON object, keeping only the keys the projection wants; the other values
/// are skipped without being built.
struct Projected<'p>(&'p Projection);

impl<'de> DeserializeSeed<'de> for Projected<'_> {
    type Value = Event;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Event, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Projected<'_> {
    type Value = Event;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("one JSON object (an event)")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Event, A::Error> {
        let mut out = Event::new();
        while let Some(Key(k)) = m.next_key()? {
            match self.0.get(&k) {
                None => {
                    m.next_value::<IgnoredAny>()?;
                }
                Some(None) => {
                    let v: Value = m.next_value()?;
                    out.insert(k.into_owned(), v);
                }
                Some(Some(p)) => {
                    let v = m.next_value_seed(Below(p))?;
                    out.insert(k.into_owned(), v);
                }
            }
        }
        Ok(out)
    }
}

/// Decode `line` as one JSON object with the projection's keys.
pub fn decode(line: &[u8], p: &Projection) -> Result<Event, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(line);
    let ev = Projected(p).deserialize(&mut de)?;
    de.end()?;
    Ok(ev)
}

/// Decodes one JSON object straight into a KQL row with the projection's keys: what
/// `kql_value` makes of each value, without building JSON values first.
struct KqlProjected<'p>(&'p Projection);

impl<'de> DeserializeSeed<'de> for KqlProjected<'_> {
    type Value = kinterp::Row;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<kinterp::Row, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for KqlProjected<'_> {
    type Value = kinterp::Row;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("one JSON object (an event)")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<kinterp::Row, A::Error> {
        let mut out = kinterp::Row::new();
        while let Some(Key(k)) = m.next_key()? {
            if self.0.wants(&k) {
                let KqlValue(v) = m.next_value()?;
                out.insert(k.into_owned(), v);
            } else {
                m.next_value::<IgnoredAny>()?;
            }
        }
        Ok(out)
    }
}

/// A JSON value read as `kql_value` reads it.
struct KqlValue(kinterp::Value);

impl<'de> de::Deserialize<'de> for KqlValue {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = KqlValue;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E>(self) -> Result<KqlValue, E> {
                Ok(KqlValue(kinterp::Value::Null))
            }
            fn visit_bool<E>(self, b: bool) -> Result<KqlValue, E> {
                Ok(KqlValue(kinterp::Value::Bool(b)))
            }
            fn visit_i64<E>(self, n: i64) -> Result<KqlValue, E> {
                Ok(KqlValue(kinterp::Value::Long(n)))
            }
            fn visit_u64<E>(self, n: u64) -> Result<KqlValue, E> {
                // as `Number::as_i64`, then `as_f64`
                Ok(KqlValue(i64::try_from(n).map_or(
                    kinterp::Value::Real(n as f64),
                    kinterp::Value::Long,
                )))
            }
            fn visit_f64<E>(self, x: f64) -> Result<KqlValue, E> {
                Ok(KqlValue(kinterp::Value::Real(x)))
            }
            fn visit_str<E>(self, s: &str) -> Result<KqlValue, E> {
                Ok(KqlValue(parse_rfc3339(s).map_or_else(
                    || kinterp::Value::Str(s.to_string()),
                    kinterp::Value::DateTime,
                )))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<KqlValue, A::Error> {
                let mut out = Vec::new();
                while let Some(KqlValue(v)) = a.next_element()? {
                    out.push(v);
                }
                Ok(KqlValue(kinterp::Value::Dynamic(out)))
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<KqlValue, A::Error> {
                let v: Value =
                    de::Deserialize::deserialize(de::value::MapAccessDeserializer::new(m))?;
                Ok(KqlValue(kql_value(&v)))
            }
        }
        d.deserialize_any(V)
    }
}

/// Decode `line` as one JSON object, straight into a KQL row with the projection's keys.
pub fn decode_kql(line: &[u8], p: &Projection) -> Result<kinterp::Row, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(line);
    let row = KqlProjected(p).deserialize(&mut de)?;
    de.end()?;
    Ok(row)
}

pub(super) fn kql_row(e: &Event) -> kinterp::Row {
    e.iter().map(|(k, v)| (k.clone(), kql_value(v))).collect()
}

/// Is the dotted `path` present in a nested JSON document (or as a flat key)?
pub fn has_path(doc: &Event, path: &str) -> bool {
    if doc.contains_key(path) {
        return true;
    }
    let mut cur = doc;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, p) in parts.iter().enumerate() {
        match cur.get(*p) {
            Some(Value::Object(m)) if i + 1 < parts.len() => cur = m,
            Some(_) if i + 1 == parts.len() => return true,
            _ => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projection_keeps_the_keys_a_dotted_path_may_sit_under() {
        let p = Projection::new(["process.pe.company", "RemoteUrl"], false);
        let ev = decode(
            br#"{"process": {"pe": {"company": "x"}}, "process.pe": 1, "RemoteUrl": "u", "Other": [1, {"a": "b"}], "processX": 2}"#,
            &p,
        )
        .unwrap();
        let keys: Vec<&str> = ev.keys().map(String::as_str).collect();
        assert_eq!(keys, ["process", "process.pe", "RemoteUrl"]);
        // below a key, only the paths read are kept
        let ev = decode(
            br#"{"process": {"pe": {"company": "x", "product": "y"}, "pe.company": "z", "name": "n", "pid": 1}}"#,
            &p,
        )
        .unwrap();
        assert_eq!(
            Value::Object(ev),
            serde_json::json!({"process": {"pe": {"company": "x"}, "pe.company": "z"}})
        );
        // a row decoded straight for KQL is what kql_value makes of the JSON values
        let line = br#"{"T": "2026-05-31T09:00:00Z", "N": 18446744073709551615, "R": 1.0, "L": -3, "A": [1, "x"], "O": {"k": null}, "S": "s", "Z": null, "B": true}"#;
        let all = Projection::new(["T", "N", "R", "L", "A", "O", "S", "Z", "B"], false);
        let direct = decode_kql(line, &all).unwrap();
        let via = kql_row(&decode(line, &all).unwrap());
        assert_eq!(direct, via);
    }
}
