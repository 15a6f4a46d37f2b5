//! The on-disk spec format (`rules/*.yaml`): serde types with `deny_unknown_fields`, values
//! validated on the way in (`values`), cross-field rules checked in `validate`.

pub mod accepted;
pub mod attack;
pub mod fields;
pub mod hints;
pub(crate) mod load;
mod recover;
mod schema;
pub mod spans;
mod validate;
pub mod values;

pub use crate::mappings::MappingScope;
pub use fields::{Category, Field, FieldType};
pub use load::{
    load_dir, load_dirs, load_dirs_warning, load_file, load_str, spec_files, LoadedSpec,
};
pub use schema::json_schema;
pub(crate) use spans::YamlPath;

/// A path of map keys, e.g. `["detections", "netconn"]`.
pub(crate) fn spans_path(keys: &[&str]) -> YamlPath {
    keys.iter().fold(YamlPath::default(), |p, k| p.key(*k))
}

use attack::Tactic;
use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::de::{self, Deserializer, MapAccess};
use serde::{Deserialize, Serialize};
use std::fmt;
use values::*;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Slug naming the tool; rule ids and file names derive from it.
    #[schemars(with = "schema::SlugSchema")]
    pub id: Slug,
    /// Display name of the tool as analysts know it (used in rule titles), e.g. `NetSupport`.
    #[schemars(with = "String")]
    pub vendor: NonEmptyText,
    /// What the tool is and why its use is worth a look.
    #[schemars(with = "String")]
    pub description: Prose,
    /// Links to sources (vendor pages, threat reports, the original hunting query).
    #[serde(default, deserialize_with = "values::scalar_or_list")]
    #[schemars(with = "Vec<String>")]
    pub references: Vec<NonEmptyText>,
    /// Who wrote the spec (Sigma `author`).
    #[schemars(with = "Option<String>")]
    pub author: Option<NonEmptyText>,
    /// Creation date, YYYY-MM-DD (rules carry this, never the build time).
    #[schemars(with = "schema::DateSchema")]
    pub date: Date,
    /// Last change, YYYY-MM-DD.
    #[schemars(with = "Option<schema::DateSchema>")]
    pub modified: Option<Date>,
    pub severity: Severity,
    pub attack: Attack,
    /// How far back each run looks: 5m-14d (`5d`, `12h`, `30m`).
    #[schemars(with = "schema::DurationSchema")]
    pub window: Duration,
    /// How often a scheduled rule runs: 5m-14d, at most `window`. Default: 1h, or `window` if shorter.
    #[schemars(with = "Option<schema::DurationSchema>")]
    pub frequency: Option<Duration>,
    /// Named detections; each becomes one rule per backend (and per source).
    #[schemars(with = "IndexMap<schema::SlugSchema, Detection>")]
    pub detections: IndexMap<Slug, Detection>,
    /// Named false-positive exclusions; each becomes `and not (...)` on the detections it applies to.
    #[serde(default)]
    #[schemars(with = "IndexMap<schema::SlugSchema, Exclusion>")]
    pub exclusions: IndexMap<Slug, Exclusion>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Informational,
    Low,
    Medium,
    High,
}

