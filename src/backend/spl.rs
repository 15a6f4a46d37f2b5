//! IR → Splunk SPL over Sysmon (Splunk Add-on for Microsoft Sysmon) and CIM Network_Traffic
//! fields, plus one `savedsearches.conf` with a scheduled alert per query.
//!
//! Shape of a query: the data file's base search (and `earliest=-<window> latest=now` when
//! the detection filters on time), `eval F=coalesce(F, "")` for every field the predicates or
//! the grouping read (the IR reads a missing text field as the empty string; Splunk would make
//! a `where` comparison on it null, which `NOT` keeps null, i.e. false; and `stats … by`
//! drops events whose by-field is null, where KQL groups them), one `where` for the
//! predicate and one `where` per exclusion, then `stats` (the KQL summarize) or `sort 0` +
//! `table` (project + order). Every text test is a PCRE `match()`: see `escape` for why.
//!
//! Output: `splunk/<stem>.spl` per query and `splunk/savedsearches.conf`.

pub mod escape;

use super::common::{effect, fidelity_word, RuleCtx, Widened};
use super::{Compiled, RuleId};
use crate::diag::{Diag, DiagKind, Fidelity};
use crate::ir::{Expr, IrDetection, IrOutput, IrSpec, Match, Test, TextOp};
use crate::mapping::TableMap;
use crate::render;
use crate::spec::{BackendName, Direction, Field};
use escape::{
    alternation, case_flag, conf_value, eval_str, pcre_text, port_pattern, stanza_name, IPV4,
    TERM_LEFT, TERM_RIGHT,
};
use indexmap::IndexSet;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::OnceLock;

/// The Splunk backend's data (`backends/splunk.yaml`), compiled into the binary.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplData {
    pub rule_name: String,
    /// Spec severity (lower case) → savedsearches.conf `alert.severity`.
    pub alert_severity: BTreeMap<String, u8>,
    /// Keys every stanza carries unchanged.
    pub stanza_defaults: BTreeMap<String, String>,
    pub tables: Vec<TableMap>,
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
        for t in &d.tables {
            t.check().unwrap_or_else(|e| fail(e));
            if !t.meta.get("base_search").is_some_and(|v| v.is_string()) {
                fail(format!("table {}: meta.base_search is missing", t.name));
            }
            for key in t.columns.keys() {
                let f = Field::lookup(key).expect("checked");
                let c = t.column(f).expect("listed");
                // unquoted field names in eval, stats and table
                for n in c.match_on.iter().chain([&c.project]) {
                    if !simple_name(n) {
                        fail(format!(
                            "table {}: field name {n:?} needs quoting; use letters, digits and _",
                            t.name
                        ));
                    }
                }
            }
        }
        for s in ["informational", "low", "medium", "high"] {
            if !d.alert_severity.contains_key(s) {
                fail(format!("alert_severity has no entry for {s}"));
            }
        }
        d
    })
}

/// One emitted search: a detection on one log source.
#[derive(Debug)]
pub struct SplQuery {
    pub id: RuleId,
    pub text: String,
    /// Reasons of the declared gaps this query relies on (matches dropped, rule wider).
    pub gaps: Vec<String>,
}

struct Emitter<'a> {
    ctx: RuleCtx<'a>,
    /// Fields read by predicates or grouping, set to "" when missing (`coalesce`).
    fill: IndexSet<String>,
}

/// The PCRE pattern of a text test (before eval quoting): exactly the IR's `text_match`.
pub fn text_pattern(op: TextOp, values: &[String], cased: bool) -> String {
    let body = alternation(
        &values
            .iter()
            .map(|x| pcre_text(x, cased))
            .collect::<Vec<_>>(),
    );
    let re = match op {
        TextOp::Term => format!("{TERM_LEFT}{body}{TERM_RIGHT}"),
        TextOp::Exact => format!(r"\A{body}\z"),
        TextOp::Contains => body,
        TextOp::Prefix => format!(r"\A{body}"),
        TextOp::Suffix => format!(r"{body}\z"),
    };
    format!("{}{re}", case_flag(cased))
}

/// The PCRE pattern of a domain test: the field is the domain or ends with `.` + domain.
pub fn domain_pattern(domains: &[String]) -> String {
    let body = alternation(
        &domains
            .iter()
            .map(|d| pcre_text(d, false))
            .collect::<Vec<_>>(),
    );
    format!(r"(?i)(?:\A|\.){body}\z")
}

/// The PCRE that cuts a path down to its last component (`replace(F, BASENAME, "")`).
pub const BASENAME: &str = r"(?s)^.*\\";

/// `match(<value>, "<pcre>")`
fn matches(value: &str, pcre: &str) -> String {
    format!("match({value}, {})", eval_str(pcre))
}

