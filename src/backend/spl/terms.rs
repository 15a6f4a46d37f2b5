//! The search-term prefilter (issue 19.3): words Splunk looks up in its index, put in the
//! first (search) command ahead of the exact `where`, so Splunk reads only the events that can
//! match instead of every Sysmon event of the window. The `where` still decides; a term only
//! has to be *wider*: every event the `where` keeps must contain it.
//!
//! How Splunk matches a bare term (Search Manual, "Event segmentation and searching" and "Use
//! CASE() and TERM() to match phrases"; Admin Manual, segmenters.conf): the indexer cuts
//! `_raw` into segments at the major breakers (space, tab, line breaks and
//! `[ ] < > ( ) { } | ! ; , ' " * & ? +`) and again at the minor breakers (`/ : = @ . - $ # %
//! \ _`), and a term is found through the lexicon of those segments, "by default
//! case-insensitive" ("if you search for Error, any case of that term is returned"). So a
//! term is sound for a text test when, in every field value the test accepts, it is a whole
//! segment of the value as `_raw` holds it:
//! - it is a run of ASCII letters and digits of the spec value (no breaker inside, nothing a
//!   wildcard or an operator could read), and for a case-insensitive test every letter's
//!   spec case class is exactly its ASCII pair: the spec folds the KELVIN SIGN (U+212A) to
//!   `k`, and nothing documents Splunk lower-casing non-ASCII letters, so a run holding `k`
//!   is never a term (`ſ` U+017F is no `s` for the spec, so `s` is safe);
//! - both its ends are breakers: a breaker character inside the value, or an edge of the
//!   value the test pins down (the start for `exact`/`prefix`, the end for `exact`/`suffix`,
//!   both for a domain, which starts at `.` or the value's start). A pinned edge is the edge
//!   of the field's text, which in the Sysmon XML `_raw` (`<Data Name='Image'>…</Data>`,
//!   `<Computer>…</Computer>`) sits between `>` and `<`, both major breakers. A `term` test's
//!   boundary is any non-alphanumeric character (`~`, `é`), not a breaker, so it pins nothing;
//! - XML escaping cannot glue it to a neighbour: `&`, `<`, `>`, `'`, `"` become `&amp;`,
//!   `&lt;`, `&gt;`, `&apos;`, `&quot;`, which start with `&` and end with `;`, both major
//!   breakers, and every one of the five is itself a major breaker.
//!
//! Only fields whose text is in `_raw` qualify: Splunk's default fields (`host`, `source`,
//! `index`, …, "Use default fields", Knowledge Manager Manual) are not, so a match on them has
//! no term. A `not` (and so every exclusion) has none; an `any` has one only when each of its
//! parts has one (an OR of their terms); an `all` has the AND of the terms its parts have.
//! No term for a part is always sound: that part is not prefiltered. IPs, ranges and ports
//! get none (their text has no segment every accepted spelling shares).

use super::super::text::Text;
use super::escape::case_class;
use super::TOKENS;
use crate::backend::driver::Chain;
use crate::ir::{Match, Test, TextOp};
use crate::mapping::{Column, TableMap};

/// Splunk's default major and minor breakers (segmenters.conf `[default]`), single characters.
pub const BREAKERS: &str = " \t\n\r[]<>(){}|!;,'\"*&?+/:=@.-$#%\\_";

/// Fields Splunk sets for every event ("Use default fields"), which `_raw` does not hold.
const DEFAULT_FIELDS: &[&str] = &[
    "host",
    "source",
    "sourcetype",
    "index",
    "splunk_server",
    "linecount",
    "punct",
    "eventtype",
    "tag",
    "timestartpos",
    "timeendpos",
];

/// The shortest run used as a term: shorter ones (`10`, `io`) are in most events and only
/// cost the lexicon look-up.
const MIN_LEN: usize = 3;

