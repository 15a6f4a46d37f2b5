//! Spec → IR: resolve virtual fields, attach exclusions, compute defaults.

use super::*;
use crate::spec::spans_path as path;
use crate::spec::values::{HashAlgo, HashValue, IpPortValue};
use crate::spec::{FieldType, LoadedSpec, MatchKind, Predicate};

/// Lower a validated spec. Infallible: everything that can be wrong was rejected at load.
pub fn lower(loaded: &LoadedSpec) -> IrSpec {
    let s = &loaded.spec;
    let frequency = s
        .frequency
        .unwrap_or(Duration { minutes: 60 }.min(s.window));
    let detections = s
        .detections
        .iter()
        .map(|(id, d)| {
            let dp = path(&["detections", id.as_str()]);
            let exclusions = s
                .exclusions
                .iter()
                .filter(|(_, ex)| ex.applies_to.as_ref().is_none_or(|ids| ids.contains(id)))
                .map(|(xid, ex)| {
                    let xp = path(&["exclusions", xid.as_str()]);
                    let sources = d
                        .sources
                        .iter()
                        .copied()
                        .filter(|src| ex.sources.as_ref().is_none_or(|ss| ss.contains(src)))
                        .collect();
                    IrExclusion {
                        id: xid.to_string(),
                        reason: ex.reason.to_string(),
                        sources,
                        expr: lower_pred(&ex.predicate, loaded, &xp.key("where")),
                        span: loaded.index.nearest(&xp),
                    }
                })
                .filter(|x| !x.sources.is_empty())
                .collect();
            let output = match (&d.output.summarize, &d.output.project) {
                (Some(by), _) => IrOutput::Summarize(by.clone()),
                (None, Some(cols)) => IrOutput::Project {
                    columns: cols.clone(),
                    order_by: d.output.order_by.as_ref().map(|o| (o.field, o.direction)),
                },
                (None, None) => unreachable!("validation requires an output"),
            };
            IrDetection {
                id: id.to_string(),
                title: d.title.to_string(),
                category: d.category,
                sources: d.sources.clone(),
                expr: lower_pred(&d.predicate, loaded, &dp.key("where")),
                exclusions,
                output,
                time_filter: d.time_filter,
                gaps: d.gaps.iter().map(|(b, r)| (*b, r.to_string())).collect(),
                // a `BACKEND/MAPPING` entry only under that mapping (chosen before loading)
                unsupported: d
                    .unsupported
                    .iter()
                    .filter(|(k, _)| k.applies())
                    .map(|(k, r)| (k.backend, r.to_string()))
                    .collect(),
                span: loaded.index.nearest(&dp),
            }
        })
        .collect();
    IrSpec {
        id: s.id.to_string(),
        vendor: s.vendor.to_string(),
        description: s.description.to_string(),
        references: s.references.iter().map(ToString::to_string).collect(),
        author: s
            .author
            .as_ref()
            .map_or_else(|| "rmmc".to_string(), ToString::to_string),
        date: s.date.0.clone(),
        modified: s.modified.as_ref().map(|d| d.0.clone()),
        severity: s.severity,
        tactics: s.attack.tactics.clone(),
        techniques: s.attack.techniques.iter().map(|t| t.0.clone()).collect(),
        window: s.window,
        frequency,
        file: loaded.file.clone(),
        detections,
    }
}

