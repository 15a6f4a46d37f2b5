//! The result side of a run: every rule's hits folded, in the export's order, into its
//! outcome (result rows, matches, missing fields, skipped events).

use super::rule::{Query, Rule};
use super::{Checked, Event, Hit, Run};
use crate::eval::engine::json_value;
use crate::eval::kql::interp as kinterp;
use crate::eval::spl;
use serde_json::Value;
use std::borrow::Cow;

/// What one rule did over the export.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Events its filter kept (for EQL and Sigma: the matches).
    pub matched: u64,
    /// The result rows (groups of a `summarize`/`stats`, projected rows, or events).
    pub rows: Vec<Event>,
    /// Matching events (EQL, Sigma) as compact JSON text, in the export's order.
    pub texts: Vec<Box<str>>,
    /// The first evaluation error; the rule stops there.
    pub error: Option<String>,
    /// Fields it reads that no event had (sorted), when there were events.
    pub missing: Vec<String>,
    /// Events outside the rule's scope (another log source, outside the window).
    pub skipped: u64,
}

impl Outcome {
    /// How many result rows.
    pub fn len(&self) -> usize {
        self.rows.len() + self.texts.len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Every result row as a JSON object (the matching events decoded again).
    pub fn maps(&self) -> Vec<Event> {
        let mut out = self.rows.clone();
        out.extend(
            self.texts
                .iter()
                .filter_map(|t| serde_json::from_str::<Event>(t).ok()),
        );
        out
    }
    /// Every result row as one line of compact JSON.
    pub fn lines(&self) -> impl Iterator<Item = Cow<'_, str>> {
        self.rows
            .iter()
            .map(|r| Cow::Owned(Value::Object(r.clone()).to_string()))
            .chain(self.texts.iter().map(|t| Cow::Borrowed(&**t)))
    }
}

/// The result side of one rule, on the thread that keeps the results.
enum Sink<'q> {
    Kql(Box<kinterp::Stream<'q>>),
    Spl(Box<spl::interp::Stream<'q>>),
    Rows,
    Off,
}

/// The results of every rule, folded in the export's order.
pub(super) struct Results<'q> {
    rules: &'q [Rule],
    sinks: Vec<Sink<'q>>,
    outcomes: Vec<Outcome>,
    pub(super) seen: Vec<Vec<bool>>,
    pub(super) events: u64,
}

impl<'q> Results<'q> {
    pub(super) fn new(rules: &'q [Rule], now: i128) -> Results<'q> {
        let mut sinks = Vec::with_capacity(rules.len());
        let mut outcomes = Vec::with_capacity(rules.len());
        for r in rules {
            let mut o = Outcome::default();
            sinks.push(match &r.query {
                Query::Kql(q) => match kinterp::Stream::new(q, now) {
                    Ok(s) => Sink::Kql(Box::new(s)),
                    Err(e) => {
                        o.error = Some(e.to_string());
                        Sink::Off
                    }
                },
                Query::Spl(q) => Sink::Spl(Box::new(spl::interp::Stream::new(
                    &q.search.commands,
                    &q.search.spans,
                    &q.literals,
                    now,
                ))),
                Query::Eql(_) | Query::Sigma(..) => Sink::Rows,
            });
            outcomes.push(o);
        }
        Results {
            rules,
            sinks,
            outcomes,
            seen: rules.iter().map(|r| vec![false; r.fields.len()]).collect(),
            events: 0,
        }
    }

    pub(super) fn add(&mut self, c: Checked) {
        self.events += c.events;
        for (mine, theirs) in self.seen.iter_mut().zip(c.seen) {
            for (a, b) in mine.iter_mut().zip(theirs) {
                *a |= b;
            }
        }
        for (_, hits) in c.hits {
            self.hits(hits);
        }
    }

    /// The hits of one event.
    pub(super) fn hits(&mut self, hits: Vec<(usize, Hit)>) {
        {
            for (i, hit) in hits {
                let (sink, o) = (&mut self.sinks[i], &mut self.outcomes[i]);
                let res = match (hit, &mut *sink) {
                    (_, Sink::Off) => continue,
                    (Hit::Skipped, _) => {
                        o.skipped += 1;
                        continue;
                    }
                    (Hit::Error(e), _) => Err(e),
                    (Hit::Kql(row), Sink::Kql(s)) => s.push(&row).map_err(|e| e.to_string()),
                    (Hit::Row(row), Sink::Spl(s)) => {
                        s.push(Cow::Owned(row));
                        Ok(())
                    }
                    (Hit::Text(t), Sink::Rows) => {
                        o.texts.push(t);
                        Ok(())
                    }
                    _ => Err("internal: a hit of the wrong kind".to_string()),
                };
                match res {
                    Ok(()) => o.matched += 1,
                    Err(e) => {
                        o.error = Some(e);
                        *sink = Sink::Off;
                    }
                }
            }
        }
    }

    pub(super) fn finish(self) -> Run {
        let mut outcomes = self.outcomes;
        for (((sink, o), seen), rule) in self
            .sinks
            .into_iter()
            .zip(&mut outcomes)
            .zip(self.seen)
            .zip(self.rules)
        {
            if self.events > 0 {
                let mut m: Vec<String> = rule
                    .fields
                    .iter()
                    .zip(seen)
                    .filter(|(_, s)| !s)
                    .map(|(f, _)| f.clone())
                    .collect();
                m.sort();
                m.dedup();
                o.missing = m;
            }
            match sink {
                Sink::Kql(s) => match s.finish() {
                    Ok(rows) => {
                        o.rows = rows
                            .iter()
                            .map(|r| r.iter().map(|(k, v)| (k.clone(), json_value(v))).collect())
                            .collect()
                    }
                    Err(e) => o.error = Some(e.to_string()),
                },
                Sink::Spl(s) => match s.finish() {
                    Ok(rows) => o.rows = rows,
                    Err(e) => o.error = Some(e),
                },
                Sink::Rows | Sink::Off => {}
            }
        }
        Run {
            events: self.events,
            outcomes,
        }
    }
}
