//! Deployable forms and their twins. What gets deployed is not the `.kql` / `.spl` / `.eql`
//! file that `rmmc verify` runs but a wrapper around the same query: the Sentinel hunting and
//! analytic YAML, a `splunk/savedsearches.conf` stanza, a Kibana rule in
//! `elastic/rules.ndjson`. Each wrapper's query is extracted here *as the product reads it*
//! (YAML parsed, `.conf` continuation lines joined, JSON decoded) and must equal its twin,
//! the file that was run; a difference is an error naming both files and the first
//! differing line and column.
//!
//! What is compared, exactly:
//! - Sentinel `query` against `kql/<stem>.kql`: every character, the final line break
//!   included (rmmc writes a `|` block, which keeps exactly one; the two are byte-equal).
//! - savedsearches.conf `search` against `splunk/<stem>.spl` without its final line break (a
//!   `.conf` value cannot end in one: the value ends where the last line does not end in
//!   `\`); every other character, whitespace included.
//! - Kibana `query` against the `.eql` without rmmc's `//` comment lines (what rmmc puts in
//!   the Kibana rule), every character.
//!
//! A form that is absent is not checked (a user may deploy only some targets), but a form
//! whose twin is absent is an error: the twin is what was proven. In the files rmmc writes
//! whole (savedsearches.conf, rules.ndjson) an entry that is no rule's of the specs must equal
//! some twin in the folder (a rule outside the specs verified); a Sentinel file that is no
//! rule's is compared with the `.kql` of its name when there is one (otherwise it is another
//! tool's rule: `rmmc check --artifacts` lints it, nothing runs it).
//!
//! Stays whole (just over 600 lines): one job, pairing each deployable form with its twin.

use super::Cell;
use crate::backend::RuleId;
use crate::build::Files;
use crate::ir::IrSpec;
use crate::spec::BackendName;
use std::collections::{BTreeMap, HashSet};

mod conf;
#[cfg(test)]
mod scheduling;
pub use conf::{parse_conf, Stanza};

pub const SAVEDSEARCHES: &str = "splunk/savedsearches.conf";
pub const KIBANA: &str = "elastic/rules.ndjson";
const SENTINEL_KINDS: [&str; 2] = ["hunting", "analytic"];

/// A deployable form that does not equal its twin, has none, or cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormError {
    pub backend: BackendName,
    /// The twin `rmmc verify` runs (`kql/<stem>.kql`) when the form is a rule's of the specs:
    /// the error belongs to that rule's verify cell.
    pub twin: Option<String>,
    /// The deployable file (relative to the artifacts folder).
    pub file: String,
    /// The whole message, starting with the file.
    pub message: String,
}

/// Whether `files` hold a deployable wrapper of `backend`'s queries (so the backend's twins
/// must be there and are run, even when none is).
pub fn wraps(files: &Files, backend: BackendName) -> bool {
    match backend {
        BackendName::Kql => files
            .keys()
            .any(|k| k.starts_with("sentinel/") && k.ends_with(".yaml")),
        BackendName::Splunk => files.contains_key(SAVEDSEARCHES),
        BackendName::Elastic => files.contains_key(KIBANA),
        _ => false,
    }
}

/// Put each error on the verify cell of its rule and backend (before whatever the runner
/// said); an error that belongs to no cell becomes a cell of its own, so none is lost.
pub fn apply(errors: Vec<FormError>, cells: &mut Vec<Cell>) {
    let mut by_cell: BTreeMap<(String, BackendName), Vec<String>> = BTreeMap::new();
    let mut loose = Vec::new();
    for e in errors {
        match &e.twin {
            Some(t)
                if cells
                    .iter()
                    .any(|c| &c.artifact == t && c.backend == e.backend) =>
            {
                by_cell
                    .entry((t.clone(), e.backend))
                    .or_default()
                    .push(e.message);
            }
            _ => loose.push(e),
        }
    }
    for c in cells.iter_mut() {
        if let Some(msgs) = by_cell.remove(&(c.artifact.clone(), c.backend)) {
            let mut all = msgs;
            all.extend(c.error.take());
            c.error = Some(all.join("; "));
        }
    }
    for e in loose {
        cells.push(Cell {
            rule: e.file.clone(),
            backend: e.backend,
            artifact: e.file,
            cases: 0,
            passed: 0,
            explained: 0,
            mismatched: 0,
            skipped: 0,
            window: String::new(),
            conditions: 0,
            covered: 0,
            declared: 0,
            masked: 0,
            uncovered: 0,
            error: Some(e.message),
        });
    }
}

