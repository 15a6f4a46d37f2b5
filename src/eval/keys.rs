//! Keys of the small JSON objects events are: compared without a call to `memcmp`, and found
//! by a scan rather than by hashing the name.

use serde_json::{Map, Value};

/// `a == b`, for keys: those of 4 to 16 bytes compared as two machine words each (the
/// first and last bytes, overlapping), not through a call to `memcmp`.
#[inline(always)]
pub(crate) fn key_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    fn ends<const N: usize>(s: &[u8]) -> Option<(&[u8; N], &[u8; N])> {
        Some((s.first_chunk()?, s.last_chunk()?))
    }
    match n {
        8..=16 => ends::<8>(a) == ends::<8>(b),
        4..=7 => ends::<4>(a) == ends::<4>(b),
        _ => a == b,
    }
}

/// `m.get(name)`. Events are small maps: up to 32 keys a scan (lengths first, then words) is
/// cheaper than hashing the name (SipHash); the answer is the same, keys being unique.
#[inline]
pub(crate) fn get<'a>(m: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    if m.len() <= 32 {
        m.iter()
            .find(|(k, _)| key_eq(k.as_bytes(), name.as_bytes()))
            .map(|(_, v)| v)
    } else {
        m.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_compare_as_bytes_do() {
        // every length around the word sizes, a difference at every place
        for n in 0..24 {
            let a: Vec<u8> = (0..n as u8).map(|i| b'a' + i).collect();
            assert!(key_eq(&a, &a.clone()), "{n}");
            for i in 0..n {
                let mut b = a.clone();
                b[i] ^= 0x20;
                assert!(!key_eq(&a, &b), "{n} at {i}");
            }
            assert!(!key_eq(&a, &a[..n.saturating_sub(1)]) || n == 0);
        }
        assert!(!key_eq(b"", b"a"));
    }

    #[test]
    fn get_finds_what_the_map_finds() {
        let m: Map<String, Value> = (0..40)
            .map(|i| (format!("key{}", "x".repeat(i)), Value::from(i)))
            .collect();
        for n in [0, 1, 8, 32, 33, 40] {
            let small: Map<String, Value> = m
                .iter()
                .take(n)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            for name in [
                "",
                "key",
                "keyx",
                "keyxxxxxxxxxxxx",
                "kex",
                "KEY",
                "keyxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            ] {
                assert_eq!(get(&small, name), small.get(name), "{n} {name}");
            }
        }
        // a null value is there (Some(null)), an absent key is not; names match exactly
        let m: Map<String, Value> = serde_json::from_str(r#"{"a": null, "b": {"c": 1}}"#).unwrap();
        assert_eq!(get(&m, "a"), Some(&Value::Null));
        assert_eq!(get(&m, "A"), None);
        assert_eq!(get(&m, "b.c"), None);
        assert_eq!(get(&m, "c"), None);
    }
}
