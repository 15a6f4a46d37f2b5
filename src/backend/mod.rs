//! Backends: IR → query text. One file per target language (`driver::Backend`: its data and
//! a few hooks, over the one walk in `driver`); its data lives in `backends/<target>.yaml`,
//! its field mappings in `backends/mappings/<target>/` (`crate::mappings`), deployment wrappers in `templates/`. `BACKENDS` lists them.

pub mod common;
pub mod driver;
pub mod eql;
pub mod kql;
pub mod sigma;
pub mod spl;
#[cfg(test)]
mod testing;
pub mod text;

use crate::diag::Diag;
use crate::ir::{IrDetection, IrSpec};
use crate::mapping::TableMap;
use crate::spec::{BackendName, Source};
use driver::Backend;
use std::sync::LazyLock;
use uuid::Uuid;

/// What `rmmc build --target` can emit: a name, its `--help` line and what `rmmc convert`
/// prints of it. Each backend declares its own (`Backend::TARGETS`, as `impl Target` consts in
/// its file); `--target` parses against the registry, so a new target adds no variant here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    pub name: &'static str,
    /// Its line in `--target`'s possible values.
    pub help: &'static str,
    /// What `rmmc convert -t` prints: the files right under this folder…
    pub dir: &'static str,
    /// …that end so…
    pub ext: &'static str,
    /// …one after another, with this between them.
    pub separator: &'static str,
    /// What that is, in `rmmc convert --help`.
    pub prints: &'static str,
}

impl Target {
    /// The targets of every shipped backend, in registry order: `--target`'s possible values
    /// and default.
    pub fn all() -> &'static [Target] {
        static ALL: LazyLock<Vec<Target>> = LazyLock::new(|| {
            BACKENDS
                .iter()
                .flat_map(|b| b.targets.iter().copied())
                .collect()
        });
        &ALL
    }

    /// Its place in the registry (targets sort in the order builds write them).
    fn rank(&self) -> usize {
        registry()
            .iter()
            .flat_map(|b| b.targets.iter())
            .position(|t| t == self)
            .unwrap_or(usize::MAX)
    }
}

impl Ord for Target {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.rank(), self.name).cmp(&(other.rank(), other.name))
    }
}

impl PartialOrd for Target {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl clap::ValueEnum for Target {
    fn value_variants<'a>() -> &'a [Self] {
        Target::all()
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.name).help(self.help))
    }
}

/// `rmmc convert --help`'s list of what each target prints.
pub fn convert_help() -> String {
    let mut s = String::from("What each target prints (one artifact after another):");
    for t in Target::all() {
        s.push_str(&format!("\n  {:<10}{}", t.name, t.prints));
    }
    s
}

/// A backend's compile: every spec → its files, diagnostics and renderings.
pub type CompileFn = fn(&[IrSpec], driver::Options) -> Compiled<(String, String)>;

/// A backend, type-erased: what a build needs of it.
#[derive(Clone)]
pub struct Registered {
    pub name: BackendName,
    /// The targets it writes.
    pub targets: &'static [Target],
    pub compile: CompileFn,
    pub tables: fn() -> &'static [TableMap],
    /// Its checks of a table's `meta` and field names (`Backend::check_table`).
    pub check_table: fn(&TableMap) -> Result<(), String>,
    pub title: &'static str,
    pub templates: &'static [(&'static str, &'static str)],
}

impl Registered {
    const fn of<B: Backend>() -> Registered {
        Registered {
            name: B::NAME,
            targets: B::TARGETS,
            compile: driver::compile::<B>,
            tables: B::tables,
            check_table: B::check_table,
            title: B::WORDS.title,
            templates: B::TEMPLATES,
        }
    }
}

/// Every shipped backend, in the order builds run them and report their diagnostics. A new
/// target is its file here, its line below, `backends/<name>.yaml` and `templates/<name>/`.
pub static BACKENDS: &[Registered] = &[
    Registered::of::<kql::Kql>(),
    Registered::of::<sigma::Sigma>(),
    Registered::of::<spl::Spl>(),
    Registered::of::<eql::Eql>(),
];

/// The backends names and targets are looked up in: `BACKENDS`, and in unit tests the odd test
/// target after them (`testing.rs`), which builds only when its target is asked for and is
/// not listed in `rmmc schema`, `--help` or the default targets.
pub fn registry() -> &'static [Registered] {
    #[cfg(not(test))]
    return BACKENDS;
    #[cfg(test)]
    {
        static ALL: LazyLock<Vec<Registered>> = LazyLock::new(|| {
            let mut all: Vec<Registered> = BACKENDS.iter().map(Registered::clone).collect();
            all.push(Registered::of::<testing::Odd>());
            all
        });
        &ALL
    }
}

/// Every backend's wrapper templates (name under `templates/`, source).
pub fn templates() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    registry().iter().flat_map(|b| b.templates.iter())
}

/// The backend named `name`.
pub fn backend(name: BackendName) -> &'static Registered {
    registry()
        .iter()
        .find(|b| b.name == name)
        .expect("every backend name is registered")
}

/// The registered backend name spelt `name` (a `gaps:` / `unsupported:` key).
pub fn named(name: &str) -> Option<BackendName> {
    registry().iter().map(|b| b.name).find(|n| n.name() == name)
}

/// The shipped backends' names, in registry order (what `rmmc schema` and a bad key's error
/// list).
pub fn names() -> &'static [&'static str] {
    static NAMES: LazyLock<Vec<&'static str>> =
        LazyLock::new(|| BACKENDS.iter().map(|b| b.name.name()).collect());
    &NAMES
}

/// What a backend returns: the items it could build and every diagnostic (errors for what it
/// cannot express, warnings for what it expresses wider or narrower).
#[derive(Debug)]
pub struct Compiled<T> {
    pub items: Vec<T>,
    pub diags: Vec<Diag>,
    /// How each match was rendered (`rmmc explain`).
    pub renderings: Vec<common::Rendering>,
}

impl<T> Default for Compiled<T> {
    fn default() -> Self {
        Compiled {
            items: Vec::new(),
            diags: Vec::new(),
            renderings: Vec::new(),
        }
    }
}

/// Namespace of every rmmc rule id: uuid v5 of the URL below, fixed forever so ids stay
/// stable across versions and machines.
pub fn namespace() -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_URL, b"https://rmmc.invalid/rule-id")
}

/// Identity of one emitted rule: a detection, on one source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleId {
    pub spec: String,
    pub detection: String,
    pub source: Source,
    /// File stem: `<spec>-<detection>`, plus `-<source>` when the detection reads several
    /// sources (ids are slugs, so the stem is a safe file name).
    pub stem: String,
}

impl RuleId {
    pub fn new(spec: &IrSpec, det: &IrDetection, source: Source) -> RuleId {
        let mut stem = format!("{}-{}", spec.id, det.id);
        if det.sources.len() > 1 {
            stem.push('-');
            stem.push_str(source.name());
        }
        RuleId {
            spec: spec.id.clone(),
            detection: det.id.clone(),
            source,
            stem,
        }
    }

    /// Stable rule id for one artifact kind, e.g. `sentinel-analytic`.
    pub fn uuid(&self, kind: &str) -> Uuid {
        let name = format!(
            "{kind}/{}/{}/{}",
            self.spec,
            self.detection,
            self.source.name()
        );
        Uuid::new_v5(&namespace(), name.as_bytes())
    }
}
