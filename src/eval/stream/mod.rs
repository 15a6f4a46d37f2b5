//! `rmmc eval` over exports as they come: events are read one line at a time (JSON lines,
//! gzip'd or not), only the top-level fields some rule reads are decoded, and every rule runs
//! on each event before the next is read. Memory grows with the result (groups, result
//! rows), never with the number of events. The evaluators still read artifact text only.
//!
//! A rule's decision depends only on the fields it reads ([`Rule::fields`]), so it is made on
//! the projected event; when the result holds whole events (an EQL or Sigma match, a KQL
//! query without `summarize`/`project`, an SPL search without `stats`/`table`) the matching
//! line is decoded in full for the output, and the rule runs again on that (same decision).

mod canon;
mod input;
mod parquet;
mod project;
mod results;
mod rule;
mod sigma;
mod worker;

pub use crate::eval::engine::Lang;
use crate::eval::kql::interp as kinterp;
use input::{is_blank, lines, Batch, Batches, Release, Source};
pub use input::{open, CsvTyping, Input, Mapped};
use project::Projection;
pub use results::Outcome;
use results::Results;
pub use rule::{Query, Rule, Scope};
use serde_json::{Map, Value};
use std::io::BufRead;
use worker::{Checked, Worker};

pub type Event = Map<String, Value>;

/// A bad event line: its number (1-based), byte offset, column and what is wrong.
#[derive(Debug)]
pub struct BadLine {
    pub line: usize,
    pub offset: usize,
    pub col: usize,
    pub message: String,
}

pub enum RunError {
    Io(String),
    Line(BadLine),
}

/// The totals of a run.
pub struct Run {
    pub events: u64,
    pub outcomes: Vec<Outcome>,
}

/// What one rule keeps of an event, as a worker hands it on: the row for the rest of the
/// pipeline (a KQL row, an SPL row after its streaming commands, a whole EQL or Sigma
/// event), or the error the rule met there.
enum Hit {
    Kql(kinterp::Row),
    Row(Event),
    /// A matching event as compact JSON text (a third of its decoded size).
    Text(Box<str>),
    /// The event is outside the rule's scope.
    Skipped,
    Error(String),
}

fn bad_line(number: usize, offset: usize, e: serde_json::Error) -> RunError {
    RunError::Line(BadLine {
        line: number,
        offset,
        col: e.column().max(1),
        message: format!("each line must be one JSON object (an event): {e}"),
    })
}

/// What the rules read of each event: every field the rules and their scopes name, or the
/// whole event when one of them reads everything.
fn projection(rules: &[Rule]) -> Projection {
    Projection::new(
        rules
            .iter()
            .flat_map(|r| r.fields.iter().map(String::as_str).chain(r.scope.fields())),
        rules.iter().any(|r| r.reads_all),
    )
}

/// The top-level keys of an export that `rules` read (the projection's keys: each field, and
/// each leading run of its dotted segments). `None` when a rule reads whole events. A columnar
/// reader (Parquet) decodes only these columns.
pub fn columns(rules: &[Rule]) -> Option<Vec<String>> {
    let p = projection(rules);
    (!p.all).then(|| p.keys.into_iter().map(|(k, _)| k).collect())
}

