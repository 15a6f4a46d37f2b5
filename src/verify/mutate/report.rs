//! The mutation report: the outcome of each mutant, the rows per artifact kind, the kill-rate
//! bar each kind must reach, and the report as text.

use super::{Kind, MutateOptions};
use serde::Serialize;
use std::collections::BTreeMap;

/// What became of one mutant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Invalid,
    Equivalent,
    Killed,
    Survived,
    /// The unmutated artifact already fails verify: nothing to compare with.
    BaselineFails,
}

#[derive(Clone, Debug, Serialize)]
pub struct Mutant {
    pub id: usize,
    pub kind: Kind,
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub op: &'static str,
    pub before: String,
    pub after: String,
    pub construct: String,
    pub status: Status,
    /// Equivalent: why; invalid: the parse error; killed: how verify saw it; survived: the
    /// differences a declared rendering excused, if any.
    pub reason: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct KindRow {
    pub kind: String,
    pub mutants: usize,
    pub invalid: usize,
    pub equivalent: usize,
    pub killed: usize,
    pub survived: usize,
    pub baseline_fails: usize,
    /// killed / (mutants − invalid − equivalent − baseline failures); none when nothing is
    /// left to kill.
    pub kill_rate: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Shape {
    pub count: usize,
    pub op: String,
    pub construct: String,
    pub kinds: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct MutationReport {
    /// All mutants generated (before sampling).
    pub generated: usize,
    pub sample: Option<usize>,
    pub seed: u64,
    pub kinds: Vec<KindRow>,
    /// Survivors grouped by operator and construct, most common first.
    pub shapes: Vec<Shape>,
    #[serde(skip)]
    pub mutants: Vec<Mutant>,
}

impl MutationReport {
    pub fn survivors(&self) -> impl Iterator<Item = &Mutant> {
        self.mutants.iter().filter(|m| m.status == Status::Survived)
    }
}

/// Rows per kind and the survivor shapes.
pub(super) fn report(
    generated: usize,
    mopts: &MutateOptions,
    mutants: Vec<Mutant>,
) -> MutationReport {
    let mut rows: BTreeMap<Kind, KindRow> = BTreeMap::new();
    for m in &mutants {
        let r = rows.entry(m.kind).or_default();
        r.mutants += 1;
        match m.status {
            Status::Invalid => r.invalid += 1,
            Status::Equivalent => r.equivalent += 1,
            Status::Killed => r.killed += 1,
            Status::Survived => r.survived += 1,
            Status::BaselineFails => r.baseline_fails += 1,
        }
    }
    let kinds = Kind::ALL
        .iter()
        .filter_map(|k| {
            let mut r = rows.remove(k)?;
            r.kind = k.name().to_string();
            let judged = r.killed + r.survived;
            r.kill_rate = (judged > 0).then(|| r.killed as f64 / judged as f64);
            Some(r)
        })
        .collect();
    let mut shapes: BTreeMap<(String, String), (usize, Vec<String>)> = BTreeMap::new();
    for m in mutants.iter().filter(|m| m.status == Status::Survived) {
        let e = shapes
            .entry((m.op.to_string(), m.construct.clone()))
            .or_default();
        e.0 += 1;
        if !e.1.iter().any(|k| k == m.kind.name()) {
            e.1.push(m.kind.name().to_string());
        }
    }
    let mut shapes: Vec<Shape> = shapes
        .into_iter()
        .map(|((op, construct), (count, kinds))| Shape {
            count,
            op,
            construct,
            kinds,
        })
        .collect();
    shapes.sort_by_key(|s| std::cmp::Reverse(s.count));
    MutationReport {
        generated,
        sample: mopts.sample,
        seed: mopts.seed,
        kinds,
        shapes,
        mutants,
    }
}

/// A minimum kill rate per kind: a default, and per-kind overrides (`kql=0.95`).
#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    pub default: f64,
    pub per_kind: Vec<(Kind, f64)>,
}

impl Bar {
    /// The target: 99% of non-equivalent mutants killed for every kind.
    pub const TARGET: f64 = 0.99;

    /// From `--min-kill-rate` values: `R` (every kind) or `KIND=R`, R in 0..=1.
    pub fn parse(args: &[String]) -> Result<Bar, String> {
        let mut bar = Bar {
            default: Bar::TARGET,
            per_kind: Vec::new(),
        };
        for a in args {
            let (kind, rate) = match a.split_once('=') {
                Some((k, r)) => (
                    Some(Kind::parse(k).ok_or_else(|| {
                        format!(
                            "--min-kill-rate {a}: unknown artifact kind {k:?} (one of {})",
                            Kind::ALL.map(Kind::name).join(", ")
                        )
                    })?),
                    r,
                ),
                None => (None, a.as_str()),
            };
            let r: f64 = rate
                .parse()
                .ok()
                .filter(|r: &f64| (0.0..=1.0).contains(r))
                .ok_or_else(|| {
                    format!("--min-kill-rate {a}: the rate must be a number from 0 to 1")
                })?;
            match kind {
                Some(k) => bar.per_kind.push((k, r)),
                None => bar.default = r,
            }
        }
        Ok(bar)
    }

    pub fn for_kind(&self, k: &str) -> f64 {
        self.per_kind
            .iter()
            .rev()
            .find(|(kind, _)| kind.name() == k)
            .map_or(self.default, |(_, r)| *r)
    }

    /// The kinds below their bar.
    pub fn failing<'r>(&self, r: &'r MutationReport) -> Vec<&'r KindRow> {
        r.kinds
            .iter()
            .filter(|row| row.kill_rate.is_some_and(|k| k < self.for_kind(&row.kind)))
            .collect()
    }
}

