//! `stats`: events folded in one at a time, per group of by-field values.

use super::value::*;
use super::{order, owned, push_key};
use crate::eval::spl::ast::*;
use crate::eval::spl::parser::number;
use serde_json::Value;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};

pub(super) fn stats(rows: &[Cow<'_, Row>], aggs: &[(String, Agg)], by: &[String]) -> Vec<Row> {
    let mut s = Stats::new(aggs, by);
    for row in rows {
        s.push(row);
    }
    s.finish()
}

/// `stats` state, folded in one event at a time: per group the by-field values, the event
/// count and, per aggregate, what its result needs (a count, the distinct texts, the least
/// and greatest number and text), so memory grows with the groups and their distinct values,
/// not with the events.
pub struct Stats<'p> {
    aggs: &'p [(String, Agg)],
    /// Per aggregate, the place in `fields` of the field it reads (`None`: `count`).
    reads: Vec<Option<usize>>,
    /// The fields the aggregates read, each once (`min(_time) max(_time)` read it once).
    fields: Vec<&'p str>,
    by: &'p [String],
    groups: Vec<Group>,
    index: HashMap<String, usize>,
    key: String,
}

pub(super) struct Group {
    keys: Vec<V<'static>>,
    count: usize,
    accs: Vec<StatAcc>,
}

/// One aggregate of one group: `n` values seen; `texts` their distinct texts (`values`,
/// `dc`); the least and greatest number (NaN left out) and text (`min`, `max`).
#[derive(Clone, Default)]
pub(super) struct StatAcc {
    n: usize,
    texts: BTreeSet<String>,
    num: Option<(f64, f64)>,
    text: Option<(String, String)>,
}

impl StatAcc {
    fn add(&mut self, agg: &Agg, v: &V) {
        self.n += 1;
        let text = || v.text().ok().flatten().unwrap_or_default();
        match agg {
            Agg::Values(_) | Agg::Dc(_) => {
                let t = text();
                if !self.texts.contains(t.as_ref()) {
                    self.texts.insert(t.into_owned());
                }
            }
            Agg::Min(_) | Agg::Max(_) => {
                if let V::Num { n, .. } = v {
                    if !n.is_nan() {
                        self.num = Some(match self.num {
                            Some((lo, hi)) => (lo.min(*n), hi.max(*n)),
                            None => (*n, *n),
                        });
                    }
                }
                // `result` reads the texts only when no value was a number: once one was,
                // the texts are never read
                if self.num.is_some() {
                    return;
                }
                let t = text();
                match &mut self.text {
                    Some((lo, hi)) => {
                        if t.as_ref() < lo.as_str() {
                            *lo = t.to_string();
                        }
                        if t.as_ref() > hi.as_str() {
                            *hi = t.into_owned();
                        }
                    }
                    None => self.text = Some((t.to_string(), t.into_owned())),
                }
            }
            Agg::Count | Agg::CountOf(_) => {}
        }
    }

    fn result(self, agg: &Agg, count: usize) -> Option<Value> {
        match agg {
            Agg::Count => Some(Value::from(count)),
            Agg::CountOf(_) => Some(Value::from(self.n)),
            Agg::Dc(_) => Some(Value::from(self.texts.len())),
            Agg::Values(_) => (!self.texts.is_empty())
                .then(|| Value::Array(self.texts.into_iter().map(Value::String).collect())),
            Agg::Min(_) | Agg::Max(_) => {
                let min = matches!(agg, Agg::Min(_));
                match (self.num, self.text) {
                    (Some((lo, hi)), _) => Some(json_num(if min { lo } else { hi })),
                    (None, Some((lo, hi))) => Some(Value::String(if min { lo } else { hi })),
                    (None, None) => None,
                }
            }
        }
    }
}

/// The field an aggregate reads (`None`: `count`).
fn agg_field(a: &Agg) -> Option<&str> {
    match a {
        Agg::Count => None,
        Agg::CountOf(f) | Agg::Min(f) | Agg::Max(f) | Agg::Values(f) | Agg::Dc(f) => {
            Some(f.as_str())
        }
    }
}