/// Every deployable form in `files` against its twin, for the rules of `specs` (and, as the
/// module docs say, the forms that are no rule's).
pub fn check(specs: &[IrSpec], files: &Files) -> Vec<FormError> {
    let mut out = Vec::new();
    let conf = files.get(SAVEDSEARCHES).map(|t| parse_conf(t));
    let kibana = files.get(KIBANA).map(|t| kibana_rules(t));
    let mut claimed_files: HashSet<String> = HashSet::new();
    let mut claimed_stanzas: HashSet<&str> = HashSet::new();
    let mut claimed_kibana: HashSet<usize> = HashSet::new();
    // rule_id → position, stanza name → stanza: looked up once per rule, not searched
    let kibana_ids: std::collections::HashMap<&str, usize> = kibana
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, r)| (r.rule_id.as_str(), i))
        .rev()
        .collect();
    let stanza_ids: std::collections::HashMap<&str, &Stanza> = conf
        .iter()
        .flat_map(|c| &c.stanzas)
        .map(|s| (s.name.as_str(), s))
        .collect();
    for spec in specs {
        for det in &spec.detections {
            for &source in &det.sources {
                let id = RuleId::new(spec, det, source);
                let window = det.time_filter.then_some(spec.window.minutes);
                if !det.unsupported.contains_key(&BackendName::Kql) {
                    for kind in SENTINEL_KINDS {
                        let file = format!("sentinel/{kind}/{}.yaml", id.stem);
                        claimed_files.insert(file.clone());
                        out.extend(sentinel(files, &file, &id.stem, window, true));
                    }
                }
                if !det.unsupported.contains_key(&BackendName::Splunk) {
                    if let (Some(_), Ok(name)) = (
                        &conf,
                        crate::backend::spl::saved_search_name(spec, det, source),
                    ) {
                        let stanza = stanza_ids.get(name.as_str()).copied();
                        if let Some(s) = stanza {
                            claimed_stanzas.insert(s.name.as_str());
                        }
                        out.extend(saved_search(files, stanza, &name, &id.stem));
                    }
                }
                if !det.unsupported.contains_key(&BackendName::Elastic) {
                    if let Some(rules) = &kibana {
                        let want = id.uuid("elastic-rule").to_string();
                        let twin = format!("elastic/{}.eql", id.stem);
                        match kibana_ids.get(want.as_str()).copied() {
                            Some(i) => {
                                claimed_kibana.insert(i);
                                out.extend(kibana_rule(files, &rules[i], &twin));
                            }
                            None if files.contains_key(&twin) => out.push(FormError {
                                backend: BackendName::Elastic,
                                twin: Some(twin.clone()),
                                file: KIBANA.into(),
                                message: format!("{KIBANA} has no rule {want} for its twin {twin}"),
                            }),
                            None => {}
                        }
                    }
                }
            }
        }
    }
    // Sentinel files of no rule: compared with the .kql of their name when there is one.
    for path in files.keys() {
        let Some(rest) = path.strip_prefix("sentinel/") else {
            continue;
        };
        let Some((kind, name)) = rest.split_once('/') else {
            continue;
        };
        let Some(stem) = name.strip_suffix(".yaml") else {
            continue;
        };
        if SENTINEL_KINDS.contains(&kind) && !claimed_files.contains(path) {
            out.extend(sentinel(files, path, stem, None, false));
        }
    }
    if let Some(conf) = &conf {
        out.extend(conf.problems.iter().map(|p| FormError {
            backend: BackendName::Splunk,
            twin: None,
            file: SAVEDSEARCHES.into(),
            message: format!("{SAVEDSEARCHES}:{p}"),
        }));
        let twins: HashSet<&str> = files
            .iter()
            .filter(|(k, _)| k.starts_with("splunk/") && k.ends_with(".spl"))
            .map(|(_, v)| v.strip_suffix('\n').unwrap_or(v))
            .collect();
        for s in &conf.stanzas {
            let Some(search) = s.keys.get("search") else {
                continue;
            };
            if claimed_stanzas.contains(s.name.as_str()) || twins.contains(search.1.as_str()) {
                continue;
            }
            out.push(FormError {
                backend: BackendName::Splunk,
                twin: None,
                file: SAVEDSEARCHES.into(),
                message: format!(
                    "{SAVEDSEARCHES}:{} [{}]: the search has no twin: it is no rule's of the specs and equals no splunk/*.spl",
                    s.line, s.name
                ),
            });
        }
    }
    if let Some(rules) = &kibana {
        let bodies: HashSet<String> = files
            .iter()
            .filter(|(k, _)| k.starts_with("elastic/") && k.ends_with(".eql"))
            .map(|(_, v)| eql_body(v))
            .collect();
        for (i, r) in rules.iter().enumerate() {
            let fine = claimed_kibana.contains(&i)
                || r.problem.is_none() && r.query.as_ref().is_some_and(|q| bodies.contains(q));
            if !fine {
                let why = r.problem.clone().unwrap_or_else(|| {
                    format!(
                        "rule {} has no twin: it is no rule's of the specs and its query equals no elastic/*.eql",
                        r.rule_id
                    )
                });
                out.push(FormError {
                    backend: BackendName::Elastic,
                    twin: None,
                    file: KIBANA.into(),
                    message: format!("{KIBANA}:{}: {why}", r.line),
                });
            }
        }
    }
    out
}

