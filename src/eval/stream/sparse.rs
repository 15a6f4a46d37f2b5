//! A sparse tape of an event line: one pass over the bytes that builds simd-json tape nodes
//! for the keys a projection keeps, and only checks the rest (the values no rule reads are
//! most of a line).
//!
//! The scan takes a line only when serde_json would, and reads it as serde_json does:
//! anything it is not sure of (an escape in a key or a kept string, a float, a long integer,
//! `-0`, bytes that are not UTF-8, deep nesting, any syntax error) it gives up on, and the
//! caller hands the line to simd-json's full tape, and from there to serde_json. What it
//! skips it checks as serde_json's `IgnoredAny` does (`de.rs`, `ignore_value`): strings
//! without raw control characters and with valid escapes (`\u` and four hex digits, a
//! surrogate or not), numbers of JSON's grammar, the three literals; not the UTF-8 of
//! skipped strings, which the scan checks for the whole line at once (a line that fails it
//! is given up on).

use super::super::canon::quote_or_backslash;
use super::{Projection, MAX_DEPTH, WHOLE};
use simd_json::{Node, StaticNode};

/// Skipped values nested deeper than this are given up on (serde_json reads any depth there;
/// the scan keeps its frames in a word).
const MAX_SKIP_DEPTH: u32 = 64;

/// More digits than this may not fit an `i64`/`u64`, or be read otherwise by simd-json's
/// tape walkers' rules (`project::short_number`): given up on.
const MAX_DIGITS: usize = 16;

/// The nodes of `line` into `out` (cleared first): the event object, with the members whose
/// keys `p` keeps, in the line's order (a key twice: twice). With `nested`, a kept key whose
/// projection reads only paths below it, and whose value is an object, gets that object
/// sparse in turn; otherwise a kept value is whole. `None` when the line is left to the
/// full tape (see the module's text).
pub(super) fn sparse_tape<'l>(
    line: &'l [u8],
    p: &Projection,
    nested: bool,
    buffers: &'l mut Buffers,
    out: &mut Vec<Node<'l>>,
) -> Option<()> {
    out.clear();
    buffers.escaped.clear();
    // JSON's whitespace is the only place a control character may stand outside a string; a
    // line holding one before its end is given up on, so strings need no look for them. (The
    // least and the greatest byte, in one pass that vectorizes: the greatest tells ASCII.)
    let body = line.trim_ascii_end();
    let (least, greatest) = body
        .iter()
        .fold((u8::MAX, 0u8), |(lo, hi), &x| (lo.min(x), hi.max(x)));
    if least < 0x20 {
        return None;
    }
    let text = if greatest < 0x80 {
        // SAFETY: every byte is below 0x80 (just checked), and ASCII text is UTF-8.
        unsafe { std::str::from_utf8_unchecked(line) }
    } else {
        std::str::from_utf8(line).ok()?
    };
    let mut s = Scan {
        text,
        b: line,
        i: 0,
        escaped: &mut buffers.escaped,
    };
    s.ws();
    if s.peek() != Some(b'{') {
        return None;
    }
    s.object(p, nested, 1, out)?;
    s.ws();
    if s.i != line.len() {
        return None;
    }
    if !buffers.escaped.is_empty() {
        unescape(text, buffers, out);
    }
    Some(())
}

/// What a scan keeps between lines: the spans of kept strings with escapes, and their text
/// unescaped.
#[derive(Default)]
pub(super) struct Buffers {
    escaped: Vec<(usize, usize, usize)>,
    unescaped: String,
}

