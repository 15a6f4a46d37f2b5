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

const REPO: &str = "https://github.com/magicsword-io/LOLRMM";

/// Domains shared by many unrelated services (cloud hosting, CDNs, code hosting, big
/// platforms): a rule on them would match half the internet. Matched exactly (after
/// normalization); a tool's own sub-domain of them (`x.cdn.cloudflare.net`) is kept.
const SHARED_DOMAINS: &[&str] = &[
    "akamaiedge.net",
    "akamaihd.net",
    "amazon.com",
    "amazonaws.com",
    "apple.com",
    "azure.com",
    "azureedge.net",
    "azurewebsites.net",
    "blob.core.windows.net",
    "cloudflare.com",
    "cloudflare.net",
    "cloudflarestorage.com",
    "cloudfront.net",
    "core.windows.net",
    "dropbox.com",
    "github.com",
    "githubusercontent.com",
    "raw.githubusercontent.com",
    "google.com",
    "googleapis.com",
    "gstatic.com",
    "live.com",
    "microsoft.com",
    "microsoftonline.com",
    "office.com",
    "r2.cloudflarestorage.com",
    "s3.amazonaws.com",
    "windows.net",
];

/// Entries that name no host at all.
const NO_HOST: &[&str] = &[
    "n/a",
    "na",
    "none",
    "null",
    "unknown",
    "tbd",
    "user_managed",
];

/// Image names many unrelated programs use: matching them would report any installer.
const GENERIC_NAMES: &[&str] = &[
    "agent.exe",
    "client.exe",
    "cmd.exe",
    "conhost.exe",
    "explorer.exe",
    "helper.exe",
    "install.exe",
    "installer.exe",
    "installshield setup.exe",
    "java.exe",
    "javaw.exe",
    "launcher.exe",
    "msiexec.exe",
    "node.exe",
    "notificationhelper.exe",
    "powershell.exe",
    "python.exe",
    "rundll32.exe",
    "server.exe",
    "service.exe",
    "setup.exe",
    "svchost.exe",
    "uninstall.exe",
    "update.exe",
    "updater.exe",
    "wintun.dll",
];

/// Folder names that say nothing about the tool (`C:\Program Files\Google\*` is Chrome too).
const GENERIC_FOLDERS: &[&str] = &[
    "appdata",
    "c:",
    "common files",
    "downloads",
    "google",
    "local",
    "microsoft",
    "program files",
    "program files (x86)",
    "programdata",
    "roaming",
    "system32",
    "syswow64",
    "temp",
    "users",
    "windows",
];

/// Publishers too big to identify one tool by (a `term` on them matches their whole catalogue).
const GENERIC_PUBLISHERS: &[&str] = &["apple", "google", "microsoft", "microsoftcorporation"];

