//! IR → Elastic EQL over ECS fields (`elastic/<stem>.eql`), plus one Kibana detection-rule
//! export (`elastic/rules.ndjson`, one `type: eql` rule per line, serialized with serde_json).
//!
//! EQL facts this backend relies on (Elasticsearch EQL syntax reference):
//! - `==` / `in` compare case-sensitively and literally; `in~` is the case-insensitive lookup;
//!   `:` compares case-insensitively with the `*` / `?` wildcards; `like` is the case-sensitive
//!   wildcard match. EQL has no escape for a literal `*` or `?` in a wildcard pattern, so a
//!   value holding `*`, `?` (or `\`, whose meaning in the Lucene wildcard layer is not
//!   documented for EQL) is never given to `:` / `like`; it goes to `regex` instead.
//! - `regex` is a Lucene regular expression, anchored to the whole value; `\` escapes any
//!   character; the reserved characters are escaped, letters and digits never are (Lucene
//!   gives `\d`, `\w` … meanings).
//! - Elasticsearch's case-insensitive comparisons (`:`, `in~`, `like~`, `regex~`) fold ASCII
//!   letters only (`AutomatonQueries.toCaseInsensitiveChar`: code points above 128 match only
//!   themselves; `regex~` is the `regexp` query's `case_insensitive` flag, Lucene's
//!   ASCII_CASE_INSENSITIVE). The spec folds Unicode case per character (`ir::fold`, which
//!   also maps the Kelvin sign K to `k`). So `:` / `in~` are used only for values where both
//!   foldings agree; any other value, and every whole-term test, is a `regex~` in which only
//!   the characters whose two foldings differ are explicit classes of every character the
//!   spec folds together (`[Kk\u{212A}]`): `regex~ "(.*[^a-zA-Z0-9])?server\\.example\\.com…"`.
//!   The `~` operators exist since Elasticsearch 7.12 (EQL syntax reference 7.12, "Operators";
//!   the `eql` package has parsed `regex~` since 0.9.9), below the Kibana 8.14 the rule states.
//! - Strings are `"…"` with `\\`, `\"`, `\n`, `\r`, `\t` and `\u{X}` escapes; this backend
//!   writes every non-ASCII character as `\u{X}`, so artifacts are plain ASCII.
//! - A missing field is null; `null : "x"` is false and `not (…)` of it is true (Elasticsearch
//!   runs a non-sequence EQL filter as a bool query: `not` is `must_not`, which keeps documents
//!   without the field). No rendered test matches the empty string, so this equals the spec's
//!   "missing text is the empty string". The backend never uses `!=`.
//! - EQL has no aggregation: a `summarize` becomes the Kibana rule's alert suppression
//!   (`alert_suppression.group_by`), which is reported, since one alert per group is not one
//!   result row per group.
//!
//! Stays whole (over 600 lines): a backend is one file (its hooks, its escaping rules and the Kibana
//! wrapper's fields); `driver.rs` holds what the backends share.

use super::common::fidelity_word;
use super::driver::{
    known_gap, rule_name, Backend, Description, Grouped, Need, Rule, RuleCtx, Words,
};
use super::text::{Binding, Brackets, Text, Tokens};
use super::Target;
use crate::diag::{Cause, Diag, DiagKind, Fidelity, Note};
use crate::ir::{fold, IrDetection, IrOutput, IrSpec, Match, Test, TextOp};
use crate::mapping::{Column, TableMap};
use crate::spec::attack::{tactics_of, TECHNIQUES};
use crate::spec::{BackendName, Source};
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

/// The Elastic backend's data (`backends/elastic.yaml`), compiled into the binary.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElasticData {
    pub rule_name: String,
    pub enabled: bool,
    pub tags: Vec<String>,
    pub severity: IndexMap<String, SeverityMap>,
    /// Per match kind (`ip`, `cidr`, …): how the rendering differs, and why.
    #[serde(default)]
    pub kinds: IndexMap<String, KindNote>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeverityMap {
    pub severity: String,
    pub risk_score: u8,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindNote {
    pub fidelity: Fidelity,
    pub note: String,
}

pub const DATA_YAML: &str = include_str!("../../backends/elastic.yaml");

pub fn data() -> &'static ElasticData {
    static DATA: OnceLock<ElasticData> = OnceLock::new();
    DATA.get_or_init(|| {
        let d: ElasticData = serde_yaml::from_str(DATA_YAML)
            .unwrap_or_else(|e| panic!("backends/elastic.yaml: {e}"));
        for s in ["informational", "low", "medium", "high"] {
            assert!(
                d.severity.contains_key(s),
                "backends/elastic.yaml: no severity entry for {s}"
            );
        }
        d
    })
}

