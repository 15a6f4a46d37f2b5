//! `| from datamodel <Model>.<Dataset>`: the events of a CIM data model dataset, which are
//! the events its constraint selects. The evaluator knows the constraints of the CIM datasets
//! it accepts, as the CIM reference tables give them ("Tags used with the … event datasets":
//! help.splunk.com/data-management/common-information-model/5.1/data-models/endpoint,
//! …/network-traffic, …/web, …/authentication): a dataset's events carry every tag of its
//! own row and of its parents'. The `from` command ("retrieves data from a dataset, such as
//! a data model dataset", Search Reference: from, `| from <dataset_type>:<dataset_name> |
//! <dataset_type> <dataset_name>`) returns them with the data model's field names unprefixed
//! (Splunk Security Content: `| from datamodel Web.Web | … stats count by action, dest, …`).
//!
//! Not modeled: the CIM index allow-list macros (`cim_Endpoint_indexes`, set on the CIM
//! setup page) and the data models' calculated fields (`dest` "unknown" when empty).

use super::ast::{CmpOp, SExpr};
use super::values::wild;

/// Each accepted dataset and its tags (its own and its parents').
const DATASETS: &[(&str, &[&str])] = &[
    ("Endpoint.Processes", &["process", "report"]),
    ("Endpoint.Services", &["service", "report"]),
    ("Endpoint.Ports", &["listening", "port"]),
    ("Endpoint.Filesystem", &["endpoint", "filesystem"]),
    ("Endpoint.Registry", &["endpoint", "registry"]),
    ("Network_Traffic.All_Traffic", &["network", "communicate"]),
    ("Web.Web", &["web"]),
    ("Authentication.Authentication", &["authentication"]),
];

/// The search expression of a dataset's constraint (`tag=process tag=report`), or the error
/// naming the accepted datasets.
pub fn constraint(dataset: &str) -> Result<SExpr, String> {
    let Some((_, tags)) = DATASETS.iter().find(|(d, _)| *d == dataset) else {
        let known: Vec<&str> = DATASETS.iter().map(|(d, _)| *d).collect();
        return Err(format!(
            "unknown data model dataset `{dataset}` (supported: {})",
            known.join(", ")
        ));
    };
    let terms = tags
        .iter()
        .map(|t| {
            Ok(SExpr::Cmp {
                field: "tag".into(),
                op: CmpOp::Eq,
                value: wild(t)?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(SExpr::And(terms))
}

#[cfg(test)]
mod tests {
    //! `from datamodel` and the time functions the CIM searches use, against the Splunk
    //! documentation: the CIM reference tables (dataset tags), Search Reference `from`
    //! (syntax), and the Date and Time functions `now()` ("returns the time that the search
    //! was started") and `relative_time(X, Y)` (X adjusted by the relative time specifier Y).
    use crate::eval::spl::parse;
    use serde_json::{json, Map, Value};

    /// 2026-06-01T12:00:00Z.
    const NOW: i128 = 1_780_315_200 * 1_000_000_000;
    const NOW_S: i64 = 1_780_315_200;

    fn run(q: &str, events: &[Value]) -> Vec<Map<String, Value>> {
        let s = parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
        let evs: Vec<Map<String, Value>> = events
            .iter()
            .map(|e| e.as_object().unwrap().clone())
            .collect();
        s.run(&evs, NOW).unwrap_or_else(|e| panic!("{q}: {e}"))
    }

    #[test]
    fn a_dataset_reads_the_events_its_tags_select() {
        let events = [
            json!({"tag": ["process", "report"], "process_name": "a.exe"}),
            // one tag of two: not in Endpoint.Processes
            json!({"tag": "process", "process_name": "b.exe"}),
            json!({"tag": ["network", "communicate"], "dest_ip": "10.0.0.1"}),
            json!({"tag": ["endpoint", "filesystem"], "file_name": "c.txt"}),
            json!({"process_name": "d.exe"}),
        ];
        for (q, want) in [
            ("| from datamodel Endpoint.Processes", vec!["a.exe"]),
            // `<dataset_type>:<dataset_name>` or a space, the name quoted or not
            ("| from datamodel:Endpoint.Processes", vec!["a.exe"]),
            ("| from datamodel:\"Endpoint.Processes\"", vec!["a.exe"]),
            ("| from datamodel \"Endpoint.Processes\"", vec!["a.exe"]),
        ] {
            let rows = run(q, &events);
            let got: Vec<&str> = rows
                .iter()
                .map(|r| r["process_name"].as_str().unwrap())
                .collect();
            assert_eq!(got, want, "{q}");
        }
        assert_eq!(
            run("| from datamodel Network_Traffic.All_Traffic", &events).len(),
            1
        );
        assert_eq!(
            run(
                "| from datamodel Endpoint.Filesystem | table file_name",
                &events
            ),
            [json!({"file_name": "c.txt"}).as_object().unwrap().clone()]
        );
        // the pipeline continues on the dataset's events, with CIM names unprefixed
        let rows = run(
            "| from datamodel Endpoint.Processes\n| where match(process_name, \"(?i)\\\\Aa\\\\.exe\\\\z\")",
            &events,
        );
        assert_eq!(rows.len(), 1);
        assert_eq!(
            parse("| from datamodel Endpoint.Processes")
                .unwrap()
                .to_string(),
            r#"search (tag="process" AND tag="report")"#
        );
    }

    #[test]
    fn other_generating_commands_and_datasets_are_errors_at_their_place() {
        for (q, at, msg) in [
            (
                "| from datamodel Endpoint.Process",
                (1, 8),
                "unknown data model dataset `Endpoint.Process`",
            ),
            ("| from lookup:users", (1, 8), "only as `| from datamodel"),
            ("| stats count", (1, 1), "generating command"),
            ("| from datamodel", (1, 17), "a data model dataset"),
            (
                "| from datamodel Web.Web x",
                (1, 26),
                "after `from datamodel`",
            ),
        ] {
            let e = parse(q).unwrap_err();
            assert!(e.message.contains(msg), "{q}: {}", e.message);
            assert_eq!((e.span.line, e.span.col), at, "{q}: {}", e.message);
        }
    }

    #[test]
    fn the_time_range_as_a_where_is_earliest_inclusive_latest_exclusive() {
        let q = "| from datamodel Endpoint.Processes\n| where _time>=relative_time(now(), \"-5d\") AND _time<now()";
        let tagged = |t: Value| json!({"tag": ["process", "report"], "_time": t});
        for (t, want) in [
            (json!(NOW_S - 5 * 86_400), true),
            (json!(NOW_S - 5 * 86_400 - 1), false),
            (json!(NOW_S - 1), true),
            (json!(NOW_S), false),
            // an RFC 3339 _time reads as epoch seconds
            (json!("2026-05-31T12:00:00Z"), true),
            (json!("2026-05-20T12:00:00Z"), false),
        ] {
            assert_eq!(run(q, &[tagged(t.clone())]).len() == 1, want, "{t}");
        }
        // no _time: the comparison is null, the row dropped
        assert!(run(q, &[json!({"tag": ["process", "report"]})]).is_empty());
        let q = "* | where _time>=relative_time(now(), \"-90m\")";
        assert_eq!(run(q, &[json!({"_time": NOW_S - 5400})]).len(), 1);
        assert!(run(q, &[json!({"_time": NOW_S - 5401})]).is_empty());
        let s = parse("* | where _time>=relative_time(now(), \"-1d@d\")").unwrap();
        let e = s
            .run(&[json!({"_time": 1}).as_object().unwrap().clone()], NOW)
            .unwrap_err();
        assert!(e.contains("snap-to"), "{e}");
    }
}
