//! The filter side of a run: a worker decodes a batch's events and runs every rule's filter
//! on each, handing on what each rule keeps.

use super::canon::compact_line;
use super::input::{is_blank, lines, Batch};
use super::project::{has_path, kql_row, Decoder, Projection};
use super::rule::{Query, Rule};
use super::sigma::SigmaFilter;
use super::{bad_line, line_msg, Event, Hit, RunError};
use crate::eval::engine::Lang;
use crate::eval::kql::interp as kinterp;
use crate::eval::spl;
use serde_json::Value;

/// The compact JSON text of an event (what printing `Value::Object` of it gives).
fn compact(e: &Event) -> Box<str> {
    serde_json::to_string(e)
        .unwrap_or_else(|_| Value::Object(e.clone()).to_string())
        .into_boxed_str()
}

/// The whole event of a line, for a rule whose result holds it: decoded at most once.
struct Whole<'a, B> {
    line: &'a [u8],
    dec: &'a mut Decoder,
    /// The event as decoded for the filters, when that was the whole of it.
    decoded: Option<&'a Event>,
    full: Option<Event>,
    bad: &'a B,
}

impl<B: Fn(serde_json::Error) -> RunError> Whole<'_, B> {
    fn event(&mut self) -> Result<&Event, String> {
        if let Some(e) = self.decoded {
            return Ok(e);
        }
        if self.full.is_none() {
            let whole = Projection::new([], true);
            let e = self
                .dec
                .decode(self.line, &whole)
                .map_err(|e| line_msg((self.bad)(e)))?;
            self.full = Some(e);
        }
        Ok(self.full.get_or_insert_default())
    }

    /// Its compact JSON text: the line itself when it is that text already.
    fn text(&mut self) -> Result<Box<str>, String> {
        if let Some(t) = compact_line(self.line) {
            return Ok(t.into());
        }
        Ok(compact(self.event()?))
    }
}

