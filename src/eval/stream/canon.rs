//! An event line that already is its own compact JSON text: what decoding it in full and
//! printing the map again gives, byte for byte, without building the map.
//!
//! A matching EQL or Sigma event is kept as the compact JSON text of the whole event. Most
//! exports are written compactly by a JSON library, so the line itself is that text; this
//! scan proves it (or gives up, and the caller decodes and prints as before).

/// Deeper than this, the caller decodes (serde_json's own limit is 128 levels).
const MAX_DEPTH: usize = 64;

/// More digits than this may not fit an `i64`/`u64`: the caller decodes.
const MAX_DIGITS: usize = 18;

/// `line` (with its line end) as the compact JSON text `serde_json` prints for the object
/// it holds (keys in their order, `preserve_order`), when the line is exactly that text
/// followed only by whitespace; `None` when it may not be (whitespace between tokens,
/// escapes printed otherwise, floats, long integers, `-0`, repeated keys, deep nesting,
/// bytes that are not UTF-8, anything that is not one JSON object).
pub(super) fn compact_line(line: &[u8]) -> Option<&str> {
    let end = line.len()
        - line
            .iter()
            .rev()
            .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
            .count();
    let b = &line[..end];
    // compact text holds no raw control character (a fold, not `any`: it vectorizes)
    if b.first() != Some(&b'{') || b.iter().fold(false, |c, x| c | (*x < 0x20)) {
        return None;
    }
    let at = value(b, 0, 0, &mut Vec::with_capacity(64))?;
    if at != b.len() {
        return None;
    }
    std::str::from_utf8(b).ok()
}

/// The end of the canonical value at `b[i..]`.
/// `keys` holds the keys of the objects around, as written.
fn value<'a>(b: &'a [u8], i: usize, depth: usize, keys: &mut Vec<&'a [u8]>) -> Option<usize> {
    match *b.get(i)? {
        b'{' => object(b, i, depth + 1, keys),
        b'[' => array(b, i, depth + 1, keys),
        b'"' => string(b, i),
        b't' => literal(b, i, b"true"),
        b'f' => literal(b, i, b"false"),
        b'n' => literal(b, i, b"null"),
        b'-' | b'0'..=b'9' => integer(b, i),
        _ => None,
    }
}

fn literal(b: &[u8], i: usize, word: &[u8]) -> Option<usize> {
    b[i..].starts_with(word).then_some(i + word.len())
}

/// An integer as `itoa` prints it: no leading zero, no `-0`, no fraction or exponent.
fn integer(b: &[u8], i: usize) -> Option<usize> {
    let neg = b[i] == b'-';
    let start = i + usize::from(neg);
    let digits = b[start..].iter().take_while(|c| c.is_ascii_digit()).count();
    let first = *b.get(start)?;
    if digits == 0 || digits > MAX_DIGITS || (first == b'0' && (digits > 1 || neg)) {
        return None;
    }
    let end = start + digits;
    // a fraction or an exponent makes it a float
    match b.get(end) {
        Some(b'.' | b'e' | b'E') => None,
        _ => Some(end),
    }
}

/// A string whose escapes are the ones serde_json prints: `\"`, `\\`, `\b`, `\t`, `\n`,
/// `\f`, `\r`, and `\u00xx` (lower-case hex) for the other control characters (raw ones
/// were ruled out for the whole line). Inlined: an event line is mostly short strings.
#[inline(always)]
fn string(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        // to the next quote or backslash at once (the bytes between need no look)
        j = quote_or_backslash(b, j)?;
        if b[j] == b'"' {
            return Some(j + 1);
        }
        // a backslash
        match *b.get(j + 1)? {
            b'"' | b'\\' | b'b' | b't' | b'n' | b'f' | b'r' => j += 2,
            b'u' => {
                let hex = b.get(j + 2..j + 6)?;
                let c = match hex {
                    [b'0', b'0', hi @ (b'0' | b'1'), lo] => {
                        let lo = match lo {
                            b'0'..=b'9' => lo - b'0',
                            b'a'..=b'f' => lo - b'a' + 10,
                            _ => return None,
                        };
                        (hi - b'0') * 16 + lo
                    }
                    _ => return None,
                };
                // these have their short escapes
                if matches!(c, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d) {
                    return None;
                }
                j += 6;
            }
            _ => return None,
        }
    }
}

