//! Test events in canonical form: hand-written fixtures (`tests/fixtures/*.jsonl`) and boundary
//! cases generated from each detection's values.

use super::mcdc;
use crate::diag::{Diag, DiagKind, Span};
use crate::eval::time::{format_rfc3339, parse_rfc3339};
use crate::ir::{Event, Expr, IrDetection, Match, Test, TextOp};
use crate::spec::{Category, Field, Source};
use serde_json::{json, Map, Value};
use std::path::Path;

/// One event to run every artifact on.
#[derive(Clone, Debug)]
pub struct Case {
    /// Where it comes from: `fixtures/seeds.jsonl:12 (netconn-hit)` or a generated label.
    pub name: String,
    pub source: Source,
    /// Only rules of this category see the event (fixtures); generated cases are per rule.
    pub category: Category,
    pub event: Event,
    /// `spec/detection` ids the author says must fire (fixtures only), to pin the IR itself.
    pub expect: Option<Vec<String>>,
}

/// Keys of a fixture line that are not canonical fields.
const META_KEYS: &[&str] = &["case", "source", "category", "expect"];

/// Load every `*.jsonl` in `dir` (sorted). Each line: `{"case": name, "category": network,
/// "source": endpoint, "expect": ["spec/detection", …], <canonical field>: value, …}`.
pub fn load_fixtures(dir: &Path) -> Result<Vec<Case>, Vec<Diag>> {
    // only regular files inside `dir` (`input::files_in`): a FIFO, a device or a symlink out
    // of the folder named *.jsonl is an error naming it, not a hang or a read elsewhere
    let (files, skipped) = crate::input::files_in(dir, |n| n.ends_with(".jsonl")).map_err(|e| {
        vec![Diag::error(DiagKind::Io, format!("cannot read fixtures: {e}")).at(dir, None)]
    })?;
    let mut cases = Vec::new();
    let mut diags: Vec<Diag> = skipped
        .into_iter()
        .map(|s| {
            Diag::error(DiagKind::Io, format!("fixture: {}", s.why))
                .at(&s.path, None)
                .help("fixtures are regular *.jsonl files in the folder")
        })
        .collect();
    for f in &files {
        let text = crate::input::read_bounded(f, crate::input::MAX_INPUT_BYTES)
            .map_err(|e| e.to_string())
            .and_then(|b| String::from_utf8(b).map_err(|_| "not UTF-8 text".to_string()))
            .map_err(|e| {
                vec![Diag::error(DiagKind::Io, format!("cannot read fixture: {e}")).at(f, None)]
            })?;
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let at = Some(Span {
                line: i + 1,
                col: 1,
                offset: 0,
            });
            match fixture_line(line, f, i + 1) {
                Ok(c) => cases.push(c),
                Err(msg) => diags.push(Diag::error(DiagKind::Value, msg).at(f, at)),
            }
        }
    }
    if diags.is_empty() {
        Ok(cases)
    } else {
        Err(diags)
    }
}

fn fixture_line(line: &str, file: &Path, n: usize) -> Result<Case, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(mut m) = v else {
        return Err("each line must be a JSON object".into());
    };
    let text =
        |m: &Map<String, Value>, k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
    let label = text(&m, "case").ok_or("missing \"case\" (a name for the event)")?;
    let category: Category = serde_json::from_value(
        m.get("category").cloned().unwrap_or(Value::Null),
    )
    .map_err(|_| "\"category\" must be network, process, file or certificate".to_string())?;
    let source: Source =
        serde_json::from_value(m.get("source").cloned().unwrap_or(json!("endpoint")))
            .map_err(|_| "\"source\" must be endpoint or firewall".to_string())?;
    let expect = match m.get("expect") {
        None => None,
        Some(v) => Some(
            serde_json::from_value(v.clone())
                .map_err(|_| "\"expect\" must be a list of \"spec/detection\"")?,
        ),
    };
    for k in META_KEYS {
        m.remove(*k);
    }
    for (k, v) in &m {
        let f = Field::lookup(k).ok_or_else(|| {
            format!(
                "unknown canonical field `{k}`{}",
                crate::spec::fields::suggest(k)
            )
        })?;
        if !f.in_category(category) {
            return Err(format!("field `{k}` does not exist in {category} events"));
        }
        if !(v.is_string() || v.is_u64()) {
            return Err(format!("`{k}` must be a string or a non-negative integer"));
        }
    }
    if let Some(ts) = m.get("timestamp") {
        if ts.as_str().and_then(parse_rfc3339).is_none() {
            return Err("`timestamp` must be RFC 3339, e.g. 2026-05-31T10:00:00Z".into());
        }
    }
    Ok(Case {
        name: format!(
            "{}:{n} ({label})",
            file.file_name()
                .map(|f| f.to_string_lossy())
                .unwrap_or_default()
        ),
        source,
        category,
        event: Event(m),
        expect,
    })
}

