//! IR → KQL (Microsoft Sentinel / Defender XDR advanced hunting), in the shape of the seed
//! hunting queries: time-window lets, table, `where` clauses, `summarize` or `project`.
//!
//! Operator semantics (learn.microsoft.com/kusto/query/datatypes-string-operators):
//! `has` matches whole terms case-insensitively, `has_cs` case-sensitively, `=~`/`in~` compare
//! whole values case-insensitively, `==`/`in` case-sensitively; `contains`, `startswith`,
//! `endswith` are case-insensitive substring tests with `_cs` variants.

pub mod sentinel;

use super::common::domain_as_exact_or_suffix;
use super::driver::{Backend, Chain, Need, Rule, RuleCtx, Words};
use super::text::{Brackets, Text, Tokens};
use super::{RuleId, Target};
use crate::diag::{Fidelity, Note};
use crate::ir::{IrDetection, IrOutput, Match, Test, TextOp};
use crate::mapping::{Column, TableMap};
use crate::spec::{BackendName, Direction, Field, Source};
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
    /// The declared gap this query relies on (a match was dropped, so it matches more).
    pub gap: Option<String>,
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

/// The KQL backend. `and` binds tighter than `or`; mixed chains are bracketed for the reader,
/// and the detection's outermost chain puts each part on a line, as the seeds do.
#[derive(Default)]
pub struct Kql;

pub const TOKENS: Tokens = Tokens {
    and: " and ",
    or: " or ",
    top_and: "\n    and ",
    top_or: "\n    or ",
    not: ("not(", ")"),
    brackets: Brackets::Mixed,
    lone_chain: true,
};

/// One rule's state: named value lists hoisted into `let name = dynamic([...]);`, in
/// first-use order.
#[derive(Default)]
pub struct Lets(IndexMap<String, String>);

type Cx<'a> = RuleCtx<'a, Lets>;

/// Its key in `gaps:` / `unsupported:` and what `--target` names its artifacts.
#[allow(non_upper_case_globals)]
impl BackendName {
    pub const Kql: BackendName = BackendName::new("kql");
}

#[allow(non_upper_case_globals)]
impl Target {
    pub const Kql: Target = Target {
        name: "kql",
        help: "Plain KQL queries (`kql/`)",
        dir: "kql/",
        ext: ".kql",
        separator: "\n",
        prints: "the KQL queries",
    };
    pub const Sentinel: Target = Target {
        name: "sentinel",
        help: "Microsoft Sentinel hunting and analytic-rule YAML (`sentinel/`)",
        dir: "sentinel/analytic/",
        ext: ".yaml",
        separator: "---\n",
        prints: "the Sentinel scheduled analytic rules (YAML documents, separated by ---)",
    };
}

impl Backend for Kql {
    const NAME: BackendName = BackendName::Kql;
    const WORDS: Words = Words {
        title: "KQL",
        table: "table",
        target: "KQL table",
        missing: "column",
        grouped: None,
    };
    const TARGETS: &'static [Target] = &[Target::Kql, Target::Sentinel];
    const TEMPLATES: &'static [(&'static str, &'static str)] = sentinel::TEMPLATES;
    type Node = Text;
    type Local = Lets;

    super::text::text_hooks!(TOKENS);

    fn leaf(&self, cx: &mut Cx, m: &Match, col: &Column) -> Text {
        let (fidelity, note) = col.fidelity;
        let rendered: Vec<Text> = col
            .match_on
            .iter()
            .map(|c| Text::any_of(test(cx, c, m, &m.test), TOKENS.or))
            .collect();
        let text = if rendered.len() == 1 {
            rendered.into_iter().next().expect("one")
        } else {
            TOKENS.join(Chain::Any, rendered, false)
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
            cx.warn(
                m,
                k.fidelity,
                (Note::Kind(kind.to_string()), &k.note),
                format!("{}: `{}`: {}", cx.table.name, m.field, k.note),
            );
            if fidelity == Fidelity::Exact {
                fidelity = k.fidelity;
            }
            notes.push(k.note.clone());
        }
        let note = (!notes.is_empty()).then(|| notes.join("; "));
        cx.record(m, text.s.clone(), fidelity, note);
        text
    }

    fn needs(&self, det: &IrDetection, source: Source) -> Vec<Need> {
        let mut needs = vec![Need::new(Field::known("timestamp"), "the time filter")];
        match &det.output {
            IrOutput::Summarize(by) => {
                needs.push(Need::new(
                    Field::known("report_id"),
                    "summarize (Report=make_set)",
                ));
                needs.extend(by.iter().map(|f| Need::new(*f, "summarize")));
            }
            IrOutput::Project { columns, order_by } => {
                let fields = columns.get(&source).map(Vec::as_slice).unwrap_or_default();
                needs.extend(fields.iter().map(|f| Need::new(*f, "project")));
                if let Some((f, _)) = order_by {
                    needs.push(Need::new(*f, "order by"));
                }
            }
        }
        needs
    }

    fn finish(&mut self, cx: &mut Cx, rule: Rule<Text>, files: &mut Vec<(String, String)>) {
        let q = query(cx, &rule);
        if cx.wants(Target::Kql) {
            files.push((format!("kql/{}.kql", q.id.stem), q.text.clone()));
        }
        if cx.wants(Target::Sentinel) {
            match sentinel::render(cx.spec, cx.det, &q, &rule) {
                Ok((hunting, analytic)) => {
                    files.push((format!("sentinel/hunting/{}.yaml", q.id.stem), hunting));
                    files.push((format!("sentinel/analytic/{}.yaml", q.id.stem), analytic));
                }
                Err(d) => cx.diags.push(d),
            }
        }
    }
}