/// Words nearly every event of a kind holds, sound as terms but selecting nothing: file
/// extensions, top-level domains and URL schemes, and the words of the Sysmon XML envelope
/// every event's `_raw` carries (`<Provider Name='Microsoft-Windows-Sysmon'`, `<Channel>`, the
/// `<Data Name='…'>` names, `<Level>`, `<Task>`, …). A value offers none of them.
const COMMON: &[&str] = &[
    "exe",
    "dll",
    "com",
    "net",
    "org",
    "www",
    "http",
    "https",
    "microsoft",
    "windows",
    "sysmon",
    "operational",
    "event",
    "events",
    "eventdata",
    "data",
    "name",
    "system",
    "provider",
    "guid",
    "channel",
    "computer",
    "schemas",
    "win",
    "xmlns",
    "eventid",
    "timecreated",
    "systemtime",
    "eventrecordid",
    "image",
    "user",
    "commandline",
    "parentimage",
    "parentcommandline",
    "company",
    "product",
    "description",
    "originalfilename",
    "destinationhostname",
    "destinationip",
    "destinationport",
    "sourceip",
    "sourceport",
    "initiated",
    "targetfilename",
    "true",
    "false",
    "level",
    "version",
    "task",
    "opcode",
    "keywords",
    "correlation",
    "execution",
    "processid",
    "threadid",
    "security",
    "userid",
    "rulename",
    "utctime",
    "processguid",
];

/// Does `table` prefilter with search terms? `meta.search_terms` (default on); a table whose
/// base search does not read raw events (a CIM data model, `tstats`) turns it off.
pub fn enabled(table: &TableMap) -> bool {
    table
        .meta
        .get("search_terms")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(true)
}

/// Does the table's base search read Windows event log XML (`sourcetype="XmlWinEventLog:…"`),
/// whose `_raw` holds every mapped field but Splunk's default ones as element text?
pub fn raw_xml(t: &TableMap) -> bool {
    t.meta
        .get("base_search")
        .and_then(serde_json::Value::as_str)
        .is_some_and(|b| b.contains("sourcetype=\"XmlWinEventLog:"))
}

/// The table's `meta.search_terms`, checked: a boolean, and on only where `_raw` is the
/// Sysmon XML the terms are chosen for.
pub fn check(t: &TableMap) -> Result<(), String> {
    if !t
        .meta
        .get("search_terms")
        .is_none_or(serde_json::Value::is_boolean)
    {
        return Err("meta.search_terms is true or false".into());
    }
    if enabled(t) && !raw_xml(t) {
        return Err("search terms need the Sysmon XML _raw (a sourcetype=\"XmlWinEventLog:…\" base search); set meta.search_terms: false".into());
    }
    Ok(())
}

/// A rendered (sub)expression: its `where` text, and its search-term prefilter (`terms`),
/// wider than the text or `None` (no prefilter for it).
#[derive(Clone, Debug)]
pub struct Node {
    pub text: Text,
    pub terms: Option<Terms>,
}

/// Is `field`'s text part of the event's `_raw`?
pub fn in_raw(field: &str) -> bool {
    !field.starts_with('_') && !DEFAULT_FIELDS.contains(&field)
}

fn breaker(c: char) -> bool {
    BREAKERS.contains(c)
}

/// A letter or digit Splunk's case-insensitive lookup matches exactly as the test does.
fn plain(c: char, cased: bool) -> bool {
    c.is_ascii_digit()
        || (c.is_ascii_alphabetic()
            && (cased || case_class(c) == [c.to_ascii_uppercase(), c.to_ascii_lowercase()]))
}

/// The segments of `v` that every field value the test accepts holds whole (see the module
/// text), longest first; `start`/`end`: the test pins that edge of `v` to the edge of the
/// field's text.
pub fn value_terms(v: &str, start: bool, end: bool, cased: bool) -> Vec<String> {
    let cs: Vec<char> = v.chars().collect();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        if !cs[i].is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        let from = i;
        while i < cs.len() && cs[i].is_ascii_alphanumeric() {
            i += 1;
        }
        let run: String = cs[from..i].iter().collect();
        let left = if from == 0 {
            start
        } else {
            breaker(cs[from - 1])
        };
        let right = if i == cs.len() { end } else { breaker(cs[i]) };
        if left
            && right
            && run.len() >= MIN_LEN
            && run.chars().all(|c| plain(c, cased))
            && !COMMON.iter().any(|w| run.eq_ignore_ascii_case(w))
        {
            out.push(run);
        }
    }
    // longest first, the first of equal ones (a stable sort)
    out.sort_by_key(|r| std::cmp::Reverse(r.len()));
    out
}

/// The best single term of `v` (the longest), if any.
pub fn value_term(v: &str, start: bool, end: bool, cased: bool) -> Option<String> {
    value_terms(v, start, end, cased).into_iter().next()
}

