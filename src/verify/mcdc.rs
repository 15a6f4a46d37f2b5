//! Condition coverage (MC/DC, as DO-178C defines it): for every *condition* of a rule — one
//! value of one match, in the detection or in an exclusion — a pair of canonical events that
//! differ only in that condition and flip the rule's verdict, every other condition held at a
//! value that lets it matter (the other branches of an `any:` false, the other members of an
//! `all:` true, every other exclusion off).
//!
//! The pair is found by a small search: the path from the rule's root to the condition says
//! which other sub-predicates must be true or false; `all: false` and `any: true` offer a
//! choice of child, tried in order; each field then gets the first candidate value (the
//! rule's own values and their near misses) that gives every condition on it the required
//! truth. The result is checked with the IR interpreter: a pair counts only if the rule's
//! verdict really flips.
//!
//! Events are *consistent* as real telemetry is: a process path ends with the process name
//! (Defender's `FolderPath` and `FileName`; Sysmon holds one `Image` for both), so a case can
//! be written in every backend's native shape instead of being skipped there.
//!
//! Stays whole (over 600 lines): one job, finding each condition's MC/DC pair (condition tree,
//! sensitizing path, the solver that builds the events); a seventh of it is its tests.

use crate::ir::{Event, Expr, IrDetection, Match, Test, TextOp};
use crate::spec::Source;
use serde_json::{json, Map, Value};

/// One condition: a single value of one match.
#[derive(Clone, Debug)]
pub struct Condition {
    /// `detection` or `exclusion <id>`, as the backends' renderings name the part.
    pub part: String,
    /// The whole match the value belongs to (renderings are declared per match).
    pub leaf: Match,
    /// The match narrowed to this one value.
    pub single: Match,
    /// `detection: remote_domain term [x.com] value x.com`
    pub label: String,
}

/// What the search found for a condition.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// Two events, the condition true in the first and false in the second, whose verdicts
    /// differ.
    Pair {
        on: Map<String, Value>,
        off: Map<String, Value>,
    },
    /// No event lets this condition decide the verdict (e.g. a value implied by another value
    /// of the same list: `contains [AnyDesk, AnyDesk.exe]`), with the reason.
    Masked(String),
    /// The search ran out of steps before finding a pair or proving there is none: counted
    /// as uncovered, never as masked.
    GaveUp,
}

/// A rule's predicate over conditions: the detection, minus the exclusions that apply.
#[derive(Debug)]
enum Node {
    All(Vec<Node>),
    Any(Vec<Node>),
    Not(Box<Node>),
    Cond(usize),
}

/// Canonical fields one path holds together: (full path, the name that is its last component).
pub const PATH_NAME: &[(&str, &str)] = &[
    ("process_folder_path", "process_name"),
    ("initiating_folder_path", "initiating_process_name"),
    ("parent_folder_path", "parent_process_name"),
    ("file_folder_path", "file_name"),
];

/// The part of a Windows path after its last `\`.
pub fn basename(path: &str) -> &str {
    path.rsplit('\\').next().unwrap_or(path)
}

fn single(m: &Match, i: usize) -> Match {
    let test = match &m.test {
        Test::Text { op, values, cased } => Test::Text {
            op: *op,
            values: vec![values[i].clone()],
            cased: *cased,
        },
        Test::Domain(v) => Test::Domain(vec![v[i].clone()]),
        Test::Ip(v) => Test::Ip(vec![v[i]]),
        Test::Cidr(v) => Test::Cidr(vec![v[i]]),
        Test::Port(v) => Test::Port(vec![v[i]]),
        Test::Digest(v) => Test::Digest(vec![v[i].clone()]),
    };
    Match {
        test,
        list: None,
        ..m.clone()
    }
}