/// The values as a KQL list: `(a, b)`, or `(name)` when the spec named the list.
fn value_list(cx: &mut Cx, m: &Match, literals: Vec<String>) -> String {
    match &m.list {
        Some(name) => {
            cx.local
                .0
                .entry(name.clone())
                .or_insert_with(|| format!("let {name} = dynamic([{}]);", literals.join(", ")));
            format!("({name})")
        }
        None => list(literals),
    }
}

/// One field test on one column, as alternatives joined by `or`.
fn test(cx: &mut Cx, col: &str, m: &Match, test_: &Test) -> Vec<String> {
    let each = |vals: &[String], op: &str| -> Vec<String> {
        vals.iter()
            .map(|x| format!("{col} {op} {}", string_literal(x)))
            .collect()
    };
    let strs = |vals: &[String]| vals.iter().map(|v| string_literal(v)).collect::<Vec<_>>();
    let single = |n: usize| n == 1 && m.list.is_none();
    match test_ {
        Test::Text { op, values, cased } => match (op, cased) {
            (TextOp::Term, false) if single(values.len()) => each(values, "has"),
            (TextOp::Term, false) => {
                vec![format!("{col} has_any {}", value_list(cx, m, strs(values)))]
            }
            // has_any has no case-sensitive form
            (TextOp::Term, true) => each(values, "has_cs"),
            (TextOp::Exact, false) if single(values.len()) => each(values, "=~"),
            (TextOp::Exact, false) => {
                vec![format!("{col} in~ {}", value_list(cx, m, strs(values)))]
            }
            (TextOp::Exact, true) if single(values.len()) => each(values, "=="),
            (TextOp::Exact, true) => {
                vec![format!("{col} in {}", value_list(cx, m, strs(values)))]
            }
            (TextOp::Contains, false) => each(values, "contains"),
            (TextOp::Contains, true) => each(values, "contains_cs"),
            (TextOp::Prefix, false) => each(values, "startswith"),
            (TextOp::Prefix, true) => each(values, "startswith_cs"),
            (TextOp::Suffix, false) => each(values, "endswith"),
            (TextOp::Suffix, true) => each(values, "endswith_cs"),
        },
        // Exact: `=~`/`in~` and `endswith` are case-insensitive, like DNS names.
        Test::Domain(ds) => domain_as_exact_or_suffix(ds)
            .iter()
            .flat_map(|t| test(cx, col, m, t))
            .collect(),
        Test::Ip(ips) => {
            if ips.iter().any(IpAddr::is_ipv6) {
                let why = "IPv6 addresses are compared as text; an event spelling them another way (uncompressed, upper-case) is missed";
                let msg = format!("{}: IPv6 addresses in `{}` are compared as text; an event spelling them another way (uncompressed, upper-case) is missed", cx.table.name, m.field);
                cx.warn(m, Fidelity::Narrower, (Note::Code("ipv6-text"), why), msg);
            }
            let lits: Vec<String> = ips
                .iter()
                .map(|ip| string_literal(&ip.to_string()))
                .collect();
            if single(lits.len()) {
                vec![format!("{col} == {}", lits[0])]
            } else {
                vec![format!("{col} in {}", value_list(cx, m, lits))]
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
                if cx.negated {
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
                vec![format!("{col} in {}", value_list(cx, m, lits))]
            }
        }
        Test::Digest(hs) if single(hs.len()) => each(hs, "=~"),
        Test::Digest(hs) => vec![format!("{col} in~ {}", value_list(cx, m, strs(hs)))],
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

/// The query text of one rule.
fn query(cx: &mut Cx, rule: &Rule<Text>) -> KqlQuery {
    let (spec, det, source, table) = (cx.spec, cx.det, cx.source, cx.table);
    let ts = cx.project(Field::known("timestamp"));
    let mut lines = vec![format!(
        "// rmmc: {}/{} ({source}); generated from the spec, edit the spec instead",
        spec.id, det.id
    )];
    if det.time_filter {
        lines.push(format!("let Time_start = now(-{});", spec.window.kql()));
        lines.push("let Time_end = now();".into());
    }
    lines.extend(std::mem::take(&mut cx.local.0).into_values());
    lines.push(table.name.clone());
    if det.time_filter {
        lines.push(format!("| where {ts} between (Time_start..Time_end)"));
    }
    lines.push(format!("| where {}", rule.condition.s));
    for e in &rule.exclusions {
        match &e.inner {
            Some(inner) => {
                lines.push(format!("// exclusion: {}", e.x.id));
                lines.push(format!("| where {}", TOKENS.not(inner.clone()).s));
            }
            None => lines.push(format!(
                "// exclusion {} not applied: {} has no column for it",
                e.x.id, table.name
            )),
        }
    }

    let mut columns = Vec::new();
    match &det.output {
        IrOutput::Summarize(by) => {
            let report = cx.project(Field::known("report_id"));
            let mut by_cols = Vec::new();
            for f in by {
                let c = cx.project(*f);
                by_cols.push(c);
                columns.push((c.to_string(), Some(*f)));
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
                let c = cx.project(*f);
                cols.push(c);
                columns.push((c.to_string(), Some(*f)));
            }
            lines.push(format!("| project {}", cols.join(", ")));
            if let Some((f, dir)) = order_by {
                let dir = match dir {
                    Direction::Asc => "asc",
                    Direction::Desc => "desc",
                };
                lines.push(format!("| order by {} {dir}", cx.project(*f)));
            }
        }
    }
    let mut text = lines.join("\n");
    text.push('\n');
    KqlQuery {
        id: rule.id.clone(),
        table,
        text,
        columns,
        gap: rule.gap.map(str::to_string),
    }
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
        assert!(crate::mappings::default_tables(Kql::NAME).len() >= 5);
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
