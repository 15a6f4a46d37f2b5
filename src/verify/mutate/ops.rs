//! Mutation operators: one small lexer and one walker, driven by a table per query language
//! (KQL, SPL, EQL), plus a line walker for Sigma's detection section. Every operator makes
//! one [`Edit`] of the query text; an edit that is provably equivalent says why.

/// One mutation of a query text: replace `start..end` with `with`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edit {
    /// Operator name, e.g. `value-char`, `swap has→contains`.
    pub op: &'static str,
    pub start: usize,
    pub end: usize,
    pub with: String,
    /// The construct the edit sits in (a few tokens before it, or the Sigma key), to group
    /// survivors by shape.
    pub construct: String,
    /// Why the mutant cannot change any verdict, when that is provable from the text alone.
    pub equivalent: Option<String>,
}

impl Edit {
    pub fn apply(&self, text: &str) -> String {
        format!("{}{}{}", &text[..self.start], self.with, &text[self.end..])
    }
}

pub use crate::eval::engine::Lang;

/// Every mutant of `text` (a query; for Sigma the whole rule file, of which only the
/// `detection` section is mutated), in text order per operator.
pub fn mutants(lang: Lang, text: &str) -> Vec<Edit> {
    match lang {
        Lang::Kql => walk(&KQL, text),
        Lang::Spl => walk(&SPL, text),
        Lang::Eql => walk(&EQL, text),
        Lang::Sigma => sigma(text),
    }
}

// ---------------------------------------------------------------------------------------
// The tables
// ---------------------------------------------------------------------------------------

/// An operator swap: `from` token becomes `to`.
struct Swap {
    from: &'static str,
    to: &'static str,
    name: &'static str,
    /// Only case sensitivity changes (`=~`→`==`): equivalent when no operand has a cased
    /// letter.
    case_only: bool,
    /// Wildcards (`*`, `?`) in the operand stop meaning "any" (EQL `:`→`==`) or start to
    /// (`==`→`:`): then equivalent only when no operand holds one.
    wildcards: bool,
    /// Only term boundaries change (KQL `contains`↔`has`): `has` asks for a boundary only
    /// at an edge of the needle that is a letter or digit (a term is a run of them), so the
    /// swap is equivalent when every operand starts and ends with another character
    /// (`'\TightVNC\'`).
    term_edges: bool,
}

/// A list operator: the token before `(` and whether it compares case-insensitively (so
/// elements equal up to case are duplicates).
struct ListOp {
    op: &'static str,
    case_insensitive: bool,
}

struct Table {
    /// Line comment opener, and a block comment delimiter used at both ends (SPL's ```).
    line_comment: Option<&'static str>,
    block_comment: Option<&'static str>,
    quotes: &'static str,
    /// Multi-character punctuation, longest first.
    puncts: &'static [&'static str],
    /// `and`↔`or`.
    bools: &'static [(&'static str, &'static str)],
    /// The negation word, removed before its `(`.
    not: &'static str,
    /// Token sequences that open a whole filter, ending at the `(`'s match.
    filters: &'static [&'static [&'static str]],
    swaps: &'static [Swap],
    lists: &'static [ListOp],
    /// Strings right after one of these (or in a list after one) are regular expressions.
    regex_after: &'static [&'static str],
    /// Strings that are arguments of these calls are regular expressions (SPL `match`).
    regex_calls: &'static [&'static str],
    /// String literals escape backslashes (so a regex `\A` is written `\\A`).
    escaped: bool,
    /// A leading case-insensitivity flag of a regex, dropped by `case-flag-dropped`.
    case_flag: Option<&'static str>,
    /// `field == "v" OR field == "v2"` chains: (or word, comparison), one disjunct dropped.
    or_chain: Option<(&'static str, &'static str)>,
    /// Fields whose values are a closed lowercase vocabulary (ECS `event.type`): a case
    /// swap on them cannot change a verdict on real data of that schema.
    closed_fields: &'static [&'static str],
}

const KQL: Table = Table {
    line_comment: Some("//"),
    block_comment: None,
    quotes: "'\"",
    puncts: &["=~", "!~", "==", "!=", "<=", ">=", ".."],
    bools: &[("and", "or"), ("or", "and")],
    not: "not",
    filters: &[&["|", "where", "not", "("]],
    swaps: &[
        Swap {
            from: "has",
            to: "contains",
            name: "swap has→contains",
            case_only: false,
            wildcards: false,
            term_edges: true,
        },
        Swap {
            from: "contains",
            to: "has",
            name: "swap contains→has",
            case_only: false,
            wildcards: false,
            term_edges: true,
        },
        Swap {
            from: "=~",
            to: "==",
            name: "swap =~→==",
            case_only: true,
            wildcards: false,
            term_edges: false,
        },
        Swap {
            from: "in~",
            to: "in",
            name: "swap in~→in",
            case_only: true,
            wildcards: false,
            term_edges: false,
        },
        Swap {
            from: "endswith",
            to: "contains",
            name: "swap endswith→contains",
            case_only: false,
            wildcards: false,
            term_edges: false,
        },
        Swap {
            from: "startswith",
            to: "contains",
            name: "swap startswith→contains",
            case_only: false,
            wildcards: false,
            term_edges: false,
        },
    ],
    lists: &[
        ListOp {
            op: "in~",
            case_insensitive: true,
        },
        ListOp {
            op: "in",
            case_insensitive: false,
        },
        ListOp {
            op: "has_any",
            case_insensitive: true,
        },
        ListOp {
            op: "has_all",
            case_insensitive: true,
        },
        ListOp {
            op: "dynamic",
            case_insensitive: false,
        },
    ],
    regex_after: &["regex"],
    regex_calls: &[],
    escaped: true,
    case_flag: None,
    or_chain: None,
    closed_fields: &[],
};

const SPL: Table = Table {
    line_comment: None,
    block_comment: Some("```"),
    quotes: "\"",
    puncts: &["==", "!=", "<=", ">="],
    bools: &[("AND", "OR"), ("OR", "AND")],
    not: "NOT",
    filters: &[&["|", "where", "NOT", "("]],
    swaps: &[],
    lists: &[ListOp {
        op: "in",
        case_insensitive: false,
    }],
    regex_after: &[],
    regex_calls: &["match", "replace"],
    escaped: true,
    case_flag: Some("(?i)"),
    or_chain: Some(("OR", "==")),
    closed_fields: &[],
};

