//! Importer for the Azure-Sentinel RMM hunting queries (`RMM/<Tool>/rmm_<Tool>_<kind>.yaml`).
//!
//! Each file's `query: |` block is parsed with rmmc's own KQL parser and lifted, node by node,
//! into a spec predicate over canonical fields (the inverse of `backends/kql.yaml` for the
//! query's table). Only the template the corpus is written in is accepted: the two time-window
//! `let`s, the table, the `Timestamp between` filter, one `where`, and the `summarize` of
//! FirstSeen/LastSeen/Report/Count by columns. Anything else rejects the file with the reason
//! and its place. Repairs (invalid YAML, known syntax slips, misnamed columns) are made only
//! where the meaning is unambiguous, token by token at the place the parser or binder names,
//! and each is reported. Every imported detection is compiled back to KQL and compared with
//! the (repaired) original, token for token, then after normalization.

use super::draft::{Draft, DraftDetection, Pred};
use super::{io_error, FileReport, Import, Note};
use crate::backend::{backend, kql as kqlb, BACKENDS};
use crate::build::{self, BuildOptions, Target};
use crate::diag::{Role, Span};
use crate::eval::kql::ast::{Agg, CmpOp, Expr, Lit, Op, Query, StrOp};
use crate::eval::kql::lexer::{lex, Tok, Token};
use crate::eval::kql::{bind, parser};
use crate::mapping::{table_for, TableMap};
use crate::spec::{attack::Tactic, BackendName, Category, Field, Source};
use std::collections::BTreeMap;
use std::path::Path;

const START: Span = Span {
    line: 1,
    col: 1,
    offset: 0,
};

const AUTHOR: &str = "Azure-Sentinel RMM hunting queries (imported by rmmc)";

/// Round-trip verdicts, as written into `FileReport::round_trip`.
pub const TOKEN_EQUAL: &str = "token-equal";
pub const NORMALIZED_EQUAL: &str = "equal after normalization";
pub const DIFFERS: &str = "differs";

/// What the YAML header gives (from serde_yaml, or recovered line by line).
#[derive(Debug, Default, Clone)]
struct Meta {
    id: String,
    name: String,
    description: String,
    tactics: Vec<String>,
    techniques: Vec<String>,
}

/// The `query: |` block: its text (dedented) and where it sits in the file.
#[derive(Debug, Clone)]
struct Block {
    text: String,
    /// File line (1-based) of the query's first line.
    first_line: usize,
    indent: usize,
    /// The tool folder's Markdown (RMM_AHQ_*.md: the same queries, as the author wrote them
    /// for reading), the evidence for a repair where the query itself is ambiguous.
    readme: String,
}

impl Block {
    /// A position in the query → a `Note` position in the file.
    fn at(&self, span: Span, message: impl Into<String>) -> Note {
        Note::at(
            self.first_line + span.line - 1,
            self.indent + span.col,
            message,
        )
    }
}

/// Why a file is not imported (with the notes made before the decision).
struct Reject(Note);

/// One query lifted into a detection (before the tool's spec is assembled).
#[derive(Debug, Clone)]
struct Lifted {
    key: &'static str,
    on: Category,
    window: String,
    predicate: Pred,
    summarize: Vec<String>,
    block: Block,
    /// The `by` columns: canonical field and KQL column (after renames).
    by_cols: Vec<(String, String)>,
    /// Where the table is named.
    table_span: Span,
    /// Where each canonical field is first used (for notes about it).
    field_at: BTreeMap<String, Span>,
    /// One comment line per repair, for the spec.
    repairs: Vec<String>,
    /// The repaired original's tokens (renames applied), for the round trip.
    tokens: Vec<Tok>,
    /// The repaired original, parsed.
    query: Query,
    /// Column renames and value changes the repairs made (original → repaired).
    renames: BTreeMap<String, String>,
    values: BTreeMap<String, String>,
}

