//! Sigma's mutants: the rule's detection section walked line by line (keys with their
//! modifiers, values, list items), not lexed as a query.

use super::values::{regex_edits, value_char};
use super::{Edit, SIGMA_SWAPS};

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

pub(super) fn sigma(text: &str) -> Vec<Edit> {
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
