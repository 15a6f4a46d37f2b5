//! The three detections of a LOLRMM tool: `netconn` (domains, addresses), `createproc` (image names, product and company, folders) and `filesig` (code-signing signers).

use super::*;

pub(super) fn netconn(ctx: &mut Ctx, doc: &Value, source: usize) -> Option<DraftDetection> {
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

pub(super) fn createproc(
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
            let generic = GENERIC_PUBLISHERS.contains(&crate::import::normalize(&t).as_str());
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
pub(super) const NOT_THE_TOOLS_SIGNER: &[&str] = &[
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
pub(super) const NO_CERTIFICATE_EVENTS: &[(BackendName, &str)] = &[
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
pub(super) fn signer_names(cs: &Value) -> Vec<String> {
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
pub(super) fn filesig(ctx: &mut Ctx, doc: &Value, source: usize) -> Option<DraftDetection> {
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