/// Text fields a case can fill with a value the detection does not test (the first one it
/// does not read): it lands in Splunk's `_raw` and so passes the search terms.
const SPARE: &[&str] = &["device_name", "account_name"];

/// The two non-ASCII letters Unicode case folding ties to ASCII ones, which regex engines
/// fold in case-insensitive mode: the KELVIN SIGN folds to `k` (so the spec matches it), the
/// LONG S does not fold to `s` (`fold` keeps it; PCRE's caseless `s` would take it). A
/// rendering that spells the value's case must get both right.
fn unicode_variants(v: &str, text: &mut dyn FnMut(&str, String)) {
    if v.contains(['k', 'K']) {
        text("KELVIN SIGN for k", v.replace(['k', 'K'], "\u{212A}"));
    }
    if v.contains(['s', 'S']) {
        text("LONG S for s", v.replace(['s', 'S'], "\u{17F}"));
        // ſ beside the value, split off by a dot: the spec still matches a term, a substring,
        // a suffix or a sub-domain (ſ is no term character and equals no character of the
        // value), so a rendering that refuses any ſ in the field is narrower
        text("LONG S beside", format!("\u{17F}.{v}"));
    }
}

/// One value that satisfies a match, as the event would carry it.
fn witness_value(m: &Match) -> Value {
    match &m.test {
        Test::Text { values, .. } | Test::Domain(values) | Test::Digest(values) => json!(values[0]),
        Test::Ip(ips) => json!(ips[0].to_string()),
        Test::Cidr(nets) => json!(nets[0].addr.to_string()),
        Test::Port(ports) => json!(ports[0]),
    }
}

/// Field values that make `e` true where that is simple (all of `all`, the first of `any`,
/// nothing under `not`): the backdrop against which each boundary case varies one field.
fn witness(e: &Expr, into: &mut Map<String, Value>) {
    match e {
        Expr::All(v) => v.iter().for_each(|x| witness(x, into)),
        Expr::Any(v) => witness(&v[0], into),
        Expr::Not(_) => {}
        Expr::Match(m) => {
            into.entry(m.field.name())
                .or_insert_with(|| witness_value(m));
        }
    }
}

