//! Validating newtypes. Each checks its value inside `Deserialize`, so the loader can point
//! at the exact YAML node (see `spec::load`), and a `Spec` that exists is a valid one.
//!
//! Stays whole (over 600 lines): a catalogue of small newtypes, one per kind of value, each
//! independent and short; a file per newtype would only add imports.

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// Longest accepted match value, in characters. Real indicators are far shorter; the cap
/// keeps a hostile spec from producing megabyte queries (a SIEM rejects those anyway).
pub const MAX_VALUE_CHARS: usize = 4096;

fn custom<E: de::Error>(msg: impl fmt::Display) -> E {
    E::custom(msg)
}

/// Accept either one scalar or a list of them; an empty list is an error.
pub struct OneOrMany<T>(pub Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ListVisitor::<T> {
            allow_empty: false,
            item: std::marker::PhantomData,
        })
        .map(OneOrMany)
    }
}

/// `#[serde(deserialize_with)]` for list keys (`tactics`, `sources`, `references`, …): a
/// single scalar is read as a one-item list, as a writer of `tactics: CommandAndControl`
/// means. Emptiness is checked where the key is validated.
pub fn scalar_or_list<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    d.deserialize_any(ListVisitor::<T> {
        allow_empty: true,
        item: std::marker::PhantomData,
    })
}

/// `scalar_or_list` for an optional key.
pub fn scalar_or_list_opt<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Vec<T>>, D::Error> {
    scalar_or_list(d).map(Some)
}