// ---------------------------------------------------------------------------------------------
// Literals and patterns

/// An EQL string literal holding exactly `s`: `\` and `"` escaped, control and non-ASCII
/// characters as `\u{X}` (the syntax reference's escapes), everything else as itself.
pub fn string_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            ' '..='~' => out.push(c),
            c => out.push_str(&format!("\\u{{{:02X}}}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// Characters with a meaning in Lucene regular expressions (with every optional operator
/// enabled: `#` empty, `@` any string, `&` intersection, `~` complement, `<>` intervals), plus
/// `^`, `-` and `$` for classes. Each is written `\c`; letters and digits never are (Lucene
/// reads `\d`, `\w`, `\s` … as classes).
const REGEX_RESERVED: &str = ".?+*|{}[]()\"\\#@&<>~^-$";

/// One character as a Lucene regular-expression atom matching exactly it.
fn regex_char(c: char) -> String {
    if REGEX_RESERVED.contains(c) {
        format!("\\{c}")
    } else {
        c.to_string()
    }
}

/// Characters that `ir::fold` maps to a given character, other than itself.
fn preimages() -> &'static HashMap<char, Vec<char>> {
    crate::ir::fold_preimages()
}

/// Every character `x` with `fold(x) == target`, sorted.
fn fold_class(target: char) -> Vec<char> {
    let mut v: Vec<char> = preimages().get(&target).cloned().unwrap_or_default();
    if fold(target) == target {
        v.push(target);
    }
    v.sort_unstable();
    v
}

/// How a value's characters are compared with the event's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fold {
    /// Character by character, as written.
    Cased,
    /// `fold(event char) == fold(value char)` (case-insensitive text kinds).
    Text,
    /// `fold(event char) == value char` (domains: the event is folded, the value is not).
    Domain,
}

/// The event characters the spec accepts at the position of value character `c`.
fn spec_class(c: char, mode: Fold) -> Vec<char> {
    match mode {
        Fold::Cased => vec![c],
        Fold::Text => fold_class(fold(c)),
        Fold::Domain => fold_class(c),
    }
}

/// The event characters Elasticsearch's case-insensitive operators accept for value
/// character `c`: the other ASCII case of an ASCII letter, nothing else (Kusto's too, see
/// `ir::KUSTO`).
fn elastic_class(c: char) -> Vec<char> {
    let mut v = vec![c];
    if c.is_ascii_alphabetic() {
        v.push(if c.is_ascii_lowercase() {
            c.to_ascii_uppercase()
        } else {
            c.to_ascii_lowercase()
        });
    }
    v.sort_unstable();
    v
}

/// Do `:` / `in~` / `like~` (and Kusto's `=~`, `has` …) compare this value exactly as the
/// spec does?
pub(crate) fn folds_like_spec(value: &str, mode: Fold) -> bool {
    value
        .chars()
        .all(|c| spec_class(c, mode) == elastic_class(c))
}

/// Can the value sit in a `:` / `like` wildcard pattern as literal text?
fn wildcard_safe(value: &str) -> bool {
    !value.contains(['*', '?', '\\'])
}

/// A Lucene regular expression matching exactly the strings the spec accepts for `value`
/// with `mode` folding, under `regex~` unless `mode` is `Cased`. A character is written as
/// itself where `regex~`'s ASCII folding accepts exactly the spec's characters for it, and as
/// a class of the spec's characters otherwise (`[Kk\u{212A}]`, `[\u{C9}\u{E9}]`): `regex~`
/// folds each ASCII letter of the class too, which adds nothing (a spec class holding an
/// ASCII letter holds both its cases), and leaves non-ASCII members alone.
fn regex_value(value: &str, mode: Fold) -> String {
    let mut out = String::new();
    for c in value.chars() {
        let class = spec_class(c, mode);
        let plain = mode == Fold::Cased || class == elastic_class(c);
        match class.as_slice() {
            _ if plain => out.push_str(&regex_char(c)),
            [one] => out.push_str(&regex_char(*one)),
            [] => unreachable!("domain values are lower-case ASCII, so {c:?} folds from itself"),
            many => {
                out.push('[');
                for x in many {
                    out.push_str(&regex_char(*x));
                }
                out.push(']');
            }
        }
    }
    out
}

