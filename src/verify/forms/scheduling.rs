//! Scheduling (issue 19): a week of scheduled runs of each deployed wrapper over a host that
//! keeps matching for three days and a second host that matches later, each wrapper read from
//! its committed text (`examples/deployed`: the Sentinel analytic YAML, the savedsearches.conf
//! stanza, the Kibana rule) and its query run by rmmc's evaluator at each run's `now`. Each
//! product's suppression or grouping is applied as its vendor documents it, and each finding
//! must reach the analyst once. Each test also drops the wrapper's suppression from the text
//! and shows the same week then alerts again and again: the check can fail.

use crate::eval::engine::{kql_value, Engine, Eql, Kql, Spl};
use crate::eval::time::parse_rfc3339;
use crate::verify::forms::parse_conf;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

const HOUR: i128 = 3_600_000_000_000;
/// Monday 2026-01-05 00:00 UTC: the week starts here.
const T0: &str = "2026-01-05T00:00:00Z";
const WEEK_HOURS: i128 = 7 * 24;
/// Host A connects to NetSupport's domain every hour for two days (hours 0–47, at :10),
/// host B for ten hours on day 4 (hours 100–109); host C connects elsewhere all week. A's
/// events stay in the 5-day window until day 7: its row is in the results of every run from
/// hour 1 to hour 167.
const A_HOURS: std::ops::Range<i128> = 0..48;
const B_HOURS: std::ops::Range<i128> = 100..110;

fn t0() -> i128 {
    parse_rfc3339(T0).expect("T0 is RFC 3339")
}

fn rfc3339(ns: i128) -> String {
    crate::eval::time::format_rfc3339(ns)
}

/// (host, time) of every event of the week, the non-matching host C included.
fn events() -> Vec<(&'static str, &'static str, i128)> {
    let at = |h: i128| t0() + h * HOUR + HOUR / 6;
    let mut out = Vec::new();
    for h in A_HOURS {
        out.push(("A", "netsupportsoftware.com", at(h)));
    }
    for h in B_HOURS {
        out.push(("B", "netsupportsoftware.com", at(h)));
    }
    for h in 0..WEEK_HOURS {
        out.push(("C", "example.org", at(h)));
    }
    out
}

