//! Cross-field rules that serde cannot express. Each problem is reported at the exact node.

use super::attack;
use super::fields::{Category, Field, FieldType};
use super::spans::{SpanIndex, YamlPath};
use super::values::Duration;
use super::{MatchKind, Predicate, Slug, Spec};
use crate::diag::{Diag, DiagKind};
use std::collections::HashMap;
use std::path::Path;

struct Cx<'a> {
    index: &'a SpanIndex,
    file: &'a Path,
    diags: Vec<Diag>,
    /// list name → (canonical rendering of its values, where first seen)
    lists: HashMap<String, (String, YamlPath)>,
}

impl Cx<'_> {
    fn err(&mut self, path: &YamlPath, kind: DiagKind, msg: String, help: &str) {
        let span = self.index.value(path).or_else(|| self.index.nearest(path));
        self.diags.push(
            Diag::error(kind, format!("{path}: {msg}"))
                .at(self.file, span)
                .help(help),
        );
    }
    fn err_key(&mut self, path: &YamlPath, kind: DiagKind, msg: String, help: &str) {
        let span = self.index.key(path).or_else(|| self.index.nearest(path));
        self.diags.push(
            Diag::error(kind, format!("{path}: {msg}"))
                .at(self.file, span)
                .help(help),
        );
    }
}

pub(super) fn validate(spec: &Spec, index: &SpanIndex, file: &Path) -> Vec<Diag> {
    let mut cx = Cx {
        index,
        file,
        diags: Vec::new(),
        lists: HashMap::new(),
    };
    let root = YamlPath::default();
    check_attack(spec, &mut cx, &root.key("attack"));
    check_durations(spec, &mut cx);

    if spec.detections.is_empty() {
        cx.err(
            &root.key("detections"),
            DiagKind::Schema,
            "no detections".into(),
            "add at least one detection",
        );
    }
    for (id, det) in &spec.detections {
        let p = root.key("detections").key(id.as_str());
        for key in det.unsupported.keys().filter(|k| k.mapping.is_none()) {
            let backend = &key.backend;
            if det.gaps.contains_key(backend) {
                cx.err(
                    &p.key("unsupported").key(backend.name()),
                    DiagKind::Semantics,
                    format!("`{backend}` is both a gap (build a wider rule) and unsupported (build none)"),
                    "keep one of the two for this backend",
                );
            }
        }
        // `on:` is the old name of `category:` (serde reads both)
        let on = p.key("on");
        if let Some(span) = cx.index.key(&on) {
            cx.diags.push(
                Diag::warning(
                    DiagKind::Schema,
                    format!("{on}: `on:` is now `category:`: YAML 1.1 tools (PyYAML, yamllint, JSON Schema validators) read the key `on` as the boolean true"),
                )
                .at(cx.file, Some(span))
                .help(format!("write `category: {}`", det.category)),
            );
        }
        if det
            .unsupported
            .keys()
            .filter(|k| k.mapping.is_none())
            .count()
            == 4
        {
            cx.err(
                &p.key("unsupported"),
                DiagKind::Semantics,
                "every backend is unsupported, so this detection builds nothing".into(),
                "remove the detection, or a backend from `unsupported`",
            );
        }
        if det.sources.is_empty() {
            cx.err(
                &p.key("sources"),
                DiagKind::Value,
                "empty source list".into(),
                "list at least one source, e.g. [endpoint]",
            );
        }
        for (i, s) in det.sources.iter().enumerate() {
            if det.sources[..i].contains(s) {
                cx.err(
                    &p.key("sources").index(i),
                    DiagKind::Duplicate,
                    format!("source `{s}` listed twice"),
                    "remove the repeat",
                );
            }
        }
        check_predicate(
            &det.predicate,
            det.category,
            &p.key("where"),
            &mut cx,
            "detection",
        );
        check_output(det, &p.key("output"), &mut cx);
    }

    for (id, ex) in &spec.exclusions {
        let p = root.key("exclusions").key(id.as_str());
        let targets: Vec<(&Slug, &super::Detection)> = match &ex.applies_to {
            None => spec.detections.iter().collect(),
            Some(ids) => {
                if ids.is_empty() {
                    cx.err(
                        &p.key("applies_to"),
                        DiagKind::Value,
                        "empty `applies_to`".into(),
                        "name at least one detection, or remove `applies_to` to apply it to all",
                    );
                }
                let mut out = Vec::new();
                for (i, d) in ids.iter().enumerate() {
                    match spec.detections.get_key_value(d) {
                        Some(t) => out.push(t),
                        None => {
                            let known: Vec<&str> =
                                spec.detections.keys().map(Slug::as_str).collect();
                            cx.err(
                                &p.key("applies_to").index(i),
                                DiagKind::Semantics,
                                format!("no detection named `{d}`"),
                                &format!("use one of: {}", known.join(", ")),
                            );
                        }
                    }
                }
                out
            }
        };
        if let Some(srcs) = &ex.sources {
            if srcs.is_empty() {
                cx.err(
                    &p.key("sources"),
                    DiagKind::Value,
                    "empty `sources`".into(),
                    "name at least one source, or remove `sources`",
                );
            }
            for (i, s) in srcs.iter().enumerate() {
                if !targets.iter().any(|(_, d)| d.sources.contains(s)) {
                    cx.err(
                        &p.key("sources").index(i),
                        DiagKind::Semantics,
                        format!("none of the detections it applies to reads source `{s}`"),
                        "remove the source or fix `applies_to`",
                    );
                }
            }
        }
        // An exclusion must make sense for every category it is applied to.
        let mut cats: Vec<Category> = targets.iter().map(|(_, d)| d.category).collect();
        cats.sort();
        cats.dedup();
        for c in cats {
            check_predicate(&ex.predicate, c, &p.key("where"), &mut cx, "exclusion");
        }
    }
    cx.diags
}

