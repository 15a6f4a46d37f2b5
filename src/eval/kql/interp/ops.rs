//! Kusto's scalar operators on values: ordering and equality with null, the comparison and
//! string operators (`has` by whole terms, ASCII-only case folding), IPv4 ranges.

use super::*;

/// Dotted-quad IPv4 (each part 0-255). `ipv4_is_in_range` returns "`null`: If conversion for
/// one of the two IPv4 strings wasn't successful" (learn.microsoft.com/kusto/query/
/// ipv4-is-in-range-function); the docs do not say whether `010.20.0.1` converts, and .NET's
/// own parser would read `010` as octal 8. This evaluator takes the strict reading, the spec's
/// (a part with a leading zero is no address, so null), and claims no match Kusto might not make.
pub(super) fn ipv4(s: &str) -> Option<u32> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut out = 0u32;
    for p in parts {
        if p.is_empty()
            || p.len() > 3
            || !p.bytes().all(|b| b.is_ascii_digit())
            || (p.len() > 1 && p.starts_with('0'))
        {
            return None;
        }
        let n: u32 = p.parse().ok()?;
        if n > 255 {
            return None;
        }
        out = out << 8 | n;
    }
    Some(out)
}

pub(super) fn ipv4_range(s: &str) -> Option<(u32, u32)> {
    match s.split_once('/') {
        Some((ip, bits)) => {
            let bits: u32 = bits.parse().ok()?;
            (bits <= 32).then_some((ipv4(ip)?, bits))
        }
        None => Some((ipv4(s)?, 32)),
    }
}

pub(super) fn order(a: &Value, b: &Value) -> Ordering {
    use Value::*;
    match (a, b) {
        (Long(x), Long(y)) => x.cmp(y),
        (Real(x), Real(y)) => x.total_cmp(y),
        (Long(x), Real(y)) => (*x as f64).total_cmp(y),
        (Real(x), Long(y)) => x.total_cmp(&(*y as f64)),
        (DateTime(x), DateTime(y)) | (Timespan(x), Timespan(y)) => x.cmp(y),
        (Null, Null) => Ordering::Equal,
        // nulls sort first (ascending)
        (Null, _) => Ordering::Less,
        (_, Null) => Ordering::Greater,
        _ => a.text().cmp(&b.text()),
    }
}

/// `==` with Kusto's null rules: null vs value is false, null vs null is null.
pub(super) fn equal(a: &Value, b: &Value) -> Option<bool> {
    use Value::*;
    match (a, b) {
        (Null, Null) => None,
        (Null, Str(s)) | (Str(s), Null) => Some(s.is_empty()),
        (Null, _) | (_, Null) => Some(false),
        (Str(x), Str(y)) => Some(x == y),
        (Str(_), _) | (_, Str(_)) => Some(false),
        _ => Some(order(a, b) == Ordering::Equal),
    }
}

/// `compare` for a string column against a string literal, without building values.
pub(super) fn compare_text(op: CmpOp, l: &str, r: &str, lv: &Value) -> Value {
    match op {
        CmpOp::Eq => Value::Bool(l == r),
        CmpOp::Ne => Value::Bool(l != r),
        CmpOp::EqCi => Value::Bool(eq_ci(l, r)),
        CmpOp::NeCi => Value::Bool(!eq_ci(l, r)),
        CmpOp::Str { op, negated, cs } => Value::Bool(str_op(op, l, r, cs) != negated),
        _ => compare(op, lv, &Value::Str(r.to_string())),
    }
}

/// `compare` of a value against a string literal: a string (or null, read as "") in place,
/// anything else against the literal as a value.
pub(super) fn compare_str_lit(op: CmpOp, l: &Value, r: &str) -> Value {
    if matches!(l, Value::Str(_) | Value::Null) {
        compare_text(op, &l.text(), r, l)
    } else {
        compare(op, l, &Value::Str(r.to_string()))
    }
}

/// `x between (lo .. hi)`: null when any of them is, else whether `lo <= x <= hi`.
pub(super) fn between(x: &Value, lo: &Value, hi: &Value) -> Value {
    if [x, lo, hi].iter().any(|v| matches!(v, Value::Null)) {
        Value::Null
    } else {
        Value::Bool(order(lo, x) != Ordering::Greater && order(x, hi) != Ordering::Greater)
    }
}