/// Where `got` first differs from `want`: (line, column), both from 1, columns in
/// characters. Up to there the two texts are equal, so the position is the same in both.
pub fn first_difference(got: &str, want: &str) -> Option<(usize, usize)> {
    let (mut line, mut col) = (1, 1);
    let mut a = got.chars();
    let mut b = want.chars();
    loop {
        match (a.next(), b.next()) {
            (None, None) => return None,
            (x, y) if x != y => return Some((line, col)),
            (Some('\n'), _) => {
                line += 1;
                col = 1;
            }
            _ => col += 1,
        }
    }
}

fn differs(file: &str, what: &str, twin: &str, got: &str, want: &str) -> Option<String> {
    first_difference(got, want).map(|(l, c)| {
        format!("{file}: the {what} differs from its twin {twin} at line {l} col {c}")
    })
}

/// The Sentinel YAML at `file`, if present: its `query` must equal `kql/<stem>.kql`; an
/// analytic rule's `queryPeriod` must cover `window` (minutes: the spec's window, which the
/// `.kql` was verified to look back over), when the detection filters on time.
fn sentinel(
    files: &Files,
    file: &str,
    stem: &str,
    window: Option<u64>,
    rule: bool,
) -> Vec<FormError> {
    let Some(text) = files.get(file) else {
        return Vec::new();
    };
    let twin = format!("kql/{stem}.kql");
    let err = |message: String| FormError {
        backend: BackendName::Kql,
        twin: rule.then(|| twin.clone()),
        file: file.to_string(),
        message,
    };
    let Some(want) = files.get(&twin) else {
        return if rule {
            vec![err(format!(
                "{file}: its twin {twin} is missing (the twin is what verify runs)"
            ))]
        } else {
            Vec::new()
        };
    };
    let doc: serde_yaml::Value = match serde_yaml::from_str(text) {
        Ok(d) => d,
        Err(e) => {
            let at = e
                .location()
                .map(|l| format!("{}:{}: ", l.line(), l.column()))
                .unwrap_or_default();
            return vec![err(format!("{file}:{at}does not parse: {e}"))];
        }
    };
    let mut out = Vec::new();
    match doc.get("query").and_then(serde_yaml::Value::as_str) {
        None => out.push(err(format!("{file}: has no query (a string)"))),
        Some(q) => out.extend(differs(file, "query", &twin, q, want).map(&err)),
    }
    if let (Some(minutes), true) = (window, file.starts_with("sentinel/analytic/")) {
        let period = doc.get("queryPeriod");
        match period
            .and_then(serde_yaml::Value::as_str)
            .and_then(|p| p.parse::<crate::spec::values::Duration>().ok())
        {
            Some(p) if p.minutes >= minutes => {}
            Some(p) => out.push(err(format!(
                "{file}: queryPeriod {p} is shorter than the {} its twin {twin} looks back over",
                crate::spec::values::Duration { minutes }
            ))),
            None => out.push(err(format!(
                "{file}: queryPeriod is not a duration like 5m, 1h or 14d, so the {} its twin {twin} looks back over is not known to be covered",
                crate::spec::values::Duration { minutes }
            ))),
        }
    }
    out
}

