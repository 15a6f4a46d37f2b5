//! Text that Splunk reads back exactly: eval string literals, PCRE patterns for `match()`, and
//! `.conf` values.
//!
//! Every text test is a PCRE `match()` in a `where` clause, never a `search` term: `search`
//! terms are case-insensitive with `*` as an unescapable wildcard and match on Splunk's
//! tokenization, so they cannot state the IR's meaning exactly. (The search command does carry
//! terms, as a prefilter only wider than the `where`: see `terms`.)
//!
//! Splunk's `match()` is PCRE ("Splunk regular expressions are PCRE (Perl Compatible Regular
//! Expressions) and use the PCRE C library", Knowledge Manager Manual: About Splunk regular
//! expressions), run in UTF mode over Splunk's UTF-8 event text: the model the SPL evaluator
//! implements (`eval::spl::pcre`), and the one that `\x{212A}` needs (outside UTF mode PCRE2
//! refuses a code point above 255). Case-insensitive patterns use `(?i)`, whose UTF-mode
//! folding is the closure of Unicode simple case folding (`pcre_case_class`); the IR's is
//! `ir::fold`. Each character is written as itself where the two agree — all ASCII letters
//! but `s` (PCRE adds ſ, the IR does not) — and as a case-sensitive class of exactly the IR's
//! characters where they differ: `(?-i:\x{3C2})` for ς. `s` is written plain too, on the
//! field with its ſ swapped for an ASCII non-word character (`long_s_swap`):
//! `match(replace(Company, "\x{17F}", "?"), "(?i)microsoft")`, which one can grep; the class
//! `(?-i:[Ss])` is left only where no swap is exact. Term boundaries are case-sensitive. No
//! non-ASCII character is written raw: each is `\x{…}`.

use crate::ir::fold;
use regex_syntax::hir::{ClassUnicode, ClassUnicodeRange};
use std::collections::HashMap;
use std::fmt::Write as _;

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

/// `c` as a PCRE atom matching exactly it: a metacharacter after a backslash, a non-ASCII
/// character as `\x{…}` (UTF mode reads it as that code point; nothing invisible or
/// look-alike is written raw), anything else as itself.
fn literal(c: char, out: &mut String) {
    if !c.is_ascii() {
        let _ = write!(out, "\\x{{{:X}}}", c as u32);
        return;
    }
    if META.contains(c) {
        out.push('\\');
    }
    out.push(c);
}

