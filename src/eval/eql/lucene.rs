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
//! Matching runs the `regex` crate's compiled automaton for the exact translation of the
//! parsed pattern (`to_regex_syntax`: every character written as `\x{…}`, ASCII case folding
//! spelled out as classes, `(?s)` so `.` is any code point, `^(?:…)$` anchoring): linear in
//! the input, no recursion, so hostile values cannot blow the stack or the clock. The
//! Thompson NFA (Pike VM) below is the reference semantics (`is_match_nfa`), kept for a
//! pattern the `regex` crate refuses (its size limits) and for the equivalence property test.

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

#[derive(Clone, Debug)]
pub struct Regex {
    pub pattern: String,
    pub case_insensitive: bool,
    insts: Vec<Inst>,
    /// The compiled translation; `None` only when the `regex` crate refused it.
    fast: Option<regex::Regex>,
}

impl PartialEq for Regex {
    fn eq(&self, o: &Regex) -> bool {
        // `fast` is a function of the other three
        self.pattern == o.pattern
            && self.case_insensitive == o.case_insensitive
            && self.insts == o.insts
    }
}

impl Eq for Regex {}

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

fn push_char(c: char, out: &mut String) {
    use std::fmt::Write;
    let _ = write!(out, "\\x{{{:X}}}", c as u32);
}

/// Class members matching `c` under the flag: itself, and its other ASCII case (`ci_eq`).
fn push_class_char(c: char, ci: bool, out: &mut String) {
    push_char(c, out);
    if ci && c.is_ascii_alphabetic() {
        push_char(
            if c.is_ascii_lowercase() {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            },
            out,
        );
    }
}