const EQL: Table = Table {
    line_comment: Some("//"),
    block_comment: None,
    quotes: "\"",
    puncts: &["==", "!=", "<=", ">=", ":"],
    bools: &[("and", "or"), ("or", "and")],
    not: "not",
    filters: &[&["and", "not", "("]],
    swaps: &[
        Swap {
            from: ":",
            to: "==",
            name: "swap :→==",
            case_only: true,
            wildcards: true,
            term_edges: false,
        },
        Swap {
            from: "==",
            to: ":",
            name: "swap ==→:",
            case_only: true,
            wildcards: true,
            term_edges: false,
        },
        Swap {
            from: "in~",
            to: "in",
            name: "swap in~→in",
            case_only: true,
            wildcards: false,
            term_edges: false,
        },
        Swap {
            from: "like~",
            to: "like",
            name: "swap like~→like",
            case_only: true,
            wildcards: false,
            term_edges: false,
        },
    ],
    lists: &[
        ListOp {
            op: "in~",
            case_insensitive: true,
        },
        ListOp {
            op: "in",
            case_insensitive: false,
        },
        ListOp {
            op: ":",
            case_insensitive: true,
        },
        ListOp {
            op: "like~",
            case_insensitive: true,
        },
        ListOp {
            op: "like",
            case_insensitive: false,
        },
        ListOp {
            op: "regex",
            case_insensitive: false,
        },
        ListOp {
            op: "regex~",
            case_insensitive: true,
        },
    ],
    regex_after: &["regex", "regex~"],
    regex_calls: &[],
    escaped: true,
    case_flag: None,
    or_chain: None,
    closed_fields: &["event.type", "event.category"],
};

/// Sigma modifier swaps on a key: `Image|endswith` → `Image|contains`.
const SIGMA_SWAPS: &[(&str, &str, &str)] = &[
    ("|endswith", "|contains", "swap |endswith→|contains"),
    ("|startswith", "|contains", "swap |startswith→|contains"),
];

// ---------------------------------------------------------------------------------------
// Lexer
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum T {
    Word,
    Str,
    Punct,
    Comment,
    Space,
}

#[derive(Clone, Copy, Debug)]
struct Tok {
    t: T,
    s: usize,
    e: usize,
}

fn word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'.'
}

fn lex(tb: &Table, text: &str) -> Vec<Tok> {
    let b = text.as_bytes();
    let n = b.len();
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        let s = i;
        let rest = &text[i..];
        let t = if b[i].is_ascii_whitespace() {
            while i < n && b[i].is_ascii_whitespace() {
                i += 1;
            }
            T::Space
        } else if tb.line_comment.is_some_and(|c| rest.starts_with(c)) {
            i = rest.find('\n').map_or(n, |k| i + k);
            T::Comment
        } else if let Some(c) = tb.block_comment.filter(|c| rest.starts_with(*c)) {
            i += c.len();
            i = text[i..].find(c).map_or(n, |k| i + k + c.len());
            T::Comment
        } else if tb.quotes.as_bytes().contains(&b[i]) {
            let q = b[i];
            i += 1;
            while i < n && b[i] != q {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i = (i + 1).min(n);
            while !text.is_char_boundary(i) {
                i += 1;
            }
            T::Str
        } else if word_byte(b[i]) {
            while i < n && word_byte(b[i]) {
                i += 1;
            }
            if i < n && b[i] == b'~' {
                i += 1;
            }
            T::Word
        } else {
            let p = tb.puncts.iter().find(|p| rest.starts_with(**p));
            i += p.map_or_else(
                || rest.chars().next().map_or(1, char::len_utf8),
                |p| p.len(),
            );
            T::Punct
        };
        out.push(Tok { t, s, e: i });
    }
    out
}

/// A cased letter: one whose upper and lower case differ.
fn cased(c: char) -> bool {
    c.to_lowercase().ne(c.to_uppercase())
}

/// The next letter or digit of the same kind (`a`→`b`, `z`→`a`, `9`→`0`).
fn next_char(c: char) -> char {
    match c {
        'z' => 'a',
        'Z' => 'A',
        '9' => '0',
        c if c.is_ascii_alphanumeric() => (c as u8 + 1) as char,
        c => c,
    }
}

// ---------------------------------------------------------------------------------------
// Values and regular expressions
// ---------------------------------------------------------------------------------------

/// The length of the escape at `i` (a run of backslashes and, when it escapes one, the
/// escaped character, with `\u{…}` whole), and the escaped character if there is one.
/// `escaped`: the text is a string literal's, so a regex backslash is two.
fn escape_at(raw: &str, i: usize, escaped: bool) -> (usize, Option<char>) {
    let run = raw[i..].bytes().take_while(|&b| b == b'\\').count();
    let per = if escaped { 2 } else { 1 };
    if (run / per) % 2 == 0 || run % per != 0 {
        return (run.max(1), None);
    }
    let Some(c) = raw[i + run..].chars().next() else {
        return (run, None);
    };
    let mut len = run + c.len_utf8();
    if c == 'u' && raw[i + len..].starts_with('{') {
        len += raw[i + len..].find('}').map_or(0, |k| k + 1);
    }
    (len, Some(c))
}

/// A place in a value where one character may change.
#[derive(Debug, PartialEq)]
enum Unit {
    /// One ASCII letter or digit at this byte.
    Char(usize),
    /// A character class of one letter in its cases (`[Nn]`), `start..end`.
    Class(usize, usize),
}

/// The changeable characters of a plain (non-regex) value: ASCII letters and digits not in
/// an escape.
fn plain_units(raw: &str, escaped: bool) -> Vec<Unit> {
    let b = raw.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if escaped && b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i].is_ascii_alphanumeric() {
            out.push(Unit::Char(i));
        }
        i += raw[i..].chars().next().map_or(1, char::len_utf8);
    }
    out
}

/// The end (after `]`) of the character class opening at `i`.
fn class_end(raw: &str, i: usize, escaped: bool) -> usize {
    let b = raw.as_bytes();
    let mut j = i + 1;
    if j < b.len() && b[j] == b'^' {
        j += 1;
    }
    if j < b.len() && b[j] == b']' {
        j += 1;
    }
    while j < b.len() && b[j] != b']' {
        if b[j] == b'\\' {
            j += escape_at(raw, j, escaped).0;
        } else {
            j += 1;
        }
    }
    (j + 1).min(b.len())
}