/// The report as text: the table per kind, the most common survivor shapes and the first
/// survivors.
pub fn text(r: &MutationReport, bar: &Bar, seconds: f64) -> String {
    let mut out = String::new();
    let judged: usize = r.kinds.iter().map(|k| k.mutants).sum();
    out.push_str(&match r.sample {
        Some(n) if n < r.generated => format!(
            "mutation: {judged} of {} mutants (stratified sample, seed {}) in {seconds:.1} s\n\n",
            r.generated, r.seed
        ),
        _ => format!("mutation: {judged} mutants in {seconds:.1} s\n\n"),
    });
    out.push_str(&format!(
        "{:<20} {:>8} {:>8} {:>10} {:>8} {:>8} {:>10} {:>6}\n",
        "kind", "mutants", "invalid", "equivalent", "killed", "survived", "kill rate", "bar"
    ));
    for k in &r.kinds {
        let rate = k
            .kill_rate
            .map_or("-".to_string(), |x| format!("{:.1}%", x * 100.0));
        out.push_str(&format!(
            "{:<20} {:>8} {:>8} {:>10} {:>8} {:>8} {:>10} {:>5.0}%{}\n",
            k.kind,
            k.mutants,
            k.invalid,
            k.equivalent,
            k.killed,
            k.survived,
            rate,
            bar.for_kind(&k.kind) * 100.0,
            if k.baseline_fails > 0 {
                format!(
                    "  ({} not judged: the artifact already fails verify)",
                    k.baseline_fails
                )
            } else {
                String::new()
            }
        ));
    }
    out.push_str("\nkill rate = killed / (mutants - invalid - equivalent); invalid = the language's parser refuses it\n");
    if !r.shapes.is_empty() {
        out.push_str("\nmost common survivor shapes (operator @ construct):\n");
        for s in r.shapes.iter().take(10) {
            out.push_str(&format!(
                "{:>6}  {} @ {}  [{}]\n",
                s.count,
                s.op,
                s.construct,
                s.kinds.join(", ")
            ));
        }
    }
    let n = r.survivors().count();
    let excused = r.survivors().filter(|m| m.reason.is_some()).count();
    if excused > 0 {
        out.push_str(&format!(
            "\n{excused} of the survivors changed verdicts that a declared (wider / narrower) rendering excused\n"
        ));
    }
    if n > 0 {
        out.push_str(&format!(
            "\nsurvivors: {n}{}\n",
            if n > 20 {
                " (the first 20; --survivors FILE lists all)"
            } else {
                ""
            }
        ));
        for m in r.survivors().take(20) {
            out.push_str(&format!(
                "- {}:{}:{} {}: {} → {}\n",
                m.file, m.line, m.col, m.op, m.before, m.after
            ));
        }
    }
    let failing = bar.failing(r);
    out.push_str(&if failing.is_empty() {
        "\nevery artifact kind reaches its kill-rate bar\n".to_string()
    } else {
        format!(
            "\nbelow the kill-rate bar: {}\n",
            failing
                .iter()
                .map(|k| k.kind.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_parses_and_refuses() {
        let b = Bar::parse(&["0.5".into(), "kql=0.9".into()]).unwrap();
        assert_eq!(b.for_kind("kql"), 0.9);
        assert_eq!(b.for_kind("sigma"), 0.5);
        assert_eq!(Bar::parse(&[]).unwrap().for_kind("sigma"), Bar::TARGET);
        assert!(Bar::parse(&["1.5".into()]).is_err());
        assert!(Bar::parse(&["kusto=0.5".into()]).is_err());
        assert!(Bar::parse(&["x".into()]).is_err());
    }
}
