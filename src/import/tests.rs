//! Tests of the importers' shared parts: the proof, hand-written wins, the report.

use super::draft::{Draft, DraftDetection, Pred};
use super::drop_masked;
use crate::spec::Category;

fn draft(predicate: Pred) -> Draft {
    Draft {
        id: "t".into(),
        vendor: "T".into(),
        description: "d".into(),
        references: vec!["https://example.invalid/".into()],
        author: "a".into(),
        date: None,
        modified: None,
        severity: "medium",
        tactics: vec!["CommandAndControl".into()],
        techniques: vec!["T1219".into()],
        window: "5d".into(),
        comments: vec![],
        detections: vec![DraftDetection {
            key: "createproc".into(),
            title: "Create Process".into(),
            on: Category::Process,
            comments: vec![],
            predicate,
            summarize: vec!["device_name".into()],
            time_filter: true,
            gaps: vec![],
            unsupported: vec![],
            source: 0,
        }],
    }
}

fn name(kind: &'static str, v: &[&str]) -> Pred {
    Pred::matches(
        "process_name",
        kind,
        v.iter().map(|s| s.to_string()).collect(),
    )
}

/// The LOLRMM domotz shape: `Domotz Pro Desktop App Setup` is a prefix already covered by
/// `domotz`, so its whole `all:` branch goes (dropped as false), never leaving a bare
/// `suffix .exe` behind (dropped as true, which matched every executable); the exact names
/// the `domotz` branch covers go too, one at a time.
#[test]
fn implied_values_are_dropped_as_false() {
    let exe = || name("suffix", &[".exe"]);
    let mut d = draft(Pred::Any(vec![
        name("exact", &["domotz.exe", "other.exe"]),
        Pred::All(vec![name("prefix", &["domotz"]), exe()]),
        Pred::All(vec![
            name("prefix", &["Domotz Pro Desktop App Setup"]),
            exe(),
        ]),
    ]));
    let notes = drop_masked(&mut d);
    assert_eq!(
        d.detections[0].predicate,
        Pred::Any(vec![
            name("exact", &["other.exe"]),
            Pred::All(vec![name("prefix", &["domotz"]), exe()]),
        ]),
        "{notes:#?}"
    );
    assert_eq!(notes.len(), 2, "{notes:#?}");
    assert!(notes.iter().any(|n| n.contains("dropped `domotz.exe`")));
    assert!(notes
        .iter()
        .any(|n| n.contains("dropped `Domotz Pro Desktop App Setup`")));
}

/// Of two values that imply each other (equal up to case), one stays; a value nothing
/// implies stays.
#[test]
fn of_two_equal_values_one_stays() {
    let mut d = draft(name(
        "exact",
        &["AnyDesk.exe", "anydesk.exe", "rustdesk.exe"],
    ));
    let notes = drop_masked(&mut d);
    assert_eq!(notes.len(), 1, "{notes:#?}");
    let Pred::Match { values, .. } = &d.detections[0].predicate else {
        panic!("{:?}", d.detections[0].predicate)
    };
    assert_eq!(values.len(), 2);
    assert!(values.contains(&"rustdesk.exe".to_string()));
}
