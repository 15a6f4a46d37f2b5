//! Canonical events → each backend's native event shape, through the same `backends/*.yaml`
//! mappings the emitters use (so a mapping mistake shows up as a verdict difference only if
//! the emitter and the renderer disagree; the fixtures' hand-checked `expect` lists and the
//! independent engines of CI cover the mapping itself).

mod xml;
use crate::eval::kql::interp::{Row, Value};
use crate::eval::time::{format_rfc3339, parse_rfc3339};
use crate::ir::Event;
use crate::mapping::TableMap;
use crate::spec::{Field, FieldType};

/// A KQL row of `table`: each canonical field under its projected column, typed as the
/// column is (ports and ids as long, the timestamp as datetime, the rest as string).
pub fn kql_row(table: &TableMap, ev: &Event) -> Row {
    let mut row = Row::new();
    for (k, v) in &ev.0 {
        let (Some(field), Some(col)) = (
            Field::lookup(k),
            Field::lookup(k).and_then(|f| table.column(f)),
        ) else {
            continue;
        };
        let text = match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let value = match field.ty() {
            FieldType::Port | FieldType::Id => {
                text.parse::<i64>().map_or(Value::Str(text), Value::Long)
            }
            FieldType::Time => parse_rfc3339(&text).map_or(Value::Null, Value::DateTime),
            _ => Value::Str(text),
        };
        row.insert(col.project.to_string(), value);
    }
    row
}

/// How a backend's events carry their time field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeStyle {
    /// Sysmon `UtcTime`: `2026-05-31 09:12:00.000` (UTC, milliseconds), as the Sysmon event
    /// schema writes it (learn.microsoft.com/sysinternals/downloads/sysmon, "UtcTime").
    SysmonUtc,
    /// Splunk `_time`: seconds since the epoch (docs.splunk.com, "Use default fields": `_time`
    /// is stored in UNIX time).
    EpochSeconds,
    /// ECS `@timestamp`: an RFC 3339 / ISO 8601 date string.
    Rfc3339,
}

fn time_value(ns: i128, style: TimeStyle) -> serde_json::Value {
    match style {
        TimeStyle::Rfc3339 => format_rfc3339(ns).into(),
        TimeStyle::EpochSeconds => {
            let secs = ns.div_euclid(1_000_000_000);
            let frac = ns.rem_euclid(1_000_000_000);
            if frac == 0 {
                serde_json::json!(secs as i64)
            } else {
                serde_json::json!(ns as f64 / 1e9)
            }
        }
        TimeStyle::SysmonUtc => {
            let ms = ns.rem_euclid(1_000_000_000) / 1_000_000;
            let whole = format_rfc3339(ns - ns.rem_euclid(1_000_000_000));
            // `YYYY-MM-DDTHH:MM:SSZ` → `YYYY-MM-DD HH:MM:SS.mmm`
            format!(
                "{}.{ms:03}",
                whole.trim_end_matches('Z').replacen('T', " ", 1)
            )
            .into()
        }
    }
}

/// The last `\`-separated component of a path (the whole text when there is none).
fn basename(path: &str) -> &str {
    path.rsplit('\\').next().unwrap_or(path)
}

