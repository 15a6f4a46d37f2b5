//! Importer for the LOLRMM catalogue (`yaml/*.yaml`, one file per tool): one spec per tool,
//! `lolrmm-<slug>`, with
//! - `netconn` (network): the tool's domains (`domain`: the domain or any sub-domain) and
//!   public addresses (`ip` / `cidr`) from `Artifacts.Network[].Domains`;
//! - `createproc` (process): the tool's image names (`Details.PEMetadata`), distinctive
//!   product / company names, and Windows installation folders (`Details.InstallationPaths`).
//!
//! Every entry that is skipped or changed on the way is a note in the report, at its place
//! in the source when the span index finds it. What is left out for every tool (and why) is
//! said once, in the module docs of the report and here:
//! - `filesig` (certificate): the tool's code-signing signers (`CodeSigning`), except
//!   signers of the OS and of bundled third-party tools; certificate events exist only in
//!   Defender, so the detection is declared unsupported on Sigma, Splunk and Elastic;
//!
//! Left out, with a note per tool:
//! - certificate thumbprints and file hashes under `CodeSigning.certificates`;
//! - `FileHashes`: Authenticode and page hashes are digests of the signed content, not of
//!   the file, so they never equal the SHA-256 an endpoint logs for a process.

use super::draft::{Draft, DraftDetection, Pred};
use super::{io_error, FileReport, Import, Note};
use crate::diag::Diag;
use crate::spec::spans::{SpanIndex, YamlPath};
use crate::spec::values::{CidrValue, Date, DomainValue, IpValue};
use crate::spec::{BackendName, Category};
use serde_yaml::Value;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::IpAddr;
use std::path::Path;

mod detections;
#[cfg(test)]
mod tests;
mod values;

use detections::*;
pub use values::*;

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn list(v: &Value) -> Vec<&Value> {
    match v {
        Value::Sequence(s) => s.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

/// Whitespace runs → one space: LOLRMM's folded descriptions carry line breaks of the
/// source's layout, not paragraphs.
fn one_line(s: &str) -> String {
    let s = demojibake(s);
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Windows-1252's characters for the bytes 0x80–0x9F (`None`: unassigned); every other byte
/// is the Latin-1 character of its value.
const CP1252_HIGH: [Option<char>; 32] = [
    Some('\u{20AC}'),
    None,
    Some('\u{201A}'),
    Some('\u{0192}'),
    Some('\u{201E}'),
    Some('\u{2026}'),
    Some('\u{2020}'),
    Some('\u{2021}'),
    Some('\u{02C6}'),
    Some('\u{2030}'),
    Some('\u{0160}'),
    Some('\u{2039}'),
    Some('\u{0152}'),
    None,
    Some('\u{017D}'),
    None,
    None,
    Some('\u{2018}'),
    Some('\u{2019}'),
    Some('\u{201C}'),
    Some('\u{201D}'),
    Some('\u{2022}'),
    Some('\u{2013}'),
    Some('\u{2014}'),
    Some('\u{02DC}'),
    Some('\u{2122}'),
    Some('\u{0161}'),
    Some('\u{203A}'),
    Some('\u{0153}'),
    None,
    Some('\u{017E}'),
    Some('\u{0178}'),
];

/// UTF-8 text that was once read as Windows-1252 and written back as UTF-8 (the LOLRMM
/// catalogue has some: Parsec's "reimagined â€“ a" is "reimagined – a"), decoded back. Only
/// when the whole text maps to Windows-1252 bytes that are valid UTF-8 and not already ASCII;
/// any other text is returned as it is.
fn demojibake(s: &str) -> std::borrow::Cow<'_, str> {
    if s.is_ascii() {
        return s.into();
    }
    let byte = |c: char| -> Option<u8> {
        match c as u32 {
            n @ (0..=0x7F | 0xA0..=0xFF) => Some(n as u8),
            _ => CP1252_HIGH
                .iter()
                .position(|h| *h == Some(c))
                .map(|i| 0x80 + i as u8),
        }
    };
    let bytes: Option<Vec<u8>> = s.chars().map(byte).collect();
    match bytes.and_then(|b| String::from_utf8(b).ok()) {
        Some(fixed) if fixed != s => fixed.into(),
        _ => s.into(),
    }
}

/// Words of 4+ letters, lowercased: how a product or company is tied to the tool name.
fn words(s: &str) -> BTreeSet<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 4)
        .map(str::to_lowercase)
        .collect()
}