fn deployed(rel: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/deployed")
        .join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A duration as the products write them: `5d`, `1h`, `120h`, `now-5d` (Kibana), ISO 8601
/// `P5D` / `PT5H` / `PT30M` (Sentinel's lookbackDuration), or Splunk's `-5d`.
fn duration(s: &str) -> i128 {
    let s = s.trim_start_matches("now-").trim_start_matches('-');
    let (num, unit) = if let Some(iso) = s.strip_prefix("PT") {
        (&iso[..iso.len() - 1], &iso[iso.len() - 1..])
    } else if let Some(iso) = s.strip_prefix('P') {
        (&iso[..iso.len() - 1], &iso[iso.len() - 1..])
    } else {
        (&s[..s.len() - 1], &s[s.len() - 1..])
    };
    let n: i128 = num.parse().unwrap_or_else(|_| panic!("duration {s:?}"));
    n * match unit {
        "s" | "S" => HOUR / 3600,
        "m" | "M" => HOUR / 60,
        "h" | "H" => HOUR,
        "d" | "D" => 24 * HOUR,
        u => panic!("duration unit {u:?} in {s:?}"),
    }
}

/// The run times of a week of a schedule every `every` ns, the first one `every` after T0.
fn runs(every: i128) -> Vec<i128> {
    (1..)
        .map(|k| t0() + k * every)
        .take_while(|t| *t <= t0() + WEEK_HOURS * HOUR)
        .collect()
}

/// What reached the analyst: (time of the run, finding key) per alert or incident.
type Raised = Vec<(i128, String)>;

/// One alert per finding: exactly A's at the first run after its first event and B's at the
/// first run after its own.
fn assert_once_per_finding(what: &str, raised: &Raised, key_a: &str, key_b: &str) {
    let first_after = |h: i128| t0() + (h + 1) * HOUR;
    assert_eq!(
        raised,
        &vec![
            (first_after(A_HOURS.start), key_a.to_string()),
            (first_after(B_HOURS.start), key_b.to_string()),
        ],
        "{what}: {} raised: {:?}",
        raised.len(),
        raised
            .iter()
            .map(|(t, k)| format!("{} {k}", rfc3339(*t)))
            .collect::<Vec<_>>()
    );
}

// ---------------------------------------------------------------------------------------
// Microsoft Sentinel scheduled analytic rule.
//
// Semantics (Microsoft Learn, "Create a scheduled analytics rule" and the SecurityInsights
// REST API's ScheduledAlertRule): the query runs every `queryFrequency` over the last
// `queryPeriod` of data; `eventGroupingSettings.aggregationKind` is `SingleAlert` (one alert
// per run that returns rows; the default) or `AlertPerResult` (one alert per row);
// `incidentConfiguration.groupingConfiguration` with `enabled`, `matchingMethod: Selected` and
// `groupByCustomDetails` puts an alert into the incident of earlier alerts whose custom
// details (the `customDetails` columns) have the same values, "limit[ing] the group to alerts
// created within the lookback duration": modeled strictly, from the incident's first alert
// (an alert later than that opens a new incident); without grouping every alert opens an
// incident. The SOC works incidents.

fn sentinel_week(yaml: &str) -> Raised {
    let doc: serde_yaml::Value = serde_yaml::from_str(yaml).expect("the analytic rule is YAML");
    let text = |v: &serde_yaml::Value| v.as_str().map(str::to_string);
    let frequency = duration(&text(&doc["queryFrequency"]).expect("queryFrequency"));
    let period = duration(&text(&doc["queryPeriod"]).expect("queryPeriod"));
    let query = Kql::parse(&text(&doc["query"]).expect("query")).unwrap_or_else(|e| panic!("{e}"));
    let per_result =
        text(&doc["eventGroupingSettings"]["aggregationKind"]).as_deref() == Some("AlertPerResult");
    let grouping = &doc["incidentConfiguration"]["groupingConfiguration"];
    let grouped = grouping["enabled"].as_bool() == Some(true);
    let lookback = text(&grouping["lookbackDuration"]).map(|d| duration(&d));
    if grouped {
        assert_eq!(
            text(&grouping["matchingMethod"]).as_deref(),
            Some("Selected"),
            "this simulation knows grouping by selected custom details"
        );
    }
    // custom detail key → the result column it reads
    let details: BTreeMap<String, String> = doc["customDetails"]
        .as_mapping()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((text(k)?, text(v)?)))
                .collect()
        })
        .unwrap_or_default();
    let group_by: Vec<String> = grouping["groupByCustomDetails"]
        .as_sequence()
        .map(|s| s.iter().filter_map(text).collect())
        .unwrap_or_default();

    let rows: Vec<(i128, crate::eval::kql::interp::Row)> = events()
        .into_iter()
        .map(|(host, domain, t)| {
            let e = json!({
                "Timestamp": rfc3339(t),
                "DeviceId": format!("id-{host}"),
                "DeviceName": host,
                "RemoteUrl": domain,
                "InitiatingProcessVersionInfoCompanyName": "NetSupport Ltd",
                "ReportId": t / HOUR,
            });
            let row = e
                .as_object()
                .expect("an object")
                .iter()
                .map(|(k, v)| (k.clone(), kql_value(v)))
                .collect();
            (t, row)
        })
        .collect();

    // (created, key) of each incident's first alert
    let mut incidents: Raised = Vec::new();
    for now in runs(frequency) {
        let data: Vec<_> = rows
            .iter()
            .filter(|(t, _)| *t > now - period && *t <= now)
            .map(|(_, r)| r.clone())
            .collect();
        let result = Kql::run(&query, &data, now).expect("the query runs");
        let key_of = |r: &crate::eval::kql::interp::Row| -> String {
            group_by
                .iter()
                .map(|k| {
                    let column = details.get(k).unwrap_or_else(|| {
                        panic!("groupByCustomDetails {k} is no customDetails key")
                    });
                    format!("{k}={}", crate::eval::engine::json_value(&r[column]))
                })
                .collect::<Vec<_>>()
                .join(",")
        };
        let new_alerts: Vec<String> = if result.is_empty() {
            Vec::new()
        } else if per_result {
            result.iter().map(key_of).collect()
        } else {
            vec![result.iter().map(key_of).collect::<Vec<_>>().join("|")]
        };
        for key in new_alerts {
            let joins = incidents.iter().any(|(first, k)| {
                grouped && *k == key && lookback.is_some_and(|l| now - first <= l)
            });
            if !joins {
                incidents.push((now, key));
            }
        }
    }
    incidents
}