const NOT_WORD: &str = "[^a-zA-Z0-9]";

/// The whole-value regular expression of a text kind.
fn regex_text(op: TextOp, value: &str, mode: Fold) -> String {
    let v = regex_value(value, mode);
    match op {
        TextOp::Exact => v,
        TextOp::Prefix => format!("{v}.*"),
        TextOp::Suffix => format!(".*{v}"),
        TextOp::Contains => format!(".*{v}.*"),
        // whole terms: an ASCII non-alphanumeric character or the edge on both sides
        TextOp::Term => format!("(.*{NOT_WORD})?{v}({NOT_WORD}.*)?"),
    }
}

// ---------------------------------------------------------------------------------------------
// One field test

/// EQL comparison forms, in the order they are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Form {
    /// `==` / `in` (case-sensitive, literal)
    Eq,
    /// `in~` (case-insensitive, literal)
    InCi,
    /// `:` (case-insensitive, wildcards)
    Colon,
    /// `like` (case-sensitive, wildcards)
    Like,
    /// `regex` (case-sensitive Lucene regular expression)
    Regex,
    /// `regex~` (the same, ASCII case-insensitive)
    RegexCi,
}

fn comparison(col: &str, form: Form, lits: &[String]) -> String {
    let list = || format!("({})", lits.join(", "));
    let one = lits.len() == 1;
    match form {
        Form::Eq if one => format!("{col} == {}", lits[0]),
        Form::Eq => format!("{col} in {}", list()),
        Form::InCi => format!("{col} in~ {}", list()),
        Form::Colon if one => format!("{col} : {}", lits[0]),
        Form::Colon => format!("{col} : {}", list()),
        Form::Like if one => format!("{col} like {}", lits[0]),
        Form::Like => format!("{col} like {}", list()),
        Form::Regex if one => format!("{col} regex {}", lits[0]),
        Form::Regex => format!("{col} regex {}", list()),
        Form::RegexCi if one => format!("{col} regex~ {}", lits[0]),
        Form::RegexCi => format!("{col} regex~ {}", list()),
    }
}

/// How one field test is written on one ECS field: comparisons joined by `or`, and whether
/// some value needed explicit case classes (a character the spec folds beyond ASCII).
pub struct FieldTest {
    pub text: String,
    pub alternatives: usize,
    pub regex_fallback: bool,
}

/// Render `test` on ECS field `col`. Exact for every test (see the module notes); the
/// per-kind data notes (`kinds:` in backends/elastic.yaml) say where Elasticsearch's own
/// field types differ.
pub fn field_test(col: &str, test: &Test) -> FieldTest {
    // (form, literal) pairs, grouped by form in first-use order
    let mut groups: Vec<(Form, Vec<String>)> = Vec::new();
    let mut fallback = false;
    let mut add = |form: Form, lit: String| match groups.iter_mut().find(|(f, _)| *f == form) {
        Some((_, v)) => v.push(lit),
        None => groups.push((form, vec![lit])),
    };
    match test {
        Test::Text { op, values, cased } => {
            for v in values {
                let mode = if *cased { Fold::Cased } else { Fold::Text };
                let literal_ok = *cased || folds_like_spec(v, Fold::Text);
                let regex = if *cased { Form::Regex } else { Form::RegexCi };
                let (form, pattern) = match op {
                    TextOp::Exact if *cased => (Form::Eq, v.clone()),
                    TextOp::Exact if literal_ok => (Form::InCi, v.clone()),
                    TextOp::Term => (regex, regex_text(*op, v, mode)),
                    TextOp::Contains | TextOp::Prefix | TextOp::Suffix
                        if literal_ok && wildcard_safe(v) =>
                    {
                        let p = match op {
                            TextOp::Contains => format!("*{v}*"),
                            TextOp::Prefix => format!("{v}*"),
                            _ => format!("*{v}"),
                        };
                        (if *cased { Form::Like } else { Form::Colon }, p)
                    }
                    _ => (regex, regex_text(*op, v, mode)),
                };
                if !literal_ok {
                    fallback = true;
                }
                add(form, string_literal(&pattern));
            }
        }
        Test::Domain(ds) => {
            for d in ds {
                if folds_like_spec(d, Fold::Domain) && wildcard_safe(d) {
                    add(Form::Colon, string_literal(d));
                    add(Form::Colon, string_literal(&format!("*.{d}")));
                } else {
                    fallback |= !folds_like_spec(d, Fold::Domain);
                    let p = format!("(.*\\.)?{}", regex_value(d, Fold::Domain));
                    add(Form::RegexCi, string_literal(&p));
                }
            }
        }
        Test::Ip(ips) => {
            for ip in ips {
                add(Form::Eq, string_literal(&ip.to_string()));
            }
        }
        Test::Cidr(nets) => {
            let lits: Vec<String> = nets
                .iter()
                .map(|n| string_literal(&n.to_string()))
                .collect();
            let text = format!("cidrmatch({col}, {})", lits.join(", "));
            return FieldTest {
                text,
                alternatives: 1,
                regex_fallback: false,
            };
        }
        Test::Port(ports) => {
            for p in ports {
                add(Form::Eq, p.to_string());
            }
        }
        // hex digits: ASCII folding is the spec's folding
        Test::Digest(hs) => {
            for h in hs {
                add(Form::InCi, string_literal(h));
            }
        }
    }
    let parts: Vec<String> = groups
        .iter()
        .map(|(form, lits)| comparison(col, *form, lits))
        .collect();
    FieldTest {
        text: parts.join(" or "),
        alternatives: parts.len(),
        regex_fallback: fallback,
    }
}

