//! Decoding an event line: only the top-level keys some rule reads are built (the rest are
//! skipped unbuilt), as JSON or straight into a KQL row.

use super::Event;
use crate::eval::engine::kql_value;
use crate::eval::keys::key_eq;
use crate::eval::kql::interp as kinterp;
use crate::eval::time::parse_rfc3339;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use simd_json::{Node, StaticNode, Tape};
use std::borrow::Cow;

/// The top-level keys to decode: every key that is one of the fields, or a leading run of
/// its dotted segments (`process.pe.company` may sit under `process`, `process.pe` or as
/// the flat key itself).
#[derive(Clone, Debug, Default)]
pub struct Projection {
    pub all: bool,
    /// Each key (in `str` order), with `None` when its whole value is read, or the projection of an object
    /// value when only paths below it are (`destination` for `destination.domain`).
    pub(super) keys: Vec<(String, Option<Projection>)>,
    /// Bit `n` set when some key is `n` bytes long (63: 63 or more), and bits of its first
    /// and last bytes (`edge_bits`): most keys of an event not wanted are told apart by
    /// these alone, before any key is compared.
    lens: u64,
    firsts: u64,
    lasts: u64,
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
        let keys: Vec<(String, Option<Projection>)> = at
            .into_iter()
            .map(|(k, (whole, rest))| (k.to_string(), (!whole).then(|| Projection::below(&rest))))
            .collect();
        let (firsts, lasts) = keys.iter().fold((0, 0), |(f, l), (k, _)| {
            let (a, b) = edge_bits(k.as_bytes());
            (f | a, l | b)
        });
        Projection {
            all: false,
            lens: keys.iter().fold(0, |m, (k, _)| m | len_bit(k.as_bytes())),
            firsts,
            lasts,
            keys,
        }
    }

    /// How to read `key`: `None` skip it, `Some(None)` whole, `Some(Some(p))` projected. A
    /// scan comparing lengths first: the keys are few, and most differ in length.
    #[inline(always)]
    fn get(&self, key: &str) -> Option<Option<&Projection>> {
        self.get_bytes(key.as_bytes())
    }

    /// `get` of a key's bytes.
    #[inline(always)]
    fn get_bytes(&self, key: &[u8]) -> Option<Option<&Projection>> {
        if self.all {
            return Some(None);
        }
        self.index_bytes(key).map(|i| self.keys[i].1.as_ref())
    }

    /// The place of `key` in `keys` (whatever `all` says).
    #[inline(always)]
    fn index(&self, key: &str) -> Option<usize> {
        self.index_bytes(key.as_bytes())
    }

    /// `index` of a key's bytes.
    #[inline(always)]
    fn index_bytes(&self, b: &[u8]) -> Option<usize> {
        if self.lens & len_bit(b) == 0 {
            return None;
        }
        let (first, last) = edge_bits(b);
        if self.firsts & first == 0 || self.lasts & last == 0 {
            return None;
        }
        self.keys.iter().position(|(k, _)| key_eq(k.as_bytes(), b))
    }

    fn wants(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
}

/// A key's bit in `Projection::lens`.
#[inline]
fn len_bit(key: &[u8]) -> u64 {
    1 << key.len().min(63)
}

/// A key's bits in `Projection::firsts` and `Projection::lasts`: its first and last bytes,
/// modulo 64 (an ASCII letter's case apart; the empty key: bit 0 of each).
fn edge_bits(b: &[u8]) -> (u64, u64) {
    let bit = |c: Option<&u8>| 1u64 << c.map_or(0, |c| c & 63);
    (bit(b.first()), bit(b.last()))
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

/// Decodes event lines through simd-json's tape first, keeping the projection's keys as
/// `decode` and `decode_kql` do, and hands every line it refuses, or might read otherwise, to
/// them: events, rows and errors stay serde_json's. One per worker: its buffers are reused.
pub struct Decoder {
    buffers: simd_json::Buffers,
    /// The line, copied: simd-json unescapes strings in place.
    scratch: Vec<u8>,
    /// The tape's nodes, kept empty between lines.
    tape: Tape<'static>,
    /// Finds `\u` escapes.
    escape: memchr::memmem::Finder<'static>,
    /// Which tapes are tried (the tests take each alone).
    tapes: Tapes,
    /// The sparse tape's unescaped strings.
    sparse: sparse::Buffers,
}

/// The tapes `Decoder::read` tries, in order, before it leaves a line to serde_json.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Tapes {
    /// The sparse tape, then simd-json's whole tape.
    #[default]
    Both,
    /// The sparse tape alone.
    #[cfg_attr(not(test), allow(dead_code))]
    Sparse,
    /// simd-json's whole tape alone.
    #[cfg_attr(not(test), allow(dead_code))]
    Whole,
}