fn check_attack(spec: &Spec, cx: &mut Cx, p: &YamlPath) {
    if spec.attack.tactics.is_empty() {
        cx.err(
            &p.key("tactics"),
            DiagKind::Value,
            "no tactics".into(),
            "list at least one ATT&CK tactic, e.g. [CommandAndControl]",
        );
    }
    if spec.attack.techniques.is_empty() {
        cx.err(
            &p.key("techniques"),
            DiagKind::Value,
            "no techniques".into(),
            "list at least one technique, e.g. [T1219]",
        );
    }
    for (i, t) in spec.attack.techniques.iter().enumerate() {
        let tp = p.key("techniques").index(i);
        match attack::tactics_of(&t.0) {
            None => cx.err(
                &tp,
                DiagKind::Value,
                format!("technique {t} is not in rmmc's ATT&CK table"),
                "check the id, or add it with its tactics to TECHNIQUES in src/spec/attack.rs",
            ),
            Some(tactics) => {
                if !tactics.iter().any(|x| spec.attack.tactics.contains(x)) {
                    let names: Vec<String> = tactics.iter().map(|x| format!("{x:?}")).collect();
                    cx.err(
                        &tp,
                        DiagKind::Semantics,
                        format!(
                            "technique {t} belongs to {}, which is not among the listed tactics",
                            names.join(" / ")
                        ),
                        &format!("add {} to attack.tactics", names[0]),
                    );
                }
            }
        }
    }
    for (i, tac) in spec.attack.tactics.iter().enumerate() {
        let used = spec
            .attack
            .techniques
            .iter()
            .any(|t| attack::tactics_of(&t.0).is_some_and(|ts| ts.contains(tac)));
        if !used && !spec.attack.techniques.is_empty() {
            cx.err(
                &p.key("tactics").index(i),
                DiagKind::Semantics,
                format!("tactic {tac:?} matches none of the listed techniques"),
                "remove it, or add a technique of that tactic",
            );
        }
    }
}