/// One word per value, as few words as possible: a value that holds a word already chosen
/// for another value needs none of its own (`atera.com` and `agent.atera.com` are both found
/// by `atera`). Values with fewer choices choose first. `None` when a value has no word.
fn cover(cands: Vec<Vec<String>>) -> Option<Vec<String>> {
    if cands.iter().any(Vec::is_empty) {
        return None;
    }
    let mut order: Vec<usize> = (0..cands.len()).collect();
    order.sort_by_key(|&i| cands[i].len());
    let mut chosen: Vec<String> = Vec::new();
    for i in order {
        let c = &cands[i];
        if !c
            .iter()
            .any(|w| chosen.iter().any(|x| x.eq_ignore_ascii_case(w)))
        {
            chosen.push(c[0].clone());
        }
    }
    // in the values' order, for a stable text
    let mut out = Vec::new();
    for c in &cands {
        for w in c {
            if chosen.iter().any(|x| x == w) && !out.contains(w) {
                out.push(w.clone());
            }
        }
    }
    Some(out)
}

/// A prefilter: words, and `AND` / `OR` of prefilters, flat (no chain directly inside a chain
/// of its kind) and without repeats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Terms {
    Word(String),
    All(Vec<Terms>),
    Any(Vec<Terms>),
}

impl Terms {
    /// A chain of `parts`: nested chains of the same kind are inlined, repeats dropped
    /// (words compare case-insensitively, as Splunk looks them up).
    fn chain(any: bool, parts: Vec<Terms>) -> Terms {
        let mut flat: Vec<Terms> = Vec::new();
        for p in parts {
            let inner = match p {
                Terms::Any(v) if any => v,
                Terms::All(v) if !any => v,
                p => vec![p],
            };
            for t in inner {
                if !flat.iter().any(|f| f.same(&t)) {
                    flat.push(t);
                }
            }
        }
        match (flat.len(), any) {
            (1, _) => flat.pop().expect("one part"),
            (_, true) => Terms::Any(flat),
            (_, false) => Terms::All(flat),
        }
    }

    fn same(&self, o: &Terms) -> bool {
        match (self, o) {
            (Terms::Word(a), Terms::Word(b)) => a.eq_ignore_ascii_case(b),
            (a, b) => a == b,
        }
    }

    /// The search-command text, every chain inside a chain bracketed (the search command's
    /// `OR` binds tighter than `AND`: the brackets are for the reader).
    fn render(&self, out: &mut String, inner: bool) {
        let (parts, sep) = match self {
            Terms::Word(w) => {
                out.push('"');
                out.push_str(w);
                out.push('"');
                return;
            }
            Terms::All(v) => (v, TOKENS.and),
            Terms::Any(v) => (v, TOKENS.or),
        };
        if inner {
            out.push('(');
        }
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                out.push_str(sep);
            }
            p.render(out, true);
        }
        if inner {
            out.push(')');
        }
    }
}

/// The prefilter of one match on its column: an OR of the words of its values, or `None`.
pub fn leaf(table: &TableMap, m: &Match, col: &Column) -> Option<Terms> {
    if !enabled(table) || col.match_on.is_empty() || !col.match_on.iter().all(|c| in_raw(c)) {
        return None;
    }
    let cands: Vec<Vec<String>> = match &m.test {
        Test::Text { op, values, cased } => {
            let (start, end) = match op {
                TextOp::Exact => (true, true),
                TextOp::Prefix => (true, false),
                TextOp::Suffix => (false, true),
                TextOp::Contains | TextOp::Term => (false, false),
            };
            values
                .iter()
                .map(|v| value_terms(v, start, end, *cased))
                .collect()
        }
        Test::Domain(ds) => ds
            .iter()
            .map(|d| value_terms(d, true, true, false))
            .collect(),
        Test::Digest(hs) => hs
            .iter()
            .map(|h| value_terms(h, true, true, false))
            .collect(),
        Test::Ip(_) | Test::Cidr(_) | Test::Port(_) => return None,
    };
    let words = cover(cands)?;
    Some(Terms::chain(
        true,
        words.into_iter().map(Terms::Word).collect(),
    ))
}

