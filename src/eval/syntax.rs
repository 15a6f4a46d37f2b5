//! The parser front-end shared by the KQL, SPL and EQL evaluators: a character cursor that
//! tracks line and column for the lexers, a token stream with one-token lookahead for the
//! recursive-descent parsers (peek / eat / expect / err), the nesting guard, and the one error
//! type every stage returns. Token kinds and grammars stay in each language's module; this
//! file holds only what the three had written out separately.

use crate::diag::Span;
use std::fmt;

/// Deepest nesting a parser accepts. Emitted queries nest a handful of levels; artifacts a
/// human edited (`verify --artifacts`) or hostile text must not overflow the stack.
pub const MAX_DEPTH: usize = 128;

/// A lexing or parsing error: what went wrong, at the 1-based line and column (in characters).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub message: String,
    pub span: Span,
    /// Refused by the nesting guard ([`MAX_DEPTH`]) rather than by the grammar: text that is
    /// well formed but nested too deep (the fuzzers tell the two apart by this, not by words).
    pub too_deep: bool,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.span.line, self.span.col, self.message)
    }
}

/// The position just past the last character of `src`, where "unexpected end" errors point.
/// Text ending in a newline ends at the start of the following (empty) line.
pub fn end_span(src: &str) -> Span {
    let line = src.split('\n').count();
    let col = src.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Span {
        line,
        col,
        offset: src.len(),
    }
}

/// A lexer's position in its source text: character index, 1-based line and column.
pub struct Cursor<'a> {
    chars: Vec<(usize, char)>,
    src: &'a str,
    i: usize,
    line: usize,
    col: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(src: &'a str) -> Cursor<'a> {
        Cursor {
            chars: src.char_indices().collect(),
            src,
            i: 0,
            line: 1,
            col: 1,
        }
    }
    /// The character `k` places ahead of the cursor.
    #[inline]
    pub fn at(&self, k: usize) -> Option<char> {
        self.chars.get(self.i + k).map(|(_, c)| *c)
    }
    /// Where the cursor stands (the end of the text once it is consumed).
    #[inline]
    pub fn span(&self) -> Span {
        Span {
            line: self.line,
            col: self.col,
            offset: self.chars.get(self.i).map_or(self.src.len(), |(o, _)| *o),
        }
    }
    /// Consume one character, moving the line and column past it.
    #[inline]
    pub fn bump(&mut self) -> Option<char> {
        let c = self.at(0)?;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        self.i += 1;
        Some(c)
    }
    /// Consume `n` characters (fewer at the end of the text).
    #[inline]
    pub fn bump_n(&mut self, n: usize) {
        for _ in 0..n {
            self.bump();
        }
    }
    /// The unconsumed text.
    #[inline]
    pub fn rest(&self) -> &'a str {
        &self.src[self.span().offset..]
    }
    #[inline]
    pub fn starts_with(&self, s: &str) -> bool {
        self.rest().starts_with(s)
    }
    /// The characters `k..k + n` places ahead, as one string.
    pub fn ahead(&self, k: usize, n: usize) -> String {
        let from = (self.i + k).min(self.chars.len());
        let to = (self.i + k + n).min(self.chars.len());
        self.chars[from..to].iter().map(|(_, c)| c).collect()
    }
}

/// Where an AST node stands in the text: from its first token's start to where what follows
/// it starts (the next `|`, or the end of the text). As in sqlparser-rs, two locations always
/// compare equal and hash alike, so trees still compare by meaning only (the importer, the SPL
/// lint and the tests compare parsed queries) and a location never changes an evaluation.
#[derive(Clone, Copy, Debug, Default)]
pub struct Loc {
    pub start: Span,
    pub end: Span,
}

impl Loc {
    /// A run-time error `message` placed at this stage: "in the stage at line 3, column 3: …",
    /// which `rmmc eval` prints after the query's file name.
    pub fn place(at: Option<&Loc>, message: &str) -> String {
        match at {
            Some(l) => format!(
                "in the stage at line {}, column {}: {message}",
                l.start.line, l.start.col
            ),
            None => message.to_string(),
        }
    }
}

impl PartialEq for Loc {
    fn eq(&self, _: &Loc) -> bool {
        true
    }
}

impl Eq for Loc {}

impl std::hash::Hash for Loc {
    fn hash<H: std::hash::Hasher>(&self, _: &mut H) {}
}

/// One token and where it starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token<T> {
    pub tok: T,
    pub span: Span,
}

/// What the shared token stream needs to know about a language's token kinds.
pub trait TokenKind: fmt::Display + Clone {
    /// The operator or punctuation this token is, if it is one.
    fn punct(&self) -> Option<&str>;
    /// The bare word (identifier or keyword) this token is, if it is one.
    fn word(&self) -> Option<&str>;
}

/// `impl TokenKind` for a language's `Tok` enum, whose operators are `Punct(&'static str)`
/// and whose bare words are the variant `$word`.
macro_rules! token_kind {
    ($tok:ident, $word:ident) => {
        impl $crate::eval::syntax::TokenKind for $tok {
            fn punct(&self) -> Option<&str> {
                match self {
                    $tok::Punct(p) => Some(p),
                    _ => None,
                }
            }
            fn word(&self) -> Option<&str> {
                match self {
                    $tok::$word(w) => Some(w),
                    _ => None,
                }
            }
        }
    };
}
pub(crate) use token_kind;

/// How a language names things in the shared messages ("unexpected end of query").
pub struct Wording {
    /// What running out of tokens is called: `end of query`, `end of search`.
    pub end: &'static str,
    /// The depth-limit message before ` deeper than N levels`.
    pub nesting: &'static str,
}

