//! The Sysmon event as Splunk's `XmlWinEventLog` `_raw`: what search terms are read from.

use crate::eval::time::format_rfc3339;

/// Text as XML element content or attribute value: the five predefined entities (XML 1.0,
/// section 4.6), as the Windows event log renders event XML.
fn xml_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// The `_raw` of a Sysmon event as the Splunk Add-on for Microsoft Sysmon reads it
/// (`XmlWinEventLog`, one event per line): `<Event xmlns=…><System>` with the provider,
/// `EventID` (the add-on's `EventCode`), `TimeCreated`, `EventRecordID` (`RecordID`) and
/// `Computer`, then `<EventData>` with one `<Data Name='X'>value</Data>` per other field, in
/// name order. Splunk's default fields (`host`, `index`, `sourcetype`, `_time`) are not in
/// `_raw`: they come from the input, so a search term on them finds nothing here either.
pub(super) fn sysmon_xml(flat: &serde_json::Map<String, serde_json::Value>) -> String {
    use serde_json::Value as J;
    let text = |v: &J| match v {
        J::String(s) => s.clone(),
        J::Null => String::new(),
        other => other.to_string(),
    };
    let field = |k: &str| flat.get(k).map(text).map(|t| xml_text(&t));
    let mut x = String::from(
        "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>\
         <Provider Name='Microsoft-Windows-Sysmon' Guid='{5770385f-c22a-43e0-bf4c-06f5698ffbd9}'/>",
    );
    if let Some(id) = field("EventCode").or_else(|| field("EventID")) {
        x.push_str(&format!("<EventID>{id}</EventID>"));
    }
    if let Some(t) = flat.get("_time").and_then(J::as_f64) {
        let ns = (t * 1e9).round() as i128;
        x.push_str(&format!(
            "<TimeCreated SystemTime='{}'/>",
            format_rfc3339(ns)
        ));
    }
    if let Some(r) = field("RecordID") {
        x.push_str(&format!("<EventRecordID>{r}</EventRecordID>"));
    }
    x.push_str("<Channel>Microsoft-Windows-Sysmon/Operational</Channel>");
    if let Some(c) = field("Computer") {
        x.push_str(&format!("<Computer>{c}</Computer>"));
    }
    x.push_str("</System><EventData>");
    let skip = [
        "EventCode",
        "EventID",
        "RecordID",
        "Computer",
        "host",
        "index",
        "sourcetype",
        "source",
    ];
    for (k, v) in flat {
        if k.starts_with('_') || skip.contains(&k.as_str()) {
            continue;
        }
        let vs: Vec<&J> = match v {
            J::Array(xs) => xs.iter().collect(),
            v => vec![v],
        };
        for v in vs {
            x.push_str(&format!(
                "<Data Name='{}'>{}</Data>",
                xml_text(k),
                xml_text(&text(v))
            ));
        }
    }
    x.push_str("</EventData></Event>");
    x
}