/// Near misses and near hits of one value of one match.
/// `current` is the field's value in the event the variants replace it in: when it holds
/// the value with more around it (a name that must also start with another value), the
/// variants are built from it, so the other conditions on the field keep their truth.
fn variants(m: &Match, current: Option<&str>) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut text = |label: &str, v: String| out.push((label.to_string(), json!(v)));
    match &m.test {
        Test::Text { values, op, .. } => {
            for v in values {
                let base = current
                    .filter(|c| {
                        c.len() > v.len() && crate::ir::text_match(TextOp::Contains, c, v, false)
                    })
                    .unwrap_or(v);
                text("exact value", v.clone());
                text("upper-cased", base.to_uppercase());
                text("lower-cased", base.to_lowercase());
                text("sub-domain", format!("x.{base}"));
                text("look-alike prefix", format!("x{base}"));
                text("look-alike suffix", format!("{base}x"));
                // after / before a breaker: the value's words stay whole segments, so a search
                // term lets these through and only the where's edges decide
                text("look-alike after a breaker", format!("x-{base}"));
                text("look-alike before a breaker", format!("{base}-x"));
                text("trailing dot", format!("{base}."));
                text("in a URL", format!("https://{base}:443/path?q=1"));
                text("quotes and backslashes", format!("\"{base}\\'"));
                // `&` and `<` are written `&amp;` `&lt;` in the Sysmon XML `_raw` Splunk's
                // search terms read: the value's words must still be found there
                text("XML specials around", format!("&{base}<&amp;"));
                text("inside spaces", format!(" {base} "));
                // a letter of another script on either side: a term boundary for the spec
                // (ASCII), part of the term for Kusto (see `ir::KUSTO`)
                text("non-ASCII letter before", format!("é{base}"));
                text("non-ASCII letter after", format!("{base}é"));
                if *op == TextOp::Exact {
                    text("one character short", v.chars().skip(1).collect());
                }
                unicode_variants(base, &mut text);
            }
            text("empty", String::new());
        }
        Test::Domain(ds) => {
            for d in ds {
                text("exact value", d.clone());
                text("upper-cased", d.to_uppercase());
                text("sub-domain", format!("a.b.{d}"));
                text("look-alike prefix", format!("not{d}"));
                text("look-alike suffix", format!("{d}.evil.net"));
                text("look-alike after a breaker", format!("x-{d}"));
                text("look-alike before a breaker", format!("{d}-x"));
                text("sub-domain with a suffix", format!("a.{d}.evil.net"));
                unicode_variants(d, &mut text);
                text("trailing dot", format!("{d}."));
                text("in a URL", format!("https://{d}/path"));
            }
            text("empty", String::new());
        }
        Test::Ip(ips) => {
            for ip in ips {
                let s = ip.to_string();
                text("exact value", s.clone());
                text("leading zero", format!("0{s}"));
                text("IPv4-mapped IPv6", format!("::ffff:{s}"));
                if let std::net::IpAddr::V4(v4) = ip {
                    let n = u32::from(*v4).wrapping_add(1);
                    text("next address", std::net::Ipv4Addr::from(n).to_string());
                }
            }
            text("empty", String::new());
        }
        Test::Cidr(nets) => {
            for n in nets {
                text("network address", n.addr.to_string());
                // an address of the other family: no IPv4 (IPv6) range function converts it,
                // so its null must not decide the verdict (KQL `ipv4_is_in_range` is null)
                text(
                    "address of the other family",
                    if n.addr.is_ipv4() {
                        "2001:db8::1"
                    } else {
                        "192.0.2.1"
                    }
                    .into(),
                );
                if let std::net::IpAddr::V4(v4) = n.addr {
                    // undocumented in Kusto, unparsable for the spec (see eval::kql `ipv4`)
                    text("leading zero", format!("0{v4}"));
                    let size = 1u64 << (32 - u32::from(n.prefix));
                    let last = (u64::from(u32::from(v4)) + size - 1) as u32;
                    text("last address", std::net::Ipv4Addr::from(last).to_string());
                    text(
                        "just past the range",
                        std::net::Ipv4Addr::from(last.wrapping_add(1)).to_string(),
                    );
                }
            }
            text("not an address", "not-an-ip".into());
        }
        Test::Port(ports) => {
            for p in ports {
                out.push(("exact value".into(), json!(p)));
                out.push(("next port".into(), json!(u32::from(*p) + 1)));
            }
        }
        Test::Digest(hs) => {
            for h in hs {
                text("exact value", h.clone());
                text("upper-cased", h.to_uppercase());
                let mut other = h.clone();
                other.replace_range(0..1, if other.starts_with('0') { "1" } else { "0" });
                text("one digit off", other);
            }
        }
    }
    out
}

/// A condition of the rule and what verify generated for it (see `mcdc`).
#[derive(Clone, Debug)]
pub struct Covered {
    pub condition: mcdc::Condition,
    /// Indexes into the generated cases of the pair (condition true, condition false), or
    /// why no pair exists (`None`: the search gave up, so nobody knows).
    pub pair: Result<(usize, usize), Option<String>>,
}

/// The generated cases of one rule and its conditions' coverage.
pub struct Generated {
    pub cases: Vec<Case>,
    pub conditions: Vec<Covered>,
}

/// Fields every generated event carries, unless a condition sets them.
fn backdrop(ev: &mut Map<String, Value>, now: i128) {
    ev.entry("timestamp")
        .or_insert_with(|| json!(format_rfc3339(now - 60 * 1_000_000_000)));
    ev.entry("device_id").or_insert_with(|| json!("d0c5e3a1"));
    ev.entry("device_name")
        .or_insert_with(|| json!("ws-042.contoso.local"));
}

/// Set `field` to `value` in a case event, keeping a path and its name together: a new name
/// replaces the path's last component, a new path renames the process.
fn set_field(ev: &mut Map<String, Value>, field: &str, value: Value) {
    for &(path, name) in mcdc::PATH_NAME {
        if field == name {
            if let (Some(Value::String(p)), Some(n)) = (ev.get(path), value.as_str()) {
                if !n.contains('\\') {
                    let dir = p.rsplit_once('\\').map_or("C:\\rmmc", |(d, _)| d);
                    let full = format!("{dir}\\{n}");
                    ev.insert(path.into(), json!(full));
                }
            }
        }
        if field == path && ev.contains_key(name) {
            if let Some(p) = value.as_str() {
                ev.insert(name.into(), json!(mcdc::basename(p)));
            }
        }
    }
    ev.insert(field.into(), value);
}