/// The kept strings with escapes, unescaped into `buffers.unescaped` (one after the other),
/// and their nodes pointed at them. The scan checked every escape (`Scan::string_end`).
fn unescape<'l>(text: &'l str, buffers: &'l mut Buffers, out: &mut [Node<'l>]) {
    let Buffers { escaped, unescaped } = buffers;
    unescaped.clear();
    for (_, start, end) in escaped.iter_mut() {
        let mut rest = &text[*start..*end];
        *start = unescaped.len();
        while let Some(k) = rest.find('\\') {
            unescaped.push_str(&rest[..k]);
            let b = rest.as_bytes();
            let (c, len) = match b[k + 1] {
                b'b' => ('\u{8}', 2),
                b'f' => ('\u{c}', 2),
                b'n' => ('\n', 2),
                b'r' => ('\r', 2),
                b't' => ('\t', 2),
                b'u' => {
                    // not a surrogate (the scan gave those up), so a char
                    let unit = hex4(&b[k + 2..k + 6]).unwrap_or(0xFFFD);
                    (char::from_u32(u32::from(unit)).unwrap_or('\u{FFFD}'), 6)
                }
                c => (char::from(c), 2),
            };
            unescaped.push(c);
            rest = &rest[k + len..];
        }
        unescaped.push_str(rest);
        *end = unescaped.len();
    }
    let unescaped: &'l str = unescaped;
    for &(node, start, end) in escaped.iter() {
        out[node] = Node::String(&unescaped[start..end]);
    }
}

/// The value of four hex digits.
#[inline(always)]
fn hex4(h: &[u8]) -> Option<u16> {
    h.iter().try_fold(0u16, |n, &c| {
        let d = (c as char).to_digit(16)?;
        Some(n << 4 | d as u16)
    })
}

struct Scan<'l, 'e> {
    text: &'l str,
    b: &'l [u8],
    i: usize,
    /// The kept strings with escapes: their node's index in the tape, and their text's span.
    escaped: &'e mut Vec<(usize, usize, usize)>,
}