/// What one `Domains` entry became.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host {
    Domain(String),
    Ip(String),
    Cidr(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Normalized {
    pub host: Host,
    /// The port written after the host (`host:443`), not matched.
    pub port: Option<String>,
    /// How the entry was changed beyond case (`*.`, URL, pattern reduced: wider), for notes.
    pub changes: Vec<String>,
    /// The `*.` prefix was dropped (reported once per tool, not per entry).
    pub wildcard: bool,
}

/// A `Domains` entry → a host to match, or why it is skipped.
pub fn normalize_domain(raw: &str) -> Result<Normalized, String> {
    let mut s = raw.trim().to_string();
    let mut changes = Vec::new();
    let mut port = None;
    let mut wildcard = false;
    if s.is_empty() {
        return Err("empty entry".into());
    }
    if s.starts_with('<') || s.chars().any(char::is_whitespace) {
        return Err("a placeholder, not a host name".into());
    }
    if NO_HOST.contains(&s.to_ascii_lowercase().as_str()) {
        return Err("names no host".into());
    }
    if !s.is_ascii() {
        return Err("an internationalized name: rmmc matches ASCII (punycode) names only".into());
    }
    if let Some((_, rest)) = s.split_once("://") {
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host = host.rsplit('@').next().unwrap_or("").to_string();
        changes.push(format!("URL reduced to its host `{host}`"));
        s = host;
    }
    // an address or range before anything that would read it as host:port
    if let Some(n) = address(&s)? {
        return Ok(Normalized {
            host: n,
            port,
            changes,
            wildcard,
        });
    }
    if let Some((host, rest)) = s.split_once('/') {
        changes.push(format!("path `/{rest}` dropped"));
        s = host.to_string();
    }
    if let Some((host, p)) = s.rsplit_once(':') {
        if !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) {
            port = Some(p.to_string());
            s = host.to_string();
        } else {
            return Err("not a host name (`:` without a port number)".into());
        }
    }
    if let Some(n) = address(&s)? {
        return Ok(Normalized {
            host: n,
            port,
            changes,
            wildcard,
        });
    }
    if let Some(t) = s.strip_suffix('.') {
        changes.push("trailing dot dropped".into());
        s = t.to_string();
    }
    if let Some(rest) = s.strip_prefix("*.") {
        wildcard = true;
        s = rest.to_string();
    }
    const PATTERN: &[char] = &[
        '*', '?', '[', ']', '{', '}', '(', ')', '+', '|', '\\', '^', '$',
    ];
    if let Some(i) = s.rfind(PATTERN) {
        let tail = &s[i + 1..];
        // the literal suffix, from the next label boundary on
        let suffix = match tail.strip_prefix('.') {
            Some(t) => t,
            None => tail.split_once('.').map_or("", |(_, r)| r),
        };
        if !suffix.contains('.') {
            return Err(format!(
                "a pattern whose literal suffix `{suffix}` is no registrable domain"
            ));
        }
        changes.push(format!(
            "pattern reduced to the literal domain after it, `{suffix}` (wider: matches every sub-domain of it)"
        ));
        s = suffix.to_string();
    }
    let d: DomainValue = s.parse().map_err(|e: String| e)?;
    if !d.0.contains('.') {
        return Err("a bare name or top-level domain, not a host".into());
    }
    if SHARED_DOMAINS.contains(&d.0.as_str()) {
        return Err(format!(
            "`{}` is shared by many unrelated services: it would match half the internet",
            d.0
        ));
    }
    Ok(Normalized {
        host: Host::Domain(d.0),
        port,
        changes,
        wildcard,
    })
}

/// `Some` for an IP address or CIDR range (public ones), `Err` for private ones.
fn address(s: &str) -> Result<Option<Host>, String> {
    if let Ok(IpValue(ip)) = s.parse::<IpValue>() {
        if !public(ip) {
            return Err(format!("`{ip}` is a private, loopback or reserved address"));
        }
        return Ok(Some(Host::Ip(ip.to_string())));
    }
    if s.contains('/')
        && s.split('/')
            .next()
            .is_some_and(|a| a.parse::<IpAddr>().is_ok())
    {
        let c: CidrValue = s.parse()?;
        if !public(c.addr) {
            return Err(format!("`{c}` is a private, loopback or reserved range"));
        }
        return Ok(Some(Host::Cidr(c.to_string())));
    }
    Ok(None)
}

fn public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => {
            !(v.is_private()
                || v.is_loopback()
                || v.is_link_local()
                || v.is_unspecified()
                || v.is_broadcast()
                || v.is_documentation()
                || v.octets()[0] == 100 && (64..128).contains(&v.octets()[1]))
        }
        IpAddr::V6(v) => {
            !(v.is_loopback() || v.is_unspecified() || (v.segments()[0] & 0xfe00) == 0xfc00)
        }
    }
}

/// The id slug: lowercase, runs outside [a-z0-9] → `-`, trimmed, so that `lolrmm-<slug>`
/// is at most 64 characters.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut s = out.trim_matches('-').to_string();
    s.truncate(64 - "lolrmm-".len());
    s.trim_end_matches('-').to_string()
}