// ---------------------------------------------------------------------------------------------
// The backend

/// The Elastic backend. EQL gives `not` precedence over `and` over `or`; mixed chains are
/// bracketed for the reader. The detection's top-level `and` parts go on lines of their own.
#[derive(Default)]
pub struct Eql {
    /// Kibana rules by file stem, for `rules.ndjson`.
    rules: BTreeMap<String, Value>,
}

pub const TOKENS: Tokens = Tokens {
    and: " and ",
    or: " or ",
    top_and: " and ",
    top_or: " or ",
    not: ("not (", ")"),
    brackets: Brackets::Mixed,
    lone_chain: false,
};

type Cx<'a> = RuleCtx<'a, ()>;

/// Its key in `gaps:` / `unsupported:` and what `--target` names its artifacts.
#[allow(non_upper_case_globals)]
impl BackendName {
    pub const Elastic: BackendName = BackendName::new("elastic");
}

#[allow(non_upper_case_globals)]
impl Target {
    pub const Elastic: Target = Target {
        name: "elastic",
        help: "Elastic EQL queries and a Kibana detection-rule export (`elastic/`)",
        dir: "elastic/",
        ext: ".eql",
        separator: "\n",
        prints: "the EQL queries",
    };
}

impl Backend for Eql {
    const NAME: BackendName = BackendName::Elastic;
    const WORDS: Words = Words {
        title: "Elastic",
        table: "data source",
        target: "Elastic data source",
        missing: "ECS field",
        grouped: Some(Grouped {
            with_source: false,
            consequence: "the Kibana rule suppresses alerts without it",
        }),
    };
    const TARGETS: &'static [Target] = &[Target::Elastic];
    type Node = Text;
    type Local = ();

    super::text::text_hooks!(TOKENS);

    fn check_table(t: &TableMap) -> Result<(), String> {
        match ["event_category", "index"]
            .into_iter()
            .find(|k| !t.meta.contains_key(*k))
        {
            Some(key) => Err(format!("table {} lacks meta.{key}", t.name)),
            None => Ok(()),
        }
    }

