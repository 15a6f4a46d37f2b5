//! The backends' declarations (a wider or narrower rendering, a gap) as verify uses them:
//! what each declared rendering computes on an event, modeled from the mapping data, so a
//! difference from the spec is excused only where the declaration predicts it.

use super::*;

/// A narrower declaration that comes from the table's column (`remote_domain` is matched on
/// `DestinationHostname` only, so an inbound connection's `SourceHostname` is missed) is
/// about data the native events never hold: they put each canonical field on the column
/// the artifact matches. It cannot excuse a missed match on them, so it is not offered.
pub(super) fn unexercised(table: Option<&TableMap>, r: &Rendering) -> bool {
    let Some(field) = r.predicate.split(' ').next().and_then(Field::lookup) else {
        return false;
    };
    let Some(col) = table.and_then(|t| t.column(field)) else {
        return false;
    };
    r.fidelity == Fidelity::Narrower
        && col.fidelity.0 == Fidelity::Narrower
        && col.fidelity.1 == r.note.as_deref()
        && col.match_on.contains(&col.project)
}

/// The declared renderings of one rule in one backend, by (part, predicate).
pub(super) type Notes<'a> = [&'a Rendering];

/// The declared inexact rendering of `m` in `part`, if any.
pub(super) fn note_of<'r>(notes: &Notes<'r>, part: &str, m: &Match) -> Option<&'r Rendering> {
    let pred = m.to_string();
    notes
        .iter()
        .copied()
        .find(|r| r.part == part && r.predicate == pred && r.fidelity != Fidelity::Exact)
}

/// What one backend's rendering of a match computes on a canonical event, where a declared
/// inexact rendering makes it differ from the spec's match. Each effect is modeled exactly
/// from the mapping data, never guessed from the declaration's direction:
/// - a column matched on several native columns (`remote_ip` on `DestinationIp` or
///   `SourceIp`): the value tested on every canonical field those columns hold;
/// - a narrower column (`DestinationHostname` only): exact on verify's native events, which
///   put each field on the column that is checked;
/// - Elasticsearch `ip` fields index an IPv4-mapped IPv6 address as its IPv4 address
///   (`kinds` in `backends/elastic.yaml`);
/// - KQL and SPL compare IPv6 addresses as text in their compressed lower-case form;
/// - KQL's text operators fold ASCII letters only and end terms at Unicode letters and digits
///   (`ir::KUSTO`, `kinds` in `backends/kql.yaml`).
///
/// `None` where the declaration's effect is not modeled (a base name holding `\`, matched
/// on the whole path): such a declaration explains nothing.
fn rendered_eval(
    m: &Match,
    backend: BackendName,
    table: Option<&TableMap>,
    ev: &Event,
) -> Option<bool> {
    use crate::ir::Test;
    let col = table.and_then(|t| t.column(m.field));
    if let (Some(c), Test::Text { values, .. }) = (&col, &m.test) {
        if c.basename && values.iter().any(|v| v.contains('\\')) {
            return None;
        }
    }
    let mut fields = vec![m.field];
    if let (Some(t), Some(c)) = (table, &col) {
        if c.fidelity.0 == Fidelity::Wider && c.match_on.len() > 1 {
            // the canonical fields whose own column is one of the others matched on
            for (name, _) in &t.columns {
                let Some(f) = Field::lookup(name) else {
                    continue;
                };
                let holds = t.column(f).is_some_and(|o| c.match_on.contains(&o.project));
                if f != m.field && holds {
                    fields.push(f);
                }
            }
        }
    }
    let mapped_v4 = backend == BackendName::Elastic
        && matches!(m.test, Test::Ip(_) | Test::Cidr(_))
        && crate::backend::eql::data()
            .kinds
            .get(if matches!(m.test, Test::Ip(_)) {
                "ip"
            } else {
                "cidr"
            })
            .is_some_and(|k| k.fidelity == Fidelity::Wider);
    let v6_text = matches!(backend, BackendName::Kql | BackendName::Splunk);
    Some(fields.into_iter().any(|f| {
        let at = Match {
            field: f,
            ..m.clone()
        };
        let raw = ev.0.get(f.name()).and_then(|v| v.as_str()).unwrap_or("");
        match &m.test {
            Test::Ip(ips) if v6_text && ips.iter().any(std::net::IpAddr::is_ipv6) => {
                ips.iter().any(|ip| match ip {
                    std::net::IpAddr::V6(_) => raw == ip.to_string(),
                    std::net::IpAddr::V4(_) => raw.parse::<std::net::IpAddr>() == Ok(*ip),
                })
            }
            Test::Ip(_) | Test::Cidr(_) if mapped_v4 => {
                let ip = match raw.parse::<std::net::IpAddr>() {
                    Ok(std::net::IpAddr::V6(v6)) => v6
                        .to_ipv4_mapped()
                        .map_or(std::net::IpAddr::V6(v6), std::net::IpAddr::V4),
                    Ok(ip) => ip,
                    Err(_) => return false,
                };
                let mut one = ev.clone();
                one.0.insert(f.name().into(), ip.to_string().into());
                at.eval(&one)
            }
            // Kusto folds ASCII only and counts Unicode letters and digits as term characters
            _ if backend == BackendName::Kql => at.eval_in(&crate::ir::KUSTO, ev),
            _ => at.eval(ev),
        }
    }))
}