/// A parser's view of the tokens: a position, lookahead, and the nesting depth.
pub struct TokenStream<T> {
    toks: Vec<Token<T>>,
    pub pos: usize,
    depth: usize,
    end: Span,
    wording: Wording,
}

impl<T: TokenKind> TokenStream<T> {
    pub fn new(toks: Vec<Token<T>>, src: &str, wording: Wording) -> TokenStream<T> {
        TokenStream {
            toks,
            pos: 0,
            depth: 0,
            end: end_span(src),
            wording,
        }
    }
    /// Report running out of tokens at `end` instead of the end of the text.
    pub fn ending_at(mut self, end: Span) -> TokenStream<T> {
        self.end = end;
        self
    }
    pub fn peek(&self) -> Option<&T> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }
    pub fn peek_at(&self, n: usize) -> Option<&T> {
        self.toks.get(self.pos + n).map(|t| &t.tok)
    }
    /// The span of the next token, or the end of the text.
    pub fn span(&self) -> Span {
        self.toks.get(self.pos).map_or(self.end, |t| t.span)
    }
    /// Where the node that began at `start` stands, now that it is parsed.
    pub fn loc_from(&self, start: Span) -> Loc {
        Loc {
            start,
            end: self.span(),
        }
    }
    pub fn at_end(&self) -> bool {
        self.pos >= self.toks.len()
    }
    /// Consume the next token.
    pub fn bump(&mut self) -> Option<T> {
        let t = self.peek().cloned();
        self.pos += 1;
        t
    }
    /// An error at `span`.
    pub fn fail_at<R>(&self, message: String, span: Span) -> Result<R, ParseError> {
        Err(ParseError {
            too_deep: false,
            message,
            span,
        })
    }
    /// An error at the next token.
    pub fn fail<R>(&self, message: String) -> Result<R, ParseError> {
        self.fail_at(message, self.span())
    }
    /// "unexpected X, expected Y" at the next token.
    pub fn err<R>(&self, expected: &str) -> Result<R, ParseError> {
        let found = self
            .peek()
            .map_or_else(|| self.wording.end.to_string(), |t| format!("`{t}`"));
        self.fail(format!("unexpected {found}, expected {expected}"))
    }
    pub fn is_punct(&self, p: &str) -> bool {
        self.peek().and_then(T::punct) == Some(p)
    }
    pub fn eat_punct(&mut self, p: &str) -> bool {
        let hit = self.is_punct(p);
        if hit {
            self.pos += 1;
        }
        hit
    }
    pub fn expect_punct(&mut self, p: &str) -> Result<(), ParseError> {
        if self.eat_punct(p) {
            Ok(())
        } else {
            self.err(&format!("`{p}`"))
        }
    }
    pub fn is_word(&self, w: &str) -> bool {
        self.peek().and_then(T::word) == Some(w)
    }
    pub fn eat_word(&mut self, w: &str) -> bool {
        let hit = self.is_word(w);
        if hit {
            self.pos += 1;
        }
        hit
    }
    /// Go one level deeper, refusing past [`MAX_DEPTH`]; pair with [`TokenStream::leave`].
    pub fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let message = format!("{} deeper than {MAX_DEPTH} levels", self.wording.nesting);
            return Err(ParseError {
                too_deep: true,
                ..self.fail::<()>(message).unwrap_err()
            });
        }
        Ok(())
    }
    pub fn leave(&mut self) {
        self.depth -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_span_counts_a_trailing_newline_as_a_new_line() {
        let at = |s: &str| {
            let e = end_span(s);
            (e.line, e.col, e.offset)
        };
        assert_eq!(at(""), (1, 1, 0));
        assert_eq!(at("ab"), (1, 3, 2));
        assert_eq!(at("ab\n"), (2, 1, 3));
        assert_eq!(at("a\né"), (2, 2, 4));
    }

    #[test]
    fn cursor_tracks_lines_and_columns() {
        let mut c = Cursor::new("a\nbé c");
        c.bump_n(3);
        assert_eq!((c.span().line, c.span().col, c.span().offset), (2, 2, 3));
        assert_eq!(c.ahead(0, 2), "é ");
        assert!(c.starts_with("é c"));
        c.bump_n(10);
        assert_eq!(c.span().offset, 7);
        assert_eq!(c.at(0), None);
    }

    /// Each pipeline stage of a parsed KQL query and SPL search says where it stands, from its
    /// first token to the next `|` (or the end); the locations never make two trees unequal.
    #[test]
    fn pipeline_stages_carry_their_locations() {
        let lc = |l: &Loc| (l.start.line, l.start.col, l.end.line, l.end.col);
        let kql = "T\n| where a == 1\n| project a";
        let q = crate::eval::kql::parser::parse(kql).unwrap();
        assert_eq!(
            q.spans.iter().map(lc).collect::<Vec<_>>(),
            [(2, 3, 3, 1), (3, 3, 3, 12)]
        );
        let flat = crate::eval::kql::parser::parse("T | where a == 1 | project a").unwrap();
        assert_eq!(lc(&flat.spans[1]), (1, 20, 1, 29));
        assert_eq!(q, flat, "locations do not take part in equality");

        let spl = "index=x a=1\n| table a";
        let s = crate::eval::spl::parse(spl).unwrap();
        assert_eq!(
            s.spans.iter().map(lc).collect::<Vec<_>>(),
            [(1, 1, 2, 1), (2, 3, 2, 10)]
        );
        assert_eq!(
            s,
            crate::eval::spl::parse("index=x  a=1 | table a").unwrap()
        );
        assert_eq!(s.spans.len(), s.commands.len());
    }
}