    fn leaf(&self, cx: &mut Cx, m: &Match, col: &Column) -> Text {
        let mut notes: Vec<String> = Vec::new();
        let mut fidelity = Fidelity::Exact;
        let mut combine = |f: Fidelity, note: &str, notes: &mut Vec<String>| {
            fidelity = match (fidelity, f) {
                (Fidelity::Exact, x) | (x, Fidelity::Exact) => x,
                (a, b) if a == b => a,
                // wider in one way and narrower in another: it can miss events
                _ => Fidelity::Narrower,
            };
            notes.push(note.to_string());
        };
        let (col_fidelity, col_note) = col.fidelity;
        if col_fidelity != Fidelity::Exact {
            combine(col_fidelity, col_note.unwrap_or_default(), &mut notes);
        }
        if let Some(k) = data().kinds.get(m.test.kind_name()) {
            if k.fidelity != Fidelity::Exact {
                combine(k.fidelity, &k.note, &mut notes);
                let msg = format!(
                    "{}: `{m}` is {} in EQL: {}",
                    cx.table.name,
                    fidelity_word(k.fidelity),
                    k.note
                );
                cx.warn(
                    m,
                    k.fidelity,
                    (Note::Kind(m.test.kind_name().to_string()), &k.note),
                    msg,
                );
            }
        }
        let tests: Vec<FieldTest> = col
            .match_on
            .iter()
            .map(|c| field_test(c, &m.test))
            .collect();
        if tests.iter().any(|t| t.regex_fallback) {
            notes.push(
                "case-insensitive value written as a regex~ with explicit classes for the characters the spec folds beyond ASCII (Elasticsearch's case-insensitive operators fold ASCII letters only)".into(),
            );
        }
        let alternatives: usize = tests.iter().map(|t| t.alternatives).sum();
        let text = Text {
            s: tests
                .into_iter()
                .map(|t| t.text)
                .collect::<Vec<_>>()
                .join(" or "),
            b: if alternatives > 1 {
                Binding::Or
            } else {
                Binding::Atom
            },
        };
        let note = (!notes.is_empty()).then(|| notes.join("; "));
        cx.record(m, text.s.clone(), fidelity, note);
        text
    }

    fn needs(&self, det: &IrDetection, _: Source) -> Vec<Need> {
        match &det.output {
            IrOutput::Summarize(by) => by.iter().map(|f| Need::group_by(*f, "summarize")).collect(),
            IrOutput::Project { .. } => Vec::new(),
        }
    }

    fn finish(&mut self, cx: &mut Cx, rule: Rule<Text>, files: &mut Vec<(String, String)>) {
        let (spec, det, source, table) = (cx.spec, cx.det, cx.source, cx.table);
        let mut notes = Vec::new();
        let mut excl_lines = Vec::new();
        for e in &rule.exclusions {
            match &e.inner {
                Some(inner) => excl_lines.push(format!("  and {}", TOKENS.not(inner.clone()).s)),
                None => notes.push(format!(
                    "Exclusion {} is not applied: {} has no ECS field for it.",
                    e.x.id, table.name
                )),
            }
        }
        if let Some(reason) = rule.gap {
            notes.push(known_gap("the EQL rule", reason));
        }
        let mut group_by = Vec::new();
        match &det.output {
            IrOutput::Summarize(by) => {
                // A group-by field the source lacks is left out under a declared gap (the
                // driver warns): which events match does not change, only how alerts group.
                group_by = by
                    .iter()
                    .filter(|f| !rule.ungrouped.contains(f))
                    .map(|f| cx.project(*f).to_string())
                    .collect();
                if !rule.ungrouped.is_empty() {
                    let names: Vec<&str> = rule.ungrouped.iter().map(|f| f.name()).collect();
                    notes.push(format!(
                        "Known gap (alerts are grouped without {}): {}",
                        names.join(", "),
                        det.gaps[&BackendName::Elastic]
                    ));
                }
                let fields: Vec<&str> = by.iter().map(|f| f.name()).collect();
                cx.diags.push(
                    Diag::warning(
                        DiagKind::Semantics,
                        format!(
                            "{}/{} ({source}): EQL has no aggregation; `summarize: [{}]` becomes Kibana alert suppression by {} over {}, i.e. one alert per group with a suppressed-alert count, not one result row per group with first/last seen and event ids",
                            spec.id,
                            det.id,
                            fields.join(", "),
                            group_by.join(", "),
                            spec.window
                        ),
                    )
                    .at(&spec.file, det.span)
                    .cause(Cause::Reshaped {
                        backend: BackendName::Elastic,
                        what: "rules with a summarize: EQL has no aggregation, so each becomes Kibana alert suppression by the same fields over the window (one alert per group with a suppressed-alert count, not one result row per group with first/last seen and event ids)",
                    }),
                );
                // the limit is on the fields the rule suppresses by (a field left out under a
                // declared gap is not one of them)
                if group_by.len() > MAX_GROUP_BY {
                    cx.diags.push(
                        Diag::error(
                            DiagKind::Limit,
                            format!(
                                "{}/{}: the Kibana rule would suppress alerts by {} fields; Kibana allows at most {MAX_GROUP_BY}",
                                spec.id, det.id, group_by.len()
                            ),
                        )
                        .at(&spec.file, det.span)
                        .help("summarize by at most 3 fields"),
                    );
                    return;
                }
                // Alert suppression on (non-sequence) EQL rules came in Kibana 8.14
                // (elastic/detection-rules: `EQLRuleData.alert_suppression` min_compat "8.14";
                // security-docs#5057) and needs a Platinum subscription (Elastic Security docs,
                // "Suppress detection alerts"): an older or lower stack refuses the rule.
                notes.push(format!(
                    "Grouping: alerts are suppressed by {} for {} (the spec summarizes by {}). Requires Kibana 8.14 or later with a Platinum or higher subscription (alert suppression on EQL rules).",
                    group_by.join(", "),
                    spec.window,
                    fields.join(", ")
                ));
            }
            IrOutput::Project { columns, .. } => {
                if let Some(fields) = columns.get(&source) {
                    let names: Vec<&str> = fields.iter().map(|f| f.name()).collect();
                    notes.push(format!(
                        "Output: Kibana alerts carry the whole event; the spec's projection ({}) is informational here.",
                        names.join(", ")
                    ));
                }
            }
        }

        let category = meta_str(table, "event_category").expect("checked at load");
        let mut and_chain: Vec<Text> = Vec::new();
        if let Some(base) = meta_str(table, "condition") {
            and_chain.push(Text::atom(base));
        }
        and_chain.extend(rule.conjuncts.iter().cloned());
        let alone = and_chain.len() == 1 && excl_lines.is_empty();
        let parts: Vec<String> = and_chain
            .into_iter()
            .map(|t| {
                if t.b == Binding::Or && !alone {
                    format!("({})", t.s)
                } else {
                    t.s
                }
            })
            .collect();
        let mut lines = vec![format!("{category} where {}", parts.join("\n  and "))];
        lines.extend(excl_lines);
        let mut query = lines.join("\n");
        query.push('\n');
        let r = KibanaParts {
            query,
            notes,
            group_by,
        };
        match kibana_rule(spec, det, &rule, table, &r) {
            Ok(v) => {
                self.rules.insert(rule.id.stem.clone(), v);
            }
            Err(d) => {
                cx.diags.push(d);
                return;
            }
        }
        let file = format!(
            "// rmmc: {}/{} ({source}); generated from the spec, edit the spec instead\n{}",
            spec.id, det.id, r.query
        );
        files.push((format!("elastic/{}.eql", rule.id.stem), file));
    }

