//! Lucene regular expressions, as Elasticsearch's `regexp` query reads them (EQL `regex`
//! translates to it). Syntax from the Elasticsearch "Regular expression syntax" page
//! (`regexp-syntax`) and Lucene's `RegExp` grammar: the pattern must match the WHOLE value
//! (always anchored; `^`/`$` are not anchors), `.` any character, `?` `*` `+` `{n}` `{n,}`
//! `{n,m}`, `|`, groups, `[…]`/`[^…]` classes with ranges, `\` escapes any character, `"…"`
//! quotes a literal string, `@` any string, `#` the empty language (matches nothing), and
//! Lucene's shorthands `\d \D \s \S \w \W` (LUCENE-9336). Complement `~`, intersection `&`
//! and `<n-m>` intervals are refused with an error rather than guessed at.
//!
//! `regex~` sets the query's `case_insensitive` flag, which Lucene implements as
//! ASCII_CASE_INSENSITIVE: single characters (also inside `[…]`, where Lucene's
//! parseCharClass makes a lone character a REGEXP_CHAR) and quoted strings match both ASCII
//! cases, non-ASCII characters only themselves (toCaseInsensitiveChar skips code points
//! above 128); a character range (REGEXP_CHAR_RANGE → makeCharRange) is not case-folded.
//!
//! Matching runs a Thompson NFA (Pike VM) over the code points: linear in the input, no
//! recursion, so hostile values cannot blow the stack or the clock.

use std::fmt;

/// Deepest group/quantifier nesting accepted in a pattern.
pub const MAX_DEPTH: usize = 128;
/// Largest compiled program (bounds `{n,m}` expansion).
pub const MAX_INSTS: usize = 100_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegexError {
    /// 0-based character index in the pattern.
    pub at: usize,
    pub message: String,
}

impl fmt::Display for RegexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pattern character {}: {}", self.at + 1, self.message)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Inst {
    Char(char),
    Set {
        neg: bool,
        ranges: Vec<(char, char)>,
    },
    Any,
    Split(usize, usize),
    Jmp(usize),
    Fail,
    Match,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Regex {
    pub pattern: String,
    pub case_insensitive: bool,
    insts: Vec<Inst>,
}

#[derive(Debug)]
enum Node {
    Empty,
    Nothing,
    Char(char),
    Set(bool, Vec<(char, char)>),
    Any,
    Seq(Vec<Node>),
    Alt(Vec<Node>),
    Repeat(Box<Node>, u32, Option<u32>),
}

struct P {
    s: Vec<char>,
    i: usize,
    depth: usize,
}

