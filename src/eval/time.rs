//! RFC 3339 timestamps ↔ nanoseconds since the Unix epoch (UTC only), for fixtures,
//! `--now` and printed rows. Small and exact; no time-zone database needed.

const NS: i128 = 1_000_000_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Parse `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)` (a space may replace `T`).
pub fn parse_rfc3339(s: &str) -> Option<i128> {
    let b = s.as_bytes();
    if b.len() < 20 {
        return None;
    }
    // the digits of `r`, all ASCII digits (so `r` bounds UTF-8 characters)
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        b[r].iter().try_fold(0i64, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
        })
    };
    if b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)? as u32, num(8..10)? as u32);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac: i128 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        // nanoseconds: the first nine digits, the rest dropped
        while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            if i - start < 9 {
                frac = frac * 10 + i128::from(c - b'0');
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        frac *= 10i128.pow(9 - (i - start).min(9) as u32);
    }
    let offset_s: i64 = match &s[i..] {
        "Z" | "z" => 0,
        tz if tz.len() == 6 && (tz.starts_with('+') || tz.starts_with('-')) && &tz[3..4] == ":" => {
            let oh: i64 = tz[1..3].parse().ok()?;
            let om: i64 = tz[4..6].parse().ok()?;
            let sign = if tz.starts_with('-') { -1 } else { 1 };
            sign * (oh * 3600 + om * 60)
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset_s;
    Some(i128::from(secs) * NS + frac)
}

/// Format as `YYYY-MM-DDTHH:MM:SS[.fffffffff]Z`.
pub fn format_rfc3339(ns: i128) -> String {
    let secs = ns.div_euclid(NS) as i64;
    let frac = ns.rem_euclid(NS);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    let base = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    if frac == 0 {
        format!("{base}Z")
    } else {
        format!("{base}.{}Z", format!("{frac:09}").trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_known_values() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2000-03-01T00:00:00Z"),
            Some(951_868_800 * NS)
        );
        assert_eq!(
            parse_rfc3339("2026-05-31T11:00:00+02:00"),
            parse_rfc3339("2026-05-31T09:00:00Z")
        );
        for s in [
            "2026-05-31T11:00:00Z",
            "1999-12-31T23:59:59.5Z",
            "2024-02-29T12:00:00.000000001Z",
        ] {
            assert_eq!(format_rfc3339(parse_rfc3339(s).unwrap()), s);
        }
        for bad in [
            "2026-13-01T00:00:00Z",
            "2026-05-31",
            "2026-05-31T11:00:00",
            "x026-05-31T11:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}

#[cfg(test)]
mod reference {
    use super::*;
    use proptest::prelude::*;

    /// `parse_rfc3339` as it was before it read digits by hand (with `str::parse`): the
    /// reference the faster one must agree with.
    fn parse_by_str(s: &str) -> Option<i128> {
        let b = s.as_bytes();
        if b.len() < 20 {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<i64> {
            let t = s.get(r)?;
            t.bytes()
                .all(|c| c.is_ascii_digit())
                .then(|| t.parse().ok())?
        };
        if b[4] != b'-'
            || b[7] != b'-'
            || !matches!(b[10], b'T' | b't' | b' ')
            || b[13] != b':'
            || b[16] != b':'
        {
            return None;
        }
        let (y, mo, d) = (num(0..4)?, num(5..7)? as u32, num(8..10)? as u32);
        let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
            return None;
        }
        let mut i = 19;
        let mut frac: i128 = 0;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            let digits = &s[start..i];
            if digits.is_empty() {
                return None;
            }
            let padded: String = digits
                .chars()
                .chain(std::iter::repeat('0'))
                .take(9)
                .collect();
            frac = padded.parse().ok()?;
        }
        let offset_s: i64 = match &s[i..] {
            "Z" | "z" => 0,
            tz if tz.len() == 6
                && (tz.starts_with('+') || tz.starts_with('-'))
                && &tz[3..4] == ":" =>
            {
                let oh: i64 = tz[1..3].parse().ok()?;
                let om: i64 = tz[4..6].parse().ok()?;
                let sign = if tz.starts_with('-') { -1 } else { 1 };
                sign * (oh * 3600 + om * 60)
            }
            _ => return None,
        };
        let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset_s;
        Some(i128::from(secs) * NS + frac)
    }

    proptest! {
        /// Timestamps, near-timestamps (a digit, a separator or a fraction off, non-ASCII
        /// bytes where digits go) and other text: the same instant, or none, as before.
        #[test]
        fn parses_as_str_parse_did(
            s in prop_oneof![
                r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{0,12})?(Z|z|[+-][0-9]{2}:[0-9]{2}|)",
                r"[0-9é+ -]{4}-[0-9x+]{2}-[0-9é]{2}[Tt ][0-9 ]{2}:[0-9-]{2}:[0-9]{2}[.0-9é]{0,6}(Z|[+-][0-9+]{2}:[0-9]{2})",
                r"20[0-9]{2}-(0[1-9]|1[0-2])-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9](\.[0-9]{1,10})?Z",
                ".{0,30}",
            ],
        ) {
            prop_assert_eq!(parse_rfc3339(&s), parse_by_str(&s), "{}", s);
        }
    }
}