fn lower_pred(p: &Predicate, l: &LoadedSpec, at: &crate::spec::YamlPath) -> Expr {
    let many = |key: &str, items: &[Predicate]| -> Vec<Expr> {
        items
            .iter()
            .enumerate()
            .map(|(i, x)| lower_pred(x, l, &at.key(key).index(i)))
            .collect()
    };
    match p {
        Predicate::All(v) => Expr::All(many("all", v)),
        Predicate::Any(v) => Expr::Any(many("any", v)),
        Predicate::Not(x) => Expr::Not(Box::new(lower_pred(x, l, &at.key("not")))),
        Predicate::Match(m) => {
            let span = l.index.key(&at.key(m.field.name()));
            let list = m.name.as_ref().map(|n| n.0.clone());
            let leaf = |field: Field, test: Test| {
                Expr::Match(Match {
                    field,
                    test,
                    list: list.clone(),
                    span,
                })
            };
            let text = |op, vals: Vec<String>| Test::Text {
                op,
                values: vals,
                cased: m.cased,
            };
            let strs = |v: &[_]| -> Vec<String> {
                v.iter()
                    .map(|x: &crate::spec::values::SubstringValue| x.0.clone())
                    .collect()
            };
            match &m.kind {
                MatchKind::Term(v) => leaf(
                    m.field,
                    text(TextOp::Term, v.iter().map(|x| x.0.clone()).collect()),
                ),
                MatchKind::Exact(v) => leaf(
                    m.field,
                    text(TextOp::Exact, v.iter().map(|x| x.0.clone()).collect()),
                ),
                MatchKind::Contains(v) => leaf(m.field, text(TextOp::Contains, strs(v))),
                MatchKind::Prefix(v) => leaf(m.field, text(TextOp::Prefix, strs(v))),
                MatchKind::Suffix(v) => leaf(m.field, text(TextOp::Suffix, strs(v))),
                MatchKind::Domain(v) => leaf(
                    m.field,
                    Test::Domain(v.iter().map(|x| x.0.clone()).collect()),
                ),
                MatchKind::Ip(v) => leaf(m.field, Test::Ip(v.iter().map(|x| x.0).collect())),
                MatchKind::Cidr(v) => leaf(m.field, Test::Cidr(v.clone())),
                MatchKind::Port(v) => leaf(m.field, Test::Port(v.iter().map(|x| x.0).collect())),
                MatchKind::Hash(v) => lower_hashes(m.field, v, span),
                MatchKind::IpPort(v) => lower_endpoints(m.field, v, span),
            }
        }
    }
}

/// `*_hash: {hash: [...]}` → one digest match per algorithm present, on that algorithm's field.
fn lower_hashes(field: Field, values: &[HashValue], span: Option<Span>) -> Expr {
    let FieldType::HashGroup { md5, sha1, sha256 } = field.ty() else {
        unreachable!("validation allows hash only on hash groups")
    };
    let mut parts = Vec::new();
    for (algo, name) in [
        (HashAlgo::Md5, md5),
        (HashAlgo::Sha1, sha1),
        (HashAlgo::Sha256, sha256),
    ] {
        let mut vals: Vec<String> = values
            .iter()
            .filter(|h| h.algo == algo)
            .map(|h| h.hex.clone())
            .collect();
        vals.dedup();
        if !vals.is_empty() {
            parts.push(Expr::Match(Match {
                field: Field::known(name),
                test: Test::Digest(vals),
                list: None,
                span,
            }));
        }
    }
    one_or_any(parts)
}

/// `remote_endpoint: {ip_port: [...]}` → per port: ip in (...) and port == p.
fn lower_endpoints(field: Field, values: &[IpPortValue], span: Option<Span>) -> Expr {
    let FieldType::Endpoint { ip, port } = field.ty() else {
        unreachable!("validation allows ip_port only on endpoint fields")
    };
    let mut by_port: IndexMap<u16, Vec<IpAddr>> = IndexMap::new();
    for v in values {
        let ips = by_port.entry(v.port).or_default();
        if !ips.contains(&v.ip) {
            ips.push(v.ip);
        }
    }
    let m = |f: &str, test| {
        Expr::Match(Match {
            field: Field::known(f),
            test,
            list: None,
            span,
        })
    };
    one_or_any(
        by_port
            .into_iter()
            .map(|(p, ips)| Expr::All(vec![m(ip, Test::Ip(ips)), m(port, Test::Port(vec![p]))]))
            .collect(),
    )
}

fn one_or_any(mut parts: Vec<Expr>) -> Expr {
    if parts.len() == 1 {
        parts.pop().expect("one part")
    } else {
        Expr::Any(parts)
    }
}
