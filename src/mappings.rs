//! Mappings: where each backend finds each (category, source) and what each canonical field is
//! called there (`mapping::TableMap`s), chosen at run time. The shipped ones are
//! `backends/mappings/<backend>/<name>.yaml`, compiled in; the first of each backend is its
//! default. A user's mapping is a YAML file of the same schema, read and checked at run time
//! with the errors of a spec (file:line:col), and may `extends:` a shipped one:
//!
//! ```yaml
//! extends: sysmon-classic        # a shipped mapping (or `splunk/sysmon-classic`)
//! params: { index: sysmon }      # the `${index}` in its meta
//! tables:                        # per (category, source): replace the name, meta keys and
//!   - category: process          # columns given (`~` removes a column); a new pair is a
//!     source: endpoint           # whole table
//!     columns: { device_name: host }
//! ```
//!
//! `params:` are the words a shipped mapping leaves to the site (the Splunk index, the Elastic
//! index pattern): every `${name}` in a table's `meta` strings is replaced by its value.
//!
//! The choice (`--mapping`, `[mapping]` in rmmc.toml) is made once per run, before anything
//! compiles (`choose`), and every reader of a backend's tables (the compile, `verify`'s native
//! events and runners, `check --artifacts`) reads them through `Backend::tables` /
//! `Registered::tables`: a build and its proof always see the same mapping.
//!
//! Over 600 lines with its unit tests (the loader is under 500): the tests read the private
//! `load_text`, so they stay beside it.

use crate::diag::{Diag, DiagKind};
use crate::mapping::{ColumnSpec, TableMap};
use crate::spec::spans::{SpanIndex, YamlPath};
use crate::spec::{BackendName, Category, Source};
use indexmap::IndexMap;
use serde::Deserialize;
use std::path::Path;
use std::sync::{LazyLock, OnceLock};

/// A mapping compiled into the binary.
pub struct Shipped {
    /// Its backend's name (`splunk`).
    pub backend: &'static str,
    pub name: &'static str,
    /// Where it lives in the repository.
    pub path: &'static str,
    pub text: &'static str,
}

macro_rules! shipped {
    ($backend:literal, $name:literal) => {
        Shipped {
            backend: $backend,
            name: $name,
            path: concat!("backends/mappings/", $backend, "/", $name, ".yaml"),
            text: include_str!(concat!(
                "../backends/mappings/",
                $backend,
                "/",
                $name,
                ".yaml"
            )),
        }
    };
}

/// Every shipped mapping, the default of each backend first.
pub static SHIPPED: &[Shipped] = &[
    shipped!("kql", "defender-xdr"),
    shipped!("kql", "sentinel-asim"),
    shipped!("sigma", "sysmon"),
    shipped!("splunk", "sysmon-xml"),
    shipped!("splunk", "sysmon-classic"),
    shipped!("splunk", "cim"),
    shipped!("elastic", "elastic-defend"),
    shipped!("elastic", "winlogbeat-sysmon"),
];

impl Shipped {
    /// The backend's default mapping.
    pub fn default_of(backend: BackendName) -> Option<&'static Shipped> {
        SHIPPED.iter().find(|s| s.backend == backend.name())
    }

    pub fn is_default(&self) -> bool {
        SHIPPED
            .iter()
            .find(|s| s.backend == self.backend)
            .is_some_and(|d| std::ptr::eq(d, self))
    }

    /// The shipped mapping `name` (`NAME`, or `BACKEND/NAME`) of `backend` (any when `None`):
    /// `Err` with the candidates when the name is unknown or names several.
    pub fn find(
        name: &str,
        backend: Option<BackendName>,
    ) -> Result<&'static Shipped, Vec<&'static Shipped>> {
        let (backend, name) = match name.split_once('/') {
            Some((b, n)) if crate::backend::named(b).is_some() => {
                (crate::backend::named(b).or(backend), n)
            }
            _ => (backend, name),
        };
        let of_backend: Vec<&Shipped> = SHIPPED
            .iter()
            .filter(|s| backend.is_none_or(|b| s.backend == b.name()))
            .collect();
        let named: Vec<&Shipped> = of_backend
            .iter()
            .copied()
            .filter(|s| s.name == name)
            .collect();
        match named.as_slice() {
            [one] => Ok(one),
            [] => Err(of_backend),
            _ => Err(named),
        }
    }

    pub fn load(&'static self) -> Result<Mapping, Diag> {
        let backend = crate::backend::named(self.backend).expect("a shipped backend");
        load_text(Path::new(self.path), self.text, Some(backend), self.name)
    }
}

