//! IR → Splunk SPL over Sysmon (Splunk Add-on for Microsoft Sysmon) and CIM Network_Traffic
//! fields, plus one `savedsearches.conf` with a scheduled alert per query.
//!
//! Shape of a query: the data file's base search, the search-term prefilter (`terms`: words
//! Splunk finds in its index, wider than the `where`), and `earliest=-<window> latest=now` when
//! the detection filters on time (after a generating base search, `| from datamodel …`, which
//! takes no time modifiers: the same range as a `where` on `_time`), `eval F=coalesce(F, "")`
//! for every field the predicates or the grouping read (the IR reads a missing text field as the empty string; Splunk would make
//! a `where` comparison on it null, which `NOT` keeps null, i.e. false; and `stats … by`
//! drops events whose by-field is null, where KQL groups them), one `where` for the
//! predicate and one `where` per exclusion, then `stats` (the KQL summarize) or `sort 0` +
//! `table` (project + order). Every text test is a PCRE `match()`: see `escape` for why.
//!
//! Output: `splunk/<stem>.spl` per query and `splunk/savedsearches.conf`. Just over 600 lines:
//! the query text and its saved-search stanza share `SplQuery` and stay together.

pub mod escape;
mod schedule;
pub mod terms;

pub use schedule::{cron, suppress_period};

use super::common::{effect, fidelity_word};
use super::driver::{rule_name, Backend, Chain, Description, Grouped, Need, Rule, RuleCtx, Words};
use super::text::{Brackets, Text, Tokens};
use super::{RuleId, Target};
use crate::diag::{Diag, DiagKind, Fidelity, Note};
use crate::ir::{IrDetection, IrOutput, IrSpec, Match, Test, TextOp};
use crate::mapping::{Column, TableMap};
use crate::spec::{BackendName, Direction, Field, Source};
use escape::{
    alternation, case_flag, conf_value, eval_str, long_s_swap, pcre_text, pcre_text_plain_s,
    port_pattern, stanza_name, where_line, IPV4, LONG_S, TERM_LEFT, TERM_RIGHT,
};
use indexmap::IndexSet;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::OnceLock;
pub use terms::Node;

/// The Splunk backend's data (`backends/splunk.yaml`), compiled into the binary.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplData {
    pub rule_name: String,
    /// Spec severity (lower case) → savedsearches.conf `alert.severity`.
    pub alert_severity: BTreeMap<String, u8>,
    /// Keys every stanza carries unchanged.
    pub stanza_defaults: BTreeMap<String, String>,
}

pub const DATA_YAML: &str = include_str!("../../backends/splunk.yaml");

fn simple_name(s: &str) -> bool {
    let mut cs = s.chars();
    cs.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub fn data() -> &'static SplData {
    static DATA: OnceLock<SplData> = OnceLock::new();
    DATA.get_or_init(|| {
        let fail = |e: String| -> ! { panic!("backends/splunk.yaml: {e}") };
        let d: SplData = serde_yaml::from_str(DATA_YAML).unwrap_or_else(|e| fail(e.to_string()));
        for s in ["informational", "low", "medium", "high"] {
            if !d.alert_severity.contains_key(s) {
                fail(format!("alert_severity has no entry for {s}"));
            }
        }
        d
    })
}

/// The Splunk backend. Every chain part that is a chain is bracketed: no reliance on
/// operator precedence anywhere (`OR` binds tighter than `AND` in `search`, not in `where`).
#[derive(Default)]
pub struct Spl {
    /// Saved-search name → the stem of the rule that has it.
    names: BTreeMap<String, String>,
    /// Stem → (saved-search name, stanza text).
    stanzas: BTreeMap<String, (String, String)>,
}

pub const TOKENS: Tokens = Tokens {
    and: " AND ",
    or: " OR ",
    top_and: " AND ",
    top_or: " OR ",
    not: ("NOT (", ")"),
    brackets: Brackets::Chains,
    lone_chain: false,
};

/// One rule's state: the fields read by predicates or grouping, set to "" when missing
/// (`coalesce`), in first-use order.
#[derive(Default)]
pub struct Fill(IndexSet<String>);

type Cx<'a> = RuleCtx<'a, Fill>;

/// Its key in `gaps:` / `unsupported:` and what `--target` names its artifacts.
#[allow(non_upper_case_globals)]
impl BackendName {
    pub const Splunk: BackendName = BackendName::new("splunk");
}

#[allow(non_upper_case_globals)]
impl Target {
    pub const Splunk: Target = Target {
        name: "splunk",
        help: "Splunk SPL searches and savedsearches.conf (`splunk/`)",
        dir: "splunk/",
        ext: ".spl",
        separator: "\n",
        prints: "the SPL searches",
    };
}

