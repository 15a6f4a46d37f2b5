//! What the words of a search mean: wildcard values, segment-bounded terms, time modifiers,
//! numbers and field names. The parser turns tokens into these; nothing here reads tokens.

use super::ast::*;
use regex::Regex;

/// segmenters.conf `[default]`: the single-character MAJOR breakers (space, tab, line breaks,
/// `[ ] < > ( ) { } | ! ; , ' " * & ? +`) and MINOR ones (`/ : = @ . - $ # % \\ _`). Kept apart
/// from the backend's list on purpose: the evaluator states Splunk's rules on its own.
const BREAKERS: &str = " \t\n\r[]<>(){}|!;,'\"*&?+/:=@.-$#%\\_";

/// A search-command pattern: whole value, case-insensitive, `*` = any run of characters
/// ("Use wildcards to match characters in strings", Search Manual; the search command is
/// case-insensitive for field values and terms — Search Reference: search, "Field-value
/// pairs … are case-insensitive").
pub fn wild(text: &str) -> Result<Wild, String> {
    let body: Vec<String> = text.split('*').map(regex::escape).collect();
    Ok(Wild {
        kind: WildKind::of(text),
        text: text.to_string(),
        whole: literal_regex(&format!("(?is)\\A{}\\z", body.join(".*")))?,
    })
}

/// Compile a regex built from escaped text; only its size can make it fail.
pub(super) fn literal_regex(re: &str) -> Result<Regex, String> {
    regex::RegexBuilder::new(re)
        .size_limit(1 << 22)
        .build()
        .map_err(|_| "search value too long to match".to_string())
}

/// A bare term or quoted phrase, matched against the raw text. Splunk matches terms by
/// segment: the text between breakers (Search Manual, "Event segmentation and searching";
/// segmenters.conf `[default]` MAJOR and MINOR), so a term must start and end at a segment
/// boundary: unless the term's edge is itself a breaker (or `*`), the character before/after
/// it must be a breaker or the text's edge. Only Splunk's default breakers count (`~` or `é`
/// glue). The match is case-insensitive ("By default, searches are case-insensitive", "Use
/// CASE() and TERM() to match phrases") over ASCII letters only: nothing documents Splunk
/// folding the KELVIN SIGN to `k`, and the narrowest reading is the one that proves a
/// prefilter wide enough. `*` spans any characters.
pub(super) fn term_regex(text: &str) -> Result<Rx, String> {
    let brk = |c: Option<char>| c.is_some_and(|c| c == '*' || BREAKERS.contains(c));
    let class = {
        let mut s = String::from("[");
        for c in BREAKERS.chars() {
            match c {
                '\t' => s.push_str("\\t"),
                '\n' => s.push_str("\\n"),
                '\r' => s.push_str("\\r"),
                c => s.push_str(&regex::escape(&c.to_string())),
            }
        }
        s.push(']');
        s
    };
    let left = if brk(text.chars().next()) {
        String::new()
    } else {
        format!("(?:\\A|{class})")
    };
    let right = if brk(text.chars().last()) {
        String::new()
    } else {
        format!("(?:{class}|\\z)")
    };
    let mut body = String::new();
    for c in text.chars() {
        match c {
            '*' => body.push_str(".*"),
            c if c.is_ascii_alphabetic() => {
                body.push('[');
                body.push(c.to_ascii_uppercase());
                body.push(c.to_ascii_lowercase());
                body.push(']');
            }
            c => body.push_str(&regex::escape(&c.to_string())),
        }
    }
    Ok(Rx(literal_regex(&format!("(?s){left}{body}{right}"))?))
}

/// `-5d`, `+1h`, `now`, `0`, `1700000000` (Search Manual: "Specify time modifiers in your
/// search"; units s/m/h/d/w and their long spellings). Months, years, snap-to (`@d`) and
/// absolute dates are refused with an error.
pub(super) fn time_spec(s: &str) -> Result<TimeSpec, String> {
    if s == "now" {
        return Ok(TimeSpec::Relative(0));
    }
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        let secs: i128 = s
            .parse()
            .map_err(|_| format!("epoch time {s} is too large"))?;
        return secs
            .checked_mul(1_000_000_000)
            .filter(|ns| *ns < i128::from(i64::MAX) * 1_000_000_000)
            .map(TimeSpec::Epoch)
            .ok_or_else(|| format!("epoch time {s} is too large"));
    }
    if s.contains('@') {
        return Err(format!("snap-to time modifiers ({s}) are not supported"));
    }
    let (sign, rest) = match s.as_bytes().first() {
        Some(b'-') => (-1, &s[1..]),
        Some(b'+') => (1, &s[1..]),
        _ => {
            return Err(format!(
            "unsupported time modifier {s:?} (expected -N<unit>, +N<unit>, now or epoch seconds)"
        ))
        }
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let n: i128 = if digits == 0 {
        1 // `-h` means one hour
    } else {
        rest[..digits]
            .parse()
            .map_err(|_| format!("time offset {s} is too large"))?
    };
    let unit = match &rest[digits..] {
        "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => 86_400,
        "w" | "week" | "weeks" => 7 * 86_400,
        u => {
            return Err(format!(
                "unsupported time unit {u:?} in {s} (supported: s, m, h, d, w; months and years need a calendar)"
            ))
        }
    };
    n.checked_mul(unit * 1_000_000_000)
        .filter(|v| *v < i128::from(i64::MAX) * 1_000_000_000)
        .map(|v| TimeSpec::Relative(sign * v))
        .ok_or_else(|| format!("time offset {s} is too large"))
}

/// An unquoted search value or term: `\\` is one backslash ("To search for a file path,
/// such as D:\Digital\RTFM, you must escape the backslash characters in the path, for
/// example D:\\Digital\\RTFM", Search Manual: search primer; "The backslash symbol can't
/// be used to escape the asterisk", Search Manual: Backslashes). Other backslashes stay.
pub(super) fn unescape_word(w: &str) -> String {
    w.replace("\\\\", "\\")
}

pub(super) fn is_field_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && c.all(|c| c.is_alphanumeric() || c == '_')
}

/// The search command also accepts dotted names (`process.name=x`).
pub(super) fn is_search_field(s: &str) -> bool {
    is_field_name(&s.replace('.', "_"))
}

pub fn number(s: &str) -> Option<f64> {
    let t = s.strip_prefix(['-', '+']).unwrap_or(s);
    let ok = !t.is_empty()
        && t.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && t.bytes().filter(|b| *b == b'.').count() <= 1
        && t.bytes().any(|b| b.is_ascii_digit());
    if ok {
        s.parse().ok()
    } else {
        None
    }
}

/// Time modifiers are only meaningful as top-level conjuncts of a search command.
pub(super) fn check_time_placement(e: &SExpr, top: bool) -> Result<(), (String, ())> {
    match e {
        SExpr::Time { .. } if !top => Err((
            "earliest=/latest= must be a top-level search term (not under OR, NOT or parentheses)"
                .into(),
            (),
        )),
        SExpr::And(xs) if top => xs.iter().try_for_each(|x| check_time_placement(x, true)),
        SExpr::And(xs) | SExpr::Or(xs) => {
            xs.iter().try_for_each(|x| check_time_placement(x, false))
        }
        SExpr::Not(x) => check_time_placement(x, false),
        _ => Ok(()),
    }
}
