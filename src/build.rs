//! `rmmc build`: specs → IR → artifacts (in memory), then an atomic write of the output folder
//! (`output`).
//!
//! Each backend in `backend::BACKENDS` writes its own folder (`kql/`, `sentinel/`, `sigma/`,
//! `splunk/`, `elastic/`; see the README's output layout); `.rmmc-output` marks a folder rmmc
//! may replace.

mod output;

pub use crate::backend::kql::sentinel::limits;
pub use crate::backend::Target;
pub use output::{
    read_artifacts, read_tree, write_output, write_tree, OutputKind, WriteStats, IMPORT_MARKER,
    IMPORT_MARKER_TEXT, MARKER, MARKER_TEXT,
};

use crate::backend::common::Rendering;
use crate::backend::{driver, registry};
use crate::diag::Diag;
use crate::ir::{self, IrSpec};
use crate::spec::LoadedSpec;
use rayon::prelude::*;
use std::collections::BTreeMap;

#[derive(Clone, Debug)]
pub struct BuildOptions {
    pub targets: Vec<Target>,
    pub exclusions: bool,
}

impl BuildOptions {
    /// These targets only, with exclusions.
    pub fn only(targets: &[Target]) -> BuildOptions {
        BuildOptions {
            targets: targets.to_vec(),
            exclusions: true,
        }
    }
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            targets: Target::all().to_vec(),
            exclusions: true,
        }
    }
}

/// Artifacts by relative path (sorted, so iteration and output are deterministic).
pub type Files = BTreeMap<String, String>;

#[derive(Debug, Default)]
pub struct BuildResult {
    pub files: Files,
    pub diags: Vec<Diag>,
    /// How every match was rendered by every backend built (`rmmc explain`).
    pub renderings: Vec<Rendering>,
}

/// Compile loaded specs into artifacts, in memory. The backends that write a requested target
/// run in parallel; results are joined in `BACKENDS` order, so the output and the diagnostics
/// are the same as a sequential build's.
pub fn compile(specs: &[LoadedSpec], opts: &BuildOptions) -> BuildResult {
    let irs: Vec<IrSpec> = specs.iter().map(ir::lower).collect();
    let dopts = driver::Options {
        targets: &opts.targets,
        exclusions: opts.exclusions,
    };
    let wanted: Vec<_> = registry()
        .iter()
        .filter(|b| b.targets.iter().any(|t| opts.targets.contains(t)))
        .collect();
    // On rayon's pool (the one `load_dirs` parsed the specs on), not a thread per backend:
    // two threads on a 2-core machine instead of four more, fewer per-thread allocator heaps
    // (2 MiB less memory touched, LOLRMM corpus). `collect` keeps `BACKENDS` order.
    let compiled: Vec<_> = wanted
        .into_par_iter()
        .map(|b| (b.compile)(&irs, dopts))
        .collect();
    let mut res = BuildResult::default();
    for c in compiled {
        res.diags.extend(c.diags);
        res.renderings.extend(c.renderings);
        res.files.extend(c.items);
    }
    res
}