/// `all` / `any` of the parts' prefilters: an `all` keeps the parts that have one, an `any`
/// needs every part to have one.
pub fn join(chain: Chain, parts: Vec<Option<Terms>>) -> Option<Terms> {
    let (any, parts): (bool, Vec<Terms>) = match chain {
        Chain::All => (false, parts.into_iter().flatten().collect()),
        Chain::Any => (true, parts.into_iter().collect::<Option<_>>()?),
    };
    if parts.is_empty() {
        return None;
    }
    Some(Terms::chain(any, parts))
}

/// The prefilter as it follows the base search: bracketed unless it is one word.
pub fn clause(t: &Terms) -> String {
    let mut s = String::new();
    t.render(&mut s, true);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_term_is_a_whole_segment_of_every_accepted_value() {
        // contains: the value's edges are free, only inner runs between breakers qualify
        assert_eq!(
            value_term("server.action1.com", false, false, false).as_deref(),
            Some("action1")
        );
        // exact: the edges are the field's edges
        assert_eq!(
            value_term("server.action1.com", true, true, false).as_deref(),
            Some("action1")
        );
        assert_eq!(
            value_term("client32.exe", true, true, false).as_deref(),
            Some("client32")
        );
        assert_eq!(value_term("client32.exe", false, false, false), None);
        // sound but selecting nothing: common words are no terms
        assert_eq!(value_term("ab.exe", true, true, false), None);
        assert_eq!(value_term("microsoft.windows.x", true, true, false), None);
        // one word covers the values that hold it
        let c = |vs: &[&str]| {
            cover(
                vs.iter()
                    .map(|v| value_terms(v, true, true, false))
                    .collect(),
            )
        };
        assert_eq!(
            c(&["agenthb.atera.com", "atera.com", "app.atera.com"]),
            Some(vec!["atera".to_string()])
        );
        assert_eq!(
            c(&["remote.tools.x", "other.y"]),
            Some(vec!["remote".to_string(), "other".to_string()])
        );
        assert_eq!(c(&["remote.tools.x", "a.b"]), None);
        // `k` folds with the KELVIN SIGN in the spec: never in a caseless term
        assert_eq!(value_term("kaseya", true, true, false), None);
        assert_eq!(
            value_term("kaseya", true, true, true).as_deref(),
            Some("kaseya")
        );
        assert_eq!(
            value_term("kaseya.agent.net", true, true, false).as_deref(),
            Some("agent")
        );
        // non-breakers (`~`, non-ASCII letters) glue: no segment edge there
        assert_eq!(value_term("a~remote~b", false, false, false), None);
        assert_eq!(value_term("éremote.x", true, true, false), None);
        // `&` is a breaker, and stays one as `&amp;`
        assert_eq!(
            value_term("x&remote&y", false, false, false).as_deref(),
            Some("remote")
        );
        // `*` is a literal of the spec and a breaker of Splunk; never inside a term
        assert_eq!(
            value_term("*remote*", false, false, false).as_deref(),
            Some("remote")
        );
        assert_eq!(value_term("", true, true, false), None);
        assert_eq!(value_term("ab.cd", true, true, false), None);
    }

    #[test]
    fn any_needs_every_part_all_keeps_what_it_has() {
        let w = |s: &str| Some(Terms::Word(s.into()));
        let text = |t: Option<Terms>| t.map(|t| clause(&t));
        assert_eq!(
            text(join(Chain::Any, vec![w("a1x"), w("b2y")])),
            Some(r#"("a1x" OR "b2y")"#.into())
        );
        assert_eq!(join(Chain::Any, vec![w("a1x"), None]), None);
        assert_eq!(
            text(join(Chain::All, vec![w("a1x"), None])),
            Some(r#""a1x""#.into())
        );
        assert_eq!(join(Chain::All, vec![None, None]), None);
        // flat, no repeats (case-insensitive), chains of the other kind bracketed
        let any = join(Chain::Any, vec![w("weezo"), w("weezohttpd")]);
        assert_eq!(
            text(join(Chain::Any, vec![any.clone(), w("WEEZO")])),
            Some(r#"("weezo" OR "weezohttpd")"#.into())
        );
        assert_eq!(
            text(join(Chain::All, vec![any, w("c3z")])),
            Some(r#"(("weezo" OR "weezohttpd") AND "c3z")"#.into())
        );
        assert!(in_raw("Image") && !in_raw("host") && !in_raw("_time"));
    }
}