#[test]
fn sentinel_analytic_rule_opens_one_incident_per_finding() {
    let yaml = deployed("sentinel/analytic/netsupport-netconn.yaml");
    let key = |h: &str| {
        format!("DeviceId=\"id-{h}\",DeviceName=\"{h}\",RemoteUrl=\"netsupportsoftware.com\"")
    };
    assert_once_per_finding("Sentinel", &sentinel_week(&yaml), &key("A"), &key("B"));

    // The pre-issue-19 rule (no grouping, one alert for all rows): an incident every hour
    // host A or B is in the 5-day window.
    let mut old = yaml.clone();
    let cut = old
        .find("customDetails:")
        .expect("the rule groups incidents");
    let end = old.find("version:").expect("version follows");
    old.replace_range(cut..end, "");
    let raised = sentinel_week(&old);
    assert!(raised.len() > 100, "{} incidents", raised.len());
}

// ---------------------------------------------------------------------------------------
// Splunk scheduled saved search (savedsearches.conf).
//
// Semantics (savedsearches.conf.spec; Splunk Alerting Manual, "Throttle alerts"): the search
// runs on `cron_schedule` over its time range (`earliest=-5d latest=now` in the search text,
// as `dispatch.earliest_time`); `alert.digest_mode = 0` triggers once per result row
// ("Per-result"), 1 (the default) once per run; `alert.suppress = 1` throttles: per result,
// "after an alert on one event where [the fields] have value X, subsequent events with the
// value X in [those fields] are suppressed during the throttling time period"
// (`alert.suppress.fields`, `alert.suppress.period`); in digest mode the whole alert is
// suppressed for the period.

fn hourly_cron(cron: &str) -> i128 {
    match cron.split(' ').collect::<Vec<_>>().as_slice() {
        ["0", "*", "*", "*", "*"] => HOUR,
        ["0", h, "*", "*", "*"] if h.starts_with("*/") => {
            HOUR * h[2..].parse::<i128>().expect("*/n hours")
        }
        _ => panic!("cron_schedule {cron:?}: this simulation knows hourly schedules"),
    }
}