fn e<T>(at: usize, m: impl Into<String>) -> Result<T, RegexError> {
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

struct Compiler {
    insts: Vec<Inst>,
}

impl Compiler {
    fn push(&mut self, i: Inst) -> Result<usize, RegexError> {
        if self.insts.len() >= MAX_INSTS {
            return e(0, format!("pattern expands past {MAX_INSTS} states"));
        }
        self.insts.push(i);
        Ok(self.insts.len() - 1)
    }
    fn node(&mut self, n: &Node) -> Result<(), RegexError> {
        match n {
            Node::Empty => {}
            Node::Nothing => {
                self.push(Inst::Fail)?;
            }
            Node::Char(c) => {
                self.push(Inst::Char(*c))?;
            }
            Node::Set(neg, r) => {
                self.push(Inst::Set {
                    neg: *neg,
                    ranges: r.clone(),
                })?;
            }
            Node::Any => {
                self.push(Inst::Any)?;
            }
            Node::Seq(v) => {
                for x in v {
                    self.node(x)?;
                }
            }
            Node::Alt(alts) => {
                let mut jumps = Vec::new();
                for (k, a) in alts.iter().enumerate() {
                    if k + 1 < alts.len() {
                        let split = self.push(Inst::Split(0, 0))?;
                        self.node(a)?;
                        jumps.push(self.push(Inst::Jmp(0))?);
                        let next = self.insts.len();
                        self.insts[split] = Inst::Split(split + 1, next);
                    } else {
                        self.node(a)?;
                    }
                }
                let end = self.insts.len();
                for j in jumps {
                    self.insts[j] = Inst::Jmp(end);
                }
            }
            Node::Repeat(x, min, max) => {
                for _ in 0..*min {
                    self.node(x)?;
                }
                match max {
                    None => {
                        let split = self.push(Inst::Split(0, 0))?;
                        self.node(x)?;
                        self.push(Inst::Jmp(split))?;
                        let end = self.insts.len();
                        self.insts[split] = Inst::Split(split + 1, end);
                    }
                    Some(max) => {
                        let mut splits = Vec::new();
                        for _ in *min..*max {
                            splits.push(self.push(Inst::Split(0, 0))?);
                            self.node(x)?;
                        }
                        let end = self.insts.len();
                        for s in splits {
                            self.insts[s] = Inst::Split(s + 1, end);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

fn ci_eq(p: char, c: char) -> bool {
    p == c || (p.is_ascii() && c.is_ascii() && p.eq_ignore_ascii_case(&c))
}

impl Regex {
    pub fn new(pattern: &str, case_insensitive: bool) -> Result<Regex, RegexError> {
        let mut p = P {
            s: pattern.chars().collect(),
            i: 0,
            depth: 0,
        };
        let node = p.union()?;
        if p.i != p.s.len() {
            return e(p.i, format!("unbalanced `{}`", p.s[p.i]));
        }
        let mut c = Compiler { insts: Vec::new() };
        c.node(&node)?;
        c.push(Inst::Match)?;
        Ok(Regex {
            pattern: pattern.to_string(),
            case_insensitive,
            insts: c.insts,
        })
    }

    fn add(&self, list: &mut Vec<usize>, mark: &mut [usize], gen: usize, pc: usize) {
        let mut stack = vec![pc];
        while let Some(pc) = stack.pop() {
            if mark[pc] == gen {
                continue;
            }
            mark[pc] = gen;
            match &self.insts[pc] {
                Inst::Split(a, b) => {
                    stack.push(*b);
                    stack.push(*a);
                }
                Inst::Jmp(a) => stack.push(*a),
                Inst::Fail => {}
                _ => list.push(pc),
            }
        }
    }

    /// Does the pattern match the whole of `s`?
    pub fn is_match(&self, s: &str) -> bool {
        let n = self.insts.len();
        let mut mark = vec![usize::MAX; n];
        let mut gen = 0;
        let mut cur = Vec::new();
        self.add(&mut cur, &mut mark, gen, 0);
        for ch in s.chars() {
            gen += 1;
            let mut next = Vec::new();
            for &pc in &cur {
                let ok = match &self.insts[pc] {
                    Inst::Char(p) => {
                        if self.case_insensitive {
                            ci_eq(*p, ch)
                        } else {
                            *p == ch
                        }
                    }
                    Inst::Set { neg, ranges } => {
                        ranges.iter().any(|(a, b)| {
                            if self.case_insensitive && a == b {
                                ci_eq(*a, ch)
                            } else {
                                (*a..=*b).contains(&ch)
                            }
                        }) != *neg
                    }
                    Inst::Any => true,
                    _ => false,
                };
                if ok {
                    self.add(&mut next, &mut mark, gen, pc + 1);
                }
            }
            if next.is_empty() {
                return false;
            }
            cur = next;
        }
        cur.iter().any(|&pc| self.insts[pc] == Inst::Match)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_value_matching() {
        // (pattern, case-insensitive, value, expected)
        let cases: &[(&str, bool, &str, bool)] = &[
            ("abc", false, "abc", true),
            ("abc", false, "xabc", false),
            ("abc", false, "abcx", false),
            ("abc", false, "ABC", false),
            ("abc", true, "ABC", true),
            ("é", true, "É", false),
            ("k", true, "\u{212A}", false),
            ("[a-c]", true, "B", false),
            ("[a]", true, "A", true),
            ("[^a]", true, "A", false),
            ("[^a-c]", true, "B", true),
            ("\"ab\"", true, "AB", true),
            ("a.c", false, "a日c", true),
            ("a.c", false, "ac", false),
            ("a*", false, "", true),
            ("a+", false, "", false),
            ("ab?c", false, "ac", true),
            ("a{2}", false, "aa", true),
            ("a{2}", false, "aaa", false),
            ("a{2,}", false, "aaaa", true),
            ("a{1,2}b", false, "aab", true),
            ("a{1,2}b", false, "aaab", false),
            ("(ab|cd)+", false, "abcdab", true),
            ("(ab|cd)+", false, "abc", false),
            ("[^a-z]x", false, "Ax", true),
            ("[^a-z]x", false, "ax", false),
            ("\\.", false, ".", true),
            ("\\.", false, "x", false),
            ("\\\\", false, "\\", true),
            ("a\\*", false, "a*", true),
            ("\\d+", false, "123", true),
            ("\\d", false, "x", false),
            ("\\w\\s\\W", false, "a !", true),
            ("[\\d_]+", false, "1_2", true),
            ("\"a.b\"", false, "a.b", true),
            ("\"a.b\"", false, "axb", false),
            ("@", false, "anything", true),
            ("#", false, "", false),
            ("a|#", false, "a", true),
            ("()", false, "", true),
            ("^a$", false, "^a$", true),
            ("^a$", false, "a", false),
            ("[-a]", false, "-", true),
            ("[a-]", false, "-", true),
            (
                "(.*[^a-zA-Z0-9])?[Nn][Ee][Tt]([^a-zA-Z0-9].*)?",
                false,
                "x.net.y",
                true,
            ),
            (
                "(.*[^a-zA-Z0-9])?[Nn][Ee][Tt]([^a-zA-Z0-9].*)?",
                false,
                "xnet",
                false,
            ),
            ("(a*)*b", false, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false),
        ];
        for (p, ci, s, want) in cases {
            let r = Regex::new(p, *ci).unwrap_or_else(|e| panic!("{p}: {e}"));
            assert_eq!(r.is_match(s), *want, "{p} (ci={ci}) on {s:?}");
        }
    }

    #[test]
    fn bad_patterns_are_errors() {
        let cases: &[(&str, usize)] = &[
            ("(a", 0),
            ("a)", 1),
            ("[a", 0),
            ("[]", 0),
            ("*a", 0),
            ("a{2", 1),
            ("a{3,1}", 1),
            ("[z-a]", 2),
            ("a\\", 1),
            ("a&b", 1),
            ("~a", 0),
            ("<1-5>", 0),
            ("\"ab", 0),
        ];
        for (p, at) in cases {
            let e = Regex::new(p, false).unwrap_err();
            assert_eq!(e.at, *at, "{p}: {e}");
        }
        assert!(Regex::new(&"(".repeat(10_000), false).is_err());
        assert!(Regex::new(&format!("a{}", "*".repeat(10_000)), false).is_err());
        assert!(Regex::new("(a{1000}){1000}", false).is_err());
    }

    #[test]
    fn long_values_do_not_recurse() {
        let r = Regex::new(".*x.*", false).unwrap();
        let long = "a".repeat(200_000);
        assert!(!r.is_match(&long));
        assert!(r.is_match(&format!("{long}x")));
    }
}
