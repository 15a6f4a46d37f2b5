//! Name and type binding of a parsed query against the real table schemas
//! (`backends/kql-schema.json`): the checks Kusto makes before it runs anything. A query that
//! names a column its table lacks (`AccountUpn` on DeviceNetworkEvents), spells one in the wrong
//! case (`Sha1` for `SHA1`: Kusto names are case-sensitive), or applies a string operator to a
//! number is refused with the name and a suggestion.

use super::ast::{Agg, CmpOp, Expr, Op, Query};
use indexmap::IndexMap;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Column → Kusto type (`string`, `int`, `long`, `datetime`, `bool`, `dynamic`, `real`).
pub type Columns = IndexMap<String, String>;

/// Every known table's columns, and the ASIM parser functions' (`_Im_NetworkSession`: a query
/// names one bare, as a table, and gets its schema's columns).
pub fn schemas() -> &'static BTreeMap<String, Columns> {
    static S: OnceLock<BTreeMap<String, Columns>> = OnceLock::new();
    S.get_or_init(|| {
        let raw: BTreeMap<String, String> =
            serde_json::from_str(include_str!("../../../backends/kql-schema.json"))
                .unwrap_or_else(|e| panic!("backends/kql-schema.json: {e}"));
        // `_comment` is prose; `_Im_…` are the ASIM parser functions, read like tables
        raw.into_iter()
            .filter(|(t, _)| t != "_comment")
            .map(|(t, cols)| {
                let cols = cols
                    .split(',')
                    .filter_map(|c| c.trim().split_once(':'))
                    .map(|(n, ty)| (n.trim().to_string(), ty.trim().to_string()))
                    .collect();
                (t, cols)
            })
            .collect()
    })
}

/// Check `q` against the schemas; every problem found, as a message.
pub fn check(q: &Query) -> Vec<String> {
    let Some(table) = schemas().get(&q.table) else {
        return vec![format!(
            "unknown table `{}`; known: {}",
            q.table,
            schemas().keys().cloned().collect::<Vec<_>>().join(", ")
        )];
    };
    let mut errors = Vec::new();
    let lets: Vec<&str> = q.lets.iter().map(|(n, _)| n.as_str()).collect();
    // the columns in scope, with types ("" = unknown type, e.g. an aggregate)
    let mut scope: IndexMap<String, String> = table.clone();
    for op in &q.ops {
        match op {
            Op::Where(e) => walk(e, &q.table, &scope, &lets, &mut errors),
            Op::Summarize { aggs, by } => {
                for (_, a) in aggs {
                    if let Agg::Min(e) | Agg::Max(e) | Agg::MakeSet(e) | Agg::DCount(e) = a {
                        walk(e, &q.table, &scope, &lets, &mut errors);
                    }
                }
                let mut next = IndexMap::new();
                for b in by {
                    match scope.get(b) {
                        Some(ty) => {
                            next.insert(b.clone(), ty.clone());
                        }
                        None => errors.push(unknown(b, &q.table, &scope)),
                    }
                }
                for (name, _) in aggs {
                    next.insert(name.clone(), String::new());
                }
                scope = next;
            }
            Op::Project(cols) => {
                let mut next = IndexMap::new();
                for (name, e) in cols {
                    walk(e, &q.table, &scope, &lets, &mut errors);
                    let ty = match e {
                        Expr::Name(n) => scope.get(n).cloned().unwrap_or_default(),
                        _ => String::new(),
                    };
                    next.insert(name.clone(), ty);
                }
                scope = next;
            }
            Op::OrderBy(keys) => {
                for (k, _) in keys {
                    if !scope.contains_key(k) {
                        errors.push(unknown(k, &q.table, &scope));
                    }
                }
            }
            Op::Take(_) => {}
        }
    }
    errors.dedup();
    errors
}