/// How an image name is matched, or why it is skipped.
fn name_pred(field: &str, raw: &str, original: bool) -> Result<Pred, String> {
    let v = raw.trim();
    let lower = v.to_ascii_lowercase();
    if GENERIC_NAMES.contains(&lower.as_str()) {
        return Err(format!(
            "`{v}` is a generic name many programs use (not matched)"
        ));
    }
    let ext = lower.rsplit_once('.').map_or("", |(_, e)| e);
    let image = matches!(ext, "dll" | "mui") && original;
    let data = matches!(
        ext,
        "xml" | "txt" | "log" | "conf" | "ini" | "json" | "lnk" | "cfg"
    );
    if data || matches!(ext, "msi" | "bin" | "mui" | "sys") || (ext == "dll" && !image) {
        return Err(format!(
            "`{v}` is not a process image name (a .{ext} is loaded or installed, never run as a process)"
        ));
    }
    if v.contains('?') {
        return Err(format!("`{v}` has a `?` wildcard (not matched)"));
    }
    let parts: Vec<&str> = v.split('*').collect();
    Ok(match parts.as_slice() {
        [one] => Pred::matches(field, "exact", vec![one.to_string()]),
        ["", s] if !s.is_empty() => Pred::matches(field, "suffix", vec![s.to_string()]),
        [p, ""] if !p.is_empty() => Pred::matches(field, "prefix", vec![p.to_string()]),
        [p, s] if !p.is_empty() && !s.is_empty() => Pred::All(vec![
            Pred::matches(field, "prefix", vec![p.to_string()]),
            Pred::matches(field, "suffix", vec![s.to_string()]),
        ]),
        _ => {
            return Err(format!(
                "`{v}` has wildcards that no prefix/suffix expresses"
            ))
        }
    })
}

/// An installation path → (kind, literal, note about a change), or why it is skipped.
pub fn path_match(raw: &str) -> Result<(&'static str, String, Option<String>), String> {
    let mut s = raw.trim().to_string();
    let mut change = None;
    if s.starts_with('/') || s.starts_with('~') || (s.contains('/') && !s.contains('\\')) {
        return Err(
            "not a Windows path: the endpoint log sources mapped (Defender, Sysmon) are Windows"
                .into(),
        );
    }
    while s.contains("\\\\") {
        s = s.replace("\\\\", "\\");
        change = Some("doubled backslashes collapsed".to_string());
    }
    let mut leading = false;
    if s.starts_with('%') {
        if let Some(end) = s[1..].find('%') {
            s = s[end + 2..].to_string();
            leading = true;
        }
    }
    let mut trailing = false;
    if let Some(t) = s.strip_suffix('*') {
        s = t.to_string();
        trailing = true;
    }
    if let Some(t) = s.strip_prefix('*') {
        s = t.to_string();
        leading = true;
    }
    if let Some(i) = s.rfind(['*', '?', '%']) {
        let tail = s[i + 1..].to_string();
        change = Some(format!(
            "wildcard in the middle: matched on the literal part after it, `{tail}` (wider)"
        ));
        s = tail;
        leading = true;
    }
    let is_drive = s.len() > 2 && s.as_bytes()[1] == b':' && s.as_bytes()[0].is_ascii_alphabetic();
    if !is_drive {
        leading = true;
    }
    let stem = s
        .rsplit_once('.')
        .filter(|(_, e)| e.len() <= 4 && !e.contains('\\'))
        .map_or(s.as_str(), |(b, _)| b);
    if stem.chars().filter(|c| c.is_alphanumeric()).count() < 4 {
        return Err(format!("`{s}` is too short a literal to name the tool"));
    }
    let parts: Vec<String> = s
        .split('\\')
        .filter(|p| !p.is_empty())
        .map(|p| p.to_lowercase())
        .collect();
    if parts.is_empty() || parts.iter().all(|p| GENERIC_FOLDERS.contains(&p.as_str())) {
        return Err(format!(
            "`{s}` names no tool-specific folder (it would match unrelated programs)"
        ));
    }
    let kind = match (leading, trailing) {
        (true, true) => "contains",
        (true, false) => "suffix",
        (false, true) => "prefix",
        (false, false) => "exact",
    };
    Ok((kind, s, change))
}

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
    s.split_whitespace().collect::<Vec<_>>().join(" ")
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

