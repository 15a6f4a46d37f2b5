//! Reading a hunting query's YAML: its metadata and the `query: |` block, repairing invalid YAML where unambiguous.

use super::*;

// ---------------------------------------------------------------------------------------------
// YAML

pub(super) fn read_yaml(text: &str) -> (Meta, Option<Block>, Option<Note>) {
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

pub(super) fn scalar_text(v: &serde_yaml::Value) -> String {
    match v {
        serde_yaml::Value::String(s) => s.clone(),
        serde_yaml::Value::Number(n) => n.to_string(),
        serde_yaml::Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

pub(super) fn list_text(v: &serde_yaml::Value) -> Vec<String> {
    match v {
        serde_yaml::Value::Sequence(items) => items.iter().map(scalar_text).collect(),
        other => split_list(&scalar_text(other)),
    }
}

pub(super) fn split_list(s: &str) -> Vec<String> {
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
pub(super) fn top_value(text: &str, key: &str) -> Option<String> {
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

pub(super) fn top_list(text: &str, key: &str) -> Vec<String> {
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

pub(super) fn indented<'a>(lines: &[&'a str]) -> Vec<&'a str> {
    lines
        .iter()
        .take_while(|l| l.trim().is_empty() || l.starts_with([' ', '\t']))
        .copied()
        .collect()
}

pub(super) fn min_indent(body: &[&str]) -> usize {
    body.iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0)
}

/// The `query: |` block by indentation (as tests/corpus.rs cuts it), with its position.
pub(super) fn query_block(text: &str) -> Option<Block> {
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
