//! The round trip: the detection compiled back to KQL and compared with the original, token for token, then after normalization.

use super::*;

pub(super) fn toks_of(text: &str) -> Option<Vec<Tok>> {
    Some(lex(text).ok()?.into_iter().map(|t| t.tok).collect())
}

/// Compare the detection compiled back to KQL (in `res`) with the repaired original.
pub(super) fn round_trip(
    res: &build::BuildResult,
    draft: &Draft,
    det: &DraftDetection,
    l: &Lifted,
    report: &mut FileReport,
) {
    let Some(emitted) = res.files.get(&format!("kql/{}-{}.kql", draft.id, det.key)) else {
        return;
    };
    let Some(ours) = toks_of(emitted) else { return };
    // the repaired original: also without the grouping columns the import dropped
    let dropped: Vec<Tok> = l
        .by_cols
        .iter()
        .filter(|(f, _)| !det.summarize.contains(f))
        .map(|(_, c)| Tok::Ident(c.clone()))
        .collect();
    let mut tokens = l.tokens.clone();
    if let Some(by) = tokens.iter().rposition(|t| *t == Tok::Ident("by".into())) {
        let mut i = by + 1;
        while i < tokens.len() {
            if dropped.contains(&tokens[i]) {
                if tokens.get(i + 1) == Some(&Tok::Punct(",")) {
                    tokens.drain(i..i + 2);
                } else if i > by + 1 && tokens[i - 1] == Tok::Punct(",") {
                    tokens.drain(i - 1..i + 1);
                    i -= 1;
                } else {
                    tokens.remove(i);
                }
            } else {
                i += 1;
            }
        }
    }
    if ours == tokens {
        report.round_trip = Some(TOKEN_EQUAL.into());
        return;
    }
    let Ok(parsed) = parser::parse(emitted) else {
        return;
    };
    let mut original = l.query.clone();
    rename_query(&mut original, l);
    for op in &mut original.ops {
        if let Op::Summarize { by, .. } = op {
            by.retain(|c| !dropped.contains(&Tok::Ident(c.clone())));
        }
    }
    let (a, b) = (normalize(&original), normalize(&parsed));
    if a == b {
        report.round_trip = Some(NORMALIZED_EQUAL.into());
        report.notes.push(Note::file(
            "round trip: the emitted query equals the original after normalization (and/or flattened, parentheses, list order and single-value lists)",
        ));
        return;
    }
    report.round_trip = Some(DIFFERS.into());
    report.notes.push(Note::file(format!(
        "round trip: emitted query differs from the original: {}",
        short_diff(&a.to_string(), &b.to_string())
    )));
}

/// Apply the repairs' renames and value changes to the parsed original.
pub(super) fn rename_query(q: &mut Query, l: &Lifted) {
    fn expr(e: &mut Expr, l: &Lifted) {
        match e {
            Expr::Name(n) => {
                if let Some(r) = l.renames.get(n) {
                    *n = r.clone();
                }
            }
            Expr::Lit(Lit::Str(s)) => {
                if let Some(r) = l.values.get(s) {
                    *s = r.clone();
                }
            }
            Expr::Call(_, args) => args.iter_mut().for_each(|a| expr(a, l)),
            Expr::Not(x) | Expr::Neg(x) => expr(x, l),
            Expr::And(a, b) | Expr::Or(a, b) | Expr::Cmp(_, a, b) => {
                expr(a, l);
                expr(b, l);
            }
            Expr::In { lhs, items, .. } | Expr::HasAny { lhs, items, .. } => {
                expr(lhs, l);
                items.iter_mut().for_each(|a| expr(a, l));
            }
            Expr::Between(a, b, c) => {
                expr(a, l);
                expr(b, l);
                expr(c, l);
            }
            Expr::Lit(_) | Expr::Dynamic(_) => {}
        }
    }
    for op in &mut q.ops {
        match op {
            Op::Where(e) => expr(e, l),
            Op::Summarize { by, .. } => {
                for b in by {
                    if let Some(r) = l.renames.get(b) {
                        *b = r.clone();
                    }
                }
            }
            _ => {}
        }
    }
}

/// Meaning-preserving normal form: and/or chains flattened, deduplicated and sorted; lists
/// sorted; one-value lists as the single comparison; `has_all` as an `and` of `has`.
pub fn normalize(q: &Query) -> Query {
    Query {
        lets: q.lets.clone(),
        table: q.table.clone(),
        ops: q
            .ops
            .iter()
            .map(|op| match op {
                Op::Where(e) => Op::Where(norm(e)),
                other => other.clone(),
            })
            .collect(),
        spans: q.spans.clone(),
    }
}

