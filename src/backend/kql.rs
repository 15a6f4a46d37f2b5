//! IR → KQL (Microsoft Sentinel / Defender XDR advanced hunting), in the shape of the seed
//! hunting queries: time-window lets, table, `where` clauses, `summarize` or `project`.
//!
//! Operator semantics (learn.microsoft.com/kusto/query/datatypes-string-operators):
//! `has` matches whole terms case-insensitively, `has_cs` case-sensitively, `=~`/`in~` compare
//! whole values case-insensitively, `==`/`in` case-sensitively; `contains`, `startswith`,
//! `endswith` are case-insensitive substring tests with `_cs` variants.

use super::common::{fidelity_word, RuleCtx, Widened};
use super::{Compiled, RuleId};
use crate::diag::{Diag, DiagKind, Fidelity};
use crate::ir::{Expr, IrOutput, IrSpec, Match, Test, TextOp};
use crate::mapping::TableMap;
use crate::spec::{BackendName, Direction, Field};
use indexmap::IndexMap;
use serde::Deserialize;
use std::net::IpAddr;
use std::sync::OnceLock;

/// The KQL backend's data (`backends/kql.yaml`), compiled into the binary.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KqlData {
    pub rule_name: String,
    /// Where Kusto's operators differ from the spec (`fold`, `term`), and why.
    pub kinds: IndexMap<String, super::eql::KindNote>,
    pub tables: Vec<TableMap>,
    pub entities: IndexMap<String, Entity>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Entity {
    pub entity_type: String,
    pub identifier: String,
}

pub const DATA_YAML: &str = include_str!("../../backends/kql.yaml");

pub fn data() -> &'static KqlData {
    static DATA: OnceLock<KqlData> = OnceLock::new();
    DATA.get_or_init(|| {
        let d: KqlData =
            serde_yaml::from_str(DATA_YAML).unwrap_or_else(|e| panic!("backends/kql.yaml: {e}"));
        for t in &d.tables {
            t.check()
                .unwrap_or_else(|e| panic!("backends/kql.yaml: {e}"));
        }
        d
    })
}

/// One emitted KQL query: a detection on one table.
#[derive(Debug)]
pub struct KqlQuery {
    pub id: RuleId,
    pub table: &'static TableMap,
    pub text: String,
    /// Output columns, in order, with the canonical field they carry (None for aggregates).
    pub columns: Vec<(String, Option<Field>)>,
    /// Reasons of the declared gaps this query relies on (matches dropped, rule wider).
    pub gaps: Vec<String>,
}

/// A KQL string literal. Values never hold control characters (refused at load), so only
/// the quote and the backslash need escaping; any other Unicode is written as itself.
pub fn string_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

fn list(values: impl IntoIterator<Item = String>) -> String {
    format!("({})", values.into_iter().collect::<Vec<_>>().join(", "))
}

struct Emitter<'a> {
    ctx: RuleCtx<'a>,
    /// Named value lists hoisted into `let name = dynamic([...]);`, in first-use order.
    lets: IndexMap<String, String>,
}