/// A loaded, checked mapping of one backend.
#[derive(Debug)]
pub struct Mapping {
    pub backend: BackendName,
    /// The shipped name, or the file's path.
    pub name: String,
    pub description: String,
    pub tables: Vec<TableMap>,
    /// The file it was read from (canonical), for a mapping file; `None` for a shipped one.
    pub file: Option<std::path::PathBuf>,
}

/// The file: a whole mapping, or `extends:` one and changes some of it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    /// The backend it maps for; may be left out when `extends` or `--mapping BACKEND=FILE`
    /// says it.
    #[serde(default)]
    backend: Option<BackendName>,
    /// A shipped mapping this one starts from.
    #[serde(default)]
    extends: Option<String>,
    #[serde(default)]
    description: Option<String>,
    /// Values of the `${name}` words in the tables' meta.
    #[serde(default)]
    params: IndexMap<String, String>,
    #[serde(default)]
    tables: Vec<PartTable>,
}

/// A table, or (under `extends`) the changes to the base's table of the same pair.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PartTable {
    #[serde(default)]
    name: Option<String>,
    category: Category,
    source: Source,
    #[serde(default)]
    meta: serde_json::Map<String, serde_json::Value>,
    /// `~` (null) removes a base column.
    #[serde(default)]
    columns: IndexMap<String, Option<ColumnSpec>>,
}

/// The base a mapping extends, resolved.
struct Base {
    backend: BackendName,
    description: String,
    params: IndexMap<String, String>,
    tables: Vec<PartTable>,
    /// Per table, its index under `tables:` of the file being loaded, when that file wrote
    /// (part of) it: where an error in it is shown.
    origin: Vec<Option<usize>>,
}

/// How deep `extends` may chain (shipped mappings extend at most one other).
const MAX_EXTENDS: usize = 4;

/// Read and check a mapping file. `backend` is the one `--mapping BACKEND=FILE` names.
pub fn load_file(file: &Path, backend: Option<BackendName>) -> Result<Mapping, Diag> {
    let bytes = crate::input::read_bounded(file, crate::input::MAX_INPUT_BYTES).map_err(|e| {
        Diag::error(DiagKind::Io, format!("cannot read {}: {e}", file.display())).at(file, None)
    })?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Diag::error(DiagKind::Io, "the mapping is not UTF-8").at(file, None))?;
    let mut mapping = load_text(file, &text, backend, &file.display().to_string())?;
    mapping.file = Some(std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf()));
    Ok(mapping)
}

fn load_text(
    file: &Path,
    text: &str,
    backend: Option<BackendName>,
    name: &str,
) -> Result<Mapping, Diag> {
    let base = resolve(file, text, backend, 0)?;
    let index = SpanIndex::build(text).map_err(|e| Diag::error(e.kind, e.message))?;
    let at = |path: YamlPath| index.nearest(&path);
    let hook = crate::backend::backend(base.backend).check_table;
    let mut tables = Vec::new();
    for (i, t) in base.tables.into_iter().enumerate() {
        // the table's place in this file, when this file wrote it; else its `extends`
        let here = match base.origin[i] {
            Some(j) => YamlPath::default().key("tables").index(j),
            None => YamlPath::default().key("extends"),
        };
        let Some(table_name) = t.name.clone() else {
            return Err(Diag::error(
                DiagKind::Schema,
                format!(
                    "tables[{i}]: a table of its own ({} {}) needs a `name`",
                    t.category, t.source
                ),
            )
            .at(file, at(here))
            .help(
                "name it, or give only tables the extended mapping has (same category and source)",
            ));
        };
        let mut meta = t.meta.clone();
        for v in meta.values_mut() {
            substitute(v, &base.params).map_err(|e| {
                Diag::error(DiagKind::Value, format!("table {table_name}: {e}"))
                    .at(file, at(here.key("meta")))
                    .help("define it under `params:`")
            })?;
        }
        let table = TableMap {
            name: table_name,
            category: t.category,
            source: t.source,
            meta,
            columns: t
                .columns
                .into_iter()
                .filter_map(|(k, c)| c.map(|c| (k, c)))
                .collect(),
        };
        if let Some((key, e)) = table.problem() {
            let col = match base.origin[i] {
                Some(_) => here.key("columns").key(key),
                None => here.clone(),
            };
            return Err(Diag::error(DiagKind::Value, e)
                .at(file, index.key(&col).or_else(|| at(col)))
                .help("`rmmc fields` lists the canonical fields of each category"));
        }
        hook(&table).map_err(|e| {
            Diag::error(DiagKind::Value, format!("{} mapping: {e}", base.backend))
                .at(file, at(here.clone()))
        })?;
        if tables
            .iter()
            .any(|o: &TableMap| o.category == table.category && o.source == table.source)
        {
            return Err(Diag::error(
                DiagKind::Value,
                format!("two tables for {} {}", table.category, table.source),
            )
            .at(file, at(here)));
        }
        tables.push(table);
    }
    Ok(Mapping {
        backend: base.backend,
        name: name.to_string(),
        description: base.description,
        tables,
        file: None,
    })
}