/// The rule's verdict on `ev` as the backend computes it, given its declared renderings:
/// an inexpressible match is dropped (per the gap policy, the constant that widens the
/// rule: true unless under `not`), an inexact one evaluated as `rendered_eval` models it.
/// `None` when a declaration that matters here is not modeled.
pub(super) fn rendered_rule(
    det: &IrDetection,
    ev: &Event,
    source: Source,
    exclusions: bool,
    notes: &Notes,
    backend: BackendName,
    table: Option<&TableMap>,
) -> Option<bool> {
    fn walk(
        e: &Expr,
        ev: &Event,
        positive: bool,
        note: &dyn Fn(&Match) -> Option<Fidelity>,
        leaf: &dyn Fn(&Match) -> Option<bool>,
    ) -> Option<bool> {
        Some(match e {
            Expr::All(v) => {
                let mut all = true;
                for x in v {
                    all &= walk(x, ev, positive, note, leaf)?;
                }
                all
            }
            Expr::Any(v) => {
                let mut any = false;
                for x in v {
                    any |= walk(x, ev, positive, note, leaf)?;
                }
                any
            }
            Expr::Not(x) => !walk(x, ev, !positive, note, leaf)?,
            Expr::Match(m) => match note(m) {
                Some(Fidelity::Inexpressible) => positive,
                Some(_) => leaf(m)?,
                None => m.eval(ev),
            },
        })
    }
    let leaf = |m: &Match| rendered_eval(m, backend, table, ev);
    let part_note = |part: String| move |m: &Match| note_of(notes, &part, m).map(|r| r.fidelity);
    let hit = walk(&det.expr, ev, true, &part_note("detection".into()), &leaf)?;
    if !(hit && exclusions) {
        return Some(hit);
    }
    for x in det
        .exclusions
        .iter()
        .filter(|x| x.sources.contains(&source))
    {
        if walk(
            &x.expr,
            ev,
            false,
            &part_note(format!("exclusion {}", x.id)),
            &leaf,
        )? {
            return Some(false);
        }
    }
    Some(true)
}