impl<'l> Scan<'l, '_> {
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// Past JSON's whitespace (serde_json's `parse_whitespace`).
    #[inline(always)]
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    /// Past `c` (after whitespace), or `None`.
    #[inline(always)]
    fn eat(&mut self, c: u8) -> Option<()> {
        self.ws();
        if self.peek() != Some(c) {
            return None;
        }
        self.i += 1;
        Some(())
    }

    /// Past the string whose opening quote is at `i`, as serde_json's `ignore_str` checks it.
    #[inline(always)]
    fn skip_string(&mut self) -> Option<()> {
        self.i = self.string_end(self.i + 1, true)?.0 + 1;
        Some(())
    }

    /// The string whose opening quote is at `i`, kept, into `out`: borrowed from the line, or,
    /// with escapes, a node for `unescape` to fill. Given up on where serde_json might read it
    /// otherwise: a `\u` escape of a surrogate (paired, serde_json joins them; alone, it
    /// refuses the line).
    fn kept_string(&mut self, out: &mut Vec<Node<'l>>) -> Option<()> {
        let start = self.i + 1;
        let (end, escaped) = self.string_end(start, false)?;
        self.i = end + 1;
        if escaped {
            self.escaped.push((out.len(), start, end));
            out.push(Node::String(""));
        } else {
            out.push(Node::String(&self.text[start..end]));
        }
        Some(())
    }

    /// The index of the closing quote of the string whose text starts at `j`, and whether
    /// the text holds an escape; `None` for a bad escape (serde_json's list: `\"`, `\\`,
    /// `\/`, `\b`, `\f`, `\n`, `\r`, `\t`, `\u` and four hex digits, and `\u` of a
    /// surrogate only where `surrogates` allows) or no closing quote.
    #[inline(always)]
    fn string_end(&self, mut j: usize, surrogates: bool) -> Option<(usize, bool)> {
        let mut escaped = false;
        loop {
            j = quote_or_backslash(self.b, j)?;
            match self.b[j] {
                b'"' => return Some((j, escaped)),
                b'\\' => {
                    escaped = true;
                    match self.b.get(j + 1)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => j += 2,
                        b'u' => {
                            let unit = hex4(self.b.get(j + 2..j + 6)?)?;
                            if !surrogates && (0xD800..0xE000).contains(&unit) {
                                return None;
                            }
                            j += 6;
                        }
                        _ => return None,
                    }
                }
                _ => return None,
            }
        }
    }

    /// Past a number at `i` of JSON's grammar (`-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]?
    /// [0-9]+)?`); its integer's digits and whether it is only an integer.
    #[inline(always)]
    fn number(&mut self) -> Option<(&'l [u8], bool)> {
        let b = self.b;
        let start = self.i;
        let neg = b[start] == b'-';
        let d0 = start + usize::from(neg);
        let digits =
            |from: usize| from + b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
        let mut end = digits(d0);
        if end == d0 || (b[d0] == b'0' && end > d0 + 1) {
            return None;
        }
        let int = &b[start..end];
        let mut whole = true;
        if b.get(end) == Some(&b'.') {
            let e = digits(end + 1);
            if e == end + 1 {
                return None;
            }
            (end, whole) = (e, false);
        }
        if let Some(b'e' | b'E') = b.get(end) {
            let from = end + 1 + usize::from(matches!(b.get(end + 1), Some(b'+' | b'-')));
            let e = digits(from);
            if e == from {
                return None;
            }
            (end, whole) = (e, false);
        }
        self.i = end;
        Some((int, whole))
    }

    /// Past `word` at `i`.
    #[inline(always)]
    fn literal(&mut self, word: &[u8]) -> Option<()> {
        if !self.b[self.i..].starts_with(word) {
            return None;
        }
        self.i += word.len();
        Some(())
    }

    /// The object at `i` (`{`, checked by the caller) into `out`: its members whose keys
    /// `p` keeps.
    fn object(
        &mut self,
        p: &Projection,
        nested: bool,
        depth: usize,
        out: &mut Vec<Node<'l>>,
    ) -> Option<()> {
        let at = out.len();
        out.push(Node::Object { len: 0, count: 0 });
        self.i += 1;
        self.ws();
        let mut len = 0;
        if self.peek() == Some(b'}') {
            self.i += 1;
        } else {
            loop {
                // the key, up to its closing quote (an escape in it: given up on)
                if self.peek() != Some(b'"') {
                    return None;
                }
                let start = self.i + 1;
                let end = quote_or_backslash(self.b, start)?;
                if self.b[end] != b'"' {
                    return None;
                }
                self.i = end + 1;
                // the colon: compact first
                if self.peek() == Some(b':') {
                    self.i += 1;
                } else {
                    self.eat(b':')?;
                }
                self.ws();
                match p.get_bytes(&self.b[start..end]) {
                    None if self.peek() == Some(b'"') => self.skip_string()?,
                    None => self.skip()?,
                    Some(how) => {
                        len += 1;
                        out.push(Node::String(&self.text[start..end]));
                        match how {
                            Some(q) if nested && self.peek() == Some(b'{') => {
                                if depth + 1 >= MAX_DEPTH {
                                    return None;
                                }
                                self.object(q, nested, depth + 1, out)?
                            }
                            _ => self.value(depth, out)?,
                        }
                    }
                }
                // the comma or the end: compact first
                let mut next = self.peek()?;
                if matches!(next, b' ' | b'\n' | b'\t' | b'\r') {
                    self.ws();
                    next = self.peek()?;
                }
                self.i += 1;
                match next {
                    b',' => self.ws(),
                    b'}' => break,
                    _ => return None,
                }
            }
        }
        out[at] = Node::Object {
            len,
            count: out.len() - at - 1,
        };
        Some(())
    }

    /// The value at `i`, `depth` levels in, whole into `out`.
    fn value(&mut self, depth: usize, out: &mut Vec<Node<'l>>) -> Option<()> {
        let node = match self.peek()? {
            b'"' => return self.kept_string(out),
            b'{' | b'[' if depth + 1 >= MAX_DEPTH => return None,
            b'{' => return self.object(&WHOLE, true, depth + 1, out),
            b'[' => return self.array(depth + 1, out),
            b't' => {
                self.literal(b"true")?;
                Node::Static(StaticNode::Bool(true))
            }
            b'f' => {
                self.literal(b"false")?;
                Node::Static(StaticNode::Bool(false))
            }
            b'n' => {
                self.literal(b"null")?;
                Node::Static(StaticNode::Null)
            }
            b'-' | b'0'..=b'9' => Node::Static(integer(self.number()?)?),
            _ => return None,
        };
        out.push(node);
        Some(())
    }

    /// The array at `i` (`[`), `depth` levels in counting it, whole into `out`.
    fn array(&mut self, depth: usize, out: &mut Vec<Node<'l>>) -> Option<()> {
        let at = out.len();
        out.push(Node::Array { len: 0, count: 0 });
        self.i += 1;
        self.ws();
        let mut len = 0;
        if self.peek() == Some(b']') {
            self.i += 1;
        } else {
            loop {
                self.value(depth, out)?;
                len += 1;
                self.ws();
                match self.peek()? {
                    b',' => {
                        self.i += 1;
                        self.ws();
                    }
                    b']' => {
                        self.i += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        out[at] = Node::Array {
            len,
            count: out.len() - at - 1,
        };
        Some(())
    }

    /// Past the value at `i`, checked as serde_json's `ignore_value` checks it; nesting is
    /// followed in a word of frames (bit set: an object).
    fn skip(&mut self) -> Option<()> {
        let (mut frames, mut depth) = (0u64, 0u32);
        loop {
            // a value
            match self.peek()? {
                b'"' => self.skip_string()?,
                b'-' | b'0'..=b'9' => {
                    self.number()?;
                }
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                c @ (b'{' | b'[') => {
                    if depth == MAX_SKIP_DEPTH {
                        return None;
                    }
                    self.i += 1;
                    self.ws();
                    let close = if c == b'{' { b'}' } else { b']' };
                    if self.peek() == Some(close) {
                        self.i += 1;
                    } else {
                        frames = frames << 1 | u64::from(c == b'{');
                        depth += 1;
                        if c == b'{' {
                            self.skip_key()?;
                        }
                        continue;
                    }
                }
                _ => return None,
            }
            // after a value: the next one, or the ends of the frames it closes
            loop {
                if depth == 0 {
                    return Some(());
                }
                let object = frames & 1 == 1;
                self.ws();
                match self.peek()? {
                    b',' => {
                        self.i += 1;
                        self.ws();
                        if object {
                            self.skip_key()?;
                        }
                        break;
                    }
                    b'}' if object => {}
                    b']' if !object => {}
                    _ => return None,
                }
                self.i += 1;
                frames >>= 1;
                depth -= 1;
            }
        }
    }

    /// Past a skipped object's key and its colon, up to its value.
    fn skip_key(&mut self) -> Option<()> {
        if self.peek() != Some(b'"') {
            return None;
        }
        self.skip_string()?;
        self.eat(b':')?;
        self.ws();
        Some(())
    }
}

/// An integer's node as simd-json's tape walkers read it (`project::tape_value`): the
/// integers of at most `MAX_DIGITS` digits, but `-0`; `None` for the rest.
fn integer((digits, whole): (&[u8], bool)) -> Option<StaticNode> {
    if !whole {
        return None;
    }
    let (neg, d) = match digits {
        [b'-', d @ ..] => (true, d),
        d => (false, d),
    };
    if d.len() > MAX_DIGITS {
        return None;
    }
    let n = d.iter().fold(0u64, |n, c| n * 10 + u64::from(c - b'0'));
    Some(match (neg, n) {
        (false, n) => StaticNode::U64(n),
        (true, 0) => return None,
        (true, n) => StaticNode::I64(-(n as i64)),
    })
}