/// `=~`: "Case-insensitive operators are currently supported only for ASCII-text"
/// (learn.microsoft.com/kusto/query/equals-operator and every case-insensitive operator's page).
pub(super) fn eq_ci(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

pub(super) fn str_op(op: StrOp, l: &str, r: &str, cs: bool) -> bool {
    match op {
        StrOp::Has => has(l, r, cs),
        StrOp::HasPrefix => has_affix(l, r, cs, true),
        StrOp::HasSuffix => has_affix(l, r, cs, false),
        StrOp::Contains | StrOp::StartsWith | StrOp::EndsWith => {
            let (l, r): (Cow<str>, Cow<str>) = if cs {
                (l.into(), r.into())
            } else {
                (l.to_ascii_lowercase().into(), r.to_ascii_lowercase().into())
            };
            match op {
                StrOp::Contains => l.contains(r.as_ref()),
                StrOp::StartsWith => l.starts_with(r.as_ref()),
                _ => l.ends_with(r.as_ref()),
            }
        }
    }
}

pub(super) fn compare(op: CmpOp, a: &Value, b: &Value) -> Value {
    let flip = |v: Option<bool>| v.map_or(Value::Null, |b| Value::Bool(!b));
    let opt = |v: Option<bool>| v.map_or(Value::Null, Value::Bool);
    let ordered = |f: fn(Ordering) -> bool| {
        if *a == Value::Null || *b == Value::Null {
            Value::Null
        } else {
            Value::Bool(f(order(a, b)))
        }
    };
    match op {
        CmpOp::Eq => opt(equal(a, b)),
        CmpOp::Ne => flip(equal(a, b)),
        CmpOp::EqCi => Value::Bool(eq_ci(&a.text(), &b.text())),
        CmpOp::NeCi => Value::Bool(!eq_ci(&a.text(), &b.text())),
        CmpOp::Lt => ordered(|o| o == Ordering::Less),
        CmpOp::Le => ordered(|o| o != Ordering::Greater),
        CmpOp::Gt => ordered(|o| o == Ordering::Greater),
        CmpOp::Ge => ordered(|o| o != Ordering::Less),
        CmpOp::Str { op, negated, cs } => {
            Value::Bool(str_op(op, &a.text(), &b.text(), cs) != negated)
        }
    }
}

/// A term character: "each string value is broken into maximal sequences of alphanumeric
/// characters" (learn.microsoft.com/kusto/query/datatypes-string-operators, "What is a term?"),
/// Unicode letters and digits included.
pub(super) fn word(c: char) -> bool {
    c.is_alphanumeric()
}

/// Every position where `needle` occurs in `hay` (ASCII case-folded unless `cs`), as
/// (character before, character after) pairs, in order and found as they are asked for.
/// Byte windows are exact for UTF-8: ASCII folding changes only bytes below 0x80, and a
/// needle's first byte never equals a continuation byte, so every window that matches starts
/// and ends on a character boundary. Windows are tried only where the needle's first byte
/// (either case of it) is (`memchr2`).
pub(super) fn occurrences<'h>(
    hay: &'h str,
    needle: &'h str,
    cs: bool,
) -> impl Iterator<Item = (Option<char>, Option<char>)> + 'h {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    // the last start a window fits at; none for an empty or too long needle
    let last = (!n.is_empty() && n.len() <= h.len()).then(|| h.len() - n.len());
    let first = n.first().copied().unwrap_or(0);
    let (lo, up) = if cs {
        (first, first)
    } else {
        (first.to_ascii_lowercase(), first.to_ascii_uppercase())
    };
    let mut from = 0;
    std::iter::from_fn(move || {
        let last = last?;
        while from <= last {
            let i = from + memchr::memchr2(lo, up, &h[from..=last])?;
            from = i + 1;
            let w = &h[i..i + n.len()];
            if if cs {
                w == n
            } else {
                w.eq_ignore_ascii_case(n)
            } {
                return Some((
                    hay[..i].chars().next_back(),
                    hay[i + n.len()..].chars().next(),
                ));
            }
        }
        None
    })
}

/// KQL `has`: the needle is whole terms of the haystack. A needle that starts (ends) with a
/// non-alphanumeric character needs no boundary on that side.
pub(super) fn has(hay: &str, needle: &str, cs: bool) -> bool {
    let first_word = needle.chars().next().is_some_and(word);
    let last_word = needle.chars().last().is_some_and(word);
    occurrences(hay, needle, cs).any(|(before, after)| {
        (!first_word || !before.is_some_and(word)) && (!last_word || !after.is_some_and(word))
    })
}

/// `hasprefix` / `hassuffix`: the needle starts (ends) a term.
pub(super) fn has_affix(hay: &str, needle: &str, cs: bool, prefix: bool) -> bool {
    occurrences(hay, needle, cs).any(|(before, after)| {
        if prefix {
            !before.is_some_and(word)
        } else {
            !after.is_some_and(word)
        }
    })
}
