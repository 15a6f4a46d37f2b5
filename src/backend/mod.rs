//! Backends: IR → query text. One file per target language; field mappings live in
//! `backends/<target>.yaml`, deployment wrappers in `templates/`.

pub mod common;
pub mod eql;
pub mod kql;
pub mod sigma;
pub mod spl;

use crate::diag::Diag;
use crate::ir::{IrDetection, IrSpec};
use crate::spec::Source;
use uuid::Uuid;

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
