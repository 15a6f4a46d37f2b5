//! Values and regular expressions inside a query: where a value character can change, and
//! the edits of a regex (dropped alternatives, anchors, classes) with their equivalences.

use super::{cased, next_char};

/// The length of the escape at `i` (a run of backslashes and, when it escapes one, the
/// escaped character, with `\u{…}` whole), and the escaped character if there is one.
/// `escaped`: the text is a string literal's, so a regex backslash is two.
pub(super) fn escape_at(raw: &str, i: usize, escaped: bool) -> (usize, Option<char>) {
    let run = raw[i..].bytes().take_while(|&b| b == b'\\').count();
    let per = if escaped { 2 } else { 1 };
    if (run / per) % 2 == 0 || run % per != 0 {
        return (run.max(1), None);
    }
    let Some(c) = raw[i + run..].chars().next() else {
        return (run, None);
    };
    let mut len = run + c.len_utf8();
    if c == 'u' && raw[i + len..].starts_with('{') {
        len += raw[i + len..].find('}').map_or(0, |k| k + 1);
    }
    (len, Some(c))
}

/// A place in a value where one character may change.
#[derive(Debug, PartialEq)]
enum Unit {
    /// One ASCII letter or digit at this byte.
    Char(usize),
    /// A character class of one letter in its cases (`[Nn]`), `start..end`.
    Class(usize, usize),
}

/// The changeable characters of a plain (non-regex) value: ASCII letters and digits not in
/// an escape.
fn plain_units(raw: &str, escaped: bool) -> Vec<Unit> {
    let b = raw.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if escaped && b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i].is_ascii_alphanumeric() {
            out.push(Unit::Char(i));
        }
        i += raw[i..].chars().next().map_or(1, char::len_utf8);
    }
    out
}

/// The end (after `]`) of the character class opening at `i`.
fn class_end(raw: &str, i: usize, escaped: bool) -> usize {
    let b = raw.as_bytes();
    let mut j = i + 1;
    if j < b.len() && b[j] == b'^' {
        j += 1;
    }
    if j < b.len() && b[j] == b']' {
        j += 1;
    }
    while j < b.len() && b[j] != b']' {
        if b[j] == b'\\' {
            j += escape_at(raw, j, escaped).0;
        } else {
            j += 1;
        }
    }
    (j + 1).min(b.len())
}

/// The literal characters of a regex: letters and digits outside escapes, group headers
/// (`(?-i:`) and classes, and classes that hold one letter in its cases (`[Nn]`).
fn regex_units(raw: &str, escaped: bool) -> Vec<Unit> {
    let b = raw.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += escape_at(raw, i, escaped).0,
            b'[' => {
                let e = class_end(raw, i, escaped);
                let inner = &raw[i + 1..e.saturating_sub(1).max(i + 1)];
                let letters: Vec<char> = inner.chars().collect();
                if !letters.is_empty()
                    && letters.iter().all(|c| c.is_ascii_alphabetic())
                    && letters.iter().all(|c| c.eq_ignore_ascii_case(&letters[0]))
                {
                    out.push(Unit::Class(i, e));
                }
                i = e;
            }
            b'(' if raw[i..].starts_with("(?") => {
                i += raw[i..].find([':', ')']).map_or(2, |k| k + 1);
            }
            c if c.is_ascii_alphanumeric() => {
                out.push(Unit::Char(i));
                i += 1;
            }
            _ => i += raw[i..].chars().next().map_or(1, char::len_utf8),
        }
    }
    out
}

/// The value-char mutant of a literal's content at `at` (offset of `raw` in the text): the
/// middle changeable character.
pub(super) fn value_char(
    raw: &str,
    at: usize,
    regex: bool,
    escaped: bool,
) -> Option<(usize, usize, String)> {
    let units = if regex {
        regex_units(raw, escaped)
    } else {
        plain_units(raw, escaped)
    };
    let u = units.get(units.len() / 2)?;
    Some(match *u {
        Unit::Char(i) => {
            let c = raw[i..].chars().next()?;
            (at + i, at + i + 1, next_char(c).to_string())
        }
        Unit::Class(s, e) => (
            at + s,
            at + e,
            raw[s..e]
                .chars()
                .map(|c| {
                    if c.is_ascii_alphabetic() {
                        next_char(c)
                    } else {
                        c
                    }
                })
                .collect(),
        ),
    })
}

