//! Reading an export: JSON lines or CSV, gzip'd or not, cut into batches of whole lines.

use super::{Event, RunError};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// How CSV cells become JSON values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CsvTyping {
    /// Every cell is text (Splunk, Sigma and EQL compare the text; Splunk reads numbers
    /// from it).
    Text,
    /// Cells take the type of their column in these KQL tables (the ones the queries read;
    /// `backends/kql-schema.json`): `int`/`long` numbers, `real`, `bool`, `dynamic` JSON;
    /// the rest text (RFC 3339 text is then read as a datetime, as in JSON exports).
    Kql(Vec<String>),
}

/// Open an export for reading, decompressing gzip (recognized by its magic bytes, so
/// `events.jsonl.gz` and a renamed file both work). `progress` is told how many bytes of
/// the file (compressed bytes for gzip) have been read. A `.csv` / `.csv.gz` file (header
/// row, then one event per record; an empty cell is an absent field) is read as JSON lines,
/// its cells typed by `csv`. A Parquet file (recognized by its magic bytes) is read as JSON
/// lines too, decoding only `columns` (all when `None`; `super::columns`).
pub fn open(
    path: &Path,
    progress: impl FnMut(u64) + Send + 'static,
    csv: CsvTyping,
    columns: Option<&[String]>,
) -> Result<Input, String> {
    if super::parquet::is_parquet(path) {
        let lines = super::parquet::open(path, columns, progress)?;
        return Ok(Input::Reader(Box::new(BufReader::with_capacity(
            1 << 20,
            lines,
        ))));
    }
    let name = path.to_string_lossy().to_ascii_lowercase();
    let is_csv = name.ends_with(".csv") || name.ends_with(".csv.gz");
    if !is_csv {
        if let Some(map) = Mapped::open(path)? {
            return Ok(Input::Mapped(Mapped {
                map,
                progress: Box::new(progress),
            }));
        }
    }
    let raw = open_raw(path, progress)?;
    if is_csv {
        let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(raw);
        let headers: Vec<String> = reader
            .headers()
            .map_err(|e| format!("{}: {e}", path.display()))?
            .iter()
            .map(String::from)
            .collect();
        let types: Vec<String> = headers
            .iter()
            .map(|h| match &csv {
                CsvTyping::Text => "string".to_string(),
                CsvTyping::Kql(tables) => tables
                    .iter()
                    .filter_map(|t| crate::eval::kql::bind::schemas().get(t))
                    .find_map(|cols| cols.get(h).cloned())
                    .unwrap_or_else(|| "string".to_string()),
            })
            .collect();
        return Ok(Input::Reader(Box::new(BufReader::with_capacity(
            1 << 16,
            CsvLines {
                reader,
                headers,
                types,
                record: csv::StringRecord::new(),
                pending: Pending::default(),
            },
        ))));
    }
    Ok(Input::Reader(raw))
}

/// An export as [`super::run`] reads it.
pub enum Input {
    /// A plain JSON-lines file, mapped: its lines are read where they lie in the page cache.
    Mapped(Mapped),
    /// Anything else (standard input, gzip, CSV, Parquet, a JSON array) as JSON lines.
    Reader(Box<dyn BufRead + Send>),
}

impl From<Box<dyn BufRead + Send>> for Input {
    fn from(r: Box<dyn BufRead + Send>) -> Input {
        Input::Reader(r)
    }
}

impl Input {
    /// The export as a reader of its JSON lines, whatever its form.
    pub fn into_reader(self) -> Box<dyn BufRead + Send> {
        match self {
            Input::Mapped(m) => Box::new(std::io::Cursor::new(m.map)),
            Input::Reader(r) => r,
        }
    }
}

/// A JSON-lines file mapped into memory. `read` copies every byte from the page cache into
/// the process (the kernel's `_copy_to_iter`: 175 ms of CPU for a 773 MB export against 95 ms
/// to map and scan it), and batches for the workers were copies again; a mapped file's lines
/// are handed to the decoder where they lie. Pages already evaluated are given back
/// ([`Release`]), so the resident memory stays bounded as with `read`.
pub struct Mapped {
    pub(super) map: memmap2::Mmap,
    pub(super) progress: Box<dyn FnMut(u64) + Send>,
}