/// The bytes `quote_or_backslash` looks at at once.
#[cfg(target_arch = "x86_64")]
const WORD: usize = 16;
#[cfg(not(target_arch = "x86_64"))]
const WORD: usize = 8;

/// The place of the first `"` or `\` at or after `j`, if any: a word at a time, inline
/// (the strings of an export are short: a call to `memchr2` costs more than it saves on
/// them). The one search of JSON string text, for this scan and the sparse tape's.
#[inline(always)]
pub(super) fn quote_or_backslash(b: &[u8], mut j: usize) -> Option<usize> {
    while let Some(w) = b.get(j..j + WORD) {
        let m = quotes(w);
        if m != 0 {
            return Some(j + m.trailing_zeros() as usize);
        }
        j += WORD;
    }
    b.get(j..)?
        .iter()
        .position(|&c| c == b'"' || c == b'\\')
        .map(|p| j + p)
}

/// Bit `n` set when `w[n]` (`WORD` bytes) is `"` or `\`: SSE2, which every x86-64 has.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn quotes(w: &[u8]) -> u32 {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    debug_assert_eq!(w.len(), WORD);
    // SAFETY: SSE2 is part of x86-64 (every target of the arch has it), and `w` holds the
    // 16 bytes the unaligned load reads.
    unsafe {
        let x = _mm_loadu_si128(w.as_ptr().cast());
        let q = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'"' as i8));
        let e = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'\\' as i8));
        _mm_movemask_epi8(_mm_or_si128(q, e)) as u32
    }
}

/// Bit `n` set for the first `"` or `\` among the 8 bytes `w`, at its index: a byte equal
/// to one is a zero byte of `x ^ "…"` or `x ^ \…`, and the lowest flagged byte of
/// `(v - 1) & !v & 0x80…` is a zero byte (flags above it may be borrows).
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn quotes(w: &[u8]) -> u32 {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let x = u64::from_le_bytes(w.try_into().expect("eight bytes"));
    let zero = |v: u64| v.wrapping_sub(LO) & !v & HI;
    let m = zero(x ^ (LO * u64::from(b'"'))) | zero(x ^ (LO * u64::from(b'\\')));
    if m == 0 {
        0
    } else {
        1 << (m.trailing_zeros() / 8)
    }
}

/// One bit of 64 for a key (its length and first and last eight bytes, mixed): two keys
/// with different bits differ.
#[inline(always)]
fn key_bit(k: &[u8]) -> u64 {
    let (a, z) = match (k.first_chunk::<8>(), k.last_chunk::<8>()) {
        (Some(a), Some(z)) => (u64::from_le_bytes(*a), u64::from_le_bytes(*z)),
        _ => (k.iter().fold(0, |h, &c| h << 8 | u64::from(c)), 0),
    };
    let h = (a ^ z.rotate_left(32) ^ k.len() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    1 << (h >> 58)
}

fn object<'a>(b: &'a [u8], i: usize, depth: usize, keys: &mut Vec<&'a [u8]>) -> Option<usize> {
    if depth > MAX_DEPTH {
        return None;
    }
    let mut j = i + 1;
    if *b.get(j)? == b'}' {
        return Some(j + 1);
    }
    // this object's keys as written, after the outer ones: with canonical escapes, equal
    // text is an equal key
    let outer = keys.len();
    // the bits (`key_bit`) of this object's first `FEW_KEYS` keys
    let mut bits = 0u64;
    loop {
        if *b.get(j)? != b'"' {
            return None;
        }
        let k = string(b, j)?;
        let key = &b[j..k];
        // a repeated key keeps one entry when decoded: each of the first few keys is
        // compared with the ones before only when its bit was set by one of them
        if keys.len() - outer < FEW_KEYS {
            let bit = key_bit(key);
            if bits & bit != 0 && keys[outer..].contains(&key) {
                return None;
            }
            bits |= bit;
        }
        keys.push(key);
        if *b.get(k)? != b':' {
            return None;
        }
        j = match b.get(k + 1) {
            Some(b'"') => string(b, k + 1)?,
            _ => value(b, k + 1, depth, keys)?,
        };
        match *b.get(j)? {
            b',' => j += 1,
            b'}' => break,
            _ => return None,
        }
    }
    // beyond the few keys, sorted
    if keys.len() - outer > FEW_KEYS && repeats(&mut keys[outer..]) {
        return None;
    }
    keys.truncate(outer);
    Some(j + 1)
}