fn splunk_week(conf: &str, stanza: &str) -> Raised {
    let conf = parse_conf(conf);
    let s = conf
        .stanzas
        .iter()
        .find(|s| s.name == stanza)
        .unwrap_or_else(|| panic!("no stanza [{stanza}]"));
    let key = |k: &str| s.keys.get(k).map(|(_, v)| v.as_str());
    let every = hourly_cron(key("cron_schedule").expect("cron_schedule"));
    let search = Spl::parse(key("search").expect("search")).unwrap_or_else(|e| panic!("{e}"));
    let per_result = key("alert.digest_mode") == Some("0");
    let suppress = matches!(key("alert.suppress"), Some("1" | "true"));
    let period = key("alert.suppress.period").map(duration);
    let fields: Vec<&str> = key("alert.suppress.fields")
        .map(|f| f.split(',').map(str::trim).collect())
        .unwrap_or_default();
    if suppress && per_result {
        assert!(!fields.is_empty(), "per-result throttling needs fields");
    }

    let events: Vec<Map<String, Value>> = events()
        .into_iter()
        .map(|(host, domain, t)| {
            json!({
                "_time": rfc3339(t),
                "index": "main",
                "sourcetype": "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational",
                "EventCode": "3",
                "host": host,
                "Computer": format!("{host}.corp"),
                "DestinationHostname": domain,
                "RecordID": (t / HOUR).to_string(),
            })
            .as_object()
            .expect("an object")
            .clone()
        })
        .collect();

    let mut raised: Raised = Vec::new();
    // throttle key → suppressed until
    let mut until: BTreeMap<String, i128> = BTreeMap::new();
    for now in runs(every) {
        let rows = Spl::run(&search, &events, now).expect("the search runs");
        let key_of = |r: &Map<String, Value>| -> String {
            fields
                .iter()
                .map(|f| format!("{f}={}", r.get(*f).unwrap_or(&Value::Null)))
                .collect::<Vec<_>>()
                .join(",")
        };
        let triggered: Vec<String> = if rows.is_empty() {
            Vec::new()
        } else if per_result {
            rows.iter().map(key_of).collect()
        } else {
            vec![rows.iter().map(key_of).collect::<Vec<_>>().join("|")]
        };
        for k in triggered {
            let throttle = if per_result { k.clone() } else { String::new() };
            if suppress && until.get(&throttle).is_some_and(|u| now < *u) {
                continue;
            }
            if let (true, Some(p)) = (suppress, period) {
                until.insert(throttle, now + p);
            }
            raised.push((now, k));
        }
    }
    raised
}

#[test]
fn splunk_saved_search_alerts_once_per_finding() {
    let conf = deployed("splunk/savedsearches.conf");
    let stanza = "Remote Management and Monitoring tool - NetSupport - Network Connection";
    let key = |h: &str| {
        format!("host=\"{h}\",Computer=\"{h}.corp\",DestinationHostname=\"netsupportsoftware.com\"")
    };
    assert_once_per_finding("Splunk", &splunk_week(&conf, stanza), &key("A"), &key("B"));

    // one id per rule: the comment above each stanza names the id its search carries
    let parsed = parse_conf(&conf);
    let lines: Vec<&str> = conf.lines().collect();
    assert!(!parsed.stanzas.is_empty());
    for s in &parsed.stanzas {
        let comment = lines[s.line - 2];
        let id = comment
            .split_once(", rmmc id ")
            .map(|(_, id)| id)
            .unwrap_or_else(|| panic!("no id above [{}]: {comment:?}", s.name));
        let search = &s.keys["search"].1;
        assert!(
            search
                .lines()
                .next()
                .is_some_and(|l| l.contains(&format!(", id {id};"))),
            "[{}]: stanza id {id}, search {:?}",
            s.name,
            search.lines().next()
        );
    }

    // alert.suppress back to 0 (the pre-issue-19 stanza): every run re-alerts
    let old = conf.replace("alert.suppress = 1", "alert.suppress = 0");
    let raised = splunk_week(&old, stanza);
    assert!(raised.len() > 100, "{} alerts", raised.len());
}

// ---------------------------------------------------------------------------------------
// Kibana detection rule (elastic/rules.ndjson).
//
// Semantics (Elastic Security, "Create a detection rule" and "Suppress detection alerts"):
// the rule runs every `interval` over the events from `from` (`now-5d`) to now; a rule
// without suppression creates one alert per matching event, and an event that already
// produced an alert produces no other on a later, overlapping run (duplicate alerts are
// discarded, which is what the additional look-back relies on); with
// `alert_suppression.group_by` and `duration` ("Per time period"), the first matching event
// of a group creates an alert and further events of that group are suppressed into it until
// the duration since that alert has passed.