fn netconn(ctx: &mut Ctx, doc: &Value, source: usize) -> Option<DraftDetection> {
    let network = doc.get("Artifacts").and_then(|a| a.get("Network"))?;
    let mut domains: BTreeMap<String, ()> = BTreeMap::new();
    let mut ips = BTreeSet::new();
    let mut cidrs = BTreeSet::new();
    let mut ports = BTreeSet::new();
    let mut listed_ports = BTreeSet::new();
    let mut wildcards = 0;
    for (i, n) in list(network).into_iter().enumerate() {
        let base = p(&["Artifacts", "Network"]).index(i);
        for port in n.get("Ports").map(list).unwrap_or_default() {
            if let Some(t) = text(port) {
                listed_ports.insert(t);
            }
        }
        for (j, d) in n
            .get("Domains")
            .map(list)
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            let at = base.key("Domains").index(j);
            let Some(raw) = text(d) else {
                ctx.note(&at, "a Domains entry that is not text: skipped".into());
                continue;
            };
            match normalize_domain(&raw) {
                Err(why) => ctx.note(&at, format!("domain `{raw}` skipped: {why}")),
                Ok(norm) => {
                    for c in &norm.changes {
                        ctx.note(&at, format!("domain `{raw}`: {c}"));
                    }
                    if norm.wildcard {
                        wildcards += 1;
                    }
                    if let Some(pt) = norm.port {
                        ports.insert(pt);
                    }
                    match norm.host {
                        Host::Domain(h) => {
                            domains.insert(h, ());
                        }
                        Host::Ip(a) => {
                            ips.insert(a);
                        }
                        Host::Cidr(c) => {
                            cidrs.insert(c);
                        }
                    }
                }
            }
        }
    }
    if !ports.is_empty() {
        let list: Vec<_> = ports.iter().cloned().collect();
        ctx.note(
            &p(&["Artifacts", "Network"]),
            format!(
                "ports {} written after hosts are not matched; the rule matches the hosts on any port",
                list.join(", ")
            ),
        );
    }
    if wildcards > 0 {
        ctx.note(
            &p(&["Artifacts", "Network"]),
            format!("`*.` dropped from {wildcards} domain(s): `domain` matches the domain and every sub-domain, so the bare domain matches too"),
        );
    }
    // a domain already covered by a listed parent adds nothing
    // (each domain's parents are looked up by label, so a catalogue entry of n domains costs
    // n lookups per label, not n² comparisons: 20,000 domains took 25 s)
    let domains: Vec<String> = domains
        .keys()
        .filter(|d| {
            !d.match_indices('.')
                .any(|(i, _)| domains.contains_key(&d[i + 1..]))
        })
        .cloned()
        .collect();
    let mut branches = Vec::new();
    if !domains.is_empty() {
        branches.push(Pred::matches("remote_domain", "domain", domains));
    }
    if !ips.is_empty() {
        branches.push(Pred::matches("remote_ip", "ip", ips.into_iter().collect()));
    }
    if !cidrs.is_empty() {
        branches.push(Pred::matches(
            "remote_ip",
            "cidr",
            cidrs.into_iter().collect(),
        ));
    }
    let predicate = match branches.len() {
        0 => return None,
        1 => branches.remove(0),
        _ => Pred::Any(branches),
    };
    let mut comments = Vec::new();
    if !listed_ports.is_empty() {
        let l: Vec<_> = listed_ports.into_iter().collect();
        comments.push(format!(
            "LOLRMM lists ports {}; the rule matches these hosts on any port.",
            l.join(", ")
        ));
    }
    Some(DraftDetection {
        unsupported: Vec::new(),
        key: "netconn".into(),
        // "(LOLRMM)" keeps rule names apart from a team's own (e.g. imported Sentinel)
        // detections of the same tool, so both sets build together
        title: "Network Connection (LOLRMM)".into(),
        on: Category::Network,
        comments,
        predicate,
        summarize: vec![
            "device_id".into(),
            "device_name".into(),
            "remote_domain".into(),
        ],
        time_filter: true,
        gaps: Vec::new(),
        source,
    })
}

