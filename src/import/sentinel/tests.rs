//! Unit tests of the Sentinel importer.

use super::lift::tabular_let;
use super::roundtrip::normalize;
use super::*;

/// Lift a one-`where` query on `table` (the corpus template around `cond`).
fn lift_where(table: &str, cond: &str) -> Result<(Pred, Vec<Note>), String> {
    let text = format!(
        "let Time_start = now(-5d);\nlet Time_end = now();\n//\n{table}\n| where Timestamp between (Time_start..Time_end)\n| where {cond}\n| summarize FirstSeen=min(Timestamp), LastSeen=max(Timestamp),\n    Report=make_set(ReportId), Count=count() by DeviceId, DeviceName\n"
    );
    let block = Block {
        text,
        first_line: 10,
        indent: 2,
        readme: String::new(),
    };
    let mut notes = Vec::new();
    match lift(&block, &mut notes) {
        Ok(l) => Ok((l.predicate, notes)),
        Err(Reject(n)) => Err(format!("{}:{}: {}", n.line, n.col, n.message)),
    }
}

fn m(field: &str, kind: &'static str, values: &[&str], cased: bool) -> Pred {
    Pred::Match {
        field: field.into(),
        kind,
        values: values.iter().map(|s| s.to_string()).collect(),
        cased,
    }
}

const NET: &str = "DeviceNetworkEvents";

/// A tabular `let` is told from the tokens, not from the parser's message: the parse
/// stopped at the `|` after a whole `let` value. A `|` where the value is unfinished, or
/// outside a `let`, is another syntax error.
#[test]
fn a_tabular_let_is_read_from_the_tokens() {
    let tabular = |q: &str| tabular_let(q, parser::parse(q).unwrap_err().span);
    assert!(tabular(
        "let rmm = DeviceFileEvents | where FileName has 'x';\nDeviceNetworkEvents\n| where RemoteUrl has 'a'\n"
    ));
    assert!(!tabular("let n = 1 + | where x;\nT\n"));
    assert!(!tabular(
        "DeviceNetworkEvents\n| where RemoteUrl has\n| where x\n"
    ));
}

#[test]
fn has_all_is_all_of_terms_and_has_any_one_list() {
    let (p, _) = lift_where(NET, "RemoteUrl has_all ('a.com', 'b.com')").unwrap();
    assert_eq!(
        p,
        Pred::All(vec![
            m("remote_domain", "term", &["a.com"], false),
            m("remote_domain", "term", &["b.com"], false)
        ])
    );
    let (p, _) = lift_where(NET, "RemoteUrl has_any ('a.com', 'b.com')").unwrap();
    assert_eq!(p, m("remote_domain", "term", &["a.com", "b.com"], false));
}

#[test]
fn equality_operators_keep_their_case_rule() {
    let (p, _) = lift_where(NET, "InitiatingProcessFileName == 'X.exe'").unwrap();
    assert_eq!(p, m("initiating_process_name", "exact", &["X.exe"], true));
    let (p, _) = lift_where(NET, "InitiatingProcessFileName =~ 'X.exe'").unwrap();
    assert_eq!(p, m("initiating_process_name", "exact", &["X.exe"], false));
    let (p, _) = lift_where(NET, "InitiatingProcessFileName in~ ('a', 'b')").unwrap();
    assert_eq!(p, m("initiating_process_name", "exact", &["a", "b"], false));
    let (p, _) = lift_where(NET, "InitiatingProcessFileName in ('a')").unwrap();
    assert_eq!(p, m("initiating_process_name", "exact", &["a"], true));
    let (p, _) = lift_where(NET, "InitiatingProcessFileName != 'a'").unwrap();
    assert_eq!(
        p,
        Pred::Not(Box::new(m(
            "initiating_process_name",
            "exact",
            &["a"],
            true
        )))
    );
    let (p, _) = lift_where(NET, "InitiatingProcessFileName has_cs 'Ab'").unwrap();
    assert_eq!(p, m("initiating_process_name", "term", &["Ab"], true));
}

#[test]
fn substring_operators() {
    for (op, kind) in [
        ("startswith", "prefix"),
        ("endswith", "suffix"),
        ("contains", "contains"),
    ] {
        let (p, _) = lift_where(NET, &format!("InitiatingProcessFileName {op} 'ab'")).unwrap();
        assert_eq!(
            p,
            m("initiating_process_name", kind, &["ab"], false),
            "{op}"
        );
    }
}