fn unknown(name: &str, table: &str, scope: &IndexMap<String, String>) -> String {
    let lower = name.to_ascii_lowercase();
    let same_case = scope.keys().find(|c| c.to_ascii_lowercase() == lower);
    let ending = scope
        .keys()
        .filter(|c| c.len() > name.len() && c.ends_with(name))
        .min_by_key(|c| c.len());
    let hint = match (same_case, ending) {
        (Some(c), _) => format!("; column names are case-sensitive: did you mean `{c}`?"),
        (None, Some(c)) => format!("; did you mean `{c}`?"),
        _ => String::new(),
    };
    format!("`{name}` is not a column of {table} at this point of the query{hint}")
}

fn walk(
    e: &Expr,
    table: &str,
    scope: &IndexMap<String, String>,
    lets: &[&str],
    errors: &mut Vec<String>,
) {
    match e {
        Expr::Name(n) => {
            if !scope.contains_key(n) && !lets.contains(&n.as_str()) {
                errors.push(unknown(n, table, scope));
            }
        }
        Expr::Lit(_) | Expr::Dynamic(_) => {}
        Expr::Call(_, args) => args
            .iter()
            .for_each(|a| walk(a, table, scope, lets, errors)),
        Expr::Not(x) | Expr::Neg(x) => walk(x, table, scope, lets, errors),
        Expr::And(a, b) | Expr::Or(a, b) => {
            walk(a, table, scope, lets, errors);
            walk(b, table, scope, lets, errors);
        }
        Expr::Cmp(op, a, b) => {
            walk(a, table, scope, lets, errors);
            walk(b, table, scope, lets, errors);
            if let (CmpOp::Str { op, .. }, Expr::Name(n)) = (op, a.as_ref()) {
                string_operand(op.name(), n, scope, errors);
            }
        }
        Expr::HasAny { lhs, items, all } => {
            walk(lhs, table, scope, lets, errors);
            items
                .iter()
                .for_each(|i| walk(i, table, scope, lets, errors));
            if let Expr::Name(n) = lhs.as_ref() {
                string_operand(if *all { "has_all" } else { "has_any" }, n, scope, errors);
            }
        }
        Expr::In { lhs, items, .. } => {
            walk(lhs, table, scope, lets, errors);
            items
                .iter()
                .for_each(|i| walk(i, table, scope, lets, errors));
        }
        Expr::Between(a, b, c) => [a, b, c]
            .iter()
            .for_each(|x| walk(x, table, scope, lets, errors)),
    }
}