pub fn import(dir: &Path, bar: &indicatif::ProgressBar) -> Result<Import, Diag> {
    let mut tools: Vec<(String, std::path::PathBuf)> = Vec::new();
    let mut import = Import::default();
    let mut skipped = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| io_error(dir, "cannot read the folder", e))? {
        let e = e.map_err(|e| io_error(dir, "cannot read the folder", e))?;
        // a tool folder is a real folder: a symlink could lead anywhere (`/`)
        match e.file_type() {
            Ok(t) if t.is_dir() => {
                tools.push((e.file_name().to_string_lossy().into_owned(), e.path()))
            }
            Ok(t) if t.is_symlink() && e.path().is_dir() => skipped.push(crate::input::Skipped {
                path: e.path(),
                why: "a symlink to a folder, not a tool folder: not read".into(),
            }),
            _ => {}
        }
    }
    tools.sort();
    let mut per_tool = Vec::new();
    let mut total = 0;
    for (name, path) in &tools {
        let yaml = |f: &str| f.ends_with(".yaml") || f.ends_with(".yml");
        let (files, skip) =
            crate::input::files_in(path, |f| yaml(f) || f.ends_with(".md")).unwrap_or_default();
        skipped.extend(skip);
        let (files, mds): (Vec<_>, Vec<_>) = files
            .into_iter()
            .filter_map(|p| p.file_name()?.to_str().map(str::to_string))
            .partition(|f| yaml(f));
        total += files.len();
        per_tool.push((name.clone(), path.clone(), files, mds));
    }
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    import.files.extend(super::skipped_reports(dir, skipped));
    bar.set_length(total as u64);
    for (tool, path, files, mds) in per_tool {
        let id = slug(&tool);
        let mut draft: Option<Draft> = None;
        let readme: String = mds
            .iter()
            .filter_map(|f| super::read_source(&path.join(f)).ok())
            .collect::<Vec<_>>()
            .join("\n");
        let mut lifted_all = Vec::new();
        for f in files {
            bar.inc(1);
            let rel = format!("{tool}/{f}");
            let mut report = FileReport::new(rel.clone(), id.clone());
            let text = match super::read_source(&path.join(&f)) {
                Ok(t) => t,
                Err(e) => {
                    report.rejected = Some(Note::file(format!("cannot read the file: {e}")));
                    import.files.push(report);
                    continue;
                }
            };
            let (meta, mut block, yaml_note) = read_yaml(&text);
            if let Some(b) = &mut block {
                b.readme = readme.clone();
            }
            report.notes.extend(yaml_note);
            let Some(block) = block else {
                report.rejected = Some(Note::file("no `query: |` block"));
                import.files.push(report);
                continue;
            };
            match lift(&block, &mut report.notes) {
                Err(Reject(why)) => report.rejected = Some(why),
                Ok(l) => {
                    let d = draft.get_or_insert_with(|| new_draft(&id, &tool, &meta));
                    for r in urls(&meta.description) {
                        if !d.references.contains(&r) {
                            d.references.push(r);
                        }
                    }
                    let taken = lifted_all
                        .iter()
                        .any(|(k, _, _, _): &(&str, _, _, _)| *k == l.key);
                    if taken {
                        report.rejected = Some(Note::file(format!(
                            "a second `{}` query in the folder: the spec has one detection per key",
                            l.key
                        )));
                    } else {
                        let title = meta
                            .name
                            .rsplit(" - ")
                            .next()
                            .filter(|t| !t.trim().is_empty() && meta.name.contains(" - "))
                            .unwrap_or(l.key)
                            .trim()
                            .to_string();
                        let source = import.files.len();
                        lifted_all.push((l.key, l, (rel, meta.id.clone(), title), source));
                    }
                }
            }
            import.files.push(report);
        }
        let Some(mut draft) = draft else { continue };
        for (_, l, (rel, orig_id, title), source) in lifted_all {
            let mut comments = vec![format!("Imported from {rel} (id {orig_id}).")];
            comments.extend(l.repairs.iter().cloned());
            let det = DraftDetection {
                key: l.key.to_string(),
                title,
                on: l.on,
                comments,
                predicate: l.predicate.clone(),
                summarize: l.summarize.clone(),
                time_filter: true,
                gaps: Vec::new(),
                unsupported: Vec::new(),
                source,
            };
            if draft.window.is_empty() {
                draft.window = l.window.clone();
            }
            // what still fails the build (after the gaps) rejects the file, at the table
            if let Some(det) = settle(&draft, det, &l, &mut import.files[source]) {
                draft.detections.push(det);
            }
        }
        if !draft.detections.is_empty() {
            import.drafts.push(draft);
        }
    }
    for r in &mut import.files {
        r.notes.sort_by_key(|n| (n.line, n.col));
    }
    Ok(import)
}

use crate::diag::Diag;

/// A spec id from a folder name: lowercase, anything outside `[a-z0-9-_]` → `-`, 1–64 chars.
pub fn slug(name: &str) -> String {
    let s: String = name
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if s.is_empty() {
        "tool".into()
    } else {
        s
    }
}

fn new_draft(id: &str, tool: &str, meta: &Meta) -> Draft {
    // "Remote Management and Monitoring tool - AnyDesk - Network Connection" → "AnyDesk"
    let parts: Vec<&str> = meta.name.split(" - ").map(str::trim).collect();
    let vendor = if parts.len() >= 3 && !parts[1].is_empty() {
        parts[1..parts.len() - 1].join(" - ")
    } else {
        tool.to_string()
    };
    let tactics = meta
        .tactics
        .iter()
        .filter(|t| serde_yaml::from_str::<Tactic>(t).is_ok())
        .cloned()
        .collect();
    let techniques = meta
        .techniques
        .iter()
        .filter(|t| crate::spec::attack::tactics_of(t).is_some())
        .cloned()
        .collect();
    let description = if meta.description.trim().is_empty() {
        format!("{vendor}: Sentinel RMM hunting queries.")
    } else {
        meta.description.trim_end().to_string()
    };
    Draft {
        id: id.to_string(),
        vendor,
        description,
        references: Vec::new(),
        author: AUTHOR.into(),
        date: None,
        modified: None,
        severity: "medium",
        tactics,
        techniques,
        window: String::new(),
        comments: vec![
            format!("Imported by `rmmc import sentinel` from the Azure-Sentinel RMM hunting queries (RMM/{tool}/)."),
            "Severity: hunting queries carry none; `medium` is the importer's default, not the source's.".into(),
        ],
        detections: Vec::new(),
    }
}