/// The literal characters of a regex: letters and digits outside escapes, group headers
/// (`(?-i:`) and classes, and classes that hold one letter in its cases (`[Nn]`).
fn regex_units(raw: &str, escaped: bool) -> Vec<Unit> {
    let b = raw.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += escape_at(raw, i, escaped).0,
            b'[' => {
                let e = class_end(raw, i, escaped);
                let inner = &raw[i + 1..e.saturating_sub(1).max(i + 1)];
                let letters: Vec<char> = inner.chars().collect();
                if !letters.is_empty()
                    && letters.iter().all(|c| c.is_ascii_alphabetic())
                    && letters.iter().all(|c| c.eq_ignore_ascii_case(&letters[0]))
                {
                    out.push(Unit::Class(i, e));
                }
                i = e;
            }
            b'(' if raw[i..].starts_with("(?") => {
                i += raw[i..].find([':', ')']).map_or(2, |k| k + 1);
            }
            c if c.is_ascii_alphanumeric() => {
                out.push(Unit::Char(i));
                i += 1;
            }
            _ => i += raw[i..].chars().next().map_or(1, char::len_utf8),
        }
    }
    out
}

/// The value-char mutant of a literal's content at `at` (offset of `raw` in the text): the
/// middle changeable character.
fn value_char(raw: &str, at: usize, regex: bool, escaped: bool) -> Option<(usize, usize, String)> {
    let units = if regex {
        regex_units(raw, escaped)
    } else {
        plain_units(raw, escaped)
    };
    let u = units.get(units.len() / 2)?;
    Some(match *u {
        Unit::Char(i) => {
            let c = raw[i..].chars().next()?;
            (at + i, at + i + 1, next_char(c).to_string())
        }
        Unit::Class(s, e) => (
            at + s,
            at + e,
            raw[s..e]
                .chars()
                .map(|c| {
                    if c.is_ascii_alphabetic() {
                        next_char(c)
                    } else {
                        c
                    }
                })
                .collect(),
        ),
    })
}

/// Regex edits: anchors dropped (`^`, `$`, `\A`, `\z`, `\Z`) and one alternative of an
/// alternation dropped. Offsets are relative to `raw`.
fn regex_edits(raw: &str, escaped: bool) -> Vec<(&'static str, usize, usize, Option<String>)> {
    let b = raw.as_bytes();
    let mut out = Vec::new();
    // (content start, bar positions) per open group; the whole regex is the outermost
    let mut stack: Vec<(usize, Vec<usize>)> = vec![(0, Vec::new())];
    let mut alternations: Vec<(usize, Vec<usize>, usize)> = Vec::new();
    let dotall = raw.starts_with("(?s)");
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                let (len, c) = escape_at(raw, i, escaped);
                if matches!(c, Some('A' | 'z' | 'Z')) {
                    out.push(("anchor-dropped", i, i + len, None));
                }
                i += len;
            }
            b'[' => i = class_end(raw, i, escaped),
            b'(' => {
                if raw[i..].starts_with("(?") {
                    let k = raw[i..].find([':', ')']).map_or(2, |k| k + 1);
                    if raw[i + k - 1..].starts_with(')') {
                        // a flag group `(?i)`, not a group
                        i += k;
                        continue;
                    }
                    i += k;
                } else {
                    i += 1;
                }
                stack.push((i, Vec::new()));
            }
            b')' => {
                if stack.len() > 1 {
                    let (s, bars) = stack.pop().unwrap_or_default();
                    if !bars.is_empty() {
                        alternations.push((s, bars, i));
                    }
                }
                i += 1;
            }
            b'|' => {
                if let Some(top) = stack.last_mut() {
                    top.1.push(i);
                }
                i += 1;
            }
            b'^' | b'$' => {
                let eq = (b[i] == b'^' && dotall && raw[i + 1..].starts_with(".*")).then(|| {
                    "`^.*` under (?s): the leftmost match starts at the beginning anyway"
                        .to_string()
                });
                out.push(("anchor-dropped", i, i + 1, eq));
                i += 1;
            }
            _ => i += raw[i..].chars().next().map_or(1, char::len_utf8),
        }
    }
    if let Some((s, bars)) = stack.pop() {
        if stack.is_empty() && !bars.is_empty() {
            alternations.push((s, bars, b.len()));
        }
    }
    alternations.sort_by_key(|a| a.0);
    for (s, bars, e) in alternations {
        let mut bounds = vec![s];
        for &p in &bars {
            bounds.push(p + 1);
        }
        let segs: Vec<(usize, usize)> = bounds
            .iter()
            .enumerate()
            .map(|(k, &a)| (a, bars.get(k).copied().unwrap_or(e)))
            .collect();
        for (k, &(a, z)) in segs.iter().enumerate() {
            let (from, to) = if k + 1 < segs.len() {
                (a, z + 1)
            } else {
                (bars[k - 1], z)
            };
            let text = &raw[a..z];
            let dup = segs
                .iter()
                .enumerate()
                .any(|(j, &(x, y))| j != k && &raw[x..y] == text)
                .then(|| format!("the alternative `{text}` is listed twice"));
            out.push(("alternative-dropped", from, to, dup));
        }
    }
    out
}