impl Emitter<'_> {
    /// A boolean eval expression, and whether it is a bare `AND`/`OR` chain (then a parent
    /// brackets it: no reliance on operator precedence anywhere).
    fn expr(&mut self, e: &Expr) -> (String, bool) {
        let join = |this: &mut Self, v: &[Expr], op: &str| {
            let parts: Vec<String> = v
                .iter()
                .map(|x| match this.expr(x) {
                    (s, true) => format!("({s})"),
                    (s, false) => s,
                })
                .collect();
            (parts.join(op), parts.len() > 1)
        };
        match e {
            Expr::All(v) => join(self, v, " AND "),
            Expr::Any(v) => join(self, v, " OR "),
            Expr::Not(x) => {
                self.ctx.negated = !self.ctx.negated;
                let inner = self.expr(x).0;
                self.ctx.negated = !self.ctx.negated;
                (format!("NOT ({inner})"), false)
            }
            Expr::Match(m) => self.leaf(m),
        }
    }

    fn leaf(&mut self, m: &Match) -> (String, bool) {
        let col = self
            .ctx
            .table
            .column(m.field)
            .expect("matches on missing fields are widened away before rendering");
        let (mut fidelity, note) = col.fidelity;
        let mut note = note.map(str::to_string);
        if fidelity != Fidelity::Exact {
            let msg = format!(
                "{}: `{}` is matched on {} ({}: {})",
                self.ctx.table.name,
                m.field,
                col.match_on.join(" or "),
                fidelity_word(fidelity),
                note.as_deref().unwrap_or_default()
            );
            self.ctx.warn(m, fidelity, msg);
        }
        let mut alts = Vec::new();
        for c in &col.match_on {
            self.fill.insert(c.to_string());
            let value = if col.basename {
                // the part after the last backslash; `(?s)` so a line break cannot stop it
                format!("replace({c}, {}, \"\")", eval_str(BASENAME))
            } else {
                c.to_string()
            };
            alts.extend(self.test(&value, m));
        }
        let v6 = match &m.test {
            Test::Ip(ips) => ips.iter().any(IpAddr::is_ipv6),
            Test::Cidr(nets) => nets.iter().any(|n| n.addr.is_ipv6()),
            _ => false,
        };
        if v6 {
            let why = "IPv6 addresses are compared as Splunk spells and parses them (text equality with the compressed lower-case form, cidrmatch); an event spelling them another way is missed";
            self.ctx.warn(
                m,
                Fidelity::Narrower,
                format!("{}: `{}`: {why}", self.ctx.table.name, m.field),
            );
            if fidelity == Fidelity::Exact {
                fidelity = Fidelity::Narrower;
                note = Some(why.to_string());
            } else {
                // both apply: one fidelity cannot say it, the note and both warnings do
                note = note.map(|n| format!("{n}; and narrower: {why}"));
            }
        }
        let text = alts.join(" OR ");
        if effect(fidelity, self.ctx.negated) != fidelity {
            note = note.map(|n| {
                format!(
                    "{n}; under `not` the rule is {}",
                    fidelity_word(effect(fidelity, true))
                )
            });
        }
        self.ctx.record(m, text.clone(), fidelity, note);
        (text, alts.len() > 1)
    }

    /// The test of one match on one value expression, as OR-alternatives.
    fn test(&mut self, v: &str, m: &Match) -> Vec<String> {
        match &m.test {
            Test::Text { op, values, cased } => {
                vec![matches(v, &text_pattern(*op, values, *cased))]
            }
            Test::Domain(ds) => vec![matches(v, &domain_pattern(ds))],
            Test::Ip(ips) => ips
                .iter()
                .map(|ip| format!("{v}=={}", eval_str(&ip.to_string())))
                .collect(),
            Test::Cidr(nets) => nets
                .iter()
                .map(|n| {
                    let cidr = format!("cidrmatch({}, {v})", eval_str(&n.to_string()));
                    if n.addr.is_ipv4() {
                        // cidrmatch parses the field itself; keep only what the IR parses
                        format!("({} AND {cidr})", matches(v, IPV4))
                    } else {
                        cidr
                    }
                })
                .collect(),
            Test::Port(ports) => vec![matches(v, &port_pattern(ports))],
            Test::Digest(hs) => vec![matches(v, &text_pattern(TextOp::Exact, hs, false))],
        }
    }
}

