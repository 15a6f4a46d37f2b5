//! The `regex`-crate translation agrees with the reference Pike VM on random patterns built
//! from the constructs rmmc emits (ASCII case-fold classes, `[^a-zA-Z0-9]` boundaries,
//! `(.*…)?` wrappers, escapes) and the rest of the accepted grammar, under both flags.

use super::*;
use proptest::prelude::*;

const ALPHABET: &[char] = &[
    'a', 'A', 'b', 'B', 'k', 'K', '\u{212A}', 'é', 'É', '1', '.', '-', '_', ' ', '\n', '日', '*',
    '\\',
];

fn atom() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(vec![
            "a", "A", "b", "k", "K", "\u{212A}", "é", "É", "1", "-", "_", " ", "日",
        ])
        .prop_map(String::from),
        proptest::sample::select(vec![
            "\\.",
            "\\d",
            "\\D",
            "\\s",
            "\\S",
            "\\w",
            "\\W",
            "\\\\",
            "\\*",
            "\\k",
            ".",
            "@",
            "#",
            "[aA]",
            "[Kk\u{212A}]",
            "[^a-zA-Z0-9]",
            "[a-c]",
            "[A-C]",
            "[^a]",
            "[^A]",
            "[\\d_]",
            "[\\D]",
            "[^\\w]",
            "[-a]",
            "[a-]",
            "[é-ê]",
            "[日]",
            "\"aB.\"",
            "\"\"",
            "()",
        ])
        .prop_map(String::from),
    ]
}

fn quantifier() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(vec![
        "", "", "", "?", "*", "+", "{2}", "{0,}", "{1,}", "{0,2}", "{1,3}", "{0}",
    ])
}

fn pattern() -> impl Strategy<Value = String> {
    let leaf = (atom(), quantifier()).prop_map(|(a, q)| format!("{a}{q}"));
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 1..4).prop_map(|v| v.concat()),
            proptest::collection::vec(inner.clone(), 2..4).prop_map(|v| v.join("|")),
            (inner, quantifier()).prop_map(|(x, q)| format!("({x}){q}")),
        ]
    })
}

/// What the EQL backend emits for a case-insensitive word with boundaries.
fn emitted() -> impl Strategy<Value = (String, String)> {
    let word = proptest::collection::vec(
        proptest::sample::select(vec!['a', 'k', 'e', '1', '.']),
        1..5,
    );
    word.prop_flat_map(|w| {
        let mut p = String::from("(.*[^a-zA-Z0-9])?");
        for c in &w {
            match c {
                '.' => p.push_str("\\."),
                c if c.is_ascii_alphabetic() => {
                    p.push('[');
                    p.push(c.to_ascii_uppercase());
                    p.push(*c);
                    if *c == 'k' {
                        p.push('\u{212A}');
                    }
                    p.push(']');
                }
                c => p.push(*c),
            }
        }
        p.push_str("([^a-zA-Z0-9].*)?");
        let variants: Vec<String> = vec![
            w.iter().collect(),
            w.iter().map(|c| c.to_ascii_uppercase()).collect(),
            w.iter()
                .map(|c| if *c == 'k' { '\u{212A}' } else { *c })
                .collect(),
        ];
        (
            Just(p),
            proptest::collection::vec(
                prop_oneof![
                    proptest::sample::select(variants),
                    proptest::sample::select(vec![".", "x", "-", "é", "1", "A", "\n", ""])
                        .prop_map(String::from),
                ],
                0..5,
            )
            .prop_map(|v| v.concat()),
        )
    })
}

fn input() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(ALPHABET.to_vec()), 0..10)
        .prop_map(|v| v.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn translation_agrees_with_the_nfa(
        p in pattern(),
        ci in any::<bool>(),
        inputs in proptest::collection::vec(input(), 1..8),
    ) {
        let Ok(r) = Regex::new(&p, ci) else {
            return Ok(());
        };
        prop_assert!(r.translated().is_some(), "{p} was not translated");
        for s in &inputs {
            prop_assert_eq!(
                r.is_match(s),
                r.is_match_nfa(s),
                "{} (ci={}) as {:?} on {:?}", p, ci, r.translated(), s
            );
        }
    }

    #[test]
    fn emitted_patterns_agree_with_the_nfa((p, s) in emitted(), ci in any::<bool>()) {
        let r = Regex::new(&p, ci).unwrap();
        prop_assert!(r.translated().is_some());
        prop_assert_eq!(r.is_match(&s), r.is_match_nfa(&s), "{} on {:?}", p, s);
    }
}

#[test]
fn the_fixed_cases_agree_too() {
    for p in ["#", "a|#", "(#)*", "()", "\"\"", "[^\\D\\d]", "(a*)*b", "@"] {
        for ci in [false, true] {
            let r = Regex::new(p, ci).unwrap();
            assert!(r.translated().is_some(), "{p}");
            for s in ["", "a", "b", "ab", "aab", "\n"] {
                assert_eq!(r.is_match(s), r.is_match_nfa(s), "{p} (ci={ci}) on {s:?}");
            }
        }
    }
}