/// Does a regex (with its leading case flag dropped) still match letters case-sensitively
/// anywhere outside `(?-i:…)` groups and case-closed classes? If not, dropping the flag
/// is equivalent.
fn has_cased_literal(raw: &str, escaped: bool) -> bool {
    let b = raw.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += escape_at(raw, i, escaped).0,
            b'[' => {
                let e = class_end(raw, i, escaped);
                let inner = &raw[i + 1..e.saturating_sub(1).max(i + 1)];
                let ranges = inner.contains("A-Z") && inner.contains("a-z");
                let closed = ranges
                    || inner.chars().filter(|c| cased(*c)).all(|c| {
                        inner.contains(c.to_ascii_lowercase())
                            && inner.contains(c.to_ascii_uppercase())
                    });
                if !closed {
                    return true;
                }
                i = e;
            }
            b'(' if raw[i..].starts_with("(?-i:") => {
                // skip to the group's close (its contents are case-sensitive already)
                let mut depth = 0;
                while i < b.len() {
                    match b[i] {
                        b'\\' => {
                            i += escape_at(raw, i, escaped).0;
                            continue;
                        }
                        b'[' => {
                            i = class_end(raw, i, escaped);
                            continue;
                        }
                        b'(' => depth += 1,
                        b')' => {
                            depth -= 1;
                            if depth == 0 {
                                i += 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
            }
            b'(' if raw[i..].starts_with("(?") => {
                i += raw[i..].find([':', ')']).map_or(2, |k| k + 1);
            }
            _ => {
                let c = raw[i..].chars().next().unwrap_or(' ');
                if cased(c) {
                    return true;
                }
                i += c.len_utf8();
            }
        }
    }
    false
}

// ---------------------------------------------------------------------------------------
// The walker (KQL, SPL, EQL)
// ---------------------------------------------------------------------------------------

struct Walk<'a> {
    text: &'a str,
    toks: Vec<Tok>,
    /// Indices of the significant tokens (not space, not comment).
    sig: Vec<usize>,
}

impl<'a> Walk<'a> {
    fn s(&self, k: usize) -> &'a str {
        let t = self.toks[self.sig[k]];
        &self.text[t.s..t.e]
    }
    fn tok(&self, k: usize) -> Tok {
        self.toks[self.sig[k]]
    }
    /// The significant index of the token closing the bracket opened at `k`.
    fn close(&self, k: usize) -> Option<usize> {
        let mut depth = 0i32;
        for j in k..self.sig.len() {
            match self.s(j) {
                "(" | "[" => depth += 1,
                ")" | "]" => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(j);
                    }
                }
                _ => {}
            }
        }
        None
    }
    /// The tokens `k - before ..= k + after`, strings shown as `'…'`: the construct of an
    /// edit at `k`.
    fn construct(&self, k: usize, before: usize, after: usize) -> String {
        let mut out = String::new();
        for j in k.saturating_sub(before)..=(k + after).min(self.sig.len().saturating_sub(1)) {
            let t = self.tok(j);
            let s = if t.t == T::Str { "'…'" } else { self.s(j) };
            let glue = out.is_empty()
                || out.ends_with('(')
                || out.ends_with('[')
                || matches!(s, "," | ")" | "]" | "(");
            if !glue {
                out.push(' ');
            }
            out.push_str(s);
        }
        out
    }
    /// The strings of the operand after `k`: one string, or a `( … )` / `dynamic([ … ])`
    /// list of strings. `None` when the operand is anything else (a name, a number).
    fn operand(&self, k: usize) -> Option<Vec<&'a str>> {
        let mut j = k + 1;
        if j < self.sig.len() && self.s(j) == "dynamic" {
            j += 1;
        }
        if j >= self.sig.len() {
            return None;
        }
        if self.tok(j).t == T::Str {
            return Some(vec![self.s(j)]);
        }
        if self.s(j) != "(" {
            return None;
        }
        let end = self.close(j)?;
        let mut out = Vec::new();
        for m in j + 1..end {
            match (self.tok(m).t, self.s(m)) {
                (T::Str, s) => out.push(s),
                (_, "," | "[" | "]") => {}
                _ => return None,
            }
        }
        Some(out)
    }
}

/// A string literal's content (without its quotes).
fn content(s: &str) -> &str {
    if s.len() >= 2 {
        &s[1..s.len() - 1]
    } else {
        ""
    }
}