/// A term value: the text with non-alphanumeric ends trimmed (`LogMeIn, Inc.` → `LogMeIn, Inc`).
fn term_value(s: &str) -> String {
    s.trim_matches(|c: char| !c.is_alphanumeric()).to_string()
}

struct Ctx<'a> {
    spans: Option<SpanIndex>,
    text: &'a str,
    notes: Vec<Note>,
}

impl Ctx<'_> {
    fn note(&mut self, path: &YamlPath, message: String) {
        let at = self.spans.as_ref().and_then(|s| s.nearest(path));
        self.notes.push(match at {
            Some(sp) => Note::at(sp.line, sp.col, message),
            None => Note::file(message),
        });
        let _ = self.text;
    }
}

fn p(segs: &[&str]) -> YamlPath {
    let mut y = YamlPath::default();
    for s in segs {
        y = y.key(*s);
    }
    y
}

/// Read the catalogue folder: every `*.yaml` / `*.yml`, sorted by name.
pub fn import(dir: &Path, bar: &indicatif::ProgressBar) -> Result<Import, Diag> {
    let (paths, skipped) =
        crate::input::files_in(dir, |n| n.ends_with(".yaml") || n.ends_with(".yml"))
            .map_err(|e| io_error(dir, "cannot read the LOLRMM folder", e))?;
    let files: Vec<String> = paths
        .iter()
        .filter_map(|p| p.file_name()?.to_str().map(str::to_string))
        .collect();
    bar.set_length(files.len() as u64);
    let mut import = Import::default();
    import.files.extend(super::skipped_reports(dir, skipped));
    let mut used: HashSet<String> = HashSet::new();
    let mut pending = Vec::new();
    for name in &files {
        bar.inc(1);
        let path = dir.join(name);
        let idx = import.files.len();
        let text = match super::read_source(&path) {
            Ok(t) => t,
            Err(e) => {
                let mut r = FileReport::new(name.clone(), "");
                r.rejected = Some(Note::file(format!("cannot read: {e}")));
                import.files.push(r);
                continue;
            }
        };
        let doc: Value = match serde_yaml::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                let mut r = FileReport::new(name.clone(), "");
                let (l, c) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
                r.rejected = Some(Note::at(l, c, format!("not YAML: {e}")));
                import.files.push(r);
                continue;
            }
        };
        let tool = doc
            .get("Name")
            .and_then(text_of)
            .map(|s| s.trim().to_string());
        let Some(tool) = tool.filter(|t| !t.is_empty()) else {
            let mut r = FileReport::new(name.clone(), "");
            r.rejected = Some(Note::file("no `Name`: the tool cannot be named"));
            import.files.push(r);
            continue;
        };
        // the id: the name's slug; a second tool of the same slug takes its file's
        let stem = name.rsplit_once('.').map_or(name.as_str(), |(s, _)| s);
        let mut id = format!("lolrmm-{}", slug(&tool));
        let mut id_note = None;
        if id == "lolrmm-" || used.contains(&id) {
            let first = id.clone();
            id = format!("lolrmm-{}", slug(stem));
            let mut n = 2;
            while id == "lolrmm-" || used.contains(&id) {
                id = format!("lolrmm-{}-{n}", slug(stem));
                n += 1;
            }
            id_note = Some(format!(
                "id `{id}` and vendor `{tool} ({stem})`: `{first}` is taken by another tool of the same name (rule names must differ)"
            ));
        }
        used.insert(id.clone());
        let tool = if id_note.is_some() {
            format!("{tool} ({stem})")
        } else {
            tool
        };
        import.files.push(FileReport::new(name.clone(), id.clone()));
        pending.push((idx, name.clone(), text, doc, tool, id, id_note));
    }
    for (idx, name, text, doc, tool, id, id_note) in pending {
        let mut ctx = Ctx {
            spans: SpanIndex::build(&text).ok(),
            text: &text,
            notes: Vec::new(),
        };
        if let Some(n) = id_note {
            ctx.note(&p(&["Name"]), n);
        }
        let mut draft = lift(&mut ctx, &doc, &name, &tool, &id, idx);
        // values implied by others (verify would report them masked) are dropped, with a note
        if let Some(d) = &mut draft {
            for n in super::drop_masked(d) {
                ctx.notes.push(Note::file(n));
            }
        }
        let r = &mut import.files[idx];
        ctx.notes
            .sort_by(|a, b| (a.line, a.col, &a.message).cmp(&(b.line, b.col, &b.message)));
        ctx.notes.dedup();
        r.notes = ctx.notes;
        match draft {
            Some(d) => import.drafts.push(d),
            None => {
                r.rejected = Some(Note::file(
                    "no usable detection data: no matchable domain, address, image name, Windows installation path or code-signing signer",
                ))
            }
        }
    }
    Ok(import)
}

