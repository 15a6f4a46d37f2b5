//! Splunk's `.conf` files (savedsearches.conf) read the way Splunk reads them.

use std::collections::BTreeMap;

/// A `.conf` file as Splunk reads it.
#[derive(Debug, Default, PartialEq)]
pub struct Conf {
    /// Stanzas in file order; a name given twice is one stanza (later keys win).
    pub stanzas: Vec<Stanza>,
    /// Lines that are none of the forms below (`<line>: <why>`).
    pub problems: Vec<String>,
}

#[derive(Debug, PartialEq)]
pub struct Stanza {
    pub name: String,
    /// Line of the `[name]` header, from 1 (0: keys before any header, Splunk's `[default]`).
    pub line: usize,
    /// key → (line, value as Splunk reads it).
    pub keys: BTreeMap<String, (usize, String)>,
}

/// Parse a `.conf` file the way Splunk's reader does:
/// - `[name]` starts a stanza; keys before any header belong to `[default]`; a line whose
///   first non-blank character is `#`, or a blank line, is a comment (there are no comments
///   at the end of a line: `#` there is part of the value). Admin Manual, "Configuration file
///   structure" (docs.splunk.com/Documentation/Splunk/latest/Admin/Configurationfilestructure).
/// - `key = value`: split at the first `=`; whitespace around the key and around the value is
///   not part of them ("spaces around the equal sign do not matter").
/// - A line ending in `\` continues the value on the next line, and the line break is kept:
///   the value is the lines joined with `\n`, without the backslashes. This is how multi-line
///   searches are written in savedsearches.conf: Splunk's own content tool refuses a newline
///   in a search that is not preceded by `\` (github.com/splunk/contentctl pull 53), and
///   Splunk's own conf library joins continued lines with `\n`
///   (github.com/splunk/addonfactory-splunk-conf-parser-lib, `_read`). A backslash followed by
///   a space is not a continuation (github.com/0x616c6578/TA-geoip2 issue 10: a trailing
///   space after `\` ended the value). Continuation lines are taken verbatim, indentation
///   included (the library above trims it, and its issue 99 records that Splunk does not);
///   rmmc's writer (`spl::escape::conf_value`) refuses values whose lines start or end with
///   whitespace, so its own files read the same under either reading.
/// - A `\r` before the line break is not part of the line.
pub fn parse_conf(text: &str) -> Conf {
    let mut conf = Conf::default();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    let mut current: Option<usize> = None;
    // (stanza, key, first line, value so far) of a value being continued
    let mut open: Option<(Option<usize>, String, usize, String)> = None;
    fn set(
        conf: &mut Conf,
        index: &mut BTreeMap<String, usize>,
        at: Option<usize>,
        key: String,
        line: usize,
        value: String,
    ) {
        let i = match at {
            Some(i) => i,
            None => *index.entry("default".into()).or_insert_with(|| {
                conf.stanzas.push(Stanza {
                    name: "default".into(),
                    line: 0,
                    keys: BTreeMap::new(),
                });
                conf.stanzas.len() - 1
            }),
        };
        conf.stanzas[i].keys.insert(key, (line, value));
    }
    for (n, raw) in text.split('\n').enumerate() {
        let n = n + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some((at, key, first, mut value)) = open.take() {
            match line.strip_suffix('\\') {
                Some(part) => {
                    value.push_str(part);
                    value.push('\n');
                    open = Some((at, key, first, value));
                }
                None => {
                    value.push_str(line.trim_end());
                    set(&mut conf, &mut index, at, key, first, value);
                }
            }
            continue;
        }
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if let Some(name) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            let i = *index.entry(name.to_string()).or_insert_with(|| {
                conf.stanzas.push(Stanza {
                    name: name.to_string(),
                    line: n,
                    keys: BTreeMap::new(),
                });
                conf.stanzas.len() - 1
            });
            current = Some(i);
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            conf.problems.push(format!(
                "{n}: neither a [stanza] header, a key = value nor a # comment"
            ));
            continue;
        };
        let key = key.trim().to_string();
        let value = value.trim_start();
        match value.strip_suffix('\\') {
            Some(part) => open = Some((current, key, n, format!("{part}\n"))),
            None => set(
                &mut conf,
                &mut index,
                current,
                key,
                n,
                value.trim_end().to_string(),
            ),
        }
    }
    if let Some((at, key, first, value)) = open {
        // a continuation on the last line continues into nothing
        set(&mut conf, &mut index, at, key, first, value);
    }
    conf
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value<'a>(c: &'a Conf, stanza: &str, key: &str) -> Option<&'a str> {
        c.stanzas
            .iter()
            .find(|s| s.name == stanza)
            .and_then(|s| s.keys.get(key))
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn conf_continuation_keeps_the_line_break() {
        let spl = "```rmmc: a/b (endpoint)```\nindex=* EventCode=3 earliest=-5d latest=now\n| where match(Image, \"(?i)\\\\\\\\x\\\\.exe\")\n| stats count as Count by host\n";
        let conf = format!(
            "# Generated by rmmc\n\n# a/b (endpoint), rmmc id 1\n[A - B]\nalert.severity = 4\ndescription = first\\\nsecond\ndispatch.earliest_time = -5d\nsearch = {}\nenableSched = 1\n",
            crate::backend::spl::escape::conf_value(spl.trim_end_matches('\n')).unwrap()
        );
        let c = parse_conf(&conf);
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        assert_eq!(
            value(&c, "A - B", "search"),
            Some(spl.trim_end_matches('\n'))
        );
        assert_eq!(value(&c, "A - B", "description"), Some("first\nsecond"));
        assert_eq!(value(&c, "A - B", "enableSched"), Some("1"));
        assert_eq!(c.stanzas[0].line, 4);
        assert_eq!(c.stanzas[0].keys["search"].0, 9);
    }

    #[test]
    fn conf_edge_cases() {
        // (text, stanza, key, value)
        let cases: &[(&str, &str, &str, Option<&str>)] = &[
            ("[s]\nk=v\n", "s", "k", Some("v")),
            ("[s]\n  k   =   v w  \n", "s", "k", Some("v w")),
            ("[s]\nk = a = b\n", "s", "k", Some("a = b")),
            (
                "[s]\nk = v # not a comment\n",
                "s",
                "k",
                Some("v # not a comment"),
            ),
            (
                "[s]\n# k = commented\n  # k = indented comment\n",
                "s",
                "k",
                None,
            ),
            (
                "[s]\nk = a\\\n# kept\\\nb\n",
                "s",
                "k",
                Some("a\n# kept\nb"),
            ),
            (
                "[s]\nk = a\\\n  indented\n",
                "s",
                "k",
                Some("a\n  indented"),
            ),
            ("[s]\nk = a\\ \nj = b\n", "s", "k", Some("a\\")),
            ("[s]\nk = a\\ \nj = b\n", "s", "j", Some("b")),
            ("[s]\r\nk = a\\\r\nb\r\n", "s", "k", Some("a\nb")),
            ("[s]\nk = 1\n[t]\nk = 2\n[s]\nk = 3\n", "s", "k", Some("3")),
            ("[s]\nk = 1\n[t]\nk = 2\n[s]\nk = 3\n", "t", "k", Some("2")),
            ("k = top\n[s]\n", "default", "k", Some("top")),
            ("[s]\nk = end\\", "s", "k", Some("end\n")),
            ("[s]\nk =\n", "s", "k", Some("")),
        ];
        for (text, stanza, key, want) in cases {
            let c = parse_conf(text);
            assert_eq!(value(&c, stanza, key), *want, "{text:?}");
        }
        let c = parse_conf("[s]\nnot a setting\n[t\n");
        assert_eq!(c.problems.len(), 2, "{:?}", c.problems);
        assert!(c.problems[0].starts_with("2: "), "{:?}", c.problems);
    }
}