impl Mapped {
    /// The file mapped, when it is a plain file of JSON lines worth mapping: not standard
    /// input, not empty, not gzip, not a JSON array (those are read as before).
    fn open(path: &Path) -> Result<Option<memmap2::Mmap>, String> {
        if path == Path::new("-") {
            return Ok(None);
        }
        let at = |e: std::io::Error| format!("{}: {e}", path.display());
        let file = std::fs::File::open(path).map_err(at)?;
        let meta = file.metadata().map_err(at)?;
        if !meta.is_file() || meta.len() == 0 {
            return Ok(None);
        }
        // SAFETY: the map is only read. Another process truncating or rewriting the export
        // while it is evaluated would change or remove the mapped bytes (`rmmc eval --help`
        // says so); `-` (standard input) reads a copy for an export still being written.
        let Ok(map) = (unsafe { memmap2::Mmap::map(&file) }) else {
            return Ok(None);
        };
        let first = map.iter().find(|b| !b.is_ascii_whitespace()).copied();
        if map.starts_with(&[0x1f, 0x8b]) || first == Some(b'[') {
            return Ok(None);
        }
        // the pages are read once, front to back
        let _ = map.advise(memmap2::Advice::Sequential);
        Ok(Some(map))
    }
}

/// Gives the pages of a mapped export back once every line on them has been evaluated: a
/// mapped file's pages count in the process's resident memory until unmapped, which would
/// make a run's memory grow with the export.
pub(super) struct Release<'a> {
    map: &'a memmap2::Mmap,
    done: usize,
}

impl<'a> Release<'a> {
    pub(super) fn new(map: &'a memmap2::Mmap) -> Self {
        Release { map, done: 0 }
    }

    /// Everything before `end` has been evaluated.
    pub(super) fn upto(&mut self, end: usize) {
        const STEP: usize = 16 << 20;
        if end >= self.done + STEP {
            // SAFETY: the map is a read-only shared mapping of a file: a page given back is
            // read again from the page cache if touched (madvise(2), MADV_DONTNEED on shared
            // file mappings), so no byte seen through the map changes.
            let _ = unsafe {
                self.map.unchecked_advise_range(
                    memmap2::UncheckedAdvice::DontNeed,
                    self.done,
                    end - self.done,
                )
            };
            self.done = end;
        }
    }
}

/// Lines made ready by a reader that converts its input a piece at a time (a CSV record, a
/// run of a JSON array, a Parquet batch), handed out as `Read` asks for them.
#[derive(Default)]
pub(super) struct Pending {
    bytes: Vec<u8>,
    pos: usize,
}

impl Pending {
    /// Everything made ready has been handed out.
    pub(super) fn is_drained(&self) -> bool {
        self.pos == self.bytes.len()
    }

    /// The emptied buffer, for the next piece's lines.
    pub(super) fn refill(&mut self) -> &mut Vec<u8> {
        self.bytes.clear();
        self.pos = 0;
        &mut self.bytes
    }

    /// Copy what is ready into `out`, as much as fits.
    pub(super) fn hand_out(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.bytes.len() - self.pos);
        out[..n].copy_from_slice(&self.bytes[self.pos..self.pos + n]);
        self.pos += n;
        n
    }
}

/// CSV records as JSON lines, one object per record.
struct CsvLines {
    reader: csv::Reader<Box<dyn BufRead + Send>>,
    headers: Vec<String>,
    types: Vec<String>,
    record: csv::StringRecord,
    pending: Pending,
}

/// A CSV cell as the JSON value its column type makes of it (text when it does not parse).
fn csv_cell(cell: &str, ty: &str) -> Value {
    let typed = match ty {
        "int" | "long" => cell.parse::<i64>().ok().map(Value::from),
        "real" => cell
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number),
        "bool" => match cell.to_ascii_lowercase().as_str() {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => None,
        },
        "dynamic" => serde_json::from_str(cell).ok(),
        _ => None,
    };
    typed.unwrap_or_else(|| Value::String(cell.to_string()))
}

impl Read for CsvLines {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pending.is_drained() {
            let more = self
                .reader
                .read_record(&mut self.record)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            if !more {
                return Ok(0);
            }
            let mut ev = Event::new();
            for ((h, ty), cell) in self.headers.iter().zip(&self.types).zip(self.record.iter()) {
                if !cell.is_empty() {
                    ev.insert(h.clone(), csv_cell(cell, ty));
                }
            }
            let buf = self.pending.refill();
            serde_json::to_writer(&mut *buf, &ev).map_err(std::io::Error::other)?;
            buf.push(b'\n');
        }
        Ok(self.pending.hand_out(out))
    }
}