impl Backend for Spl {
    const NAME: BackendName = BackendName::Splunk;
    const WORDS: Words = Words {
        title: "Splunk",
        table: "log source",
        target: "Splunk source",
        missing: "field",
        grouped: Some(Grouped {
            with_source: true,
            consequence: "the Splunk search groups results without it",
        }),
    };
    const TARGETS: &'static [Target] = &[Target::Splunk];
    type Node = Node;
    type Local = Fill;

    fn join(&self, _: &Cx, chain: Chain, parts: Vec<Node>, top: bool) -> Node {
        let (texts, terms): (Vec<Text>, Vec<Option<terms::Terms>>) =
            parts.into_iter().map(|n| (n.text, n.terms)).unzip();
        Node {
            text: TOKENS.join(chain, texts, top),
            terms: terms::join(chain, terms),
        }
    }

    fn not(&self, _: &Cx, inner: Node) -> Node {
        // a term says the event holds a word; under `not` that proves nothing
        Node {
            text: TOKENS.not(inner.text),
            terms: None,
        }
    }

    fn check_table(t: &TableMap) -> Result<(), String> {
        if !t.meta.get("base_search").is_some_and(|v| v.is_string()) {
            return Err(format!("table {}: meta.base_search is missing", t.name));
        }
        terms::check(t).map_err(|e| format!("table {}: {e}", t.name))?;
        for key in t.columns.keys() {
            let Some(c) = Field::lookup(key).and_then(|f| t.column(f)) else {
                continue;
            };
            // unquoted field names in eval, stats and table
            for n in c.match_on.iter().chain([&c.project]) {
                if !simple_name(n) {
                    return Err(format!(
                        "table {}: field name {n:?} needs quoting; use letters, digits and _",
                        t.name
                    ));
                }
            }
        }
        Ok(())
    }

    fn leaf(&self, cx: &mut Cx, m: &Match, col: &Column) -> Node {
        let (mut fidelity, note) = col.fidelity;
        let mut note = note.map(str::to_string);
        let mut alts = Vec::new();
        for c in &col.match_on {
            cx.local.0.insert(c.to_string());
            let value = if col.basename {
                // the part after the last backslash; `(?s)` so a line break cannot stop it
                format!("replace({c}, {}, \"\")", eval_str(BASENAME))
            } else {
                c.to_string()
            };
            alts.extend(test(&value, m));
        }
        let v6 = match &m.test {
            Test::Ip(ips) => ips.iter().any(IpAddr::is_ipv6),
            Test::Cidr(nets) => nets.iter().any(|n| n.addr.is_ipv6()),
            _ => false,
        };
        if v6 {
            let why = "IPv6 addresses are compared as Splunk spells and parses them (text equality with the compressed lower-case form, cidrmatch); an event spelling them another way is missed";
            cx.warn(
                m,
                Fidelity::Narrower,
                (Note::Code("ipv6-text"), why),
                format!("{}: `{}`: {why}", cx.table.name, m.field),
            );
            if fidelity == Fidelity::Exact {
                fidelity = Fidelity::Narrower;
                note = Some(why.to_string());
            } else {
                // both apply: one fidelity cannot say it, the note and both warnings do
                note = note.map(|n| format!("{n}; and narrower: {why}"));
            }
        }
        let text = Text::any_of(alts, TOKENS.or);
        if effect(fidelity, cx.negated) != fidelity {
            note = note.map(|n| {
                format!(
                    "{n}; under `not` the rule is {}",
                    fidelity_word(effect(fidelity, true))
                )
            });
        }
        cx.record(m, text.s.clone(), fidelity, note);
        Node {
            text,
            terms: terms::leaf(cx.table, m, col),
        }
    }

    fn needs(&self, det: &IrDetection, source: Source) -> Vec<Need> {
        let mut needs = vec![Need::new(Field::known("timestamp"), "the time filter")];
        match &det.output {
            IrOutput::Summarize(by) => {
                needs.push(Need::new(
                    Field::known("report_id"),
                    "stats (Report=values)",
                ));
                needs.extend(by.iter().map(|f| Need::group_by(*f, "stats by")));
            }
            IrOutput::Project { columns, order_by } => {
                if let Some((f, _)) = order_by {
                    needs.push(Need::new(*f, "sort"));
                }
                let fields = columns.get(&source).map(Vec::as_slice).unwrap_or_default();
                // a column the source lacks is left out under a declared gap (the rows
                // keep the others; which events match does not change)
                needs.extend(fields.iter().map(|f| Need::column(*f, "table")));
            }
        }
        needs
    }