/// Does what the backend declared explain `actual` where the spec says `expected`? Only if
/// the rule, with every declared rendering evaluated as the backend computes it on this very
/// event (`rendered_rule`), gives the artifact's verdict: a wider IP column explains a hit
/// only when the address is on the other end of this event's connection, and never a
/// dropped exclusion. Returns the declarations that matter (those whose removal changes the
/// modeled verdict, or all of them).
#[allow(clippy::too_many_arguments)]
pub(super) fn explain(
    notes: &Notes,
    det: &IrDetection,
    ev: &Event,
    source: Source,
    exclusions: bool,
    actual: bool,
    backend: BackendName,
    table: Option<&TableMap>,
) -> Option<String> {
    let lossy: Vec<&Rendering> = notes
        .iter()
        .copied()
        .filter(|r| r.fidelity != Fidelity::Exact)
        .collect();
    let model = |ns: &Notes| rendered_rule(det, ev, source, exclusions, ns, backend, table);
    if lossy.is_empty() || model(&lossy) != Some(actual) {
        return None;
    }
    let needed: Vec<&Rendering> = lossy
        .iter()
        .copied()
        .filter(|r| {
            let without: Vec<&Rendering> = lossy
                .iter()
                .copied()
                .filter(|o| !std::ptr::eq(*o, *r))
                .collect();
            model(&without) != Some(actual)
        })
        .collect();
    let why = if needed.is_empty() { &lossy } else { &needed };
    Some(
        why.iter()
            .map(|r| {
                format!(
                    "{} rendering of `{}` ({}): {}",
                    crate::backend::common::fidelity_word(r.fidelity),
                    r.predicate,
                    r.part,
                    r.note.clone().unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SPEC: &str = "id: t\nvendor: T\ndescription: d\nreferences: []\nauthor: a\ndate: 2026-05-31\nseverity: low\n\
        attack: { tactics: [CommandAndControl], techniques: [T1219] }\nwindow: 1d\n\
        detections:\n  d:\n    title: D\n    category: network\n    where:\n      remote_ip: { ip: [1.2.3.4] }\n    output:\n      summarize: [device_name]\n\
        exclusions:\n  x:\n    reason: r\n    applies_to: [d]\n    where:\n      initiating_command_line: { contains: [maint] }\n";

    fn note(part: &str, predicate: &str, fidelity: Fidelity) -> Rendering {
        Rendering {
            spec: "t".into(),
            detection: "d".into(),
            source: Source::Endpoint,
            backend: BackendName::Sigma,
            part: part.into(),
            predicate: predicate.into(),
            rendered: String::new(),
            fidelity,
            note: Some("why".into()),
        }
    }

    /// (declarations, event, the artifact's verdict, explained?). Each declaration is
    /// evaluated as the backend computes it, on that very event: Sigma's `remote_ip` is
    /// matched on `DestinationIp` or `SourceIp` (backends/sigma.yaml), so a wider hit is
    /// explained only when the address is the event's `local_ip`.
    #[test]
    fn declarations_explain_only_what_they_compute() {
        let spec = crate::spec::load_str(std::path::Path::new("t.yaml"), SPEC).unwrap();
        let ir = crate::ir::lower(&spec);
        let det = &ir.detections[0];
        let ip = "remote_ip ip [1.2.3.4]";
        let cmd = "initiating_command_line contains [maint]";
        let wider_ip = note("detection", ip, Fidelity::Wider);
        let dropped = note("exclusion x", cmd, Fidelity::Inexpressible);
        let narrower_cmd = note("exclusion x", cmd, Fidelity::Narrower);
        let wider_cmd = note("exclusion x", cmd, Fidelity::Wider);
        let other = json!({"remote_ip": "9.9.9.9"});
        let local = json!({"remote_ip": "9.9.9.9", "local_ip": "1.2.3.4"});
        let hit = json!({"remote_ip": "1.2.3.4"});
        let excluded = json!({"remote_ip": "1.2.3.4", "initiating_command_line": "run maint"});
        let cases: Vec<(Vec<&Rendering>, serde_json::Value, bool, bool)> = vec![
            (vec![&wider_ip], local.clone(), true, true),
            // the wider column does not match an address on neither end
            (vec![&wider_ip], other.clone(), true, false),
            (vec![&wider_ip], excluded.clone(), true, false), // nor excuse a dropped exclusion
            (vec![&wider_ip], hit.clone(), false, false),     // nor a missed match
            (vec![&dropped], excluded.clone(), true, true),
            (vec![&dropped], other.clone(), true, false),
            (vec![&dropped], hit.clone(), false, false),
            // a value-level declaration rmmc has no model of explains nothing
            (vec![&narrower_cmd], excluded.clone(), true, false),
            (vec![&wider_cmd], hit.clone(), false, false),
            (vec![&wider_ip, &dropped], excluded.clone(), true, true),
            (
                vec![&wider_ip, &dropped],
                json!({"local_ip": "1.2.3.4", "initiating_command_line": "maint"}),
                true,
                true,
            ),
            (vec![], other, true, false),
        ];
        let table = table_for(
            crate::mappings::tables(crate::spec::BackendName::Sigma),
            crate::spec::Category::Network,
            Source::Endpoint,
        );
        let run = |notes: &[&Rendering], ev: &Event, exclusions: bool, actual: bool| {
            explain(
                notes,
                det,
                ev,
                Source::Endpoint,
                exclusions,
                actual,
                BackendName::Sigma,
                table,
            )
        };
        for (notes, ev, actual, want) in cases {
            let ev = Event(ev.as_object().unwrap().clone());
            let got = run(&notes, &ev, true, actual);
            assert_eq!(got.is_some(), want, "{notes:?} {ev:?} {actual}: {got:?}");
        }
        // nothing declared explains nothing; with exclusions off a dropped exclusion cannot
        // excuse a missed match
        let ev = Event(excluded.as_object().unwrap().clone());
        assert!(run(&[], &ev, true, true).is_none());
        assert!(run(&[&dropped], &ev, false, false).is_none());
    }

    /// The action1/netconn shape (issue 13): the company and product are dropped on Sysmon
    /// (declared gaps) and the exclusions' IPs are matched on either end (wider). An artifact
    /// whose domain was edited misses the spec's hits; nothing declared computes that miss,
    /// so nothing explains it. Before, a wider exclusion IP was taken as "could be true" and
    /// explained every such miss.
    #[test]
    fn gaps_and_wider_exclusion_columns_do_not_excuse_a_wrong_domain() {
        let spec = crate::spec::load_file(std::path::Path::new("rules/action1.yaml")).unwrap();
        let ir = crate::ir::lower(&spec);
        let det = &ir.detections[0];
        let opts = crate::build::BuildOptions {
            targets: vec![crate::build::Target::Sigma],
            exclusions: true,
        };
        let built = crate::build::compile(std::slice::from_ref(&spec), &opts);
        let notes: Vec<&Rendering> = built
            .renderings
            .iter()
            .filter(|r| r.backend == BackendName::Sigma && r.fidelity != Fidelity::Exact)
            .collect();
        assert!(notes.iter().any(|r| r.fidelity == Fidelity::Inexpressible));
        assert!(notes.iter().any(|r| r.fidelity == Fidelity::Wider));
        let table = table_for(
            crate::mappings::tables(crate::spec::BackendName::Sigma),
            crate::spec::Category::Network,
            Source::Endpoint,
        );
        let hit = Event(
            json!({"remote_domain": "server.action1.com", "initiating_company": "Action1",
                   "initiating_product": "Action1", "initiating_process_name": "agent.exe",
                   "remote_ip": "203.0.113.5", "local_ip": "192.168.1.20"})
            .as_object()
            .unwrap()
            .clone(),
        );
        assert!(det.matches(&hit, Source::Endpoint, true));
        let why = explain(
            &notes,
            det,
            &hit,
            Source::Endpoint,
            true,
            false,
            BackendName::Sigma,
            table,
        );
        assert!(why.is_none(), "{why:?}");
        // an exclusion address on the local end is what the wider column really explains
        let mut local = hit.clone();
        local.0.insert("local_ip".into(), json!("10.10.10.10"));
        let why = explain(
            &notes,
            det,
            &local,
            Source::Endpoint,
            true,
            false,
            BackendName::Sigma,
            table,
        );
        assert!(why.is_some_and(|w| w.contains("10.10.10.10")));
        // and the dropped company: an event of another company is a declared hit
        let mut other = hit.clone();
        other
            .0
            .insert("initiating_company".into(), json!("Contoso"));
        let why = explain(
            &notes,
            det,
            &other,
            Source::Endpoint,
            true,
            true,
            BackendName::Sigma,
            table,
        );
        assert!(why.is_some_and(|w| w.contains("initiating_company")));
    }

    #[test]
    fn narrower_column_declarations_are_not_offered() {
        let sigma = crate::mappings::tables(crate::spec::BackendName::Sigma);
        let t = table_for(sigma, crate::spec::Category::Network, Source::Endpoint);
        let col = t.unwrap().column(Field::known("remote_domain")).unwrap();
        let mut r = note(
            "detection",
            "remote_domain term [x.com]",
            Fidelity::Narrower,
        );
        r.note = col.fidelity.1.map(str::to_string);
        assert!(unexercised(t, &r));
        // a narrower rendering of the value itself (not the column's note) stays an excuse
        r.note = Some("the regex cannot fold this character".into());
        assert!(!unexercised(t, &r));
        // a wider column (either end of the connection) is exercised by local_ip
        let ipcol = t.unwrap().column(Field::known("remote_ip")).unwrap();
        let mut w = note("detection", "remote_ip ip [1.2.3.4]", Fidelity::Wider);
        w.note = ipcol.fidelity.1.map(str::to_string);
        assert!(!unexercised(t, &w));
    }
}