// the walk indexes tokens, `enclosing` and the neighbours by one significant index
#[allow(clippy::needless_range_loop)]
fn walk(tb: &Table, text: &str) -> Vec<Edit> {
    let toks = lex(tb, text);
    let sig: Vec<usize> = (0..toks.len())
        .filter(|&i| !matches!(toks[i].t, T::Space | T::Comment))
        .collect();
    let w = Walk { text, toks, sig };
    let mut out = Vec::new();
    // the construct around the edited token: what precedes a value (its field and
    // operator), the operands around an operator, what follows a `not` or a filter
    let edit = |op: &'static str, s, e, with: String, k, eq| {
        let (before, after) = match op {
            "value-char" | "anchor-dropped" | "alternative-dropped" | "case-flag-dropped" => (3, 0),
            "list-drop" => (1, 0),
            "not-removed" | "filter-removed" => (0, 3),
            _ => (1, 1),
        };
        Edit {
            op,
            start: s,
            end: e,
            with,
            construct: w.construct(k, before, after),
            equivalent: eq,
        }
    };
    // enclosing call per significant token (SPL `match(`), found in one forward pass
    let mut calls: Vec<(&str, usize)> = Vec::new();
    let mut enclosing: Vec<Option<(&str, usize)>> = Vec::with_capacity(w.sig.len());
    for k in 0..w.sig.len() {
        enclosing.push(calls.last().copied());
        match w.s(k) {
            "(" => calls.push(if k > 0 && w.tok(k - 1).t == T::Word {
                (w.s(k - 1), k)
            } else {
                ("", k)
            }),
            ")" => {
                calls.pop();
            }
            _ => {}
        }
    }
    for k in 0..w.sig.len() {
        let t = w.tok(k);
        let s = w.s(k);
        // value characters (and regex anchors and alternatives) inside string literals
        if t.t == T::Str {
            let raw = content(s);
            // the operator this string is an operand of: skip back over list punctuation
            let mut j = k;
            while j > 0 && (matches!(w.s(j - 1), "(" | "," | "[") || w.tok(j - 1).t == T::Str) {
                j -= 1;
            }
            let op = if j > 0 { w.s(j - 1) } else { "" };
            let op = if op == "dynamic" && j > 1 {
                w.s(j - 2)
            } else {
                op
            };
            let call = enclosing[k].filter(|(c, _)| tb.regex_calls.contains(c));
            let regex = tb.regex_after.contains(&op) || call.is_some();
            // the construct: the call and its first argument (`match(Image`), else the
            // field and operator (`RemoteUrl has`)
            let construct = match call {
                Some((_, open)) => {
                    let mut c = String::new();
                    for m in open - 1..(open + 4).min(k) {
                        if w.s(m) == "," {
                            break;
                        }
                        c.push_str(w.s(m));
                    }
                    c
                }
                None if j > 0 => {
                    let from = if j >= 2 && w.s(j - 2) == "(" {
                        j - 2
                    } else {
                        j - 1
                    };
                    w.construct(j - 1, j - 1 - from + 1, 0)
                }
                None => String::new(),
            };
            let with_construct = |mut e: Edit| {
                e.construct = construct.clone();
                e
            };
            if let Some((a, z, with)) = value_char(raw, t.s + 1, regex, tb.escaped) {
                out.push(with_construct(edit("value-char", a, z, with, k, None)));
            }
            if regex {
                for (name, a, z, eq) in regex_edits(raw, tb.escaped) {
                    out.push(with_construct(edit(
                        name,
                        t.s + 1 + a,
                        t.s + 1 + z,
                        String::new(),
                        k,
                        eq,
                    )));
                }
                if let Some(flag) = tb.case_flag.filter(|f| raw.starts_with(*f)) {
                    let rest = &raw[flag.len()..];
                    let eq = (!has_cased_literal(rest, tb.escaped)).then(|| {
                        "no letter is matched case-sensitively without the flag".to_string()
                    });
                    out.push(with_construct(edit(
                        "case-flag-dropped",
                        t.s + 1,
                        t.s + 1 + flag.len(),
                        String::new(),
                        k,
                        eq,
                    )));
                }
            }
            continue;
        }
        if t.t == T::Comment || t.t == T::Space {
            continue;
        }
        // and ↔ or
        if let Some((_, to)) = tb.bools.iter().find(|(f, _)| *f == s) {
            out.push(edit("and↔or", t.s, t.e, to.to_string(), k, None));
        }
        // a whole filter: `| where not(…)` / `and not (…)`
        for f in tb.filters {
            if k + f.len() <= w.sig.len() && f.iter().enumerate().all(|(m, x)| w.s(k + m) == *x) {
                if let Some(end) = w.close(k + f.len() - 1) {
                    let (a, z) = filter_range(text, t.s, w.tok(end).e, f[0] == "|");
                    out.push(edit("filter-removed", a, z, String::new(), k, None));
                }
            }
        }
        // `not` removed before its parenthesis
        if s == tb.not && k + 1 < w.sig.len() && w.s(k + 1) == "(" {
            out.push(edit(
                "not-removed",
                t.s,
                w.tok(k + 1).s,
                String::new(),
                k,
                None,
            ));
        }
        // operator swaps
        if let Some(sw) = tb.swaps.iter().find(|x| x.from == s) {
            let field = if k > 0 { w.s(k - 1) } else { "" };
            let eq = w.operand(k).and_then(|vals| {
                let uncased = vals.iter().all(|v| !content(v).chars().any(cased));
                let no_wild = !sw.wildcards || vals.iter().all(|v| !content(v).contains(['*', '?']));
                if sw.case_only && no_wild && uncased {
                    Some("no operand has a cased letter (or a wildcard), so only case sensitivity changes".to_string())
                } else if sw.case_only
                    && no_wild
                    && tb.closed_fields.contains(&field)
                    && vals.iter().all(|v| content(v) == content(v).to_lowercase())
                {
                    Some(format!(
                        "{field} holds a closed lowercase vocabulary (ECS), so only case sensitivity changes"
                    ))
                } else if sw.term_edges
                    && vals.iter().all(|v| {
                        let c = content(v);
                        !c.starts_with(|x: char| x.is_alphanumeric())
                            && !c.ends_with(|x: char| x.is_alphanumeric())
                            && !c.is_empty()
                    })
                {
                    Some("every operand starts and ends with a character that is no letter or digit, so `has` asks for no term boundary beyond `contains`".to_string())
                } else {
                    None
                }
            });
            out.push(edit(sw.name, t.s, t.e, sw.to.to_string(), k, eq));
        }
        // one list element dropped
        if let Some(lo) = tb.lists.iter().find(|l| l.op == s) {
            let mut open = k + 1;
            if s == "dynamic" {
                open += 1;
            }
            let opened = open < w.sig.len()
                && w.s(open) == if s == "dynamic" { "[" } else { "(" }
                && (s != "dynamic" || w.s(k + 1) == "(");
            if opened {
                if let Some(end) = w.close(open) {
                    list_drops(&w, open, end, lo.case_insensitive, k, &mut out);
                }
            }
        }
        // one disjunct of a `f == "v" OR f == "w"` chain dropped (SPL's lists)
        if let Some((or, cmp)) = tb.or_chain {
            let is_cmp = |m: usize| {
                m + 2 < w.sig.len()
                    && w.tok(m).t == T::Word
                    && w.s(m + 1) == cmp
                    && w.tok(m + 2).t == T::Str
            };
            let starts_chain = is_cmp(k) && !(k >= 1 && w.s(k - 1) == or);
            if starts_chain {
                let mut elems = vec![k];
                while let Some(&last) = elems.last() {
                    if last + 3 < w.sig.len() && w.s(last + 3) == or && is_cmp(last + 4) {
                        elems.push(last + 4);
                    } else {
                        break;
                    }
                }
                if elems.len() >= 2 {
                    let spans: Vec<(usize, usize)> = elems
                        .iter()
                        .map(|&m| (w.tok(m).s, w.tok(m + 2).e))
                        .collect();
                    for (n, &(a, z)) in spans.iter().enumerate() {
                        let (from, to) = if n + 1 < spans.len() {
                            (a, spans[n + 1].0)
                        } else {
                            (spans[n - 1].1, z)
                        };
                        let this = &text[a..z];
                        let eq = spans
                            .iter()
                            .enumerate()
                            .any(|(o, &(x, y))| o != n && &text[x..y] == this)
                            .then(|| format!("`{this}` is listed twice"));
                        let mut e = edit("list-drop", from, to, String::new(), elems[n], eq);
                        e.construct = w.construct(elems[n], 0, 1);
                        out.push(e);
                    }
                }
            }
        }
    }
    out
}

/// The bytes a removed filter takes: the whole line(s) when it starts a line (`| where
/// not(…)`), else from the whitespace before it (`… and not (…)`).
fn filter_range(text: &str, s: usize, e: usize, stage: bool) -> (usize, usize) {
    if stage {
        let line_start = text[..s].rfind('\n').map_or(0, |p| p + 1);
        let rest_end = text[e..].find('\n').map_or(text.len(), |p| e + p);
        if text[line_start..s].trim().is_empty() && text[e..rest_end].trim().is_empty() {
            return (line_start, (rest_end + 1).min(text.len()));
        }
        return (s, e);
    }
    let a = text[..s].trim_end().len();
    (a, e)
}