/// Regex edits: anchors dropped (`^`, `$`, `\A`, `\z`, `\Z`) and one alternative of an
/// alternation dropped. Offsets are relative to `raw`.
pub(super) fn regex_edits(
    raw: &str,
    escaped: bool,
) -> Vec<(&'static str, usize, usize, Option<String>)> {
    let b = raw.as_bytes();
    let mut out = Vec::new();
    // (content start, bar positions) per open group; the whole regex is the outermost
    let mut stack: Vec<(usize, Vec<usize>)> = vec![(0, Vec::new())];
    let mut alternations: Vec<(usize, Vec<usize>, usize)> = Vec::new();
    let dotall = raw.starts_with("(?s)");
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                let (len, c) = escape_at(raw, i, escaped);
                if matches!(c, Some('A' | 'z' | 'Z')) {
                    out.push(("anchor-dropped", i, i + len, None));
                }
                i += len;
            }
            b'[' => i = class_end(raw, i, escaped),
            b'(' => {
                if raw[i..].starts_with("(?") {
                    let k = raw[i..].find([':', ')']).map_or(2, |k| k + 1);
                    if raw[i + k - 1..].starts_with(')') {
                        // a flag group `(?i)`, not a group
                        i += k;
                        continue;
                    }
                    i += k;
                } else {
                    i += 1;
                }
                stack.push((i, Vec::new()));
            }
            b')' => {
                if stack.len() > 1 {
                    let (s, bars) = stack.pop().unwrap_or_default();
                    if !bars.is_empty() {
                        alternations.push((s, bars, i));
                    }
                }
                i += 1;
            }
            b'|' => {
                if let Some(top) = stack.last_mut() {
                    top.1.push(i);
                }
                i += 1;
            }
            b'^' | b'$' => {
                let eq = (b[i] == b'^' && dotall && raw[i + 1..].starts_with(".*")).then(|| {
                    "`^.*` under (?s): the leftmost match starts at the beginning anyway"
                        .to_string()
                });
                out.push(("anchor-dropped", i, i + 1, eq));
                i += 1;
            }
            _ => i += raw[i..].chars().next().map_or(1, char::len_utf8),
        }
    }
    if let Some((s, bars)) = stack.pop() {
        if stack.is_empty() && !bars.is_empty() {
            alternations.push((s, bars, b.len()));
        }
    }
    alternations.sort_by_key(|a| a.0);
    for (s, bars, e) in alternations {
        let mut bounds = vec![s];
        for &p in &bars {
            bounds.push(p + 1);
        }
        let segs: Vec<(usize, usize)> = bounds
            .iter()
            .enumerate()
            .map(|(k, &a)| (a, bars.get(k).copied().unwrap_or(e)))
            .collect();
        for (k, &(a, z)) in segs.iter().enumerate() {
            let (from, to) = if k + 1 < segs.len() {
                (a, z + 1)
            } else {
                (bars[k - 1], z)
            };
            let text = &raw[a..z];
            let dup = segs
                .iter()
                .enumerate()
                .any(|(j, &(x, y))| j != k && &raw[x..y] == text)
                .then(|| format!("the alternative `{text}` is listed twice"));
            out.push(("alternative-dropped", from, to, dup));
        }
    }
    out
}

/// Does a regex (with its leading case flag dropped) still match letters case-sensitively
/// anywhere outside `(?-i:…)` groups and case-closed classes? If not, dropping the flag
/// is equivalent.
pub(super) fn has_cased_literal(raw: &str, escaped: bool) -> bool {
    let b = raw.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += escape_at(raw, i, escaped).0,
            b'[' => {
                let e = class_end(raw, i, escaped);
                let inner = &raw[i + 1..e.saturating_sub(1).max(i + 1)];
                let ranges = inner.contains("A-Z") && inner.contains("a-z");
                let closed = ranges
                    || inner.chars().filter(|c| cased(*c)).all(|c| {
                        inner.contains(c.to_ascii_lowercase())
                            && inner.contains(c.to_ascii_uppercase())
                    });
                if !closed {
                    return true;
                }
                i = e;
            }
            b'(' if raw[i..].starts_with("(?-i:") => {
                // skip to the group's close (its contents are case-sensitive already)
                let mut depth = 0;
                while i < b.len() {
                    match b[i] {
                        b'\\' => {
                            i += escape_at(raw, i, escaped).0;
                            continue;
                        }
                        b'[' => {
                            i = class_end(raw, i, escaped);
                            continue;
                        }
                        b'(' => depth += 1,
                        b')' => {
                            depth -= 1;
                            if depth == 0 {
                                i += 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
            }
            b'(' if raw[i..].starts_with("(?") => {
                i += raw[i..].find([':', ')']).map_or(2, |k| k + 1);
            }
            _ => {
                let c = raw[i..].chars().next().unwrap_or(' ');
                if cased(c) {
                    return true;
                }
                i += c.len_utf8();
            }
        }
    }
    false
}
