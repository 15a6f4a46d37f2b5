//! The reference interpreter: what a spec *means* on a canonical event. Every backend is
//! checked against these verdicts, so each rule here is deliberate and unit-tested.
//!
//! Conventions (chosen to match how the SIEMs store these columns):
//! - A missing or null text field reads as the empty string (KQL strings are never null).
//! - A missing port or an unparsable IP never matches; under `not` it therefore passes.
//! - Case-insensitive means Unicode lower-casing of both sides.
//! - Term boundaries are ASCII letters/digits (Kusto splits terms on non-alphanumerics).
//!
//! `Lexical` names those two choices, so a target that makes other ones (Kusto folds ASCII
//! only and counts Unicode letters and digits as term characters) can be modeled by the same
//! code (`Match::eval_in`, used by verify to model a declared rendering).

use super::{Expr, IrDetection, Match, Test, TextOp};
use crate::spec::Source;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::net::IpAddr;

/// A canonical event: canonical field name → value (JSON string or number).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Event(pub Map<String, Value>);

impl Event {
    pub fn from_json(v: Value) -> Option<Event> {
        match v {
            Value::Object(m) => Some(Event(m)),
            _ => None,
        }
    }

    fn text(&self, field: &str) -> Cow<'_, str> {
        match self.0.get(field) {
            Some(Value::String(s)) => Cow::Borrowed(s),
            Some(Value::Number(n)) => Cow::Owned(n.to_string()),
            Some(Value::Bool(b)) => Cow::Owned(b.to_string()),
            _ => Cow::Borrowed(""),
        }
    }

    fn number(&self, field: &str) -> Option<u64> {
        match self.0.get(field) {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        }
    }

    fn ip(&self, field: &str) -> Option<IpAddr> {
        self.text(field).parse().ok()
    }
}

impl IrDetection {
    /// Does `event` (read from `source`) fire this detection? Exclusions apply when asked and
    /// when they cover that source.
    pub fn matches(&self, event: &Event, source: Source, with_exclusions: bool) -> bool {
        self.expr.eval(event)
            && !(with_exclusions
                && self
                    .exclusions
                    .iter()
                    .any(|x| x.sources.contains(&source) && x.expr.eval(event)))
    }
}

impl Expr {
    pub fn eval(&self, ev: &Event) -> bool {
        match self {
            Expr::All(v) => v.iter().all(|e| e.eval(ev)),
            Expr::Any(v) => v.iter().any(|e| e.eval(ev)),
            Expr::Not(e) => !e.eval(ev),
            Expr::Match(m) => m.eval(ev),
        }
    }
}

/// How a language compares text: which characters its case-insensitive operators treat as
/// equal, and which characters make up a term (everything else is a boundary).
#[derive(Clone, Copy, Debug)]
pub struct Lexical {
    pub fold: fn(char) -> char,
    pub term_char: fn(char) -> bool,
}

/// The spec's own rules (module notes).
pub const SPEC: Lexical = Lexical {
    fold,
    term_char: |c| c.is_ascii_alphanumeric(),
};

/// Kusto's rules: "Case-insensitive operators are currently supported only for ASCII-text"
/// (learn.microsoft.com/kusto/query/datatypes-string-operators, and each operator's page), and
/// "each string value is broken into maximal sequences of alphanumeric characters" (same page,
/// "What is a term?"), with no restriction to ASCII: a Unicode letter or digit is part of a term.
pub const KUSTO: Lexical = Lexical {
    fold: |c| c.to_ascii_lowercase(),
    term_char: char::is_alphanumeric,
};

impl Match {
    pub fn eval(&self, ev: &Event) -> bool {
        self.eval_in(&SPEC, ev)
    }

