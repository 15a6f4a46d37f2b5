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
use crate::eval::kql::parser::ParseError;
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

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub tok: Tok,
    pub span: Span,
}

const PUNCT: &[&str] = &["==", "!=", "<=", ">=", "|", "(", ")", ",", "=", "<", ">"];

fn is_word_char(c: char) -> bool {
    !(c.is_whitespace()
        || matches!(
            c,
            '|' | '(' | ')' | ',' | '=' | '<' | '>' | '"' | '\'' | '`'
        ))
}

fn err(message: impl Into<String>, line: usize, col: usize, offset: usize) -> ParseError {
    ParseError {
        message: message.into(),
        span: Span { line, col, offset },
    }
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
    let chars: Vec<(usize, char)> = src.char_indices().collect();
    let n = chars.len();
    let mut out = Vec::new();
    let (mut i, mut line, mut col) = (0usize, 1usize, 1usize);
    let off = |i: usize| chars.get(i).map_or(src.len(), |c| c.0);
    // Advance over the chars in [from, to), tracking line and column.
    let advance = |from: usize, to: usize, line: &mut usize, col: &mut usize| {
        for &(_, c) in &chars[from..to] {
            if c == '\n' {
                *line += 1;
                *col = 1;
            } else {
                *col += 1;
            }
        }
    };
    while i < n {
        let c = chars[i].1;
        if c.is_whitespace() {
            advance(i, i + 1, &mut line, &mut col);
            i += 1;
            continue;
        }
        let (sl, sc, so) = (line, col, off(i));
        let span = Span {
            line: sl,
            col: sc,
            offset: so,
        };
        let at = |k: usize| chars.get(k).map(|c| c.1);
        if c == '`' {
            if at(i + 1) == Some('`') && at(i + 2) == Some('`') {
                let mut j = i + 3;
                loop {
                    if j + 2 >= n {
                        return Err(err("unterminated ``` comment", sl, sc, so));
                    }
                    if at(j) == Some('`') && at(j + 1) == Some('`') && at(j + 2) == Some('`') {
                        break;
                    }
                    j += 1;
                }
                advance(i, j + 3, &mut line, &mut col);
                i = j + 3;
                continue;
            }
            return Err(err(
                "search macros (`name`) are not supported; only ``` comments ``` use backticks",
                sl,
                sc,
                so,
            ));
        }
        if c == '"' || c == '\'' {
            let mut j = i + 1;
            let mut closed = false;
            while j < n {
                let d = chars[j].1;
                if d == '\\' && c == '"' && j + 1 < n {
                    j += 2;
                    continue;
                }
                if d == c {
                    closed = true;
                    break;
                }
                j += 1;
            }
            if !closed {
                let what = if c == '"' {
                    "string"
                } else {
                    "quoted field name"
                };
                return Err(err(format!("unterminated {what}"), sl, sc, so));
            }
            let body: Vec<char> = chars[i + 1..j].iter().map(|c| c.1).collect();
            let tok = if c == '"' {
                Tok::Str(decode(&body))
            } else {
                Tok::Quoted(body.into_iter().collect())
            };
            advance(i, j + 1, &mut line, &mut col);
            i = j + 1;
            out.push(Token { tok, span });
            continue;
        }
        // `!` is an operator only before `=`; elsewhere it is part of a word.
        if let Some(p) = PUNCT
            .iter()
            .find(|p| p.chars().enumerate().all(|(k, pc)| at(i + k) == Some(pc)))
        {
            let len = p.chars().count();
            advance(i, i + len, &mut line, &mut col);
            i += len;
            out.push(Token {
                tok: Tok::Punct(p),
                span,
            });
            continue;
        }
        if c == '[' || c == ']' {
            return Err(err("subsearches ([ … ]) are not supported", sl, sc, so));
        }
        let mut j = i;
        while j < n && is_word_char(chars[j].1) && !(chars[j].1 == '!' && at(j + 1) == Some('=')) {
            if matches!(chars[j].1, '[' | ']') {
                break;
            }
            j += 1;
        }
        if j == i {
            // Only a lone `!` not followed by `=` could get here; keep it as a word.
            j = i + 1;
        }
        let word: String = chars[i..j].iter().map(|c| c.1).collect();
        advance(i, j, &mut line, &mut col);
        i = j;
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