/// Objects with up to this many keys are checked for a repeated key as they are read.
const FEW_KEYS: usize = 32;

/// Is some key written twice? (sorted)
fn repeats(keys: &mut [&[u8]]) -> bool {
    keys.sort_unstable();
    keys.windows(2).any(|w| w[0] == w[1])
}

fn array<'a>(b: &'a [u8], i: usize, depth: usize, keys: &mut Vec<&'a [u8]>) -> Option<usize> {
    if depth > MAX_DEPTH {
        return None;
    }
    let mut j = i + 1;
    if *b.get(j)? == b']' {
        return Some(j + 1);
    }
    loop {
        j = value(b, j, depth, keys)?;
        match *b.get(j)? {
            b',' => j += 1,
            b']' => return Some(j + 1),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::project::{decode, Projection};
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    /// What the caller does without the scan: decode in full, print compactly.
    fn decoded(line: &[u8]) -> Option<String> {
        let whole = Projection::new([], true);
        decode(line, &whole)
            .ok()
            .map(|e| Value::Object(e).to_string())
    }

    fn check(line: &[u8]) {
        if let Some(t) = compact_line(line) {
            assert_eq!(
                Some(t.to_string()),
                decoded(line),
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn compact_lines_are_taken_as_they_are() {
        for l in [
            r#"{}"#,
            r#"{"a":1,"b":-2,"c":"x\\y\"z\n\u001f","d":[true,false,null,[],{}],"e":{"f":0}}"#,
            r#"{"Image":"C:\\Program Files\\App\\client32.exe","DestinationPort":"443"}"#,
            "{\"k\":\"é/ü\"}\r\n",
            "{\"k\":123456789012345678}\n",
        ] {
            assert_eq!(compact_line(l.as_bytes()), Some(l.trim_end()), "{l}");
            check(l.as_bytes());
        }
    }

    /// Repeated keys are found pair by pair among a few keys and by sorting among many, at
    /// the start, middle and end of an object's keys.
    #[test]
    fn a_repeated_key_is_found_among_few_keys_and_many() {
        for n in [2usize, 3, 31, 32, 33, 40, 100] {
            let keys: Vec<String> = (0..n).map(|i| format!("k{i}")).collect();
            let line = |keys: &[String]| {
                let fields: Vec<String> = keys.iter().map(|k| format!("\"{k}\":1")).collect();
                format!("{{{}}}", fields.join(","))
            };
            let all = line(&keys);
            assert_eq!(compact_line(all.as_bytes()), Some(all.as_str()), "{n} keys");
            for (at, from) in [(n - 1, 0), (n / 2, n - 1), (1, n / 2)] {
                let mut twice = keys.clone();
                twice[at] = keys[from].clone();
                if at != from {
                    let l = line(&twice);
                    assert_eq!(compact_line(l.as_bytes()), None, "{l}");
                    check(l.as_bytes());
                }
            }
        }
    }

    /// The word-at-a-time scan finds the first quote or backslash wherever it sits: in a
    /// word, after bytes one above either (a borrow), in the last bytes, past the inline part.
    #[test]
    fn the_scan_finds_the_first_quote_or_backslash() {
        for n in 0..80 {
            for at in 0..=n {
                for (c, filler) in [(b'"', b'#'), (b'\\', b']'), (b'"', b'a'), (b'\\', 0xdc)] {
                    let mut b = vec![filler; n];
                    if at < n {
                        b[at] = c;
                        // a later quote or backslash is not the first
                        if at + 1 < n {
                            b[n - 1] = b'"';
                        }
                    }
                    for from in [0, at.min(3), at] {
                        let want = b[from..]
                            .iter()
                            .position(|&x| x == b'"' || x == b'\\')
                            .map(|p| from + p);
                        assert_eq!(quote_or_backslash(&b, from), want, "{n} {at} {from}");
                    }
                }
            }
        }
    }

    #[test]
    fn other_lines_are_left_to_the_decoder() {
        for l in [
            r#"{"a": 1}"#,
            r#" {"a":1}"#,
            r#"{"a":1.0}"#,
            r#"{"a":1e3}"#,
            r#"{"a":-0}"#,
            r#"{"a":01}"#,
            r#"{"a":1234567890123456789}"#,
            r#"{"a":"\/"}"#,
            r#"{"a":"\u0041"}"#,
            r#"{"a":"\u000a"}"#,
            r#"{"a":"\u001F"}"#,
            r#"{"a":1,"a":2}"#,
            r#"{"o":{"a":1,"a":2}}"#,
            r#"{"a":1}x"#,
            r#"[1]"#,
            r#"{"a":tru}"#,
            r#"{"a":[1,]}"#,
            "{\"a\":\"\t\"}",
        ] {
            assert_eq!(compact_line(l.as_bytes()), None, "{l}");
            check(l.as_bytes());
        }
        assert_eq!(compact_line(b"{\"a\":\"\xff\"}"), None);
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(80), "]".repeat(80));
        assert_eq!(compact_line(deep.as_bytes()), None);
    }

    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-1e6f64..1e6).prop_map(Value::from),
            "[a-c\"\\\\/\u{0}-\u{1f}\u{7f}é]{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 24, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::vec(("[a-c\\\\\u{1}]{0,2}", inner), 0..5)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    /// Holds no float and no integer longer than the scan takes.
    fn plain(v: &Value) -> bool {
        match v {
            Value::Number(n) => {
                !n.is_f64() && n.to_string().trim_start_matches('-').len() <= MAX_DIGITS
            }
            Value::Array(a) => a.iter().all(plain),
            Value::Object(o) => o.values().all(plain),
            _ => true,
        }
    }

    proptest! {
        /// The scan's text is always what decoding and printing give, for compactly printed
        /// objects and for them edited.
        #[test]
        fn the_scan_agrees_with_the_decoder(
            kv in prop::collection::vec(("[a-d]{0,2}", json()), 0..6),
            edit in 0usize..8,
            at in any::<prop::sample::Index>(),
        ) {
            let obj = Value::Object(kv.into_iter().collect());
            let text = obj.to_string();
            check(text.as_bytes());
            if plain(&obj) {
                prop_assert_eq!(compact_line(text.as_bytes()), Some(text.as_str()));
            }
            // edits that keep it JSON but not compact, or make it something else
            let i = at.index(text.len() + 1);
            let mut edited = text.clone().into_bytes();
            match edit {
                0 => edited.insert(i, b' '),
                1 => edited.insert(i, b','),
                2 => edited.insert(i, b'0'),
                3 => edited.insert(i, b'-'),
                4 => edited.insert(i, b'\\'),
                5 => {
                    edited = text.replacen(':', ":0,\"a\":", 1).into_bytes();
                }
                6 => edited.truncate(i),
                _ => edited.extend_from_slice(b"\r\n"),
            }
            check(&edited);
            let dup = text.replacen('}', ",\"\":1,\"\":2}", 1);
            check(dup.as_bytes());
        }
    }
}