    /// The match as a language with `lex` text rules computes it (text and domain kinds; the
    /// others do not depend on them).
    pub fn eval_in(&self, lex: &Lexical, ev: &Event) -> bool {
        let name = self.field.name();
        match &self.test {
            Test::Text { op, values, cased } => {
                let hay = ev.text(name);
                values
                    .iter()
                    .any(|v| text_match_in(lex, *op, &hay, v, *cased))
            }
            Test::Domain(ds) => {
                let hay: String = ev.text(name).chars().map(lex.fold).collect();
                ds.iter().any(|d| domain_match(&hay, d))
            }
            Test::Ip(ips) => ev.ip(name).is_some_and(|ip| ips.contains(&ip)),
            Test::Cidr(nets) => ev
                .ip(name)
                .is_some_and(|ip| nets.iter().any(|n| n.contains(ip))),
            Test::Port(ports) => ev
                .number(name)
                .is_some_and(|p| ports.iter().any(|q| u64::from(*q) == p)),
            Test::Digest(hs) => {
                let hay = ev.text(name).to_ascii_lowercase();
                hs.contains(&hay)
            }
        }
    }
}

/// Case folding, one character to one character: a character whose lower case is a single
/// character becomes it; the few whose lower case is longer (`İ` → `i̇`) stay as they are.
/// Positions therefore never move, so term boundaries are judged on the original text.
pub fn fold(c: char) -> char {
    let mut l = c.to_lowercase();
    match (l.next(), l.next()) {
        (Some(x), None) => x,
        _ => c,
    }
}

/// No code point above this one changes under `fold` (the last cased script is Adlam,
/// U+1E900–U+1E943), so the preimage table need not scan the 1.1 million code points above
/// it; `no_character_above_last_folding_folds` checks the bound against the Unicode tables
/// of the Rust in use.
const LAST_FOLDING: u32 = 0x1E943;

/// For every folded character `f`, the other characters `x` (`x != f`) with `fold(x) == f`,
/// ascending. Built once by scanning every code point; the backends spell case-insensitive
/// matches as classes from it.
pub fn fold_preimages() -> &'static std::collections::HashMap<char, Vec<char>> {
    static MAP: std::sync::OnceLock<std::collections::HashMap<char, Vec<char>>> =
        std::sync::OnceLock::new();
    MAP.get_or_init(|| {
        let mut m: std::collections::HashMap<char, Vec<char>> = Default::default();
        for c in (0..=LAST_FOLDING).filter_map(char::from_u32) {
            let f = fold(c);
            if f != c {
                m.entry(f).or_default().push(c);
            }
        }
        m
    })
}

/// One text comparison, case-insensitive (per `fold`) unless `cased`.
pub fn text_match(op: TextOp, hay: &str, needle: &str, cased: bool) -> bool {
    text_match_in(&SPEC, op, hay, needle, cased)
}

/// One text comparison under `lex`'s folding and term characters.
pub fn text_match_in(lex: &Lexical, op: TextOp, hay: &str, needle: &str, cased: bool) -> bool {
    let f = |c: char| if cased { c } else { (lex.fold)(c) };
    let h: Vec<char> = hay.chars().collect();
    let n: Vec<char> = needle.chars().collect();
    if n.len() > h.len() {
        return false;
    }
    let at = |i: usize| n.iter().zip(&h[i..]).all(|(a, b)| f(*a) == f(*b));
    let word = |c: Option<&char>| c.is_some_and(|c| (lex.term_char)(*c));
    let last = h.len() - n.len();
    match op {
        TextOp::Exact => h.len() == n.len() && at(0),
        TextOp::Prefix => at(0),
        TextOp::Suffix => at(last),
        TextOp::Contains => (0..=last).any(at),
        // KQL `has`: every occurrence counts (overlapping ones too), each needs a
        // non-alphanumeric character or the edge on both sides.
        TextOp::Term => {
            !n.is_empty()
                && (0..=last).any(|i| {
                    at(i)
                        && !word(i.checked_sub(1).and_then(|j| h.get(j)))
                        && !word(h.get(i + n.len()))
                })
        }
    }
}