/// One mutant per element of the list between `open` and `end` (significant indices),
/// when it has two or more elements.
fn list_drops(w: &Walk, open: usize, end: usize, ci: bool, k: usize, out: &mut Vec<Edit>) {
    let mut elems: Vec<(usize, usize)> = Vec::new(); // byte spans
    let mut cur: Option<(usize, usize)> = None;
    let mut depth = 0;
    for m in open + 1..end {
        let s = w.s(m);
        match s {
            "(" | "[" => depth += 1,
            ")" | "]" => depth -= 1,
            _ => {}
        }
        if s == "," && depth == 0 {
            elems.extend(cur.take());
            continue;
        }
        let t = w.tok(m);
        cur = Some(cur.map_or((t.s, t.e), |(a, _)| (a, t.e)));
    }
    elems.extend(cur);
    if elems.len() < 2 {
        return;
    }
    let norm = |(a, z): (usize, usize)| {
        let s = &w.text[a..z];
        if ci {
            s.to_lowercase()
        } else {
            s.to_string()
        }
    };
    for (n, &(a, z)) in elems.iter().enumerate() {
        let (from, to) = if n + 1 < elems.len() {
            (a, elems[n + 1].0)
        } else {
            (elems[n - 1].1, z)
        };
        let this = norm((a, z));
        let eq = elems
            .iter()
            .enumerate()
            .any(|(o, &sp)| o != n && norm(sp) == this)
            .then(|| {
                format!(
                    "`{}` duplicates another element{}",
                    &w.text[a..z],
                    if ci { " (up to case)" } else { "" }
                )
            });
        out.push(Edit {
            op: "list-drop",
            start: from,
            end: to,
            with: String::new(),
            construct: w.construct(k, 1, 0),
            equivalent: eq,
        });
    }
}

// ---------------------------------------------------------------------------------------
// Sigma: the detection section, line by line
// ---------------------------------------------------------------------------------------

#[derive(Debug)]
struct Line {
    /// Byte range of the line (without its newline) and the end including it.
    s: usize,
    e: usize,
    next: usize,
    indent: usize,
    item: bool,
    /// Key (with modifiers) and value byte ranges.
    key: Option<(usize, usize)>,
    value: Option<(usize, usize)>,
}

fn sigma_lines(text: &str) -> Vec<Line> {
    let mut out = Vec::new();
    let mut pos = 0;
    let mut inside = false;
    for raw in text.split_inclusive('\n') {
        let s = pos;
        pos += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        let e = s + line.len();
        let indent = line.len() - line.trim_start_matches(' ').len();
        if indent == 0 && !line.is_empty() {
            inside = line == "detection:";
            continue;
        }
        if !inside || line.trim().is_empty() {
            continue;
        }
        let mut b = s + indent;
        let item = text[b..e].starts_with("- ");
        if item {
            b += 2;
        }
        let body = &text[b..e];
        let keylen = body.find(':').filter(|&k| {
            body[..k]
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"_.|-".contains(&c))
                && (k + 1 == body.len() || body[k + 1..].starts_with(' '))
                && k > 0
        });
        let (key, value) = match keylen {
            Some(k) => {
                let v = body[k + 1..].trim_start();
                let vs = e - v.len();
                (Some((b, b + k)), (!v.is_empty()).then_some((vs, e)))
            }
            None => (None, Some((b, e))),
        };
        out.push(Line {
            s,
            e,
            next: pos,
            indent,
            item,
            key,
            value,
        });
    }
    out
}

/// A Sigma scalar's content range and whether it is double-quoted (escapes backslashes).
fn unquote(text: &str, (a, z): (usize, usize)) -> (usize, usize, bool) {
    let v = &text[a..z];
    if v.len() >= 2 && (v.starts_with('\'') && v.ends_with('\'')) {
        (a + 1, z - 1, false)
    } else if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        (a + 1, z - 1, true)
    } else {
        (a, z, false)
    }
}