/// Cases for one detection on one source:
/// - for every condition (each value of each match, in the detection and in each exclusion
///   that applies), an MC/DC pair: two events differing only in that condition, with every
///   other condition at a value that lets it decide the verdict (`mcdc`);
/// - around each pair's true event, near misses and near hits of that value (case, sub-domain,
///   look-alike prefix and suffix, trailing dot, URL, quotes, spaces, empty, neighbouring IPs
///   and ports, CIDR edges), judged where that condition matters;
/// - an address seen only as `local_ip`, and, when the detection filters on time, a firing
///   event just outside the window, one just inside it, and one in the future.
pub fn generate(
    det: &IrDetection,
    source: Source,
    now: i128,
    window_ns: i128,
    exclusions: bool,
) -> Generated {
    let verdict = |m: &Map<String, Value>| {
        let mut ev = m.clone();
        backdrop(&mut ev, now);
        det.matches(&Event(ev), source, exclusions)
    };
    let mk = |label: String, mut ev: Map<String, Value>| {
        backdrop(&mut ev, now);
        Case {
            name: format!("generated: {label}"),
            source,
            category: det.category,
            event: Event(ev),
            expect: None,
        }
    };
    let found = mcdc::pairs(det, source, exclusions, &verdict);
    let mut cases = Vec::new();
    let mut conditions = Vec::new();
    let mut firing: Option<Map<String, Value>> = None;
    for (c, outcome) in &found {
        let pair = match outcome {
            mcdc::Outcome::Pair { on, off } => {
                for ev in [on, off] {
                    if firing.is_none() && verdict(ev) {
                        firing = Some(ev.clone());
                    }
                }
                cases.push(mk(format!("{}: true", c.label), on.clone()));
                cases.push(mk(format!("{}: false", c.label), off.clone()));
                Ok((cases.len() - 2, cases.len() - 1))
            }
            mcdc::Outcome::Masked(why) => Err(Some(why.clone())),
            mcdc::Outcome::GaveUp => Err(None),
        };
        conditions.push(Covered {
            condition: c.clone(),
            pair,
        });
    }
    // boundary values of each condition, where it decides the verdict (an event already
    // judged, e.g. a variant equal to its pair's true event, is not judged twice)
    let mut seen: std::collections::HashSet<String> = cases
        .iter()
        .map(|c| Value::Object(c.event.0.clone()).to_string())
        .collect();
    let pairs_end = cases.len();
    for (c, outcome) in &found {
        let mcdc::Outcome::Pair { on, .. } = outcome else {
            continue;
        };
        let field = c.single.field.name();
        let current = on.get(field).and_then(Value::as_str);
        for (label, value) in variants(&c.single, current) {
            let mut ev = on.clone();
            set_field(&mut ev, field, value.clone());
            cases.push(mk(format!("{}: {label} {value}", c.label), ev));
        }
        // a name with no folder: the path is the bare name (Sysmon's `Image: name`, which
        // the Sigma and SPL renderings of a base name also accept)
        if let Some(&(path, _)) = mcdc::PATH_NAME.iter().find(|(_, n)| *n == field) {
            if let Some(name) = on.get(field).and_then(Value::as_str) {
                if !name.contains('\\') && !name.is_empty() {
                    let mut ev = on.clone();
                    ev.insert(path.into(), json!(name));
                    cases.push(mk(format!("{}: without a folder", c.label), ev));
                }
            }
        }
        // the value in a folder of the path, not in the name: the pair's false event (every
        // other condition as it was), its name under a folder named by the value
        if let (Some(&(path, _)), Test::Text { values, .. }, mcdc::Outcome::Pair { off, .. }) = (
            mcdc::PATH_NAME.iter().find(|(_, n)| *n == field),
            &c.single.test,
            outcome,
        ) {
            if let Some(name) = off.get(field).and_then(Value::as_str) {
                if !name.contains('\\') && !values[0].contains('\\') {
                    let mut ev = off.clone();
                    ev.insert(path.into(), json!(format!("C:\\{}\\{name}", values[0])));
                    cases.push(mk(format!("{}: in a folder, not the name", c.label), ev));
                }
            }
        }
        // the field with ſ for every s of a value, and the value itself in a field the
        // detection does not read: Splunk's search terms find the value's words in `_raw`,
        // so the `where` alone must refuse the ſ (the spec's fold keeps it apart from s)
        let with_s = match &c.single.test {
            Test::Text { values, .. } | Test::Domain(values) => {
                values.iter().find(|v| v.contains(['s', 'S']))
            }
            _ => None,
        };
        let spare = SPARE.iter().find(|f| {
            !found.iter().any(|(o, _)| o.single.field.name() == **f)
                && Field::lookup(f).is_some_and(|x| x.in_category(det.category))
        });
        if let (Some(v), Some(spare)) = (with_s, spare) {
            // in the field's current value where it holds the value, so the other conditions
            // on the field keep their truth
            let look_alike = v.replace(['s', 'S'], "\u{17F}");
            let value = current.filter(|c| c.contains(v.as_str())).map_or_else(
                || look_alike.clone(),
                |c| c.replacen(v.as_str(), &look_alike, 1),
            );
            let mut ev = on.clone();
            set_field(&mut ev, field, json!(value));
            ev.insert(spare.to_string(), json!(v));
            cases.push(mk(
                format!("{}: LONG S for s, the value in {spare}", c.label),
                ev,
            ));
        }
        // the address on the local end only, spelled with a leading zero: a wider "either
        // end" column must still compare addresses, not text
        if let (Test::Ip(ips), "remote_ip") = (&c.single.test, field) {
            let mut ev = on.clone();
            ev.insert("remote_ip".into(), json!("198.51.100.7"));
            ev.insert("local_ip".into(), json!(format!("0{}", ips[0])));
            cases.push(mk(
                format!("{}: only as local_ip, leading zero", c.label),
                ev,
            ));
        }
        // the address on the other end of the connection must not count as the remote one
        if let (Test::Ip(ips), "remote_ip") = (&c.single.test, field) {
            let mut ev = on.clone();
            ev.insert("remote_ip".into(), json!("198.51.100.7"));
            ev.insert("local_ip".into(), json!(ips[0].to_string()));
            cases.push(mk(format!("{}: only as local_ip", c.label), ev));
        }
        // the true event with every other field the detection reads emptied where the spec's
        // verdict stays: the pair's false fillers of other conditions are near-misses of their
        // values, which keep those values' words, so Splunk's search terms (an OR of one word
        // per branch) would pass such an event through another branch's word, and a wrong
        // word for this branch would go unseen
        let fires = verdict(on);
        let mut bare = on.clone();
        let mut emptied = false;
        for other in found.iter().map(|(o, _)| o.single.field.name()) {
            if other == field || bare.get(other).and_then(Value::as_str) == Some("") {
                continue;
            }
            let mut ev = bare.clone();
            set_field(&mut ev, other, json!(""));
            if verdict(&ev) == fires {
                bare = ev;
                emptied = true;
            }
        }
        if emptied {
            cases.push(mk(
                format!("{}: true, the other fields emptied", c.label),
                bare,
            ));
        }
    }
    let boundary = cases.split_off(pairs_end);
    cases.extend(
        boundary
            .into_iter()
            .filter(|c| seen.insert(Value::Object(c.event.0.clone()).to_string())),
    );
    let firing = firing.unwrap_or_else(|| {
        let mut base = Map::new();
        witness(&det.expr, &mut base);
        base
    });
    if det.time_filter {
        let mut ev = firing.clone();
        ev.insert(
            "timestamp".into(),
            json!(format_rfc3339(now - window_ns - 3_600_000_000_000)),
        );
        cases.push(mk("older than the window".into(), ev));
        // and one just inside it, so a window cut shorter is caught too
        let mut ev = firing.clone();
        ev.insert(
            "timestamp".into(),
            json!(format_rfc3339(now - window_ns + 3_600_000_000_000)),
        );
        cases.push(mk("early in the window".into(), ev));
        let mut ev = firing.clone();
        ev.insert(
            "timestamp".into(),
            json!(format_rfc3339(now + 3_600_000_000_000)),
        );
        cases.push(mk("in the future".into(), ev));
    }
    if cases.is_empty() {
        cases.push(mk("witness".into(), firing));
    }
    // every event gets its own id, as ReportId does per device
    if Field::known("report_id").in_category(det.category) {
        for (i, c) in cases.iter_mut().enumerate() {
            c.event.0.insert("report_id".into(), json!(i + 1));
        }
    }
    Generated { cases, conditions }
}