fn check_durations(spec: &Spec, cx: &mut Cx) {
    let root = YamlPath::default();
    let range = |d: Duration| d >= Duration::MIN && d <= Duration::MAX;
    if !range(spec.window) {
        cx.err(
            &root.key("window"),
            DiagKind::Value,
            format!("window {} is outside 5m-14d", spec.window),
            "Sentinel scheduled rules look back between 5 minutes and 14 days",
        );
    }
    if let Some(f) = spec.frequency {
        if !range(f) {
            cx.err(
                &root.key("frequency"),
                DiagKind::Value,
                format!("frequency {f} is outside 5m-14d"),
                "Sentinel runs rules every 5 minutes to 14 days",
            );
        } else if f > spec.window {
            cx.err(
                &root.key("frequency"),
                DiagKind::Semantics,
                format!("frequency {f} is longer than window {}: events between runs would never be searched", spec.window),
                "make the window at least as long as the frequency",
            );
        }
    }
}

fn check_predicate(pred: &Predicate, cat: Category, p: &YamlPath, cx: &mut Cx, what: &str) {
    match pred {
        Predicate::All(items) | Predicate::Any(items) => {
            let key = if matches!(pred, Predicate::All(_)) {
                "all"
            } else {
                "any"
            };
            for (i, it) in items.iter().enumerate() {
                check_predicate(it, cat, &p.key(key).index(i), cx, what);
            }
        }
        Predicate::Not(inner) => check_predicate(inner, cat, &p.key("not"), cx, what),
        Predicate::Match(m) => {
            let fp = p.key(m.field.name());
            if !m.field.in_category(cat) {
                let cats: Vec<&str> = m.field.categories().iter().map(|c| c.name()).collect();
                cx.err_key(
                    &fp,
                    DiagKind::Semantics,
                    format!(
                        "field `{}` does not exist in {cat} events (it exists in: {})",
                        m.field,
                        cats.join(", ")
                    ),
                    &match super::hints::field_for_category(m.field.name(), cat) {
                        Some(hint) => hint,
                        None if what == "exclusion" => {
                            "use a field of that category, or limit the exclusion with `applies_to`"
                                .to_string()
                        }
                        None => "use a field of this category; `rmmc schema` lists the fields per category"
                            .to_string(),
                    },
                );
                return;
            }
            if m.cased && !m.kind.is_text() {
                cx.err_key(
                    &fp.key("cased"),
                    DiagKind::Semantics,
                    format!("`cased` applies to text kinds only (term, exact, contains, prefix, suffix), not `{}`", m.kind.name()),
                    "remove `cased`: this kind has one fixed case rule",
                );
            }
            if let Some(allowed) = kind_mismatch(m.field, &m.kind) {
                cx.err_key(
                    &fp.key(m.kind.name()),
                    DiagKind::Semantics,
                    format!(
                        "match kind `{}` does not apply to field `{}`",
                        m.kind.name(),
                        m.field
                    ),
                    &format!("use {allowed}"),
                );
            }
            if let (Some(_), MatchKind::Hash(_) | MatchKind::IpPort(_)) = (&m.name, &m.kind) {
                cx.err(
                    &fp.key("name"),
                    DiagKind::Semantics,
                    format!(
                        "`name` cannot be used with `{}`: its values split into several lists",
                        m.kind.name()
                    ),
                    "remove `name`",
                );
            } else if let Some(name) = &m.name {
                let rendered = format!("{:?}", m.kind);
                match cx.lists.get(&name.0) {
                    Some((prev, _)) if *prev != rendered => {
                        let first = cx.lists[&name.0].1.to_string();
                        cx.err(
                            &fp.key("name"),
                            DiagKind::Duplicate,
                            format!(
                                "list name `{}` is already bound to other values at {first}",
                                name.0
                            ),
                            "use a different name, or the same values",
                        );
                    }
                    Some(_) => {}
                    None => {
                        cx.lists.insert(name.0.clone(), (rendered, fp.key("name")));
                    }
                }
            }
        }
    }
}

