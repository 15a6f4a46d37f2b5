//! The pattern parser: Lucene regexp syntax to the `Node` tree the matcher compiles.

use super::{Node, RegexError, MAX_DEPTH};

/// Parse a whole pattern.
pub(super) fn parse(pattern: &str) -> Result<Node, RegexError> {
    let mut p = P {
        s: pattern.chars().collect(),
        i: 0,
        depth: 0,
    };
    let node = p.union()?;
    if p.i != p.s.len() {
        return e(p.i, format!("unbalanced `{}`", p.s[p.i]));
    }
    Ok(node)
}

struct P {
    s: Vec<char>,
    i: usize,
    depth: usize,
}

pub(super) fn e<T>(at: usize, m: impl Into<String>) -> Result<T, RegexError> {
    Err(RegexError {
        at,
        message: m.into(),
    })
}

/// A class member: one character, or a shorthand (negated?, ranges).
type ClassItem = Result<char, (bool, &'static [(char, char)])>;

const DIGIT: &[(char, char)] = &[('0', '9')];
const SPACE: &[(char, char)] = &[(' ', ' '), ('\t', '\t'), ('\n', '\n'), ('\r', '\r')];
const WORD: &[(char, char)] = &[('a', 'z'), ('A', 'Z'), ('_', '_'), ('0', '9')];

fn shorthand(c: char) -> Option<(bool, &'static [(char, char)])> {
    Some(match c {
        'd' => (false, DIGIT),
        'D' => (true, DIGIT),
        's' => (false, SPACE),
        'S' => (true, SPACE),
        'w' => (false, WORD),
        'W' => (true, WORD),
        _ => return None,
    })
}

impl P {
    fn peek(&self) -> Option<char> {
        self.s.get(self.i).copied()
    }
    fn enter(&mut self) -> Result<(), RegexError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return e(self.i, format!("nested deeper than {MAX_DEPTH} levels"));
        }
        Ok(())
    }
    fn union(&mut self) -> Result<Node, RegexError> {
        self.enter()?;
        let mut alts = vec![self.concat()?];
        while self.peek() == Some('|') {
            self.i += 1;
            alts.push(self.concat()?);
        }
        self.depth -= 1;
        Ok(if alts.len() == 1 {
            alts.pop().unwrap_or(Node::Empty)
        } else {
            Node::Alt(alts)
        })
    }
    fn concat(&mut self) -> Result<Node, RegexError> {
        let mut v = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            if c == '&' {
                return e(
                    self.i,
                    "intersection `&` is not supported by this evaluator",
                );
            }
            let mut n = self.simple()?;
            let base = self.depth;
            while let Some(q) = self.peek() {
                let (min, max) = match q {
                    '*' => (0, None),
                    '+' => (1, None),
                    '?' => (0, Some(1)),
                    '{' => self.bounds()?,
                    _ => break,
                };
                if q != '{' {
                    self.i += 1;
                }
                self.enter()?;
                n = Node::Repeat(Box::new(n), min, max);
            }
            self.depth = base;
            v.push(n);
        }
        Ok(match v.len() {
            0 => Node::Empty,
            1 => v.pop().unwrap_or(Node::Empty),
            _ => Node::Seq(v),
        })
    }
    fn number(&mut self) -> Option<u32> {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        let t: String = self.s[start..self.i].iter().collect();
        t.parse().ok()
    }
    /// `{n}`, `{n,}`, `{n,m}`.
    fn bounds(&mut self) -> Result<(u32, Option<u32>), RegexError> {
        let at = self.i;
        self.i += 1;
        let Some(min) = self.number() else {
            return e(at, "`{` must start a repetition {n}, {n,} or {n,m}");
        };
        let max = if self.peek() == Some(',') {
            self.i += 1;
            if self.peek() == Some('}') {
                None
            } else {
                match self.number() {
                    Some(m) => Some(m),
                    None => return e(at, "malformed repetition {n,m}"),
                }
            }
        } else {
            Some(min)
        };
        if self.peek() != Some('}') {
            return e(at, "unclosed repetition {…}");
        }
        self.i += 1;
        if max.is_some_and(|m| m < min) {
            return e(at, "repetition {n,m} with m < n");
        }
        Ok((min, max))
    }
    fn escaped(&mut self) -> Result<Node, RegexError> {
        let at = self.i;
        self.i += 1;
        match self.peek() {
            None => e(at, "trailing backslash"),
            Some(c) => {
                self.i += 1;
                Ok(match shorthand(c) {
                    Some((neg, r)) => Node::Set(neg, r.to_vec()),
                    None => Node::Char(c),
                })
            }
        }
    }
    fn simple(&mut self) -> Result<Node, RegexError> {
        let at = self.i;
        let Some(c) = self.peek() else {
            return e(at, "pattern ends early");
        };
        match c {
            '(' => {
                self.i += 1;
                let n = if self.peek() == Some(')') {
                    Node::Empty
                } else {
                    self.union()?
                };
                if self.peek() != Some(')') {
                    return e(at, "unclosed group `(`");
                }
                self.i += 1;
                Ok(n)
            }
            ')' => e(at, "unbalanced `)`"),
            '[' => self.class(),
            ']' | '}' => e(at, format!("unbalanced `{c}`")),
            '*' | '+' | '?' | '{' => e(at, format!("`{c}` has nothing to repeat")),
            '.' => {
                self.i += 1;
                Ok(Node::Any)
            }
            '@' => {
                self.i += 1;
                Ok(Node::Repeat(Box::new(Node::Any), 0, None))
            }
            '#' => {
                self.i += 1;
                Ok(Node::Nothing)
            }
            '~' => e(at, "complement `~` is not supported by this evaluator"),
            '<' => e(at, "`<…>` intervals are not supported by this evaluator"),
            '"' => {
                self.i += 1;
                let mut v = Vec::new();
                loop {
                    match self.peek() {
                        None => return e(at, "unterminated quoted string in the pattern"),
                        Some('"') => break,
                        Some(c) => v.push(Node::Char(c)),
                    }
                    self.i += 1;
                }
                self.i += 1;
                Ok(Node::Seq(v))
            }
            '\\' => self.escaped(),
            c => {
                self.i += 1;
                Ok(Node::Char(c))
            }
        }
    }
    fn class_char(&mut self) -> Result<ClassItem, RegexError> {
        let at = self.i;
        match self.peek() {
            None => e(at, "unclosed character class `[`"),
            Some('\\') => {
                self.i += 1;
                let Some(c) = self.peek() else {
                    return e(at, "trailing backslash");
                };
                self.i += 1;
                Ok(shorthand(c).map_or(Ok(c), Err))
            }
            Some(c) => {
                self.i += 1;
                Ok(Ok(c))
            }
        }
    }
    fn class(&mut self) -> Result<Node, RegexError> {
        let at = self.i;
        self.i += 1;
        let neg = self.peek() == Some('^');
        if neg {
            self.i += 1;
        }
        let mut ranges = Vec::new();
        let mut shorthands: Vec<(bool, &'static [(char, char)])> = Vec::new();
        loop {
            match self.peek() {
                None => return e(at, "unclosed character class `[`"),
                Some(']') => {
                    self.i += 1;
                    break;
                }
                _ => {}
            }
            let a = match self.class_char()? {
                Ok(a) => a,
                Err(sh) => {
                    shorthands.push(sh);
                    continue;
                }
            };
            if self.peek() == Some('-') && self.s.get(self.i + 1).is_some_and(|c| *c != ']') {
                let dash = self.i;
                self.i += 1;
                match self.class_char()? {
                    Ok(b) if b >= a => ranges.push((a, b)),
                    Ok(_) => return e(dash, "character range out of order"),
                    Err(_) => return e(dash, "a shorthand cannot end a range"),
                }
            } else {
                ranges.push((a, a));
            }
        }
        if ranges.is_empty() && shorthands.is_empty() {
            return e(at, "empty character class `[]`");
        }
        // Negated shorthands inside a class (`[\D]`) are expanded to their complement.
        for (sneg, r) in shorthands {
            if sneg {
                ranges.extend(complement(r));
            } else {
                ranges.extend_from_slice(r);
            }
        }
        Ok(Node::Set(neg, ranges))
    }
}

fn complement(r: &[(char, char)]) -> Vec<(char, char)> {
    let mut sorted = r.to_vec();
    sorted.sort();
    let mut out = Vec::new();
    let mut next = 0u32;
    for (a, b) in sorted {
        if (a as u32) > next {
            if let (Some(x), Some(y)) = (char::from_u32(next), char::from_u32(a as u32 - 1)) {
                out.push((x, y));
            }
        }
        next = next.max(b as u32 + 1);
    }
    if let Some(x) = char::from_u32(next) {
        out.push((x, char::MAX));
    }
    out
}