fn sigma(text: &str) -> Vec<Edit> {
    let lines = sigma_lines(text);
    let mut out = Vec::new();
    let key_of = |l: &Line| l.key.map(|(a, z)| &text[a..z]);
    // the key a value line belongs to: the nearest earlier key line less indented
    let owner = |i: usize| -> Option<&str> {
        (0..i)
            .rev()
            .find(|&j| {
                lines[j].key.is_some()
                    && lines[j].value.is_none()
                    && lines[j].indent < lines[i].indent + usize::from(lines[i].item) * 2
            })
            .and_then(|j| key_of(&lines[j]))
    };
    let headers: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].indent == 2 && !lines[i].item && lines[i].key.is_some())
        .collect();
    let condition = headers
        .iter()
        .copied()
        .find(|&i| key_of(&lines[i]) == Some("condition"));
    for (i, l) in lines.iter().enumerate() {
        let key = key_of(l);
        if key == Some("condition") && !l.item && l.indent == 2 {
            continue;
        }
        let is_header = l.indent == 2 && !l.item && l.key.is_some();
        let field = if l.key.is_some() { key } else { owner(i) };
        let construct = field.unwrap_or("").to_string();
        let regex = field.is_some_and(|k| k.split('|').any(|m| m == "re"));
        // modifier swaps, and an exact key made `|contains`
        if let (Some((ka, kz)), false) = (l.key, is_header) {
            let k = &text[ka..kz];
            for (from, to, name) in SIGMA_SWAPS {
                if let Some(p) = k.find(from) {
                    out.push(Edit {
                        op: name,
                        start: ka + p,
                        end: ka + p + from.len(),
                        with: to.to_string(),
                        construct: construct.clone(),
                        equivalent: None,
                    });
                }
            }
            if !k.contains('|') {
                out.push(Edit {
                    op: "swap exact→|contains",
                    start: kz,
                    end: kz,
                    with: "|contains".into(),
                    construct: construct.clone(),
                    equivalent: None,
                });
            }
        }
        if let (Some(v), false) = (l.value, is_header) {
            let (a, z, escaped) = unquote(text, v);
            let raw = &text[a..z];
            if let Some((s, e, with)) = value_char(raw, a, regex, escaped) {
                out.push(Edit {
                    op: "value-char",
                    start: s,
                    end: e,
                    with,
                    construct: construct.clone(),
                    equivalent: None,
                });
            }
            if regex {
                for (name, s, e, eq) in regex_edits(raw, escaped) {
                    out.push(Edit {
                        op: name,
                        start: a + s,
                        end: a + e,
                        with: String::new(),
                        construct: construct.clone(),
                        equivalent: eq,
                    });
                }
            }
        }
        // list elements: value items under one key, and map items under one selection
        let starts_group = l.item && (i == 0 || !same_group(&lines, i - 1, i));
        if starts_group {
            let mut group = vec![i];
            while let Some(&last) = group.last() {
                match (last + 1..lines.len()).find(|&j| lines[j].indent <= l.indent) {
                    Some(j) if same_group(&lines, last, j) && lines[j].item => group.push(j),
                    _ => break,
                }
            }
            if group.len() >= 2 {
                let spans: Vec<(usize, usize)> = group
                    .iter()
                    .map(|&g| {
                        let end = (g + 1..lines.len())
                            .find(|&j| lines[j].indent <= lines[g].indent)
                            .map_or(lines[lines.len() - 1].next, |j| lines[j].s);
                        (lines[g].s, end)
                    })
                    .collect();
                let ci = !regex;
                let what = if l.key.is_some() {
                    "selection item"
                } else {
                    "list"
                };
                let c = if l.key.is_some() {
                    owner_header(&lines, &headers, i, text)
                } else {
                    construct.clone()
                };
                for (n, &(a, z)) in spans.iter().enumerate() {
                    let norm = |(x, y): (usize, usize)| {
                        let s = text[x..y].trim().to_string();
                        if ci {
                            s.to_lowercase()
                        } else {
                            s
                        }
                    };
                    let eq = spans
                        .iter()
                        .enumerate()
                        .any(|(o, &sp)| o != n && norm(sp) == norm((a, z)))
                        .then(|| format!("`{}` duplicates another {what}", text[a..z].trim()));
                    out.push(Edit {
                        op: "list-drop",
                        start: a,
                        end: z,
                        with: String::new(),
                        construct: format!("{c} {what}"),
                        equivalent: eq,
                    });
                }
            }
        }
    }
    // the condition: and↔or, not removed, a filter removed
    if let Some(ci) = condition {
        let (a, z) = lines[ci].value.unwrap_or((lines[ci].e, lines[ci].e));
        let cond = &text[a..z];
        let words: Vec<(usize, &str)> = cond
            .split(' ')
            .scan(0usize, |p, w| {
                let at = *p;
                *p += w.len() + 1;
                Some((at, w))
            })
            .filter(|(_, w)| !w.is_empty())
            .collect();
        for (n, &(p, wd)) in words.iter().enumerate() {
            let edit = |op, s: usize, e: usize, with: &str| Edit {
                op,
                start: a + s,
                end: a + e,
                with: with.to_string(),
                construct: "condition".into(),
                equivalent: None,
            };
            match wd {
                "and" => out.push(edit("and↔or", p, p + 3, "or")),
                "or" => out.push(edit("and↔or", p, p + 2, "and")),
                "not" => {
                    out.push(edit("not-removed", p, p + 4, ""));
                    // `and not X` / `and not 1 of filter_*` removed
                    if n >= 1 && words[n - 1].1 == "and" {
                        let term = if words.get(n + 2).is_some_and(|(_, w)| *w == "of") {
                            n + 3
                        } else {
                            n + 1
                        };
                        if let Some(&(tp, tw)) = words.get(term) {
                            let from = words[n - 1].0.saturating_sub(1);
                            out.push(edit("filter-removed", from, tp + tw.len(), ""));
                        }
                    }
                }
                _ => {}
            }
        }
        // one filter selection removed, where the condition names them by `filter_*`
        if cond.contains("filter_*") {
            let filters: Vec<usize> = headers
                .iter()
                .copied()
                .filter(|&h| key_of(&lines[h]).is_some_and(|k| k.starts_with("filter_")))
                .collect();
            if filters.len() >= 2 {
                for &h in &filters {
                    let end = headers
                        .iter()
                        .find(|&&x| x > h)
                        .map_or(lines[lines.len() - 1].next, |&x| lines[x].s);
                    out.push(Edit {
                        op: "filter-removed",
                        start: lines[h].s,
                        end,
                        with: String::new(),
                        construct: key_of(&lines[h]).unwrap_or("").to_string(),
                        equivalent: None,
                    });
                }
            }
        }
    }
    out.sort_by_key(|e| e.start);
    out
}

/// Are lines `a` and `b` siblings (same indent, same kind: value items or map items)?
fn same_group(lines: &[Line], a: usize, b: usize) -> bool {
    lines[a].indent == lines[b].indent
        && lines[a].item
        && lines[b].item
        && lines[a].key.is_some() == lines[b].key.is_some()
}

