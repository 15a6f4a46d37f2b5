//! A lexer for the KQL that rmmc emits and that Sentinel hunting queries use: identifiers,
//! numbers and timespans (`5d`), string literals in every quoting form, operators and
//! punctuation. Comments are skipped. Every token keeps its 1-based line and column.

use crate::eval::syntax::{self, Cursor, ParseError};
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tok {
    /// Identifiers and keywords (`where`, `has_any`, `DeviceNetworkEvents`).
    Ident(String),
    /// Numbers, including timespan literals such as `5d` or `1.5h`.
    Number(String),
    /// A string literal, by its decoded value (quoting style does not matter).
    Str(String),
    /// Operators and punctuation (`|`, `==`, `=~`, `!~`, `..`, `(`).
    Punct(&'static str),
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Ident(s) | Tok::Number(s) => f.write_str(s),
            Tok::Str(s) => write!(f, "{s:?}"),
            Tok::Punct(p) => f.write_str(p),
        }
    }
}

pub type Token = syntax::Token<Tok>;

syntax::token_kind!(Tok, Ident);

/// Multi-character operators first, so the longest match wins.
const PUNCT: &[&str] = &[
    "==", "=~", "!=", "!~", "<=", ">=", "..", "=>", "|", "(", ")", "[", "]", "{", "}", ",", ";",
    "=", "~", "!", "<", ">", "+", "-", "*", "/", "%", ".", ":",
];

pub fn lex(src: &str) -> Result<Vec<Token>, ParseError> {
    let mut cur = Cursor::new(src);
    let mut out = Vec::new();
    let err = |message: String, span| {
        Err(ParseError {
            too_deep: false,
            message,
            span,
        })
    };
    while let Some(c) = cur.at(0) {
        let span = cur.span();
        if c.is_whitespace() {
            cur.bump();
            continue;
        }
        if c == '/' && cur.at(1) == Some('/') {
            while cur.at(0).is_some_and(|c| c != '\n') {
                cur.bump();
            }
            continue;
        }
        // h'...' / H"..." obfuscated literals and @'...' verbatim literals
        let (prefix, verbatim) = match (c, cur.at(1), cur.at(2)) {
            ('@', Some('\'' | '"'), _) => (1, true),
            ('h' | 'H', Some('\'' | '"'), _) => (1, false),
            ('h' | 'H', Some('@'), Some('\'' | '"')) => (2, true),
            _ => (0, false),
        };
        let q = cur.at(prefix);
        if matches!(q, Some('\'' | '"')) && (prefix > 0 || c == '\'' || c == '"') {
            let q = q.expect("quote");
            cur.bump_n(prefix + 1);
            let mut value = String::new();
            loop {
                match cur.at(0) {
                    None | Some('\n') => return err("unterminated string literal".into(), span),
                    Some(ch) if ch == q => {
                        if verbatim && cur.at(1) == Some(q) {
                            value.push(q);
                            cur.bump_n(2);
                            continue;
                        }
                        cur.bump();
                        break;
                    }
                    Some('\\') if !verbatim => {
                        let esc = cur.at(1);
                        let decoded = match esc {
                            Some('n') => '\n',
                            Some('t') => '\t',
                            Some('r') => '\r',
                            Some('\\') => '\\',
                            Some('\'') => '\'',
                            Some('"') => '"',
                            _ => {
                                return err(
                                    format!(
                                        "unknown escape sequence \\{}",
                                        esc.map(String::from).unwrap_or_default()
                                    ),
                                    cur.span(),
                                )
                            }
                        };
                        value.push(decoded);
                        cur.bump_n(2);
                    }
                    Some(ch) => {
                        value.push(ch);
                        cur.bump();
                    }
                }
            }
            out.push(Token {
                tok: Tok::Str(value),
                span,
            });
            continue;
        }
        if c.is_ascii_digit() {
            let mut text = String::new();
            while let Some(d) = cur.at(0).filter(|d| {
                d.is_ascii_alphanumeric()
                    || *d == '_'
                    || (*d == '.' && cur.at(1).is_some_and(|c| c.is_ascii_digit()))
            }) {
                text.push(d);
                cur.bump();
            }
            out.push(Token {
                tok: Tok::Number(text),
                span,
            });
            continue;
        }
        if c.is_alphabetic() || c == '_' || c == '$' {
            let mut text = String::new();
            while let Some(d) = cur
                .at(0)
                .filter(|d| d.is_alphanumeric() || *d == '_' || *d == '$')
            {
                text.push(d);
                cur.bump();
            }
            out.push(Token {
                tok: Tok::Ident(text),
                span,
            });
            continue;
        }
        // Symbol operators only: `!contains` lexes as `!` + identifier.
        let rest = cur.rest();
        let Some(p) = PUNCT.iter().copied().find(|p| rest.starts_with(p)) else {
            return err(format!("unexpected character {c:?}"), span);
        };
        cur.bump_n(p.chars().count());
        out.push(Token {
            tok: Tok::Punct(p),
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
    fn strings_compare_by_value() {
        assert_eq!(toks(r#"'a\'b'"#), toks(r#""a'b""#));
        assert_eq!(toks(r"@'C:\x'"), vec![Tok::Str(r"C:\x".into())]);
        assert_eq!(toks(r"'C:\\x'"), vec![Tok::Str(r"C:\x".into())]);
        assert_eq!(toks("@'it''s'"), vec![Tok::Str("it's".into())]);
    }

    #[test]
    fn operators_and_timespans() {
        assert_eq!(
            toks("now(-5d) .. x =~ 'y' // c\n| where a !~ b and c != d"),
            vec![
                Tok::Ident("now".into()),
                Tok::Punct("("),
                Tok::Punct("-"),
                Tok::Number("5d".into()),
                Tok::Punct(")"),
                Tok::Punct(".."),
                Tok::Ident("x".into()),
                Tok::Punct("=~"),
                Tok::Str("y".into()),
                Tok::Punct("|"),
                Tok::Ident("where".into()),
                Tok::Ident("a".into()),
                Tok::Punct("!~"),
                Tok::Ident("b".into()),
                Tok::Ident("and".into()),
                Tok::Ident("c".into()),
                Tok::Punct("!="),
                Tok::Ident("d".into()),
            ]
        );
        assert_eq!(
            toks("in~ ('a')")[..2],
            [Tok::Ident("in".into()), Tok::Punct("~")]
        );
    }

    #[test]
    fn errors_carry_positions() {
        let e = lex("T\n| where x == 'open").unwrap_err();
        assert_eq!((e.span.line, e.span.col), (2, 14));
        assert!(lex("a ` b").is_err());
    }
}
