//! A lexer for the SPL subset in `ast`: words (field names, bare terms with `*` wildcards,
//! numbers, relative times such as `-5d`), double-quoted strings, single-quoted field names
//! (eval), comparison operators and punctuation. Triple-backtick comments (```` ```…``` ````,
//! Splunk 8.0+: "Add comments to searches", Search Manual) are skipped. Every token keeps its
//! 1-based line and column (in characters).
//!
//! Deliberately one lexer for the search command and for eval expressions: rmmc's eval subset
//! has no arithmetic, so `-`, `+`, `.`, `*`, `:` and `/` stay inside words (`-5d`,
//! `10.9.165.*`, `XmlWinEventLog:…`) in both contexts.

use crate::diag::Span;
use crate::eval::syntax::{self, Cursor, ParseError};
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tok {
    /// A run of word characters (`index`, `*`, `-5d`, `EventCode`, `AND`, `0`).
    Word(String),
    /// A double-quoted string by its decoded value (`\"` → `"`, `\\` → `\`).
    Str(String),
    /// A single-quoted field name (eval only): `'Image Path'`.
    Quoted(String),
    /// `|`, `(`, `)`, `,`, `=`, `==`, `!=`, `<`, `>`, `<=`, `>=`.
    Punct(&'static str),
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Word(s) => f.write_str(s),
            Tok::Str(s) => write!(f, "{s:?}"),
            Tok::Quoted(s) => write!(f, "'{s}'"),
            Tok::Punct(p) => f.write_str(p),
        }
    }
}

pub type Token = syntax::Token<Tok>;

syntax::token_kind!(Tok, Word);

const PUNCT: &[&str] = &["==", "!=", "<=", ">=", "|", "(", ")", ",", "=", "<", ">"];

fn is_word_char(c: char) -> bool {
    !(c.is_whitespace()
        || matches!(
            c,
            '|' | '(' | ')' | ',' | '=' | '<' | '>' | '"' | '\'' | '`'
        ))
}

fn err<T>(message: impl Into<String>, span: Span) -> Result<T, ParseError> {
    Err(ParseError {
        too_deep: false,
        message: message.into(),
        span,
    })
}

/// Decode the body of a double-quoted SPL string. Splunk documents `\"` and `\\` as the
/// escapes inside quoted strings ("SPL and regular expressions", Search Manual: "\\\\" in a
/// quoted string is one backslash); any other backslash is kept as written, so `"\d"`
/// reaches the regex engine as `\d`.
fn decode(body: &[char]) -> String {
    let mut out = String::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let c = body[i];
        if c == '\\' && matches!(body.get(i + 1), Some('"') | Some('\\')) {
            out.push(body[i + 1]);
            i += 2;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

pub fn lex(src: &str) -> Result<Vec<Token>, ParseError> {
    let mut cur = Cursor::new(src);
    let mut out = Vec::new();
    while let Some(c) = cur.at(0) {
        if c.is_whitespace() {
            cur.bump();
            continue;
        }
        let span = cur.span();
        if c == '`' {
            if cur.starts_with("```") {
                let mut k = 3;
                while cur.ahead(k, 3) != "```" {
                    if cur.at(k + 2).is_none() {
                        return err("unterminated ``` comment", span);
                    }
                    k += 1;
                }
                cur.bump_n(k + 3);
                continue;
            }
            return err(
                "search macros (`name`) are not supported; only ``` comments ``` use backticks",
                span,
            );
        }
        if c == '"' || c == '\'' {
            let mut body = Vec::new();
            let mut k = 1;
            let closed = loop {
                match cur.at(k) {
                    None => break false,
                    Some('\\') if c == '"' && cur.at(k + 1).is_some() => {
                        body.extend([Some('\\'), cur.at(k + 1)].into_iter().flatten());
                        k += 2;
                    }
                    Some(d) if d == c => break true,
                    Some(d) => {
                        body.push(d);
                        k += 1;
                    }
                }
            };
            if !closed {
                let what = if c == '"' {
                    "string"
                } else {
                    "quoted field name"
                };
                return err(format!("unterminated {what}"), span);
            }
            let tok = if c == '"' {
                Tok::Str(decode(&body))
            } else {
                Tok::Quoted(body.into_iter().collect())
            };
            cur.bump_n(k + 1);
            out.push(Token { tok, span });
            continue;
        }
        // `!` is an operator only before `=`; elsewhere it is part of a word.
        let rest = cur.rest();
        if let Some(p) = PUNCT.iter().find(|p| rest.starts_with(*p)) {
            cur.bump_n(p.chars().count());
            out.push(Token {
                tok: Tok::Punct(p),
                span,
            });
            continue;
        }
        if c == '[' || c == ']' {
            return err("subsearches ([ … ]) are not supported", span);
        }
        let mut word = String::new();
        while let Some(d) = cur.at(0).filter(|d| {
            is_word_char(*d) && !(*d == '!' && cur.at(1) == Some('=')) && !matches!(d, '[' | ']')
        }) {
            word.push(d);
            cur.bump();
        }
        if word.is_empty() {
            // Only a lone `!` not followed by `=` could get here; keep it as a word.
            word.push(c);
            cur.bump();
        }
        out.push(Token {
            tok: Tok::Word(word),
            span,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        lex(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn words_strings_and_operators() {
        let w = |s: &str| Tok::Word(s.into());
        let cases: &[(&str, Vec<Tok>)] = &[
            (
                r#"index=* sourcetype="a:b/c" EventCode=3"#,
                vec![
                    w("index"),
                    Tok::Punct("="),
                    w("*"),
                    w("sourcetype"),
                    Tok::Punct("="),
                    Tok::Str("a:b/c".into()),
                    w("EventCode"),
                    Tok::Punct("="),
                    w("3"),
                ],
            ),
            (
                "earliest=-5d x!=1",
                vec![
                    w("earliest"),
                    Tok::Punct("="),
                    w("-5d"),
                    w("x"),
                    Tok::Punct("!="),
                    w("1"),
                ],
            ),
            (
                r#"a=="x \"q\" \\ \d""#,
                vec![w("a"), Tok::Punct("=="), Tok::Str(r#"x "q" \ \d"#.into())],
            ),
            (
                "```c | omment``` | sort 0 - _time",
                vec![Tok::Punct("|"), w("sort"), w("0"), w("-"), w("_time")],
            ),
            (
                "'a b'<=2",
                vec![Tok::Quoted("a b".into()), Tok::Punct("<="), w("2")],
            ),
        ];
        for (src, want) in cases {
            assert_eq!(&toks(src), want, "{src}");
        }
    }

    #[test]
    fn positions_and_errors() {
        let t = lex("a\n  ```x\ny``` b").unwrap();
        assert_eq!((t[1].span.line, t[1].span.col), (3, 6));
        for (src, line, col, msg) in [
            ("a \"open", 1, 3, "unterminated string"),
            ("a\n ```never", 2, 2, "unterminated ``` comment"),
            ("x `macro`", 1, 3, "macros"),
            ("x [search y]", 1, 3, "subsearches"),
            ("'open", 1, 1, "unterminated quoted field name"),
        ] {
            let e = lex(src).unwrap_err();
            assert_eq!((e.span.line, e.span.col), (line, col), "{src}");
            assert!(e.message.contains(msg), "{src}: {}", e.message);
        }
    }
}