    fn finish(&mut self, cx: &mut Cx, rule: Rule<Node>, files: &mut Vec<(String, String)>) {
        let (spec, det) = (cx.spec, cx.det);
        let q = query(cx, &rule);
        match stanza(spec, det, &q, &rule) {
            Ok((name, text)) => {
                if let Some(other) = self.names.insert(name.clone(), q.id.stem.clone()) {
                    cx.diags.push(
                        Diag::error(
                            DiagKind::Duplicate,
                            format!("{} and {other} would both be the saved search [{name}] in savedsearches.conf", q.id.stem),
                        )
                        .at(&spec.file, det.span)
                        .help("give the detections different titles"),
                    );
                    return;
                }
                self.stanzas.insert(q.id.stem.clone(), (name, text));
            }
            Err(d) => {
                cx.diags.push(d);
                return;
            }
        }
        files.push((format!("splunk/{}.spl", q.id.stem), q.text));
    }

    fn files(self, files: &mut Vec<(String, String)>) {
        if self.stanzas.is_empty() {
            return;
        }
        let mut conf = String::from(
            "# Generated by rmmc from the specs in rules/; edit the specs, not this file.\n",
        );
        for (_, text) in self.stanzas.values() {
            conf.push('\n');
            conf.push_str(text);
        }
        files.push(("splunk/savedsearches.conf".to_string(), conf));
    }
}

/// One emitted search: a detection on one log source.
struct SplQuery {
    id: RuleId,
    text: String,
    /// Reasons of the declared gaps this query relies on (matches dropped, rule wider, or
    /// grouping fields left out).
    gaps: Vec<String>,
    /// The columns that identify one finding (the `stats … by` fields, or the `table`
    /// columns): the saved search's alerts are throttled per their values.
    keys: Vec<String>,
}

/// The PCRE pattern of a text test (before eval quoting): exactly the IR's `text_match`, on
/// a value whose ſ were swapped out when `plain_s` (`escape::long_s_swap`; caseless only).
pub fn text_pattern(op: TextOp, values: &[String], cased: bool, plain_s: bool) -> String {
    let body = alternation(&spelled(values, cased, plain_s));
    let re = match op {
        TextOp::Term => format!("{TERM_LEFT}{body}{TERM_RIGHT}"),
        TextOp::Exact => format!(r"\A{body}\z"),
        TextOp::Contains => body,
        TextOp::Prefix => format!(r"\A{body}"),
        TextOp::Suffix => format!(r"{body}\z"),
    };
    format!("{}{re}", case_flag(cased))
}

/// The PCRE pattern of a domain test: the field is the domain or ends with `.` + domain
/// (`plain_s` as for `text_pattern`).
pub fn domain_pattern(domains: &[String], plain_s: bool) -> String {
    let body = alternation(&spelled(domains, false, plain_s));
    format!(r"(?i)(?:\A|\.){body}\z")
}

/// Each value as PCRE text.
fn spelled(values: &[String], cased: bool, plain_s: bool) -> Vec<String> {
    let spell = |x: &String| match plain_s && !cased {
        true => pcre_text_plain_s(x),
        false => pcre_text(x, cased),
    };
    values.iter().map(spell).collect()
}

/// The PCRE that cuts a path down to its last component (`replace(F, BASENAME, "")`).
pub const BASENAME: &str = r"(?s)^.*\\";

/// `match(<value>, "<pcre>")`
fn matches(value: &str, pcre: &str) -> String {
    format!("match({value}, {})", eval_str(pcre))
}

/// `replace(<value>, "\\x{17F}", "<r>")`: the value with every ſ swapped for `r`.
fn swap_long_s(value: &str, r: char) -> String {
    format!(
        "replace({value}, {}, {})",
        eval_str(LONG_S),
        eval_str(&r.to_string())
    )
}

/// `a OR b …`, bracketed when more than one.
fn alternation_or(parts: &[String]) -> String {
    if let [one] = parts {
        one.clone()
    } else {
        format!("({})", parts.join(" OR "))
    }
}

