//! Bodies of the fuzz targets (`tests/fuzz/`, run with cargo-fuzz) and of the regression test
//! that replays their committed corpus on every `cargo test` (`tests/fuzz_corpus.rs`). Each
//! takes arbitrary bytes and must return without panicking, overflowing the stack or hanging;
//! `round_trip` must also find no disagreement between an artifact and its spec.

use std::path::Path;

/// The spec loader (YAML, spans, validation) on arbitrary text.
pub fn spec(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::spec::load_str(Path::new("fuzz.yaml"), text);
    }
}

/// rmmc's KQL parser, binder and printer; what it parses must print and parse back the same.
pub fn kql(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(q) = crate::eval::kql::parser::parse(text) {
        let _ = crate::eval::kql::bind::check(&q);
        let printed = q.to_string();
        match crate::eval::kql::parser::parse(&printed) {
            Ok(again) => assert_eq!(again, q, "print → parse changed the query:\n{printed}"),
            // The canonical printer brackets every operand, so a query within a few levels of
            // the nesting cap can print past it (found by fuzzing); that is the cap working.
            Err(e) if e.too_deep => {}
            Err(e) => panic!("printed query does not parse: {e}\n{printed}"),
        }
    }
}

/// rmmc's SPL parser, and the search run on one event.
pub fn spl(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(s) = crate::eval::spl::parse(text) {
        let mut ev = serde_json::Map::new();
        ev.insert("a".into(), "1".into());
        ev.insert("_time".into(), 1_780_000_000.into());
        let _ = s.run(&[ev], 1_780_000_000_000_000_000);
    }
}

/// rmmc's EQL parser, and the query run on one ECS event.
pub fn eql(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(q) = crate::eval::eql::parse(text) {
        let ev = serde_json::json!({"event": {"category": ["network"]}, "a": "1", "process": {"name": "x.exe"}});
        let _ = q.matches(&ev);
    }
}

/// A spec whose match values come from the input, compiled to every target; each artifact,
/// evaluated from its text, must agree with the spec on the boundary cases `verify` generates.
pub fn round_trip(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(3, '\u{0}');
    let values: Vec<String> = (0..3)
        .map(|_| parts.next().unwrap_or("x").trim().to_string())
        .collect();
    let q = |s: &str| serde_json::to_string(s).expect("a string serializes");
    let spec = format!(
        "id: fuzz\nvendor: Fuzz\ndescription: fuzz\nreferences: [https://example.invalid/]\ndate: 2026-05-31\nseverity: low\nattack: {{ tactics: [CommandAndControl], techniques: [T1219] }}\nwindow: 1d\ndetections:\n  p:\n    title: P\n    category: process\n    where:\n      any:\n        - process_original_file_name: {{ exact: [{}] }}\n        - process_command_line: {{ contains: [{}] }}\n        - process_company: {{ term: [{}] }}\n    output:\n      summarize: [device_name]\n",
        q(&values[0]),
        q(&values[1]),
        q(&format!("a{}z", values[2])),
    );
    // values the spec format refuses (control characters, too long, …) are not this target's
    let Ok(loaded) = crate::spec::load_str(Path::new("fuzz.yaml"), &spec) else {
        return;
    };
    let res = crate::build::compile(
        std::slice::from_ref(&loaded),
        &crate::build::BuildOptions::only(crate::build::Target::all()),
    );
    if res.diags.iter().any(crate::diag::Diag::is_error) {
        return;
    }
    let ir = crate::ir::lower(&loaded);
    let report = crate::verify::verify(
        std::slice::from_ref(&ir),
        &res.files,
        &[],
        &res.renderings,
        &crate::verify::VerifyOptions {
            now: 1_780_000_000_000_000_000,
            exclusions: true,
        },
    );
    let bad: Vec<String> = report
        .cells
        .iter()
        .filter(|c| c.disagrees())
        .map(|c| format!("{} {}: {:?}", c.rule, c.backend.name(), c.error))
        .collect();
    assert!(bad.is_empty(), "{bad:?} for values {values:?}");
}
