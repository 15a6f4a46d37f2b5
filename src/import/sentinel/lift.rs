//! Lifting the parsed KQL of a hunting query, node by node, into a spec predicate.

use super::*;

pub(super) struct Lifter<'a> {
    block: &'a Block,
    table: &'static TableMap,
    toks: Vec<Token>,
    /// Column renames made (original spelling → column), for the round trip.
    renames: BTreeMap<String, String>,
    /// String values changed (original → spec value), for the round trip.
    values: BTreeMap<String, String>,
    field_at: BTreeMap<String, Span>,
    binder: Vec<String>,
    notes: Vec<Note>,
    repairs: Vec<String>,
}

impl Lifter<'_> {
    fn ident_span(&self, name: &str) -> Span {
        self.toks
            .iter()
            .find(|t| t.tok == Tok::Ident(name.to_string()))
            .map_or(START, |t| t.span)
    }
    fn str_span(&self, value: &str) -> Span {
        self.toks
            .iter()
            .find(|t| t.tok == Tok::Str(value.to_string()))
            .map_or(START, |t| t.span)
    }
    fn reject(&self, span: Span, msg: impl Into<String>) -> Reject {
        Reject(self.block.at(span, msg))
    }
    fn note(&mut self, span: Span, msg: String, comment: String) {
        let n = self.block.at(span, msg);
        self.repairs
            .push(format!("Repair (line {}): {comment}", n.line));
        self.notes.push(n);
    }

    /// The canonical field of a column of the query's table.
    fn field(&mut self, col: &str) -> Result<Field, Reject> {
        let t = self.table;
        let span = self.ident_span(col);
        let found = if let Some(f) = t.field_for_column(col) {
            f
        } else if let Some(real) = self.renames.get(col).cloned() {
            t.field_for_column(&real)
                .expect("renamed to a mapped column")
        } else {
            let schema = bind::schemas().get(&t.name);
            let in_schema = schema.is_some_and(|s| s.contains_key(col));
            let binder = self
                .binder
                .iter()
                .find(|m| m.contains(&format!("`{col}`")))
                .map(|m| format!(" (rmmc's binder: {m})"))
                .unwrap_or_default();
            let same_case: Vec<&String> = schema
                .map(|s| {
                    s.keys()
                        .filter(|k| k.eq_ignore_ascii_case(col) && k.as_str() != col)
                        .collect()
                })
                .unwrap_or_default();
            let initiating = format!("InitiatingProcess{col}");
            if !in_schema && same_case.len() == 1 && t.field_for_column(same_case[0]).is_some() {
                let real = same_case[0].clone();
                let f = t.field_for_column(&real).expect("checked");
                self.note(
                    span,
                    format!("`{col}` is not a column of {} (Kusto names are case-sensitive){binder}; the only column of that name up to case is `{real}`, so it is read as `{real}` (canonical field `{f}`)", t.name),
                    format!("`{col}` read as `{real}` (case)."),
                );
                self.renames.insert(col.to_string(), real);
                f
            } else if !in_schema
                && schema.is_some_and(|s| s.contains_key(&initiating))
                && t.field_for_column(&initiating).is_some()
            {
                let f = t.field_for_column(&initiating).expect("checked");
                self.note(
                    span,
                    format!("`{col}` is not a column of {}{binder}; in this table the account is the initiating process's (as `account_name` is InitiatingProcessAccountName), so it is read as the canonical field `{f}` ({initiating})", t.name),
                    format!("`{col}` (no such column in {}) read as `{f}` ({initiating}).", t.name),
                );
                self.renames.insert(col.to_string(), initiating);
                f
            } else if in_schema {
                return Err(self.reject(
                    span,
                    format!(
                        "column `{col}` of {} has no canonical field in rmmc's mapping (backends/kql.yaml)",
                        t.name
                    ),
                ));
            } else {
                return Err(self.reject(
                    span,
                    format!("`{col}` is not a column of {}{binder}", t.name),
                ));
            }
        };
        self.field_at
            .entry(found.name().to_string())
            .or_insert(span);
        Ok(found)
    }

    fn column(&mut self, e: &Expr) -> Result<Field, Reject> {
        match e {
            Expr::Name(c) => self.field(c),
            other => Err(self.reject(
                self.first_span(other),
                format!("`{other}` is not a column: the spec matches fields only"),
            )),
        }
    }

    fn first_span(&self, e: &Expr) -> Span {
        match e {
            Expr::Name(n) | Expr::Call(n, _) => self.ident_span(n),
            Expr::Lit(Lit::Str(s)) => self.str_span(s),
            Expr::Not(x) | Expr::Neg(x) => self.first_span(x),
            Expr::And(a, _) | Expr::Or(a, _) | Expr::Cmp(_, a, _) | Expr::Between(a, _, _) => {
                self.first_span(a)
            }
            Expr::In { lhs, .. } | Expr::HasAny { lhs, .. } => self.first_span(lhs),
            _ => START,
        }
    }

    /// A string literal as a value of `kind`, repaired when the spec refuses it as written.
    fn value(&mut self, e: &Expr, kind: &str) -> Result<String, Reject> {
        let v = match e {
            Expr::Lit(Lit::Str(s)) => s.clone(),
            Expr::Name(n) => {
                return Err(self.reject(
                    self.ident_span(n),
                    format!("`{n}` is a name, not a value: the query matches against another query's results or a variable, which a spec cannot express"),
                ))
            }
            other => {
                return Err(self.reject(
                    self.first_span(other),
                    format!("`{other}` is not a string literal"),
                ))
            }
        };
        if v.is_empty() {
            return Err(self.reject(
                self.str_span(&v),
                "an empty value: spec values are non-empty",
            ));
        }
        if kind == "exact" && v.contains(['*', '?']) {
            return Err(self.reject(
                self.str_span(&v),
                format!("{v:?} holds `*` or `?`, which a spec `exact` value refuses"),
            ));
        }
        if kind == "term" {
            let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
            if !(edge(v.chars().next()) && edge(v.chars().last())) {
                let trimmed = v.trim_matches(|c: char| c.is_ascii_punctuation() || c == ' ');
                let ok = !trimmed.is_empty()
                    && edge(trimmed.chars().next())
                    && edge(trimmed.chars().last());
                if !ok {
                    return Err(self.reject(
                        self.str_span(&v),
                        format!("`has {v:?}`: a spec term must start and end with an ASCII letter or digit, and this one does not even without its punctuation; no spec match kind means the same"),
                    ));
                }
                let span = self.str_span(&v);
                self.note(
                    span,
                    format!("`has {v:?}`: a spec term must start and end with an ASCII letter or digit; read as the term {trimmed:?} (the edge punctuation dropped), which is wider: it also matches {trimmed:?} without that punctuation next to it"),
                    format!("term {v:?} read as {trimmed:?} (edge punctuation dropped; wider)."),
                );
                self.values.insert(v.clone(), trimmed.to_string());
                return Ok(trimmed.to_string());
            }
        }
        Ok(v)
    }

    fn matches(
        &mut self,
        lhs: &Expr,
        kind: &'static str,
        items: &[&Expr],
        cased: bool,
    ) -> Result<Pred, Reject> {
        let field = self.column(lhs)?;
        let mut values = Vec::new();
        for i in items {
            let v = self.value(i, kind)?;
            if !values.contains(&v) {
                values.push(v);
            }
        }
        Ok(Pred::Match {
            field: field.name().to_string(),
            kind,
            values,
            cased,
        })
    }

    fn pred(&mut self, e: &Expr) -> Result<Pred, Reject> {
        Ok(match e {
            Expr::And(a, b) => {
                let mut v = Vec::new();
                for x in [a, b] {
                    match self.pred(x)? {
                        Pred::All(inner) => v.extend(inner),
                        p => v.push(p),
                    }
                }
                Pred::All(v)
            }
            Expr::Or(a, b) => {
                let mut v = Vec::new();
                for x in [a, b] {
                    match self.pred(x)? {
                        Pred::Any(inner) => v.extend(inner),
                        p => v.push(p),
                    }
                }
                Pred::Any(v)
            }
            Expr::Not(x) => Pred::Not(Box::new(self.pred(x)?)),
            Expr::Cmp(op, lhs, rhs) => {
                let (kind, cased, negated) = match *op {
                    CmpOp::EqCi => ("exact", false, false),
                    CmpOp::Eq => ("exact", true, false),
                    CmpOp::NeCi => ("exact", false, true),
                    CmpOp::Ne => ("exact", true, true),
                    CmpOp::Str { op, negated, cs } => {
                        let kind = match op {
                            StrOp::Has => "term",
                            StrOp::Contains => "contains",
                            StrOp::StartsWith => "prefix",
                            StrOp::EndsWith => "suffix",
                            StrOp::HasPrefix | StrOp::HasSuffix => {
                                return Err(self.reject(
                                    self.first_span(e),
                                    format!("`{}` has no spec match kind (a term prefix/suffix is neither `prefix`, `suffix` nor `term`)", op.name()),
                                ))
                            }
                        };
                        (kind, cs, negated)
                    }
                    other => {
                        return Err(self.reject(
                            self.first_span(e),
                            format!("`{other}` compares by order; the spec matches text only"),
                        ))
                    }
                };
                let m = self.matches(lhs, kind, &[rhs.as_ref()], cased)?;
                if negated {
                    Pred::Not(Box::new(m))
                } else {
                    m
                }
            }
            Expr::In {
                lhs,
                items,
                ci,
                negated,
            } => {
                let items: Vec<&Expr> = items.iter().collect();
                let m = self.matches(lhs, "exact", &items, !ci)?;
                if *negated {
                    Pred::Not(Box::new(m))
                } else {
                    m
                }
            }
            Expr::HasAny { lhs, items, all } => {
                let items: Vec<&Expr> = items.iter().collect();
                if *all {
                    let mut v = Vec::new();
                    for i in items {
                        v.push(self.matches(lhs, "term", &[i], false)?);
                    }
                    if v.len() == 1 {
                        v.pop().expect("one")
                    } else {
                        Pred::All(v)
                    }
                } else {
                    self.matches(lhs, "term", &items, false)?
                }
            }
            Expr::Call(f, _) => {
                let why = match f.as_str() {
                    "isempty" | "isnotempty" => "a spec cannot match an empty (or missing) field: spec values are non-empty and `not` of a match would also pass events where the field holds other text",
                    _ => "the spec has no such function",
                };
                return Err(self.reject(self.ident_span(f), format!("`{f}()`: {why}")));
            }
            other => {
                return Err(self.reject(
                    self.first_span(other),
                    format!("`{other}` is not a match the spec can express"),
                ))
            }
        })
    }
}

