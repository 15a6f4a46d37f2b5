//! IR → Sigma rules (specification v2), one YAML file per (detection, source):
//! `sigma/<spec>-<detection>[-<source>].yml`. Field names and log sources come from
//! `backends/sigma.yaml` (Sysmon taxonomy on endpoints, `category: firewall` otherwise).
//!
//! Value semantics (sigma-specification, "Sigma Rules Specification", Modifiers and String
//! Wildcards): plain values, `|contains`, `|startswith` and `|endswith` compare
//! case-insensitively (`|cased` makes them case-sensitive); `*` and `?` are wildcards in them
//! and a backslash escapes `*`, `?` and itself, while a backslash before any other character
//! is literal. `|re` values are regular expressions, case-sensitive, with no wildcard
//! processing. `|cidr` parses the field as an address.
//!
//! How each match kind is rendered, and how exactly:
//! - `exact` / `contains` / `prefix` / `suffix`: plain value / `|contains` / `|startswith` /
//!   `|endswith` (+ `|cased`), wildcards escaped. Exact.
//! - `term`: Sigma has no whole-term test, so `|re` with explicit ASCII-alphanumeric
//!   boundaries. Case-insensitivity is spelled out per character as a class of every
//!   character that folds to the same one (`[nN]`, `[kKK]`), not with `(?i)`, whose Unicode
//!   simple folding would also let `s` match `ſ`. Exact.
//! - `domain`: the value, or `|endswith` `.value`. Exact.
//! - `ip`: IPv4 as plain values (the canonical dotted text is the only spelling a strict
//!   parser accepts); IPv6 as `|cidr` `/128`, so every spelling of the address matches. Exact.
//! - `cidr`: `|cidr`. Exact. `port`: the decimal text (matches numeric and string fields).
//! - `hash`: on Sysmon's `Hashes` (`MD5=…,SHA256=…`) as `|contains` `ALGO=<hex>`; exact as long
//!   as Sysmon is configured to record that algorithm (the note says so).
//! - Base-name fields (`process_name` on `Image`, `account_name` on `User`): `exact` is
//!   `|endswith` `\value` or the whole field equal to the value; `suffix` is `|endswith`;
//!   `contains`/`prefix`/`term` are `|re` anchored after the last `\`. Exact for values
//!   without `\` (a base name never holds one; a value with `\` is reported wider).
//!
//! Case folding: the IR folds one character to one character (`İ` stays `İ`). Sigma leaves
//! non-ASCII folding to the engine; sigma-rust lower-cases fully, so for plain values an
//! event holding `İ` reads as `i̇` there (a `contains: i` would match it). This is the only
//! character whose lower case is longer than one character; the `|re` renderings do not
//! lower-case the event and are unaffected.
//!
//! Sigma rules select events; they carry no aggregation or projection, so the spec's
//! `summarize`/`project` shape and its fields are described in the rule's description, never
//! silently dropped (no `fields:` attribute, which SigmaHQ's rules do not use).
//!
//! Stays whole (over 600 lines): a backend is one file (its hooks, its escaping rules and the
//! rule's YAML shape); `driver.rs` holds what the backends share.

use super::common::domain_as_exact_or_suffix;
use super::driver::{rule_name, Backend, Chain, Description, Rule, RuleCtx, Words};
use super::Target;
use crate::diag::{Diag, DiagKind, Fidelity, Note};
use crate::ir::{fold, IrOutput, Match, Test, TextOp};
use crate::mapping::{Column, TableMap};
use crate::render;
use crate::spec::{BackendName, Field};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::OnceLock;

/// The Sigma backend's data (`backends/sigma.yaml`), compiled into the binary.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigmaData {
    pub rule_name: String,
    pub status: String,
}

/// Longest title the Sigma specification allows.
pub const TITLE_MAX: usize = 256;

pub const DATA_YAML: &str = include_str!("../../backends/sigma.yaml");

pub fn data() -> &'static SigmaData {
    static DATA: OnceLock<SigmaData> = OnceLock::new();
    DATA.get_or_init(|| {
        let d: SigmaData =
            serde_yaml::from_str(DATA_YAML).unwrap_or_else(|e| panic!("backends/sigma.yaml: {e}"));
        d
    })
}

// ---------------------------------------------------------------------------------------
// Value escaping
// ---------------------------------------------------------------------------------------