impl Severity {
    /// Sentinel's spelling.
    pub fn title(self) -> &'static str {
        match self {
            Severity::Informational => "Informational",
            Severity::Low => "Low",
            Severity::Medium => "Medium",
            Severity::High => "High",
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Attack {
    /// ATT&CK tactics in Sentinel spelling, e.g. CommandAndControl.
    #[serde(deserialize_with = "values::scalar_or_list")]
    pub tactics: Vec<Tactic>,
    /// ATT&CK technique ids, e.g. T1219; each must belong to one of `tactics`.
    #[schemars(with = "Vec<schema::TechniqueSchema>")]
    #[serde(deserialize_with = "values::scalar_or_list")]
    pub techniques: Vec<Technique>,
}

/// Where events come from; each backend maps (category, source) to a table / log source.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// EDR telemetry (Defender for Endpoint, Sysmon, Elastic Endpoint).
    Endpoint,
    /// Firewall / CEF appliance logs (direction-less: source and destination, not local and remote).
    Firewall,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::Endpoint => "endpoint",
            Source::Firewall => "firewall",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn default_sources() -> Vec<Source> {
    vec![Source::Endpoint]
}
fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Detection {
    /// Short title, appended to the tool name in rule names (e.g. `Network Connection`).
    #[schemars(with = "String")]
    pub title: NonEmptyText,
    /// Event category the predicate runs on. Formerly `on:`, still read, with a warning: YAML
    /// 1.1 tools (PyYAML, yamllint, JSON Schema validators) read the key `on` as `true`.
    #[serde(alias = "on")]
    pub category: Category,
    /// Event sources to search. Default: [endpoint].
    #[serde(
        default = "default_sources",
        deserialize_with = "values::scalar_or_list"
    )]
    pub sources: Vec<Source>,
    /// The predicate tree.
    #[serde(rename = "where")]
    pub predicate: Predicate,
    /// Result shape: `summarize` (group by) or `project` (+ `order_by`).
    pub output: Output,
    /// Filter on the spec's `window` inside the query (true, as in the seeds), or leave the
    /// time range to the portal / scheduler (false).
    #[serde(default = "yes")]
    pub time_filter: bool,
    /// Backends allowed to render this detection wider than specified because they cannot
    /// express part of it, each with the reason (listed in that backend's artifact). Without
    /// an entry, an inexpressible predicate fails the build for that backend.
    #[serde(default)]
    #[schemars(with = "IndexMap<BackendName, String>")]
    pub gaps: IndexMap<BackendName, Prose>,
    /// Backends that build no rule for this detection at all, each with the reason (e.g. the
    /// backend has no such events, or nothing of the predicate is expressible there). The
    /// build says so in a warning and `rmmc verify` lists them; the other backends are built.
    /// A key `BACKEND/MAPPING` (`splunk/cim`) applies only when that shipped mapping is the
    /// backend's in the run (`--mapping`).
    #[serde(default)]
    #[schemars(with = "IndexMap<String, String>")]
    pub unsupported: IndexMap<MappingScope, Prose>,
    /// Known fidelity losses of this detection's rules, acknowledged: per backend, per effect
    /// on the rule (`wider` / `narrower`), the note a warning names (`kind:term`,
    /// `column:endpoint.network.remote_ip`, …) and why the loss is acceptable. An
    /// acknowledged warning no longer fails `--deny`; an entry no warning matches is itself
    /// a warning. Losses every spec shares belong in the project's `rmmc.toml`.
    #[serde(default)]
    #[schemars(
        with = "IndexMap<BackendName, IndexMap<accepted::Effect, IndexMap<accepted::NoteId, String>>>"
    )]
    pub accepted: accepted::Accepted,
}

/// The query languages rmmc compiles to (for `gaps`; Sentinel YAML shares `kql`): the name of a
/// registered backend (`backend::registry()`). Each backend declares its own in its file, as an
/// `impl BackendName` const; a key that names no registered backend fails to load, with the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BackendName(&'static str);

impl BackendName {
    pub const fn new(name: &'static str) -> BackendName {
        BackendName(name)
    }

    pub fn name(self) -> &'static str {
        self.0
    }

    /// Its place in the registry (names sort in the order builds run the backends).
    fn rank(self) -> usize {
        crate::backend::registry()
            .iter()
            .position(|b| b.name == self)
            .unwrap_or(usize::MAX)
    }
}

impl Ord for BackendName {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.rank(), self.0).cmp(&(other.rank(), other.0))
    }
}

impl PartialOrd for BackendName {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for BackendName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for BackendName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

/// Read as serde reads a unit-variant enum (the registered names are its variants), so a bad
/// key's error, path and position are those of one.
impl<'de> Deserialize<'de> for BackendName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Variant(BackendName);
        impl<'de> Deserialize<'de> for Variant {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_identifier(Name)
            }
        }
        struct Name;
        impl<'de> serde::de::Visitor<'de> for Name {
            type Value = Variant;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("variant identifier")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Variant, E> {
                crate::backend::named(v)
                    .map(Variant)
                    .ok_or_else(|| E::unknown_variant(v, crate::backend::names()))
            }
        }
        struct Enum;
        impl<'de> serde::de::Visitor<'de> for Enum {
            type Value = BackendName;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("enum BackendName")
            }
            fn visit_enum<A: serde::de::EnumAccess<'de>>(
                self,
                data: A,
            ) -> Result<BackendName, A::Error> {
                use serde::de::VariantAccess;
                let (Variant(name), unit) = data.variant::<Variant>()?;
                unit.unit_variant()?;
                Ok(name)
            }
        }
        d.deserialize_enum("BackendName", crate::backend::names(), Enum)
    }
}

