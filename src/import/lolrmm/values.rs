//! Normalizing LOLRMM's values: domains and addresses (public, not the shared or generic ones), slugs, image names and installation paths as spec matches.

use super::*;

pub(super) const REPO: &str = "https://github.com/magicsword-io/LOLRMM";

/// Domains shared by many unrelated services (cloud hosting, CDNs, code hosting, big
/// platforms): a rule on them would match half the internet. Matched exactly (after
/// normalization); a tool's own sub-domain of them (`x.cdn.cloudflare.net`) is kept.
pub(super) const SHARED_DOMAINS: &[&str] = &[
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
pub(super) const NO_HOST: &[&str] = &[
    "n/a",
    "na",
    "none",
    "null",
    "unknown",
    "tbd",
    "user_managed",
];

/// Image names many unrelated programs use: matching them would report any installer.
pub(super) const GENERIC_NAMES: &[&str] = &[
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
pub(super) const GENERIC_FOLDERS: &[&str] = &[
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
pub(super) const GENERIC_PUBLISHERS: &[&str] =
    &["apple", "google", "microsoft", "microsoftcorporation"];

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
pub(super) fn address(s: &str) -> Result<Option<Host>, String> {
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

pub(super) fn public(ip: IpAddr) -> bool {
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
pub(super) fn name_pred(field: &str, raw: &str, original: bool) -> Result<Pred, String> {
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