/// A Sigma string value (plain, `|contains`, `|startswith`, `|endswith`) that matches `s`
/// literally: `*` and `?` are escaped, and a backslash is doubled where the reader would
/// otherwise take it as an escape (before `*`, `?`, `\`) or at the end of the value. Any
/// other backslash stays single, so Windows paths read naturally (`C:\Windows\`).
pub fn escape_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' | '?' => {
                out.push('\\');
                out.push(c);
            }
            '\\' => {
                out.push('\\');
                if matches!(chars.peek(), None | Some('*' | '?' | '\\')) {
                    out.push('\\');
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// Every character that compares equal to `c` case-insensitively under the IR's `fold`
/// (one character to one character), `c` included, sorted.
fn fold_class(c: char) -> Vec<char> {
    static CLASSES: OnceLock<HashMap<char, Vec<char>>> = OnceLock::new();
    let classes = CLASSES.get_or_init(|| {
        // group every character under its folded form; a group of one needs no class
        let by_fold = crate::ir::fold_preimages();
        let mut out = HashMap::new();
        for (&f, v) in by_fold {
            let mut v = v.clone();
            if fold(f) == f {
                v.push(f);
            }
            v.sort_unstable();
            v.dedup();
            for &m in &v {
                out.insert(m, v.clone());
            }
        }
        out
    });
    classes.get(&c).cloned().unwrap_or_else(|| vec![c])
}

/// A regular expression matching exactly the text `s` (case-insensitively unless `cased`,
/// per the IR's character folding), with no flags: letters become classes of their case
/// variants, everything else is escaped.
pub fn regex_literal(s: &str, cased: bool) -> String {
    let mut out = String::new();
    for c in s.chars() {
        let class = if cased { vec![c] } else { fold_class(c) };
        if class.len() == 1 {
            out.push_str(&regex::escape(&c.to_string()));
        } else {
            out.push('[');
            for m in class {
                out.push_str(&regex::escape(&m.to_string()));
            }
            out.push(']');
        }
    }
    out
}

/// Non-word boundary of a term: the IR's terms are bounded by anything that is not an
/// ASCII letter or digit, or the edge of the field.
const NON_WORD: &str = "[^0-9A-Za-z]";

/// `term`: `s` as a whole term anywhere in the field.
pub fn term_regex(s: &str, cased: bool) -> String {
    format!(
        "(?:^|{NON_WORD}){}(?:$|{NON_WORD})",
        regex_literal(s, cased)
    )
}

/// A `|contains` value every match of a regex rendering of `v` implies, so that the rule
/// keeps a plain, greppable test beside its `|re` (and Splunk's converter, which runs `|re`
/// as a `| regex` after the search, has a search to run: pySigma-backend-splunk emits no
/// query for a rule of `|re` tests alone). Case-insensitively, the longest run of `v` whose
/// characters and their case variants under the IR's folding are all ASCII, which every
/// engine folds alike (not `k`, whose variants include the KELVIN SIGN U+212A, nor a
/// non-ASCII letter); `None` when there is no such run. Cased, `v` itself.
fn guard(v: &str, cased: bool) -> Option<String> {
    if cased {
        return (!v.is_empty()).then(|| escape_value(v));
    }
    let plain = |c: char| c.is_ascii() && fold_class(c).iter().all(char::is_ascii);
    let mut best = "";
    for run in v.split(|c: char| !plain(c)) {
        if run.len() > best.len() {
            best = run;
        }
    }
    (!best.is_empty()).then(|| escape_value(best))
}

/// Sysmon's `User` (`DOMAIN\name`) as Sigma converters read it: pySigma-backend-kusto's
/// microsoft_xdr pipeline splits every `User` value at `\` into a domain and a name
/// (`SplitDomainUserTransformation`), which breaks a regex holding `\`. A `contains` on
/// the base name is therefore written as a `|contains` on the whole field, wider by the
/// domain (reported with each use).
fn split_user(col: &str, basename: bool, op: TextOp) -> bool {
    col == "User" && basename && op == TextOp::Contains
}

/// A text test on the part of the field after its last `\` (a base name).
fn basename_regex(op: TextOp, s: &str, cased: bool) -> String {
    let lit = regex_literal(s, cased);
    match op {
        TextOp::Contains => format!(r"(?:^|\\)[^\\]*{lit}[^\\]*$"),
        TextOp::Prefix => format!(r"(?:^|\\){lit}[^\\]*$"),
        TextOp::Term => format!(r"(?:^|{NON_WORD}){lit}(?:[^0-9A-Za-z\\][^\\]*)?$"),
        TextOp::Exact => format!(r"(?:^|\\){lit}$"),
        TextOp::Suffix => format!(r"{lit}$"),
    }
}

// ---------------------------------------------------------------------------------------
// Detection structure: selections and the condition
// ---------------------------------------------------------------------------------------

/// One field test in a selection map: `key` (field and modifiers) → values, any of which
/// may match.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    key: String,
    values: Vec<String>,
}

/// A Sigma selection: a map (every entry must match) or a list of maps (any may match).
#[derive(Clone, Debug, PartialEq)]
pub enum Selection {
    Map(Vec<Entry>),
    AnyOf(Vec<Vec<Entry>>),
}

impl Selection {
    /// The selection as YAML data: keys of a map sorted (they are ANDed, order is moot).
    fn to_value(&self) -> serde_yaml::Value {
        fn map(entries: &[Entry]) -> serde_yaml::Value {
            let mut sorted: Vec<&Entry> = entries.iter().collect();
            sorted.sort_by(|a, b| a.key.cmp(&b.key));
            let mut m = serde_yaml::Mapping::new();
            for e in sorted {
                let v = if e.values.len() == 1 {
                    serde_yaml::Value::String(e.values[0].clone())
                } else {
                    serde_yaml::Value::Sequence(
                        e.values
                            .iter()
                            .map(|s| serde_yaml::Value::String(s.clone()))
                            .collect(),
                    )
                };
                m.insert(serde_yaml::Value::String(e.key.clone()), v);
            }
            serde_yaml::Value::Mapping(m)
        }
        match self {
            Selection::Map(entries) => map(entries),
            Selection::AnyOf(maps) if maps.len() == 1 => map(&maps[0]),
            Selection::AnyOf(maps) => {
                serde_yaml::Value::Sequence(maps.iter().map(|m| map(m)).collect())
            }
        }
    }

    fn maps(self) -> Vec<Vec<Entry>> {
        match self {
            Selection::Map(m) => vec![m],
            Selection::AnyOf(ms) => ms,
        }
    }
}

/// A condition over selections not yet named.
#[derive(Clone, Debug, PartialEq)]
pub enum Cond {
    Sel(Selection),
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
}

/// Combine rendered children: an `any` of selections is one selection (a list of maps); an
/// `all` of single maps with distinct keys is one map; anything else stays a condition.
fn cond_all(children: Vec<Cond>) -> Cond {
    let mut entries: Vec<Entry> = Vec::new();
    let mut mergeable = true;
    for c in &children {
        match c {
            Cond::Sel(Selection::Map(m)) => entries.extend(m.iter().cloned()),
            Cond::Sel(Selection::AnyOf(ms)) if ms.len() == 1 => {
                entries.extend(ms[0].iter().cloned())
            }
            _ => mergeable = false,
        }
    }
    let mut keys: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
    keys.sort_unstable();
    let distinct = keys.windows(2).all(|w| w[0] != w[1]);
    if mergeable && distinct {
        Cond::Sel(Selection::Map(entries))
    } else {
        Cond::And(children)
    }
}

fn cond_any(children: Vec<Cond>) -> Cond {
    if children.iter().all(|c| matches!(c, Cond::Sel(_))) {
        let mut maps = Vec::new();
        for c in children {
            if let Cond::Sel(s) = c {
                maps.extend(s.maps());
            }
        }
        Cond::Sel(Selection::AnyOf(maps))
    } else {
        Cond::Or(children)
    }
}

/// Names the selections of one condition (`prefix` when there is one, else `prefix_1`, …)
/// and prints it. Sigma gives `not` precedence over `and` over `or`; mixed chains are
/// bracketed anyway, for the reader.
struct Namer<'a> {
    prefix: &'a str,
    single: bool,
    next: usize,
    out: Vec<(String, Selection)>,
}