impl JsonSchema for BackendName {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "BackendName".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "The query languages rmmc compiles to (for `gaps`; Sentinel YAML shares `kql`).",
            "type": "string",
            "enum": crate::backend::names(),
        })
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Output {
    /// Group matching events by these fields, with first/last seen, event ids and a count.
    #[schemars(with = "Option<Vec<String>>")]
    #[serde(default, deserialize_with = "values::scalar_or_list_opt")]
    pub summarize: Option<Vec<Field>>,
    /// Columns to return, per source (sources name different things).
    #[schemars(with = "Option<IndexMap<Source, Vec<String>>>")]
    pub project: Option<IndexMap<Source, Vec<Field>>>,
    /// Sort order for `project` output.
    pub order_by: Option<OrderBy>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderBy {
    #[schemars(with = "String")]
    pub field: Field,
    #[serde(default)]
    pub direction: Direction,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Asc,
    #[default]
    Desc,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Exclusion {
    /// Why this is benign: what a reviewer reads (becomes Sigma `falsepositives`).
    #[schemars(with = "String")]
    pub reason: Prose,
    /// Detections it applies to. Default: all.
    #[schemars(with = "Option<Vec<schema::SlugSchema>>")]
    #[serde(default, deserialize_with = "values::scalar_or_list_opt")]
    pub applies_to: Option<Vec<Slug>>,
    /// Sources it applies to. Default: all sources of those detections.
    #[serde(default, deserialize_with = "values::scalar_or_list_opt")]
    pub sources: Option<Vec<Source>>,
    /// Events matching this predicate are dropped.
    #[serde(rename = "where")]
    pub predicate: Predicate,
}

/// A predicate tree: `all` / `any` of sub-predicates, `not`, or one field match.
#[derive(Debug)]
pub enum Predicate {
    All(Vec<Predicate>),
    Any(Vec<Predicate>),
    Not(Box<Predicate>),
    Match(FieldMatch),
}

#[derive(Debug)]
pub struct FieldMatch {
    pub field: Field,
    pub kind: MatchKind,
    /// Case-sensitive comparison (text kinds only).
    pub cased: bool,
    /// Name for the value list, where a backend binds lists (KQL `let`).
    pub name: Option<ListName>,
}

/// The match kinds, each with its values already validated.
#[derive(Debug)]
pub enum MatchKind {
    Term(Vec<TermValue>),
    Exact(Vec<ExactValue>),
    Contains(Vec<SubstringValue>),
    Prefix(Vec<SubstringValue>),
    Suffix(Vec<SubstringValue>),
    Domain(Vec<DomainValue>),
    Ip(Vec<IpValue>),
    Cidr(Vec<CidrValue>),
    IpPort(Vec<IpPortValue>),
    Hash(Vec<HashValue>),
    Port(Vec<PortValue>),
}

pub const MATCH_KINDS: &[&str] = &[
    "term", "exact", "contains", "prefix", "suffix", "domain", "ip", "cidr", "ip_port", "hash",
    "port",
];

impl MatchKind {
    pub fn name(&self) -> &'static str {
        match self {
            MatchKind::Term(_) => "term",
            MatchKind::Exact(_) => "exact",
            MatchKind::Contains(_) => "contains",
            MatchKind::Prefix(_) => "prefix",
            MatchKind::Suffix(_) => "suffix",
            MatchKind::Domain(_) => "domain",
            MatchKind::Ip(_) => "ip",
            MatchKind::Cidr(_) => "cidr",
            MatchKind::IpPort(_) => "ip_port",
            MatchKind::Hash(_) => "hash",
            MatchKind::Port(_) => "port",
        }
    }
    pub fn is_text(&self) -> bool {
        matches!(
            self,
            MatchKind::Term(_)
                | MatchKind::Exact(_)
                | MatchKind::Contains(_)
                | MatchKind::Prefix(_)
                | MatchKind::Suffix(_)
        )
    }
}

impl<'de> Deserialize<'de> for Predicate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Predicate;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a predicate: a map with one key, `all`, `any`, `not` or a canonical field name")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Predicate, A::Error> {
                let Some(key) = map.next_key::<String>()? else {
                    return Err(de::Error::custom(
                        "empty predicate: write `all: [...]`, `any: [...]`, `not: ...` or `<field>: {<kind>: [values]}`",
                    ));
                };
                let p = match key.as_str() {
                    "all" | "any" => {
                        let items: Vec<Predicate> = map.next_value()?;
                        if items.is_empty() {
                            return Err(de::Error::custom(format!(
                                "empty `{key}` list: give at least one predicate"
                            )));
                        }
                        if key == "all" {
                            Predicate::All(items)
                        } else {
                            Predicate::Any(items)
                        }
                    }
                    "not" => Predicate::Not(Box::new(map.next_value()?)),
                    name => {
                        let Some(field) = Field::lookup(name) else {
                            return reject(
                                &mut map,
                                format!(
                                    "unknown canonical field `{name}`{}; `rmmc fields` lists every field",
                                    fields::suggest(name)
                                ),
                            );
                        };
                        let m: MatchSpec = map.next_value()?;
                        Predicate::Match(FieldMatch {
                            field,
                            kind: m.kind,
                            cased: m.cased,
                            name: m.name,
                        })
                    }
                };
                if let Some(extra) = map.next_key::<String>()? {
                    return reject(
                        &mut map,
                        format!("a predicate has exactly one key, found `{key}` and `{extra}`: combine them with `all: [...]` or `any: [...]`"),
                    );
                }
                Ok(p)
            }
        }
        d.deserialize_map(V)
    }
}