    fn files(self, files: &mut Vec<(String, String)>) {
        if self.rules.is_empty() {
            return;
        }
        let mut ndjson = String::new();
        for v in self.rules.values() {
            ndjson.push_str(&serde_json::to_string(v).expect("JSON values serialize"));
            ndjson.push('\n');
        }
        files.push(("elastic/rules.ndjson".into(), ndjson));
    }
}

/// One compiled rule: the EQL text and what the Kibana wrapper needs besides.
struct KibanaParts {
    query: String,
    /// Notes for the description: dropped exclusions, declared gaps, output shape.
    notes: Vec<String>,
    group_by: Vec<String>,
}

fn meta_str<'a>(t: &'a TableMap, key: &str) -> Option<&'a str> {
    t.meta.get(key).and_then(Value::as_str)
}

fn meta_list(t: &TableMap, key: &str) -> Vec<String> {
    t.meta
        .get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Kibana accepts 1–3 suppression fields.
const MAX_GROUP_BY: usize = 3;

/// Kibana alert-suppression duration: the largest of h / m that divides the window.
fn suppression_duration(minutes: u64) -> Value {
    if minutes % 60 == 0 {
        json!({ "value": minutes / 60, "unit": "h" })
    } else {
        json!({ "value": minutes, "unit": "m" })
    }
}

fn technique_name(id: &str) -> Option<&'static str> {
    TECHNIQUES.iter().find(|t| t.0 == id).map(|t| t.1)
}

fn technique_ref(id: &str) -> String {
    format!(
        "https://attack.mitre.org/techniques/{}/",
        id.replace('.', "/")
    )
}