fn open_raw(
    path: &Path,
    progress: impl FnMut(u64) + Send + 'static,
) -> Result<Box<dyn BufRead + Send>, String> {
    let at = |e: std::io::Error| format!("{}: {e}", path.display());
    // `-` is standard input, so an export can be piped in (`zcat x.gz | rmmc eval … --events -`)
    let inner: Box<dyn Read + Send> = if path == Path::new("-") {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(path).map_err(at)?)
    };
    let counted = Counted {
        inner,
        read: 0,
        report: Box::new(progress),
    };
    const BUF: usize = 1 << 20;
    let mut raw = BufReader::with_capacity(BUF, counted);
    // gzip is told by its magic bytes, so `events.jsonl.gz`, a renamed file and a pipe all work
    let gzip = raw.fill_buf().map_err(at)?.starts_with(&[0x1f, 0x8b]);
    let mut text: Box<dyn BufRead + Send> = if gzip {
        Box::new(BufReader::with_capacity(
            BUF,
            flate2::read::MultiGzDecoder::new(raw),
        ))
    } else {
        Box::new(raw)
    };
    // a JSON array of events (what a portal's "export as JSON" gives) is read as one event a line
    let first = text
        .fill_buf()
        .map_err(at)?
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .copied();
    if first == Some(b'[') {
        text = Box::new(BufReader::with_capacity(BUF, ArrayLines::new(text)));
    }
    Ok(text)
}

/// A JSON array of events as JSON lines: each element of the top-level array on a line of
/// its own (line N is the array's Nth event), line breaks inside an element (a pretty-printed
/// export) turned into spaces, which JSON allows between tokens. Strings are copied as they
/// are: a raw line break cannot occur in one.
struct ArrayLines<R> {
    inner: R,
    out: Pending,
    /// Nesting depth: 0 before the array opens, 1 between its elements.
    depth: usize,
    in_string: bool,
    escaped: bool,
    /// The array has closed: what follows is ignored if it is whitespace, an error if not.
    closed: bool,
}

impl<R: BufRead> ArrayLines<R> {
    fn new(inner: R) -> Self {
        ArrayLines {
            inner,
            out: Pending::default(),
            depth: 0,
            in_string: false,
            escaped: false,
            closed: false,
        }
    }

    fn take(&mut self, b: u8) -> std::io::Result<()> {
        if self.closed {
            if b.is_ascii_whitespace() {
                return Ok(());
            }
            return Err(std::io::Error::other(
                "text after the closing ] of the JSON array",
            ));
        }
        if self.in_string {
            self.out.bytes.push(b);
            if self.escaped {
                self.escaped = false;
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == b'"' {
                self.in_string = false;
            }
            return Ok(());
        }
        match b {
            b'[' if self.depth == 0 => self.depth = 1,
            _ if self.depth == 0 => {}
            b'"' => {
                self.in_string = true;
                self.out.bytes.push(b);
            }
            b'{' | b'[' => {
                self.depth += 1;
                self.out.bytes.push(b);
            }
            b']' if self.depth == 1 => {
                self.closed = true;
                if self.out.bytes.last().is_some_and(|l| *l != b'\n') {
                    self.out.bytes.push(b'\n');
                }
            }
            b'}' | b']' => {
                self.depth -= 1;
                self.out.bytes.push(b);
            }
            b',' if self.depth == 1 => self.out.bytes.push(b'\n'),
            b'\n' | b'\r' if self.depth > 1 => self.out.bytes.push(b' '),
            _ if self.depth == 1 && b.is_ascii_whitespace() => {}
            _ => self.out.bytes.push(b),
        }
        Ok(())
    }
}

impl<R: BufRead> Read for ArrayLines<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.out.is_drained() {
            self.out.refill();
            let chunk = self.inner.fill_buf()?;
            if chunk.is_empty() {
                if !self.closed && self.depth > 0 {
                    return Err(std::io::Error::other(
                        "the JSON array ends before its closing ]",
                    ));
                }
                return Ok(0);
            }
            let chunk = chunk.to_vec();
            self.inner.consume(chunk.len());
            for b in chunk {
                self.take(b)?;
            }
        }
        Ok(self.out.hand_out(buf))
    }
}

/// A reader that reports how far it has read.
struct Counted<R> {
    inner: R,
    read: u64,
    report: Box<dyn FnMut(u64) + Send>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        (self.report)(self.read);
        Ok(n)
    }
}