pub(super) fn pipe_spans(toks: &[Token]) -> Vec<Span> {
    toks.iter()
        .filter(|t| t.tok == Tok::Punct("|"))
        .map(|t| t.span)
        .collect()
}

pub(super) fn name_is(e: &Expr, n: &str) -> bool {
    matches!(e, Expr::Name(x) if x == n)
}

/// Nanoseconds → a spec window (`5d`, `12h`, `30m`).
pub(super) fn window(ns: i128) -> Option<String> {
    const MIN: i128 = 60_000_000_000;
    if ns <= 0 || ns % MIN != 0 {
        return None;
    }
    let m = ns / MIN;
    Some(if m % (24 * 60) == 0 {
        format!("{}d", m / (24 * 60))
    } else if m % 60 == 0 {
        format!("{}h", m / 60)
    } else {
        format!("{m}m")
    })
}

/// Whether the parse stopped at the `|` after a whole `let <name> = <expression>`: that `let`
/// binds a tabular expression (a table piped into operators), which the spec cannot hold.
/// Read from the tokens (the value before the `|` parses as an expression), not from the
/// parser's message.
pub(super) fn tabular_let(text: &str, at: Span) -> bool {
    let Ok(toks) = lex(text) else {
        return false;
    };
    let Some(i) = toks
        .iter()
        .position(|t| (t.span.line, t.span.col) == (at.line, at.col))
    else {
        return false;
    };
    if toks[i].tok != Tok::Punct("|") {
        return false;
    }
    let start = toks[..i]
        .iter()
        .rposition(|t| t.tok == Tok::Punct(";"))
        .map_or(0, |j| j + 1);
    let [Token {
        tok: Tok::Ident(kw),
        ..
    }, Token {
        tok: Tok::Ident(_), ..
    }, eq @ Token {
        tok: Tok::Punct("="),
        ..
    }, ..] = &toks[start..i]
    else {
        return false;
    };
    let value = &text[eq.span.offset + 1..toks[i].span.offset];
    kw == "let" && parser::parse(&format!("T | where {value}")).is_ok()
}