/// The test of one match on one value expression, as OR-alternatives.
fn test(v: &str, m: &Match) -> Vec<String> {
    match &m.test {
        // caseless: `s` plain where the value's ſ can be swapped out (`long_s_swap`)
        Test::Text { op, values, cased } => vec![match long_s_swap(values).filter(|_| !cased) {
            Some(r) => matches(&swap_long_s(v, r), &text_pattern(*op, values, false, true)),
            None => matches(v, &text_pattern(*op, values, *cased, false)),
        }],
        Test::Domain(ds) => vec![match long_s_swap(ds) {
            Some(r) => matches(&swap_long_s(v, r), &domain_pattern(ds, true)),
            None => matches(v, &domain_pattern(ds, false)),
        }],
        Test::Ip(ips) => ips
            .iter()
            .map(|ip| format!("{v}=={}", eval_str(&ip.to_string())))
            .collect(),
        Test::Cidr(nets) => {
            let cidr = |n: &&crate::spec::values::CidrValue| {
                format!("cidrmatch({}, {v})", eval_str(&n.to_string()))
            };
            let (v4, v6): (Vec<_>, Vec<_>) = nets.iter().partition(|n| n.addr.is_ipv4());
            let mut alts = Vec::new();
            if !v4.is_empty() {
                // cidrmatch parses the field itself; keep only what the IR parses. One guard
                // for all of the field's IPv4 blocks (issue 19: not one per block).
                let blocks: Vec<String> = v4.iter().map(cidr).collect();
                alts.push(format!(
                    "({} AND {})",
                    matches(v, IPV4),
                    alternation_or(&blocks)
                ));
            }
            alts.extend(v6.iter().map(cidr));
            alts
        }
        Test::Port(ports) => vec![matches(v, &port_pattern(ports))],
        Test::Digest(hs) => vec![matches(v, &text_pattern(TextOp::Exact, hs, false, false))],
    }
}

/// The search text of one rule.
fn query(cx: &mut Cx, rule: &Rule<Node>) -> SplQuery {
    let (spec, det, source, table) = (cx.spec, cx.det, cx.source, cx.table);
    let ts = cx.project(Field::known("timestamp"));
    let mut exclusion_lines = Vec::new();
    for e in &rule.exclusions {
        match &e.inner {
            Some(inner) => {
                exclusion_lines.push(format!("```exclusion: {}```", e.x.id));
                exclusion_lines.push(where_line(&TOKENS.not(inner.text.clone()).s));
            }
            // `not(x)` widened to true: nothing of the exclusion can be tested, none applied
            None => exclusion_lines.push(format!(
                "```exclusion {} not applied: {} has no field for it```",
                e.x.id, table.name
            )),
        }
    }
    let mut gaps: Vec<String> = rule.gap.map(str::to_string).into_iter().collect();
    if !rule.ungrouped.is_empty() {
        let reason = &det.gaps[&BackendName::Splunk];
        if !gaps.contains(reason) {
            gaps.push(reason.clone());
        }
    }

    let mut tail = Vec::new();
    let keys: Vec<String>;
    match &det.output {
        IrOutput::Summarize(by) => {
            let report = cx.project(Field::known("report_id"));
            // A group-by field the source lacks is left out under a declared gap (the
            // driver warns): which events match does not change, only how rows are grouped.
            let by_cols: Vec<&str> = by
                .iter()
                .filter(|f| !rule.ungrouped.contains(f))
                .map(|f| cx.project(*f))
                .collect();
            // KQL groups on empty strings; stats drops events whose by-field is null
            cx.local.0.extend(by_cols.iter().map(|c| c.to_string()));
            keys = by_cols.iter().map(|c| c.to_string()).collect();
            tail.push(format!(
                "| stats min({ts}) as FirstSeen max({ts}) as LastSeen values({report}) as Report count as Count by {}",
                by_cols.join(" ")
            ));
        }
        IrOutput::Project {
            columns: per_source,
            order_by,
        } => {
            if let Some((f, dir)) = order_by {
                let c = cx.project(*f);
                tail.push(match dir {
                    Direction::Asc => format!("| sort 0 {c}"),
                    Direction::Desc => format!("| sort 0 - {c}"),
                });
            }
            let fields = per_source
                .get(&source)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let cols: Vec<&str> = fields
                .iter()
                .filter(|f| !rule.ungrouped.contains(f))
                .map(|f| cx.project(*f))
                .collect();
            keys = cols.iter().map(|c| c.to_string()).collect();
            tail.push(format!("| table {}", cols.join(" ")));
        }
    }

    let base = table.meta["base_search"].as_str().expect("checked at load");
    let mut lines = vec![format!(
        "```rmmc: {}/{} ({source}), id {}; generated from the spec, edit the spec instead```",
        spec.id,
        det.id,
        rule.id.uuid("splunk-search")
    )];
    let mut search = base.to_string();
    if let Some(t) = &rule.condition.terms {
        search.push(' ');
        search.push_str(&terms::clause(t));
    }
    // a generating command takes no time modifiers: the same range as a `where` on `_time`
    let generating = base.starts_with('|');
    if det.time_filter && !generating {
        let _ = write!(search, " earliest=-{} latest=now", spec.window.kql());
    }
    lines.push(search);
    if det.time_filter && generating {
        lines.push(format!(
            "| where {ts}>=relative_time(now(), \"-{}\") AND {ts}<now()",
            spec.window.kql()
        ));
    }
    if !cx.local.0.is_empty() {
        let sets: Vec<String> = cx
            .local
            .0
            .iter()
            .map(|f| format!("{f}=coalesce({f}, \"\")"))
            .collect();
        lines.push(format!("| eval {}", sets.join(", ")));
    }
    lines.push(where_line(&rule.condition.text.s));
    lines.extend(exclusion_lines);
    lines.extend(tail);
    let mut text = lines.join("\n");
    text.push('\n');
    SplQuery {
        id: rule.id.clone(),
        text,
        gaps,
        keys,
    }
}

