//! Mutation operators: one small lexer and one walker, driven by a table per query language
//! (KQL, SPL, EQL), plus a line walker for Sigma's detection section. Every operator makes
//! one [`Edit`] of the query text; an edit that is provably equivalent says why.
//!
//! Stays whole (over 600 lines): the lexer and the walker it drives are one job; the tables,
//! value and regex edits and Sigma's line walker are in their own files; a quarter is tests.

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

mod sigma;
mod tables;
mod values;

use sigma::sigma;
use tables::{Table, EQL, KQL, SIGMA_SWAPS, SPL};
use values::{has_cased_literal, regex_edits, value_char};

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
        // a rewriting call replaced by its first argument: `replace(F, "…", "…")` → `F`
        let unwrap = tb.unwrap_calls.iter().find(|(c, _)| *c == s);
        if let (Some((_, second)), true) = (unwrap, k + 1 < w.sig.len() && w.s(k + 1) == "(") {
            if let Some(end) = w.close(k + 1) {
                let mut depth = 0;
                let comma = (k + 2..end).find(|&m| {
                    match w.s(m) {
                        "(" | "[" => depth += 1,
                        ")" | "]" => depth -= 1,
                        _ => {}
                    }
                    depth == 0 && w.s(m) == ","
                });
                if let Some(c) =
                    comma.filter(|&c| c > k + 2 && c + 1 < end && w.s(c + 1) == *second)
                {
                    let arg = text[w.tok(k + 2).s..w.tok(c - 1).e].to_string();
                    out.push(edit("call-unwrapped", t.s, w.tok(end).e, arg, k, None));
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
                // a regular expression's cased letters may sit in classes closed under case
                let uncased = if tb.regex_after.contains(&sw.to) {
                    vals.iter().all(|v| !has_cased_literal(content(v), tb.escaped))
                } else {
                    vals.iter().all(|v| !content(v).chars().any(cased))
                };
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

#[cfg(test)]
mod tests {
    use super::values::escape_at;
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

    /// `replace(F, "\\x{17F}", "?")` → `F`: the long-s swap dropped; the swap's
    /// pattern also changes by one character (`\x{17F}` → `\x{18F}`: it swaps nothing then).
    #[test]
    fn spl_replace_calls_are_unwrapped() {
        let base = r#"replace(Image, "(?s)^.*\\\\", "")"#;
        let swap = format!(r#"replace({base}, "\\x{{17F}}", "?")"#);
        let q = format!("index=*\n| where match({swap}, \"(?i)\\\\Asetup\\\\.exe\\\\z\")\n");
        let ms = all(Lang::Spl, &q);
        has(&ms, "call-unwrapped", &q.replacen(&swap, base, 1), false);
        assert!(
            !ms.iter()
                .any(|(o, t, _)| *o == "call-unwrapped" && *t == q.replacen(base, "Image", 1)),
            "the basename cut is not unwrapped"
        );
        has(&ms, "value-char", &q.replacen("x{17F}", "x{18F}", 1), false);
    }

    #[test]
    fn eql_table() {
        let q = "// c\nprocess where event.type == \"start\"\n  and process.name in~ (\"a.exe\", \"A.EXE\")\n  and not (x : \"*ab*\" or y : \"12\")\n  and z regex \"[Nn][Ee]t\"\n  and w regex~ \"(.*[^a-zA-Z0-9])?net\"\n  and v regex~ \"[^a-zA-Z0-9]8\"\n";
        let ms = all(Lang::Eql, q);
        let m = |a: &str, b: &str| q.replacen(a, b, 1);
        has(&ms, "swap ==→:", &m("==", ":"), true);
        has(&ms, "value-char", &m("\"start\"", "\"stbrt\""), false);
        has(&ms, "list-drop", &m("\"a.exe\", ", ""), true);
        has(&ms, "swap in~→in", &m("in~", "in"), false);
        has(&ms, "swap regex~→regex", &m("regex~", "regex"), false);
        // no letter outside a class closed under case: only case sensitivity would change
        has(&ms, "swap regex~→regex", &m("v regex~", "v regex"), true);
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
