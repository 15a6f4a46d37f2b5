//! A lexer for Elasticsearch EQL event queries: identifiers and dotted field names (with
//! backtick escapes), numbers, strings (`"…"` with escapes, `"""raw"""`), operators and
//! punctuation. `//` line and `/* */` block comments are skipped. Every token keeps its
//! 1-based line and column.
//!
//! String rules follow the EQL syntax reference (elastic/elasticsearch
//! `docs/reference/eql/syntax.asciidoc`, "Escape characters in a string" / "Raw strings"):
//! escapes `\n \r \t \\ \"` and `\u{XXXXXXXX}` with 2–8 hex digits; single-quoted strings are
//! not supported; a raw string runs to the next `"""` and has no escapes.

use crate::diag::Span;
use crate::eval::syntax::{self, Cursor, ParseError};
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tok {
    /// Identifiers, keywords and dotted field names (`process.pe.company`, `and`). A word
    /// followed directly by `~` (`in~`, `like~`, `startsWith~`) lexes as one identifier.
    Ident(String),
    /// A field name written in backticks (never a keyword).
    Field(String),
    /// A number literal as written (`443`, `-1`, `0.5`).
    Num(String),
    /// A string literal, by its decoded value.
    Str(String),
    /// Operators and punctuation.
    Punct(&'static str),
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Ident(s) | Tok::Num(s) => f.write_str(s),
            Tok::Field(s) => write!(f, "`{s}`"),
            Tok::Str(s) => write!(f, "{s:?}"),
            Tok::Punct(p) => f.write_str(p),
        }
    }
}

pub type Token = syntax::Token<Tok>;

syntax::token_kind!(Tok, Ident);

/// Longest first. `=` alone is refused with a hint, as Elasticsearch does.
const PUNCT: &[&str] = &[
    "==", "!=", "<=", ">=", "<", ">", ":", "(", ")", ",", "~", "[", "]", "|",
];

fn err<T>(message: impl Into<String>, span: Span) -> Result<T, ParseError> {
    Err(ParseError {
        too_deep: false,
        message: message.into(),
        span,
    })
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == '@'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '@' || c == '.'
}

pub fn lex(src: &str) -> Result<Vec<Token>, ParseError> {
    let mut cur = Cursor::new(src);
    let mut out = Vec::new();
    while let Some(c) = cur.at(0) {
        let span = cur.span();
        if c.is_whitespace() {
            cur.bump();
        } else if cur.starts_with("//") {
            while cur.at(0).is_some_and(|c| c != '\n') {
                cur.bump();
            }
        } else if cur.starts_with("/*") {
            cur.bump_n(2);
            loop {
                if cur.starts_with("*/") {
                    cur.bump_n(2);
                    break;
                }
                if cur.bump().is_none() {
                    return err("unterminated /* comment", span);
                }
            }
        } else if cur.starts_with("\"\"\"") {
            cur.bump_n(3);
            let mut v = String::new();
            loop {
                if cur.starts_with("\"\"\"") {
                    cur.bump_n(3);
                    break;
                }
                match cur.bump() {
                    Some(c) => v.push(c),
                    None => return err("unterminated raw string (\"\"\")", span),
                }
            }
            out.push(Token {
                tok: Tok::Str(v),
                span,
            });
        } else if c == '"' {
            cur.bump();
            let v = string_body(&mut cur, span)?;
            out.push(Token {
                tok: Tok::Str(v),
                span,
            });
        } else if c == '\'' {
            return err(
                "single-quoted strings are not supported in EQL; use double quotes",
                span,
            );
        } else if c == '`' {
            cur.bump();
            let mut v = String::new();
            loop {
                match cur.bump() {
                    Some('`') if cur.at(0) == Some('`') => {
                        cur.bump();
                        v.push('`');
                    }
                    Some('`') => break,
                    Some('\n') | None => return err("unterminated `field name`", span),
                    Some(c) => v.push(c),
                }
            }
            if v.is_empty() {
                return err("empty `field name`", span);
            }
            out.push(Token {
                tok: Tok::Field(v),
                span,
            });
        } else if c.is_ascii_digit() || (c == '-' && cur.at(1).is_some_and(|d| d.is_ascii_digit()))
        {
            let mut v = String::new();
            v.push(cur.bump().unwrap_or(c));
            let mut dot = false;
            while let Some(d) = cur.at(0) {
                if d.is_ascii_digit() {
                    v.push(d);
                } else if d == '.' && !dot && cur.at(1).is_some_and(|e| e.is_ascii_digit()) {
                    dot = true;
                    v.push(d);
                } else if d.is_ascii_alphabetic() || d == '_' {
                    return err(format!("malformed number starting {v:?}"), span);
                } else {
                    break;
                }
                cur.bump();
            }
            out.push(Token {
                tok: Tok::Num(v),
                span,
            });
        } else if is_ident_start(c) {
            let mut v = String::new();
            while let Some(d) = cur.at(0).filter(|d| is_ident_char(*d)) {
                v.push(d);
                cur.bump();
            }
            if v.ends_with('.') || v.contains("..") {
                return err(format!("malformed field name {v:?}"), span);
            }
            if cur.at(0) == Some('~') {
                cur.bump();
                v.push('~');
            }
            out.push(Token {
                tok: Tok::Ident(v),
                span,
            });
        } else if let Some(p) = PUNCT.iter().copied().find(|p| cur.starts_with(p)) {
            cur.bump_n(p.chars().count());
            out.push(Token {
                tok: Tok::Punct(p),
                span,
            });
        } else if c == '=' {
            return err("`=` is not an EQL operator; use `==` or `:`", span);
        } else {
            return err(format!("unexpected character {c:?}"), span);
        }
    }
    Ok(out)
}