fn tree(e: &Expr, part: &str, conds: &mut Vec<Condition>) -> Node {
    match e {
        Expr::All(v) => Node::All(v.iter().map(|x| tree(x, part, conds)).collect()),
        Expr::Any(v) => Node::Any(v.iter().map(|x| tree(x, part, conds)).collect()),
        Expr::Not(x) => Node::Not(Box::new(tree(x, part, conds))),
        Expr::Match(m) => {
            let mut each: Vec<Node> = (0..m.test.value_count())
                .map(|i| {
                    let s = single(m, i);
                    conds.push(Condition {
                        part: part.to_string(),
                        label: format!("{part}: {m} value {}", s.test.first_value()),
                        leaf: m.clone(),
                        single: s,
                    });
                    Node::Cond(conds.len() - 1)
                })
                .collect();
            if each.len() == 1 {
                each.pop().expect("one value")
            } else {
                Node::Any(each)
            }
        }
    }
}

/// The rule of `det` on `source` as a tree over its conditions (exclusions only when they
/// apply), and the conditions.
fn rule_tree(det: &IrDetection, source: Source, exclusions: bool) -> (Node, Vec<Condition>) {
    let mut conds = Vec::new();
    let d = tree(&det.expr, "detection", &mut conds);
    let xs: Vec<Node> = det
        .exclusions
        .iter()
        .filter(|x| exclusions && x.sources.contains(&source))
        .map(|x| tree(&x.expr, &format!("exclusion {}", x.id), &mut conds))
        .collect();
    let root = if xs.is_empty() {
        d
    } else {
        Node::All(vec![d, Node::Not(Box::new(Node::Any(xs)))])
    };
    (root, conds)
}

/// The sub-predicates that must hold (with the truth each needs) for `target` to decide the
/// value of `node`: the siblings along the path from `node` to it.
fn sensitize<'n>(node: &'n Node, target: usize, out: &mut Vec<(&'n Node, bool)>) -> bool {
    match node {
        Node::Cond(i) => *i == target,
        Node::Not(x) => sensitize(x, target, out),
        Node::All(v) | Node::Any(v) => {
            let need = matches!(node, Node::All(_));
            let Some(k) = v.iter().position(|c| contains(c, target)) else {
                return false;
            };
            sensitize(&v[k], target, out);
            out.extend(
                v.iter()
                    .enumerate()
                    .filter(|(j, _)| *j != k)
                    .map(|(_, c)| (c, need)),
            );
            true
        }
    }
}

fn contains(node: &Node, target: usize) -> bool {
    match node {
        Node::Cond(i) => *i == target,
        Node::Not(x) => contains(x, target),
        Node::All(v) | Node::Any(v) => v.iter().any(|c| contains(c, target)),
    }
}

/// Candidate values for a field, in the order they are tried: values that satisfy a match,
/// then values that almost do, then a neutral filler.
fn near_misses(t: &Test) -> Vec<Value> {
    let mut out = Vec::new();
    match t {
        Test::Text { values, op, .. } => {
            for v in values {
                out.push(json!(changed(v)));
                out.push(json!(format!("x{v}")));
                out.push(json!(format!("{v}x")));
                if *op == TextOp::Exact {
                    out.push(json!(v.chars().skip(1).collect::<String>()));
                }
            }
        }
        Test::Domain(ds) => {
            for d in ds {
                out.push(json!(changed(d)));
                out.push(json!(format!("x{d}")));
                out.push(json!(format!("{d}.x")));
            }
        }
        Test::Digest(hs) => hs.iter().for_each(|h| out.push(json!(changed(h)))),
        Test::Ip(ips) => {
            for ip in ips {
                if let std::net::IpAddr::V4(v4) = ip {
                    out.push(json!(std::net::Ipv4Addr::from(
                        u32::from(*v4).wrapping_add(1)
                    )
                    .to_string()));
                }
            }
        }
        Test::Cidr(nets) => {
            for n in nets {
                if let std::net::IpAddr::V4(v4) = n.addr {
                    let size = 1u64 << (32 - u32::from(n.prefix));
                    let past = (u64::from(u32::from(v4)) + size) as u32;
                    out.push(json!(std::net::Ipv4Addr::from(past).to_string()));
                }
            }
        }
        Test::Port(ps) => ps
            .iter()
            .for_each(|p| out.push(json!(u32::from(*p) % 65535 + 1))),
    }
    out
}