/// A canonical event as a flat object of `table`'s native fields (Sysmon for Sigma and
/// Splunk, CIM for Splunk firewall data, the Sigma firewall taxonomy).
///
/// Each canonical field lands on its column's `project` field (for `match_any: [A, B]` the
/// field the value really is in; the other names are other fields of the same event). Two
/// canonical fields can share one native field:
/// - a `basename` column (`process_name` → `Image`) holds a path whose last component is
///   the value: it gets `C:\rmmc\<value>` (`CORP\<value>` for `User`) unless a full-path
///   field (`process_folder_path` → `Image`) fills it; then the path's last component must
///   be the name, or the event cannot be written in this shape (an error: the case is not
///   representable here, and is skipped for this backend);
/// - digests listed in `meta.hash_prefix` share Sysmon's `Hashes` (`MD5=…,SHA256=…`).
///
/// Any other collision is an error too, never a silent overwrite.
pub fn flat_event(
    table: &TableMap,
    ev: &Event,
    style: TimeStyle,
) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    use serde_json::Value as J;
    let mut out = serde_json::Map::new();
    let mut owner: std::collections::BTreeMap<String, &str> = Default::default();
    let mut names: Vec<(String, &str, String)> = Vec::new();
    let mut hashes: Vec<(usize, String)> = Vec::new();
    let prefixes = table.meta.get("hash_prefix").and_then(J::as_object);
    for (k, v) in &ev.0 {
        let Some(field) = Field::lookup(k) else {
            continue;
        };
        let Some(col) = table.column(field) else {
            continue;
        };
        if let Some((i, (_, p))) = prefixes.and_then(|p| {
            p.iter()
                .enumerate()
                .find(|(_, (f, _))| f.as_str() == field.name())
        }) {
            let hex = v.as_str().map_or_else(|| v.to_string(), str::to_string);
            hashes.push((i, format!("{}{hex}", p.as_str().unwrap_or_default())));
            continue;
        }
        let name = col.project.to_string();
        let value = if field.ty() == FieldType::Time {
            let ns = v
                .as_str()
                .and_then(parse_rfc3339)
                .ok_or_else(|| format!("`{k}` is not an RFC 3339 time"))?;
            time_value(ns, style)
        } else {
            v.clone()
        };
        if col.basename {
            let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
            if text.contains('\\') {
                return Err(format!(
                    "`{k}` {text:?} holds `\\`, so it cannot be the last component of {name}"
                ));
            }
            names.push((name, field.name(), text));
            continue;
        }
        if let Some(prev) = owner.get(&name) {
            if out.get(&name) != Some(&value) {
                return Err(format!(
                    "`{prev}` and `{k}` both land in {name} with different values"
                ));
            }
        }
        owner.insert(name.clone(), field.name());
        out.insert(name, value);
    }
    // A path that fills a column some canonical name field shares (`process_folder_path`
    // and `process_name` on Sysmon's `Image`) also states that name: its last component. An
    // event with the path but without the name says the name is absent, which this shape
    // cannot hold.
    for (key, _) in &table.columns {
        let Some(field) = Field::lookup(key) else {
            continue;
        };
        let Some(col) = table.column(field).filter(|c| c.basename) else {
            continue;
        };
        let name = col.project.to_string();
        if out.contains_key(&name) && !names.iter().any(|(n, _, _)| *n == name) {
            return Err(format!(
                "{name} {:?} (from `{}`) also names `{field}`, which the event does not have; Sysmon holds one path for both",
                out[&name],
                owner.get(&name).copied().unwrap_or_default()
            ));
        }
    }
    for (name, field, text) in names {
        match out.get(&name) {
            Some(J::String(path)) => {
                if basename(path) != text {
                    return Err(format!(
                        "`{field}` {text:?} is not the last component of {name} {path:?} (from `{}`); Sysmon holds one path for both",
                        owner.get(&name).copied().unwrap_or_default()
                    ));
                }
            }
            Some(other) => {
                return Err(format!("{name} holds {other}, not a path for `{field}`"));
            }
            None => {
                let prefix = if name == "User" {
                    "CORP\\"
                } else {
                    "C:\\rmmc\\"
                };
                out.insert(name, J::String(format!("{prefix}{text}")));
            }
        }
    }
    if !hashes.is_empty() {
        hashes.sort();
        let col = table
            .meta
            .get("hash_prefix")
            .and_then(J::as_object)
            .and_then(|p| p.keys().next())
            .and_then(|f| Field::lookup(f))
            .and_then(|f| table.column(f))
            .map_or_else(|| "Hashes".to_string(), |c| c.project.to_string());
        let joined: Vec<String> = hashes.into_iter().map(|(_, h)| h).collect();
        out.insert(col, J::String(joined.join(",")));
    }
    Ok(out)
}