fn owner_header(lines: &[Line], headers: &[usize], i: usize, text: &str) -> String {
    headers
        .iter()
        .rev()
        .find(|&&h| h < i)
        .and_then(|&h| lines[h].key)
        .map_or(String::new(), |(a, z)| text[a..z].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every mutant of `text` as (operator, mutated text, equivalent?).
    fn all(lang: Lang, text: &str) -> Vec<(&'static str, String, bool)> {
        mutants(lang, text)
            .into_iter()
            .map(|e| (e.op, e.apply(text), e.equivalent.is_some()))
            .collect()
    }

    fn has(ms: &[(&'static str, String, bool)], op: &str, text: &str, eq: bool) {
        assert!(
            ms.iter().any(|(o, t, e)| *o == op && t == text && *e == eq),
            "no {op} mutant (equivalent: {eq}) giving\n{text}\nin\n{ms:#?}"
        );
    }

    #[test]
    fn kql_table() {
        let q = "// c 'x'\nT\n| where A has 'ab1' and B in~ ('x', 'X', 'y')\n| where not(C =~ '1.2' or D endswith 'e')\n| where E contains 'ok'\n";
        let ms = all(Lang::Kql, q);
        let m = |s: &str| {
            q.replacen(
                s.split('→').next().unwrap(),
                s.split('→').nth(1).unwrap(),
                1,
            )
        };
        has(&ms, "value-char", &m("'ab1'→'ac1'"), false);
        has(&ms, "and↔or", &m(" and B→ or B"), false);
        has(&ms, "and↔or", &m(" or D→ and D"), false);
        has(&ms, "swap has→contains", &m("A has→A contains"), false);
        has(&ms, "swap in~→in", &m("in~→in"), false);
        has(&ms, "list-drop", &m("('x', 'X', 'y')→('X', 'y')"), true);
        has(&ms, "list-drop", &m("('x', 'X', 'y')→('x', 'X')"), false);
        has(&ms, "not-removed", &m("not(C→(C"), false);
        has(
            &ms,
            "filter-removed",
            &m("| where not(C =~ '1.2' or D endswith 'e')\n→"),
            false,
        );
        has(&ms, "swap =~→==", &m("=~→=="), true);
        has(
            &ms,
            "swap endswith→contains",
            &m("endswith→contains"),
            false,
        );
        has(&ms, "swap contains→has", &m("contains→has"), false);
        has(&ms, "value-char", &m("'ok'→'ol'"), false);
        // nothing inside the comment
        assert!(ms.iter().all(|(_, t, _)| t.starts_with("// c 'x'\n")));
        assert_eq!(ms.len(), 19, "{ms:#?}");
    }

    #[test]
    fn kql_dynamic_list() {
        let q = "let l = dynamic(['a', 'b']);\nT | where X in (l)";
        let ms = all(Lang::Kql, q);
        has(
            &ms,
            "list-drop",
            "let l = dynamic(['b']);\nT | where X in (l)",
            false,
        );
        has(
            &ms,
            "list-drop",
            "let l = dynamic(['a']);\nT | where X in (l)",
            false,
        );
    }

    #[test]
    fn spl_table() {
        let q = "```c```\nindex=* sourcetype=\"ab\"\n| where match(Image, \"(?i)\\\\Ax(?:aa|bb|aa)\\\\z\") AND A==\"1\" OR A==\"2\"\n| where NOT (match(U, \"(?i)\\\\A(?-i:[Ss])\\\\z\"))\n";
        let ms = all(Lang::Spl, q);
        let m = |a: &str, b: &str| q.replacen(a, b, 1);
        has(&ms, "value-char", &m("\"ab\"", "\"ac\""), false);
        has(&ms, "value-char", &m("(?:aa|bb", "(?:aa|cb"), false);
        has(&ms, "anchor-dropped", &m("\\\\Ax(", "x("), false);
        has(&ms, "anchor-dropped", &m("aa)\\\\z", "aa)"), false);
        has(
            &ms,
            "alternative-dropped",
            &m("(?:aa|bb|aa)", "(?:bb|aa)"),
            true,
        );
        has(
            &ms,
            "alternative-dropped",
            &m("(?:aa|bb|aa)", "(?:aa|aa)"),
            false,
        );
        has(&ms, "case-flag-dropped", &m("(?i)\\\\Ax", "\\\\Ax"), false);
        has(&ms, "and↔or", &m(" AND ", " OR "), false);
        has(&ms, "and↔or", &m(" OR A", " AND A"), false);
        has(&ms, "list-drop", &m("A==\"1\" OR ", ""), false);
        has(&ms, "list-drop", &m(" OR A==\"2\"", ""), false);
        has(&ms, "not-removed", &m("NOT (", "("), false);
        has(
            &ms,
            "filter-removed",
            &m("| where NOT (match(U, \"(?i)\\\\A(?-i:[Ss])\\\\z\"))\n", ""),
            false,
        );
        // the class of one letter changes as a whole; the flag is equivalent there
        has(&ms, "value-char", &m("[Ss]", "[Tt]"), false);
        has(
            &ms,
            "case-flag-dropped",
            &m("(?i)\\\\A(?-i", "\\\\A(?-i"),
            true,
        );
    }

    #[test]
    fn eql_table() {
        let q = "// c\nprocess where event.type == \"start\"\n  and process.name in~ (\"a.exe\", \"A.EXE\")\n  and not (x : \"*ab*\" or y : \"12\")\n  and z regex \"[Nn][Ee]t\"\n";
        let ms = all(Lang::Eql, q);
        let m = |a: &str, b: &str| q.replacen(a, b, 1);
        has(&ms, "swap ==→:", &m("==", ":"), true);
        has(&ms, "value-char", &m("\"start\"", "\"stbrt\""), false);
        has(&ms, "list-drop", &m("\"a.exe\", ", ""), true);
        has(&ms, "swap in~→in", &m("in~", "in"), false);
        has(
            &ms,
            "filter-removed",
            &m("\n  and not (x : \"*ab*\" or y : \"12\")", ""),
            false,
        );
        has(&ms, "not-removed", &m("not (", "("), false);
        has(&ms, "swap :→==", &m("x :", "x =="), false);
        has(&ms, "swap :→==", &m("y :", "y =="), true);
        has(&ms, "value-char", &m("[Ee]", "[Ff]"), false);
        has(&ms, "and↔or", &m(" or y", " and y"), false);
    }

    #[test]
    fn sigma_table() {
        let q = "title: t\ndetection:\n  selection:\n  - Image|endswith:\n    - \\a.exe\n    - \\B.exe\n    - \\b.exe\n  - Host|re: (?:^|x)ab$\n  filter_a:\n    User: bob\n  filter_b:\n    User|startswith: al\n  condition: selection and not 1 of filter_*\nlevel: low\n";
        let ms = all(Lang::Sigma, q);
        let m = |a: &str, b: &str| q.replacen(a, b, 1);
        has(
            &ms,
            "swap |endswith→|contains",
            &m("|endswith", "|contains"),
            false,
        );
        has(
            &ms,
            "swap |startswith→|contains",
            &m("|startswith", "|contains"),
            false,
        );
        has(
            &ms,
            "swap exact→|contains",
            &m("User:", "User|contains:"),
            false,
        );
        has(&ms, "value-char", &m("\\B.exe", "\\B.eye"), false);
        has(&ms, "list-drop", &m("    - \\a.exe\n", ""), false);
        has(&ms, "list-drop", &m("    - \\b.exe\n", ""), true);
        has(&ms, "list-drop", &m("  - Host|re: (?:^|x)ab$\n", ""), false);
        has(&ms, "anchor-dropped", &m("(?:^|", "(?:|"), false);
        has(&ms, "anchor-dropped", &m("ab$", "ab"), false);
        has(&ms, "alternative-dropped", &m("(?:^|x)", "(?:x)"), false);
        has(&ms, "value-char", &m("x)ab", "x)bb"), false);
        has(&ms, "and↔or", &m("selection and", "selection or"), false);
        has(&ms, "not-removed", &m("and not 1", "and 1"), false);
        has(
            &ms,
            "filter-removed",
            &m(" and not 1 of filter_*", ""),
            false,
        );
        has(
            &ms,
            "filter-removed",
            &m("  filter_a:\n    User: bob\n", ""),
            false,
        );
        // the title and level are not the detection
        assert!(ms
            .iter()
            .all(|(_, t, _)| t.starts_with("title: t\n") && t.ends_with("level: low\n")));
    }

    #[test]
    fn escapes_and_anchors() {
        // `^.*` under (?s) is the same match; a class `[^…]` is no anchor
        let e = regex_edits("(?s)^.*[^a]$", false);
        assert_eq!(e.len(), 2);
        assert!(e[0].3.is_some());
        assert!(e[1].3.is_none());
        assert_eq!(escape_at("\\\\A", 0, true), (3, Some('A')));
        assert_eq!(escape_at("\\\\\\\\A", 0, true), (4, None));
        assert_eq!(escape_at("\\u{212A}]", 0, false), (8, Some('u')));
        assert!(!has_cased_literal("\\A(?-i:[Ss])[^A-Za-z0-9]1\\z", false));
        assert!(has_cased_literal("\\Aab", false));
    }
}