/// Run every rule over the events of `input` (JSON lines) in one read. With `threads` > 1,
/// that many threads decode events and run the rules' filters on them while this one folds
/// the hits into the results in the export's order: the result is the same as with one.
pub fn run(
    rules: &[Rule],
    input: impl Into<Input>,
    now: i128,
    threads: usize,
) -> Result<Run, RunError> {
    let proj = projection(rules);
    let mut results = Results::new(rules, now);
    match input.into() {
        Input::Mapped(Mapped { map, mut progress }) => {
            let mut release = Release::new(&map);
            if threads <= 1 {
                let mut serial = Serial::new(rules, &proj, now, &mut results);
                for text in lines(&map) {
                    let start = serial.line(text, &mut results)?;
                    if serial.offset >> 20 != start >> 20 {
                        progress(serial.offset as u64);
                        release.upto(start);
                    }
                }
                serial.finish(&mut results);
            } else {
                let batches = Batches::new(Source::Mapped {
                    bytes: &map,
                    progress: &mut *progress,
                });
                parallel(
                    rules,
                    &proj,
                    now,
                    &mut results,
                    batches,
                    threads,
                    Some(release),
                )?;
            }
        }
        Input::Reader(mut input) if threads <= 1 => {
            // a line wholly in the reader's buffer is read there, one that straddles its end
            // is gathered in `line`
            let mut serial = Serial::new(rules, &proj, now, &mut results);
            let mut line = Vec::with_capacity(4096);
            let io = |e: std::io::Error| RunError::Io(e.to_string());
            loop {
                let buf = input.fill_buf().map_err(io)?;
                if buf.is_empty() {
                    break;
                }
                match memchr::memchr(b'\n', buf) {
                    Some(i) => {
                        serial.line(&buf[..=i], &mut results)?;
                        input.consume(i + 1);
                    }
                    None => {
                        line.clear();
                        input.read_until(b'\n', &mut line).map_err(io)?;
                        serial.line(&line, &mut results)?;
                    }
                }
            }
            serial.finish(&mut results);
        }
        Input::Reader(input) => {
            let batches = Batches::new(Source::Reader(input));
            parallel(rules, &proj, now, &mut results, batches, threads, None)?;
        }
    }
    Ok(results.finish())
}

/// One thread reading the export itself: each line decoded and judged in order and its hits
/// folded at once, with no batch to copy the bytes into.
struct Serial<'q> {
    w: Worker<'q>,
    seen: Vec<Vec<bool>>,
    /// The number of the last line read, and the offset just past it.
    number: usize,
    offset: usize,
}

impl<'q> Serial<'q> {
    fn new(rules: &'q [Rule], proj: &'q Projection, now: i128, results: &mut Results) -> Self {
        Serial {
            w: Worker::new(rules, proj, now),
            seen: std::mem::take(&mut results.seen),
            number: 0,
            offset: 0,
        }
    }

    /// The next line (with its newline, if any); its offset in the export.
    fn line(&mut self, text: &[u8], results: &mut Results) -> Result<usize, RunError> {
        self.number += 1;
        let start = self.offset;
        self.offset += text.len();
        if !is_blank(text) {
            let hits = self.w.event(text, self.number, start, &mut self.seen)?;
            results.events += 1;
            if !hits.is_empty() {
                results.hits(hits);
            }
        }
        Ok(start)
    }

    fn finish(self, results: &mut Results) {
        results.seen = self.seen;
    }
}

fn parallel<'a>(
    rules: &[Rule],
    proj: &Projection,
    now: i128,
    results: &mut Results,
    mut batches: Batches<'a>,
    threads: usize,
    mut release: Option<Release<'_>>,
) -> Result<(), RunError> {
    use std::sync::mpsc::{sync_channel, Receiver};
    use std::sync::{Arc, Mutex};
    type Done = (u64, usize, Result<Checked, RunError>);
    std::thread::scope(|scope| -> Result<(), RunError> {
        let (work_tx, work_rx) = sync_channel::<Batch<'a>>(threads);
        let (done_tx, done_rx) = sync_channel::<Done>(threads * 2);
        let work_rx: Arc<Mutex<Receiver<Batch<'a>>>> = Arc::new(Mutex::new(work_rx));
        let reader = scope.spawn(move || -> Result<(), RunError> {
            while let Some(b) = batches.next()? {
                if work_tx.send(b).is_err() {
                    break;
                }
            }
            Ok(())
        });
        for _ in 0..threads {
            let work_rx = Arc::clone(&work_rx);
            let done_tx = done_tx.clone();
            scope.spawn(move || {
                let mut w = Worker::new(rules, proj, now);
                loop {
                    let batch = {
                        let Ok(rx) = work_rx.lock() else { return };
                        match rx.recv() {
                            Ok(b) => b,
                            Err(_) => return,
                        }
                    };
                    let end = batch.offset + batch.bytes.len();
                    if done_tx.send((batch.seq, end, w.batch(&batch))).is_err() {
                        return;
                    }
                }
            });
        }
        drop(done_tx);
        // fold in the export's order
        let mut next = 0u64;
        let mut waiting: std::collections::BTreeMap<u64, (usize, Result<Checked, RunError>)> =
            Default::default();
        let mut result = Ok(());
        'recv: for (seq, end, checked) in done_rx.iter() {
            waiting.insert(seq, (end, checked));
            while let Some((end, c)) = waiting.remove(&next) {
                next += 1;
                match c {
                    Ok(c) => results.add(c),
                    Err(e) => {
                        result = Err(e);
                        break 'recv;
                    }
                }
                if let Some(r) = &mut release {
                    // every batch before this one is folded too: the export up to its end
                    r.upto(end);
                }
            }
        }
        // stop the reader and the workers: their sends fail once the receiver is gone
        drop(done_rx);
        let read = reader.join().unwrap_or(Ok(()));
        result.and(read)
    })
}

