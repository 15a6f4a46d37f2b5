//! `rmmc verify --mutate`: how much of an artifact's meaning `rmmc verify` actually checks.
//!
//! Each mutant is one small change (a value character, a dropped list element, `and`↔`or`,
//! a removed `not` or filter, an operator swap, a dropped regex anchor…) to the query text of
//! one artifact: the `.kql`, `.spl`, `.eql` and Sigma files, and the query inside each
//! wrapper (Sentinel hunting / analytic YAML, a `savedsearches.conf` stanza, a Kibana rule
//! of `rules.ndjson`). The mutant replaces that one artifact, verify runs that one rule on
//! that one backend, and the mutant is *killed* iff that cell fails. A mutant the language's
//! parser refuses is *invalid* (not an interesting kill); one that provably cannot change a
//! verdict is *equivalent*, with the reason. Everything else that passes is a *survivor*: a
//! case verify does not have.
//!
//! Stays whole (over 600 lines): one pipeline, from the artifacts' query pieces to the judged
//! mutants (cells, sampling, the parallel run); the operators are in `ops`, the report in `report`.

pub(crate) mod ops;
mod report;

use super::{cases::Case, verify, VerifyOptions};
use crate::backend::common::Rendering;
use crate::backend::RuleId;
use crate::build::Files;
use crate::eval::engine::{self, Engine, Lang};
use crate::ir::IrSpec;
use crate::spec::LoadedSpec;
use ops::Edit;
pub use report::{text, Bar, KindRow, Mutant, MutationReport, Shape, Status};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The artifact kinds, each with its own kill rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Kql,
    SentinelHunting,
    SentinelAnalytic,
    Sigma,
    SplunkSpl,
    SplunkSavedsearch,
    ElasticEql,
    ElasticNdjson,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Kql,
        Kind::SentinelHunting,
        Kind::SentinelAnalytic,
        Kind::Sigma,
        Kind::SplunkSpl,
        Kind::SplunkSavedsearch,
        Kind::ElasticEql,
        Kind::ElasticNdjson,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Kql => "kql",
            Kind::SentinelHunting => "sentinel-hunting",
            Kind::SentinelAnalytic => "sentinel-analytic",
            Kind::Sigma => "sigma",
            Kind::SplunkSpl => "splunk-spl",
            Kind::SplunkSavedsearch => "splunk-savedsearch",
            Kind::ElasticEql => "elastic-eql",
            Kind::ElasticNdjson => "elastic-ndjson",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s)
    }

    fn lang(self) -> Lang {
        match self {
            Kind::Kql | Kind::SentinelHunting | Kind::SentinelAnalytic => Lang::Kql,
            Kind::Sigma => Lang::Sigma,
            Kind::SplunkSpl | Kind::SplunkSavedsearch => Lang::Spl,
            Kind::ElasticEql | Kind::ElasticNdjson => Lang::Eql,
        }
    }
}

/// How the query sits in its piece of text.
#[derive(Clone, Debug)]
enum Codec {
    /// The piece is the query.
    Plain,
    /// A YAML block scalar (`query: |`) at these bytes, indented two spaces.
    YamlBlock(usize, usize),
    /// A `.conf` value with `\`-continued lines at these bytes.
    Conf(usize, usize),
    /// A JSON string (with its quotes) at these bytes.
    Json(usize, usize),
}

/// One mutable query: a file, a stanza of `savedsearches.conf` or a line of
/// `rules.ndjson`.
struct Piece {
    kind: Kind,
    /// The file, and the key of this piece in a one-rule file map.
    path: String,
    text: String,
    codec: Codec,
    /// Line of the file the piece starts on (1-based).
    first_line: usize,
    /// The query as the language sees it.
    query: String,
    /// Index into `Harness::cells`.
    cell: usize,
}