#[test]
fn nested_and_or_flatten_only_same_kind_and_not_wraps() {
    let (p, _) = lift_where(
        NET,
        "RemoteUrl has 'a' and (RemoteUrl has 'b' and (InitiatingProcessFileName has 'c' or (InitiatingProcessFileName has 'd' or not(RemoteUrl has 'e'))))",
    )
    .unwrap();
    assert_eq!(
        p,
        Pred::All(vec![
            m("remote_domain", "term", &["a"], false),
            m("remote_domain", "term", &["b"], false),
            Pred::Any(vec![
                m("initiating_process_name", "term", &["c"], false),
                m("initiating_process_name", "term", &["d"], false),
                Pred::Not(Box::new(m("remote_domain", "term", &["e"], false))),
            ]),
        ])
    );
}

#[test]
fn unsupported_constructs_reject_at_their_place() {
    // line 6 of the query is file line 15; the `where` is at col 1, indent 2
    let e = lift_where(NET, "isempty(RemoteUrl)").unwrap_err();
    assert!(e.starts_with("15:11: `isempty()`"), "{e}");
    let e = lift_where(NET, "RemotePort > 5").unwrap_err();
    assert!(e.contains("compares by order"), "{e}");
    let e = lift_where(NET, "RemoteUrl hasprefix 'a'").unwrap_err();
    assert!(e.contains("no spec match kind"), "{e}");
    let e = lift_where(NET, "NoSuchColumn has 'a'").unwrap_err();
    assert!(e.contains("`NoSuchColumn` is not a column"), "{e}");
}

#[test]
fn trailing_comma_is_repaired_at_the_comma() {
    let (p, notes) = lift_where(NET, "RemoteUrl has_any ('a.com', 'b.com', )").unwrap();
    assert_eq!(p, m("remote_domain", "term", &["a.com", "b.com"], false));
    assert_eq!(notes.len(), 1);
    // `| where RemoteUrl has_any ('a.com', 'b.com', )`: the comma is char 44, + indent 2
    assert_eq!((notes[0].line, notes[0].col), (15, 46), "{notes:?}");
    assert!(notes[0].message.contains("trailing comma"));
}

#[test]
fn doubled_list_operator_needs_the_readme() {
    let e = lift_where(NET, "RemoteUrl has_all has_any ('a', 'b')").unwrap_err();
    assert!(e.contains("syntax error"), "{e}");
}

#[test]
fn case_slips_in_column_names_are_repaired_when_unique() {
    let (p, notes) = lift_where(NET, "remoteurl has 'a'").unwrap();
    assert_eq!(p, m("remote_domain", "term", &["a"], false));
    assert!(
        notes[0].message.contains("read as `RemoteUrl`"),
        "{notes:?}"
    );
}

#[test]
fn terms_with_edge_punctuation_are_widened_with_a_note() {
    let (p, notes) = lift_where(NET, "RemoteUrl has 'Servably, Inc.'").unwrap();
    assert_eq!(p, m("remote_domain", "term", &["Servably, Inc"], false));
    assert!(notes[0].message.contains("wider"), "{notes:?}");
}

#[test]
fn normalization_ignores_parens_order_and_list_shape_only() {
    let q = |w: &str| normalize(&parser::parse(&format!("T | where {w}")).unwrap());
    assert_eq!(
        q("(a has 'x' or b has 'y') or c in~ ('z')"),
        q("c =~ 'z' or (b has 'y' or a has 'x')")
    );
    assert_eq!(q("a has_all ('x', 'y')"), q("a has 'y' and a has 'x'"));
    assert_eq!(q("a has_any ('x', 'y')"), q("a has_any ('y', 'x')"));
    assert_ne!(q("a has 'x' and b has 'y'"), q("a has 'x' or b has 'y'"));
    assert_ne!(q("a == 'x'"), q("a =~ 'x'"));
}

#[test]
fn slugs() {
    assert_eq!(slug("BlueTrait.io"), "bluetrait-io");
    assert_eq!(slug("MSP360_CloudBerry"), "msp360_cloudberry");
    assert_eq!(slug("parsec.app"), "parsec-app");
}