struct ListVisitor<T> {
    allow_empty: bool,
    item: std::marker::PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> de::Visitor<'de> for ListVisitor<T> {
    type Value = Vec<T>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if self.allow_empty {
            f.write_str("a value or a list of values")
        } else {
            f.write_str("a value or a non-empty list of values")
        }
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element()? {
            out.push(v);
        }
        if out.is_empty() && !self.allow_empty {
            return Err(custom(
                "empty value list: give at least one value, or remove the predicate",
            ));
        }
        Ok(out)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<T>, E> {
        T::deserialize(de::value::StrDeserializer::new(v)).map(|x| vec![x])
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Vec<T>, E> {
        self.visit_str(&v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Vec<T>, E> {
        T::deserialize(de::value::U64Deserializer::new(v)).map(|x| vec![x])
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Vec<T>, E> {
        T::deserialize(de::value::I64Deserializer::new(v)).map(|x| vec![x])
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Vec<T>, E> {
        T::deserialize(de::value::F64Deserializer::new(v)).map(|x| vec![x])
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Vec<T>, E> {
        T::deserialize(de::value::BoolDeserializer::new(v)).map(|x| vec![x])
    }
}

/// Read a scalar as text. YAML reads `7443` or `true` as numbers/bools; match values are
/// text, so those are accepted and turned into their literal spelling.
struct Text(String);
impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = String;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
                Ok(v.to_owned())
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
                Ok(v.to_string())
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
                Ok(v.to_string())
            }
        }
        d.deserialize_any(V).map(Text)
    }
}

fn check_text<E: de::Error>(v: &str, what: &str) -> Result<(), E> {
    check_text_allowing(v, what, &[])
}

fn check_text_allowing<E: de::Error>(v: &str, what: &str, allowed: &[char]) -> Result<(), E> {
    if v.is_empty() {
        return Err(custom(format!("empty {what}: give a non-empty value")));
    }
    if v.chars().count() > MAX_VALUE_CHARS {
        return Err(custom(format!(
            "{what} is longer than {MAX_VALUE_CHARS} characters: shorten it"
        )));
    }
    if let Some(c) = v.chars().find(|c| c.is_control() && !allowed.contains(c)) {
        return Err(custom(format!(
            "{what} {v:?} contains the control character {c:?}: match values must be printable text"
        )));
    }
    Ok(())
}

macro_rules! text_newtype {
    ($(#[$m:meta])* $name:ident, $what:literal, $extra:expr) => {
        $(#[$m])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(pub String);
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let Text(v) = Text::deserialize(d)?;
                check_text::<D::Error>(&v, $what)?;
                let extra: fn(&str) -> Result<(), String> = $extra;
                extra(&v).map_err(custom)?;
                Ok($name(v))
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}

text_newtype!(
    /// A `term` value: must start and end with an ASCII letter or digit, because KQL `has`
    /// anchors a term at alphanumeric boundaries and a leading `.` has no portable meaning.
    TermValue,
    "term value",
    |v| {
        let ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
        if ok(v.chars().next()) && ok(v.chars().last()) {
            Ok(())
        } else {
            Err(format!(
                "term value {v:?} must start and end with a letter or digit: terms are whole words; use `contains`, `prefix` or `suffix` for partial text"
            ))
        }
    }
);

text_newtype!(
    /// An `exact` value: compared literally with the whole field, so wildcards are refused.
    ExactValue,
    "exact value",
    |v| {
        if v.contains(['*', '?']) {
            Err(format!(
                "exact value {v:?} contains a wildcard (`*` or `?`): `exact` compares the whole value literally; use `prefix`, `suffix` or `contains` instead"
            ))
        } else {
            Ok(())
        }
    }
);

text_newtype!(
    /// A `contains` / `prefix` / `suffix` value: literal text (a `*` is a literal star).
    SubstringValue,
    "value",
    |_| Ok(())
);

text_newtype!(
    /// One line of free text: titles, names, references.
    NonEmptyText,
    "text",
    |_| Ok(())
);

/// Free text that may span lines (descriptions, exclusion reasons). Tabs and newlines are
/// allowed; other control characters are not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Prose(pub String);

impl<'de> Deserialize<'de> for Prose {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Text(v) = Text::deserialize(d)?;
        let trimmed = v.trim_end().to_string();
        check_text_allowing::<D::Error>(&trimmed, "text", &['\n', '\t'])?;
        if trimmed.chars().count() > 5000 {
            return Err(custom(
                "text is longer than 5000 characters (Sentinel's description limit): shorten it",
            ));
        }
        Ok(Prose(trimmed))
    }
}

impl fmt::Display for Prose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A DNS name for `domain` matches: `example.com` matches itself and any sub-domain.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct DomainValue(pub String);

impl FromStr for DomainValue {
    type Err = String;
    fn from_str(v: &str) -> Result<Self, String> {
        if let Some(rest) = v.strip_prefix("*.") {
            return Err(format!(
                "domain {v:?} has a wildcard: `domain: {rest}` already matches every sub-domain"
            ));
        }
        if v.contains("://") || v.contains('/') || v.contains(':') {
            return Err(format!(
                "domain {v:?} is not a host name: give only the host (no scheme, port or path)"
            ));
        }
        if v.is_empty() || v.len() > 253 || v.starts_with('.') || v.ends_with('.') {
            return Err(format!(
                "domain {v:?} is not a valid DNS name: 1-253 characters, no leading or trailing dot"
            ));
        }
        for label in v.split('.') {
            let ok_chars = label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if label.is_empty()
                || label.len() > 63
                || !ok_chars
                || label.starts_with('-')
                || label.ends_with('-')
            {
                return Err(format!(
                    "domain {v:?} has an invalid label {label:?}: labels are 1-63 letters, digits, `-` or `_`, not starting or ending with `-`"
                ));
            }
        }
        Ok(DomainValue(v.to_ascii_lowercase()))
    }
}

/// A parsed IP address. IPv4 is strict dotted-quad: `095.85.246.53` (leading zero, which
/// some parsers read as octal) and `300.1.1.1` are refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpValue(pub IpAddr);

impl FromStr for IpValue {
    type Err = String;
    fn from_str(v: &str) -> Result<Self, String> {
        // std's parser already refuses leading zeros and out-of-range octets.
        v.parse::<IpAddr>().map(IpValue).map_err(|_| {
            format!("invalid IP address {v:?}: write IPv4 as four decimal numbers 0-255 without leading zeros (e.g. 95.85.246.53), or a valid IPv6 address")
        })
    }
}

/// A CIDR range with its host bits zero (`10.0.0.1/8` is refused as ambiguous).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CidrValue {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl CidrValue {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl fmt::Display for CidrValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for CidrValue {
    type Err = String;
    fn from_str(v: &str) -> Result<Self, String> {
        let (addr, prefix) = v
            .split_once('/')
            .ok_or_else(|| format!("invalid CIDR {v:?}: write address/prefix, e.g. 10.0.0.0/8"))?;
        let IpValue(addr) = addr.parse()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| {
                *p <= max && !prefix.starts_with('+') && (prefix == "0" || !prefix.starts_with('0'))
            })
            .ok_or_else(|| format!("invalid CIDR {v:?}: the prefix length must be 0-{max}"))?;
        let c = CidrValue { addr, prefix };
        let net = CidrValue {
            addr: network_of(addr, prefix),
            prefix,
        };
        if net.addr != addr {
            return Err(format!("CIDR {v:?} has host bits set: did you mean {net}?"));
        }
        Ok(c)
    }
}

fn network_of(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((u32::from(a) & mask).into())
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((u128::from(a) & mask).into())
        }
    }
}

