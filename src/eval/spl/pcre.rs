//! Splunk's `match()`, `replace()` and `regex` take PCRE ("The regular expression must be a
//! Perl Compatible Regular Expression supported by the PCRE library", Search Reference:
//! regex command, help.splunk.com/splunk-enterprise/spl-search-reference/9.4/search-commands/regex).
//! The evaluator runs them with the Rust `regex` crate, so it first walks the pattern and
//! refuses every construct whose meaning differs between the two engines — an error, never
//! a silent difference:
//! - `$` (PCRE: end or before a final newline; Rust: end only) → write `\z`;
//! - `\b` `\B` `\d` `\w` `\s` (Unicode-aware in Rust, ASCII in PCRE without UCP) and `\v`
//!   (PCRE: vertical-space class; Rust: U+000B) → write an explicit class;
//! - nested classes and the set operators `&&` `--` `~~` (literal characters in PCRE);
//! - flags `m` (multi-line `^`/`$` differ at a final newline), `u`, `R` (Rust-only);
//! - Rust-only escapes (`\u{…}`, `\<`, `\b{start}` …);
//! - possessive quantifiers (`a++`), which the Rust parser reads as nested repetitions.
//!
//! PCRE constructs the Rust crate lacks (look-around, back-references, atomic
//! groups, `\Z`, `\G`, `\Q…\E`, recursion) are rejected by the crate's own parser; its
//! message is passed on. What remains (literals, `.`, `[...]` classes with ranges and
//! `[:alpha:]`, `\A`, `\z`, `^`, groups, alternation, repetition, `(?i)` `(?s)` `(?x)` `(?U)`,
//! `\p{…}`) means the same in both. Case-insensitive matching folds Unicode simply in
//! both (PCRE2 in UTF mode, Rust's simple case folding); Splunk runs PCRE in UTF-8 mode.

use regex::{Regex, RegexBuilder};
use regex_syntax::ast::{
    self, parse::ParserBuilder, AssertionKind, Ast, ClassSetBinaryOp, ClassSetItem, Flag,
    FlagsItemKind, GroupKind, HexLiteralKind, LiteralKind, SpecialLiteralKind,
};