fn query(em: &mut Emitter, id: &RuleId, with_exclusions: bool) -> Option<SplQuery> {
    let (spec, det, source, table) = (em.ctx.spec, em.ctx.det, em.ctx.source, em.ctx.table);
    let mut errors = Vec::new();
    let mut col = |f: Field, what: &str| match table.column(f) {
        Some(c) => c.project.to_string(),
        None => {
            errors.push(
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
                )),
            );
            String::new()
        }
    };
    let ts = col(Field::known("timestamp"), "the time filter");

    let detection = em.ctx.expressible(&det.expr, "detection");
    let exclusions = em.ctx.exclusions(with_exclusions);
    let cond = match detection? {
        Widened::Expr(e) => {
            em.ctx.part = "detection".into();
            em.expr(&e).0
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
                let (c, _) = em.expr(&e);
                exclusion_lines.push(format!("```exclusion: {}```", x.id));
                exclusion_lines.push(format!("| where {c}"));
            }
            // `not(x)` widened to true: nothing of the exclusion can be tested, none applied
            _ => exclusion_lines.push(format!(
                "```exclusion {} not applied: {} has no field for it```",
                x.id, table.name
            )),
        }
    }
    let mut gaps = Vec::new();
    if em
        .ctx
        .renderings
        .iter()
        .any(|r| r.fidelity == Fidelity::Inexpressible)
    {
        gaps.push(det.gaps[&BackendName::Splunk].clone());
    }

    let mut tail = Vec::new();
    let mut out_gaps: Vec<Field> = Vec::new();
    match &det.output {
        IrOutput::Summarize(by) => {
            let report = col(Field::known("report_id"), "stats (Report=values)");
            // A group-by field the source lacks fails the build, unless the detection
            // declares a Splunk gap: then results are grouped without it, with a warning.
            // Which events match does not change; only how rows are grouped.
            let gap = det.gaps.get(&BackendName::Splunk);
            let by_cols: Vec<String> = by
                .iter()
                .filter(|f| {
                    let keep = table.column(**f).is_some() || gap.is_none();
                    if !keep {
                        out_gaps.push(**f);
                    }
                    keep
                })
                .map(|f| col(*f, "stats by"))
                .collect();
            // KQL groups on empty strings; stats drops events whose by-field is null
            em.fill.extend(by_cols.iter().cloned());
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
                let c = col(*f, "sort");
                tail.push(match dir {
                    Direction::Asc => format!("| sort 0 {c}"),
                    Direction::Desc => format!("| sort 0 - {c}"),
                });
            }
            let fields = per_source
                .get(&source)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let cols: Vec<String> = fields.iter().map(|f| col(*f, "table")).collect();
            tail.push(format!("| table {}", cols.join(" ")));
        }
    }
    if !errors.is_empty() {
        em.ctx.diags.extend(errors);
        return None;
    }
    if !out_gaps.is_empty() {
        let reason = &det.gaps[&BackendName::Splunk];
        let names: Vec<&str> = out_gaps.iter().map(|f| f.name()).collect();
        em.ctx.diags.push(
            Diag::warning(
                DiagKind::Semantics,
                format!(
                    "{}/{} ({source}): {} has no field for summarize `{}`, so the Splunk search groups results without it (declared gap: {reason})",
                    spec.id,
                    det.id,
                    table.name,
                    names.join("`, `")
                ),
            )
            .at(&spec.file, det.span),
        );
        if !gaps.contains(reason) {
            gaps.push(reason.clone());
        }
    }

    let base = table.meta["base_search"].as_str().expect("checked at load");
    let mut lines = vec![format!(
        "```rmmc: {}/{} ({source}), id {}; generated from the spec, edit the spec instead```",
        spec.id,
        det.id,
        id.uuid("splunk-search")
    )];
    if det.time_filter {
        lines.push(format!("{base} earliest=-{} latest=now", spec.window.kql()));
    } else {
        lines.push(base.to_string());
    }
    let fill: Vec<&str> = em.fill.iter().map(String::as_str).collect();
    if !fill.is_empty() {
        let sets: Vec<String> = fill
            .iter()
            .map(|f| format!("{f}=coalesce({f}, \"\")"))
            .collect();
        lines.push(format!("| eval {}", sets.join(", ")));
    }
    lines.push(format!("| where {cond}"));
    lines.extend(exclusion_lines);
    lines.extend(tail);
    let mut text = lines.join("\n");
    text.push('\n');
    Some(SplQuery {
        id: id.clone(),
        text,
        gaps,
    })
}

/// `cron_schedule` for a frequency: every n minutes or hours (dividing the hour / day), or
/// daily. Anything else has no exact cron form.
pub fn cron(minutes: u64) -> Option<String> {
    match minutes {
        m if m < 60 && 60 % m == 0 => Some(format!("*/{m} * * * *")),
        60 => Some("0 * * * *".into()),
        m if m % 60 == 0 && m < 1440 && 1440 % m == 0 => Some(format!("0 */{} * * *", m / 60)),
        1440 => Some("0 0 * * *".into()),
        _ => None,
    }
}