/// The value with one letter or digit near its middle replaced by another of its kind, so
/// the result is as long and as shaped as the value but equal to it under no folding.
fn changed(v: &str) -> String {
    let chars: Vec<char> = v.chars().collect();
    let mid = chars.len() / 2;
    let pick = (0..chars.len())
        .map(|k| (mid + k) % chars.len().max(1))
        .find(|&i| chars[i].is_ascii_alphanumeric());
    match pick {
        Some(i) => {
            let mut c = chars;
            c[i] = match c[i] {
                '0'..='8' => char::from(c[i] as u8 + 1),
                '9' => '0',
                'q' | 'Q' => 'z',
                _ => 'q',
            };
            c.into_iter().collect()
        }
        None => format!("{v}q"),
    }
}

/// Values that satisfy several text matches on one field at once: the prefix, then what
/// must be contained (as separate words), then the suffix (`prefix [aa_v]` and
/// `suffix [.exe]` → `aa_v.exe`, `aa_v x .exe`).
fn composites(must: &[&Test]) -> Vec<Value> {
    let (mut pre, mut mid, mut suf) = (String::new(), Vec::new(), String::new());
    for t in must {
        match t {
            Test::Text { op, values, .. } => match op {
                TextOp::Prefix | TextOp::Exact if pre.is_empty() => pre.clone_from(&values[0]),
                TextOp::Suffix if suf.is_empty() => suf.clone_from(&values[0]),
                _ => mid.push(values[0].clone()),
            },
            Test::Domain(ds) => mid.push(ds[0].clone()),
            _ => {}
        }
    }
    let words = mid.join(" ");
    vec![
        json!(format!("{pre}{words}{suf}")),
        json!(format!("{pre} {words} {suf}")),
        json!(format!("{pre}x{}x{suf}", mid.join("x"))),
    ]
}

fn witnesses(t: &Test) -> Vec<Value> {
    match t {
        Test::Text { values, .. } | Test::Domain(values) | Test::Digest(values) => {
            values.iter().map(|v| json!(v)).collect()
        }
        Test::Ip(v) => v.iter().map(|x| json!(x.to_string())).collect(),
        Test::Cidr(v) => v.iter().map(|x| json!(x.addr.to_string())).collect(),
        Test::Port(v) => v.iter().map(|x| json!(x)).collect(),
    }
}

/// Neutral values of a field's type: letters only (no punctuation a `contains` value could
/// be), and the empty field.
fn filler(t: &Test) -> Vec<Value> {
    match t {
        Test::Text { .. } | Test::Domain(_) => vec![json!("rmmcother"), json!("")],
        Test::Digest(_) => vec![json!("0".repeat(64)), json!("")],
        Test::Ip(_) | Test::Cidr(_) => vec![json!("198.51.100.7"), json!("2001:db8::7"), json!("")],
        Test::Port(_) => vec![json!(1), json!(65535)],
    }
}

/// Per condition, the truth the search requires (`None`: free).
type Assign = Vec<Option<bool>>;

struct Solver<'a> {
    conds: &'a [Condition],
    /// Steps left before the search gives up on a condition.
    budget: usize,
}

