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

/// Deepest group/quantifier nesting accepted in a pattern: the evaluators' one limit.
pub use crate::eval::syntax::MAX_DEPTH;
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
        let node = parse::parse(pattern)?;
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

mod parse;
use parse::e;

#[cfg(test)]
mod equivalence;
#[cfg(test)]
mod tests;