/// The exact `regex`-crate (Unicode mode, `(?s)`) spelling of a parsed pattern, matching as
/// the Pike VM does: single characters (alone or as one-character class members) fold ASCII
/// case under `ci`, ranges never do, `#` is an empty class, `@` is `.*`.
fn to_regex_syntax(n: &Node, ci: bool, out: &mut String) {
    // iterative: the tree may be as deep as the parser allows
    enum W<'a> {
        N(&'a Node),
        S(&'static str),
        Rep(u32, Option<u32>),
    }
    let mut work = vec![W::N(n)];
    while let Some(w) = work.pop() {
        let n = match w {
            W::S(t) => {
                out.push_str(t);
                continue;
            }
            W::Rep(min, max) => {
                use std::fmt::Write;
                let _ = match max {
                    None => write!(out, "){{{min},}}"),
                    Some(m) => write!(out, "){{{min},{m}}}"),
                };
                continue;
            }
            W::N(n) => n,
        };
        match n {
            Node::Empty => out.push_str("(?:)"),
            // a class with no members matches no character
            Node::Nothing => out.push_str("[^\\x{0}-\\x{10FFFF}]"),
            Node::Char(c) => {
                if ci && c.is_ascii_alphabetic() {
                    out.push('[');
                    push_class_char(*c, true, out);
                    out.push(']');
                } else {
                    push_char(*c, out);
                }
            }
            Node::Set(neg, ranges) => {
                out.push_str(if *neg { "[^" } else { "[" });
                for &(a, b) in ranges {
                    if a == b {
                        push_class_char(a, ci, out);
                    } else {
                        push_char(a, out);
                        out.push('-');
                        push_char(b, out);
                    }
                }
                out.push(']');
            }
            Node::Any => out.push('.'),
            Node::Seq(v) => {
                out.push_str("(?:");
                work.push(W::S(")"));
                work.extend(v.iter().rev().map(W::N));
            }
            Node::Alt(v) => {
                out.push_str("(?:");
                work.push(W::S(")"));
                for (k, x) in v.iter().enumerate().rev() {
                    work.push(W::N(x));
                    if k > 0 {
                        work.push(W::S("|"));
                    }
                }
            }
            Node::Repeat(x, min, max) => {
                out.push_str("(?:");
                work.push(W::Rep(*min, *max));
                work.push(W::N(x));
            }
        }
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
        let mut syn = String::from("(?s)^(?:");
        to_regex_syntax(&node, case_insensitive, &mut syn);
        syn.push_str(")$");
        let fast = regex::RegexBuilder::new(&syn)
            .unicode(true)
            .nest_limit(u32::try_from(4 * MAX_DEPTH + 16).unwrap_or(u32::MAX))
            .size_limit(64 << 20)
            .dfa_size_limit(8 << 20)
            .build()
            .ok();
        Ok(Regex {
            pattern: pattern.to_string(),
            case_insensitive,
            insts: c.insts,
            fast,
        })
    }

    /// The `regex`-crate pattern this one runs as (`None` if it was refused and the NFA runs).
    pub fn translated(&self) -> Option<&str> {
        self.fast.as_ref().map(|r| r.as_str())
    }

    /// Does the pattern match the whole of `s`?
    pub fn is_match(&self, s: &str) -> bool {
        match &self.fast {
            Some(r) => r.is_match(s),
            None => self.is_match_nfa(s),
        }
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

    /// Does the pattern match the whole of `s`? The reference Pike VM.
    pub fn is_match_nfa(&self, s: &str) -> bool {
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

/// The `regex`-crate translation agrees with the reference Pike VM on random patterns built
/// from the constructs rmmc emits (ASCII case-fold classes, `[^a-zA-Z0-9]` boundaries,
/// `(.*…)?` wrappers, escapes) and the rest of the accepted grammar, under both flags.
#[cfg(test)]
mod equivalence {
    use super::*;
    use proptest::prelude::*;

    const ALPHABET: &[char] = &[
        'a', 'A', 'b', 'B', 'k', 'K', '\u{212A}', 'é', 'É', '1', '.', '-', '_', ' ', '\n', '日',
        '*', '\\',
    ];

    fn atom() -> impl Strategy<Value = String> {
        prop_oneof![
            proptest::sample::select(vec![
                "a", "A", "b", "k", "K", "\u{212A}", "é", "É", "1", "-", "_", " ", "日",
            ])
            .prop_map(String::from),
            proptest::sample::select(vec![
                "\\.",
                "\\d",
                "\\D",
                "\\s",
                "\\S",
                "\\w",
                "\\W",
                "\\\\",
                "\\*",
                "\\k",
                ".",
                "@",
                "#",
                "[aA]",
                "[Kk\u{212A}]",
                "[^a-zA-Z0-9]",
                "[a-c]",
                "[A-C]",
                "[^a]",
                "[^A]",
                "[\\d_]",
                "[\\D]",
                "[^\\w]",
                "[-a]",
                "[a-]",
                "[é-ê]",
                "[日]",
                "\"aB.\"",
                "\"\"",
                "()",
            ])
            .prop_map(String::from),
        ]
    }

    fn quantifier() -> impl Strategy<Value = &'static str> {
        proptest::sample::select(vec![
            "", "", "", "?", "*", "+", "{2}", "{0,}", "{1,}", "{0,2}", "{1,3}", "{0}",
        ])
    }

    fn pattern() -> impl Strategy<Value = String> {
        let leaf = (atom(), quantifier()).prop_map(|(a, q)| format!("{a}{q}"));
        leaf.prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 1..4).prop_map(|v| v.concat()),
                proptest::collection::vec(inner.clone(), 2..4).prop_map(|v| v.join("|")),
                (inner, quantifier()).prop_map(|(x, q)| format!("({x}){q}")),
            ]
        })
    }

    /// What the EQL backend emits for a case-insensitive word with boundaries.
    fn emitted() -> impl Strategy<Value = (String, String)> {
        let word = proptest::collection::vec(
            proptest::sample::select(vec!['a', 'k', 'e', '1', '.']),
            1..5,
        );
        word.prop_flat_map(|w| {
            let mut p = String::from("(.*[^a-zA-Z0-9])?");
            for c in &w {
                match c {
                    '.' => p.push_str("\\."),
                    c if c.is_ascii_alphabetic() => {
                        p.push('[');
                        p.push(c.to_ascii_uppercase());
                        p.push(*c);
                        if *c == 'k' {
                            p.push('\u{212A}');
                        }
                        p.push(']');
                    }
                    c => p.push(*c),
                }
            }
            p.push_str("([^a-zA-Z0-9].*)?");
            let variants: Vec<String> = vec![
                w.iter().collect(),
                w.iter().map(|c| c.to_ascii_uppercase()).collect(),
                w.iter()
                    .map(|c| if *c == 'k' { '\u{212A}' } else { *c })
                    .collect(),
            ];
            (
                Just(p),
                proptest::collection::vec(
                    prop_oneof![
                        proptest::sample::select(variants),
                        proptest::sample::select(vec![".", "x", "-", "é", "1", "A", "\n", ""])
                            .prop_map(String::from),
                    ],
                    0..5,
                )
                .prop_map(|v| v.concat()),
            )
        })
    }

    fn input() -> impl Strategy<Value = String> {
        proptest::collection::vec(proptest::sample::select(ALPHABET.to_vec()), 0..10)
            .prop_map(|v| v.into_iter().collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn translation_agrees_with_the_nfa(
            p in pattern(),
            ci in any::<bool>(),
            inputs in proptest::collection::vec(input(), 1..8),
        ) {
            let Ok(r) = Regex::new(&p, ci) else {
                return Ok(());
            };
            prop_assert!(r.translated().is_some(), "{p} was not translated");
            for s in &inputs {
                prop_assert_eq!(
                    r.is_match(s),
                    r.is_match_nfa(s),
                    "{} (ci={}) as {:?} on {:?}", p, ci, r.translated(), s
                );
            }
        }

        #[test]
        fn emitted_patterns_agree_with_the_nfa((p, s) in emitted(), ci in any::<bool>()) {
            let r = Regex::new(&p, ci).unwrap();
            prop_assert!(r.translated().is_some());
            prop_assert_eq!(r.is_match(&s), r.is_match_nfa(&s), "{} on {:?}", p, s);
        }
    }

    #[test]
    fn the_fixed_cases_agree_too() {
        for p in ["#", "a|#", "(#)*", "()", "\"\"", "[^\\D\\d]", "(a*)*b", "@"] {
            for ci in [false, true] {
                let r = Regex::new(p, ci).unwrap();
                assert!(r.translated().is_some(), "{p}");
                for s in ["", "a", "b", "ab", "aab", "\n"] {
                    assert_eq!(r.is_match(s), r.is_match_nfa(s), "{p} (ci={ci}) on {s:?}");
                }
            }
        }
    }
}