impl Solver<'_> {
    /// Satisfy `goals` (sub-predicate, truth) on top of `assign`; the first assignment found.
    fn solve(&mut self, goals: &mut Vec<(&Node, bool)>, assign: &mut Assign) -> bool {
        if self.budget == 0 {
            return false;
        }
        self.budget -= 1;
        let Some((node, want)) = goals.pop() else {
            // every requirement placed: each field must still have a fitting value (the
            // `false` ones are checked here, once, rather than one by one)
            return self.all_feasible(assign);
        };
        let ok = match (node, want) {
            (Node::Cond(i), b) => match assign[*i] {
                Some(x) => x == b && self.solve(goals, assign),
                None => {
                    assign[*i] = Some(b);
                    // a `true` requirement is checked at once (it prunes the choices early);
                    // the many `false` ones of a value list at the end
                    let ok = (!b || self.feasible(*i, assign)) && self.solve(goals, assign);
                    if !ok {
                        assign[*i] = None;
                    }
                    ok
                }
            },
            (Node::Not(x), b) => {
                goals.push((x, !b));
                let ok = self.solve(goals, assign);
                if !ok {
                    goals.pop();
                }
                ok
            }
            // A value list (`any:` of single values on one field) held false, or an `all:`
            // of single values held true: assigned at once and checked once, not value by
            // value (a list of n values would cost n² checks per condition).
            (Node::All(v), true) | (Node::Any(v), false)
                if v.iter().all(|c| matches!(c, Node::Cond(_))) =>
            {
                let ids: Vec<usize> = v
                    .iter()
                    .filter_map(|c| match c {
                        Node::Cond(i) => Some(*i),
                        _ => None,
                    })
                    .collect();
                if ids.iter().any(|&i| assign[i].is_some_and(|x| x != want)) {
                    false
                } else {
                    let fresh: Vec<usize> =
                        ids.into_iter().filter(|&i| assign[i].is_none()).collect();
                    for &i in &fresh {
                        assign[i] = Some(want);
                    }
                    let mut fields: Vec<&str> = fresh
                        .iter()
                        .map(|&i| self.conds[i].single.field.name())
                        .collect();
                    fields.sort_unstable();
                    fields.dedup();
                    let ok = fields
                        .iter()
                        .all(|f| self.value_for(f, assign, None).is_some())
                        && self.solve(goals, assign);
                    if !ok {
                        for &i in &fresh {
                            assign[i] = None;
                        }
                    }
                    ok
                }
            }
            (Node::All(v), true) | (Node::Any(v), false) => {
                let n = goals.len();
                goals.extend(v.iter().rev().map(|c| (c, want)));
                let ok = self.solve(goals, assign);
                if !ok {
                    goals.truncate(n);
                }
                ok
            }
            (Node::All(v), false) | (Node::Any(v), true) => {
                let mut ok = false;
                for c in v {
                    let saved_goals = goals.clone();
                    let saved = assign.clone();
                    goals.push((c, want));
                    if self.solve(goals, assign) {
                        ok = true;
                        break;
                    }
                    *goals = saved_goals;
                    *assign = saved;
                }
                ok
            }
        };
        if !ok {
            goals.push((node, want));
        }
        ok
    }

    /// Can every field with a requirement take a value meeting all of them?
    fn all_feasible(&self, assign: &Assign) -> bool {
        let mut fields: Vec<&str> = self
            .conds
            .iter()
            .zip(assign)
            .filter(|(_, a)| a.is_some())
            .map(|(c, _)| c.single.field.name())
            .collect();
        fields.sort_unstable();
        fields.dedup();
        fields
            .iter()
            .all(|f| self.value_for(f, assign, None).is_some())
    }

    /// Can the field of condition `i` take a value meeting every requirement on it?
    fn feasible(&self, i: usize, assign: &Assign) -> bool {
        let field = self.conds[i].single.field.name();
        self.value_for(field, assign, None).is_some()
    }

    /// The first candidate value of `field` giving each condition on it its required truth.
    /// `tail` keeps only candidates whose last path component is that name.
    fn value_for(&self, field: &str, assign: &Assign, tail: Option<&str>) -> Option<Value> {
        self.fitting(field, assign, tail).next()
    }

    /// Every candidate value of `field` (in the order tried) giving each condition on it its
    /// required truth.
    fn fitting<'s>(
        &'s self,
        field: &'s str,
        assign: &'s Assign,
        tail: Option<&'s str>,
    ) -> impl Iterator<Item = Value> + 's {
        let on_field: Vec<(usize, bool)> = self
            .conds
            .iter()
            .enumerate()
            .filter(|(_, c)| c.single.field.name() == field)
            .filter_map(|(i, _)| assign[i].map(|b| (i, b)))
            .collect();
        let must: Vec<&Test> = on_field
            .iter()
            .filter(|(_, b)| *b)
            .map(|&(i, _)| &self.conds[i].single.test)
            .collect();
        let sample = on_field
            .first()
            .map(|&(i, _)| &self.conds[i].single.test)
            .or_else(|| {
                self.conds
                    .iter()
                    .find(|c| c.single.field.name() == field)
                    .map(|c| &c.single.test)
            });
        let empty = on_field.is_empty() && tail.is_none();
        // in the order tried, built only as far as needed: what must hold, near misses of
        // what must not, a neutral filler, then every value of the field and its near misses
        let composite = if must.len() > 1 {
            composites(&must)
        } else {
            Vec::new()
        };
        let falses: Vec<usize> = on_field
            .iter()
            .filter(|(_, b)| !b)
            .map(|&(i, _)| i)
            .collect();
        let cands = must
            .clone()
            .into_iter()
            .flat_map(witnesses)
            .chain(composite)
            .chain(
                falses
                    .into_iter()
                    .flat_map(move |i| near_misses(&self.conds[i].single.test)),
            )
            .chain(sample.into_iter().flat_map(filler))
            .chain(
                self.conds
                    .iter()
                    .filter(move |c| c.single.field.name() == field)
                    .flat_map(|c| {
                        witnesses(&c.single.test)
                            .into_iter()
                            .chain(near_misses(&c.single.test))
                    }),
            )
            .take(if empty { 0 } else { usize::MAX });
        // a path for `tail`: each candidate as it is when it ends with that name, or as a
        // folder holding it
        let cands: Box<dyn Iterator<Item = Value> + 's> = match tail {
            None => Box::new(cands),
            Some(name) => Box::new(
                cands
                    .flat_map(move |c| {
                        let s = c.as_str().unwrap_or_default().to_string();
                        let dir = s.trim_end_matches('\\').to_string();
                        let mut v = Vec::with_capacity(3);
                        if basename(&s) == name {
                            v.push(json!(s));
                        }
                        v.push(json!(format!("{dir}\\{name}")));
                        v.push(json!(format!("C:\\rmmc\\{dir}\\{name}")));
                        v
                    })
                    .chain(std::iter::once(json!(format!("C:\\rmmc\\{name}")))),
            ),
        };
        let mut seen = std::collections::HashSet::new();
        cands
            .filter(move |v| seen.insert(v.to_string()))
            .filter(move |v| {
                let ev = Event(Map::from_iter([(field.to_string(), v.clone())]));
                on_field
                    .iter()
                    .all(|&(i, b)| self.conds[i].single.eval(&ev) == b)
            })
    }

    /// Does `value` give each condition on `field` its required truth?
    fn fits(&self, field: &str, value: &Value, assign: &Assign) -> bool {
        let ev = Event(Map::from_iter([(field.to_string(), value.clone())]));
        self.conds
            .iter()
            .zip(assign)
            .filter(|(c, _)| c.single.field.name() == field)
            .all(|(c, a)| a.is_none_or(|b| c.single.eval(&ev) == b))
    }

    /// An event realizing `assign`: fields in a fixed order, each name before its path, and
    /// every path ending with its name. None when some field has no fitting value.
    fn realize(&self, assign: &Assign) -> Option<Map<String, Value>> {
        let mut fields: Vec<&str> = self
            .conds
            .iter()
            .enumerate()
            .filter(|(i, _)| assign[*i].is_some())
            .map(|(_, c)| c.single.field.name())
            .collect();
        fields.sort_unstable();
        fields.dedup();
        let mut ev = Map::new();
        let paths: Vec<&str> = PATH_NAME.iter().map(|(p, _)| *p).collect();
        for f in fields.iter().filter(|f| !paths.contains(f)) {
            ev.insert(f.to_string(), self.value_for(f, assign, None)?);
        }
        for &(path, name) in PATH_NAME {
            if !fields.contains(&path) {
                continue;
            }
            // the path decides the name: try the paths that fit, each with its last component
            // as the name, before deriving the path from a name chosen alone
            let named = fields.contains(&name);
            let by_path = self.fitting(path, assign, None).find_map(|p| {
                let n = basename(p.as_str()?).to_string();
                let fits = !n.is_empty() && (!named || self.fits(name, &json!(n), assign));
                fits.then_some((p, n))
            });
            match by_path {
                Some((p, n)) => {
                    ev.insert(path.into(), p);
                    ev.insert(name.into(), json!(n));
                }
                None => {
                    let n = ev.get(name).and_then(Value::as_str)?.to_string();
                    if n.contains('\\') {
                        return None;
                    }
                    ev.insert(path.into(), self.value_for(path, assign, Some(&n))?);
                }
            }
        }
        // every requirement holds on the whole event (paths were derived from names)
        let whole = Event(ev.clone());
        self.conds
            .iter()
            .zip(assign)
            .all(|(c, a)| a.is_none_or(|b| c.single.eval(&whole) == b))
            .then_some(ev)
    }
}

