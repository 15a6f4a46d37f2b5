//! Helpers every backend shares. Each says whether it is exact; the lossy ones report how.

use crate::diag::{Diag, DiagKind, Fidelity};
use crate::ir::{Expr, IrDetection, IrExclusion, IrSpec, Match};
use crate::mapping::TableMap;
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

pub fn fidelity_word(f: Fidelity) -> &'static str {
    match f {
        Fidelity::Exact => "exact",
        Fidelity::Wider => "wider",
        Fidelity::Narrower => "narrower",
        Fidelity::Inexpressible => "inexpressible",
    }
}

/// The warning for a match rendered `fidelity`, pushed once. Its kind is the effect on the
/// rule (so `--deny narrower` catches a wider match inside an exclusion), and the message
/// says so when the two differ.
pub fn warn_fidelity(
    diags: &mut Vec<Diag>,
    spec: &IrSpec,
    m: &Match,
    fidelity: Fidelity,
    negated: bool,
    part: &str,
    mut msg: String,
) {
    let rule = effect(fidelity, negated);
    if rule != fidelity {
        msg.push_str(&format!(
            "; it sits under `not` ({part}), so the rule is {}",
            fidelity_word(rule)
        ));
    }
    let d = Diag::warning(DiagKind::Fidelity(rule), msg).at(&spec.file, m.span);
    if !diags.contains(&d) {
        diags.push(d);
    }
}

/// What every backend's emitter knows about the rule it renders (one detection on one table),
/// and what it collects: diagnostics and, for `rmmc explain`, how each match was rendered.
pub struct RuleCtx<'a> {
    pub backend: BackendName,
    pub spec: &'a IrSpec,
    pub det: &'a IrDetection,
    pub source: Source,
    pub table: &'a TableMap,
    /// The target in messages, e.g. `KQL table DeviceNetworkEvents`.
    pub target: String,
    /// What the table lacks when a field is missing, in the target's words (`column`, `field`).
    pub missing_noun: &'static str,
    /// Which part of the rule is being rendered (`detection`, `exclusion <id>`).
    pub part: String,
    /// Under an odd number of `not`s (an exclusion is one): a wider match makes the rule
    /// narrower there, and the other way round.
    pub negated: bool,
    pub diags: Vec<Diag>,
    pub renderings: Vec<Rendering>,
}

impl<'a> RuleCtx<'a> {
    pub fn new(
        backend: BackendName,
        spec: &'a IrSpec,
        det: &'a IrDetection,
        source: Source,
        table: &'a TableMap,
        target: String,
        missing_noun: &'static str,
    ) -> Self {
        RuleCtx {
            backend,
            spec,
            det,
            source,
            table,
            target,
            missing_noun,
            part: "detection".into(),
            negated: false,
            diags: Vec::new(),
            renderings: Vec::new(),
        }
    }

    /// Warn, once, about a match rendered `fidelity` (see `warn_fidelity`).
    pub fn warn(&mut self, m: &Match, fidelity: Fidelity, msg: String) {
        warn_fidelity(
            &mut self.diags,
            self.spec,
            m,
            fidelity,
            self.negated,
            &self.part,
            msg,
        );
    }

    /// Record how a match was rendered, for `rmmc explain`.
    pub fn record(
        &mut self,
        m: &Match,
        rendered: String,
        fidelity: Fidelity,
        note: Option<String>,
    ) {
        self.renderings.push(Rendering {
            spec: self.spec.id.clone(),
            detection: self.det.id.clone(),
            source: self.source,
            backend: self.backend,
            part: self.part.clone(),
            predicate: m.to_string(),
            rendered,
            fidelity,
            note,
        });
    }

    /// Drop the matches the table cannot express, under the spec's gap policy; each dropped
    /// match is recorded as inexpressible. `None` when the rule cannot be built.
    pub fn expressible(&mut self, e: &Expr, part: &str) -> Option<Widened> {
        let table = self.table;
        let noun = self.missing_noun;
        let mut missing: Vec<(Match, String)> = Vec::new();
        let widened = widen(e, &mut |m: &Match| {
            let ok = table.column(m.field).is_some();
            if !ok {
                missing.push((m.clone(), format!("{} has no {noun} for it", table.name)));
            }
            ok
        });
        self.part = part.to_string();
        for (m, why) in &missing {
            self.record(m, String::new(), Fidelity::Inexpressible, Some(why.clone()));
        }
        gap_policy(
            self.spec,
            self.det,
            self.backend,
            self.source,
            &self.target,
            part,
            &missing,
            &mut self.diags,
        )
        .then_some(widened)
    }

    /// The exclusions that apply to this source, each as `not(x)` widened under the gap
    /// policy (dropping matches from `not(x)` keeps the rule wider, never narrower), with the
    /// part name for messages. All are checked before any is used, so one run reports every
    /// problem.
    pub fn exclusions(
        &mut self,
        with_exclusions: bool,
    ) -> Vec<(&'a IrExclusion, String, Option<Widened>)> {
        let (det, source) = (self.det, self.source);
        det.exclusions
            .iter()
            .filter(|x| with_exclusions && x.sources.contains(&source))
            .map(|x| {
                let part = format!("exclusion {}", x.id);
                let w = self.expressible(&Expr::Not(Box::new(x.expr.clone())), &part);
                (x, part, w)
            })
            .collect()
    }