/// A Sysmon / Sigma-taxonomy event for a Sigma rule of `table`, with the fields that place it
/// in the table's log source (`meta.event`: `EventID` 1, 3 or 11; none for firewall records).
pub fn sigma_event(
    table: &TableMap,
    ev: &Event,
) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    let mut out = flat_event(table, ev, TimeStyle::SysmonUtc)?;
    if let Some(event) = table
        .meta
        .get("event")
        .and_then(serde_json::Value::as_object)
    {
        for (k, v) in event {
            if !v.is_null() {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Ok(out)
}

/// The events of a Sigma rule's log source, as `backends/sigma.yaml` defines them: the
/// `meta.event` fields of the table whose `meta.logsource` is the rule's `logsource` (every key
/// equal). `None` when no table maps that log source.
pub fn sigma_logsource_event(
    logsource: &serde_yaml::Value,
) -> Option<&'static serde_json::Map<String, serde_json::Value>> {
    crate::mappings::tables(crate::spec::BackendName::Sigma)
        .iter()
        .find_map(|t| {
            let want = t.meta.get("logsource")?.as_object()?;
            let same = logsource.as_mapping().is_some_and(|m| {
                m.len() == want.len()
                    && want.iter().all(|(k, v)| {
                        m.get(k.as_str()).and_then(serde_yaml::Value::as_str) == v.as_str()
                    })
            });
            if same {
                t.meta.get("event")?.as_object()
            } else {
                None
            }
        })
}

/// Is `ev` an event of the log source whose `meta.event` is `want`? Each field equal (as text,
/// so `3` and `"3"` are one EventID), or absent where `want` says null.
pub fn in_logsource(
    want: &serde_json::Map<String, serde_json::Value>,
    ev: &serde_json::Map<String, serde_json::Value>,
) -> bool {
    use serde_json::Value as J;
    // a string as it is (no copy per event), anything else as its JSON text
    fn text(v: &J) -> std::borrow::Cow<'_, str> {
        match v {
            J::String(s) => std::borrow::Cow::Borrowed(s),
            other => std::borrow::Cow::Owned(other.to_string()),
        }
    }
    // a scan of the event's keys, not a SipHash lookup per wanted key
    want.iter()
        .all(|(k, v)| match (v, crate::eval::keys::get(ev, k)) {
            (J::Null, got) => got.is_none_or(J::is_null),
            (_, None) => false,
            // integers: equal text is equal value (spares printing both per event)
            (J::Number(a), Some(J::Number(b))) if !a.is_f64() && !b.is_f64() => a == b,
            (v, Some(got)) => text(v) == text(got),
        })
}

/// A Splunk event of `table`: the flat native fields with `_time` in epoch seconds, plus the
/// fields the table's `meta.base_search` selects on (`sourcetype="…"`, `EventCode=3`,
/// `tag=network tag=communicate` → a multivalue `tag`) or on which its data model selects
/// (`meta.constraint`), so the base search finds the event as Splunk would. A wildcard value (`index=*`) gets a concrete stand-in (`*` → `main`).
pub fn spl_event(
    table: &TableMap,
    ev: &Event,
) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    use serde_json::Value as J;
    let mut out = flat_event(table, ev, TimeStyle::EpochSeconds)?;
    let meta = |key: &str| table.meta.get(key).and_then(J::as_str).unwrap_or_default();
    // a data model's events meet its constraint (`meta.constraint`, e.g. the CIM dataset's
    // tags), which its `| from datamodel …` base search selects on
    let terms = base_search_terms(meta("base_search"))
        .into_iter()
        .chain(base_search_terms(meta("constraint")));
    for (k, v) in terms {
        let v = if v.contains('*') {
            v.replace('*', "main")
        } else {
            v
        };
        match out.get_mut(&k) {
            None => {
                out.insert(k, J::String(v));
            }
            Some(J::Array(a)) => a.push(J::String(v)),
            Some(prev) => {
                let first = prev.take();
                *prev = J::Array(vec![first, J::String(v)]);
            }
        }
    }
    if crate::backend::spl::terms::raw_xml(table) {
        let raw = xml::sysmon_xml(&out);
        out.insert("_raw".into(), J::String(raw));
    }
    Ok(out)
}

