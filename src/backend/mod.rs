//! Backends: IR → query text. One file per target language (`driver::Backend`: its data and
//! a few hooks, over the one walk in `driver`); field mappings live in
//! `backends/<target>.yaml`, deployment wrappers in `templates/`. `BACKENDS` lists them.

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
use uuid::Uuid;

/// What `rmmc build` can emit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Target {
    /// Plain KQL queries (`kql/`).
    Kql,
    /// Microsoft Sentinel hunting and analytic-rule YAML (`sentinel/`).
    Sentinel,
    /// Sigma rules (`sigma/`).
    Sigma,
    /// Splunk SPL searches and savedsearches.conf (`splunk/`).
    Splunk,
    /// Elastic EQL queries and a Kibana detection-rule export (`elastic/`).
    Elastic,
}

impl Target {
    pub const ALL: &'static [Target] = &[
        Target::Kql,
        Target::Sentinel,
        Target::Sigma,
        Target::Splunk,
        Target::Elastic,
    ];
}

/// A backend's compile: every spec → its files, diagnostics and renderings.
pub type CompileFn = fn(&[IrSpec], driver::Options) -> Compiled<(String, String)>;

/// A backend, type-erased: what a build needs of it.
pub struct Registered {
    pub name: BackendName,
    /// The targets it writes.
    pub targets: &'static [Target],
    pub compile: CompileFn,
    pub tables: fn() -> &'static [TableMap],
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
            title: B::WORDS.title,
            templates: B::TEMPLATES,
        }
    }
}

/// Every backend, in the order builds run them and report their diagnostics.
pub static BACKENDS: &[Registered] = &[
    Registered::of::<kql::Kql>(),
    Registered::of::<sigma::Sigma>(),
    Registered::of::<spl::Spl>(),
    Registered::of::<eql::Eql>(),
];

/// Every backend's wrapper templates (name under `templates/`, source).
pub fn templates() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    let all = BACKENDS.iter().flat_map(|b| b.templates.iter());
    #[cfg(test)]
    let all = all.chain(<testing::Odd as Backend>::TEMPLATES.iter());
    all
}

/// The backend named `name`.
pub fn backend(name: BackendName) -> &'static Registered {
    BACKENDS
        .iter()
        .find(|b| b.name == name)
        .expect("every backend name is registered")
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