impl Piece {
    fn new(
        kind: Kind,
        path: String,
        text: String,
        first_line: usize,
        cell: usize,
    ) -> Option<Piece> {
        let (codec, query) = match kind {
            Kind::SentinelHunting | Kind::SentinelAnalytic => {
                let start = text
                    .find("\nquery: |\n")
                    .map(|p| p + "\nquery: |\n".len())?;
                let mut end = start;
                for l in text[start..].split_inclusive('\n') {
                    if !(l.starts_with("  ") || l == "\n") {
                        break;
                    }
                    end += l.len();
                }
                let q = text[start..end]
                    .split_inclusive('\n')
                    .map(|l| l.strip_prefix("  ").unwrap_or(l))
                    .collect::<String>();
                (Codec::YamlBlock(start, end), q)
            }
            Kind::SplunkSavedsearch => {
                let start = text.find("\nsearch = ").map(|p| p + "\nsearch = ".len())?;
                let mut end = start;
                for l in text[start..].split_inclusive('\n') {
                    let body = l.trim_end_matches('\n');
                    end += body.len();
                    if !body.ends_with('\\') {
                        break;
                    }
                    end += 1;
                }
                (
                    Codec::Conf(start, end),
                    text[start..end].replace("\\\n", "\n"),
                )
            }
            Kind::ElasticNdjson => {
                let v: serde_json::Value = serde_json::from_str(&text).ok()?;
                let q = v.get("query")?.as_str()?.to_string();
                let needle = format!("\"query\":{}", serde_json::to_string(&q).ok()?);
                let p = text.find(&needle)? + "\"query\":".len();
                (Codec::Json(p, p + needle.len() - "\"query\":".len()), q)
            }
            _ => (Codec::Plain, text.clone()),
        };
        let piece = Piece {
            kind,
            path,
            text,
            codec,
            first_line,
            query,
            cell,
        };
        // a piece whose query does not round-trip is not mutated (its mutants would differ
        // in more than the one change)
        (piece.encode(&piece.query) == piece.text).then_some(piece)
    }

    /// The piece with its query replaced.
    fn encode(&self, q: &str) -> String {
        let (a, z, body) = match self.codec {
            Codec::Plain => return q.to_string(),
            Codec::YamlBlock(a, z) => (
                a,
                z,
                q.split_inclusive('\n')
                    .map(|l| {
                        if l == "\n" {
                            l.to_string()
                        } else {
                            format!("  {l}")
                        }
                    })
                    .collect(),
            ),
            Codec::Conf(a, z) => (a, z, q.replace('\n', "\\\n")),
            Codec::Json(a, z) => (a, z, serde_json::to_string(q).unwrap_or_default()),
        };
        format!("{}{body}{}", &self.text[..a], &self.text[z..])
    }

    /// The piece's text as the one-rule file map holds it (a Kibana rule is a line).
    fn mini(&self, text: &str) -> String {
        if self.kind == Kind::ElasticNdjson {
            format!("{text}\n")
        } else {
            text.to_string()
        }
    }

    /// The parse error of a mutated query, if its language refuses it.
    fn invalid(&self, q: &str, piece_text: &str) -> Option<String> {
        match self.kind.lang() {
            // the reasons as they have always read: located for KQL only
            Lang::Kql => engine::Kql::parse(q).err().map(|f| f.to_string()),
            Lang::Spl => engine::Spl::parse(q).err().map(|f| f.message),
            Lang::Eql => engine::Eql::parse(q).err().map(|f| f.message),
            Lang::Sigma => engine::Sigma::parse(piece_text).err().map(|f| f.message),
        }
    }
}

/// A member of a backend family: its kind, its file, and (for a stanza or a Kibana rule)
/// its first line and text within that file.
type Member = (Kind, String, Option<(usize, String)>);

/// One rule on one backend: the files its verify cell reads, with only this rule in them.
struct CellFiles {
    spec: usize,
    /// The backend artifact whose cell judges the mutant (`kql/<stem>.kql`).
    artifact: String,
    files: Files,
    /// The unmutated cell fails: its mutants are not judged.
    baseline_fails: Option<String>,
    /// The pieces of this cell (the backend artifact and its wrappers).
    pieces: Vec<usize>,
    /// Differences the unmutated cell's declarations excuse.
    explained: usize,
}