/// A TCP/UDP port, 1-65535.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct PortValue(pub u16);

fn parse_port(v: &str) -> Result<u16, String> {
    v.parse::<u32>()
        .ok()
        .filter(|p| (1..=65535).contains(p) && !v.starts_with('+') && !v.starts_with('0'))
        .map(|p| p as u16)
        .ok_or_else(|| format!("invalid port {v:?}: ports are whole numbers 1-65535"))
}

impl<'de> Deserialize<'de> for PortValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Text(v) = Text::deserialize(d)?;
        parse_port(&v).map(PortValue).map_err(custom)
    }
}

/// `ip:port` (IPv6 as `[addr]:port`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpPortValue {
    pub ip: IpAddr,
    pub port: u16,
}

impl FromStr for IpPortValue {
    type Err = String;
    fn from_str(v: &str) -> Result<Self, String> {
        let (ip, port) = if let Some(rest) = v.strip_prefix('[') {
            rest.split_once("]:")
        } else {
            v.rsplit_once(':').filter(|(ip, _)| !ip.contains(':'))
        }
        .ok_or_else(|| {
            format!("invalid ip:port {v:?}: write 95.85.246.53:443, or [2001:db8::1]:443 for IPv6")
        })?;
        let IpValue(ip) = ip.parse()?;
        let port = parse_port(port).map_err(|e| format!("in {v:?}: {e}"))?;
        Ok(IpPortValue { ip, port })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HashAlgo {
    Md5,
    Sha1,
    Sha256,
}

/// A hex digest; the algorithm follows from the length (32 md5, 40 sha1, 64 sha256).
/// Stored lower-case.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HashValue {
    pub algo: HashAlgo,
    pub hex: String,
}

impl FromStr for HashValue {
    type Err = String;
    fn from_str(v: &str) -> Result<Self, String> {
        if !v.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!(
                "hash {v:?} is not hexadecimal: use only 0-9 and a-f"
            ));
        }
        let algo = match v.len() {
            32 => HashAlgo::Md5,
            40 => HashAlgo::Sha1,
            64 => HashAlgo::Sha256,
            n => {
                return Err(format!(
                    "hash {v:?} has {n} hex digits: md5 has 32, sha1 40, sha256 64"
                ))
            }
        };
        Ok(HashValue {
            algo,
            hex: v.to_ascii_lowercase(),
        })
    }
}

macro_rules! deserialize_via_fromstr {
    ($($t:ty),*) => {$(
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let Text(v) = Text::deserialize(d)?;
                v.parse().map_err(custom)
            }
        }
    )*};
}
deserialize_via_fromstr!(
    DomainValue,
    IpValue,
    CidrValue,
    IpPortValue,
    HashValue,
    Duration,
    Slug,
    Technique,
    ListName,
    Date
);

/// Identifiers that become file names and rule-id seeds: lower-case letters, digits, `-` and
/// `_`, starting with a letter or digit, at most 64 characters. That alphabet is safe as a
/// file name on every OS (no `/`, `..`, `CON`-style device names need a letter-only match
/// and are refused below).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Slug(pub String);

