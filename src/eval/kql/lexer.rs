//! A lexer for the KQL that rmmc emits and that Sentinel hunting queries use: identifiers,
//! numbers and timespans (`5d`), string literals in every quoting form, operators and
//! punctuation. Comments are skipped. Every token keeps its 1-based line and column.

use crate::diag::Span;
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

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub tok: Tok,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LexError {
    pub message: String,
    pub span: Span,
}

impl fmt::Display for LexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.span.line, self.span.col, self.message)
    }
}

/// Multi-character operators first, so the longest match wins.
const PUNCT: &[&str] = &[
    "==", "=~", "!=", "!~", "<=", ">=", "..", "=>", "|", "(", ")", "[", "]", "{", "}", ",", ";",
    "=", "~", "!", "<", ">", "+", "-", "*", "/", "%", ".", ":",
];

pub fn lex(src: &str) -> Result<Vec<Token>, LexError> {
    let chars: Vec<(usize, char)> = src.char_indices().collect();
    let mut out = Vec::new();
    let (mut i, mut line, mut col) = (0usize, 1usize, 1usize);
    // advance over n chars, tracking line/col
    macro_rules! bump {
        ($n:expr) => {
            for _ in 0..$n {
                if let Some((_, c)) = chars.get(i) {
                    if *c == '\n' {
                        line += 1;
                        col = 1;
                    } else {
                        col += 1;
                    }
                }
                i += 1;
            }
        };
    }
    let at = |i: usize| chars.get(i).map(|(_, c)| *c);
    while let Some(c) = at(i) {
        let span = Span {
            line,
            col,
            offset: chars[i].0,
        };
        if c.is_whitespace() {
            bump!(1);
            continue;
        }
        if c == '/' && at(i + 1) == Some('/') {
            while at(i).is_some_and(|c| c != '\n') {
                bump!(1);
            }
            continue;
        }
        // h'...' / H"..." obfuscated literals and @'...' verbatim literals
        let (prefix, verbatim) = match (c, at(i + 1), at(i + 2)) {
            ('@', Some('\'' | '"'), _) => (1, true),
            ('h' | 'H', Some('\'' | '"'), _) => (1, false),
            ('h' | 'H', Some('@'), Some('\'' | '"')) => (2, true),
            _ => (0, false),
        };
        let q = at(i + prefix);
        if matches!(q, Some('\'' | '"')) && (prefix > 0 || c == '\'' || c == '"') {
            let q = q.expect("quote");
            bump!(prefix + 1);
            let mut value = String::new();
            loop {
                match at(i) {
                    None | Some('\n') => {
                        return Err(LexError {
                            message: "unterminated string literal".into(),
                            span,
                        })
                    }
                    Some(ch) if ch == q => {
                        if verbatim && at(i + 1) == Some(q) {
                            value.push(q);
                            bump!(2);
                            continue;
                        }
                        bump!(1);
                        break;
                    }
                    Some('\\') if !verbatim => {
                        let esc = at(i + 1);
                        let decoded = match esc {
                            Some('n') => '\n',
                            Some('t') => '\t',
                            Some('r') => '\r',
                            Some('\\') => '\\',
                            Some('\'') => '\'',
                            Some('"') => '"',
                            _ => {
                                return Err(LexError {
                                    message: format!(
                                        "unknown escape sequence \\{}",
                                        esc.map(String::from).unwrap_or_default()
                                    ),
                                    span: Span {
                                        line,
                                        col,
                                        offset: chars[i].0,
                                    },
                                })
                            }
                        };
                        value.push(decoded);
                        bump!(2);
                    }
                    Some(ch) => {
                        value.push(ch);
                        bump!(1);
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
            let start = i;
            while at(i).is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                || (at(i) == Some('.') && at(i + 1).is_some_and(|c| c.is_ascii_digit()))
            {
                bump!(1);
            }
            let text: String = chars[start..i].iter().map(|(_, c)| c).collect();
            out.push(Token {
                tok: Tok::Number(text),
                span,
            });
            continue;
        }
        if c.is_alphabetic() || c == '_' || c == '$' {
            let start = i;
            while at(i).is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
                bump!(1);
            }
            let text: String = chars[start..i].iter().map(|(_, c)| c).collect();
            out.push(Token {
                tok: Tok::Ident(text),
                span,
            });
            continue;
        }
        let rest = &src[chars[i].0..];
        // Symbol operators only: `!contains` lexes as `!` + identifier.
        let Some(p) = PUNCT.iter().copied().find(|p| rest.starts_with(p)) else {
            return Err(LexError {
                message: format!("unexpected character {c:?}"),
                span,
            });
        };
        bump!(p.chars().count());
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