/// The lines of `bytes`, each with its `\n` (the last one may have none), as
/// `split_inclusive` cuts them, but found with `memchr`: a byte-at-a-time split was a tenth of
/// a multi-threaded run's time.
pub(super) fn lines(mut bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        if bytes.is_empty() {
            return None;
        }
        let end = memchr::memchr(b'\n', bytes).map_or(bytes.len(), |i| i + 1);
        let (line, rest) = bytes.split_at(end);
        bytes = rest;
        Some(line)
    })
}

pub(super) fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// Whole lines read in one go: the bytes, the number and offset of the first line.
pub(super) struct Batch<'a> {
    pub(super) seq: u64,
    /// Borrowed from a mapped export, read into a buffer from any other.
    pub(super) bytes: std::borrow::Cow<'a, [u8]>,
    pub(super) first_line: usize,
    pub(super) offset: usize,
}

pub(super) const BATCH: usize = 1 << 20;

/// Where batches come from.
pub(super) enum Source<'a> {
    /// A mapped export: each batch is a slice of it, reported to `progress` as it is cut.
    Mapped {
        bytes: &'a [u8],
        progress: &'a mut (dyn FnMut(u64) + Send),
    },
    Reader(Box<dyn BufRead + Send>),
}

/// Cuts the input into batches of whole lines.
pub(super) struct Batches<'a> {
    pub(super) source: Source<'a>,
    pub(super) carry: Vec<u8>,
    pub(super) seq: u64,
    pub(super) line: usize,
    pub(super) offset: usize,
    pub(super) eof: bool,
    /// Bytes per batch (about: whole lines).
    pub(super) size: usize,
}

impl<'a> Batches<'a> {
    pub(super) fn new(source: Source<'a>) -> Self {
        Batches {
            source,
            carry: Vec::new(),
            seq: 0,
            line: 1,
            offset: 0,
            eof: false,
            size: BATCH,
        }
    }