/// The Kibana `threat` array: per tactic, the spec's techniques that belong to it
/// (sub-techniques under their parent).
fn threat(spec: &IrSpec) -> Value {
    let mut out = Vec::new();
    for tactic in &spec.tactics {
        let info = tactic.info();
        let mut techniques: Vec<Value> = Vec::new();
        for t in &spec.techniques {
            if !tactics_of(t).is_some_and(|ts| ts.contains(tactic)) {
                continue;
            }
            let base = t.get(..5).unwrap_or(t);
            let base_name = technique_name(base).unwrap_or(base);
            let pos = techniques
                .iter()
                .position(|v| v["id"] == base)
                .unwrap_or_else(|| {
                    techniques.push(json!({
                        "id": base,
                        "name": base_name,
                        "reference": technique_ref(base),
                    }));
                    techniques.len() - 1
                });
            if t.len() > 5 {
                let entry = techniques[pos]
                    .as_object_mut()
                    .expect("technique entries are objects");
                let subs = entry
                    .entry("subtechnique")
                    .or_insert_with(|| json!([]))
                    .as_array_mut()
                    .expect("subtechnique is an array");
                subs.push(json!({
                    "id": t,
                    "name": technique_name(t).unwrap_or(base_name),
                    "reference": technique_ref(t),
                }));
            }
        }
        out.push(json!({
            "framework": "MITRE ATT&CK",
            "tactic": {
                "id": info.id,
                "name": info.name,
                "reference": format!("https://attack.mitre.org/tactics/{}/", info.id),
            },
            "technique": techniques,
        }));
    }
    Value::Array(out)
}

/// The same value with every object's keys sorted (serde_json here preserves insertion order).
pub fn sorted(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let b: BTreeMap<String, Value> = m.into_iter().map(|(k, v)| (k, sorted(v))).collect();
            Value::Object(b.into_iter().collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
        v => v,
    }
}

fn kibana_rule(
    spec: &IrSpec,
    det: &IrDetection,
    rule: &Rule<Text>,
    table: &TableMap,
    r: &KibanaParts,
) -> Result<Value, Diag> {
    let d = data();
    let id = &rule.id;
    let name = rule_name(&d.rule_name, spec, det, id.source.name())
        .map_err(|e| Diag::error(DiagKind::Io, format!("rule name template: {e}")))?;
    let mut description = Description::new(spec.description.trim_end());
    description.benign(&rule.exclusions);
    for n in &r.notes {
        description.paragraph(n);
    }
    let description = description.into_string();
    let sev = &d.severity[&spec.severity.title().to_ascii_lowercase()];
    let mut tags = d.tags.clone();
    tags.extend(meta_list(table, "tags"));
    for t in &spec.tactics {
        tags.push(format!("Tactic: {}", t.info().name));
    }
    let false_positives: Vec<String> = det
        .exclusions
        .iter()
        .filter(|x| x.sources.contains(&id.source))
        .map(|x| x.reason.clone())
        .collect();
    let mut rule = json!({
        "rule_id": id.uuid("elastic-rule").to_string(),
        "type": "eql",
        "language": "eql",
        "query": r.query,
        "index": meta_list(table, "index"),
        "name": name,
        "description": description,
        "risk_score": sev.risk_score,
        "severity": sev.severity,
        "threat": threat(spec),
        "from": format!("now-{}", spec.window),
        "interval": spec.frequency.to_string(),
        "enabled": d.enabled,
        "author": [spec.author],
        "references": spec.references,
        "false_positives": false_positives,
        "tags": tags,
        "version": 1,
        "max_signals": 100,
    });
    if !r.group_by.is_empty() {
        rule["alert_suppression"] = json!({
            "group_by": r.group_by,
            "duration": suppression_duration(spec.window.minutes),
            "missing_fields_strategy": "suppress",
        });
    }
    Ok(sorted(rule))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_mapping_loads() {
        assert!(crate::mappings::default_tables(Eql::NAME).len() >= 4);
    }

    #[test]
    fn fold_classes() {
        assert_eq!(fold_class('k'), vec!['K', 'k', '\u{212A}']);
        assert_eq!(fold_class('a'), vec!['A', 'a']);
        assert_eq!(fold_class('1'), vec!['1']);
        assert!(folds_like_spec("netsupport", Fold::Text));
        assert!(!folds_like_spec("kaseya", Fold::Text));
        assert!(!folds_like_spec("é", Fold::Text));
        assert!(folds_like_spec("日本", Fold::Text));
    }
}