/// `key=value` / `key="quoted value"` terms of a base search, in order.
fn base_search_terms(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some(eq) = rest.find('=') else { break };
        let key = rest[..eq].trim().to_string();
        let after = &rest[eq + 1..];
        let (value, tail) = if let Some(q) = after.strip_prefix('"') {
            match q.find('"') {
                Some(end) => (q[..end].to_string(), &q[end + 1..]),
                None => (q.to_string(), ""),
            }
        } else {
            let end = after.find(char::is_whitespace).unwrap_or(after.len());
            (after[..end].to_string(), &after[end..])
        };
        if !key.is_empty() && !key.contains(char::is_whitespace) {
            out.push((key, value));
        }
        rest = tail.trim_start();
    }
    out
}

/// An ECS document (Elastic Defend / ECS-mapped firewall) of `table`: dotted ECS names become
/// nested objects (`destination.domain` → `{"destination": {"domain": …}}`), `@timestamp` is
/// RFC 3339, `event.category` is the table's `meta.event_category` as an array (ECS defines
/// `event.category` as an array of keywords), and the table's `meta.condition` (`field ==
/// "value"` terms joined by `and`, e.g. Defend's `event.type == "start"` for process starts)
/// is written into the event, since every event of the table meets it.
pub fn ecs_event(table: &TableMap, ev: &Event) -> Result<serde_json::Value, String> {
    use serde_json::Value as J;
    let flat = flat_event(table, ev, TimeStyle::Rfc3339)?;
    let mut doc = J::Object(Default::default());
    for (k, v) in flat {
        set_path(&mut doc, &k, v)?;
    }
    if let Some(cat) = table.meta.get("event_category").and_then(J::as_str) {
        set_path(&mut doc, "event.category", J::Array(vec![cat.into()]))?;
    }
    if let Some(cond) = table.meta.get("condition").and_then(J::as_str) {
        for term in cond.split(" and ") {
            let (f, v) = term
                .split_once("==")
                .map(|(f, v)| (f.trim(), v.trim()))
                .filter(|(_, v)| v.len() >= 2 && v.starts_with('"') && v.ends_with('"'))
                .ok_or_else(|| {
                    format!("cannot write table condition {cond:?} into an event (only `field == \"value\"` terms)")
                })?;
            set_path(&mut doc, f, J::String(v[1..v.len() - 1].to_string()))?;
        }
    }
    Ok(doc)
}

