//! Checks of emitted artifacts against the target products' published rule schemas
//! (`rmmc check --artifacts DIR`). They read artifact files, never specs or the IR, so they
//! also catch a hand-edited rule or one produced by another tool.

pub mod sentinel;
pub mod spl;

use crate::diag::{Diag, DiagKind};
use std::path::Path;

/// A query that does not parse, located at the parser's line and column in `text`.
fn syntax_error(
    file: &Path,
    text: &str,
    language: &str,
    e: &crate::eval::syntax::ParseError,
) -> Diag {
    let at = crate::diag::Span::from_line_col(text, e.span.line, e.span.col);
    Diag::error(DiagKind::Syntax, format!("{language} query: {}", e.message)).at(file, Some(at))
}

/// A KQL query file: it parses, and binds against the real table schemas
/// (`backends/kql-schema.json`).
pub fn kql_query(file: &Path, text: &str) -> Vec<Diag> {
    use crate::eval::kql::{bind, parser};
    match parser::parse(text) {
        Err(e) => vec![syntax_error(file, text, "KQL", &e).help("regenerate it with `rmmc build`")],
        Ok(q) => bind::check(&q)
            .into_iter()
            .map(|m| {
                Diag::error(DiagKind::Schema, format!("KQL query: {m}"))
                    .at(file, None)
                    .help("use the table's column names (backends/kql-schema.json)")
            })
            .chain(bind::null_hazards(&q).into_iter().map(|m| {
                Diag::error(DiagKind::Schema, format!("KQL query: {m}")).at(file, None).help(
                    "compare the test with `== true` inside the `not` (null == true is false), as `rmmc build` writes it",
                )
            }))
            .collect(),
    }
}

/// An SPL search (`search`, the text it was read from): it parses, and no `where` stage has a
/// `NOT` over a value that can be null (`spl::null_hazards`). `file_text` is the whole file
/// and `at` the line and column in it where `search` begins (its first line starts at that
/// column; later lines at column 1), so a search inside savedsearches.conf is located in the
/// .conf file.
fn spl_search(file: &Path, file_text: &str, search: &str, at: (usize, usize)) -> Vec<Diag> {
    let locate = |line: usize, col: usize| {
        let (l, c) = (at.0 + line - 1, if line == 1 { at.1 + col } else { col });
        crate::diag::Span::from_line_col(file_text, l, c)
    };
    match crate::eval::spl::parse(search) {
        Err(e) => vec![
            Diag::error(DiagKind::Syntax, format!("SPL search: {}", e.message))
                .at(file, Some(locate(e.span.line, e.span.col)))
                .help("regenerate it with `rmmc build`"),
        ],
        Ok(s) => spl::null_hazards(search, &s.commands)
            .into_iter()
            .map(|h| {
                Diag::error(DiagKind::Schema, format!("SPL search: {}", h.message))
                    .at(file, Some(locate(h.line, h.col)))
                    .help("coalesce every field the `where` reads first (`| eval F=coalesce(F, \"\")`), as `rmmc build` writes it")
            })
            .collect(),
    }
}

/// Every `search` of savedsearches.conf, located in the .conf file: the value starts after
/// `search =` on its key's line.
fn saved_searches(file: &Path, text: &str) -> Vec<Diag> {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut out = Vec::new();
    for stanza in crate::verify::forms::parse_conf(text).stanzas {
        let Some((line, search)) = stanza.keys.get("search") else {
            continue;
        };
        let raw = lines.get(line - 1).copied().unwrap_or("");
        // 0-based column before the value: after the first `=` and the blanks that follow
        let col = raw.find('=').map_or(0, |i| {
            let rest = &raw[i + 1..];
            raw[..i + 1].chars().count()
                + (rest.chars().count() - rest.trim_start().chars().count())
        });
        out.extend(spl_search(file, text, search, (*line, col)));
    }
    out
}