/// `Some(what to use instead)` when the kind does not fit the field's type.
fn kind_mismatch(field: Field, kind: &MatchKind) -> Option<&'static str> {
    use MatchKind as K;
    let ok = match field.ty() {
        FieldType::Text => matches!(
            kind,
            K::Term(_) | K::Exact(_) | K::Contains(_) | K::Prefix(_) | K::Suffix(_)
        ),
        FieldType::Host => matches!(
            kind,
            K::Term(_) | K::Exact(_) | K::Contains(_) | K::Prefix(_) | K::Suffix(_) | K::Domain(_)
        ),
        FieldType::Ip => matches!(kind, K::Ip(_) | K::Cidr(_)),
        FieldType::Port => matches!(kind, K::Port(_)),
        FieldType::HashGroup { .. } => matches!(kind, K::Hash(_)),
        FieldType::Endpoint { .. } => matches!(kind, K::IpPort(_)),
        FieldType::Digest | FieldType::Time | FieldType::Id => false,
    };
    if ok {
        return None;
    }
    Some(match field.ty() {
        FieldType::Text => {
            "a text kind: term, exact, contains, prefix or suffix (`domain` is for host names: remote_domain)"
        }
        FieldType::Host => "a text kind (term, exact, contains, prefix, suffix) or domain",
        FieldType::Ip => "`ip` or `cidr`",
        FieldType::Port => "`port`",
        FieldType::HashGroup { .. } => "`hash`",
        FieldType::Endpoint { .. } => "`ip_port`",
        FieldType::Digest => "the `*_hash` field with `hash` (it picks md5/sha1/sha256 by length)",
        FieldType::Time | FieldType::Id => "another field: this one is for output only",
    })
}

fn check_output(det: &super::Detection, p: &YamlPath, cx: &mut Cx) {
    let out = &det.output;
    let output_field = |f: Field, fp: &YamlPath, cx: &mut Cx| {
        if !f.in_category(det.category) {
            cx.err(
                fp,
                DiagKind::Semantics,
                format!("field `{f}` does not exist in {} events", det.category),
                "pick a field of this category",
            );
        } else if matches!(
            f.ty(),
            FieldType::HashGroup { .. } | FieldType::Endpoint { .. }
        ) {
            cx.err(
                fp,
                DiagKind::Semantics,
                format!("`{f}` is a virtual match field and cannot be output"),
                "name the concrete field (e.g. remote_ip, process_sha256)",
            );
        }
    };
    match (&out.summarize, &out.project) {
        (Some(_), Some(_)) | (None, None) => cx.err(
            p,
            DiagKind::Schema,
            "output needs exactly one of `summarize` and `project`".into(),
            "summarize: [fields] groups like the seeds; project: {source: [fields]} lists events",
        ),
        (Some(by), None) => {
            if by.is_empty() {
                cx.err(
                    &p.key("summarize"),
                    DiagKind::Value,
                    "empty `summarize` list".into(),
                    "name the fields to group by",
                );
            }
            for (i, f) in by.iter().enumerate() {
                output_field(*f, &p.key("summarize").index(i), cx);
            }
            if out.order_by.is_some() {
                cx.err(
                    &p.key("order_by"),
                    DiagKind::Schema,
                    "`order_by` goes with `project`".into(),
                    "remove it",
                );
            }
        }
        (None, Some(per_source)) => {
            for s in &det.sources {
                if !per_source.contains_key(s) {
                    cx.err(
                        &p.key("project"),
                        DiagKind::Semantics,
                        format!("no projection for source `{s}`"),
                        "give each source of the detection its column list",
                    );
                }
            }
            for (s, fields) in per_source {
                let sp = p.key("project").key(s.name());
                if !det.sources.contains(s) {
                    cx.err_key(
                        &sp,
                        DiagKind::Semantics,
                        format!("the detection does not read source `{s}`"),
                        "remove it or add it to `sources`",
                    );
                }
                if fields.is_empty() {
                    cx.err(
                        &sp,
                        DiagKind::Value,
                        "empty column list".into(),
                        "name at least one field",
                    );
                }
                for (i, f) in fields.iter().enumerate() {
                    output_field(*f, &sp.index(i), cx);
                }
                if let Some(o) = &out.order_by {
                    if !fields.contains(&o.field) {
                        cx.err(
                            &p.key("order_by").key("field"),
                            DiagKind::Semantics,
                            format!(
                                "`{}` is not among the projected fields of source `{s}`",
                                o.field
                            ),
                            "sort by a projected field",
                        );
                    }
                }
            }
        }
    }
}