fn createproc(
    ctx: &mut Ctx,
    doc: &Value,
    details: &Value,
    tool: &str,
    source: usize,
) -> Option<DraftDetection> {
    let tool_words = words(tool);
    // (field, kind) → values, deduplicated case-insensitively; composite predicates apart
    let mut simple: BTreeMap<(&'static str, &'static str), BTreeMap<String, String>> =
        BTreeMap::new();
    let mut composite: Vec<Pred> = Vec::new();
    let mut add = |pred: Pred, composite: &mut Vec<Pred>| match pred {
        Pred::Match {
            field,
            kind,
            values,
            ..
        } => {
            let f: &'static str = match field.as_str() {
                "process_name" => "process_name",
                "process_original_file_name" => "process_original_file_name",
                "process_folder_path" => "process_folder_path",
                "process_company" => "process_company",
                _ => "process_product",
            };
            for v in values {
                simple
                    .entry((f, kind))
                    .or_default()
                    .entry(v.to_lowercase())
                    .or_insert(v);
            }
        }
        other => {
            if !composite.contains(&other) {
                composite.push(other)
            }
        }
    };
    let pe = details.get("PEMetadata").cloned().unwrap_or(Value::Null);
    let single = !matches!(pe, Value::Sequence(_));
    for (i, m) in list(&pe).into_iter().enumerate() {
        let base = if single {
            p(&["Details", "PEMetadata"])
        } else {
            p(&["Details", "PEMetadata"]).index(i)
        };
        for (key, field, original) in [
            ("OriginalFileName", "process_original_file_name", true),
            ("Filename", "process_name", false),
        ] {
            let Some(v) = m.get(key).and_then(text).map(|v| v.trim().to_string()) else {
                continue;
            };
            if v.is_empty() {
                continue;
            }
            match name_pred(field, &v, original) {
                Ok(pr) => add(pr, &mut composite),
                Err(why) => ctx.note(&base.key(key), format!("{key} {why}")),
            }
        }
        for (key, field) in [
            ("Product", "process_product"),
            ("Company", "process_company"),
        ] {
            let Some(v) = m.get(key).and_then(text).map(|v| v.trim().to_string()) else {
                continue;
            };
            let t = term_value(&v);
            let generic = GENERIC_PUBLISHERS.contains(&super::normalize(&t).as_str());
            if t.is_empty() || generic || words(&t).is_disjoint(&tool_words) {
                ctx.note(
                    &base.key(key),
                    format!("{key} `{v}` not matched: not distinctive of {tool} (shares no word of the tool name)"),
                );
                continue;
            }
            add(Pred::matches(field, "term", vec![t]), &mut composite);
        }
    }
    let paths: Vec<(YamlPath, &Value)> = details
        .get("InstallationPaths")
        .map(list)
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, v)| (p(&["Details", "InstallationPaths"]).index(i), v))
        .chain(
            doc.get("InstallationPaths")
                .map(list)
                .unwrap_or_default()
                .into_iter()
                .enumerate()
                .map(|(i, v)| (p(&["InstallationPaths"]).index(i), v)),
        )
        .collect();
    for (at, v) in paths {
        let Some(raw) = text(v) else { continue };
        let raw = raw.trim().to_string();
        if !raw.is_empty() && !raw.contains(['\\', '/', '%']) {
            // a bare file name (`JumpCloud*.exe`): the image name, not a folder
            match name_pred("process_name", &raw, false) {
                Ok(pr) => {
                    ctx.note(
                        &at,
                        format!(
                            "installation path `{raw}` is a file name: matched as the process name"
                        ),
                    );
                    add(pr, &mut composite);
                }
                Err(why) => ctx.note(&at, format!("installation path {why}")),
            }
            continue;
        }
        match path_match(&raw) {
            Ok((kind, value, change)) => {
                if let Some(c) = change {
                    ctx.note(&at, format!("installation path `{raw}`: {c}"));
                }
                add(
                    Pred::matches("process_folder_path", kind, vec![value]),
                    &mut composite,
                );
            }
            Err(why) => ctx.note(&at, format!("installation path `{raw}` skipped: {why}")),
        }
    }
    let mut branches: Vec<Pred> = simple
        .into_iter()
        .map(|((f, k), vals)| {
            let mut v: Vec<String> = vals.into_values().collect();
            v.sort_by_key(|s| s.to_lowercase());
            Pred::matches(f, k, v)
        })
        .collect();
    branches.extend(composite);
    let predicate = match branches.len() {
        0 => return None,
        1 => branches.remove(0),
        _ => Pred::Any(branches),
    };
    Some(DraftDetection {
        unsupported: Vec::new(),
        key: "createproc".into(),
        title: "Create Process (LOLRMM)".into(),
        on: Category::Process,
        comments: Vec::new(),
        predicate,
        summarize: vec![
            "device_id".into(),
            "device_name".into(),
            "process_name".into(),
        ],
        time_filter: true,
        gaps: Vec::new(),
        source,
    })
}