/// `c` inside a character class: `\`, `]`, `[`, `^` and `-` after a backslash, non-ASCII
/// as `\x{…}`.
fn class_member(c: char, out: &mut String) {
    if "\\][^-".contains(c) {
        out.push('\\');
        out.push(c);
    } else {
        literal(c, out);
    }
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

/// Every character `(?i)c` matches in PCRE2's UTF mode, sorted: the closure of Unicode simple
/// case folding (pcre2api, PCRE2_CASELESS: "If either PCRE2_UTF or PCRE2_UCP is set, Unicode
/// properties are used for all characters with more than one other case, and for all
/// characters whose code points are greater than U+007F. Note that there are two ASCII
/// characters, K and S, that, in addition to their lower case ASCII equivalents, are
/// case-equivalent with U+212A (Kelvin sign) and U+017F (long S) respectively"). The
/// evaluator's `regex` crate folds by the same closure (`ClassUnicode::case_fold_simple`).
pub fn pcre_case_class(c: char) -> Vec<char> {
    let mut class = ClassUnicode::new([ClassUnicodeRange::new(c, c)]);
    class.case_fold_simple();
    class
        .ranges()
        .iter()
        .flat_map(|r| r.start()..=r.end())
        .collect()
}

/// The PCRE text matching exactly `v` (case-insensitively, per the IR, inside a `(?i)`
/// pattern unless `cased`). A character is written as itself wherever PCRE's `(?i)` folds it
/// exactly as the IR does — every ASCII letter but `s`, since PCRE adds ſ (U+017F) to s and
/// the IR does not (its fold is `to_lowercase`, and ſ is already lower case), while both add
/// the Kelvin sign to k — and as a case-sensitive group of the IR's class otherwise:
/// `(?-i:[Ss])`, `(?-i:[\x{3A3}\x{3C3}])` for σ (PCRE adds ς).
pub fn pcre_text(v: &str, cased: bool) -> String {
    pcre_text_with(v, cased, false)
}

/// The long s (U+017F) as a pattern: what `long_s_swap` replaces in the tested value.
pub const LONG_S: &str = r"\x{17F}";

/// The characters ſ may become in the tested value, in order of preference (see
/// `long_s_swap`): ASCII, so written as themselves; no letter or digit, so a term boundary
/// where ſ was one (the spec's term characters are the ASCII letters and digits, `ir::SPEC`);
/// not `.` (the separator the domain pattern looks for), nor `\`, `"` or `$` (special in a
/// replacement or an eval string). `?` first: no Windows file name holds it.
pub const LONG_S_SWAPS: [char; 3] = ['?', '#', '~'];

/// The character to put in place of every ſ of the tested value so that a case-insensitive
/// pattern of `values` can write `s` plain (`match(replace(F, "\x{17F}", "?"), "(?i)…s…")`),
/// or None when classes are needed (`(?-i:[Ss])`): no value has an `s`, or one holds ſ, or
/// one holds every character of `LONG_S_SWAPS`.
///
/// Exact, for every text operator and for domains, when it is Some(r):
/// - after the replacement the value holds no ſ, so PCRE's `(?i)s` takes only S and s, which
///   is the spec's class of s (`fold` keeps ſ apart: it is lower case already), and every other
///   character of the pattern is written as before, as exactly its IR class;
/// - the spec's verdict on the replaced value is its verdict on the original one: ſ equals no
///   character of any value under the spec's fold (no value holds ſ, and the class of no other
///   character holds it: `escape::tests`), nor does r (ASCII punctuation folds only to itself,
///   and no value holds it); both are non-term characters, and `\A`, `\z` and `.` see the same
///   positions, since one character replaces one;
/// - so the pattern on the replaced value says what the spec says on the original.
///
/// Splunk's `replace(<str>, <regex>, <replacement>)` puts the replacement in place of every
/// match of the regex (Search Reference, "Text functions": replace; its replacement can name
/// groups as `\1`…`\9`, and is otherwise the text itself, so the swap is a character written
/// as itself: ASCII, never an escape). The regex is PCRE like `match()`'s ("You can use regular
/// expressions with the rex command, and with the match, mvfind, and replace evaluation
/// functions", docs.splunk.com/Documentation/SCS/latest/Search/SPL2andregularexpressions), so
/// `\x{17F}` is the code point in UTF mode. The evaluator runs it the same way (`eval::spl`:
/// the same regex model, every occurrence replaced).
pub fn long_s_swap(values: &[String]) -> Option<char> {
    if !values.iter().any(|v| v.contains(['s', 'S']))
        || values.iter().any(|v| v.contains('\u{17F}'))
    {
        return None;
    }
    LONG_S_SWAPS
        .into_iter()
        .find(|r| values.iter().all(|v| !v.contains(*r)))
}

/// `pcre_text` with `s`/`S` written plain, for a value whose ſ were swapped (`long_s_swap`).
pub fn pcre_text_plain_s(v: &str) -> String {
    pcre_text_with(v, false, true)
}

/// `pcre_text`, with `s`/`S` written plain when `plain_s` (the caller swaps ſ out).
fn pcre_text_with(v: &str, cased: bool, plain_s: bool) -> String {
    let mut out = String::new();
    // inside a `(?-i:` group opened for the previous character: consecutive classed
    // characters share it
    let mut open = false;
    for c in v.chars() {
        let class = case_class(c);
        if cased || (plain_s && matches!(c, 's' | 'S')) || class == pcre_case_class(c) {
            if open {
                out.push(')');
                open = false;
            }
            literal(c, &mut out);
            continue;
        }
        if !open {
            out.push_str("(?-i:");
            open = true;
        }
        if let [one] = class.as_slice() {
            literal(*one, &mut out);
        } else {
            out.push('[');
            for m in &class {
                class_member(*m, &mut out);
            }
            out.push(']');
        }
    }
    if open {
        out.push(')');
    }
    out
}

/// Longer `where` lines are broken at their outer `OR` / `AND` (issue 19: readable).
const WHERE_WIDTH: usize = 100;

/// `| where <expr>`, over several lines when long.
pub fn where_line(expr: &str) -> String {
    let line = format!("| where {expr}");
    if line.len() > WHERE_WIDTH {
        format!("| where {}", break_lines(expr))
    } else {
        line
    }
}

/// A `where` expression over several lines for reading: a line break before each `OR` /
/// `AND` that joins the expression's outermost parts (outside quotes and brackets), or the
/// parts inside one outer `NOT (…)`. SPL reads a line break between tokens as a space
/// (savedsearches.conf continues the search over them with `\`, see `conf_value`); no
/// line starts or ends with whitespace.
pub fn break_lines(expr: &str) -> String {
    let (pre, inner, post) = match expr.strip_prefix("NOT (").and_then(|r| r.strip_suffix(')')) {
        Some(inner) if depth_zero_splits(inner).is_some() => ("NOT (", inner, ")"),
        _ => ("", expr, ""),
    };
    match depth_zero_splits(inner) {
        Some(cuts) => {
            let mut out = String::from(pre);
            let mut last = 0;
            for at in cuts {
                out.push_str(&inner[last..at]);
                out.push('\n');
                last = at + 1; // the space before the connector
            }
            out.push_str(&inner[last..]);
            out.push_str(post);
            out
        }
        None => expr.to_string(),
    }
}

/// Byte offsets of the spaces before ` OR ` / ` AND ` at bracket depth 0 outside quotes, or
/// None when there are none or `s` is not balanced (then it is one part, e.g. `(a) OR b)`).
fn depth_zero_splits(s: &str) -> Option<Vec<usize>> {
    let (mut depth, mut quoted, mut escaped) = (0i32, false, false);
    let mut cuts = Vec::new();
    for (i, c) in s.char_indices() {
        if quoted {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => quoted = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return None;
                }
            }
            ' ' if depth == 0 && (s[i..].starts_with(" OR ") || s[i..].starts_with(" AND ")) => {
                cuts.push(i)
            }
            _ => {}
        }
    }
    (depth == 0 && !quoted && !cuts.is_empty()).then_some(cuts)
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

    /// pcre2api, PCRE2_CASELESS in UTF mode: K and S "are case-equivalent with U+212A (Kelvin
    /// sign) and U+017F (long S) respectively"; the IR folds K to k (its lower case) but
    /// leaves ſ alone (already lower case), so only s needs a class.
    #[test]
    fn pcre_classes_are_unicode_simple_folding() {
        assert_eq!(pcre_case_class('k'), vec!['K', 'k', '\u{212A}']);
        assert_eq!(pcre_case_class('s'), vec!['S', 's', '\u{17F}']);
        assert_eq!(pcre_case_class('σ'), vec!['Σ', 'ς', 'σ']);
        assert_eq!(case_class('s'), vec!['S', 's']);
        assert_eq!(case_class('\u{17F}'), vec!['\u{17F}']);
    }

    #[test]
    fn pcre_text_is_plain_where_the_foldings_agree() {
        assert_eq!(pcre_text("net.com", false), r"net\.com");
        // Kelvin: (?i)k is exactly the IR's {K, k, U+212A}; s is not ({S, s, ſ} vs {S, s})
        assert_eq!(pcre_text("ks", false), "k(?-i:[Ss])");
        assert_eq!(pcre_text("\u{212A}", false), r"\x{212A}");
        assert_eq!(pcre_text("\u{212A}", true), r"\x{212A}");
        // ſ alone in the IR; PCRE would add S and s
        assert_eq!(pcre_text("\u{17F}", false), r"(?-i:\x{17F})");
        // σ: PCRE adds ς, the IR does not (ς is lower case already); 日 has no case
        assert_eq!(
            pcre_text("σς日", false),
            r"(?-i:[\x{3A3}\x{3C3}]\x{3C2})\x{65E5}"
        );
        // é folds the same in both: written as itself, escaped
        assert_eq!(pcre_text("é", false), r"\x{E9}");
        assert_eq!(pcre_text("a*b", true), r"a\*b");
        // neighbours share one case-sensitive group
        assert_eq!(pcre_text("Progress", false), "Progre(?-i:[Ss][Ss])");
        assert!(pcre_text("Ärger KΣ", false).is_ascii());
    }

    /// The swap's exactness rests on the IR's class of no character but ſ holding ſ, and on
    /// every swap character being a non-term character that folds only to itself.
    #[test]
    fn the_long_s_swap_applies_where_s_is_written_and_no_value_holds_the_swap() {
        let v = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(long_s_swap(&v(&["microsoft.exe", "ka"])), Some('?'));
        assert_eq!(
            long_s_swap(&v(&["s\u{3C2}"])),
            Some('?'),
            "ς keeps its class"
        );
        assert_eq!(long_s_swap(&v(&["net.exe"])), None, "no s: nothing to swap");
        assert_eq!(long_s_swap(&v(&["\u{17F}s"])), None, "ſ in a value");
        assert_eq!(long_s_swap(&v(&["s?", "#"])), Some('~'));
        assert_eq!(long_s_swap(&v(&["s?#~"])), None, "every swap taken");
        assert_eq!(pcre_text_plain_s("Setup.exe"), r"Setup\.exe");
        assert_eq!(pcre_text_plain_s("s\u{3C2}"), r"s(?-i:\x{3C2})");
        assert!(crate::ir::fold_preimages()
            .iter()
            .all(|(f, from)| *f != '\u{17F}' && !from.contains(&'\u{17F}')));
        for r in LONG_S_SWAPS {
            assert!(!(crate::ir::SPEC.term_char)(r) && r.is_ascii() && r != '.');
            assert_eq!(case_class(r), vec![r]);
            assert_eq!(pcre_case_class(r), vec![r]);
        }
    }

    #[test]
    fn where_expressions_break_at_their_outer_connectors() {
        assert_eq!(where_line("a OR b"), "| where a OR b", "short: one line");
        let long = format!("{} OR b", "a".repeat(WHERE_WIDTH));
        assert_eq!(
            where_line(&long),
            format!("| where {}\nOR b", "a".repeat(WHERE_WIDTH))
        );
        assert_eq!(break_lines("a OR b"), "a\nOR b");
        assert_eq!(
            break_lines(r#"match(x, "a OR b") AND (c OR d)"#),
            "match(x, \"a OR b\")\nAND (c OR d)"
        );
        assert_eq!(break_lines("NOT (a OR b)"), "NOT (a\nOR b)");
        assert_eq!(break_lines("NOT (a) OR (b)"), "NOT (a)\nOR (b)");
        assert_eq!(break_lines("(a OR b)"), "(a OR b)");
        assert_eq!(
            break_lines(r#"match(x, "\")") OR y"#),
            "match(x, \"\\\")\")\nOR y"
        );
    }
}