pub(super) fn lift(block: &Block, notes: &mut Vec<Note>) -> Result<Lifted, Reject> {
    let mut text = block.text.clone();
    let mut repairs = Vec::new();
    let start = START;
    let query = loop {
        match parser::parse(&text) {
            Ok(q) => break q,
            Err(e) if tabular_let(&text, e.span) => {
                return Err(Reject(block.at(
                    e.span,
                    format!("the query joins the result of a tabular `let` into its main query ({}): the spec has no joins or sub-queries, so it cannot be imported", e.message),
                )))
            }
            Err(e) => match (repairs.len() < 8).then(|| repair(&mut text, &e, block)).flatten() {
                Some((note, comment)) => {
                    notes.push(note);
                    repairs.push(comment);
                }
                None => {
                    return Err(Reject(
                        block.at(e.span, format!("syntax error: {}", e.message)),
                    ))
                }
            },
        }
    };
    let toks = lex(&text).map_err(|e| Reject(block.at(e.span, e.message)))?;
    let pipes = pipe_spans(&toks);
    let pipe = |i: usize| pipes.get(i).copied().unwrap_or(start);
    // the Sentinel queries read the Defender XDR tables: the default mapping's
    let Some(table) = crate::mappings::default_tables(crate::spec::BackendName::Kql)
        .iter()
        .find(|t| t.name == query.table && t.source == Source::Endpoint)
    else {
        let span = toks
            .iter()
            .find(|t| t.tok == Tok::Ident(query.table.clone()))
            .map_or(start, |t| t.span);
        return Err(Reject(block.at(
            span,
            format!(
                "table `{}` has no spec category in rmmc's mapping",
                query.table
            ),
        )));
    };
    let table_span = toks
        .iter()
        .find(|t| t.tok == Tok::Ident(query.table.clone()))
        .map_or(start, |t| t.span);
    let key = match table.category {
        Category::Network => "netconn",
        Category::Process => "createproc",
        Category::Certificate => "filesig",
        Category::File => "file",
    };
    // the template: two time lets, a `between` filter, one where, the summarize
    let let_span = toks.first().map_or(start, |t| t.span);
    let win = match query.lets.as_slice() {
        [(a, Expr::Call(now1, args1)), (b, Expr::Call(now2, args2))]
            if a == "Time_start"
                && b == "Time_end"
                && now1 == "now"
                && now2 == "now"
                && args2.is_empty() =>
        {
            match args1.as_slice() {
                [Expr::Lit(Lit::Timespan(ns))] => window(-ns),
                _ => None,
            }
        }
        _ => None,
    };
    let Some(win) = win else {
        return Err(Reject(block.at(
            let_span,
            "the query does not start with `let Time_start = now(-<timespan>); let Time_end = now();`, the template this importer reads",
        )));
    };
    let mut lifter = Lifter {
        block,
        table,
        toks,
        renames: BTreeMap::new(),
        values: BTreeMap::new(),
        field_at: BTreeMap::new(),
        binder: bind::check(&query),
        notes: Vec::new(),
        repairs,
    };
    let result = (|| {
        let [Op::Where(between), Op::Where(cond), Op::Summarize { aggs, by }] =
            query.ops.as_slice()
        else {
            let bad = match query.ops.as_slice() {
                [Op::Where(_), Op::Where(_), Op::Summarize { .. }, ..] => 3,
                [Op::Where(_), Op::Where(_), ..] => 2,
                [Op::Where(_), ..] => 1,
                _ => 0,
            };
            return Err(Reject(block.at(
                pipe(bad.min(pipes.len().saturating_sub(1))),
                "the query is not `| where Timestamp between (Time_start..Time_end) | where <predicate> | summarize …`, the template this importer reads",
            )));
        };
        let ok_between = matches!(between, Expr::Between(c, lo, hi)
            if name_is(c, "Timestamp") && name_is(lo, "Time_start") && name_is(hi, "Time_end"));
        if !ok_between {
            return Err(Reject(block.at(
                pipe(0),
                "the first filter is not `where Timestamp between (Time_start..Time_end)`",
            )));
        }
        let ts = |e: &Expr| name_is(e, "Timestamp");
        let ok_aggs = matches!(aggs.as_slice(),
            [(f, Agg::Min(a)), (l, Agg::Max(b)), (r, Agg::MakeSet(c)), (n, Agg::Count)]
            if f == "FirstSeen" && l == "LastSeen" && r == "Report" && n == "Count"
                && ts(a) && ts(b) && name_is(c, "ReportId"));
        if !ok_aggs {
            return Err(Reject(block.at(
                pipe(2),
                "the summarize is not `FirstSeen=min(Timestamp), LastSeen=max(Timestamp), Report=make_set(ReportId), Count=count() by …`, the one the spec's `summarize` output emits",
            )));
        }
        let predicate = lifter.pred(cond)?;
        let mut summarize = Vec::new();
        let mut by_cols = Vec::new();
        for b in by {
            let f = lifter.field(b)?;
            summarize.push(f.name().to_string());
            let col = lifter.renames.get(b).cloned().unwrap_or_else(|| b.clone());
            by_cols.push((f.name().to_string(), col));
        }
        Ok((predicate, summarize, by_cols))
    })();
    notes.append(&mut lifter.notes);
    let (predicate, summarize, by_cols) = result?;
    let tokens = lifter
        .toks
        .iter()
        .map(|t| match &t.tok {
            Tok::Ident(s) => {
                Tok::Ident(lifter.renames.get(s).cloned().unwrap_or_else(|| s.clone()))
            }
            Tok::Str(s) => Tok::Str(lifter.values.get(s).cloned().unwrap_or_else(|| s.clone())),
            other => other.clone(),
        })
        .collect();
    Ok(Lifted {
        key,
        block: block.clone(),
        by_cols,
        table_span,
        on: table.category,
        window: win,
        predicate,
        summarize,
        field_at: lifter.field_at,
        repairs: lifter.repairs,
        tokens,
        query,
        renames: lifter.renames,
        values: lifter.values,
    })
}