/// `like()` pattern: `%` any run, `_` one character, whole value, case-sensitive
/// (Search Reference: "Comparison and Conditional functions", like).
pub fn like_regex(p: &str) -> String {
    let mut out = String::from("(?s)\\A");
    for c in p.chars() {
        match c {
            '%' => out.push_str(".*"),
            '_' => out.push('.'),
            c => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    out.push_str("\\z");
    out
}

/// The regex of a `match()`/`replace()` pattern, or of a `like()` one when `like`.
pub fn compile_call(pattern: &str, like: bool) -> Result<Regex, String> {
    if like {
        compile(&like_regex(pattern))
    } else {
        compile(pattern)
    }
}

/// The compiled literal patterns of a search's `match`/`replace`/`like` calls, compiled when
/// the search is parsed and reused by every run: compiling them costs far more than running
/// a search over one event. Each is found by what it means (its text, and whether it is a
/// `like()` pattern), not by where its call sits in memory, so the table stays right for a
/// clone of the search.
#[derive(Clone, Debug, Default)]
pub struct Literals(Vec<Literal>);

#[derive(Clone, Debug)]
struct Literal {
    like: bool,
    pattern: String,
    re: Regex,
}

impl Literals {
    pub(crate) fn get(&self, pattern: &str, like: bool) -> Option<&Regex> {
        self.0
            .iter()
            .find(|l| l.like == like && l.pattern == pattern)
            .map(|l| &l.re)
    }
    pub(crate) fn add(&mut self, pattern: &str, like: bool, re: Regex) {
        if self.get(pattern, like).is_none() {
            self.0.push(Literal {
                like,
                pattern: pattern.to_string(),
                re,
            });
        }
    }
}

/// Tables compare by their patterns (the regexes are compiled from them).
impl PartialEq for Literals {
    fn eq(&self, o: &Self) -> bool {
        let key = |l: &Literal| (l.like, l.pattern.clone());
        self.0.iter().map(key).eq(o.0.iter().map(key))
    }
}

/// Deepest group nesting accepted inside one pattern.
const NEST_LIMIT: u32 = 100;

struct Check;

fn refuse<T>(what: &str, fix: &str) -> Result<T, String> {
    Err(format!(
        "unsupported PCRE construct {what}: its meaning differs between PCRE and the evaluator's regex engine; {fix}"
    ))
}

fn check_flags(flags: &ast::Flags) -> Result<(), String> {
    for item in &flags.items {
        if let FlagsItemKind::Flag(f) = &item.kind {
            match f {
                Flag::CaseInsensitive
                | Flag::DotMatchesNewLine
                | Flag::SwapGreed
                | Flag::IgnoreWhitespace => {}
                Flag::MultiLine => refuse("(?m)", "match lines with \\n explicitly")?,
                Flag::Unicode => refuse("(?u)", "remove the flag")?,
                Flag::CRLF => refuse("(?R)", "remove the flag")?,
            }
        }
    }
    Ok(())
}

impl ast::Visitor for Check {
    type Output = ();
    type Err = String;
    fn finish(self) -> Result<(), String> {
        Ok(())
    }
    fn visit_pre(&mut self, a: &Ast) -> Result<(), String> {
        match a {
            Ast::Assertion(x) => match x.kind {
                AssertionKind::StartLine | AssertionKind::StartText | AssertionKind::EndText => {
                    Ok(())
                }
                AssertionKind::EndLine => refuse("`$`", "write \\z for the end of the value"),
                AssertionKind::WordBoundary | AssertionKind::NotWordBoundary => refuse(
                    "`\\b`/`\\B`",
                    "spell the boundary with an explicit class such as (?:\\A|[^A-Za-z0-9_])",
                ),
                _ => refuse("(Rust-only word-boundary assertion)", "remove it"),
            },
            Ast::ClassPerl(_) => refuse(
                "`\\d`/`\\w`/`\\s`",
                "write an explicit class such as [0-9], [A-Za-z0-9_] or [ \\t\\r\\n]",
            ),
            Ast::Flags(f) => check_flags(&f.flags),
            Ast::Group(g) => match &g.kind {
                GroupKind::NonCapturing(flags) => check_flags(flags),
                _ => Ok(()),
            },
            Ast::Literal(l) => check_literal(l),
            // `a++`, `a*+`, `a{2}+` are possessive in PCRE; the regex crate reads them as a
            // repetition of a repetition.
            Ast::Repetition(r) if matches!(*r.ast, Ast::Repetition(_)) => refuse(
                "(possessive quantifier such as a++)",
                "use a plain quantifier or group the inner one: (?:a+)+",
            ),
            _ => Ok(()),
        }
    }
    fn visit_class_set_item_pre(&mut self, item: &ClassSetItem) -> Result<(), String> {
        match item {
            ClassSetItem::Bracketed(_) => refuse(
                "(nested character class)",
                "PCRE reads `[` inside a class as a literal; escape it as \\[",
            ),
            ClassSetItem::Perl(_) => refuse(
                "`\\d`/`\\w`/`\\s` inside a class",
                "write the ranges explicitly",
            ),
            ClassSetItem::Literal(l) => check_literal(l),
            _ => Ok(()),
        }
    }
    fn visit_class_set_binary_op_pre(&mut self, _op: &ClassSetBinaryOp) -> Result<(), String> {
        refuse(
            "(class set operation &&, -- or ~~)",
            "PCRE reads these as literal characters; list the characters instead",
        )
    }
}

fn check_literal(l: &ast::Literal) -> Result<(), String> {
    match &l.kind {
        LiteralKind::Special(SpecialLiteralKind::VerticalTab) => refuse(
            "`\\v`",
            "PCRE's \\v is a class of vertical space; write \\x0B or a class",
        ),
        LiteralKind::HexFixed(HexLiteralKind::UnicodeShort | HexLiteralKind::UnicodeLong)
        | LiteralKind::HexBrace(HexLiteralKind::UnicodeShort | HexLiteralKind::UnicodeLong) => {
            refuse("`\\u`/`\\U`", "write \\x{…}")
        }
        LiteralKind::Octal => refuse("(octal escape)", "write \\x{…}"),
        _ => Ok(()),
    }
}

/// Check `pattern` for constructs that differ between PCRE and the `regex` crate, then
/// compile it.
pub fn compile(pattern: &str) -> Result<Regex, String> {
    let parsed = ParserBuilder::new()
        .nest_limit(NEST_LIMIT)
        .build()
        .parse(pattern)
        .map_err(|e| format!("invalid or unsupported regex {pattern:?}: {}", e.kind()))?;
    ast::visit(&parsed, Check)?;
    RegexBuilder::new(pattern)
        .nest_limit(NEST_LIMIT)
        .size_limit(1 << 22)
        .build()
        .map_err(|e| format!("invalid or unsupported regex {pattern:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_meaning_constructs_compile_and_match() {
        // (pattern, subject, want)
        let cases: &[(&str, &str, bool)] = &[
            (r"(?i)\Aclient32\.exe\z", "CLIENT32.EXE", true),
            (r"(?i)(?-i:[Ss])upport", "SUPPORT", true),
            (r"(?i)(?-i:[Ss])upport", "sUPPORT", true),
            (r"(?i)(?-i:K|k|K)aseya", "Kaseya", true),
            (
                r"(?i)(?-i:\A|[^A-Za-z0-9])net(?-i:[^A-Za-z0-9]|\z)",
                "x.NET.y",
                true,
            ),
            (
                r"(?i)(?-i:\A|[^A-Za-z0-9])net(?-i:[^A-Za-z0-9]|\z)",
                "dotnet",
                false,
            ),
            (r"(?s)^.*\\", "C:\\a\\b.exe", true),
            (r"\A\+?0*8443\z", "+08443", true),
            (r"(?i)straße", "STRASSE", false),
            (r"[[:digit:]]+", "a1", true),
            (r"(?x) a b ", "ab", true),
        ];
        for (p, s, want) in cases {
            assert_eq!(compile(p).unwrap().is_match(s), *want, "{p} on {s}");
        }
    }

    /// Caseless matching in UTF mode (pcre2api, PCRE2_CASELESS): "If either PCRE2_UTF or
    /// PCRE2_UCP is set, Unicode properties are used for all characters with more than one
    /// other case, and for all characters whose code points are greater than U+007F. Note
    /// that there are two ASCII characters, K and S, that, in addition to their lower case
    /// ASCII equivalents, are case-equivalent with U+212A (Kelvin sign) and U+017F (long S)
    /// respectively." The SPL backend relies on each of these edges.
    #[test]
    fn caseless_utf_mode_folds_by_unicode_simple_folding() {
        let cases: &[(&str, &str, bool)] = &[
            (r"(?i)\Ak\z", "\u{212A}", true),
            (r"(?i)\A\x{212A}\z", "k", true),
            (r"(?i)\A\x{212A}\z", "K", true),
            (r"(?i)\As\z", "\u{17F}", true),
            (r"(?i)\A(?-i:[Ss])\z", "\u{17F}", false),
            (r"(?i)\A(?-i:[Ss])\z", "S", true),
            (r"(?i)\A\x{E9}\z", "\u{C9}", true),
            (r"(?i)\A\x{3C3}\z", "\u{3C2}", true),
            (r"(?i)\A(?-i:[\x{3A3}\x{3C3}])\z", "\u{3C2}", false),
            (r"(?i)\A(?-i:[\x{3A3}\x{3C3}])\z", "\u{3A3}", true),
        ];
        for (p, s, want) in cases {
            assert_eq!(compile(p).unwrap().is_match(s), *want, "{p} on {s:?}");
        }
    }

    #[test]
    fn differing_or_missing_constructs_are_errors() {
        for (p, why) in [
            ("abc$", "`$`"),
            (r"\bword\b", "\\b"),
            (r"\d+", "\\d"),
            (r"[\w.]", "inside a class"),
            (r"\s", "\\d"),
            ("[a[b]]", "nested"),
            ("[a&&b]", "set operation"),
            ("(?m)^a", "(?m)"),
            (r"\u{41}", "\\u"),
            (r"\v", "\\v"),
            ("a(?=b)", "look-around"),
            (r"(a)\1", "backreferences"),
            (r"a\Z", "invalid or unsupported"),
            ("a++", "possessive"),
            ("a{2}+b", "possessive"),
            ("(", "invalid or unsupported"),
        ] {
            let e = compile(p).unwrap_err();
            assert!(e.contains(why), "{p}: {e}");
        }
        let deep = format!("{}a{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(compile(&deep).is_err());
    }
}
