//! Settling a lifted detection with the backends: gaps, dropped outputs and unsupported backends, from the typed diagnostic causes.

use super::*;

// ---------------------------------------------------------------------------------------------
// Gaps and the round trip

/// What the backends say about one lifted detection, compiled as it stands.
pub(super) fn compile(draft: &Draft, det: &DraftDetection) -> Option<build::BuildResult> {
    let mut d = draft.clone();
    d.detections = vec![det.clone()];
    let name = format!("{}.yaml", d.id);
    let loaded = crate::spec::load_str(Path::new(&name), &d.render("2000-01-01")).ok()?;
    Some(build::compile(
        std::slice::from_ref(&loaded),
        &BuildOptions {
            targets: Target::all().to_vec(),
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
pub(super) fn settle(
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
pub(super) fn unbuildable(res: &build::BuildResult) -> Vec<BackendName> {
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
pub(super) fn mark_unsupported(
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
pub(super) fn drop_unbuildable_outputs(
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

pub(super) fn pred_fields(p: &Pred) -> Vec<String> {
    match p {
        Pred::All(v) | Pred::Any(v) => v.iter().flat_map(pred_fields).collect(),
        Pred::Not(x) => pred_fields(x),
        Pred::Match { field, .. } => vec![field.clone()],
    }
}

/// The events a backend's table holds, in words.
pub(super) fn event_words(backend: BackendName, on: Category, table: Option<&str>) -> String {
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

pub(super) fn field_words(field: &str) -> String {
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
pub(super) type Lacking = BTreeMap<BackendName, (Vec<String>, Vec<String>)>;

/// What each backend reports its table lacks for the detection (compiled without gaps: each
/// backend reports every part it cannot build).
pub(super) fn lacking(res: &build::BuildResult, det: &DraftDetection) -> Lacking {
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
pub(super) fn gap_reasons(
    lacking: &Lacking,
    det: &DraftDetection,
    l: &Lifted,
) -> Vec<(BackendName, String)> {
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
pub(super) fn gap_notes(
    lacking: &Lacking,
    det: &DraftDetection,
    l: &Lifted,
) -> Vec<(BackendName, Note)> {
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