impl FromStr for Slug {
    type Err = String;
    fn from_str(v: &str) -> Result<Self, String> {
        let ok = !v.is_empty()
            && v.len() <= 64
            && v.chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            && v.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !ok {
            return Err(format!(
                "invalid id {v:?}: ids are 1-64 characters of a-z, 0-9, `-` and `_`, starting with a letter or digit"
            ));
        }
        // Windows device names (CON, PRN, AUX, NUL, COM1-9, LPT1-9) cannot be file names there.
        let device = matches!(v, "con" | "prn" | "aux" | "nul")
            || (v.len() == 4
                && (v.starts_with("com") || v.starts_with("lpt"))
                && v.as_bytes()[3].is_ascii_digit()
                && v.as_bytes()[3] != b'0');
        if device {
            return Err(format!(
                "invalid id {v:?}: it is a reserved device name on Windows"
            ));
        }
        Ok(Slug(v.to_owned()))
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl Slug {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A name a backend may bind a value list to (e.g. KQL `let malicious_ips = dynamic([...])`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ListName(pub String);

impl FromStr for ListName {
    type Err = String;
    fn from_str(v: &str) -> Result<Self, String> {
        let ok = v.len() <= 64
            && v.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if ok {
            Ok(ListName(v.to_owned()))
        } else {
            Err(format!(
                "invalid list name {v:?}: use letters, digits and `_`, starting with a letter (e.g. malicious_ips)"
            ))
        }
    }
}

/// A duration written as `<n>m`, `<n>h` or `<n>d` (minutes, hours, days).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration {
    pub minutes: u64,
}

impl FromStr for Duration {
    type Err = String;
    fn from_str(v: &str) -> Result<Self, String> {
        let err = || {
            format!(
                "invalid duration {v:?}: write a whole number followed by m, h or d (e.g. 5d, 1h)"
            )
        };
        // split before the last character, not the last byte: `window: Ǜ` must be an error,
        // not a panic (found by fuzzing the spec loader)
        let last = v.char_indices().last().map_or(0, |(i, _)| i);
        let (num, unit) = v.split_at(last);
        if num.is_empty() || !num.chars().all(|c| c.is_ascii_digit()) {
            return Err(err());
        }
        let n: u64 = num.parse().map_err(|_| err())?;
        let per = match unit {
            "m" => 1,
            "h" => 60,
            "d" => 60 * 24,
            _ => return Err(err()),
        };
        let minutes = n.checked_mul(per).ok_or_else(err)?;
        Ok(Duration { minutes })
    }
}

impl Duration {
    pub const MIN: Duration = Duration { minutes: 5 };
    pub const MAX: Duration = Duration {
        minutes: 14 * 24 * 60,
    };
    /// Canonical spelling in the largest whole unit: `5d`, `1h`, `90m`.
    pub fn kql(&self) -> String {
        let m = self.minutes;
        if m % (24 * 60) == 0 {
            format!("{}d", m / (24 * 60))
        } else if m % 60 == 0 {
            format!("{}h", m / 60)
        } else {
            format!("{m}m")
        }
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.kql())
    }
}

/// A calendar date `YYYY-MM-DD` (rules carry the spec's dates, never the clock's).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Date(pub String);

impl FromStr for Date {
    type Err = String;
    fn from_str(v: &str) -> Result<Self, String> {
        let parts: Vec<&str> = v.split('-').collect();
        let num = |s: &str, len: usize| {
            (s.len() == len && s.chars().all(|c| c.is_ascii_digit()))
                .then(|| s.parse::<u32>().ok())
                .flatten()
        };
        match parts.as_slice() {
            [y, m, d] => match (num(y, 4), num(m, 2), num(d, 2)) {
                (Some(_), Some(m), Some(d)) if (1..=12).contains(&m) && (1..=31).contains(&d) => {
                    Ok(Date(v.to_owned()))
                }
                _ => Err(format!("invalid date {v:?}: write YYYY-MM-DD")),
            },
            _ => Err(format!("invalid date {v:?}: write YYYY-MM-DD")),
        }
    }
}

/// A MITRE ATT&CK technique id, `T1219` or `T1219.002`, known to `spec::attack`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Technique(pub String);

impl FromStr for Technique {
    type Err = String;
    fn from_str(v: &str) -> Result<Self, String> {
        let b = v.as_bytes();
        let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
        let shaped = b.len() >= 5
            && b[0] == b'T'
            && digits(&b[1..5])
            && (b.len() == 5 || (b.len() == 9 && b[5] == b'.' && digits(&b[6..9])));
        if shaped {
            Ok(Technique(v.to_owned()))
        } else {
            Err(format!(
                "invalid technique {v:?}: write a MITRE ATT&CK id like T1219 or T1219.002"
            ))
        }
    }
}

impl Technique {
    /// The parent technique of a sub-technique (`T1219.002` → `T1219`).
    pub fn base(&self) -> &str {
        &self.0[..5]
    }
}

impl fmt::Display for Technique {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_is_strict() {
        assert!("95.85.246.53".parse::<IpValue>().is_ok());
        assert!("095.85.246.53".parse::<IpValue>().is_err());
        assert!("300.1.1.1".parse::<IpValue>().is_err());
        assert!("1.2.3".parse::<IpValue>().is_err());
        assert!("2001:db8::1".parse::<IpValue>().is_ok());
    }

    #[test]
    fn ip_port_forms() {
        let v: IpPortValue = "101.109.237.93:7443".parse().unwrap();
        assert_eq!((v.ip.to_string(), v.port), ("101.109.237.93".into(), 7443));
        assert!("[2001:db8::1]:443".parse::<IpPortValue>().is_ok());
        assert!("1.2.3.4:0".parse::<IpPortValue>().is_err());
        assert!("1.2.3.4:65536".parse::<IpPortValue>().is_err());
        assert!("1.2.3.4:0443".parse::<IpPortValue>().is_err());
        assert!("1.2.3.4".parse::<IpPortValue>().is_err());
        assert!("2001:db8::1:443".parse::<IpPortValue>().is_err());
    }

    #[test]
    fn cidr_requires_network_address() {
        assert!("10.0.0.0/8".parse::<CidrValue>().is_ok());
        assert!("0.0.0.0/0".parse::<CidrValue>().is_ok());
        let e = "10.0.0.1/8".parse::<CidrValue>().unwrap_err();
        assert!(e.contains("did you mean 10.0.0.0/8"), "{e}");
        assert!("10.0.0.0/33".parse::<CidrValue>().is_err());
        let c: CidrValue = "10.1.0.0/16".parse().unwrap();
        assert!(c.contains("10.1.255.255".parse().unwrap()));
        assert!(!c.contains("10.2.0.0".parse().unwrap()));
    }

    #[test]
    fn hashes_by_length() {
        assert_eq!(
            "d41d8cd98f00b204e9800998ecf8427e"
                .parse::<HashValue>()
                .unwrap()
                .algo,
            HashAlgo::Md5
        );
        assert_eq!(
            "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709"
                .parse::<HashValue>()
                .unwrap()
                .hex,
            "da39a3ee5e6b4b0d3255bfef95601890afd80709"
        );
        assert!("xyz".parse::<HashValue>().is_err());
        assert!("abcd".parse::<HashValue>().is_err());
    }

    #[test]
    fn durations() {
        assert_eq!("5d".parse::<Duration>().unwrap().minutes, 7200);
        assert_eq!("90m".parse::<Duration>().unwrap().kql(), "90m");
        assert_eq!("120m".parse::<Duration>().unwrap().kql(), "2h");
        assert!("5".parse::<Duration>().is_err());
        assert!("d".parse::<Duration>().is_err());
        assert!("-5d".parse::<Duration>().is_err());
        assert!("5w".parse::<Duration>().is_err());
    }

    #[test]
    fn techniques() {
        assert!("T1219".parse::<Technique>().is_ok());
        assert!("T1219.002".parse::<Technique>().is_ok());
        for bad in ["t1219", "T121", "T1219.2", "T1219.0020", "TA0011"] {
            assert!(bad.parse::<Technique>().is_err(), "{bad}");
        }
    }

    #[test]
    fn domains() {
        assert_eq!(
            "NetSupportSoftware.com".parse::<DomainValue>().unwrap().0,
            "netsupportsoftware.com"
        );
        for bad in [
            "*.x.com",
            "https://x.com",
            "x.com.",
            ".x.com",
            "x..com",
            "x.com:443",
            "-x.com",
        ] {
            assert!(bad.parse::<DomainValue>().is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_refuse_non_ascii_units_without_panicking() {
        for bad in ["Ǜ", "5Ǜ", "日", "", "d", "5 d", "-5d"] {
            assert!(bad.parse::<Duration>().is_err(), "{bad}");
        }
        assert_eq!("5d".parse::<Duration>().unwrap().minutes, 5 * 24 * 60);
    }

    #[test]
    fn slugs() {
        assert!("netsupport".parse::<Slug>().is_ok());
        for bad in [
            "../x",
            "/etc",
            "",
            "Net",
            "con",
            "nul",
            "com9",
            "lpt5",
            "a b",
            "a.b",
            "-x",
            &"a".repeat(65),
        ] {
            assert!(bad.parse::<Slug>().is_err(), "{bad}");
        }
        for good in ["com0", "com10", "console", "lpt", "x-con", &"a".repeat(64)] {
            assert!(good.parse::<Slug>().is_ok(), "{good}");
        }
    }
}
