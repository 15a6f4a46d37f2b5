//! Helpers every backend shares. Each says whether it is exact; the lossy ones report how.

use crate::diag::Fidelity;
use crate::ir::{Expr, Match, Test, TextOp};
use crate::spec::{BackendName, Source};
use serde::Serialize;

/// The result of dropping the matches a backend cannot express.
#[derive(Clone, Debug, PartialEq)]
pub enum Widened {
    /// Nothing is left to test: every event passes.
    True,
    /// Every event fails.
    False,
    Expr(Expr),
}

/// Replace each match for which `keep` is false by the constant that makes the whole
/// expression *wider* (never narrower): `true` where the match counts positively, `false`
/// under an odd number of `not`s. Then fold the constants away. Sound: every event the
/// original matches, the result matches too.
pub fn widen(e: &Expr, keep: &mut dyn FnMut(&Match) -> bool) -> Widened {
    widen_in(e, true, keep)
}

fn widen_in(e: &Expr, positive: bool, keep: &mut dyn FnMut(&Match) -> bool) -> Widened {
    match e {
        Expr::Match(m) if keep(m) => Widened::Expr(e.clone()),
        Expr::Match(_) if positive => Widened::True,
        Expr::Match(_) => Widened::False,
        Expr::Not(x) => match widen_in(x, !positive, keep) {
            Widened::True => Widened::False,
            Widened::False => Widened::True,
            Widened::Expr(x) => Widened::Expr(Expr::Not(Box::new(x))),
        },
        Expr::All(v) | Expr::Any(v) => {
            let is_all = matches!(e, Expr::All(_));
            // the constant that decides the group, and the one that vanishes from it
            let (absorbing, neutral) = if is_all {
                (Widened::False, Widened::True)
            } else {
                (Widened::True, Widened::False)
            };
            // every child is visited, even after one absorbs the group: each dropped match
            // must be recorded (and declared), not only the first
            let mut kept = Vec::new();
            let mut absorbed = false;
            for x in v {
                match widen_in(x, positive, keep) {
                    w if w == absorbing => absorbed = true,
                    w if w == neutral => {}
                    Widened::Expr(x) => kept.push(x),
                    _ => unreachable!("True/False are absorbing or neutral"),
                }
            }
            if absorbed {
                return absorbing;
            }
            match kept.len() {
                0 => neutral,
                1 => Widened::Expr(kept.pop().expect("one")),
                _ => Widened::Expr(if is_all {
                    Expr::All(kept)
                } else {
                    Expr::Any(kept)
                }),
            }
        }
    }
}

/// What a match's fidelity does to the whole rule, given its polarity: under an odd number of
/// `not`s (an exclusion is one) a wider match makes the rule narrower, and the other way round.
pub fn effect(f: Fidelity, negated: bool) -> Fidelity {
    match (f, negated) {
        (Fidelity::Wider, true) => Fidelity::Narrower,
        (Fidelity::Narrower, true) => Fidelity::Wider,
        (f, _) => f,
    }
}

/// The word for a fidelity (defined beside the type, for the diagnostics' keys too).
pub use crate::diag::fidelity_word;

/// One row of `rmmc explain`: how one backend renders one spec match on one source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rendering {
    pub spec: String,
    pub detection: String,
    pub source: Source,
    pub backend: BackendName,
    /// `detection` or `exclusion <id>`
    pub part: String,
    /// The match in canonical form (`remote_domain term [x]`).
    pub predicate: String,
    /// The backend's text for it (empty when it could not be expressed).
    pub rendered: String,
    pub fidelity: Fidelity,
    pub note: Option<String>,
}

/// `domain` lowered to text tests, exactly: the field equals one of the domains, or ends with
/// `.` + one of them (both case-insensitive, as DNS names are). For backends whose exact and
/// suffix tests are case-insensitive literal comparisons (KQL `=~` / `endswith`, Sigma's plain
/// value / `|endswith`).
pub fn domain_as_exact_or_suffix(domains: &[String]) -> [Test; 2] {
    [
        Test::Text {
            op: TextOp::Exact,
            values: domains.to_vec(),
            cased: false,
        },
        Test::Text {
            op: TextOp::Suffix,
            values: domains.iter().map(|d| format!(".{d}")).collect(),
            cased: false,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Field;

    fn m(field: &str) -> Expr {
        Expr::Match(Match {
            field: Field::known(field),
            test: Test::Text {
                op: TextOp::Exact,
                values: vec!["x".into()],
                cased: false,
            },
            list: None,
            span: None,
        })
    }
    fn drop_company(e: &Expr) -> Widened {
        widen(e, &mut |m: &Match| m.field.name() != "initiating_company")
    }

    #[test]
    fn dropping_a_conjunct_widens() {
        let e = Expr::All(vec![m("remote_domain"), m("initiating_company")]);
        assert_eq!(drop_company(&e), Widened::Expr(m("remote_domain")));
    }

    #[test]
    fn dropping_a_disjunct_widens_to_everything() {
        let e = Expr::Any(vec![m("remote_domain"), m("initiating_company")]);
        assert_eq!(drop_company(&e), Widened::True);
    }

    /// Every dropped match is seen (and so declared), also those after the one that decides
    /// the group: dameware/netconn's `any: [initiating_product, initiating_description]` on
    /// Sysmon declared only the product, so verify could not excuse the description.
    #[test]
    fn every_dropped_match_is_seen() {
        let e = Expr::Any(vec![m("initiating_company"), m("initiating_product")]);
        let mut seen = Vec::new();
        let w = widen(&e, &mut |x: &Match| {
            seen.push(x.field.name());
            false
        });
        assert_eq!(w, Widened::True);
        assert_eq!(seen, ["initiating_company", "initiating_product"]);
    }

    #[test]
    fn under_not_the_constant_flips() {
        // not(domain and company) → not(domain): wider than the original
        let e = Expr::Not(Box::new(Expr::All(vec![
            m("remote_domain"),
            m("initiating_company"),
        ])));
        assert_eq!(drop_company(&e), Widened::True);
        // not(domain or company) → not(domain): still wider than not(domain) and not(company)
        let e = Expr::Not(Box::new(Expr::Any(vec![
            m("remote_domain"),
            m("initiating_company"),
        ])));
        assert_eq!(
            drop_company(&e),
            Widened::Expr(Expr::Not(Box::new(m("remote_domain"))))
        );
    }

    #[test]
    fn polarity_flips_wider_and_narrower_only() {
        assert_eq!(effect(Fidelity::Wider, true), Fidelity::Narrower);
        assert_eq!(effect(Fidelity::Narrower, true), Fidelity::Wider);
        assert_eq!(effect(Fidelity::Wider, false), Fidelity::Wider);
        assert_eq!(effect(Fidelity::Exact, true), Fidelity::Exact);
        assert_eq!(
            effect(Fidelity::Inexpressible, true),
            Fidelity::Inexpressible
        );
    }

    #[test]
    fn keeping_everything_is_identity() {
        let e = Expr::All(vec![
            m("remote_domain"),
            Expr::Not(Box::new(m("remote_ip"))),
        ]);
        assert_eq!(widen(&e, &mut |_| true), Widened::Expr(e.clone()));
    }
}
