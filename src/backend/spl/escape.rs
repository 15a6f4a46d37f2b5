//! Text that Splunk reads back exactly: eval string literals, PCRE patterns for `match()`, and
//! `.conf` values.
//!
//! Every text test is a PCRE `match()` in a `where` clause, never a `search` term: `search`
//! terms are case-insensitive with `*` as an unescapable wildcard and match on Splunk's
//! tokenization, so they cannot state the IR's meaning exactly. (The search command does carry
//! terms, as a prefilter only wider than the `where`: see `terms`.)
//!
//! Case-insensitive patterns use `(?i)`, but PCRE's caseless matching is not the IR's: with
//! Unicode properties on, `(?i)s` also matches `ſ` (U+017F) and `(?i)[A-Za-z]` excludes the
//! Kelvin sign, which the IR folds to `k`; without them, non-ASCII letters do not fold at all.
//! So every character whose IR case class is not exactly its ASCII upper/lower pair is spelled
//! out case-sensitively, `(?-i:[Ss])` or `(?-i:K|k|\u{212A})`: the characters the IR folds together;
//! and term boundaries are case-sensitive. The pattern then means the same under either PCRE
//! mode (and in byte mode: alternations, not classes, hold the non-ASCII characters).

use crate::ir::fold;
use std::collections::HashMap;

/// An eval / `where` string literal: `"…"` with `\` and `"` escaped by a backslash (Splunk
/// reads `\\` as one backslash and `\"` as a quote inside double-quoted eval strings).
pub fn eval_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if matches!(c, '\\' | '"') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// PCRE metacharacters outside a character class; each is literal after a backslash.
const META: &str = "\\^$.|?*+()[]{}";

fn literal(c: char, out: &mut String) {
    if META.contains(c) {
        out.push('\\');
    }
    out.push(c);
}

/// Characters that fold to the same character, keyed by that fold (only the characters
/// that differ from their fold are listed).
fn folded_from() -> &'static HashMap<char, Vec<char>> {
    crate::ir::fold_preimages()
}

/// Every character the IR treats as equal to `c` when case-insensitive, sorted.
pub fn case_class(c: char) -> Vec<char> {
    let f = fold(c);
    let mut v: Vec<char> = folded_from().get(&f).cloned().unwrap_or_default();
    if fold(f) == f {
        v.push(f);
    }
    v.sort_unstable();
    v.dedup();
    v
}

/// The PCRE text matching exactly `v` (case-insensitively, per the IR, inside a `(?i)`
/// pattern unless `cased`).
pub fn pcre_text(v: &str, cased: bool) -> String {
    let mut out = String::new();
    for c in v.chars() {
        if cased {
            literal(c, &mut out);
            continue;
        }
        let class = case_class(c);
        let plain = if c.is_ascii_alphabetic() {
            // PCRE with Unicode properties adds U+017F to s and U+212A to k
            !matches!(c.to_ascii_lowercase(), 's' | 'k')
                && class == [c.to_ascii_uppercase(), c.to_ascii_lowercase()]
        } else {
            class == [c] && (c.is_ascii() || (c.to_lowercase().eq([c]) && c.to_uppercase().eq([c])))
        };
        if plain {
            literal(c, &mut out);
        } else {
            // a class when all members are ASCII (shorter); an alternation otherwise, which
            // also holds in PCRE's byte mode
            out.push_str("(?-i:");
            if class.iter().all(char::is_ascii) && class.len() > 1 {
                out.push('[');
                out.extend(class.iter());
                out.push(']');
            } else {
                for (i, m) in class.iter().enumerate() {
                    if i > 0 {
                        out.push('|');
                    }
                    literal(*m, &mut out);
                }
            }
            out.push(')');
        }
    }
    out
}

/// Alternatives as one group (no group for a single one).
pub fn alternation(parts: &[String]) -> String {
    if parts.len() == 1 {
        parts[0].clone()
    } else {
        format!("(?:{})", parts.join("|"))
    }
}

/// `(?i)` unless `cased`.
pub fn case_flag(cased: bool) -> &'static str {
    if cased {
        ""
    } else {
        "(?i)"
    }
}

/// A term boundary on the left / right: an ASCII non-alphanumeric character or the edge,
/// always case-sensitive (a caseless `[A-Za-z]` would take in the Kelvin sign).
pub const TERM_LEFT: &str = r"(?-i:\A|[^A-Za-z0-9])";
pub const TERM_RIGHT: &str = r"(?-i:[^A-Za-z0-9]|\z)";

/// Strict dotted-quad IPv4, exactly what the IR's parser accepts (no leading zeros).
pub const IPV4: &str = r"\A(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])\z";

/// A port number as the IR reads a text field: an unsigned decimal (`+` and leading zeros
/// allowed, as Rust's integer parse does) equal to one of `ports`.
pub fn port_pattern(ports: &[u16]) -> String {
    let alts: Vec<String> = ports.iter().map(u16::to_string).collect();
    format!(r"\A\+?0*{}\z", alternation(&alts))
}

/// A `.conf` value: lines joined with a `\` line continuation. Refused (with the reason)
/// when Splunk could not read it back exactly: a line ending in a backslash (it would
/// continue the value), a carriage return, or whitespace at a line's edge (trimmed by
/// Splunk).
pub fn conf_value(v: &str) -> Result<String, String> {
    if v.contains('\r') {
        return Err("it contains a carriage return".into());
    }
    let lines: Vec<&str> = v.split('\n').collect();
    for l in &lines {
        if l.ends_with('\\') {
            return Err(format!(
                "the line {l:?} ends with a backslash, which .conf reads as a line continuation"
            ));
        }
        if l.starts_with(char::is_whitespace) || l.ends_with(char::is_whitespace) {
            return Err(format!(
                "the line {l:?} starts or ends with whitespace, which .conf trims"
            ));
        }
    }
    Ok(lines.join("\\\n"))
}

/// A stanza name: `[` and `]` become `(` and `)` so the header cannot end early or open
/// another stanza. Refused when it has a line break or is empty.
pub fn stanza_name(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.is_empty() || s.contains(['\n', '\r']) {
        return Err("a stanza name must be one non-empty line".into());
    }
    Ok(s.replace('[', "(").replace(']', ")"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_classes_follow_the_ir_fold() {
        assert_eq!(case_class('a'), vec!['A', 'a']);
        assert_eq!(case_class('k'), vec!['K', 'k', '\u{212A}']);
        assert_eq!(case_class('\u{212A}'), vec!['K', 'k', '\u{212A}']);
        assert_eq!(case_class('σ'), vec!['Σ', 'σ']);
        assert_eq!(case_class('ς'), vec!['ς']);
        assert_eq!(case_class('.'), vec!['.']);
    }

    #[test]
    fn pcre_text_spells_out_the_odd_letters() {
        assert_eq!(pcre_text("net.com", false), r"net\.com");
        assert_eq!(pcre_text("ks", false), "(?-i:K|k|\u{212A})(?-i:[Ss])");
        assert_eq!(pcre_text("ς日", false), "(?-i:ς)日");
        assert_eq!(pcre_text("a*b", true), r"a\*b");
    }
}