pub(super) fn chain(e: &Expr, and: bool, out: &mut Vec<Expr>) {
    match (e, and) {
        (Expr::And(a, b), true) | (Expr::Or(a, b), false) => {
            chain(a, and, out);
            chain(b, and, out);
        }
        _ => {
            let n = norm(e);
            match (&n, and) {
                (Expr::And(..), true) | (Expr::Or(..), false) => chain(&n, and, out),
                _ => out.push(n),
            }
        }
    }
}

pub(super) fn rebuild(mut v: Vec<Expr>, and: bool) -> Expr {
    v.sort_by_key(|e| e.to_string());
    v.dedup();
    let mut it = v.into_iter();
    let first = it.next().expect("a chain has an element");
    it.fold(first, |l, r| {
        if and {
            Expr::And(Box::new(l), Box::new(r))
        } else {
            Expr::Or(Box::new(l), Box::new(r))
        }
    })
}

pub(super) fn sorted(items: &[Expr]) -> Vec<Expr> {
    let mut v: Vec<Expr> = items.iter().map(norm).collect();
    v.sort_by_key(|e| e.to_string());
    v.dedup();
    v
}

pub(super) fn norm(e: &Expr) -> Expr {
    match e {
        Expr::And(..) | Expr::Or(..) => {
            let and = matches!(e, Expr::And(..));
            let mut v = Vec::new();
            chain(e, and, &mut v);
            rebuild(v, and)
        }
        Expr::Not(x) => match norm(x) {
            Expr::Not(inner) => *inner,
            n => Expr::Not(Box::new(n)),
        },
        Expr::HasAny { lhs, items, all } => {
            let items = sorted(items);
            let has = |i: Expr| {
                Expr::Cmp(
                    CmpOp::Str {
                        op: StrOp::Has,
                        negated: false,
                        cs: false,
                    },
                    lhs.clone(),
                    Box::new(i),
                )
            };
            if *all || items.len() == 1 {
                let v: Vec<Expr> = items.into_iter().map(has).collect();
                if v.len() == 1 {
                    v.into_iter().next().expect("one")
                } else {
                    rebuild(v, true)
                }
            } else {
                Expr::HasAny {
                    lhs: lhs.clone(),
                    items,
                    all: false,
                }
            }
        }
        Expr::In {
            lhs,
            items,
            ci,
            negated,
        } => {
            let items = sorted(items);
            if items.len() == 1 {
                let op = match (ci, negated) {
                    (true, false) => CmpOp::EqCi,
                    (false, false) => CmpOp::Eq,
                    (true, true) => CmpOp::NeCi,
                    (false, true) => CmpOp::Ne,
                };
                Expr::Cmp(
                    op,
                    lhs.clone(),
                    Box::new(items.into_iter().next().expect("one")),
                )
            } else {
                Expr::In {
                    lhs: lhs.clone(),
                    items,
                    ci: *ci,
                    negated: *negated,
                }
            }
        }
        other => other.clone(),
    }
}

/// The changed tokens between two texts, short (for a note).
pub(super) fn short_diff(a: &str, b: &str) -> String {
    let ta: Vec<String> = toks_of(a)
        .unwrap_or_default()
        .iter()
        .map(|t| format!("{t}\n"))
        .collect();
    let tb: Vec<String> = toks_of(b)
        .unwrap_or_default()
        .iter()
        .map(|t| format!("{t}\n"))
        .collect();
    let ra: Vec<&str> = ta.iter().map(String::as_str).collect();
    let rb: Vec<&str> = tb.iter().map(String::as_str).collect();
    let diff = similar::TextDiff::from_slices(&ra, &rb);
    let mut out = Vec::new();
    for op in diff.ops() {
        let mut del = Vec::new();
        let mut ins = Vec::new();
        for c in diff.iter_changes(op) {
            let v = c.value().trim_end().to_string();
            match c.tag() {
                similar::ChangeTag::Delete => del.push(v),
                similar::ChangeTag::Insert => ins.push(v),
                similar::ChangeTag::Equal => {}
            }
        }
        if !del.is_empty() || !ins.is_empty() {
            out.push(format!(
                "original `{}` → emitted `{}`",
                del.join(" "),
                ins.join(" ")
            ));
        }
    }
    let mut s = out.join("; ");
    if s.chars().count() > 300 {
        s = s.chars().take(300).collect::<String>() + " …";
    }
    s
}