/// The filter side of one rule, one per worker thread: decides and shapes, holds no result.
enum Filter<'q> {
    Kql(Box<kinterp::Stream<'q>>),
    Spl(Box<spl::interp::Stream<'q>>),
    Eql(&'q crate::eval::eql::Query),
    Sigma(Box<SigmaFilter<'q>>),
    /// The rule could not start (its error is in its outcome).
    Off,
}

/// Decodes the lines of a batch and runs every rule's filter on each event.
pub(super) struct Worker<'q> {
    rules: &'q [Rule],
    filters: Vec<Filter<'q>>,
    proj: &'q Projection,
    dec: Decoder,
    kql_only: bool,
    /// The KQL row of the last line when every rule is KQL: decoded over, not anew.
    row: kinterp::Row,
    /// The event (a JSON object) of the last line when some rule is not KQL: decoded over.
    doc: Value,
}

/// A batch after a worker: how many events, which of each rule's fields some event had,
/// and per event with hits its line number and the hits (rule index, hit).
pub(super) struct Checked {
    pub(super) events: u64,
    pub(super) seen: Vec<Vec<bool>>,
    pub(super) hits: Vec<(usize, Vec<(usize, Hit)>)>,
}

impl<'q> Worker<'q> {
    pub(super) fn new(rules: &'q [Rule], proj: &'q Projection, now: i128) -> Worker<'q> {
        let filters = rules
            .iter()
            .map(|r| match &r.query {
                Query::Kql(q) => {
                    kinterp::Stream::new(q, now).map_or(Filter::Off, |s| Filter::Kql(Box::new(s)))
                }
                Query::Spl(q) => Filter::Spl(Box::new(spl::interp::Stream::new(
                    &q.search.commands,
                    &q.search.spans,
                    &q.literals,
                    now,
                ))),
                Query::Eql(q) => Filter::Eql(q),
                Query::Sigma(q) => Filter::Sigma(Box::new(SigmaFilter::new(r, &q.rule))),
            })
            .collect();
        Worker {
            rules,
            filters,
            proj,
            dec: Decoder::default(),
            kql_only: rules.iter().all(|r| r.lang == Lang::Kql),
            row: kinterp::Row::new(),
            doc: Value::Object(Event::new()),
        }
    }

    /// Every line of `batch`, in order; the first bad line ends the batch with its error.
    pub(super) fn batch(&mut self, batch: &Batch<'_>) -> Result<Checked, RunError> {
        let mut out = Checked {
            events: 0,
            seen: self
                .rules
                .iter()
                .map(|r| vec![false; r.fields.len()])
                .collect(),
            hits: Vec::new(),
        };
        let mut start = 0;
        for (i, line) in lines(&batch.bytes).enumerate() {
            let at = start;
            start += line.len();
            if is_blank(line) {
                continue;
            }
            let (number, offset) = (batch.first_line + i, batch.offset + at);
            let hits = self.event(line, number, offset, &mut out.seen)?;
            out.events += 1;
            if !hits.is_empty() {
                out.hits.push((number, hits));
            }
        }
        Ok(out)
    }

    /// One event through every rule's filter.
    pub(super) fn event(
        &mut self,
        line: &[u8],
        number: usize,
        offset: usize,
        seen: &mut [Vec<bool>],
    ) -> Result<Vec<(usize, Hit)>, RunError> {
        let bad = |e| bad_line(number, offset, e);
        let decoded: Option<&kinterp::Row> = if self.kql_only {
            self.dec
                .decode_kql_into(line, self.proj, &mut self.row)
                .map_err(bad)?;
            Some(&self.row)
        } else {
            let Value::Object(ev) = &mut self.doc else {
                unreachable!("built as an object")
            };
            self.dec.decode_into(line, self.proj, ev).map_err(bad)?;
            None
        };
        // the row built from `ev` when some rule is not KQL
        let mut built: Option<kinterp::Row> = None;
        // one JSON document (empty when every rule is KQL): EQL reads it as a value, the
        // others as its map
        let doc = &self.doc;
        let ev: &Event = match doc {
            Value::Object(m) => m,
            _ => unreachable!("built as an object"),
        };
        for ((s, rule), f) in seen.iter_mut().zip(self.rules).zip(&self.filters) {
            if matches!(f, Filter::Off) {
                continue;
            }
            for (flag, field) in s.iter_mut().zip(&rule.fields) {
                if !*flag {
                    *flag = match (decoded, rule.lang) {
                        (Some(r), _) => r.contains_key(field),
                        (None, Lang::Kql) => ev.contains_key(field),
                        (None, _) => has_path(ev, field),
                    };
                }
            }
        }
        let all = self.proj.all;
        // the whole event, decoded once when some rule's result needs it
        let mut whole = Whole {
            line,
            dec: &mut self.dec,
            decoded: (all && !self.kql_only).then_some(ev),
            full: None,
            bad: &bad,
        };
        let mut hits = Vec::new();
        for (i, f) in self.filters.iter_mut().enumerate() {
            if !matches!(f, Filter::Off) && !self.rules[i].scope.admits(ev) {
                hits.push((i, Hit::Skipped));
                continue;
            }
            let hit: Result<Option<Hit>, String> = (|| {
                Ok(match f {
                    Filter::Off => None,
                    Filter::Kql(s) => {
                        let row = match decoded {
                            Some(r) => r,
                            None => built.get_or_insert_with(|| kql_row(ev)),
                        };
                        if !s.keep(row).map_err(|e| e.to_string())? {
                            None
                        } else if s.outputs_input_rows() {
                            Some(Hit::Kql(kql_row(whole.event()?)))
                        } else {
                            Some(Hit::Kql(row.clone()))
                        }
                    }
                    Filter::Spl(s) => match s.keep(ev)? {
                        None => None,
                        Some(_) if s.outputs_input_rows() && !all => {
                            s.keep(whole.event()?)?.map(|k| Hit::Row(k.into_owned()))
                        }
                        Some(k) => Some(Hit::Row(k.into_owned())),
                    },
                    Filter::Eql(q) => {
                        if q.matches(doc)? {
                            Some(Hit::Text(whole.text()?))
                        } else {
                            None
                        }
                    }
                    Filter::Sigma(s) => {
                        if s.is_match(ev)? {
                            Some(Hit::Text(whole.text()?))
                        } else {
                            None
                        }
                    }
                })
            })();
            match hit {
                Ok(Some(h)) => hits.push((i, h)),
                Ok(None) => {}
                Err(e) => {
                    // the rule stops here, as the results side will see in order
                    hits.push((i, Hit::Error(e)));
                    *f = Filter::Off;
                }
            }
        }
        Ok(hits)
    }
}