fn set_path(doc: &mut serde_json::Value, path: &str, v: serde_json::Value) -> Result<(), String> {
    use serde_json::Value as J;
    let mut cur = doc;
    let parts: Vec<&str> = path.split('.').collect();
    // `@timestamp` and other undotted names stay top-level
    for (i, p) in parts.iter().enumerate() {
        let J::Object(m) = cur else {
            return Err(format!("{path}: {} is not an object", parts[..i].join(".")));
        };
        if i + 1 == parts.len() {
            if m.contains_key(*p) {
                return Err(format!("{path} is written twice"));
            }
            m.insert((*p).to_string(), v);
            return Ok(());
        }
        cur = m
            .entry((*p).to_string())
            .or_insert_with(|| J::Object(Default::default()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Category, Source};
    use serde_json::json;

    fn ev(v: serde_json::Value) -> Event {
        Event(v.as_object().unwrap().clone())
    }

    fn table(tables: &'static [TableMap], c: Category, s: Source) -> &'static TableMap {
        crate::mapping::table_for(tables, c, s).unwrap()
    }

    #[test]
    fn an_event_is_in_a_logsource_by_the_text_of_each_wanted_value() {
        let want = json!({"EventID": 3, "Channel": "Sysmon", "Gone": null});
        let want = want.as_object().unwrap();
        let m = |v: serde_json::Value| v.as_object().unwrap().clone();
        // a number matches its text, a string as it is; null wants the key absent or null
        assert!(in_logsource(
            want,
            &m(json!({"EventID": "3", "Channel": "Sysmon"}))
        ));
        assert!(in_logsource(
            want,
            &m(json!({"EventID": 3, "Channel": "Sysmon", "Gone": null}))
        ));
        assert!(!in_logsource(
            want,
            &m(json!({"EventID": 3, "Channel": "sysmon"}))
        ));
        assert!(!in_logsource(
            want,
            &m(json!({"EventID": 3.0, "Channel": "Sysmon"}))
        ));
        assert!(!in_logsource(want, &m(json!({"EventID": 3}))));
        assert!(!in_logsource(
            want,
            &m(json!({"EventID": 3, "Channel": "Sysmon", "Gone": 1}))
        ));
        assert!(!in_logsource(
            want,
            &m(json!({"EventID": [3], "Channel": "Sysmon"}))
        ));
    }

    #[test]
    fn sysmon_shapes() {
        let proc_ = table(
            crate::mappings::tables(crate::spec::BackendName::Sigma),
            Category::Process,
            Source::Endpoint,
        );
        let net = table(
            crate::mappings::tables(crate::spec::BackendName::Sigma),
            Category::Network,
            Source::Endpoint,
        );
        // (table, canonical event, expected native event or error fragment)
        let cases: Vec<(
            &TableMap,
            serde_json::Value,
            Result<serde_json::Value, &str>,
        )> = vec![
            (
                proc_,
                json!({"process_name": "client32.exe"}),
                Ok(json!({"Image": "C:\\rmmc\\client32.exe"})),
            ),
            (
                proc_,
                json!({"process_name": "client32.exe", "process_folder_path": "C:\\x\\client32.exe"}),
                Ok(json!({"Image": "C:\\x\\client32.exe"})),
            ),
            (
                proc_,
                json!({"process_name": "other.exe", "process_folder_path": "C:\\x\\client32.exe"}),
                Err("not the last component of Image"),
            ),
            (
                // the path names the process too; an event without the name cannot be written
                proc_,
                json!({"process_folder_path": "C:\\x\\client32.exe"}),
                Err("also names `process_name`, which the event does not have"),
            ),
            (
                proc_,
                json!({"account_name": "bob"}),
                Ok(json!({"User": "CORP\\bob"})),
            ),
            (
                proc_,
                json!({"account_name": "a\\b"}),
                Err("cannot be the last component of User"),
            ),
            (
                proc_,
                json!({"process_sha256": "ab", "process_md5": "cd"}),
                Ok(json!({"Hashes": "MD5=cd,SHA256=ab"})),
            ),
            (
                proc_,
                json!({"timestamp": "2026-05-31T09:12:00.25Z"}),
                Ok(json!({"UtcTime": "2026-05-31 09:12:00.250"})),
            ),
            (
                proc_,
                json!({"timestamp": "yesterday"}),
                Err("not an RFC 3339 time"),
            ),
            (
                net,
                json!({"remote_ip": "1.2.3.4", "local_ip": "10.0.0.1", "remote_port": 443}),
                Ok(
                    json!({"DestinationIp": "1.2.3.4", "SourceIp": "10.0.0.1", "DestinationPort": 443}),
                ),
            ),
            // a field the log source lacks is not written
            (
                net,
                json!({"initiating_company": "NetSupport Ltd", "device_id": "d1"}),
                Ok(json!({})),
            ),
        ];
        for (t, input, want) in cases {
            let got = sigma_event(t, &ev(input.clone()));
            match (want, got) {
                (Ok(w), Ok(mut g)) => {
                    // every event carries its log source's Sysmon event id (meta.event)
                    let eid = if std::ptr::eq(t, proc_) { 1 } else { 3 };
                    assert_eq!(g.remove("EventID"), Some(json!(eid)), "{input}");
                    assert_eq!(serde_json::Value::Object(g), w, "{input}")
                }
                (Err(w), Err(g)) => assert!(g.contains(w), "{input}: {g}"),
                (w, g) => panic!("{input}: want {w:?}, got {g:?}"),
            }
        }
    }

    #[test]
    fn splunk_events_carry_the_base_search_fields() {
        let t = table(
            crate::mappings::tables(crate::spec::BackendName::Splunk),
            Category::Network,
            Source::Endpoint,
        );
        let got = spl_event(
            t,
            &ev(json!({"timestamp": "2026-05-31T09:12:00Z", "device_id": "a1", "report_id": 7})),
        )
        .unwrap();
        assert_eq!(got["_time"], json!(1_780_218_720i64));
        assert_eq!(got["host"], "a1");
        // the Sysmon XML `_raw` search terms read: System fields, then one Data per field;
        // Splunk's own `host` is not in it (docs.splunk.com, "Use default fields")
        let raw = got["_raw"].as_str().unwrap();
        assert!(
            raw.starts_with(
                "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
            ),
            "{raw}"
        );
        assert!(
            raw.contains("<EventID>3</EventID>")
                && raw.contains("<EventRecordID>7</EventRecordID>"),
            "{raw}"
        );
        assert!(
            raw.contains("<TimeCreated SystemTime='2026-05-31T09:12:00Z'/>"),
            "{raw}"
        );
        assert!(
            !raw.contains("a1") && raw.ends_with("</EventData></Event>"),
            "{raw}"
        );
        // XML 1.0's predefined entities for the five special characters
        let esc = spl_event(t, &ev(json!({"remote_domain": "a&b<c>'d\"e"}))).unwrap();
        assert!(
            esc["_raw"]
                .as_str()
                .unwrap()
                .contains("<Data Name='DestinationHostname'>a&amp;b&lt;c&gt;&apos;d&quot;e</Data>"),
            "{}",
            esc["_raw"]
        );
        assert_eq!(got["RecordID"], 7);
        assert_eq!(got["EventCode"], "3");
        assert_eq!(got["index"], "main");
        assert_eq!(
            got["sourcetype"],
            "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational"
        );
        let fw = table(
            crate::mappings::tables(crate::spec::BackendName::Splunk),
            Category::Network,
            Source::Firewall,
        );
        let got = spl_event(fw, &ev(json!({"remote_ip": "1.2.3.4"}))).unwrap();
        assert_eq!(got["tag"], json!(["network", "communicate"]));
        assert_eq!(got["dest_ip"], "1.2.3.4");
        assert_eq!(
            base_search_terms(r#"a=1 b="x y" c=*"#),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y".into()),
                ("c".into(), "*".into())
            ]
        );
    }

    #[test]
    fn ecs_documents_are_nested() {
        let tables = crate::mappings::tables(crate::spec::BackendName::Elastic);
        let p = table(tables, Category::Process, Source::Endpoint);
        let got = ecs_event(
            p,
            &ev(json!({"timestamp": "2026-05-31T09:12:00Z", "process_name": "a.exe", "process_folder_path": "C:\\b\\a.exe", "parent_process_name": "c.exe"})),
        )
        .unwrap();
        assert_eq!(
            got,
            json!({"@timestamp": "2026-05-31T09:12:00Z", "process": {"name": "a.exe", "executable": "C:\\b\\a.exe", "parent": {"name": "c.exe"}}, "event": {"category": ["process"], "type": "start"}})
        );
        let n = table(tables, Category::Network, Source::Endpoint);
        let got = ecs_event(n, &ev(json!({"remote_ip": "1.2.3.4", "remote_port": 443}))).unwrap();
        assert_eq!(got["destination"], json!({"ip": "1.2.3.4", "port": 443}));
        assert_eq!(got["event"]["category"], json!(["network"]));
        let mut doc = json!({"a": 1});
        assert!(set_path(&mut doc, "a.b", json!(2))
            .unwrap_err()
            .contains("not an object"));
    }
}
