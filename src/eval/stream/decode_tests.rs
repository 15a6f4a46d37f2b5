//! The tape decoder against serde_json: whatever line simd-json's tape reads, `Decoder` gives
//! serde_json's event (and KQL row); whatever it refuses or might read otherwise, serde_json
//! decides, with its own error message; and the tape reads the common shapes of exports (so
//! the fast path is the one taken). Ported from the sonic-rs attempt (b1d0fd4).

use super::{Decoder, Event, Projection, Tapes};
use crate::eval::kql::interp as kinterp;
use proptest::prelude::*;
use serde_json::{json, Value};

fn decode(line: &[u8], p: &Projection) -> Result<Event, serde_json::Error> {
    Decoder::default().decode(line, p)
}
fn decode_kql(line: &[u8], p: &Projection) -> Result<kinterp::Row, serde_json::Error> {
    let mut row = kinterp::Row::new();
    Decoder::default().decode_kql_into(line, p, &mut row)?;
    Ok(row)
}
use super::{decode as decode_serde, decode_kql as decode_kql_serde};
fn only(tapes: Tapes) -> Decoder {
    Decoder {
        tapes,
        ..Decoder::default()
    }
}
/// simd-json's whole tape's reading alone: `Err(())` where it leaves the line to serde_json.
fn decode_tape(line: &[u8], p: &Projection) -> Result<Event, ()> {
    only(Tapes::Whole).tape_event(line, p).ok_or(())
}
fn decode_kql_tape(line: &[u8], p: &Projection) -> Result<kinterp::Row, ()> {
    only(Tapes::Whole).tape_kql(line, p).ok_or(())
}
/// The sparse tape's reading alone (`sparse.rs`): `Err(())` where it gives the line up.
fn decode_sparse(line: &[u8], p: &Projection) -> Result<Event, ()> {
    only(Tapes::Sparse).tape_event(line, p).ok_or(())
}
fn decode_kql_sparse(line: &[u8], p: &Projection) -> Result<kinterp::Row, ()> {
    only(Tapes::Sparse).tape_kql(line, p).ok_or(())
}
/// The sparse tape's reading written over an event and a row already there (as in a
/// stream), both ways; `Err(())` where it gives the line up.
fn decode_sparse_over(line: &[u8], p: &Projection) -> Result<(Event, kinterp::Row), ()> {
    let mut dec = only(Tapes::Sparse);
    let mut ev: Event = serde_json::from_str(r#"{"a":"old","n":[1,2],"z":{"k":1}}"#).unwrap();
    dec.read(line, p, true, |t| super::tape_object_over(t, p, 1, &mut ev))
        .ok_or(())?;
    let mut row = kinterp::Row::new();
    row.insert("a".into(), kinterp::Value::Str("old".into()));
    dec.decode_kql_into(line, p, &mut row).map_err(|_| ())?;
    Ok((ev, row))
}

fn projections() -> [Projection; 3] {
    [
        Projection::new(["a", "destination.domain", "n"], false),
        Projection::new(["a", "b", "n", "é"], false),
        Projection::new([], true),
    ]
}

/// `decode` and `decode_kql` give serde_json's event, row or error for `line` under every
/// projection. True when the tape read the line (both ways) under every projection.
fn agrees(line: &[u8]) -> bool {
    let text = String::from_utf8_lossy(line);
    let mut read = true;
    for p in projections() {
        let (got, event) = (decode(line, &p), decode_serde(line, &p));
        match (&got, &event) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{text}"),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{text}"),
            _ => panic!("{text}: {got:?} vs serde_json's {event:?}"),
        }
        let (got, want) = (decode_kql(line, &p), decode_kql_serde(line, &p));
        match (&got, &want) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{text}"),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{text}"),
            _ => panic!("{text}: {got:?} vs serde_json's {want:?}"),
        }
        // what the tape reads, it reads as serde_json does
        if let Ok(ev) = decode_tape(line, &p) {
            assert_eq!(Some(&ev), event.as_ref().ok(), "{text}");
        } else {
            read = false;
        }
        if let Ok(row) = decode_kql_tape(line, &p) {
            assert_eq!(Some(row), decode_kql_serde(line, &p).ok(), "{text}");
        } else {
            read = false;
        }
        // what the sparse tape reads, it reads as serde_json does, anew and over old values
        if let Ok(ev) = decode_sparse(line, &p) {
            assert_eq!(Some(&ev), event.as_ref().ok(), "{text}");
        }
        if let Ok(row) = decode_kql_sparse(line, &p) {
            assert_eq!(Some(row), decode_kql_serde(line, &p).ok(), "{text}");
        }
        if let Ok((ev, row)) = decode_sparse_over(line, &p) {
            assert_eq!(Some(&ev), event.as_ref().ok(), "{text}");
            assert_eq!(Some(row), decode_kql_serde(line, &p).ok(), "{text}");
        }
    }
    read
}