impl Emitter<'_> {
    /// Render a boolean expression. `top` puts an outer `and`/`or` chain on separate lines,
    /// as the seeds do. The result says how it binds, so callers add only needed parentheses.
    fn expr(&mut self, e: &Expr, top: bool) -> (String, Binding) {
        let sep = |op: &str| {
            if top {
                format!("\n    {op} ")
            } else {
                format!(" {op} ")
            }
        };
        let join = |this: &mut Self, v: &[Expr], op: &str, b: Binding| -> (String, Binding) {
            let parts: Vec<String> = v
                .iter()
                .map(|x| {
                    let (s, inner) = this.expr(x, false);
                    // `and` binds tighter than `or`; mixed chains are bracketed for the reader.
                    if inner == Binding::Atom || inner == b {
                        s
                    } else {
                        format!("({s})")
                    }
                })
                .collect();
            (
                parts.join(&sep(op)),
                if v.len() == 1 {
                    Binding::Atom.max(b)
                } else {
                    b
                },
            )
        };
        match e {
            Expr::All(v) => join(self, v, "and", Binding::And),
            Expr::Any(v) => join(self, v, "or", Binding::Or),
            Expr::Not(x) => {
                self.ctx.negated = !self.ctx.negated;
                let inner = self.expr(x, false).0;
                self.ctx.negated = !self.ctx.negated;
                (format!("not({inner})"), Binding::Atom)
            }
            Expr::Match(m) => self.leaf(m),
        }
    }

    /// A match the table can express (callers drop the others first, see `common::widen`).
    fn leaf(&mut self, m: &Match) -> (String, Binding) {
        let col = self
            .ctx
            .table
            .column(m.field)
            .expect("matches on missing columns are widened away before rendering");
        let (fidelity, note) = col.fidelity;
        if fidelity != Fidelity::Exact {
            let msg = format!(
                "{}: `{}` is matched on {} ({}: {})",
                self.ctx.table.name,
                m.field,
                col.match_on.join(" or "),
                fidelity_word(fidelity),
                note.unwrap_or_default()
            );
            self.ctx.warn(m, fidelity, msg);
        }
        let rendered: Vec<(String, Binding)> =
            col.match_on.iter().map(|c| self.test(c, m)).collect();
        let (text, binding) = if rendered.len() == 1 {
            rendered.into_iter().next().expect("one")
        } else {
            let parts: Vec<String> = rendered
                .into_iter()
                .map(|(s, b)| {
                    if b == Binding::Atom || b == Binding::Or {
                        s
                    } else {
                        format!("({s})")
                    }
                })
                .collect();
            (parts.join(" or "), Binding::Or)
        };
        // the IPv6 text comparison (see `test`) also narrows
        let mut fidelity = match &m.test {
            Test::Ip(ips) if ips.iter().any(IpAddr::is_ipv6) && fidelity == Fidelity::Exact => {
                Fidelity::Narrower
            }
            _ => fidelity,
        };
        let mut notes: Vec<String> = note.map(str::to_string).into_iter().collect();
        for kind in lexical_differences(&m.test) {
            let k = &data().kinds[kind];
            self.ctx.warn(
                m,
                k.fidelity,
                format!("{}: `{}`: {}", self.ctx.table.name, m.field, k.note),
            );
            if fidelity == Fidelity::Exact {
                fidelity = k.fidelity;
            }
            notes.push(k.note.clone());
        }
        let note = (!notes.is_empty()).then(|| notes.join("; "));
        self.ctx.record(m, text.clone(), fidelity, note);
        (text, binding)
    }

    /// The values as a KQL list: `(a, b)`, or `(name)` when the spec named the list.
    fn value_list(&mut self, m: &Match, literals: Vec<String>) -> String {
        match &m.list {
            Some(name) => {
                self.lets
                    .entry(name.clone())
                    .or_insert_with(|| format!("let {name} = dynamic([{}]);", literals.join(", ")));
                format!("({name})")
            }
            None => list(literals),
        }
    }

    /// One field test on one column: a single comparison, or several joined by `or`.
    fn test(&mut self, col: &str, m: &Match) -> (String, Binding) {
        let each = |vals: &[String], op: &str| -> Vec<String> {
            vals.iter()
                .map(|x| format!("{col} {op} {}", string_literal(x)))
                .collect()
        };
        let strs = |vals: &[String]| vals.iter().map(|v| string_literal(v)).collect::<Vec<_>>();
        let single = |n: usize| n == 1 && m.list.is_none();
        let alternatives: Vec<String> = match &m.test {
            Test::Text { op, values, cased } => match (op, cased) {
                (TextOp::Term, false) if single(values.len()) => each(values, "has"),
                (TextOp::Term, false) => vec![format!(
                    "{col} has_any {}",
                    self.value_list(m, strs(values))
                )],
                // has_any has no case-sensitive form
                (TextOp::Term, true) => each(values, "has_cs"),
                (TextOp::Exact, false) if single(values.len()) => each(values, "=~"),
                (TextOp::Exact, false) => {
                    vec![format!("{col} in~ {}", self.value_list(m, strs(values)))]
                }
                (TextOp::Exact, true) if single(values.len()) => each(values, "=="),
                (TextOp::Exact, true) => {
                    vec![format!("{col} in {}", self.value_list(m, strs(values)))]
                }
                (TextOp::Contains, false) => each(values, "contains"),
                (TextOp::Contains, true) => each(values, "contains_cs"),
                (TextOp::Prefix, false) => each(values, "startswith"),
                (TextOp::Prefix, true) => each(values, "startswith_cs"),
                (TextOp::Suffix, false) => each(values, "endswith"),
                (TextOp::Suffix, true) => each(values, "endswith_cs"),
            },
            // Exact: `=~`/`in~` and `endswith` are case-insensitive, like DNS names.
            Test::Domain(ds) => {
                let eq = if single(ds.len()) {
                    format!("{col} =~ {}", string_literal(&ds[0]))
                } else {
                    format!("{col} in~ {}", self.value_list(m, strs(ds)))
                };
                let subs: Vec<String> = ds.iter().map(|d| format!(".{d}")).collect();
                std::iter::once(eq).chain(each(&subs, "endswith")).collect()
            }
            Test::Ip(ips) => {
                if ips.iter().any(IpAddr::is_ipv6) {
                    self.ctx.warn(
                        m,
                        Fidelity::Narrower,
                        format!("{}: IPv6 addresses in `{}` are compared as text; an event spelling them another way (uncompressed, upper-case) is missed", self.ctx.table.name, m.field),
                    );
                }
                let lits: Vec<String> = ips
                    .iter()
                    .map(|ip| string_literal(&ip.to_string()))
                    .collect();
                if single(lits.len()) {
                    vec![format!("{col} == {}", lits[0])]
                } else {
                    vec![format!("{col} in {}", self.value_list(m, lits))]
                }
            }
            Test::Cidr(nets) => nets
                .iter()
                .map(|n| {
                    let f = if n.addr.is_ipv4() {
                        "ipv4_is_in_range"
                    } else {
                        "ipv6_is_in_range"
                    };
                    let call = format!("{f}({col}, {})", string_literal(&n.to_string()));
                    // Under `not`, a null (an address of the other family, or no address)
                    // would drop the row: `not(null)` is null and `where` keeps only true.
                    // `== true` is false for null ("applying the equality operator to a
                    // null value and a non-null value yields bool(false)", Kusto docs, null
                    // values), so the exclusion keeps IPv6 hits.
                    if self.ctx.negated {
                        format!("{call} == true")
                    } else {
                        call
                    }
                })
                .collect(),
            Test::Port(ports) => {
                let lits: Vec<String> = ports.iter().map(u16::to_string).collect();
                if single(lits.len()) {
                    vec![format!("{col} == {}", lits[0])]
                } else {
                    vec![format!("{col} in {}", self.value_list(m, lits))]
                }
            }
            Test::Digest(hs) if single(hs.len()) => each(hs, "=~"),
            Test::Digest(hs) => vec![format!("{col} in~ {}", self.value_list(m, strs(hs)))],
        };
        let binding = if alternatives.len() == 1 {
            Binding::Atom
        } else {
            Binding::Or
        };
        (alternatives.join(" or "), binding)
    }
}