fn kibana_week(ndjson: &str, name: &str) -> Raised {
    let rule: Value = ndjson
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("a JSON line"))
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no rule {name:?}"));
    let every = duration(rule["interval"].as_str().expect("interval"));
    let from = duration(rule["from"].as_str().expect("from"));
    let query =
        Eql::parse(rule["query"].as_str().expect("query")).unwrap_or_else(|e| panic!("{e}"));
    let suppression = rule.get("alert_suppression");
    let group_by: Vec<String> = suppression
        .and_then(|s| s["group_by"].as_array())
        .map(|a| {
            a.iter()
                .filter_map(|f| f.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let window = suppression.map(|s| {
        let d = &s["duration"];
        duration(&format!(
            "{}{}",
            d["value"].as_i64().expect("duration value"),
            d["unit"].as_str().expect("duration unit")
        ))
    });

    let docs: Vec<(i128, Value)> = events()
        .into_iter()
        .map(|(host, domain, t)| {
            let doc = json!({
                "@timestamp": rfc3339(t),
                "event": { "category": "network", "id": (t / HOUR).to_string() },
                "host": { "id": format!("id-{host}"), "name": host },
                "destination": { "domain": domain },
                "process": { "name": "client32.exe" },
            });
            (t, doc)
        })
        .collect();
    let field = |doc: &Value, path: &str| -> String {
        path.split('.')
            .fold(doc, |v, p| &v[p])
            .as_str()
            .unwrap_or_default()
            .to_string()
    };

    let mut raised: Raised = Vec::new();
    let mut alerted_docs: Vec<usize> = Vec::new();
    // group → end of its suppression window
    let mut until: BTreeMap<String, i128> = BTreeMap::new();
    for now in runs(every) {
        let in_range: Vec<usize> = (0..docs.len())
            .filter(|&i| docs[i].0 >= now - from && docs[i].0 <= now)
            .collect();
        let batch: Vec<Value> = in_range.iter().map(|&i| docs[i].1.clone()).collect();
        let hits = Eql::run(&query, &batch, now).expect("the query runs");
        for h in hits {
            let i = in_range[h];
            if alerted_docs.contains(&i) {
                continue; // duplicate of an earlier run's alert
            }
            alerted_docs.push(i);
            let doc = &docs[i].1;
            let key = if group_by.is_empty() {
                field(doc, "event.id")
            } else {
                group_by
                    .iter()
                    .map(|f| format!("{f}={}", field(doc, f)))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            if let Some(w) = window {
                if until.get(&key).is_some_and(|u| now < *u) {
                    continue; // suppressed into the group's alert
                }
                until.insert(key.clone(), now + w);
            }
            raised.push((now, key));
        }
    }
    raised
}

#[test]
fn kibana_rule_alerts_once_per_finding() {
    let ndjson = deployed("elastic/rules.ndjson");
    let name = "Remote Management and Monitoring tool - NetSupport - Network Connection";
    let key =
        |h: &str| format!("host.id=id-{h},host.name={h},destination.domain=netsupportsoftware.com");
    assert_once_per_finding("Kibana", &kibana_week(&ndjson, name), &key("A"), &key("B"));

    // without alert_suppression: one alert per matching event (82 of them)
    let old: String = ndjson
        .lines()
        .map(|l| {
            let mut r: Value = serde_json::from_str(l).expect("a JSON line");
            r.as_object_mut()
                .expect("a rule")
                .remove("alert_suppression");
            r.to_string() + "\n"
        })
        .collect();
    let raised = kibana_week(&old, name);
    let events = (A_HOURS.end - A_HOURS.start) + (B_HOURS.end - B_HOURS.start);
    assert_eq!(raised.len() as i128, events);
}

#[test]
fn durations_as_the_products_write_them() {
    assert_eq!(duration("5d"), 120 * HOUR);
    assert_eq!(duration("now-5d"), 120 * HOUR);
    assert_eq!(duration("-5d"), 120 * HOUR);
    assert_eq!(duration("120h"), 120 * HOUR);
    assert_eq!(duration("P5D"), 120 * HOUR);
    assert_eq!(duration("PT5H"), 5 * HOUR);
    assert_eq!(duration("PT30M"), HOUR / 2);
    assert_eq!(runs(HOUR).len(), 168);
}
