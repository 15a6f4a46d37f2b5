//! Lucene regexp semantics, case by case.

use super::*;

#[test]
fn whole_value_matching() {
    // (pattern, case-insensitive, value, expected)
    let cases: &[(&str, bool, &str, bool)] = &[
        ("abc", false, "abc", true),
        ("abc", false, "xabc", false),
        ("abc", false, "abcx", false),
        ("abc", false, "ABC", false),
        ("abc", true, "ABC", true),
        ("é", true, "É", false),
        ("k", true, "\u{212A}", false),
        ("[a-c]", true, "B", false),
        ("[a]", true, "A", true),
        ("[^a]", true, "A", false),
        ("[^a-c]", true, "B", true),
        ("\"ab\"", true, "AB", true),
        ("a.c", false, "a日c", true),
        ("a.c", false, "ac", false),
        ("a*", false, "", true),
        ("a+", false, "", false),
        ("ab?c", false, "ac", true),
        ("a{2}", false, "aa", true),
        ("a{2}", false, "aaa", false),
        ("a{2,}", false, "aaaa", true),
        ("a{1,2}b", false, "aab", true),
        ("a{1,2}b", false, "aaab", false),
        ("(ab|cd)+", false, "abcdab", true),
        ("(ab|cd)+", false, "abc", false),
        ("[^a-z]x", false, "Ax", true),
        ("[^a-z]x", false, "ax", false),
        ("\\.", false, ".", true),
        ("\\.", false, "x", false),
        ("\\\\", false, "\\", true),
        ("a\\*", false, "a*", true),
        ("\\d+", false, "123", true),
        ("\\d", false, "x", false),
        ("\\w\\s\\W", false, "a !", true),
        ("[\\d_]+", false, "1_2", true),
        ("\"a.b\"", false, "a.b", true),
        ("\"a.b\"", false, "axb", false),
        ("@", false, "anything", true),
        ("#", false, "", false),
        ("a|#", false, "a", true),
        ("()", false, "", true),
        ("^a$", false, "^a$", true),
        ("^a$", false, "a", false),
        ("[-a]", false, "-", true),
        ("[a-]", false, "-", true),
        (
            "(.*[^a-zA-Z0-9])?[Nn][Ee][Tt]([^a-zA-Z0-9].*)?",
            false,
            "x.net.y",
            true,
        ),
        (
            "(.*[^a-zA-Z0-9])?[Nn][Ee][Tt]([^a-zA-Z0-9].*)?",
            false,
            "xnet",
            false,
        ),
        ("(a*)*b", false, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false),
    ];
    for (p, ci, s, want) in cases {
        let r = Regex::new(p, *ci).unwrap_or_else(|e| panic!("{p}: {e}"));
        assert_eq!(r.is_match(s), *want, "{p} (ci={ci}) on {s:?}");
    }
}

#[test]
fn bad_patterns_are_errors() {
    let cases: &[(&str, usize)] = &[
        ("(a", 0),
        ("a)", 1),
        ("[a", 0),
        ("[]", 0),
        ("*a", 0),
        ("a{2", 1),
        ("a{3,1}", 1),
        ("[z-a]", 2),
        ("a\\", 1),
        ("a&b", 1),
        ("~a", 0),
        ("<1-5>", 0),
        ("\"ab", 0),
    ];
    for (p, at) in cases {
        let e = Regex::new(p, false).unwrap_err();
        assert_eq!(e.at, *at, "{p}: {e}");
    }
    assert!(Regex::new(&"(".repeat(10_000), false).is_err());
    assert!(Regex::new(&format!("a{}", "*".repeat(10_000)), false).is_err());
    assert!(Regex::new("(a{1000}){1000}", false).is_err());
}

#[test]
fn long_values_do_not_recurse() {
    let r = Regex::new(".*x.*", false).unwrap();
    let long = "a".repeat(200_000);
    assert!(!r.is_match(&long));
    assert!(r.is_match(&format!("{long}x")));
}

/// What the EQL backend writes under `regex~` (the `regexp` query's `case_insensitive`,
/// which Elasticsearch passes to Lucene as ASCII_CASE_INSENSITIVE; `toCaseInsensitiveChar`
/// leaves code points above 128 alone, see the module notes): a plain ASCII letter takes
/// both cases and nothing else, a class lists the Kelvin sign and non-ASCII cases itself,
/// and the term edges (ranges, never folded) keep their meaning.
#[test]
fn emitted_case_insensitive_forms() {
    let cases: &[(&str, &str, bool)] = &[
        ("(.*[^a-zA-Z0-9])?net([^a-zA-Z0-9].*)?", "X.NET.y", true),
        ("(.*[^a-zA-Z0-9])?net([^a-zA-Z0-9].*)?", "dotNET", false),
        (
            "(.*[^a-zA-Z0-9])?net([^a-zA-Z0-9].*)?",
            "\u{212A}.net",
            true,
        ),
        ("[Kk\u{212A}]aseya", "\u{212A}ASEYA", true),
        ("[Kk\u{212A}]aseya", "kaseya", true),
        ("kaseya", "\u{212A}aseya", false),
        ("s", "\u{17F}", false),
        ("[\u{C9}\u{E9}]t\u{E9}", "\u{C9}T\u{E9}", true),
        ("[\u{C9}\u{E9}]t\u{E9}", "\u{C9}T\u{C9}", false),
    ];
    for (p, s, want) in cases {
        let r = Regex::new(p, true).unwrap_or_else(|e| panic!("{p}: {e}"));
        assert_eq!(r.is_match(s), *want, "{p} on {s:?}");
        assert_eq!(r.is_match_nfa(s), *want, "{p} (NFA) on {s:?}");
    }
}