/// The rest of a `"…"` string after its opening quote.
fn string_body(cur: &mut Cursor, open: Span) -> Result<String, ParseError> {
    let mut v = String::new();
    loop {
        let at = cur.span();
        match cur.bump() {
            None => return err("unterminated string", open),
            Some('"') => return Ok(v),
            Some('\n' | '\r') => return err("unterminated string (line break inside)", open),
            Some('\\') => {
                let e = cur.bump();
                v.push(match e {
                    Some('n') => '\n',
                    Some('r') => '\r',
                    Some('t') => '\t',
                    Some('\\') => '\\',
                    Some('"') => '"',
                    Some('u') => unicode_escape(cur, at)?,
                    Some('\'') => {
                        return err("`\\'` is reserved in EQL; use a double-quoted string", at)
                    }
                    other => {
                        return err(
                            format!(
                                "unknown escape sequence \\{}",
                                other.map(String::from).unwrap_or_default()
                            ),
                            at,
                        )
                    }
                });
            }
            Some(c) => v.push(c),
        }
    }
}

/// `\u{XXXX}`: 2–8 hex digits naming a Unicode scalar value.
fn unicode_escape(cur: &mut Cursor, at: Span) -> Result<char, ParseError> {
    if cur.bump() != Some('{') {
        return err("\\u needs braces: \\u{XXXX}", at);
    }
    let mut hex = String::new();
    loop {
        match cur.bump() {
            Some('}') => break,
            Some(c) if c.is_ascii_hexdigit() && hex.len() < 8 => hex.push(c),
            _ => return err("\\u{…} takes 2 to 8 hex digits and a closing brace", at),
        }
    }
    if hex.len() < 2 {
        return err("\\u{…} takes 2 to 8 hex digits", at);
    }
    u32::from_str_radix(&hex, 16)
        .ok()
        .and_then(char::from_u32)
        .map_or_else(
            || err(format!("\\u{{{hex}}} is not a Unicode scalar value"), at),
            Ok,
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        lex(s).unwrap().into_iter().map(|t| t.tok).collect()
    }
    fn s(v: &str) -> Vec<Tok> {
        vec![Tok::Str(v.into())]
    }

    #[test]
    fn string_escapes() {
        let cases: &[(&str, &str)] = &[
            (r#""a\"b""#, "a\"b"),
            (r#""C:\\x""#, "C:\\x"),
            (r#""\n\t\r""#, "\n\t\r"),
            (r#""\u{212A}""#, "\u{212A}"),
            (r#""\u{0000200f}""#, "\u{200f}"),
            (r#""\u{e9}x""#, "éx"),
            (r#""""raw \ " \n""""#, "raw \\ \" \\n"),
            (r#""""""""#, ""),
            (r#""日本""#, "日本"),
        ];
        for (src, want) in cases {
            assert_eq!(toks(src), s(want), "{src}");
        }
    }

    #[test]
    fn string_errors_have_positions() {
        let cases: &[(&str, (usize, usize), &str)] = &[
            ("a == \"open", (1, 6), "unterminated string"),
            ("a ==\n  \"x\\q\"", (2, 5), "unknown escape"),
            ("a == \"\\u{1}\"", (1, 7), "2 to 8"),
            ("a == \"\\u{110000}\"", (1, 7), "scalar"),
            ("a == \"\\u{D800}\"", (1, 7), "scalar"),
            ("a == \"\\u{123456789}\"", (1, 7), "2 to 8"),
            ("a == \"\\u12\"", (1, 7), "braces"),
            ("a == 'x'", (1, 6), "single-quoted"),
            ("a == \"\"\"x", (1, 6), "raw string"),
            ("a = \"x\"", (1, 3), "`==` or `:`"),
            ("a == \"x\ny\"", (1, 6), "line break"),
            ("/* x", (1, 1), "comment"),
            ("a == #", (1, 6), "unexpected character"),
            ("`a", (1, 1), "field name"),
            ("12ab", (1, 1), "malformed number"),
            ("a. == 1", (1, 1), "malformed field"),
        ];
        for (src, (line, col), msg) in cases {
            let e = lex(src).unwrap_err();
            assert_eq!((e.span.line, e.span.col), (*line, *col), "{src}: {e}");
            assert!(e.message.contains(msg), "{src}: {e}");
        }
    }

    #[test]
    fn words_operators_comments() {
        assert_eq!(
            toks("// c\nprocess where a.b in~ (\"x\", -1) /* c */ and `my-f``x` != 0.5"),
            vec![
                Tok::Ident("process".into()),
                Tok::Ident("where".into()),
                Tok::Ident("a.b".into()),
                Tok::Ident("in~".into()),
                Tok::Punct("("),
                Tok::Str("x".into()),
                Tok::Punct(","),
                Tok::Num("-1".into()),
                Tok::Punct(")"),
                Tok::Ident("and".into()),
                Tok::Field("my-f`x".into()),
                Tok::Punct("!="),
                Tok::Num("0.5".into()),
            ]
        );
        assert_eq!(toks("a<=b>=c<d>e:f")[1], Tok::Punct("<="));
        assert_eq!(toks("@timestamp")[0], Tok::Ident("@timestamp".into()));
    }
}