/// URLs in a text, in order, without trailing punctuation.
fn urls(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in text.split_whitespace() {
        if w.starts_with("https://") || w.starts_with("http://") {
            let u = w.trim_end_matches(['.', ',', ')', ';', '>', '"', '\'']);
            if !out.iter().any(|x| x == u) {
                out.push(u.to_string());
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// YAML

fn read_yaml(text: &str) -> (Meta, Option<Block>, Option<Note>) {
    let block = query_block(text);
    match serde_yaml::from_str::<serde_yaml::Value>(text) {
        Ok(v) => {
            let s = |k: &str| v.get(k).map(scalar_text).unwrap_or_default();
            let l = |k: &str| v.get(k).map(list_text).unwrap_or_default();
            let meta = Meta {
                id: s("id"),
                name: s("name"),
                description: s("description"),
                tactics: l("tactics"),
                techniques: l("relevantTechniques"),
            };
            (meta, block, None)
        }
        Err(e) => {
            let (line, col) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            let msg = e.to_string();
            let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
            let meta = Meta {
                id: top_value(text, "id").unwrap_or_default(),
                name: top_value(text, "name").unwrap_or_default(),
                description: top_value(text, "description").unwrap_or_default(),
                tactics: top_list(text, "tactics"),
                techniques: top_list(text, "relevantTechniques"),
            };
            let mut got: Vec<&str> = Vec::new();
            for (k, ok) in [
                ("id", !meta.id.is_empty()),
                ("name", !meta.name.is_empty()),
                ("description", !meta.description.is_empty()),
                ("tactics", !meta.tactics.is_empty()),
                ("relevantTechniques", !meta.techniques.is_empty()),
                ("the query block", block.is_some()),
            ] {
                if ok {
                    got.push(k);
                }
            }
            let note = Note::at(
                line,
                col,
                format!(
                    "the file is not valid YAML ({msg}); recovered line by line: {}",
                    got.join(", ")
                ),
            );
            (meta, block, Some(note))
        }
    }
}

fn scalar_text(v: &serde_yaml::Value) -> String {
    match v {
        serde_yaml::Value::String(s) => s.clone(),
        serde_yaml::Value::Number(n) => n.to_string(),
        serde_yaml::Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

fn list_text(v: &serde_yaml::Value) -> Vec<String> {
    match v {
        serde_yaml::Value::Sequence(items) => items.iter().map(scalar_text).collect(),
        other => split_list(&scalar_text(other)),
    }
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(|x| {
            x.trim()
                .trim_matches(['[', ']', '\'', '"'])
                .trim()
                .to_string()
        })
        .filter(|x| !x.is_empty())
        .collect()
}

/// The lines of a top-level key's block value (`key: |`), dedented; or its inline value.
fn top_value(text: &str, key: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.strip_prefix(key).is_some_and(|r| r.starts_with(':')))?;
    let inline = lines[at][key.len() + 1..].trim();
    if !inline.is_empty() && !inline.starts_with(['|', '>']) {
        return Some(inline.trim_matches(['\'', '"']).to_string());
    }
    let body = indented(&lines[at + 1..]);
    let indent = min_indent(&body);
    let text: Vec<&str> = body.iter().map(|l| l.get(indent..).unwrap_or("")).collect();
    Some(format!("{}\n", text.join("\n").trim_end()))
}

fn top_list(text: &str, key: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let Some(at) = lines
        .iter()
        .position(|l| l.strip_prefix(key).is_some_and(|r| r.starts_with(':')))
    else {
        return Vec::new();
    };
    let inline = lines[at][key.len() + 1..].trim();
    if !inline.is_empty() {
        return split_list(inline);
    }
    indented(&lines[at + 1..])
        .iter()
        .filter_map(|l| l.trim().strip_prefix("- "))
        .map(|x| x.trim().trim_matches(['\'', '"']).to_string())
        .collect()
}

fn indented<'a>(lines: &[&'a str]) -> Vec<&'a str> {
    lines
        .iter()
        .take_while(|l| l.trim().is_empty() || l.starts_with([' ', '\t']))
        .copied()
        .collect()
}

fn min_indent(body: &[&str]) -> usize {
    body.iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0)
}

/// The `query: |` block by indentation (as tests/corpus.rs cuts it), with its position.
fn query_block(text: &str) -> Option<Block> {
    let lines: Vec<&str> = text.lines().collect();
    let at = lines.iter().position(|l| {
        let t = l.trim_end();
        t == "query: |" || t == "query: |-" || t == "query: >"
    })?;
    let body = indented(&lines[at + 1..]);
    let indent = min_indent(&body);
    let q: Vec<&str> = body.iter().map(|l| l.get(indent..).unwrap_or("")).collect();
    let text = format!("{}\n", q.join("\n").trim_end());
    if text.trim().is_empty() {
        return None;
    }
    Some(Block {
        text,
        first_line: at + 2,
        indent,
        readme: String::new(),
    })
}

// ---------------------------------------------------------------------------------------------
// Lifting

/// The length in bytes of a token's source text, for the few tokens repairs remove.
fn token_len(t: &Token) -> usize {
    match &t.tok {
        Tok::Ident(s) | Tok::Number(s) => s.len(),
        Tok::Punct(p) => p.len(),
        Tok::Str(_) => 0,
    }
}

/// Blank a token out of the text (spaces, so every other position stays where it was).
fn blank(text: &mut String, t: &Token) {
    let end = t.span.offset + token_len(t);
    text.replace_range(t.span.offset..end, &" ".repeat(end - t.span.offset));
}

/// The one repair both known slips make: blank token `t` out, with the note at it and the spec
/// comment `Repair (line N): <what>`.
fn blank_repair(
    text: &mut String,
    t: &Token,
    block: &Block,
    msg: String,
    what: &str,
) -> (Note, String) {
    let note = block.at(t.span, msg);
    blank(text, t);
    let comment = format!("Repair (line {}): {what}", note.line);
    (note, comment)
}

/// Repair the syntax error the parser reported, at its position, if it is one of the known,
/// unambiguous slips. Returns the note (and the spec comment) on success.
fn repair(text: &mut String, e: &parser::ParseError, block: &Block) -> Option<(Note, String)> {
    let toks = lex(text).ok()?;
    let i = toks.iter().position(|t| t.span.offset == e.span.offset)?;
    let prev = toks.get(i.checked_sub(1)?)?;
    match (&prev.tok, &toks[i].tok) {
        (Tok::Punct(","), Tok::Punct(")")) => {
            // the list the comma ends: the operator before its `(`
            let mut depth = 0usize;
            let mut op = String::from("value");
            for j in (0..i).rev() {
                match &toks[j].tok {
                    Tok::Punct(")") => depth += 1,
                    Tok::Punct("(") if depth == 0 => {
                        if let Some(Token {
                            tok: Tok::Ident(w), ..
                        }) = j.checked_sub(1).and_then(|k| toks.get(k))
                        {
                            op = format!("`{w} (...)`");
                        }
                        break;
                    }
                    Tok::Punct("(") => depth -= 1,
                    _ => {}
                }
            }
            let msg = format!(
                "syntax error ({}): a trailing comma ends the {op} list (Kusto: \"Missing expression\"); dropped it",
                e.message
            );
            Some(blank_repair(
                text,
                prev,
                block,
                msg,
                &format!("dropped the trailing comma in the {op} list."),
            ))
        }
        (Tok::Ident(a), Tok::Ident(b))
            if a != b
                && ["has_all", "has_any"].contains(&a.as_str())
                && ["has_all", "has_any"].contains(&b.as_str()) =>
        {
            // only with evidence: the tool's README writes this column with the second one
            let col = match i.checked_sub(2).map(|k| &toks[k].tok) {
                Some(Tok::Ident(c)) => c.clone(),
                _ => return None,
            };
            let written = format!("{col} {b} (");
            if !block.readme.contains(&written) {
                return None;
            }
            let msg = format!(
                "syntax error ({}): `{a} {b} (` names two list operators (Kusto: \"Expected: (\"); read as `{b}`: it is the operator written next to the list, and the tool's README (RMM_AHQ_*.md in the same folder) writes this query with `{written}...)`",
                e.message
            );
            Some(blank_repair(
                text,
                prev,
                block,
                msg,
                &format!("`{a} {b} (` read as `{b} (`, as the tool's README writes it."),
            ))
        }
        _ => None,
    }
}

struct Lifter<'a> {
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

fn pipe_spans(toks: &[Token]) -> Vec<Span> {
    toks.iter()
        .filter(|t| t.tok == Tok::Punct("|"))
        .map(|t| t.span)
        .collect()
}

fn name_is(e: &Expr, n: &str) -> bool {
    matches!(e, Expr::Name(x) if x == n)
}

/// Nanoseconds → a spec window (`5d`, `12h`, `30m`).
fn window(ns: i128) -> Option<String> {
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
fn tabular_let(text: &str, at: Span) -> bool {
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

fn lift(block: &Block, notes: &mut Vec<Note>) -> Result<Lifted, Reject> {
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
    let Some(table) = kqlb::data()
        .tables
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

// ---------------------------------------------------------------------------------------------
// Gaps and the round trip

/// What the backends say about one lifted detection, compiled as it stands.
fn compile(draft: &Draft, det: &DraftDetection) -> Option<build::BuildResult> {
    let mut d = draft.clone();
    d.detections = vec![det.clone()];
    let name = format!("{}.yaml", d.id);
    let loaded = crate::spec::load_str(Path::new(&name), &d.render("2000-01-01")).ok()?;
    Some(build::compile(
        std::slice::from_ref(&loaded),
        &BuildOptions {
            targets: Target::ALL.to_vec(),
            exclusions: false,
        },
    ))
}

/// Settle a lifted detection with the backends, reading what they report (typed, see
/// `diag::Cause`), never their messages:
/// 1. compiled as lifted, each backend names the fields its table lacks, in a match or in the
///    grouping: each such backend gets `gaps: {backend: reason}` naming them (`gap_reasons`);
/// 2. compiled with those gaps, a grouping column a backend still cannot build without is
///    dropped from the summarize (`drop_unbuildable_outputs`);
/// 3. a backend that builds nothing for the detection (no such events; nothing of the
///    predicate left) is declared `unsupported` instead (`mark_unsupported`);
/// 4. whatever still fails the build rejects the file; else the detection is compiled back to
///    KQL and compared with the original (`round_trip`).
///
/// A compile is repeated only when a step changed the detection. `None`: rejected.
fn settle(
    draft: &Draft,
    mut det: DraftDetection,
    l: &Lifted,
    report: &mut FileReport,
) -> Option<DraftDetection> {
    let Some(res) = compile(draft, &det) else {
        return Some(det);
    };
    let lacking = lacking(&res, &det);
    det.gaps = gap_reasons(&lacking, &det, l);
    // the gap notes go where they were found, once it is known which gaps stay
    let notes_at = report.notes.len();
    let gap_notes = gap_notes(&lacking, &det, l);
    let keep_gap_notes = |det: &DraftDetection, report: &mut FileReport| {
        let kept = gap_notes
            .iter()
            .filter(|(b, _)| det.gaps.iter().any(|g| g.0 == *b))
            .map(|(_, n)| n.clone());
        report.notes.splice(notes_at..notes_at, kept);
    };
    let recompile = |det: &DraftDetection, changed: bool, res: build::BuildResult| {
        if changed {
            compile(draft, det)
        } else {
            Some(res)
        }
    };
    let Some(res) = recompile(&det, !det.gaps.is_empty(), res) else {
        return Some(det);
    };
    let dropped = drop_unbuildable_outputs(&res, &mut det, l, report);
    let Some(res) = recompile(&det, dropped, res) else {
        keep_gap_notes(&det, report);
        return Some(det);
    };
    let marked = mark_unsupported(&res, &mut det, l, report);
    let Some(res) = recompile(&det, marked, res) else {
        keep_gap_notes(&det, report);
        return Some(det);
    };
    let mut errors: Vec<&str> = Vec::new();
    for d in res.diags.iter().filter(|d| d.is_error()) {
        if !errors.contains(&d.detail()) {
            errors.push(d.detail());
        }
    }
    if !errors.is_empty() {
        report.rejected = Some(l.block.at(
            l.table_span,
            format!(
                "the lifted detection cannot be built: {}",
                errors.join("; ")
            ),
        ));
        return None;
    }
    keep_gap_notes(&det, report);
    round_trip(&res, draft, &det, l, report);
    Some(det)
}

/// The backends whose detection cannot be built as it stands: no table for it, nothing of the
/// predicate expressible, or a match it cannot express and no gap declared.
fn unbuildable(res: &build::BuildResult) -> Vec<BackendName> {
    res.diags
        .iter()
        .filter(|d| d.is_error())
        .filter_map(|d| {
            d.unbuildable().map(|u| u.backend).or_else(|| {
                d.gaps()
                    .iter()
                    .find(|g| g.role == Role::Match)
                    .map(|g| g.backend)
            })
        })
        .collect()
}

/// A backend that cannot build this detection at all — it has no such events (certificates
/// outside Defender), or nothing of the predicate survives there (only PE metadata, on
/// Sysmon network events) — gets `unsupported: {backend: reason}` instead of failing the
/// import; a gap cannot help, since there is nothing to widen. Each is a note on the file.
fn mark_unsupported(
    res: &build::BuildResult,
    det: &mut DraftDetection,
    l: &Lifted,
    report: &mut FileReport,
) -> bool {
    let mut marked = false;
    for b in BACKENDS {
        let Some(why) = res
            .diags
            .iter()
            .filter(|d| d.is_error())
            .find_map(|d| d.unbuildable().filter(|u| u.backend == b.name))
        else {
            continue;
        };
        let reason = why.to_string();
        det.gaps.retain(|(g, _)| *g != b.name);
        report.notes.push(l.block.at(
            l.table_span,
            format!("declared unsupported on {}: {reason}", b.name.name()),
        ));
        det.unsupported.push((b.name, reason));
        marked = true;
    }
    marked
}

/// A `summarize` column some backend's table lacks makes the whole detection unbuildable
/// there (an output column cannot be dropped soundly like a match under a gap). Such columns
/// are dropped from the grouping, as the shipped seeds drop `AccountUpn`, each with a note.
/// Only backends that could otherwise build the detection count.
fn drop_unbuildable_outputs(
    res: &build::BuildResult,
    det: &mut DraftDetection,
    l: &Lifted,
    report: &mut FileReport,
) -> bool {
    let unbuildable = unbuildable(res);
    let mut lacking: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for d in res.diags.iter().filter(|d| d.is_error()) {
        for g in d.gaps() {
            let field = g.field.name();
            if g.role != Role::Output
                || unbuildable.contains(&g.backend)
                || !det.summarize.iter().any(|f| f == field)
            {
                continue;
            }
            let t = lacking.entry(field.to_string()).or_default();
            if !t.contains(&g.table) {
                t.push(g.table.clone());
            }
        }
    }
    let changed = !lacking.is_empty();
    for (field, tables) in lacking {
        det.summarize.retain(|f| *f != field);
        let span = l.field_at.get(&field).copied().unwrap_or(START);
        let n = l.block.at(
            span,
            format!(
                "`{field}` is dropped from the summarize: {} have no such field, so grouping by it cannot be built there (a grouping column cannot be left out soundly like a match under a gap); the shipped seeds drop it too, and the KQL query groups by the other columns",
                tables.join(", ")
            ),
        );
        det.comments.push(format!(
            "Repair (line {}): `{field}` dropped from the summarize (not in {}).",
            n.line,
            tables.join(", ")
        ));
        report.notes.push(n);
    }
    changed
}

fn pred_fields(p: &Pred) -> Vec<String> {
    match p {
        Pred::All(v) | Pred::Any(v) => v.iter().flat_map(pred_fields).collect(),
        Pred::Not(x) => pred_fields(x),
        Pred::Match { field, .. } => vec![field.clone()],
    }
}

/// The events a backend's table holds, in words.
fn event_words(backend: BackendName, on: Category, table: Option<&str>) -> String {
    let (what, eid) = match on {
        Category::Network => ("network connection", 3),
        Category::Process => ("process creation", 1),
        Category::File => ("file", 11),
        Category::Certificate => ("certificate", 0),
    };
    match (backend, eid) {
        (BackendName::Sigma, n) if n > 0 => format!("Sysmon {what} events (EID {n})"),
        (BackendName::Splunk, n) if n > 0 => format!("Sysmon {what} events (EventCode {n})"),
        (BackendName::Elastic, _) => format!("ECS {what} events ({})", table.unwrap_or("?")),
        _ => format!("{} {what} events", table.unwrap_or("the")),
    }
}

fn field_words(field: &str) -> String {
    let base = field
        .strip_prefix("initiating_")
        .or_else(|| field.strip_prefix("process_"))
        .unwrap_or(field);
    let w = match base {
        "company" => "PE company",
        "product" => "PE product",
        "description" => "PE file description",
        "upn" | "account_upn" => "account UPN",
        _ => return field.to_string(),
    };
    format!("{w} ({field})")
}

/// Per backend: the fields of the predicate its table lacks, and the grouping fields it lacks.
type Lacking = BTreeMap<BackendName, (Vec<String>, Vec<String>)>;

/// What each backend reports its table lacks for the detection (compiled without gaps: each
/// backend reports every part it cannot build).
fn lacking(res: &build::BuildResult, det: &DraftDetection) -> Lacking {
    let mut lacking = Lacking::new();
    for d in &res.diags {
        let gaps = d.gaps();
        if d.is_error() && gaps.iter().any(|g| g.role == Role::Match) {
            // a match it cannot express: every field of the predicate its table lacks (the
            // matches it dropped, and any other the predicate has on such a field)
            let b = gaps[0].backend;
            let Some(table) = table_for((backend(b).tables)(), det.on, Source::Endpoint) else {
                continue;
            };
            let entry = &mut lacking.entry(b).or_default().0;
            for f in pred_fields(&det.predicate) {
                let lacks = Field::lookup(&f).is_some_and(|x| table.column(x).is_none());
                if lacks && !entry.contains(&f) {
                    entry.push(f);
                }
            }
            continue;
        }
        // a grouping column it lacks: an error, or a warning where a gap lets it group without
        for g in gaps.iter().filter(|g| g.role == Role::Output) {
            let f = g.field.name();
            if det.summarize.iter().any(|x| x == f) {
                let entry = &mut lacking.entry(g.backend).or_default().1;
                if !entry.iter().any(|x| x == f) {
                    entry.push(f.to_string());
                }
            }
        }
    }
    lacking
}

/// Declare exactly the gaps the backends ask for: a backend whose table lacks a field of a
/// match or of the grouping gets `gaps: {backend: reason}` naming each field and the events.
fn gap_reasons(lacking: &Lacking, det: &DraftDetection, l: &Lifted) -> Vec<(BackendName, String)> {
    let mut out = Vec::new();
    for (b, (matched, grouped)) in lacking {
        let reg = backend(*b);
        let mut matched = matched.clone();
        matched.sort_by_key(|f| l.field_at.get(f).map(|s| s.offset));
        let table = table_for((reg.tables)(), det.on, Source::Endpoint);
        let all: Vec<String> = matched
            .iter()
            .chain(grouped)
            .map(|f| field_words(f))
            .collect();
        let mut without = Vec::new();
        if !matched.is_empty() {
            without.push(format!("matches without {}", matched.join(", ")));
        }
        if !grouped.is_empty() {
            without.push(format!("groups its results without {}", grouped.join(", ")));
        }
        let reason = format!(
            "{} carry no {}; the {} rule {}",
            event_words(*b, det.on, table.map(|t| t.name.as_str())),
            match all.split_last() {
                Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
                _ => all.join(""),
            },
            reg.title,
            without.join(" and ")
        );
        out.push((*b, reason));
    }
    out
}

/// A note per declared gap, where its first field is used.
fn gap_notes(lacking: &Lacking, det: &DraftDetection, l: &Lifted) -> Vec<(BackendName, Note)> {
    lacking
        .iter()
        .map(|(b, (matched, grouped))| {
            let span = matched
                .iter()
                .chain(grouped)
                .map(|f| l.field_at.get(f).copied().unwrap_or(START))
                .min_by_key(|s| s.offset)
                .unwrap_or(START);
            let reason = &det.gaps.iter().find(|g| g.0 == *b).expect("declared").1;
            let note = l
                .block
                .at(span, format!("gap declared for {}: {reason}", b.name()));
            (*b, note)
        })
        .collect()
}

fn toks_of(text: &str) -> Option<Vec<Tok>> {
    Some(lex(text).ok()?.into_iter().map(|t| t.tok).collect())
}

/// Compare the detection compiled back to KQL (in `res`) with the repaired original.
fn round_trip(
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
fn rename_query(q: &mut Query, l: &Lifted) {
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
    }
}

fn chain(e: &Expr, and: bool, out: &mut Vec<Expr>) {
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

fn rebuild(mut v: Vec<Expr>, and: bool) -> Expr {
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

fn sorted(items: &[Expr]) -> Vec<Expr> {
    let mut v: Vec<Expr> = items.iter().map(norm).collect();
    v.sort_by_key(|e| e.to_string());
    v.dedup();
    v
}

fn norm(e: &Expr) -> Expr {
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
fn short_diff(a: &str, b: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Lift a one-`where` query on `table` (the corpus template around `cond`).
    fn lift_where(table: &str, cond: &str) -> Result<(Pred, Vec<Note>), String> {
        let text = format!(
            "let Time_start = now(-5d);\nlet Time_end = now();\n//\n{table}\n| where Timestamp between (Time_start..Time_end)\n| where {cond}\n| summarize FirstSeen=min(Timestamp), LastSeen=max(Timestamp),\n    Report=make_set(ReportId), Count=count() by DeviceId, DeviceName\n"
        );
        let block = Block {
            text,
            first_line: 10,
            indent: 2,
            readme: String::new(),
        };
        let mut notes = Vec::new();
        match lift(&block, &mut notes) {
            Ok(l) => Ok((l.predicate, notes)),
            Err(Reject(n)) => Err(format!("{}:{}: {}", n.line, n.col, n.message)),
        }
    }

    fn m(field: &str, kind: &'static str, values: &[&str], cased: bool) -> Pred {
        Pred::Match {
            field: field.into(),
            kind,
            values: values.iter().map(|s| s.to_string()).collect(),
            cased,
        }
    }

    const NET: &str = "DeviceNetworkEvents";

    /// A tabular `let` is told from the tokens, not from the parser's message: the parse
    /// stopped at the `|` after a whole `let` value. A `|` where the value is unfinished, or
    /// outside a `let`, is another syntax error.
    #[test]
    fn a_tabular_let_is_read_from_the_tokens() {
        let tabular = |q: &str| tabular_let(q, parser::parse(q).unwrap_err().span);
        assert!(tabular(
            "let rmm = DeviceFileEvents | where FileName has 'x';\nDeviceNetworkEvents\n| where RemoteUrl has 'a'\n"
        ));
        assert!(!tabular("let n = 1 + | where x;\nT\n"));
        assert!(!tabular(
            "DeviceNetworkEvents\n| where RemoteUrl has\n| where x\n"
        ));
    }

    #[test]
    fn has_all_is_all_of_terms_and_has_any_one_list() {
        let (p, _) = lift_where(NET, "RemoteUrl has_all ('a.com', 'b.com')").unwrap();
        assert_eq!(
            p,
            Pred::All(vec![
                m("remote_domain", "term", &["a.com"], false),
                m("remote_domain", "term", &["b.com"], false)
            ])
        );
        let (p, _) = lift_where(NET, "RemoteUrl has_any ('a.com', 'b.com')").unwrap();
        assert_eq!(p, m("remote_domain", "term", &["a.com", "b.com"], false));
    }

    #[test]
    fn equality_operators_keep_their_case_rule() {
        let (p, _) = lift_where(NET, "InitiatingProcessFileName == 'X.exe'").unwrap();
        assert_eq!(p, m("initiating_process_name", "exact", &["X.exe"], true));
        let (p, _) = lift_where(NET, "InitiatingProcessFileName =~ 'X.exe'").unwrap();
        assert_eq!(p, m("initiating_process_name", "exact", &["X.exe"], false));
        let (p, _) = lift_where(NET, "InitiatingProcessFileName in~ ('a', 'b')").unwrap();
        assert_eq!(p, m("initiating_process_name", "exact", &["a", "b"], false));
        let (p, _) = lift_where(NET, "InitiatingProcessFileName in ('a')").unwrap();
        assert_eq!(p, m("initiating_process_name", "exact", &["a"], true));
        let (p, _) = lift_where(NET, "InitiatingProcessFileName != 'a'").unwrap();
        assert_eq!(
            p,
            Pred::Not(Box::new(m(
                "initiating_process_name",
                "exact",
                &["a"],
                true
            )))
        );
        let (p, _) = lift_where(NET, "InitiatingProcessFileName has_cs 'Ab'").unwrap();
        assert_eq!(p, m("initiating_process_name", "term", &["Ab"], true));
    }

    #[test]
    fn substring_operators() {
        for (op, kind) in [
            ("startswith", "prefix"),
            ("endswith", "suffix"),
            ("contains", "contains"),
        ] {
            let (p, _) = lift_where(NET, &format!("InitiatingProcessFileName {op} 'ab'")).unwrap();
            assert_eq!(
                p,
                m("initiating_process_name", kind, &["ab"], false),
                "{op}"
            );
        }
    }

    #[test]
    fn nested_and_or_flatten_only_same_kind_and_not_wraps() {
        let (p, _) = lift_where(
            NET,
            "RemoteUrl has 'a' and (RemoteUrl has 'b' and (InitiatingProcessFileName has 'c' or (InitiatingProcessFileName has 'd' or not(RemoteUrl has 'e'))))",
        )
        .unwrap();
        assert_eq!(
            p,
            Pred::All(vec![
                m("remote_domain", "term", &["a"], false),
                m("remote_domain", "term", &["b"], false),
                Pred::Any(vec![
                    m("initiating_process_name", "term", &["c"], false),
                    m("initiating_process_name", "term", &["d"], false),
                    Pred::Not(Box::new(m("remote_domain", "term", &["e"], false))),
                ]),
            ])
        );
    }

    #[test]
    fn unsupported_constructs_reject_at_their_place() {
        // line 6 of the query is file line 15; the `where` is at col 1, indent 2
        let e = lift_where(NET, "isempty(RemoteUrl)").unwrap_err();
        assert!(e.starts_with("15:11: `isempty()`"), "{e}");
        let e = lift_where(NET, "RemotePort > 5").unwrap_err();
        assert!(e.contains("compares by order"), "{e}");
        let e = lift_where(NET, "RemoteUrl hasprefix 'a'").unwrap_err();
        assert!(e.contains("no spec match kind"), "{e}");
        let e = lift_where(NET, "NoSuchColumn has 'a'").unwrap_err();
        assert!(e.contains("`NoSuchColumn` is not a column"), "{e}");
    }

    #[test]
    fn trailing_comma_is_repaired_at_the_comma() {
        let (p, notes) = lift_where(NET, "RemoteUrl has_any ('a.com', 'b.com', )").unwrap();
        assert_eq!(p, m("remote_domain", "term", &["a.com", "b.com"], false));
        assert_eq!(notes.len(), 1);
        // `| where RemoteUrl has_any ('a.com', 'b.com', )`: the comma is char 44, + indent 2
        assert_eq!((notes[0].line, notes[0].col), (15, 46), "{notes:?}");
        assert!(notes[0].message.contains("trailing comma"));
    }

    #[test]
    fn doubled_list_operator_needs_the_readme() {
        let e = lift_where(NET, "RemoteUrl has_all has_any ('a', 'b')").unwrap_err();
        assert!(e.contains("syntax error"), "{e}");
    }

    #[test]
    fn case_slips_in_column_names_are_repaired_when_unique() {
        let (p, notes) = lift_where(NET, "remoteurl has 'a'").unwrap();
        assert_eq!(p, m("remote_domain", "term", &["a"], false));
        assert!(
            notes[0].message.contains("read as `RemoteUrl`"),
            "{notes:?}"
        );
    }

    #[test]
    fn terms_with_edge_punctuation_are_widened_with_a_note() {
        let (p, notes) = lift_where(NET, "RemoteUrl has 'Servably, Inc.'").unwrap();
        assert_eq!(p, m("remote_domain", "term", &["Servably, Inc"], false));
        assert!(notes[0].message.contains("wider"), "{notes:?}");
    }

    #[test]
    fn normalization_ignores_parens_order_and_list_shape_only() {
        let q = |w: &str| normalize(&parser::parse(&format!("T | where {w}")).unwrap());
        assert_eq!(
            q("(a has 'x' or b has 'y') or c in~ ('z')"),
            q("c =~ 'z' or (b has 'y' or a has 'x')")
        );
        assert_eq!(q("a has_all ('x', 'y')"), q("a has 'y' and a has 'x'"));
        assert_eq!(q("a has_any ('x', 'y')"), q("a has_any ('y', 'x')"));
        assert_ne!(q("a has 'x' and b has 'y'"), q("a has 'x' or b has 'y'"));
        assert_ne!(q("a == 'x'"), q("a =~ 'x'"));
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("BlueTrait.io"), "bluetrait-io");
        assert_eq!(slug("MSP360_CloudBerry"), "msp360_cloudberry");
        assert_eq!(slug("parsec.app"), "parsec-app");
    }
}