/// The rule's stanza `[name]` in savedsearches.conf against `splunk/<stem>.spl`: the stanza
/// and the twin must both be there, the search must equal the twin, and
/// `dispatch.earliest_time` / `dispatch.latest_time` must be the twin's `earliest=` /
/// `latest=` (compared as times, `-5d` = `-120h`).
fn saved_search(files: &Files, stanza: Option<&Stanza>, name: &str, stem: &str) -> Vec<FormError> {
    let twin = format!("splunk/{stem}.spl");
    let err = |message: String| FormError {
        backend: BackendName::Splunk,
        twin: Some(twin.clone()),
        file: SAVEDSEARCHES.into(),
        message,
    };
    let (stanza, want) = match (stanza, files.get(&twin)) {
        (None, None) => return Vec::new(),
        (None, Some(_)) => {
            return vec![err(format!(
                "{SAVEDSEARCHES} has no stanza [{name}] for its twin {twin}"
            ))]
        }
        (Some(s), None) => {
            return vec![err(format!(
                "{SAVEDSEARCHES}:{} [{name}]: its twin {twin} is missing (the twin is what verify runs)",
                s.line
            ))]
        }
        (Some(s), Some(w)) => (s, w),
    };
    let at = format!("{SAVEDSEARCHES}:{} [{name}]", stanza.line);
    let Some((_, search)) = stanza.keys.get("search") else {
        return vec![err(format!("{at}: has no search"))];
    };
    let mut out: Vec<FormError> = differs(
        &at,
        "search",
        &twin,
        search,
        want.strip_suffix('\n').unwrap_or(want),
    )
    .map(&err)
    .into_iter()
    .collect();
    // The dispatch window, where the twin carries one in its text.
    let Ok(parsed) = crate::eval::spl::parse(want) else {
        return out; // the runner reports a twin that does not parse
    };
    for (latest, key) in [
        (false, "dispatch.earliest_time"),
        (true, "dispatch.latest_time"),
    ] {
        let Some(t) = time_bound(&parsed, latest) else {
            continue;
        };
        let word = if latest { "latest" } else { "earliest" };
        match stanza.keys.get(key) {
            None => out.push(err(format!(
                "{at}: has no {key}, but its twin {twin} searches {word}={}",
                show_time(t)
            ))),
            Some((_, v)) => {
                let got = crate::eval::spl::parse(&format!("{word}={v}"))
                    .ok()
                    .and_then(|s| time_bound(&s, latest));
                if got != Some(t) {
                    out.push(err(format!(
                        "{at}: {key} = {v} is not its twin {twin}'s {word}={}",
                        show_time(t)
                    )));
                }
            }
        }
    }
    out
}

/// The `earliest=` (or `latest=`) of a search's base search: a top-level conjunct.
fn time_bound(
    s: &crate::eval::spl::Search,
    latest: bool,
) -> Option<crate::eval::spl::ast::TimeSpec> {
    use crate::eval::spl::ast::{Command, SExpr};
    let Some(Command::Search(e)) = s.commands.first() else {
        return None;
    };
    let terms: &[SExpr] = match e {
        SExpr::And(v) => v,
        other => std::slice::from_ref(other),
    };
    terms.iter().find_map(|t| match t {
        SExpr::Time { latest: l, at } if *l == latest => Some(*at),
        _ => None,
    })
}

fn show_time(t: crate::eval::spl::ast::TimeSpec) -> String {
    match t {
        crate::eval::spl::ast::TimeSpec::Relative(0) => "now".into(),
        crate::eval::spl::ast::TimeSpec::Relative(ns) => {
            let s = ns / 1_000_000_000;
            let (n, unit) = [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")]
                .into_iter()
                .find(|(u, _)| s % u == 0)
                .unwrap_or((1, "s"));
            format!("{:+}{unit}", s / n)
        }
        crate::eval::spl::ast::TimeSpec::Epoch(ns) => format!("{}", ns / 1_000_000_000),
    }
}

/// One rule of `elastic/rules.ndjson`.
struct KibanaRule {
    /// Line in the file, from 1.
    line: usize,
    rule_id: String,
    query: Option<String>,
    /// Why the line cannot be read as a Kibana rule with a query, if it cannot.
    problem: Option<String>,
}

fn kibana_rules(text: &str) -> Vec<KibanaRule> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let v: Result<serde_json::Value, _> = serde_json::from_str(l);
            let (rule_id, query, problem) = match v {
                Err(e) => (String::new(), None, Some(format!("does not parse: {e}"))),
                Ok(v) => {
                    let id = v.get("rule_id").and_then(|x| x.as_str()).unwrap_or("");
                    let q = v.get("query").and_then(|x| x.as_str()).map(str::to_string);
                    let problem = q
                        .is_none()
                        .then(|| format!("rule {id} has no query (a string)"));
                    (id.to_string(), q, problem)
                }
            };
            KibanaRule {
                line: i + 1,
                rule_id,
                query,
                problem,
            }
        })
        .collect()
}