fn domain_match(hay_lower: &str, domain: &str) -> bool {
    hay_lower == domain
        || hay_lower
            .strip_suffix(domain)
            .is_some_and(|rest| rest.ends_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Field;
    use serde_json::json;

    fn ev(v: Value) -> Event {
        Event::from_json(v).unwrap()
    }
    fn m(field: &str, test: Test) -> Match {
        Match {
            field: Field::known(field),
            test,
            list: None,
            span: None,
        }
    }
    fn text(op: TextOp, v: &[&str], cased: bool) -> Test {
        Test::Text {
            op,
            values: v.iter().map(|s| s.to_string()).collect(),
            cased,
        }
    }
    fn url(u: &str) -> Event {
        ev(json!({ "remote_domain": u }))
    }

    #[test]
    fn term_is_whole_term_and_case_insensitive() {
        let t = m(
            "remote_domain",
            text(TextOp::Term, &["netsupportsoftware.com"], false),
        );
        for yes in [
            "netsupportsoftware.com",
            "NETSUPPORTSOFTWARE.COM",
            "www.netsupportsoftware.com",
            "a.netsupportsoftware.com.evil.net",
            "https://netsupportsoftware.com:443/x",
            "netsupportsoftware.com.",
        ] {
            assert!(t.eval(&url(yes)), "{yes} should match");
        }
        for no in [
            "xnetsupportsoftware.com",
            "notnetsupportsoftware.com",
            "netsupportsoftware.community",
            "netsupportsoftware_com",
            "",
        ] {
            assert!(!t.eval(&url(no)), "{no} should not match");
        }
        // a later occurrence can match when an earlier one is glued to a word
        assert!(t.eval(&url("xnetsupportsoftware.com netsupportsoftware.com")));
        // occurrences may overlap: the second `a.a` in `xa.a.a` is a whole term
        assert!(text_match(TextOp::Term, "xa.a.a", "a.a", false));
        assert!(!text_match(TextOp::Term, "xa.a.ax", "a.a", false));
        // boundaries are judged on the original text: the Kelvin sign folds to `k`, but it
        // is not an ASCII letter, so `x` after it is still a whole term
        assert!(text_match(TextOp::Term, "\u{212A}x", "x", false));
        assert!(text_match(TextOp::Exact, "\u{212A}", "k", false));
        // a character whose lower case is two characters compares as itself
        assert!(text_match(TextOp::Exact, "\u{130}", "\u{130}", false));
        assert!(!text_match(TextOp::Exact, "\u{130}", "i\u{307}", false));
    }

    /// The model of Kusto's text rules that verify uses for a declared KQL rendering
    /// (learn.microsoft.com/kusto/query/datatypes-string-operators: ASCII-only case folding;
    /// terms are maximal runs of alphanumeric characters), next to the spec's.
    #[test]
    fn kusto_lexical_differs_from_the_spec_where_documented() {
        use TextOp::*;
        let rows: &[(TextOp, &str, &str, bool, bool)] = &[
            // (op, event, value, spec, kusto)
            (Exact, "NETSUPPORT", "netsupport", true, true),
            (Exact, "KRÄMER", "Krämer", true, false),
            (Exact, "KRäMER", "Krämer", true, true),
            (Contains, "\u{212A}aseya", "kaseya", true, false),
            (
                Term,
                "énetsupportsoftware.com",
                "netsupportsoftware.com",
                true,
                false,
            ),
            (Term, "netsupport٣", "netsupport", true, false),
            (
                Term,
                "é.netsupportsoftware.com",
                "netsupportsoftware.com",
                true,
                true,
            ),
            (Term, "xnetsupport", "netsupport", false, false),
        ];
        for (op, hay, needle, spec, kusto) in rows {
            assert_eq!(
                text_match_in(&SPEC, *op, hay, needle, false),
                *spec,
                "{hay}"
            );
            assert_eq!(
                text_match_in(&KUSTO, *op, hay, needle, false),
                *kusto,
                "{hay}"
            );
        }
    }

    #[test]
    fn term_cased() {
        let t = m("initiating_company", text(TextOp::Term, &["Action1"], true));
        assert!(t.eval(&ev(json!({"initiating_company": "Action1 Corporation"}))));
        assert!(!t.eval(&ev(json!({"initiating_company": "ACTION1 Corporation"}))));
    }

    #[test]
    fn domain_is_self_or_subdomain() {
        let d = m(
            "remote_domain",
            Test::Domain(vec!["netsupportsoftware.com".into()]),
        );
        for yes in [
            "netsupportsoftware.com",
            "WWW.NetSupportSoftware.com",
            "a.b.netsupportsoftware.com",
        ] {
            assert!(d.eval(&url(yes)), "{yes}");
        }
        for no in [
            "notnetsupportsoftware.com",
            "netsupportsoftware.com.evil.net",
            "netsupportsoftware.com.",
            "https://netsupportsoftware.com",
            "",
        ] {
            assert!(!d.eval(&url(no)), "{no}");
        }
    }

    #[test]
    fn substring_kinds() {
        let e = ev(json!({"process_command_line": "C:\\Windows\\System32\\SchTasks.exe /run"}));
        assert!(m(
            "process_command_line",
            text(TextOp::Contains, &["schtasks"], false)
        )
        .eval(&e));
        assert!(!m(
            "process_command_line",
            text(TextOp::Contains, &["schtasks"], true)
        )
        .eval(&e));
        assert!(m(
            "process_command_line",
            text(TextOp::Prefix, &["c:\\windows"], false)
        )
        .eval(&e));
        assert!(m(
            "process_command_line",
            text(TextOp::Suffix, &["/RUN"], false)
        )
        .eval(&e));
        assert!(!m(
            "process_command_line",
            text(TextOp::Exact, &["schtasks.exe"], false)
        )
        .eval(&e));
        // `*` is a literal character, never a wildcard
        assert!(!m(
            "process_command_line",
            text(TextOp::Contains, &["Sch*"], false)
        )
        .eval(&e));
    }

    #[test]
    fn missing_text_is_empty_string() {
        let e = ev(json!({}));
        let x = Expr::Match(m(
            "parent_process_name",
            text(TextOp::Exact, &["schtasks.exe"], false),
        ));
        assert!(!x.eval(&e));
        assert!(Expr::Not(Box::new(x)).eval(&e));
    }

    #[test]
    fn ips_parse_strictly() {
        let t = m("remote_ip", Test::Ip(vec!["95.85.246.53".parse().unwrap()]));
        assert!(t.eval(&ev(json!({"remote_ip": "95.85.246.53"}))));
        assert!(!t.eval(&ev(json!({"remote_ip": "095.85.246.53"}))));
        assert!(!t.eval(&ev(json!({"remote_ip": "::ffff:95.85.246.53"}))));
        assert!(!t.eval(&ev(json!({}))));
        let c = m("remote_ip", Test::Cidr(vec!["10.0.0.0/8".parse().unwrap()]));
        assert!(c.eval(&ev(json!({"remote_ip": "10.1.2.3"}))));
        assert!(!c.eval(&ev(json!({"remote_ip": "11.0.0.1"}))));
    }

    #[test]
    fn ports_and_digests() {
        let p = m("remote_port", Test::Port(vec![443]));
        assert!(p.eval(&ev(json!({"remote_port": 443}))));
        assert!(p.eval(&ev(json!({"remote_port": "443"}))));
        assert!(!p.eval(&ev(json!({"remote_port": 7443}))));
        assert!(!p.eval(&ev(json!({}))));
        let h = m(
            "process_md5",
            Test::Digest(vec!["d41d8cd98f00b204e9800998ecf8427e".into()]),
        );
        assert!(h.eval(&ev(
            json!({"process_md5": "D41D8CD98F00B204E9800998ECF8427E"})
        )));
    }

    #[test]
    fn no_character_above_last_folding_folds() {
        for c in (LAST_FOLDING + 1..=0x10FFFF_u32).filter_map(char::from_u32) {
            assert_eq!(fold(c), c, "{c:?} folds: raise LAST_FOLDING");
            assert!(
                c.to_uppercase().eq([c]),
                "{c:?} has an upper case: raise LAST_FOLDING"
            );
        }
        assert_ne!(fold('\u{1E900}'), '\u{1E900}');
    }
}