/// The query a wrapper holds for a backend artifact's query `q` (what the backend writes):
/// the Sentinel YAML holds the `.kql` text, a saved search the `.spl` text without its final
/// line break, a Kibana rule the `.eql` text without rmmc's `//` comment lines.
fn wrapper_query(kind: Kind, q: &str) -> Option<String> {
    match kind {
        Kind::SentinelHunting | Kind::SentinelAnalytic => Some(q.to_string()),
        Kind::SplunkSavedsearch => Some(q.trim_end_matches('\n').to_string()),
        Kind::ElasticNdjson => Some(
            q.lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .map(|l| format!("{l}\n"))
                .collect(),
        ),
        _ => None,
    }
}

pub struct MutateOptions {
    /// A stratified sample of this many mutants, spread over the artifact kinds.
    pub sample: Option<usize>,
    pub seed: u64,
}

/// Generate every mutant of `files` (the artifacts of `specs`), run verify on each and
/// report per artifact kind.
pub fn run(
    specs: &[LoadedSpec],
    files: &Files,
    fixtures: &[Case],
    renderings: &[Rendering],
    vopts: &VerifyOptions,
    mopts: &MutateOptions,
) -> MutationReport {
    // one IR per detection, with that detection alone (so verify runs only it)
    let mut singles: Vec<IrSpec> = Vec::new();
    let mut rendering_of: Vec<Vec<Rendering>> = Vec::new();
    let mut by_rule: HashMap<(&str, &str), Vec<&Rendering>> = HashMap::new();
    for r in renderings {
        by_rule
            .entry((r.spec.as_str(), r.detection.as_str()))
            .or_default()
            .push(r);
    }
    let conf = files
        .get("splunk/savedsearches.conf")
        .map(|t| stanzas(t))
        .unwrap_or_default();
    let ndjson: HashMap<String, (usize, &str)> = files
        .get("elastic/rules.ndjson")
        .map(|t| {
            t.lines()
                .enumerate()
                .filter_map(|(i, l)| {
                    let v: serde_json::Value = serde_json::from_str(l).ok()?;
                    Some((v.get("rule_id")?.as_str()?.to_string(), (i + 1, l)))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut cells: Vec<CellFiles> = Vec::new();
    let mut pieces: Vec<Piece> = Vec::new();
    for loaded in specs {
        let ir = crate::ir::lower(loaded);
        for det in &ir.detections {
            let mut single = crate::ir::lower(loaded);
            single.detections.retain(|d| d.id == det.id);
            let spec_idx = singles.len();
            singles.push(single);
            rendering_of.push(
                by_rule
                    .get(&(ir.id.as_str(), det.id.as_str()))
                    .map(|v| v.iter().map(|r| (*r).clone()).collect())
                    .unwrap_or_default(),
            );
            for &source in &det.sources {
                let id = RuleId::new(&ir, det, source);
                let stem = &id.stem;
                let header = format!("{}/{} ({})", ir.id, det.id, source);
                let families: [(&str, Vec<Member>); 4] = [
                    (
                        "kql",
                        vec![
                            (Kind::Kql, format!("kql/{stem}.kql"), None),
                            (
                                Kind::SentinelHunting,
                                format!("sentinel/hunting/{stem}.yaml"),
                                None,
                            ),
                            (
                                Kind::SentinelAnalytic,
                                format!("sentinel/analytic/{stem}.yaml"),
                                None,
                            ),
                        ],
                    ),
                    (
                        "sigma",
                        vec![(Kind::Sigma, format!("sigma/{stem}.yml"), None)],
                    ),
                    (
                        "splunk",
                        vec![
                            (Kind::SplunkSpl, format!("splunk/{stem}.spl"), None),
                            (
                                Kind::SplunkSavedsearch,
                                "splunk/savedsearches.conf".into(),
                                conf.get(&header).map(|(l, t)| (*l, t.to_string())),
                            ),
                        ],
                    ),
                    (
                        "elastic",
                        vec![
                            (Kind::ElasticEql, format!("elastic/{stem}.eql"), None),
                            (
                                Kind::ElasticNdjson,
                                "elastic/rules.ndjson".into(),
                                ndjson
                                    .get(&id.uuid("elastic-rule").to_string())
                                    .map(|(l, t)| (*l, format!("{t}\n"))),
                            ),
                        ],
                    ),
                ];
                for (_, members) in families {
                    let artifact = members[0].1.clone();
                    if !files.contains_key(&artifact) {
                        continue;
                    }
                    let cell = cells.len();
                    let mut mini = Files::new();
                    let mut members_at = Vec::new();
                    for (kind, path, part) in members {
                        let (first_line, text) = match part {
                            Some((l, t)) => (l, t),
                            None if matches!(
                                kind,
                                Kind::SplunkSavedsearch | Kind::ElasticNdjson
                            ) =>
                            {
                                continue
                            }
                            None => match files.get(&path) {
                                Some(t) => (1, t.clone()),
                                None => continue,
                            },
                        };
                        mini.insert(path.clone(), text.clone());
                        let text = if kind == Kind::ElasticNdjson {
                            text.trim_end_matches('\n').to_string()
                        } else {
                            text
                        };
                        if let Some(p) = Piece::new(kind, path, text, first_line, cell) {
                            members_at.push(pieces.len());
                            pieces.push(p);
                        }
                    }
                    cells.push(CellFiles {
                        spec: spec_idx,
                        artifact,
                        files: mini,
                        baseline_fails: None,
                        pieces: members_at,
                        explained: 0,
                    });
                }
            }
        }
    }
    // every mutant, in a fixed order: piece by piece, edit by edit
    let mut all: Vec<(usize, Edit)> = Vec::new();
    for (pi, p) in pieces.iter().enumerate() {
        for e in ops::mutants(p.kind.lang(), &p.query) {
            all.push((pi, e));
        }
    }
    let generated = all.len();
    let chosen: Vec<usize> = match mopts.sample {
        Some(n) if n < generated => sample(&all, &pieces, n, mopts.seed),
        _ => (0..generated).collect(),
    };
    // the cell's failure, if it fails, and how many differences declarations excused
    let judge = |files: &Files, cell: &CellFiles| -> (Option<String>, usize) {
        let rep = verify(
            std::slice::from_ref(&singles[cell.spec]),
            files,
            fixtures,
            &rendering_of[cell.spec],
            vopts,
        );
        match rep.cells.iter().find(|c| c.artifact == cell.artifact) {
            None => (Some("verify judged no cell for the artifact".into()), 0),
            // the cell fails as `rmmc verify` would fail it
            Some(c) => (
                c.error.clone().or_else(|| {
                    if c.mismatched > 0 {
                        Some(format!("{} cases mismatched", c.mismatched))
                    } else if c.uncovered > 0 {
                        Some(format!("{} conditions uncovered", c.uncovered))
                    } else if !c.judged() {
                        Some(format!("{} of {} cases skipped", c.skipped, c.cases))
                    } else {
                        None
                    }
                }),
                c.explained,
            ),
        }
    };
    // the baselines of the cells the sample touches
    let mut need: Vec<usize> = chosen.iter().map(|&i| pieces[all[i].0].cell).collect();
    need.sort_unstable();
    need.dedup();
    let base: Vec<(usize, (Option<String>, usize))> =
        parallel(&need, |&c| (c, judge(&cells[c].files, &cells[c])));
    for (c, (fails, explained)) in base {
        cells[c].baseline_fails = fails;
        cells[c].explained = explained;
    }
    let results: Vec<Mutant> = parallel(&chosen, |&i| {
        let (pi, edit) = &all[i];
        let p = &pieces[*pi];
        let cell = &cells[p.cell];
        let q = edit.apply(&p.query);
        let text = p.encode(&q);
        let (line, col) = locate(&p.text, &text, p.first_line);
        let (before, after) = snippet(&p.query, edit);
        let (status, reason) = if let Some(why) = &edit.equivalent {
            (Status::Equivalent, Some(why.clone()))
        } else if let Some(err) = p.invalid(&q, &text) {
            (Status::Invalid, Some(err))
        } else if cell.baseline_fails.is_some() {
            (Status::BaselineFails, cell.baseline_fails.clone())
        } else {
            let mut files = cell.files.clone();
            // A backend artifact's mutant stands for a compiler bug, which its wrappers
            // would carry too: they get the same query, so the mutant is judged by what it
            // means, not by the wrapper comparison. A wrapper's own mutant stays alone.
            for &wi in &cell.pieces {
                let w = &pieces[wi];
                if wi == *pi || w.kind.lang() != p.kind.lang() {
                    continue;
                }
                let (Some(was), Some(now)) =
                    (wrapper_query(w.kind, &p.query), wrapper_query(w.kind, &q))
                else {
                    continue;
                };
                if wrapper_query(p.kind, "").is_none() && was == w.query {
                    files.insert(w.path.clone(), w.mini(&w.encode(&now)));
                }
            }
            files.insert(p.path.clone(), p.mini(&text));
            match judge(&files, cell) {
                (Some(why), _) => (Status::Killed, Some(why)),
                (None, explained) => (
                    Status::Survived,
                    (explained > cell.explained).then(|| {
                        format!(
                            "{} more differences excused by declared renderings",
                            explained - cell.explained
                        )
                    }),
                ),
            }
        };
        Mutant {
            id: i,
            kind: p.kind,
            file: p.path.clone(),
            line,
            col,
            op: edit.op,
            before,
            after,
            construct: edit.construct.clone(),
            status,
            reason,
        }
    });
    report::report(generated, mopts, results)
}

/// `f` over `items` on every core (at most 8), results in the order of `items`.
fn parallel<I: Sync, R: Send>(items: &[I], f: impl Fn(&I) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let next = AtomicUsize::new(0);
    let mut out: Vec<(usize, R)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else {
                            break;
                        };
                        mine.push((i, f(item)));
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a mutation worker panicked"))
            .collect()
    });
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}

/// `n` mutant indices spread over the kinds: each kind's mutants in a seeded shuffle, taken
/// round-robin across kinds; returned in id order.
fn sample(all: &[(usize, Edit)], pieces: &[Piece], n: usize, seed: u64) -> Vec<usize> {
    let mut by_kind: BTreeMap<Kind, Vec<usize>> = BTreeMap::new();
    for (i, (pi, _)) in all.iter().enumerate() {
        by_kind.entry(pieces[*pi].kind).or_default().push(i);
    }
    let mut state = seed ^ 0x9E37_79B9_7F4A_7C15;
    let mut rand = move || {
        // splitmix64
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut lists: Vec<Vec<usize>> = by_kind.into_values().collect();
    for l in &mut lists {
        for i in (1..l.len()).rev() {
            let j = (rand() % (i as u64 + 1)) as usize;
            l.swap(i, j);
        }
    }
    let mut out = Vec::with_capacity(n);
    let mut round = 0;
    while out.len() < n {
        let before = out.len();
        for l in &lists {
            if out.len() < n {
                if let Some(&i) = l.get(round) {
                    out.push(i);
                }
            }
        }
        if out.len() == before {
            break;
        }
        round += 1;
    }
    out.sort_unstable();
    out
}

/// The stanzas of `savedsearches.conf` by their `# spec/detection (source)` header: the
/// header's line and the stanza text (up to the blank line after it).
fn stanzas(conf: &str) -> HashMap<String, (usize, String)> {
    let mut out = HashMap::new();
    let lines: Vec<&str> = conf.split_inclusive('\n').collect();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        let next_is_stanza = lines.get(i + 1).is_some_and(|n| n.starts_with('['));
        match l
            .strip_prefix("# ")
            .and_then(|h| h.split(", rmmc id").next())
        {
            Some(h) if next_is_stanza => {
                let start = i;
                let mut j = i;
                while j < lines.len() && !lines[j].trim().is_empty() {
                    j += 1;
                }
                out.insert(h.to_string(), (start + 1, lines[start..j].concat()));
                i = j;
            }
            _ => i += 1,
        }
    }
    out
}

/// Where the mutated piece first differs from the original: line and column in the file.
fn locate(orig: &str, new: &str, first_line: usize) -> (usize, usize) {
    let mut p = orig
        .bytes()
        .zip(new.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    while !orig.is_char_boundary(p) {
        p -= 1;
    }
    let line = first_line + orig[..p].matches('\n').count();
    let line_start = orig[..p].rfind('\n').map_or(0, |k| k + 1);
    (line, orig[line_start..p].chars().count() + 1)
}

/// The edit shown in its line: `…context[old]context…` and `…context[new]context…`, line
/// breaks as `⏎`.
fn snippet(q: &str, e: &Edit) -> (String, String) {
    let left: String = {
        let l = &q[..e.start];
        let l = &l[l.rfind('\n').map_or(0, |k| k + 1)..];
        let n = l.chars().count();
        l.chars().skip(n.saturating_sub(24)).collect()
    };
    let right: String = {
        let r = &q[e.end..];
        r[..r.find('\n').unwrap_or(r.len())]
            .chars()
            .take(24)
            .collect()
    };
    let show = |mid: &str| {
        let mid: String = mid.chars().take(160).collect();
        format!("{left}[{}]{right}", mid.replace('\n', "⏎"))
    };
    (show(&q[e.start..e.end]), show(&e.with))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_reports_line_col_and_context() {
        assert_eq!(locate("ab\ncd 'xyz' e\n", "ab\ncd 'xqz' e\n", 10), (11, 6));
        let e = Edit {
            op: "x",
            start: 8,
            end: 9,
            with: "q".into(),
            construct: String::new(),
            equivalent: None,
        };
        let (b, a) = snippet("ab\ncd 'xyz' e\n", &e);
        assert_eq!(b, "cd 'x[y]z' e");
        assert_eq!(a, "cd 'x[q]z' e");
    }

    #[test]
    fn wrappers_round_trip_and_re_encode() {
        let yaml = "id: x\nquery: |\n  T\n  | where A has 'b'\n\n  | take 1\nversion: 1\n";
        let p = Piece::new(Kind::SentinelHunting, "h".into(), yaml.into(), 1, 0).unwrap();
        assert_eq!(p.query, "T\n| where A has 'b'\n\n| take 1\n");
        assert_eq!(
            p.encode("T\n| take 1\n"),
            "id: x\nquery: |\n  T\n  | take 1\nversion: 1\n"
        );
        let conf = "# a/b (endpoint), rmmc id 1\n[N]\nsearch = x\\\n| where y\nz = 1\n";
        let p = Piece::new(Kind::SplunkSavedsearch, "c".into(), conf.into(), 1, 0).unwrap();
        assert_eq!(p.query, "x\n| where y");
        assert_eq!(
            p.encode("x\n| where q"),
            conf.replace("| where y", "| where q")
        );
        let line = r#"{"a":1,"query":"x \"y\"\nz","rule_id":"r"}"#;
        let p = Piece::new(Kind::ElasticNdjson, "n".into(), line.into(), 1, 0).unwrap();
        assert_eq!(p.query, "x \"y\"\nz");
        assert_eq!(
            p.encode("x \"w\"\nz"),
            r#"{"a":1,"query":"x \"w\"\nz","rule_id":"r"}"#
        );
        let s = stanzas("# head\n\n# a/b (endpoint), rmmc id 1\n[N]\nk = v\n\n# c/d (firewall), rmmc id 2\n[M]\nk = w\n");
        assert_eq!(
            s["a/b (endpoint)"],
            (3, "# a/b (endpoint), rmmc id 1\n[N]\nk = v\n".to_string())
        );
        assert_eq!(s["c/d (firewall)"].0, 7);
    }

    #[test]
    fn sample_is_stratified_and_deterministic() {
        let mk = |kind| Piece {
            kind,
            path: String::new(),
            text: String::new(),
            codec: Codec::Plain,
            first_line: 1,
            query: String::new(),
            cell: 0,
        };
        let pieces = vec![mk(Kind::Kql), mk(Kind::Sigma)];
        let e = Edit {
            op: "x",
            start: 0,
            end: 0,
            with: String::new(),
            construct: String::new(),
            equivalent: None,
        };
        let all: Vec<(usize, Edit)> = (0..100)
            .map(|i| (usize::from(i >= 90), e.clone()))
            .collect();
        let s = sample(&all, &pieces, 20, 7);
        assert_eq!(s.len(), 20);
        assert_eq!(s.iter().filter(|&&i| i >= 90).count(), 10);
        assert_eq!(s, sample(&all, &pieces, 20, 7));
        assert_ne!(s, sample(&all, &pieces, 20, 8));
    }
}