    pub(super) fn next(&mut self) -> Result<Option<Batch<'a>>, RunError> {
        let bytes = match &mut self.source {
            Source::Mapped { bytes, progress } => {
                let rest = &bytes[self.offset..];
                if rest.is_empty() {
                    return Ok(None);
                }
                let end = match rest.get(self.size..) {
                    Some(tail) => {
                        memchr::memchr(b'\n', tail).map_or(rest.len(), |i| self.size + i + 1)
                    }
                    None => rest.len(),
                };
                progress((self.offset + end) as u64);
                std::borrow::Cow::Borrowed(&rest[..end])
            }
            Source::Reader(_) => match self.read()? {
                Some(b) => std::borrow::Cow::Owned(b),
                None => return Ok(None),
            },
        };
        let lines =
            memchr::memchr_iter(b'\n', &bytes).count() + usize::from(bytes.last() != Some(&b'\n'));
        let b = Batch {
            seq: self.seq,
            first_line: self.line,
            offset: self.offset,
            bytes,
        };
        self.seq += 1;
        self.line += lines;
        self.offset += b.bytes.len();
        Ok(Some(b))
    }

    /// The next batch's bytes from a reader.
    fn read(&mut self) -> Result<Option<Vec<u8>>, RunError> {
        let Source::Reader(input) = &mut self.source else {
            return Ok(None);
        };
        while !self.eof || !self.carry.is_empty() {
            let mut bytes = std::mem::take(&mut self.carry);
            while bytes.len() < self.size && !self.eof {
                // read straight into the batch (a large read bypasses the reader's buffer)
                let len = bytes.len();
                bytes.resize(self.size.max(len + self.size / 4), 0);
                let n = loop {
                    match input.read(&mut bytes[len..]) {
                        Ok(n) => break n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(RunError::Io(e.to_string())),
                    }
                };
                bytes.truncate(len + n);
                self.eof = n == 0;
            }
            if !self.eof {
                // keep the partial last line for the next batch
                let cut = memchr::memrchr(b'\n', &bytes).map_or(0, |i| i + 1);
                self.carry = bytes.split_off(cut);
            }
            if !bytes.is_empty() {
                return Ok(Some(bytes));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `lines` cuts as `split_inclusive` does, line end kept, a last line without one included.
    #[test]
    fn lines_are_split_inclusive() {
        for text in ["", "\n", "a", "a\n", "a\nb", "a\n\nb\n", "\n\n", "{}\r\n{}"] {
            let want: Vec<&[u8]> = text.as_bytes().split_inclusive(|c| *c == b'\n').collect();
            assert_eq!(lines(text.as_bytes()).collect::<Vec<_>>(), want, "{text:?}");
        }
    }

    /// Batches cut at line ends, and number lines and offsets as reading line by line does,
    /// from a reader and from a mapped file alike.
    #[test]
    fn batches_keep_line_numbers_and_offsets() {
        let text: String = (0..200)
            .map(|i| format!("{{\"n\": {i}, \"pad\": \"{}\"}}\n", "x".repeat(i % 37)))
            .collect::<String>()
            + "{\"last\": true}";
        let mut want = Vec::new();
        let mut at = 0;
        for (i, l) in text.split_inclusive('\n').enumerate() {
            want.push((i + 1, at, l.as_bytes().to_vec()));
            at += l.len();
        }
        let mut reported = Vec::new();
        let mut progress = |n: u64| reported.push(n);
        let sources = [
            Source::Reader(Box::new(std::io::Cursor::new(text.clone().into_bytes()))),
            Source::Mapped {
                bytes: text.as_bytes(),
                progress: &mut progress,
            },
        ];
        for source in sources {
            let mut b = Batches {
                size: 100,
                ..Batches::new(source)
            };
            let mut got = Vec::new();
            let mut seqs = Vec::new();
            while let Ok(Some(batch)) = b.next() {
                seqs.push(batch.seq);
                let mut at = batch.offset;
                for (i, l) in batch.bytes.split_inclusive(|c| *c == b'\n').enumerate() {
                    got.push((batch.first_line + i, at, l.to_vec()));
                    at += l.len();
                }
            }
            assert_eq!(got, want);
            assert!(seqs.len() > 10 && seqs.iter().enumerate().all(|(i, s)| *s == i as u64));
        }
        // a mapped export's progress is each batch's end, up to its whole length
        assert!(reported.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(reported.last(), Some(&(text.len() as u64)));
    }

    /// A plain JSON-lines file is mapped; gzip, a JSON array, an empty file and standard input
    /// are read (each still gives its events: `tests/cli_eval.rs`).
    #[test]
    fn only_plain_json_lines_files_are_mapped() {
        let dir = std::env::temp_dir().join(format!("rmmc-mapped-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, b"{\"a\":1}\n").unwrap();
        let cases: [(&str, Vec<u8>, bool); 5] = [
            ("plain.jsonl", b"{\"a\":1}\n{\"a\":2}".to_vec(), true),
            ("spaced.jsonl", b"\n  {\"a\":1}\n".to_vec(), true),
            ("array.json", b" \n[{\"a\":1},{\"a\":2}]".to_vec(), false),
            ("events.jsonl.gz", gz.finish().unwrap(), false),
            ("empty.jsonl", Vec::new(), false),
        ];
        for (name, bytes, mapped) in cases {
            let path = dir.join(name);
            std::fs::write(&path, &bytes).unwrap();
            let input = open(&path, |_| {}, CsvTyping::Text, None).unwrap();
            assert_eq!(matches!(input, Input::Mapped(_)), mapped, "{name}");
            if mapped {
                let mut text = Vec::new();
                input.into_reader().read_to_end(&mut text).unwrap();
                assert_eq!(text, bytes, "{name}");
            }
        }
        let stdin = open(Path::new("-"), |_| {}, CsvTyping::Text, None);
        assert!(matches!(stdin, Ok(Input::Reader(_))));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Pages given back are read again from the file: the bytes seen through the map stay.
    #[test]
    fn released_pages_read_back_the_same_bytes() {
        let path = std::env::temp_dir().join(format!("rmmc-release-{}.jsonl", std::process::id()));
        let text: Vec<u8> = (0..40u32 << 20).map(|i| b'a' + (i % 26) as u8).collect();
        std::fs::write(&path, &text).unwrap();
        let Some(map) = Mapped::open(&path).unwrap() else {
            panic!("a plain file is mapped")
        };
        assert_eq!(&map[..], &text[..]);
        let mut release = Release::new(&map);
        release.upto(20 << 20);
        release.upto(40 << 20);
        assert_eq!(release.done, 40 << 20);
        assert_eq!(&map[..], &text[..]);
        drop(map);
        std::fs::remove_file(&path).unwrap();
    }
}