fn count(c: &Cond) -> usize {
    match c {
        Cond::Sel(_) => 1,
        Cond::Not(x) => count(x),
        Cond::And(v) | Cond::Or(v) => v.iter().map(count).sum(),
    }
}

impl Namer<'_> {
    /// The printed condition, whether it is an atom, and the named selections.
    fn name(prefix: &str, c: &Cond) -> (String, bool, Vec<(String, Selection)>) {
        let mut n = Namer {
            prefix,
            single: count(c) == 1,
            next: 0,
            out: Vec::new(),
        };
        let (text, atom) = n.print(c);
        (text, atom, n.out)
    }

    /// The printed condition and whether it is an atom (needs no brackets anywhere).
    fn print(&mut self, c: &Cond) -> (String, bool) {
        match c {
            Cond::Sel(s) => {
                self.next += 1;
                let name = if self.single {
                    self.prefix.to_string()
                } else {
                    format!("{}_{}", self.prefix, self.next)
                };
                self.out.push((name.clone(), s.clone()));
                (name, true)
            }
            Cond::Not(x) => {
                let (t, atom) = self.print(x);
                (
                    if atom {
                        format!("not {t}")
                    } else {
                        format!("not ({t})")
                    },
                    true,
                )
            }
            Cond::And(v) | Cond::Or(v) => {
                let op = if matches!(c, Cond::And(_)) {
                    " and "
                } else {
                    " or "
                };
                let parts: Vec<String> = v
                    .iter()
                    .map(|x| {
                        let (t, atom) = self.print(x);
                        if atom {
                            t
                        } else {
                            format!("({t})")
                        }
                    })
                    .collect();
                (parts.join(op), v.len() == 1)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The backend
// ---------------------------------------------------------------------------------------

/// The Sigma backend: a rendered expression is a condition over selections (`Cond`), named
/// and printed when the rule is finished.
#[derive(Default)]
pub struct Sigma;

type Cx<'a> = RuleCtx<'a, ()>;

pub const TEMPLATES: &[(&str, &str)] = &[(
    "sigma/rule.yml.j2",
    include_str!("../../templates/sigma/rule.yml.j2"),
)];

/// Its key in `gaps:` / `unsupported:` and what `--target` names its artifacts.
#[allow(non_upper_case_globals)]
impl BackendName {
    pub const Sigma: BackendName = BackendName::new("sigma");
}

#[allow(non_upper_case_globals)]
impl Target {
    pub const Sigma: Target = Target {
        name: "sigma",
        help: "Sigma rules (`sigma/`)",
        dir: "sigma/",
        ext: ".yml",
        separator: "---\n",
        prints: "the Sigma rules (YAML documents, separated by ---)",
    };
}

impl Backend for Sigma {
    const NAME: BackendName = BackendName::Sigma;
    const WORDS: Words = Words {
        title: "Sigma",
        table: "log source",
        target: "Sigma log source",
        missing: "field",
        grouped: None,
    };
    const TARGETS: &'static [Target] = &[Target::Sigma];
    const TEMPLATES: &'static [(&'static str, &'static str)] = TEMPLATES;
    type Node = Cond;
    type Local = ();

    fn check_table(t: &TableMap) -> Result<(), String> {
        if !t.meta.contains_key("logsource") {
            return Err(format!("table {} has no meta.logsource", t.name));
        }
        Ok(())
    }

    fn join(&self, _: &Cx, chain: Chain, parts: Vec<Cond>, _top: bool) -> Cond {
        match chain {
            Chain::All => cond_all(parts),
            Chain::Any => cond_any(parts),
        }
    }

    fn not(&self, _: &Cx, inner: Cond) -> Cond {
        Cond::Not(Box::new(inner))
    }

    fn leaf(&self, cx: &mut Cx, m: &Match, col: &Column) -> Cond {
        let mut alternatives = alternatives(cx, m, col);
        if alternatives.len() == 1 {
            Cond::Sel(Selection::Map(alternatives.remove(0)))
        } else {
            Cond::Sel(Selection::AnyOf(alternatives))
        }
    }

    fn finish(&mut self, cx: &mut Cx, rule: Rule<Cond>, files: &mut Vec<(String, String)>) {
        if let Some(file) = sigma_rule(cx, rule) {
            files.push(file);
        }
    }
}

/// A match the log source can express (callers drop the others first): its alternatives,
/// any of which may match, each a map whose entries must all match.
fn alternatives(cx: &mut Cx, m: &Match, col: &Column) -> Vec<Vec<Entry>> {
    let table = cx.table;
    let (mut fidelity, note) = col.fidelity;
    let mut note = note.map(str::to_string);
    let hash_prefix = table
        .meta
        .get("hash_prefix")
        .and_then(|h| h.get(m.field.name()))
        .and_then(|p| p.as_str());
    let mut alternatives = Vec::new();
    for c in &col.match_on {
        alternatives.extend(test(c, col.basename, hash_prefix, &m.test));
    }
    if col.basename {
        if let Test::Text { values, .. } = &m.test {
            if values.iter().any(|v| v.contains('\\')) {
                let msg = format!(
                    "{}: `{}` is the part of {} after the last `\\`, which never holds a `\\`; a value with one is matched against the end of the whole field (wider)",
                    table.name, m.field, col.match_on.join(" or ")
                );
                let why =
                    "a base-name value with a `\\` is matched against the end of the whole path";
                cx.warn(
                    m,
                    Fidelity::Wider,
                    (Note::Code("basename-backslash"), why),
                    msg,
                );
                if fidelity == Fidelity::Exact {
                    fidelity = Fidelity::Wider;
                }
            }
        }
        note.get_or_insert_with(|| {
            format!(
                "{} holds a path (`…\\{}`); the base name is the part after the last `\\`",
                col.match_on.join(" or "),
                m.field.name()
            )
        });
    }
    if let Test::Text { op, .. } = &m.test {
        if let Some(c) = col
            .match_on
            .iter()
            .find(|c| split_user(c, col.basename, *op))
        {
            let msg = format!(
                "{}: `{}` contains is tested on the whole {c} (`DOMAIN\\name`), not its part after the last `\\`, because Sigma converters split {c} values at `\\` (pySigma microsoft_xdr); a domain holding the value matches too (wider)",
                table.name, m.field
            );
            let why = "Sigma converters split User at `\\`, so a contains test reads the whole `DOMAIN\\name`";
            cx.warn(
                m,
                Fidelity::Wider,
                (Note::Code("user-domain-split"), why),
                msg,
            );
            fidelity = Fidelity::Wider;
            note = Some(format!(
                "tested on the whole {c} (`DOMAIN\\name`): Sigma converters split {c} values at `\\` (pySigma microsoft_xdr), so no regex after the last `\\`; a domain holding the value matches too"
            ));
        }
    }
    if let Some(p) = hash_prefix {
        note.get_or_insert_with(|| {
            format!(
                "matched as `{p}<hex>` inside Sysmon `Hashes`; exact where the Sysmon configuration records this algorithm (`HashAlgorithms`), absent otherwise"
            )
        });
    }
    if let Test::Port(_) = m.test {
        note.get_or_insert_with(|| "compared as decimal text".to_string());
    }
    let rendered = alternatives
        .iter()
        .map(|all| {
            all.iter()
                .map(|e| {
                    let vals: Vec<String> = e.values.iter().map(|v| render::yaml_str(v)).collect();
                    if vals.len() == 1 {
                        format!("{}: {}", e.key, vals[0])
                    } else {
                        format!("{}: [{}]", e.key, vals.join(", "))
                    }
                })
                .collect::<Vec<_>>()
                .join(" and ")
        })
        .collect::<Vec<_>>()
        .join(" or ");
    cx.record(m, rendered, fidelity, note);
    alternatives
}

/// The alternatives testing one match on one Sigma field (any may match; each a map whose
/// entries must all match).
fn test(col: &str, basename: bool, hash_prefix: Option<&str>, test_: &Test) -> Vec<Vec<Entry>> {
    match test_ {
        Test::Text { op, values, cased } if split_user(col, basename, *op) => {
            vec![vec![Entry {
                key: format!("{col}|contains{}", if *cased { "|cased" } else { "" }),
                values: values.iter().map(|v| escape_value(v)).collect(),
            }]]
        }
        Test::Text { op, values, cased }
            if matches!((op, basename), (TextOp::Term, false))
                || (basename && matches!(op, TextOp::Contains | TextOp::Prefix | TextOp::Term)) =>
        {
            let regexes: Vec<String> = values
                .iter()
                .map(|v| {
                    if basename {
                        basename_regex(*op, v, *cased)
                    } else {
                        term_regex(v, *cased)
                    }
                })
                .collect();
            let mut all = Vec::new();
            // every regex implies its value's guard, so `contains` any guard and `re` any
            // regex is exactly `re` any regex; without a guard for every value, none
            if let Some(guards) = values
                .iter()
                .map(|v| guard(v, *cased))
                .collect::<Option<Vec<_>>>()
            {
                let mut uniq: Vec<String> = Vec::new();
                for g in guards {
                    if !uniq.contains(&g) {
                        uniq.push(g);
                    }
                }
                all.push(Entry {
                    key: format!("{col}|contains{}", if *cased { "|cased" } else { "" }),
                    values: uniq,
                });
            }
            all.push(Entry {
                key: format!("{col}|re"),
                values: regexes,
            });
            vec![all]
        }
        Test::Domain(ds) => domain_as_exact_or_suffix(ds)
            .iter()
            .flat_map(|t| test(col, false, hash_prefix, t))
            .collect(),
        _ => plain(col, basename, hash_prefix, test_)
            .into_iter()
            .map(|e| vec![e])
            .collect(),
    }
}

/// The entries testing one match on one Sigma field with Sigma's plain values and
/// modifiers (no regex), any of which may match.
fn plain(col: &str, basename: bool, hash_prefix: Option<&str>, test_: &Test) -> Vec<Entry> {
    let entry = |key: String, values: Vec<String>| Entry { key, values };
    match test_ {
        Test::Text { op, values, cased } => {
            let cs = if *cased { "|cased" } else { "" };
            let esc = |p: &str| {
                values
                    .iter()
                    .map(|v| escape_value(&format!("{p}{v}")))
                    .collect::<Vec<_>>()
            };
            match (op, basename) {
                (TextOp::Exact, false) => vec![entry(format!("{col}{cs}"), esc(""))],
                (TextOp::Contains, false) => {
                    vec![entry(format!("{col}|contains{cs}"), esc(""))]
                }
                (TextOp::Prefix, false) => {
                    vec![entry(format!("{col}|startswith{cs}"), esc(""))]
                }
                (TextOp::Suffix, _) => vec![entry(format!("{col}|endswith{cs}"), esc(""))],
                (TextOp::Exact, true) => vec![
                    entry(format!("{col}|endswith{cs}"), esc("\\")),
                    entry(format!("{col}{cs}"), esc("")),
                ],
                (op, _) => unreachable!("{op:?} on a base name is a regex (test)"),
            }
        }
        // the whole value or `|endswith` `.value`, on the field as it is (`test` splits it)
        Test::Domain(_) => unreachable!("a domain is split by test"),
        Test::Ip(ips) => {
            let v4: Vec<String> = ips
                .iter()
                .filter(|i| i.is_ipv4())
                .map(|i| i.to_string())
                .collect();
            let v6: Vec<String> = ips
                .iter()
                .filter(|i| i.is_ipv6())
                .map(|i| format!("{i}/128"))
                .collect();
            let mut out = Vec::new();
            if !v4.is_empty() {
                out.push(entry(col.to_string(), v4));
            }
            if !v6.is_empty() {
                out.push(entry(format!("{col}|cidr"), v6));
            }
            out
        }
        Test::Cidr(nets) => vec![entry(
            format!("{col}|cidr"),
            nets.iter().map(ToString::to_string).collect(),
        )],
        Test::Port(ports) => vec![entry(
            col.to_string(),
            ports.iter().map(u16::to_string).collect(),
        )],
        Test::Digest(hs) => match hash_prefix {
            Some(p) => vec![entry(
                format!("{col}|contains"),
                hs.iter()
                    .map(|h| escape_value(&format!("{p}{h}")))
                    .collect(),
            )],
            None => vec![entry(
                col.to_string(),
                hs.iter().map(|h| escape_value(h)).collect(),
            )],
        },
    }
}

/// Sigma selection names are identifiers: exclusion ids may hold `-`.
fn ident(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[derive(Serialize)]
struct TemplateCtx {
    title: String,
    id: String,
    status: String,
    description: String,
    references: Vec<String>,
    author: String,
    date: String,
    modified: Option<String>,
    tags: Vec<String>,
    logsource: String,
    detection: String,
    falsepositives: Vec<String>,
    level: String,
}

/// The rule file of one rule.
fn sigma_rule(cx: &mut Cx, rule: Rule<Cond>) -> Option<(String, String)> {
    let (spec, det, source, table) = (cx.spec, cx.det, cx.source, cx.table);
    let id = &rule.id;
    let det_cond = &rule.condition;

    let mut sections: Vec<(String, Selection)> = Vec::new();
    let (det_text, det_atom, det_sels) = Namer::name("selection", det_cond);
    sections.extend(det_sels);

    // (condition text, is an atom, is exactly one bare selection)
    let mut filters: Vec<(String, bool, bool)> = Vec::new();
    let mut not_applied: Vec<String> = Vec::new();
    let mut falsepositives = Vec::new();
    let mut used_names: Vec<String> = Vec::new();
    for e in &rule.exclusions {
        let x = e.x;
        match &e.inner {
            // a filter is the inside of `not 1 of filter_*`
            Some(c) => {
                let mut name = format!("filter_{}", ident(&x.id));
                while used_names.contains(&name) {
                    name.push('_');
                }
                used_names.push(name.clone());
                let (text, atom, sels) = Namer::name(&name, c);
                // `1 of filter_*` only when the filter is exactly one bare selection
                let single = text == name;
                sections.extend(sels);
                filters.push((text, atom, single));
                falsepositives.push(x.reason.clone());
            }
            // not(x) widened to `true`: the exclusion's fields are all missing here
            None => {
                not_applied.push(x.id.clone());
                falsepositives.push(format!(
                    "{} (not filtered: {} has no field of exclusion {})",
                    x.reason, table.name, x.id
                ));
            }
        }
    }
    let mut condition = det_text.clone();
    if !filters.is_empty() {
        let lhs = if det_atom {
            det_text
        } else {
            format!("({det_text})")
        };
        condition = if filters.iter().all(|f| f.2) {
            format!("{lhs} and not 1 of filter_*")
        } else if let [(text, true, _)] = filters.as_slice() {
            if text.starts_with("not ") {
                format!("{lhs} and not ({text})")
            } else {
                format!("{lhs} and not {text}")
            }
        } else {
            let fs: Vec<String> = filters
                .iter()
                .map(|(t, atom, _)| if *atom { t.clone() } else { format!("({t})") })
                .collect();
            format!("{lhs} and not ({})", fs.join(" or "))
        };
    }

    // The detection block, as data.
    let mut detection = serde_yaml::Mapping::new();
    for (name, sel) in &sections {
        detection.insert(serde_yaml::Value::String(name.clone()), sel.to_value());
    }
    detection.insert("condition".into(), serde_yaml::Value::String(condition));
    let detection = indent(&ascii_yaml(serde_yaml::Value::Mapping(detection)), 2);
    let logsource = indent(
        &serde_yaml::to_string(&table.meta["logsource"]).expect("yaml"),
        2,
    );

    // Output shape: Sigma has none; say so and list the fields.
    let (shape, fields): (String, Vec<Field>) = match &det.output {
        IrOutput::Summarize(by) => (
            format!(
                "The spec summarizes matches by {} (first/last seen, count); Sigma rules carry no aggregation, so group the matched events in the backend that runs this rule.",
                by.iter().map(|f| f.name()).collect::<Vec<_>>().join(", ")
            ),
            by.clone(),
        ),
        IrOutput::Project { columns, .. } => (
            "The spec projects fields; Sigma rules carry no projection or ordering, so select them in the backend that runs this rule.".to_string(),
            columns.get(&source).cloned().unwrap_or_default(),
        ),
    };
    let mut field_names: Vec<String> = Vec::new();
    let mut missing_out = Vec::new();
    for f in fields {
        match table.column(f) {
            Some(c) => {
                if !field_names.iter().any(|n| n == c.project) {
                    field_names.push(c.project.to_string());
                }
            }
            None => missing_out.push(f.name()),
        }
    }

    let mut description = Description::new(spec.description.trim_end());
    description.paragraph(&shape);
    // the list goes in the description: SigmaHQ's rules carry no `fields` attribute (none of
    // github.com/SigmaHQ/sigma rules/ does), and converters turn it into output clauses
    // (pySigma-backend-splunk appends `| table …`) the spec's shape does not have
    if !field_names.is_empty() {
        description.push_str(&format!(" Fields: {}.", field_names.join(", ")));
    }
    if !missing_out.is_empty() {
        description.push_str(&format!(
            " Not in this log source, so not listed: {}.",
            missing_out.join(", ")
        ));
    }
    if let Some(reason) = rule.gap {
        description.known_gap("this Sigma rule", reason);
    }
    if !not_applied.is_empty() {
        description.paragraph(&format!(
            "Exclusions not applied ({} has none of their fields): {}.",
            table.name,
            not_applied.join(", ")
        ));
    }
    description.push_str("\n");

    let title = match rule_name(&data().rule_name, spec, det, source.name()) {
        Ok(t) => t,
        Err(e) => {
            cx.diags.push(Diag::error(
                DiagKind::Io,
                format!("rule name template: {e}"),
            ));
            return None;
        }
    };
    // sigma-specification: "title: … (max. 256 characters)"
    if title.chars().count() > TITLE_MAX {
        cx.diags.push(
            Diag::error(
                DiagKind::Limit,
                format!(
                    "{}: the Sigma rule's title is {} characters long; Sigma allows at most {TITLE_MAX}",
                    id.stem,
                    title.chars().count()
                ),
            )
            .at(&spec.file, det.span)
            .help("shorten the vendor name or the detection title"),
        );
        return None;
    }
    let mut tags: Vec<String> = spec
        .tactics
        .iter()
        .map(|t| format!("attack.{}", t.info().sigma))
        .collect();
    tags.extend(
        spec.techniques
            .iter()
            .map(|t| format!("attack.{}", t.to_ascii_lowercase())),
    );
    let ctx = TemplateCtx {
        title,
        id: id.uuid("sigma").to_string(),
        status: data().status.clone(),
        description: description.into_string(),
        references: spec.references.clone(),
        author: spec.author.clone(),
        date: spec.date.clone(),
        // SigmaHQ convention: `modified` only when the rule changed after `date`
        modified: spec.modified.clone().filter(|m| *m != spec.date),
        tags,
        logsource,
        detection,
        falsepositives,
        level: spec.severity.title().to_ascii_lowercase(),
    };
    match render::render("sigma/rule.yml.j2", &ctx) {
        Ok(text) => Some((format!("sigma/{}.yml", id.stem), text)),
        Err(e) => {
            cx.diags
                .push(Diag::error(DiagKind::Io, format!("template error: {e:#}")));
            None
        }
    }
}
/// `v` serialized as YAML whose text is ASCII: a string holding a non-ASCII character (a
/// KELVIN SIGN in a case class, a letter of a vendor's name) is written double-quoted with
/// that character as a YAML escape (`"[Kk\u212A]"`), so nothing invisible or look-alike sits
/// raw in the rule while every reader still gets the exact character (the escape is YAML's,
/// not the regex's: Python's `re`, which pySigma checks regexes with, reads no `\x{…}`).
fn ascii_yaml(mut v: serde_yaml::Value) -> String {
    fn swap(v: &mut serde_yaml::Value, prefix: &str, out: &mut Vec<String>) {
        match v {
            serde_yaml::Value::String(s) if !s.is_ascii() => {
                let text = std::mem::replace(s, format!("{prefix}{}__", out.len()));
                out.push(text);
            }
            serde_yaml::Value::Sequence(xs) => xs.iter_mut().for_each(|x| swap(x, prefix, out)),
            serde_yaml::Value::Mapping(m) => m.values_mut().for_each(|x| swap(x, prefix, out)),
            _ => {}
        }
    }
    let plain = serde_yaml::to_string(&v).expect("yaml");
    // a placeholder no value holds
    let mut prefix = "__rmmc_escaped_".to_string();
    while plain.contains(&prefix) {
        prefix.insert(0, '_');
    }
    let mut swapped = Vec::new();
    swap(&mut v, &prefix, &mut swapped);
    if swapped.is_empty() {
        return plain;
    }
    let mut text = serde_yaml::to_string(&v).expect("yaml");
    for (i, s) in swapped.iter().enumerate().rev() {
        let quoted: String = render::yaml_str(s)
            .chars()
            .map(|c| match c as u32 {
                0..=0x7F => c.to_string(),
                cp @ 0x80..=0xFFFF => format!("\\u{cp:04X}"),
                cp => format!("\\U{cp:08X}"),
            })
            .collect();
        text = text.replacen(&format!("{prefix}{i}__"), &quoted, 1);
    }
    text
}

/// Indent every line of serialized YAML by `n` spaces (for nesting it under a key).
fn indent(yaml: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    yaml.lines()
        .map(|l| format!("{pad}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
