//! Values: reading event fields as eval values (borrowed where possible) and writing them
//! back as JSON; the text that search terms match.

use crate::eval::spl::parser::number;
use crate::eval::time::parse_rfc3339;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt::Write as _;

pub type Row = Map<String, Value>;

/// An eval value; text is borrowed from the event or the search where it can be.
#[derive(Clone, Debug, PartialEq)]
pub enum V<'a> {
    Null,
    Bool(bool),
    Str(Cow<'a, str>),
    /// A number with its text; `json` = written back as a JSON number (literals, counts,
    /// JSON numbers), else as the original text.
    Num {
        n: f64,
        text: Cow<'a, str>,
        json: bool,
    },
    Multi(Vec<String>),
}

impl<'a> V<'a> {
    pub(super) fn num(n: f64) -> V<'a> {
        V::Num {
            n,
            text: Cow::Owned(fmt_num(n)),
            json: true,
        }
    }
    pub(super) fn text(&self) -> Result<Option<Cow<'a, str>>, String> {
        match self {
            V::Null => Ok(None),
            V::Bool(b) => Err(format!("a boolean ({b}) used as a value")),
            V::Str(s) => Ok(Some(s.clone())),
            V::Num { text, .. } => Ok(Some(text.clone())),
            V::Multi(_) => Err("multivalue fields are not supported in eval expressions".into()),
        }
    }
    pub(super) fn into_text(self) -> Result<Option<Cow<'a, str>>, String> {
        match self {
            V::Str(s) => Ok(Some(s)),
            V::Num { text, .. } => Ok(Some(text)),
            other => other.text(),
        }
    }
}

pub(super) fn fmt_num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

pub(super) fn json_num(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

pub(super) fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        other => Some(other.to_string()),
    }
}

/// A field of an event (a scan of its keys: `keys::get`).
#[inline]
pub(super) fn get<'a>(row: &'a Row, name: &str) -> Option<&'a Value> {
    crate::eval::keys::get(row, name)
}

/// Read a field as an eval value.
pub fn field<'a>(row: &'a Row, name: &str) -> V<'a> {
    match get(row, name) {
        None | Some(Value::Null) => V::Null,
        Some(Value::Array(xs)) => V::Multi(xs.iter().filter_map(scalar_text).collect()),
        Some(Value::Number(n)) => V::Num {
            n: n.as_f64().unwrap_or(f64::NAN),
            text: Cow::Owned(n.to_string()),
            json: true,
        },
        Some(Value::String(s)) => {
            // Splunk keeps _time as epoch seconds; an RFC 3339 export reads as that number.
            if name == "_time" {
                if let Some(ns) = parse_rfc3339(s) {
                    return V::num(ns as f64 / 1e9);
                }
            }
            match number(s) {
                Some(n) => V::Num {
                    n,
                    text: Cow::Borrowed(s),
                    json: false,
                },
                None => V::Str(Cow::Borrowed(s)),
            }
        }
        Some(other) => V::Str(Cow::Owned(scalar_text(other).unwrap_or_default())),
    }
}

pub(super) fn to_json(v: V) -> Option<Value> {
    match v {
        V::Null => None,
        V::Bool(b) => Some(Value::Bool(b)),
        V::Str(s) => Some(Value::String(s.into_owned())),
        V::Num { n, json: true, .. } => Some(json_num(n)),
        V::Num { text, .. } => Some(Value::String(text.into_owned())),
        V::Multi(xs) => Some(Value::Array(xs.into_iter().map(Value::String).collect())),
    }
}

/// Whether writing `v` to a field whose current value is `cur` leaves the row as it is
/// (`to_json(v)` equals `cur`, or both mean "absent"), computed without building the value.
pub(super) fn unchanged(v: &V, cur: Option<&Value>) -> bool {
    match (v, cur) {
        (V::Null, None) => true,
        (V::Str(s), Some(Value::String(t))) => s == t,
        (
            V::Num {
                json: false, text, ..
            },
            Some(Value::String(t)),
        ) => text == t,
        (V::Num { n, json: true, .. }, Some(c)) => json_num(*n) == *c,
        (V::Multi(_), Some(Value::Array(_))) => to_json(v.clone()).as_ref() == cur,
        _ => false,
    }
}

/// A number's JSON text in a stack buffer (what `Number::to_string` gives).
pub(super) struct NumBuf {
    b: [u8; 64],
    len: usize,
}

impl std::fmt::Write for NumBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.b.len() {
            return Err(std::fmt::Error);
        }
        self.b[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// `f` on the search-matching text of one scalar JSON value (not null).
pub(super) fn with_text(v: &Value, f: &mut impl FnMut(&str) -> bool) -> bool {
    match v {
        Value::String(s) => f(s),
        Value::Number(n) => {
            let mut buf = NumBuf { b: [0; 64], len: 0 };
            if write!(buf, "{n}").is_ok() {
                // only whole UTF-8 strings were copied in
                f(std::str::from_utf8(&buf.b[..buf.len]).unwrap_or_default())
            } else {
                f(&n.to_string())
            }
        }
        other => f(&scalar_text(other).unwrap_or_default()),
    }
}

/// The string values of a field for search-command matching: `None` when there are none,
/// else whether `f` holds for any of them (stopping at the first that does).
pub(super) fn any_value(row: &Row, name: &str, mut f: impl FnMut(&str) -> bool) -> Option<bool> {
    if name == "_time" {
        if let Some(ns) = time_ns(row) {
            return Some(f(&fmt_num(ns as f64 / 1e9)));
        }
    }
    match get(row, name) {
        None | Some(Value::Null) => None,
        Some(Value::Array(xs)) => {
            let mut seen = false;
            for x in xs.iter().filter(|x| !x.is_null()) {
                seen = true;
                if with_text(x, &mut f) {
                    return Some(true);
                }
            }
            seen.then_some(false)
        }
        Some(v) => Some(with_text(v, &mut f)),
    }
}

/// The event's time in epoch nanoseconds.
pub(super) fn time_ns(row: &Row) -> Option<i128> {
    match get(row, "_time")? {
        Value::String(s) => parse_rfc3339(s).or_else(|| number(s).map(|n| (n * 1e9) as i128)),
        Value::Number(n) => n.as_f64().map(|n| (n * 1e9) as i128),
        _ => None,
    }
}

pub(super) fn raw_text(row: &Row) -> Cow<'_, str> {
    if let Some(Value::String(s)) = get(row, "_raw") {
        return Cow::Borrowed(s);
    }
    let mut parts = Vec::new();
    for v in row.values() {
        match v {
            Value::Array(xs) => parts.extend(xs.iter().filter_map(scalar_text)),
            v => parts.extend(scalar_text(v)),
        }
    }
    Cow::Owned(parts.join(" "))
}