    /// The error for a detection of which nothing can be expressed on this table.
    pub fn nothing_expressible(&mut self, w: &Widened) {
        let (spec, det) = (self.spec, self.det);
        self.diags.push(
            Diag::error(
                DiagKind::Fidelity(Fidelity::Inexpressible),
                format!(
                    "{}/{}: nothing of the predicate can be expressed on {} ({})",
                    spec.id,
                    det.id,
                    self.target,
                    if *w == Widened::True {
                        "it would match every event"
                    } else {
                        "it would match nothing"
                    }
                ),
            )
            .at(&spec.file, det.span)
            .help(format!("drop source `{}` from this detection", self.source)),
        );
    }
}

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

/// Applies the spec's gap policy to the matches a backend could not express in one part
/// (the detection predicate or one exclusion) of a rule: with a `gaps` entry for this backend
/// the part is widened and a warning says so; without one it is an error. Returns `None` when
/// the rule cannot be built.
#[allow(clippy::too_many_arguments)]
pub fn gap_policy(
    spec: &IrSpec,
    det: &IrDetection,
    backend: BackendName,
    source: Source,
    target: &str,
    part: &str,
    missing: &[(Match, String)],
    diags: &mut Vec<Diag>,
) -> bool {
    if missing.is_empty() {
        return true;
    }
    let what: Vec<String> = missing
        .iter()
        .map(|(m, why)| format!("`{m}` ({why})"))
        .collect();
    match det.gaps.get(&backend) {
        Some(reason) => {
            for (m, _) in missing {
                let d = Diag::warning(
                    DiagKind::Fidelity(Fidelity::Wider),
                    format!(
                        "{}/{} on {target}: {part} drops {m}, so the {backend} rule is wider (declared gap: {reason})",
                        spec.id, det.id
                    ),
                )
                .at(&spec.file, m.span);
                if !diags.contains(&d) {
                    diags.push(d);
                }
            }
            true
        }
        None => {
            diags.push(
                Diag::error(
                    DiagKind::Fidelity(Fidelity::Inexpressible),
                    format!(
                        "{}/{} ({source}): {backend} cannot express {} in the {part} on {target}: {}",
                        spec.id,
                        det.id,
                        if missing.len() == 1 { "a match" } else { "matches" },
                        what.join(", ")
                    ),
                )
                .at(&spec.file, missing[0].0.span.or(det.span))
                .help(format!(
                    "accept a wider {backend} rule with `gaps: {{ {backend}: <reason> }}` on the detection, or drop source `{source}`"
                )),
            );
            false
        }
    }
}

/// The rules a backend builds for one spec: every (detection, source) with its table, in
/// spec order. A detection declared `unsupported` for `backend` is skipped with a warning;
/// a source the backend has no table for is an error (`noun`: what the backend calls a
/// table, e.g. "log source"; `file`: its mapping in `backends/`).
pub fn rules_of<'a, 't>(
    spec: &'a IrSpec,
    backend: BackendName,
    tables: &'t [TableMap],
    (noun, file): (&str, &str),
    diags: &mut Vec<Diag>,
) -> Vec<(&'a IrDetection, Source, &'t TableMap)> {
    let mut out = Vec::new();
    for det in &spec.detections {
        if let Some(d) = not_built(spec, det, backend) {
            diags.push(d);
            continue;
        }
        for &source in &det.sources {
            match crate::mapping::table_for(tables, det.category, source) {
                Some(table) => out.push((det, source, table)),
                None => diags.push(
                    Diag::error(
                        DiagKind::Fidelity(Fidelity::Inexpressible),
                        format!(
                            "{}/{}: {} has no {noun} for {} events from source `{source}`",
                            spec.id,
                            det.id,
                            backend_title(backend),
                            det.category
                        ),
                    )
                    .at(&spec.file, det.span)
                    .help(format!(
                        "remove the source, or add a {noun} for it to backends/{file}"
                    )),
                ),
            }
        }
    }
    out
}

/// How messages name a backend.
fn backend_title(b: BackendName) -> &'static str {
    match b {
        BackendName::Kql => "KQL",
        BackendName::Sigma => "Sigma",
        BackendName::Splunk => "Splunk",
        BackendName::Elastic => "Elastic",
    }
}

/// The warning for a detection that declares `unsupported: { <backend>: reason }`: that
/// backend builds nothing for it, and says so.
pub fn not_built(
    spec: &crate::ir::IrSpec,
    det: &crate::ir::IrDetection,
    backend: BackendName,
) -> Option<Diag> {
    let reason = det.unsupported.get(&backend)?;
    Some(
        Diag::warning(
            DiagKind::Fidelity(Fidelity::Inexpressible),
            format!(
                "{}/{}: no {backend} rule is built (declared unsupported: {reason})",
                spec.id, det.id
            ),
        )
        .at(&spec.file, det.span),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Test, TextOp};
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