/// Every `not(...)` in a `where` whose operand can be null on some row: `not(null)` is null,
/// and "The where operator ... treats null values as bool(false)", so such a row is dropped
/// where the spec, whose unparsable addresses never match, keeps it (issue 14: every IPv6 hit
/// lost under an IPv4 range exclusion). The fix is `not(<test> == true)`.
pub fn null_hazards(q: &Query) -> Vec<String> {
    let Some(table) = schemas().get(&q.table) else {
        return Vec::new();
    };
    fn find(e: &Expr, scope: &IndexMap<String, String>, out: &mut Vec<String>) {
        match e {
            Expr::Not(x) => match null_source(x, scope) {
                Some(why) => out.push(format!(
                    "`not(...)` over {why}: where a row makes it null, `not` is null too and `where` drops the row instead of keeping it"
                )),
                None => find(x, scope, out),
            },
            Expr::And(a, b) | Expr::Or(a, b) => {
                find(a, scope, out);
                find(b, scope, out);
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for op in &q.ops {
        match op {
            Op::Where(e) => find(e, table, &mut out),
            // later stages have other columns; the emitted queries filter before them
            _ => break,
        }
    }
    out
}

/// Why `e` can be null on some row, if it can (learn.microsoft.com/kusto/query/
/// scalar-data-types/null-values): `ipv4_is_in_range` / `ipv6_is_in_range` are "`null`: If
/// conversion for one of the two IP strings wasn't successful" (an address of the other family,
/// an empty column); an ordering comparison with a null value is null; `and` / `or` pass a null
/// on. An equality with a non-null literal is never null ("Applying the equality operator to a
/// null value and a non-null value yields bool(false)"), and strings are never null.
fn null_source(e: &Expr, scope: &IndexMap<String, String>) -> Option<String> {
    let non_string_column = |x: &Expr| match x {
        Expr::Name(n) => scope
            .get(n)
            .is_some_and(|t| !matches!(t.as_str(), "string" | "")),
        _ => false,
    };
    match e {
        Expr::Call(f, _) if matches!(f.as_str(), "ipv4_is_in_range" | "ipv6_is_in_range") => Some(
            format!("`{f}(...)`, which is null for a value that is not an address of its family"),
        ),
        Expr::Cmp(CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge, a, b)
            if non_string_column(a) || non_string_column(b) =>
        {
            Some("an ordering comparison of a column that can be null".into())
        }
        Expr::Cmp(CmpOp::Eq | CmpOp::Ne, a, b) => match (a.as_ref(), b.as_ref()) {
            (Expr::Lit(_), _) | (_, Expr::Lit(_)) => None,
            _ => null_source(a, scope).or_else(|| null_source(b, scope)),
        },
        Expr::Not(x) => null_source(x, scope),
        Expr::And(a, b) | Expr::Or(a, b) => null_source(a, scope).or_else(|| null_source(b, scope)),
        _ => None,
    }
}

/// String operators take strings (or dynamic); on a number Kusto refuses the query.
fn string_operand(op: &str, col: &str, scope: &IndexMap<String, String>, errors: &mut Vec<String>) {
    if let Some(ty) = scope.get(col) {
        if !matches!(ty.as_str(), "string" | "dynamic" | "") {
            errors.push(format!(
                "`{op}` needs a string, but `{col}` is {ty}; compare numbers with == or in"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::kql::parser::parse;

    fn errs(q: &str) -> Vec<String> {
        check(&parse(q).unwrap_or_else(|e| panic!("{e}: {q}")))
    }

    #[test]
    fn binding_cases() {
        let ok = [
            "let t = now(-5d);\nDeviceNetworkEvents | where Timestamp between (t..now()) | where RemoteUrl has 'x' | summarize FirstSeen=min(Timestamp), Count=count() by DeviceId, RemoteUrl | order by FirstSeen desc",
            "DeviceProcessEvents | where SHA1 in~ ('a') | project Timestamp, FileName | order by Timestamp desc",
            "CommonSecurityLog | where DestinationPort == 443 | project TimeGenerated, DestinationIP",
        ];
        for q in ok {
            assert_eq!(errs(q), Vec::<String>::new(), "{q}");
        }
        let bad: &[(&str, &str)] = &[
            ("DeviceNetworkEvents | summarize Count=count() by DeviceId, AccountUpn", "did you mean `InitiatingProcessAccountUpn`"),
            ("DeviceProcessEvents | where Sha1 in ('a')", "case-sensitive: did you mean `SHA1`"),
            ("DeviceNetworkEvents | where RemotePort has '443'", "`has` needs a string, but `RemotePort` is int"),
            ("DeviceNetworkEvent | where RemoteUrl has 'x'", "unknown table `DeviceNetworkEvent`"),
            ("DeviceNetworkEvents | project DeviceId | where RemoteUrl has 'x'", "`RemoteUrl` is not a column"),
            ("DeviceNetworkEvents | summarize Count=count() by DeviceId | order by Timestamp desc", "`Timestamp` is not a column"),
        ];
        for (q, want) in bad {
            let got = errs(q);
            assert!(got.iter().any(|m| m.contains(want)), "{q}: {got:?}");
        }
    }

    /// A `not` over a value that can be null drops the row (learn.microsoft.com/kusto/query/
    /// scalar-data-types/null-values: "The where operator ... treats null values as
    /// bool(false)"; ipv4-is-in-range-function: "`null`: If conversion for one of the two IPv4
    /// strings wasn't successful"); equality with a non-null literal is never null.
    #[test]
    fn null_hazards_under_not() {
        let hazards = |q: &str| null_hazards(&parse(q).unwrap_or_else(|e| panic!("{e}: {q}")));
        let rows: &[(&str, Option<&str>)] = &[
            ("DeviceNetworkEvents | where not(ipv4_is_in_range(RemoteIP, '10.0.0.0/8'))", Some("`not(...)` over `ipv4_is_in_range(...)`")),
            ("DeviceNetworkEvents | where RemoteUrl has 'x' and not(RemotePort == 1 or ipv6_is_in_range(RemoteIP, 'fd00::/8'))", Some("`not(...)` over `ipv6_is_in_range(...)`")),
            ("DeviceNetworkEvents | where not(RemotePort > 1024)", Some("an ordering comparison")),
            ("DeviceNetworkEvents | where not(ipv4_is_in_range(RemoteIP, '10.0.0.0/8') == true)", None),
            ("DeviceNetworkEvents | where not(RemotePort == 443) and not(RemotePort in (1, 2))", None),
            ("DeviceNetworkEvents | where not(RemoteUrl has 'x' or RemoteIP == '1.2.3.4')", None),
            ("DeviceNetworkEvents | where ipv4_is_in_range(RemoteIP, '10.0.0.0/8')", None),
        ];
        for (q, want) in rows {
            let got = hazards(q);
            match want {
                Some(w) => assert!(got.len() == 1 && got[0].contains(w), "{q}: {got:?}"),
                None => assert!(got.is_empty(), "{q}: {got:?}"),
            }
        }
    }
    /// A query on an ASIM unifying parser, written bare as the sentinel-asim mapping and the
    /// Azure-Sentinel ASIM rules write it (`_Im_NetworkSession | where …`), parses, binds
    /// against the parser's schema (ASIM/dev/ASimTester/ASimTester.csv: DstPortNumber int,
    /// DstIpAddr and EventOriginalUid string, TimeGenerated datetime) and runs over rows with
    /// ASIM columns; a Defender column or a string operator on the int port is refused.
    #[test]
    fn asim_parser_source_binds_and_runs() {
        use crate::eval::kql::interp::{run, Row, Value};
        let q = "let Time_start = now(-5d);\nlet Time_end = now();\n_Im_NetworkSession\n| where TimeGenerated between (Time_start..Time_end)\n| where DstFQDN has 'netsupportsoftware.com' and (DstIpAddr == '95.85.246.53' or SrcIpAddr == '95.85.246.53') and DstPortNumber == 443\n| summarize FirstSeen=min(TimeGenerated), Report=make_set(EventOriginalUid), Count=count() by DvcId, DvcHostname";
        assert_eq!(errs(q), Vec::<String>::new());
        assert_eq!(schemas()["_Im_NetworkSession"]["DstPortNumber"], "int");
        assert_eq!(schemas()["_Im_ProcessCreate"]["TimeGenerated"], "datetime");
        assert!(!schemas().contains_key("_comment"));
        let now: i128 = 1_780_000_000 * 1_000_000_000;
        let row = |fqdn: &str, port: i64, uid: &str| -> Row {
            [
                (
                    "TimeGenerated",
                    Value::DateTime(now - 3_600 * 1_000_000_000),
                ),
                ("DstFQDN", Value::Str(fqdn.into())),
                ("DstIpAddr", Value::Str("10.0.0.9".into())),
                ("SrcIpAddr", Value::Str("95.85.246.53".into())),
                ("DstPortNumber", Value::Long(port)),
                ("EventOriginalUid", Value::Str(uid.into())),
                ("DvcId", Value::Str("d1".into())),
                ("DvcHostname", Value::Str("host1".into())),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
        };
        let rows = vec![
            row("update.netsupportsoftware.com", 443, "1"),
            row("update.netsupportsoftware.com", 80, "2"),
            row("example.com", 443, "3"),
        ];
        let out = run(&parse(q).unwrap(), &rows, now).unwrap();
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0]["Count"], Value::Long(1));
        assert_eq!(out[0]["DvcHostname"], Value::Str("host1".into()));
        for (q, want) in [
            (
                "_Im_NetworkSession | where RemoteUrl has 'x'",
                "`RemoteUrl` is not a column of _Im_NetworkSession",
            ),
            (
                "_Im_NetworkSession | where DstPortNumber has '443'",
                "`DstPortNumber` is int",
            ),
            (
                "_Im_ProcessCreate | where FileName =~ 'x.exe'",
                "`FileName` is not a column of _Im_ProcessCreate",
            ),
        ] {
            let got = errs(q);
            assert!(got.iter().any(|m| m.contains(want)), "{q}: {got:?}");
        }
    }
}