/// Compile every spec: `splunk/<stem>.spl` per (detection, source) and one
/// `splunk/savedsearches.conf`.
pub fn compile(irs: &[IrSpec], with_exclusions: bool) -> Compiled<(String, String)> {
    let mut out = Compiled::default();
    let mut stanzas: BTreeMap<String, (String, String)> = BTreeMap::new(); // stem → (name, text)
    let mut names: BTreeMap<String, String> = BTreeMap::new(); // name → stem
    for spec in irs {
        let rules = super::common::rules_of(
            spec,
            BackendName::Splunk,
            &data().tables,
            ("log source", "splunk.yaml"),
            &mut out.diags,
        );
        for (det, source, table) in rules {
            let id = RuleId::new(spec, det, source);
            let mut em = Emitter {
                ctx: RuleCtx::new(
                    BackendName::Splunk,
                    spec,
                    det,
                    source,
                    table,
                    format!("Splunk source {}", table.name),
                    "field",
                ),
                fill: IndexSet::new(),
            };
            let built = query(&mut em, &id, with_exclusions);
            out.diags.append(&mut em.ctx.diags);
            out.renderings.append(&mut em.ctx.renderings);
            let Some(q) = built else { continue };
            match stanza(spec, det, &q, with_exclusions) {
                Ok((name, text)) => {
                    if let Some(other) = names.insert(name.clone(), q.id.stem.clone()) {
                        out.diags.push(
                                Diag::error(
                                    DiagKind::Duplicate,
                                    format!("{} and {other} would both be the saved search [{name}] in savedsearches.conf", q.id.stem),
                                )
                                .at(&spec.file, det.span)
                                .help("give the detections different titles"),
                            );
                        continue;
                    }
                    stanzas.insert(q.id.stem.clone(), (name, text));
                }
                Err(d) => {
                    out.diags.push(d);
                    continue;
                }
            }
            out.items
                .push((format!("splunk/{}.spl", q.id.stem), q.text));
        }
    }
    if !stanzas.is_empty() {
        let mut conf = String::from(
            "# Generated by rmmc from the specs in rules/; edit the specs, not this file.\n",
        );
        for (_, text) in stanzas.values() {
            conf.push('\n');
            conf.push_str(text);
        }
        out.items
            .push(("splunk/savedsearches.conf".to_string(), conf));
    }
    out
}

/// The stanza name of a rule's saved search in savedsearches.conf: the rule name template,
/// plus ` (<source>)` when the detection reads several sources. `rmmc verify` finds each
/// rule's stanza by it.
pub fn saved_search_name(
    spec: &IrSpec,
    det: &IrDetection,
    source: crate::spec::Source,
) -> Result<String, String> {
    let mut name = render::render_str(
        &data().rule_name,
        minijinja::context! { vendor => spec.vendor, title => det.title },
    )
    .map_err(|e| format!("rule name template: {e}"))?;
    if det.sources.len() > 1 {
        name.push_str(&format!(" ({source})"));
    }
    stanza_name(&name)
}

/// One savedsearches.conf stanza (name, text).
fn stanza(
    spec: &IrSpec,
    det: &IrDetection,
    q: &SplQuery,
    with_exclusions: bool,
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

    let mut description = spec.description.trim_end().to_string();
    for r in &spec.references {
        description.push('\n');
        description.push_str(r);
    }
    let applied: Vec<_> = det
        .exclusions
        .iter()
        .filter(|x| with_exclusions && x.sources.contains(&q.id.source))
        .collect();
    if !applied.is_empty() {
        description.push_str("\n\nExcluded as benign:");
        for x in applied {
            description.push_str(&format!("\n- {}: {}", x.id, x.reason));
        }
    }
    for g in &q.gaps {
        description.push_str(&format!(
            "\n\nKnown gap (Splunk matches more than the spec): {g}"
        ));
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
    keys.insert("description", description);
    keys.insert("dispatch.earliest_time", format!("-{}", spec.window.kql()));
    keys.insert("dispatch.latest_time", "now".into());
    keys.insert("search", q.text.trim_end_matches('\n').to_string());

    let mut text = format!(
        "# {}/{} ({}), rmmc id {}\n[{name}]\n",
        spec.id,
        det.id,
        q.id.source,
        q.id.uuid("splunk-saved-search")
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
        assert_eq!(data().tables.len(), 4);
    }

    #[test]
    fn cron_forms() {
        assert_eq!(cron(5).as_deref(), Some("*/5 * * * *"));
        assert_eq!(cron(60).as_deref(), Some("0 * * * *"));
        assert_eq!(cron(360).as_deref(), Some("0 */6 * * *"));
        assert_eq!(cron(1440).as_deref(), Some("0 0 * * *"));
        assert_eq!(cron(7), None);
        assert_eq!(cron(2880), None);
    }
}