fn line_msg(e: RunError) -> String {
    match e {
        RunError::Io(m) => m,
        RunError::Line(b) => format!("line {}: {}", b.line, b.message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufReader, Cursor};

    /// A run's events, matches and first bad line, as text.
    fn outcome(text: &'static str, capacity: usize, threads: usize) -> String {
        let input: Box<dyn BufRead + Send> =
            Box::new(BufReader::with_capacity(capacity, Cursor::new(text)));
        outcome_of(input.into(), threads)
    }

    fn outcome_of(input: Input, threads: usize) -> String {
        let rule = Rule::parse(
            std::path::Path::new("t.eql"),
            r#"any where process.name == "a""#,
        )
        .unwrap_or_else(|e| panic!("{}", e.message));
        match run(std::slice::from_ref(&rule), input, 0, threads) {
            Ok(r) => format!("{} events, {:?}", r.events, r.outcomes[0].texts),
            Err(RunError::Line(b)) => format!("{b:?}"),
            Err(RunError::Io(e)) => e,
        }
    }

    #[test]
    fn lines_across_the_read_buffer_keep_their_numbers_and_offsets() {
        let good = "{\"process\":{\"name\":\"a\"}}\n\n  \r\n{\"process\": {\"name\": \"b\"}}\r\n{\"process\":{\"name\":\"a\",\"pid\":12345678}}\n{\"process\":{\"name\":\"a\"}}";
        let bad = "{\"process\":{\"name\":\"a\"}}\n\n{\"a\":1}\n{\"process\": {\"name\": x}}\n{}\n";
        for text in [good, bad] {
            let want = outcome(text, 1 << 20, 1);
            for capacity in [1, 2, 7, 30, 64] {
                assert_eq!(outcome(text, capacity, 1), want, "capacity {capacity}");
            }
            assert_eq!(outcome(text, 1 << 20, 2), want);
        }
        assert!(outcome(good, 1 << 20, 1).starts_with("4 events"));
        // the same file mapped (a plain file is; `input::tests`) gives the same run
        let path = std::env::temp_dir().join(format!("rmmc-run-{}.jsonl", std::process::id()));
        for text in [good, bad] {
            std::fs::write(&path, text).unwrap();
            for threads in [1, 2] {
                let mapped = open(&path, |_| {}, CsvTyping::Text, None).unwrap();
                assert!(matches!(mapped, Input::Mapped(_)));
                assert_eq!(
                    outcome_of(mapped, threads),
                    outcome(text, 1 << 20, 1),
                    "{threads} threads"
                );
            }
        }
        // and over several batches: 3.3 MB of lines, a bad one near the end
        let big: String = (0..40_000)
            .map(|i| {
                format!(
                    "{{\"process\":{{\"name\":\"{}\",\"pid\":{i}}}}}\n",
                    ["a", "b", "c"][i % 3]
                )
            })
            .collect();
        let big_bad = format!("{big}{{\"process\":{{\"name\":\"a\"}}\n{{}}\n");
        for text in [big, big_bad] {
            let text: &'static str = Box::leak(text.into_boxed_str());
            let want = outcome(text, 1 << 16, 1);
            assert!(
                want.starts_with("40000 events") || want.contains("line: 40001"),
                "{want}"
            );
            std::fs::write(&path, text).unwrap();
            for threads in [1, 2] {
                let mapped = open(&path, |_| {}, CsvTyping::Text, None).unwrap();
                assert_eq!(outcome_of(mapped, threads), want, "{threads} threads");
            }
        }
        std::fs::remove_file(&path).unwrap();
        let b = outcome(bad, 1 << 20, 1);
        assert!(b.contains("line: 4, offset: 34"), "{b}");
    }
}