/// Does the sparse tape read `line` under each projection of some keys, both ways?
fn sparse_reads(line: &[u8]) -> bool {
    projections()[..2]
        .iter()
        .all(|p| decode_sparse(line, p).is_ok() && decode_kql_sparse(line, p).is_ok())
}

#[test]
fn the_sparse_tape_reads_compact_exports_and_checks_what_it_skips() {
    let text = |l: &[u8]| String::from_utf8_lossy(l).into_owned();
    // read by the scan alone (and as serde_json reads them: `agrees`)
    let read: &[&[u8]] = &[
        // a Sysmon event as exports write it, and the same with JSON's whitespace
        br#"{"_time":"2026-05-31T11:00:00Z","EventCode":"3","EventID":3,"z":"C:\\Program Files\\App\\client32.exe","b":"geo.netsupportsoftware.com","n":443}"#,
        b" { \"a\" : \"x\" ,\"n\": 0 } \r\n",
        // duplicate keys, kept and skipped
        br#"{"a":1,"b":2,"a":"x","n":true,"z":1,"z":2}"#,
        // nested ECS: only destination.domain is kept below destination
        br#"{"destination":{"ip":"1.2.3.4","domain":"x.com","port":443},"destination.domain":"y"}"#,
        b"{}",
        br#"{"a":[],"n":{},"z":[{},[]]}"#,
        "{\"é\":\"ü\",\"a\":\"日本\"}".as_bytes(),
        // skipped: escapes of any kind (a lone surrogate too: serde_json skips it unread),
        // floats, -0, long numbers, deep nesting
        br#"{"z":"\" \\ \/ \b \f \n \r \t \u00e9 \ud800","n":1}"#,
        br#"{"z":[1.5e3,-0.25,-0,0,12345678901234567890123,{"q":[true,false,null]}],"n":7}"#,
        br#"{"z":{"\u0061":1,"k":"\"}"},"n":7}"#,
        // kept strings with escapes, unescaped (a NUL too)
        br#"{"a":"C:\\Program Files\\x \"q\" \/ \b\f\n\r\t","b":"\u00e9\u0000\u20ac\uFFFF","n":"\\"}"#,
        br#"{"destination":{"domain":"x\u002ecom","k":"\\"},"a":["\t",{"k":"\""}]}"#,
        // kept integers up to 16 digits, and 0
        br#"{"a":0,"b":-1,"n":9999999999999999}"#,
    ];
    for line in read {
        assert!(sparse_reads(line), "{}", text(line));
        agrees(line);
    }
    let deep = format!(r#"{{"z":{}1{},"n":1}}"#, "[".repeat(64), "]".repeat(64));
    assert!(sparse_reads(deep.as_bytes()));
    // given up on (serde_json reads them, through the whole tape or alone): an escape in a
    // key or a kept string, kept floats, -0 and long integers, raw tabs between tokens,
    // bytes that are not UTF-8 in a skipped string, skipped nesting past 64 levels
    let given_up: &[&[u8]] = &[
        br#"{"a":"\ud83d\ude00"}"#,
        br#"{"\u0061":1}"#,
        br#"{"z\"":1}"#,
        br#"{"n":1.5}"#,
        br#"{"n":-0}"#,
        br#"{"n":1e3}"#,
        br#"{"n":12345678901234567}"#,
        br#"{"n":[1,0.5]}"#,
        br#"{"destination":{"domain":2.5}}"#,
        b"{\"a\":\t1}",
        b"{\"z\":\"\xff\",\"n\":1}",
    ];
    for line in given_up {
        let p = &projections()[0];
        assert!(decode_sparse(line, p).is_err(), "{}", text(line));
        assert!(decode(line, p).is_ok(), "{}", text(line));
        agrees(line);
    }
    let deeper = format!(r#"{{"z":{}1{},"n":1}}"#, "[".repeat(65), "]".repeat(65));
    assert!(decode_sparse(deeper.as_bytes(), &projections()[0]).is_err());
    agrees(deeper.as_bytes());
    // what serde_json refuses, the scan gives up on, skipped or kept, so the error is
    // serde_json's
    let refused: &[&[u8]] = &[
        b"{\"\xff\":1}",
        br#"{"a":"x\uDBFFy"}"#,
        b"{\"z\":\"a\x01b\"}",
        br#"{"z":"\x"}"#,
        br#"{"z":"\u12"}"#,
        br#"{"z":"\u12g4"}"#,
        br#"{"z":"abc}"#,
        br#"{"a":1,}"#,
        br#"{,"a":1}"#,
        br#"{"a" 1}"#,
        br#"{"a":1 "b":2}"#,
        br#"{"a":1} x"#,
        br#"{"a":1}{"a":2}"#,
        br#"[{"a":1}]"#,
        br#"{"z":01}"#,
        br#"{"z":-}"#,
        br#"{"z":-a}"#,
        br#"{"z":1.}"#,
        br#"{"z":1.e5}"#,
        br#"{"z":1e}"#,
        br#"{"z":1e+}"#,
        br#"{"z":.5}"#,
        br#"{"z":+1}"#,
        br#"{"z":tru}"#,
        br#"{"z":nul}"#,
        br#"{"z":truex}"#,
        br#"{"z":1x}"#,
        br#"{"z":[1,]}"#,
        br#"{"z":[1 2]}"#,
        br#"{"z":{"k":1,}}"#,
        br#"{"z":{"k" 1}}"#,
        br#"{"z":{1:1}}"#,
        br#"{"z":[}"#,
        br#"{"z":{]}"#,
        br#"{"z":[[1]}"#,
        br#"{"a":[1,]}"#,
        br#"{"a":{"k":1,}}"#,
        br#"{"a":"x"#,
        b"{\"a\":\"x\"\x0c}",
        b"",
        b" \n",
    ];
    for line in refused {
        for p in projections() {
            assert!(decode_serde(line, &p).is_err(), "{}", text(line));
            assert!(decode_sparse(line, &p).is_err(), "{}", text(line));
            assert!(decode_kql_sparse(line, &p).is_err(), "{}", text(line));
        }
        agrees(line);
    }
    // the sparse event, spelled out: kept keys only, in the line's order, the last of a
    // key twice in the first one's place
    let p = &projections()[0];
    assert_eq!(
        Value::Object(decode_sparse(read[3], p).unwrap()),
        json!({"destination": {"domain": "x.com"}, "destination.domain": "y"})
    );
    assert_eq!(
        serde_json::to_string(&decode_sparse(read[2], &projections()[1]).unwrap()).unwrap(),
        r#"{"a":"x","b":2,"n":true}"#
    );
}

#[test]
fn the_tape_reads_the_shapes_of_exports_as_serde_json_does() {
    let read: &[&[u8]] = &[
        // a Defender row: escaped backslashes and quotes, integers, a datetime
        br#"{"Timestamp":"2026-05-30T10:00:00Z","a":"c:\\program files\\x \"q\" \/ \b\f\n\r\t","n":443,"b":-12}"#,
        // whitespace anywhere JSON allows it, and CRLF line ends
        b" { \"a\" : \"x\" ,\t\"n\":\r\n 0 } \r\n",
        // duplicate keys: the last value wins, in the first one's place
        br#"{"a":1,"b":2,"a":"x","n":true}"#,
        br#"{"z":{"k":1,"j":2,"k":3},"a":{"k":1,"j":2,"k":3}}"#,
        // numbers vs strings: "1" stays text, 1 a number
        br#"{"a":"1","b":1,"n":null}"#,
        // integers at the ends of i64 and u64
        br#"{"a":-9223372036854775808,"b":18446744073709551615,"n":9223372036854775808}"#,
        // nested ECS: only destination.domain is kept below destination; a flat dotted key
        br#"{"destination":{"ip":"1.2.3.4","domain":"x.com","port":443},"destination.domain":"y"}"#,
        // missing fields and an empty object
        b"{}",
        // a non-ASCII key, kept
        "{\"é\":1}".as_bytes(),
        br#"{"other":1}"#,
        // \u escapes, NUL, an escaped key
        br#"{"a":"\u00e9\u0000\u20ac","\u0062":"\u0041"}"#,
        // floats in fields no rule reads are skipped
        br#"{"z":[1.5e3,-0.25,-0,{"q":[true,false,null]}],"n":7}"#,
    ];
    for line in read {
        for p in &projections()[..2] {
            assert!(
                decode_tape(line, p).is_ok(),
                "{}",
                String::from_utf8_lossy(line)
            );
            assert!(
                decode_kql_tape(line, p).is_ok(),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
        agrees(line);
    }
    // floats in kept values (simd-json reads -0 as the integer 0, refuses 20-digit integers, rounds
    // its own way): serde_json decides the line
    let floats: &[&[u8]] = &[
        br#"{"n":1.5}"#,
        br#"{"n":-0}"#,
        br#"{"n":1e3}"#,
        br#"{"n":-0.0}"#,
        br#"{"n":123456789012345678901}"#,
        br#"{"n":-9223372036854775809}"#,
        br#"{"n":[1,0.30000000000000004]}"#,
        br#"{"destination":{"domain":2.5e-308}}"#,
    ];
    for line in floats {
        assert!(decode_tape(line, &projections()[0]).is_err());
        assert!(decode_kql_tape(line, &projections()[0]).is_err());
        assert!(decode(line, &projections()[0]).is_ok());
        agrees(line);
    }
    // lines serde_json refuses: the tape leaves them to it, and the error is serde_json's
    let refused: &[&[u8]] = &[
        b"{\"\xff\":1}",                         // a key that is not UTF-8
        b"{\"a\":\"\xff\"}",                     // invalid UTF-8 in a kept value
        br#"{"a":"\ud800"}"#,                    // a lone surrogate in a kept value
        br#"{"a":"\udc00\ud800"}"#,              // surrogates out of order
        b"{\"z\":\"a\x01b\"}",                   // a raw control character
        br#"{"z":"\x"}"#,                        // a bad escape
        br#"{"z":"\u12"}"#,                      // a short \u escape
        br#"{"a":1,}"#,                          // a trailing comma
        br#"{"a" 1}"#,                           // no colon
        br#"{"a":1} x"#,                         // trailing text
        br#"{"a":1}{"a":2}"#,                    // two objects
        br#"[{"a":1}]"#,                         // not an object
        br#"{"n":01}"#,                          // a leading zero
        br#"{"z":01}"#,                          // the same, skipped
        br#"{"z":1.}"#,                          // no digit after the point
        br#"{"z":tru}"#,                         // a broken literal
        br#"{"z":[1669880210380469925tfalse]}"#, // a long number run on (simd-json reads it)
        br#"{"z":123456789012345678x}"#,
        br#"{"n":-1234567890123456789012345.5e3x}"#,
        br#"{"z":1.0000000000000000000001"x"}"#,
        br#"{"z":[1835372861110135080-,1]}"#,
        br#"{"z":123456789012345678.5.5}"#,
        br#"{"z":1234567890123456789e5e5}"#,
        br#"{"a":"x"#, // cut short
        b"",           // nothing
    ];
    for line in refused {
        for p in projections() {
            assert!(
                decode_serde(line, &p).is_err(),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
        assert!(!agrees(line), "{}", String::from_utf8_lossy(line));
    }
    // serde_json's reading of a line is the reference even where it is lenient: bytes that
    // are not UTF-8 in a string no rule reads, an unpaired surrogate skipped
    for line in [&b"{\"z\":\"\xff\",\"n\":1}"[..], br#"{"z":"\ud800","n":1}"#] {
        let p = &projections()[0];
        assert_eq!(decode(line, p).unwrap(), decode_serde(line, p).unwrap());
        agrees(line);
    }
    // \u escapes of surrogates, paired or not, kept or skipped: simd-json reads an unpaired
    // high one as NUL, or with a following \uE000-\uFFFF as one other character, where
    // serde_json refuses a kept string or key; serde_json decides every line with one
    for line in [
        &br#"{"a":"\ud83d\ude00","n":1}"#[..],
        br#"{"a":"\ud800\ue000"}"#,
        br#"{"a":"\uD800\uFFFF"}"#,
        br#"{"a":"\ud800x"}"#,
        br#"{"z":"\ud800\ue000","n":1}"#,
        br#"{"\ud800\ue000":1,"n":1}"#,
        br#"{"z":{"\udbff\uffff":1},"n":1}"#,
    ] {
        for p in projections() {
            assert!(decode_tape(line, &p).is_err());
            assert!(decode_kql_tape(line, &p).is_err());
        }
        agrees(line);
    }
    assert!(decode(br#"{"a":"\ud800\ue000"}"#, &projections()[0]).is_err());
    assert!(decode(br#"{"z":"\ud800\ue000","n":1}"#, &projections()[0]).is_ok());
    // a Windows path's escaped backslashes before a "u" are no \u escape
    assert!(decode_tape(br#"{"a":"C:\\users\\d8"}"#, &projections()[0]).is_ok());
    // nesting: serde_json's limit (128) decides
    for depth in [100, 127, 128, 129, 200] {
        for key in ["a", "z"] {
            let deep = format!("{{\"{key}\":{}1{}}}", "[".repeat(depth), "]".repeat(depth));
            agrees(deep.as_bytes());
        }
    }
    // the projected event, spelled out once
    let ev = decode(read[6], &projections()[0]).unwrap();
    assert_eq!(
        Value::Object(ev),
        json!({"destination": {"domain": "x.com"}, "destination.domain": "y"})
    );
    // duplicate keys, spelled out: the last value in the first key's place
    let ev = decode(read[2], &projections()[1]).unwrap();
    assert_eq!(
        serde_json::to_string(&ev).unwrap(),
        r#"{"a":"x","b":2,"n":true}"#
    );
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1000i32..1000).prop_map(Value::from),
        any::<f64>().prop_map(|x| json!(x)),
        "[a-z\\\\\"/\u{1}\u{1f}é😀 ]{0,8}".prop_map(Value::String),
    ]
}

fn event() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("a"),
        Just("b"),
        Just("n"),
        Just("z"),
        Just("destination"),
        Just("domain"),
        Just("destination.domain"),
        Just("é"),
        Just("q\"k"),
    ];
    let value = leaf().prop_recursive(3, 16, 4, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..4).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    });
    let key = prop_oneof![
        Just("a"),
        Just("n"),
        Just("destination"),
        Just("z"),
        Just("é")
    ];
    prop::collection::vec((key, value), 0..6)
        .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
}

proptest! {
    /// Valid exports, and the same with one byte replaced by one that breaks JSON or changes
    /// a token (an escape, a surrogate, a digit): `decode` never reads a line otherwise than
    /// serde_json, nor fails with another message.
    #[test]
    fn never_reads_a_line_otherwise_than_serde_json(
        ev in event(),
        edit in prop::option::of((any::<prop::sample::Index>(), prop::sample::select(
            b"\"\\,:{}[]0-.eE1 \x01\xffntu".to_vec()))),
    ) {
        let mut line = serde_json::to_vec(&ev).unwrap();
        if let Some((at, b)) = edit {
            let i = at.index(line.len());
            line[i] = b;
        }
        line.push(b'\n');
        agrees(&line);
    }
}

proptest! {
    /// Raw string text with \u escapes of surrogates (paired, unpaired, out of order, before
    /// other escapes), as a kept or skipped value and as a key: never read otherwise than
    /// serde_json reads it.
    #[test]
    fn escapes_are_read_as_serde_json_reads_them(
        key in prop::sample::select(vec!["a", "n", "z", "destination"]),
        raw in r#"(\\u[dD][89a-fA-F][0-9a-fA-F]{2}|\\u[0eEfF][0-9a-fA-F]{3}|\\[\\"nt/u]|[a-z]){0,4}"#,
    ) {
        agrees(format!(r#"{{"{key}":"{raw}","n":1}}"#).as_bytes());
        agrees(format!(r#"{{"{raw}":1,"a":"x"}}"#).as_bytes());
        agrees(format!(r#"{{"destination":{{"domain":"{raw}","{raw}":2}}}}"#).as_bytes());
    }
}

proptest! {
    /// A stream of lines decoded over one row (as a worker does) gives each line's row as
    /// decoded anew: no key, value or string buffer of an earlier line shows, and a line
    /// refused leaves the row empty.
    #[test]
    fn a_row_decoded_over_is_the_row_decoded_anew(
        evs in prop::collection::vec((event(), prop::option::of(any::<prop::sample::Index>())), 1..6),
    ) {
        for p in projections() {
            let (mut dec, mut row) = (Decoder::default(), kinterp::Row::new());
            for (ev, cut) in &evs {
                let mut line = serde_json::to_vec(ev).unwrap();
                if let Some(at) = cut {
                    // a line cut short: refused
                    line.truncate(at.index(line.len()));
                }
                let got = dec.decode_kql_into(&line, &p, &mut row);
                match (got, decode_kql_serde(&line, &p)) {
                    (Ok(()), Ok(want)) => prop_assert_eq!(&row, &want),
                    (Err(a), Err(b)) => {
                        prop_assert_eq!(a.to_string(), b.to_string());
                        prop_assert!(row.is_empty());
                    }
                    (got, want) => panic!("{got:?} vs serde_json's {want:?}"),
                }
            }
        }
    }
}

#[test]
fn a_row_decoded_over_changes_type_and_keys_as_lines_do() {
    let p = Projection::new(["a", "n", "t"], false);
    let (mut dec, mut row) = (Decoder::default(), kinterp::Row::new());
    for line in [
        &br#"{"a":"x","t":"2026-05-31T09:00:00Z","n":1}"#[..],
        br#"{"a":"2026-05-31T09:00:00.5Z","t":"later","n":"s"}"#,
        br#"{"t":"y","a":"x","a":[1,"z"],"skipped":"s"}"#,
        br#"{"n":1.5,"a":"w"}"#,
        br#"{"a":"#,
        br#"{}"#,
        br#"{"a":"v","n":null,"t":"2026-05-31T09:00:00+02:00"}"#,
        br#"{"t":"x"}"#,
        br#"{"a":"y"}"#,
        br#"{"a":"z","skipped":1}"#,
        br#"{"n":2,"a":"2026-05-31T09:00:00Z"}"#,
        br#"{"n":3,"t":"u"}"#,
    ] {
        let got = dec
            .decode_kql_into(line, &p, &mut row)
            .map(|()| row.clone());
        let want = super::decode_kql(line, &p);
        assert_eq!(
            format!("{got:?}"),
            format!("{want:?}"),
            "{}",
            String::from_utf8_lossy(line)
        );
    }
}

proptest! {
    /// A stream of lines decoded over one event (as a worker does) gives each line's event as
    /// decoded anew, keys in the same order (compared as text: maps compare unordered), and
    /// a line refused leaves the event empty.
    #[test]
    fn an_event_decoded_over_is_the_event_decoded_anew(
        evs in prop::collection::vec((event(), prop::option::of(any::<prop::sample::Index>())), 1..6),
        twice in any::<bool>(),
    ) {
        for p in projections() {
            let (mut dec, mut got) = (Decoder::default(), Event::new());
            for (ev, cut) in &evs {
                let mut line = serde_json::to_vec(ev).unwrap();
                if twice {
                    // a key twice: {"a":0, ...}, read first with its first value's place
                    line.splice(1..1, br#""a":0,"#.iter().copied());
                    if line[7] == b'}' {
                        line.remove(6);
                    }
                }
                if let Some(at) = cut {
                    line.truncate(at.index(line.len()));
                }
                let r = dec.decode_into(&line, &p, &mut got);
                match (r, decode_serde(&line, &p)) {
                    (Ok(()), Ok(want)) => prop_assert_eq!(
                        serde_json::to_string(&got).unwrap(),
                        serde_json::to_string(&want).unwrap()
                    ),
                    (Err(a), Err(b)) => {
                        prop_assert_eq!(a.to_string(), b.to_string());
                        prop_assert!(got.is_empty());
                    }
                    (r, want) => panic!("{r:?} vs serde_json's {want:?}"),
                }
            }
        }
    }
}

/// `v` with the same arrays and objects (keys in order, arrays as long) and other leaves,
/// chosen by `k`: a string of another length, another number or type, a float, an array
/// or object where a leaf was.
fn relabel(v: &Value, k: &mut u64) -> Value {
    match v {
        Value::Array(xs) => Value::Array(xs.iter().map(|x| relabel(x, k)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(key, x)| (key.clone(), relabel(x, k)))
                .collect(),
        ),
        _ => {
            *k = k
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            match (*k >> 33) % 9 {
                0 => Value::Null,
                1 => Value::Bool(*k & 1 == 0),
                2 => json!(*k >> 40),
                3 => json!(-((*k >> 44) as i64) - 1),
                4 => json!(1.5),
                5 => json!([]),
                6 => json!({"a": "s"}),
                7 => Value::String("x".repeat((*k >> 50) as usize % 20)),
                _ => Value::String(String::new()),
            }
        }
    }
}

proptest! {
    /// Lines of one shape (as an export's are) decoded over one event: each value written in
    /// place over the last line's (strings, arrays and objects of whole values included) gives
    /// each line's event as decoded anew.
    #[test]
    fn lines_of_one_shape_decoded_over_are_decoded_anew(
        ev in event(),
        seeds in prop::collection::vec(any::<u64>(), 1..5),
    ) {
        let mut lines = vec![serde_json::to_vec(&ev).unwrap()];
        for mut k in seeds {
            lines.push(serde_json::to_vec(&relabel(&ev, &mut k)).unwrap());
        }
        lines.push(lines[0].clone());
        for p in projections() {
            let (mut dec, mut got) = (Decoder::default(), Event::new());
            for line in &lines {
                dec.decode_into(line, &p, &mut got).unwrap();
                let want = decode_serde(line, &p).unwrap();
                prop_assert_eq!(
                    serde_json::to_string(&got).unwrap(),
                    serde_json::to_string(&want).unwrap()
                );
            }
        }
    }
}

#[test]
fn values_decoded_over_keep_no_trace_of_the_last_line() {
    // whole values in place: arrays as long, nested objects, a key twice in a nested object
    let p = Projection::new([], true);
    let (mut dec, mut got) = (Decoder::default(), Event::new());
    for line in [
        &br#"{"c":["network","x"],"o":{"k":"v","n":[1,{"a":"b"}]}}"#[..],
        br#"{"c":["process","yy"],"o":{"k":"w","n":[2,{"a":"cc"}]}}"#,
        br#"{"c":["p"],"o":{"k":"w","k":"z","n":[2,{"a":"cc"}]}}"#,
        br#"{"c":[null,1],"o":{"n":[3,{"b":"c"}],"k":"u"}}"#,
        br#"{"c":[[],{}],"o":{"k":1,"n":[]}}"#,
        br#"{"c":["a","b"],"o":{"k":"v","n":[1.5,{"a":"b"}]}}"#,
    ] {
        dec.decode_into(line, &p, &mut got).unwrap();
        assert_eq!(
            serde_json::to_string(&got).unwrap(),
            serde_json::to_string(&super::decode(line, &p).unwrap()).unwrap(),
            "{}",
            String::from_utf8_lossy(line)
        );
    }
}