/// Why an EQL query outside rmmc's subset is refused. Elasticsearch runs an EQL filter as
/// Query DSL (x-pack/plugin/eql `planner/QueryTranslator`, ql `ExpressionTranslators`): a test
/// of a field against literals (`==`, `:`, `in`, `like`, `regex`, ranges, `startsWith` /
/// `endsWith` / `stringContains`, `cidrMatch` with literal networks) becomes a term,
/// wildcard, regexp, range or terms query, and `not` of such a query is `must_not`, which keeps
/// a document without the field (or with an address of the other family: a terms query of
/// CIDR blocks is simply false for it). So every `not` rmmc's EQL reader accepts keeps what the
/// spec keeps, and its emitted queries are safe by construction. Anything else runs as a
/// script, and `Nots` turns a `not` over a script into one script ("wrappedQuery instanceof
/// ScriptQuery ? new ScriptQuery(not.source(), not.asScript())"), in which a function of a
/// missing field is null (EQL function reference: "null handling … returns null") and `not`
/// of null is null: the document is dropped. rmmc cannot judge such a query, so it refuses it.
const EQL_SUBSET: &str = "rmmc reads only tests of a field against literals, which Elasticsearch runs as queries (a `not` of them is must_not and keeps events without the field); a function of a function or a comparison of two fields runs as a script, where a missing field is null and `not` drops the event: regenerate it with `rmmc build`";

/// An EQL query file: it parses as rmmc's EQL subset (see `EQL_SUBSET`).
pub fn eql_query(file: &Path, text: &str) -> Vec<Diag> {
    match crate::eval::eql::parse(text) {
        Ok(_) => Vec::new(),
        Err(e) => vec![syntax_error(file, text, "EQL", &e).help(EQL_SUBSET)],
    }
}

/// Every Kibana rule's `query` in rules.ndjson, as `eql_query`; located at the rule's line, the
/// position inside the query in the message (the query is a JSON string there).
fn kibana_queries(file: &Path, text: &str) -> Vec<Diag> {
    let mut out = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue; // verify::forms reports a line that is not a rule
        };
        let Some(q) = v.get("query").and_then(|q| q.as_str()) else {
            continue;
        };
        if let Err(e) = crate::eval::eql::parse(q) {
            out.push(
                Diag::error(
                    DiagKind::Syntax,
                    format!(
                        "Kibana rule {}: EQL query, at {}:{} of the query: {}",
                        v.get("rule_id").and_then(|x| x.as_str()).unwrap_or("?"),
                        e.span.line,
                        e.span.col,
                        e.message
                    ),
                )
                .at(file, Some(crate::diag::Span::from_line_col(text, i + 1, 1)))
                .help(EQL_SUBSET),
            );
        }
    }
    out
}

/// Lint every artifact under `dir` that a checker exists for, and compare every deployable
/// form (Sentinel YAML, savedsearches.conf stanza, Kibana rule) of the rules of `specs` with
/// its twin, as `rmmc verify` does (`verify::forms`). Returns the number of files checked
/// and the diagnostics; an unreadable folder is an I/O error.
pub fn artifacts(dir: &Path, specs: &[crate::ir::IrSpec]) -> Result<(usize, Vec<Diag>), Diag> {
    let files = crate::build::read_artifacts(dir).map_err(|e| {
        Diag::error(DiagKind::Io, format!("cannot read artifacts: {e}"))
            .at(dir, None)
            .help("pass an `rmmc build --out` folder")
    })?;
    let mut checked = 0;
    let mut diags = Vec::new();
    for (rel, text) in &files {
        if rel.starts_with("sentinel/analytic/") && rel.ends_with(".yaml") {
            checked += 1;
            diags.extend(sentinel::analytic_rule(&dir.join(rel), text));
        } else if rel.starts_with("sentinel/") && rel.ends_with(".yaml") {
            checked += 1;
            diags.extend(sentinel::non_ascii(&dir.join(rel), text));
        } else if rel.starts_with("kql/") && rel.ends_with(".kql") {
            checked += 1;
            diags.extend(kql_query(&dir.join(rel), text));
        } else if rel.starts_with("splunk/") && rel.ends_with(".spl") {
            checked += 1;
            diags.extend(spl_search(&dir.join(rel), text, text, (1, 0)));
        } else if rel == crate::verify::forms::SAVEDSEARCHES {
            checked += 1;
            diags.extend(saved_searches(&dir.join(rel), text));
        } else if rel.starts_with("elastic/") && rel.ends_with(".eql") {
            checked += 1;
            diags.extend(eql_query(&dir.join(rel), text));
        } else if rel == "elastic/rules.ndjson" {
            checked += 1;
            diags.extend(kibana_queries(&dir.join(rel), text));
        }
    }
    for e in crate::verify::forms::check(specs, &files) {
        diags.push(
            Diag::error(DiagKind::Semantics, e.message)
                .at(&dir.join(&e.file), None)
                .help("a deployable form must carry its twin's query: regenerate both with `rmmc build`"),
        );
    }
    Ok((checked, diags))
}