/// The rule's Kibana rule against the `.eql` twin's body.
fn kibana_rule(files: &Files, r: &KibanaRule, twin: &str) -> Vec<FormError> {
    let at = format!("{KIBANA}:{}", r.line);
    let err = |message: String| FormError {
        backend: BackendName::Elastic,
        twin: Some(twin.to_string()),
        file: KIBANA.into(),
        message,
    };
    let Some(want) = files.get(twin) else {
        return vec![err(format!(
            "{at}: rule {}: its twin {twin} is missing (the twin is what verify runs)",
            r.rule_id
        ))];
    };
    match &r.query {
        None => vec![err(format!(
            "{at}: {}",
            r.problem.clone().unwrap_or_default()
        ))],
        Some(q) => differs(&at, "Kibana rule's query", twin, q, &eql_body(want))
            .map(&err)
            .into_iter()
            .collect(),
    }
}

/// The `.eql` body without rmmc's `//` comment lines: what a Kibana rule's `query` holds.
pub fn eql_body(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentinel_query_block_equals_the_kql() {
        let kql = "// rmmc: a/b\nlet Time_start = now(-5d);\nDeviceNetworkEvents\n| where RemoteUrl has 'x'\n    and A has 'B'\n";
        let yaml = format!(
            "id: 1\nname: \"n\"\nqueryPeriod: 5d\nquery: {}\nkind: Scheduled\n",
            crate::render::yaml_block(kql, 2)
        );
        assert!(yaml.contains("query: |\n  // rmmc: a/b\n"), "{yaml}");
        let mut files = Files::new();
        files.insert("kql/x.kql".into(), kql.into());
        files.insert("sentinel/analytic/x.yaml".into(), yaml.clone());
        let ok = sentinel(
            &files,
            "sentinel/analytic/x.yaml",
            "x",
            Some(5 * 1440),
            true,
        );
        assert!(ok.is_empty(), "{ok:?}");
        // one letter of a value, inside the block
        files.insert(
            "sentinel/analytic/x.yaml".into(),
            yaml.replace("has 'B'", "has 'C'"),
        );
        let bad = sentinel(
            &files,
            "sentinel/analytic/x.yaml",
            "x",
            Some(5 * 1440),
            true,
        );
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert_eq!(
            bad[0].message,
            "sentinel/analytic/x.yaml: the query differs from its twin kql/x.kql at line 5 col 16"
        );
        // a period shorter than the lookback
        files.insert(
            "sentinel/analytic/x.yaml".into(),
            yaml.replace("queryPeriod: 5d", "queryPeriod: 1d"),
        );
        let short = sentinel(
            &files,
            "sentinel/analytic/x.yaml",
            "x",
            Some(5 * 1440),
            true,
        );
        assert!(
            short[0]
                .message
                .contains("queryPeriod 1d is shorter than the 5d"),
            "{short:?}"
        );
        // the twin missing; unparsable YAML is an error, not a panic
        files.remove("kql/x.kql");
        let missing = sentinel(&files, "sentinel/analytic/x.yaml", "x", None, true);
        assert!(missing[0].message.contains("its twin kql/x.kql is missing"));
        files.insert("kql/x.kql".into(), kql.into());
        files.insert("sentinel/analytic/x.yaml".into(), "query: [\n".into());
        let broken = sentinel(&files, "sentinel/analytic/x.yaml", "x", None, true);
        assert!(broken[0].message.contains("does not parse"), "{broken:?}");
    }

    #[test]
    fn first_difference_table() {
        type Case<'a> = (&'a str, &'a str, Option<(usize, usize)>);
        let cases: &[Case] = &[
            ("abc", "abc", None),
            ("abc", "abd", Some((1, 3))),
            ("a\nbc", "a\nbd", Some((2, 2))),
            ("a\n", "a", Some((1, 2))),
            ("a", "a\n", Some((1, 2))),
            ("é\nx", "é\ny", Some((2, 1))),
            ("", "", None),
        ];
        for (a, b, want) in cases {
            assert_eq!(first_difference(a, b), *want, "{a:?} {b:?}");
        }
    }

    #[test]
    fn eql_body_drops_comment_lines() {
        assert_eq!(
            eql_body("// rmmc: x\nnetwork where true\n"),
            "network where true\n"
        );
    }
}