impl<'p> Stats<'p> {
    pub fn new(aggs: &'p [(String, Agg)], by: &'p [String]) -> Stats<'p> {
        let mut fields: Vec<&str> = Vec::new();
        let reads = aggs
            .iter()
            .map(|(_, a)| {
                let f = agg_field(a)?;
                Some(fields.iter().position(|g| *g == f).unwrap_or_else(|| {
                    fields.push(f);
                    fields.len() - 1
                }))
            })
            .collect();
        let mut s = Stats {
            aggs,
            reads,
            fields,
            by,
            groups: Vec::new(),
            index: HashMap::new(),
            key: String::new(),
        };
        if by.is_empty() {
            s.groups.push(Group {
                keys: Vec::new(),
                count: 0,
                accs: vec![StatAcc::default(); aggs.len()],
            });
            s.index.insert(String::new(), 0);
        }
        s
    }

    pub fn push(&mut self, row: &Row) {
        // each field the aggregates read, read once
        let vals: Vec<V> = self.fields.iter().map(|f| field(row, f)).collect();
        // Each by-field value (every value of a multivalue field) makes a group key.
        let single: Vec<V> = self.by.iter().map(|b| field(row, b)).collect();
        let combos: Vec<Vec<V>> = if single.iter().all(|v| !matches!(v, V::Null | V::Multi(_))) {
            vec![single]
        } else {
            let mut combos: Vec<Vec<V>> = vec![Vec::new()];
            for v in single {
                let opts: Vec<V> = match v {
                    V::Null => Vec::new(),
                    V::Multi(xs) => xs.into_iter().map(|x| V::Str(Cow::Owned(x))).collect(),
                    v => vec![v],
                };
                combos = combos
                    .into_iter()
                    .flat_map(|c| {
                        opts.iter().map(move |o| {
                            let mut c = c.clone();
                            c.push(o.clone());
                            c
                        })
                    })
                    .collect();
            }
            combos
        };
        for keys in combos {
            self.key.clear();
            for k in &keys {
                push_key(&mut self.key, &k.text().ok().flatten().unwrap_or_default());
            }
            let gi = match self.index.get(self.key.as_str()) {
                Some(gi) => *gi,
                None => {
                    self.groups.push(Group {
                        keys: keys.into_iter().map(owned).collect(),
                        count: 0,
                        accs: vec![StatAcc::default(); self.aggs.len()],
                    });
                    self.index.insert(self.key.clone(), self.groups.len() - 1);
                    self.groups.len() - 1
                }
            };
            let g = &mut self.groups[gi];
            g.count += 1;
            for (((_, a), acc), read) in self.aggs.iter().zip(&mut g.accs).zip(&self.reads) {
                let Some(i) = *read else { continue };
                match &vals[i] {
                    V::Null => {}
                    V::Multi(xs) => {
                        for s in xs {
                            let v = match number(s) {
                                Some(n) => V::Num {
                                    n,
                                    text: Cow::Borrowed(s.as_str()),
                                    json: false,
                                },
                                None => V::Str(Cow::Borrowed(s.as_str())),
                            };
                            acc.add(a, &v);
                        }
                    }
                    v => acc.add(a, v),
                }
            }
        }
    }

    pub fn finish(mut self) -> Vec<Row> {
        self.groups.sort_by(|a, b| {
            a.keys
                .iter()
                .zip(&b.keys)
                .map(|(x, y)| order(x, y))
                .find(|o| *o != Ordering::Equal)
                .unwrap_or(Ordering::Equal)
        });
        self.groups
            .into_iter()
            .map(|g| {
                let mut out = Row::new();
                for (b, k) in self.by.iter().zip(g.keys) {
                    if let Some(v) = to_json(k) {
                        out.insert(b.clone(), v);
                    }
                }
                for ((name, a), acc) in self.aggs.iter().zip(g.accs) {
                    if let Some(v) = acc.result(a, g.count) {
                        out.insert(name.clone(), v);
                    }
                }
                out
            })
            .collect()
    }
}