/// The file's tables over its base's, its params over the base's.
fn resolve(
    file: &Path,
    text: &str,
    backend: Option<BackendName>,
    depth: usize,
) -> Result<Base, Diag> {
    let index = SpanIndex::build(text).map_err(|e| {
        let mut d = Diag::error(e.kind, e.message).at(file, Some(e.span));
        d.help = e.help.map(String::into_boxed_str);
        d
    })?;
    let de = serde_yaml::Deserializer::from_str(text);
    let parsed: MappingFile = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = YamlPath::from_serde(e.path());
        crate::spec::load::serde_diag(file, text, &index, &path, e.inner())
    })?;
    let at = |key: &str| index.nearest(&YamlPath::default().key(key));
    let backend = match (backend, parsed.backend) {
        (Some(a), Some(b)) if a != b => {
            return Err(
                Diag::error(DiagKind::Value, format!("this mapping is for {b}, not {a}"))
                    .at(file, at("backend")),
            )
        }
        (a, b) => a.or(b),
    };
    let Some(base_name) = &parsed.extends else {
        let Some(backend) = backend else {
            return Err(
                Diag::error(DiagKind::Schema, "the mapping names no backend")
                    .at(file, None)
                    .help(format!(
                        "add `backend: <{}>`, or choose it with `--mapping BACKEND=FILE`",
                        crate::backend::names().join("|")
                    )),
            );
        };
        return Ok(Base {
            backend,
            description: parsed.description.unwrap_or_default(),
            params: parsed.params,
            origin: (0..parsed.tables.len()).map(Some).collect(),
            tables: parsed.tables,
        });
    };
    let shipped = Shipped::find(base_name, backend).map_err(|candidates| {
        Diag::error(
            DiagKind::Value,
            format!("`extends: {base_name}` is no shipped mapping"),
        )
        .at(file, at("extends"))
        .help(format!("one of: {}", qualified(&candidates)))
    })?;
    if depth >= MAX_EXTENDS {
        return Err(
            Diag::error(DiagKind::Limit, "`extends` chains too deep").at(file, at("extends"))
        );
    }
    let shipped_backend = crate::backend::named(shipped.backend).expect("shipped");
    let mut base = resolve(
        Path::new(shipped.path),
        shipped.text,
        Some(shipped_backend),
        depth + 1,
    )?;
    if let Some(d) = parsed.description {
        base.description = d;
    } else {
        base.description = format!("{} (extended)", base.description);
    }
    for (k, v) in parsed.params {
        if !base.params.contains_key(&k) {
            return Err(Diag::error(
                DiagKind::Value,
                format!("`{k}` is not a parameter of {}", shipped.name),
            )
            .at(file, at("params"))
            .help(format!(
                "its parameters: {}",
                base.params
                    .keys()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        base.params.insert(k, v);
    }
    base.origin = vec![None; base.tables.len()];
    for (j, t) in parsed.tables.into_iter().enumerate() {
        match base
            .tables
            .iter()
            .position(|b| b.category == t.category && b.source == t.source)
        {
            Some(k) => {
                base.origin[k] = Some(j);
                let b = &mut base.tables[k];
                if t.name.is_some() {
                    b.name = t.name;
                }
                b.meta.extend(t.meta);
                for (k, c) in t.columns {
                    b.columns.insert(k, c);
                }
            }
            None => {
                base.origin.push(Some(j));
                base.tables.push(t);
            }
        }
    }
    Ok(base)
}

/// Replace every `${name}` in the strings of `v` by its parameter.
fn substitute(v: &mut serde_json::Value, params: &IndexMap<String, String>) -> Result<(), String> {
    match v {
        serde_json::Value::String(s) => {
            let mut out = String::with_capacity(s.len());
            let mut rest = s.as_str();
            while let Some(i) = rest.find("${") {
                out.push_str(&rest[..i]);
                let after = &rest[i + 2..];
                let end = after
                    .find('}')
                    .ok_or_else(|| format!("an unclosed `${{` in {s:?}"))?;
                let name = &after[..end];
                let value = params
                    .get(name)
                    .ok_or_else(|| format!("`${{{name}}}` is no parameter"))?;
                out.push_str(value);
                rest = &after[end + 1..];
            }
            out.push_str(rest);
            *s = out;
        }
        serde_json::Value::Array(a) => {
            for x in a {
                substitute(x, params)?;
            }
        }
        serde_json::Value::Object(o) => {
            for x in o.values_mut() {
                substitute(x, params)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// `splunk/sysmon-xml, splunk/sysmon-classic`.
fn qualified(list: &[&Shipped]) -> String {
    list.iter()
        .map(|s| format!("{}/{}", s.backend, s.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The default mapping's tables of a backend, loaded and checked on first use, once.
pub fn default_tables(backend: BackendName) -> &'static [TableMap] {
    // one slot per shipped mapping, in `SHIPPED`'s order
    static LOADED: LazyLock<Vec<OnceLock<Vec<TableMap>>>> =
        LazyLock::new(|| SHIPPED.iter().map(|_| OnceLock::new()).collect());
    let (i, shipped) = SHIPPED
        .iter()
        .enumerate()
        .find(|(_, s)| s.is_default() && s.backend == backend.name())
        .unwrap_or_else(|| panic!("{backend} has no shipped mapping"));
    LOADED[i].get_or_init(|| {
        shipped
            .load()
            .unwrap_or_else(|d| panic!("{}: {}", shipped.path, d.message))
            .tables
    })
}

/// One `--mapping` (or rmmc.toml `[mapping]`) value: `[BACKEND=]NAME|FILE`. A bare NAME must
/// be one backend's shipped mapping; anything that is no shipped name and looks like a path
/// (has a `/` or `.`, or exists) is a file, relative to `base` (the rmmc.toml's folder).
pub fn parse_choice(
    value: &str,
    backend: Option<BackendName>,
    base: Option<&Path>,
) -> Result<Mapping, Diag> {
    let (backend, what) = match value.split_once('=') {
        Some((b, rest)) => match crate::backend::named(b) {
            Some(b) => (Some(b), rest),
            None => {
                return Err(Diag::error(
                    DiagKind::Value,
                    format!("`{b}` is no backend (in `--mapping {value}`)"),
                )
                .help(format!(
                    "write `--mapping [BACKEND=]NAME|FILE` with BACKEND one of {}",
                    crate::backend::names().join(", ")
                )))
            }
        },
        None => (backend, value),
    };
    match Shipped::find(what, backend) {
        Ok(s) => s.load(),
        Err(candidates) => {
            let path = match base {
                Some(b) => b.join(what),
                None => Path::new(what).to_path_buf(),
            };
            if path.exists() || what.contains(['/', '\\', '.']) {
                return load_file(&path, backend);
            }
            let several = candidates.iter().all(|c| c.name == what) && candidates.len() > 1;
            Err(Diag::error(
                DiagKind::Value,
                if several {
                    format!("mapping `{what}` is shipped for several backends")
                } else {
                    format!("no mapping is named `{what}`")
                },
            )
            .help(format!(
                "one of: {} (`rmmc list mappings`), or a mapping file",
                qualified(&candidates)
            )))
        }
    }
}

static CHOSEN: OnceLock<Vec<Mapping>> = OnceLock::new();

/// Make `mappings` the tables of their backends for the rest of the run. Called once, by the
/// command line, before anything compiles; a second call is refused.
pub fn choose(mappings: Vec<Mapping>) -> Result<(), Vec<Mapping>> {
    CHOSEN.set(mappings)
}

/// Is `file` a mapping file chosen for this run (by `--mapping` or the project's `[mapping]`)?
/// The spec loader passes such a file over when it lies among the rules.
pub fn is_chosen_file(file: &Path) -> bool {
    let Some(chosen) = CHOSEN.get() else {
        return false;
    };
    let file = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    chosen
        .iter()
        .any(|m| m.file.as_deref() == Some(file.as_path()))
}

/// The tables chosen for `backend` in this run, if any (else its default).
pub fn chosen(backend: BackendName) -> Option<&'static [TableMap]> {
    CHOSEN
        .get()?
        .iter()
        .find(|m| m.backend == backend)
        .map(|m| m.tables.as_slice())
}

/// The chosen mapping's tables, else the shipped default's: what `Backend::tables` returns.
pub fn chosen_or_default(backend: BackendName) -> &'static [TableMap] {
    chosen(backend).unwrap_or_else(|| default_tables(backend))
}

/// `BACKEND` or `BACKEND/MAPPING` (one of the backend's shipped mappings, `splunk/cim`): the
/// key of a spec's `unsupported:` entries and of rmmc.toml's `[accepted]` tables. A key under a
/// mapping applies only in a run that reads that mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MappingScope {
    pub backend: BackendName,
    /// The shipped mapping it is limited to; `None`: whatever the mapping.
    pub mapping: Option<&'static str>,
}

impl MappingScope {
    /// Does it apply in this run (the backend's chosen mapping)?
    pub fn applies(&self) -> bool {
        self.mapping
            .is_none_or(|m| chosen_name(self.backend) == Some(m))
    }
}

impl std::fmt::Display for MappingScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.mapping {
            Some(m) => write!(f, "{}/{m}", self.backend),
            None => write!(f, "{}", self.backend),
        }
    }
}

impl<'de> Deserialize<'de> for MappingScope {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let text = String::deserialize(d)?;
        let (b, m) = match text.split_once('/') {
            Some((b, m)) => (b, Some(m)),
            None => (text.as_str(), None),
        };
        // serde's own wording: spec loading turns it into a "did you mean" (spec::load)
        let backend = crate::backend::named(b)
            .ok_or_else(|| D::Error::unknown_variant(b, crate::backend::names()))?;
        let of_backend = || SHIPPED.iter().filter(|s| s.backend == backend.name());
        let mapping = match m {
            None => None,
            Some(m) => Some(
                of_backend()
                    .find(|s| s.name == m)
                    .map(|s| s.name)
                    .ok_or_else(|| {
                        let names: Vec<&str> = of_backend().map(|s| s.name).collect();
                        D::Error::custom(format!(
                            "`{m}` is no shipped mapping of {backend}; one of: {} (`rmmc list mappings`)",
                            names.join(", ")
                        ))
                    })?,
            ),
        };
        Ok(MappingScope { backend, mapping })
    }
}

/// The tables `backend` reads in this run: the chosen mapping's, else its default's.
pub fn tables(backend: BackendName) -> &'static [TableMap] {
    (crate::backend::backend(backend).tables)()
}

/// The name of the mapping a backend reads in this run.
pub fn chosen_name(backend: BackendName) -> Option<&'static str> {
    match CHOSEN
        .get()
        .and_then(|c| c.iter().find(|m| m.backend == backend))
    {
        Some(m) => Some(&m.name),
        None => Shipped::default_of(backend).map(|s| s.name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Field;

    fn splunk() -> BackendName {
        crate::backend::named("splunk").unwrap()
    }

    #[test]
    fn every_shipped_mapping_loads_and_names_a_default_per_backend() {
        for s in SHIPPED {
            let m = s
                .load()
                .unwrap_or_else(|d| panic!("{}: {}", s.path, d.message));
            assert!(!m.tables.is_empty(), "{}", s.path);
            assert!(!m.description.is_empty(), "{} has no description", s.path);
        }
        for b in crate::backend::BACKENDS {
            assert!(Shipped::default_of(b.name).unwrap().is_default());
        }
    }

    #[test]
    fn a_default_mapping_is_the_backends_tables() {
        let d = Shipped::default_of(splunk()).unwrap().load().unwrap();
        assert_eq!(d.name, "sysmon-xml");
        let base = d.tables[0].meta["base_search"].as_str().unwrap();
        // `${index}` is replaced by the shipped parameter
        assert!(base.starts_with("index=* sourcetype="), "{base}");
    }

    #[test]
    fn extends_overrides_params_meta_and_columns() {
        let text = "extends: sysmon-classic\nparams: { index: sysmon }\ntables:\n  - category: process\n    source: endpoint\n    columns: { device_id: ~, process_company: Company2 }\n";
        let m = load_text(Path::new("m.yaml"), text, None, "m.yaml").unwrap();
        assert_eq!(m.backend, splunk());
        let p = m
            .tables
            .iter()
            .find(|t| t.category == Category::Process)
            .unwrap();
        let base = p.meta["base_search"].as_str().unwrap();
        assert!(
            base.starts_with("index=sysmon sourcetype=\"WinEventLog:"),
            "{base}"
        );
        assert!(p.column(Field::lookup("device_id").unwrap()).is_none());
        assert_eq!(
            p.column(Field::lookup("process_company").unwrap())
                .unwrap()
                .match_on,
            ["Company2"]
        );
        // the other tables keep the base's columns and take the parameter too
        let n = m
            .tables
            .iter()
            .find(|t| t.category == Category::Network && t.source == Source::Endpoint)
            .unwrap();
        assert!(n.column(Field::lookup("device_id").unwrap()).is_some());
        assert!(n.meta["base_search"]
            .as_str()
            .unwrap()
            .starts_with("index=sysmon "));
    }

    #[test]
    fn errors_name_the_line_and_column() {
        let cases = [
            // unknown canonical field: at its key
            (
                "backend: splunk\ntables:\n  - name: t\n    category: process\n    source: endpoint\n    meta: { base_search: x }\n    columns:\n      proces_name: Image\n",
                (8, 7),
                "unknown canonical field",
            ),
            // a field of another category
            (
                "extends: sysmon-xml\ntables:\n  - category: process\n    source: endpoint\n    columns:\n      remote_ip: DestinationIp\n",
                (6, 7),
                "does not exist in process events",
            ),
            // a backend check: Splunk needs a base search
            (
                "backend: splunk\ntables:\n  - name: t\n    category: process\n    source: endpoint\n    columns: { process_name: Image }\n",
                (3, 5),
                "meta.base_search is missing",
            ),
            // an unknown key of the file
            ("backend: splunk\ntabels: []\n", (2, 1), "unknown field"),
            // an unknown parameter
            (
                "extends: sysmon-classic\nparams: { indx: x }\n",
                (2, 9),
                "`indx` is not a parameter",
            ),
            ("extends: nope\n", (1, 10), "is no shipped mapping"),
            ("tables: []\n", (0, 0), "names no backend"),
        ];
        for (text, (line, col), msg) in cases {
            let d = load_text(Path::new("m.yaml"), text, None, "m.yaml").unwrap_err();
            assert!(d.message.contains(msg), "{text}: {}", d.message);
            match d.span {
                Some(s) => assert_eq!((s.line, s.col), (line, col), "{text}: {}", d.message),
                None => assert_eq!((line, col), (0, 0), "{text}: {}", d.message),
            }
        }
    }

    #[test]
    fn a_choice_is_a_shipped_name_or_a_file() {
        assert_eq!(
            parse_choice("sysmon-classic", None, None).unwrap().backend,
            splunk()
        );
        assert_eq!(
            parse_choice("splunk=sysmon-classic", None, None)
                .unwrap()
                .name,
            "sysmon-classic"
        );
        let e = parse_choice("sysmon-clasic", None, None).unwrap_err();
        assert!(
            e.message.contains("no mapping is named `sysmon-clasic`"),
            "{}",
            e.message
        );
        assert!(e.help.as_deref().unwrap().contains("splunk/sysmon-classic"));
        let e = parse_choice("kql=sysmon-classic", None, None).unwrap_err();
        assert!(
            e.help.as_deref().unwrap().contains("kql/defender-xdr"),
            "{:?}",
            e.help
        );
        let e = parse_choice("nosuch=x", None, None).unwrap_err();
        assert!(e.message.contains("`nosuch` is no backend"));
        let e = parse_choice("missing/file.yaml", None, None).unwrap_err();
        assert!(
            e.message.contains("cannot read missing/file.yaml"),
            "{}",
            e.message
        );
    }
}
