//! Importer for lolrmm (being written).

use super::Import;
use crate::diag::{Diag, DiagKind};
use std::path::Path;

pub fn import(dir: &Path, _bar: &indicatif::ProgressBar) -> Result<Import, Diag> {
    Err(Diag::error(DiagKind::Io, "the lolrmm importer is not written yet").at(dir, None))
}