/// Signers of the operating system, of bundled third-party tools (PuTTY, WinSCP, SSH
/// clients, game engines) and truncated certificate names: a file-signature rule on them
/// would fire for software that is not this tool. Compared case-insensitively.
const NOT_THE_TOOLS_SIGNER: &[&str] = &[
    "microsoft corporation",
    "microsoft windows",
    "microsoft windows publisher",
    "google llc",
    "apple inc.",
    "win.rar gmbh",
    "simon tatham",
    "martin prikryl",
    "bitvise limited",
    "unity technologies sf",
    "codesigningmico",
    "globalsigningdig",
];

/// Backends without certificate (file signature) events, and why (see backends/*.yaml).
const NO_CERTIFICATE_EVENTS: &[(BackendName, &str)] = &[
    (
        BackendName::Sigma,
        "Sysmon has no certificate (file signature) events",
    ),
    (
        BackendName::Splunk,
        "Sysmon has no certificate (file signature) events",
    ),
    (
        BackendName::Elastic,
        "Elastic Defend has no certificate (file signature) events",
    ),
];

/// The signer names of `CodeSigning`: its `signer_names` and its certificates' `signer_name`.
fn signer_names(cs: &Value) -> Vec<String> {
    cs.get("signer_names")
        .map(list)
        .unwrap_or_default()
        .into_iter()
        .chain(
            cs.get("certificates")
                .map(list)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|c| c.get("signer_name")),
        )
        .filter_map(text)
        .collect()
}