/// Steps the search may take per condition: enough for every rule of the corpus, a bound
/// against a pathological spec.
const BUDGET: usize = 20_000;

/// The conditions of the rule `det` on `source`, each with its pair or why it has none.
/// `verdict` is the rule's reference verdict on a canonical event (the IR's, with the
/// exclusions as verify applies them); a pair must flip it.
pub fn pairs(
    det: &IrDetection,
    source: Source,
    exclusions: bool,
    verdict: &dyn Fn(&Map<String, Value>) -> bool,
) -> Vec<(Condition, Outcome)> {
    let (root, conds) = rule_tree(det, source, exclusions);
    let mut out = Vec::with_capacity(conds.len());
    for target in 0..conds.len() {
        let mut goals = Vec::new();
        sensitize(&root, target, &mut goals);
        let outcome = search(&conds, target, goals, verdict);
        out.push((conds[target].clone(), outcome));
    }
    out
}

fn search(
    conds: &[Condition],
    target: usize,
    goals: Vec<(&Node, bool)>,
    verdict: &dyn Fn(&Map<String, Value>) -> bool,
) -> Outcome {
    let mut solver = Solver {
        conds,
        budget: BUDGET,
    };
    let mut assign: Assign = vec![None; conds.len()];
    assign[target] = Some(true);
    // the other values of the same field must leave room for the condition to be false too
    let mut goals = goals;
    if !solver.feasible(target, &assign) {
        return Outcome::Masked(format!(
            "no value of `{}` satisfies it together with what the rest of the rule needs",
            conds[target].single.field
        ));
    }
    if !solver.solve(&mut goals, &mut assign) {
        if solver.budget == 0 {
            return Outcome::GaveUp;
        }
        return Outcome::Masked(
            "no event holds every other condition at a value that lets it decide the verdict"
                .into(),
        );
    }
    let mut off = assign.clone();
    off[target] = Some(false);
    match (solver.realize(&assign), solver.realize(&off)) {
        (Some(on), Some(off)) if verdict(&on) != verdict(&off) => Outcome::Pair { on, off },
        (Some(_), Some(_)) => Outcome::Masked(
            "the events that make it true and false get the same verdict (another condition on the same field changes with it)"
                .into(),
        ),
        (Some(_), None) => Outcome::Masked(format!(
            "no value of `{}` makes it false while the other values on that field keep their truth (a value it implies?)",
            conds[target].single.field
        )),
        _ => Outcome::Masked(format!(
            "no value of `{}` makes it true while the other values on that field are false (implied by another value?)",
            conds[target].single.field
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(where_: &str, exclusions: &str) -> crate::ir::IrSpec {
        let text = format!(
            "id: t\nvendor: T\ndescription: d\nreferences: []\nauthor: a\ndate: 2026-05-31\nseverity: low\n\
             attack: {{ tactics: [CommandAndControl], techniques: [T1219] }}\nwindow: 1d\n\
             detections:\n  d:\n    title: D\n    category: process\n    where:\n{where_}\n    output:\n      summarize: [device_name]\n{exclusions}"
        );
        let spec = crate::spec::load_str(std::path::Path::new("t.yaml"), &text).unwrap();
        crate::ir::lower(&spec)
    }

    fn run(ir: &crate::ir::IrSpec) -> Vec<(Condition, Outcome)> {
        let d = &ir.detections[0];
        pairs(d, Source::Endpoint, true, &|m| {
            d.matches(&Event(m.clone()), Source::Endpoint, true)
        })
    }

    /// The later branches of an `any:` get a pair in which the earlier ones are false.
    #[test]
    fn every_branch_of_any_decides_its_pair() {
        let ir = det(
            "      any:\n        - process_name: { exact: [a.exe, b.exe] }\n        - process_original_file_name: { exact: [c.exe] }\n        - process_company: { term: [Acme] }",
            "",
        );
        let got = run(&ir);
        assert_eq!(got.len(), 4);
        for (c, o) in &got {
            let Outcome::Pair { on, off } = o else {
                panic!("{}: {o:?}", c.label)
            };
            let field = c.single.field.name();
            // only the condition's field (and the path it names) differs
            for (k, v) in on {
                if k != field && k != "process_folder_path" {
                    assert_eq!(off.get(k), Some(v), "{}: {k}", c.label);
                }
            }
            // the other branches are false in the pair
            let ev = Event(on.clone());
            let others = got
                .iter()
                .filter(|(o, _)| o.single != c.single)
                .filter(|(o, _)| o.single.eval(&ev))
                .count();
            assert_eq!(others, 0, "{}: {on:?}", c.label);
        }
    }

    /// An exclusion's condition: the detection true, the other exclusions and the other
    /// branches of its own `any:` false.
    #[test]
    fn exclusion_conditions_flip_the_rule() {
        let ir = det(
            "      all:\n        - process_name: { exact: [agent.exe] }\n        - process_command_line: { contains: [--remote] }",
            "exclusions:\n  x:\n    reason: r\n    where:\n      any:\n        - parent_process_name: { exact: [svc.exe] }\n        - process_command_line: { contains: [--update] }\n  y:\n    reason: r\n    where:\n      process_folder_path: { prefix: ['C:\\Program Files\\Agent\\'] }\n",
        );
        let got = run(&ir);
        assert_eq!(got.len(), 5);
        for (c, o) in &got {
            let Outcome::Pair { on, off } = o else {
                panic!("{}: {o:?}", c.label)
            };
            let d = &ir.detections[0];
            let v = |m: &Map<String, Value>| d.matches(&Event(m.clone()), Source::Endpoint, true);
            assert_ne!(v(on), v(off), "{}", c.label);
            if c.part.starts_with("exclusion") {
                assert!(
                    !v(on) && v(off),
                    "{}: an exclusion's condition suppresses",
                    c.label
                );
            }
            // paths end with the process name
            for m in [on, off] {
                if let (Some(p), Some(n)) = (m.get("process_folder_path"), m.get("process_name")) {
                    assert_eq!(basename(p.as_str().unwrap()), n.as_str().unwrap(), "{m:?}");
                }
            }
        }
    }

    /// A value implied by another of the same list can never decide the verdict.
    #[test]
    fn implied_values_are_masked() {
        let ir = det(
            "      process_command_line: { contains: [AnyDesk, AnyDesk.exe] }",
            "",
        );
        let got = run(&ir);
        assert!(matches!(got[0].1, Outcome::Pair { .. }));
        assert!(matches!(got[1].1, Outcome::Masked(_)), "{:?}", got[1].1);
    }

    #[test]
    fn changed_values_keep_their_shape() {
        assert_eq!(changed("abc"), "aqc");
        assert_eq!(changed("a9"), "a0");
        assert_eq!(changed("..."), "...q");
        assert_eq!(changed(""), "q");
    }
}
