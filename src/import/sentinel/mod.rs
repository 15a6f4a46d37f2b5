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
use crate::backend::{backend, BACKENDS};
use crate::build::{self, BuildOptions, Target};
use crate::diag::{Role, Span};
use crate::eval::kql::ast::{Agg, CmpOp, Expr, Lit, Op, Query, StrOp};
use crate::eval::kql::lexer::{lex, Tok, Token};
use crate::eval::kql::{bind, parser};
use crate::mapping::{table_for, TableMap};
use crate::spec::{attack::Tactic, BackendName, Category, Field, Source};
use std::collections::BTreeMap;
use std::path::Path;

mod gaps;
mod lift;
mod repair;
mod roundtrip;
#[cfg(test)]
mod tests;
mod yaml;

use gaps::settle;
use lift::lift;
use repair::repair;
use roundtrip::round_trip;
use yaml::read_yaml;

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