/// The stanza name of a rule's saved search in savedsearches.conf: the rule name template,
/// plus ` (<source>)` when the detection reads several sources. `rmmc verify` finds each
/// rule's stanza by it.
pub fn saved_search_name(
    spec: &IrSpec,
    det: &IrDetection,
    source: crate::spec::Source,
) -> Result<String, String> {
    let name = rule_name(&data().rule_name, spec, det, source.name())
        .map_err(|e| format!("rule name template: {e}"))?;
    stanza_name(&name)
}

/// One savedsearches.conf stanza (name, text).
fn stanza(
    spec: &IrSpec,
    det: &IrDetection,
    q: &SplQuery,
    rule: &Rule<Node>,
) -> Result<(String, String), Diag> {
    let err = |what: &str, why: String| {
        Diag::error(
            DiagKind::Value,
            format!(
                "{}: the saved search's {what} cannot be written to savedsearches.conf: {why}",
                q.id.stem
            ),
        )
        .at(&spec.file, det.span)
    };
    let d = data();
    let name = saved_search_name(spec, det, q.id.source).map_err(|e| err("name", e))?;

    let mut description = Description::new(spec.description.trim_end()).references(spec);
    description.benign(&rule.exclusions);
    for g in &q.gaps {
        description.known_gap("Splunk", g);
    }
    let severity = spec.severity.title().to_ascii_lowercase();
    let cron_schedule = cron(spec.frequency.minutes).ok_or_else(|| {
        err(
            "schedule",
            format!(
                "frequency {} has no cron form; use minutes dividing an hour, hours dividing a day, or 1d",
                spec.frequency
            ),
        )
    })?;
    let mut keys: BTreeMap<&str, String> = d
        .stanza_defaults
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    keys.insert("alert.severity", d.alert_severity[&severity].to_string());
    keys.insert("cron_schedule", cron_schedule);
    keys.insert("description", description.into_string());
    keys.insert("dispatch.earliest_time", format!("-{}", spec.window.kql()));
    keys.insert("dispatch.latest_time", "now".into());
    keys.insert("search", q.text.trim_end_matches('\n').to_string());
    // One alert per finding (issue 19): each result row alerts on its own (digest mode off),
    // and a finding that alerted is throttled by its key columns (savedsearches.conf.spec:
    // `alert.suppress`, `alert.suppress.fields` "must be specified if the digest mode is
    // disabled and suppression is enabled", `alert.suppress.period` "[number][time-unit]").
    // The throttle starts at the first alert and an event stays in the search's range for the
    // window, so a finding whose events span up to one window stays in the results for up to
    // two: the period is twice the window (a finding active longer is raised again after it).
    // Hours, the largest unit the spec's examples show.
    if !q.keys.is_empty() {
        keys.insert("alert.digest_mode", "0".into());
        keys.insert("alert.suppress", "1".into());
        keys.insert("alert.suppress.fields", q.keys.join(","));
        keys.insert(
            "alert.suppress.period",
            suppress_period(2 * spec.window.minutes),
        );
    }

    // The id the search carries in its first line: one id per rule.
    let mut text = format!(
        "# {}/{} ({}), rmmc id {}\n[{name}]\n",
        spec.id,
        det.id,
        q.id.source,
        q.id.uuid("splunk-search")
    );
    for (k, v) in keys {
        let v = conf_value(&v).map_err(|e| err(k, e))?;
        let _ = writeln!(text, "{k} = {v}");
    }
    Ok((name, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_mapping_loads() {
        assert_eq!(crate::mappings::default_tables(Spl::NAME).len(), 4);
    }
}