/// The entries of `kinds` in backends/kql.yaml that apply to a test: `fold` when a
/// case-insensitive value holds a character Kusto's ASCII-only folding treats differently from
/// the spec's, `term` for every `has` (a neighbouring non-ASCII letter or digit is part of
/// Kusto's term). Verify models both with `ir::KUSTO`.
pub fn lexical_differences(test: &Test) -> Vec<&'static str> {
    use super::eql::{folds_like_spec, Fold};
    let mut out = Vec::new();
    let folds_apart = match test {
        Test::Text {
            values,
            cased: false,
            ..
        } => values.iter().any(|v| !folds_like_spec(v, Fold::Text)),
        Test::Domain(ds) => ds.iter().any(|d| !folds_like_spec(d, Fold::Domain)),
        _ => false,
    };
    if folds_apart {
        out.push("fold");
    }
    if matches!(
        test,
        Test::Text {
            op: TextOp::Term,
            ..
        }
    ) {
        out.push("term");
    }
    out
}

/// How a rendered expression binds: a single comparison or call, an `and` chain or an `or`
/// chain. KQL gives `and` precedence over `or`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Binding {
    Atom,
    And,
    Or,
}

/// Compile every detection of a spec to KQL, one query per (detection, source).
pub fn compile(spec: &IrSpec, with_exclusions: bool) -> Compiled<KqlQuery> {
    let mut out = Compiled::default();
    let rules = super::common::rules_of(
        spec,
        BackendName::Kql,
        &data().tables,
        ("table", "kql.yaml"),
        &mut out.diags,
    );
    for (det, source, table) in rules {
        let id = RuleId::new(spec, det, source);
        let mut em = Emitter {
            ctx: RuleCtx::new(
                BackendName::Kql,
                spec,
                det,
                source,
                table,
                format!("KQL table {}", table.name),
                "column",
            ),
            lets: IndexMap::new(),
        };
        let built = query(&mut em, with_exclusions);
        out.diags.append(&mut em.ctx.diags);
        out.renderings.append(&mut em.ctx.renderings);
        if let Some((text, columns, gaps)) = built {
            out.items.push(KqlQuery {
                id,
                table,
                text,
                columns,
                gaps,
            });
        }
    }
    out
}