impl Default for Decoder {
    fn default() -> Decoder {
        Decoder {
            buffers: simd_json::Buffers::new(4096),
            scratch: Vec::with_capacity(4096),
            tape: Tape(Vec::new()),
            escape: memchr::memmem::Finder::new(b"\\u"),
            tapes: Tapes::Both,
            sparse: sparse::Buffers::default(),
        }
    }
}

/// Kept values nested this deep (the event object counts) go to serde_json, which refuses
/// 128 levels.
const MAX_DEPTH: usize = 100;

impl Decoder {
    /// What `decode` gives.
    pub fn decode(&mut self, line: &[u8], p: &Projection) -> Result<Event, serde_json::Error> {
        match self.tape_event(line, p) {
            Some(ev) => Ok(ev),
            None => decode(line, p),
        }
    }

    /// What `decode` gives, written over `ev` (in a stream, the previous line's event): where
    /// the line's kept keys are `ev`'s, in order, each value is written in place, a string
    /// into the buffer there. On an error `ev` is left empty.
    pub fn decode_into(
        &mut self,
        line: &[u8],
        p: &Projection,
        ev: &mut Event,
    ) -> Result<(), serde_json::Error> {
        if self
            .read(line, p, true, |t| tape_object_over(t, p, 1, ev))
            .is_none()
        {
            match decode(line, p) {
                Ok(e) => *ev = e,
                Err(e) => {
                    ev.clear();
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// What `decode_kql` gives, written over `row` (in a stream, the previous line's row):
    /// where the line has a key `row` has, the key's string, and a string value's buffer, are
    /// kept rather than allocated again. On an error `row` is left empty.
    pub fn decode_kql_into(
        &mut self,
        line: &[u8],
        p: &Projection,
        row: &mut kinterp::Row,
    ) -> Result<(), serde_json::Error> {
        if self.tape_kql_into(line, p, row).is_none() {
            match decode_kql(line, p) {
                Ok(r) => *row = r,
                Err(e) => {
                    row.clear();
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// `tape_kql` written over `row`; `None` (with `row` in any state) for serde_json to
    /// decide.
    fn tape_kql_into(&mut self, line: &[u8], p: &Projection, row: &mut kinterp::Row) -> Option<()> {
        if p.all || p.keys.len() > 64 {
            *row = self.tape_kql(line, p)?;
            return Some(());
        }
        self.read(line, p, false, |t| {
            // bit `i`: the line has `p.keys[i]`, its value at `t[at[i]..]`
            let (mut set, mut at, mut once) = (0u64, [0usize; 64], true);
            for (k, v) in members(t) {
                if let Some(i) = p.index(k) {
                    once &= set & 1 << i == 0;
                    set |= 1 << i;
                    at[i] = t.len() - v.len();
                }
            }
            // the row has the line's keys (in the projection's order, which is `str`'s): each
            // value is written over in place, with no key looked up (on a key not there, the
            // values written so far are the line's, and the pass below writes them again)
            if once && row.len() == set.count_ones() as usize {
                let mut bits = set;
                let mut same = true;
                for (k, slot) in row.iter_mut() {
                    let i = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    same = *k == p.keys[i].0;
                    if !same {
                        break;
                    }
                    tape_kql_over(&t[at[i]..], slot)?;
                }
                if same {
                    return Some(());
                }
            }
            // otherwise key by key, every kept value read in the line's order (a key twice:
            // the first value may be one the tape refuses)
            for (k, v) in members(t) {
                if p.index(k).is_some() {
                    match row.get_mut(k) {
                        Some(slot) => tape_kql_over(v, slot)?,
                        None => {
                            row.insert(k.to_string(), tape_kql(v, 1)?);
                        }
                    }
                }
            }
            // every key set is in `row`: it holds no other exactly when the counts agree
            if row.len() != set.count_ones() as usize {
                row.retain(|k, _| p.index(k).is_some_and(|i| set & 1 << i != 0));
            }
            Some(())
        })
    }

    /// The event read from the tape, or `None` for serde_json to decide.
    fn tape_event(&mut self, line: &[u8], p: &Projection) -> Option<Event> {
        self.read(line, p, true, |t| tape_object(t, p, 1))
    }

    /// The KQL row read from the tape, or `None` for serde_json to decide.
    fn tape_kql(&mut self, line: &[u8], p: &Projection) -> Option<kinterp::Row> {
        self.read(line, p, false, |t| {
            let mut out = kinterp::Row::new();
            for (k, v) in members(t) {
                if p.wants(k) {
                    out.insert(k.to_string(), tape_kql(v, 1)?);
                }
            }
            Some(out)
        })
    }

    /// `line` as a tape of one object, handed to `read`: first the sparse tape of `p`'s keys
    /// (`sparse`, with `nested` as there), then, when the scan gives the line up or `read`
    /// does, simd-json's whole tape; `None` when simd-json refuses it too or it holds what
    /// simd-json reads otherwise than serde_json (see `plain`).
    fn read<T>(
        &mut self,
        line: &[u8],
        p: &Projection,
        nested: bool,
        mut read: impl FnMut(&[Node<'_>]) -> Option<T>,
    ) -> Option<T> {
        if self.tapes != Tapes::Whole {
            let mut tape = std::mem::replace(&mut self.tape, Tape(Vec::new())).reset();
            let out = sparse::sparse_tape(line, p, nested, &mut self.sparse, &mut tape.0)
                .and_then(|()| read(&tape.0));
            self.tape = tape.reset();
            if out.is_some() || self.tapes == Tapes::Sparse {
                return out;
            }
        }
        if !plain(line, &self.escape) {
            return None;
        }
        self.scratch.clear();
        self.scratch.extend_from_slice(line);
        let mut tape = std::mem::replace(&mut self.tape, Tape(Vec::new())).reset();
        let out = simd_json::fill_tape(&mut self.scratch, &mut self.buffers, &mut tape)
            .ok()
            .filter(|()| {
                tape.0.iter().all(short_number)
                    || long_numbers_end(line, self.buffers.structural_indexes())
            })
            .and_then(|()| match tape.0.first() {
                Some(Node::Object { count, .. }) if count + 1 == tape.0.len() => read(&tape.0),
                _ => None,
            });
        self.tape = tape.reset();
        out
    }
}

/// Can simd-json read `line` as serde_json does, as far as bytes tell? Not with a `\u` escape
/// of a surrogate: simd-json reads some unpaired ones as NUL or another character where
/// serde_json refuses a kept string or any key. (Raw control characters in strings, which
/// serde_json refuses, simd-json refuses too.)
fn plain(line: &[u8], escape: &memchr::memmem::Finder<'_>) -> bool {
    escape.find_iter(line).all(|i| {
        !matches!(
            line.get(i + 2..i + 4),
            Some([b'd' | b'D', b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F'])
        )
    })
}

/// Not a number that may be long (17 digits or more, or a float): those `long_numbers_end`
/// checks.
fn short_number(n: &Node<'_>) -> bool {
    const LONG: u64 = 10_000_000_000_000_000;
    match *n {
        Node::Static(StaticNode::U64(n)) => n < LONG,
        Node::Static(StaticNode::I64(n)) => n.unsigned_abs() < LONG,
        Node::Static(StaticNode::F64(_)) => false,
        _ => true,
    }
}

/// Does every long number of `line` (a token starting at one of simd-json's structural
/// `indexes`) end where a JSON token may? simd-json 0.17.3 reads integers of 18 digits or more
/// and floats of 19 without looking at what follows, so it took `1669880210380469925tfalse`
/// for a number where serde_json refuses the line (found by the proptest below); shorter ones
/// it checks. (What does not follow the grammar simd-json refuses.)
fn long_numbers_end(line: &[u8], indexes: &[u32]) -> bool {
    indexes.iter().all(|&i| {
        let i = i as usize;
        if !matches!(line.get(i), Some(b'-' | b'0'..=b'9')) {
            return true;
        }
        // JSON's number grammar: -? digits (. digits)? ([eE] [+-]? digits)?
        let t = &line[i..];
        let digits = |n: usize| n + t[n..].iter().take_while(|b| b.is_ascii_digit()).count();
        let mut n = digits(usize::from(t[0] == b'-'));
        if t.get(n) == Some(&b'.') {
            n = digits(n + 1);
        }
        if matches!(t.get(n), Some(b'e' | b'E')) {
            n = digits(n + 1 + usize::from(matches!(t.get(n + 1), Some(b'+' | b'-'))));
        }
        n < 17
            || matches!(
                line.get(i + n),
                Some(b',' | b']' | b'}' | b' ' | b'\n' | b'\r')
            )
    })
}

/// The number of tape nodes of the value starting at `n`.
#[inline]
fn span(n: &Node<'_>) -> usize {
    match n {
        Node::Object { count, .. } | Node::Array { count, .. } => count + 1,
        _ => 1,
    }
}

/// The members (key, the tape from its value on) of the object at `t[0]`.
#[inline]
fn members<'t, 'i>(t: &'t [Node<'i>]) -> impl Iterator<Item = (&'i str, &'t [Node<'i>])> {
    let len = match t[0] {
        Node::Object { len, .. } => len,
        _ => 0,
    };
    let mut i = 1;
    (0..len).map_while(move |_| {
        let Node::String(k) = t[i] else {
            return None;
        };
        let v = &t[i + 1..];
        i += 1 + span(&v[0]);
        Some((k, v))
    })
}

/// The elements (each the tape from it on) of the array at `t[0]`.
fn elements<'t, 'i>(t: &'t [Node<'i>]) -> impl Iterator<Item = &'t [Node<'i>]> {
    let len = match t[0] {
        Node::Array { len, .. } => len,
        _ => 0,
    };
    let mut i = 1;
    (0..len).map(move |_| {
        let v = &t[i..];
        i += span(&v[0]);
        v
    })
}

/// The object at `t[0]`, `depth` levels deep, with the projection's keys.
fn tape_object(t: &[Node<'_>], p: &Projection, depth: usize) -> Option<Event> {
    let len = match t[0] {
        Node::Object { len, .. } => len,
        _ => 0,
    };
    let mut out = Event::with_capacity(if p.all { len } else { len.min(p.keys.len()) });
    for (k, v) in members(t) {
        match p.get(k) {
            None => {}
            Some(None) => {
                out.insert(k.to_string(), tape_value(v, depth)?);
            }
            Some(Some(q)) => {
                let v = match v[0] {
                    Node::Object { .. } if depth + 1 < MAX_DEPTH => {
                        Value::Object(tape_object(v, q, depth + 1)?)
                    }
                    _ => tape_value(v, depth)?,
                };
                out.insert(k.to_string(), v);
            }
        }
    }
    Some(out)
}

/// `tape_object(t, p, depth)` written over `ev`; `None` (with `ev` in any state) as for
/// `tape_object`. When the line's kept keys are `ev`'s keys in order (so none is there twice,
/// and a new map would hold them in that order), the values are written in place; else `ev`
/// is built anew.
fn tape_object_over(t: &[Node<'_>], p: &Projection, depth: usize, ev: &mut Event) -> Option<()> {
    let mut slots = ev.iter_mut();
    let mut same = true;
    for (k, v) in members(t) {
        let Some(how) = p.get(k) else {
            continue;
        };
        match slots.next() {
            Some((key, slot)) if key_eq(key.as_bytes(), k.as_bytes()) => match (how, &v[0], slot) {
                (Some(q), Node::Object { .. }, Value::Object(m)) if depth + 1 < MAX_DEPTH => {
                    tape_object_over(v, q, depth + 1, m)?
                }
                (Some(q), Node::Object { .. }, slot) if depth + 1 < MAX_DEPTH => {
                    *slot = Value::Object(tape_object(v, q, depth + 1)?)
                }
                // the common case inline
                (_, Node::String(s), Value::String(old)) => {
                    old.clear();
                    old.push_str(s);
                }
                (_, _, slot) => tape_value_over(v, depth, slot)?,
            },
            _ => {
                same = false;
                break;
            }
        }
    }
    if !(same && slots.next().is_none()) {
        *ev = tape_object(t, p, depth)?;
    }
    Some(())
}

/// Every key of an object, as a projection (the whole of a value read whole).
static WHOLE: Projection = Projection {
    all: true,
    keys: Vec::new(),
    lens: 0,
    firsts: 0,
    lasts: 0,
};

/// `tape_value(t, depth)` written over `slot` (in a stream, the previous line's value): a
/// string into the string's buffer there, an array element by element over an array as long,
/// an object over an object as `tape_object_over` writes it (every key kept); anything else
/// built anew. `None` (with `slot` in any state) as for `tape_value`.
fn tape_value_over(t: &[Node<'_>], depth: usize, slot: &mut Value) -> Option<()> {
    match (t[0], slot) {
        (Node::String(s), Value::String(old)) => {
            old.clear();
            old.push_str(s);
        }
        (Node::Array { len, .. }, Value::Array(old))
            if depth + 1 < MAX_DEPTH && old.len() == len =>
        {
            for (v, o) in elements(t).zip(old.iter_mut()) {
                tape_value_over(v, depth + 1, o)?;
            }
        }
        (Node::Object { .. }, Value::Object(m)) if depth + 1 < MAX_DEPTH => {
            tape_object_over(t, &WHOLE, depth + 1, m)?
        }
        (_, slot) => *slot = tape_value(t, depth)?,
    }
    Some(())
}

/// The value at `t[0]` inside `depth` levels as serde_json reads it; `None` where they may
/// differ: floats (serde_json rounds its own way), `-0` (simd-json: the integer 0, serde_json:
/// -0.0), and nesting near serde_json's limit.
fn tape_value(t: &[Node<'_>], depth: usize) -> Option<Value> {
    Some(match t[0] {
        Node::String(s) => Value::String(s.to_owned()),
        Node::Static(StaticNode::Null) => Value::Null,
        Node::Static(StaticNode::Bool(b)) => Value::Bool(b),
        Node::Static(StaticNode::U64(n)) => Value::from(n),
        Node::Static(StaticNode::I64(n)) if n != 0 => Value::from(n),
        Node::Static(_) => return None,
        Node::Array { .. } if depth + 1 < MAX_DEPTH => Value::Array(
            elements(t)
                .map(|v| tape_value(v, depth + 1))
                .collect::<Option<_>>()?,
        ),
        Node::Object { len, .. } if depth + 1 < MAX_DEPTH => {
            let mut out = Event::with_capacity(len);
            for (k, v) in members(t) {
                out.insert(k.to_string(), tape_value(v, depth + 1)?);
            }
            Value::Object(out)
        }
        Node::Array { .. } | Node::Object { .. } => return None,
    })
}

/// The value at `t[0]` as `KqlValue` reads it, or `None` as for `tape_value`.
fn tape_kql(t: &[Node<'_>], depth: usize) -> Option<kinterp::Value> {
    Some(match t[0] {
        Node::String(s) => parse_rfc3339(s).map_or_else(
            || kinterp::Value::Str(s.to_owned()),
            kinterp::Value::DateTime,
        ),
        Node::Static(StaticNode::Null) => kinterp::Value::Null,
        Node::Static(StaticNode::Bool(b)) => kinterp::Value::Bool(b),
        // as `Number::as_i64`, then `as_f64`
        Node::Static(StaticNode::U64(n)) => {
            i64::try_from(n).map_or(kinterp::Value::Real(n as f64), kinterp::Value::Long)
        }
        Node::Static(StaticNode::I64(n)) if n != 0 => kinterp::Value::Long(n),
        Node::Static(_) => return None,
        Node::Array { .. } if depth + 1 < MAX_DEPTH => kinterp::Value::Dynamic(
            elements(t)
                .map(|v| tape_kql(v, depth + 1))
                .collect::<Option<_>>()?,
        ),
        Node::Object { .. } => kql_value(&tape_value(t, depth)?),
        Node::Array { .. } => return None,
    })
}

/// `tape_kql(t, 1)` written into `slot`, a string into the buffer of the string there.
fn tape_kql_over(t: &[Node<'_>], slot: &mut kinterp::Value) -> Option<()> {
    if let (Node::String(s), kinterp::Value::Str(old)) = (t[0], &mut *slot) {
        match parse_rfc3339(s) {
            None => {
                old.clear();
                old.push_str(s);
            }
            Some(ns) => *slot = kinterp::Value::DateTime(ns),
        }
        return Some(());
    }
    *slot = tape_kql(t, 1)?;
    Some(())
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

#[path = "sparse.rs"]
mod sparse;

#[cfg(test)]
#[path = "decode_tests.rs"]
mod decode_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_projection_finds_its_keys_and_only_those() {
        let keys = [
            "",
            "a",
            "é",
            "_time",
            "index",
            "host",
            "Computer",
            "RecordID",
            "EventCode",
            "sourcetype",
            "DestinationHostname",
            "q\"k",
            "process.pe.company",
        ];
        let p = Projection::new(keys, false);
        for k in keys {
            let i = p.index(k).unwrap_or_else(|| panic!("{k:?}"));
            assert_eq!(p.keys[i].0, k);
        }
        // same lengths, first or last bytes as wanted keys
        for k in [
            "b",
            "A",
            "e",
            "Image",
            "User",
            "Protocol",
            "ProcessId",
            "SourcePort",
            "SourceIp",
            "_timE",
            "indeX",
            "Computed",
            "recordID",
            "DestinationHostnamE",
            "q\"K",
            "processX",
            "process.pf",
            "ec",
            "\u{e8}",
        ] {
            assert_eq!(p.index(k), None, "{k:?}");
        }
    }

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