fn text_of(v: &Value) -> Option<String> {
    text(v)
}

fn date(ctx: &mut Ctx, doc: &Value, key: &str) -> Option<String> {
    let raw = doc.get(key).and_then(text)?;
    let raw = raw.trim().to_string();
    match raw.parse::<Date>() {
        Ok(d) => Some(d.0),
        Err(_) => {
            ctx.note(
                &p(&[key]),
                format!("{key} `{raw}` is not a YYYY-MM-DD date: not kept"),
            );
            None
        }
    }
}

fn lift(
    ctx: &mut Ctx,
    doc: &Value,
    file: &str,
    tool: &str,
    id: &str,
    source: usize,
) -> Option<Draft> {
    let details = doc.get("Details").cloned().unwrap_or(Value::Null);
    let mut detections = Vec::new();
    if let Some(d) = netconn(ctx, doc, source) {
        detections.push(d);
    }
    if let Some(d) = createproc(ctx, doc, &details, tool, source) {
        detections.push(d);
    }
    if let Some(d) = filesig(ctx, doc, source) {
        detections.push(d);
    }
    if let Some(cs) = doc.get("CodeSigning").filter(|v| !v.is_null()) {
        let signers = signer_names(cs);
        let thumbprints = cs
            .get("certificates")
            .map(list)
            .unwrap_or_default()
            .into_iter()
            .filter(|c| c.get("certificate_thumbprint").is_some())
            .count();
        if !signers.is_empty() && thumbprints > 0 {
            ctx.note(
                &p(&["CodeSigning", "certificates"]),
                format!("{thumbprints} certificate thumbprint(s) not imported: the spec matches signers by name (Defender's Signer), not certificates by hash"),
            );
        }
    }
    if doc.get("FileHashes").is_some_and(|v| !v.is_null()) {
        ctx.note(
            &p(&["FileHashes"]),
            "FileHashes not imported: Authenticode and page hashes are digests of the signed content, never the file hash an endpoint logs".into(),
        );
    }
    if detections.is_empty() {
        return None;
    }
    let description = doc
        .get("Description")
        .and_then(text)
        .map(|d| one_line(&d))
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| {
            ctx.note(
                &p(&["Description"]),
                "no description: the tool name is used".into(),
            );
            format!("{tool} (from the LOLRMM catalogue).")
        });
    let mut references = Vec::new();
    if let Some(w) = details
        .get("Website")
        .and_then(text)
        .map(|w| w.trim().to_string())
    {
        if w.starts_with("http://") || w.starts_with("https://") {
            references.push(w);
        } else if !w.is_empty() {
            ctx.note(
                &p(&["Details", "Website"]),
                format!("Website `{w}` is not a URL: not listed"),
            );
        }
    }
    references.push(REPO.to_string());
    let author = doc
        .get("Author")
        .and_then(text)
        .map(|a| one_line(&a))
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| {
            ctx.note(
                &p(&["Author"]),
                "no Author: `LOLRMM contributors` written".into(),
            );
            "LOLRMM contributors".into()
        });
    let date = date(ctx, doc, "Created");
    let mut modified = date_opt(ctx, doc);
    if let (Some(d), Some(m)) = (&date, &modified) {
        if m < d {
            ctx.note(
                &p(&["LastModified"]),
                format!("LastModified {m} is before Created {d}: not kept"),
            );
            modified = None;
        }
    }
    Some(Draft {
        id: id.to_string(),
        vendor: tool.to_string(),
        description,
        references,
        author,
        date,
        modified,
        severity: "medium",
        tactics: vec!["CommandAndControl".into()],
        techniques: vec!["T1219".into()],
        window: "5d".into(),
        comments: vec![
            format!("{tool}: imported from the LOLRMM catalogue, yaml/{file} ({REPO})."),
            "Generated by `rmmc import lolrmm`; copy it into your hand-written rules to change it.".into(),
            "severity, attack (CommandAndControl / T1219) and window are rmmc defaults, not from LOLRMM.".into(),
        ],
        detections,
    })
}

fn date_opt(ctx: &mut Ctx, doc: &Value) -> Option<String> {
    date(ctx, doc, "LastModified")
}