type QueryParts = (String, Vec<(String, Option<Field>)>, Vec<String>);

fn query(em: &mut Emitter, with_exclusions: bool) -> Option<QueryParts> {
    let (spec, det, source, table) = (em.ctx.spec, em.ctx.det, em.ctx.source, em.ctx.table);
    let missing_output = |what: &str, f: Field| {
        Diag::error(
            DiagKind::Fidelity(Fidelity::Inexpressible),
            format!(
                "{}/{}: {what} needs `{f}`, which {} does not have",
                spec.id, det.id, table.name
            ),
        )
        .at(&spec.file, det.span)
        .help(format!(
            "use another field, or drop source `{source}` from this detection"
        ))
    };
    let mut errors = Vec::new();
    let mut col = |f: Field, what: &str| match table.column(f) {
        Some(c) => c.project.to_string(),
        None => {
            errors.push(missing_output(what, f));
            String::new()
        }
    };
    let ts = col(Field::known("timestamp"), "the time filter");

    let mut gaps = Vec::new();
    // Check every part before giving up, so one run reports every problem.
    let detection = em.ctx.expressible(&det.expr, "detection");
    let exclusions = em.ctx.exclusions(with_exclusions);
    let cond = match detection? {
        Widened::Expr(e) => {
            em.ctx.part = "detection".into();
            em.expr(&e, true).0
        }
        w => {
            em.ctx.nothing_expressible(&w);
            return None;
        }
    };
    let mut exclusion_lines = Vec::new();
    for (x, part, w) in exclusions {
        match w? {
            Widened::Expr(e) => {
                em.ctx.part = part;
                let (c, _) = em.expr(&e, false);
                exclusion_lines.push(format!("// exclusion: {}", x.id));
                exclusion_lines.push(format!("| where {c}"));
            }
            _ => exclusion_lines.push(format!(
                "// exclusion {} not applied: {} has no column for it",
                x.id, table.name
            )),
        }
    }
    if gaps.is_empty()
        && em
            .ctx
            .renderings
            .iter()
            .any(|r| r.fidelity == Fidelity::Inexpressible)
    {
        gaps.push(det.gaps[&BackendName::Kql].clone());
    }

    let mut lines = vec![format!(
        "// rmmc: {}/{} ({source}); generated from the spec, edit the spec instead",
        spec.id, det.id
    )];
    if det.time_filter {
        lines.push(format!("let Time_start = now(-{});", spec.window.kql()));
        lines.push("let Time_end = now();".into());
    }
    lines.extend(em.lets.values().cloned());
    lines.push(table.name.clone());
    if det.time_filter {
        lines.push(format!("| where {ts} between (Time_start..Time_end)"));
    }
    lines.push(format!("| where {cond}"));
    lines.extend(exclusion_lines);

    let mut columns = Vec::new();
    match &det.output {
        IrOutput::Summarize(by) => {
            let report = col(Field::known("report_id"), "summarize (Report=make_set)");
            let mut by_cols = Vec::new();
            for f in by {
                let c = col(*f, "summarize");
                by_cols.push(c.clone());
                columns.push((c, Some(*f)));
            }
            for agg in ["FirstSeen", "LastSeen", "Report", "Count"] {
                columns.push((agg.to_string(), None));
            }
            lines.push(format!(
                "| summarize FirstSeen=min({ts}), LastSeen=max({ts}),"
            ));
            lines.push(format!(
                "    Report=make_set({report}), Count=count() by {}",
                by_cols.join(", ")
            ));
        }
        IrOutput::Project {
            columns: per_source,
            order_by,
        } => {
            let fields = per_source
                .get(&source)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let mut cols = Vec::new();
            for f in fields {
                let c = col(*f, "project");
                cols.push(c.clone());
                columns.push((c, Some(*f)));
            }
            lines.push(format!("| project {}", cols.join(", ")));
            if let Some((f, dir)) = order_by {
                let dir = match dir {
                    Direction::Asc => "asc",
                    Direction::Desc => "desc",
                };
                lines.push(format!("| order by {} {dir}", col(*f, "order by")));
            }
        }
    }
    if !errors.is_empty() {
        em.ctx.diags.extend(errors);
        return None;
    }
    let mut text = lines.join("\n");
    text.push('\n');
    Some((text, columns, gaps))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_literals_escape_quote_and_backslash() {
        assert_eq!(string_literal("netsupport"), "'netsupport'");
        assert_eq!(
            string_literal(r"C:\Program Files\NetSupport\"),
            r"'C:\\Program Files\\NetSupport\\'"
        );
        assert_eq!(string_literal("it's"), r"'it\'s'");
        assert_eq!(string_literal("\"q\""), "'\"q\"'");
        assert_eq!(string_literal("ünï — 日本"), "'ünï — 日本'");
    }

    #[test]
    fn shipped_mapping_loads() {
        assert!(data().tables.len() >= 5);
        for k in ["fold", "term"] {
            assert_eq!(data().kinds[k].fidelity, Fidelity::Narrower, "{k}");
        }
    }

    /// Which renderings Kusto's documented text rules make narrower than the spec
    /// (learn.microsoft.com/kusto/query/datatypes-string-operators: case-insensitive operators
    /// fold ASCII only; terms are maximal runs of alphanumeric characters).
    #[test]
    fn lexical_differences_follow_the_kusto_docs() {
        let text = |op, v: &str, cased| Test::Text {
            op,
            values: vec![v.to_string()],
            cased,
        };
        let rows: Vec<(Test, Vec<&str>)> = vec![
            (text(TextOp::Exact, "netsupport", false), vec![]),
            (text(TextOp::Exact, "Krämer IT", false), vec!["fold"]),
            (text(TextOp::Exact, "Krämer IT", true), vec![]),
            // the Kelvin sign folds to k in the spec, not in Kusto
            (text(TextOp::Contains, "kaseya", false), vec!["fold"]),
            (text(TextOp::Contains, "日本", false), vec![]),
            (text(TextOp::Term, "netsupport", false), vec!["term"]),
            (text(TextOp::Term, "netsupport", true), vec!["term"]),
            (text(TextOp::Term, "kaseya", false), vec!["fold", "term"]),
            (Test::Domain(vec!["action1.com".into()]), vec![]),
            (Test::Domain(vec!["kaseya.net".into()]), vec!["fold"]),
            (Test::Digest(vec!["0".repeat(32)]), vec![]),
        ];
        for (test, want) in rows {
            assert_eq!(lexical_differences(&test), want, "{test:?}");
        }
    }
}