/// `{<kind>: values, cased?: bool, name?: list_name}`
struct MatchSpec {
    kind: MatchKind,
    cased: bool,
    name: Option<ListName>,
}

impl<'de> Deserialize<'de> for MatchSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = MatchSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a match: `{<kind>: [values]}` with kind one of term, exact, contains, prefix, suffix, domain, ip, cidr, ip_port, hash, port")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MatchSpec, A::Error> {
                let mut kind: Option<MatchKind> = None;
                let mut cased = None;
                let mut name = None;
                while let Some(key) = map.next_key::<String>()? {
                    macro_rules! vals {
                        ($variant:ident) => {{
                            let OneOrMany(v) = map.next_value()?;
                            MatchKind::$variant(v)
                        }};
                    }
                    // a second kind is refused before its values are read (the kind arms
                    // below would otherwise replace the first one silently)
                    if MATCH_KINDS.contains(&key.as_str()) {
                        if let Some(prev) = &kind {
                            return reject(
                                &mut map,
                                format!("a field match has one kind, found `{}` and `{key}`: combine them with `any: [...]`", prev.name()),
                            );
                        }
                    }
                    let k = match key.as_str() {
                        "cased" => {
                            cased = Some(map.next_value::<bool>()?);
                            continue;
                        }
                        "name" => {
                            name = Some(map.next_value::<ListName>()?);
                            continue;
                        }
                        "term" => vals!(Term),
                        "exact" => vals!(Exact),
                        "contains" => vals!(Contains),
                        "prefix" => vals!(Prefix),
                        "suffix" => vals!(Suffix),
                        "domain" => vals!(Domain),
                        "ip" => vals!(Ip),
                        "cidr" => vals!(Cidr),
                        "ip_port" => vals!(IpPort),
                        "hash" => vals!(Hash),
                        "port" => vals!(Port),
                        other if !MATCH_KINDS.contains(&other) => {
                            return reject(
                                &mut map,
                                format!(
                                    "unknown match kind `{other}`: use one of {}, plus optional `cased` and `name`",
                                    MATCH_KINDS.join(", ")
                                ),
                            )
                        }
                        _ => unreachable!("every kind in MATCH_KINDS is handled above"),
                    };
                    kind = Some(k);
                }
                let kind = kind.ok_or_else(|| {
                    de::Error::custom(format!(
                        "missing match kind: add one of {}",
                        MATCH_KINDS.join(", ")
                    ))
                })?;
                // `cased` on a non-text kind is reported by validation, at the `cased` key.
                Ok(MatchSpec {
                    kind,
                    cased: cased.unwrap_or(false),
                    name,
                })
            }
        }
        d.deserialize_map(V)
    }
}

/// Fail while reading the value of the key just read, so the error's path (and so its
/// location) names that key rather than the enclosing map.
fn reject<'de, A: MapAccess<'de>, T>(map: &mut A, message: String) -> Result<T, A::Error> {
    struct Reject(String);
    impl<'de> de::DeserializeSeed<'de> for Reject {
        type Value = std::convert::Infallible;
        fn deserialize<D: Deserializer<'de>>(self, _: D) -> Result<Self::Value, D::Error> {
            Err(de::Error::custom(self.0))
        }
    }
    match map.next_value_seed(Reject(message))? {}
}
