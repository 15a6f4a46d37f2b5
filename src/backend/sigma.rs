//! IR → Sigma rule YAML. SCAFFOLD: to be replaced by the real backend before this lands.

use super::Compiled;
use crate::ir::IrSpec;

/// Compile all specs into files (path relative to the output folder, content).
pub fn compile(_irs: &[IrSpec], _with_exclusions: bool) -> Compiled<(String, String)> {
    Compiled::default()
}