/// The `filesig` detection: the tool's code-signing signers as `signer` terms.
fn filesig(ctx: &mut Ctx, doc: &Value, source: usize) -> Option<DraftDetection> {
    let cs = doc.get("CodeSigning").filter(|v| !v.is_null())?;
    let raw = signer_names(cs);
    let at = p(&["CodeSigning"]);
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    for s in raw {
        let s = one_line(&s);
        if s.is_empty() {
            continue;
        }
        if NOT_THE_TOOLS_SIGNER.contains(&s.to_lowercase().as_str()) {
            ctx.note(
                &at,
                format!("signer `{s}` skipped: it signs software that is not this tool"),
            );
            continue;
        }
        let t = term_value(&s);
        let ascii_ends = t.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && t.chars().last().is_some_and(|c| c.is_ascii_alphanumeric());
        if !ascii_ends {
            ctx.note(
                &at,
                format!("signer `{s}` skipped: a spec term must start and end with an ASCII letter or digit"),
            );
            continue;
        }
        if t != s {
            ctx.note(
                &at,
                format!("signer `{s}` matched as the term `{t}` (punctuation at the ends dropped: a little wider)"),
            );
        }
        values.entry(t.to_lowercase()).or_insert(t);
    }
    if values.is_empty() {
        return None;
    }
    let mut v: Vec<String> = values.into_values().collect();
    v.sort_by_key(|s| s.to_lowercase());
    Some(DraftDetection {
        key: "filesig".into(),
        title: "File Signature (LOLRMM)".into(),
        on: Category::Certificate,
        comments: Vec::new(),
        predicate: Pred::matches("signer", "term", v),
        summarize: vec!["device_id".into(), "device_name".into(), "signer".into()],
        time_filter: true,
        gaps: Vec::new(),
        unsupported: NO_CERTIFICATE_EVENTS
            .iter()
            .map(|(b, why)| (*b, why.to_string()))
            .collect(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dom(s: &str) -> Result<(Host, Option<String>, bool, usize), String> {
        normalize_domain(s).map(|n| (n.host, n.port, n.wildcard, n.changes.len()))
    }
    fn d(s: &str) -> Host {
        Host::Domain(s.into())
    }

    #[test]
    fn domain_normalizer() {
        let ok: &[(&str, Host, Option<&str>, bool, usize)] = &[
            ("anydesk.com", d("anydesk.com"), None, false, 0),
            ("*.anydesk.com", d("anydesk.com"), None, true, 0),
            ("GetScreen.me", d("getscreen.me"), None, false, 0),
            (
                "boot.net.anydesk.com.",
                d("boot.net.anydesk.com"),
                None,
                false,
                1,
            ),
            (
                "host.example.com:5938",
                d("host.example.com"),
                Some("5938"),
                false,
                0,
            ),
            (
                "https://get.example.com/dl/x.exe",
                d("get.example.com"),
                None,
                false,
                1,
            ),
            (
                "relay-[a-f0-9]{8}.net.anydesk.com:443",
                d("net.anydesk.com"),
                Some("443"),
                false,
                1,
            ),
            ("plus*.site24x7.com", d("site24x7.com"), None, false, 1),
            (
                "agents*-cloud.acronis.com",
                d("acronis.com"),
                None,
                false,
                1,
            ),
            (
                "rescue-list.*.logmein-gateway.com",
                d("logmein-gateway.com"),
                None,
                false,
                1,
            ),
            (
                "51.255.19.178",
                Host::Ip("51.255.19.178".into()),
                None,
                false,
                0,
            ),
            (
                "51.255.19.178:443",
                Host::Ip("51.255.19.178".into()),
                Some("443"),
                false,
                0,
            ),
            (
                "2a00:1450::1",
                Host::Ip("2a00:1450::1".into()),
                None,
                false,
                0,
            ),
            (
                "136.243.0.0/16",
                Host::Cidr("136.243.0.0/16".into()),
                None,
                false,
                0,
            ),
            (
                "x.cdn.cloudflare.net",
                d("x.cdn.cloudflare.net"),
                None,
                false,
                0,
            ),
        ];
        for (raw, host, port, wild, changes) in ok {
            assert_eq!(
                dom(raw),
                Ok((host.clone(), port.map(str::to_string), *wild, *changes)),
                "{raw}"
            );
        }
        for bad in [
            "",
            "  ",
            "N/A",
            "user_managed",
            "<operator-configured GLPI server>",
            "localhost",
            "com",
            "10.1.2.3",
            "192.168.0.0/16",
            "127.0.0.1",
            "amazonaws.com",
            "*.cloudfront.net",
            "google.com",
            "pdqinstallers.*.r2.cloudflarestorage.com",
            "bücher.example",
            "x.com:abc",
            "*.com",
            "10.0.0.1/8",
        ] {
            assert!(dom(bad).is_err(), "{bad:?} → {:?}", dom(bad));
        }
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("AnyDesk"), "anydesk");
        assert_eq!(
            slug("247ithelp.com (ConnectWise)"),
            "247ithelp-com-connectwise"
        );
        assert_eq!(slug("  Level.io "), "level-io");
        assert_eq!(slug("I'm InTouch"), "i-m-intouch");
        assert_eq!(slug("上海"), "");
        let long = slug(&"x".repeat(100));
        assert_eq!(long.len() + "lolrmm-".len(), 64);
    }

    #[test]
    fn paths() {
        let ok = |s: &str| path_match(s).map(|(k, v, c)| (k, v, c.is_some()));
        assert_eq!(
            ok(r"C:\Program Files\AnyDesk\*"),
            Ok(("prefix", r"C:\Program Files\AnyDesk\".into(), false))
        );
        assert_eq!(
            ok(r"%programdata%\Tiflux\*"),
            Ok(("contains", r"\Tiflux\".into(), false))
        );
        assert_eq!(
            ok(r"*\AteraAgent.exe"),
            Ok(("suffix", r"\AteraAgent.exe".into(), false))
        );
        assert_eq!(
            ok(r"*\*\Duplicati.Server.exe"),
            Ok(("suffix", r"\Duplicati.Server.exe".into(), true))
        );
        assert_eq!(
            ok(r"C:\Windows\System32\mstsc.exe"),
            Ok(("exact", r"C:\Windows\System32\mstsc.exe".into(), false))
        );
        assert!(ok("/Applications/AnyDesk.app").is_err());
        assert!(ok(r"C:\Program Files (x86)\Google\*").is_err());
        assert!(ok(r"*\ScreenConnect Client*\*").is_err());
        assert!(ok(r"*\x*.exe").is_err());
    }

    #[test]
    fn names() {
        assert!(name_pred("process_name", "setup.exe", false).is_err());
        assert!(name_pred("process_name", "x.msi", false).is_err());
        assert!(name_pred("process_name", "ControlR.Agent.dll", false).is_err());
        assert!(name_pred("process_original_file_name", "ControlR.Agent.dll", true).is_ok());
        assert_eq!(
            name_pred("process_name", "g2file*.exe", false),
            Ok(Pred::All(vec![
                Pred::matches("process_name", "prefix", vec!["g2file".into()]),
                Pred::matches("process_name", "suffix", vec![".exe".into()]),
            ]))
        );
        assert!(name_pred("process_name", "a*b*c", false).is_err());
    }
}
